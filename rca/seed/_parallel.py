"""One bundle on several cores: groups of streams rendered in worker processes.

Every stream is a pure function of the request (each pass re-runs the shared simulation
from the seed), so a bundle can be split into groups of streams, one pass per group, and
the bytes are those of a single pass whatever the split. Each extra worker pays for its
own simulation, so only big bundles are split, into at most ``MAX_WORKERS`` groups.

Workers are forked (cheap: the modules are already imported), on Linux only. Forking a
process that runs other threads can deadlock, so a threaded caller renders in one process
instead.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO

from ._atomic import new_file
from ._errors import GenerationError
from ._models import STREAM_FILES, STREAMS, GenerationRequest
from ._pipeline import PassResult, StreamResult, run_pass

# Relative cost of rendering each stream, on top of the simulation every pass runs
# (ms for 100k requests with the native engine: simulation ~105 on this scale; measured
# with `python -m benchmarks`). With two groups, api renders alone.
STREAM_COST: Mapping[str, int] = {"ui": 41, "api": 124, "db": 4, "k8s": 3, "mesh": 55}
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


def stream_groups(workers: int) -> list[tuple[str, ...]]:
    """``STREAMS`` split into at most ``workers`` groups of similar cost.

    Longest-processing-time-first: the costliest stream goes to the lightest group. Each
    group keeps bundle order; the costliest group comes first (the caller renders it).
    """
    n = max(1, min(workers, len(STREAMS)))
    groups: list[list[str]] = [[] for _ in range(n)]
    load = [0] * n
    for s in sorted(STREAMS, key=lambda s: (-STREAM_COST[s], STREAMS.index(s))):
        i = load.index(min(load))
        groups[i].append(s)
        load[i] += STREAM_COST[s]
    order = sorted(range(n), key=lambda i: -load[i])
    return [tuple(sorted(groups[i], key=STREAMS.index)) for i in order if groups[i]]


def _render(req: GenerationRequest, streams: Sequence[str], dir_fd: int) -> PassResult:
    with ExitStack() as stack:
        files: dict[str, IO[bytes]] = {
            s: stack.enter_context(new_file(dir_fd, STREAM_FILES[s])) for s in streams
        }
        return run_pass(req, streams, files)


def _render_in_worker(
    req: GenerationRequest, streams: tuple[str, ...], dir_fd: int
) -> dict[str, StreamResult]:
    return _render(req, streams, dir_fd).streams  # a forked worker inherits the descriptor


def render_streams(req: GenerationRequest, dir_fd: int, workers: int = 1) -> PassResult:
    """Write every stream file into the directory ``dir_fd``; the result is that of one
    whole pass."""
    groups = stream_groups(workers) if workers > 1 and can_fork() else [STREAMS]
    if len(groups) == 1:
        return _render(req, STREAMS, dir_fd)
    # Imported here: a one-process bundle (every workflow job) does not pay for them.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("fork")
    # Leaving the `with` waits for the workers, so they never write into a staging
    # directory that an error in this process is about to remove.
    with ProcessPoolExecutor(max_workers=len(groups) - 1, mp_context=ctx) as pool:
        futures = [pool.submit(_render_in_worker, req, g, dir_fd) for g in groups[1:]]
        local = _render(req, groups[0], dir_fd)
        merged = dict(local.streams)
        try:
            for f in futures:
                merged.update(f.result())
        except BrokenProcessPool as exc:
            raise GenerationError(
                "GENERATION_FAILED", f"a worker process died ({exc}); retry with workers=1"
            ) from exc
    return PassResult(
        {s: merged[s] for s in STREAMS}, local.plan, local.window_start_us, local.window_end_us
    )
