"""The metrics modality (rca/seed/renderers/metrics.py): real Prometheus tools read it,
and it agrees with the logs of the same bundle.

Every scenario in the registry is generated once with ``modalities=logs,metrics``. The
files are read by the real parsers: ``promtool tsdb create-blocks-from openmetrics``
(Prometheus' own Go parser; it must take every sample), and prometheus_client's
OpenMetrics parser, one scrape at a time (each scrape is what a target exposed; the
client's parser drops the later points of a histogram or summary series that holds
several, so the whole file is not its input). The agreement checks then read the
samples the client parsed:

- a counter's increase between two scrapes is what the logs show completing between
  them: mesh lines for ``istio_requests_total``, HikariCP timeout lines per pod for
  ``hikaricp_connections_timeout_total``, kubelet "Started container" events per pod
  for ``kube_pod_container_status_restarts_total``. The logs print milliseconds and so
  do the samples; an event within 2 ms of a scrape may fall on either side;
- at a scrape inside a wait that HikariCP logged as a timeout, the pool is full
  (``active`` = ``max``) and has a waiter;
- every container the kernel OOM-killed had its working set near the memory limit in
  its last sample; healthy JVMs stay far below it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from rca.eval.blind import export_blind
from rca.seed import scenarios
from rca.seed.mock_incident_generator import (
    ALL_STREAM_FILES,
    GROUND_TRUTH_FILE,
    MANIFEST_FILE,
    generate_bundle,
    validate,
)
from rca.seed.renderers.metrics import API_CPU_LIMIT, SCRAPE_INTERVAL_US, TARGET_FAMILIES
from rca.suites import suite_index

ANCHOR = "2026-11-26T05:00:00Z"
METRICS = ALL_STREAM_FILES["metrics"]
SCENARIOS = tuple(scenarios.scenario_ids())
MS = 1000  # µs
FUZZ_US = 2 * MS  # millisecond stamps on both sides


def _request(scenario: str, **extra: object) -> dict[str, object]:
    return {
        "scenario": scenario,
        "seed": 11,
        "time_anchor": ANCHOR,
        "rps": 1.5,
        "modalities": "logs,metrics",
        **extra,
    }


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("metrics")
    return {s: generate_bundle(_request(s), out) for s in SCENARIOS}


# ---------------------------------------------------------------------- reading
@dataclass(frozen=True)
class Point:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float
    t_us: int

    def label(self, key: str) -> str:
        return dict(self.labels)[key]


_TARGET = re.compile(rb'instance="([^"]*)",job="([^"]*)"')


def scrapes(path: Path) -> Iterator[tuple[tuple[bytes, bytes, bytes], str]]:
    """Each scrape of the file as the exposition its target served: the families' TYPE
    and HELP lines, then that scrape's samples without their timestamp, ``# EOF``."""
    meta: dict[bytes, list[bytes]] = defaultdict(list)
    by_scrape: dict[tuple[bytes, bytes, bytes], dict[bytes, list[bytes]]] = defaultdict(
        lambda: defaultdict(list)
    )
    family = b""
    for line in path.read_bytes().splitlines():
        if line.startswith(b"# TYPE ") or line.startswith(b"# HELP "):
            family = line.split(b" ")[2]
            meta[family].append(line)
            continue
        if line == b"# EOF":
            continue
        body, _, stamp = line.rpartition(b" ")
        m = _TARGET.search(body)
        assert m is not None, line
        by_scrape[(m.group(1), m.group(2), stamp)][family].append(body)
    for key, families in sorted(by_scrape.items()):
        text = []
        for fam, samples in families.items():
            text += [*meta[fam], *samples]
        yield key, b"\n".join([*text, b"# EOF", b""]).decode()


