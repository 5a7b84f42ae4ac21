"""Prometheus metrics of the same simulation, as OpenMetrics text.

What a Prometheus scraping the shop every 15 s stored over the window, written the way
``promtool tsdb create-blocks-from openmetrics`` and prometheus_client's OpenMetrics
parser read it: one family after another (each once, as the format requires), series
sorted by their labels, each series' samples in time order with timestamps in seconds,
``# EOF`` last.

Nothing here is drawn on its own. Every value is counted from the emissions the log
renderers read, so the metrics agree with the logs:

- a counter's increase between two scrapes is what completed between them (the mesh
  stream's lines for ``istio_requests_total``, the HikariCP timeout lines for
  ``hikaricp_connections_timeout_total``);
- a gauge is the state at the scrape's instant: the pooled connections a request holds
  or waits for (the simulation's HikariCP pool), the backends PostgreSQL runs, the pods
  that are ready (the kubelet's probes);
- a JVM's meters start again from zero when its container restarts, and answer no
  scrape while it is down (``up`` is 0); ``kube_pod_container_status_restarts_total``
  steps when the kubelet starts the container again.

Targets, with the labels Istio's sample Prometheus configuration gives a pod (job
``kubernetes-pods``; ``namespace``, ``pod`` and the pod's ``app`` label):

- each orders-api pod's ``/actuator/prometheus`` (Micrometer names of Spring Boot 3 and
  HikariCP 6);
- the web pod's sidecar, ``:15090/stats/prometheus`` (Istio's standard metrics, reporter
  ``source``: the sidecar whose access log is the mesh stream). The ``*_principal``,
  ``*_cluster`` and ``*_canonical_*`` labels are dropped, as deployments commonly do with
  ``metric_relabel_configs`` to keep the series' size down;
- kube-state-metrics (``honor_labels``: ``namespace`` and ``pod`` are the object's);
- postgres_exporter beside the database.
"""

from __future__ import annotations

import hashlib
import itertools
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .._catalog import ENDPOINTS
from .._sim import Attempt, ProbeResult, Request
from .._sink import LineSink
from .._timefmt import US
from .._topology import (
    API_PORT,
    API_SERVICE,
    CONTAINER_MEMORY_LIMIT_MI,
    DB_DATABASE,
    DB_USER,
    HIKARI_TIMEOUT_MS,
    NAMESPACE,
    Container,
    Pod,
)
from ._base import RenderContext, Renderer
from .api import HEAP_MAX_MB, STEADY_GC_GAP_S, WARM_UP_S

SCRAPE_INTERVAL_US = 15 * US  # Istio's sample Prometheus configuration (scrape_interval)
# Istio's default request-duration buckets, in ms (istio/proxy,
# source/extensions/filters/http/istio_stats/istio_stats.cc).
ISTIO_BUCKETS_MS = (
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000,
    600000, 1800000, 3600000,
)  # fmt: skip
POOL = "HikariPool-1"
HIKARI_TIMEOUT_US = HIKARI_TIMEOUT_MS * 1000
BORROW_US = 6  # ConcurrentBag.borrow() of an idle connection, thread-local hit
API_CPU_LIMIT = 2.0  # cores: the orders-api container's resources.limits.cpu
IDLE_CORES = 0.03  # an idle JVM: GC, JIT and housekeeping threads
GC_CORES = 0.5  # the collector's extra work per unit of plan.cpu_time above 1
STARTUP_CORES = 1.5  # class loading and JIT while Spring Boot starts
WEB_APP = "web"
KSM_PORT = 8080
PG_EXPORTER_PORT = 9187
# postgres_exporter's pg_stat_activity collector reports every state of every database
# (a cross join with pg_database), zeros included.
PG_DATABASES = ("postgres", DB_DATABASE, "template0", "template1")
PG_STATES = (
    "active",
    "disabled",
    "fastpath function call",
    "idle",
    "idle in transaction",
    "idle in transaction (aborted)",
)

# What each target exposes, as the names a query uses (a counter with its _total): the
# README's table is generated from this (rca/seed/docs.py), and a test checks that the
# file holds exactly these families.
TARGET_FAMILIES: dict[str, tuple[str, ...]] = {
    "orders-api pods, Micrometer (Spring Boot 3, HikariCP)": (
        "http_server_requests_seconds",
        "hikaricp_connections",
        "hikaricp_connections_active",
        "hikaricp_connections_idle",
        "hikaricp_connections_pending",
        "hikaricp_connections_max",
        "hikaricp_connections_min",
        "hikaricp_connections_timeout_total",
        "hikaricp_connections_acquire_seconds",
        "jvm_memory_used_bytes",
        "jvm_memory_max_bytes",
        "process_uptime_seconds",
    ),
    "web pod's sidecar, Istio (reporter `source`: the mesh stream's)": (
        "istio_requests_total",
        "istio_request_duration_milliseconds",
    ),
    "kube-state-metrics": (
        "kube_pod_container_status_restarts_total",
        "kube_pod_container_status_last_terminated_reason",
        "kube_pod_container_status_waiting_reason",
        "kube_pod_container_resource_limits",
        "kube_pod_status_ready",
        "kube_deployment_status_replicas_available",
    ),
    "kubelet (cAdvisor)": (
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
    ),
    "postgres_exporter (with its stat_statements collector)": (
        "pg_stat_activity_count",
        "pg_stat_statements_calls_total",
        "pg_stat_statements_seconds_total",
        "pg_up",
    ),
    "every target (Prometheus)": ("up",),
}
MIB = 1 << 20
LIMIT_BYTES = CONTAINER_MEMORY_LIMIT_MI * MIB
# The JVM's memory outside the heap (metaspace, code cache, thread stacks, direct
# buffers): what keeps a heap filled to 99.5 % of -Xmx just under the container's limit,
# where the leak scenarios' kernel OOM-kills it.
NON_HEAP_MIB = CONTAINER_MEMORY_LIMIT_MI - 0.995 * HEAP_MAX_MB
KUBELET_PORT = 10250

