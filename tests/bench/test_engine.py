"""The benchmark says which simulation engine ran, and measures the compiled core's speed-up.

Fast checks, no timing asserted: the worker reports ``resolve_engine()`` after applying its
spec's environment (in process and in a fresh process, snapshot included), the harness plans
the one-process Python-engine case only when the compiled core runs the main cases, and the
report's engine header, per-row engine column and speed-up line come from the samples.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from benchmarks import harness, worker
from rca.seed._sim import ENGINE_ENV, native_available, resolve_engine

REPO = Path(__file__).resolve().parents[2]
REQUEST = {
    "scenario": harness.SCENARIO,
    "seed": 7,
    "time_anchor": harness.TIME_ANCHOR,
    "duration_minutes": 15,
    "rps": 1.0,
}
needs_native = pytest.mark.skipif(
    not native_available(), reason="the compiled simulation core is not built"
)
NATIVE_PROBE: dict[str, Any] = {
    "engine": "native",
    "native_available": True,
    "requested": None,
    "stale": None,
}
NO_CORE_PROBE: dict[str, Any] = {
    "engine": "python",
    "native_available": False,
    "requested": None,
    "stale": None,
}


# ---------------------------------------------------------------------- worker
@pytest.mark.parametrize("engine", ["python", pytest.param("native", marks=needs_native)], ids=str)
def test_worker_reports_the_engine_its_env_selects(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENGINE_ENV, "auto")  # restored after the test; apply_env overwrites it
    result = worker.run_spec({"op": "sim", "request": REQUEST, "env": {ENGINE_ENV: engine}})
    assert result["engine"] == engine
    assert isinstance(result["seconds"], float)


def test_worker_reports_no_engine_for_operations_without_simulation(tmp_path: Path) -> None:
    spec = {"op": "rawwrite", "chunks": [[0, 10]], "n_files": 1, "out": str(tmp_path / "w")}
    assert worker.run_spec(spec)["engine"] is None


def test_fresh_worker_process_applies_the_spec_env(tmp_path: Path) -> None:
    runner = harness.Runner(tmp_path, REPO)
    base = {"op": "bundle", "request": REQUEST, "workers": 1}
    forced = runner.worker({**base, "out": str(tmp_path / "py"), "env": {ENGINE_ENV: "python"}})
    assert forced.result["engine"] == "python"
    default = runner.worker({**base, "out": str(tmp_path / "default")})
    assert default.result["engine"] == resolve_engine()  # this process's env, inherited


def test_snapshot_keeps_the_compiled_core(tmp_path: Path) -> None:
    """Workers run a copy of the repo: it must import the same engine as the work tree."""
    src = tmp_path / "src"
    harness._copy_repo(REPO, src)
    probe = harness.engine_probe(harness.Runner(tmp_path, src))
    assert probe["native_available"] is native_available()
    assert probe["engine"] == resolve_engine()
    assert Path(probe["module"]).is_relative_to(src)


# ---------------------------------------------------------------------- planning
def _args(*extra: str) -> argparse.Namespace:
    return harness.parse_args(["--quick", "--skip-workflow", "--skip-faker", *extra])


def test_python_case_is_planned_next_to_the_one_process_case() -> None:
    cases = harness.build_cases(_args(), NATIVE_PROBE)
    keys = [c.key for c in cases]
    assert keys == ["30m-1k", "30m-10k", "30m-10k-1p", "30m-10k-1p-py", "30m-10k-all", "v0"]
    solo, py = cases[2], cases[3]
    assert (py.kind, py.workers, py.engine) == ("one-process", 1, "python")
    assert (py.minutes, py.rps, py.repeats) == (solo.minutes, solo.rps, solo.repeats)
    assert py.env() == {ENGINE_ENV: "python"}
    assert solo.engine is None and solo.env() is None


def test_full_run_names_the_100k_python_case() -> None:
    keys = [c.key for c in harness.build_cases(harness.parse_args([]), NATIVE_PROBE)]
    assert "30m-100k-1p-py" in keys
    assert keys.index("30m-100k-1p-py") == keys.index("30m-100k-1p") + 1


@pytest.mark.parametrize(
    ("probe", "extra", "why"),
    [
        (NO_CORE_PROBE, (), "compiled core (rca/seed/_simcore.c) is not built"),
        ({**NO_CORE_PROBE, "stale": "built from another version"}, (), "stale"),
        ({**NATIVE_PROBE, "engine": "python", "requested": "python"}, (), "RCA_SIM_ENGINE=python"),
        (NATIVE_PROBE, ("--skip-python-engine",), "--skip-python-engine given"),
        (NATIVE_PROBE, ("--skip-one-process",), "--skip-one-process given"),
    ],
)
def test_python_case_skipped_with_a_reason(
    probe: dict[str, Any], extra: tuple[str, ...], why: str
) -> None:
    args = _args(*extra)
    cases = harness.build_cases(args, probe)
    assert not any(c.engine for c in cases)
    reason = harness.python_case_skipped(args, probe, harness.reference_case(cases))
    assert reason is not None and why in reason


# ---------------------------------------------------------------------- report
def _sample(seconds: float, engine: str | None, workers: int = 1) -> harness.Sample:
    result: dict[str, Any] = {
        "seconds": seconds,
        "engine": engine,
        "workers": workers,
        "cpu_s": seconds,
        "import_s": 0.1,
        "lines": 1000,
        "bytes": 100_000,
        "files": {},
    }
    return harness.Sample(seconds + 0.2, 40_000, result)


def _report(
    probe: dict[str, Any],
    seconds: dict[str, float],
    engines: dict[str, str] | None = None,
) -> dict[str, Any]:
    """assemble() over fabricated samples: ``seconds`` and ``engines`` by case key."""
    args = _args()
    cases = harness.build_cases(args, probe)
    ref = harness.reference_case(cases)
    default = probe["engine"]
    bundle_jobs: dict[str, harness.Job] = {}
    for c in cases:
        job = harness.Job(f"bundle {c.key}", 2, lambda r: None)
        engine = (engines or {}).get(c.key) or c.engine or default
        job.samples = [_sample(seconds.get(c.key, 0.5), engine) for _ in range(2)]
        bundle_jobs[c.key] = job
    import_job = harness.Job("import", 1, lambda r: None)
    import_job.samples = [harness.Sample(0.15, 30_000, {"import_s": 0.1, "engine": None})]
    env = {
        "timestamp_utc": "2026-01-01T00:00:00+00:00",
        "git_commit": "0" * 40,
        "source_digest": "f" * 64,
        "source_snapshot": True,
        "python": "3.11",
        "implementation": "CPython",
        "cpu_count": 2,
        "cpu_model": "test CPU",
        "platform": "test",
        "loadavg_start": [0.0, 0.0, 0.0],
        "loadavg_end": [0.0, 0.0, 0.0],
        "harness_seconds": 1.0,
    }
    return harness.assemble(
        args,
        env,
        cases,
        ref,
        import_job,
        bundle_jobs,
        {},
        {},
        {},
        False,
        {"skipped": "--skip-workflow given"},
        None,
        harness.STREAMS,
        probe,
    )


def _bundle_row(md: str, key: str) -> list[str]:
    for line in md.splitlines():
        if line.startswith(f"| {key} |"):
            return [cell.strip() for cell in line.strip("|").split("|")]
    raise AssertionError(f"no row {key}")


def test_report_states_engine_and_speedup_of_the_same_run() -> None:
    rep = _report(NATIVE_PROBE, {"30m-10k-1p": 0.4, "30m-10k-1p-py": 1.8})
    engine = rep["engine"]
    assert engine["main"] == "native"
    assert engine["native_available"] is True
    assert engine["python_case_skipped"] is None
    assert rep["bundles"]["30m-10k-1p"]["engine"] == "native"
    assert rep["bundles"]["30m-10k-1p-py"]["engine"] == "python"
    assert rep["bundles"]["30m-10k-1p-py"]["engine_forced"] == "python"
    assert [s["engine"] for s in rep["bundles"]["30m-10k-1p-py"]["samples"]] == ["python"] * 2
    sp = engine["speedup"]
    assert (sp["python_case"], sp["native_case"]) == ("30m-10k-1p-py", "30m-10k-1p")
    assert sp["ratio"] == pytest.approx(1.8 / 0.4)
    # informative only: no target, and the forced case's RSS is no target either
    assert not any("Python engine" in t["target"] for t in rep["targets"])
    assert not any("speed-up" in t["target"] for t in rep["targets"])

    md = harness.to_markdown(rep)
    header = md.splitlines()[2]
    assert "simulation engine: native (compiled core rca/seed/_simcore.c)" in header
    assert "**Compiled-core speed-up** (informative, no target)" in md
    assert "`30m-10k-1p-py` (python engine) 1.8 / `30m-10k-1p` (native) 0.4 = **4.50×**" in md
    # engines differ between rows: the Bundles table names each row's engine
    table_head = next(ln for ln in md.splitlines() if ln.startswith("| case | min |"))
    cols = [c.strip() for c in table_head.strip("|").split("|")]
    at = cols.index("engine")
    assert _bundle_row(md, "30m-10k-1p")[at] == "native"
    assert _bundle_row(md, "30m-10k-1p-py")[at] == "python"
    assert _bundle_row(md, "30m-10k")[at] == "native"


def test_speedup_refused_when_a_case_ran_the_wrong_engine() -> None:
    rep = _report(NATIVE_PROBE, {}, engines={"30m-10k-1p-py": "native"})
    sp = rep["engine"]["speedup"]
    assert sp["ratio"] is None
    assert "`30m-10k-1p-py` ran native" in sp["note"]
    assert sp["note"] in harness.to_markdown(rep)


def test_report_without_compiled_core_says_so() -> None:
    rep = _report(NO_CORE_PROBE, {})
    assert "30m-10k-1p-py" not in rep["bundles"]
    assert rep["engine"]["main"] == "python"
    assert rep["engine"]["speedup"] is None
    md = harness.to_markdown(rep)
    assert (
        "simulation engine: python (pure-Python reference rca/seed/_sim.py) "
        "[compiled core not built]" in md.splitlines()[2]
    )
    assert (
        "**Compiled-core speed-up** (informative, no target): not measured: "
        "the compiled core (rca/seed/_simcore.c) is not built." in md
    )
    table_head = next(ln for ln in md.splitlines() if ln.startswith("| case | min |"))
    assert "| engine |" not in table_head  # one engine for every row: no column
