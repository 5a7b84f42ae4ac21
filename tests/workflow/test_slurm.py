"""The SLURM path for real: a suite built through `snakemake --executor slurm` on a
throw-away single-node cluster (scripts/local_slurm.sh) equals the same suite built locally,
byte for byte.

Needs root (the daemons run as root) and Debian's slurm-wlm + munge, which the script
installs with apt-get when missing. When it cannot run here the test skips, saying why;
under CI (``CI`` set and not "0"/"false") it fails instead, so CI never goes green
without having run it.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ci import unavailable
from tests.workflow.helpers import ROOT, SNAKEMAKE, suite_workspace

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

SCRIPT = ROOT / "scripts" / "local_slurm.sh"
# One local cluster per machine (it owns /etc/slurm/slurm.conf): test sessions queue here.
LOCK = Path("/tmp/rca-local-slurm.lock")
LOCK_WAIT_S = 300
SUITE = "tiny"  # .test/config/suites.yaml: 8 bundles
SNAKEMAKE_TIMEOUT_S = 150
# The shipped profile, plus what this cluster lacks: no accounts, no accounting database
# (so squeue, with MinJobAge=600, answers status queries), and quick first status checks.
SLURM_ARGS = (
    "--profile",
    "workflow/profiles/slurm",
    "--slurm-no-account",
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--jobs",
    "8",
)


@pytest.fixture(scope="module")
def slurm_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A running single-node cluster; yields the environment that reaches it."""
    if os.geteuid() != 0:
        unavailable("the local SLURM cluster needs root (its daemons run as root)")
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        unavailable("snakemake-executor-plugin-slurm is not installed (scripts/bootstrap.sh)")

    with LOCK.open("w") as lock:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another session held {LOCK} for {LOCK_WAIT_S} s")
                time.sleep(1)

        state = tmp_path_factory.mktemp("slurm")
        try:
            res = subprocess.run(
                ["bash", str(SCRIPT), "start", str(state)],
                capture_output=True,
                text=True,
                timeout=600,  # a fresh machine installs the packages first
                check=False,
            )
            if res.returncode == 3:  # cannot run here (not installable, foreign config)
                unavailable(res.stderr.strip().splitlines()[-1])
            assert res.returncode == 0, f"{SCRIPT} start failed:\n{res.stderr}"
            conf = res.stdout.strip().splitlines()[-1].removeprefix("SLURM_CONF=")
            yield {**os.environ, "SLURM_CONF": conf}
        finally:
            subprocess.run(["bash", str(SCRIPT), "stop", str(state)], check=False, timeout=60)


def _run(ws: Path, args: list[str], env: dict[str, str]) -> str:
    """Run Snakemake in ``ws``; on a hang, kill it (and its job steps) and fail loudly."""
    proc = subprocess.Popen(
        [str(SNAKEMAKE), *args],
        cwd=ws,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=SNAKEMAKE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        queue = subprocess.run(
            ["squeue", "--states=all"], env=env, capture_output=True, text=True, check=False
        ).stdout
        pytest.fail(f"snakemake ran over {SNAKEMAKE_TIMEOUT_S} s:\n{out[-4000:]}\n{queue}")
    assert proc.returncode == 0, out[-8000:] + _slurm_logs(ws)
    return out


def _slurm_logs(ws: Path) -> str:
    logs = sorted((ws / ".snakemake" / "slurm_logs").rglob("*.log"))
    return "".join(f"\n--- {p}\n{p.read_text()[-2000:]}" for p in logs[:4])


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_suite_on_slurm_equals_the_local_build(slurm_env: dict[str, str], tmp_path: Path) -> None:
    local = suite_workspace(tmp_path / "local")
    _run(
        local,
        ["--profile", "workflow/profiles/local", "suite", "--config", f"suite={SUITE}"],
        slurm_env,
    )

    cluster = suite_workspace(tmp_path / "cluster")
    started = time.monotonic()
    out = _run(cluster, ["suite", "--config", f"suite={SUITE}", *SLURM_ARGS], slurm_env)
    took = time.monotonic() - started

    # Every bundle went through sbatch, and the cluster ran them all to completion.
    submitted = out.count("has been submitted with SLURM jobid")
    assert submitted == 8, out[-4000:]
    queue = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i|%T"],
        env=slurm_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(queue) == 8 and all(line.endswith("|COMPLETED") for line in queue), queue

    built = _tree(cluster / "results" / "suites")
    reference = _tree(local / "results" / "suites")
    assert sorted(built) == sorted(reference)
    assert len(built) == 8 * 7 + 2  # 8 bundles of 7 files, index.csv, index.json
    different = [name for name in reference if built[name] != reference[name]]
    assert not different, f"differ from the local build: {different}"
    print(f"\nSLURM build of suite {SUITE}: {took:.1f} s")
