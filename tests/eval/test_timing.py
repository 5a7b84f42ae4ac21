"""First-signal timing: the instant of a line in each log format, and the graded score part.

The rule (``rca/eval/scoring.py``): 1 when a ref hits the label's ``first_signal``
pointer; else the earliest instant among the cited lines against the first signal's:
``|delta| <= 60 s`` -> 1, ``|delta| >= 600 s`` -> 0, in between ``1 - (|delta| - 60) /
540``, rounded to 4 places. Every expected value below is worked out by hand from the
timestamps written in the cited lines, never by calling the code under test.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
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


def _text(bundle: Path, file: str) -> str:
    return (bundle / file).read_text(encoding="utf-8")


def _line(bundle: Path, file: str, n: int) -> str:
    return _text(bundle, file).split("\n")[n - 1]


# ------------------------------------------------------------------- line instants
# Lines of each format, copied from the committed fixtures (v0 generator, seed 42) so
# that the expectations worked out by hand from them do not move when the fixtures
# are regenerated: (file, line number then) -> the line.
SAMPLE_LINES: dict[tuple[str, int], str] = {
    (
        "ui_events.log",
        1386,
    ): '203.0.113.6 - - [26/Nov/2026:05:14:54 +0000] "GET /api/orders/358831 HTTP/2.0" 500 118 "https://shop.example.com/products" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15" 0.034 0.033 579bf4af235142df3372e3da14392cc7',
    (
        "ui_events.log",
        18,
    ): '2026/11/26 05:00:12 [error] 30#30: *7017 open() "/usr/share/nginx/html/wp-login.php" failed (2: No such file or directory), client: 198.51.100.245, server: shop.example.com, request: "GET /wp-login.php HTTP/1.1", host: "shop.example.com"',
    (
        "api_logs.log",
        1956,
    ): "[pod/orders-api-snbcv6c4q-8vjhw/orders-api] 2026-11-26T05:14:54.068Z  INFO 1 --- [orders-api] [io-8080-exec-16] [bef2c1a9f096440b1c9dffa18f9cc3b0,c35e813bf8843692,579bf4af235142df3372e3da14392cc7] com.example.orders.web.AccessLogFilter   : GET /api/orders/358831 -> 500 in 4 ms",
    (
        "api_logs.log",
        824,
    ): "[pod/orders-api-tghb4wc859-6czkp/orders-api] [2026-11-26T05:12:48.703+0000][info][gc] GC(1494) Pause Full (G1 Compaction Pause) 524M->519M(576M) 271.285ms",
    ("db_events.log", 171): "2026-11-26 05:14:53.044 UTC [38] LOG:  checkpoint starting: time",
    (
        "k8s_events.log",
        53,
    ): 'I1126 05:09:57.195514       1 event.go:389] "Event occurred" object="shop/orders-api" fieldPath="" kind="Deployment" apiVersion="apps/v1" type="Normal" reason="ScalingReplicaSet" message="Scaled down replica set orders-api-twgxb4dm7r to 0 from 1"',
    (
        "mesh_events.jsonl",
        1275,
    ): '{"authority":"orders-api.shop.svc.cluster.local:8080","bytes_received":0,"bytes_sent":24,"connection_termination_details":null,"downstream_local_address":"10.96.224.95:8080","downstream_remote_address":"10.244.1.155:59657","duration":8000,"method":"GET","path":"/api/orders?customerId=96571&page=0&size=20","protocol":"HTTP/1.1","request_id":"ac209c366b542b8488d714fb3023cb26","requested_server_name":null,"response_code":504,"response_code_details":"upstream_response_timeout","response_flags":"UT","route_name":"default","start_time":"2026-11-26T05:15:13.761Z","upstream_cluster":"outbound|8080||orders-api.shop.svc.cluster.local","upstream_host":"10.244.2.187:8080","upstream_local_address":"10.244.1.155:41397","upstream_service_time":null,"upstream_transport_failure_reason":null,"user_agent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1","x_forwarded_for":"203.0.113.7"}',
    (
        "api_logs.log",
        1946,
    ): "[pod/orders-api-snbcv6c4q-8vjhw/orders-api] \tat com.example.orders.pricing.DiscountCalculator.discountFor(DiscountCalculator.java:42) ~[!/:1.9.0]",
}

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
        1956,
        ["[pod/orders-api-snbcv6c4q-8vjhw/orders-api] 2026-11-26T05:14:54.068Z  INFO"],
        _utc(2026, 11, 26, 5, 14, 54, 68000),
    ),
    # JVM unified GC log line: [2026-11-26T05:12:48.703+0000][info][gc]
    (
        "pod_oom_restart_loop",
        "api_logs.log",
        824,
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
        53,
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
) -> None:
    line = SAMPLE_LINES[(file, n)]
    for text in shows:  # the line is the one whose timestamp the expectation was read from
        assert text in line
    assert line_instant(STREAM_OF_FILE[file], line, 2026) == expected


def test_line_instant_formats_cover_every_stream() -> None:
    assert {STREAM_OF_FILE[s[1]] for s in LINE_SAMPLES} == set(STREAM_FILES)


def test_line_instant_offsets_missing_duration_and_continuations() -> None:
    access = SAMPLE_LINES[("ui_events.log", 1386)]
    # +0100 local time is an hour ahead of UTC.
    shifted = access.replace("05:14:54 +0000]", "05:14:54 +0100]")
    assert line_instant("ui", shifted, 2026) == _utc(2026, 11, 26, 4, 14, 54)
    gc = SAMPLE_LINES[("api_logs.log", 824)]
    assert line_instant("api", gc.replace("+0000]", "-0130]"), 2026) == _utc(
        2026, 11, 26, 6, 42, 48, 703000
    )
    # klog carries no year: the caller's year is used as is.
    klog = SAMPLE_LINES[("k8s_events.log", 53)]
    assert line_instant("k8s", klog, 2031) == _utc(2031, 11, 26, 5, 9, 57, 195514)
    # A mesh entry without a duration is dated at its start.
    mesh = SAMPLE_LINES[("mesh_events.jsonl", 1275)]
    assert line_instant("mesh", mesh.replace('"duration":8000,', ""), 2026) == _utc(
        2026, 11, 26, 5, 15, 13, 761000
    )
    # A Java stack frame (continuation of the NPE entry at line 1943) carries no instant.
    frame = SAMPLE_LINES[("api_logs.log", 1946)]
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

# The oracle: each format's timestamp read with a plain regex (not rca.eval.evidence), so
# the cases below pick lines from whatever the generator writes today, by time band.
_STAMP = {
    "ui_events.log": [
        (re.compile(r"\[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\]"), "%d/%b/%Y:%H:%M:%S %z"),
        (re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \["), "%Y/%m/%d %H:%M:%S"),
    ],
    "api_logs.log": [
        (
            re.compile(r"^\[pod/[^\]]+\] (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z "),
            "%Y-%m-%dT%H:%M:%S.%f",
        ),
        (
            re.compile(r"\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})\+0000\]\[info\]"),
            "%Y-%m-%dT%H:%M:%S.%f",
        ),
    ],
    "db_events.log": [
        (re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC "), "%Y-%m-%d %H:%M:%S.%f"),
    ],
    "k8s_events.log": [(re.compile(r"^[IWEF](\d{4} \d\d:\d\d:\d\d\.\d{6}) "), "%m%d %H:%M:%S.%f")],
}


def _stamps(bundle: Path, file: str) -> list[tuple[int, str, datetime | None]]:
    """(line number, text, instant by the oracle) of every line; a continuation line
    (a stack frame) has no stamp of its own: its entry's."""
    out: list[tuple[int, str, datetime | None]] = []
    last: datetime | None = None
    for n, line in enumerate((bundle / file).read_text(encoding="utf-8").splitlines(), 1):
        at: datetime | None = None
        if file == "mesh_events.jsonl":
            entry = json.loads(line)
            start = datetime.fromisoformat(entry["start_time"].replace("Z", "+00:00"))
            at = start + timedelta(milliseconds=entry["duration"] or 0)
        for rx, fmt in _STAMP.get(file, []):
            if (m := rx.search(line)) is not None:
                text = m[1] if file != "k8s_events.log" else f"2026{m[1]}"
                fmt = fmt if file != "k8s_events.log" else f"%Y{fmt}"
                at = datetime.strptime(text, fmt)
                at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
                break
        if at is None and file == "api_logs.log" and "] \tat " in line:
            at = last
        last = at if at is not None else last
        out.append((n, line, at))
    return out