@pytest.fixture(scope="module")
def points(bundles: dict[str, Path]) -> dict[str, list[Point]]:
    """Every sample of every bundle, as prometheus_client's parser read it."""
    out: dict[str, list[Point]] = {}
    for scenario, bundle in bundles.items():
        found = []
        for (_, _, stamp), text in scrapes(bundle / METRICS):
            sec, _, ms = stamp.partition(b".")
            t_us = int(sec) * 1_000_000 + int(ms) * MS
            for fam in text_string_to_metric_families(text):  # type: ignore[no-untyped-call]
                for s in fam.samples:
                    labels = tuple(sorted(s.labels.items()))
                    found.append(Point(s.name, labels, float(s.value), t_us))
        out[scenario] = found
    return out


def series(points: list[Point], name: str) -> dict[tuple[tuple[str, str], ...], list[Point]]:
    found: dict[tuple[tuple[str, str], ...], list[Point]] = defaultdict(list)
    for p in points:
        if p.name == name:
            found[p.labels].append(p)
    for values in found.values():
        values.sort(key=lambda p: p.t_us)
    return found


def _us(text: str) -> int:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


def assert_counts(samples: list[Point], events: list[int], what: str) -> int:
    """A counter's every increase (no reset in between) equals the events in its
    interval, give or take those within FUZZ_US of either end. Returns the events
    the increases counted."""
    events = sorted(events)
    counted = 0
    for prev, cur in itertools.pairwise(samples):
        if cur.value < prev.value:
            continue  # a reset: a restarted JVM counts from zero
        lo, hi = prev.t_us, cur.t_us
        inside = bisect_right(events, hi) - bisect_right(events, lo)
        edge = sum(
            bisect_right(events, b + FUZZ_US) - bisect_left(events, b - FUZZ_US) for b in (lo, hi)
        )
        delta = cur.value - prev.value
        assert abs(delta - inside) <= edge, (
            f"{what}: +{delta:g} between {prev.t_us} and {cur.t_us}, the logs show {inside}"
        )
        counted += int(delta)
    return counted


