"""A bundle as an RCAEval case: the metrics as one wide time series per service.

RCAEval (https://github.com/phamquiluan/RCAEval) runs its metric-based methods (BARO,
N-Sigma, CIRCA, RCD ...) on a case directory holding ``data.csv``, a ``time`` column of
Unix seconds followed by one numeric column per ``<service>_<metric>``, and
``inject_time.txt``, the Unix second the fault began (methods split normal and
anomalous data there). RCAEval ranks the columns; its service-level accuracy takes the
part of a column's name before the first ``_`` as the service. The service names here
(``orders-api``, ``orders-db``) hold no ``_``.

Each column is computed from the bundle's ``metrics_openmetrics.txt`` on a 15 s grid
(the scrape interval), from the last sample each series has at or before each grid
instant: gauges are summed or maximised over the series of the service, counters become
per-second rates over the step (a restarted process's counter starting again counts from
zero), and mean latencies are the step's increase of a duration sum over that of its
count. Every root-cause component of the scenarios is a column's service
(:data:`SERVICE_OF_LAYER`), so every root cause is rankable.

The label stays in the bundle: a case holds no answer beyond ``inject_time.txt``, the
input RCAEval's methods take (a negative control, with no fault, has none).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rca.seed._bundle import _atomic_write
from rca.seed._timefmt import from_datetime
from rca.seed.mock_incident_generator import (
    ALL_STREAM_FILES,
    GROUND_TRUTH_FILE,
    MANIFEST_FILE,
    GenerationError,
    GroundTruth,
    Manifest,
    require_stream,
)

STEP_S = 15
METRICS_FILE = ALL_STREAM_FILES["metrics"]
DATA_FILE = "data.csv"
INJECT_FILE = "inject_time.txt"
# The service a label's root-cause layer names (the OOM-killed containers, the rollout,
# the pool are orders-api's; the slow plan and the lock are the database's).
SERVICE_OF_LAYER = {
    "ui": "web",
    "mesh": "orders-api",
    "api": "orders-api",
    "k8s": "orders-api",
    "db": "orders-db",
}

Labels = dict[str, str]
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+) (\d+)\.(\d{3})$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Column:
    """One ``<service>_<metric>`` column: which samples, and how they become a number."""

    name: str
    family: str  # the sample name read
    how: str  # sum | max (gauges), rate (counter per second), mean_ms (sum over count)
    where: Callable[[Labels], bool] = lambda _labels: True
    count: str = ""  # mean_ms: the count family beside ``family`` (a sum)
    scale: float = 1.0


def _code_5xx(labels: Labels) -> bool:
    return labels.get("response_code", "").startswith("5")


def _shop_db(state: str) -> Callable[[Labels], bool]:
    return lambda labels: labels.get("datname") == "shop" and labels.get("state") == state


COLUMNS: tuple[Column, ...] = (
    Column("orders-api_request", "istio_requests_total", "rate"),
    Column("orders-api_error", "istio_requests_total", "rate", _code_5xx),
    Column(
        "orders-api_latency",
        "istio_request_duration_milliseconds_sum",
        "mean_ms",
        count="istio_request_duration_milliseconds_count",
    ),
    Column(
        "orders-api_server-latency",
        "http_server_requests_seconds_sum",
        "mean_ms",
        count="http_server_requests_seconds_count",
        scale=1000.0,
    ),
    Column("orders-api_cpu", "container_cpu_usage_seconds_total", "rate"),
    Column("orders-api_mem", "container_memory_working_set_bytes", "max"),
    Column("orders-api_heap", "jvm_memory_used_bytes", "max"),
    Column("orders-api_restart", "kube_pod_container_status_restarts_total", "rate"),
    Column("orders-api_ready", "kube_deployment_status_replicas_available", "sum"),
    Column("orders-api_pool-active", "hikaricp_connections_active", "sum"),
    Column("orders-api_pool-pending", "hikaricp_connections_pending", "sum"),
    Column("orders-api_pool-timeout", "hikaricp_connections_timeout_total", "rate"),
    Column(
        "orders-api_pool-acquire",
        "hikaricp_connections_acquire_seconds_sum",
        "mean_ms",
        count="hikaricp_connections_acquire_seconds_count",
        scale=1000.0,
    ),
    Column(
        "orders-db_latency",
        "pg_stat_statements_seconds_total",
        "mean_ms",
        count="pg_stat_statements_calls_total",
        scale=1000.0,
    ),
    Column("orders-db_calls", "pg_stat_statements_calls_total", "rate"),
    Column("orders-db_active", "pg_stat_activity_count", "sum", _shop_db("active")),
    Column(
        "orders-db_idle-in-tx", "pg_stat_activity_count", "sum", _shop_db("idle in transaction")
    ),
    Column("orders-db_idle", "pg_stat_activity_count", "sum", _shop_db("idle")),
)


def _unescape(value: str) -> str:
    return value.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


def read_samples(path: Path) -> Iterator[tuple[str, Labels, float, int]]:
    """(name, labels, value, instant µs) of every sample of a bundle's metrics file."""
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            m = _SAMPLE.match(line.rstrip("\n"))
            if m is None:
                raise GenerationError("INVALID_PARAMETER", f"{path}: not a sample: {line[:80]!r}")
            name, labels, value, sec, ms = m.groups()
            parsed = {k: _unescape(v) for k, v in _LABEL.findall(labels or "")}
            yield name, parsed, float(value), int(sec) * 1_000_000 + int(ms) * 1000