def _graded(delta_s: float) -> float:
    """The documented rule: 1 within 60 s, 0 from 600 s, linear in between, 4 places."""
    d = abs(delta_s)
    return 1.0 if d <= 60 else 0.0 if d >= 600 else round(1 - (d - 60) / 540, 4)


# (scenario, file, what the cited line holds, band of its delta to the first signal in s)
TIMING_CASES = [
    ("bad_api_rollout", "k8s_events.log", "", (0, 60)),  # within a minute: 1
    ("bad_api_rollout", "db_events.log", "", (120, 540)),  # graded
    ("bad_api_rollout", "ui_events.log", '" 500 ', (120, 540)),  # access line, graded
    ("bad_api_rollout", "api_logs.log", "] \tat ", (120, 540)),  # a frame: its entry's time
    ("bad_api_rollout", "api_logs.log", " INFO ", (-3600, -600)),  # too far ahead: 0
    ("bad_api_rollout", "ui_events.log", "", (-599, -62)),  # before counts too
    ("db_connection_pool_exhaustion", "mesh_events.jsonl", '"duration":', (120, 540)),
]


def _pick(
    bundle: Path, file: str, holds: str, band: tuple[int, int], first: datetime
) -> tuple[str, float]:
    """The first line of ``file`` holding ``holds`` whose oracle instant lies in ``band``
    seconds from the first signal: (ref, its delta)."""
    for n, line, at in _stamps(bundle, file):
        if at is not None and holds in line:
            delta = (at - first).total_seconds()
            if band[0] <= delta <= band[1]:
                return f"{file}:{n}", delta
    raise AssertionError(f"no line of {file} holding {holds!r} at {band} s: pick another band")