Labels = tuple[tuple[str, str], ...]


def _labels(**kv: str) -> Labels:
    return tuple(sorted(kv.items()))


POOL_LABELS: Labels = (("pool", POOL),)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _text(labels: Labels) -> str:
    return ",".join(f'{k}="{_escape(v)}"' for k, v in labels)


def _stamp(t_us: int) -> str:
    """A sample's timestamp: seconds, to the millisecond Prometheus stores."""
    return f"{t_us // US}.{t_us % US // 1000:03d}"


def _go_number(value: float) -> str:
    """A sample value as Prometheus writes it: 2 for a whole number, else shortest."""
    return str(int(value)) if value == int(value) else repr(value)


def _go_float(value: float) -> str:
    """A label value as Prometheus writes a float (Go's strconv 'g', shortest, with
    ".0" on an integer): 1.0, 300000.0, 1.8e+06."""
    text = f"{value:g}"
    return text if any(c in text for c in ".en") else f"{text}.0"


def _millis(us: int) -> str:
    """Seconds, to the millisecond."""
    return f"{us // US}.{us % US // 1000:03d}"


def _seconds(us: int) -> str:
    """A sum of durations in seconds, exact to the microsecond."""
    return f"{us // US}.{us % US:06d}"


@dataclass(slots=True)
class _Target:
    """One scrape target: its labels and the instants Prometheus scraped it."""

    labels: Labels
    times: list[int]

    def index(self, t_us: int) -> int:
        """The first scrape at or after ``t_us``: the one whose sample first counts it."""
        return bisect_left(self.times, t_us)

    def span(self, t0_us: int, t1_us: int) -> range:
        """The scrapes that see a state held over ``[t0, t1)``."""
        return range(bisect_left(self.times, t0_us), bisect_left(self.times, t1_us))


@dataclass(slots=True)
class _Jvm:
    """One orders-api container run: a JVM whose meters start at zero."""

    pod: Pod
    container: Container
    target: _Target
    scrapes: range  # the scrapes it answered
    counters: dict[tuple[str, Labels], list[int]] = field(default_factory=dict)
    active: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    cpu: list[int] = field(default_factory=list)  # µs of handling per scrape step
    non_heap_mib: float = 0.0  # this JVM's own metaspace, code cache and stacks

    def count(self, name: str, labels: Labels, k: int, by: int = 1) -> None:
        if k >= len(self.target.times):
            return
        values = self.counters.get((name, labels))
        if values is None:
            values = self.counters[(name, labels)] = [0] * len(self.target.times)
        values[k] += by


