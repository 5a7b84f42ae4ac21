"""config/suites.yaml and its validation (rca.suites): no Snakemake run needed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from rca.config import ConfigError
from rca.seed.mock_incident_generator import SUITE_AXES, GenerationRequest, bundle_id_for
from rca.seed.scenarios import Scenario, scenario_ids, v0_ids
from rca.suites import (
    INDEX_COLUMNS,
    NOISE_PROFILES,
    SeedRange,
    Suite,
    SuiteRequest,
    SuitesFile,
    load_suites,
    main,
    parse_suites,
)
from tests.workflow.helpers import ROOT, TEST_SUITES, edited, parsed_cli, problems, raw

SUITES = ROOT / "config" / "suites.yaml"


def test_shipped_suites_smoke_and_large() -> None:
    suites = load_suites(SUITES)
    assert suites.names() == ["smoke", "large", "standard", "hard", "telemetry"]

    # The telemetry suite turns every modality on (issue #18).
    from rca.seed.mock_incident_generator import MODALITIES

    telemetry = suites.bundles("telemetry")
    assert {b.request.modalities for b in telemetry} == {",".join(MODALITIES)}
    assert len(telemetry) == len(scenario_ids()) * 4

    # The evaluation suites (issue #16): every scenario x 20 seeds, full windows, their
    # difficulty, and no seed shared between them.
    seeds: dict[str, set[int]] = {}
    for name in ("standard", "hard"):
        bundles = suites.bundles(name)
        assert len(bundles) == len(scenario_ids()) * 20
        assert {b.request.difficulty for b in bundles} == {name}
        assert {b.request.duration_minutes for b in bundles} == {30}
        seeds[name] = {b.request.seed for b in bundles}
    assert not seeds["standard"] & seeds["hard"]

    # `scenarios: all`: every registered scenario, so the sizes follow the registry.
    smoke = suites.bundles("smoke")
    assert len(smoke) == len(scenario_ids()) * 2  # seeds 1 and 2, one noise profile
    assert sorted({b.scenario for b in smoke}) == scenario_ids()
    assert {b.request.seed for b in smoke} == {1, 2}
    assert {b.noise_profile for b in smoke} == {"medium"}

    large = suites.bundles("large")
    assert len(large) == len(scenario_ids()) * 20 * 2  # 20 seeds, two noise profiles
    assert {b.noise_profile for b in large} == {"low", "high"}
    assert {b.request.seed for b in large} == set(range(1, 21))
    # Unique ids within the suite: the second noise profile is a day later.
    assert len({b.bundle_id for b in large}) == len(large)
    anchors = {b.noise_profile: b.request.time_anchor.isoformat() for b in large}
    assert anchors == {"low": "2026-11-26T05:00:00+00:00", "high": "2026-11-27T05:00:00+00:00"}
    for b in large:
        assert b.path == f"results/suites/large/{b.noise_profile}/{b.bundle_id}"
        assert b.bundle_id == bundle_id_for(b.request)
        assert b.request.noise_profile == b.noise_profile
        # Small and quick (see the file's comments): 15 minutes at 0.5 requests/s.
        assert (b.request.duration_minutes, b.request.rps) == (15, 0.5)


def test_test_suite_is_tiny() -> None:
    tiny = load_suites(TEST_SUITES).bundles("tiny")
    assert len(tiny) == 8
    assert {b.request.duration_minutes for b in tiny} == {15}
    assert max(b.request.rps for b in tiny) <= 0.5
    rollout = [b for b in tiny if b.scenario == "bad_api_rollout"]
    assert {b.request.threshold_override for b in rollout} == {0.8}  # scenario_overrides


def test_layers_defaults_request_scenario_overrides() -> None:
    data = {
        "defaults": {"time_anchor": "2026-11-26T05:00:00Z", "duration_minutes": 15, "rps": 2.0},
        "suites": {
            "s": {
                "scenarios": ["normal_load", "bad_api_rollout"],
                "seeds": {"first": 5, "count": 3},
                "noise_profiles": ["high", "low"],
                "request": {"rps": 1.0, "duration_minutes": 20},
                "scenario_overrides": {"bad_api_rollout": {"rps": 0.7}, "normal_load": None},
            }
        },
    }
    bundles = parse_suites(data).bundles("s")
    assert [(b.noise_profile, b.scenario, b.request.seed) for b in bundles][:4] == [
        ("high", "normal_load", 5),
        ("high", "normal_load", 6),
        ("high", "normal_load", 7),
        ("high", "bad_api_rollout", 5),
    ]
    by = {(b.noise_profile, b.scenario, b.request.seed): b.request for b in bundles}
    assert by[("low", "normal_load", 6)].rps == 1.0
    assert by[("low", "bad_api_rollout", 6)].rps == 0.7
    assert {r.duration_minutes for r in by.values()} == {20}
    assert by[("low", "normal_load", 6)].threshold == 0.70  # the generator's default


CASES: list[tuple[tuple[str, ...], dict[str, Any], str]] = [
    ((), {"extra": 1}, "extra: unknown key; allowed keys: defaults, suites"),
    (
        ("suites", "smoke"),
        {"colour": "red"},
        "suites.smoke.colour: unknown key; allowed keys: description, scenarios, seeds, "
        "noise_profiles, request, scenario_overrides",
    ),
    (
        ("suites", "smoke", "request"),
        {"seed": 3},
        "suites.smoke.request.seed: unknown key; allowed keys: "
        + ", ".join(f for f in GenerationRequest.model_fields if f not in SUITE_AXES)
        + " (seed is a suite axis: set suites.<name>.seeds)",
    ),
    (
        ("defaults",),
        {"noise_profile": "low"},
        "defaults.noise_profile: unknown key; allowed keys: time_anchor, duration_minutes,",
    ),
    (
        ("suites", "smoke"),
        {"noise_profiles": ["medium", "loud"]},
        "suites.smoke.noise_profiles: 'loud' is not a noise profile (allowed: low | medium | high)",
    ),
    (("suites", "smoke"), {"noise_profiles": []}, "suites.smoke.noise_profiles: List should"),
    (("suites", "smoke"), {"seeds": [1, 2, 1]}, "suites.smoke.seeds: listed twice: 1"),
    (("suites", "smoke"), {"seeds": []}, "suites.smoke.seeds: no seeds; give a list of seeds"),
    (
        ("suites", "smoke"),
        {"seeds": {"first": 1, "count": 0}},
        "suites.smoke.seeds.count = 0: Input should be greater than or equal to 1",
    ),
    (
        ("suites", "smoke"),
        {"seeds": {"first": 1, "n": 3}},
        "suites.smoke.seeds.n: unknown key; allowed keys: first, count",
    ),
    (
        ("suites", "smoke"),
        {"seeds": [-1]},
        "suites.smoke.seeds = -1: Input should be greater than or equal to 0",
    ),
    (
        ("suites", "smoke"),
        {"scenarios": ["normal_load", "nope"]},
        'suites.smoke.scenarios.1 = "nope": unknown scenario (allowed: all, v0, beyond_v0, or a '
        "list of: bad_api_rollout,",
    ),
    (
        ("suites", "smoke"),
        {"scenarios": ["normal_load", "normal_load"]},
        "suites.smoke.scenarios: listed twice: normal_load",
    ),
    (
        ("suites", "smoke"),
        {"scenarios": ["normal_load"], "scenario_overrides": {"bad_api_rollout": {"rps": 1}}},
        "suites.smoke.scenario_overrides.bad_api_rollout: not a scenario of this suite "
        "(its scenarios: normal_load)",
    ),
    (
        ("defaults",),
        {"duration_minutes": 5},
        "defaults.duration_minutes = 5: Input should be greater than or equal to 15 "
        "(allowed: 15..1440)",
    ),
    (
        ("suites", "smoke", "request"),
        {"threshold": 1.5},
        "suites.smoke.request.threshold = 1.5: Input should be less than or equal to 1 "
        "(allowed: 0.0..1.0)",
    ),
    (
        ("suites", "smoke", "scenario_overrides", "normal_load"),
        {"api_replicas": 99},
        "suites.smoke.scenario_overrides.normal_load.api_replicas = 99: Input should be less "
        "than or equal to 12 (allowed: 2..12)",
    ),
    (
        ("suites", "smoke", "scenario_overrides", "db_connection_pool_exhaustion"),
        {"rps": 0.2},
        "suites.smoke: scenario db_connection_pool_exhaustion, seed 1, noise medium (rps): "
        "rps=0.2: too little traffic for db_connection_pool_exhaustion",
    ),
    (("suites", "smoke"), {"seeds": None}, "suites.smoke.seeds"),
]


@pytest.mark.parametrize(("where", "edit", "expected"), CASES, ids=[c[2][:40] for c in CASES])
def test_bad_keys_are_named_with_their_allowed_values(
    where: tuple[str, ...], edit: dict[str, Any], expected: str
) -> None:
    found = problems(parse_suites, edited(SUITES, where, edit))
    assert any(p.startswith(expected) for p in found), found


def test_bad_suite_name_says_what_is_allowed() -> None:
    found = problems(parse_suites, edited(SUITES, ("suites",), {"Big Suite": {"seeds": [1]}}))
    assert "suite name 'Big Suite': use lowercase letters, digits, '-' and '_'" in found[0]


def test_a_bad_default_is_reported_once_not_per_bundle() -> None:
    found = problems(parse_suites, edited(SUITES, ("defaults",), {"rps": 0}))
    assert found == [
        "defaults.rps = 0: Input should be greater than or equal to 0.000000001 "
        "(allowed: 1e-09..2000.0)"
    ], found


def test_every_problem_is_reported_at_once() -> None:
    data = raw(SUITES)
    data["suites"]["smoke"]["scenarios"] = ["normal_load", "nope"]
    data["suites"]["large"]["request"] = {"api_replicas": 1}
    data["suites"]["large"]["scenario_overrides"] = {"normal_load": {"rps": -1}}
    found = problems(parse_suites, data)
    assert [p.split(":")[0].split(" =")[0] for p in found] == [
        "suites.smoke.scenarios.1",
        "suites.large.request.api_replicas",
        "suites.large.scenario_overrides.normal_load.rps",
    ], found


def test_yaml_is_loaded_safely_and_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "suites.yaml"
    bad.write_text("suites: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        load_suites(bad)
    assert info.value.source == str(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_suites(tmp_path / "missing.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="suites: missing"):
        load_suites(empty)


def test_an_undeclared_suite_names_the_declared_ones() -> None:
    with pytest.raises(ConfigError, match="suite 'nope' is not declared; suites: smoke, large"):
        load_suites(SUITES).bundles("nope")


def test_cli_args_round_trip() -> None:
    for b in load_suites(TEST_SUITES).bundles("tiny"):
        assert parsed_cli(b.cli_args()) == b.request


def test_models_cover_every_request_field_and_the_readme_documents_them() -> None:
    assert set(SuiteRequest.model_fields) == set(GenerationRequest.model_fields) - {
        "scenario",
        "seed",
        "noise_profile",
    }
    assert NOISE_PROFILES == ("low", "medium", "high")
    readme = (ROOT / "config" / "README.md").read_text()
    section = readme.split("# Suites", 1)[1]
    keys = [*SuitesFile.model_fields, *Suite.model_fields, *SeedRange.model_fields]
    for key in keys:
        assert re.search(rf"`(suites\.NAME\.)?{key}`", section), key
    for column in ("bundle_id", "noise_profile", "manifest_sha256", "ui_records"):
        assert column in INDEX_COLUMNS
        assert column in readme or column.startswith("ui_"), column


def test_cli_lists_suites_and_bundles(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(SUITES)]) == 0
    out = capsys.readouterr().out.splitlines()
    n = len(scenario_ids())
    assert out[0].startswith(f"smoke\t{n * 2} bundles\tresults/suites/smoke/")
    assert out[1].startswith(f"large\t{n * 40} bundles\tresults/suites/large/")
    assert main([str(TEST_SUITES), "tiny"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 8
    assert lines[0].startswith("results/suites/tiny/low/mock-")
    assert main(["/nonexistent.yaml"]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_index_command_refuses_unbuilt_bundles_and_bad_usage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    out = ["--csv", "i.csv", "--json", "i.json"]
    assert main(["index", "tiny", *out, "--file", str(TEST_SUITES)]) == 1
    err = capsys.readouterr().err
    assert "error: suite tiny: 8 problem(s)" in err
    assert "  - results/suites/tiny/low/mock-" in err and "not a directory" in err
    assert not (tmp_path / "i.csv").exists()
    assert main(["index", "tiny", "--csv", "i.csv"]) == 2
    assert main(["index", "tiny", *out, "--colour", "red"]) == 2
    assert main(["index", "nope", *out, "--file", str(TEST_SUITES)]) == 2
    assert "suite 'nope' is not declared; suites: tiny" in capsys.readouterr().err


def _selected(selector: str) -> list[str]:
    data = raw(SUITES)
    data["suites"]["smoke"]["scenarios"] = selector
    return sorted({b.scenario for b in parse_suites(data).bundles("smoke")})


def test_registry_selectors_follow_the_v0_declarations() -> None:
    assert _selected("all") == scenario_ids()
    assert _selected("v0") == v0_ids()
    from rca.seed.scenarios.normal_load import NormalLoad

    beyond = [sid for sid in scenario_ids() if sid not in v0_ids()]
    type("BeyondV0", (NormalLoad,), {"id": "beyond_v0_probe", "v0": False})
    try:
        assert _selected("beyond_v0") == sorted([*beyond, "beyond_v0_probe"])
        assert _selected("v0") == v0_ids()
        assert "beyond_v0_probe" in _selected("all")
    finally:
        del Scenario.registry["beyond_v0_probe"]


def test_a_selector_that_selects_nothing_is_an_error() -> None:
    data = raw(SUITES)
    data["suites"]["smoke"]["scenarios"] = "beyond_v0"
    # Only the v0 scenarios registered, for this test (as in v0 itself).
    beyond = {sid: Scenario.registry.pop(sid) for sid in scenario_ids() if sid not in v0_ids()}
    try:
        assert problems(parse_suites, data) == [
            'suites.smoke.scenarios = "beyond_v0": selects no registered scenario '
            f"(registered: {', '.join(v0_ids())})"
        ]
    finally:
        Scenario.registry.update(beyond)