@pytest.mark.parametrize(
    ("sid", "file", "holds", "band"),
    TIMING_CASES,
    ids=[f"{c[1]}{c[3]}" for c in TIMING_CASES],
)
def test_first_signal_timing_is_graded_by_distance(
    sid: str,
    file: str,
    holds: str,
    band: tuple[int, int],
    committed: dict[str, Path],
) -> None:
    bundle = committed[sid]
    first = load_truth(bundle).first_signal
    assert first is not None and first.at is not None
    first_at = datetime.fromisoformat(first.at.replace("Z", "+00:00"))
    ref, delta = _pick(bundle, file, holds, band, first_at)
    assert f"{first.file}:{first.line}" != ref
    result = evaluate(bundle, parse_report(_cite(TITLES[sid], [ref])))
    assert result.evidence[0].in_bundle
    assert f"{first.file}:{first.line}" not in result.evidence[0].hits
    assert result.score_parts.first_signal_timing == _graded(delta)
    if file == "mesh_events.jsonl":  # dated at its end, not its start
        entry = json.loads(_line(bundle, file, int(ref.split(":")[1])))
        assert entry["duration"] > 0


def test_timing_uses_the_earliest_cited_line(committed: dict[str, Path]) -> None:
    bundle = committed["bad_api_rollout"]
    title = TITLES["bad_api_rollout"]
    first = load_truth(bundle).first_signal
    assert first is not None and first.at is not None
    first_at = datetime.fromisoformat(first.at.replace("Z", "+00:00"))

    def timing(refs: list[str]) -> float | None:
        return evaluate(bundle, parse_report(_cite(title, refs))).score_parts.first_signal_timing

    late, _ = _pick(bundle, "api_logs.log", " INFO ", (300, 3600), first_at)
    near, _ = _pick(bundle, "k8s_events.log", "", (0, 60), first_at)
    before, ahead = _pick(bundle, "ui_events.log", "", (-599, -62), first_at)
    # a line after the first signal, closer to it than ``before``
    graded, delta = _pick(bundle, "db_events.log", "", (61, int(-ahead) - 1), first_at)
    # Late and near: the earliest (near) counts.
    assert timing([late, near]) == 1.0
    assert timing([late, graded]) == _graded(delta)
    # The earliest instant, not the closest.
    assert _graded(ahead) < _graded(delta)
    assert timing([graded, before]) == _graded(ahead)


