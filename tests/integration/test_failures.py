"""Failures through the CLI and on disk: clear messages, right exit codes, nothing
half-written, and a good bundle never lost to a failed regeneration."""

from __future__ import annotations

import errno
import os
import shlex
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rca.seed import _atomic, _parallel, renderers
from rca.seed.mock_incident_generator import (
    GenerationError,
    generate_bundle,
    generate_stream,
    validate,
)
from tests.integration.conftest import cli_args, request_for, run_cli
from tests.integration.logs import Bundle

SMALL = {"duration_minutes": 15, "rps": 1.0}

# id -> (CLI flags replacing the good ones, exit status, texts stderr must contain)
CLI_BAD: dict[str, tuple[dict[str, str], int, tuple[str, ...]]] = {
    "unknown-scenario": (
        {"scenario": "disk_full"},
        2,
        ("INVALID_SCENARIO", "scenario='disk_full'", "normal_load", "bad_api_rollout"),
    ),
    "duration-5": (
        {"duration_minutes": "5"},
        2,
        ("INVALID_PARAMETER", "duration_minutes", "15..1440"),
    ),
    "threshold-1.5": ({"threshold": "1.5"}, 2, ("INVALID_PARAMETER", "threshold", "0.0..1.0")),
    "anchor-yesterday": (
        {"time_anchor": "yesterday"},
        2,
        ("INVALID_PARAMETER", "time_anchor", "RFC 3339"),
    ),
    "anchor-naive": (
        {"time_anchor": "2026-11-26T05:00:00"},
        2,
        ("INVALID_PARAMETER", "time_anchor", "offset"),
    ),
    "noise-profile": (
        {"noise_profile": "loud"},
        2,
        ("INVALID_PARAMETER", "noise_profile", "'low'"),
    ),
}


@pytest.mark.parametrize(("override", "status", "needles"), CLI_BAD.values(), ids=CLI_BAD.keys())
def test_cli_refuses_a_bad_request_cleanly(
    tmp_path: Path, override: dict[str, str], status: int, needles: tuple[str, ...]
) -> None:
    out = tmp_path / "out"
    fields = {**request_for("normal_load", **SMALL), **override}

    proc = run_cli("generate", *cli_args(fields), "--out", str(out))

    assert proc.returncode == status
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ")
    for needle in needles:
        assert needle in proc.stderr, proc.stderr
    assert not out.exists()  # not even the output directory


def test_cli_refuses_an_unknown_flag_without_a_traceback(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli(
        "generate",
        *cli_args(request_for("normal_load", **SMALL)),
        "--colour",
        "blue",
        "--out",
        str(out),
    )
    assert proc.returncode == 2
    assert "unrecognized arguments: --colour blue" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_cli_refuses_an_unknown_stream(tmp_path: Path) -> None:
    out = tmp_path / "x.log"
    proc = run_cli(
        "generate-stream",
        *cli_args(request_for("normal_load", **SMALL)),
        "--stream",
        "syslog",
        "--out",
        str(out),
    )
    assert proc.returncode == 2
    assert "INVALID_OUTPUT_FORMAT" in proc.stderr and "stream='syslog'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ unwritable output
def test_unwritable_output_directory_fails_cleanly(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    out = blocker / "bundles"  # a path below a regular file can never be created

    with pytest.raises(GenerationError) as info:
        generate_bundle(request_for("normal_load", **SMALL), out)
    assert info.value.code == "GENERATION_FAILED"
    assert info.value.field == "out"
    assert str(out) in str(info.value) and "not writable" in str(info.value)

    proc = run_cli("generate", *cli_args(request_for("normal_load", **SMALL)), "--out", str(out))
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: GENERATION_FAILED: output directory")
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]
    assert blocker.read_text() == "not a directory\n"


def _without_dac_override() -> list[str]:
    """Run a command as root without the capabilities that bypass file permissions.

    Root writes into read-only directories; root without CAP_DAC_OVERRIDE (and
    CAP_DAC_READ_SEARCH) is held to the permission bits like any owner, yet still reaches
    its own private directories (CI's checkout, pytest's temporary directories).
    """
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]


