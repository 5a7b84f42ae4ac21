"""An operator's DDL queues for a lock on ``orders``: a short pool-timeout blip.

Story: an operator runs ``ALTER TABLE public.orders ADD COLUMN ...`` from psql with a
``lock_timeout``. The ALTER needs an ACCESS EXCLUSIVE lock, waits behind an open
transaction, and every statement on ``orders`` queues behind the ALTER (PostgreSQL
grants locks in order; see ``scenarios/_locks``). For those seconds orders-api's order
requests hold their pooled connections doing nothing; once ``maximum-pool-size`` of
them wait, HikariCP times out further requests after 5 s (500s), the mesh answers 504
for those waiting past its 8 s route timeout, readiness probes see no free connection.
Then the lock timeout fires and the ALTER is cancelled (or, at "hard" as often, the
blocker commits and the ALTER runs), the queued statements complete and everything
recovers: traffic never changed. It is the ``db_lock_contention`` story in small, and
bounded by the operator's lock_timeout.

The physics is the shared simulation's (``queue_behind_lock`` composes the plan's
``db_wait`` hook), so every layer tells the same story, and PostgreSQL's
``log_lock_waits`` lines show the queue. How long the queue stands is chosen from the
traffic model: the time a pool takes to fill (order requests per pod per second) plus a
few seconds of full pool, so that a handful of HikariCP timeouts follow, never a minute
of them.

Formats: ``log_statement = 'ddl'`` logs the ALTER when it starts, and a lock timeout
is ``ERROR:  canceling statement due to lock timeout`` with its ``STATEMENT:``
(PostgreSQL src/backend/tcop/postgres.c, ProcessInterrupts), under the prefix
``renderers/db.py`` writes.
"""

from __future__ import annotations

import math

from .._timefmt import US
from ..scenarios import Plan, PlanContext
from ..scenarios._base import API_SHARE, endpoint_share
from ..scenarios._locks import (
    Blocker,
    LockQueue,
    LockRequest,
    Session,
    queue_behind_lock,
    table_endpoints,
    table_queries,
)
from ._base import Chance, Distractor, pick_time, signal_key

KEY = signal_key("pool_blip")
ORDERS_ENDPOINTS = table_endpoints("orders")
ORDERS_QUERIES_ON_TABLE = table_queries("orders")
DDL = "ALTER TABLE public.orders ADD COLUMN gift_note text"
LONGEST_US = 60 * US  # an operator's lock_timeout stays under a minute


class PoolBlip(Distractor):
    id = "pool_blip"
    title = "An operator's DDL queues for a lock on orders: a short HikariCP timeout blip"
    imitates = "resource_exhaustion"
    probability = Chance(standard=0.4, hard=0.8)
    why_not_root_cause = (
        "the pool timeouts last seconds, only while an operator's ALTER TABLE on orders "
        "waits for its lock; they stop when the lock queue clears (the ALTER cancelled by "
        "its lock timeout, or done), traffic never rose and everything recovers by itself"
    )
    # The simulation's own keys this blip can produce, so it joins no scenario whose
    # label points with one of them (distractors.eligible).
    signal_keys = (
        KEY,
        "api.hikari_timeout",
        "api.error_500",
        "api.stacktrace",
        "api.access_5xx",
        "api.slow_request",
        *(f"db.slow.{q}" for q in sorted(ORDERS_QUERIES_ON_TABLE)),
        "db.lock_wait",
        "db.lock_acquired",
        "mesh.500.-",
        "mesh.500.URX",
        "mesh.504.UT",
        "mesh.retried",
        "mesh.slow",
        "ui.500",
        "ui.504",
        "ui.slow",
        "k8s.readiness_timeout",
        "k8s.readiness_timeout.event",
        # A pool that fills early stays full past three probes: out of rotation, back.
        "k8s.pod_not_ready",
        "k8s.pod_ready",
        # ... every pod at once, at hard: no healthy upstream for a moment.
        "mesh.503.UH",
        "ui.503",
        *(
            f"exemplar.{k}.{s}"
            for k in ("pool_timeout", "slow_query", "ut", "uh")
            for s in ("api", "mesh", "ui")
        ),
        "exemplar.slow_query.db",
    )

    def plan(self, ctx: PlanContext, plan: Plan) -> None:
        rng = ctx.rng
        pods = max(1, len(ctx.stack.api_pods))
        per_pod = ctx.rps * API_SHARE * endpoint_share(*ORDERS_ENDPOINTS) / pods
        fill_us = plan.pool_size / max(per_pod, 1e-9) * US
        # Seconds of full pool: past the 5 s connection-timeout, mostly under the three
        # probe periods that take a pod out of rotation. At a low rate the pool may not
        # fill before the lock timeout: a real blip's size depends on the traffic too.
        full_s = rng.uniform(6.0, 14.0) if ctx.difficulty != "hard" else rng.uniform(12.0, 19.0)
        stall_us = min(LONGEST_US, int(fill_us + full_s * US))
        lock_timeout_s = math.ceil(stall_us / US)
        stall_us = lock_timeout_s * US
        # The ALTER queues at `start`; its lock_timeout runs from then.
        start = pick_time(ctx, plan, span_us=stall_us + 30 * US)
        end = start + stall_us
        host = rng.pick(ctx.stack.nodes).pod_ip(rng)  # the operator's toolbox pod
        opened = start - int(rng.uniform(3.0, 20.0) * US)  # psql connects first
        # How the queue clears: the lock timeout cancels the ALTER, or (at "hard", as
        # often) the blocking transaction ends first and the ALTER runs, its duration
        # over log_min_duration_statement.
        if ctx.difficulty == "hard" and rng.chance(0.5):
            # Adding a nullable column is a catalog change: milliseconds once locked.
            done = end + int(rng.uniform(0.5, 40.0) * 1000)
            ends, commits = "granted", end
        else:
            done = end
            ends, commits = "lock_timeout", 0
        # The open transaction: a colleague's psql session, idle in transaction since
        # long before; it commits (nothing logged) when the queue clears, or later.
        since = start - int(rng.uniform(30.0, 1800.0) * US)
        holder = Session("analyst", rng.pick(ctx.stack.nodes).pod_ip(rng), "psql", since)
        commits = commits or end + int(rng.uniform(5.0, 300.0) * US)
        granted = end + (200 + rng.below(800) if ends == "granted" else 0)
        queue_behind_lock(
            plan,
            LockQueue(
                "orders",
                ORDERS_QUERIES_ON_TABLE,
                Blocker(holder, "committed", commits),
                LockRequest(
                    Session("dba", host, "psql", opened),
                    DDL,
                    start,
                    ends,
                    granted,
                    max(0, done - granted),
                    statement_signal=KEY,
                    wait_signal=KEY,
                    end_signal=KEY,
                ),
                "db.lock_wait",
            ),
        )
