"""A BI tool's reporting query runs for seconds on the orders database.

Story: an analyst's dashboard (Metabase, user ``reporting``) aggregates a month of
orders by day. The query scans ``orders`` in parallel and sorts on disk, so PostgreSQL
logs a temporary file and a ``duration:`` of several seconds, over
``log_min_duration_statement``. Readers do not block writers in PostgreSQL (MVCC), so
the shop's own statements stay fast: no orders-api request slows down.

Formats: PostgreSQL 15's ``log_min_duration_statement`` line for the extended protocol
(``LOG:  duration: %.3f ms  execute <unnamed>: ...``, ``DETAIL:  Parameters: ...``;
src/backend/tcop/postgres.c) and ``log_temp_files``' ``LOG:  temporary file: path
"%s", size %lu`` (src/backend/storage/file/fd.c), with the connection and disconnection
lines of ``log_connections``/``log_disconnections``, under the prefix
``renderers/db.py`` writes; the SQL in the shape Metabase's query processor emits.
"""

from __future__ import annotations

from .._timefmt import US, postgres
from ..scenarios import Plan, PlanContext
from ._base import Chance, Distractor, pick_time, signal_key

KEY = signal_key("analytic_query")
USER = "reporting"
APPLICATION = "Metabase v0.52.4"
SQL = (
    'SELECT DATE_TRUNC(\'day\', "public"."orders"."created_at") AS "created_at", '
    'COUNT(*) AS "count", SUM("public"."orders"."total_cents") AS "sum" '
    'FROM "public"."orders" WHERE ("public"."orders"."created_at" >= $1) '
    'AND ("public"."orders"."created_at" < $2) GROUP BY DATE_TRUNC(\'day\', '
    '"public"."orders"."created_at") ORDER BY DATE_TRUNC(\'day\', '
    '"public"."orders"."created_at") ASC'
)


class AnalyticQuery(Distractor):
    id = "analytic_query"
    title = "A BI dashboard's reporting query runs for seconds on the orders database"
    imitates = "query_plan_regression"
    probability = Chance(standard=0.45, hard=0.85)
    why_not_root_cause = (
        f"the slow statement is a reporting aggregate run by user {USER} from "
        f"{APPLICATION}, not an orders-api statement: no sqlcommenter trace, no index "
        "change, and the application's own queries stay fast"
    )
    signal_keys = (KEY,)

    def plan(self, ctx: PlanContext, plan: Plan) -> None:
        rng = ctx.rng
        # The BI server's pod: on a node of the cluster, in the pod CIDR.
        host = rng.pick(ctx.stack.nodes).pod_ip(rng)
        runs = rng.between(1, 2) if ctx.difficulty != "hard" else rng.between(3, 6)
        # Seconds per run: a month of orders scanned and sorted; at "hard" the
        # dashboard spans a quarter, as slow as a regressed shop query or slower.
        low, high = (2.5, 9.0) if ctx.difficulty != "hard" else (4.0, 28.0)
        month_us = 30 * 86_400 * US
        until = ctx.window_start_us - ctx.window_start_us % (86_400 * US)
        since = until - (month_us if ctx.difficulty != "hard" else 3 * month_us)
        params = f"$1 = '{_pg_time(since)}', $2 = '{_pg_time(until)}'"
        for _ in range(runs):
            seconds = rng.uniform(low, high)
            t = pick_time(ctx, plan, span_us=int((seconds + 5) * US))
            start = int(rng.uniform(0.05, 0.3) * US)
            done = start + int(seconds * US)
            # Sort runs are written in whole blocks (logtape.c): a size in 8 kB blocks.
            temp = (40 + rng.below(400)) * 128 - rng.below(128)
            entries = [
                (
                    done - int(seconds * 0.2 * US),
                    # {pid}: the backend's, which the db stream draws
                    'LOG:  temporary file: path "base/pgsql_tmp/pgsql_tmp{pid}.'
                    f'{rng.below(8)}", size {temp * 8192}',
                    [f"STATEMENT:  {SQL}"],
                ),
                (
                    done,
                    f"LOG:  duration: {seconds * 1000:.3f} ms  execute <unnamed>: {SQL}",
                    [f"DETAIL:  Parameters: {params}"],
                ),
            ]
            plan.add(
                t,
                "db",
                "session",
                user=USER,
                host=host,
                application=APPLICATION,
                entries=entries,
                signals=[KEY],
            )
        if ctx.difficulty == "hard" and rng.chance(0.5):
            self._wall_screen(ctx, plan, host, params)

    def _wall_screen(self, ctx: PlanContext, plan: Plan, host: str, params: str) -> None:
        """The dashboard left open on a wall screen: Metabase re-runs each of its cards
        every minute, on one pooled connection, for as long as the screen is on (as
        loud in the slow log as a regressed shop query, and as harmless as one report)."""
        rng = ctx.rng
        cards = rng.between(3, 6)
        span = int(rng.uniform(0.3, 0.7) * (ctx.window_end_us - ctx.window_start_us))
        t0 = pick_time(ctx, plan, span_us=span)
        entries: list[tuple[int, str, list[str]]] = []
        offset = int(rng.uniform(0.5, 3.0) * US)
        while offset < span:
            at = offset
            for _ in range(cards):  # one card after another, on the same connection
                took = int(rng.uniform(1.2, 6.0) * US)
                at += took
                entries.append(
                    (
                        at,
                        f"LOG:  duration: {took / 1000:.3f} ms  execute <unnamed>: {SQL}",
                        [f"DETAIL:  Parameters: {params}"],
                    )
                )
            offset += 60 * US
        plan.add(
            t0,
            "db",
            "session",
            user=USER,
            host=host,
            application=APPLICATION,
            entries=entries,
            signals=[KEY],
        )


def _pg_time(t_us: int) -> str:
    """A timestamptz parameter as the JDBC driver sends it."""
    return postgres(t_us).replace(" UTC", "+00")
