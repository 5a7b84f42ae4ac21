"""The strict scorer of issue 16: fault families, negation, specific phrases, structured
fault types, relevant evidence, confidence bounds and ranked metrics (RCAEval's AC@k)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from rca.eval.evidence import BundleIndex, parse_instant
from rca.eval.matching import families, match_root_cause
from rca.eval.scoring import ReportError, evaluate, parse_report, perfect_report
from rca.eval.suite import scenario_table, score_suite
from rca.seed import scenarios
from rca.seed.mock_incident_generator import STREAM_FILES, GroundTruth
from tests.eval.conftest import FAILURE_SCENARIOS, REPO_ROOT

KITCHEN_SINK = "pool exhaustion or OOM or bad rollout or missing index"
# The list of right paraphrases the old matcher refused: each names its own
# scenario's fault and no other.
PARAPHRASES = {
    "pool exhaustion": "db_connection_pool_exhaustion",
    "connection pool": "db_connection_pool_exhaustion",
    "HikariCP pool exhausted": "db_connection_pool_exhaustion",
    "NPE": "bad_api_rollout",
    "NullPointerException": "bad_api_rollout",
    "faulty deploy": "bad_api_rollout",
    "Java heap leak exceeding the memory limit": "pod_oom_restart_loop",
    "OOMKilled": "pod_oom_restart_loop",
}
GENERIC_ONE_WORD = ["rollout", "oom", "timeout", "database", "pool", "index", "memory", "deploy"]
NEGATIONS = ["not {}", "no sign of {}", "ruled out the {}", "unlikely to be the {}", "it isn't {}"]


def _hyp(title: str, confidence: float, refs: list[str], **extra: Any) -> dict[str, Any]:
    return {"title": title, "confidence": confidence, "evidence_refs": refs, **extra}


def _brain(*hyps: dict[str, Any]) -> dict[str, Any]:
    return {"incident_id": "x", "status": "completed", "hypotheses": list(hyps)}


def _refs(truth: GroundTruth) -> list[str]:
    return [f"{p.file}:{p.line}" for p in truth.evidence]


def _score(bundle: Path, report: dict[str, Any], threshold: float | None = None) -> Any:
    return evaluate(bundle, parse_report(report), threshold)


def _matches(text: str, truths: dict[str, GroundTruth]) -> set[str]:
    return {sid for sid in FAILURE_SCENARIOS if match_root_cause(text, truths[sid])}


# ---------------------------------------------------------------------- root cause
def test_kitchen_sink_passes_no_committed_incident(committed: dict[str, Path]) -> None:
    incidents = 0
    for sid, bundle in committed.items():
        truth = GroundTruth.model_validate_json((bundle / "ground_truth.json").read_bytes())
        if not truth.incident:
            continue
        incidents += 1
        result = _score(bundle, _brain(_hyp(KITCHEN_SINK, 0.9, _refs(truth))))
        assert result.pass_fail == "fail", sid
        assert result.reason_codes == ["AMBIGUOUS_ROOT_CAUSE"], sid
        assert len(result.named_families) >= 2
    assert incidents == len(set(committed) & set(FAILURE_SCENARIOS)) > 0


@pytest.mark.parametrize(("text", "sid"), sorted(PARAPHRASES.items()))
def test_paraphrases_name_their_own_scenario_only(
    text: str, sid: str, truths: dict[str, GroundTruth]
) -> None:
    assert _matches(text, truths) == {sid}


@pytest.mark.parametrize("text", GENERIC_ONE_WORD)
def test_one_word_generic_titles_match_nothing(text: str, truths: dict[str, GroundTruth]) -> None:
    assert _matches(text, truths) == set()


@pytest.mark.parametrize("sid", FAILURE_SCENARIOS)
def test_negated_mentions_name_nothing(sid: str, truths: dict[str, GroundTruth]) -> None:
    for declared in scenarios.get(sid).expect.matching_paraphrases:
        # One clause: a colon would end the negated clause (and rightly affirm the rest).
        phrase = re.sub(r"[:;,()]", "", declared)
        assert _matches(phrase, truths) == {sid}, phrase  # the affirmative form
        for form in NEGATIONS:
            assert _matches(form.format(phrase), truths) == set(), form.format(phrase)
        # Negation is clause-scoped: the cue negates only what follows it.
        others = [o for o in FAILURE_SCENARIOS if o != sid]
        other = scenarios.get(others[0]).expect.matching_paraphrases[0]
        assert _matches(f"{phrase}, not {other}", truths) == {sid}
        assert _matches(f"{phrase} rather than {other}", truths) == {sid}
        assert _matches(f"not {other} but {phrase}", truths) == {sid}


def test_two_families_are_ambiguous_even_with_the_right_one(
    truths: dict[str, GroundTruth],
) -> None:
    m = match_root_cause("memory leak and a bad rollout", truths["pod_oom_restart_loop"])
    assert not m and m.ambiguous
    assert m.named == ("bad_deployment", "memory_leak")


def test_family_vocabulary_is_declared_once_beside_each_label() -> None:
    want = {}
    for sid in scenarios.incident_ids():
        spec = scenarios.get(sid).label()
        assert spec.synonyms, f"{sid} declares no synonyms"
        want[spec.fault_type] = spec.synonyms
    got = families()
    assert sorted(got) == sorted(want)
    for ft, terms in got.items():
        assert terms[0] == ft.replace("_", " ")
        assert set(terms[1:]) == set(want[ft])


# ---------------------------------------------------------------------- fault_type
def test_structured_fault_type_decides_over_the_title(
    bundles: dict[str, Path], truths: dict[str, GroundTruth]
) -> None:
    truth = truths["slow_query_regression"]
    right = _score(
        bundles["slow_query_regression"],
        _brain(_hyp("something odd", 0.9, _refs(truth), fault_type="query_plan_regression")),
    )
    assert right.pass_fail == "pass", right.reason_codes
    assert right.matched_by == "fault_type:query_plan_regression"
    wrong = _score(
        bundles["slow_query_regression"],
        _brain(_hyp(truth.root_cause, 0.9, _refs(truth), fault_type="memory_leak")),
    )
    assert wrong.reason_codes == ["ROOT_CAUSE_MISMATCH"]
    # A structured answer disambiguates a title naming several families.
    sink = _score(
        bundles["slow_query_regression"],
        _brain(_hyp(KITCHEN_SINK, 0.9, _refs(truth), fault_type="query_plan_regression")),
    )
    assert sink.pass_fail == "pass"


def test_unknown_fault_type_is_an_invalid_report_naming_the_allowed_values() -> None:
    with pytest.raises(ReportError) as err:
        parse_report(_brain(_hyp("x", 0.9, [], fault_type="network_partition")))
    assert err.value.code == "INVALID_REPORT"
    assert err.value.field == "hypotheses[0].fault_type"
    for ft in families():
        assert ft in str(err.value)
    with pytest.raises(ReportError) as err2:
        parse_report({"root_cause": "x", "confidence": 0.9, "fault_type": "oom"})
    assert err2.value.field == "fault_type"


def test_schema_enum_is_the_registry_vocabulary() -> None:
    registry = sorted({scenarios.get(s).label().fault_type for s in scenarios.incident_ids()})
    contracts = REPO_ROOT / "specs" / "001-build-realistic-mock" / "contracts"
    for stem in ("brain_report", "minimal_answer"):
        text = (contracts / f"{stem}.schema.json").read_text(encoding="utf-8")
        enums = [
            v["enum"]
            for v in _walk(json.loads(text))
            if "enum" in v and v.get("type") == "string" and "bad_deployment" in v["enum"]
        ]
        assert enums and all(e == registry for e in enums), stem


def _walk(node: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if isinstance(node, dict):
        out.append(node)
        for v in node.values():
            out += _walk(v)
    elif isinstance(node, list):
        for v in node:
            out += _walk(v)
    return out


# ---------------------------------------------------------------------- evidence
def _line_in_window(bundle: Path, truth: GroundTruth, *, inside: bool) -> str:
    """A line of the root-cause layer's stream, inside (or before) the incident window,
    that no label pointer names."""
    assert truth.root_cause_layer is not None and truth.incident_window is not None
    file = STREAM_FILES[truth.root_cause_layer]
    onset = parse_instant(truth.incident_window.onset)
    assert onset is not None
    pointed = {(p.file, p.line) for p in truth.evidence} | {
        (e.file, e.line) for s in truth.causal_chain for e in s.evidence
    }
    index = BundleIndex(bundle)
    for n in range(1, (index.line_count(file) or 0) + 1):
        t = index.instant(file, n, onset.year, near=onset)
        if t is None or (file, n) in pointed:
            continue
        if (t >= onset) == inside and (not inside or t <= onset.replace(year=onset.year + 1)):
            return f"{file}:{n}"
    raise AssertionError("no such line")


@pytest.mark.parametrize("sid", FAILURE_SCENARIOS)
def test_irrelevant_evidence_fails(
    sid: str, bundles: dict[str, Path], truths: dict[str, GroundTruth]
) -> None:
    truth, bundle = truths[sid], bundles[sid]
    title = truth.root_cause
    before = _line_in_window(bundle, truth, inside=False)
    r = _score(bundle, _brain(_hyp(title, 0.9, [before])))
    assert r.reason_codes == ["EVIDENCE_IRRELEVANT"]
    assert r.evidence[0].in_bundle and not r.evidence[0].relevant
    # A line of the root-cause layer inside the window is evidence, pointer or not.
    inside = _line_in_window(bundle, truth, inside=True)
    assert _score(bundle, _brain(_hyp(title, 0.9, [inside]))).pass_fail == "pass"
    # A whole file, or a range wider than 20 lines, never counts (even around a pointer).
    p = truth.evidence[0]
    count = BundleIndex(bundle).line_count(p.file)
    whole = f"{p.file}:1-{count}"
    wide = f"{p.file}:{max(1, p.line - 10)}-{max(1, p.line - 10) + 20}"
    for ref in (whole, wide):
        assert _score(bundle, _brain(_hyp(title, 0.9, [ref]))).reason_codes == [
            "EVIDENCE_IRRELEVANT"
        ], ref
    narrow = f"{p.file}:{max(1, p.line - 5)}-{p.line + 5}"
    assert _score(bundle, _brain(_hyp(title, 0.9, [narrow]))).pass_fail == "pass"


def test_control_keeps_the_old_evidence_rules(bundles: dict[str, Path]) -> None:
    r = _score(bundles["normal_load"], _brain(_hyp("a bad rollout", 0.2, ["ui_events.log:1"])))
    assert r.pass_fail == "pass", r.reason_codes


# ---------------------------------------------------------------------- confidence bounds
def test_confidence_bounds_apply(bundles: dict[str, Path], truths: dict[str, GroundTruth]) -> None:
    # The control's bounds are 0..0.3: a hedge below the threshold but above 0.3 fails.
    control = bundles["normal_load"]
    assert truths["normal_load"].confidence_target_max == 0.3
    hedge = _score(control, _brain(_hyp("a bad rollout", 0.5, [])))
    assert hedge.reason_codes == ["CONFIDENCE_OUT_OF_BOUNDS"]
    assert _score(control, _brain(_hyp("a bad rollout", 0.3, []))).pass_fail == "pass"
    # An incident's bounds are 0.7..1: a lowered threshold does not lower them.
    sid = "pod_oom_restart_loop"
    low = _score(bundles[sid], perfect_report(truths[sid], confidence=0.6), threshold=0.5)
    assert low.reason_codes == ["CONFIDENCE_OUT_OF_BOUNDS"]


# ---------------------------------------------------------------------- ranked metrics
@pytest.mark.parametrize("sid", FAILURE_SCENARIOS)
def test_ranked_metrics_follow_rcaeval(
    sid: str, bundles: dict[str, Path], truths: dict[str, GroundTruth]
) -> None:
    truth, bundle = truths[sid], bundles[sid]
    other = next(o for o in FAILURE_SCENARIOS if o != sid)
    wrong = scenarios.get(other).expect.matching_paraphrases[0]
    best = _score(bundle, perfect_report(truth))
    assert best.ranked is not None
    assert (best.ranked.rank, best.ranked.ac_at_1, best.ranked.avg_at_5) == (1, 1.0, 1.0)
    second = _score(
        bundle, _brain(_hyp(wrong, 0.9, _refs(truth)), _hyp(truth.root_cause, 0.8, _refs(truth)))
    )
    assert second.pass_fail == "fail" and second.reason_codes == ["ROOT_CAUSE_MISMATCH"]
    assert second.ranked is not None
    assert (second.ranked.rank, second.ranked.ac_at_1, second.ranked.ac_at_3) == (2, 0.0, 1.0)
    assert second.ranked.avg_at_5 == 0.8
    # Ties keep the order given: the first of two equal confidences ranks first.
    tie = _score(
        bundle, _brain(_hyp(truth.root_cause, 0.8, _refs(truth)), _hyp(wrong, 0.8, _refs(truth)))
    )
    assert tie.pass_fail == "pass" and tie.ranked is not None and tie.ranked.rank == 1
    fifth = [_hyp(f"{wrong} {i}", 0.9 - i / 100, []) for i in range(5)]
    sixth = _score(bundle, _brain(*fifth, _hyp(truth.root_cause, 0.1, [])))
    assert sixth.ranked is not None and sixth.ranked.rank == 6 and sixth.ranked.avg_at_5 == 0.0
    # The evaluator sees the expected answer.
    assert best.expected.fault_type == truth.fault_type
    assert best.expected.layer == truth.root_cause_layer
    assert _score(bundles["normal_load"], perfect_report(truths["normal_load"])).ranked is None


def test_score_suite_reports_ranked_metrics(committed: dict[str, Path], tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    suite = next(iter(committed.values())).parent
    for bundle in committed.values():
        truth = GroundTruth.model_validate_json((bundle / "ground_truth.json").read_bytes())
        report = perfect_report(truth)
        if truth.incident:  # the right answer second: AC@3, no pass
            report["hypotheses"].insert(0, _hyp(KITCHEN_SINK, 0.99, _refs(truth)))
        (reports / f"{truth.bundle_id}.json").write_text(json.dumps(report))
    results = score_suite(suite, reports)
    incidents = results[results["incident"]]
    assert (incidents["pass_fail"] == "fail").all()
    assert (incidents["ac_at_1"] == 0.0).all() and (incidents["ac_at_3"] == 1.0).all()
    table = scenario_table(results)
    assert table.loc["ALL", "ac_at_3"] == 1.0 and table.loc["ALL", "avg_at_5"] == 0.8
