"""Speed-and-scale harness (issue 6): measure on this machine, write a markdown + JSON table.

    .venv/bin/python -m benchmarks [--quick] [--out benchmarks/results] [--profile] ...

Every measured case runs in a fresh interpreter (``benchmarks.worker``); the parent takes
the process's wall time and its peak RSS (``os.wait4``), the worker reports the time of
the operation alone. Runs of all cases are interleaved round-robin, so drift on a noisy
machine spreads over every case, and the medians are compared *within the same run*:
against the raw write of the same bytes in the same chunks (the I/O floor) and against
faker-observability-provider's nginx lines, when that package is installed.

Every worker reports the simulation engine that ran (``rca.seed._sim.resolve_engine()``:
the compiled core or the pure-Python reference, chosen by ``RCA_SIM_ENGINE``); the reference
bundle is measured once more in one process on the Python engine, so the compiled core's
speed-up is measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.machinery
import importlib.util
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SCENARIO = "bad_api_rollout"
SEED = 7
TIME_ANCHOR = "2026-11-26T05:00:00Z"
STREAMS = ("ui", "api", "db", "k8s", "mesh")  # checked against the generator at start-up
FAKER_FORMATS = ("nginx_error", "apache_combined")
FAKER_NOTES = {
    "nginx_error": "nginx error log: the package's only nginx-named format",
    "apache_combined": "combined access log, = nginx's default `combined` log_format",
}
MB = 1_000_000  # throughput and RSS are in MB = 10^6 bytes (stricter than MiB for RSS)

# Targets of issue 6 ("Speed and scale").
T_BUNDLE_100K_S = 1.5
T_LINES_PER_S = 360_000
T_FLOOR_RATIO = 20.0
T_V0_S = 0.3
T_WF_SCRATCH_S = 10.0
T_WF_NOOP_S = 2.5
T_RSS_MB = 120.0
T_SCALING_SLACK = 1.1  # time(10N)/time(N) <= 11
T_FAKER_RATIO = 25.0

ENGINE_ENV = "RCA_SIM_ENGINE"  # rca.seed._sim.ENGINE_ENV: auto (default) | native | python
ENGINE_SOURCES = {
    "native": "compiled core rca/seed/_simcore.c",
    "python": "pure-Python reference rca/seed/_sim.py",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- processes
class WorkerError(RuntimeError):
    pass


@dataclass
class Sample:
    wall_s: float  # the whole process, fork to exit
    rss_kb: int  # ru_maxrss of the process (and its reaped children), KiB on Linux
    result: dict[str, Any]

    @property
    def rss_mb(self) -> float:
        """Peak RSS; for a bundle split over worker processes, all of them summed."""
        total_kb = max(self.rss_kb, int(self.result.get("rss_total_kb") or 0))
        return total_kb * 1024 / MB


def run_process(
    cmd: list[str], cwd: Path, env: dict[str, str], stderr_path: Path
) -> tuple[float, int, int, bytes]:
    """Run ``cmd``; return (wall s, peak RSS KiB, exit code, stdout)."""
    with open(stderr_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    return wall, usage.ru_maxrss, proc.returncode, out


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


class Runner:
    """Runs workers from ``src`` (a snapshot of the repo, or the repo itself)."""

    def __init__(self, scratch: Path, src: Path) -> None:
        self.scratch = scratch
        self.src = src
        self.n = 0
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(src), self.env.get("PYTHONPATH", "")) if p
        )

    def worker(self, spec: dict[str, Any]) -> Sample:
        self.n += 1
        spec_path = self.scratch / f"spec-{self.n}.json"
        spec_path.write_text(json.dumps(spec))
        err_path = self.scratch / f"stderr-{self.n}.txt"
        cmd = [sys.executable, "-m", "benchmarks.worker", f"@{spec_path}"]
        wall, rss, rc, out = run_process(cmd, self.src, self.env, err_path)
        if rc != 0:
            raise WorkerError(f"worker {spec['op']} exited {rc}:\n{_tail(err_path)}")
        lines = [ln for ln in out.decode().splitlines() if ln.strip()]
        spec_path.unlink()
        err_path.unlink()
        return Sample(wall, rss, json.loads(lines[-1]))


# ---------------------------------------------------------------------- cases
@dataclass
class Case:
    key: str
    label: str
    minutes: int
    rps: float
    repeats: int
    floor: bool = False
    streams: bool = False
    kind: str = "size"  # size | v0 | day | one-process | modalities
    workers: int | None = None  # None: the generator's automatic choice
    engine: str | None = None  # RCA_SIM_ENGINE forced for this case; None: the run's default
    modalities: str | None = None  # the request's modalities; None: the default (logs)

    def env(self) -> dict[str, str] | None:
        """Environment the case's workers apply (``worker.apply_env``), if any."""
        return {ENGINE_ENV: self.engine} if self.engine is not None else None

    @property
    def requests(self) -> int:
        return round(self.rps * self.minutes * 60)

    def request(self, scenario: str, seed: int) -> dict[str, Any]:
        return {
            "scenario": scenario,
            "seed": seed,
            "time_anchor": TIME_ANCHOR,
            "duration_minutes": self.minutes,
            "rps": self.rps,
        } | ({"modalities": self.modalities} if self.modalities else {})


def human(n: int) -> str:
    """10000 -> '10k', 1000000 -> '1M', 1800 -> '1.8k'."""
    if n >= 1_000_000 and n % 100_000 == 0:
        return f"{n / 1_000_000:g}M"
    if n >= 1_000 and n % 100 == 0:
        return f"{n / 1_000:g}k"
    return str(n)


@dataclass
class Job:
    name: str
    repeats: int
    make_spec: Callable[[int], dict[str, Any] | None]
    after: Callable[[Sample], None] = lambda s: None
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None


def med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def engine_of(samples: list[Sample]) -> str | None:
    """The simulation engine the samples report: one name, ``mixed: a, b``, or None."""
    names = sorted({str(s.result["engine"]) for s in samples if s.result.get("engine")})
    if not names:
        return None
    return names[0] if len(names) == 1 else "mixed: " + ", ".join(names)


def describe_engine(engine: str | None) -> str:
    """'native' -> 'native (compiled core rca/seed/_simcore.c)'."""
    if engine is None:
        return "unknown (no simulation measured)"
    source = ENGINE_SOURCES.get(engine)
    return f"{engine} ({source})" if source else engine


def summarise(samples: list[Sample]) -> dict[str, Any]:
    secs = [s.result["seconds"] for s in samples if "seconds" in s.result]
    walls = [s.wall_s for s in samples]
    rss = [s.rss_mb for s in samples]
    out: dict[str, Any] = {
        "runs": len(samples),
        "seconds": med(secs),
        "seconds_min": min(secs) if secs else None,
        "seconds_max": max(secs) if secs else None,
        "process_s": med(walls),
        "peak_rss_mb": max(rss) if rss else None,
        "peak_rss_mb_median": med(rss),
        "samples": [
            {
                "seconds": s.result.get("seconds"),
                "process_s": s.wall_s,
                "rss_mb": s.rss_mb,
                "engine": s.result.get("engine"),
            }
            for s in samples
        ],
    }
    engine = engine_of(samples)
    if engine is not None:
        out["engine"] = engine
    if samples:
        first = samples[0].result
        for key in (
            "lines",
            "bytes",
            "stream_bytes",
            "records",
            "files",
            "version",
            "jobs",
            "workers",
        ):
            if key in first:
                out[key] = first[key]
        cpu = [s.result["cpu_s"] for s in samples if "cpu_s" in s.result]
        out["cpu_s"] = med(cpu)
        sys_cpu = [s.result["sys_s"] for s in samples if "sys_s" in s.result]
        out["sys_s"] = med(sys_cpu)
        imports = [s.result["import_s"] for s in samples if "import_s" in s.result]
        out["import_s"] = med(imports)
        if out["seconds"] and out.get("lines") is not None:
            out["lines_per_s"] = out["lines"] / out["seconds"]
            out["mb_per_s"] = out["bytes"] / MB / out["seconds"]
    return out


