"""A migration's ALTER TABLE queues behind a forgotten transaction; orders traffic stops.

Story: the ``orders-db-migrate`` Job runs a Flyway migration that alters ``orders``
without a ``lock_timeout``. ``ALTER TABLE`` needs an ACCESS EXCLUSIVE lock, and a
transaction that read ``orders`` long before still holds its ACCESS SHARE lock: an
analyst's psql session left idle in transaction, or the report worker's long CSV
export. The ALTER waits, and PostgreSQL queues every later statement on ``orders``
behind it, plain SELECTs included (see ``_locks``). The database is idle, yet
orders-api's order statements wait minutes, each holding its pooled connection: the
pools fill, HikariCP times out requests of every endpoint after 5 s, the mesh answers
504 at its 8 s route timeout, and readiness probes (whose health group checks the pool)
take pods out of rotation. It ends when the blocker goes (an operator terminates it, its
export completes, or it commits): the ALTER runs, and the queue drains in one burst.

What tells it from the pool-exhaustion story it resembles: traffic never rises, and
PostgreSQL's ``log_lock_waits`` lines name the lock, the holder and the queue.
"""

from __future__ import annotations

from .._timefmt import US
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
    inside_window,
    sure_rate,
)
from ._locks import (
    Blocker,
    LockQueue,
    LockRequest,
    Session,
    queue_behind_lock,
    table_endpoints,
    table_queries,
)

TABLE = "orders"
FLYWAY = "Flyway by Redgate"  # the application_name Flyway's PostgreSQL support sets
QUERIES = table_queries(TABLE)
ENDPOINTS_ON_TABLE = table_endpoints(TABLE)
# When the ALTER queues and when the blocker goes, as fractions of the window at
# difficulty easy; otherwise it queues anywhere that leaves LEAD_US and stands for
# QUEUE_US (the operator's search for the blocker, or the export's remaining run).
QUEUED_AT = (0.24, 0.30)
CLEARS_AT = (0.52, 0.58)
LEAD_US = 240 * US
QUEUE_US = (3 * 60 * US, 14 * 60 * US)
# The migrations: (statement, what it does once it has the lock: microseconds, topic).
# Adding a nullable column is a catalog change; a type change rewrites the table; a
# CHECK constraint scans it, all under ACCESS EXCLUSIVE.
MIGRATIONS = (
    (
        "ALTER TABLE public.orders ADD COLUMN fulfillment_status varchar(32)",
        (2_000, 15_000),
        "add_fulfillment_status",
    ),
    (
        "ALTER TABLE public.orders ALTER COLUMN total_cents TYPE bigint",
        (20 * US, 70 * US),
        "widen_total_cents",
    ),
    (
        "ALTER TABLE public.orders ADD CONSTRAINT orders_total_cents_check "
        "CHECK (total_cents >= 0)",
        (2 * US, 9 * US),
        "check_total_cents",
    ),
)
# The report worker's export, a long statement on orders (psql's \copy).
EXPORT_SQL = (
    "COPY (SELECT o.id, o.created_at, o.customer_id, o.status, o.total_cents, "
    "i.product_id, i.quantity, i.unit_price_cents FROM orders o JOIN order_items i "
    "ON i.order_id = o.id WHERE o.created_at >= now() - interval '400 days') "
    "TO STDOUT WITH (FORMAT csv, HEADER)"
)
# Who holds the lock, per how its hold ends (_locks.BLOCKER_ENDS).
BLOCKERS = {
    "terminated": "an analyst's psql session idle in transaction, terminated by an operator",
    "statement": "the report worker's long CSV export of orders",
    "committed": "an analyst's psql session idle in transaction, until it commits",
}


