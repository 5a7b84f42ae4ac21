"""A bundle as OTLP/JSON: ``rca-mock export --format otlp BUNDLE OUT``.

Writes ``OUT/<bundle id>/`` with one file per signal, each line one export request as
the OpenTelemetry Collector's file exporter writes them (the protobuf JSON mapping, with
trace and span ids as hex, as OTLP/JSON prescribes):

- ``logs.jsonl``: ``ExportLogsServiceRequest``s, a line per stream and 512 records. A
  record is a log entry (a stack trace's lines stay in their entry), stamped with the
  instant its line prints, under the resource of the component that wrote it;
- ``metrics.jsonl`` (a bundle with metrics): ``ExportMetricsServiceRequest``s, a line per
  metric family. Gauges, cumulative sums (monotonic counters), histograms (per-bucket
  counts and explicit bounds) and summaries (count, sum), each series a data point per
  scrape, its labels as attributes;
- ``traces.jsonl`` (a bundle with traces): the bundle's ``traces_otlp.jsonl``, as it is.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from rca.seed._bundle import _atomic_write
from rca.seed._formats import _API_START, _PG_START
from rca.seed.mock_incident_generator import (
    ALL_STREAM_FILES,
    MANIFEST_FILE,
    STREAM_FILES,
    Manifest,
)

from .rcaeval import read_samples

BATCH = 512
# The service each log stream is the output of (its OTLP resource).
LOG_SERVICES = {
    "ui": "web",
    "api": "orders-api",
    "db": "orders-db",
    "k8s": "kubernetes",
    "mesh": "web.shop",
}
TEMPORALITY_CUMULATIVE = 2  # AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE


def _attrs(labels: dict[str, str]) -> list[dict[str, Any]]:
    return [{"key": k, "value": {"stringValue": v}} for k, v in sorted(labels.items())]


def _records(bundle: Path, stream: str, year: int, near: datetime) -> Iterator[tuple[int, str]]:
    """(instant ns, text) of each entry of a log stream; continuation lines join the
    entry they continue."""
    from rca.eval.evidence import line_instant

    # Where an entry begins: the generator's own definition (its manifests' counts).
    begins = {"db": _PG_START, "api": _API_START}.get(stream)
    text: list[str] = []
    at = 0
    with (bundle / STREAM_FILES[stream]).open(encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            when = line_instant(stream, line, year, near=near)
            if begins is not None and not begins.match(b"\n" + line.encode()):
                when = None  # DETAIL:, STATEMENT:, a stack frame: the entry goes on
            if when is None and text:
                text.append(line)
                continue
            if text:
                yield at, "\n".join(text)
            moment = when or near
            at = (int(moment.timestamp()) * 1_000_000 + moment.microsecond) * 1000
            text = [line]
    if text:
        yield at, "\n".join(text)


def _log_lines(bundle: Path, manifest: Manifest) -> Iterator[str]:
    start = datetime.fromisoformat(manifest.window_start.replace("Z", "+00:00"))
    for stream, service in LOG_SERVICES.items():
        resource = {"attributes": _attrs({"service.name": service})}
        batch: list[dict[str, Any]] = []

        def flush(batch: list[dict[str, Any]], resource: dict[str, Any] = resource) -> str:
            return json.dumps(
                {
                    "resourceLogs": [
                        {
                            "resource": resource,
                            "scopeLogs": [{"scope": {"name": "rca-mock"}, "logRecords": batch}],
                        }
                    ]
                },
                separators=(",", ":"),
            )

        for at, text in _records(bundle, stream, start.year, start):
            batch.append(
                {
                    "timeUnixNano": str(at),
                    "observedTimeUnixNano": str(at),
                    "body": {"stringValue": text},
                    "attributes": _attrs({"log.file.name": STREAM_FILES[stream]}),
                }
            )
            if len(batch) == BATCH:
                yield flush(batch)
                batch = []
        if batch:
            yield flush(batch)


def _families(path: Path) -> dict[str, str]:
    """Metric family -> its OpenMetrics type, from the file's TYPE lines."""
    found = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split()
                found[name] = kind
    return found


