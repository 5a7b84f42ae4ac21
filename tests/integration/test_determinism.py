"""Same request, same bytes: across runs, entry points, interpreters and offset spellings."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from rca.seed import scenarios
from rca.seed._models import STREAM_FILES, STREAMS
from rca.seed._sim import ENGINE_ENV, native_available
from rca.seed.mock_incident_generator import (
    bundle_id_for,
    generate_bundle,
    generate_stream,
    main,
    write_manifest,
)
from tests.ci import unavailable
from tests.integration.conftest import ROOT, cli_args, request_for, run_cli
from tests.integration.logs import SCENARIOS, Bundle

BUNDLE_FILES = (*STREAM_FILES.values(), "ground_truth.json", "manifest.json")

# The session's request of each scenario (request_for: seed 42, 2026-11-26T05:00:00Z,
# 30 min, 2.5 rps) -> bundle id, a hash of the whole request. Pinned: ids are how results
# are matched to labels, so they must never drift with a refactoring.
EXPECTED_IDS = {
    "normal_load": "mock-efacc3873e43",
    "db_connection_pool_exhaustion": "mock-d52cd3974947",
    "slow_query_regression": "mock-ad866f73205f",
    "bad_api_rollout": "mock-e465f0457910",
    "pod_oom_restart_loop": "mock-00847f68af9c",
}


def test_the_pinned_ids_are_the_v0_scenarios() -> None:
    assert sorted(EXPECTED_IDS) == scenarios.v0_ids()


def _files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_regenerating_gives_byte_identical_bundles(bundle: Bundle, tmp_path: Path) -> None:
    again = generate_bundle(request_for(bundle.scenario), tmp_path)

    assert again.name == bundle.path.name
    first, second = _files(bundle.path), _files(again)
    assert sorted(first) == sorted(BUNDLE_FILES)
    assert sorted(second) == sorted(BUNDLE_FILES)
    for name in BUNDLE_FILES:
        assert first[name] == second[name], f"{name} differs between two generations"


@pytest.mark.parametrize("engine", ["python", "native"])
def test_both_simulation_engines_write_the_same_bundle(
    bundle: Bundle, tmp_path: Path, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compiled core is a speed-up only: either engine writes every byte the same."""
    if engine == "native" and not native_available():
        unavailable("rca.seed._simcore is not built")
    monkeypatch.setenv(ENGINE_ENV, engine)

    again = generate_bundle(request_for(bundle.scenario), tmp_path)

    assert _files(again) == _files(bundle.path)


@pytest.mark.parametrize("workers", [2, 3, 5])
def test_rendering_in_worker_processes_gives_the_same_bytes(
    bundle: Bundle, tmp_path: Path, workers: int, worker_pools: list[int]
) -> None:
    """Streams split over worker processes: every file, label and manifest included."""
    again = generate_bundle(request_for(bundle.scenario), tmp_path, workers=workers)

    assert worker_pools == [workers - 1]  # really split: this process + workers - 1
    assert _files(again) == _files(bundle.path)
    assert [p.name for p in tmp_path.iterdir()] == [bundle.path.name]


def test_cli_generate_with_workers_writes_the_same_bundle(
    bundles: dict[str, Bundle], tmp_path: Path
) -> None:
    b = bundles["pod_oom_restart_loop"]

    proc = run_cli(
        "generate", *cli_args(request_for(b.scenario)), "--out", str(tmp_path), "--workers", "2"
    )

    assert proc.returncode == 0, proc.stderr
    assert _files(tmp_path / b.path.name) == _files(b.path)


def test_a_different_seed_changes_every_stream(bundle: Bundle, tmp_path: Path) -> None:
    other = generate_bundle(request_for(bundle.scenario, seed=43), tmp_path)

    assert other.name != bundle.path.name
    for name in STREAM_FILES.values():
        assert (other / name).read_bytes() != (bundle.path / name).read_bytes(), name


def test_bundle_id_is_mock_plus_12_hex_and_stable(bundle: Bundle) -> None:
    req = request_for(bundle.scenario)
    bid = bundle.path.name

    assert re.fullmatch(r"mock-[0-9a-f]{12}", bid)
    assert bid == EXPECTED_IDS.get(bundle.scenario, bid)  # pinned: the v0 scenarios
    assert bundle_id_for(req) == bid
    assert bundle.manifest["bundle_id"] == bid
    assert bundle.truth["bundle_id"] == bid
    # The same instant spelt with another offset is the same request.
    assert bundle_id_for({**req, "time_anchor": "2026-11-26T06:00:00+01:00"}) == bid


def test_the_same_instant_with_another_offset_gives_the_same_bytes(
    bundles: dict[str, Bundle], tmp_path: Path
) -> None:
    b = bundles["bad_api_rollout"]
    again = generate_bundle(
        request_for(b.scenario, time_anchor="2026-11-26T00:00:00-05:00"), tmp_path
    )
    assert _files(again) == _files(b.path)


# ------------------------------------------------------------------ single streams
@pytest.mark.parametrize("stream", STREAM_FILES)
def test_generate_stream_writes_exactly_the_bundle_stream(
    bundle: Bundle, stream: str, tmp_path: Path
) -> None:
    out = tmp_path / "nested" / f"{stream}.out"

    res = generate_stream(request_for(bundle.scenario), stream, out)

    data = out.read_bytes()
    assert data == (bundle.path / STREAM_FILES[stream]).read_bytes()
    art = next(a for a in bundle.manifest["artifacts"] if a.get("stream") == stream)
    assert (res.sha256, res.bytes, res.lines, res.records) == (
        art["sha256"],
        art["bytes"],
        art["line_count"],
        art["record_count"],
    )
    assert res.sha256 == hashlib.sha256(data).hexdigest()
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temp file left