class DbLockContention(Scenario):
    id = "db_lock_contention"
    title = "Lock queue on orders: a migration's ALTER TABLE waits behind an open transaction"
    description = (
        "A migration's ALTER TABLE queues behind a long transaction; every orders query "
        "queues behind it"
    )
    caption = Caption(
        happens=(
            "A migration Job's ``ALTER TABLE orders`` needs an ACCESS EXCLUSIVE lock "
            "and waits behind a transaction that still holds the table (an idle psql "
            "session or a long export). PostgreSQL queues every later statement on "
            "``orders`` behind the ALTER, so orders-api's connections sit in lock "
            "waits: the HikariCP pools fill and time out requests of every endpoint, "
            "the mesh answers 504 at 8 s, and readiness probes fail. When the blocker "
            "goes, the ALTER runs and the queue drains at once."
        ),
        look_for=(
            "The 5xx share and p95 latency of every layer jump together at the red "
            "dashed line while request rates stay flat (no traffic spike). The bottom "
            "panel shows the migration Job and a wall of PostgreSQL lines whose "
            "durations all end at the same instant: statements that waited for one "
            "lock, not slow queries."
        ),
    )
    v0 = False
    expect = Expect(
        paraphrase=Paraphrase(
            title="ALTER TABLE on orders stuck behind an open transaction: every orders "
            "statement waits for the table lock",
            summary="PostgreSQL lock waits on the orders relation; the pools fill with "
            "waiting statements",
            file="db_events.log",
            signature="still waiting for AccessExclusiveLock",
        ),
        commented_sql=True,
        probe_failures=True,
        matching_paraphrases=(
            "Table lock queue on orders behind a long-running transaction",
            "Lock contention: ALTER TABLE waiting for an AccessExclusiveLock",
            "Queries blocked waiting for a lock on the orders table",
            "Migration blocked by a session idle in transaction",
        ),
    )

    def minimum_rps(self, duration_minutes: int, api_replicas: int) -> float:
        # The queue shows through the shop's statements: enough order requests while
        # the shortest queue stands.
        share = API_SHARE * endpoint_share(*ENDPOINTS_ON_TABLE)
        shortest = min(QUEUE_US[0], int((CLEARS_AT[0] - QUEUED_AT[1]) * duration_minutes * 60 * US))
        return sure_rate(share, shortest / (duration_minutes * 60 * US), duration_minutes)

    def plan(self, ctx: PlanContext) -> Plan:
        rng = ctx.rng
        queued = ctx.at(ctx.onset(QUEUED_AT, LEAD_US))
        if ctx.difficulty == "easy":
            clears = ctx.at(rng.uniform(*CLEARS_AT))
            statement, run, topic = MIGRATIONS[0]
            migration, ends = 57, "terminated"
        else:
            clears = queued + ctx.length(0, *QUEUE_US)
            statement, run, topic = rng.pick(MIGRATIONS)
            migration = rng.between(12, 160)
            ends = rng.pick(tuple(BLOCKERS))
        run_us = int(rng.uniform(*run))
        host = rng.pick(ctx.stack.nodes).pod_ip(rng)
        if ends == "statement":
            started = queued - int(rng.uniform(20, 600) * US)
            session = Session(
                "report_worker", host, "psql", started - int(rng.uniform(0.05, 0.4) * US)
            )
            blocker = Blocker(
                session,
                ends,
                clears,
                f"statement: {EXPORT_SQL}",
                started,
                signal="db.lock_holder_end",
            )
        else:
            # The analyst's session: opened minutes to an hour before, often before the window.
            session = Session("analyst", host, "psql", queued - int(rng.uniform(4, 90) * 60 * US))
            blocker = Blocker(session, ends, clears, signal="db.lock_holder_end")
        # The lock is free a moment after the blocker goes; the ALTER has it first.
        granted = clears + 200 + rng.below(1_800)
        migrator = Session(
            "migrator",
            f"10.244.{rng.between(1, 3)}.{rng.between(4, 250)}",
            FLYWAY,
            queued - int(rng.uniform(0.25, 0.6) * US),
        )
        request = LockRequest(
            migrator,
            statement,
            queued,
            "granted",
            granted,
            run_us,
            # Flyway records the migration in flyway_schema_history, then commits.
            commit_us=int(rng.uniform(2.0, 20.0) * 1000),
            statement_signal="db.ddl_alter_table",
            wait_signal="db.lock_wait.ddl",
            end_signal="db.lock_acquired.ddl",
        )
        queue = LockQueue(TABLE, QUERIES, blocker, request, "db.lock_wait")
        released = queue.released_us
        plan = Plan(
            incident=True,
            onset_us=queued,
            peak_us=queued + int(rng.uniform(60, 150) * US),
            recovery_us=inside_window(ctx, released + int(rng.uniform(20, 40) * US)),
            drawn={
                "migration": f"V{migration}",
                "migration_file": f"V{migration}__{topic}.sql",
                "ddl": statement,
                "blocker": BLOCKERS[ends],
                "onset_share": f"{(queued - ctx.window_start_us) / (ctx.window_end_us - ctx.window_start_us):.3f}",
            },
        )
        plan.add(
            queued - int(rng.uniform(3.0, 3.6) * US),
            "k8s",
            "job",
            name=f"orders-db-migrate-v{migration}",
            image=f"registry.example.com/shop/orders-db-migrate:v{migration}",
            done_us=released + int(rng.uniform(1.0, 3.0) * US),
        )
        queue_behind_lock(plan, queue)
        return plan

    def label(self) -> LabelSpec:
        return LabelSpec(
            root_cause="lock queue on orders: migration {migration}'s ALTER TABLE waits for "
            "an AccessExclusiveLock behind a long-running transaction ({blocker}), and every "
            "orders statement queues behind it",
            root_cause_layer="db",
            root_cause_component="PostgreSQL table lock on orders (migration {migration})",
            fault_type="lock_contention",
            aliases=(
                "lock contention",
                "lock queue",
                "lock wait",
                "table lock",
                "AccessExclusiveLock",
                "blocked by a long-running transaction",
                "migration blocked on a lock",
                "ALTER TABLE waiting for a lock",
                "{migration}",
            ),
            trigger="migration {migration} ({ddl}) without a lock_timeout",
            blast_radius=(
                "PostgreSQL orders table",
                "orders-api HikariCP pools (every endpoint)",
                "mesh orders-api route",
                "web (nginx)",
                "shop UI",
            ),
            expected_first_signal="db_events.log: LOG:  process N still waiting for "
            "AccessExclusiveLock on relation N of database N after 1000.NNN ms "
            "(the migration's ALTER TABLE; DETAIL names the process holding the lock)",
            first_signal="db.lock_wait.ddl",
            chain=(
                (
                    "db",
                    "orders-db migration Job / PostgreSQL",
                    "migration {migration} runs {ddl}: it needs an AccessExclusiveLock on orders",
                    ("db.ddl_alter_table",),
                ),
                (
                    "db",
                    "PostgreSQL lock manager",
                    "the ALTER waits behind a transaction that holds orders ({blocker})",
                    ("db.lock_wait.ddl",),
                ),
                (
                    "db",
                    "PostgreSQL orders table",
                    "every later statement on orders queues behind the ALTER's lock request",
                    ("db.lock_wait",),
                ),
                (
                    "api",
                    "orders-api HikariCP pool",
                    "connections held by waiting statements fill the pool: requests of "
                    "every endpoint time out waiting for one",
                    ("api.hikari_timeout", "exemplar.pool_timeout.api"),
                ),
                (
                    "mesh",
                    "istio-proxy (web -> orders-api)",
                    "504 UT at the 8 s route timeout",
                    ("mesh.504.UT", "exemplar.slow_query.mesh", "exemplar.pool_timeout.mesh"),
                ),
                (
                    "k8s",
                    "orders-api pods",
                    "readiness probes (pool health) fail; pods leave rotation",
                    ("k8s.readiness_timeout",),
                ),
                (
                    "ui",
                    "web (nginx)",
                    "users get 5xx after long waits",
                    ("ui.504", "ui.500"),
                ),
                (
                    "db",
                    "PostgreSQL",
                    "the blocker goes; the ALTER gets its lock and runs; the queued "
                    "statements all complete at once",
                    ("db.lock_holder_end", "db.lock_acquired.ddl", "db.lock_acquired"),
                ),
            ),
            confidence=(0.7, 1.0),
            # Wordings of the fault family; no drawn name (see LabelSpec.synonyms).
            synonyms=(
                "lock queue",
                "lock wait",
                "waiting for a lock",
                "waiting for lock",
                "waiting on a lock",
                "blocked on a lock",
                "blocking lock",
                "table lock",
                "exclusive lock",
                "AccessExclusiveLock",
                "blocking transaction",
                "idle in transaction",
                "long-running transaction",
            ),
        )
