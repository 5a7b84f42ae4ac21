"""Red herrings (rca/seed/distractors): each one forced into a bundle shows in its own
stream, in a format the real parsers read, is listed by the label, and leaves the
label's answer alone; across seeds every herring comes, every scenario gets some, and at
"hard" every family's signature shows outside its own scenario.

Until the request carries a difficulty (issue #16, another helper's part), these tests
set it through ``_pipeline._difficulty``; everything else runs as generation does.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The signature-grep brain's one regex per fault family (issue #16).
from rca.eval.baselines import SIGNATURES
from rca.seed import _pipeline, distractors, scenarios
from rca.seed._labels import build_ground_truth
from rca.seed._models import (
    STREAM_FILES,
    FieldRole,
    GenerationRequest,
    GroundTruth,
    field_example,
    field_role,
)
from rca.seed._validate import validate_bundle
from rca.seed.distractors import Chance, Distractor
from rca.seed.mock_incident_generator import generate_bundle
from tests.integration.logs import parse_rfc3339
from tests.realtools import (
    count_pg_entries,
    klog_bad_lines,
    missing_tools,
    pgbadger_parse,
    validate_mesh_jsonl,
)

ANCHOR = "2026-11-26T05:00:00Z"

# What a herring imitating a family adds more of: the family's grep, or its trigger.
LOOKALIKE = {
    **{fam: pattern for fam, (_file, pattern) in SIGNATURES.items()},
    "bad_deployment": re.compile(r'java\.lang\.NullPointerException|reason="ScalingReplicaSet"'),
}


def _request(scenario: str, seed: int) -> GenerationRequest:
    return GenerationRequest.model_validate(
        {
            "scenario": scenario,
            "seed": seed,
            "time_anchor": ANCHOR,
            "duration_minutes": 30,
            "rps": 2.5,
        }
    )


@pytest.fixture
def difficulty(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set the difficulty every plan of this test gets."""

    def set_to(value: str) -> None:
        monkeypatch.setattr(_pipeline, "_difficulty", lambda _req: value)

    yield set_to


def _only(monkeypatch: pytest.MonkeyPatch, distractor_id: str | None) -> None:
    """Make ``distractor_id`` come in every "hard" bundle it may join, and no other."""
    for cls in Distractor.registry.values():
        chance = Chance(hard=1.0) if cls.id == distractor_id else Chance()
        monkeypatch.setattr(cls, "probability", chance)


def _eligible_scenarios(distractor_id: str) -> list[str]:
    d = distractors.get(distractor_id)
    return [
        s for s in scenarios.scenario_ids() if distractors.eligible(d, scenarios.get(s).label())
    ]


def _truth(req: GenerationRequest) -> tuple[_pipeline.PassResult, GroundTruth]:
    result = _pipeline.run_pass(req, list(STREAM_FILES))
    return result, build_ground_truth(req, result)


def _keys(result: _pipeline.PassResult) -> set[str]:
    """The signal keys a pass wrote, but noise: a herring that bends the simulation
    moves which benign noise lines come (a duplicate-key retry), which is no symptom."""
    return {k for s in result.streams.values() for k in s.signals if not k.startswith("noise.")}


def test_every_herring_declares_itself() -> None:
    ids = distractors.distractor_ids()
    assert ids, "no red herring registered"
    families = {scenarios.get(s).label().fault_type for s in scenarios.scenario_ids()}
    for distractor_id in ids:
        d = distractors.get(distractor_id)
        assert d.imitates in families | {""}, (distractor_id, d.imitates)
        assert d.probability.at("easy") == 0.0  # "easy" is today's bundles: no herring
        assert 0 < d.probability.at("standard") < d.probability.at("hard")
        assert d.signal_keys[0] == distractors.signal_key(distractor_id)
    # Every family but "none" has a herring that imitates it.
    assert families - {"none"} <= {distractors.get(i).imitates for i in ids}


