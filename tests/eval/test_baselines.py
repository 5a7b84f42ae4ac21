"""The v0 set is good evaluation material: the label's own evidence reaches the answer,
and no trivial baseline passes every scenario."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from rca.eval.baselines import BASELINES, BlindView, majority_answer, read_blind, run_baseline
from rca.eval.blind import export_blind
from rca.eval.models import BrainReport
from rca.eval.scoring import evaluate, parse_report, perfect_report
from rca.eval.suite import baseline_table, run_baselines
from rca.seed import scenarios
from rca.seed.mock_incident_generator import GroundTruth
from tests.eval.conftest import (
    FAILURE_SCENARIOS,
    FIXTURES_DIR,
    REPO_ROOT,
    SCENARIOS,
    V0_SCENARIOS,
)


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
    assert sorted(rows["scenario_id"]) == sorted(SCENARIOS)
    passed = rows["pass_fail"] == "pass"
    assert passed.mean() < 1.0
    # Not only because of the negative control: some failure scenario defeats it too.
    assert passed[rows["incident"]].mean() < 1.0


def test_baseline_reports_are_well_formed_and_cite_the_bundle(baseline_rows: pd.DataFrame) -> None:
    assert not baseline_rows["reason_codes"].str.contains("EVIDENCE_NOT_IN_BUNDLE").any()
    assert not baseline_rows["reason_codes"].str.contains("NO_EVIDENCE").any()
    table = baseline_table(baseline_rows)
    assert list(table.columns) == ["n", *BASELINES]
    assert table.loc["ALL", "n"] == len(SCENARIOS)


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
    # The label's root cause less the values each bundle drew (a release number).
    answer = majority_answer()
    assert "{" not in answer
    assert any(
        set(answer.split()) <= set(t.root_cause.split()) for t in truths.values() if t.incident
    )


def _first_line_with(bundle: Path, file: str, signature: str, since: int = 1) -> int | None:
    with open(bundle / file, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if n >= since and signature in line:
                return n
    return None


@pytest.mark.parametrize(
    ("sid", "source"),
    [(sid, "generated") for sid in FAILURE_SCENARIOS]
    + [(sid, "committed") for sid in FAILURE_SCENARIOS if sid in V0_SCENARIOS],
)
def test_an_independently_written_report_passes(
    sid: str,
    source: str,
    bundles: dict[str, Path],
    committed: dict[str, Path],
) -> None:
    bundle = (bundles if source == "generated" else committed)[sid]
    # A report written without the label, declared by the scenario (Expect.paraphrase):
    # its root cause in other words, one cited line found by the fault's signature.
    paraphrase = scenarios.get(sid).expect.paraphrase
    assert paraphrase is not None, f"{sid} has an incident but declares no paraphrase"
    title, summary, file, signature = (
        paraphrase.title,
        paraphrase.summary,
        paraphrase.file,
        paraphrase.signature,
    )
    truth = GroundTruth.model_validate_json((bundle / "ground_truth.json").read_bytes())
    assert title.lower() != truth.root_cause.lower()  # a paraphrase, not the label
    # The negative control may log the signature too (a red herring, issue #16): the
    # report cites the incident bundle's own line.
    # (A herring's line may come before the incident: a brain reading the timeline cites
    # the first one from where the incident shows in that file.)
    lines = [p.line for p in truth.evidence if p.file == file]
    n = _first_line_with(bundle, file, signature, min(lines, default=1))
    assert n is not None, f"{signature!r} not in {bundle / file}"
    ref = f"{file}:{n}"
    report = {
        "incident_id": bundle.name,
        "status": "completed",
        "hypotheses": [
            {"title": title, "summary": summary, "confidence": 0.85, "evidence_refs": [ref]}
        ],
    }
    result = evaluate(bundle, parse_report(report))
    assert result.pass_fail == "pass", (ref, result.reason_codes)
    assert result.matched_by is not None
    assert result.score_parts.root_cause == 1.0
    # The same report names the wrong fault for every other scenario.
    for other in FAILURE_SCENARIOS:
        if other != sid:
            assert (
                "ROOT_CAUSE_MISMATCH" in evaluate(bundles[other], parse_report(report)).reason_codes
            )


def _always_no_incident(view: BlindView) -> BrainReport:
    return BrainReport(incident_id=view.bundle_id, status="no_incident", hypotheses=[])


def test_a_baseline_that_always_answers_no_incident_fails_every_failure_scenario(
    suite_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(BASELINES, "always_no_incident", _always_no_incident)
    rows = run_baselines(suite_dir, ["always_no_incident"])
    by_scenario = {str(r.scenario_id): r for r in rows.itertuples()}
    assert sorted(by_scenario) == sorted(SCENARIOS)
    for sid in FAILURE_SCENARIOS:
        row = by_scenario[sid]
        assert (row.pass_fail, row.reason_codes) == ("fail", "MISSED_INCIDENT"), sid
        assert row.score == 0.0
    # Silence is right only for the negative control.
    assert by_scenario["normal_load"].pass_fail == "pass"


def _readme_baseline_table() -> dict[str, dict[str, float]]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Baselines: the floors to beat", 1)[1]
    header = "| scenario | `most_errors` | `earliest_error` | `majority_prior` |"
    assert header in section, "README baseline table header changed"
    rows = section.split(header, 1)[1].strip().split("\n\n", 1)[0].splitlines()[1:]
    names = ["most_errors", "earliest_error", "majority_prior"]
    table: dict[str, dict[str, float]] = {}
    for row in rows:
        cells = [c.strip().strip("*`") for c in row.strip().strip("|").split("|")]
        label = "ALL" if cells[0].startswith("all (") else cells[0]
        table[label] = {
            n: float(c.rstrip("%")) / 100 for n, c in zip(names, cells[1:], strict=True)
        }
    return table


def test_readme_baseline_table_matches_the_committed_fixtures() -> None:
    readme = _readme_baseline_table()
    assert sorted(readme) == sorted([*V0_SCENARIOS, "ALL"])
    # The numbers the README states, pinned here too so that a drift is seen twice.
    assert readme["ALL"] == {"most_errors": 0.4, "earliest_error": 0.0, "majority_prior": 0.0}
    measured = baseline_table(run_baselines(FIXTURES_DIR))
    assert measured.loc["ALL", "n"] == len(V0_SCENARIOS)
    got = {
        str(sid): {name: float(measured.loc[sid, name]) for name in BASELINES}
        for sid in measured.index
    }
    assert got == readme