# ---------------------------------------------------------------------- workflow
def _copy_repo(src: Path, dst: Path) -> None:
    """Copy the tracked and untracked-but-not-ignored files (mtimes kept) into ``dst``."""
    files: list[str] | None = None
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        raw = subprocess.run(
            ["git", "ls-files", "-z", "-co", "--exclude-standard"],
            cwd=src,
            check=True,
            capture_output=True,
        ).stdout
        files = [f for f in raw.decode().split("\0") if f]
    if files is None:
        shutil.copytree(
            src,
            dst,
            symlinks=True,
            ignore=shutil.ignore_patterns(
                ".git", ".venv", ".snakemake", "results", "__pycache__", "*_cache"
            ),
        )
    else:
        for rel in files:
            s = src / rel
            if not s.is_file():  # deleted in the work tree but still in the index
                continue
            d = dst / rel
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, d, follow_symlinks=False)
        _copy_extensions(src, dst)
    venv = src / ".venv"
    if venv.exists() and not (dst / ".venv").exists():
        (dst / ".venv").symlink_to(venv)  # Snakefile rules may call .venv/bin/... relatively


def _copy_extensions(src: Path, dst: Path) -> None:
    """Copy the compiled extension modules built in place (git ignores them: ``*.so``).

    Without them a snapshot would import ``rca.seed`` without its compiled simulation core
    and silently measure the Python engine. Hidden, build and output folders are skipped.
    """
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    skip = {"build", "dist", "results", "__pycache__", "node_modules"}
    for root, dirs, files in os.walk(src):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in skip]
        for name in files:
            if not name.endswith(suffixes):
                continue
            s = Path(root) / name
            d = dst / s.relative_to(src)
            if d.exists() or not d.parent.is_dir():  # only beside the copied sources
                continue
            shutil.copy2(s, d)


THRESHOLD_RE = re.compile(
    r"^(?P<head>[ \t]*\"?[\w.-]*threshold[\w.-]*\"?[ \t]*:[ \t]*)(?P<value>\d*\.?\d+)",
    re.MULTILINE | re.IGNORECASE,
)


def _edit_threshold(root: Path) -> str | None:
    """Nudge the first numeric ``*threshold*`` key in config/ by 0.01; describe the edit."""
    config = root / "config"
    if not config.is_dir():
        return None
    for path in sorted(config.rglob("*")):
        if path.suffix.lower() not in (".yaml", ".yml", ".json") or not path.is_file():
            continue
        text = path.read_text()
        m = THRESHOLD_RE.search(text)
        if m is None:
            continue
        old = float(m.group("value"))
        new = round(old - 0.01 if old > 0.98 else old + 0.01, 4)
        path.write_text(text[: m.start("value")] + f"{new}" + text[m.end("value") :])
        key = m.group("head").split(":")[0].strip().strip('"')
        return f"{path.relative_to(root)}: {key} {old} -> {new}"
    return None


def _wf_step(
    name: str,
    cmd: list[str],
    cwd: Path,
    env: dict[str, str],
    scratch: Path,
    steps: dict[str, list[Sample]],
    errors: list[str],
    r: int,
) -> bool:
    err = scratch / f"wf-{name}.stderr"
    wall, rss, rc, _ = run_process(cmd, cwd, env, err)
    if rc != 0:
        errors.append(f"{name} (run {r + 1}) exited {rc}:\n{_tail(err)}")
        return False
    jobs = _jobs_run(err)
    steps[name].append(Sample(wall, rss, {"seconds": wall, "jobs": jobs}))
    log(f"  workflow {name:<15} run {r + 1}: {wall:7.2f} s  ({jobs} jobs)")
    return True


STEPS_RE = re.compile(r"(\d+) of (\d+) steps \(")


def _jobs_run(stderr_path: Path) -> int | None:
    """Jobs Snakemake ran, from its log: 0 for 'Nothing to be done'."""
    try:
        text = stderr_path.read_text(errors="replace")
    except OSError:
        return None
    if "Nothing to be done" in text:
        return 0
    found = STEPS_RE.findall(text)
    return int(found[-1][1]) if found else None


def _clean_outputs(snakemake: str, cwd: Path, env: dict[str, str], scratch: Path) -> str | None:
    """Delete every output of ``all`` in the copy (committed fixtures included): 'from scratch'."""
    err = scratch / "wf-clean.stderr"
    cmd = [snakemake, "--cores", "1", "--delete-all-output", "all"]
    _, _, rc, _ = run_process(cmd, cwd, env, err)
    shutil.rmtree(cwd / ".snakemake", ignore_errors=True)
    if rc != 0:
        return f"--delete-all-output exited {rc}:\n{_tail(err)}"
    return None


def bench_workflow(
    root: Path, repeats: int, cores: int, scratch: Path, env: dict[str, str]
) -> dict[str, Any]:
    snakefile = root / "workflow" / "Snakefile"
    if not snakefile.is_file():
        return {"skipped": "workflow/Snakefile not found: snakemake rows not measured"}
    exe = Path(sys.executable).parent / "snakemake"
    snakemake = str(exe) if exe.exists() else shutil.which("snakemake")
    if snakemake is None:
        return {"skipped": "snakemake not installed"}
    steps: dict[str, list[Sample]] = {"scratch": [], "noop": [], "threshold_edit": []}
    edit_note: str | None = None
    errors: list[str] = []
    for r in range(repeats):
        copy = scratch / f"wf-{r}"
        _copy_repo(root, copy)
        wf_env = dict(env)
        wf_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(copy), os.environ.get("PYTHONPATH", "")) if p
        )
        cmd = [snakemake, "--cores", str(cores), "all"]

        problem = _clean_outputs(snakemake, copy, wf_env, scratch)
        if problem is not None:
            errors.append(f"cleaning the copy (run {r + 1}): {problem}")
            shutil.rmtree(copy, ignore_errors=True)
            break
        ok = _wf_step("scratch", cmd, copy, wf_env, scratch, steps, errors, r)
        ok = ok and _wf_step("noop", cmd, copy, wf_env, scratch, steps, errors, r)
        if ok:
            edit_note = _edit_threshold(copy)
            if edit_note is not None:
                _wf_step("threshold_edit", cmd, copy, wf_env, scratch, steps, errors, r)
        shutil.rmtree(copy, ignore_errors=True)
        if errors:
            break
    out: dict[str, Any] = {
        "command": f"snakemake --cores {cores} all",
        "setup": "Each cycle: copy of the repo in a temp dir, outputs of `all` deleted there "
        "(`snakemake --delete-all-output all`, untimed), then scratch, no-op, threshold edit",
        "threshold_edit": edit_note
        or (
            "not reached: an earlier step failed"
            if errors
            else "no numeric *threshold* key found under config/: step not measured"
        ),
        "steps": {k: summarise(v) for k, v in steps.items()},
    }
    if errors:
        out["errors"] = errors
    return out