def test_a_herring_missing_a_declaration_is_refused() -> None:
    with pytest.raises(TypeError, match="why_not_root_cause"):
        type(
            "Half",
            (Distractor,),
            {
                "id": "half",
                "title": "t",
                "imitates": "",
                "probability": Chance(hard=0.5),
                "signal_keys": ("distractor.half",),
            },
        )
    assert "half" not in Distractor.registry
    with pytest.raises(ValueError, match=r"allowed 0\.\.1"):
        Chance(hard=1.5)
    with pytest.raises(ValueError, match="difficulty='brutal'"):
        Chance().at("brutal")


@pytest.mark.parametrize("distractor_id", distractors.distractor_ids())
def test_a_forced_herring_shows_is_listed_and_changes_no_answer(
    distractor_id: str,
    difficulty: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    d = distractors.get(distractor_id)
    key = distractors.signal_key(distractor_id)
    difficulty("hard")
    joins = _eligible_scenarios(distractor_id)
    assert "normal_load" in joins
    # The negative control, and an incident it may join.
    for scenario in ["normal_load", *[s for s in joins if s != "normal_load"][:1]]:
        req = _request(scenario, 7)
        _only(monkeypatch, None)
        plain, plain_truth = _truth(req)
        _only(monkeypatch, distractor_id)
        result, truth = _truth(req)

        listed = [x for x in truth.distractors if x.pointer.signal == key]
        assert len(listed) == 1, f"{distractor_id} not listed in {scenario}"
        assert listed[0].why_not_root_cause == d.why_not_root_cause
        # Only the keys it declares are new (the label's eligibility rests on it).
        assert _keys(result) - _keys(plain) <= set(d.signal_keys), _keys(result) - _keys(plain)
        # The answer is the scenario's: same root cause, first signal, chain lines.
        assert truth.root_cause == plain_truth.root_cause
        assert truth.fault_type == plain_truth.fault_type

        def answer(t: GroundTruth) -> list[tuple[str, str, str]]:
            out: list[tuple[str, str, str]] = (
                []
                if t.first_signal is None
                else [(t.first_signal.signal, t.first_signal.excerpt, t.first_signal.at or "")]
            )
            return out + [
                (p.signal, p.excerpt, p.at or "") for s in t.causal_chain for p in s.evidence
            ]

        if d.signal_keys == (key,):  # facts only: not one line of the answer moves
            assert answer(truth) == answer(plain_truth)
        else:  # it bends the simulation: streams draw their details anew, same story
            assert [a[0] for a in answer(truth)] == [a[0] for a in answer(plain_truth)]
            if truth.first_signal is not None and plain_truth.first_signal is not None:
                moved = abs(
                    (
                        parse_rfc3339(truth.first_signal.at or "")
                        - parse_rfc3339(plain_truth.first_signal.at or "")
                    ).total_seconds()
                )
                assert moved < 60, moved

        # The bundle on disk: its pointer quotes the line, it validates, parsers read it.
        bundle = generate_bundle(req, tmp_path / scenario)
        pointer = listed[0].pointer
        lines = (bundle / pointer.file).read_text(encoding="utf-8").splitlines()
        assert lines[pointer.line - 1] == pointer.excerpt
        assert validate_bundle(bundle) == []
        assert klog_bad_lines(bundle / "k8s_events.log") == []
        assert validate_mesh_jsonl(bundle / "mesh_events.jsonl") == []
        if pointer.file == "db_events.log" and not missing_tools(["pgbadger"]):
            parsed = pgbadger_parse(bundle / "db_events.log")
            assert parsed.recognised_entries == count_pg_entries(bundle / "db_events.log").entries
            assert parsed.sessions == (bundle / "db_events.log").read_text().count(
                "LOG:  disconnection: "
            )
        # It looks like its family: more lines match the family's pattern than without it
        # (the blip's size follows the traffic, so it is checked over seeds, below).
        if d.imitates and d.signal_keys == (key,):
            pattern = LOOKALIKE[d.imitates]
            text = "\n".join(
                (bundle / f).read_text(encoding="utf-8") for f in STREAM_FILES.values()
            )
            _only(monkeypatch, None)
            bare = generate_bundle(req, tmp_path / f"{scenario}-bare")
            bare_text = "\n".join(
                (bare / f).read_text(encoding="utf-8") for f in STREAM_FILES.values()
            )
            assert len(pattern.findall(text)) > len(pattern.findall(bare_text)), (
                f"{distractor_id} does not look like {d.imitates}"
            )


def _fired(req: GenerationRequest) -> set[str]:
    """The herrings planned into ``req``'s bundle (their facts carry their own key)."""
    _stack, plan = _pipeline.plan_for(req)
    keys = {k for f in plan.facts for k in f.data.get("signals", ())}
    return {i for i in distractors.distractor_ids() if distractors.signal_key(i) in keys}


@pytest.mark.parametrize("level", ["standard", "hard"])
def test_every_herring_comes_and_every_scenario_gets_some(level: str, difficulty: Any) -> None:
    difficulty(level)
    seeds = range(1, 21)
    seen: set[str] = set()
    counts: dict[str, list[int]] = {}
    for scenario in scenarios.scenario_ids():
        per_seed = [_fired(_request(scenario, seed)) for seed in seeds]
        counts[scenario] = [len(f) for f in per_seed]
        seen |= set().union(*per_seed)
        # Most bundles get at least one herring, normal_load included.
        assert sum(1 for f in per_seed if f) >= len(seeds) * 0.7, (scenario, counts[scenario])
    assert seen == set(distractors.distractor_ids())
    mean = sum(sum(c) for c in counts.values()) / sum(len(c) for c in counts.values())
    assert (1.0 <= mean <= 3.5) if level == "standard" else mean >= 3.5, (level, mean)


def test_easy_has_no_herring(difficulty: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    difficulty("easy")
    for scenario in scenarios.scenario_ids():
        req = _request(scenario, 3)
        result, truth = _truth(req)
        assert not any(x.pointer.signal.startswith("distractor.") for x in truth.distractors)
        # The same bytes as a world without herrings at all.
        monkeypatch.setattr(Distractor, "registry", {})
        monkeypatch.setattr(distractors, "_loaded", True)
        bare = _pipeline.run_pass(req, list(STREAM_FILES))
        monkeypatch.undo()
        difficulty("easy")
        assert {s: r.sha256 for s, r in result.streams.items()} == {
            s: r.sha256 for s, r in bare.streams.items()
        }


def test_signatures_show_outside_their_scenario_at_hard(difficulty: Any, tmp_path: Path) -> None:
    """The cross-table of issue #16 in small: which family's signature appears in which
    scenario's bundles. At "hard" every family's shows outside its own scenario."""
    difficulty("hard")
    family = {s: scenarios.get(s).label().fault_type for s in scenarios.scenario_ids()}
    table: dict[str, dict[str, int]] = {f: {} for f in SIGNATURES}
    seeds = range(1, 9)
    for scenario in scenarios.scenario_ids():
        for seed in seeds:
            bundle = generate_bundle(_request(scenario, seed), tmp_path / f"{scenario}-{seed}")
            for fam, (file, pattern) in SIGNATURES.items():
                if pattern.search((bundle / file).read_text(encoding="utf-8")):
                    table[fam][scenario] = table[fam].get(scenario, 0) + 1
    print("\nfamily signature -> bundles per scenario (of", len(seeds), "):")
    for fam, row in table.items():
        print(f"  {fam:20s}", {s: row.get(s, 0) for s in scenarios.scenario_ids()})
    for fam, row in table.items():
        outside = {s: n for s, n in row.items() if family[s] != fam}
        assert outside, f"{fam}'s signature shows only in its own scenario: {row}"
        assert row.get("normal_load", 0) > 0, f"normal_load never shows {fam}'s signature"


def test_herrings_are_deterministic_on_both_engines(
    difficulty: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    difficulty("hard")
    for cls in Distractor.registry.values():
        monkeypatch.setattr(cls, "probability", Chance(hard=1.0))
    req = _request("normal_load", 11)
    shas: dict[str, list[dict[str, str]]] = {}
    for engine in ("python", "native", "native"):
        monkeypatch.setenv("RCA_SIM_ENGINE", engine)
        result = _pipeline.run_pass(req, list(STREAM_FILES))
        shas[engine] = [*shas.get(engine, []), {s: r.sha256 for s, r in result.streams.items()}]
    assert shas["native"][0] == shas["native"][1] == shas["python"][0]


def test_with_every_herring_the_first_signal_is_still_the_scenarios(
    difficulty: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All herrings forced ("hard": many before the onset), in every incident scenario:
    the label's first signal is the incident's own line, not a look-alike's."""
    difficulty("hard")
    for scenario in scenarios.incident_ids():
        for seed in (1, 2, 3):
            req = _request(scenario, seed)
            _only(monkeypatch, None)
            _plain, plain = _truth(req)
            for cls in Distractor.registry.values():
                monkeypatch.setattr(cls, "probability", Chance(hard=1.0))
            _result, truth = _truth(req)
            assert truth.first_signal is not None and plain.first_signal is not None
            assert truth.first_signal.signal == plain.first_signal.signal
            moved = (
                parse_rfc3339(truth.first_signal.at or "")
                - parse_rfc3339(plain.first_signal.at or "")
            ).total_seconds()
            assert abs(moved) < 60, (scenario, seed, moved)
            herring_lines = {
                (x.pointer.file, x.pointer.line)
                for x in truth.distractors
                if x.pointer.signal.startswith("distractor.")
            }
            assert (truth.first_signal.file, truth.first_signal.line) not in herring_lines


def test_label_only_fields_leave_the_herrings_alone(difficulty: Any) -> None:
    """Each stream file is generated on its own, and a label-only field (a threshold)
    must not change one byte of it: herrings are keyed by the stream fields alone."""
    difficulty("hard")
    base = _request("normal_load", 5)
    reference = {
        s: r.sha256 for s, r in _pipeline.run_pass(base, list(STREAM_FILES)).streams.items()
    }
    label_only = [n for n in GenerationRequest.model_fields if field_role(n) is FieldRole.LABEL]
    assert label_only
    for name in label_only:
        req = base.model_copy(update={name: field_example(name)})
        assert req != base
        again = {
            s: r.sha256 for s, r in _pipeline.run_pass(req, list(STREAM_FILES)).streams.items()
        }
        assert again == reference, name


def test_a_pool_blip_mostly_brings_hikari_timeouts_and_only_its_keys(
    difficulty: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over seeds: the blip adds HikariCP timeouts to most bundles at the default rate,
    within seconds of its ALTER, and never a key it does not declare."""
    d = distractors.get("pool_blip")
    timeout = SIGNATURES["resource_exhaustion"][1]
    for level in ("standard", "hard"):
        difficulty(level)
        with_timeouts = 0
        seeds = range(1, 21)
        for seed in seeds:
            req = _request("normal_load", seed)
            _only(monkeypatch, None)
            plain = _pipeline.run_pass(req, list(STREAM_FILES))
            for cls in Distractor.registry.values():
                chance = Chance(standard=1.0, hard=1.0) if cls.id == d.id else Chance()
                monkeypatch.setattr(cls, "probability", chance)
            out = {s: io.BytesIO() for s in STREAM_FILES}
            result = _pipeline.run_pass(req, list(STREAM_FILES), out)
            assert _keys(result) - _keys(plain) <= set(d.signal_keys), (level, seed)
            api = out["api"].getvalue().decode()
            if timeout.search(api):
                with_timeouts += 1
                alter = result.streams["db"].signals[distractors.signal_key(d.id)].t_us
                last = result.streams["api"].signals["api.hikari_timeout"].last_t_us
                assert 0 < last - alter < 90_000_000, (level, seed)
        assert with_timeouts >= len(seeds) * (0.3 if level == "standard" else 0.6), (
            level,
            with_timeouts,
        )
