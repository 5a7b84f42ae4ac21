"""Read a generated bundle the way a responder would: one parsed view per stream.

These parsers exist to check *relations between* layers (same request id, same status,
time ordering). Whether each line is well-formed is decided elsewhere by the real tools
(GoAccess, pgBadger) and the reference shapes in :mod:`tests.realtools`; here a line that
does not parse is collected in ``unparsed`` so a test can insist that list is empty.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from rca.seed import scenarios
from tests.realtools import KLOG_HEADER_RE, NGINX_MAIN_EXT_RE

# Every registered scenario, and those with an incident to find (the registry's order).
SCENARIOS = tuple(scenarios.scenario_ids())
FAILURES = tuple(scenarios.incident_ids())

# nginx error log: "2026/11/26 05:08:01 [error] 29#29: ..."
NGINX_ERROR_RE = re.compile(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} \[[a-z]+\] \d+#\d+: ")

# Spring Boot 3 console line behind `kubectl logs --prefix`, with the correlation block
# `[%X{traceId:-},%X{spanId:-},%X{requestId:-}]` only on request-scoped lines.
API_PREFIX_RE = re.compile(r"^\[pod/(?P<pod>[^/\]]+)/(?P<container>[^\]]+)\] ")
API_EVENT_RE = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z) +(?P<level>TRACE|DEBUG|INFO|WARN|ERROR) "
    r"1 --- \[orders-api\] \[(?P<thread>.{15})\] "
    r"(?:\[(?P<trace>[0-9a-f]*),(?P<span>[0-9a-f]*),(?P<rid>[0-9a-f]*)\] )?"
    r"(?P<logger>.{40}) : (?P<msg>.*)$"
)
API_GC_RE = re.compile(r"^\[\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000\]\[info\]\[gc\] ")
API_ACCESS_RE = re.compile(
    r"^(?P<method>[A-Z]+) (?P<path>\S+) -> (?P<status>\d{3}) in (?P<ms>\d+) ms$"
)

K8S_EVENT_RE = re.compile(
    r'"Event occurred" object="(?P<object>[^"]+)" fieldPath="(?P<field>[^"]*)" '
    r'kind="(?P<kind>[^"]+)" apiVersion="(?P<api>[^"]+)" type="(?P<type>Normal|Warning)" '
    r'reason="(?P<reason>[^"]+)" message="(?P<message>(?:[^"\\]|\\.)*)"$'
)

PG_LINE_RE = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) UTC \[(?P<pid>\d+)\] "
    r"(?:(?P<user>\S+)@(?P<db>\S+) )?(?P<severity>[A-Z]+):  (?P<msg>.*)$"
)


def parse_nginx_time(text: str) -> datetime:
    return datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z")


def parse_rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class UiAccess:
    line: int  # 1-based
    text: str
    time: datetime
    method: str
    path: str
    status: int
    body_bytes: int
    agent: str
    request_time: float
    upstream_times: tuple[float, ...]  # empty when "-"
    request_id: str


@dataclass(frozen=True)
class ApiEvent:
    line: int
    pod: str
    time: datetime
    level: str
    trace: str | None
    span: str | None
    request_id: str | None
    logger: str
    msg: str
    continuation: tuple[str, ...]  # stack-trace lines, prefix removed


@dataclass(frozen=True)
class ApiAccess:
    event: ApiEvent
    method: str
    path: str
    status: int
    elapsed_ms: int


@dataclass
class K8sLine:
    line: int
    text: str
    level: str
    time_key: str  # "MMDD hh:mm:ss.uuuuuu" (klog has no year)
    pid: int
    source: str
    msg: str
    event: dict[str, str] | None = None


@dataclass
class Bundle:
    """One generated bundle directory plus lazily parsed views of its streams."""

    scenario: str
    path: Path
    unparsed: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def text(self, name: str) -> str:
        return (self.path / name).read_text(encoding="utf-8")

    def lines(self, name: str) -> list[str]:
        return self.text(name).splitlines()

    @cached_property
    def manifest(self) -> dict[str, Any]:
        manifest: dict[str, Any] = json.loads(self.text("manifest.json"))
        return manifest

    @cached_property
    def truth(self) -> dict[str, Any]:
        truth: dict[str, Any] = json.loads(self.text("ground_truth.json"))
        return truth

    @cached_property
    def window(self) -> tuple[datetime, datetime]:
        m = self.manifest
        return parse_rfc3339(m["window_start"]), parse_rfc3339(m["window_end"])

    # ---------------------------------------------------------------- ui (nginx)
    @cached_property
    def ui_raw(self) -> list[str]:
        return self.lines("ui_events.log")

    @cached_property
    def ui_error_lines(self) -> list[str]:
        return [ln for ln in self.ui_raw if NGINX_ERROR_RE.match(ln)]

    @cached_property
    def ui(self) -> list[UiAccess]:
        out = []
        bad = self.unparsed.setdefault("ui", [])
        for n, ln in enumerate(self.ui_raw, 1):
            if NGINX_ERROR_RE.match(ln):
                continue
            m = NGINX_MAIN_EXT_RE.match(ln)
            if m is None:
                bad.append((n, ln))
                continue
            method, path, _proto = m["request"].split(" ")
            ups = m["upstream_response_time"]
            out.append(
                UiAccess(
                    line=n,
                    text=ln,
                    time=parse_nginx_time(m["time_local"]),
                    method=method,
                    path=path,
                    status=int(m["status"]),
                    body_bytes=int(m["body_bytes_sent"]),
                    agent=m["http_user_agent"],
                    request_time=float(m["request_time"]),
                    upstream_times=()
                    if ups == "-"
                    else tuple(float(x) for x in re.split(r", | : ", ups)),
                    request_id=m["request_id"],
                )
            )
        return out

    @cached_property
    def ui_by_rid(self) -> dict[str, UiAccess]:
        return {u.request_id: u for u in self.ui}

    # ---------------------------------------------------------------- mesh (Envoy)
    @cached_property
    def mesh(self) -> list[dict[str, Any]]:
        return [json.loads(ln) for ln in self.lines("mesh_events.jsonl")]

    @cached_property
    def mesh_by_rid(self) -> dict[str, dict[str, Any]]:
        return {m["request_id"]: m for m in self.mesh}

    # ---------------------------------------------------------------- api (Spring Boot)
    @cached_property
    def api(self) -> list[ApiEvent]:
        events: list[ApiEvent] = []
        bad = self.unparsed.setdefault("api", [])
        cont: list[str] = []
        head: tuple[int, str, re.Match[str]] | None = None

        def close() -> None:
            if head is not None:
                n, pod, m = head
                events.append(
                    ApiEvent(
                        line=n,
                        pod=pod,
                        time=parse_rfc3339(m["ts"]),
                        level=m["level"],
                        trace=m["trace"],
                        span=m["span"],
                        request_id=m["rid"] or None,
                        logger=m["logger"].strip(),
                        msg=m["msg"],
                        continuation=tuple(cont),
                    )
                )

        for n, ln in enumerate(self.lines("api_logs.log"), 1):
            p = API_PREFIX_RE.match(ln)
            if p is None:
                bad.append((n, ln))
                continue
            body = ln[p.end() :]
            if API_GC_RE.match(body):
                continue
            m = API_EVENT_RE.match(body)
            if m is not None:
                close()
                head, cont = (n, p["pod"], m), []
            elif head is not None and p["pod"] == head[1] and not body[:4].isdigit():
                cont.append(body)
            else:
                bad.append((n, ln))
        close()
        return events

    @cached_property
    def api_pods(self) -> set[str]:
        pods = set()
        for ln in self.lines("api_logs.log"):
            p = API_PREFIX_RE.match(ln)
            if p:
                pods.add(p["pod"])
        return pods

    @cached_property
    def api_access(self) -> list[ApiAccess]:
        out = []
        for e in self.api:
            if e.logger == "com.example.orders.web.AccessLogFilter":
                m = API_ACCESS_RE.match(e.msg)
                assert m is not None, e.msg
                out.append(ApiAccess(e, m["method"], m["path"], int(m["status"]), int(m["ms"])))
        return out

    # ---------------------------------------------------------------- k8s (klog)
    @cached_property
    def k8s(self) -> list[K8sLine]:
        out = []
        bad = self.unparsed.setdefault("k8s", [])
        for n, ln in enumerate(self.lines("k8s_events.log"), 1):
            h = KLOG_HEADER_RE.match(ln)
            if h is None:
                bad.append((n, ln))
                continue
            level = ln[0]
            time_key = ln[1:21]
            pid = int(ln[22:29])
            source = ln[30 : h.end() - 2]
            msg = ln[h.end() :]
            ev = K8S_EVENT_RE.match(msg)
            event = None
            if ev is not None:
                event = ev.groupdict()
                event["message"] = json.loads(f'"{event["message"]}"')
            out.append(K8sLine(n, ln, level, time_key, pid, source, msg, event))
        return out

    def k8s_events(self, reason: str) -> list[K8sLine]:
        return [k for k in self.k8s if k.event is not None and k.event["reason"] == reason]

    # ---------------------------------------------------------------- db (PostgreSQL)
    @cached_property
    def db(self) -> list[tuple[int, re.Match[str]]]:
        out = []
        bad = self.unparsed.setdefault("db", [])
        for n, ln in enumerate(self.lines("db_events.log"), 1):
            if ln.startswith("\t"):
                continue
            m = PG_LINE_RE.match(ln)
            if m is None:
                bad.append((n, ln))
                continue
            out.append((n, m))
        return out


def per_minute(times: list[datetime], start: datetime, end: datetime) -> list[int]:
    """Counts per whole minute of [start, end)."""
    minutes = int((end - start).total_seconds() // 60)
    counts = Counter(int((t - start).total_seconds() // 60) for t in times if start <= t < end)
    return [counts.get(i, 0) for i in range(minutes)]


def klog_to_datetime(time_key: str, year: int) -> datetime:
    return datetime.strptime(f"{year}{time_key}", "%Y%m%d %H:%M:%S.%f").replace(tzinfo=UTC)


def label_pointers(truth: dict[str, Any]) -> list[dict[str, Any]]:
    """Every evidence pointer of a label: evidence, first signal, chain, distractors."""
    out = list(truth["evidence"])
    if truth["first_signal"] is not None:
        out.append(truth["first_signal"])
    for step in truth["causal_chain"]:
        out += step["evidence"]
    out += [d["pointer"] for d in truth["distractors"]]
    return out


# ---------------------------------------------------------------- timestamps of every line
# Each stream's own stamp, read off the line as a responder's tool would; lines without one
# are continuations of the entry above (stack traces, autovacuum details).
_UI_ACCESS_STAMP = re.compile(
    r"^\S+ - \S+ \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
)
_UI_ERROR_STAMP = re.compile(r"^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) \[")
_API_STAMP = re.compile(
    r"^\[pod/[^\]]+\] \[?(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})(?:Z|\+0000\])"
)
_DB_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) UTC ")
_KLOG_STAMP = re.compile(r"^[IWEF](\d{4} \d{2}:\d{2}:\d{2}\.\d{6}) ")


def _ui_stamp(line: str, _start: datetime) -> datetime | None:
    if m := _UI_ACCESS_STAMP.match(line):
        return parse_nginx_time(m[1])
    if m := _UI_ERROR_STAMP.match(line):
        return datetime.strptime(m[1], "%Y/%m/%d %H:%M:%S").replace(tzinfo=UTC)
    return None


def _api_stamp(line: str, _start: datetime) -> datetime | None:
    m = _API_STAMP.match(line)
    return None if m is None else datetime.fromisoformat(m[1]).replace(tzinfo=UTC)


def _db_stamp(line: str, _start: datetime) -> datetime | None:
    m = _DB_STAMP.match(line)
    return None if m is None else datetime.fromisoformat(m[1]).replace(tzinfo=UTC)


def _k8s_stamp(line: str, start: datetime) -> datetime | None:
    m = _KLOG_STAMP.match(line)
    if m is None:
        return None
    stamp = klog_to_datetime(m[1], start.year)  # klog prints no year: the window's
    return stamp if stamp >= start - timedelta(days=180) else klog_to_datetime(m[1], start.year + 1)


def _mesh_stamp(line: str, _start: datetime) -> datetime | None:
    return parse_rfc3339(json.loads(line)["start_time"])


LINE_STAMPS: dict[str, Callable[[str, datetime], datetime | None]] = {
    "ui_events.log": _ui_stamp,
    "api_logs.log": _api_stamp,
    "db_events.log": _db_stamp,
    "k8s_events.log": _k8s_stamp,
    "mesh_events.jsonl": _mesh_stamp,
}


def line_stamps(path: Path, window_start: datetime) -> Iterator[tuple[int, datetime]]:
    """(1-based line, instant) of every stamped line of one stream file, streaming."""
    stamp = LINE_STAMPS[path.name]
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            t = stamp(line, window_start)
            if t is not None:
                yield n, t


def lines_outside_window(bundle_dir: Path, streams: dict[str, str]) -> dict[str, list[str]]:
    """Per stream file of ``streams`` (stream -> file): 'line N: instant' of every line
    stamped outside the manifest's [window_start, window_end)."""
    manifest = json.loads((bundle_dir / "manifest.json").read_text(encoding="utf-8"))
    start = parse_rfc3339(manifest["window_start"])
    end = parse_rfc3339(manifest["window_end"])
    out: dict[str, list[str]] = {}
    for file in streams.values():
        stamps = line_stamps(bundle_dir / file, start)
        bad = [f"line {n}: {t.isoformat()}" for n, t in stamps if not start <= t < end]
        if bad:
            out[file] = bad
    return out
