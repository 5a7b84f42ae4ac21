"""An interrupted `snakemake all` is resumed by the next plain `snakemake all`.

Snakemake marks the outputs of running jobs incomplete (`.snakemake/incomplete/`) and,
when it is interrupted before it can clean up, the next run used to stop with
`IncompleteFilesException` until given `--rerun-incomplete`. The workflow's default
profile (workflow/profiles/default/config.yaml, loaded by Snakemake itself for `make all`
and plain `snakemake` alike) sets it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rca.seed.mock_incident_generator import validate
from tests.workflow.helpers import FIXTURES, SNAKEMAKE, new_workspace, planned_jobs, snakemake

pytestmark = pytest.mark.workflow


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_next_run_after_an_interrupt_finishes_the_build(tmp_path: Path) -> None:
    ws = new_workspace(tmp_path / "ws")
    incomplete = ws / ".snakemake" / "incomplete"
    with (tmp_path / "interrupted.log").open("w") as log:
        # Its own session (a terminal's foreground job); SIGINT handled as by default.
        run = subprocess.Popen(
            [str(SNAKEMAKE), "--cores", "2", "all"],
            cwd=ws,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until(lambda: incomplete.is_dir() and any(incomplete.iterdir()), 120, "a job")
            run.send_signal(signal.SIGINT)
            assert run.wait(timeout=120) != 0
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
    # The jobs it had started die (as on a terminal's Ctrl-C) before the next run starts.
    if group_alive(run.pid):
        os.killpg(run.pid, signal.SIGINT)
    wait_until(lambda: not group_alive(run.pid), 120, "the interrupted run's jobs")
    assert any(incomplete.iterdir()), "the interrupt left nothing incomplete: no test"

    res = snakemake(ws, "--cores", "2", "all")

    assert res.returncode == 0, res.stdout
    assert "IncompleteFilesException" not in res.stdout
    bundles = sorted((ws / FIXTURES).glob("mock-*"))
    assert len(bundles) == 2
    for bundle in bundles:
        assert validate(bundle) == [], bundle.name
    assert planned_jobs(ws) == []
