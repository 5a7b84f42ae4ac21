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
``kitchen_sink``
    Always answers one title naming every fault family (for each family of
    :func:`rca.eval.matching.families`, its first vocabulary phrase that names that
    family alone) and cites the first error line of each stream. The scorer finds it
    ambiguous (``AMBIGUOUS_ROOT_CAUSE``), so it passes no incident.
``signature_grep``
    The keyword matcher: counts the lines of each family's :data:`SIGNATURES` regex in
    its stream file and blames the family with the most (ties: registry order), with
    ``fault_type`` set, the family's root cause in words as the title (the label's
    ``root_cause`` less its drawn values) and its first five matching lines as refs; the
    other families with hits follow as hypotheses 2..n, by hits. No hit: "no incident".
``change_point``
    A statistical brain: per stream, error-ish lines per minute; the upward change
    point with the largest two-window Poisson likelihood ratio (see
    :func:`change_points`). Blames the stream whose significant change comes first
    (ties: the larger ratio); title = the most frequent error template after the change
    that did not occur before it (none new: the one that grew most), refs = its first
    five lines after the change. No significant change: "no incident".
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rca.seed import scenarios
from rca.seed.mock_incident_generator import MANIFEST_FILE, STREAM_FILES, STREAMS

from .evidence import line_instant
from .matching import families, families_named
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
    # The latest instant of any stream's last dated line (how long the bundle runs).
    end: datetime | None = None
    # Stream -> its lines, for the brains that grep the raw text.
    lines: dict[str, list[str]] = field(default_factory=dict)


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
    lasts = [t for s in STREAMS if (t := _last_instant(s, texts[s], at))]
    errors: list[ErrorLine] = []
    for s in STREAMS:
        for n, line in enumerate(texts[s], start=1):
            c = _classify(s, line)
            if c is not None:
                errors.append(ErrorLine(STREAM_FILES[s], n, s, at(s, line), c[0], c[1]))
    return BlindView(
        bid, min(firsts) if firsts else None, errors, max(lasts) if lasts else None, texts
    )


def _last_instant(
    stream: str, lines: list[str], at: Callable[[str, str], datetime | None]
) -> datetime | None:
    # The last lines may be blank or continuations (a stack trace): look back a little.
    for line in reversed(lines[-50:]):
        if t := at(stream, line):
            return t
    return None


def _hypothesis(
    title: str,
    summary: str,
    refs: list[str],
    confidence: float = CONFIDENCE,
    fault_type: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "title": title[:MAX_TITLE],
        "summary": summary,
        "confidence": confidence,
        "evidence_refs": refs,
    }
    if fault_type is not None:
        out["fault_type"] = fault_type
    return out


def _report(view: BlindView, title: str, summary: str, refs: list[str]) -> BrainReport:
    return _ranked(view, [_hypothesis(title, summary, refs)])