class MetricsRenderer(Renderer):
    stream = "metrics"

    def __init__(self, ctx: RenderContext, sink: LineSink) -> None:
        super().__init__(ctx, sink)
        stack = ctx.stack
        # cAdvisor, in each node's kubelet (kube-prometheus-stack's kubelet job).
        self._kubelets = {
            node.name: self._target(
                _labels(
                    instance=f"10.128.0.{node.index + 1 + self.rng.below(200)}:{KUBELET_PORT}",
                    job="kubelet",
                    metrics_path="/metrics/cadvisor",
                    node=node.name,
                ),
                ctx.window_start_us,
                ctx.window_end_us,
            )
            for node in stack.nodes
        }
        self._jvms: dict[tuple[str, int], _Jvm] = {}
        self._pod_targets: dict[str, _Target] = {}
        for pod in stack.api_pods:
            target = self._pod_target(
                pod,
                API_SERVICE,
                API_PORT,
                pod.containers[0].start_us,
                ctx.window_end_us if pod.deleted_us is None else pod.deleted_us,
            )
            self._pod_targets[pod.name] = target
            for c in pod.containers:
                # Spring Boot serves /actuator/prometheus once it has started, which is
                # when the readiness probe first passes; a dead JVM answers nothing.
                until = ctx.window_end_us if c.end_us is None else c.end_us
                if pod.deleted_us is not None:
                    until = min(until, pod.deleted_us)
                jvm = _Jvm(pod, c, target, target.span(c.ready_us, until))
                jvm.active = [0] * len(target.times)
                jvm.pending = [0] * len(target.times)
                jvm.cpu = [0] * len(self._kubelets[pod.node].times)
                # Loaded classes, JIT code and thread stacks differ a little per JVM.
                jvm.non_heap_mib = NON_HEAP_MIB - 6.0 + self.rng.uniform(0.0, 9.0)
                self._jvms[(pod.name, c.start_us)] = jvm
        web = stack.web_pod
        # The web pod's sidecar has counted since the pod started, hours before the window.
        self._web_since = ctx.window_start_us - self.rng.between(6 * 3600, 40 * 3600) * US
        self._web = self._pod_target(web, WEB_APP, 15090, ctx.window_start_us, ctx.window_end_us)
        self._ksm = self._target(
            _labels(
                instance=f"{stack.nodes[1].pod_ip(self.rng)}:{KSM_PORT}", job="kube-state-metrics"
            ),
            ctx.window_start_us,
            ctx.window_end_us,
        )
        self._pg = self._target(
            _labels(instance=f"{stack.db_pod.ip}:{PG_EXPORTER_PORT}", job="postgres-exporter"),
            ctx.window_start_us,
            ctx.window_end_us,
        )
        n_pg = len(self._pg.times)
        # pg_stat_statements: each statement's queryid (a 64-bit hash PostgreSQL computes
        # from the parsed query; drawn here), and its calls and time per scrape.
        queries = sorted({e.query.key for e in ENDPOINTS})
        self._queryids = {q: str(int(self.rng.hexstr(16), 16) - (1 << 63)) for q in queries}
        self._statements = {q: ([0] * n_pg, [0] * n_pg) for q in queries}
        self._pg_since = ctx.window_start_us - self.rng.between(3, 30) * 86_400 * US
        self._pg_active = [0] * n_pg
        self._pg_in_tx = [0] * n_pg
        # Istio: (labels) -> per-scrape request counts, duration sums (ms), bucket counts.
        # (code, flags, version served) -> per-scrape requests, duration sums (ms), and
        # requests by the smallest bucket that holds them (the last: above every bound).
        self._istio: dict[
            tuple[int, str, str | None], tuple[list[int], list[int], list[list[int]]]
        ] = {}
        self._http_labels: dict[tuple[str, str, int], Labels] = {}
        self._unready: dict[str, list[tuple[int, bool]]] = {}  # pod -> (t, probe-unready)

    def _pod_target(self, pod: Pod, app: str, port: int, from_us: int, until_us: int) -> _Target:
        """A pod's scrape target, with the labels Istio's sample configuration's
        ``kubernetes-pods`` job gives it."""
        labels = _labels(
            app=app,
            instance=f"{pod.ip}:{port}",
            job="kubernetes-pods",
            namespace=NAMESPACE,
            pod=pod.name,
        )
        return self._target(labels, from_us, until_us)

    def _target(self, labels: Labels, from_us: int, until_us: int) -> _Target:
        """Scrapes every interval at a fixed offset of its own (Prometheus spreads its
        targets over the interval), inside the window. A scrape starts a few
        milliseconds late, but Prometheus stores the slot's own instant when it is
        within 2 ms of it (scrape/scrape.go: ScrapeTimestampTolerance,
        AlignScrapeTimestamps), as nearly every one is: the samples are exactly one
        interval apart."""
        ctx = self.ctx
        start, end = max(from_us, ctx.window_start_us), min(until_us, ctx.window_end_us)
        offset = self.rng.below(SCRAPE_INTERVAL_US // 1000) * 1000  # milliseconds
        k = max(0, -(-(start - ctx.window_start_us - offset) // SCRAPE_INTERVAL_US))
        times = []
        while True:
            slot = ctx.window_start_us + offset + k * SCRAPE_INTERVAL_US
            if slot >= end:
                break
            times.append(slot)
            k += 1
        return _Target(labels, times)

    # ------------------------------------------------------------------ emissions
    def request(self, r: Request) -> None:
        if r.kind != "api":
            return
        for a in r.attempts:
            if a.container is not None:
                self._attempt(r, a)
        self._mesh(r)

    def _attempt(self, r: Request, a: Attempt) -> None:
        assert a.container is not None and r.endpoint is not None
        jvm = self._jvms[(a.pod.name, a.container.start_us)]
        times = jvm.target.times
        if a.outcome == "pool_timeout":
            acquire = a.end_us - a.pool_wait_us
            pending = jvm.pending
            for k in range(
                bisect_left(times, acquire), bisect_left(times, acquire + HIKARI_TIMEOUT_US)
            ):
                pending[k] += 1
            jvm.count("hikaricp_connections_timeout", POOL_LABELS, bisect_left(times, a.end_us))
        elif a.db_start_us:
            db_start = a.db_start_us
            k0, k1 = bisect_left(times, db_start - a.pool_wait_us), bisect_left(times, db_start)
            for k in range(k0, k1):
                jvm.pending[k] += 1
            for k in range(k1, bisect_left(times, a.end_us)):
                jvm.active[k] += 1
            jvm.count("hikaricp_connections_acquire_seconds_count", POOL_LABELS, k1)
            # Even a free connection takes the ConcurrentBag's borrow (microseconds,
            # more when other threads contend), which HikariCP times in nanoseconds.
            borrow = BORROW_US + a.pool_waiting * 3 + (a.db_us & 7)
            jvm.count(
                "hikaricp_connections_acquire_seconds_sum",
                POOL_LABELS,
                k1,
                a.pool_wait_us + borrow,
            )
            pg = self._pg.times
            db_end = db_start + a.db_us
            k2 = bisect_left(pg, db_end)
            for k in range(bisect_left(pg, db_start), k2):
                self._pg_active[k] += 1
            for k in range(k2, bisect_left(pg, a.end_us)):
                self._pg_in_tx[k] += 1
            if k2 < len(pg):  # the statement's stats count when it completes
                calls, spent = self._statements[r.endpoint.query.key]
                calls[k2] += 1
                spent[k2] += a.db_us
        # CPU: the handling outside the pool queue and the database, in the steps it
        # ran (a request of several seconds spreads over several scrapes).
        cpu = jvm.cpu
        node_times = self._kubelets[a.pod.node].times
        t0, t1 = a.start_us, a.end_us
        work = (t1 - t0) - a.pool_wait_us - a.db_us
        if work > 0:
            k0, k1 = bisect_left(node_times, t0), bisect_left(node_times, t1)
            if k0 == k1:
                if k0 < len(cpu):
                    cpu[k0] += work
            else:
                share = work // (k1 - k0 + 1)
                for k in range(k0, min(k1 + 1, len(cpu))):
                    cpu[k] += share
        if a.outcome == "killed" or a.outcome == "refused":
            return  # the JVM died under it, or never saw it: no timer recorded it
        key = (a.outcome, r.endpoint.key, a.status)
        labels = self._http_labels.get(key)
        if labels is None:
            labels = self._http_labels[key] = self._http_server_labels(r, a)
        k = bisect_left(times, a.end_us)
        jvm.count("http_server_requests_seconds_count", labels, k)
        jvm.count("http_server_requests_seconds_sum", labels, k, a.end_us - a.start_us)

    def _http_server_labels(self, r: Request, a: Attempt) -> Labels:
        """Spring Boot 3's tags of a server request: the exception's simple name, the
        outcome class of the status, the route template."""
        assert r.endpoint is not None
        status = a.status
        if a.outcome == "pool_timeout":
            error = "CannotCreateTransactionException"
        elif a.outcome == "npe":
            error = self.ctx.plan.release_defect.exception.rsplit(".", 1)[-1]
        else:
            error = "none"
        outcome = "SUCCESS" if status < 400 else "CLIENT_ERROR" if status < 500 else "SERVER_ERROR"
        return _labels(
            error=error,
            exception=error,
            method=r.endpoint.method,
            outcome=outcome,
            status=str(status),
            uri=r.endpoint.template.split("?", 1)[0],
        )

    def _mesh(self, r: Request) -> None:
        """istio_requests_total and the duration histogram, reporter=source: one request
        per mesh line, counted when its stream completes, as the access log writes it."""
        times = self._web.times
        k = bisect_left(times, r.mesh_end_us)
        n = len(times)
        if k >= n:
            return
        served = r.attempts[-1].pod if r.attempts and r.upstream_host is not None else None
        key = (r.mesh_code, r.mesh_flags, served.version if served is not None else None)
        series = self._istio.get(key)
        if series is None:
            buckets = [[0] * n for _ in range(len(ISTIO_BUCKETS_MS) + 1)]
            series = self._istio[key] = ([0] * n, [0] * n, buckets)
        ms = max(0, (r.mesh_end_us - r.mesh_start_us) // 1000)  # the access log's duration
        series[0][k] += 1
        series[1][k] += ms
        # The smallest bucket that holds it (made cumulative when written).
        series[2][bisect_left(ISTIO_BUCKETS_MS, ms)][k] += 1

    def _istio_labels(self, key: tuple[int, str, str | None]) -> Labels:
        code, flags, version = key
        served = version is not None
        web = self.ctx.stack.web_pod
        return _labels(
            connection_security_policy="unknown",
            destination_app=API_SERVICE if served else "unknown",
            destination_service=f"{API_SERVICE}.{NAMESPACE}.svc.cluster.local",
            destination_service_name=API_SERVICE,
            destination_service_namespace=NAMESPACE,
            destination_version=version if version is not None else "unknown",
            destination_workload=API_SERVICE if served else "unknown",
            destination_workload_namespace=NAMESPACE if served else "unknown",
            reporter="source",
            request_protocol="http",
            response_code=str(code),
            response_flags=flags,
            source_app=WEB_APP,
            source_version=web.version,
            source_workload=web.name.rsplit("-", 2)[0],
            source_workload_namespace=NAMESPACE,
        )

    def probe(self, p: ProbeResult) -> None:
        if p.became is not None:
            self._unready.setdefault(p.pod.name, []).append((p.t_us, p.became == "not ready"))

    # ------------------------------------------------------------------ the file
    def finish(self) -> None:
        t = self.ctx.window_end_us - 1  # every line at one instant: written in this order
        for line in _with_samples(self._lines()):
            self.out.add(t, line)

    def _lines(self) -> Iterator[str]:
        yield from self._up()
        yield from self._istio_families()
        yield from self._jvm_families()
        yield from self._memory_families()
        yield from self._ksm_families()
        yield from self._pg_families()
        yield "# EOF"

    def _up(self) -> Iterator[str]:
        yield "# TYPE up gauge"
        targets = [
            *self._pod_targets.values(),
            self._web,
            self._ksm,
            self._pg,
            *self._kubelets.values(),
        ]
        for target in sorted(targets, key=lambda x: x.labels):
            answered: set[int] = set()
            for jvm in self._jvms.values():
                if jvm.target is target:
                    answered.update(jvm.scrapes)
            is_pod = any(target is x for x in self._pod_targets.values())
            text = _text(target.labels)
            for k, t in enumerate(target.times):
                value = 1 if not is_pod or k in answered else 0
                yield f"up{{{text}}} {value} {_stamp(t)}"

    def _before_window(
        self, counts: list[int], times: list[int], since_us: int
    ) -> tuple[float, int]:
        """What a counter had counted before the window, as a multiple of what it counts
        in the window's first minutes: a process up since ``since_us`` counted at that
        rate all along (0 for a process started in the window, or a series first used
        after those minutes, say an error that only the incident brings).

        The minutes are the window's first five, cut at the incident's onset (but never
        below one): the steady traffic before the fault. Returns (the multiple, the
        scrapes those minutes span)."""
        w0 = self.ctx.window_start_us
        if since_us >= w0:
            return 0.0, 0
        plan = self.ctx.plan
        until = w0 + 300 * US
        if plan.incident and plan.onset_us is not None:
            until = max(w0 + 60 * US, min(until, plan.onset_us))
        horizon = bisect_left(times, until)
        if horizon == 0 or _first_use(counts) >= horizon:
            return 0.0, 0
        return (w0 - since_us) / (times[horizon - 1] - w0 + SCRAPE_INTERVAL_US), horizon

    def _istio_families(self) -> Iterator[str]:
        times = self._web.times
        ordered = sorted(
            (_text(_merge(self._istio_labels(key), self._web.labels)), series)
            for key, series in self._istio.items()
        )
        before = [self._before_window(v[0], times, self._web_since) for _, v in ordered]
        yield "# TYPE istio_requests counter"
        for (text, (counts, _, _)), (f, h) in zip(ordered, before, strict=True):
            total = round(f * sum(counts[:h]))
            # A series that counted before the window is there from the first scrape.
            for k in range(0 if f else _first_use(counts), len(times)):
                total += counts[k]
                yield f"istio_requests_total{{{text}}} {total} {_stamp(times[k])}"
        yield "# TYPE istio_request_duration_milliseconds histogram"
        for (text, (counts, sums, buckets)), (f, h) in zip(ordered, before, strict=True):
            # Each bucket counts every request up to its bound, scaled after summing, so
            # rounding keeps them in order and none above the count.
            up_to = itertools.accumulate(sum(b[:h]) for b in buckets[:-1])
            cumulative = [round(f * n) for n in up_to]
            count, total = round(f * sum(counts[:h])), round(f * sum(sums[:h]))
            for k in range(0 if f else _first_use(counts), len(times)):
                stamp = _stamp(times[k])
                below = 0
                for i, le in enumerate(ISTIO_BUCKETS_MS):
                    below += buckets[i][k]
                    cumulative[i] += below
                    yield (
                        f'istio_request_duration_milliseconds_bucket{{{text},le="{_go_float(le)}"}}'
                        f" {cumulative[i]} {stamp}"
                    )
                count += counts[k]
                total += sums[k]
                yield (
                    f'istio_request_duration_milliseconds_bucket{{{text},le="+Inf"}} {count} {stamp}'
                )
                yield f"istio_request_duration_milliseconds_count{{{text}}} {count} {stamp}"
                yield f"istio_request_duration_milliseconds_sum{{{text}}} {total} {stamp}"

    def _jvm_families(self) -> Iterator[str]:
        jvms = sorted(self._jvms.values(), key=lambda j: (j.target.labels, j.container.start_us))
        size = self.ctx.plan.pool_size
        # Micrometer's HikariCP binder (io.micrometer...MicrometerMetricsTracker): its
        # names and help texts, one series per pool.
        gauges: tuple[tuple[str, str, Callable[[_Jvm, int], int]], ...] = (
            ("hikaricp_connections", "Total connections", lambda j, k: size),
            ("hikaricp_connections_active", "Active connections", lambda j, k: j.active[k]),
            (
                "hikaricp_connections_idle",
                "Idle connections",
                lambda j, k: max(0, size - j.active[k]),
            ),
            ("hikaricp_connections_max", "Max connections", lambda j, k: size),
            ("hikaricp_connections_min", "Min connections", lambda j, k: size),
            ("hikaricp_connections_pending", "Pending threads", lambda j, k: j.pending[k]),
        )
        for name, help_text, value in gauges:
            yield f"# TYPE {name} gauge"
            yield f"# HELP {name} {help_text}"
            for jvm in jvms:
                text = _text(_merge(_labels(pool=POOL), jvm.target.labels))
                for k in jvm.scrapes:
                    yield f"{name}{{{text}}} {value(jvm, k)} {_stamp(jvm.target.times[k])}"
            if name == "hikaricp_connections":
                yield "# TYPE hikaricp_connections_acquire_seconds summary"
                yield "# HELP hikaricp_connections_acquire_seconds Connection acquire time"
                yield from self._summary(jvms, "hikaricp_connections_acquire_seconds")
        yield "# TYPE hikaricp_connections_timeout counter"
        yield "# HELP hikaricp_connections_timeout Connection timeout total count"
        # Registered when the pool starts (0 until a call times out), never before.
        pool = _labels(pool=POOL)
        for jvm in jvms:
            text = _text(_merge(pool, jvm.target.labels))
            values = jvm.counters.get(("hikaricp_connections_timeout", pool))
            total = sum(values[: jvm.scrapes.start]) if values else 0
            for k in jvm.scrapes:
                total += values[k] if values else 0
                stamp = _stamp(jvm.target.times[k])
                yield f"hikaricp_connections_timeout_total{{{text}}} {total} {stamp}"
        yield "# TYPE http_server_requests_seconds summary"
        yield from self._summary(jvms, "http_server_requests_seconds")
        yield "# TYPE process_uptime_seconds gauge"
        yield "# HELP process_uptime_seconds The uptime of the Java virtual machine"
        for jvm in jvms:
            text = _text(jvm.target.labels)
            for k in jvm.scrapes:
                t = jvm.target.times[k]
                uptime = _millis(t - jvm.container.start_us)
                yield f"process_uptime_seconds{{{text}}} {uptime} {_stamp(t)}"

    def _summary(self, jvms: list[_Jvm], name: str) -> Iterator[str]:
        for text, jvm, own, counts in _series(jvms, f"{name}_count"):
            durations = jvm.counters[(f"{name}_sum", own)]
            f, h = self._before_window(counts, jvm.target.times, jvm.container.start_us)
            count, total = round(f * sum(counts[:h])), round(f * sum(durations[:h]))
            for k in range(0 if f else _first_use(counts), len(counts)):
                count += counts[k]
                total += durations[k]
                if k in jvm.scrapes:
                    stamp = _stamp(jvm.target.times[k])
                    yield f"{name}_count{{{text}}} {count} {stamp}"
                    yield f"{name}_sum{{{text}}} {_seconds(total)} {stamp}"

    def _live_heap(self, jvm: _Jvm, t_us: int) -> float:
        """The old generation after the last collection, in MiB: ``plan.heap_used`` of
        -Xmx, grown from a few MB while a new JVM warms up, and, like the GC log's
        after-values, a few MB either side of it, changing at each collection (about
        every STEADY_GC_GAP_S on a healthy JVM)."""
        c = jvm.container
        warm = min(1.0, 0.06 + 0.94 * (t_us - c.start_us) / (WARM_UP_S * 1e6))
        live = HEAP_MAX_MB * self.ctx.plan.heap_used(t_us, jvm.pod) * warm
        epoch = (t_us - c.start_us) // int(STEADY_GC_GAP_S * US)
        wobble = (_mix(c.start_us, epoch, jvm.pod.name) % 12001) / 1000.0 - 6.0
        return max(4.0, live + wobble * warm)

    def _cadvisor_labels(self, jvm: _Jvm, **extra: str) -> Labels:
        """A container run's cAdvisor series: its cgroup, under its node's kubelet."""
        pod = jvm.pod
        own = _labels(
            container=API_SERVICE,
            id=f"/kubepods/burstable/pod{pod.uid}/{jvm.container.container_id}",
            namespace=NAMESPACE,
            pod=pod.name,
            **extra,
        )
        return _merge(own, self._kubelets[pod.node].labels)

    def _memory_families(self) -> Iterator[str]:
        jvms = sorted(self._jvms.values(), key=lambda j: (j.target.labels, j.container.start_us))
        yield "# TYPE container_memory_working_set_bytes gauge"
        yield "# HELP container_memory_working_set_bytes Current working set of the container in bytes"
        rows = []
        for jvm in jvms:
            c = jvm.container
            target = self._kubelets[jvm.pod.node]
            labels = self._cadvisor_labels(jvm)
            until = self.ctx.window_end_us if c.end_us is None else c.end_us
            lines = []
            for t in target.times[target.index(c.start_us) : target.index(until)]:
                mib = jvm.non_heap_mib * min(1.0, 0.5 + (t - c.start_us) / (WARM_UP_S * 2e6))
                mib += self._live_heap(jvm, t)
                lines.append(
                    f"container_memory_working_set_bytes{{{_text(labels)}}} {int(mib * MIB)} {_stamp(t)}"
                )
            rows.append((labels, lines))
        for _, lines in sorted(rows):
            yield from lines
        yield "# TYPE container_cpu_usage_seconds counter"
        yield "# HELP container_cpu_usage_seconds Cumulative cpu time consumed in seconds."
        rows = []
        for jvm in jvms:
            c = jvm.container
            target = self._kubelets[jvm.pod.node]
            labels = self._cadvisor_labels(jvm, cpu="total")
            until = self.ctx.window_end_us if c.end_us is None else c.end_us
            rows.append((labels, list(self._cpu_lines(jvm, target, labels, until))))
        for _, lines in sorted(rows):
            yield from lines
        yield "# TYPE jvm_memory_max_bytes gauge"
        yield "# HELP jvm_memory_max_bytes The maximum amount of memory in bytes that can be used for memory management"
        for jvm in jvms:
            text = _text(_merge(_labels(area="heap", id="G1 Old Gen"), jvm.target.labels))
            for k in jvm.scrapes:
                yield f"jvm_memory_max_bytes{{{text}}} {HEAP_MAX_MB * MIB} {_stamp(jvm.target.times[k])}"
        yield "# TYPE jvm_memory_used_bytes gauge"
        yield "# HELP jvm_memory_used_bytes The amount of used memory"
        for jvm in jvms:
            text = _text(_merge(_labels(area="heap", id="G1 Old Gen"), jvm.target.labels))
            for k in jvm.scrapes:
                t = jvm.target.times[k]
                used = int(self._live_heap(jvm, t) * MIB)
                yield f"jvm_memory_used_bytes{{{text}}} {used} {_stamp(t)}"

    def _cpu_lines(
        self, jvm: _Jvm, target: _Target, labels: Labels, until_us: int
    ) -> Iterator[str]:
        """The container's CPU seconds, as cAdvisor reads them from the cgroup at each
        of its kubelet's scrapes: the JVM's handling of its requests, its background
        threads, its start-up and, as the heap fills, the garbage collector
        (``plan.cpu_time``: the factor that also slows the requests), never more than
        the container's limit allows (past it the kernel throttles)."""
        c = jvm.container
        text = _text(labels)
        # A JVM up for hours has used CPU for hours, at about its idle rate.
        used = IDLE_CORES * max(0, self.ctx.window_start_us - c.start_us)
        last = max(c.start_us, self.ctx.window_start_us)
        times = target.times
        for k in range(target.index(c.start_us), target.index(until_us)):
            t = times[k]
            span = t - last
            gc = (self.ctx.plan.cpu_time(t, jvm.pod) - 1.0) * GC_CORES * span
            startup = STARTUP_CORES * span if t - c.start_us < 20 * US else 0.0
            demand = IDLE_CORES * span + gc + startup + jvm.cpu[k]
            # A throttled container gets a little under its quota in each period.
            quota = API_CPU_LIMIT * (0.965 + (_mix(c.start_us, k) % 300) / 10_000)
            used += min(quota * span, demand)
            last = t
            yield f"container_cpu_usage_seconds_total{{{text}}} {_seconds(int(used))} {_stamp(t)}"

    def _ksm_families(self) -> Iterator[str]:
        ksm = self._ksm
        pods = sorted(self.ctx.stack.api_pods, key=lambda p: p.name)
        yield "# TYPE kube_deployment_status_replicas_available gauge"
        yield "# HELP kube_deployment_status_replicas_available [STABLE] The number of available replicas per deployment."
        text = _text(_merge(_labels(deployment=API_SERVICE, namespace=NAMESPACE), ksm.labels))
        for t in ksm.times:
            ready = sum(1 for p in pods if self._ready(p, t))
            yield f"kube_deployment_status_replicas_available{{{text}}} {ready} {_stamp(t)}"
        yield "# TYPE kube_pod_container_status_restarts counter"
        yield "# HELP kube_pod_container_status_restarts [STABLE] The number of container restarts per container."
        for pod in pods:
            text = _text(
                _merge(
                    _labels(container=API_SERVICE, namespace=NAMESPACE, pod=pod.name, uid=pod.uid),
                    ksm.labels,
                )
            )
            for t in ksm.times:
                if _exists(pod, t):
                    runs = [c for c in pod.containers if c.start_us <= t]
                    yield f"kube_pod_container_status_restarts_total{{{text}}} {runs[-1].restart_count} {_stamp(t)}"
        yield "# TYPE kube_pod_container_resource_limits gauge"
        yield "# HELP kube_pod_container_resource_limits The number of requested limit resource by a container. It is recommended to use the kube_pod_resource_limits metric exposed by kube-scheduler instead, as it is more precise."
        limits = (("cpu", "core", _go_number(API_CPU_LIMIT)), ("memory", "byte", str(LIMIT_BYTES)))
        for pod in pods:
            for resource, unit, amount in limits:
                text = _text(
                    _merge(
                        _labels(
                            container=API_SERVICE,
                            namespace=NAMESPACE,
                            node=pod.node,
                            pod=pod.name,
                            resource=resource,
                            uid=pod.uid,
                            unit=unit,
                        ),
                        ksm.labels,
                    )
                )
                for t in ksm.times:
                    if _exists(pod, t):
                        yield f"kube_pod_container_resource_limits{{{text}}} {amount} {_stamp(t)}"
        # The last termination's reason, and the back-off between a death and the next
        # start: what CrashLoopBackOff and OOMKilled alerts read (kubernetes-mixin).
        yield "# TYPE kube_pod_container_status_last_terminated_reason gauge"
        yield "# HELP kube_pod_container_status_last_terminated_reason Describes the last reason the container was in terminated state."
        for pod in pods:
            for reason in sorted({c.reason for c in pod.containers if c.reason}):
                text = _text(
                    _merge(
                        _labels(
                            container=API_SERVICE,
                            namespace=NAMESPACE,
                            pod=pod.name,
                            reason=reason,
                            uid=pod.uid,
                        ),
                        ksm.labels,
                    )
                )
                for t in ksm.times:
                    ended = [c for c in pod.containers if c.end_us is not None and c.end_us <= t]
                    if _exists(pod, t) and ended:
                        last = int(ended[-1].reason == reason)
                        yield f"kube_pod_container_status_last_terminated_reason{{{text}}} {last} {_stamp(t)}"
        yield "# TYPE kube_pod_container_status_waiting_reason gauge"
        yield "# HELP kube_pod_container_status_waiting_reason Describes the reason the container is currently in waiting state."
        for pod in pods:
            text = _text(
                _merge(
                    _labels(
                        container=API_SERVICE,
                        namespace=NAMESPACE,
                        pod=pod.name,
                        reason="CrashLoopBackOff",
                        uid=pod.uid,
                    ),
                    ksm.labels,
                )
            )
            for t in ksm.times:
                if _exists(pod, t) and self._backing_off(pod, t):
                    yield f"kube_pod_container_status_waiting_reason{{{text}}} 1 {_stamp(t)}"
        yield "# TYPE kube_pod_status_ready gauge"
        yield "# HELP kube_pod_status_ready [STABLE] Describes whether the pod is ready to serve requests."
        for pod in pods:
            for condition in ("false", "true", "unknown"):
                text = _text(
                    _merge(
                        _labels(
                            condition=condition, namespace=NAMESPACE, pod=pod.name, uid=pod.uid
                        ),
                        ksm.labels,
                    )
                )
                for t in ksm.times:
                    if _exists(pod, t):
                        ready = self._ready(pod, t)
                        value = {"true": ready, "false": not ready, "unknown": False}[condition]
                        yield f"kube_pod_status_ready{{{text}}} {int(value)} {_stamp(t)}"

    @staticmethod
    def _backing_off(pod: Pod, t_us: int) -> bool:
        """Between a container's death and the next one's start: the kubelet waits
        out its restart back-off (what the k8s stream's BackOff events say)."""
        for before, after in itertools.pairwise(pod.containers):
            if before.end_us is not None and before.end_us <= t_us < after.start_us:
                return before.reason in ("OOMKilled", "Error")
        last = pod.containers[-1]
        return last.end_us is not None and last.end_us <= t_us and pod.deleted_us is None

    def _ready(self, pod: Pod, t_us: int) -> bool:
        """Ready as the endpoints controller saw it: started, not deleted, and not
        marked unready by failed readiness probes (the simulation's own rule)."""
        if not pod.ready_at(t_us):
            return False
        unready = False
        for at, state in self._unready.get(pod.name, ()):
            if at > t_us:
                break
            unready = state
        return not unready

    def _pg_families(self) -> Iterator[str]:
        pg = self._pg
        open_conns = self._open_connections()
        yield "# TYPE pg_stat_activity_count gauge"
        yield "# HELP pg_stat_activity_count number of connections in this state"
        for db in PG_DATABASES:
            for state in PG_STATES:
                text = _text(_merge(_labels(datname=db, state=state), pg.labels))
                for k, t in enumerate(pg.times):
                    # The exporter's own session runs the query, in database postgres.
                    value = 1 if (db, state) == ("postgres", "active") else 0
                    if db == DB_DATABASE:
                        active, in_tx = self._pg_active[k], self._pg_in_tx[k]
                        value = {
                            "active": active,
                            "idle": max(0, open_conns[k] - active - in_tx),
                            "idle in transaction": in_tx,
                        }.get(state, 0)
                    yield f"pg_stat_activity_count{{{text}}} {value} {_stamp(t)}"
        # postgres_exporter's stat_statements collector (collector/pg_stat_statements.go).
        ordered = sorted(self._statements.items(), key=lambda kv: self._queryids[kv[0]])
        families = (
            ("pg_stat_statements_calls", "Number of times executed", 0),
            ("pg_stat_statements_seconds", "Total time spent in the statement, in seconds", 1),
        )
        for name, help_text, which in families:
            yield f"# TYPE {name} counter"
            yield f"# HELP {name} {help_text}"
            for query, stats in ordered:
                labels = _labels(datname=DB_DATABASE, queryid=self._queryids[query], user=DB_USER)
                text = _text(_merge(labels, pg.labels))
                f, h = self._before_window(stats[0], pg.times, self._pg_since)
                values = stats[which]
                total = round(f * sum(values[:h]))
                for k in range(0 if f else _first_use(stats[0]), len(pg.times)):
                    total += values[k]
                    shown = total if which == 0 else _seconds(total)
                    yield f"{name}_total{{{text}}} {shown} {_stamp(pg.times[k])}"
        yield "# TYPE pg_up gauge"
        yield "# HELP pg_up Whether the last scrape of metrics from PostgreSQL was able to connect to the server (1 for yes, 0 for no)."
        text = _text(pg.labels)
        for t in pg.times:
            yield f"pg_up{{{text}}} 1 {_stamp(t)}"

    def _open_connections(self) -> list[int]:
        """The app's connections PostgreSQL holds at each of its exporter's scrapes:
        every live JVM keeps its pool full (HikariCP's minimumIdle defaults to the
        maximum pool size)."""
        size = self.ctx.plan.pool_size
        out = []
        for t in self._pg.times:
            live = 0
            for pod in self.ctx.stack.api_pods:
                c = pod.alive_at(t)
                if c is not None and c.ready_us <= t and _exists(pod, t):
                    live += 1
            out.append(live * size)
        return out


def _mix(*parts: object) -> int:
    """A stable 64-bit hash of ``parts`` (not Python's ``hash``: the same in every run)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _merge(own: Labels, target: Labels) -> Labels:
    return tuple(sorted((*own, *target)))


def _with_samples(lines: Iterator[str]) -> Iterator[str]:
    """The lines without the families that hold no sample: a store exports only the
    series it has (no restart, no CrashLoopBackOff series)."""
    family: list[str] = []
    for line in lines:
        if line.startswith("# TYPE ") or line == "# EOF":
            if any(not x.startswith("#") for x in family):
                yield from family
            family = [line]
        else:
            family.append(line)
    yield from family


def _first_use(values: list[int]) -> int:
    """The first scrape whose sample has the series: a meter (Micrometer's, Envoy's)
    exists from its first use on."""
    return next((k for k, v in enumerate(values) if v), len(values))


def _series(jvms: list[_Jvm], name: str) -> list[tuple[str, _Jvm, Labels, list[int]]]:
    """Every JVM's values of counter ``name``, as (label text, JVM, per-scrape
    increments), sorted by labels and then by the JVM's start: one series' runs in
    time order (a restarted container's meters count from zero again)."""
    found = []
    for jvm in jvms:
        for (family, own), values in jvm.counters.items():
            if family == name:
                merged = _merge(own, jvm.target.labels)
                found.append((merged, jvm.container.start_us, jvm, own, values))
    found.sort(key=lambda x: (x[0], x[1]))
    return [(_text(merged), jvm, own, values) for merged, _, jvm, own, values in found]


def _exists(pod: Pod, t_us: int) -> bool:
    return pod.containers[0].start_us <= t_us and (pod.deleted_us is None or t_us < pod.deleted_us)