# ---------------------------------------------------------------------- environment
def _source_digest(package: Path) -> str:
    """sha256 over the generator package's files (names and bytes), caches excluded."""
    h = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(path.relative_to(package).as_posix().encode() + b"\0")
            h.update(path.read_bytes())
    return h.hexdigest()


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO, check=True, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _pkg(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


def _mem_total_mb() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024 / MB
    return None


def _fs_type(path: Path) -> str | None:
    best, fstype = "", None
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                best, fstype = parts[1], f"{parts[2]} ({parts[0]} on {parts[1]})"
    return fstype


def environment(scratch: Path) -> dict[str, Any]:
    status = _git("status", "--porcelain", "--untracked-files=no")
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    from rca.seed import _pipeline

    return {
        "timestamp_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "python_full": sys.version,
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "mem_total_mb": _mem_total_mb(),
        "loadavg_start": list(os.getloadavg()),
        "scratch_fs": _fs_type(scratch.resolve()),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_branch": _git("rev-parse", "--abbrev-ref", "HEAD"),
        "git_dirty_files": None if status is None else len(status.splitlines()),
        "generator_format_version": _pipeline.FORMAT_VERSION,
        "packages": {
            name: _pkg(name)
            for name in (
                "rca-mock-incidents",
                "pydantic",
                "pydantic-core",
                "snakemake",
                "faker",
                "faker-observability-provider",
            )
        },
    }


# ---------------------------------------------------------------------- plan & run
ONE_PROCESS = "-1p"  # key suffix: the reference bundle forced into one process
ONE_PROCESS_PY = "-1p-py"  # ... and onto the Python engine
ALL_MODALITIES = "-all"  # ... and with every modality (logs, metrics)


def engine_probe(runner: Runner) -> dict[str, Any]:
    """What the workers' environment selects (``worker.op_engine``), from the snapshot."""
    try:
        return runner.worker({"op": "engine"}).result
    except WorkerError as exc:
        return {"engine": None, "native_available": False, "engine_error": str(exc)}


def python_case_skipped(
    args: argparse.Namespace, probe: dict[str, Any] | None, ref: Case | None
) -> str | None:
    """Why the one-process Python-engine case is not measured; None when it is."""
    if ref is None:
        return "no reference bundle"
    if args.skip_one_process:
        return "--skip-one-process given"
    if getattr(args, "skip_python_engine", False):
        return "--skip-python-engine given"
    if probe is None:
        return "the simulation engine was not probed"
    if not probe.get("native_available"):
        if probe.get("stale"):
            return f"the compiled core is stale: {probe['stale']}"
        return "the compiled core (rca/seed/_simcore.c) is not built"
    if probe.get("engine") != "native":
        why = probe.get("engine_error") or (
            f"{ENGINE_ENV}={probe.get('requested')} runs the {probe.get('engine')} engine "
            "for every case"
        )
        return f"the main cases do not run the compiled core ({why})"
    return None


def build_cases(args: argparse.Namespace, probe: dict[str, Any] | None = None) -> list[Case]:
    """The bundle cases; ``probe`` (``engine_probe``) decides the Python-engine case."""
    cases = []
    for n in args.sizes:
        rps = n / (args.minutes * 60)
        cases.append(
            Case(
                key=f"{args.minutes}m-{human(n)}",
                label=f"{args.minutes} min, {human(n)} requests",
                minutes=args.minutes,
                rps=rps,
                repeats=args.repeats if n <= 100_000 else args.repeats_large,
                floor=n <= args.floor_max,
                streams=n <= args.streams_max,
            )
        )
    ref = reference_case(cases)
    if ref is not None and not args.skip_one_process:
        # The reference bundle again, forced into one process: the per-core number.
        one = Case(
            key=f"{ref.key}{ONE_PROCESS}",
            label=f"{ref.label}, one process",
            minutes=ref.minutes,
            rps=ref.rps,
            repeats=ref.repeats,
            floor=ref.floor,
            kind="one-process",
            workers=1,
        )
        cases.append(one)
        if python_case_skipped(args, probe, ref) is None:
            # ... and on the pure-Python engine: the compiled core's speed-up, same run.
            cases.append(
                replace(
                    one,
                    key=f"{ref.key}{ONE_PROCESS_PY}",
                    label=f"{one.label}, Python engine",
                    floor=False,
                    engine="python",
                )
            )
    if ref is not None:
        from rca.seed.mock_incident_generator import MODALITIES

        # The reference bundle with every modality: what metrics cost, same run.
        cases.append(
            replace(
                ref,
                key=f"{ref.key}{ALL_MODALITIES}",
                label=f"{ref.label}, every modality ({', '.join(MODALITIES)})",
                floor=False,
                streams=False,
                kind="modalities",
                modalities=",".join(MODALITIES),
            )
        )
    cases.append(
        Case("v0", "default v0 (30 min, rps 2)", 30, 2.0, args.repeats, floor=True, kind="v0")
    )
    if not args.skip_day:
        cases.append(
            Case(
                "day",
                f"{args.day_minutes // 60} h at rps {args.day_rps:g}",
                args.day_minutes,
                args.day_rps,
                args.repeats_day,
                kind="day",
            )
        )
    return cases


def reference_case(cases: list[Case]) -> Case | None:
    """The case the comparisons and the profile use: 100k/30 min, else the largest <= 100k."""
    sized = [c for c in cases if c.kind == "size"]
    exact = [c for c in sized if c.requests == 100_000 and c.minutes == 30]
    if exact:
        return exact[0]
    small = [c for c in sized if c.requests <= 100_000] or sized
    return max(small, key=lambda c: c.requests) if small else None


def run(args: argparse.Namespace) -> dict[str, Any]:
    from rca.seed.mock_incident_generator import STREAMS as GEN_STREAMS

    if tuple(GEN_STREAMS) != STREAMS:
        log(f"note: generator streams are {GEN_STREAMS}, harness expected {STREAMS}")
    streams = tuple(GEN_STREAMS)
    scratch_parent = Path(args.scratch) if args.scratch else None
    if scratch_parent is not None:
        scratch_parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="rca-bench-", dir=scratch_parent))
    if args.no_snapshot:
        src = REPO
    else:
        # Every worker (and the workflow) runs this frozen copy, so edits made to the work
        # tree while the harness runs cannot mix two versions of the code into one table.
        src = scratch / "src"
        _copy_repo(REPO, src)
    runner = Runner(scratch, src)
    env = environment(scratch)
    env["source_snapshot"] = not args.no_snapshot
    env["source_digest"] = _source_digest(src / "rca")
    probe = engine_probe(runner)  # reported under "engine" -> "probe"
    cases = build_cases(args, probe)
    ref = reference_case(cases)
    faker_installed = importlib.util.find_spec("faker_observability") is not None
    log(
        f"benchmarks: {len(cases)} bundle cases, scratch {scratch} ({env['scratch_fs']}), "
        f"python {env['python']}, {env['cpu_count']} CPUs, simulation engine "
        f"{describe_engine(probe.get('engine'))}"
    )
    skipped = python_case_skipped(args, probe, ref)
    if skipped is not None:
        log(f"note: no Python-engine case: {skipped}")
    try:
        return _run(args, runner, scratch, env, cases, ref, streams, faker_installed, probe)
    finally:
        if args.keep_scratch:
            log(f"scratch kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def _run(
    args: argparse.Namespace,
    runner: Runner,
    scratch: Path,
    env: dict[str, Any],
    cases: list[Case],
    ref: Case | None,
    streams: tuple[str, ...],
    faker_installed: bool,
    probe: dict[str, Any] | None = None,
) -> dict[str, Any]:
    t_start = time.perf_counter()
    bundle_jobs: dict[str, Job] = {}
    floor_jobs: dict[str, Job] = {}
    stream_jobs: dict[tuple[str, str], Job] = {}
    faker_jobs: dict[str, Job] = {}
    chunks: dict[str, dict[str, Any]] = {}
    jobs: list[Job] = []

    jobs.append(Job("import", args.repeats, lambda r: {"op": "import"}))
    import_job = jobs[-1]

    def rm_bundle(s: Sample) -> None:
        shutil.rmtree(s.result["bundle_dir"], ignore_errors=True)

    for c in cases:
        req = c.request(args.scenario, args.seed)
        out = scratch / c.key
        case_env = c.env()

        def bundle_spec(
            r: int,
            req: dict[str, Any] = req,
            out: Path = out,
            workers: int | None = c.workers,
            env: dict[str, str] | None = case_env,
        ) -> dict[str, Any]:
            spec = {"op": "bundle", "request": req, "out": str(out / f"run{r}"), "workers": workers}
            if env:
                spec["env"] = env
            return spec

        job = Job(f"bundle {c.key}", c.repeats, bundle_spec, rm_bundle)
        bundle_jobs[c.key] = job
        jobs.append(job)

    for c in cases:
        if not c.floor:
            continue
        log(f"recording write sizes of {c.key} (untimed pass)")
        chunks[c.key] = runner.worker(
            {"op": "chunks", "request": c.request(args.scenario, args.seed)}
        ).result

        def floor_spec(r: int, c: Case = c) -> dict[str, Any] | None:
            done = bundle_jobs[c.key].samples
            if not done:
                return None
            rec = chunks[c.key]
            files = done[0].result["files"]
            extra = [
                [rec["files"] + i, files[name]]
                for i, name in enumerate(("ground_truth.json", "manifest.json"))
                if name in files
            ]
            return {
                "op": "rawwrite",
                "chunks": rec["chunks"] + extra,
                "n_files": rec["files"] + len(extra),
                "out": str(scratch / f"floor-{c.key}-{r}"),
            }

        def rm_floor(s: Sample, c: Case = c) -> None:
            for p in scratch.glob(f"floor-{c.key}-*"):
                shutil.rmtree(p, ignore_errors=True)

        job = Job(f"floor {c.key}", c.repeats, floor_spec, rm_floor)
        floor_jobs[c.key] = job
        jobs.append(job)

    if not args.skip_streams:
        for c in cases:
            if not c.streams:
                continue
            req = c.request(args.scenario, args.seed)

            def sim_spec(r: int, req: dict[str, Any] = req) -> dict[str, Any]:
                return {"op": "sim", "request": req}

            sim = Job(f"sim-only {c.key}", c.repeats, sim_spec)
            stream_jobs[(c.key, "(simulation only)")] = sim
            jobs.append(sim)
            for s in streams:
                path = scratch / f"stream-{c.key}-{s}.log"

                def stream_spec(
                    r: int, req: dict[str, Any] = req, s: str = s, path: Path = path
                ) -> dict[str, Any]:
                    return {"op": "stream", "request": req, "stream": s, "out": str(path)}

                def rm_stream(_: Sample, path: Path = path) -> None:
                    path.unlink(missing_ok=True)

                job = Job(f"stream {c.key} {s}", c.repeats, stream_spec, rm_stream)
                stream_jobs[(c.key, s)] = job
                jobs.append(job)

    if faker_installed and not args.skip_faker and ref is not None:
        for fmt in FAKER_FORMATS:

            def faker_spec(r: int, fmt: str = fmt) -> dict[str, Any] | None:
                done = bundle_jobs[ref.key].samples
                if not done:
                    return None
                n = args.faker_lines or done[0].result["lines"]
                return {
                    "op": "faker",
                    "format": fmt,
                    "lines": n,
                    "seed": args.seed,
                    "out": str(scratch / f"faker-{fmt}.log"),
                }

            def rm_faker(_: Sample, fmt: str = fmt) -> None:
                (scratch / f"faker-{fmt}.log").unlink(missing_ok=True)

            job = Job(f"faker {fmt}", args.faker_repeats, faker_spec, rm_faker)
            faker_jobs[fmt] = job
            jobs.append(job)

    # Round-robin: run r of every job before run r+1 of any, so drift hits all alike.
    rounds = max(j.repeats for j in jobs)
    for r in range(rounds):
        for job in jobs:
            if r >= job.repeats or job.error is not None:
                continue
            spec = job.make_spec(r)
            if spec is None:
                job.error = "prerequisite failed"
                continue
            try:
                sample = runner.worker(spec)
            except WorkerError as exc:
                job.error = str(exc)
                log(f"  {job.name}: FAILED\n{exc}")
                continue
            job.after(sample)
            job.samples.append(sample)
            secs = sample.result.get("seconds")
            shown = f"{secs:8.3f} s" if secs is not None else "        "
            log(
                f"  [{r + 1}/{job.repeats}] {job.name:<28} {shown}  process "
                f"{sample.wall_s:7.3f} s  rss {sample.rss_mb:6.1f} MB"
            )

    profile = None
    if args.profile and ref is not None:
        profile = profile_case(args, runner, scratch, ref)

    workflow: dict[str, Any]
    if args.skip_workflow:
        workflow = {"skipped": "--skip-workflow given"}
    else:
        log("workflow (snakemake) ...")
        root = Path(args.repo_root).resolve()
        workflow = bench_workflow(
            runner.src if root == REPO else root,
            args.workflow_repeats,
            args.cores,
            scratch,
            runner.env,
        )

    env["loadavg_end"] = list(os.getloadavg())
    env["harness_seconds"] = time.perf_counter() - t_start
    report = assemble(
        args,
        env,
        cases,
        ref,
        import_job,
        bundle_jobs,
        floor_jobs,
        stream_jobs,
        faker_jobs,
        faker_installed,
        workflow,
        profile,
        streams,
        probe,
    )
    return report


