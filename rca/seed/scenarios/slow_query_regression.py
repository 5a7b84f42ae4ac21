"""A migration drops the index behind the order-history query; it turns into a seq scan.

Story: the ``orders-db-migrate`` Job runs ``V42__drop_redundant_indexes.sql``, which
drops ``orders_customer_id_created_at_idx`` as "redundant". The planner switches the
order-history query (``WHERE customer_id = $1 ORDER BY created_at DESC``) to a
sequential scan of the whole table: seconds instead of milliseconds (the sort stays
in memory: 20 rows). PostgreSQL logs ``duration:`` lines for that one statement; the API's
list endpoint slows, the longest calls hit the mesh's 8 s timeout (504 UT), and users
see a slow UI. An engineer recreates the index later in the window and it recovers.
"""

from __future__ import annotations

from .._timefmt import US
from .._topology import HIKARI_POOL_SIZE
from ._base import (
    API_SHARE,
    Caption,
    Expect,
    LabelSpec,
    Paraphrase,
    Plan,
    PlanContext,
    Scenario,
    endpoint_share,
    sure_rate,
)

INDEX = "orders_customer_id_created_at_idx"
MIGRATION = 42
# When the migration Job runs and when the index is recreated, as fractions of the window
# (difficulty easy; otherwise the Job runs anywhere in ONSET_RANGE that leaves LEAD_US).
JOB_AT = (0.22, 0.30)
FIX_AT = (0.72, 0.80)
LEAD_US = 180 * US
FACTOR = (700, 1100)  # the order-history query's slow-down without its index
# ... on a larger orders table at hard: 20-40 s a call, so that the list endpoint's calls
# alone hold more connections than the small pools have at the suites' rates (Little's
# law: per-pod call rate x hold time > maximum-pool-size), and every endpoint times out.
HARD_FACTOR = (5000, 10000)
FIXED_AFTER_US = (4 * 60 * US, 25 * 60 * US)  # from the drop to the fix, when drawn
# The same index as teams name it (PostgreSQL's default, Rails/Django/Flyway habits).
INDEX_NAMES = (
    INDEX,
    "idx_orders_customer_created",
    "ix_orders_customer_id_created_at",
    "orders_customer_created_desc_idx",
    "idx_orders_customer_id_created_at_desc",
)
MIGRATION_TOPICS = ("drop_redundant_indexes", "cleanup_unused_indexes", "orders_index_cleanup")


