"""A traffic spike saturates orders-api's deliberately small HikariCP pools.

Story: the DB sits near ``max_connections``, so the team capped each pod's pool at four
connections. A flash-sale spike arrives; the DB slows under the load, and with
open-in-view every request holds its connection for the whole request. The pools
saturate: requests queue in HikariCP and fail after the 5 s connection timeout, the mesh
retries them onto equally starved pods and gives up with 504 UT at 8 s, readiness probes
(whose health group includes the DB check) time out and pull pods from rotation, the HPA
adds pods whose new pools push the DB's connection count up further. It ends when the
spike subsides.
"""

from __future__ import annotations

from .._timefmt import US
from .._topology import HIKARI_TIMEOUT_MS, VERSION_GOOD
from ._base import LabelSpec, Plan, PlanContext, Scenario
from ._lifecycle import create_pod

POOL_SIZE = 4
SPIKE = 3.5
API_SHARE = 0.64


class DbConnectionPoolExhaustion(Scenario):
    id = "db_connection_pool_exhaustion"
    title = "DB connection-pool exhaustion under a traffic spike"

    def plan(self, ctx: PlanContext) -> Plan:
        rng = ctx.rng
        onset = ctx.at(rng.uniform(0.26, 0.32))
        ramp = int(rng.uniform(60, 120) * US)
        end = ctx.at(rng.uniform(0.66, 0.72))
        fall = int(rng.uniform(90, 150) * US)

        def spike(t: int) -> float:
            if t < onset or t >= end + fall:
                return 0.0
            if t < onset + ramp:
                return (t - onset) / ramp
            if t < end:
                return 1.0
            return 1.0 - (t - end) / fall

        # Hold time needed for the pools to run at ~2.2x capacity at the peak, given the
        # traffic the window will really carry (so the story holds at any --rps).
        pods = len(ctx.stack.api_pods)
        spike_share = ((end - onset) + (ramp + fall) / 2) / (
            ctx.window_end_us - ctx.window_start_us
        )
        base = ctx.rps / (1.0 + (SPIKE - 1.0) * spike_share)
        per_pod = base * SPIKE * API_SHARE / pods
        hold_ms = min(3_400.0, max(60.0, 2.2 * POOL_SIZE / per_pod * 1000.0))
        slowdown = hold_ms / 3.0  # query medians are ~3 ms

        plan = Plan(
            incident=True,
            onset_us=onset,
            peak_us=onset + ramp + int(rng.uniform(60, 180) * US),
            recovery_us=end + fall + int(HIKARI_TIMEOUT_MS * 1000 * 2),
            rate=lambda t: 1.0 + (SPIKE - 1.0) * spike(t),
            db_time=lambda t, _q: 1.0 + (slowdown - 1.0) * spike(t),
            pool_size=POOL_SIZE,
            notes={"spike": SPIKE, "hold_ms": round(hold_ms)},
        )
        # The HPA reacts about two minutes in and adds two pods.
        hpa_at = onset + ramp + int(rng.uniform(40, 80) * US)
        before = len(ctx.stack.api_pods)
        plan.add(hpa_at, "k8s", "hpa", to=before + 2)
        new = []
        for i in range(2):
            new.append(
                create_pod(plan, ctx.stack, VERSION_GOOD, hpa_at + 2_000_000 + i * 30_000, rng)
            )
        plan.add(
            hpa_at + 900_000,
            "k8s",
            "scaled",
            rs=f"orders-api-{ctx.stack.rs_hashes[VERSION_GOOD]}",
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
            "request timed out after ~5000ms (total=4, active=4, idle=0, waiting>0)",
            first_signal="api.hikari_timeout",
            chain=(
                (
                    "ui",
                    "web (nginx)",
                    "request volume rises several-fold (traffic spike)",
                    ("exemplar.pool_timeout.ui",),
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
        )
