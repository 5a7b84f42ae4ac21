"""The shop's hot table as PostgreSQL's autovacuum sees it, so its log lines add up.

Autovacuum vacuums a table once its dead tuples pass ``autovacuum_vacuum_threshold +
autovacuum_vacuum_scale_factor * reltuples`` and analyzes it once its changed tuples
pass the analyze pair (src/backend/postmaster/autovacuum.c, relation_needs_vacanalyze);
the launcher looks at the database once per ``autovacuum_naptime`` (60 s). In this
shop only ``carts`` changes fast enough for that within a window: every request
touches the customer's cart (an UPDATE, so a dead tuple), and the team tuned the table
(``ALTER TABLE carts SET (autovacuum_vacuum_scale_factor = 0.02,
autovacuum_analyze_scale_factor = 0.01)``). ``orders`` and ``order_items`` are large
and mostly inserted into: their thresholds (tens of thousands of tuples) take days at
this traffic, so they are never vacuumed in a window.

Every number of a report derives from the table (rows, tuples per page, its indexes)
and the work done: pages scanned from the dead tuples' spread, buffers from the
scanned and index pages, the elapsed time from autovacuum's cost-based delay
(``vacuum_cost_page_hit`` 1, ``_miss`` 2, ``_dirty`` 20; ``autovacuum_vacuum_cost_limit``
200 per ``autovacuum_vacuum_cost_delay`` 2 ms), and the rates from the buffers and the
time, as src/backend/access/heap/vacuumlazy.c (heap_vacuum_rel) computes them. A run
shorter than ``log_autovacuum_min_duration`` (250 ms) is not logged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .._rng import Rng

BLCKSZ = 8192
NAPTIME_US = 60_000_000
MIN_LOGGED_S = 0.25
COST_HIT, COST_MISS, COST_DIRTY = 1, 2, 20
COST_LIMIT, COST_DELAY_S = 200, 0.002


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    rows: tuple[int, int]  # live tuples, drawn per bundle
    tuple_bytes: int  # on disk: header, columns and line pointer
    indexes: tuple[tuple[str, int], ...]  # (name, entries per leaf page)
    updates_per_request: float  # dead tuples an orders-api request leaves
    vacuum_scale: float
    analyze_scale: float


CARTS = TableSpec(
    name="carts",
    rows=(180_000, 900_000),
    tuple_bytes=156,
    indexes=(("carts_pkey", 360), ("carts_customer_id_key", 330), ("carts_updated_at_idx", 290)),
    updates_per_request=0.9,
    vacuum_scale=0.02,
    analyze_scale=0.01,
)


class HotTable:
    """One table's dead and changed tuples, fed by the requests the stream sees."""

    def __init__(self, spec: TableSpec, rng: Rng, start_us: int) -> None:
        self.spec = spec
        self.rows = rng.between(*spec.rows)
        per_page = (BLCKSZ - 24) // spec.tuple_bytes
        self.pages = math.ceil(self.rows / per_page)
        # Where the window falls in the table's vacuum and analyze cycles.
        self.dead = rng.uniform(0.0, 1.0) * self.vacuum_threshold
        self.changed = rng.uniform(0.0, 1.0) * self.analyze_threshold
        self.launcher_phase_us = start_us + rng.below(NAPTIME_US)
        self.xid = 3_000_000 + rng.below(40_000_000)
        self.due_vacuum: int | None = None
        self.due_analyze: int | None = None

    @property
    def vacuum_threshold(self) -> float:
        return 50 + self.spec.vacuum_scale * self.rows

    @property
    def analyze_threshold(self) -> float:
        return 50 + self.spec.analyze_scale * self.rows

    def _next_visit(self, t_us: int) -> int:
        k = (t_us - self.launcher_phase_us) // NAPTIME_US + 1
        return self.launcher_phase_us + max(0, k) * NAPTIME_US

    def request(self, t_us: int) -> None:
        """An orders-api request at ``t_us`` updated the cart."""
        u = self.spec.updates_per_request
        self.dead += u
        self.changed += u
        self.xid += 1
        if self.due_vacuum is None and self.dead >= self.vacuum_threshold:
            self.due_vacuum = self._next_visit(t_us)
        if self.due_analyze is None and self.changed >= self.analyze_threshold:
            self.due_analyze = self._next_visit(t_us)

    def vacuum(self, rng: Rng, database: str) -> tuple[float, str]:
        """Run the due vacuum: (elapsed s, the report, "" when too short to log)."""
        self.due_vacuum = None
        spec, pages = self.spec, self.pages
        removed = int(self.dead)
        # Dead tuples land on pages at random: the pages autovacuum must visit (the
        # visibility map lets it skip the rest).
        scanned = max(1, int(pages * (1.0 - math.exp(-removed / pages))))
        with_dead = max(1, int(scanned * rng.uniform(0.82, 0.95)))  # the rest HOT-pruned
        index_pages = [(name, math.ceil(self.rows / per_leaf)) for name, per_leaf in spec.indexes]
        index_total = sum(p for _, p in index_pages)
        touched = scanned + with_dead + index_total  # first pass, second pass, indexes
        misses = int(touched * rng.uniform(0.08, 0.25))
        hits = touched - misses
        dirtied = with_dead + int(index_total * rng.uniform(0.02, 0.06))
        cost = hits * COST_HIT + misses * COST_MISS + dirtied * COST_DIRTY
        elapsed = cost / COST_LIMIT * COST_DELAY_S + misses * 0.00008
        self.dead = 0.0
        if elapsed < MIN_LOGGED_S:
            return elapsed, ""
        mib = BLCKSZ / (1024 * 1024)
        fpi = int(dirtied * rng.uniform(0.3, 0.7))  # first change since the checkpoint
        records = with_dead + removed // 3 + index_total // 20
        wal_bytes = records * 72 + fpi * (BLCKSZ - 1200)
        old = max(0, int(elapsed * rng.uniform(0.5, 3.0)))  # writes while it ran
        cpu_user = elapsed * rng.uniform(0.08, 0.2)
        lines = [
            f'automatic vacuum of table "{database}.public.{spec.name}": index scans: 1',
            f"\tpages: 0 removed, {pages} remain, {scanned} scanned "
            f"({scanned * 100 / pages:.2f}% of total)",
            f"\ttuples: {removed} removed, {self.rows} remain, 0 are dead but not yet removable",
            f"\tremovable cutoff: {self.xid}, which was {old} XIDs old when operation ended",
            f"\tindex scan needed: {with_dead} pages from table "
            f"({with_dead * 100 / pages:.2f}% of total) had {removed} dead item identifiers "
            "removed",
            *(
                f'\tindex "{name}": pages: {n} in total, 0 newly deleted, 0 currently '
                "deleted, 0 reusable"
                for name, n in index_pages
            ),
            f"\tavg read rate: {misses * mib / elapsed:.3f} MB/s, "
            f"avg write rate: {dirtied * mib / elapsed:.3f} MB/s",
            f"\tbuffer usage: {hits} hits, {misses} misses, {dirtied} dirtied",
            f"\tWAL usage: {records} records, {fpi} full page images, {wal_bytes} bytes",
            f"\tsystem usage: CPU: user: {cpu_user:.2f} s, system: {cpu_user * 0.2:.2f} s, "
            f"elapsed: {elapsed:.2f} s",
        ]
        return elapsed, "\n".join(lines)

    def analyze(self, rng: Rng, database: str) -> tuple[float, str]:
        """Run the due analyze: it samples 300 x default_statistics_target (100) rows,
        so it reads up to 30,000 pages (src/backend/commands/analyze.c)."""
        self.due_analyze = None
        self.changed = 0.0
        read = min(self.pages, 30_000)
        misses = int(read * rng.uniform(0.1, 0.3))
        hits = read - misses
        cost = hits * COST_HIT + misses * COST_MISS
        elapsed = cost / COST_LIMIT * COST_DELAY_S + misses * 0.00008
        if elapsed < MIN_LOGGED_S:
            return elapsed, ""
        mib = BLCKSZ / (1024 * 1024)
        cpu_user = elapsed * rng.uniform(0.15, 0.35)
        lines = [
            f'automatic analyze of table "{database}.public.{self.spec.name}"',
            f"\tavg read rate: {misses * mib / elapsed:.3f} MB/s, avg write rate: 0.000 MB/s",
            f"\tbuffer usage: {hits} hits, {misses} misses, 0 dirtied",
            f"\tsystem usage: CPU: user: {cpu_user:.2f} s, system: {cpu_user * 0.15:.2f} s, "
            f"elapsed: {elapsed:.2f} s",
        ]
        return elapsed, "\n".join(lines)