def _us(text: str) -> int:
    return from_datetime(datetime.fromisoformat(text.replace("Z", "+00:00")))


def case_frame(bundle: Path) -> tuple[list[int], dict[str, list[float]]]:
    """The grid (Unix seconds) and every column's values on it."""
    manifest = Manifest.model_validate_json((bundle / MANIFEST_FILE).read_bytes())
    require_stream(manifest, "metrics", bundle)
    start, end = _us(manifest.window_start), _us(manifest.window_end)
    step = STEP_S * 1_000_000
    grid = list(range(start + step, end + 1, step))
    wanted = {c.family for c in COLUMNS} | {c.count for c in COLUMNS if c.count}
    # family -> series (labels as a sorted tuple) -> [(t, value)] in time order
    series: dict[str, dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for name, labels, value, t in read_samples(bundle / METRICS_FILE):
        if name in wanted:
            series[name][tuple(sorted(labels.items()))].append((t, value))
    frame = {c.name: _column(c, series, grid) for c in COLUMNS}
    return [t // 1_000_000 for t in grid], frame


def _at_grid(points: list[tuple[int, float]], grid: list[int]) -> list[float | None]:
    """Each grid instant's last sample at or before it (None before the first)."""
    out: list[float | None] = []
    i, last = 0, None
    for t in grid:
        while i < len(points) and points[i][0] <= t:
            last = points[i][1]
            i += 1
        out.append(last)
    return out


def _increase(values: list[float | None]) -> list[float]:
    """Per-step increase of a counter; a reset (a new process) counts from zero."""
    out, prev = [], None
    for v in values:
        if v is None:
            out.append(0.0)
        elif prev is None:
            out.append(0.0)  # the series' first value: what came before is unknown
        else:
            out.append(v - prev if v >= prev else v)
        prev = v if v is not None else prev
    return out


def _column(
    c: Column,
    series: dict[str, dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]],
    grid: list[int],
) -> list[float]:
    chosen = [pts for key, pts in series.get(c.family, {}).items() if c.where(dict(key))]
    if c.how in ("sum", "max"):
        rows = [_at_grid(pts, grid) for pts in chosen]
        out = []
        for j in range(len(grid)):
            present = [v for r in rows if (v := r[j]) is not None]
            value = (sum(present) if c.how == "sum" else max(present)) if present else 0.0
            out.append(float(value))
        return out
    if c.how == "rate":
        steps = [_increase(_at_grid(pts, grid)) for pts in chosen]
        return [sum(s[j] for s in steps) / STEP_S for j in range(len(grid))]
    # mean_ms: increase of the sum over the increase of the count, series by series
    counts = {key: pts for key, pts in series.get(c.count, {}).items() if c.where(dict(key))}
    sums = [0.0] * len(grid)
    ns = [0.0] * len(grid)
    for key, pts in series.get(c.family, {}).items():
        if key not in counts:
            continue
        ds, dn = _increase(_at_grid(pts, grid)), _increase(_at_grid(counts[key], grid))
        for j in range(len(grid)):
            sums[j] += ds[j]
            ns[j] += dn[j]
    out, last = [], 0.0
    for s, n in zip(sums, ns, strict=True):
        if n > 0:
            last = s / n * c.scale
        out.append(last)  # no request in the step: the last mean carries on
    return out


def inject_time(bundle: Path) -> int | None:
    """The Unix second of the fault's onset (the label's), None for a negative control."""
    truth = GroundTruth.model_validate_json((bundle / GROUND_TRUTH_FILE).read_bytes())
    if not truth.incident or truth.incident_window is None:
        return None
    return _us(truth.incident_window.onset) // 1_000_000


def root_cause_service(bundle: Path) -> str | None:
    truth = GroundTruth.model_validate_json((bundle / GROUND_TRUTH_FILE).read_bytes())
    return SERVICE_OF_LAYER[truth.root_cause_layer] if truth.root_cause_layer else None


def _fmt(value: float) -> str:
    if math.isfinite(value) and value == int(value):
        return str(int(value))
    return f"{value:.6g}"


def export_rcaeval(bundle: Path, out: Path) -> Path:
    """Write ``out/<bundle id>/`` (data.csv, inject_time.txt); return the directory."""
    bundle = Path(bundle)
    times, frame = case_frame(bundle)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["time", *frame])
    for j, t in enumerate(times):
        writer.writerow([t, *(_fmt(values[j]) for values in frame.values())])
    case = Path(out) / bundle.resolve().name
    case.mkdir(parents=True, exist_ok=True)
    _write(case, DATA_FILE, buf.getvalue().encode())
    onset = inject_time(bundle)
    if onset is not None:
        _write(case, INJECT_FILE, f"{onset}\n".encode())
    return case


