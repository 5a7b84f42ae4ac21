"""Where one log entry ends and the next begins, per stream format.

Used to count records in files on disk (``validate``, ``write_manifest``) without
regenerating them. The rules are the formats' own: PostgreSQL continues an entry with
TAB lines and with DETAIL/HINT/CONTEXT/STATEMENT lines under the same prefix; Logback
continues with lines that do not start a new timestamped event; the other streams are
one entry per line.
"""

from __future__ import annotations

import re
from pathlib import Path

_PG_START = re.compile(
    rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC \[\d+\] (?:\S+@\S+ )?"
    rb"(?!DETAIL:|HINT:|CONTEXT:|STATEMENT:)[A-Z0-9]+:  "
)
_API_START = re.compile(rb"^\[pod/[^/\]]+/[^\]]+\] (?:\d{4}-\d\d-\d\dT|\[\d{4}-)")


def count_records(stream: str, data: bytes) -> int:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if stream == "db":
        return sum(1 for ln in lines if _PG_START.match(ln))
    if stream == "api":
        return sum(1 for ln in lines if _API_START.match(ln))
    return len(lines)


def count_file(stream: str, path: Path) -> tuple[int, int]:
    """(records, lines) of a stream file."""
    data = path.read_bytes()
    return count_records(stream, data), data.count(b"\n")