def _family_of(name: str, families: dict[str, str]) -> tuple[str, str]:
    for suffix in ("_total", "_bucket", "_count", "_sum", ""):
        base = name.removesuffix(suffix) if suffix else name
        if base in families and (suffix == "" or name.endswith(suffix)):
            return base, suffix
    raise ValueError(f"sample {name} belongs to no declared family")


def _metric_lines(bundle: Path) -> Iterator[str]:
    path = bundle / ALL_STREAM_FILES["metrics"]
    families = _families(path)
    # family -> series (labels without le) -> t -> {suffix or le: value}
    points: dict[str, dict[tuple[tuple[str, str], ...], dict[int, dict[str, float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(dict))
    )
    for name, labels, value, t_us in read_samples(path):
        family, suffix = _family_of(name, families)
        le = labels.pop("le", None)
        key = f"le={le}" if suffix == "_bucket" else suffix
        series = tuple(sorted(labels.items()))
        points[family][series][t_us][key] = value
    for family in sorted(points):
        kind = families[family]
        metric: dict[str, Any] = {"name": family if kind != "counter" else f"{family}_total"}
        data = []
        for series_labels, by_time in sorted(points[family].items()):
            for t_us, v in sorted(by_time.items()):
                point: dict[str, Any] = {
                    "attributes": _attrs(dict(series_labels)),
                    "timeUnixNano": str(t_us * 1000),
                }
                if kind == "histogram":
                    finite = sorted(
                        (float(k[3:]), c)
                        for k, c in v.items()
                        if k.startswith("le=") and k != "le=+Inf"
                    )
                    bounds = [b for b, _ in finite]
                    cumulative = [c for _, c in finite] + [v["le=+Inf"]]
                    # OTLP counts each bucket on its own (OpenMetrics: up to its bound).
                    counts = [
                        int(c - p) for c, p in zip(cumulative, [0.0, *cumulative], strict=False)
                    ]
                    point |= {
                        "count": str(int(v["_count"])),
                        "sum": v["_sum"],
                        "bucketCounts": [str(c) for c in counts],
                        "explicitBounds": bounds,
                    }
                elif kind == "summary":
                    point |= {"count": str(int(v["_count"])), "sum": v["_sum"]}
                else:
                    value = v["_total"] if kind == "counter" else v[""]
                    point[
                        "asInt" if value == int(value) and math.isfinite(value) else "asDouble"
                    ] = str(int(value)) if value == int(value) else value
                data.append(point)
        if kind == "histogram":
            metric["histogram"] = {
                "dataPoints": data,
                "aggregationTemporality": TEMPORALITY_CUMULATIVE,
            }
        elif kind == "summary":
            metric["summary"] = {"dataPoints": data}
        elif kind == "counter":
            metric["sum"] = {
                "dataPoints": data,
                "aggregationTemporality": TEMPORALITY_CUMULATIVE,
                "isMonotonic": True,
            }
        else:
            metric["gauge"] = {"dataPoints": data}
        yield json.dumps(
            {
                "resourceMetrics": [
                    {
                        "resource": {"attributes": []},
                        "scopeMetrics": [{"scope": {"name": "prometheus"}, "metrics": [metric]}],
                    }
                ]
            },
            separators=(",", ":"),
        )


def export_otlp(bundle: Path, out: Path) -> Path:
    """Write ``out/<bundle id>/`` (logs.jsonl, and metrics.jsonl / traces.jsonl when the
    bundle holds them); return the directory."""
    bundle = Path(bundle)
    manifest = Manifest.model_validate_json((bundle / MANIFEST_FILE).read_bytes())
    case = Path(out) / bundle.resolve().name
    case.mkdir(parents=True, exist_ok=True)
    streams = manifest.request.streams()

    def write(name: str, lines: Iterator[str]) -> None:
        _atomic_write(case / name, lambda f: f.writelines(f"{x}\n".encode() for x in lines))

    write("logs.jsonl", _log_lines(bundle, manifest))
    if "metrics" in streams:
        write("metrics.jsonl", _metric_lines(bundle))
    if "traces" in streams:
        data = (bundle / ALL_STREAM_FILES["traces"]).read_bytes()
        _atomic_write(case / "traces.jsonl", lambda f: f.write(data))
    return case
