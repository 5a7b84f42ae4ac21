"""`snakemake suite`: a tiny suite (.test/config/suites.yaml) built in a scratch workspace."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from rca.seed.mock_incident_generator import MANIFEST_FILE, STREAM_FILES, validate
from rca.seed.scenarios import scenario_ids
from rca.suites import BUNDLE_FILES, INDEX_COLUMNS, load_suites
from tests.workflow.helpers import ROOT, TEST_SUITES, snakemake, snapshot, suite_workspace

pytestmark = pytest.mark.workflow

SUITE_RULES = {"suite", "suite_bundle", "suite_index"}


def jobs_in(log: str) -> list[tuple[str, str]]:
    """(rule, first output or "") of every job a Snakemake run or dry run printed."""
    jobs: list[tuple[str, str]] = []
    for line in log.splitlines():
        if line.startswith(("rule ", "localrule ")):
            jobs.append((line.split()[1].rstrip(":"), ""))
        elif jobs and not jobs[-1][1] and line.strip().startswith("output:"):
            jobs[-1] = (jobs[-1][0], line.split(":", 1)[1].split(",")[0].strip())
    return jobs


def build(ws: Path, suite: str, *extra: str) -> str:
    res = snakemake(ws, "--cores", "2", "suite", "--config", f"suite={suite}", *extra)
    assert res.returncode == 0, res.stdout
    return res.stdout


def read_index(ws: Path, suite: str) -> tuple[list[dict[str, str]], dict[str, Any]]:
    root = ws / "results" / "suites" / suite
    with (root / "index.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == INDEX_COLUMNS
        rows = list(reader)
    doc = json.loads((root / "index.json").read_text())
    return rows, doc


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace after `snakemake suite --config suite=tiny`. Do not modify: copy it."""
    ws = suite_workspace(tmp_path_factory.mktemp("suite") / "ws")
    build(ws, "tiny")
    return ws


