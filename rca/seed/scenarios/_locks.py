"""A lock queue on a table, declared once for the simulation and the database's log.

PostgreSQL grants a table's locks in request order. A DDL statement that needs ACCESS
EXCLUSIVE (``ALTER TABLE``) waits for every transaction that holds any lock on the
table, even an idle one that only read it; and every statement that asks for the table
after the DDL queues behind it, even a plain ``SELECT``. So one forgotten transaction
plus one migration without a ``lock_timeout`` stop all traffic to a table, while the
database itself is idle. Each queued statement of the shop holds its pooled connection
all that time: the pool fills and HikariCP times out requests of every endpoint.

:func:`queue_behind_lock` states such a queue once: it composes the plan's ``db_wait``
hook (the simulation holds each queued statement's connection until the queue clears)
and schedules the facts the PostgreSQL renderer writes from the same :class:`LockQueue`
(the blocking session, the DDL's session, and the wait of every queued statement).

What the log shows, with ``log_lock_waits = on`` and ``deadlock_timeout = 1s``: a wait
past one second logs ``process N still waiting for <mode> on relation R of database D
after 1000.NNN ms`` with ``DETAIL:  Process holding the lock: H. Wait queue: W1, W2.``
and its ``STATEMENT:``, then ``process N acquired <mode> ... after T ms`` when granted
(PostgreSQL src/backend/storage/lmgr/proc.c, ProcSleep; the lock tag as
src/backend/storage/lmgr/lmgr.c, DescribeLockTag, words it).
"""

from __future__ import annotations

from dataclasses import dataclass

from .._catalog import ENDPOINTS
from ._base import Plan, no_wait

DEADLOCK_TIMEOUT_US = 1_000_000  # PostgreSQL's default: when a wait is first logged
# How a blocking transaction's hold ends, and what the log shows of it.
BLOCKER_ENDS = (
    "terminated",  # an operator runs pg_terminate_backend(): FATAL on its backend
    "statement",  # its long statement completes: the duration line
    "committed",  # it commits: nothing logged (log_statement = 'ddl')
)
# How the DDL's own wait ends.
REQUEST_ENDS = (
    "granted",  # the blocker ends; the DDL runs for run_us holding the lock
    "lock_timeout",  # its session's lock_timeout cancels it first
)


def table_queries(table: str) -> tuple[str, ...]:
    """The shop's queries that read or write ``table`` (_catalog), in catalog order."""
    keys: list[str] = []
    for e in ENDPOINTS:
        sql = f" {e.query.sql} "
        touches = any(f" {verb} {table} " in sql for verb in ("from", "into", "join", "update"))
        if touches and e.query.key not in keys:
            keys.append(e.query.key)
    return tuple(keys)


def table_endpoints(table: str) -> tuple[str, ...]:
    """The shop's endpoints whose query reads or writes ``table``, in catalog order."""
    queries = table_queries(table)
    return tuple(e.key for e in ENDPOINTS if e.query.key in queries)


@dataclass(frozen=True, slots=True)
class Session:
    """A client session other than the pool's, as log_connections shows it."""

    user: str
    host: str
    application: str
    connected_us: int  # before the window: an old backend, no connection lines


@dataclass(frozen=True, slots=True)
class Blocker:
    """The transaction that holds a lock on the table when the DDL asks for it."""

    session: Session
    ends: str  # one of BLOCKER_ENDS
    ends_us: int
    # "statement": what its duration line says after the duration ("statement: SQL",
    # or "execute <unnamed>: SQL" from a driver), and when that statement began
    statement: str = ""
    started_us: int = 0
    detail: str = ""  # ... and a line after it ("DETAIL:  Parameters: ..."), if any
    signal: str = ""  # key of the line that shows the hold end ("" for none)


