"""One measured operation, run in a fresh interpreter by the harness.

``python -m benchmarks.worker '<json spec>'`` (or ``@spec.json``) performs exactly one operation and prints
one JSON object on its last stdout line. The harness (the parent) measures the whole
process's wall time and takes its peak RSS from ``os.wait4``; this side reports the
in-process time of the operation alone (imports excluded), so both are available.

Operations (``spec["op"]``):

* ``import``  - import the generator's public module and stop (interpreter + import floor);
* ``bundle``  - ``generate_bundle(request, out, workers=...)``: the end-to-end public API
  (``workers`` absent: the generator's own choice; with ``profile_out``, under cProfile,
  imports excluded); reports the workers used, CPU seconds of all processes and their
  summed peak RSS;
* ``stream``  - ``generate_stream(request, stream, path)``: one stream alone;
* ``sim``     - ``run_pass(request, ())``: the shared simulation with no renderer at all;
* ``chunks``  - ``run_pass`` with recording outputs: the exact sequence of write sizes a
  bundle makes (untimed; it feeds the raw-write floor);
* ``rawwrite`` - write a recorded sequence of chunk sizes to fresh files (the I/O floor);
* ``faker``   - N lines from faker-observability-provider, written in 512-line chunks;
* ``engine``  - which simulation engine this environment selects, and whether the compiled
  core is built (the harness's probe before it plans the cases).

A spec's ``env`` (a dict of strings) is applied to ``os.environ`` before the operation, so
``{"env": {"RCA_SIM_ENGINE": "python"}}`` forces the pure-Python engine in this process and
in the processes it forks. Every result carries ``engine``: what
``rca.seed._sim.resolve_engine()`` returns here once that environment is applied
(``"native"`` or ``"python"``), or ``None`` for the operations that run no simulation
(``import``, ``rawwrite``, ``faker``).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

CHUNK_LINES = 512  # the generator's sink writes once >= 512 entries are buffered
SIM_OPS = frozenset({"bundle", "stream", "sim", "chunks"})  # the operations that simulate


def _files_info(directory: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(directory.iterdir()) if p.is_file()}


def _count_lines(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                total += block.count(b"\n")
    return total


def _auto_workers(request: dict[str, Any]) -> int:
    from rca.seed._parallel import auto_workers, can_fork
    from rca.seed.mock_incident_generator import make_request

    return auto_workers(make_request(**request)) if can_fork() else 1


def _cpu_seconds() -> tuple[float, float]:
    """(user, system) CPU of this process and of its finished children (worker processes)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + kids.ru_utime, me.ru_stime + kids.ru_stime


def _rss_total_kb(workers: int) -> int:
    """Peak RSS of all the bundle's processes together (KiB): this one plus its workers.

    RUSAGE_CHILDREN reports the largest child, so with several workers this is an upper
    bound; peaks of different processes need not coincide, so the sum is pessimistic.
    """
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kid = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return me + (workers - 1) * kid if workers > 1 else me


