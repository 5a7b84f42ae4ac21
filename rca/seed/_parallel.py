"""One bundle on several cores: groups of streams rendered in worker processes.

Every stream is a pure function of the request (each pass re-runs the shared simulation
from the seed), so a bundle can be split into groups of streams, one pass per group, and
the bytes are those of a single pass whatever the split. Each extra worker pays for its
own simulation, so only big bundles are split, into at most ``MAX_WORKERS`` groups.

Workers are forked (cheap: the modules are already imported), on Linux only. Forking a
process that runs other threads can deadlock, so a threaded caller renders in one process
instead. A worker dies with its parent (``PR_SET_PDEATHSIG``, even on SIGKILL), and the
parent kills and reaps its workers on every way out, so no run leaves a process behind.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import IO, cast

from ._atomic import new_file
from ._errors import GenerationError
from ._linux import die_with_parent
from ._models import ALL_STREAM_FILES, STREAMS, GenerationRequest
from ._pipeline import PassResult, StreamResult, run_pass

# Relative cost of rendering each stream, on top of the simulation every pass runs
# (ms for 100k requests with the native engine: simulation ~105 on this scale; measured
# with `python -m benchmarks`). With two groups, api renders alone.
STREAM_COST: Mapping[str, int] = {
    "ui": 41,
    "api": 124,
    "db": 4,
    "k8s": 3,
    "mesh": 55,
    "metrics": 230,
    "traces": 600,
}
# Below this many requests a second process costs more than it saves.
PARALLEL_MIN_REQUESTS = 20_000
# A third group still shortens the longest pass by ~15%; a fourth, by nothing.
MAX_WORKERS = 3


def usable_cpus(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """CPUs this process may use: its affinity, capped by a cgroup v2 CPU quota.

    A container limited to 1.5 CPUs still sees every CPU of the host in its affinity
    mask; splitting a bundle there would only add a second simulation to the same time.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota visible: the affinity stands
    return cpus


def can_fork() -> bool:
    # Linux only: macOS's system frameworks are not fork-safe (Python defaults to spawn
    # there, whose start-up would eat the gain), and Windows cannot fork at all.
    return sys.platform.startswith("linux") and threading.active_count() == 1


def auto_workers(req: GenerationRequest) -> int:
    """How many processes ``generate_bundle`` uses when not told."""
    expected = req.rps * req.duration_minutes * 60
    if expected < PARALLEL_MIN_REQUESTS:
        return 1
    return max(1, min(usable_cpus(), MAX_WORKERS))


def stream_groups(workers: int, streams: Sequence[str] = STREAMS) -> list[tuple[str, ...]]:
    """``streams`` split into at most ``workers`` groups of similar cost.

    Longest-processing-time-first: the costliest stream goes to the lightest group. Each
    group keeps bundle order; the costliest group comes first (the caller renders it).
    """
    streams = tuple(streams)
    n = max(1, min(workers, len(streams)))
    groups: list[list[str]] = [[] for _ in range(n)]
    load = [0] * n
    for s in sorted(streams, key=lambda s: (-STREAM_COST[s], streams.index(s))):
        i = load.index(min(load))
        groups[i].append(s)
        load[i] += STREAM_COST[s]
    order = sorted(range(n), key=lambda i: -load[i])
    return [tuple(sorted(groups[i], key=streams.index)) for i in order if groups[i]]


def _render(req: GenerationRequest, streams: Sequence[str], dir_fd: int) -> PassResult:
    with ExitStack() as stack:
        files: dict[str, IO[bytes]] = {
            s: stack.enter_context(new_file(dir_fd, ALL_STREAM_FILES[s])) for s in streams
        }
        return run_pass(req, streams, files)


def _worker_main(
    conn: Connection, parent: int, req: GenerationRequest, streams: tuple[str, ...], dir_fd: int
) -> None:
    """A forked worker: render ``streams``, send back the results or the exception."""
    # The parent's handlers turn signals into exceptions for its cleanup; a worker has
    # nothing of its own to clean up, and the parent stops it when it stops.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(parent, signal.SIGKILL)  # never an orphan rendering on after a kill -9
    try:
        reply: tuple[str, object] = ("ok", _render(req, streams, dir_fd).streams)
    except BaseException as exc:  # KeyboardInterrupt too: the parent re-raises it
        reply = ("error", exc)
    try:
        conn.send(reply)
    except Exception as exc:  # an exception that does not pickle
        conn.send(("error", GenerationError("GENERATION_FAILED", f"worker: {exc}")))


class WorkerPool:
    """Forked processes rendering one group of streams each; on leaving the ``with``,
    by whatever path, every one of them has exited and been reaped."""

    def __init__(self, req: GenerationRequest, groups: Sequence[tuple[str, ...]], dir_fd: int):
        import multiprocessing  # here: a one-process bundle (every workflow job) skips it

        ctx = multiprocessing.get_context("fork")
        self._workers: list[tuple[BaseProcess, Connection]] = []
        try:
            for group in groups:
                receive, send = ctx.Pipe(duplex=False)
                args = (send, os.getpid(), req, group, dir_fd)
                proc = ctx.Process(target=_worker_main, args=args, daemon=True)
                self._workers.append((proc, receive))
                proc.start()
                send.close()  # the worker's end: EOF here once the worker is gone
        except BaseException as exc:  # a signal half-way: stop the ones already started
            self.__exit__(type(exc), exc, exc.__traceback__)
            raise

    def __enter__(self) -> WorkerPool:
        return self

    def results(self) -> dict[str, StreamResult]:
        merged: dict[str, StreamResult] = {}
        for proc, receive in self._workers:
            try:
                status, value = receive.recv()
            except EOFError:
                proc.join()
                raise GenerationError(
                    "GENERATION_FAILED",
                    f"a worker process died (exit status {proc.exitcode}); retry with workers=1",
                ) from None
            if status == "error":
                raise cast(BaseException, value)
            merged.update(cast(dict[str, StreamResult], value))
        return merged

    def __exit__(self, *exc_info: object) -> None:
        # On an error or a signal the workers' output is about to be discarded: stop them
        # now rather than wait. Joined either way, so none writes into a removed directory.
        failed = exc_info[0] is not None
        started = [(proc, receive) for proc, receive in self._workers if proc.pid is not None]
        for proc, _ in started:
            if failed and proc.is_alive():
                proc.kill()
        for proc, receive in started:
            proc.join()
            receive.close()


def render_streams(req: GenerationRequest, dir_fd: int, workers: int = 1) -> PassResult:
    """Write every stream file of the request's bundle into the directory ``dir_fd``;
    the result is that of one whole pass."""
    streams = req.streams()
    groups = stream_groups(workers, streams) if workers > 1 and can_fork() else [streams]
    if len(groups) == 1:
        return _render(req, streams, dir_fd)
    with WorkerPool(req, groups[1:], dir_fd) as pool:
        local = _render(req, groups[0], dir_fd)
        merged = {**local.streams, **pool.results()}
    return PassResult(
        {s: merged[s] for s in streams}, local.plan, local.window_start_us, local.window_end_us
    )
