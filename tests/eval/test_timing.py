"""First-signal timing: the instant of a line in each log format, and the graded score part.

The rule (``rca/eval/scoring.py``): 1 when a ref hits the label's ``first_signal``
pointer; else the earliest instant among the cited lines against the first signal's:
``|delta| <= 60 s`` -> 1, ``|delta| >= 600 s`` -> 0, in between ``1 - (|delta| - 60) /
540``, rounded to 4 places. Every expected value below is worked out by hand from the
timestamps written in the cited lines, never by calling the code under test.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from rca.eval.baselines import read_blind
from rca.eval.blind import export_blind
from rca.eval.evidence import line_instant
from rca.eval.scoring import evaluate, load_truth, parse_report
from rca.seed.mock_incident_generator import STREAM_FILES, generate_bundle

STREAM_OF_FILE = {f: s for s, f in STREAM_FILES.items()}


def _utc(y: int, mo: int, d: int, h: int, mi: int, s: int, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)


def _line(bundle: Path, file: str, n: int) -> str:
    return (bundle / file).read_text(encoding="utf-8").split("\n")[n - 1]


# ------------------------------------------------------------------- line instants
# (scenario of the committed fixture, file, line, text the instant is read from, instant)
LINE_SAMPLES = [
    # nginx access log: [26/Nov/2026:05:14:54 +0000]
    (
        "bad_api_rollout",
        "ui_events.log",
        1386,
        ["[26/Nov/2026:05:14:54 +0000]"],
        _utc(2026, 11, 26, 5, 14, 54),
    ),
    # nginx error log: 2026/11/26 05:00:12 [error] (the container's local time is UTC)
    (
        "bad_api_rollout",
        "ui_events.log",
        18,
        ["2026/11/26 05:00:12 [error] "],
        _utc(2026, 11, 26, 5, 0, 12),
    ),
    # Logback console line behind kubectl's --prefix
    (
        "bad_api_rollout",
        "api_logs.log",
        2118,
        ["[pod/orders-api-snbcv6c4q-8vjhw/orders-api] 2026-11-26T05:14:54.068Z  INFO"],
        _utc(2026, 11, 26, 5, 14, 54, 68000),
    ),
    # JVM unified GC log line: [2026-11-26T05:12:48.703+0000][info][gc]
    (
        "pod_oom_restart_loop",
        "api_logs.log",
        914,
        ["] [2026-11-26T05:12:48.703+0000][info][gc] GC(1494) Pause Full"],
        _utc(2026, 11, 26, 5, 12, 48, 703000),
    ),
    # PostgreSQL: 2026-11-26 05:14:53.044 UTC [38] LOG:
    (
        "bad_api_rollout",
        "db_events.log",
        171,
        ["2026-11-26 05:14:53.044 UTC [38] LOG:  checkpoint starting"],
        _utc(2026, 11, 26, 5, 14, 53, 44000),
    ),
    # klog: I1126 05:09:57.195514 (month 11, day 26, no year: the bundle's year, 2026)
    (
        "bad_api_rollout",
        "k8s_events.log",
        92,
        ["I1126 05:09:57.195514       1 event.go:389]"],
        _utc(2026, 11, 26, 5, 9, 57, 195514),
    ),
    # Envoy: written at the end of the request, start_time 05:15:13.761 + 8000 ms
    (
        "db_connection_pool_exhaustion",
        "mesh_events.jsonl",
        1275,
        ['"duration":8000,', '"start_time":"2026-11-26T05:15:13.761Z"'],
        _utc(2026, 11, 26, 5, 15, 21, 761000),
    ),
]


@pytest.mark.parametrize(
    ("sid", "file", "n", "shows", "expected"),
    LINE_SAMPLES,
    ids=[f"{s[1]}:{s[2]}" for s in LINE_SAMPLES],
)
def test_line_instant_of_a_real_line_of_each_format(
    sid: str,
    file: str,
    n: int,
    shows: list[str],
    expected: datetime,
    committed: dict[str, Path],
) -> None:
    line = _line(committed[sid], file, n)
    for text in shows:  # the line is the one whose timestamp the expectation was read from
        assert text in line
    assert line_instant(STREAM_OF_FILE[file], line, 2026) == expected


def test_line_instant_formats_cover_every_stream() -> None:
    assert {STREAM_OF_FILE[s[1]] for s in LINE_SAMPLES} == set(STREAM_FILES)


def test_line_instant_offsets_missing_duration_and_continuations(
    committed: dict[str, Path],
) -> None:
    rollout = committed["bad_api_rollout"]
    access = _line(rollout, "ui_events.log", 1386)
    # +0100 local time is an hour ahead of UTC.
    shifted = access.replace("05:14:54 +0000]", "05:14:54 +0100]")
    assert line_instant("ui", shifted, 2026) == _utc(2026, 11, 26, 4, 14, 54)
    gc = _line(committed["pod_oom_restart_loop"], "api_logs.log", 914)
    assert line_instant("api", gc.replace("+0000]", "-0130]"), 2026) == _utc(
        2026, 11, 26, 6, 42, 48, 703000
    )
    # klog carries no year: the caller's year is used as is.
    klog = _line(rollout, "k8s_events.log", 92)
    assert line_instant("k8s", klog, 2031) == _utc(2031, 11, 26, 5, 9, 57, 195514)
    # A mesh entry without a duration is dated at its start.
    mesh = _line(committed["db_connection_pool_exhaustion"], "mesh_events.jsonl", 1275)
    assert line_instant("mesh", mesh.replace('"duration":8000,', ""), 2026) == _utc(
        2026, 11, 26, 5, 15, 13, 761000
    )
    # A Java stack frame (continuation of the NPE entry at line 1943) carries no instant.
    frame = _line(rollout, "api_logs.log", 2108)
    assert "\tat com.example.orders.pricing.DiscountCalculator" in frame
    assert line_instant("api", frame, 2026) is None
    assert line_instant("api", "", 2026) is None
    assert line_instant("mesh", "{not json", 2026) is None


# ------------------------------------------------------------------- graded timing
def _cite(title: str, refs: list[str]) -> dict[str, object]:
    return {
        "incident_id": "x",
        "status": "completed",
        "hypotheses": [{"title": title, "summary": "", "confidence": 0.9, "evidence_refs": refs}],
    }


TITLES = {
    "bad_api_rollout": "bad rollout of orders-api 1.9.0",
    "db_connection_pool_exhaustion": "HikariCP pool exhausted",
}

# (scenario, first signal's instant, cited ref, text of the cited line, expected timing)
TIMING_CASES = [
    # 05:09:57.195514 - 05:09:25.052 = 32.14 s <= 60 s
    ("bad_api_rollout", "05:09:25.052", "k8s_events.log:92", "I1126 05:09:57.195514", 1.0),
    # 05:14:53.044 - 05:09:25.052 = 327.992 s: 1 - 267.992 / 540 = 0.50372
    ("bad_api_rollout", "05:09:25.052", "db_events.log:171", "2026-11-26 05:14:53.044", 0.5037),
    # 05:14:54 - 05:09:25.052 = 328.948 s: 1 - 268.948 / 540 = 0.50195
    ("bad_api_rollout", "05:09:25.052", "ui_events.log:1386", "[26/Nov/2026:05:14:54", 0.5019),
    # a stack frame: its entry's instant (line 1943, 05:14:54.068): 329.016 s -> 0.50182
    ("bad_api_rollout", "05:09:25.052", "api_logs.log:2108", "DiscountCalculator.java:42", 0.5018),
    # 05:21:05.706 - 05:09:25.052 = 700.654 s >= 600 s
    ("bad_api_rollout", "05:09:25.052", "api_logs.log:4118", "2026-11-26T05:21:05.706Z", 0.0),
    # before the first signal counts by its distance: 553.052 s -> 1 - 493.052 / 540 = 0.08694
    ("bad_api_rollout", "05:09:25.052", "ui_events.log:18", "2026/11/26 05:00:12 [error]", 0.0869),
    # Envoy line: 05:15:13.761 + 8 s = 05:15:21.761, - 05:09:53.962 = 327.799 s -> 0.50408
    # (dated at its start instead, 319.799 s, it would be 0.5189)
    (
        "db_connection_pool_exhaustion",
        "05:09:53.962",
        "mesh_events.jsonl:1275",
        '"start_time":"2026-11-26T05:15:13.761Z"',
        0.5041,
    ),
]


@pytest.mark.parametrize(
    ("sid", "first_at", "ref", "shows", "expected"),
    TIMING_CASES,
    ids=[c[2] for c in TIMING_CASES],
)
def test_first_signal_timing_is_graded_by_distance(
    sid: str,
    first_at: str,
    ref: str,
    shows: str,
    expected: float,
    committed: dict[str, Path],
) -> None:
    bundle = committed[sid]
    truth = load_truth(bundle)
    first = truth.first_signal
    assert first is not None and first.at == f"2026-11-26T{first_at}Z"
    file, n = ref.split(":")
    assert f"{first.file}:{first.line}" != ref
    assert shows in _line(bundle, file, int(n))
    result = evaluate(bundle, parse_report(_cite(TITLES[sid], [ref])))
    assert result.evidence[0].in_bundle
    assert f"{first.file}:{first.line}" not in result.evidence[0].hits
    assert result.score_parts.first_signal_timing == expected


def test_timing_uses_the_earliest_cited_line(committed: dict[str, Path]) -> None:
    bundle = committed["bad_api_rollout"]
    title = TITLES["bad_api_rollout"]

    def timing(refs: list[str]) -> float | None:
        return evaluate(bundle, parse_report(_cite(title, refs))).score_parts.first_signal_timing

    # 700 s after and 32 s after: the earliest (32 s) counts.
    assert timing(["api_logs.log:4118", "k8s_events.log:92"]) == 1.0
    assert timing(["api_logs.log:4118", "db_events.log:171"]) == 0.5037
    # The earliest instant, not the closest: 553 s before beats 328 s after.
    assert timing(["db_events.log:171", "ui_events.log:18"]) == 0.0869


# ------------------------------------------------------------------- klog's missing year
NEW_YEAR_ANCHOR = "2026-12-31T23:51:00Z"


@pytest.fixture(scope="module")
def new_year_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bad rollout that starts on New Year's Eve and signals first on New Year's Day."""
    root = tmp_path_factory.mktemp("new_year")
    request = {"scenario": "bad_api_rollout", "seed": 42, "time_anchor": NEW_YEAR_ANCHOR}
    return generate_bundle({**request, "rps": 1.0}, root)


