"""Workspaces for the workflow tests: one built once per module, copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.workflow.helpers import new_workspace, snakemake


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace after `snakemake all` on the test config. Do not modify: copy it."""
    ws = new_workspace(tmp_path_factory.mktemp("built") / "ws")
    res = snakemake(ws, "--cores", "2", "all")
    assert res.returncode == 0, res.stdout
    return ws


@pytest.fixture
def workspace(built: Path, tmp_path: Path) -> Path:
    """A private copy of the built workspace (files, mtimes and Snakemake metadata)."""
    ws = tmp_path / "ws"
    shutil.copytree(built, ws, symlinks=True)
    return ws
