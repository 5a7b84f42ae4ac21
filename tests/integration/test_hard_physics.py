"""At difficulty "hard" a slow query starves the connection pool (issue #16's overlap).

The regressed order-history query holds its pooled connection for tens of seconds, so
at the hard suite's rate the list endpoint alone fills the small pools: HikariCP times
out on every endpoint, after the index drop, and outnumbers the slow statements that
caused it. A keyword count then points at the pool; only the order of events (drop,
slow statements, then timeouts) names the cause.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from rca.seed.mock_incident_generator import generate_bundle

SEEDS = (201, 202, 203)
_TS = re.compile(r"\] (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z ")
_SLOW = re.compile(r"^(\S+ \S+) UTC .* LOG:  duration: (\d+)\.\d+ ms")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace(" ", "T"))


@pytest.mark.parametrize("seed", SEEDS)
def test_a_hard_slow_query_starves_the_pool_after_the_drop(seed: int, tmp_path: Path) -> None:
    request = {
        "scenario": "slow_query_regression",
        "seed": seed,
        "time_anchor": "2026-11-26T05:00:00Z",
        "duration_minutes": 30,
        "rps": 1.0,
        "difficulty": "hard",
    }
    generate_bundle(request, tmp_path)
    (bundle,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    api = (bundle / "api_logs.log").read_text(encoding="utf-8").splitlines()
    db = (bundle / "db_events.log").read_text(encoding="utf-8").splitlines()
    timeouts = [
        _instant(m[1])
        for ln in api
        if "Connection is not available" in ln and (m := _TS.search(ln))
    ]
    slow = [
        _instant(m[1])
        for ln in db
        if (m := _SLOW.match(ln)) and int(m[2]) >= 1000 and "orders" in ln
    ]
    assert slow, "no slow statement at all"
    # Dozens to hundreds per bundle (seeds 201-210: 30-650), not the v0 handful.
    assert len(timeouts) >= 20, len(timeouts)
    # Cause before symptom: the first pool timeout follows the first slow statement.
    assert min(timeouts) > min(slow)
