"""PostgreSQL 15 stderr log of ``orders-db-0``.

Settings that decide what appears (as in the Debian package plus common production
choices)::

    log_line_prefix = '%m [%p] %q%u@%d '
    log_min_duration_statement = 500ms    log_connections = on
    log_disconnections = on               log_statement = 'ddl'
    log_checkpoints = on                  log_autovacuum_min_duration = 250ms
    log_temp_files = 10MB                 log_lock_waits = on (deadlock_timeout = 1s)

Background processes (checkpointer, autovacuum) have no ``user@db`` (the ``%q``).
Statements carry sqlcommenter comments, so a slow query names the trace that ran it.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

from .. import _timefmt as tf
from .._catalog import Query
from .._rng import Rng
from .._sim import Attempt, Request
from .._sink import LineSink
from .._topology import DB_DATABASE, DB_USER, Pod
from ..scenarios import Fact
from ..scenarios._locks import DEADLOCK_TIMEOUT_US, LockQueue
from ._base import RenderContext, Renderer
from ._pgtables import CARTS, NAPTIME_US, HotTable

SLOW_US = 500_000
UNKNOWN = "[unknown]"


def _logged(application: str, sql: str) -> str:
    """How log_statement shows a statement: psql sends it as a simple query; a JDBC
    client (Flyway) through the extended protocol's unnamed portal (postgres.c)."""
    return f"statement: {sql}" if application == "psql" else f"execute <unnamed>: {sql}"


def _lock_mode(sql: str) -> str:
    """The table lock a statement asks for (PostgreSQL's table-level lock modes)."""
    verb = sql.split(None, 1)[0].lower()
    return "AccessShareLock" if verb == "select" else "RowExclusiveLock"


@dataclass(slots=True)
class _QueueState:
    """A lock queue as this stream renders it: whose backends hold and wait."""

    queue: LockQueue
    holder_pid: int = 0
    request_pid: int = 0
    # Queued statements in the order they asked: (asked at, backend PID, held until).
    # ... and until when its backend is busy (the statement done, the request finished).
    waiters: list[tuple[int, int, int, int]] = field(default_factory=list)


