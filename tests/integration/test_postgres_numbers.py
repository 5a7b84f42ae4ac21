"""PostgreSQL's numbers add up (issue #15 item 7): autovacuum and autoanalyze reports
follow one model of the table (renderers/_pgtables.py), and temporary files come only
from statements that can spill.

Measured on bundles at the default rate and at ``--rps 20`` (where the hot table's
thresholds pass often enough to see several reports per window).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rca.seed.mock_incident_generator import generate_bundle

ANCHOR = "2026-11-26T05:00:00Z"
MIB = 8192 / (1024 * 1024)
_VACUUM = re.compile(
    r'automatic vacuum of table "[^"]+": index scans: \d+\n'
    r"\tpages: 0 removed, (?P<pages>\d+) remain, (?P<scanned>\d+) scanned[^\n]*\n"
    r"\ttuples: (?P<removed>\d+) removed, (?P<rows>\d+) remain, 0 are dead[^\n]*\n"
    r"\tremovable cutoff: (?P<cutoff>\d+),[^\n]*\n"
    r"(?:\t[^\n]*\n)*?"
    r"\tavg read rate: (?P<read>[\d.]+) MB/s, avg write rate: (?P<write>[\d.]+) MB/s\n"
    r"\tbuffer usage: (?P<hits>\d+) hits, (?P<misses>\d+) misses, (?P<dirtied>\d+) dirtied\n"
    r"(?:\t[^\n]*\n)*?"
    r"\tsystem usage: CPU: [^\n]*elapsed: (?P<elapsed>[\d.]+) s"
)
_ANALYZE = re.compile(
    r'automatic analyze of table "[^"]+"\n'
    r"\tavg read rate: (?P<read>[\d.]+) MB/s, avg write rate: 0\.000 MB/s\n"
    r"\tbuffer usage: (?P<hits>\d+) hits, (?P<misses>\d+) misses, 0 dirtied\n"
    r"\tsystem usage: CPU: [^\n]*elapsed: (?P<elapsed>[\d.]+) s"
)
_TEMP = re.compile(r'LOG:  temporary file: path "[^"]+", size (\d+)\n[^\n]*STATEMENT:  (.*)')


def _db_logs(tmp_path: Path, rps: float) -> list[str]:
    out = []
    for scenario in ("normal_load", "slow_query_regression", "db_connection_pool_exhaustion"):
        for seed in (1, 2, 3, 4):
            request = {
                "scenario": scenario,
                "seed": seed,
                "time_anchor": ANCHOR,
                "duration_minutes": 30,
                "rps": rps,
            }
            where = tmp_path / f"{scenario}-{seed}"
            generate_bundle(request, where)
            (bundle,) = [p for p in where.iterdir() if p.is_dir()]
            out.append((bundle / "db_events.log").read_text(encoding="utf-8"))
    return out


@pytest.fixture(scope="module", params=[2.5, 20.0], ids=["default", "rps20"])
def db_logs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return _db_logs(tmp_path_factory.mktemp("pg"), request.param)


def _rate(blocks: int, elapsed: float) -> float:
    return blocks * MIB / elapsed


def test_vacuum_reports_add_up(db_logs: list[str]) -> None:
    reports = 0
    for text in db_logs:
        cutoffs = []
        for m in _VACUUM.finditer(text):
            reports += 1
            pages, rows, scanned = int(m["pages"]), int(m["rows"]), int(m["scanned"])
            # A heap page holds at most 291 tuples (MaxHeapTuplesPerPage); a cart row
            # of ~150 bytes about 52, and the same table keeps its shape all window.
            assert 20 <= rows / pages <= 60, m.group(0)
            assert scanned <= pages
            assert int(m["removed"]) >= 50  # past autovacuum_vacuum_threshold at least
            elapsed = float(m["elapsed"])
            assert elapsed >= 0.25  # log_autovacuum_min_duration
            # The rates are the buffers over the time (vacuumlazy.c), to rounding.
            for rate, blocks in ((m["read"], m["misses"]), (m["write"], m["dirtied"])):
                assert abs(float(rate) - _rate(int(blocks), elapsed)) <= 0.03 * float(rate) + 0.05
            cutoffs.append(int(m["cutoff"]))
        assert cutoffs == sorted(cutoffs), cutoffs  # XIDs only grow
    assert reports == sum(t.count("automatic vacuum of table") for t in db_logs)


def test_busier_shops_vacuum_more(tmp_path: Path) -> None:
    quiet = sum(len(_VACUUM.findall(t)) for t in _db_logs(tmp_path / "q", 1.0))
    busy = sum(len(_VACUUM.findall(t)) for t in _db_logs(tmp_path / "b", 20.0))
    assert busy > quiet, (quiet, busy)
    assert busy >= 12  # at 20 requests/s the hot table passes its threshold every few minutes


def test_analyze_reports_add_up(db_logs: list[str]) -> None:
    for text in db_logs:
        for m in _ANALYZE.finditer(text):
            elapsed = float(m["elapsed"])
            assert elapsed >= 0.25
            assert int(m["hits"]) + int(m["misses"]) <= 30_000  # 300 x statistics target
            read = float(m["read"])
            assert abs(read - _rate(int(m["misses"]), elapsed)) <= 0.03 * read + 0.05


def test_temp_files_come_only_from_sorts_that_can_spill(db_logs: list[str]) -> None:
    for text in db_logs:
        for size, statement in _TEMP.findall(text):
            # Sort runs are written in whole blocks; the shop's LIMIT 20 query never spills.
            assert int(size) % 8192 == 0, size
            assert "fetch first" not in statement, statement


_CHECKPOINT = re.compile(
    r"^(\S+ \S+) UTC \[\d+\] LOG:  checkpoint (starting: time|complete: wrote (\d+) buffers.*"
    r"write=([\d.]+) s, sync=[\d.]+ s, total=([\d.]+) s;.*distance=(\d+) kB, estimate=(\d+) kB)",
    re.M,
)


def test_timed_checkpoints_follow_the_checkpointer_loop(db_logs: list[str]) -> None:
    """Each starts checkpoint_timeout (300 s) after the last to the second, a little
    after the sub-second the last one completed at; its total is its span; a small one
    writes fast; the distance estimate never falls below a new distance."""
    from datetime import datetime

    seen = 0
    for text in db_logs:
        events = [
            (datetime.fromisoformat(m[1].replace(" ", "T")), m) for m in _CHECKPOINT.finditer(text)
        ]
        last_start = last_end = None
        for at, m in events:
            if m[2].startswith("starting"):
                if last_start is not None and last_end is not None:
                    # time(NULL) counts whole seconds.
                    whole = int(at.timestamp()) - int(last_start.timestamp())
                    assert whole in (300, 301), m.group(0)  # 301: its nap began a second later
                    after = (at - last_end).total_seconds() % 1.0
                    assert 0.0 < after < 0.2, (last_end, at)
                    seen += 1
                last_start = at
            else:
                assert last_start is not None
                total = float(m[5])
                assert abs((at - last_start).total_seconds() - total) < 0.002, m.group(0)
                assert float(m[4]) <= min(270.0, int(m[3]) * 0.11), m.group(0)
                # 0.9 x old + 0.1 x new, or the new one when larger: never below it.
                assert int(m[7]) >= int(m[6]), m.group(0)
                last_end = at
    assert seen
