"""A traffic spike saturates orders-api's deliberately small HikariCP pools.

Story: to stay under the database's ``max_connections`` the team capped each pod's pool
small (2 to 4 connections: the scenario picks the largest cap that the requested traffic
still overloads, see ``_sizing``). A flash-sale spike arrives; the pods turn CPU-bound and handle requests
slowly, and with open-in-view every request holds its connection for its whole handling
time (the queries themselves stay fast, so PostgreSQL logs no slow statements). The pools
saturate: requests queue in HikariCP and fail after the 5 s connection timeout, the mesh
retries them onto equally starved pods and gives up with 504 UT at 8 s, readiness probes
(whose health group includes the DB check) time out and pull pods from rotation, the HPA
adds pods, whose new pools show up in PostgreSQL as bursts of new backends. It ends when
the spike subsides.
"""

from __future__ import annotations

from .._catalog import ENDPOINTS
from .._errors import GenerationError
from .._timefmt import US
from .._topology import HIKARI_TIMEOUT_MS
from ._base import (
    API_SHARE,
    Caption,
    Expect,
    LabelSpec,
    Paraphrase,
    Plan,
    PlanContext,
    Scenario,
    inside_window,
    unchanged,
)
from ._lifecycle import create_pod

# When the spike starts and when it starts to fall, as fractions of the window at
# difficulty easy; otherwise it starts anywhere that leaves LEAD_US (the ramp, the pools
# filling, the first 5 s timeouts) and stays at its peak for PLATEAU_US.
ONSET_AT = (0.26, 0.32)
END_AT = (0.62, 0.68)
LEAD_US = 240 * US
PLATEAU_US = (4 * 60 * US, 16 * 60 * US)
# PostgreSQL under the spike's load: statement times at the peak, as a multiple of normal
# (CPU-bound: the run queue grows with the load); easy keeps v0's idle database. At hard
# the slowest statements pass log_min_duration_statement (500 ms).
DB_LOAD_X = {"easy": (1.0, 1.0), "standard": (3.0, 8.0), "hard": (30.0, 70.0)}
HPA_EXTRA_PODS = 2
QUERY_KEYS = tuple(dict.fromkeys(e.query.key for e in ENDPOINTS))
UTILISATION = 1.1  # peak demand / pool capacity, after the HPA has added its pods
MAX_HOLD_MS = 4_000.0
MEAN_HANDLING_MS = 6.4  # mean application time of a request at normal load (_catalog)


def _sizing(rps: float, pods: int) -> tuple[int, float, float]:
    """(maximum-pool-size, spike multiplier, mean connection hold at the peak).

    The smallest spike and the largest pool that still overload the pools at this
    baseline rate: a quiet shop needs a sharper spike (or had its pools capped lower)
    for the same incident to happen.
    """
    for pool in (4, 3, 2):
        for spike_x in (4.0, 6.0, 8.0, 10.0):
            per_pod = rps * spike_x * API_SHARE / (pods + HPA_EXTRA_PODS)
            hold_ms = UTILISATION * pool / per_pod * 1000.0
            if hold_ms <= MAX_HOLD_MS:
                return pool, spike_x, max(hold_ms, 60.0)
    raise GenerationError(  # minimum_rps, checked before planning, keeps this away
        "INVALID_PARAMETER",
        f"rps={rps}: too little traffic for db_connection_pool_exhaustion with "
        f"{pods} orders-api pods (allowed: rps >= {_minimum_rps(pods)})",
        field="rps",
    )


def _minimum_rps(pods: int) -> float:
    """The rate at which the smallest pool (2) under the sharpest spike (10x) holds its
    connections for MAX_HOLD_MS: the last case ``_sizing`` accepts."""
    return UTILISATION * 2 * (pods + HPA_EXTRA_PODS) / (10.0 * API_SHARE * MAX_HOLD_MS / 1000)