@dataclass(frozen=True, slots=True)
class LockRequest:
    """The DDL statement that queues for ACCESS EXCLUSIVE behind the blocker."""

    session: Session
    statement: str
    queued_us: int  # it asks for the lock
    ends: str  # one of REQUEST_ENDS
    clears_us: int  # granted, or cancelled by its lock_timeout
    run_us: int = 0  # "granted": how long it then runs, holding the lock
    mode: str = "AccessExclusiveLock"  # the lock it waits for
    # ... and on what, when not the table (DescribeLockTag: "virtual transaction 4/123"
    # for CREATE INDEX CONCURRENTLY waiting out older snapshots)
    tag: str = ""
    # When the statement began (log_statement = 'ddl' logs it then), if before it asks:
    # a concurrent index build waits for older snapshots only after building.
    issued_us: int | None = None
    # "granted": after its run, until its transaction commits (Flyway records the
    # migration in flyway_schema_history first), still holding the lock
    commit_us: int = 0

    @property
    def began_us(self) -> int:
        return self.queued_us if self.issued_us is None else self.issued_us

    statement_signal: str = ""  # keys of its statement line, its wait line, its end
    wait_signal: str = ""
    end_signal: str = ""


@dataclass(frozen=True, slots=True)
class LockQueue:
    table: str
    query_keys: tuple[str, ...]  # the statements that queue (table_queries)
    blocker: Blocker
    request: LockRequest
    signal: str  # key of the queued statements' wait lines
    acquired_signal: str = "db.lock_acquired"  # ... and of their "acquired" lines

    def __post_init__(self) -> None:
        if self.blocker.ends not in BLOCKER_ENDS:
            raise ValueError(f"blocker ends={self.blocker.ends!r}: allowed {BLOCKER_ENDS}")
        if self.request.ends not in REQUEST_ENDS:
            raise ValueError(f"request ends={self.request.ends!r}: allowed {REQUEST_ENDS}")
        if not self.blocker.session.connected_us <= self.request.queued_us <= self.clears_us:
            raise ValueError("a lock queue needs connected <= queued <= clears")
        if self.request.began_us > self.request.queued_us:
            raise ValueError("a lock request cannot wait before its statement began")

    @property
    def clears_us(self) -> int:
        return self.request.clears_us

    @property
    def released_us(self) -> int:
        """When the statements queued behind the DDL run: it is done, or cancelled."""
        r = self.request
        return r.clears_us + r.run_us + r.commit_us if r.ends == "granted" else r.clears_us

    def wait_us(self, t_us: int, key: str) -> int:
        """How long a statement of query ``key`` that starts at ``t_us`` queues: until
        the release, when the lock manager wakes the queue in order (a microsecond per
        0.1 s of asking later: the wake-ups spread over a few milliseconds)."""
        if key in self.query_keys and self.request.queued_us <= t_us < self.released_us:
            return self.released_us + (t_us - self.request.queued_us) // 100_000 - t_us
        return 0

    def busy(self, table: str, t_us: int) -> bool:
        """Whether ``table`` is locked against autovacuum at ``t_us``: the DDL's request
        (or a concurrent index build's own lock) stands from when it began."""
        return table == self.table and self.request.began_us <= t_us < self.released_us


def queue_behind_lock(plan: Plan, queue: LockQueue) -> None:
    """Add ``queue`` to ``plan``: the simulation's statements wait, the log shows it."""
    inner = plan.db_wait
    if not queue.query_keys:
        pass  # nothing of the shop's queues (the simulation is not asked)
    elif inner is no_wait:
        plan.db_wait = queue.wait_us
    else:

        def db_wait(t_us: int, key: str) -> int:
            return max(inner(t_us, key), queue.wait_us(t_us, key))

        plan.db_wait = db_wait
    # The blocker's session first (its backend PID is older), then the DDL's.
    plan.add(queue.blocker.session.connected_us, "db", "lock_holder", queue=queue)
    r = queue.request
    keys = (r.statement_signal, r.wait_signal, r.end_signal, queue.blocker.signal)
    signals = sorted({k for k in keys if k} | {queue.signal, queue.acquired_signal})
    plan.add(r.session.connected_us, "db", "lock_request", queue=queue, signals=signals)
