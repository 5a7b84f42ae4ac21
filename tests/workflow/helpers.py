"""Helpers to run the Snakemake workflow in a scratch workspace.

A workspace is ``workflow/`` copied beside ``config/scenarios.yaml`` (the tiny test
config, .test/config/scenarios.yaml), so Snakemake sees the repository's layout without
touching the repository's fixtures. The library itself is the installed ``rca`` package.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

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
