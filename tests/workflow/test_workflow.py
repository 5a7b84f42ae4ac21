"""The Snakemake workflow end to end, on the tiny test config in a scratch workspace."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TypedDict

import pytest
import yaml

from rca.seed.mock_incident_generator import (
    GROUND_TRUTH_FILE,
    MANIFEST_FILE,
    STREAM_FILES,
    validate,
)
from tests.workflow.helpers import (
    FIXTURES,
    ROOT,
    TEST_CONFIG,
    edited,
    planned_jobs,
    snakemake,
    snapshot,
)

pytestmark = pytest.mark.workflow

BUNDLE_FILES = {*STREAM_FILES.values(), GROUND_TRUTH_FILE, MANIFEST_FILE}


class IndexEntry(TypedDict):
    """One bundle of the fixture index (`rca.config.fixture_index`)."""

    scenario: str
    seed: int
    time_anchor: str
    path: str


def index(ws: Path) -> dict[str, IndexEntry]:
    doc = json.loads((ws / FIXTURES / "index.json").read_text())
    bundles: dict[str, IndexEntry] = doc["bundles"]
    return bundles


def bundle_of(ws: Path, scenario: str) -> str:
    return next(b for b, e in index(ws).items() if e["scenario"] == scenario)


def edit_config(ws: Path, where: tuple[str, ...], edit: dict[str, object]) -> None:
    """Merge ``edit`` into the mapping at ``where`` in the workspace's config."""
    path = ws / "config" / "scenarios.yaml"
    path.write_text(yaml.safe_dump(edited(path, where, edit), sort_keys=False))


def test_all_builds_the_enabled_bundles_and_they_validate(built: Path) -> None:
    entries = index(built)
    assert sorted(e["scenario"] for e in entries.values()) == ["bad_api_rollout", "normal_load"]
    for bundle_id, entry in entries.items():
        path = built / str(entry["path"])
        assert path == built / FIXTURES / bundle_id
        assert {p.name for p in path.iterdir()} == BUNDLE_FILES
        assert validate(path) == []
        manifest = json.loads((path / MANIFEST_FILE).read_text())
        assert manifest["request"]["rps"] == 0.5
        assert manifest["request"]["duration_minutes"] == 15
        assert manifest["request"]["seed"] == entry["seed"] == 7


def test_nothing_to_do_when_nothing_changed(built: Path) -> None:
    res = snakemake(built, "-n")
    assert res.returncode == 0, res.stdout
    assert "Nothing to be done" in res.stdout
    assert planned_jobs(built) == []


def test_a_threshold_edit_builds_that_bundle_under_a_new_id(workspace: Path) -> None:
    """The id covers the whole request (issue 17 item 10), so an edited threshold is a new
    bundle that replaces the old one, never a half-rewritten old one."""
    old = bundle_of(workspace, "normal_load")
    untouched = {b: snapshot(workspace / FIXTURES / b) for b in index(workspace) if b != old}
    old_streams = {n: (workspace / FIXTURES / old / n).read_bytes() for n in STREAM_FILES.values()}
    edit_config(workspace, ("scenarios", "normal_load"), {"threshold": 0.85})

    planned = planned_jobs(workspace)
    new = {Path(out).parent.name for rule, out in planned if rule == "write_manifest"}
    assert len(new) == 1 and old not in new
    (bundle,) = new
    assert sorted(planned) == sorted(
        [
            ("all", ""),
            *[("generate_stream", f"{FIXTURES}/{bundle}/{n}") for n in STREAM_FILES.values()],
            ("plot_bundle", f"results/plots/{bundle}.png"),
            ("write_ground_truth", f"{FIXTURES}/{bundle}/{GROUND_TRUTH_FILE}"),
            ("write_index", f"{FIXTURES}/index.json"),
            ("write_manifest", f"{FIXTURES}/{bundle}/{MANIFEST_FILE}"),
        ]
    )

    res = snakemake(workspace, "--cores", "2", "all")
    assert res.returncode == 0, res.stdout
    assert bundle_of(workspace, "normal_load") == bundle
    truth = json.loads((workspace / FIXTURES / bundle / GROUND_TRUTH_FILE).read_text())
    assert truth["threshold_default"] == 0.85
    assert validate(workspace / FIXTURES / bundle) == []
    for name in STREAM_FILES.values():  # the threshold reaches only the label
        assert (workspace / FIXTURES / bundle / name).read_bytes() == old_streams[name], name
    # The superseded bundle is gone (the index job removes it); no other was touched.
    assert not (workspace / FIXTURES / old).exists()
    assert f"removed {FIXTURES}/{old}/" in res.stdout
    assert {b: snapshot(workspace / FIXTURES / b) for b in untouched} == untouched
    assert planned_jobs(workspace) == []