class DbRenderer(Renderer):
    stream = "db"

    def __init__(self, ctx: RenderContext, sink: LineSink) -> None:
        super().__init__(ctx, sink)
        rng = self.rng
        start = ctx.window_start_us
        self._pid_base = 20_000 + rng.below(30_000)
        self._next_pid = self._pid_base
        self._backends: dict[str, list[tuple[int, int, int]]] = {}  # pod -> (pid, port, since)
        self._old_pids: set[int] = set()
        # HikariCP maxLifetime retirements, processed in time order: (when, seq, pod, slot, pid)
        self._retire: list[tuple[int, int, str, int, int]] = []
        self._retire_seq = 0
        self.checkpointer = 28 + rng.below(40)
        for pod in ctx.stack.api_pods:
            c = pod.containers[0]
            if c.start_us < start:
                conns = []
                for _ in range(ctx.plan.pool_size):
                    # Opened before the window: PIDs from before it, ages spread by churn.
                    since = start - rng.below(1_700_000_000)
                    pid = self._old_pid()
                    conns.append((pid, rng.between(33000, 60999), since))
                self._track(pod.name, conns)
        self._next_checkpoint = start + rng.below(300_000_000)
        self._table = HotTable(CARTS, rng, start)
        self._wal_estimate: int | None = None  # checkpoint distance estimate, kB
        self._queues: list[_QueueState] = []
        # "still waiting" lines are written once every statement that queued before
        # them is known (a later tick): (when, order, the queue, its waiter's index, text)
        self._waits: list[tuple[int, int, _QueueState, int, tuple[str, str, str, str]]] = []
        self._catalog: tuple[int, dict[str, int]] | None = None
        self._wait_seq = 0
        self._last_deferred = 0  # the latest retirement put off past a lock wait

    def _old_pid(self) -> int:
        """The PID of a backend forked before the window: below every new one, and
        not one another live backend already has."""
        while True:
            pid = self._pid_base - 1 - self.rng.below(15_000)
            if pid not in self._old_pids:
                self._old_pids.add(pid)
                return pid

    def _pid(self, t_us: int) -> int:
        """A new backend's PID: Linux hands them out increasing with time (host churn)."""
        floor = self._pid_base + (t_us - self.ctx.window_start_us) // 400_000
        self._next_pid = max(floor, self._next_pid + 1 + self.rng.below(4))
        return self._next_pid

    def _track(self, pod_name: str, conns: list[tuple[int, int, int]]) -> None:
        """Remember a pod's backends and when HikariCP will retire each (maxLifetime)."""
        self._backends[pod_name] = conns
        for slot, (pid, _port, since) in enumerate(conns):
            # maxLifetime 30 min, minus HikariCP's random variance of up to 2.5%.
            retire = since + 1_800_000_000 - int(self.rng.random() * 45_000_000)
            self._retire_seq += 1
            heapq.heappush(self._retire, (retire, self._retire_seq, pod_name, slot, pid))

    def _advance(self, t_us: int) -> None:
        """Write what is due by ``t_us``, in time order, so new backends' PIDs increase:
        autovacuum workers and HikariCP maxLifetime retirements (each followed by a
        reconnect)."""
        rng = self.rng
        while True:
            next_retire = self._retire[0][0] if self._retire else t_us + 1
            table = self._table
            due = [d for d in (table.due_vacuum, table.due_analyze) if d is not None]
            if due and min(due) <= min(t_us, next_retire):
                v = min(due)
                self._autovacuum(v, analyze=v != table.due_vacuum)
                continue
            if next_retire > t_us:
                break
            retire, _, pod_name, slot, pid = heapq.heappop(self._retire)
            conns = self._backends.get(pod_name)
            if conns is None or slot >= len(conns) or conns[slot][0] != pid:
                continue  # the pod or this connection is gone already
            busy = self._busy_until(pid, retire) if self._queues else 0
            if busy > retire:
                # HikariCP retires a connection in use only once it is returned; those
                # returned together reconnect one after another (its single
                # connection-adder thread), so their backends fork in that order.
                again = max(busy + 1_000, self._last_deferred + 25_000)
                self._last_deferred = again
                self._retire_seq += 1
                heapq.heappush(self._retire, (again, self._retire_seq, pod_name, slot, pid))
                continue
            pod = next(p for p in self.ctx.stack.api_pods if p.name == pod_name)
            _, port, since = conns[slot]
            self.out.add(
                retire,
                f"{self._p(retire, pid, DB_USER)}LOG:  disconnection: session time: "
                f"{_session(retire - since)} user={DB_USER} database={DB_DATABASE} "
                f"host={pod.ip} port={port}",
                ("noise.max_lifetime",),
            )
            ts = retire + 4_000 + rng.below(20_000)
            npid, nport = self._pid(ts), rng.between(33000, 60999)
            self.out.add(
                ts,
                f"{self._p(ts, npid, UNKNOWN)}LOG:  connection received: host={pod.ip} "
                f"port={nport}",
            )
            self.out.add(
                ts + 1_500,
                f"{self._p(ts + 1_500, npid, DB_USER)}LOG:  connection authorized: "
                f"user={DB_USER} database={DB_DATABASE} application_name=PostgreSQL JDBC Driver",
            )
            conns[slot] = (npid, nport, ts)
            new_retire = ts + 1_800_000_000 - int(rng.random() * 45_000_000)
            self._retire_seq += 1
            heapq.heappush(self._retire, (new_retire, self._retire_seq, pod_name, slot, npid))

    def _p(self, t: int, pid: int, user: str | None = None) -> str:
        """The ``%m [%p] %q%u@%d `` prefix; no user@db for background processes."""
        if user is None:
            return f"{tf.postgres(t)} [{pid}] "
        if user == UNKNOWN:  # before authentication
            return f"{tf.postgres(t)} [{pid}] [unknown]@[unknown] "
        return f"{tf.postgres(t)} [{pid}] {user}@{DB_DATABASE} "

    # ------------------------------------------------------------------ statements
    def _comment(self, r: Request, attempt: int) -> str:
        ep = r.endpoint
        assert ep is not None
        controller, action = ep.handler.split("#")
        return (
            f"/*action='{action}',controller='{controller}',framework='spring',"
            f"traceparent='00-{r.trace_id}-{self.span_id(r.n, attempt)}-01'*/"
        )

    def _params(self, q: Query, r: Request) -> str:
        values = {
            "customer": r.params.get("customer", "1"),
            "order": r.params.get("order", "1"),
            "category": r.params.get("category", "shoes"),
            "offset": str(int(r.params.get("page", "0")) * 20),
            "size": "20",
            "now": "2026-01-01 00:00:00+00",
            "idem": self.ids.hex("idem", r.n, 8),
            "status": "PENDING",
            "cents": str(1000 + self.rng.below(40_000)),
        }
        return ", ".join(f"${i + 1} = '{values[k]}'" for i, k in enumerate(q.params))

    def _now_literal(self, t: int) -> str:
        return tf.postgres(t).replace(" UTC", "+00")

    def request(self, r: Request) -> None:
        if r.kind != "api":
            return
        self._table.request(r.t_us)
        ep = r.endpoint
        assert ep is not None
        q = ep.query
        for i, a in enumerate(r.attempts):
            queued = self._queued(a, q.key) if self._queues and a.db_us else None
            if queued is None and a.db_us < SLOW_US and a.outcome != "conflict":
                continue  # below log_min_duration_statement and not an error: not logged
            backends = self._backends.get(a.pod.name)
            sql = f"{q.sql} {self._comment(r, i)}"
            lock_us = 0
            if queued is not None:
                state, lock_us = queued
                pid = self._queued_statement(state, a, lock_us, sql, r.request_id)
            else:
                pid = backends[self.rng.below(len(backends))][0] if backends else self._pid(r.t_us)
            end = a.db_start_us + a.db_us
            params = self._params(q, r).replace(
                "2026-01-01 00:00:00+00", self._now_literal(a.db_start_us)
            )
            p = self._p(end, pid, DB_USER)
            if a.outcome == "conflict":
                key = self.ids.hex("idem", r.n, 8)
                self.out.add(
                    end,
                    "\n".join(
                        [
                            f"{p}ERROR:  duplicate key value violates unique constraint "
                            '"orders_idempotency_key_key"',
                            f"{p}DETAIL:  Key (idempotency_key)=({key}) already exists.",
                            f"{p}STATEMENT:  {sql}",
                        ]
                    ),
                    ("noise.duplicate_key",),
                    r.request_id,
                )
                continue
            keys: tuple[str, ...] = (f"db.slow.{q.key}",)
            if r.exemplar == "slow_query":
                keys += ("exemplar.slow_query.db",)
            # No temporary file: the order-history query fetches 20 rows, so even
            # without its index the sort is a bounded top-N heapsort in work_mem
            # (src/backend/utils/sort/tuplesort.c, TSS_BOUNDED); it never spills.
            self.out.add(
                end,
                "\n".join(
                    [
                        f"{p}LOG:  duration: {a.db_us / 1000:.3f} ms  execute <unnamed>: {sql}",
                        f"{p}DETAIL:  Parameters: {params}",
                    ]
                ),
                keys,
                r.request_id,
            )

    # ------------------------------------------------------------------ facts
    def fact(self, f: Fact) -> None:
        if f.stream != "db":
            return
        t = f.t_us
        rng = self.rng
        self._advance(t)
        if f.kind == "pool_open":
            pod: Pod = f.data["pod"]
            conns = []
            ts = t
            for _ in range(self.ctx.plan.pool_size):
                ts += 3_000 + rng.below(9_000)
                pid, port = self._pid(ts), rng.between(33000, 60999)
                self.out.add(
                    ts,
                    f"{self._p(ts, pid, UNKNOWN)}LOG:  connection received: "
                    f"host={pod.ip} port={port}",
                    ("db.connection_received",),
                )
                self.out.add(
                    ts + 1_800,
                    f"{self._p(ts + 1_800, pid, DB_USER)}LOG:  connection "
                    f"authorized: user={DB_USER} database={DB_DATABASE} "
                    "application_name=PostgreSQL JDBC Driver",
                    ("db.connection_authorized",),
                )
                conns.append((pid, port, ts))
            self._track(pod.name, conns)
        elif f.kind in ("pool_close", "pool_reset"):
            pod = f.data["pod"]
            for pid, port, since in self._backends.pop(pod.name, []):
                ts = t + rng.below(40_000)
                p = self._p(ts, pid, DB_USER)
                if f.kind == "pool_reset":
                    self.out.add(
                        ts,
                        f"{p}LOG:  could not receive data from client: Connection reset by peer",
                        ("db.client_reset",),
                    )
                session = _session(ts - since)
                self.out.add(
                    ts + 10,
                    f"{p}LOG:  disconnection: session time: {session} "
                    f"user={DB_USER} database={DB_DATABASE} host={pod.ip} port={port}",
                    ("db.disconnection",),
                )
        elif f.kind == "ddl":
            user = f.data["user"]
            pid = self._pid(t)
            port = rng.between(33000, 60999)
            host = f.data["host"]
            lines: list[tuple[int, str, tuple[str, ...]]] = [
                (
                    0,
                    f"{self._p(t, pid, UNKNOWN)}LOG:  connection received: host={host} port={port}",
                    (),
                ),
                (
                    2_000,
                    f"{self._p(t + 2_000, pid, user)}LOG:  connection authorized: "
                    f"user={user} database={DB_DATABASE} application_name=flyway",
                    (),
                ),
            ]
            off = 90_000
            for stmt in f.data["statements"]:
                lines.append(
                    (
                        off,
                        f"{self._p(t + off, pid, user)}LOG:  statement: {stmt}",
                        (f.data["signal"],),
                    )
                )
                off += f.data.get("step_us", 40_000)
            lines.append(
                (
                    off + 5_000,
                    f"{self._p(t + off + 5_000, pid, user)}LOG:  disconnection: "
                    f"session time: {_session(off + 5_000)} user={user} "
                    f"database={DB_DATABASE} host={host} port={port}",
                    (),
                )
            )
            for dt, text, keys in lines:
                self.out.add(t + dt, text, keys)

        elif f.kind == "session":
            self._session(t, f.data)
        elif f.kind == "lock_holder":
            self._lock_holder(t, f.data["queue"])
        elif f.kind == "lock_request":
            self._lock_request(t, f.data["queue"])

    # ------------------------------------------------------------------ lock queues
    def _relation(self, table: str) -> str:
        """The lock tag of ``table`` as DescribeLockTag words it: its and its database's
        OIDs (user objects from 16384 on; drawn apart from the stream's generator)."""
        if self._catalog is None:
            cat = Rng(self.ctx.key, "db", "catalog")
            db_oid = 16384 + cat.below(3)
            # Created by the schema's first migration, one after another.
            first = db_oid + 20 + cat.below(400)
            names = ("customers", "products", "orders", "order_items", "carts")
            self._catalog = (db_oid, {name: first + 3 * i for i, name in enumerate(names)})
        db_oid, oids = self._catalog
        return f"relation {oids[table]} of database {db_oid}"

    def _connect(self, t: int, pid: int, user: str, host: str, app: str) -> int:
        """log_connections' two lines; the port the client used."""
        port = self.rng.between(33000, 60999)
        self.out.add(
            t, f"{self._p(t, pid, UNKNOWN)}LOG:  connection received: host={host} port={port}"
        )
        self.out.add(
            t + 1_800,
            f"{self._p(t + 1_800, pid, user)}LOG:  connection authorized: user={user} "
            f"database={DB_DATABASE} application_name={app}",
        )
        return port

    def _disconnect(self, t: int, pid: int, since: int, user: str, host: str, port: int) -> None:
        self.out.add(
            t,
            f"{self._p(t, pid, user)}LOG:  disconnection: session time: {_session(t - since)} "
            f"user={user} database={DB_DATABASE} host={host} port={port}",
        )

    def _state(self, queue: LockQueue) -> _QueueState:
        """The queue's state; its two facts come in either order (who connected first)."""
        for state in self._queues:
            if state.queue is queue:
                return state
        state = _QueueState(queue)
        self._queues.append(state)
        return state

    def _lock_holder(self, t: int, queue: LockQueue) -> None:
        state = self._state(queue)
        b = queue.blocker
        s = b.session
        if s.connected_us < self.ctx.window_start_us:  # an old backend: an older PID
            pid, port = self._old_pid(), 0
        else:
            pid = self._pid(t)
            port = self._connect(t, pid, s.user, s.host, s.application)
        state.holder_pid = pid
        keys = (b.signal,) if b.signal else ()
        p = self._p(b.ends_us, pid, s.user)
        if b.ends == "terminated":
            self.out.add(
                b.ends_us, f"{p}FATAL:  terminating connection due to administrator command", keys
            )
        elif b.ends == "statement":
            ms = (b.ends_us - b.started_us) / 1000
            lines = [f"{p}LOG:  duration: {ms:.3f} ms  {b.statement}"]
            if b.detail:
                lines.append(p + b.detail)
            self.out.add(b.ends_us, "\n".join(lines), keys)
        if b.ends != "committed" and port:
            self._disconnect(
                b.ends_us + 1_000 + self.rng.below(30_000), pid, t, s.user, s.host, port
            )

    def _lock_request(self, t: int, queue: LockQueue) -> None:
        state = self._state(queue)
        r = queue.request
        s = r.session
        pid = self._pid(t)
        state.request_pid = pid
        port = self._connect(t, pid, s.user, s.host, s.application)
        user = s.user
        add = self.out.add
        began = r.began_us
        add(
            began,
            f"{self._p(began, pid, user)}LOG:  {_logged(s.application, r.statement)}",
            (r.statement_signal,) if r.statement_signal else (),
        )
        if r.clears_us - r.queued_us > DEADLOCK_TIMEOUT_US:
            self._wait_later(state, -1, r.queued_us, pid, user, r.mode, r.statement)
        end_keys = (r.end_signal,) if r.end_signal else ()
        rel = r.tag or self._relation(queue.table)
        at = r.clears_us
        if r.ends == "granted":
            if r.clears_us - r.queued_us > DEADLOCK_TIMEOUT_US:
                add(
                    at,
                    "\n".join(
                        [
                            f"{self._p(at, pid, user)}LOG:  process {pid} acquired "
                            f"{r.mode} on {rel} after {(at - r.queued_us) / 1000:.3f} ms",
                            f"{self._p(at, pid, user)}STATEMENT:  {r.statement}",
                        ]
                    ),
                    end_keys,
                )
            done = at + r.run_us
            # Already logged by log_statement: the duration comes alone (postgres.c,
            # check_log_duration).
            add(
                done,
                f"{self._p(done, pid, user)}LOG:  duration: {(done - began) / 1000:.3f} ms",
            )
            gone = self._session_end(s.application, queue.released_us)
        else:
            add(
                at,
                "\n".join(
                    [
                        f"{self._p(at, pid, user)}ERROR:  canceling statement due to lock timeout",
                        f"{self._p(at, pid, user)}STATEMENT:  {r.statement}",
                    ]
                ),
                end_keys,
            )
            gone = self._session_end(s.application, at)
        self._disconnect(gone, pid, t, user, s.host, port)

    def _session_end(self, application: str, done: int) -> int:
        """A tool closes its connection once done; a person at psql stays a while."""
        if application == "psql":
            return done + int(self.rng.uniform(2.0, 90.0) * 1_000_000)
        return done + 2_000 + self.rng.below(20_000)

    def _queued(self, a: Attempt, key: str) -> tuple[_QueueState, int] | None:
        """The queue a statement waited in past deadlock_timeout, and how long."""
        best: tuple[_QueueState, int] | None = None
        for state in self._queues:
            wait = state.queue.wait_us(a.db_start_us, key)
            if wait > DEADLOCK_TIMEOUT_US and (best is None or wait > best[1]):
                best = (state, wait)
        return best

    def _queued_statement(
        self, state: _QueueState, a: Attempt, lock_us: int, sql: str, request_id: str
    ) -> int:
        """A shop statement queued behind the DDL: its backend, its wait lines."""
        start = a.db_start_us
        granted = start + lock_us
        backends = self._backends.get(a.pod.name) or []
        # A backend runs one statement at a time: not one already queued.
        free = [b[0] for b in backends if self._busy_until(b[0], start) <= start]
        pid = free[self.rng.below(len(free))] if free else self._pid(start)
        state.waiters.append((start, pid, granted, max(granted, a.end_us)))
        mode = _lock_mode(sql)
        self._wait_later(state, len(state.waiters) - 1, start, pid, DB_USER, mode, sql, request_id)
        if a.end_us >= granted:
            p = self._p(granted, pid, DB_USER)
            self.out.add(
                granted,
                f"{p}LOG:  process {pid} acquired {mode} on {self._relation(state.queue.table)} "
                f"after {lock_us / 1000:.3f} ms\n{p}STATEMENT:  {sql}",
                (state.queue.acquired_signal,),
                request_id,
            )
        return pid

    def _busy_until(self, pid: int, t: int) -> int:
        """Until when backend ``pid`` is in a lock queue that it joined by ``t`` (0: not)."""
        return max(
            (
                until
                for st in self._queues
                for asked, w, _granted, until in st.waiters
                if w == pid and asked <= t
            ),
            default=0,
        )

    def _wait_later(
        self,
        state: _QueueState,
        index: int,
        asked: int,
        pid: int,
        user: str,
        mode: str,
        sql: str,
        request_id: str | None = None,
    ) -> None:
        # deadlock_timeout's timer fires a little after the second.
        at = asked + DEADLOCK_TIMEOUT_US + 10 + self.rng.below(1_500)
        self._wait_seq += 1
        heapq.heappush(
            self._waits, (at, self._wait_seq, state, index, (user, mode, sql, request_id or ""))
        )

    def _write_waits(self, t_us: int) -> None:
        """The "still waiting" lines due before ``t_us``: each lists the queue as it is
        then, every statement that asked before it included (all known by now)."""
        while self._waits and self._waits[0][0] < t_us:
            at, _, state, index, (user, mode, sql, request_id) = heapq.heappop(self._waits)
            q = state.queue
            tag = self._relation(q.table)
            if index < 0:
                pid, asked, key = state.request_pid, q.request.queued_us, q.request.wait_signal
                tag = q.request.tag or tag
            else:
                asked, pid, _, _ = state.waiters[index]
                key = q.signal
            queued = sorted((a, w) for a, w, granted, _ in state.waiters if a < at < granted)
            if at < q.clears_us or q.request.ends != "granted":
                holders = [state.holder_pid]
                line = [state.request_pid, *(w for _, w in queued)]
            else:  # the DDL has the lock now: it holds, the statements wait
                holders = [state.request_pid]
                line = [w for _, w in queued]
            if pid not in line:
                line.append(pid)
            who = "Process holding the lock" if len(holders) == 1 else "Processes holding the lock"
            p = self._p(at, pid, user)
            text = "\n".join(
                [
                    f"{p}LOG:  process {pid} still waiting for {mode} on {tag} "
                    f"after {(at - asked) / 1000:.3f} ms",
                    f"{p}DETAIL:  {who}: {', '.join(map(str, holders))}. "
                    f"Wait queue: {', '.join(map(str, line))}.",
                    f"{p}STATEMENT:  {sql}",
                ]
            )
            self.out.add(at, text, (key,) if key else (), request_id or None)

    def _session(self, t: int, d: dict[str, Any]) -> None:
        """A client session other than the pool's (a BI tool, an operator's psql): its
        connection, its ``entries`` (offset from ``t``, the message after the prefix,
        extra lines such as ``STATEMENT:`` that share the prefix) and its end. Only the
        backend PID and port come from this stream's generator."""
        rng = self.rng
        user, host = d["user"], d["host"]
        pid = self._pid(t)
        port = rng.between(33000, 60999)
        signals = tuple(d.get("signals", ()))
        self.out.add(
            t, f"{self._p(t, pid, UNKNOWN)}LOG:  connection received: host={host} port={port}"
        )
        ta = t + 1_800
        self.out.add(
            ta,
            f"{self._p(ta, pid, user)}LOG:  connection authorized: user={user} "
            f"database={DB_DATABASE} application_name={d['application']}",
        )
        end = ta
        for dt, message, extra in d["entries"]:
            ts = t + dt
            p = self._p(ts, pid, user)
            message = message.replace("{pid}", str(pid))  # e.g. a temporary file's name
            self.out.add(ts, "\n".join([p + message, *(p + x for x in extra)]), signals)
            end = max(end, ts)
        te = end + 2_000
        self.out.add(
            te,
            f"{self._p(te, pid, user)}LOG:  disconnection: session time: {_session(te - t)} "
            f"user={user} database={DB_DATABASE} host={host} port={port}",
        )

    # ------------------------------------------------------------------ noise
    def tick(self, t_us: int) -> None:
        self._advance(t_us)
        if self._waits:
            self._write_waits(t_us)

    def background(self, t0_us: int, t1_us: int) -> None:
        while self._next_checkpoint < t1_us:
            t = self._next_checkpoint
            end = self._checkpoint(t)
            # The checkpointer then sleeps the rest of checkpoint_timeout, counted in
            # whole seconds from this one's start (time(NULL)): the next starts 300 s
            # after it to the second, at the sub-second its sleep began
            # (src/backend/postmaster/checkpointer.c, CheckpointerMain).
            elapsed_s = end // 1_000_000 - t // 1_000_000
            # (It logs, and removes old WAL first: its sleep begins a little later.)
            self._next_checkpoint = end + (300 - elapsed_s) * 1_000_000 + self.rng.step_us(20_000)

    def _checkpoint(self, t: int) -> int:
        """A timed checkpoint from ``t``; returns when it completes.

        The write phase is paced to finish by checkpoint_completion_target (0.9 of the
        5 min timeout, 270 s), writing a buffer and napping 100 ms whenever it is ahead
        of schedule, so a small checkpoint takes a tenth of a second per buffer; the
        WAL distance and the smoothed estimate follow checkpoint.c's
        (UpdateCheckPointDistanceEstimate: 0.9 old + 0.1 new, or the new if larger).
        """
        rng = self.rng
        pid = self.checkpointer
        buffers = rng.between(300, 6000)
        write = min(rng.uniform(268.5, 269.9), buffers * rng.uniform(0.098, 0.102))
        sync = rng.uniform(0.002, 0.090)
        files = rng.between(20, 140)
        total = write + sync + rng.uniform(0.001, 0.012)
        end = t + int(total * 1_000_000)
        dist = buffers * rng.between(14, 40)  # kB of WAL since the last checkpoint
        if self._wal_estimate is None:
            self._wal_estimate = dist + rng.below(9000)
        elif dist > self._wal_estimate:
            self._wal_estimate = dist
        else:
            self._wal_estimate = int(0.9 * self._wal_estimate + 0.1 * dist)
        recycled = dist // 16_384  # the 16 MB segments filled since, made the next ones
        self.out.add(t, f"{self._p(t, pid)}LOG:  checkpoint starting: time", ("noise.checkpoint",))
        self.out.add(
            end,
            (
                f"{self._p(end, pid)}LOG:  checkpoint complete: wrote {buffers} buffers "
                f"({buffers / 163.84:.1f}%); 0 WAL file(s) added, 0 removed, {recycled} recycled; "
                f"write={write:.3f} s, sync={sync:.3f} s, total={total:.3f} s; "
                f"sync files={files}, longest={sync * 0.4:.3f} s, average={sync / files:.3f} s; "
                f"distance={dist} kB, estimate={self._wal_estimate} kB"
            ),
        )
        return end

    def _autovacuum(self, t: int, analyze: bool) -> None:
        """An autovacuum worker forked at ``t`` vacuums (or analyzes) the hot table;
        its report is logged when it is done, if it took long enough (_pgtables)."""
        table = self._table
        name = table.spec.name
        if self._queues and any(st.queue.busy(name, t) for st in self._queues):
            # Autovacuum does not wait for a lock (VACOPT_SKIP_LOCKED): it skips the
            # table and says so under log_autovacuum_min_duration (vacuum.c); the
            # launcher comes back on its next visit.
            pid = self._pid(t)
            self.out.add(
                t, f'{self._p(t, pid)}LOG:  skipping vacuum of "{name}" --- lock not available'
            )
            if analyze:
                table.due_analyze = t + NAPTIME_US
            else:
                table.due_vacuum = t + NAPTIME_US
            return
        pid = self._pid(t)
        run = table.analyze if analyze else table.vacuum
        elapsed, text = run(self.rng, DB_DATABASE)
        if text:
            end = t + int(elapsed * 1_000_000)
            self.out.add(end, f"{self._p(end, pid)}LOG:  {text}", ("noise.autovacuum",))


def _session(us: int) -> str:
    """``H:MM:SS.mmm`` as PostgreSQL prints session time."""
    ms = max(0, us // 1000)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h}:{m:02d}:{s:02d}.{ms:03d}"