def _short(filename: str, roots: tuple[Path, ...] = (REPO,)) -> str:
    """A profile's file name, relative to the repo (or its snapshot), site-packages, stdlib."""
    if filename == "~":
        return "(C built-ins)"
    path = filename.replace(os.sep, "/")
    for r in roots:
        root = str(r).replace(os.sep, "/").rstrip("/") + "/"
        if path.startswith(root):
            return path[len(root) :]
    for marker in ("/site-packages/", "/lib/python3."):
        if marker in path:
            rest = path.split(marker, 1)[1]
            return rest.split("/", 1)[1] if marker == "/lib/python3." else rest
    return path


def profile_case(
    args: argparse.Namespace, runner: Runner, scratch: Path, ref: Case
) -> dict[str, Any]:
    import io
    import pstats

    log(f"profiling bundle {ref.key} under cProfile ...")
    prof = scratch / "profile.out"
    spec = {
        "op": "bundle",
        "request": ref.request(args.scenario, args.seed),
        "out": str(scratch / "profile-bundle"),
        "profile_out": str(prof),
        "workers": 1,  # cProfile sees one process only
    }
    sample = runner.worker(spec)
    shutil.rmtree(sample.result["bundle_dir"], ignore_errors=True)
    buf = io.StringIO()
    stats = pstats.Stats(str(prof), stream=buf)
    stats.sort_stats("tottime").print_stats(args.profile_top)
    text = buf.getvalue()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "profile.txt").write_text(
        f"cProfile of the generate_bundle() call alone ({ref.label}), by tottime\n{text}"
    )
    rows = []
    roots = (runner.src, REPO)
    raw: Any = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())
    for (filename, lineno, func), v in sorted(raw.items(), key=lambda kv: -kv[1][2])[
        : args.profile_top
    ]:
        rows.append(
            {
                "function": f"{_short(filename, roots)}:{lineno}({func})",
                "calls": v[1],
                "tottime_s": v[2],
                "cumtime_s": v[3],
                "share": v[2] / total if total else None,
            }
        )
    by_file: dict[str, float] = {}
    for (filename, _, _), v in raw.items():
        name = _short(filename, roots)
        by_file[name] = by_file.get(name, 0.0) + v[2]
    files = sorted(by_file.items(), key=lambda kv: -kv[1])
    return {
        "case": ref.key,
        "engine": sample.result.get("engine"),
        "profiled_seconds": sample.result["seconds"],
        "by_file": [
            {"file": name, "tottime_s": t, "share": t / total if total else None}
            for name, t in files
        ],
        "total_tottime_s": total,
        "top": rows,
        "file": str(out_dir / "profile.txt"),
    }


