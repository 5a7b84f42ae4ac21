"""Free-text root-cause matching: every label phrase matches its own label and no other."""

from __future__ import annotations

import pytest

from rca.eval.matching import (
    component_credit,
    is_no_incident,
    is_specific,
    label_phrases,
    match_root_cause,
    phrase_in,
    stem,
)
from rca.seed import scenarios
from rca.seed.mock_incident_generator import GroundTruth
from tests.eval.conftest import FAILURE_SCENARIOS, SCENARIOS


def _phrases(truth: GroundTruth) -> list[str]:
    """Everything a label says about its cause: the sentence, aliases, component, fault."""
    out = [truth.root_cause, *truth.root_cause_aliases, truth.fault_type]
    if truth.root_cause_component:
        out.append(truth.root_cause_component)
    return out


def test_no_cross_matches_between_any_pair_of_scenarios(truths: dict[str, GroundTruth]) -> None:
    collisions = []
    for a in SCENARIOS:
        for b in SCENARIOS:
            if a == b:
                continue
            for phrase in _phrases(truths[b]):
                hit = match_root_cause(phrase, truths[a])
                if hit:
                    collisions.append((a, b, phrase, hit))
    assert collisions == []


@pytest.mark.parametrize("sid", FAILURE_SCENARIOS)
def test_own_sentence_and_aliases_match(sid: str, truths: dict[str, GroundTruth]) -> None:
    truth = truths[sid]
    for phrase in [truth.root_cause, *truth.root_cause_aliases]:
        if not is_specific(phrase):  # a one-word generic alias ("rollout", "oom")
            assert not match_root_cause(phrase, truth), phrase
            continue
        assert match_root_cause(phrase, truth), phrase
        # Case, punctuation and spacing do not matter.
        noisy = "  " + phrase.upper().replace(" ", "-  ") + "!! "
        assert match_root_cause(noisy, truth), noisy


@pytest.mark.parametrize("sid", SCENARIOS)
def test_no_incident_phrases_are_told_apart(sid: str, truths: dict[str, GroundTruth]) -> None:
    truth = truths[sid]
    if truth.incident:
        assert not any(is_no_incident(p) for p in _phrases(truth))
    else:
        assert all(is_no_incident(p) for p in [truth.root_cause, *truth.root_cause_aliases])


UNRELATED = [
    "Network partition between nodes",
    "DNS resolution failure",
    "Traffic spike",
    "High latency in orders-api",
    "orders-api errors",
    "upstream timeout at the mesh",
    "resource exhaustion",
    "5xx errors on web",
]


@pytest.mark.parametrize("sid", FAILURE_SCENARIOS)
def test_paraphrases_match_only_their_scenario(sid: str, truths: dict[str, GroundTruth]) -> None:
    paraphrases = scenarios.get(sid).expect.matching_paraphrases  # declared by the scenario
    assert paraphrases, f"{sid} has an incident but declares no matching_paraphrases"
    for text in paraphrases:
        matched = {a for a in FAILURE_SCENARIOS if match_root_cause(text, truths[a])}
        assert matched == {sid}, text


def test_vague_or_unrelated_answers_match_nothing(truths: dict[str, GroundTruth]) -> None:
    for text in UNRELATED:
        assert not any(match_root_cause(text, t) for t in truths.values()), text


def test_normalisation_rules() -> None:
    assert stem("exhaustion") == stem("exhausted") == "exhaust"
    assert stem("queries") == "query"
    assert phrase_in("null pointer exception", "java.lang.NullPointerException")
    assert phrase_in("NullPointerException", "a null-pointer exception")
    assert phrase_in("out of memory", "OutOfMemoryError")
    assert phrase_in("dropped index", "migration dropped an index")
    assert not phrase_in("oom", "bathroom")
    assert not phrase_in("resource exhaustion", "resource exhaustion")  # generic only


def test_label_phrases_cover_the_label(truths: dict[str, GroundTruth]) -> None:
    truth = truths["pod_oom_restart_loop"]
    kinds = [k for k, _ in label_phrases(truth)]
    assert kinds[0] == "root_cause" and "alias" in kinds
    assert "component" in kinds and "fault_type" in kinds


def test_component_credit(truths: dict[str, GroundTruth]) -> None:
    pool = truths["db_connection_pool_exhaustion"]
    assert component_credit("HikariCP connection pool", pool) == 1.0
    assert component_credit("something in the JVM", pool) == 0.5
    assert component_credit("the network", pool) == 0.0
    assert component_credit("memory leak", truths["pod_oom_restart_loop"]) == 1.0  # fault type
