"""Trivial RCA "brains" that read a BLIND bundle: floors a real system must beat.

All three see only the five stream files of a blind export (never a label) and answer in
the brain-report shape with a fixed confidence of :data:`CONFIDENCE`.

Error-ish lines (per stream): nginx access lines with status >= 500 and nginx error-log
lines at ``[error]`` or worse (ui); Logback entries at ``ERROR`` (api); PostgreSQL
``ERROR``/``FATAL``/``PANIC`` entries (db); klog ``E`` lines and events of
``type="Warning"`` (k8s); Envoy access entries with ``response_code >= 500`` (mesh).
Each has a *message* (the human part of the line, e.g. ``Servlet.service() ... threw
exception [... NullPointerException ...]`` or ``istio 503 UH no_healthy_upstream on GET
/api/orders/{n}``) and a *template* (the message with numbers and hex ids masked).

``most_errors``
    Blames the most frequent error template over all streams (ties: earliest). Title =
    its message; refs = its first five lines.
``earliest_error``
    Blames the earliest error line whose template did not already occur in the first
    :data:`WARMUP_S` seconds of the bundle (without that filter it would always blame the
    background kubelet noise of minute 0). No such line: answers "no incident".
``majority_prior``
    Always answers the most common root cause of the known scenarios (most frequent
    ``fault_type`` among the registered incident scenarios; ties: smallest scenario id)
    and cites the bundle's first error line.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rca.seed import scenarios
from rca.seed.mock_incident_generator import MANIFEST_FILE, STREAM_FILES, STREAMS

from .evidence import line_instant
from .models import BrainReport

CONFIDENCE = 0.8
WARMUP_S = 300
MAX_REFS = 5
MAX_TITLE = 240

_UI_ACCESS = re.compile(
    r'^\S+ \S+ \S+ \[[^\]]+\] "(?P<method>\S+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) '
)
_UI_ERROR = re.compile(
    r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(?:error|crit|alert|emerg)\] \d+#\d+: (?:\*\d+ )?(?P<msg>.*?)(?:, client: .*)?$"
)
_API_ERROR = re.compile(r"^\[pod/[^\]]+\] \S+\s+ERROR \d+ --- .*?\s: (?P<msg>.*)$")
_DB_ERROR = re.compile(r"^\S+ \S+ UTC \[\d+\] \S+ (?P<level>ERROR|FATAL|PANIC):  (?P<msg>.*)$")
_KLOG_E = re.compile(r'^E\d{4} \S+\s+\d+ \S+\] "(?P<msg>(?:[^"\\]|\\.)*)"(?P<rest>.*)$')
_KLOG_ERR = re.compile(r'\berr="(?P<err>(?:[^"\\]|\\.)*)"')
_K8S_WARNING = re.compile(
    r'type="Warning" reason="(?P<reason>[^"]*)" message="(?P<msg>(?:[^"\\]|\\.)*)"'
)
_HEX = re.compile(r"\b[0-9a-f]{8,}\b")
_NUM = re.compile(r"\d+")
_QUOTED = re.compile(r'"[^"]*"')


@dataclass(frozen=True, slots=True)
class ErrorLine:
    file: str
    line: int
    stream: str
    at: datetime | None
    message: str
    template: str


def _path_template(path: str) -> str:
    return _NUM.sub("{n}", path.split("?", 1)[0])


def _template(message: str, *, quoted: bool = False) -> str:
    text = _QUOTED.sub('"*"', message) if quoted else message
    return _NUM.sub("#", _HEX.sub("#", text))


def _classify(stream: str, line: str) -> tuple[str, str] | None:
    """(message, template) of an error-ish line, else None."""
    if stream == "ui":
        m = _UI_ACCESS.match(line)
        if m:
            if int(m["status"]) < 500:
                return None
            msg = f"nginx {m['status']} on {m['method']} {_path_template(m['path'])}"
            return msg, msg
        m = _UI_ERROR.match(line)
        return (m["msg"], _template(m["msg"], quoted=True)) if m else None
    if stream == "api":
        m = _API_ERROR.match(line)
        return (m["msg"], _template(m["msg"])) if m else None
    if stream == "db":
        m = _DB_ERROR.match(line)
        return (f"{m['level']}: {m['msg']}", _template(m["msg"])) if m else None
    if stream == "k8s":
        m = _KLOG_E.match(line)
        if m:
            err = _KLOG_ERR.search(m["rest"])
            msg = m["msg"] + (f": {err['err'].replace(chr(92), '')[:160]}" if err else "")
            return msg, _template(msg)
        w = _K8S_WARNING.search(line)
        if w:
            msg = f"{w['reason']}: {w['msg'].replace(chr(92), '')}"
            return msg, _template(msg)
        return None
    if stream == "mesh":
        if '"response_code":5' not in line:
            return None
        try:
            obj = json.loads(line)
        except ValueError:
            return None
        code = obj.get("response_code")
        if not isinstance(code, int) or code < 500:
            return None
        msg = (
            f"istio {code} {obj.get('response_flags')} {obj.get('response_code_details')} "
            f"on {obj.get('method')} {_path_template(str(obj.get('path')))}"
        )
        return msg, msg
    return None


@dataclass(frozen=True, slots=True)
class BlindView:
    """What a baseline knows of a bundle: its id, start instant and error-ish lines."""

    bundle_id: str
    start: datetime | None
    errors: list[ErrorLine]


def read_blind(bundle_dir: str | Path) -> BlindView:
    bundle = Path(bundle_dir)
    bid = bundle.name
    manifest = bundle / MANIFEST_FILE
    if manifest.is_file():
        with contextlib.suppress(ValueError, AttributeError):
            bid = str(json.loads(manifest.read_text(encoding="utf-8")).get("bundle_id") or bid)
    texts = {
        s: (bundle / STREAM_FILES[s]).read_text(encoding="utf-8", errors="replace").split("\n")
        for s in STREAMS
    }
    # The year klog omits: the one that dates a klog line nearest to the first dated line
    # of a stream that has one (a bundle may run over New Year).
    near: datetime | None = None
    for s in ("api", "db", "ui"):
        near = next((t for ln in texts[s][:50] if (t := line_instant(s, ln, 1970))), None)
        if near is not None:
            break
    year = near.year if near is not None else 1970

    def at(s: str, line: str) -> datetime | None:
        return line_instant(s, line, year, near=near)

    firsts = [t for s in STREAMS if texts[s] and (t := at(s, texts[s][0]))]
    errors: list[ErrorLine] = []
    for s in STREAMS:
        for n, line in enumerate(texts[s], start=1):
            c = _classify(s, line)
            if c is not None:
                errors.append(ErrorLine(STREAM_FILES[s], n, s, at(s, line), c[0], c[1]))
    return BlindView(bid, min(firsts) if firsts else None, errors)


def _report(view: BlindView, title: str, summary: str, refs: list[str]) -> BrainReport:
    return BrainReport.model_validate(
        {
            "incident_id": view.bundle_id,
            "status": "completed",
            "hypotheses": [
                {
                    "title": title[:MAX_TITLE],
                    "summary": summary,
                    "confidence": CONFIDENCE,
                    "evidence_refs": refs,
                }
            ],
        }
    )


def _no_incident(view: BlindView, why: str) -> BrainReport:
    return BrainReport.model_validate(
        {"incident_id": view.bundle_id, "status": "no_incident", "hypotheses": [], "note": why}
    )


def most_errors(view: BlindView) -> BrainReport:
    if not view.errors:
        return _no_incident(view, "no error-ish lines")
    counts = Counter((e.stream, e.template) for e in view.errors)
    first: dict[tuple[str, str], ErrorLine] = {}
    for e in view.errors:
        first.setdefault((e.stream, e.template), e)
    key = min(counts, key=lambda k: (-counts[k], _sort_at(first[k]), k))
    lines = [e for e in view.errors if (e.stream, e.template) == key][:MAX_REFS]
    return _report(
        view,
        first[key].message,
        f"{counts[key]} of {len(view.errors)} error-ish lines are of this kind ({key[0]})",
        [f"{e.file}:{e.line}" for e in lines],
    )


def _sort_at(e: ErrorLine) -> float:
    return e.at.timestamp() if e.at is not None else float("inf")


def earliest_error(view: BlindView) -> BrainReport:
    if view.start is None:
        return _no_incident(view, "no dated lines")
    cutoff = view.start + timedelta(seconds=WARMUP_S)
    background = {e.template for e in view.errors if e.at is not None and e.at < cutoff}
    fresh = [
        e
        for e in view.errors
        if e.at is not None and e.at >= cutoff and e.template not in background
    ]
    if not fresh:
        return _no_incident(view, "no new kind of error after the warm-up")
    e = min(fresh, key=lambda x: (_sort_at(x), x.file, x.line))
    return _report(
        view,
        e.message,
        f"first new kind of error after the first {WARMUP_S} s ({e.stream})",
        [f"{e.file}:{e.line}"],
    )


def majority_answer() -> str:
    """Root cause of the most common fault type among the registered incident scenarios."""
    specs = [(sid, scenarios.get(sid).label()) for sid in scenarios.scenario_ids()]
    incidents = [(sid, spec) for sid, spec in specs if spec.fault_type != "none"]
    counts = Counter(spec.fault_type for _sid, spec in incidents)
    _sid, spec = min(incidents, key=lambda p: (-counts[p[1].fault_type], p[0]))
    # Without a bundle there is no drawn value (a release, an index name) to fill in.
    return re.sub(r" ?\{[a-z_]+\}", "", spec.root_cause)


def majority_prior(view: BlindView) -> BrainReport:
    refs = [f"{e.file}:{e.line}" for e in sorted(view.errors, key=_sort_at)[:1]]
    return _report(
        view,
        majority_answer(),
        "the most common root cause of the known scenarios, whatever the logs say",
        refs or [f"{STREAM_FILES['ui']}:1"],
    )


BASELINES: dict[str, Callable[[BlindView], BrainReport]] = {
    "most_errors": most_errors,
    "earliest_error": earliest_error,
    "majority_prior": majority_prior,
}


def run_baseline(name: str, blind_dir: str | Path, view: BlindView | None = None) -> BrainReport:
    """Run one baseline on a blind bundle directory."""
    return BASELINES[name](view if view is not None else read_blind(blind_dir))


def report_json(report: BrainReport) -> dict[str, Any]:
    return report.model_dump(mode="json")