# case -> (edit, where it is merged in the config, what the error must say)
BROKEN: dict[str, tuple[dict[str, object], tuple[str, ...], list[str]]] = {
    "unknown scenario": (
        {"no_such_scenario": {}},
        ("scenarios",),
        ["scenarios.no_such_scenario: unknown scenario", "normal_load"],
    ),
    "threshold 1.5": (
        {"threshold": 1.5},
        ("scenarios", "bad_api_rollout"),
        ["scenarios.bad_api_rollout.threshold = 1.5", "allowed: 0.0..1.0"],
    ),
    "duration 5": (
        {"duration_minutes": 5},
        ("defaults",),
        ["defaults.duration_minutes = 5", "allowed: 15..1440"],
    ),
    "unknown key": (
        {"treshold": 0.8},
        ("scenarios", "normal_load"),
        ["scenarios.normal_load.treshold: unknown key", "threshold_override"],
    ),
    # Issue 17 item 7: these passed the check, then failed inside a job, half-written.
    "rps below the scenario's minimum": (
        {"rps": 0.05},
        ("scenarios", "bad_api_rollout"),
        ["scenarios.bad_api_rollout.rps: rps=0.05: too little traffic", "allowed: 0.488.."],
    ),
    "anchor in year 999": (
        {"time_anchor": "0999-06-01T00:00:00Z"},
        ("defaults",),
        ["defaults.time_anchor: time_anchor=0999-06-01T00:00:00Z", "allowed: 1970-01-01"],
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_config_fails_before_any_job_naming_the_key(workspace: Path, case: str) -> None:
    edit, where, expected = BROKEN[case]
    edit_config(workspace, where, edit)
    before = snapshot(workspace / FIXTURES)

    res = snakemake(workspace, "--cores", "2", "all")

    assert res.returncode != 0
    assert "invalid workflow configuration" in res.stdout
    for text in expected:
        assert text in res.stdout, res.stdout
    assert not re.search(r"^(local)?rule ", res.stdout, re.MULTILINE), "a job ran"
    assert snapshot(workspace / FIXTURES) == before


def test_determinism_check_fails_on_a_hand_edit_then_passes(workspace: Path) -> None:
    bundle = bundle_of(workspace, "bad_api_rollout")
    stream = workspace / FIXTURES / bundle / STREAM_FILES["api"]
    original = stream.read_bytes()
    lines = original.split(b"\n")
    lines[9] = lines[9][:40] + b" edited by hand"
    stream.write_bytes(b"\n".join(lines))

    res = snakemake(workspace, "--cores", "2", "determinism_check")
    assert res.returncode != 0
    report = (workspace / "results" / "determinism" / "report.txt").read_text()
    assert report.startswith("determinism_check: FAILED (1 difference)")
    first = report.split("first difference:\n", 1)[1].splitlines()[0].strip()
    assert first.startswith(f"{FIXTURES}/{bundle}/{STREAM_FILES['api']}:10: ")
    assert first.endswith("(line 10, column 41)")
    assert "edited by hand" in report
    assert f"{FIXTURES}/{bundle}/{STREAM_FILES['api']}:10" in res.stdout  # shown in the run too

    stream.write_bytes(original)
    res = snakemake(workspace, "--cores", "2", "determinism_check")
    assert res.returncode == 0, res.stdout
    report = (workspace / "results" / "determinism" / "report.txt").read_text()
    assert report.startswith("determinism_check: OK")
    assert not (workspace / "results" / "determinism" / "run1").exists()  # scratch removed


def test_determinism_check_reports_a_stale_bundle_and_a_stray_file_and_keeps_the_runs(
    workspace: Path,
) -> None:
    # A committed bundle the configuration no longer produces (e.g. a scenario since
    # disabled), and a file no rule writes inside a bundle it does produce.
    fixtures = workspace / FIXTURES
    stale = fixtures / "mock-0123456789ab"
    stale.mkdir()
    (stale / STREAM_FILES["api"]).write_text("left over\n")
    bundle = bundle_of(workspace, "normal_load")
    (fixtures / bundle / "notes.txt").write_text("scribbled by hand\n")
    before = snapshot(fixtures)

    res = snakemake(workspace, "--cores", "2", "determinism_check")

    assert res.returncode != 0, res.stdout
    report = (workspace / "results" / "determinism" / "report.txt").read_text()
    assert report.startswith("determinism_check: FAILED (2 differences)"), report
    listed = report.split("all differences:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert sorted(line.strip() for line in listed) == sorted(
        [
            f"{FIXTURES}/mock-0123456789ab: committed bundle the configuration does not produce",
            f"{FIXTURES}/{bundle}/notes.txt: file the configuration does not produce",
        ]
    ), report
    assert "committed bundle the configuration does not produce" in res.stdout  # in the run too
    # Failure keeps both regenerations, whole, for inspection (success removes them).
    assert "results/determinism for inspection" in report
    for run in ("run1", "run2"):
        kept = workspace / "results" / "determinism" / run
        assert (kept / bundle).is_dir(), f"{run} removed after a failed check"
        assert {p.name for p in (kept / bundle).iterdir()} == BUNDLE_FILES, run
        assert (kept / "index.json").is_file(), run
    assert snapshot(fixtures) == before  # the check reports; it never touches the fixtures


def test_lint_passes_on_the_real_workflow() -> None:
    res = snakemake(ROOT, "--lint")
    assert res.returncode == 0, res.stdout
    assert "Congratulations" in res.stdout


def test_test_config_is_small() -> None:
    # Keeps these tests quick: two short, quiet bundles.
    cfg = yaml.safe_load(TEST_CONFIG.read_text())
    enabled = [s for s, e in cfg["scenarios"].items() if (e or {}).get("enabled", True)]
    assert len(enabled) == 2
    assert cfg["defaults"]["duration_minutes"] == 15
    assert cfg["defaults"]["rps"] <= 0.5
