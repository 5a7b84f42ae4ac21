"""Per-bucket metrics of a bundle's streams, parsed from the files themselves.

The parsing follows each component's documented format (the same formats a responder's
tools read), so the timeline shows what is in the files, not what the generator meant.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

_NGINX = re.compile(
    r'^\S+ - \S+ \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d) [+-]\d{4}\] "[^"]*" (\d{3}) \d+ '
    r'"[^"]*" "[^"]*" ([\d.]+) (\S+) \S+$'
)
_API_ACCESS = re.compile(
    r"^\[pod/[^\]]+\] (\S+Z) +(\w+) \d+ --- .* : \S+ \S+ -> (\d+) in (\d+) ms$"
)
_API_EVENT = re.compile(r"^\[pod/[^\]]+\] (\S+Z) +(ERROR|WARN) ")
_PG = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC \[\d+\] (?:\S+@\S+ )?"
    r"(LOG|ERROR|FATAL|WARNING|PANIC):  (?:duration: ([\d.]+) ms)?"
)
_KLOG = re.compile(r"^([IWEF])(\d\d)(\d\d) (\d\d:\d\d:\d\d\.\d{6}) ")
_NGINX_TS_CACHE: dict[str, float] = {}


def warn_stderr(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr)


def _epoch(dt: datetime) -> float:
    return dt.replace(tzinfo=UTC).timestamp()


def _nginx_ts(text: str) -> float:
    ts = _NGINX_TS_CACHE.get(text)
    if ts is None:
        if len(_NGINX_TS_CACHE) > 100_000:
            _NGINX_TS_CACHE.clear()
        ts = _epoch(datetime.strptime(text, "%d/%b/%Y:%H:%M:%S"))
        _NGINX_TS_CACHE[text] = ts
    return ts


def _iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class StreamSeries:
    requests: list[int]
    errors: list[int]
    latencies: list[list[float]]  # seconds, per bucket

    @classmethod
    def empty(cls, n: int) -> StreamSeries:
        return cls([0] * n, [0] * n, [[] for _ in range(n)])


@dataclass
class BundleSeries:
    start: float
    end: float
    bucket: float
    ui: StreamSeries
    mesh: StreamSeries
    api: StreamSeries
    db_slow: list[int]
    db_errors: list[int]
    k8s_warnings: list[int]
    lines: dict[str, int] = field(default_factory=dict)
    # What could not be read as its format says (bad bytes, broken JSON), one line each:
    # the series leave it out, and the commands print these on stderr.
    warnings: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.db_slow)

    def index(self, t: float) -> int | None:
        i = int((t - self.start) // self.bucket)
        return i if 0 <= i < self.n else None


def _window(bundle: Path) -> tuple[float, float]:
    manifest = json.loads((bundle / "manifest.json").read_text())
    return _iso(manifest["window_start"]), _iso(manifest["window_end"])


def load(bundle: Path, buckets: int = 60) -> BundleSeries:
    """The series of ``bundle``; what its files hold that their format does not is left
    out and named in ``warnings``."""
    start, end = _window(bundle)
    size = (end - start) / buckets
    s = BundleSeries(
        start,
        end,
        size,
        StreamSeries.empty(buckets),
        StreamSeries.empty(buckets),
        StreamSeries.empty(buckets),
        [0] * buckets,
        [0] * buckets,
        [0] * buckets,
    )
    year = datetime.fromtimestamp(start, tz=UTC).year

    def add(series: StreamSeries, t: float, status: int, latency: float | None) -> None:
        i = s.index(t)
        if i is None:
            return
        series.requests[i] += 1
        if status >= 500 or status == 0:
            series.errors[i] += 1
        if latency is not None:
            series.latencies[i].append(latency)

    for stream, name in (
        ("ui", "ui_events.log"),
        ("api", "api_logs.log"),
        ("db", "db_events.log"),
        ("k8s", "k8s_events.log"),
        ("mesh", "mesh_events.jsonl"),
    ):
        count = 0
        undecodable: list[int] = []
        unreadable: list[int] = []
        with open(bundle / name, "rb") as f:
            for raw in f:
                count += 1
                try:
                    line = raw.decode("utf-8").rstrip("\n")
                except UnicodeDecodeError:
                    undecodable.append(count)
                    line = raw.decode("utf-8", errors="replace").rstrip("\n")
                if stream == "ui":
                    m = _NGINX.match(line)
                    if m:
                        add(s.ui, _nginx_ts(m[1]), int(m[2]), float(m[3]))
                elif stream == "mesh":
                    try:
                        o = json.loads(line)
                        t = _iso(o["start_time"]) + o["duration"] / 1000
                        add(s.mesh, t, int(o["response_code"]), o["duration"] / 1000)
                    except (ValueError, TypeError, KeyError):
                        unreadable.append(count)
                elif stream == "api":
                    m = _API_ACCESS.match(line)
                    if m:
                        add(s.api, _iso(m[1]), int(m[3]), int(m[4]) / 1000)
                elif stream == "db":
                    m = _PG.match(line)
                    if m:
                        i = s.index(_epoch(datetime.fromisoformat(m[1])))
                        if i is not None:
                            if m[3]:
                                s.db_slow[i] += 1
                            if m[2] in ("ERROR", "FATAL", "PANIC"):
                                s.db_errors[i] += 1
                else:
                    m = _KLOG.match(line)
                    if m and (m[1] in "EWF" or 'type="Warning"' in line):
                        dt = datetime.fromisoformat(f"{year}-{m[2]}-{m[3]} {m[4]}")
                        i = s.index(_epoch(dt))
                        if i is not None:
                            s.k8s_warnings[i] += 1
        s.lines[name] = count
        if undecodable:
            s.warnings.append(
                f"{name}:{undecodable[0]}: not valid UTF-8 ({len(undecodable)} line(s)); "
                "read with U+FFFD in place of the bad bytes"
            )
        if unreadable:
            s.warnings.append(
                f"{name}:{unreadable[0]}: not an Envoy access-log object "
                f"({len(unreadable)} line(s)); left out of the timeline"
            )
    return s


def p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