def op_import(spec: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    import rca.seed.mock_incident_generator  # noqa: F401

    return {"import_s": time.perf_counter() - t0}


def op_bundle(spec: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    from rca.seed.mock_incident_generator import STREAM_FILES, generate_bundle

    profiler = None
    if spec.get("profile_out"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    workers = spec.get("workers")
    used = workers if workers is not None else _auto_workers(spec["request"])
    cpu0 = _cpu_seconds()
    t1 = time.perf_counter()
    path = generate_bundle(spec["request"], spec["out"], workers=workers)
    t2 = time.perf_counter()
    user1, sys1 = _cpu_seconds()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(spec["profile_out"])
    files = _files_info(path)
    # Lines from the manifest (cheap), so "process s" is not inflated by re-reading output.
    try:
        manifest = json.loads((path / "manifest.json").read_text())
        by_file = {a["file"]: a["line_count"] for a in manifest["artifacts"]}
        lines = sum(by_file[name] for name in STREAM_FILES.values())
    except (OSError, KeyError, ValueError):
        lines = _count_lines([path / name for name in STREAM_FILES.values()])
    return {
        "import_s": t1 - t0,
        "seconds": t2 - t1,
        "workers": used,
        "cpu_s": (user1 - cpu0[0]) + (sys1 - cpu0[1]),
        # The kernel's share, mostly copying the output into the page cache.
        "sys_s": sys1 - cpu0[1],
        "rss_total_kb": _rss_total_kb(used),
        "files": files,
        "bytes": sum(files.values()),
        "stream_bytes": sum(files[name] for name in STREAM_FILES.values()),
        # lines of the five log streams (what "lines/s" counts); label/manifest excluded
        "lines": lines,
        "bundle_dir": str(path),
    }


def op_stream(spec: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    from rca.seed.mock_incident_generator import generate_stream

    t1 = time.perf_counter()
    res = generate_stream(spec["request"], spec["stream"], spec["out"])
    t2 = time.perf_counter()
    return {
        "import_s": t1 - t0,
        "seconds": t2 - t1,
        "bytes": res.bytes,
        "lines": res.lines,
        "records": res.records,
    }


def op_sim(spec: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    from rca.seed._pipeline import run_pass
    from rca.seed.mock_incident_generator import make_request

    req = make_request(**spec["request"])
    t1 = time.perf_counter()
    run_pass(req, ())
    t2 = time.perf_counter()
    return {"import_s": t1 - t0, "seconds": t2 - t1}


class _Recorder:
    """A write-only 'file' that remembers the size of each write, in global order."""

    def __init__(self, index: int, log: list[list[int]]) -> None:
        self.index = index
        self.log = log

    def write(self, data: bytes) -> int:
        self.log.append([self.index, len(data)])
        return len(data)


def op_chunks(spec: dict[str, Any]) -> dict[str, Any]:
    from rca.seed._pipeline import run_pass
    from rca.seed.mock_incident_generator import STREAMS, make_request

    req = make_request(**spec["request"])
    log: list[list[int]] = []
    outputs: Any = {s: _Recorder(i, log) for i, s in enumerate(STREAMS)}
    run_pass(req, STREAMS, outputs)
    return {"files": len(STREAMS), "chunks": log, "bytes": sum(size for _, size in log)}


def op_rawwrite(spec: dict[str, Any]) -> dict[str, Any]:
    """Write the recorded chunk sizes, in order, to ``n_files`` fresh files under ``out``."""
    chunks: list[list[int]] = spec["chunks"]
    n_files: int = spec["n_files"]
    out = Path(spec["out"])
    biggest = max((size for _, size in chunks), default=0)
    line = b"x" * 199 + b"\n"  # ASCII payload; built before timing, never counted
    payload = memoryview((line * (biggest // len(line) + 1))[:biggest])
    t1 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    files = [open(out / f"f{i}", "wb") for i in range(n_files)]  # noqa: SIM115
    try:
        for index, size in chunks:
            files[index].write(payload[:size])
    finally:
        for f in files:
            f.close()
    t2 = time.perf_counter()
    return {"seconds": t2 - t1, "bytes": sum(size for _, size in chunks), "writes": len(chunks)}


def op_faker(spec: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    from importlib.metadata import version

    from faker import Faker  # type: ignore[import-not-found, unused-ignore]
    from faker_observability import ObservabilityProvider  # type: ignore[import-untyped, import-not-found, unused-ignore]

    fake = Faker()
    fake.add_provider(ObservabilityProvider)
    Faker.seed(spec.get("seed", 0))
    fmt = spec["format"]
    n = int(spec["lines"])
    log_line = fake.log_line
    t1 = time.perf_counter()
    written = 0
    with open(spec["out"], "wb") as f:
        left = n
        while left > 0:
            k = min(CHUNK_LINES, left)
            data = ("\n".join([log_line(fmt) for _ in range(k)]) + "\n").encode()
            f.write(data)
            written += len(data)
            left -= k
    t2 = time.perf_counter()
    return {
        "import_s": t1 - t0,
        "seconds": t2 - t1,
        "bytes": written,
        "lines": n,
        "version": version("faker-observability-provider"),
        "faker_version": version("faker"),
    }


def op_engine(spec: dict[str, Any]) -> dict[str, Any]:
    from rca.seed import _sim
    from rca.seed._errors import GenerationError

    out: dict[str, Any] = {
        "requested": os.environ.get(_sim.ENGINE_ENV),
        "native_available": _sim.native_available(),
        "native_built": getattr(_sim, "_simcore", None) is not None,
        "stale": _sim.STALE_CORE,
        "module": _sim.__file__,
    }
    try:
        out["engine"] = _sim.resolve_engine()
    except GenerationError as exc:
        out["engine"] = None
        out["engine_error"] = str(exc)
    return out


def _engine() -> str:
    """The simulation engine this process runs (after ``apply_env``)."""
    from rca.seed._sim import resolve_engine

    return resolve_engine()


def apply_env(spec: dict[str, Any]) -> None:
    for key, value in (spec.get("env") or {}).items():
        os.environ[str(key)] = str(value)


OPS = {
    "import": op_import,
    "bundle": op_bundle,
    "stream": op_stream,
    "sim": op_sim,
    "chunks": op_chunks,
    "rawwrite": op_rawwrite,
    "faker": op_faker,
    "engine": op_engine,
}


def run_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Apply the spec's environment, run its operation, and say which engine ran it."""
    apply_env(spec)
    op = spec["op"]
    result = OPS[op](spec)
    if op in SIM_OPS:
        result["engine"] = _engine()
    else:
        result.setdefault("engine", None)
    return result


def main(argv: list[str]) -> int:
    arg = argv[0]
    spec = json.loads(Path(arg[1:]).read_text()) if arg.startswith("@") else json.loads(arg)
    result = run_spec(spec)
    result["pid"] = os.getpid()
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