class DbConnectionPoolExhaustion(Scenario):
    id = "db_connection_pool_exhaustion"
    title = "DB connection-pool exhaustion under a traffic spike"
    description = "A traffic spike exhausts the HikariCP connection pool"
    caption = Caption(
        happens=(
            "A flash-sale traffic spike saturates the deliberately small HikariCP pools "
            "of ``orders-api``. Requests queue for a connection and fail after the 5 s "
            "connection timeout; the mesh retries onto equally starved pods and gives "
            "up with 504 at 8 s; readiness probes time out and the HPA adds pods. The "
            "database itself stays fast: PostgreSQL logs no slow statements."
        ),
        look_for=(
            "Request rates jump several-fold at the start of the shaded window; the 5xx "
            "share of all three layers climbs together with it, and p95 latency jumps "
            "to seconds (the mesh flat at its 8 s timeout). The bottom panel fills with "
            "Kubernetes warnings (probe failures, scaling) but shows no slow-statement "
            "bars: the pool, not the queries, is the bottleneck. Everything recovers "
            "when the spike subsides."
        ),
    )
    v0 = True
    expect = Expect(
        paraphrase=Paraphrase(
            title="HikariCP pool exhausted: connections not available when traffic spiked",
            summary="orders-api requests wait 5 s for a JDBC connection and time out",
            file="api_logs.log",
            signature="Connection is not available, request timed out",
        ),
        commented_sql=True,
        probe_failures=True,
        matching_paraphrases=(
            "HikariCP connection pool exhausted in orders-api",
            "Database connection pool saturation under a traffic spike",
            "DB connection-pool exhaustion",
            "SQLTransientConnectionException: Connection is not available",
        ),
    )

    def minimum_rps(self, duration_minutes: int, api_replicas: int) -> float:
        return _minimum_rps(api_replicas)

    def plan(self, ctx: PlanContext) -> Plan:
        rng = ctx.rng
        onset = ctx.at(ctx.onset(ONSET_AT, LEAD_US))
        ramp = int(rng.uniform(60, 120) * US)
        if ctx.difficulty == "easy":
            end = ctx.at(rng.uniform(*END_AT))
        else:
            end = onset + ramp + ctx.length(0, *PLATEAU_US)
        fall = int(rng.uniform(90, 150) * US)

        def spike(t: int) -> float:
            if t < onset or t >= end + fall:
                return 0.0
            if t < onset + ramp:
                return (t - onset) / ramp
            if t < end:
                return 1.0
            return 1.0 - (t - end) / fall

        pool_size, spike_x, hold_ms = _sizing(ctx.rps, len(ctx.stack.api_pods))
        db_x = rng.uniform(*DB_LOAD_X[ctx.difficulty])
        # CPU-bound pods (the HPA's trigger) handle requests slower; with open-in-view the
        # connection is held for the whole handling time. Queries themselves stay fast.
        slowdown = hold_ms / MEAN_HANDLING_MS

        plan = Plan(
            incident=True,
            onset_us=onset,
            peak_us=onset + ramp + int(rng.uniform(60, 180) * US),
            recovery_us=inside_window(ctx, end + fall + int(HIKARI_TIMEOUT_MS * 1000 * 2)),
            rate=lambda t: 1.0 + (spike_x - 1.0) * spike(t),
            cpu_time=lambda t, _pod: 1.0 + (slowdown - 1.0) * spike(t),
            db_time=(lambda t, _key: 1.0 + (db_x - 1.0) * spike(t)) if db_x > 1.0 else unchanged,
            pool_size=pool_size,
            notes={"spike": spike_x, "hold_ms": round(hold_ms)},
            drawn={
                "pool_size": str(pool_size),
                "spike": f"{spike_x:g}x",
                "onset_share": f"{(onset - ctx.window_start_us) / (ctx.window_end_us - ctx.window_start_us):.3f}",
            },
        )
        # The HPA reacts about two minutes in and adds two pods.
        hpa_at = onset + ramp + int(rng.uniform(40, 80) * US)
        before = len(ctx.stack.api_pods)
        plan.add(hpa_at, "k8s", "hpa", to=before + 2)
        new = []
        for i in range(2):
            new.append(
                create_pod(
                    plan, ctx.stack, ctx.stack.good_version, hpa_at + 2_000_000 + i * 30_000, rng
                )
            )
        plan.add(
            hpa_at + 900_000,
            "k8s",
            "scaled",
            rs=f"orders-api-{ctx.stack.rs_hashes[ctx.stack.good_version]}",
            pods=new,
            **{"from": before, "to": before + 2},
        )
        return plan

    def label(self) -> LabelSpec:
        return LabelSpec(
            root_cause="DB connection-pool limit: orders-api HikariCP pool exhausted under a "
            "traffic spike",
            root_cause_layer="api",
            root_cause_component="orders-api HikariCP connection pool (HikariPool-1)",
            fault_type="resource_exhaustion",
            aliases=(
                "db connection pool exhaustion",
                "connection pool exhausted",
                "connection pool exhaustion",
                "hikaricp pool exhausted",
                "hikari pool exhaustion",
                "db connection-pool limit",
                "database connection pool limit",
                "pool size too small",
                "maximum-pool-size too small",
                "connection is not available",
                "SQLTransientConnectionException",
            ),
            trigger="traffic spike",
            blast_radius=("orders-api", "mesh orders-api route", "web (nginx)", "shop UI"),
            expected_first_signal="api_logs.log: HikariPool-1 - Connection is not available, "
            "request timed out after ~5000ms (total=N, active=N, idle=0, waiting>0)",
            first_signal="api.hikari_timeout",
            chain=(
                (
                    "ui",
                    "web (nginx)",
                    "traffic spike: the request rate rises several-fold (count nginx lines "
                    "per minute); the HPA scales out on the load",
                    ("k8s.hpa_rescale", "exemplar.pool_timeout.ui"),
                ),
                (
                    "api",
                    "orders-api HikariCP pool",
                    "all connections active; requests wait and time out after 5 s",
                    ("api.hikari_timeout", "exemplar.pool_timeout.api"),
                ),
                (
                    "mesh",
                    "istio-proxy (web -> orders-api)",
                    "5xx retried onto starved pods; 504 UT at the 8 s route timeout",
                    ("mesh.504.UT", "exemplar.pool_timeout.mesh"),
                ),
                (
                    "db",
                    "PostgreSQL orders-db",
                    "statements slow down under the spike's load, the slowest past "
                    "log_min_duration_statement",
                    tuple(f"db.slow.{q}" for q in QUERY_KEYS),
                ),
                (
                    "db",
                    "PostgreSQL orders-db",
                    "the HPA's new pods open their pools: a burst of new backends",
                    ("db.connection_received",),
                ),
                (
                    "k8s",
                    "orders-api pods",
                    "readiness probes (DB health) time out; pods leave rotation; HPA scales out",
                    ("k8s.readiness_timeout", "k8s.hpa_rescale"),
                ),
                (
                    "ui",
                    "web (nginx)",
                    "users get 5xx responses after long waits",
                    ("ui.504", "ui.500"),
                ),
            ),
            confidence=(0.7, 1.0),
            # Wordings of the fault family; no drawn name (see LabelSpec.synonyms).
            synonyms=(
                "connection pool",
                "connection-pool limit",
                "pool exhaustion",
                "pool exhausted",
                "pool saturation",
                "pool saturated",
                "pool starvation",
                "connection starvation",
                "pool size too small",
                "connection is not available",
                "SQLTransientConnectionException",
            ),
        )