# ---------------------------------------------------------------------- report
def verdict(value: float | None, limit: float, lower_is_better: bool = True) -> str:
    if value is None:
        return "n/a"
    ok = value <= limit if lower_is_better else value >= limit
    return "PASS" if ok else "FAIL"


def assemble(
    args: argparse.Namespace,
    env: dict[str, Any],
    cases: list[Case],
    ref: Case | None,
    import_job: Job,
    bundle_jobs: dict[str, Job],
    floor_jobs: dict[str, Job],
    stream_jobs: dict[tuple[str, str], Job],
    faker_jobs: dict[str, Job],
    faker_installed: bool,
    workflow: dict[str, Any],
    profile: dict[str, Any] | None,
    streams: tuple[str, ...],
    probe: dict[str, Any] | None = None,
) -> dict[str, Any]:
    bundles: dict[str, Any] = {}
    for c in cases:
        job = bundle_jobs[c.key]
        s = summarise(job.samples)
        s.update(
            label=c.label,
            kind=c.kind,
            minutes=c.minutes,
            rps=c.rps,
            requests_nominal=c.requests,
            request=c.request(args.scenario, args.seed),
            error=job.error,
            engine_forced=c.engine,
        )
        fj = floor_jobs.get(c.key)
        if fj is not None:
            f = summarise(fj.samples)
            f["error"] = fj.error
            if fj.samples:
                f["writes"] = fj.samples[0].result["writes"]
            s["floor"] = f
            if f["seconds"] and s["seconds"]:
                s["floor_ratio"] = s["seconds"] / f["seconds"]
        bundles[c.key] = s

    per_stream: dict[str, Any] = {}
    for (key, stream), job in stream_jobs.items():
        entry = summarise(job.samples)
        entry["error"] = job.error
        per_stream.setdefault(key, {})[stream] = entry
    for entries in per_stream.values():
        parts = [entries[s]["seconds"] for s in streams if s in entries]
        if parts and all(p is not None for p in parts):
            entries["(sum of streams)"] = {"seconds": sum(parts)}

    sized = sorted(
        (c for c in cases if c.kind == "size" and bundles[c.key]["seconds"]),
        key=lambda c: c.requests,
    )
    scaling = []
    for a, b in itertools.pairwise(sized):
        size_ratio = b.requests / a.requests
        ratio = bundles[b.key]["seconds"] / bundles[a.key]["seconds"]
        limit = T_SCALING_SLACK * size_ratio

        def user_cpu(key: str) -> float | None:
            cpu, sys_cpu = bundles[key].get("cpu_s"), bundles[key].get("sys_s")
            return None if cpu is None or sys_cpu is None else cpu - sys_cpu

        ua, ub = user_cpu(a.key), user_cpu(b.key)
        fa = (bundles[a.key].get("floor") or {}).get("seconds")
        fb = (bundles[b.key].get("floor") or {}).get("seconds")
        scaling.append(
            {
                "from": a.key,
                "to": b.key,
                "size_ratio": size_ratio,
                "time_ratio": ratio,
                # Informative: the generator's own CPU, without the kernel's page-cache
                # writes (whose cost per byte grows with the volume on some machines).
                "user_cpu_ratio": ub / ua if ua and ub is not None else None,
                "sys_s": (bundles[a.key].get("sys_s"), bundles[b.key].get("sys_s")),
                # Informative: the same ratio for the raw write of the same bytes.
                "floor_ratio": fb / fa if fa and fb else None,
                "limit": limit,
                "result": verdict(ratio, limit),
            }
        )

    faker: dict[str, Any] = {"installed": faker_installed}
    if not faker_installed:
        faker["note"] = "faker-observability-provider not installed"
    elif args.skip_faker:
        faker["note"] = "--skip-faker given"
    ours = bundles[ref.key] if ref is not None else None
    for fmt, job in faker_jobs.items():
        entry = summarise(job.samples)
        entry["error"] = job.error
        entry["what"] = FAKER_NOTES[fmt]
        if ours and ours.get("lines_per_s") and entry.get("lines_per_s"):
            entry["ours_lines_per_s"] = ours["lines_per_s"]
            entry["ratio"] = ours["lines_per_s"] / entry["lines_per_s"]
            solo = bundles.get(f"{ref.key}{ONE_PROCESS}") if ref is not None else None
            if solo and solo.get("lines_per_s"):  # faker runs in one process: per core too
                entry["ours_one_process_lines_per_s"] = solo["lines_per_s"]
                entry["ratio_one_process"] = solo["lines_per_s"] / entry["lines_per_s"]
        faker[fmt] = entry
    if ref is not None:
        faker["reference_case"] = ref.key

    report: dict[str, Any] = {
        "schema": 1,
        "mode": "quick" if args.quick else "full",
        "args": {k: v for k, v in vars(args).items() if k != "func"},
        "scenario": args.scenario,
        "seed": args.seed,
        "env": env,
        "import": summarise(import_job.samples),
        "bundles": bundles,
        "streams": per_stream,
        "scaling": scaling,
        "faker": faker,
        "workflow": workflow,
        "profile": profile,
    }
    # The engine of the main cases: what their workers reported (forced cases excluded).
    main_samples = [
        smp for c in cases if c.engine is None for smp in bundle_jobs[c.key].samples
    ] + [smp for job in stream_jobs.values() for smp in job.samples]
    main = engine_of(main_samples)
    probe = probe or {}
    report["engine"] = {
        "main": main,
        "description": describe_engine(main),
        "requested": probe.get("requested"),
        "native_available": probe.get("native_available"),
        "probe": probe,
        "python_case_skipped": python_case_skipped(args, probe, ref),
        "speedup": engine_speedup(bundles, ref.key) if ref is not None else None,
    }
    report["targets"] = targets(report, cases)
    return report