class SlowQueryRegression(Scenario):
    id = "slow_query_regression"
    title = "Slow-query regression after an index was dropped"
    description = "A migration drops an index; the order-history query becomes a sequential scan"
    caption = Caption(
        happens=(
            "A migration Job drops the index behind the order-history query; the "
            "planner turns it into a sequential scan of the whole table, seconds "
            "instead of milliseconds. The API's list endpoint slows down, the longest "
            "calls hit the mesh's 8 s timeout (504), and users see a slow UI. An "
            "engineer recreates the index and it recovers."
        ),
        look_for=(
            "p95 latency of every layer steps up by two orders of magnitude at the red "
            "dashed line and drops back at the end of the window, while request rates "
            "do not change. The bottom panel shows the cause: brown bars of PostgreSQL "
            "slow statements (``duration:`` lines) for exactly the shaded window, next "
            "to the migration's Kubernetes events. The 5xx share stays small (only the "
            "timed-out calls)."
        ),
    )
    v0 = True
    expect = Expect(
        paraphrase=Paraphrase(
            title="A migration dropped an index and the order-history query became a seq scan",
            summary="postgres plans a sequential scan of orders",
            file="db_events.log",
            signature="DROP INDEX",
        ),
        commented_sql=True,
        probe_failures=False,
        matching_paraphrases=(
            "Missing index on the orders table causing sequential scans",
            "Slow queries after migration V42 dropped an index",
            "PostgreSQL query-plan regression",
            "Seq Scan on orders after the index drop",
        ),
    )

    def minimum_rps(self, duration_minutes: int, api_replicas: int) -> float:
        # The first signal is a slow order-history query: enough list requests between
        # the latest drop and the earliest fix (easy), or within LEAD_US (drawn onset).
        share = API_SHARE * endpoint_share("list_orders")
        lead = min(LEAD_US, FIXED_AFTER_US[0]) / (duration_minutes * 60 * US)
        return max(
            sure_rate(share, FIX_AT[0] - JOB_AT[1], duration_minutes),
            sure_rate(share, lead, duration_minutes),
        )

    def plan(self, ctx: PlanContext) -> Plan:
        rng = ctx.rng
        job_at = ctx.at(ctx.onset(JOB_AT, LEAD_US))
        dropped = job_at + int(rng.uniform(3.2, 4.5) * US)
        if ctx.difficulty == "easy":
            fixed = ctx.at(rng.uniform(*FIX_AT))
            index, migration, topic = INDEX, MIGRATION, MIGRATION_TOPICS[0]
        else:
            fixed = dropped + ctx.length(0, *FIXED_AFTER_US)
            index = rng.pick(INDEX_NAMES)
            migration = rng.between(12, 160)
            topic = rng.pick(MIGRATION_TOPICS)
        rebuilt = fixed + int(rng.uniform(20, 40) * US)
        # At hard the seq scan runs longer and the pools are capped small (as in the
        # pool-exhaustion story), so connections held by slow queries starve the pool:
        # HikariCP times out on every endpoint, after the drop and the first slow queries.
        hard = ctx.difficulty == "hard"
        factor = rng.uniform(*(HARD_FACTOR if hard else FACTOR))
        pool_size = rng.between(2, 3) if hard else HIKARI_POOL_SIZE

        def db_time(t: int, key: str) -> float:
            if key == "orders_by_customer" and dropped <= t < rebuilt:
                return factor
            return 1.0

        plan = Plan(
            incident=True,
            onset_us=dropped,
            peak_us=dropped + int(rng.uniform(60, 240) * US),
            recovery_us=rebuilt if rebuilt < ctx.window_end_us else None,
            db_time=db_time,
            pool_size=pool_size,
            notes={"factor": round(factor)},
            drawn={
                "index": index,
                "migration": f"V{migration}",
                "migration_file": f"V{migration}__{topic}.sql",
                "pool_size": str(pool_size),
                "onset_share": f"{(dropped - ctx.window_start_us) / (ctx.window_end_us - ctx.window_start_us):.3f}",
            },
        )
        migrator_ip = f"10.244.{rng.between(1, 3)}.{rng.between(4, 250)}"
        plan.add(
            job_at,
            "k8s",
            "job",
            name=f"orders-db-migrate-v{migration}",
            image=f"registry.example.com/shop/orders-db-migrate:v{migration}",
            done_us=dropped + int(rng.uniform(2, 4) * US),
        )
        plan.add(
            dropped - 90_000,
            "db",
            "ddl",
            user="migrator",
            host=migrator_ip,
            signal="db.ddl_drop_index",
            statements=[f"DROP INDEX CONCURRENTLY IF EXISTS public.{index}"],
        )
        dba_ip = f"10.244.{rng.between(1, 3)}.{rng.between(4, 250)}"
        plan.add(
            fixed,
            "db",
            "ddl",
            user="dba",
            host=dba_ip,
            signal="db.ddl_create_index",
            step_us=rebuilt - fixed - 100_000,
            statements=[
                f"CREATE INDEX CONCURRENTLY {index} ON public.orders USING btree "
                "(customer_id, created_at DESC)",
                "ANALYZE public.orders",
            ],
        )
        return plan

    def label(self) -> LabelSpec:
        return LabelSpec(
            root_cause="missing index: {index} dropped by migration {migration}; "
            "order-history query became a sequential scan",
            root_cause_layer="db",
            root_cause_component="PostgreSQL orders table index {index}",
            fault_type="query_plan_regression",
            aliases=(
                "missing index",
                "slow query regression",
                "slow query",
                "dropped index",
                "index dropped",
                "sequential scan",
                "seq scan",
                "query plan change",
                "query plan regression",
                "{index}",
            ),
            trigger="query plan change (migration {migration} dropped an index)",
            blast_radius=(
                "PostgreSQL orders-db",
                "orders-api GET /api/orders",
                "mesh orders-api route",
                "web (nginx)",
                "shop UI",
            ),
            expected_first_signal="db_events.log: LOG:  duration: <seconds> ms  execute "
            "<unnamed>: select ... from orders o1_0 where o1_0.customer_id=$1 ...",
            first_signal="db.slow.orders_by_customer",
            chain=(
                (
                    "db",
                    "orders-db migration Job / PostgreSQL",
                    "DROP INDEX {index}",
                    ("db.ddl_drop_index", "k8s.job_completed"),
                ),
                (
                    "db",
                    "PostgreSQL",
                    "order-history query runs for seconds: a sequential scan of orders",
                    ("db.slow.orders_by_customer", "exemplar.slow_query.db"),
                ),
                (
                    "api",
                    "orders-api GET /api/orders",
                    "requests take seconds",
                    ("api.slow_request", "exemplar.slow_query.api"),
                ),
                (
                    "api",
                    "orders-api HikariCP pool",
                    "connections held by the slow queries starve the pool: requests of "
                    "every endpoint time out waiting for one",
                    ("api.hikari_timeout",),
                ),
                (
                    "mesh",
                    "istio-proxy (web -> orders-api)",
                    "long durations; 504 UT at 8 s",
                    ("mesh.slow", "mesh.504.UT", "exemplar.slow_query.mesh"),
                ),
                (
                    "ui",
                    "web (nginx)",
                    "slow pages and some 504s",
                    ("ui.slow", "ui.504", "exemplar.slow_query.ui"),
                ),
            ),
            confidence=(0.7, 1.0),
            # Wordings of the fault family; no drawn name (see LabelSpec.synonyms).
            synonyms=(
                "missing index",
                "dropped index",
                "index dropped",
                "index drop",
                "slow query",
                "sequential scan",
                "seq scan",
                "full table scan",
                "query plan",
                "plan regression",
                "query regression",
            ),
        )
