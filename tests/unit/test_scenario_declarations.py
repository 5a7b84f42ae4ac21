"""A scenario module declares everything about itself, and the registry refuses one that
does not. (The report caption and the generated doc blocks read these declarations:
tests/workflow/test_report.py, tests/specs/test_docs_current.py.)"""

from __future__ import annotations

import pytest

from rca.seed import scenarios
from rca.seed.scenarios import DECLARATIONS, Caption, Expect, Scenario

IDS = scenarios.scenario_ids()


def _complete() -> dict[str, object]:
    """A complete set of declarations, for a throwaway scenario class."""
    return {
        "id": "throwaway_scenario",
        "title": "A throwaway scenario",
        "description": "It exists only in this test",
        "caption": Caption(happens="Nothing.", look_for="Nothing."),
        "v0": False,
        "expect": Expect(
            paraphrase=None, commented_sql=False, probe_failures=False, matching_paraphrases=()
        ),
    }


@pytest.mark.parametrize("missing", list(DECLARATIONS))
def test_a_scenario_missing_a_declaration_is_refused_at_registration(missing: str) -> None:
    body = _complete()
    del body[missing]
    if missing == "id":  # without an id a class is a base, not a scenario: give a wrong type
        body["id"] = 13
    before = dict(Scenario.registry)
    with pytest.raises(TypeError, match=rf"must declare: {missing} \("):
        type("Throwaway", (Scenario,), body)
    assert Scenario.registry == before


@pytest.mark.parametrize("name", ["title", "description"])
@pytest.mark.parametrize("text", ["", "   ", "two\nlines"])
def test_titles_and_descriptions_are_one_line(name: str, text: str) -> None:
    body = {**_complete(), name: text}
    with pytest.raises(TypeError, match=rf"must declare: {name} \(one non-empty line\)"):
        type("Throwaway", (Scenario,), body)
    assert "throwaway_scenario" not in Scenario.registry


def test_the_registry_helpers_read_the_declarations() -> None:
    assert scenarios.v0_ids() == [s for s in IDS if scenarios.get(s).v0]
    assert len(scenarios.v0_ids()) == 5  # v0 shipped five; the fixtures are exactly these
    assert scenarios.incident_ids() == [
        s for s in IDS if scenarios.get(s).label().first_signal is not None
    ]


@pytest.mark.parametrize("sid", IDS)
def test_only_the_negative_control_declares_no_paraphrase(sid: str) -> None:
    # A scenario with an incident declares a report that finds it without the label.
    has_incident = sid in scenarios.incident_ids()
    expect = scenarios.get(sid).expect
    assert (expect.paraphrase is not None) is has_incident
    assert bool(expect.matching_paraphrases) is has_incident
