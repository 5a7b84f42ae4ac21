"""Runs stopped from outside: Ctrl-C, ``kill``, ``kill -9`` (issue 17, items 3 and 14).

Fault injection on a real ``generate`` big enough to take a few seconds, with a forked
worker: the signal arrives while both processes are writing. What a user relies on:
SIGINT/SIGTERM end the run with one line and exit 128+signal, leaving nothing; SIGKILL
takes the workers down with it (nothing keeps the pipes open, no orphan renders on);
whatever a dead run left is removed by the next run into the same directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rca.seed.mock_incident_generator import bundle_id_for, generate_stream, validate
from tests.integration.conftest import ROOT, cli_args, request_for

# ~400 MB and ~3 s on two cores: long enough to be caught mid-write.
BIG = request_for("db_connection_pool_exhaustion", rps=50, seed=7)
SMALL = request_for("normal_load", duration_minutes=15, rps=1.0)
SETTLE_S = 30.0  # bound on every wait below; the normal case takes well under a second


def start(*argv: str, module: str = "rca.seed.mock_incident_generator") -> subprocess.Popen[str]:
    """The CLI in its own session (process group = its pid), stdout/stderr piped."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", module, *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _procs() -> Iterator[tuple[int, str, int, int]]:
    """(pid, state, ppid, process group) of every process, from /proc/<pid>/stat."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # exited meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()
        yield int(entry), fields[0], int(fields[1]), int(fields[2])


def live_children(pid: int) -> list[int]:
    return [p for p, state, ppid, _ in _procs() if ppid == pid and state != "Z"]


def live_members(pgid: int, but: int | None = None) -> list[int]:
    """Processes of a process group that still run (zombies are dead, only unreaped)."""
    return [p for p, state, _, group in _procs() if group == pgid and state != "Z" and p != but]


def wait_until_writing(proc: subprocess.Popen[str], out: Path) -> list[int]:
    """Wait until ``proc`` has forked its worker and streams are being written."""
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        workers = live_children(proc.pid)
        written = sum(f.stat().st_size for d in out.glob(".*") for f in d.glob("*.log"))
        if workers and written > 20_000_000:
            return workers
        time.sleep(0.05)
    raise AssertionError("the run never got to writing streams")


def assert_gone(proc: subprocess.Popen[str], workers: list[int]) -> tuple[int, str, str]:
    """Every process of the run exits and the pipes reach EOF, within a bounded wait."""
    try:
        stdout, stderr = proc.communicate(timeout=SETTLE_S)  # EOF: no process holds them
    except subprocess.TimeoutExpired:
        proc.kill()
        for w in live_members(proc.pid):
            os.kill(w, signal.SIGKILL)  # do not leave the orphan to the rest of the run
        proc.communicate()
        raise AssertionError("stdout/stderr stayed open: a process of the run lives on") from None
    deadline = time.monotonic() + SETTLE_S
    while live_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_members(proc.pid) == []
    assert [p for p, state, _, _ in _procs() if p in workers and state != "Z"] == []
    return proc.returncode, stdout, stderr


def generate(out: Path, request: dict[str, object], *extra: str) -> list[str]:
    return ["generate", *cli_args(request), "--out", str(out), *extra]


@pytest.mark.parametrize(
    ("sig", "status", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
    ids=["SIGINT", "SIGTERM"],
)
@pytest.mark.parametrize("module", ["rca.seed.mock_incident_generator", "rca.cli"])
def test_a_signalled_generate_stops_cleanly(
    tmp_path: Path, sig: signal.Signals, status: int, word: str, module: str
) -> None:
    out = tmp_path / "out"
    proc = start(*generate(out, BIG, "--workers", "2"), module=module)
    workers = wait_until_writing(proc, out)

    proc.send_signal(sig)
    code, stdout, stderr = assert_gone(proc, workers)

    assert code == status, stderr
    assert stdout == ""
    assert stderr.count("\n") == 1 and word in stderr and sig.name in stderr, stderr
    assert "Traceback" not in stderr
    assert list(out.iterdir()) == []  # no partial bundle, nothing else


def test_a_killed_generate_leaves_no_process_and_the_next_run_cleans_up(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = start(*generate(out, BIG, "--workers", "2"))
    workers = wait_until_writing(proc, out)

    proc.send_signal(signal.SIGKILL)
    assert_gone(proc, workers)
    partials = [p.name for p in out.iterdir()]
    assert len(partials) == 1 and ".partial-" in partials[0]  # SIGKILL cannot be cleaned up

    # The next run into the same directory, for another bundle, removes the dead partial.
    nxt = start(*generate(out, SMALL))
    code, _, stderr = assert_gone(nxt, [])
    assert code == 0, stderr
    assert [p.name for p in out.iterdir()] == [bundle_id_for(SMALL)]
    assert validate(out / bundle_id_for(SMALL)) == []


def test_a_killed_stream_write_is_cleaned_up_by_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "api_events.log"
    proc = start(
        "generate-stream", *cli_args(BIG), "--stream", "api", "--out", str(target)
    )  # fmt: skip
    deadline = time.monotonic() + SETTLE_S
    while sum(p.stat().st_size for p in tmp_path.glob(".*")) < 5_000_000:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    assert_gone(proc, [])
    assert [p.name.split("-")[0] for p in tmp_path.iterdir()] == [".api_events.log.partial"]

    generate_stream(SMALL, "ui", tmp_path / "ui_events.log")

    assert [p.name for p in tmp_path.iterdir()] == ["ui_events.log"]


def test_the_partial_of_a_live_run_is_never_removed(tmp_path: Path) -> None:
    """Only partials whose writer is gone are debris: a concurrent run's stays."""
    out = tmp_path / "out"
    proc = start(*generate(out, BIG, "--workers", "2"))
    try:
        wait_until_writing(proc, out)
        live = sorted(p.name for p in out.iterdir())
        # Look-alikes that are not ours: a symlink and a file outside the naming pattern.
        (out / ".mock-000000000000.partial-0123456789abcdef").symlink_to(tmp_path)
        (out / ".mock-000000000000.partial-1234").write_bytes(b"mine\n")

        nxt = start(*generate(out, SMALL))
        code, _, stderr = assert_gone(nxt, [])
        assert code == 0, stderr
        names = sorted(p.name for p in out.iterdir())
        assert [n for n in live if n not in names] == []
        assert ".mock-000000000000.partial-0123456789abcdef" in names
        assert ".mock-000000000000.partial-1234" in names
    finally:
        proc.send_signal(signal.SIGTERM)
        assert_gone(proc, [])