# One stream per scenario through the real entry point, the streams taken in turn: every
# stream is covered as long as there are at least as many scenarios as streams.
CLI_STREAMS = {sid: STREAMS[i % len(STREAMS)] for i, sid in enumerate(SCENARIOS)}
assert set(CLI_STREAMS.values()) == set(STREAMS), "fewer scenarios than streams"


@pytest.mark.parametrize(("scenario", "stream"), CLI_STREAMS.items())
def test_generate_stream_cli_writes_exactly_the_bundle_stream(
    bundles: dict[str, Bundle], scenario: str, stream: str, tmp_path: Path
) -> None:
    out = tmp_path / f"{stream}.out"

    proc = run_cli(
        "generate-stream", *cli_args(request_for(scenario)), "--stream", stream, "--out", str(out)
    )

    assert proc.returncode == 0, proc.stderr
    data = out.read_bytes()
    assert data == (bundles[scenario].path / STREAM_FILES[stream]).read_bytes()
    assert proc.stdout.split("\t")[2].strip() == hashlib.sha256(data).hexdigest()


def test_cli_generate_prints_the_bundle_it_wrote(
    bundles: dict[str, Bundle], tmp_path: Path
) -> None:
    b = bundles["normal_load"]

    proc = run_cli("generate", *cli_args(request_for(b.scenario)), "--out", str(tmp_path))

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(tmp_path / b.path.name)
    assert _files(tmp_path / b.path.name) == _files(b.path)
    assert [p.name for p in tmp_path.iterdir()] == [b.path.name]


def test_label_and_manifest_commands_rebuild_the_same_bundle(
    bundle: Bundle, tmp_path: Path
) -> None:
    """Streams (shown identical above) + write-ground-truth + write-manifest == generate.

    This is the workflow's path: one job per stream, then the label, then the manifest.
    """
    req = request_for(bundle.scenario)
    d = tmp_path / bundle.path.name
    d.mkdir()
    for name in STREAM_FILES.values():
        shutil.copyfile(bundle.path / name, d / name)

    assert main(["write-ground-truth", *cli_args(req), "--out", str(d / "ground_truth.json")]) == 0
    write_manifest(req, d)

    assert _files(d) == _files(bundle.path)


# ------------------------------------------------------------------ Python 3.12
VENV312 = ROOT / ".venv312"


def _find_python312() -> str | None:
    """A CPython 3.12 executable: $RCA_PYTHON312, python3.12, or a pyenv 3.12.x."""
    candidates: list[list[str]] = []
    if os.environ.get("RCA_PYTHON312"):
        candidates.append([os.environ["RCA_PYTHON312"]])
    if shutil.which("python3.12"):
        candidates.append(["python3.12"])
    if shutil.which("pyenv"):
        listed = subprocess.run(
            ["pyenv", "versions", "--bare"], capture_output=True, text=True, check=False
        ).stdout.split()
        candidates += [
            ["env", f"PYENV_VERSION={v}", "python3"] for v in listed if v.startswith("3.12")
        ]
    probe = "import sys; print(sys.executable if sys.version_info[:2] == (3, 12) else '')"
    for argv in candidates:
        proc = subprocess.run([*argv, "-c", probe], capture_output=True, text=True, check=False)
        if proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout.strip()
    return None


def _venv312(python: str) -> Path:
    """``.venv312`` with the pinned pydantic, (re)built only when its inputs change."""
    constraints = ROOT / "requirements" / "constraints.txt"
    stamp_text = hashlib.sha256(constraints.read_bytes() + python.encode()).hexdigest()
    stamp = VENV312 / ".stamp"
    exe = VENV312 / "bin" / "python"
    if exe.exists() and stamp.exists() and stamp.read_text() == stamp_text:
        return exe
    for argv in (
        [python, "-m", "venv", "--clear", str(VENV312)],
        [str(exe), "-m", "pip", "install", "--quiet", "-c", str(constraints), "pydantic"],
    ):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
        if proc.returncode != 0:
            unavailable(
                f"cannot prepare {VENV312.name}: {' '.join(argv[:3])}: {proc.stderr[-400:]}"
            )
    stamp.write_text(stamp_text)
    return exe


@pytest.fixture(scope="session")
def bundles312(tmp_path_factory: pytest.TempPathFactory) -> Path:
    python = _find_python312()
    if python is None:
        unavailable("no Python 3.12 interpreter found (python3.12, pyenv 3.12.x, $RCA_PYTHON312)")
    exe = _venv312(python)
    out = tmp_path_factory.mktemp("py312")
    script = (
        "import json, sys\n"
        "from rca.seed.mock_incident_generator import generate_bundle\n"
        "assert sys.version_info[:2] == (3, 12), sys.version\n"
        "for req in json.loads(sys.argv[2]):\n"
        "    generate_bundle(req, sys.argv[1])\n"
    )
    reqs = json.dumps([request_for(s) for s in SCENARIOS])
    proc = subprocess.run(
        [str(exe), "-c", script, str(out), reqs],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.slow
def test_python312_writes_the_same_bytes_as_python311(bundle: Bundle, bundles312: Path) -> None:
    assert _files(bundles312 / bundle.path.name) == _files(bundle.path)