def _write(directory: Path, name: str, data: bytes) -> None:
    """Through an exclusive temporary file renamed over the old one (never half-written,
    no planted symlink followed): the generator's own writer."""
    _atomic_write(directory / name, lambda f: f.write(data))


# ---------------------------------------------------------------------- evaluation
# RCAEval's methods this project runs (their dependencies install from PyPI):
# BARO (Bayesian online change point + robust scores) and N-Sigma.
METHODS = ("baro", "nsigma")


@dataclass(frozen=True)
class CaseResult:
    scenario: str
    method: str
    ranks: tuple[str, ...]  # the columns, best first
    answer: str  # the root-cause service


def run_method(case: Path, method: str) -> tuple[str, ...]:
    """RCAEval's ``method``, unmodified, on an exported case: its column ranking."""
    import pandas as pd

    # RCAEval.e2e.baro (BARO), RCAEval.e2e (N-Sigma lives in the package itself).
    where = {"baro": "RCAEval.e2e.baro", "nsigma": "RCAEval.e2e"}[method]
    module = _import_rcaeval(where)
    data = pd.read_csv(case / DATA_FILE)
    onset = int((case / INJECT_FILE).read_text())
    result = getattr(module, method)(data, inject_time=onset, dataset="rca-mock")
    return tuple(result["ranks"])


def _import_rcaeval(name: str) -> Any:
    """Import an RCAEval module without its side effects on this process: importing
    RCAEval.e2e restyles every later matplotlib figure (rcd.py calls
    ``plt.style.use("fivethirtyeight")``), which would change ``rca-mock plot``."""
    import importlib

    import matplotlib

    with matplotlib.rc_context():
        return importlib.import_module(name)


def evaluate(results: list[CaseResult], k_max: int = 5) -> dict[tuple[str, str], dict[str, float]]:
    """Service-level AC@1, AC@3, Avg@5 per (method, scenario), by RCAEval's Evaluator
    (a column's service is the part of its name before the first ``_``)."""
    Evaluator = _import_rcaeval("RCAEval.benchmark.evaluation").Evaluator
    Node = _import_rcaeval("RCAEval.classes.graph").Node

    groups: dict[tuple[str, str], list[CaseResult]] = defaultdict(list)
    for r in results:
        groups[(r.method, r.scenario)].append(r)
    table = {}
    for key, rs in sorted(groups.items()):
        ev = Evaluator(max_k=k_max)
        for r in rs:
            nodes = [Node(*col.split("_", 1)) for col in r.ranks]
            ev.add_case(nodes, Node(r.answer, ""), n_candidates=len(nodes))
        table[key] = {
            "cases": ev.num,
            "AC@1": ev.accuracy_service(1),
            "AC@3": ev.accuracy_service(3),
            "Avg@5": ev.average_service(5),
        }
    return table