@pytest.mark.skipif(
    os.geteuid() == 0 and shutil.which("setpriv") is None,
    reason="running as root without setpriv to drop privileges",
)
def test_read_only_output_directory_fails_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        if os.geteuid() != 0:
            with pytest.raises(GenerationError) as info:
                generate_bundle(request_for("normal_load", **SMALL), out)
            assert info.value.code == "GENERATION_FAILED"
            assert list(out.iterdir()) == []
            return
        # As root (CI): the CLI without the capabilities that ignore permission bits.
        probe = subprocess.run(
            [*_without_dac_override(), "sh", "-c", f"touch {shlex.quote(str(out / 'x'))}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0:
            pytest.skip("setpriv could not drop CAP_DAC_OVERRIDE here")
        proc = run_cli(
            "generate",
            *cli_args(request_for("normal_load", **SMALL)),
            "--out",
            str(out),
            prefix=_without_dac_override(),
        )
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.startswith("error: GENERATION_FAILED: output directory"), proc.stderr
        assert "Permission denied" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert list(out.iterdir()) == []
    finally:
        out.chmod(0o755)


# ------------------------------------------------------------------ failed regeneration
@pytest.fixture
def good_bundle(tmp_path: Path, bundles: dict[str, Bundle]) -> tuple[Path, dict[str, bytes]]:
    """A valid bundle already in the output directory, and its bytes."""
    src = bundles["db_connection_pool_exhaustion"].path
    dst = tmp_path / "out" / src.name
    shutil.copytree(src, dst)
    return dst, {p.name: p.read_bytes() for p in dst.iterdir()}


def _raise_midway(monkeypatch: pytest.MonkeyPatch, exc: BaseException, after: int = 200) -> None:
    """Make the db renderer raise ``exc`` after ``after`` requests: files half-written."""
    db = renderers.RENDERERS["db"]
    original = db.request
    calls = {"n": 0}

    def request(self: Any, r: Any) -> None:
        calls["n"] += 1
        if calls["n"] > after:
            raise exc
        original(self, r)

    monkeypatch.setattr(db, "request", request)


FAILURES_MIDWAY: dict[str, BaseException] = {
    "bug": RuntimeError("renderer bug"),
    "disk-full": OSError(errno.ENOSPC, "No space left on device"),
    "ctrl-c": KeyboardInterrupt(),
}


# workers=2 renders the db stream in a forked worker process, which inherits the patch.
@pytest.mark.parametrize("workers", [1, 2], ids=["in-process", "in-worker"])
@pytest.mark.parametrize("exc", FAILURES_MIDWAY.values(), ids=FAILURES_MIDWAY.keys())
def test_failed_regeneration_keeps_the_good_bundle(
    monkeypatch: pytest.MonkeyPatch,
    good_bundle: tuple[Path, dict[str, bytes]],
    exc: BaseException,
    workers: int,
    worker_pools: list[int],
) -> None:
    path, before = good_bundle
    _raise_midway(monkeypatch, exc)

    expected: type[BaseException] = GenerationError if isinstance(exc, Exception) else type(exc)
    with pytest.raises(expected) as info:
        generate_bundle(request_for("db_connection_pool_exhaustion"), path.parent, workers=workers)
    if isinstance(info.value, GenerationError):
        assert info.value.code == "GENERATION_FAILED"
        assert str(exc) in str(info.value)
    assert worker_pools == ([] if workers == 1 else [workers - 1])

    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no .partial / .old left
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    monkeypatch.undo()  # validate regenerates the request: without the injected fault
    assert validate(path) == []


def test_a_worker_process_that_dies_keeps_the_good_bundle(
    monkeypatch: pytest.MonkeyPatch, good_bundle: tuple[Path, dict[str, bytes]]
) -> None:
    """A worker killed mid-bundle (OOM killer, SIGKILL) is an error, not a short file."""
    path, before = good_bundle
    db = renderers.RENDERERS["db"]
    # Rendered in this process instead, os._exit would end the test run itself.
    assert _parallel.can_fork(), "cannot fork here: the worker path is not under test"

    def request(self: Any, r: Any) -> None:
        os._exit(137)

    monkeypatch.setattr(db, "request", request)

    with pytest.raises(GenerationError) as info:
        generate_bundle(request_for("db_connection_pool_exhaustion"), path.parent, workers=2)
    assert info.value.code == "GENERATION_FAILED"
    assert "worker process died" in str(info.value) and "workers=1" in str(info.value)

    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before


def test_a_threaded_caller_renders_in_one_process(
    monkeypatch: pytest.MonkeyPatch, bundles: dict[str, Bundle], tmp_path: Path
) -> None:
    """Forking while another thread runs can deadlock the child: no workers then."""

    def no_pool(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("forked while another thread was running")

    monkeypatch.setattr(_parallel, "WorkerPool", no_pool)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        path = generate_bundle(request_for("normal_load"), tmp_path, workers=2)
    finally:
        stop.set()
        other.join()

    assert validate(path) == []
    assert {p.name: p.read_bytes() for p in path.iterdir()} == {
        p.name: p.read_bytes() for p in bundles["normal_load"].path.iterdir()
    }


@pytest.mark.parametrize("workers", [0, -1, True, 2.5, "2"])
def test_bad_worker_counts_are_refused(tmp_path: Path, workers: Any) -> None:
    with pytest.raises(GenerationError) as info:
        generate_bundle(request_for("normal_load", **SMALL), tmp_path, workers=workers)
    assert info.value.code == "INVALID_PARAMETER"
    assert info.value.field == "workers"
    assert ">= 1" in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", ["0", "two"])
def test_cli_refuses_bad_workers(tmp_path: Path, value: str) -> None:
    out = tmp_path / "out"
    proc = run_cli(
        "generate",
        *cli_args(request_for("normal_load", **SMALL)),
        "--out",
        str(out),
        "--workers",
        value,
    )
    assert proc.returncode == 2
    assert f"workers={value!r}: expected a whole number >= 1" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("renameat2", [True, False], ids=["exchange", "two-renames"])
def test_failed_swap_keeps_the_good_bundle(
    monkeypatch: pytest.MonkeyPatch, good_bundle: tuple[Path, dict[str, bytes]], renameat2: bool
) -> None:
    """The last step (partial dir -> final name) fails; without renameat2, after the old
    bundle moved aside."""
    path, before = good_bundle
    real_rename = os.rename

    def failing_exchange(*args: Any) -> None:
        raise OSError(errno.EIO if renameat2 else errno.ENOSYS, "injected")

    def rename(src: Any, dst: Any, **kwargs: Any) -> None:
        if dst == path.name and ".partial-" in str(src):
            raise OSError(errno.EIO, "Input/output error")
        real_rename(src, dst, **kwargs)

    monkeypatch.setattr(_atomic, "renameat2", failing_exchange)
    monkeypatch.setattr(os, "rename", rename)

    with pytest.raises(GenerationError) as info:
        generate_bundle(request_for("db_connection_pool_exhaustion"), path.parent)
    assert info.value.code == "GENERATION_FAILED"

    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before


def test_failed_stream_keeps_the_existing_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "db_events.log"
    out.write_bytes(b"previous good stream\n")
    _raise_midway(monkeypatch, RuntimeError("renderer bug"), after=20)

    with pytest.raises(RuntimeError):
        generate_stream(request_for("normal_load", **SMALL), "db", out)

    assert [p.name for p in tmp_path.iterdir()] == ["db_events.log"]
    assert out.read_bytes() == b"previous good stream\n"


def test_regeneration_replaces_a_bundle_atomically(
    good_bundle: tuple[Path, dict[str, bytes]],
) -> None:
    """A successful regeneration over an existing (even damaged) bundle leaves one clean copy."""
    path, before = good_bundle
    (path / "ui_events.log").write_text("damaged\n")
    assert validate(path) != []

    again = generate_bundle(request_for("db_connection_pool_exhaustion"), path.parent)

    assert again == path
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before


@pytest.mark.parametrize("make_target", [lambda d: d, lambda d: d / "nested" / "deeper"])
def test_generation_creates_missing_parents(
    tmp_path: Path, make_target: Callable[[Path], Path]
) -> None:
    out = make_target(tmp_path)
    path = generate_bundle(request_for("normal_load", **SMALL), out)
    assert path.parent == out
    assert validate(path) == []
