"""``rca-mock export --format otlp``: logs, metrics and traces as OTLP/JSON that
opentelemetry-proto's own classes read, and that holds what the bundle holds.

- every log entry is a log record (as many as the manifest counts per stream), stamped
  at its line's instant, with its whole text (a stack trace stays in its entry);
- every metric sample is a data point of its family: counters as monotonic cumulative
  sums, histograms with per-bucket counts that add up to the count;
- the traces are the bundle's own file.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from rca.interop.otlp import LOG_SERVICES, export_otlp
from rca.seed.mock_incident_generator import ALL_STREAM_FILES, MANIFEST_FILE, generate_bundle

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("otlp")
    request = {
        "scenario": "db_connection_pool_exhaustion",
        "seed": 4,
        "time_anchor": "2026-11-26T05:00:00Z",
        "rps": 1.5,
        "modalities": "logs,metrics,traces",
    }
    bundle = generate_bundle(request, out / "bundles")
    return bundle, export_otlp(bundle, out / "otlp")


def test_every_log_entry_is_a_record(exported: tuple[Path, Path]) -> None:
    bundle, case = exported
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    expected = {a["stream"]: a["record_count"] for a in manifest["artifacts"] if a["stream"]}
    counted: Counter[str] = Counter()
    for line in (case / "logs.jsonl").read_text().splitlines():
        message = json_format.Parse(line, ExportLogsServiceRequest())
        for rl in message.resource_logs:
            service = {a.key: a.value.string_value for a in rl.resource.attributes}["service.name"]
            for sl in rl.scope_logs:
                for record in sl.log_records:
                    assert record.time_unix_nano > 0 and record.body.string_value
                    counted[service] += 1
    for stream, service in LOG_SERVICES.items():
        assert counted[service] == expected[stream], stream


def test_every_metric_sample_is_a_data_point(exported: tuple[Path, Path]) -> None:
    bundle, case = exported
    samples = Counter(
        line.split("{", 1)[0].split(" ", 1)[0]
        for line in (bundle / ALL_STREAM_FILES["metrics"]).read_text().splitlines()
        if not line.startswith("#")
    )
    points: Counter[str] = Counter()
    for line in (case / "metrics.jsonl").read_text().splitlines():
        message = json_format.Parse(line, ExportMetricsServiceRequest())
        for rm in message.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    kind = metric.WhichOneof("data")
                    data = getattr(metric, kind).data_points
                    points[metric.name] += len(data)
                    if kind == "sum":
                        assert metric.sum.is_monotonic
                    if kind == "histogram":
                        for p in data:
                            assert sum(p.bucket_counts) == p.count
                            assert len(p.bucket_counts) == len(p.explicit_bounds) + 1
    assert points["istio_requests_total"] == samples["istio_requests_total"]
    assert points["hikaricp_connections_active"] == samples["hikaricp_connections_active"]
    assert (
        points["istio_request_duration_milliseconds"]
        == samples["istio_request_duration_milliseconds_count"]
    )


def test_the_traces_are_the_bundles(exported: tuple[Path, Path]) -> None:
    bundle, case = exported
    data = (case / "traces.jsonl").read_bytes()
    assert data == (bundle / ALL_STREAM_FILES["traces"]).read_bytes()
    first = json.loads(data.splitlines()[0])
    for rs in first["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    json_format.Parse(json.dumps(first), ExportTraceServiceRequest())


def test_the_cli_writes_it(exported: tuple[Path, Path], tmp_path: Path) -> None:
    bundle, _ = exported
    run = subprocess.run(
        [sys.executable, "-m", "rca.cli", "export", "--format", "otlp", str(bundle), str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (tmp_path / bundle.name).iterdir()) == [
        "logs.jsonl",
        "metrics.jsonl",
        "traces.jsonl",
    ]
    bad = subprocess.run(
        [sys.executable, "-m", "rca.cli", "export", "--format", "csv", str(bundle), str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert bad.returncode == 2 and "allowed: rcaeval, otlp" in bad.stderr