def engine_speedup(bundles: dict[str, Any], ref_key: str) -> dict[str, Any] | None:
    """generate s of the one-process Python-engine case / that of the default one.

    None when the Python-engine case was not planned; a ``note`` instead of a ``ratio``
    when it (or its partner) failed or ran another engine than its name says.
    """
    py_key, native_key = f"{ref_key}{ONE_PROCESS_PY}", f"{ref_key}{ONE_PROCESS}"
    py, native = bundles.get(py_key), bundles.get(native_key)
    if py is None:
        return None
    out: dict[str, Any] = {
        "python_case": py_key,
        "native_case": native_key,
        "python_s": py.get("seconds"),
        "native_s": native.get("seconds") if native else None,
        "python_engine": py.get("engine"),
        "native_engine": native.get("engine") if native else None,
        "ratio": None,
    }
    if not out["python_s"] or not out["native_s"]:
        out["note"] = "not measured: a one-process case failed"
    elif out["python_engine"] != "python" or out["native_engine"] != "native":
        out["note"] = (
            f"not measured: `{native_key}` ran {out['native_engine']}, "
            f"`{py_key}` ran {out['python_engine']}"
        )
    else:
        out["ratio"] = out["python_s"] / out["native_s"]
    return out


def speedup_line(engine: dict[str, Any]) -> str:
    """The report's one line on the compiled core's speed-up (informative, no target)."""
    sp = engine.get("speedup")
    head = "**Compiled-core speed-up** (informative, no target):"
    if sp is None:
        return f"{head} not measured: {engine.get('python_case_skipped') or 'no reference bundle'}."
    if sp.get("ratio") is None:
        return f"{head} {sp.get('note')}."
    return (
        f"{head} generate s of `{sp['python_case']}` (python engine) "
        f"{fmt_num(sp['python_s'])} / `{sp['native_case']}` (native) "
        f"{fmt_num(sp['native_s'])} = **{sp['ratio']:.2f}×**, measured in this run."
    )


def _case(report: dict[str, Any], cases: list[Case], pred: Callable[[Case], bool]) -> Any:
    for c in cases:
        if pred(c):
            return report["bundles"][c.key]
    return None


def targets(report: dict[str, Any], cases: list[Case]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float | None, limit: float, unit: str, lower: bool = True) -> None:
        rows.append(
            {
                "target": name,
                "value": value,
                "limit": limit,
                "unit": unit,
                "op": "<=" if lower else ">=",
                "result": verdict(value, limit, lower),
            }
        )

    b100 = _case(report, cases, lambda c: c.kind == "size" and c.requests == 100_000)
    if b100 is not None and b100.get("minutes") != 30:
        b100 = None
    g = (lambda k: b100.get(k)) if b100 else (lambda k: None)
    add(
        "100k req / 30 min bundle, end to end (fresh process)", g("process_s"), T_BUNDLE_100K_S, "s"
    )
    add("100k req / 30 min bundle, generate_bundle() call", g("seconds"), T_BUNDLE_100K_S, "s")
    add("100k req / 30 min bundle, lines/s", g("lines_per_s"), T_LINES_PER_S, "lines/s", False)
    add("100k req / 30 min bundle, x raw-write floor", g("floor_ratio"), T_FLOOR_RATIO, "x")
    one = _case(
        report,
        cases,
        lambda c: c.kind == "one-process" and c.engine is None and c.requests == 100_000,
    )
    if one is not None and one.get("minutes") == 30:
        # The same bundle in one process: what each core of a suite build delivers.
        add(
            "100k req / 30 min bundle, one process, generate_bundle()",
            one["seconds"],
            T_BUNDLE_100K_S,
            "s",
        )
        add(
            "100k req / 30 min bundle, one process, lines/s",
            one.get("lines_per_s"),
            T_LINES_PER_S,
            "lines/s",
            False,
        )
        add(
            "100k req / 30 min bundle, one process, x raw-write floor",
            one.get("floor_ratio"),
            T_FLOOR_RATIO,
            "x",
        )
    every = _case(report, cases, lambda c: c.kind == "modalities")
    if every is not None and every.get("minutes") == 30:
        add(
            "100k req / 30 min bundle, every modality, end to end (fresh process)",
            every["process_s"],
            T_BUNDLE_100K_S,
            "s",
        )
    v0 = _case(report, cases, lambda c: c.kind == "v0")
    add("default v0 bundle (rps 2, 30 min), end to end", v0 and v0["process_s"], T_V0_S, "s")
    add("default v0 bundle (rps 2, 30 min), generate_bundle()", v0 and v0["seconds"], T_V0_S, "s")
    steps = report["workflow"].get("steps", {})
    add(
        "snakemake all from scratch",
        steps.get("scratch", {}).get("seconds"),
        T_WF_SCRATCH_S,
        "s",
    )
    add("snakemake no-op rerun", steps.get("noop", {}).get("seconds"), T_WF_NOOP_S, "s")
    for c in cases:
        if c.engine is None:  # a forced engine is informative only
            add(f"peak RSS, {c.label}", report["bundles"][c.key]["peak_rss_mb"], T_RSS_MB, "MB")
    if report["scaling"]:
        last = report["scaling"][-1]
        add(
            f"time({last['to']})/time({last['from']})",
            last["time_ratio"],
            last["limit"],
            "x",
        )
    else:
        add("time(1M)/time(100k)", None, T_SCALING_SLACK * 10, "x")
    for fmt in FAKER_FORMATS:
        entry = report["faker"].get(fmt, {})
        add(
            f"x faker-observability-provider {fmt} lines/s",
            entry.get("ratio"),
            T_FAKER_RATIO,
            "x",
            False,
        )
    return rows