@pytest.fixture
def tiny_copy(tiny: Path, tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    shutil.copytree(tiny, ws, symlinks=True)
    return ws


def test_index_lists_every_bundle_and_each_validates(tiny: Path) -> None:
    expected = load_suites(TEST_SUITES).bundles("tiny")
    rows, doc = read_index(tiny, "tiny")
    assert doc["suite"] == "tiny"
    assert doc["bundle_count"] == len(rows) == len(expected) == 8
    assert [r["path"] for r in rows] == [b.path for b in expected]
    assert [b["path"] for b in doc["bundles"]] == [b.path for b in expected]

    for row, entry in zip(rows, doc["bundles"], strict=True):
        bundle = tiny / row["path"]
        assert row["path"] == f"results/suites/tiny/{row['noise_profile']}/{row['bundle_id']}"
        assert sorted(p.name for p in bundle.iterdir()) == sorted(BUNDLE_FILES)
        assert validate(bundle) == []
        manifest_bytes = (bundle / MANIFEST_FILE).read_bytes()
        manifest = json.loads(manifest_bytes)
        assert manifest["bundle_id"] == row["bundle_id"] == entry["bundle_id"]
        req = manifest["request"]
        assert (req["scenario"], str(req["seed"]), req["noise_profile"]) == (
            row["scenario"],
            row["seed"],
            row["noise_profile"],
        )
        assert (req["duration_minutes"], req["rps"]) == (15, 0.5)
        assert row["manifest_sha256"] == hashlib.sha256(manifest_bytes).hexdigest()
        artifacts = {a["stream"]: a for a in manifest["artifacts"] if a.get("stream")}
        for stream, name in STREAM_FILES.items():
            assert row[f"{stream}_sha256"] == artifacts[stream]["sha256"]
            assert int(row[f"{stream}_records"]) == artifacts[stream]["record_count"]
            assert entry["files"][name]["sha256"] == artifacts[stream]["sha256"]
        assert int(row["bytes"]) == sum(
            (bundle / n).stat().st_size for n in BUNDLE_FILES if n != MANIFEST_FILE
        )


def test_noise_profiles_pair_up_a_day_apart_with_unique_ids(tiny: Path) -> None:
    rows, _ = read_index(tiny, "tiny")
    assert len({r["bundle_id"] for r in rows}) == len(rows) == 8
    low = {(r["scenario"], r["seed"]): r for r in rows if r["noise_profile"] == "low"}
    high = {(r["scenario"], r["seed"]): r for r in rows if r["noise_profile"] == "high"}
    assert set(low) == set(high) and len(low) == 4
    for key in low:
        assert low[key]["time_anchor"] == "2026-11-26T05:00:00Z"
        assert high[key]["time_anchor"] == "2026-11-27T05:00:00Z"
        assert low[key]["api_sha256"] != high[key]["api_sha256"]


def test_one_job_per_bundle_and_nothing_left_to_do(tiny: Path) -> None:
    log = (tiny / ".snakemake" / "log").iterdir()
    ran = jobs_in(max(log, key=os.path.getmtime).read_text())
    rules = [rule for rule, _ in ran]
    assert sorted(set(rules)) == ["suite", "suite_bundle", "suite_index"]
    assert rules.count("suite_bundle") == 8 and rules.count("suite_index") == 1

    res = snakemake(tiny, "-n", "suite", "--config", "suite=tiny")
    assert res.returncode == 0, res.stdout
    assert "Nothing to be done" in res.stdout


def test_the_fixture_target_never_reads_the_suites(tiny_copy: Path) -> None:
    (tiny_copy / "config" / "suites.yaml").write_text("suites: {broken: [}\n")
    res = snakemake(tiny_copy, "-n")
    assert res.returncode == 0, res.stdout
    rules = {rule for rule, _ in jobs_in(res.stdout)}
    assert "write_manifest" in rules and not rules & SUITE_RULES


def test_an_undeclared_suite_fails_before_any_job(tiny_copy: Path) -> None:
    res = snakemake(tiny_copy, "--cores", "2", "suite", "--config", "suite=nope")
    assert res.returncode != 0
    assert "suite='nope' is not declared in config/suites.yaml; declared suites: tiny" in (
        res.stdout
    )
    assert not re.search(r"^(local)?rule ", res.stdout, re.MULTILINE), "a job ran"


def test_a_broken_suites_file_fails_before_any_job_naming_the_key(tiny_copy: Path) -> None:
    path = tiny_copy / "config" / "suites.yaml"
    data = yaml.safe_load(path.read_text())
    data["suites"]["tiny"]["noise_profiles"] = ["low", "loud"]
    path.write_text(yaml.safe_dump(data))
    before = snapshot(tiny_copy / "results" / "suites")

    res = snakemake(tiny_copy, "--cores", "2", "suite", "--config", "suite=tiny")

    assert res.returncode != 0
    assert "invalid workflow configuration in config/suites.yaml" in res.stdout
    assert "suites.tiny.noise_profiles: 'loud' is not a noise profile" in res.stdout
    assert not re.search(r"^(local)?rule ", res.stdout, re.MULTILINE), "a job ran"
    assert snapshot(tiny_copy / "results" / "suites") == before


def test_an_invalid_bundle_fails_the_index_naming_it(tiny_copy: Path) -> None:
    rows, _ = read_index(tiny_copy, "tiny")
    stream = tiny_copy / rows[0]["path"] / STREAM_FILES["db"]
    stream.write_bytes(stream.read_bytes().replace(b"LOG:", b"LOG;", 1))
    (tiny_copy / "results" / "suites" / "tiny" / "index.csv").unlink()

    res = snakemake(tiny_copy, "--cores", "2", "suite", "--config", "suite=tiny")

    assert res.returncode != 0
    report = (tiny_copy / "results" / "logs" / "suites" / "tiny" / "index.log").read_text()
    assert f"{rows[0]['path']}: " in report and STREAM_FILES["db"] in report, report
    assert not (tiny_copy / "results" / "suites" / "tiny" / "index.csv").exists()


def test_a_request_edit_rebuilds_only_that_scenarios_bundles(tiny_copy: Path) -> None:
    path = tiny_copy / "config" / "suites.yaml"
    data = yaml.safe_load(path.read_text())
    data["suites"]["tiny"]["scenario_overrides"]["bad_api_rollout"]["threshold_override"] = 0.9
    path.write_text(yaml.safe_dump(data))

    out = build(tiny_copy, "tiny")

    ran = jobs_in(out)
    rebuilt = sorted(o.split("/")[4] for r, o in ran if r == "suite_bundle")
    rows, _ = read_index(tiny_copy, "tiny")
    rollout = sorted(r["bundle_id"] for r in rows if r["scenario"] == "bad_api_rollout")
    assert rebuilt == rollout  # the 4 rollout bundles (2 seeds x 2 noise), not normal_load
    truth = json.loads(
        (tiny_copy / next(r["path"] for r in rows if r["scenario"] == "bad_api_rollout"))
        .joinpath("ground_truth.json")
        .read_text()
    )
    assert truth["threshold_override"] == 0.9


def test_shipped_smoke_suite_plans_one_job_per_bundle(tmp_path: Path) -> None:
    ws = suite_workspace(tmp_path / "ws", ROOT / "config" / "suites.yaml")
    res = snakemake(ws, "-n", "suite")  # the default suite: smoke
    assert res.returncode == 0, res.stdout
    rules = [rule for rule, _ in jobs_in(res.stdout)]
    smoke = len(scenario_ids()) * 2  # every scenario, seeds 1 and 2
    assert rules.count("suite_bundle") == smoke and rules.count("suite_index") == 1
