"""PostgreSQL 15 stderr log of ``orders-db-0``.

Settings that decide what appears (as in the Debian package plus common production
choices)::

    log_line_prefix = '%m [%p] %q%u@%d '
    log_min_duration_statement = 500ms    log_connections = on
    log_disconnections = on               log_statement = 'ddl'
    log_checkpoints = on                  log_autovacuum_min_duration = 250ms
    log_temp_files = 10MB

Background processes (checkpointer, autovacuum) have no ``user@db`` (the ``%q``).
Statements carry sqlcommenter comments, so a slow query names the trace that ran it.
"""

from __future__ import annotations

import heapq
from typing import Any

from .. import _timefmt as tf
from .._catalog import Query
from .._sim import Request
from .._sink import LineSink
from .._topology import DB_DATABASE, DB_USER, Pod
from ..scenarios import Fact
from ._base import RenderContext, Renderer

SLOW_US = 500_000
TEMP_FILE_MIN = 10 * 1024 * 1024
UNKNOWN = "[unknown]"


class DbRenderer(Renderer):
    stream = "db"

    def __init__(self, ctx: RenderContext, sink: LineSink) -> None:
        super().__init__(ctx, sink)
        rng = self.rng
        start = ctx.window_start_us
        self._pid_base = 20_000 + rng.below(30_000)
        self._next_pid = self._pid_base
        self._backends: dict[str, list[tuple[int, int, int]]] = {}  # pod -> (pid, port, since)
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
                    pid = self._pid_base - 1 - rng.below(15_000)
                    conns.append((pid, rng.between(33000, 60999), since))
                self._track(pod.name, conns)
        self._next_checkpoint = start + rng.below(300_000_000)
        self._next_vacuum = start + int(rng.exponential(360_000_000 / ctx.noise))

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
            if self._next_vacuum <= min(t_us, next_retire):
                v = self._next_vacuum
                self._autovacuum(v)
                gap = int(rng.exponential(360_000_000 / self.ctx.noise)) + 30_000_000
                self._next_vacuum = v + gap
                continue
            if next_retire > t_us:
                break
            retire, _, pod_name, slot, pid = heapq.heappop(self._retire)
            conns = self._backends.get(pod_name)
            if conns is None or slot >= len(conns) or conns[slot][0] != pid:
                continue  # the pod or this connection is gone already
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
        ep = r.endpoint
        assert ep is not None
        q = ep.query
        for i, a in enumerate(r.attempts):
            if a.db_us < SLOW_US and a.outcome != "conflict":
                continue  # below log_min_duration_statement and not an error: not logged
            backends = self._backends.get(a.pod.name)
            pid = backends[self.rng.below(len(backends))][0] if backends else self._pid(r.t_us)
            end = a.db_start_us + a.db_us
            sql = f"{q.sql} {self._comment(r, i)}"
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
            if a.db_us > 1_500_000 and q.key == "orders_by_customer":
                # A sequential scan's sort spills to disk: the temp file is logged first.
                size = TEMP_FILE_MIN + self.rng.below(40) * 1_048_576
                self.out.add(
                    end - 1,
                    "\n".join(
                        [
                            f'{p}LOG:  temporary file: path "base/pgsql_tmp/pgsql_tmp{pid}.'
                            f'{self.rng.below(4)}", size {size}',
                            f"{p}STATEMENT:  {sql}",
                        ]
                    ),
                    ("db.temp_file",),
                    r.request_id,
                )
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

    def background(self, t0_us: int, t1_us: int) -> None:
        while self._next_checkpoint < t1_us:
            t = self._next_checkpoint
            self._checkpoint(t)
            self._next_checkpoint = t + 300_000_000

    def _checkpoint(self, t: int) -> None:
        rng = self.rng
        pid = self.checkpointer
        buffers = rng.between(300, 6000)
        write = rng.uniform(150.0, 269.9)
        sync = rng.uniform(0.002, 0.090)
        files = rng.between(20, 140)
        end = t + int((write + sync + 0.01) * 1_000_000)
        dist = rng.between(4000, 60000)
        self.out.add(t, f"{self._p(t, pid)}LOG:  checkpoint starting: time", ("noise.checkpoint",))
        self.out.add(
            end,
            (
                f"{self._p(end, pid)}LOG:  checkpoint complete: wrote {buffers} buffers "
                f"({buffers / 163.84:.1f}%); 0 WAL file(s) added, 0 removed, {rng.below(3)} recycled; "
                f"write={write:.3f} s, sync={sync:.3f} s, total={write + sync + 0.005:.3f} s; "
                f"sync files={files}, longest={sync * 0.4:.3f} s, average={sync / files:.3f} s; "
                f"distance={dist} kB, estimate={dist + rng.below(9000)} kB"
            ),
        )

    def _autovacuum(self, t: int) -> None:
        rng = self.rng
        pid = self._pid(t)
        table = rng.pick(("orders", "order_items", "carts"))
        pages = rng.between(2000, 30000)
        scanned = rng.between(pages // 20, pages // 4)
        removed = rng.between(800, 30000)
        remain = rng.between(200_000, 4_000_000)
        elapsed = rng.uniform(0.3, 4.5)
        xid = 900_000 + rng.below(9_000_000)
        text = "\n".join(
            [
                f'{self._p(t, pid)}LOG:  automatic vacuum of table "{DB_DATABASE}.public.{table}": '
                "index scans: 1",
                f"\tpages: 0 removed, {pages} remain, {scanned} scanned ({scanned * 100 / pages:.2f}% of total)",
                f"\ttuples: {removed} removed, {remain} remain, 0 are dead but not yet removable",
                f"\tremovable cutoff: {xid}, which was {rng.between(0, 40)} XIDs old when operation ended",
                f"\tindex scan needed: {scanned // 3} pages from table "
                f"({scanned / 3 * 100 / pages:.2f}% of total) had {removed} dead item identifiers removed",
                f'\tindex "{table}_pkey": pages: {pages // 6} in total, 0 newly deleted, 0 currently '
                "deleted, 0 reusable",
                f"\tavg read rate: {rng.uniform(0.5, 40):.3f} MB/s, avg write rate: {rng.uniform(0.5, 20):.3f} MB/s",
                f"\tbuffer usage: {rng.between(1000, 90000)} hits, {rng.between(10, 4000)} misses, "
                f"{rng.between(10, 3000)} dirtied",
                f"\tWAL usage: {rng.between(500, 40000)} records, {rng.between(0, 900)} full page images, "
                f"{rng.between(80_000, 9_000_000)} bytes",
                f"\tsystem usage: CPU: user: {elapsed * 0.3:.2f} s, system: {elapsed * 0.05:.2f} s, "
                f"elapsed: {elapsed:.2f} s",
            ]
        )
        self.out.add(t, text, ("noise.autovacuum",))


def _session(us: int) -> str:
    """``H:MM:SS.mmm`` as PostgreSQL prints session time."""
    ms = max(0, us // 1000)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h}:{m:02d}:{s:02d}.{ms:03d}"
