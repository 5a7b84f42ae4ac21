"""config/scenarios.yaml and its validation (rca.config): no Snakemake run needed."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rca.config import (
    LABEL_ONLY_FIELDS,
    REQUEST_FIELDS,
    RequestFields,
    ScenarioEntry,
    code_inputs,
    fixture_index,
    load_config,
    parse_config,
    request_text,
    write_if_changed,
)
from rca.seed.mock_incident_generator import STREAMS, GenerationRequest
from rca.seed.scenarios import v0_ids
from tests.workflow.helpers import ROOT, TEST_CONFIG, edited, parsed_cli, problems, raw

CONFIG = ROOT / "config" / "scenarios.yaml"


def test_shipped_config_builds_exactly_the_v0_scenarios() -> None:
    # Spec FR-005: the committed fixtures are the five v0 scenarios, whatever else is
    # registered.
    cfg = load_config(CONFIG)
    assert sorted(cfg.scenarios) == v0_ids()
    assert [b.scenario for b in cfg.bundles()] == v0_ids()
    defaults = raw(CONFIG)["defaults"]
    assert defaults["seed"] == 42
    assert defaults["time_anchor"] == "2026-11-26T05:00:00Z"
    assert defaults["threshold"] == 0.70
    # The shipped defaults spell out every request field (no silent library defaults).
    assert set(defaults) == set(REQUEST_FIELDS) - {"threshold_override"}


def test_test_config_lists_every_v0_scenario_and_builds_two() -> None:
    cfg = load_config(TEST_CONFIG)
    assert sorted(cfg.scenarios) == v0_ids()
    assert len(cfg.bundles()) == 2


def test_config_keys_are_exactly_the_request_fields() -> None:
    # RequestFields derives from GenerationRequest (rca/config.py); each key must still be
    # documented in config/README.md.
    assert set(RequestFields.model_fields) == set(GenerationRequest.model_fields) - {"scenario"}
    assert set(ScenarioEntry.model_fields) == {*REQUEST_FIELDS, "enabled"}
    readme = (ROOT / "config" / "README.md").read_text()
    for key in (*REQUEST_FIELDS, "enabled", "defaults", "scenarios"):
        assert f"`{key}`" in readme, key


@pytest.mark.parametrize(
    ("where", "edit", "expected"),
    [
        (("scenarios",), {"nope": {}}, "scenarios.nope: unknown scenario; allowed here: "),
        (
            ("scenarios", "slow_query_regression"),
            {"threshold": 1.5},
            "scenarios.slow_query_regression.threshold = 1.5: Input should be less than or "
            "equal to 1 (allowed: 0.0..1.0)",
        ),
        (
            ("defaults",),
            {"duration_minutes": 5},
            "defaults.duration_minutes = 5: Input should be greater than or equal to 15 "
            "(allowed: 15..1440)",
        ),
        (
            ("scenarios", "normal_load"),
            {"treshold": 0.8},
            "scenarios.normal_load.treshold: unknown key; allowed keys: enabled, seed,",
        ),
        ((), {"extra": 1}, "extra: unknown key; allowed keys: defaults, scenarios"),
        (("defaults",), {"colour": "red"}, "defaults.colour: unknown key; allowed keys: seed,"),
        (
            ("scenarios", "normal_load"),
            {"noise_profile": "loud"},
            "scenarios.normal_load.noise_profile = \"loud\": Input should be 'low', 'medium' "
            "or 'high'",
        ),
        (
            ("scenarios", "bad_api_rollout"),
            {"threshold_override": 2},
            "scenarios.bad_api_rollout.threshold_override = 2: Input should be less than or "
            "equal to 1 (allowed: 0.0..1.0 or null)",
        ),
        (
            ("defaults",),
            {"time_anchor": "2026-11-26T05:00:00"},
            'defaults.time_anchor = "2026-11-26T05:00:00": must carry a UTC offset',
        ),
        (
            ("scenarios", "normal_load"),
            {"enabled": "maybe"},
            'scenarios.normal_load.enabled = "maybe": Input should be a valid boolean',
        ),
    ],
)
def test_bad_keys_are_named_with_their_allowed_values(
    where: tuple[str, ...], edit: dict[str, Any], expected: str
) -> None:
    found = problems(parse_config, edited(CONFIG, where, edit))
    assert len(found) == 1, found
    assert found[0].startswith(expected), found[0]


def test_a_missing_scenario_is_an_error() -> None:
    data = raw(CONFIG)
    del data["scenarios"]["pod_oom_restart_loop"]
    assert problems(parse_config, data) == [
        "scenarios: no entry for pod_oom_restart_loop; every v0 scenario needs one "
        "(`enabled: false` lists it without building it)"
    ]


def test_every_problem_is_reported_at_once() -> None:
    data = raw(CONFIG)
    data["scenarios"]["normal_load"] = {"rps": 0, "api_replicas": 99}
    data["scenarios"]["nope"] = None
    found = problems(parse_config, data)
    assert [p.split(":")[0].split(" =")[0] for p in found] == [
        "scenarios.nope",
        "scenarios.normal_load.rps",
        "scenarios.normal_load.api_replicas",
    ]


def test_overrides_and_empty_entries() -> None:
    data = raw(CONFIG)
    data["scenarios"]["normal_load"] = None  # `normal_load:` with nothing after it
    data["scenarios"]["bad_api_rollout"] = {"threshold_override": 0.9, "rps": 1.0}
    data["scenarios"]["slow_query_regression"] = {"enabled": False}
    cfg = parse_config(data)
    requests = cfg.requests()
    assert requests["normal_load"].rps == 1.5
    assert requests["bad_api_rollout"].rps == 1.0
    assert requests["bad_api_rollout"].threshold_override == 0.9
    assert "slow_query_regression" not in {b.scenario for b in cfg.bundles()}


def test_cli_args_round_trip_and_streams_leave_out_the_thresholds() -> None:
    data = raw(CONFIG)
    data["scenarios"]["bad_api_rollout"] = {"threshold": 0.8, "threshold_override": 0.9}
    for b in parse_config(data).bundles():
        assert parsed_cli(b.cli_args(label_fields=True)) == b.request
        stream_args = b.cli_args(label_fields=False)
        assert not any(f"--{f.replace('_', '-')}" in stream_args for f in LABEL_ONLY_FIELDS)
        without = b.request.model_dump(exclude=set(LABEL_ONLY_FIELDS))
        assert parsed_cli(stream_args).model_dump(exclude=set(LABEL_ONLY_FIELDS)) == without


def test_stream_jobs_depend_on_their_own_renderer_and_scenario_only() -> None:
    for stream in STREAMS:
        files = code_inputs("slow_query_regression", stream)
        renderers = {Path(f).stem for f in files if Path(f).parent.name == "renderers"}
        # Its own renderer and the shared private helpers (_base, _logback, ...), never
        # another stream's renderer: editing one renderer re-runs that stream's jobs only.
        assert {"__init__", "_base", stream} <= renderers
        assert not renderers & (set(STREAMS) - {stream})
        assert all(r == stream or r.startswith("_") for r in renderers)
        scenario_modules = {Path(f).stem for f in files if Path(f).parent.name == "scenarios"}
        # The scenario's own module and the shared private helpers, never another scenario.
        assert {"__init__", "_base"} <= scenario_modules
        assert {m for m in scenario_modules if not m.startswith("_")} == {"slow_query_regression"}
        assert not any(f.endswith("_labels.py") for f in files)
        assert all((ROOT / f).is_file() for f in files)
    label_code = code_inputs("slow_query_regression")
    assert {Path(f).stem for f in label_code if Path(f).parent.name == "renderers"} >= set(STREAMS)
    assert any(f.endswith("_labels.py") for f in label_code)
    assert not any(f.endswith("normal_load.py") for f in label_code)
    # The doc generator writes Markdown, never a bundle byte: editing it re-runs no job.
    assert not any(f.endswith("seed/docs.py") for f in (*label_code, *files))


def test_fixture_index_lists_only_identity_fields() -> None:
    bundles = load_config(CONFIG).bundles()
    doc = yaml.safe_load(fixture_index(bundles, "tests/fixtures/mock_incidents"))
    for b in bundles:
        assert doc["bundles"][b.bundle_id] == {
            "scenario": b.scenario,
            "seed": 42,
            "time_anchor": "2026-11-26T05:00:00Z",
            "path": f"tests/fixtures/mock_incidents/{b.bundle_id}",
        }
    # A threshold is part of the request, so of every id; the identity fields stay.
    changed = copy.deepcopy(raw(CONFIG))
    changed["defaults"]["threshold"] = 0.9
    other = yaml.safe_load(fixture_index(parse_config(changed).bundles(), "x"))["bundles"]
    assert set(other).isdisjoint(doc["bundles"])
    assert sorted((e["scenario"], e["seed"], e["time_anchor"]) for e in other.values()) == sorted(
        (e["scenario"], e["seed"], e["time_anchor"]) for e in doc["bundles"].values()
    )


def test_request_files_change_only_with_the_request_and_never_follow_a_link(
    tmp_path: Path,
) -> None:
    # The workflow's request files (results/requests/) drive rebuilds by mtime: rewriting
    # an unchanged one would re-run its jobs, skipping a changed one would miss an edit.
    bundle = load_config(TEST_CONFIG).bundles()[0]
    path = tmp_path / "requests" / bundle.bundle_id / "bundle.json"
    assert write_if_changed(path, request_text(bundle, label_fields=True))
    mtime = path.stat().st_mtime_ns
    assert not write_if_changed(path, request_text(bundle, label_fields=True))
    assert path.stat().st_mtime_ns == mtime
    streams = request_text(bundle, label_fields=False)
    assert not any(f'"{f}"' in streams for f in LABEL_ONLY_FIELDS)
    assert '"rps"' in streams and '"threshold"' in request_text(bundle, label_fields=True)

    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    path.unlink()
    path.symlink_to(victim)
    assert write_if_changed(path, "new\n")
    assert victim.read_text() == "precious\n"
    assert not path.is_symlink() and path.read_text() == "new\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["bundle.json"]  # no temp left


@pytest.fixture
def beyond_v0_scenario() -> Iterator[str]:
    """A scenario registered beyond v0 for one test (a copy of normal_load's physics)."""
    from rca.seed.scenarios import Scenario
    from rca.seed.scenarios.normal_load import NormalLoad

    type("BeyondV0", (NormalLoad,), {"id": "beyond_v0_probe", "v0": False})
    try:
        yield "beyond_v0_probe"
    finally:
        del Scenario.registry["beyond_v0_probe"]


def test_a_scenario_beyond_v0_needs_no_entry_and_gets_none(beyond_v0_scenario: str) -> None:
    # Registering a scenario leaves the fixture config valid and its bundles unchanged:
    # the committed fixtures stay the v0 set (spec FR-005).
    assert [b.scenario for b in load_config(CONFIG).bundles()] == v0_ids()
    data = raw(CONFIG)
    data["scenarios"][beyond_v0_scenario] = {}
    assert problems(parse_config, data) == [
        f"scenarios.{beyond_v0_scenario}: a scenario beyond v0 is built by suites "
        f"(config/suites.yaml), never as a committed fixture; allowed here: {', '.join(v0_ids())}"
    ]
