"""Stream formats on disk: record counts, bounded line blocks, and the window of stamps."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from rca.seed import _timefmt as tf
from rca.seed._formats import MAX_LINE, STAMP_FORMATS, LineReader, WindowCheck, count_records
from rca.seed._models import STREAMS

US = tf.US
START = 1_795_669_200 * US  # 2026-11-26T05:00:00Z
END = START + 1800 * US

# One line per stream, stamped at t, written with the generator's own formatters.
LINE_AT: dict[str, Callable[[int], str]] = {
    "ui": lambda t: (
        f'203.0.113.7 - - [{tf.nginx_access(t)}] "GET / HTTP/1.1" 200 1187 "-" "curl" 0.001 - -'
    ),
    "api": lambda t: (
        f"[pod/orders-api-1/orders-api] {tf.spring(t)}  INFO 1 --- [orders-api] [main] x : y"
    ),
    "db": lambda t: f"{tf.postgres(t)} [42] LOG:  checkpoint starting: time",
    "k8s": lambda t: f'I{tf.klog(t)}    1234 prober.go:107] "Probe failed"',
    "mesh": lambda t: f'{{"authority":"x","start_time":"{tf.envoy(t)}","duration":1}}',
}
EXTRA_LAYOUTS: dict[str, Callable[[int], str]] = {
    "ui": lambda t: f"{tf.nginx_error(t)} [error] 29#29: *1 open() failed",
    "api": lambda t: f"[pod/orders-api-1/orders-api] [{tf.jvm_unified(t)}][info][gc] GC(1) x",
}


def test_every_stream_has_a_stamp_format() -> None:
    assert tuple(STAMP_FORMATS) == STREAMS
    assert set(LINE_AT) == set(STREAMS)


def _outside(stream: str, lines: list[str], start: int = START, end: int = END) -> list[int]:
    block = ("\n".join(lines) + "\n").encode()
    stamped, out = WindowCheck(stream, start, end).scan(block)
    assert stamped == len(lines)
    return [o.line for o in out]


@pytest.mark.parametrize("stream", STREAMS)
def test_each_format_flags_lines_before_and_after_the_window(stream: str) -> None:
    layouts = [LINE_AT[stream], *([EXTRA_LAYOUTS[stream]] if stream in EXTRA_LAYOUTS else [])]
    for line_at in layouts:
        lines = [
            line_at(START - US),  # a second early: outside at any precision
            line_at(START),
            line_at((START + END) // 2),
            line_at(END),  # the end itself is inside: [start, end]
            line_at(END + US),
        ]
        assert _outside(stream, lines) == [1, 5], lines


def test_a_stamp_counts_for_the_whole_unit_it_names() -> None:
    """nginx writes whole seconds: 05:29:59 may be 05:29:59.9, so a start of
    05:29:59.5 still admits it; 05:29:58 cannot be."""
    start = START + 1799 * US + US // 2
    lines = [LINE_AT["ui"](START + 1798 * US), LINE_AT["ui"](START + 1799 * US)]
    assert _outside("ui", lines, start=start) == [1]


def test_klog_takes_the_year_nearest_the_window_across_new_year() -> None:
    start = 1_798_761_000 * US  # 2026-12-31T23:50:00Z
    end = start + 1800 * US  # 2027-01-01T00:20:00Z
    lines = [
        LINE_AT["k8s"](start + 60 * US),  # I1231 23:51: 2026
        LINE_AT["k8s"](end - 60 * US),  # I0101 00:19: 2027, not 2026
        LINE_AT["k8s"](end + 600 * US),  # I0101 00:30: after
    ]
    assert _outside("k8s", lines, start, end) == [3]


def test_a_stamp_that_is_no_instant_is_flagged() -> None:
    block = b"2026-13-45 05:10:00.000 UTC [42] LOG:  x\n"
    _, out = WindowCheck("db", START, END).scan(block)
    assert [(o.line, o.t_us) for o in out] == [(1, None)]


def test_line_numbers_of_many_outside_lines_are_exact() -> None:
    """Every line outside (a request window from another day): numbers stay right and
    the work linear (a quadratic count took minutes on a big file)."""
    lines = [LINE_AT["api"](END + i * US) if i % 3 else "\tat x.y(Z.java:1)" for i in range(30000)]
    block = ("\n".join(lines) + "\n").encode()
    _, out = WindowCheck("api", START, END).scan(block)
    assert [o.line for o in out] == [i + 1 for i in range(30000) if i % 3]


def test_continuation_lines_carry_no_stamp_and_need_none() -> None:
    check = WindowCheck("api", START, END)
    assert not check.every_line
    assert WindowCheck("k8s", START, END).unstamped(b"I1126 05:00:00.000000 1 a] x\nhello\n") == 2


def test_line_blocks_keep_every_line_and_bound_a_long_one() -> None:
    long = b"x" * (3 * MAX_LINE)
    data = b"a\n" + long + b"\nb\nc"
    raw: list[bytes] = []
    reader = LineReader(io.BytesIO(data).read, raw.append)
    blocks = list(reader)

    assert b"".join(raw) == data
    joined = b"".join(blocks)
    assert joined.split(b"\n") == [b"a", long[:MAX_LINE], b"b", b"c"]
    assert reader.overlong_line == 2
    assert all(len(b) <= 2 * MAX_LINE + 2 for b in blocks)


@pytest.mark.parametrize("stream", STREAMS)
def test_record_counts_add_up_over_blocks(stream: str) -> None:
    lines = [LINE_AT[stream](START + i * US) for i in range(50)]
    data = ("\n".join(lines) + "\n").encode()
    halves = (
        data[: data.index(b"\n", len(data) // 2) + 1],
        data[data.index(b"\n", len(data) // 2) + 1 :],
    )
    assert count_records(stream, data) == 50
    assert sum(count_records(stream, h) for h in halves) == 50


def test_a_utc_offset_is_applied() -> None:
    """nginx in a zone one hour east: 06:10 +0100 is 05:10 UTC, inside; 05:10 -0100 is
    06:10 UTC, after."""
    base = '203.0.113.7 - - [26/Nov/2026:{} {}] "GET / HTTP/1.1" 200 1 "-" "c" 0.001 - -'
    lines = [base.format("06:10:00", "+0100"), base.format("05:10:00", "-0100")]
    assert _outside("ui", lines) == [2]


def test_no_such_day_is_no_instant() -> None:
    block = b"2026/02/30 05:10:00 [error] 29#29: x\n"
    _, out = WindowCheck("ui", START, END).scan(block)
    assert [(o.line, o.t_us) for o in out] == [(1, None)]
