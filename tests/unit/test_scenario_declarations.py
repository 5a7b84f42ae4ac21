"""A scenario module declares everything about itself; the registry refuses one that
does not, and the places that still keep a copy agree with the declarations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rca.seed import scenarios
from rca.seed.scenarios import DECLARATIONS, Caption, Expect, Scenario

ROOT = Path(__file__).resolve().parents[2]
CAPTIONS = ROOT / "workflow" / "report" / "plot_bundle.rst"
IDS = scenarios.scenario_ids()


def _complete() -> dict[str, object]:
    """A complete set of declarations, for a throwaway scenario class."""
    return {
        "id": "throwaway_scenario",
        "title": "A throwaway scenario",
        "description": "It exists only in this test",
        "caption": Caption(happens="Nothing.", look_for="Nothing."),
        "v0": False,
        "expect": Expect(paraphrase=None, commented_sql=False, probe_failures=False),
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
    assert (scenarios.get(sid).expect.paraphrase is not None) is has_incident


def _words(text: str) -> str:
    return " ".join(text.split())


def _rst_captions() -> dict[str, str]:
    """Scenario id -> its branch of the report caption's Jinja if/elif chain."""
    text = CAPTIONS.read_text(encoding="utf-8")
    branch = re.compile(
        r'\{% (?:el)?if snakemake\.params\.scenario == "(\w+)" %\}\n(.*?)(?=\{% (?:elif|else))',
        re.S,
    )
    return {sid: _words(body) for sid, body in branch.findall(text)}


def test_the_report_captions_are_the_declared_ones() -> None:
    # Until the report reads the caption from the registry (#13 B2), the copy in
    # plot_bundle.rst must say what the module declares, for every scenario and no other.
    found = _rst_captions()
    assert sorted(found) == IDS
    for sid in IDS:
        caption = scenarios.get(sid).caption
        expected = f"**What happens.** {caption.happens} **What to look for.** {caption.look_for}"
        assert found[sid] == _words(expected), sid