def fmt_num(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    if isinstance(v, float):
        if abs(v) >= 10_000:
            return f"{v:,.0f}"
        if abs(v) >= 100:
            return f"{v:.1f}"
        return f"{v:.{digits}g}" if abs(v) < 1 else f"{v:.{digits}f}".rstrip("0").rstrip(".")
    return str(v)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for r in rows:
        out.append("| " + " | ".join(fmt_num(x) if not isinstance(x, str) else x for x in r) + " |")
    return "\n".join(out)


def _busy_warning(env: dict[str, Any]) -> list[str]:
    """A warning when other work shared the machine: 1-min load beyond our one busy process
    reached half the CPUs."""
    cpus = env.get("cpu_affinity") or env.get("cpu_count") or 1
    load = max(env["loadavg_start"][0], env["loadavg_end"][0])
    if load - 1 < 0.5 * cpus:
        return []
    return [
        f"**Busy machine:** 1-min load average reached {load:.2f} on {cpus} CPUs while this ran "
        "(the harness itself accounts for about 1). Absolute times are pessimistic and noisy; the ratios "
        "measured within this run are the numbers to compare.",
        "",
    ]


def engine_header(engine: dict[str, Any]) -> str:
    """'native (compiled core rca/seed/_simcore.c)', plus what chose it when not default."""
    text = describe_engine(engine.get("main"))
    notes = []
    if engine.get("requested"):
        notes.append(f"{ENGINE_ENV}={engine['requested']}")
    if engine.get("native_available") is False:
        stale = (engine.get("probe") or {}).get("stale")
        notes.append("compiled core stale" if stale else "compiled core not built")
    return text + (f" [{'; '.join(notes)}]" if notes else "")


def to_markdown(rep: dict[str, Any]) -> str:
    env = rep["env"]
    lines = [
        "# rca-mock-incidents benchmarks",
        "",
        f"{env['timestamp_utc']} · mode **{rep['mode']}** · scenario `{rep['scenario']}` seed "
        f"{rep['seed']} · commit `{(env['git_commit'] or '?')[:12]}`"
        + (f" (+{env['git_dirty_files']} modified files)" if env.get("git_dirty_files") else "")
        + f" · source `{env['source_digest'][:12]}`"
        + ("" if env.get("source_snapshot") else " (live tree)")
        + f" · Python {env['python']} ({env['implementation']}) · {env['cpu_count']} CPUs "
        f"{env['cpu_model'] or ''} · {env['platform']} · load {env['loadavg_start'][0]:.2f} → "
        f"{env['loadavg_end'][0]:.2f} · harness {env['harness_seconds']:.0f} s · "
        f"simulation engine: {engine_header(rep.get('engine') or {})}",
        "",
        *_busy_warning(env),
        "Medians of N fresh-process runs, runs of all cases interleaved. *generate s* = the "
        "`generate_bundle()` call alone; *process s* = the whole process (interpreter start, "
        "imports, generation, exit). *processes* = processes rendering the bundle (the "
        "generator splits bundles of 20k+ requests over up to 3 CPUs; `-1p` rows force one, "
        "`-1p-py` also forces the pure-Python simulation engine); "
        "*CPU s* = user + system time of all of them (*of which sys*: the kernel's part). lines = lines of the five log streams. "
        "MB = 10^6 bytes; peak RSS = max over runs of `ru_maxrss` (`os.wait4`), summed over "
        "the processes of a split bundle.",
        "",
        "## Targets",
        "",
    ]
    trows = []
    for t in rep["targets"]:
        trows.append(
            [
                t["target"],
                fmt_num(t["value"]),
                f"{t['op']} {fmt_num(t['limit'])} {t['unit']}",
                t["result"],
            ]
        )
    lines += [table(["target", "measured", "limit", "result"], trows), ""]

    imp = rep["import"]
    lines += [
        "## Bundles",
        "",
        f"Interpreter start + `import rca.seed.mock_incident_generator`: process "
        f"{fmt_num(imp['process_s'])} s (import alone {fmt_num(imp.get('import_s'))} s), "
        f"peak RSS {fmt_num(imp['peak_rss_mb'])} MB.",
        "",
    ]
    engines = {b.get("engine") for b in rep["bundles"].values() if b.get("engine")}
    per_row = len(engines) > 1 or any(str(e).startswith("mixed") for e in engines)
    rows = []
    for key, b in rep["bundles"].items():
        spread = (
            f"{fmt_num(b['seconds_min'])}–{fmt_num(b['seconds_max'])}"
            if b["seconds"] is not None
            else (b.get("error") or "-").splitlines()[0]
        )
        rows.append(
            [
                key,
                b["minutes"],
                round(b["rps"], 3),
                b["requests_nominal"],
                b.get("workers"),
                *([b.get("engine") or "-"] if per_row else []),
                b["runs"],
                b["seconds"],
                spread,
                b.get("cpu_s"),
                b.get("sys_s"),
                b["process_s"],
                b.get("lines"),
                None if b.get("bytes") is None else b["bytes"] / MB,
                b.get("lines_per_s"),
                b.get("mb_per_s"),
                b["peak_rss_mb"],
            ]
        )
    lines += [
        table(
            [
                "case",
                "min",
                "rps",
                "requests",
                "processes",
                *(["engine"] if per_row else []),
                "runs",
                "generate s",
                "min–max",
                "CPU s",
                "of which sys",
                "process s",
                "lines",
                "MB",
                "lines/s",
                "MB/s",
                "peak RSS MB",
            ],
            rows,
        ),
        "",
        speedup_line(rep.get("engine") or {}),
        "",
        "## Raw-write floor (same bytes, same chunk sizes, same order, same filesystem)",
        "",
    ]
    rows = []
    for key, b in rep["bundles"].items():
        f = b.get("floor")
        if not f:
            continue
        rows.append(
            [
                key,
                f.get("bytes") and f["bytes"] / MB,
                f.get("writes"),
                f["runs"],
                f["seconds"],
                f["seconds"] and f["bytes"] / MB / f["seconds"],
                b["seconds"],
                b.get("floor_ratio"),
            ]
        )
    lines += [
        table(
            ["case", "MB", "writes", "runs", "floor s", "floor MB/s", "generate s", "× floor"], rows
        )
        if rows
        else "_no floor measured_",
        "",
    ]

    if rep["streams"]:
        lines += ["## Per stream (`generate_stream()` of one stream alone, fresh process)", ""]
        rows = []
        for key, entries in rep["streams"].items():
            for name, e in entries.items():
                rows.append(
                    [
                        key,
                        name,
                        e.get("runs"),
                        e.get("seconds"),
                        e.get("lines"),
                        None if e.get("bytes") is None else e["bytes"] / MB,
                        e.get("lines_per_s"),
                        e.get("mb_per_s"),
                        e.get("peak_rss_mb"),
                    ]
                )
            b = rep["bundles"][key]
            rows.append(
                [
                    key,
                    "**whole bundle**",
                    b["runs"],
                    b["seconds"],
                    b.get("lines"),
                    None if b.get("bytes") is None else b["bytes"] / MB,
                    b.get("lines_per_s"),
                    b.get("mb_per_s"),
                    b["peak_rss_mb"],
                ]
            )
        lines += [
            table(
                ["case", "stream", "runs", "s", "lines", "MB", "lines/s", "MB/s", "peak RSS MB"],
                rows,
            ),
            "",
            "_(simulation only)_ = `run_pass(request, ())`: the shared discrete-event pass with no "
            "renderer; every stream alone re-runs it.",
            "",
        ]

    lines += ["## Scaling (30-min bundles, generate s)", ""]
    if rep["scaling"]:
        rows = [
            [
                f"{s['from']} → {s['to']}",
                s["size_ratio"],
                s["time_ratio"],
                f"<= {fmt_num(s['limit'])}",
                s["result"],
                s.get("user_cpu_ratio"),
                " → ".join(fmt_num(v) for v in s.get("sys_s") or ()),
                s.get("floor_ratio"),
            ]
            for s in rep["scaling"]
        ]
        headers = ["sizes", "size ratio", "time ratio", "limit", "result"]
        headers += ["user CPU ratio", "sys s", "raw-write floor ratio"]
        lines += [
            table(headers, rows),
            "",
            "Informative: *user CPU ratio* is the generator's own CPU time, without the "
            "kernel's (*sys s*: mostly copying the output into the page cache, whose cost per "
            "byte can grow with the volume written); *raw-write floor ratio* is the same ratio "
            "for writing the same bytes and nothing else.",
            "",
        ]
    else:
        lines += ["_fewer than two sizes measured_", ""]

    fk = rep["faker"]
    lines += ["## faker-observability-provider (same number of lines, same 512-line chunks)", ""]
    if fk.get("note"):
        lines += [f"_{fk['note']}_", ""]
    rows = []
    for fmt in FAKER_FORMATS:
        e = fk.get(fmt)
        if not e:
            continue
        rows.append(
            [
                f"`{fmt}`",
                e["what"],
                e.get("version"),
                e.get("lines"),
                e["runs"],
                e["seconds"],
                e.get("lines_per_s"),
                e.get("ours_lines_per_s"),
                e.get("ratio"),
                e.get("ratio_one_process"),
            ]
        )
    if rows:
        lines += [
            f"Compared with bundle `{fk.get('reference_case')}`.",
            "",
            table(
                [
                    "format",
                    "what",
                    "version",
                    "lines",
                    "runs",
                    "s",
                    "lines/s",
                    "ours lines/s",
                    "ours ÷ theirs",
                    "ours in one process ÷ theirs",
                ],
                rows,
            ),
            "",
        ]

    wf = rep["workflow"]
    lines += ["## Workflow (snakemake)", ""]
    if "skipped" in wf:
        lines += [f"_skipped: {wf['skipped']}_", ""]
    else:
        lines += [
            f"`{wf['command']}`. {wf['setup']}. Threshold edit: {wf['threshold_edit']}.",
            "",
        ]
        rows = []
        for name, s in wf["steps"].items():
            rows.append(
                [
                    name,
                    s.get("jobs"),
                    s["runs"],
                    s["seconds"],
                    s["seconds_min"],
                    s["seconds_max"],
                    s["peak_rss_mb"],
                ]
            )
        lines += [
            table(
                ["step", "jobs run", "runs", "s", "min", "max", "peak RSS MB (main process)"], rows
            ),
            "",
        ]
        for err in wf.get("errors", []):
            lines += ["```", err, "```", ""]

    prof = rep.get("profile")
    if prof:
        lines += [
            f"## Profile (cProfile of `{prof['case']}`, by tottime; full list in "
            f"`{Path(prof['file']).name}`)",
            "",
            f"Simulation engine: {describe_engine(prof.get('engine'))}.",
            "",
            f"Under the profiler: {fmt_num(prof['profiled_seconds'])} s (cProfile inflates "
            "per-call costs; use the shares, not the seconds). Own time by file:",
            "",
            table(
                ["file", "tottime s", "share"],
                [
                    [r["file"], r["tottime_s"], f"{100 * (r['share'] or 0):.1f}%"]
                    for r in prof["by_file"][:12]
                ],
            ),
            "",
            "Top functions by own time:",
            "",
        ]
        rows = [
            [
                r["function"],
                r["calls"],
                r["tottime_s"],
                r["cumtime_s"],
                f"{100 * r['share']:.1f}%" if r["share"] is not None else "-",
            ]
            for r in prof["top"][:15]
        ]
        lines += [table(["function", "calls", "tottime s", "cumtime s", "share"], rows), ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------- CLI
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure bundle generation speed, memory and scaling on this machine.",
    )
    p.add_argument("--quick", action="store_true", help="reduced set for smoke testing (< 60 s)")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"), help="output directory")
    p.add_argument("--scenario", default=SCENARIO)
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--minutes", type=int, default=30, help="window of the sized bundles")
    p.add_argument(
        "--sizes",
        type=lambda s: [int(float(x)) for x in s.split(",")],
        help="request counts per window, comma-separated (default 10k,100k,1M; quick 1k,10k)",
    )
    p.add_argument(
        "--repeats", type=int, help="runs of each case <= 100k requests (default 5; quick 2)"
    )
    p.add_argument(
        "--repeats-large", type=int, help="runs of cases > 100k requests (default 5; quick 1)"
    )
    p.add_argument(
        "--repeats-day", type=int, default=None, help="runs of the 24-hour case (default 1)"
    )
    p.add_argument("--day-minutes", type=int, default=1440)
    p.add_argument("--day-rps", type=float, default=5.0)
    p.add_argument(
        "--skip-day", action="store_true", help="skip the long-window case (quick skips it)"
    )
    p.add_argument(
        "--floor-max",
        type=int,
        default=1_000_000,
        help="measure the raw-write floor for sized cases up to this many requests "
        "(the scaling table compares the floors too)",
    )
    p.add_argument(
        "--streams-max",
        type=int,
        default=100_000,
        help="measure per-stream times for sized cases up to this many requests",
    )
    p.add_argument("--skip-streams", action="store_true")
    p.add_argument(
        "--skip-one-process",
        action="store_true",
        help="do not also measure the reference bundle forced into one process",
    )
    p.add_argument(
        "--skip-python-engine",
        action="store_true",
        help="do not also measure the one-process reference bundle on the Python engine",
    )
    p.add_argument("--skip-faker", action="store_true")
    p.add_argument(
        "--faker-lines", type=int, help="lines per faker run (default: the reference bundle's)"
    )
    p.add_argument("--faker-repeats", type=int, help="runs per faker format (default 3; quick 1)")
    p.add_argument("--skip-workflow", action="store_true")
    p.add_argument(
        "--workflow-repeats", type=int, help="from-scratch/no-op/edit cycles (default 3; quick 1)"
    )
    p.add_argument("--cores", type=int, default=4, help="snakemake --cores")
    p.add_argument(
        "--repo-root", default=str(REPO), help="repository whose workflow is copied and run"
    )
    p.add_argument("--profile", action="store_true", help="also cProfile the reference bundle")
    p.add_argument("--profile-top", type=int, default=40)
    p.add_argument("--scratch", help="parent directory for scratch output (default: system temp)")
    p.add_argument("--keep-scratch", action="store_true")
    p.add_argument(
        "--no-snapshot",
        action="store_true",
        help="run the live work tree instead of a copy taken at start-up",
    )
    p.add_argument("--check", action="store_true", help="exit 1 when a measured target fails")
    args = p.parse_args(argv)
    quick = args.quick
    if args.sizes is None:
        args.sizes = [1_000, 10_000] if quick else [10_000, 100_000, 1_000_000]
    args.sizes = sorted(set(args.sizes))
    if args.repeats is None:
        args.repeats = 2 if quick else 5
    if args.repeats_large is None:
        args.repeats_large = 1 if quick else 5
    if args.repeats_day is None:
        args.repeats_day = 1
    if args.faker_repeats is None:
        args.faker_repeats = 1 if quick else 3
    if args.workflow_repeats is None:
        args.workflow_repeats = 1 if quick else 3
    if quick:
        args.skip_day = True
    for n in args.sizes:
        rps = n / (args.minutes * 60)
        if not 0 < rps <= 2000:
            p.error(
                f"--sizes {n} over {args.minutes} min is rps {rps:.1f}; the generator allows 0 < rps <= 2000"
            )
    return args


def write_outputs(report: dict[str, Any], out: Path) -> tuple[Path, Path, str]:
    out.mkdir(parents=True, exist_ok=True)
    md = to_markdown(report)
    md_path = out / "latest.md"
    json_path = out / "latest.json"
    md_path.write_text(md + "\n")
    json_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return md_path, json_path, md


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    md_path, json_path, md = write_outputs(report, Path(args.out))
    print(md)
    log(f"wrote {md_path} and {json_path}")
    if args.check and any(t["result"] == "FAIL" for t in report["targets"]):
        return 1
    return 0
