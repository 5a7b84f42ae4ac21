"""Helpers to run the Snakemake workflow in a scratch workspace.

A workspace is ``workflow/`` copied beside ``config/scenarios.yaml`` (the tiny test
config, .test/config/scenarios.yaml), so Snakemake sees the repository's layout without
touching the repository's fixtures. The library itself is the installed ``rca`` package.
Also the helpers the config tests share (``raw``, ``edited``, ``problems``, ``parsed_cli``).
"""

from __future__ import annotations

import argparse
import filecmp
import hashlib
import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from rca.config import ConfigError, fixture_index, load_config
from rca.seed.mock_incident_generator import (
    GROUND_TRUTH_FILE,
    MANIFEST_FILE,
    STREAM_FILES,
    GenerationRequest,
    _request_from,
    add_commands,
    generate_bundle,
    validate,
)

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
TEST_CONFIG = ROOT / ".test" / "config" / "scenarios.yaml"
FIXTURES = "tests/fixtures/mock_incidents"


def snakemake(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Snakemake in ``workspace``; stdout and stderr are merged into ``.stdout``."""
    return subprocess.run(
        [str(SNAKEMAKE), *args],
        cwd=workspace,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        check=False,
    )


def planned_jobs(workspace: Path) -> list[tuple[str, str]]:
    """(rule, output) of every job ``snakemake -n`` would run, `all` included."""
    res = snakemake(workspace, "-n")
    assert res.returncode == 0, res.stdout
    return jobs_in(res.stdout)


def jobs_in(log: str) -> list[tuple[str, str]]:
    """(rule, output) of every job a Snakemake run (or dry run) printed, `all` included."""
    jobs: list[tuple[str, str]] = []
    rule = None
    for line in log.splitlines():
        if line.startswith(("rule ", "localrule ")):
            rule = line.split()[1].rstrip(":")
            if rule == "all":
                jobs.append((rule, ""))
        elif rule and line.strip().startswith("output:"):
            jobs.append((rule, line.split(":", 1)[1].strip()))
            rule = None
    return jobs


def snapshot(directory: Path) -> dict[str, tuple[str, int]]:
    """relative path -> (sha256, mtime_ns) of every file below ``directory``."""
    return {
        str(p.relative_to(directory)): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def assert_bundles_match_config(
    config: Path, root: Path, scratch: Path, *, superseded_kept: bool = False
) -> None:
    """The fixture root ``root`` holds exactly the bundles ``config`` configures, and each
    is byte for byte what ``generate`` writes for its request (label and manifest too).

    ``superseded_kept``: other bundle directories may remain (remote storage, where the
    index job cannot remove them); the configured ones must still all be there.
    """
    bundles = load_config(config).bundles()
    on_disk = {p.name for p in root.iterdir() if p.name != "index.json"}
    configured = {b.bundle_id for b in bundles}
    if superseded_kept:
        assert configured <= on_disk, "a configured bundle is missing"
    else:
        assert on_disk == configured, "superseded bundle left behind"
    assert (root / "index.json").read_text() == fixture_index(bundles, FIXTURES)
    names = sorted([*STREAM_FILES.values(), GROUND_TRUTH_FILE, MANIFEST_FILE])
    for bundle in bundles:
        built = root / bundle.bundle_id
        truth = json.loads((built / GROUND_TRUTH_FILE).read_text())
        manifest = json.loads((built / MANIFEST_FILE).read_text())
        assert truth["threshold_default"] == bundle.request.threshold, bundle.scenario
        assert manifest["request"] == bundle.request.canonical(), bundle.scenario
        assert validate(built) == [], bundle.scenario
        reference = generate_bundle(bundle.request, scratch / bundle.bundle_id, workers=1)
        same = filecmp.cmpfiles(built, reference, names, shallow=False)
        assert same == (names, [], []), f"{bundle.scenario}: differs from generate"


def new_workspace(path: Path) -> Path:
    path.mkdir(parents=True)
    shutil.copytree(
        ROOT / "workflow", path / "workflow", ignore=shutil.ignore_patterns("__pycache__")
    )
    (path / "config").mkdir()
    shutil.copy2(TEST_CONFIG, path / "config" / "scenarios.yaml")
    return path


TEST_SUITES = ROOT / ".test" / "config" / "suites.yaml"


def suite_workspace(path: Path, suites: Path = TEST_SUITES) -> Path:
    """A workspace whose config/suites.yaml is ``suites`` (default: the tiny test suites)."""
    ws = new_workspace(path)
    shutil.copy2(suites, ws / "config" / "suites.yaml")
    return ws


# ---------------------------------------------------------------------- config files
def raw(path: Path) -> dict[str, Any]:
    """A YAML config file as plain data, to edit before validating."""
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def edited(path: Path, where: tuple[str, ...], edit: dict[str, Any]) -> dict[str, Any]:
    """``raw(path)`` with ``edit`` merged into the mapping at key path ``where``."""
    data = raw(path)
    node = data
    for key in where:
        if node.get(key) is None:
            node[key] = {}
        node = node[key]
    node.update(edit)
    return data


def problems(parse: Callable[[object, str], object], data: object) -> list[str]:
    """The problems ``parse(data, "test.yaml")`` reports; its error must name the file."""
    with pytest.raises(ConfigError) as info:
        parse(data, "test.yaml")
    assert "test.yaml" in str(info.value)
    return info.value.problems


def parsed_cli(cli: str) -> GenerationRequest:
    """The request the generator's CLI (what the jobs run) builds from these flags."""
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command"))
    ns = parser.parse_args(["generate", *shlex.split(cli), "--out", "x"])
    return _request_from(ns)  # the generator's own translation: a dropped flag shows here
