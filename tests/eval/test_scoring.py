"""The scorer: verdicts, reason codes, threshold precedence, evidence checks, score parts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from rca.eval.evidence import parse_ref
from rca.eval.scoring import (
    EvalInputError,
    evaluate,
    load_report,
    load_truth,
    parse_report,
    perfect_report,
)
from rca.seed.mock_incident_generator import GroundTruth
from tests.eval.conftest import FAILURE_SCENARIOS


def _score(bundle: Path, report: dict[str, Any], threshold: float | None = None) -> Any:
    return evaluate(bundle, parse_report(report), threshold)


def _brain(title: str, confidence: float, refs: list[str], summary: str = "") -> dict[str, Any]:
    return {
        "incident_id": "x",
        "status": "completed",
        "hypotheses": [
            {"title": title, "summary": summary, "confidence": confidence, "evidence_refs": refs}
        ],
    }


def _refs(truth: GroundTruth) -> list[str]:
    return [f"{p.file}:{p.line}" for p in truth.evidence]


@pytest.mark.parametrize("sid", FAILURE_SCENARIOS)
def test_report_built_from_the_label_passes(
    sid: str, bundles: dict[str, Path], truths: dict[str, GroundTruth]
) -> None:
    result = _score(bundles[sid], perfect_report(truths[sid]))
    assert result.pass_fail == "pass", result.reason_codes
    assert result.reason_codes == []
    assert result.score == 1.0
    assert result.label_evidence_hit == result.label_evidence_total > 0


@pytest.mark.parametrize("sid", FAILURE_SCENARIOS)
def test_minimal_answer_with_an_alias_passes(
    sid: str, bundles: dict[str, Path], truths: dict[str, GroundTruth]
) -> None:
    truth = truths[sid]
    first = truth.first_signal
    assert first is not None
    answer = {
        "root_cause": truth.root_cause_aliases[0].upper(),
        "confidence": 0.9,
        "evidence_refs": [f"{first.file}:{first.line}"],
    }
    result = _score(bundles[sid], answer)
    assert result.report_shape == "minimal"
    assert result.pass_fail == "pass", result.reason_codes
    assert result.score_parts.first_signal_timing == 1.0


@pytest.mark.parametrize("sid", FAILURE_SCENARIOS)
def test_another_scenarios_root_cause_is_a_mismatch(
    sid: str, bundles: dict[str, Path], truths: dict[str, GroundTruth]
) -> None:
    for other in FAILURE_SCENARIOS:
        if other == sid:
            continue
        wrong = truths[other]
        report = _brain(
            wrong.root_cause, 0.95, _refs(truths[sid]), wrong.root_cause_component or ""
        )
        result = _score(bundles[sid], report)
        assert result.pass_fail == "fail"
        assert result.reason_codes == ["ROOT_CAUSE_MISMATCH"], (sid, other)
        assert result.score_parts.root_cause == 0.0


def test_wrong_component_fails_with_root_cause_mismatch(
    bundles: dict[str, Path], truths: dict[str, GroundTruth]
) -> None:
    truth = truths["db_connection_pool_exhaustion"]
    report = _brain("nginx worker connections limit reached on web", 0.9, _refs(truth))
    result = _score(bundles["db_connection_pool_exhaustion"], report)
    assert result.reason_codes == ["ROOT_CAUSE_MISMATCH"]


@pytest.mark.parametrize("sid", FAILURE_SCENARIOS)
def test_low_confidence_fails(
    sid: str, bundles: dict[str, Path], truths: dict[str, GroundTruth]
) -> None:
    result = _score(bundles[sid], perfect_report(truths[sid], confidence=0.3))
    assert result.pass_fail == "fail"
    assert result.reason_codes == ["CONFIDENCE_BELOW_THRESHOLD"]
    assert result.score == 1.0  # the content was right; only the verdict fails


def test_incident_claimed_on_normal_load_is_a_false_alarm(
    bundles: dict[str, Path], truths: dict[str, GroundTruth]
) -> None:
    pool = truths["db_connection_pool_exhaustion"]
    report = _brain(pool.root_cause, 0.85, ["api_logs.log:1"])
    result = _score(bundles["normal_load"], report)
    assert result.pass_fail == "fail"
    assert result.reason_codes == ["FALSE_ALARM"]
    assert result.score == pytest.approx(0.15)


@pytest.mark.parametrize(
    "report",
    [
        {"incident_id": "x", "status": "completed", "hypotheses": []},
        {"status": "no_incident", "hypotheses": []},
        {"root_cause": "none", "confidence": 0.9, "evidence_refs": []},
        {"root_cause": "No incident: normal operation", "confidence": 0.8},
        {
            "status": "completed",
            "hypotheses": [{"title": "Healthy", "confidence": 0.9, "evidence_refs": []}],
        },
        # An incident hypothesis below the threshold raises no alarm.
        {"hypotheses": [{"title": "memory leak", "confidence": 0.2, "evidence_refs": []}]},
    ],
)
def test_no_incident_answers_pass_on_normal_load(
    report: dict[str, Any], bundles: dict[str, Path]
) -> None:
    result = _score(bundles["normal_load"], report)
    assert result.pass_fail == "pass", result.reason_codes
    assert result.score >= 0.8


def test_no_incident_on_a_failure_scenario_is_a_missed_incident(bundles: dict[str, Path]) -> None:
    result = _score(bundles["pod_oom_restart_loop"], {"hypotheses": []})
    assert result.reason_codes == ["MISSED_INCIDENT"]
    result = _score(
        bundles["pod_oom_restart_loop"], {"root_cause": "no incident", "confidence": 0.9}
    )
    assert result.reason_codes == ["MISSED_INCIDENT"]


def test_no_evidence(bundles: dict[str, Path]) -> None:
    result = _score(bundles["pod_oom_restart_loop"], _brain("memory leak in orders-api", 0.9, []))
    assert result.reason_codes == ["NO_EVIDENCE"]


@pytest.mark.parametrize(
    "ref",
    [
        "api_logs.log:99999999",
        "api_logs.log:5-99999999",
        "ground_truth.json:3",
        "manifest.json:1",
        "app.log:1",
        "0123456789abcdef0123456789abcdef",
        "the logs around 05:10",
        "api_logs.log:0",
        "api_logs.log:9-3",
    ],
)
def test_refs_outside_the_bundle(
    ref: str, bundles: dict[str, Path], truths: dict[str, GroundTruth]
) -> None:
    truth = truths["bad_api_rollout"]
    report = _brain(truth.root_cause, 0.9, [*_refs(truth), ref])
    result = _score(bundles["bad_api_rollout"], report)
    assert result.reason_codes == ["EVIDENCE_NOT_IN_BUNDLE"]
    bad = [e for e in result.evidence if not e.in_bundle]
    assert [e.ref for e in bad] == [ref]
    assert bad[0].detail


def test_ref_forms_and_hits(bundles: dict[str, Path], truths: dict[str, GroundTruth]) -> None:
    sid = "slow_query_regression"
    truth = truths[sid]
    first = truth.first_signal
    assert first is not None and first.request_id is not None
    refs = [
        f"{first.file}:{max(1, first.line - 2)}-{first.line + 2}",  # range holding it
        f"some/dir/{first.file}#L{first.line}",
        first.request_id.upper(),
        f"request_id:{first.request_id}",
        f"{first.file}:1-{first.line + 500}",  # wide range: valid, hits nothing
    ]
    result = _score(bundles[sid], _brain("missing index", 0.9, refs))
    assert result.pass_fail == "pass", result.reason_codes
    hits = [e.hits for e in result.evidence]
    assert f"{first.file}:{first.line}" in hits[0]
    assert f"{first.file}:{first.line}" in hits[1]
    # A request id hits every label pointer carrying it.
    assert f"{first.file}:{first.line}" in hits[2] and hits[2] == hits[3]
    assert hits[4] == []
    assert [e.kind for e in result.evidence] == [
        "range",
        "line",
        "request_id",
        "request_id",
        "range",
    ]
    assert result.score_parts.first_signal_timing == 1.0


def test_parse_ref_forms() -> None:
    assert parse_ref("api_logs.log:12").kind == "line"
    assert parse_ref(" api_logs.log:L10-L14 ").end == 14
    assert parse_ref("A" * 32).request_id == "a" * 32
    assert parse_ref("api_logs.log").kind == "unparsed"
    assert parse_ref("a" * 31).kind == "unparsed"


def test_threshold_precedence(override_bundle: Path) -> None:
    truth = load_truth(override_bundle)
    assert (truth.threshold_default, truth.threshold_override) == (0.5, 0.9)
    report = perfect_report(truth, confidence=0.8)
    by_override = _score(override_bundle, report)
    assert (by_override.threshold_used, by_override.threshold_source) == (0.9, "label_override")
    assert by_override.reason_codes == ["CONFIDENCE_BELOW_THRESHOLD"]
    by_cli = _score(override_bundle, report, threshold=0.75)
    assert (by_cli.threshold_used, by_cli.threshold_source) == (0.75, "cli")
    assert by_cli.pass_fail == "pass"
    assert _score(override_bundle, report, threshold=0.81).pass_fail == "fail"


def test_threshold_default_and_boundary(
    bundles: dict[str, Path], truths: dict[str, GroundTruth]
) -> None:
    truth = truths["bad_api_rollout"]
    assert truth.threshold_override is None
    at = _score(bundles["bad_api_rollout"], perfect_report(truth, confidence=0.7))
    assert (at.threshold_used, at.threshold_source, at.pass_fail) == (0.7, "label_default", "pass")
    with pytest.raises(EvalInputError, match="--threshold"):
        _score(bundles["bad_api_rollout"], perfect_report(truth), threshold=1.5)


def test_top_confidence_hypothesis_is_the_prediction(
    bundles: dict[str, Path], truths: dict[str, GroundTruth]
) -> None:
    truth = truths["pod_oom_restart_loop"]
    report = {
        "incident_id": "inc-1",
        "status": "completed",
        "brain_version": "9.9",  # extra top-level keys are tolerated
        "hypotheses": [
            {"title": "bad deployment", "summary": "", "confidence": 0.4, "evidence_refs": []},
            {
                "title": "orders-api containers OOMKilled",
                "summary": "heap grows until the 768Mi limit",
                "confidence": 0.9,
                "evidence_refs": _refs(truth)[:2],
                "rank": 1,  # extra hypothesis keys too
            },
        ],
    }
    result = _score(bundles["pod_oom_restart_loop"], report)
    assert result.predicted_root_cause == "orders-api containers OOMKilled"
    assert result.pass_fail == "pass"


def test_score_parts_are_graded(bundles: dict[str, Path], truths: dict[str, GroundTruth]) -> None:
    truth = truths["db_connection_pool_exhaustion"]
    half = _refs(truth)[: len(truth.evidence) // 2]
    result = _score(
        bundles["db_connection_pool_exhaustion"],
        _brain("connection pool exhausted", 0.9, half, "HikariCP pool of orders-api"),
    )
    parts = result.score_parts
    assert parts.root_cause == 1.0
    assert parts.layer_component == 1.0
    assert 0.0 < (parts.evidence_recall or 0.0) < 1.0
    assert 0.0 < result.score < 1.0
    # Layer only: half the layer/component credit.
    layer_only = _score(
        bundles["db_connection_pool_exhaustion"],
        _brain("SQLTransientConnectionException", 0.9, half, "in the JVM"),
    )
    assert layer_only.score_parts.layer_component == 0.5


def test_evaluation_is_deterministic(
    bundles: dict[str, Path], truths: dict[str, GroundTruth]
) -> None:
    report = perfect_report(truths["slow_query_regression"], confidence=0.8)
    a = _score(bundles["slow_query_regression"], copy.deepcopy(report))
    b = _score(bundles["slow_query_regression"], copy.deepcopy(report))
    assert a.model_dump_json() == b.model_dump_json()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (
            {"hypotheses": [{"title": "x", "confidence": 3, "evidence_refs": []}]},
            "hypotheses[0].confidence",
        ),
        (
            {"hypotheses": [{"title": "x", "confidence": "0.9", "evidence_refs": []}]},
            "hypotheses[0].confidence",
        ),
        (
            {"hypotheses": [{"title": "x", "confidence": True, "evidence_refs": []}]},
            "hypotheses[0].confidence",
        ),
        ({"hypotheses": [{"title": "x", "confidence": 0.5}]}, "hypotheses[0].evidence_refs"),
        (
            {"hypotheses": [{"title": "x", "confidence": 0.5, "evidence_refs": "a:1"}]},
            "hypotheses[0].evidence_refs",
        ),
        ({"hypotheses": [{"confidence": 0.5, "evidence_refs": []}]}, "hypotheses[0].title"),
        ({"hypotheses": None}, "hypotheses"),
        ({"incident_id": "x", "status": "completed"}, "hypotheses"),
        ({"root_cause": "x", "confidence": -0.1}, "confidence"),
        ([], "report"),
    ],
)
def test_malformed_reports_name_the_field(data: Any, field: str) -> None:
    with pytest.raises(EvalInputError) as info:
        parse_report(data)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_bad_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(EvalInputError, match="not valid JSON"):
        load_report(path)