# ---------------------------------------------------------------------- the tests
@pytest.mark.parametrize("scenario", ["normal_load", "db_connection_pool_exhaustion"])
def test_metrics_change_no_other_file(scenario: str, tmp_path: Path) -> None:
    with_metrics = generate_bundle(_request(scenario), tmp_path / "on")
    request = _request(scenario)
    del request["modalities"]
    logs_only = generate_bundle(request, tmp_path / "off")
    assert with_metrics.name != logs_only.name
    names = sorted(p.name for p in logs_only.iterdir())
    assert sorted(p.name for p in with_metrics.iterdir()) == sorted([*names, METRICS])
    for name in names:
        if name not in (MANIFEST_FILE, GROUND_TRUTH_FILE):
            assert (with_metrics / name).read_bytes() == (logs_only / name).read_bytes(), name
    # The label is the same answer, under the bundle's own id.
    on, off = (json.loads((b / GROUND_TRUTH_FILE).read_text()) for b in (with_metrics, logs_only))
    assert on.pop("bundle_id") == with_metrics.name and off.pop("bundle_id") == logs_only.name
    assert on == off
    manifest = json.loads((with_metrics / MANIFEST_FILE).read_text())
    (art,) = (a for a in manifest["artifacts"] if a["file"] == METRICS)
    data = (with_metrics / METRICS).read_bytes()
    assert art["format"] == "openmetrics" and art["stream"] == "metrics"
    assert art["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["request"]["modalities"] == "logs,metrics"


@pytest.mark.realtools("prometheus")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_promtool_takes_every_sample(
    bundles: dict[str, Path], scenario: str, tmp_path: Path
) -> None:
    path = bundles[scenario] / METRICS
    samples = sum(1 for line in path.read_bytes().splitlines() if not line.startswith(b"#"))
    run = subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(path), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    # One row per block written: ULID, MIN TIME, MAX TIME, DURATION, NUM SAMPLES, ...
    header, *rows = (line.split() for line in run.stdout.splitlines() if line.strip())
    assert header[:2] == ["BLOCK", "ULID"] and rows, run.stdout
    assert sum(int(r[4]) for r in rows) == samples, run.stdout


def test_every_scrape_parses_with_prometheus_client(
    bundles: dict[str, Path], points: dict[str, list[Point]]
) -> None:
    declared = {n for fams in TARGET_FAMILIES.values() for n in fams}
    seen: set[str] = set()
    for scenario, bundle in bundles.items():
        lines = bundle.joinpath(METRICS).read_bytes().splitlines()
        assert lines[-1] == b"# EOF"
        # Histogram buckets become samples of their own: count lines, not points.
        assert len(points[scenario]) == sum(1 for line in lines if not line.startswith(b"#"))
        # Only declared families (the README's table), each with samples; over the
        # scenarios, every declared one.
        typed = [line.split(b" ")[2:4] for line in lines if line.startswith(b"# TYPE ")]
        names = {n.decode() + ("_total" if t == b"counter" else "") for n, t in typed}
        assert names <= declared, (scenario, names - declared)
        parsed = {p.name for p in points[scenario]}
        assert all(any(p.startswith(n) for p in parsed) for n in names), scenario
        seen |= names
    assert seen == declared, declared - seen


def test_a_process_up_for_hours_has_counted_for_hours(points: dict[str, list[Point]]) -> None:
    """A counter of a process started before the window does not begin at zero: it
    has counted at its steady rate since the process started. One first used in the
    window (a restarted JVM, an error the incident brings) starts from what it counts."""
    for scenario, found in points.items():
        ok = series(found, "istio_requests_total")
        start = min(p.t_us for s in ok.values() for p in s)
        steady = [s for k, s in ok.items() if dict(k)["response_code"] == "200"]
        old = [s for s in steady if s[0].t_us == start]
        assert old and all(s[0].value > 1000 for s in old), scenario
        assert all(s[0].value < 1000 for s in steady if s[0].t_us > start), scenario
        uptime = {
            (p.label("pod"), p.t_us): p.value for p in found if p.name == "process_uptime_seconds"
        }
        old_jvms = 0
        for labels, samples in series(found, "http_server_requests_seconds_count").items():
            first = samples[0]
            up = uptime[(first.label("pod"), first.t_us)]
            if first.label("status") == "200" and up > 3600 and first.value > 0:
                old_jvms += 1
                assert first.value > 100, (scenario, labels, up)
        assert old_jvms > 0, scenario


def test_scrapes_are_regular(points: dict[str, list[Point]]) -> None:
    for scenario, found in points.items():
        for labels, samples in series(found, "up").items():
            gaps = {b.t_us - a.t_us for a, b in itertools.pairwise(samples)}
            assert all(abs(g - SCRAPE_INTERVAL_US) < 5 * MS for g in gaps), (scenario, labels)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_istio_requests_are_the_mesh_lines(
    bundles: dict[str, Path], points: dict[str, list[Point]], scenario: str
) -> None:
    ends: dict[tuple[str, str], list[int]] = defaultdict(list)
    for line in bundles[scenario].joinpath("mesh_events.jsonl").read_text().splitlines():
        obj = json.loads(line)
        end = _us(obj["start_time"]) + obj["duration"] * MS
        ends[(str(obj["response_code"]), obj["response_flags"])].append(end)
    # The access log names no version: sum the series of each code and flags (a series
    # is 0 before its first sample, which counts its first requests).
    totals: dict[tuple[str, str], dict[int, float]] = defaultdict(lambda: defaultdict(float))
    times: set[int] = set()
    for labels, samples in series(points[scenario], "istio_requests_total").items():
        key = (dict(labels)["response_code"], dict(labels)["response_flags"])
        for p in samples:
            totals[key][p.t_us] += p.value
            times.add(p.t_us)
    counted = 0
    for key, by_time in totals.items():
        running, summed = 0.0, []
        for t in sorted(times):
            running = by_time.get(t, running) if t in by_time else running
            summed.append(Point("sum", (), running, t))
        counted += assert_counts(summed, ends[key], f"{scenario} {key}")
    # Every line completed between the first scrape and the last is counted, none twice.
    first, last = min(times), max(times)
    every = sorted(t for v in ends.values() for t in v)
    between = bisect_right(every, last) - bisect_right(every, first)
    edge = sum(
        bisect_right(every, b + FUZZ_US) - bisect_left(every, b - FUZZ_US) for b in (first, last)
    )
    assert abs(counted - between) <= edge, (counted, between)


_API_TIMEOUT = re.compile(
    r"^\[pod/(?P<pod>[^/]+)/orders-api\] (?P<t>\S+Z) .*Connection is not available, "
    r"request timed out after (?P<waited>\d+)ms"
)


def _timeouts(bundle: Path) -> dict[str, list[tuple[int, int]]]:
    """HikariCP timeout lines per pod: (instant, waited µs)."""
    found: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for line in bundle.joinpath("api_logs.log").read_text().splitlines():
        m = _API_TIMEOUT.match(line)
        if m:
            found[m["pod"]].append((_us(m["t"]), int(m["waited"]) * MS))
    return found


def test_pool_timeouts_are_the_hikari_lines(
    bundles: dict[str, Path], points: dict[str, list[Point]]
) -> None:
    checked = 0
    for scenario, bundle in bundles.items():
        logged = _timeouts(bundle)
        counters = series(points[scenario], "hikaricp_connections_timeout_total")
        for labels, samples in counters.items():
            pod = dict(labels)["pod"]
            events = [t + MS for t, _ in logged.get(pod, [])]  # counted as the call fails
            checked += assert_counts(samples, events, f"{scenario} {pod}")
        if scenario == "db_connection_pool_exhaustion":
            assert counters, "the pool scenario's pods time out"
            assert sum(len(v) for v in logged.values()) > 0
    assert checked > 0


def test_a_pool_that_timed_out_was_full(
    bundles: dict[str, Path], points: dict[str, list[Point]]
) -> None:
    checked = 0
    for scenario, bundle in bundles.items():
        active = series(points[scenario], "hikaricp_connections_active")
        pending = series(points[scenario], "hikaricp_connections_pending")
        size = series(points[scenario], "hikaricp_connections_max")
        by_pod = {dict(k)["pod"]: k for k in active}
        for pod, lines in _timeouts(bundle).items():
            key = by_pod[pod]
            for t, waited in lines:
                asked = t - waited
                for a, p, m in zip(active[key], pending[key], size[key], strict=True):
                    if asked + FUZZ_US < a.t_us < asked + 5_000 * MS - FUZZ_US:
                        assert a.value == m.value and p.value >= 1, (scenario, pod, a.t_us)
                        checked += 1
    assert checked > 0, "no scrape fell inside a logged wait"


_STARTED = re.compile(
    r'^I(?P<md>\d{4}) (?P<hms>\S+) .*object="shop/(?P<pod>orders-api-[^"]+)" '
    r'.*reason="Started" message="Started container orders-api"'
)


def test_restarts_are_the_kubelet_starts(
    bundles: dict[str, Path], points: dict[str, list[Point]]
) -> None:
    restarted = 0
    for scenario, bundle in bundles.items():
        year = ANCHOR[:4]
        starts: dict[str, list[int]] = defaultdict(list)
        for line in bundle.joinpath("k8s_events.log").read_text().splitlines():
            m = _STARTED.match(line)
            if m:
                md = m["md"]
                starts[m["pod"]].append(_us(f"{year}-{md[:2]}-{md[2:]}T{m['hms']}Z"))
        for labels, samples in series(
            points[scenario], "kube_pod_container_status_restarts_total"
        ).items():
            pod = dict(labels)["pod"]
            # A pod created in the window starts its first container before its series.
            events = [t for t in starts.get(pod, []) if t >= samples[0].t_us]
            restarted += assert_counts(samples, events, f"{scenario} {pod}")
    assert restarted > 0, "the OOM scenario restarts containers"


_FINISHED_137 = re.compile(
    r'"Generic \(PLEG\): container finished" .*containerID="(\w+)" exitCode=137'
)


def test_memory_reaches_the_limit_before_each_oom_kill(
    bundles: dict[str, Path], points: dict[str, list[Point]]
) -> None:
    limit = 768 * 1024 * 1024
    killed = 0
    for scenario, bundle in bundles.items():
        text = bundle.joinpath("k8s_events.log").read_text()
        oom = set(_FINISHED_137.findall(text))
        for labels, samples in series(
            points[scenario], "container_memory_working_set_bytes"
        ).items():
            assert all(p.value < limit for p in samples), (scenario, labels)
            container = dict(labels)["id"].rsplit("/", 1)[1]
            if container in oom:
                killed += 1
                assert samples[-1].value > 0.9 * limit, (scenario, container)
            elif scenario == "normal_load":
                assert max(p.value for p in samples) < 0.7 * limit
    assert killed > 0, "the OOM scenario kills containers"


# ---------------------------------------------------------------------- a live Prometheus
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.realtools("prometheus")
def test_rca_mock_serve_answers_query_range_with_the_access_log_counts(
    bundles: dict[str, Path],
) -> None:
    """The documented command: promtool backfills, prometheus serves PromQL, and the
    counts it answers are the mesh stream's."""
    bundle = bundles["db_connection_pool_exhaustion"]
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rca.cli", "serve", str(bundle), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        manifest = json.loads((bundle / MANIFEST_FILE).read_text())
        start = _us(manifest["window_start"]) // 1_000_000
        minutes = [start + 60 * k for k in range(1, 30)]
        url = (
            f"http://127.0.0.1:{port}/api/v1/query_range?query=sum(istio_requests_total)"
            f"&start={minutes[0]}&end={minutes[-1]}&step=60"
        )
        assert proc.stdout is not None
        announced = proc.stdout.readline()  # printed once the server is ready
        assert f"http://127.0.0.1:{port}" in announced, (announced, proc.stderr)
        scratch = next(
            line.split("scratch TSDB: ", 1)[1].split(" ", 1)[0]
            for line in (proc.stdout.readline(), proc.stdout.readline())
            if "scratch TSDB: " in line
        )
        with urllib.request.urlopen(url, timeout=10) as r:
            answer = json.load(r)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    assert not Path(scratch).exists(), "serve leaves its scratch TSDB behind"
    assert answer["status"] == "success"
    (result,) = answer["data"]["result"]
    values = {int(t): float(v) for t, v in result["values"]}
    scrape_times = sorted(
        int(line.rsplit(b" ", 1)[1].replace(b".", b"")) * MS
        for line in (bundle / METRICS).read_bytes().splitlines()
        if line.startswith(b"istio_requests_total{")
    )
    ends = sorted(
        _us(o["start_time"]) + o["duration"] * MS
        for o in map(json.loads, (bundle / "mesh_events.jsonl").read_text().splitlines())
    )
    for a, b in itertools.pairwise(minutes):
        # The sample each instant sees: the last scrape at or before it.
        sa = scrape_times[bisect_right(scrape_times, a * 1_000_000) - 1]
        sb = scrape_times[bisect_right(scrape_times, b * 1_000_000) - 1]
        logged = bisect_right(ends, sb) - bisect_right(ends, sa)
        edge = sum(
            bisect_right(ends, x + FUZZ_US) - bisect_left(ends, x - FUZZ_US) for x in (sa, sb)
        )
        assert abs(values[b] - values[a] - logged) <= edge, (a, b, values[b] - values[a], logged)


def test_a_suite_index_pins_the_metrics_files(bundles: dict[str, Path]) -> None:
    root = next(iter(bundles.values())).parent
    entries = [
        {
            "bundle_id": b.name,
            "scenario": s,
            "seed": 11,
            "noise_profile": "medium",
            "time_anchor": ANCHOR,
            "path": b.name,
        }
        for s, b in sorted(bundles.items())
    ]
    csv_text, json_text = suite_index("metrics", "every scenario with metrics", entries, root)
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    for row, (_, bundle) in zip(rows, sorted(bundles.items()), strict=True):
        data = (bundle / METRICS).read_bytes()
        assert row["metrics_sha256"] == hashlib.sha256(data).hexdigest()
        assert int(row["metrics_lines"]) == data.count(b"\n")
    for doc in json.loads(json_text)["bundles"]:
        assert METRICS in doc["files"]


def test_a_bundle_with_metrics_validates_and_exports_blind(
    bundles: dict[str, Path], tmp_path: Path
) -> None:
    bundle = bundles["db_connection_pool_exhaustion"]
    assert validate(bundle) == []  # checksums, counts, window, and a regeneration
    blind = export_blind(bundle, tmp_path / "blind", salt="test-salt")
    manifest = json.loads((blind / MANIFEST_FILE).read_text())
    assert METRICS in {a["file"] for a in manifest["artifacts"]}
    assert (blind / METRICS).read_bytes() == (bundle / METRICS).read_bytes()
    assert not (blind / GROUND_TRUTH_FILE).exists()


def test_validate_finds_a_tampered_metrics_file(bundles: dict[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / bundles["normal_load"].name
    shutil.copytree(bundles["normal_load"], copy)
    data = (copy / METRICS).read_bytes()
    (copy / METRICS).write_bytes(data.replace(b" 1 ", b" 7 ", 1))
    problems = validate(copy)
    assert any(p.startswith(f"{METRICS}:") for p in problems), problems


def test_cpu_stays_under_the_limit_and_saturates_only_in_cpu_bound_incidents(
    points: dict[str, list[Point]],
) -> None:
    def peak(scenario: str) -> float:
        top = 0.0
        for samples in series(points[scenario], "container_cpu_usage_seconds_total").values():
            for a, b in itertools.pairwise(samples):
                rate = (b.value - a.value) / ((b.t_us - a.t_us) / 1e6)
                assert 0 <= rate <= API_CPU_LIMIT + 1e-6, (scenario, rate)
                top = max(top, rate)
        return top

    # The traffic spike makes the pods CPU-bound; a quiet shop idles.
    assert peak("db_connection_pool_exhaustion") > 0.9 * API_CPU_LIMIT
    assert peak("normal_load") < 0.25 * API_CPU_LIMIT


def test_kube_state_metrics_say_oomkilled_and_crashloopbackoff(
    bundles: dict[str, Path], points: dict[str, list[Point]]
) -> None:
    found = points["pod_oom_restart_loop"]
    last = series(found, "kube_pod_container_status_last_terminated_reason")
    oom = {k for k, s in last.items() if dict(k)["reason"] == "OOMKilled" and s[-1].value == 1}
    backoff = {
        p.label("pod") for p in found if p.name == "kube_pod_container_status_waiting_reason"
    }
    text = bundles["pod_oom_restart_loop"].joinpath("k8s_events.log").read_text()
    # every pod KSM reports OOMKilled or backing off is one the kubelet logged BackOff for
    logged = set(re.findall(r'object="shop/(orders-api-[^"]+)".*reason="BackOff"', text))
    assert oom and backoff and {dict(k)["pod"] for k in oom} <= logged and backoff <= logged
    for scenario in ("normal_load", "slow_query_regression"):
        names = {p.name for p in points[scenario]}
        assert "kube_pod_container_status_waiting_reason" not in names, scenario
