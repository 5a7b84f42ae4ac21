"""Config edits in a fresh clone: no `.snakemake/` records, yet every edit fully applied.

Snakemake notices a changed param only through the records of the job that last wrote
the output (`.snakemake/metadata`). A fresh clone has none, so before the request files
(`results/requests/`, see workflow/rules/common.smk) a threshold edit re-ran the manifest
but not the label, and an rps edit not the streams: the bundle then said one request in
its manifest and held another's bytes. Here a built workspace is committed to git and
cloned, exactly as a user gets the repository; each edit is then checked against the
configuration itself, whatever the bundle ids are (the id may or may not cover the edited
field): every configured bundle equals, byte for byte, a `generate` of its request, the
fixture root holds exactly the configured bundles, and git sees only the edited bundle.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from rca.config import load_config
from tests.workflow.helpers import (
    FIXTURES,
    ROOT,
    assert_bundles_match_config,
    planned_jobs,
    snakemake,
)

pytestmark = pytest.mark.workflow

GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]


def git(cwd: Path, *args: str) -> str:
    res = subprocess.run(
        [*GIT, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )
    assert res.returncode == 0, res.stderr
    return res.stdout


@pytest.fixture
def clone(built: Path, tmp_path: Path) -> Path:
    """A fresh clone of a repository whose committed fixtures are the built workspace's."""
    origin = tmp_path / "origin"
    origin.mkdir()
    for part in ("workflow", "config", FIXTURES):
        shutil.copytree(built / part, origin / part)
    shutil.copy2(ROOT / ".gitignore", origin / ".gitignore")  # .snakemake/, results/
    git(origin, "init", "-q")
    git(origin, "add", ".")
    git(origin, "commit", "-q", "-m", "built fixtures")
    git(tmp_path, "clone", "-q", str(origin), "clone")
    ws = tmp_path / "clone"
    assert not (ws / ".snakemake").exists() and not (ws / "results").exists()
    return ws


def set_field(ws: Path, scenario: str, field: str, value: object) -> None:
    path = ws / "config" / "scenarios.yaml"
    data = yaml.safe_load(path.read_text())
    data["scenarios"][scenario] = {**(data["scenarios"][scenario] or {}), field: value}
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def assert_fixtures_agree_with_config(ws: Path, scratch: Path) -> None:
    """Every configured bundle is exactly `generate` of its request; nothing else is there."""
    assert_bundles_match_config(ws / "config" / "scenarios.yaml", ws / FIXTURES, scratch)
    assert planned_jobs(ws) == []


def changed_paths(ws: Path) -> set[str]:
    """Paths git reports as changed, added or removed (directories expanded)."""
    out = git(ws, "status", "--porcelain", "--untracked-files=all")
    return {line[3:] for line in out.splitlines()}


@pytest.mark.parametrize(("field", "value"), [("threshold", 0.55), ("rps", 0.4)])
def test_a_config_edit_in_a_fresh_clone_rebuilds_everything_it_affects(
    clone: Path, tmp_path: Path, field: str, value: object
) -> None:
    res = snakemake(clone, "--cores", "2", "all")
    assert res.returncode == 0, res.stdout
    assert changed_paths(clone) == set(), "the first build of a clone changed the fixtures"
    before = {
        b.scenario: b.bundle_id for b in load_config(clone / "config/scenarios.yaml").bundles()
    }

    set_field(clone, "normal_load", field, value)
    res = snakemake(clone, "--cores", "2", "all")
    assert res.returncode == 0, res.stdout

    assert_fixtures_agree_with_config(clone, tmp_path / "reference")
    after = {
        b.scenario: b.bundle_id for b in load_config(clone / "config/scenarios.yaml").bundles()
    }
    edited_dirs = {f"{FIXTURES}/{before['normal_load']}/", f"{FIXTURES}/{after['normal_load']}/"}
    for path in changed_paths(clone):
        assert path in ("config/scenarios.yaml", f"{FIXTURES}/index.json") or any(
            path.startswith(d) for d in edited_dirs
        ), f"{path} changed, but the edit was to normal_load only"
    assert after["bad_api_rollout"] == before["bad_api_rollout"]


def test_the_fixture_root_drops_bundles_the_config_no_longer_produces(
    clone: Path, tmp_path: Path
) -> None:
    # A new seed always means a new bundle id; the old bundle must go, but only it: a
    # symlink named like a bundle, and a non-bundle name, are left alone.
    root = clone / FIXTURES
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not a bundle\n")
    (root / "mock-0000000000aa").symlink_to(outside, target_is_directory=True)
    (root / "notes").mkdir()
    old = {b.scenario: b.bundle_id for b in load_config(clone / "config/scenarios.yaml").bundles()}

    set_field(clone, "normal_load", "seed", 8)
    res = snakemake(clone, "--cores", "2", "all")
    assert res.returncode == 0, res.stdout

    assert not (root / old["normal_load"]).exists()
    assert f"removed {FIXTURES}/{old['normal_load']}/" in res.stdout
    assert (root / "mock-0000000000aa").is_symlink()
    assert (outside / "keep.txt").read_text() == "not a bundle\n"
    assert (root / "notes").is_dir()
    (root / "mock-0000000000aa").unlink()
    (root / "notes").rmdir()
    assert_fixtures_agree_with_config(clone, tmp_path / "reference")