@pytest.mark.parametrize(
    ("ref", "shows", "expected"),
    [
        # 2026-12-31T23:59:26.179492 -> 2027-01-01T00:02:05.947: 159.767508 s
        # 1 - 99.767508 / 540 = 0.81525
        ("k8s_events.log:9", "E1231 23:59:26.179492", 0.8152),
        # 2027-01-01T00:07:50.863271 - 00:02:05.947 = 344.916271 s: 1 - 284.916 / 540 = 0.47238
        ("k8s_events.log:83", "E0101 00:07:50.863271", 0.4724),
    ],
)
def test_klog_year_is_resolved_across_new_year(
    ref: str, shows: str, expected: float, new_year_bundle: Path
) -> None:
    truth = load_truth(new_year_bundle)
    first = truth.first_signal
    assert first is not None and first.at == "2027-01-01T00:02:05.947Z"
    file, n = ref.split(":")
    assert _line(new_year_bundle, file, int(n)).startswith(shows)
    result = evaluate(new_year_bundle, parse_report(_cite(TITLES["bad_api_rollout"], [ref])))
    assert result.score_parts.first_signal_timing == expected


def test_line_instant_picks_the_klog_year_nearest_the_reference(new_year_bundle: Path) -> None:
    dec = _line(new_year_bundle, "k8s_events.log", 9)  # E1231 23:59:26.179492
    jan = _line(new_year_bundle, "k8s_events.log", 83)  # E0101 00:07:50.863271
    first = _utc(2027, 1, 1, 0, 2, 5, 947000)
    assert line_instant("k8s", dec, 2027, near=first) == _utc(2026, 12, 31, 23, 59, 26, 179492)
    assert line_instant("k8s", jan, 2027, near=first) == _utc(2027, 1, 1, 0, 7, 50, 863271)
    eve = _utc(2026, 12, 31, 23, 51, 0)
    assert line_instant("k8s", jan, 2026, near=eve) == _utc(2027, 1, 1, 0, 7, 50, 863271)
    # Without a reference instant, the given year is used as is.
    assert line_instant("k8s", dec, 2027) == _utc(2027, 12, 31, 23, 59, 26, 179492)


def test_baselines_date_klog_lines_across_new_year(tmp_path: Path, new_year_bundle: Path) -> None:
    view = read_blind(export_blind(new_year_bundle, tmp_path))
    start = datetime.fromisoformat(NEW_YEAR_ANCHOR)
    assert view.start is not None and abs((view.start - start).total_seconds()) < 60
    k8s = [e for e in view.errors if e.stream == "k8s"]
    assert {e.at.year for e in k8s if e.at is not None} == {2026, 2027}
    for e in view.errors:
        assert e.at is not None, e
        assert 0 <= (e.at - start).total_seconds() <= 31 * 60, (e.file, e.line, e.at)
