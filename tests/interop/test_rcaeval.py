"""RCAEval (the field's benchmark framework) runs on our bundles, unmodified.

A bundle exported with ``rca-mock export --format rcaeval`` is an RCAEval case: pandas
reads its ``data.csv`` as RCAEval's loaders do, every root-cause service of the
scenarios is a column (so every root cause is rankable), and RCAEval's own BARO and
N-Sigma rank it. Their accuracy on a small suite is a measurement of difficulty, pinned
in ``benchmarks/results/rcaeval.md``: regenerated here, it must be the committed file
(re-run ``scripts/rcaeval_results.py`` after a change that moves it).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from rca.interop.rcaeval import (
    COLUMNS,
    SERVICE_OF_LAYER,
    STEP_S,
    export_rcaeval,
    root_cause_service,
    run_method,
)
from rca.seed import scenarios
from rca.seed.mock_incident_generator import generate_bundle

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "rcaeval_results.py"
RESULTS = ROOT / "benchmarks" / "results" / "rcaeval.md"

pytestmark = pytest.mark.interop


def _script() -> Any:
    spec = importlib.util.spec_from_file_location("rcaeval_results", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_root_cause_service_is_a_column() -> None:
    services = {c.name.split("_", 1)[0] for c in COLUMNS}
    for sid in scenarios.incident_ids():
        layer = scenarios.get(sid).label().root_cause_layer
        assert layer is not None and SERVICE_OF_LAYER[layer] in services, sid


@pytest.mark.parametrize("scenario", scenarios.incident_ids())
def test_an_exported_case_is_what_rcaeval_reads(scenario: str, tmp_path: Path) -> None:
    bundle = generate_bundle(_script().request(scenario, 9), tmp_path / "b")
    case = export_rcaeval(bundle, tmp_path / "cases")
    data = pd.read_csv(case / "data.csv")
    assert list(data.columns) == ["time", *(c.name for c in COLUMNS)]
    assert len(data) == 30 * 60 // STEP_S
    assert (data["time"].diff().dropna() == STEP_S).all()
    assert data.drop(columns="time").notna().all().all()
    onset = int((case / "inject_time.txt").read_text())
    assert data["time"].iloc[0] < onset < data["time"].iloc[-1]
    answer = root_cause_service(bundle)
    for method in ("baro", "nsigma"):
        ranks = run_method(case, method)
        # it ranks our columns (those that vary on both sides of the onset), and the
        # root cause's service is among them: rankable, whatever rank it gets
        assert ranks and set(ranks) <= set(data.columns[1:]), method
        assert any(r.startswith(f"{answer}_") for r in ranks), (method, answer)


def test_the_committed_results_are_what_the_methods_measure(tmp_path: Path) -> None:
    out = tmp_path / "rcaeval.md"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    assert out.read_text() == RESULTS.read_text(), (
        "benchmarks/results/rcaeval.md is stale: run scripts/rcaeval_results.py"
    )


def test_export_refuses_a_bundle_without_metrics(tmp_path: Path) -> None:
    fixture = next((ROOT / "tests" / "fixtures" / "mock_incidents").glob("mock-*"))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "rca.cli",
            "export",
            "--format",
            "rcaeval",
            str(fixture),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 2 and "holds no metrics" in run.stderr, run.stderr
    assert list(tmp_path.iterdir()) == []


def test_running_rcaeval_leaves_matplotlib_styles_alone(tmp_path: Path) -> None:
    """RCAEval restyles matplotlib when imported (rcd.py: plt.style.use); our plots in
    the same process must not change. In a fresh interpreter, so the import happens
    here whatever ran before."""
    bundle = generate_bundle(_script().request("bad_api_rollout", 3), tmp_path / "b")
    case = export_rcaeval(bundle, tmp_path / "c")
    probe = (
        "import matplotlib, sys\n"
        "before = dict(matplotlib.rcParams)\n"
        "from pathlib import Path\n"
        "from rca.interop.rcaeval import run_method\n"
        f"run_method(Path({str(case)!r}), 'baro')\n"
        "assert 'RCAEval.e2e.rcd' in sys.modules  # the restyling module did load\n"
        "changed = [k for k in before if matplotlib.rcParams[k] != before[k]]\n"
        "print(changed)\n"
        "sys.exit(1 if changed else 0)\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
