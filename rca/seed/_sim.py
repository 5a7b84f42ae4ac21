"""The shared simulation: one discrete-event pass that decides what happened.

Every stream re-runs this pass from the same seed, so all five agree on every request
(ids, pods, status, durations) without sharing state; renderers then draw only
stream-local details (thread names, backend PIDs) from their own generators.

Physical rules kept here, not in renderers:
* arrivals are a non-homogeneous Poisson process (diurnal curve x short wave x jitter x
  the scenario's multiplier), normalised so the window's mean rate is ``rps``;
* each orders-api container has a HikariCP pool of ``plan.pool_size`` connections held
  for the whole request (open-in-view); a request waits FIFO-ish for a free connection
  and gives up after ``HIKARI_TIMEOUT_MS``;
* the mesh routes only to endpoints it still believes ready (``EDS_LAG_US`` behind the
  truth), retries 5xx/resets/refused connects up to ``MESH_RETRY_ATTEMPTS`` times with
  Envoy's jittered back-off, and answers 504 UT at ``MESH_ROUTE_TIMEOUT_MS``;
* nginx passes the mesh's status and body through and always lasts longer than it;
* readiness probes run every 10 s per pod; three consecutive failures (DB health check
  starved of connections, or a container still starting) take a pod out of rotation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import math
import os
import string
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _catalog as cat
from ._catalog import Endpoint, Query
from ._errors import GenerationError
from ._rng import Z_TABLE, IdSource, Rng, WeightedPicker
from ._timefmt import US
from ._topology import (
    API_PORT,
    CLIENT_NETS,
    EDS_LAG_US,
    HIKARI_TIMEOUT_MS,
    MESH_RETRY_ATTEMPTS,
    MESH_ROUTE_TIMEOUT_MS,
    PROBE_FAILURE_THRESHOLD,
    PROBE_PERIOD_US,
    Container,
    Pod,
    Stack,
)
from .scenarios import Fact, Plan, no_wait, unchanged

try:  # the compiled main loop (_simcore.c), built by `pip install -e .`; optional
    from . import _simcore
except ImportError:  # pragma: no cover - exercised where no compiler was available
    _simcore = None  # type: ignore[assignment]


def _stale_core() -> str | None:
    """Why the built core does not match its source beside it, if it does not."""
    source = Path(__file__).with_name("_simcore.c")
    if _simcore is None or not source.exists():  # an installed wheel ships no source
        return None
    built = getattr(_simcore, "SOURCE_SHA256", "unknown")
    if hashlib.sha256(source.read_bytes()).hexdigest() == built:
        return None
    return (
        f"rca.seed._simcore was built from another version of {source.name} "
        "(rebuild: `pip install -e .` or `make env`)"
    )


STALE_CORE = _stale_core()

ENGINES = ("auto", "native", "python")
ENGINE_ENV = "RCA_SIM_ENGINE"  # auto (default) | native | python

CHUNK_US = 60 * US  # fixed noise chunk: renderers add background lines a chunk at a time
FLUSH_US = 5 * US  # sinks write out everything older than the sim clock this often
NOISE_LEVEL = {"low": 0.4, "medium": 1.0, "high": 2.5}
ROUTE_TIMEOUT_US = MESH_ROUTE_TIMEOUT_MS * 1000
HIKARI_TIMEOUT_US = HIKARI_TIMEOUT_MS * 1000

# Envoy local-reply bodies; bytes_sent must equal their length.
BODY_UH = "no healthy upstream"
BODY_UT = "upstream request timeout"
_RESET = "upstream connect error or disconnect/reset before headers. "
BODY_UC = _RESET + "reset reason: connection termination"
BODY_UC_RETRIED = _RESET + "retried and the latest reset reason: connection termination"
BODY_UF = (
    _RESET + "reset reason: connection failure, "
    "transport failure reason: delayed connect error: 111"
)
BODY_UF_RETRIED = (
    _RESET + "retried and the latest reset reason: connection failure, "
    "transport failure reason: delayed connect error: 111"
)
DETAILS_UF = "upstream_reset_before_response_started{connection_failure,delayed_connect_error:_111}"
DETAILS_UC = "upstream_reset_before_response_started{connection_termination}"
TRANSPORT_REFUSED = "delayed connect error: 111"
SEARCH_REFERER = "https://www.example.com/search"
# Per-step jitter of the arrival rate: lognormal with mean 1.
JITTER_SIGMA = 0.12
JITTER_MEDIAN = math.exp(-(JITTER_SIGMA**2) / 2)


def _probe_refused(url: str, ip: str) -> str:
    return f'Get "{url}": dial tcp {ip}:{API_PORT}: connect: connection refused'


def _probe_deadline(url: str) -> str:
    return (
        f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
    )


@dataclass(slots=True)
class Attempt:
    """One try of one request on one orders-api pod."""

    pod: Pod
    container: Container | None
    start_us: int
    end_us: int
    status: int  # 0: no HTTP response (refused connect or the container died)
    outcome: str  # ok | not_found | conflict | unauthorized | pool_timeout | npe | killed | refused
    db_start_us: int = 0
    db_us: int = 0
    pool_wait_us: int = 0
    pool_waiting: int = 0
    body_bytes: int = 0
    abandoned: bool = False  # the mesh gave up on it (timeout) before it ended


@dataclass(slots=True)
class Request:
    n: int
    t_us: int
    request_id: str
    trace_id: str
    kind: str  # static | api | scanner
    client_ip: str
    user_agent: str
    referer: str
    method: str
    path: str
    endpoint: Endpoint | None = None
    params: dict[str, str] = field(default_factory=dict)
    # nginx
    status: int = 0
    body_bytes: int = 0
    end_us: int = 0
    upstream_us: int | None = None
    request_bytes: int = 0
    # mesh (outbound, web pod sidecar -> orders-api)
    mesh_start_us: int = 0
    mesh_end_us: int = 0
    mesh_code: int = 0
    mesh_flags: str = "-"
    mesh_details: str = ""
    mesh_bytes_sent: int = 0
    upstream_service_ms: int | None = None
    upstream_host: str | None = None
    transport_failure: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    exemplar: str | None = None  # first request of its kind of failure: evidence anchor


@dataclass(slots=True)
class Tick:
    """Sim time has reached ``t_us``: nothing emitted later has a line before it.

    A tick that starts a chunk (``chunk_start_us >= 0``) asks renderers for the background
    noise of ``[t_us, t_us + CHUNK_US)`` first; its lines lie ahead of the clock.
    """

    t_us: int
    chunk_start_us: int = -1


@dataclass(slots=True)
class ProbeResult:
    t_us: int
    pod: Pod
    ok: bool
    output: str
    became: str | None  # "ready" / "not ready" when readiness flips


Emission = Request | Fact | Tick | ProbeResult


@dataclass(slots=True)
class _Pool:
    free: list[int]
    waiters: list[int]


def _template_parts(template: str) -> tuple[tuple[str, str | None], ...] | None:
    """``template`` as (literal, param or None) pairs when every field is a bare
    ``{name}``: the core then builds paths itself; None leaves it to ``format_map``."""
    parts = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        if spec or conversion:
            return None
        parts.append((literal, name))
    return tuple(parts)


def _plain_fields(cls: type) -> tuple[str, ...]:
    """The field names of a dataclass the core may build without calling ``__init__``."""
    if "__post_init__" in dir(cls) or dataclasses.fields(cls)[0].init is False:
        raise TypeError(f"{cls.__name__} needs its __init__: the core cannot build it")
    return tuple(f.name for f in dataclasses.fields(cls))


def native_available() -> bool:
    """The compiled core is built, and built from the source beside it."""
    return _simcore is not None and STALE_CORE is None


def resolve_engine(engine: str | None = None) -> str:
    """``native`` or ``python``: the argument, else $RCA_SIM_ENGINE, else ``auto``.

    Both engines emit the same requests (tests/unit/test_simcore.py), so the choice
    changes speed only. ``auto`` takes the compiled core when it is built.
    """
    choice = engine if engine is not None else (os.environ.get(ENGINE_ENV) or "auto")
    source = "engine" if engine is not None else ENGINE_ENV
    if choice not in ENGINES:
        raise GenerationError(
            "INVALID_PARAMETER",
            f"{source}={choice!r} (allowed: {', '.join(ENGINES)})",
            field=source,
        )
    if choice == "native" and not native_available():
        why = STALE_CORE or (
            "the compiled simulation core (rca.seed._simcore) is not built: reinstall "
            "with a C compiler (`pip install -e .`)"
        )
        raise GenerationError(
            "INVALID_PARAMETER",
            f"{source}=native, but {why}; or use auto or python",
            field=source,
        )
    if choice == "auto":
        # A stale build is never used: its bytes could differ from the Python engine's.
        return "native" if native_available() else "python"
    return choice


class Simulation:
    def __init__(
        self,
        *,
        key: str,
        window_start_us: int,
        window_end_us: int,
        resolution_us: int,
        rps: float,
        noise_profile: str,
        stack: Stack,
        plan: Plan,
        engine: str | None = None,
    ) -> None:
        self.engine = resolve_engine(engine)
        self.rng = Rng(key, "traffic")
        self.ids = IdSource(key, "ids")
        self.start = window_start_us
        self.end = window_end_us
        self.res = resolution_us
        self.rps = rps
        self.noise = NOISE_LEVEL[noise_profile]
        self.stack = stack
        self.plan = plan
        self._heap: list[tuple[int, int, int, Any]] = []
        self._seq = 0
        self._n = 0
        self._pools: dict[tuple[str, int], _Pool] = {}
        self._probe_fail: dict[str, int] = {}
        self._probe_unready: dict[str, int | None] = {}  # pod -> since (None: ready)
        self._exemplars: set[str] = set()
        # Instants at which some pod's readiness can change (for the routing cache).
        marks: set[int] = set()
        for p in stack.api_pods:
            for c in p.containers:
                marks.update(x for x in (c.start_us, c.ready_us, c.end_us) if x is not None)
            if p.deleted_us is not None:
                marks.add(p.deleted_us)
        self._lifecycle = sorted(marks)
        self._route_cache: list[Pod] = []
        self._route_from = 1 << 62
        self._route_until = 0
        self._endpoint_pick = WeightedPicker([(e, e.weight) for e in cat.ENDPOINTS])
        self._static_pick = WeightedPicker(
            [(a, w) for a, w in zip(cat.STATIC_ASSETS, (30, 14, 14, 12, 6, 6), strict=True)]
        )

    # ------------------------------------------------------------------ scheduling
    def _push(self, t_us: int, kind: int, payload: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t_us, self._seq, kind, payload))

    _FACT, _PROBE, _RETRY, _SCANNER = 0, 1, 2, 3

    def _rate_scale(self) -> float:
        """Scale so the baseline's mean rate over the window equals ``rps``.

        The scenario's own traffic multiplier (a spike) comes on top of the baseline.
        """
        total = 0.0
        steps = 0
        t = self.start
        while t < self.end:
            total += self._shape(t + self.res // 2)
            steps += 1
            t += self.res
        return self.rps / (total / steps)

    def _shape(self, t_us: int) -> float:
        hours = (t_us / US / 3600.0) % 24.0
        diurnal = 1.0 + 0.35 * math.cos(2 * math.pi * (hours - 19.0) / 24.0)
        wave = 1.0 + 0.08 * math.sin(2 * math.pi * (t_us / US) / 1020.0)
        return diurnal * wave

    # ------------------------------------------------------------------ main loop
    def run(self) -> Iterator[Emission]:
        """The emissions, in order; the compiled core's when it is built (same bytes)."""
        if self.engine == "native":
            return self._run_native()
        return self._run_python()

    def _schedule(self, push: Callable[[int, int, Any], None]) -> None:
        """What is known before the first arrival: facts, first probes, scanner bursts."""
        rng = self.rng
        for i, fact in enumerate(sorted(self.plan.facts, key=lambda f: f.t_us)):
            push(fact.t_us, self._FACT, (i, fact))
        for pod in self.stack.api_pods:
            first = pod.containers[0].start_us + rng.between(1, 10) * US
            first = max(first, self.start + rng.below(int(PROBE_PERIOD_US)))
            push(first, self._PROBE, pod)
        self._plan_scanners(push)

    def _rate_at(self, scale: float) -> Callable[[int], float]:
        """The arrival rate at the middle of a step, before its jitter."""
        shape, rate = self._shape, self.plan.rate
        return lambda mid: scale * shape(mid) * rate(mid)

    def _run_python(self) -> Iterator[Emission]:
        rng = self.rng
        self._schedule(self._push)
        rate_at = self._rate_at(self._rate_scale())
        self._next_tick = self.start
        heap = self._heap
        step_start = self.start
        while step_start < self.end:
            step_end = min(step_start + self.res, self.end)
            mid = (step_start + step_end) // 2
            lam = rate_at(mid)
            lam *= rng.lognormal(JITTER_MEDIAN, JITTER_SIGMA)
            mean_gap_us = US / lam
            t = step_start + int(rng.exponential(mean_gap_us))
            while t < step_end:
                while heap and heap[0][0] <= t:
                    e = self._pop()
                    if e is not None:
                        yield e
                if t >= self._next_tick:
                    yield from self._ticks(t)
                e = self._arrival(t)
                if e is not None:
                    yield e
                t += max(1, int(rng.exponential(mean_gap_us)))
            step_start = step_end
        while heap and heap[0][0] < self.end:
            yield from self._ticks(heap[0][0])
            e = self._pop()
            if e is not None:
                yield e
        # Requests still open at the end resolve in the heap; drain what belongs to them.
        while heap:
            if heap[0][2] == self._RETRY:
                e = self._pop()
                if e is not None:
                    yield e
            else:
                heapq.heappop(heap)
        yield from self._ticks(self.end)
        yield Tick(self.end + 3600 * US)

    def _run_native(self) -> Iterator[Emission]:
        assert _simcore is not None
        core = _simcore.Core(self._native_config())
        # The set-up draws from the core's generator, so both engines draw alike.
        self.rng.random = core.random
        pod_index = {p.name: i for i, p in enumerate(self.stack.api_pods)}

        def push(t: int, kind: int, payload: Any) -> None:
            if kind == self._FACT:
                core.push(t, _simcore.FACT, payload[1])
            elif kind == self._PROBE:
                core.push(t, _simcore.PROBE, pod_index[payload.name])
            else:
                core.push(t, _simcore.SCANNER, payload)

        self._schedule(push)
        return core

    def _native_config(self) -> dict[str, Any]:
        """Everything the compiled core reads, from the same sources as this class."""
        plan, ids = self.plan, self.ids
        faulty = plan.faulty_versions
        pods = []
        for p in self.stack.api_pods:
            url = f"http://{p.ip}:{API_PORT}/actuator/health/readiness"
            pods.append(
                {
                    "obj": p,
                    "upstream_host": f"{p.ip}:{API_PORT}",
                    "out_refused": _probe_refused(url, p.ip),
                    "out_deadline": _probe_deadline(url),
                    "deleted_us": p.deleted_us,
                    "faulty": int(p.version in faulty),
                    "containers": tuple(
                        {
                            "obj": c,
                            "start_us": c.start_us,
                            "ready_us": c.ready_us,
                            "end_us": c.end_us,
                            "restart_count": c.restart_count,
                        }
                        for c in p.containers
                    ),
                }
            )
        endpoints = tuple(
            {
                "obj": e,
                "key": e.key,
                "method": e.method,
                "template": e.template,
                "template_parts": _template_parts(e.template),
                "cpu_ms": float(e.cpu_ms),
                "query_key": e.query.key,
                "query_median_ms": float(e.query.median_ms),
                "query_sigma": float(e.query.sigma),
                "ok_status": e.ok_status,
                "body_low": e.body_bytes[0],
                "body_high": e.body_bytes[1],
                "request_bytes": e.request_bytes,
            }
            for e in self._endpoint_pick.items
        )
        endings = {  # (flags, details, body length) of each way the mesh answers
            "via": ("-", "via_upstream", 0),
            "urx": ("URX", "via_upstream", 0),
            "uh": ("UH", "no_healthy_upstream", len(BODY_UH)),
            "ut": ("UT", "upstream_response_timeout", len(BODY_UT)),
            "uf": ("UF", DETAILS_UF, len(BODY_UF)),
            "uf_retried": ("UF,URX", DETAILS_UF, len(BODY_UF_RETRIED)),
            "uc": ("UC", DETAILS_UC, len(BODY_UC)),
            "uc_retried": ("UC,URX", DETAILS_UC, len(BODY_UC_RETRIED)),
        }
        text = {
            "static": "static",
            "api": "api",
            "scanner": "scanner",
            "GET": "GET",
            "/": "/",
            "-": "-",
            "": "",
            "search_referer": SEARCH_REFERER,
            "ready": "ready",
            "not ready": "not ready",
            "transport_refused": TRANSPORT_REFUSED,
            **endings,
        }
        return {
            "mt_state": self.rng.state(),
            "start": self.start,
            "end": self.end,
            "res": self.res,
            "us": US,
            "chunk_us": CHUNK_US,
            "flush_us": FLUSH_US,
            "route_timeout_us": ROUTE_TIMEOUT_US,
            "hikari_timeout_us": HIKARI_TIMEOUT_US,
            "eds_lag_us": EDS_LAG_US,
            "probe_period_us": PROBE_PERIOD_US,
            "probe_threshold": PROBE_FAILURE_THRESHOLD,
            "retry_attempts": MESH_RETRY_ATTEMPTS,
            "pool_size": plan.pool_size,
            "noise": self.noise,
            "jitter_median": JITTER_MEDIAN,
            "jitter_sigma": JITTER_SIGMA,
            "fault_probability": float(plan.fault_probability),
            "z_table": Z_TABLE,
            "nets": tuple(CLIENT_NETS),
            "agents": tuple(cat.BROWSER_AGENTS),
            "referers": tuple(cat.PAGE_REFERERS),
            "categories": tuple(cat.CATEGORIES),
            "static_cum": tuple(float(c) for c in self._static_pick.cumulative),
            "static_items": tuple(self._static_pick.items),
            "endpoint_cum": tuple(float(c) for c in self._endpoint_pick.cumulative),
            "endpoints": endpoints,
            "pods": tuple(pods),
            "lifecycle": tuple(self._lifecycle),
            "rate_at": self._rate_at(self._rate_scale()),
            "cpu_time": plan.cpu_time,
            "db_time": plan.db_time,
            "unchanged": unchanged,
            "db_wait": plan.db_wait,
            "no_wait": no_wait,
            "ids_key": ids.key,  # the core derives hex("req", n, 32) itself
            "Request": Request,
            "Attempt": Attempt,
            # The core fills these slotted dataclasses field by field, bypassing __init__.
            "request_fields": _plain_fields(Request),
            "attempt_fields": _plain_fields(Attempt),
            "Tick": Tick,
            "ProbeResult": ProbeResult,
            "text": text,
        }

    def _ticks(self, t: int) -> Iterator[Tick]:
        """Every flush tick up to ``t``; chunk boundaries start a chunk."""
        while self._next_tick <= t:
            tick = self._next_tick
            on_chunk = (tick - self.start) % CHUNK_US == 0 and tick < self.end
            yield Tick(tick, tick if on_chunk else -1)
            self._next_tick = tick + FLUSH_US

    # The event handlers below return their one emission (or None) instead of yielding:
    # a generator per request costs more than the work it wraps.
    def _pop(self) -> Emission | None:
        t, _, kind, payload = heapq.heappop(self._heap)
        if kind == self._FACT:
            fact: Fact = payload[1]
            return fact
        if kind == self._PROBE:
            return self._probe(t, payload)
        if kind == self._RETRY:
            r, tries = payload
            return self._try(r, t, tries)
        return self._scanner(t, payload)

    # ------------------------------------------------------------------ requests
    def _new_request(self, t: int, kind: str) -> Request:
        n = self._n
        self._n += 1
        random = self.rng.random
        ids = self.ids.hex("req", n, 32)  # one digest: request id, then trace id
        nets, agents, referers = CLIENT_NETS, cat.BROWSER_AGENTS, cat.PAGE_REFERERS
        # Positional: this runs once per request, and keywords cost a third more.
        return Request(
            n,
            t,
            ids[:32],
            ids[32:],
            kind,
            f"{nets[int(random() * len(nets))]}{2 + int(random() * 253)}",
            agents[int(random() * len(agents))],
            referers[int(random() * len(referers))],
            "GET",
            "/",
        )

    def _arrival(self, t: int) -> Request | None:
        rng = self.rng
        random = rng.random
        if random() < 0.36:
            r = self._new_request(t, "static")
            (path, size) = self._static_pick(rng)
            r.path = path
            if path == "/":
                r.referer = "-" if random() < 0.5 else SEARCH_REFERER
            if path != "/" and random() < 0.3:
                r.status, r.body_bytes = 304, 0
            else:
                r.status, r.body_bytes = 200, size
            r.end_us = t + int(-600 * math.log(1.0 - random())) + 40
            return r
        r = self._new_request(t, "api")
        ep = self._endpoint_pick(rng)
        r.endpoint = ep
        r.method = ep.method
        r.request_bytes = ep.request_bytes
        categories = cat.CATEGORIES
        r.params = params = {
            "customer": str(1000 + int(random() * 97_001)),
            "order": str(100_000 + int(random() * 840_001)),
            "page": str(min(int(-0.7 * math.log(1.0 - random())), 9)),
            "category": categories[int(random() * len(categories))],
        }
        r.path = ep.template.format_map(params)
        r.mesh_start_us = t + 180 + int(random() * 120)
        return self._try(r, r.mesh_start_us + 350 + int(random() * 300), 0)

    def _routable(self, t: int) -> list[Pod]:
        """Pods the sidecar still has as healthy endpoints (it learns of changes late).

        The answer only changes at lifecycle instants (known from the plan) and when a
        probe flips readiness, so it is cached until the next such instant.
        """
        seen = t - EDS_LAG_US
        if self._route_from <= seen < self._route_until:
            return self._route_cache
        out = []
        until = (
            self._lifecycle[bisect_right(self._lifecycle, seen)]
            if (self._lifecycle and self._lifecycle[-1] > seen)
            else 1 << 62
        )
        for p in self.stack.api_pods:
            since = self._probe_unready.get(p.name)
            if since is not None and since > seen:
                until = min(until, since)
            if not p.ready_at(seen):
                continue
            if since is not None and since <= seen:
                continue
            out.append(p)
        self._route_cache, self._route_from, self._route_until = out, seen, until
        return out

    def _try(self, r: Request, t: int, tries: int) -> Request | None:
        """Send one attempt: the finished request, or None while a retry is pending."""
        rng = self.rng
        deadline = r.mesh_start_us + ROUTE_TIMEOUT_US
        pods = self._routable(t)
        if r.attempts:  # a retry prefers a pod not tried yet (Envoy's previous_hosts)
            tried = {a.pod.name for a in r.attempts}
            fresh = [p for p in pods if p.name not in tried] or pods
        else:
            fresh = pods
        if not fresh:
            if not r.attempts:
                return self._finish_local(
                    r, t + 60 + rng.below(200), 503, "UH", "no_healthy_upstream", BODY_UH
                )
            return self._finish_failed(r)
        pod = fresh[rng.below(len(fresh))]
        a = self._run_attempt(r, pod, t)
        r.attempts.append(a)
        if a.end_us > deadline:
            a.abandoned = True
            return self._finish_timeout(r, deadline)
        retriable = a.status >= 500 or a.status == 0
        if retriable and tries < MESH_RETRY_ATTEMPTS:
            backoff = int(rng.random() * (2 ** (tries + 1) - 1) * 25_000)
            nxt = a.end_us + backoff + 300
            if nxt < deadline:
                self._push(nxt, self._RETRY, (r, tries + 1))
                return None
        if (retriable and tries > 0) or (retriable and a.status == 0):
            return self._finish_failed(r)
        return self._finish_upstream(r, a)

    def _run_attempt(self, r: Request, pod: Pod, t: int) -> Attempt:
        rng = self.rng
        ep = r.endpoint
        assert ep is not None
        c = pod.alive_at(t)
        if c is None:  # endpoint still listed but the container is gone: refused
            return Attempt(pod, None, t, t + 200 + rng.below(900), 0, "refused")
        plan = self.plan
        cpu = plan.cpu_time(t, pod)
        lognormal = rng.lognormal
        pre = int(lognormal(1_100, 0.4) * cpu)
        acquire = t + pre
        q: Query = ep.query
        db_us = int(lognormal(q.median_ms * 1000, q.sigma) * plan.db_time(acquire, q.key))
        post = int(lognormal(ep.cpu_ms * 1000, 0.5) * cpu)
        pool = self._pool(pod, c)
        if plan.db_wait is not no_wait:
            # A statement blocked on a lock holds its connection while it waits: the
            # wait counts from when it gets the connection, as HikariCP would hand it.
            free_at = pool.free[0]
            got = acquire if free_at <= acquire else free_at
            if got - acquire <= HIKARI_TIMEOUT_US:
                db_us += plan.db_wait(got, q.key)
        wait, waiting = self._acquire(pool, acquire, db_us + post)
        a = Attempt(pod, c, t, 0, 200, "ok", 0, 0, 0, waiting)
        if wait is None:
            a.end_us = acquire + HIKARI_TIMEOUT_US + 600 + rng.below(3_400)
            a.status, a.outcome = 500, "pool_timeout"
            a.pool_wait_us = a.end_us - acquire
        else:
            a.pool_wait_us = wait
            a.db_start_us = acquire + wait
            a.db_us = db_us
            a.end_us = a.db_start_us + db_us + post
            a.status = ep.ok_status
            if (
                pod.version in plan.faulty_versions
                and ep.key in ("create_order", "get_order")
                # The bug depends on the customer (no loyalty tier), so a retry on
                # another pod of the same version fails the same way.
                and int(r.params["customer"]) % 1000 < plan.fault_probability * 1000
            ):
                a.status, a.outcome = 500, "npe"
                a.end_us = a.db_start_us + db_us + post // 3
            if a.outcome == "ok":
                roll = rng.random()
                if ep.key == "get_order" and roll < 0.02:
                    a.status, a.outcome = 404, "not_found"
                elif ep.key == "create_order" and roll < 0.006 * self.noise:
                    a.status, a.outcome = 409, "conflict"
                elif ep.key == "get_customer" and roll < 0.015:
                    a.status, a.outcome = 401, "unauthorized"
        if c.end_us is not None and t < c.end_us <= a.end_us:
            a.end_us, a.status, a.outcome = c.end_us, 0, "killed"
        if a.status == 200 or a.status == 201:  # the common case, inline
            low, high = ep.body_bytes
            a.body_bytes = low + int(rng.random() * (high - low))
        else:
            a.body_bytes = self._body_bytes(r, a)
        if r.exemplar is None and (a.outcome != "ok" or a.db_us > 1_000_000):
            self._mark_exemplar(r, a)
        return a

    def _body_bytes(self, r: Request, a: Attempt) -> int:
        ep = r.endpoint
        assert ep is not None
        if a.status == 200 or a.status == 201:
            low, high = ep.body_bytes
            return low + int(self.rng.random() * (high - low))
        if a.status == 401 or a.status == 0:
            return 0
        # Spring Boot's default error JSON; its length depends on the status and path.
        reason = {404: "Not Found", 409: "Conflict", 500: "Internal Server Error"}[a.status]
        path = r.path.split("?", 1)[0]
        body = (
            '{"timestamp":"2026-01-01T00:00:00.000+00:00",'
            f'"status":{a.status},"error":"{reason}","path":"{path}"}}'
        )
        return len(body)

    def _mark_exemplar(self, r: Request, a: Attempt) -> None:
        if r.exemplar is not None or (a.outcome == "ok" and a.db_us <= 1_000_000):
            return  # the common case: nothing new to mark
        kinds = []
        if a.outcome in ("pool_timeout", "npe", "killed", "refused"):
            kinds.append(a.outcome)
        if a.db_us > 1_000_000:
            kinds.append("slow_query")
        for k in kinds:
            if k not in self._exemplars and r.exemplar is None:
                self._exemplars.add(k)
                r.exemplar = k

    def _pool(self, pod: Pod, c: Container) -> _Pool:
        key = (pod.name, c.restart_count)
        pool = self._pools.get(key)
        if pool is None:
            pool = _Pool([0] * self.plan.pool_size, [])
            self._pools[key] = pool
        return pool

    @staticmethod
    def _acquire(pool: _Pool, t: int, hold: int) -> tuple[int | None, int]:
        """HikariCP getConnection(): (wait, others waiting) or (None, waiting) on timeout."""
        waiters = pool.waiters
        while waiters and waiters[0] <= t:
            heapq.heappop(waiters)
        waiting = len(waiters)
        free_at = pool.free[0]
        if free_at <= t:
            heapq.heapreplace(pool.free, t + hold)
            return 0, waiting
        wait = free_at - t
        if wait > HIKARI_TIMEOUT_US:
            heapq.heappush(waiters, t + HIKARI_TIMEOUT_US)
            return None, waiting
        heapq.heapreplace(pool.free, free_at + hold)
        heapq.heappush(waiters, free_at)
        return wait, waiting

    # ------------------------------------------------------------------ finishing
    def _finish_nginx(self, r: Request) -> Request:
        random = self.rng.random
        r.upstream_us = r.mesh_end_us + 150 + int(random() * 200) - (r.t_us + 80)
        r.end_us = r.mesh_end_us + 250 + int(random() * 500)
        r.status = r.mesh_code
        r.body_bytes = r.mesh_bytes_sent
        return r

    def _finish_upstream(self, r: Request, a: Attempt) -> Request:
        r.mesh_end_us = a.end_us + 250 + int(self.rng.random() * 300)
        r.mesh_code = a.status
        r.mesh_flags = "URX" if len(r.attempts) > MESH_RETRY_ATTEMPTS and a.status >= 500 else "-"
        r.mesh_details = "via_upstream"
        r.mesh_bytes_sent = a.body_bytes
        r.upstream_service_ms = max(0, (a.end_us - a.start_us) // 1000)
        r.upstream_host = f"{a.pod.ip}:{API_PORT}"
        return self._finish_nginx(r)

    def _finish_local(
        self, r: Request, t: int, code: int, flags: str, details: str, body: str
    ) -> Request:
        r.mesh_end_us = t
        r.mesh_code, r.mesh_flags, r.mesh_details = code, flags, details
        r.mesh_bytes_sent = len(body)
        r.upstream_service_ms = None
        if r.attempts:
            r.upstream_host = f"{r.attempts[-1].pod.ip}:{API_PORT}"
        if flags == "UH":
            self._exemplar(r, "uh")
        return self._finish_nginx(r)

    def _finish_timeout(self, r: Request, deadline: int) -> Request:
        self._exemplar(r, "ut")
        return self._finish_local(
            r, deadline + self.rng.below(1500), 504, "UT", "upstream_response_timeout", BODY_UT
        )

    def _finish_failed(self, r: Request) -> Request:
        """Retries exhausted (or impossible) on a reset/refused/5xx attempt."""
        a = r.attempts[-1]
        retried = len(r.attempts) > 1
        if a.status >= 500:
            return self._finish_upstream(r, a)
        end = a.end_us + 200
        if a.outcome == "refused":
            r.transport_failure = TRANSPORT_REFUSED
            return self._finish_local(
                r,
                end,
                503,
                "UF,URX" if retried else "UF",
                DETAILS_UF,
                BODY_UF_RETRIED if retried else BODY_UF,
            )
        if retried:
            return self._finish_local(r, end, 503, "UC,URX", DETAILS_UC, BODY_UC_RETRIED)
        return self._finish_local(r, end, 503, "UC", DETAILS_UC, BODY_UC)

    def _exemplar(self, r: Request, kind: str) -> None:
        if kind not in self._exemplars and r.exemplar is None:
            self._exemplars.add(kind)
            r.exemplar = kind

    # ------------------------------------------------------------------ probes
    def _probe(self, t: int, pod: Pod) -> ProbeResult | None:
        nxt = t + PROBE_PERIOD_US
        if pod.deleted_us is None or nxt < pod.deleted_us:
            self._push(nxt, self._PROBE, pod)
        if t < self.start or (pod.deleted_us is not None and t >= pod.deleted_us):
            return None
        c = pod.alive_at(t)
        if c is None:
            return None  # kubelet does not probe a container that is not running
        url = f"http://{pod.ip}:{API_PORT}/actuator/health/readiness"
        if t < c.ready_us:
            ok = False
            output = _probe_refused(url, pod.ip)
        else:
            pool = self._pool(pod, c)
            # The readiness group includes the DB check; it needs a pooled connection
            # within the probe's 1 s timeout.
            ok = pool.free[0] <= t + 1_000_000
            output = "" if ok else _probe_deadline(url)
        became = None
        if ok:
            self._probe_fail[pod.name] = 0
            if self._probe_unready.get(pod.name) is not None:
                self._probe_unready[pod.name] = None
                self._route_until = 0
                became = "ready"
        else:
            fails = self._probe_fail.get(pod.name, 0) + 1
            self._probe_fail[pod.name] = fails
            if fails == PROBE_FAILURE_THRESHOLD and t >= c.ready_us:
                self._probe_unready[pod.name] = t
                self._route_until = 0
                became = "not ready"
        if not ok or became:
            return ProbeResult(t, pod, ok, output, became)
        return None

    # ------------------------------------------------------------------ noise
    def _plan_scanners(self, push: Callable[[int, int, Any], None]) -> None:
        """Bursts of vulnerability-scanner 404s: alarming-looking, never the cause."""
        rng = self.rng
        minutes = (self.end - self.start) / (60 * US)
        count = int(minutes / 10.0 * self.noise + rng.random())
        for _ in range(count):
            t = self.start + int(rng.random() * (self.end - self.start - 120 * US))
            ip = f"198.51.100.{rng.between(2, 254)}"
            agent = rng.pick(cat.SCANNER_AGENTS)
            for _k in range(rng.between(8, 30)):
                push(t, self._SCANNER, (ip, agent, rng.pick(cat.SCANNER_PATHS)))
                t += int(rng.exponential(700_000)) + 50_000

    def _scanner(self, t: int, payload: tuple[str, str, str]) -> Request:
        ip, agent, path = payload
        r = self._new_request(t, "scanner")
        r.client_ip, r.user_agent, r.path, r.referer = ip, agent, path, "-"
        r.status, r.body_bytes = 404, 153
        r.end_us = t + 150 + self.rng.below(400)
        return r