def _ranked(view: BlindView, hypotheses: list[dict[str, Any]]) -> BrainReport:
    return BrainReport.model_validate(
        {"incident_id": view.bundle_id, "status": "completed", "hypotheses": hypotheses}
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


def _undrawn(text: str) -> str:
    # Without the label there is no drawn value (a release, an index name) to fill in;
    # a parenthesis that only holds drawn values goes with them.
    text = re.sub(r" ?\([^()]*\{[a-z_]+\}[^()]*\)", "", text)
    return re.sub(r" ?\{[a-z_]+\}", "", text)


def majority_answer() -> str:
    """Root cause of the most common fault type among the registered incident scenarios."""
    specs = [(sid, scenarios.get(sid).label()) for sid in scenarios.scenario_ids()]
    incidents = [(sid, spec) for sid, spec in specs if spec.fault_type != "none"]
    counts = Counter(spec.fault_type for _sid, spec in incidents)
    _sid, spec = min(incidents, key=lambda p: (-counts[p[1].fault_type], p[0]))
    return _undrawn(spec.root_cause)


def majority_prior(view: BlindView) -> BrainReport:
    refs = [f"{e.file}:{e.line}" for e in sorted(view.errors, key=_sort_at)[:1]]
    return _report(
        view,
        majority_answer(),
        "the most common root cause of the known scenarios, whatever the logs say",
        refs or [f"{STREAM_FILES['ui']}:1"],
    )


def incident_families() -> list[str]:
    """Fault types of the incident scenarios, in registry order (each once)."""
    out: list[str] = []
    for sid in scenarios.incident_ids():
        ft = scenarios.get(sid).label().fault_type
        if ft not in out:
            out.append(ft)
    return out


def kitchen_sink_title() -> str:
    """One phrase per fault family, each the first of the family's vocabulary that the
    scorer reads as naming that family alone."""
    phrases = [
        next(t for t in terms if families_named(t) == [ft]) for ft, terms in families().items()
    ]
    return ", ".join(phrases[:-1]) + " or " + phrases[-1] if len(phrases) > 1 else phrases[0]


def kitchen_sink(view: BlindView) -> BrainReport:
    firsts = [
        min((e for e in view.errors if e.stream == s), key=lambda e: e.line, default=None)
        for s in STREAMS
    ]
    refs = [f"{e.file}:{e.line}" for e in firsts if e is not None]
    return _report(
        view,
        kitchen_sink_title(),
        "one of the known faults; every one is named so that the right one is among them",
        refs or [f"{STREAM_FILES['ui']}:1"],
    )


# The signature-grep brain of issue #16: one regex per fault family, in the stream file
# where that family's symptom is written, nothing smarter. Keys: the incident scenarios'
# fault types (tests/eval/test_baselines.py checks them against the registry).
SIGNATURES: dict[str, tuple[str, re.Pattern[str]]] = {
    "resource_exhaustion": (
        STREAM_FILES["api"],
        re.compile(r"Connection is not available, request timed out after"),
    ),
    "memory_leak": (STREAM_FILES["k8s"], re.compile(r"OOMKilling|exitCode=137")),
    "bad_deployment": (STREAM_FILES["api"], re.compile(r"java\.lang\.NullPointerException")),
    "query_plan_regression": (
        STREAM_FILES["db"],
        re.compile(r"LOG:  duration: \d{4,}\.\d+ ms"),
    ),
    "lock_contention": (STREAM_FILES["db"], re.compile(r"still waiting for \w+Lock")),
}
_STREAM_OF_FILE = {file: stream for stream, file in STREAM_FILES.items()}


def family_root_cause(fault_type: str) -> str:
    """The root cause of the family's first scenario in the registry, less drawn values."""
    sid = next(
        s for s in scenarios.incident_ids() if scenarios.get(s).label().fault_type == fault_type
    )
    return _undrawn(scenarios.get(sid).label().root_cause)


def signature_hits(view: BlindView) -> dict[str, list[int]]:
    """Family -> the line numbers (1-based) of its signature's file that match it."""
    out: dict[str, list[int]] = {}
    for fam, (file, pattern) in SIGNATURES.items():
        lines = view.lines.get(_STREAM_OF_FILE[file], [])
        out[fam] = [n for n, line in enumerate(lines, start=1) if pattern.search(line)]
    return out


def signature_grep(view: BlindView) -> BrainReport:
    hits = signature_hits(view)
    order = incident_families()
    ranked = sorted(
        (f for f in order if hits.get(f)), key=lambda f: (-len(hits[f]), order.index(f))
    )
    if not ranked:
        return _no_incident(view, "no family's signature in the logs")
    top = len(hits[ranked[0]])
    return _ranked(
        view,
        [
            _hypothesis(
                family_root_cause(f),
                f"{len(hits[f])} line(s) of {SIGNATURES[f][0]} match /{SIGNATURES[f][1].pattern}/",
                [f"{SIGNATURES[f][0]}:{n}" for n in hits[f][:MAX_REFS]],
                # Ranked by hits: a family with fewer is less likely.
                round(CONFIDENCE * len(hits[f]) / top, 4),
                fault_type=f,
            )
            for f in ranked
        ],
    )


BEFORE_MIN = 10  # minutes of the window before a candidate change point (at most)
AFTER_MIN = 5  # minutes of the window after it (at most)
MIN_WINDOW = 2  # fewer minutes on either side: no candidate
MIN_LLR = 20.0  # likelihood-ratio statistic a change must reach to count
MIN_RISE = 2.0  # lines/minute the after window's median must exceed the before rate by


@dataclass(frozen=True, slots=True)
class ChangePoint:
    stream: str
    minute: int  # minutes since the bundle's start: the first minute of the new rate
    before_minutes: int  # the windows compared: minutes before the change and from it on
    after_minutes: int
    before_rate: float  # error-ish lines per minute in each window
    after_rate: float
    llr: float


def _poisson_llr(before: Sequence[int], after: Sequence[int]) -> float:
    """2 log likelihood ratio of two Poisson rates against one (0 log 0 = 0)."""
    sb, sa, nb, na = sum(before), sum(after), len(before), len(after)
    pooled = (sb + sa) / (nb + na)

    def term(total: int, n: int) -> float:
        return total * math.log(total / n / pooled) if total else 0.0

    return 2.0 * (term(sb, nb) + term(sa, na))


def minute_counts(view: BlindView, stream: str) -> list[int]:
    """Error-ish lines of ``stream`` per minute since the bundle's start."""
    if view.start is None or view.end is None:
        return []
    counts = [0] * (int((view.end - view.start).total_seconds() // 60) + 1)
    for e in view.errors:
        if e.stream == stream and e.at is not None and e.at >= view.start:
            m = int((e.at - view.start).total_seconds() // 60)
            if m < len(counts):
                counts[m] += 1
    return counts


def change_points(view: BlindView) -> list[ChangePoint]:
    """Per stream, its most significant upward change of the error-ish rate, if any.

    Method: for every minute ``k`` with at least :data:`MIN_WINDOW` minutes on either
    side, compare the counts of the (up to) :data:`BEFORE_MIN` minutes before ``k`` with
    those of the (up to) :data:`AFTER_MIN` minutes from ``k`` on, as two Poisson rates:
    the statistic is the likelihood ratio ``2 (Sb ln(rb/r) + Sa ln(ra/r))`` (``S`` the
    counts, ``r`` the pooled rate). A candidate counts when the rate goes up, the
    statistic reaches :data:`MIN_LLR`, and the rise persists: the *median* minute of the
    after window exceeds the before rate by :data:`MIN_RISE` (a one- or two-minute burst,
    such as a scanner's, does not). The stream's change point is the candidate with the
    largest statistic (ties: the earlier minute). Streams in :data:`STREAMS` order.
    """
    out: list[ChangePoint] = []
    for stream in STREAMS:
        counts = minute_counts(view, stream)
        best: ChangePoint | None = None
        for k in range(MIN_WINDOW, len(counts) - MIN_WINDOW + 1):
            before = counts[max(0, k - BEFORE_MIN) : k]
            after = counts[k : k + AFTER_MIN]
            rb, ra = sum(before) / len(before), sum(after) / len(after)
            if ra <= rb or statistics.median(after) < rb + MIN_RISE:
                continue
            llr = _poisson_llr(before, after)
            if llr >= MIN_LLR and (best is None or llr > best.llr):
                best = ChangePoint(stream, k, len(before), len(after), rb, ra, llr)
        if best is not None:
            out.append(best)
    return out


def change_point(view: BlindView) -> BrainReport:
    found = change_points(view)
    if not found or view.start is None:
        return _no_incident(view, "no significant rise of error-ish lines in any stream")
    cp = min(found, key=lambda c: (c.minute, -c.llr))
    at = view.start + timedelta(minutes=cp.minute)
    since = at - timedelta(minutes=cp.before_minutes)
    upto = at + timedelta(minutes=cp.after_minutes)
    dated = [(t, e) for e in view.errors if e.stream == cp.stream and (t := e.at) is not None]
    seen = {e.template for t, e in dated if t < at}
    before = Counter(e.template for t, e in dated if since <= t < at)
    after = [e for t, e in dated if at <= t < upto]
    grown = Counter(e.template for e in after)
    new = [t for t in grown if t not in seen]
    # The dominant new template; with none new, the one whose rate grew most.
    pool = new or list(grown)

    def rise(t: str) -> float:
        was = 0.0 if new else before[t] / cp.before_minutes
        return grown[t] / cp.after_minutes - was

    first = {t: next(e for e in after if e.template == t) for t in pool}
    template = min(pool, key=lambda t: (-rise(t), _sort_at(first[t]), t))
    lines = [e for e in after if e.template == template][:MAX_REFS]
    return _report(
        view,
        first[template].message,
        f"{cp.stream}: error-ish lines rose from {cp.before_rate:.1f}/min to "
        f"{cp.after_rate:.1f}/min at minute {cp.minute} (likelihood ratio {cp.llr:.0f})",
        [f"{e.file}:{e.line}" for e in lines],
    )


BASELINES: dict[str, Callable[[BlindView], BrainReport]] = {
    "most_errors": most_errors,
    "earliest_error": earliest_error,
    "majority_prior": majority_prior,
    "kitchen_sink": kitchen_sink,
    "signature_grep": signature_grep,
    "change_point": change_point,
}


def run_baseline(name: str, blind_dir: str | Path, view: BlindView | None = None) -> BrainReport:
    """Run one baseline on a blind bundle directory."""
    return BASELINES[name](view if view is not None else read_blind(blind_dir))


def report_json(report: BrainReport) -> dict[str, Any]:
    return report.model_dump(mode="json")
