"""Lock queues (rca/seed/scenarios/_locks): what PostgreSQL's log_lock_waits lines say
agrees with itself, with the simulation and with the other layers.

Checked on ``db_lock_contention`` bundles (the queue is the incident) and on hard
``normal_load`` bundles (the ``pool_blip`` and ``index_build_wait`` herrings):

- every "still waiting" line is answered by an "acquired" line of the same process and
  lock, whose wait agrees with the first (one wait, logged twice);
- each wait queue starts with the DDL while it waits, lists each process once, in the
  order they asked, and holds the process that logs it;
- a queued statement's ``duration:`` is its wait plus milliseconds, and all the queued
  statements complete just after the DDL does: they waited for one lock, not each on a
  slow plan;
- HikariCP times out only after the DDL's first wait (the cause precedes the symptom);
- no backend writes a line after its own disconnection;
- a concurrent index build's queue holds only itself, and no shop statement waits then.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rca.seed.mock_incident_generator import generate_bundle

ANCHOR = "2026-11-26T05:00:00Z"
_PREFIX = r"^(?P<ts>\S+ \S+) UTC \[(?P<pid>\d+)\] (?:\S+@\S+ )?"
_WAIT = re.compile(
    _PREFIX + r"LOG:  process (?P<proc>\d+) still waiting for (?P<mode>\w+) on (?P<tag>.+?) "
    r"after (?P<ms>\d+\.\d{3}) ms$"
)
_ACQUIRED = re.compile(
    _PREFIX + r"LOG:  process (?P<proc>\d+) acquired (?P<mode>\w+) on (?P<tag>.+?) "
    r"after (?P<ms>\d+\.\d{3}) ms$"
)
_QUEUE = re.compile(
    _PREFIX + r"DETAIL:  Process(?:es)? holding the lock: (?P<holders>[\d, ]+)\. "
    r"Wait queue: (?P<queue>[\d, ]+)\.$"
)
_DURATION = re.compile(_PREFIX + r"LOG:  duration: (?P<ms>\d+\.\d{3}) ms")
_GONE = re.compile(_PREFIX + r"LOG:  disconnection: ")
_HIKARI = re.compile(r"\] (\S+)Z .*Connection is not available, request timed out")


def _at(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace(" ", "T"))


def _bundle(tmp_path: Path, scenario: str, seed: int, difficulty: str) -> Path:
    request = {
        "scenario": scenario,
        "seed": seed,
        "time_anchor": ANCHOR,
        "duration_minutes": 30,
        "rps": 1.0,
        "difficulty": difficulty,
    }
    generate_bundle(request, tmp_path)
    (bundle,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    return bundle


CASES = [
    *[("db_lock_contention", seed, "standard") for seed in (1, 2, 3)],
    *[("db_lock_contention", seed, "hard") for seed in (4, 5)],
    *[("normal_load", seed, "hard") for seed in (1, 2, 4)],
]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}")
def db_log(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    scenario, seed, difficulty = request.param
    bundle = _bundle(tmp_path_factory.mktemp("locks"), scenario, seed, difficulty)
    return (bundle / "db_events.log").read_text(encoding="utf-8").splitlines()


def test_every_wait_is_answered_by_its_acquired_line(db_log: list[str]) -> None:
    waits = {}
    for line in db_log:
        if m := _WAIT.match(line):
            assert m["pid"] == m["proc"], line
            waits[(m["proc"], m["mode"], m["tag"])] = m
    assert waits or not any("still waiting" in x for x in db_log)
    acquired = {}
    for line in db_log:
        if m := _ACQUIRED.match(line):
            acquired[(m["proc"], m["mode"], m["tag"])] = m
    for key, w in waits.items():
        a = acquired.get(key)
        if a is None:
            continue  # cancelled (lock timeout), or granted after the window
        # The wait began deadline_timeout before the first line, and ends at the second.
        began_w = _at(w["ts"]) - timedelta(milliseconds=float(w["ms"]))
        began_a = _at(a["ts"]) - timedelta(milliseconds=float(a["ms"]))
        assert abs((began_w - began_a).total_seconds()) < 0.003, (w.string, a.string)
    assert set(acquired) <= set(waits), "acquired without having waited past a second"


def test_wait_queues_are_in_asking_order_and_hold_the_logger(db_log: list[str]) -> None:
    asked: dict[str, datetime] = {}
    for i, line in enumerate(db_log):
        if (m := _WAIT.match(line)) is not None:
            asked[m["proc"]] = _at(m["ts"]) - timedelta(milliseconds=float(m["ms"]))
            detail = _QUEUE.match(db_log[i + 1])
            assert detail is not None, db_log[i + 1]
            queue = detail["queue"].split(", ")
            assert len(set(queue)) == len(queue), detail.string
            assert m["proc"] in queue, detail.string
            assert m["proc"] not in detail["holders"].split(", "), detail.string
            known = [p for p in queue if p in asked]
            assert known == sorted(known, key=lambda p: asked[p]), detail.string


def test_queued_statements_wait_for_one_lock_and_finish_together(db_log: list[str]) -> None:
    """A shop statement that queued logs a duration of its wait plus its own short run,
    and every statement of one queue is granted within milliseconds of the others."""
    waits: dict[str, datetime] = {}
    grants: dict[str, list[datetime]] = defaultdict(list)
    for i, line in enumerate(db_log):
        if "orders_app@" not in line:
            continue
        if (m := _WAIT.match(line)) is not None:
            waits[m["pid"]] = _at(m["ts"]) - timedelta(milliseconds=float(m["ms"]))
        elif (m := _ACQUIRED.match(line)) is not None:
            grants[m["tag"]].append(_at(m["ts"]))
            since = waits.pop(m["pid"], None)
            assert since is not None, line
            # Its statement's duration line follows, a few milliseconds after the grant.
            after = next(
                (d for x in db_log[i + 1 :] if (d := _DURATION.match(x)) and d["pid"] == m["pid"]),
                None,
            )
            assert after is not None, line
            ran = float(after["ms"]) - float(m["ms"])
            assert 0 <= ran < 200, (line, after.string)
    for tag, times in grants.items():
        assert max(times) - min(times) < timedelta(milliseconds=50), (tag, min(times), max(times))


def test_no_backend_logs_after_its_disconnection(db_log: list[str]) -> None:
    gone: dict[str, int] = {}
    for i, line in enumerate(db_log):
        m = re.match(_PREFIX, line)
        if m is None:
            continue
        pid = m["pid"]
        assert pid not in gone, f"line {i + 1} after pid {pid}'s disconnection at {gone[pid]}"
        if _GONE.match(line):
            gone[pid] = i + 1


def test_a_concurrent_index_build_blocks_no_one(db_log: list[str]) -> None:
    for i, line in enumerate(db_log):
        m = _WAIT.match(line)
        if m is None or not m["tag"].startswith("virtual transaction"):
            continue
        assert m["mode"] == "ShareLock"
        detail = _QUEUE.match(db_log[i + 1])
        assert detail is not None and detail["queue"] == m["proc"], db_log[i + 1]
        shop = [
            x
            for x in db_log
            if "orders_app@" in x and (w := _WAIT.match(x)) and w["tag"] == m["tag"]
        ]
        assert not shop, shop[:1]


@pytest.mark.parametrize("seed", (1, 2, 3))
def test_hikari_times_out_only_after_the_ddl_waits(seed: int, tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, "db_lock_contention", seed, "standard")
    db = (bundle / "db_events.log").read_text(encoding="utf-8").splitlines()
    first_wait = min(
        _at(m["ts"]) for x in db if (m := _WAIT.match(x)) and m["mode"] == "AccessExclusiveLock"
    )
    api = (bundle / "api_logs.log").read_text(encoding="utf-8")
    timeouts = [datetime.fromisoformat(t) for t in _HIKARI.findall(api)]
    assert timeouts, "a lock queue of minutes fills the pools"
    # The pools fill with waiting statements first; the first timeout comes 5 s after
    # a request found them full.
    assert min(timeouts) > first_wait, (min(timeouts), first_wait)