# ------------------------------------------------------------------- klog's missing year
NEW_YEAR_ANCHOR = "2026-12-31T23:54:00Z"


@pytest.fixture(scope="module")
def new_year_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bad rollout that starts on New Year's Eve and signals first on New Year's Day."""
    root = tmp_path_factory.mktemp("new_year")
    # easy: the story's fixed timing puts the first signal after midnight.
    request = {
        "scenario": "bad_api_rollout",
        "seed": 42,
        "time_anchor": NEW_YEAR_ANCHOR,
        "difficulty": "easy",
    }
    return generate_bundle({**request, "rps": 1.0}, root)


def _klog_line(bundle: Path, month_day: str, near: datetime) -> tuple[int, datetime]:
    """The klog error line of ``month_day`` (``1231`` or ``0101``) nearest ``near``, and
    its instant in the year that day falls in around this window."""
    year = 2026 if month_day == "1231" else 2027
    found: list[tuple[float, int, datetime]] = []
    for n, line in enumerate(_text(bundle, "k8s_events.log").splitlines(), 1):
        if line.startswith(f"E{month_day} "):
            at = datetime.strptime(f"{year}{line[1:21]}", "%Y%m%d %H:%M:%S.%f").replace(tzinfo=UTC)
            found.append((abs((at - near).total_seconds()), n, at))
    assert found, f"no klog error line on {month_day}"
    _, n, at = min(found)
    return n, at


@pytest.mark.parametrize("month_day", ["1231", "0101"])
def test_klog_year_is_resolved_across_new_year(month_day: str, new_year_bundle: Path) -> None:
    first = load_truth(new_year_bundle).first_signal
    assert first is not None and first.at is not None and first.at.startswith("2027-01-01T")
    first_at = datetime.fromisoformat(first.at.replace("Z", "+00:00"))
    n, at = _klog_line(new_year_bundle, month_day, first_at)
    ref = f"k8s_events.log:{n}"
    result = evaluate(new_year_bundle, parse_report(_cite(TITLES["bad_api_rollout"], [ref])))
    # The wrong year would put the line a year away: timing 0.
    assert result.score_parts.first_signal_timing == _graded((at - first_at).total_seconds())
    assert result.score_parts.first_signal_timing > 0


def test_line_instant_picks_the_klog_year_nearest_the_reference() -> None:
    dec = 'E1231 23:59:26.179492       1 prober.go:107] "Probe failed" probeType="Readiness"'
    jan = 'E0101 00:07:50.863271       1 prober.go:107] "Probe failed" probeType="Readiness"'
    first = _utc(2027, 1, 1, 0, 2, 5, 947000)
    assert line_instant("k8s", dec, 2027, near=first) == _utc(2026, 12, 31, 23, 59, 26, 179492)
    assert line_instant("k8s", jan, 2027, near=first) == _utc(2027, 1, 1, 0, 7, 50, 863271)
    eve = _utc(2026, 12, 31, 23, 54, 0)
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
