"""Code-quality gates as tests, so `make test` fails on them: ruff (lint and format) on
the whole tree, strict mypy on `rca/`, `benchmarks/` and `tests/`. Configuration lives
in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the venv running pytest


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / cmd[0]), *cmd[1:]],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        check=False,
    )


def test_ruff_check() -> None:
    res = run("ruff", "check", "--no-cache", ".")
    assert res.returncode == 0, res.stdout


def test_ruff_format() -> None:
    res = run("ruff", "format", "--check", "--no-cache", ".")
    assert res.returncode == 0, f"run `.venv/bin/ruff format .`:\n{res.stdout}"


@pytest.mark.slow  # several seconds with a cold cache (a fresh clone, CI)
def test_mypy_strict() -> None:
    res = run("mypy", "rca", "benchmarks", "tests")
    assert res.returncode == 0, res.stdout
