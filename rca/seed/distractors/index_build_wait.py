"""A DBA's CREATE INDEX CONCURRENTLY waits out a reporting query's snapshot.

Story: a DBA builds an index on ``orders`` with ``CREATE INDEX CONCURRENTLY``. A
concurrent build takes only a SHARE UPDATE EXCLUSIVE lock on the table, which no read
or write conflicts with, but between its phases it waits for every transaction whose
snapshot is older than the build: here a BI dashboard's long reporting query. With
``log_lock_waits = on`` PostgreSQL logs the wait as ``still waiting for ShareLock on
virtual transaction B/N`` naming the reporting backend as the holder, and ``acquired``
when the query completes; the build then runs for seconds. Nothing of the shop waits.

It looks like the ``db_lock_contention`` story (a DDL stuck on a lock, a long query
holding it) but real diagnosis tells it apart: the wait is on a virtual transaction, not
on the relation, the wait queue holds the DDL alone, and orders-api's statements and
latencies never change.

Formats: as ``scenarios/_locks`` (ProcSleep's log_lock_waits messages; the virtual
transaction lock tag of DescribeLockTag, src/backend/storage/lmgr/lmgr.c), the
reporting query as the ``analytic_query`` herring's.
"""

from __future__ import annotations

from .._timefmt import US
from ..scenarios import Plan, PlanContext
from ..scenarios._locks import Blocker, LockQueue, LockRequest, Session, queue_behind_lock
from ._base import Chance, Distractor, pick_time, signal_key
from .analytic_query import APPLICATION, SQL, USER, _pg_time

KEY = signal_key("index_build_wait")
# (table, statement)
INDEXES = (
    (
        "orders",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_status_created_at_idx "
        "ON public.orders USING btree (status, created_at)",
    ),
    (
        "order_items",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS order_items_product_id_idx "
        "ON public.order_items USING btree (product_id)",
    ),
    (
        "orders",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_idempotency_key_created_at_idx "
        "ON public.orders USING btree (idempotency_key, created_at)",
    ),
)


class IndexBuildWait(Distractor):
    id = "index_build_wait"
    title = "A DBA's CREATE INDEX CONCURRENTLY waits for a reporting query's snapshot"
    imitates = "lock_contention"
    probability = Chance(standard=0.3, hard=0.7)
    why_not_root_cause = (
        "a concurrent index build waits on a reporting query's virtual transaction, not "
        "on the orders table: it blocks no read or write, its wait queue holds only "
        "itself, and orders-api's statements and latencies do not change"
    )
    signal_keys = (KEY,)

    def plan(self, ctx: PlanContext, plan: Plan) -> None:
        rng = ctx.rng
        # The build's phases: it builds and validates the index, then waits for every
        # transaction with an older snapshot (DefineIndex's last wait, indexcmds.c):
        # the reporting query, for seconds (at hard, minutes); then it marks the index
        # valid in milliseconds.
        build_s = rng.uniform(4.0, 45.0)
        wait_s = rng.uniform(3.0, 40.0) if ctx.difficulty != "hard" else rng.uniform(20.0, 240.0)
        issued = pick_time(ctx, plan, span_us=int((wait_s + build_s + 10) * US))
        queued = issued + int(build_s * US)
        running_s = rng.uniform(5.0, 90.0)  # the reporting query, when the build starts
        started = issued - int(running_s * US)
        bi = Session(
            USER,
            rng.pick(ctx.stack.nodes).pod_ip(rng),
            APPLICATION,
            started - int(rng.uniform(0.02, 0.4) * US),
        )
        month_us = 30 * 86_400 * US
        until = ctx.window_start_us - ctx.window_start_us % (86_400 * US)
        ends = queued + int(wait_s * US)
        blocker = Blocker(
            bi,
            "statement",
            ends,
            f"execute <unnamed>: {SQL}",
            started,
            f"DETAIL:  Parameters: $1 = '{_pg_time(until - 3 * month_us)}', "
            f"$2 = '{_pg_time(until)}'",
        )
        dba = Session(
            "dba",
            rng.pick(ctx.stack.nodes).pod_ip(rng),
            "psql",
            issued - int(rng.uniform(4.0, 40.0) * US),
        )
        table, statement = rng.pick(INDEXES)
        request = LockRequest(
            dba,
            statement,
            queued,
            "granted",
            ends + 150 + rng.below(900),
            int(rng.uniform(5.0, 60.0) * 1000),
            mode="ShareLock",
            tag=f"virtual transaction {rng.between(3, 60)}/{rng.between(1_000, 900_000)}",
            issued_us=issued,
            statement_signal=KEY,
            wait_signal=KEY,
            end_signal=KEY,
        )
        # No statement of the shop queues behind a concurrent build.
        queue_behind_lock(plan, LockQueue(table, (), blocker, request, KEY, acquired_signal=KEY))
