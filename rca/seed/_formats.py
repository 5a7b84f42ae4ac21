"""Where one log entry ends and the next begins, and when it happened, per stream format.

Used to count records in files on disk (``validate``, ``write_manifest``) without
regenerating them, and to check that every line lies in the bundle's window. The rules
are the formats' own: PostgreSQL continues an entry with TAB lines and with
DETAIL/HINT/CONTEXT/STATEMENT lines under the same prefix; Logback continues with lines
that do not start a new timestamped event; the other streams are one entry per line.

Files are read in fixed-size blocks of whole lines (:class:`LineReader`), so memory
stays bounded by a constant whatever the file's size.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ._timefmt import _MONTHS, US, to_datetime

CHUNK = 1 << 20  # bytes read at a time
MAX_LINE = 1 << 20  # a longer line is cut to this for analysis (no stream writes one)

# The patterns run over a whole block of lines with a newline put in front (`_lines`),
# anchored at "\n" rather than at ``^`` under re.M: re finds a literal prefix far faster.
# ``[^...\n]``, not ``[^...]``: a match stays within one line, as on that line alone.
_PG_START = re.compile(
    rb"\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC \[\d+\] (?:[^ \n]+@[^ \n]+ )?"
    rb"(?!DETAIL:|HINT:|CONTEXT:|STATEMENT:)[A-Z0-9]+:  "
)
_API_START = re.compile(rb"\n\[pod/[^/\]\n]+/[^\]\n]+\] (?:\d{4}-\d\d-\d\dT|\[\d{4}-)")


def _lines(data: bytes) -> bytes:
    return b"\n" + data


def count_records(stream: str, data: bytes) -> int:
    """Entries in ``data``: whole lines of a stream (additive over blocks cut at newlines)."""
    if stream == "db":
        return len(_PG_START.findall(_lines(data)))
    if stream == "api":
        return len(_API_START.findall(_lines(data)))
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


class LineReader:
    """Blocks of whole lines from ``read``, ``CHUNK`` bytes at a time.

    Every block but the last ends with a newline, and the blocks have exactly the file's
    lines, except that a line longer than ``MAX_LINE`` keeps only its first ``MAX_LINE``
    bytes (``overlong_line`` is then the number of the first such line). ``on_raw`` sees
    every byte read, unchanged (for checksums).
    """

    def __init__(
        self, read: Callable[[int], bytes], on_raw: Callable[[bytes], object] | None = None
    ) -> None:
        self._read = read
        self._on_raw = on_raw
        self.overlong_line: int | None = None
        self._newlines = 0

    def __iter__(self) -> Iterator[bytes]:
        carry = b""
        dropping = False  # inside the unread rest of an over-long line
        while chunk := self._read(CHUNK):
            if self._on_raw is not None:
                self._on_raw(chunk)
            if dropping:
                nl = chunk.find(b"\n")
                if nl < 0:
                    continue
                chunk = chunk[nl:]
                dropping = False
            cut = chunk.rfind(b"\n")
            if cut < 0:
                carry += chunk
                if len(carry) > MAX_LINE:
                    carry, dropping = carry[:MAX_LINE], True
                    if self.overlong_line is None:
                        self.overlong_line = self._newlines + 1
                continue
            block = carry + chunk[: cut + 1]
            carry = chunk[cut + 1 :]
            self._newlines += block.count(b"\n")
            yield block
        if carry:
            yield carry


def count_file(stream: str, path: Path) -> tuple[int, int]:
    """(records, lines) of a stream file, read in blocks."""
    newlines = 0

    def count_newlines(raw: bytes) -> None:
        nonlocal newlines
        newlines += raw.count(b"\n")

    with open(path, "rb") as f:
        records = sum(count_records(stream, block) for block in LineReader(f.read, count_newlines))
    return records, newlines


# ------------------------------------------------------------------ timestamps
_SPRING = rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})()Z"
_POD = rb"\n\[pod/[^/\]\n]+/[^\]\n]+\] "


@dataclass(frozen=True, slots=True)
class StampFormat:
    """How one stream stamps its lines.

    ``pattern`` finds a line's stamp in ``b"\\n" + block``: at the start of a line, or
    anywhere in it for JSON. Its alternatives (one per layout) each have three groups,
    (seconds text, fraction digits, UTC offset), and ``parse[i]`` is the order of the
    fields in alternative i's seconds text (Y year, m month number or English name, d
    day, H M S), or "klog" (mmdd HH:MM:SS, no year).
    ``every_line``: a line without a stamp is an error; otherwise it continues the
    entry above it (stack traces, PostgreSQL's TAB lines).
    """

    pattern: re.Pattern[bytes]
    parse: tuple[str, ...]
    every_line: bool


# Each component's own layout, as rca/seed/_timefmt.py writes them.
STAMP_FORMATS: dict[str, StampFormat] = {
    # nginx: access log $time_local [26/Nov/2026:05:00:00 +0000]; error log 2026/11/26 05:00:00
    "ui": StampFormat(
        re.compile(
            rb"\n(?:[^ \n]+ - [^ \n]+ \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d)() ([+-]\d{4})\]"
            rb"|(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d)()() \[)"
        ),
        ("dmYHMS", "YmdHMS"),
        True,
    ),
    # Spring Boot 3 console 2026-11-26T05:00:00.123Z; JVM unified logging
    # [2026-11-26T05:00:00.123+0000] (GC); both after kubectl's [pod/NAME/CONTAINER].
    "api": StampFormat(
        re.compile(
            _POD
            + rb"(?:"
            + _SPRING
            + rb" |\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})([+-]\d{4})\])"
        ),
        ("YmdHMS", "YmdHMS"),
        False,
    ),
    # PostgreSQL %m: 2026-11-26 05:00:00.123 UTC
    "db": StampFormat(
        re.compile(rb"\n(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3})() UTC "),
        ("YmdHMS",),
        False,
    ),
    # klog header: I1126 05:00:00.123456 (severity, month, day; no year)
    "k8s": StampFormat(
        re.compile(rb"\n[IWEF](\d{4} \d\d:\d\d:\d\d)\.(\d{6})() "),
        ("klog",),
        True,
    ),
    # Envoy %START_TIME%: "start_time":"2026-11-26T05:00:00.123Z"
    "mesh": StampFormat(
        re.compile(rb'"start_time" ?: ?"' + _SPRING + rb'"'),
        ("YmdHMS",),
        True,
    ),
}


_FIELDS = re.compile(rb"\d+|[A-Z][a-z]{2}")


def _epoch_of(fields: dict[str, bytes], year: int, offset: bytes) -> int:
    """Epoch seconds of civil fields (datetime checks the ranges) minus a +hhmm offset."""
    m = fields["m"]
    month = int(m) if m.isdigit() else _MONTHS.index(m.decode()) + 1
    dt = datetime(
        year,
        month,
        int(fields["d"]),
        int(fields["H"]),
        int(fields["M"]),
        int(fields["S"]),
        tzinfo=UTC,
    )
    shift = 0
    if offset:
        shift = (int(offset[1:3]) * 3600 + int(offset[3:5]) * 60) * (
            -1 if offset[:1] == b"-" else 1
        )
    return int(dt.timestamp()) - shift


@dataclass(frozen=True, slots=True)
class OutOfWindow:
    """A line stamped outside the window (``t_us`` None: a stamp that is no instant)."""

    line: int  # 1-based, in the block
    text: str
    t_us: int | None


class WindowCheck:
    """Finds the lines of a stream stamped outside [start_us, end_us], block by block.

    A stamp of precision p (1 s for nginx, 1 ms for most, 1 us for klog) covers
    [t, t + p); a line is outside when that interval misses the window. klog has no
    year: a line gets the year (the window's, the one before or after) that puts it
    nearest the window, as the scorer does (specs research R5).
    """

    _CACHE_LIMIT = 100_000

    def __init__(self, stream: str, start_us: int, end_us: int) -> None:
        self.format = STAMP_FORMATS[stream]
        self.every_line = self.format.every_line
        self.start_us, self.end_us = start_us, end_us
        self._years = sorted({to_datetime(start_us).year + d for d in (-1, 0, 1)})
        self._seconds: dict[tuple[int, bytes, bytes], int | None] = {}

    def _epoch(self, alt: int, text: bytes, offset: bytes) -> int | None:
        """Epoch seconds of a stamp's seconds text; parsed once per minute (cached)."""
        second = int(text[-2:])  # every layout ends with :SS
        minute = self._minute(alt, text[:-2] + b"00", offset)
        return None if minute is None or second > 59 else minute + second

    def _minute(self, alt: int, text: bytes, offset: bytes) -> int | None:
        key = (alt, text, offset)
        if key in self._seconds:
            return self._seconds[key]
        if len(self._seconds) >= self._CACHE_LIMIT:
            self._seconds.clear()
        order = self.format.parse[alt]
        value: int | None
        try:
            if order == "klog":
                value = self._klog_epoch(text)
            else:
                fields = dict(zip(order, _FIELDS.findall(text), strict=True))
                value = _epoch_of(fields, int(fields["Y"]), offset)
        except ValueError:  # no such day or time (2026-02-30, 25:00), or a field missing
            value = None
        self._seconds[key] = value
        return value

    def _klog_epoch(self, text: bytes) -> int | None:
        mmdd, *hms = _FIELDS.findall(text)
        fields = dict(zip("mdHMS", [mmdd[:2], mmdd[2:], *hms], strict=True))
        best: tuple[int, int] | None = None
        for year in self._years:
            try:
                t = _epoch_of(fields, year, b"") * US
            except ValueError:  # 29 Feb in a common year
                continue
            distance = max(self.start_us - t, t - self.end_us, 0)
            if best is None or distance < best[0]:
                best = (distance, t // US)
        return None if best is None else best[1]

    def scan(self, block: bytes) -> tuple[int, list[OutOfWindow]]:
        """(stamped lines, those outside the window) of a block of whole lines."""
        stamped = 0
        outside: list[OutOfWindow] = []
        start, end = self.start_us, self.end_us
        data = _lines(block)
        pos = line = 0  # line numbers counted on from the last one found: linear time
        for m in self.format.pattern.finditer(data):
            stamped += 1
            last = m.lastindex or 3  # the offset group closes each alternative
            text, frac, offset = m.group(last - 2, last - 1, last)
            sec = self._epoch(last // 3 - 1, text, offset)
            t = None
            if sec is not None:
                scale = US // 10 ** len(frac)
                t = sec * US + (int(frac) * scale if frac else 0)
                if t + (scale if frac else US) > start and t <= end:
                    continue
            shown = text + (b"." + frac if frac else b"") + (b" " + offset if offset else b"")
            line += data.count(b"\n", pos, m.start() + 1)
            pos = m.start() + 1
            outside.append(OutOfWindow(line, shown.decode(), t))
        return stamped, outside

    def unstamped(self, block: bytes) -> int | None:
        """Number (1-based) of the first line of ``block`` that carries no stamp, if any."""
        lines = block.split(b"\n")
        if lines[-1] == b"":
            lines.pop()  # the block ends with a newline: no line after it
        for i, line in enumerate(lines, start=1):
            if not self.format.pattern.search(_lines(line)):
                return i
        return None
