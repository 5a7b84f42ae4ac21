"""The v0 set is good evaluation material: the label's own evidence reaches the answer,
and no trivial baseline passes every scenario."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from rca.eval.baselines import BASELINES, majority_answer, read_blind, run_baseline
from rca.eval.blind import export_blind
from rca.eval.scoring import evaluate, parse_report, perfect_report
from rca.eval.suite import baseline_table, run_baselines
from rca.seed.mock_incident_generator import GroundTruth
from tests.eval.conftest import FAILURE_SCENARIOS, V0_SCENARIOS


@pytest.fixture(scope="module")
def baseline_rows(suite_dir: Path) -> pd.DataFrame:
    return run_baselines(suite_dir)


def test_label_evidence_suffices_for_every_failure_scenario(
    bundles: dict[str, Path], truths: dict[str, GroundTruth]
) -> None:
    for sid in FAILURE_SCENARIOS:
        result = evaluate(bundles[sid], parse_report(perfect_report(truths[sid])))
        assert result.pass_fail == "pass", (sid, result.reason_codes)


@pytest.mark.parametrize("name", list(BASELINES))
def test_no_baseline_passes_every_scenario(name: str, baseline_rows: pd.DataFrame) -> None:
    rows = baseline_rows[baseline_rows["baseline"] == name]
    assert sorted(rows["scenario_id"]) == sorted(V0_SCENARIOS)
    passed = rows["pass_fail"] == "pass"
    assert passed.mean() < 1.0
    # Not only because of the negative control: some failure scenario defeats it too.
    assert passed[rows["incident"]].mean() < 1.0


def test_baseline_reports_are_well_formed_and_cite_the_bundle(baseline_rows: pd.DataFrame) -> None:
    assert not baseline_rows["reason_codes"].str.contains("EVIDENCE_NOT_IN_BUNDLE").any()
    assert not baseline_rows["reason_codes"].str.contains("NO_EVIDENCE").any()
    table = baseline_table(baseline_rows)
    assert list(table.columns) == ["n", *BASELINES]
    assert table.loc["ALL", "n"] == len(V0_SCENARIOS)


def test_baselines_run_on_blind_bundles_only(tmp_path: Path, bundles: dict[str, Path]) -> None:
    blind = export_blind(bundles["bad_api_rollout"], tmp_path)
    assert not (blind / "ground_truth.json").exists()
    view = read_blind(blind)
    assert view.bundle_id == blind.name and view.errors
    for name in BASELINES:
        report = run_baseline(name, blind, view)
        assert report.incident_id == blind.name
        assert parse_report(report.model_dump(mode="json")) == report


def test_baselines_are_deterministic(tmp_path: Path, bundles: dict[str, Path]) -> None:
    a = export_blind(bundles["pod_oom_restart_loop"], tmp_path / "a")
    b = export_blind(bundles["pod_oom_restart_loop"], tmp_path / "b")
    for name in BASELINES:
        assert run_baseline(name, a) == run_baseline(name, b)


def test_majority_answer_is_a_known_root_cause(truths: dict[str, GroundTruth]) -> None:
    assert majority_answer() in {t.root_cause for t in truths.values() if t.incident}
