"""Score an RCA brain's report against a bundle's label: the rules.

Deterministic: no network, no model, no clock. Same bundle + same report + same
threshold => the same :class:`~rca.eval.models.EvaluationResult`.

Input
    A bundle directory (its ``ground_truth.json``; the stream files for checking refs)
    and a report, either shape of :mod:`rca.eval.models`. The report is refused as
    unusable (:class:`ReportError`, code ``INVALID_REPORT``, CLI exit 2, an error naming
    the file and the field) when it is not a regular file of at most 16 MiB (FIFOs,
    devices and links are never opened for a blocking read: :mod:`rca.eval._files`),
    not UTF-8 JSON, nested more than ``MAX_REPORT_DEPTH`` levels, holds an integer of
    more than ``MAX_REPORT_INT_DIGITS`` digits, is not an object, has neither
    ``hypotheses`` nor ``root_cause``, or a used field has the wrong type or range
    (``confidence`` outside 0..1, a ref that is not a string ...).

Prediction
    Brain report: the hypotheses are ranked by ``confidence``, highest first (a stable
    sort: ties keep the order given); the first one is the prediction: its ``title`` is
    the predicted root cause, its optional ``fault_type`` (closed vocabulary: every
    incident scenario's ``label().fault_type``, :func:`rca.eval.matching.fault_types`;
    anything else is ``INVALID_REPORT`` naming the allowed values) and ``component`` are
    structured answers, ``title + component + summary`` is the text for component
    credit, its ``evidence_refs`` are the evidence (other hypotheses' refs are ignored).
    An empty ``hypotheses`` list, a ``status`` of ``no_incident``, ``healthy``,
    ``no_anomaly`` or ``nothing_found``, or a no-incident title (see
    :mod:`rca.eval.matching`) predicts *no incident*. Minimal answer: ``root_cause``,
    ``confidence``, ``evidence_refs`` and the optional ``fault_type``/``component``
    directly; a no-incident ``root_cause`` (``none``, ``no incident`` ...) predicts no
    incident.

Root cause of one hypothesis (:func:`judge`)
    A ``fault_type``, when given, decides: equal to the label's ``fault_type``, a match
    (``matched_by`` ``fault_type:<type>``); any other, ``ROOT_CAUSE_MISMATCH``, whatever
    the title says. Without it the title is matched as free text
    (:func:`rca.eval.matching.match_root_cause`): a title naming two or more fault
    families is ``AMBIGUOUS_ROOT_CAUSE`` (no root-cause credit), a negated mention names
    nothing, a one-word generic title matches nothing.

Threshold
    ``--threshold`` when given, else the label's ``threshold_override``, else its
    ``threshold_default``. A confidence passes when ``confidence >= threshold``.

Confidence bounds
    The label's ``confidence_target_min/max`` bound how sure a passing answer may be.
    Incident label: the prediction's confidence must lie in ``min..max`` (0.7..1 for the
    incident scenarios), whatever the threshold (a ``--threshold 0.5`` does not make 0.6
    a pass) - else ``CONFIDENCE_OUT_OF_BOUNDS`` (only when the threshold was reached:
    a confidence below it is ``CONFIDENCE_BELOW_THRESHOLD`` alone). No-incident label: an
    incident hypothesis below the threshold still fails when its confidence is above
    ``max`` (0.3 for ``normal_load``: a hedge of 0.5 is not "no incident").

Evidence
    Each ref is checked against the bundle (:mod:`rca.eval.evidence`). A ref *hits* a
    label evidence pointer when it names the same file and line (or a range of at most 20
    lines containing it) or the pointer's request id. A ref is *relevant*
    (:func:`rca.eval.evidence.is_relevant`) when it is at most 20 lines, not a whole
    file, and holds a line of the label's evidence, causal chain or first signal, or a
    line of the root-cause layer's stream inside the incident window.

Verdict for an incident label (all must hold to pass; every failed one is a reason code,
in this order):
    * the prediction is an incident - else ``MISSED_INCIDENT``;
    * the top hypothesis names the root cause - else ``AMBIGUOUS_ROOT_CAUSE`` (its title
      names two or more families) or ``ROOT_CAUSE_MISMATCH``; a right answer at rank 2 or
      lower does not pass (it earns the ranked metrics below);
    * confidence >= threshold - else ``CONFIDENCE_BELOW_THRESHOLD``; and inside the
      label's bounds - else ``CONFIDENCE_OUT_OF_BOUNDS``;
    * at least one evidence ref - else ``NO_EVIDENCE``;
    * every ref is in the bundle - else ``EVIDENCE_NOT_IN_BUNDLE``;
    * at least one ref is relevant - else ``EVIDENCE_IRRELEVANT`` (one unrelated line, a
      whole file or a 500-line range is not evidence).
    Hitting label evidence is not required to pass (the label points at the first line
    of each signal; a brain may rightly cite another line of it); it earns score.

Verdict for the no-incident label (``normal_load``):
    * an incident predicted with confidence >= threshold - ``FALSE_ALARM``; an incident
      hypothesis below the threshold but above the label's ``confidence_target_max`` -
      ``CONFIDENCE_OUT_OF_BOUNDS``; "no incident" passes;
    * every ref is in the bundle - else ``EVIDENCE_NOT_IN_BUNDLE`` (relevance does not
      apply: there is no incident to evidence).

Score (0..1, rounded to 4 places), incident labels::

    0.5 * root_cause           1 if the top hypothesis matched, else 0
  + 0.2 * layer_component      1 component or fault type named, 0.5 layer named, else 0
  + 0.2 * evidence_recall      label evidence pointers hit / label evidence pointers
  + 0.1 * first_signal_timing  1 if a ref hits the label's first_signal pointer; else
                               the earliest instant among the cited lines vs the first
                               signal's: 1 within 60 s, falling linearly to 0 at 600 s
                               (klog lines, which carry no year, take the year that
                               dates them nearest to the first signal)

No-incident label: 1.0 for a no-incident prediction, else ``1 - confidence``; only the
``root_cause`` part is reported, the others are null.

Ranked metrics (``ranked``; incident labels only, null for the control), as RCAEval
defines them (``AC@k``: 1 if the true root cause is among the top k candidates;
``Avg@k``: the mean of AC@1..AC@k; phamquiluan/RCAEval,
``RCAEval/benchmark/evaluation.py``, ``Evaluator.accuracy``/``average``): over the ranked
hypotheses, ``rank`` is the 1-based rank of the first one that names the root cause
(:func:`judge`, the same rule as the verdict), ``ac_at_1``, ``ac_at_3`` and
``avg_at_5``. A no-incident prediction ranks nothing right. They sit beside pass/fail:
a right answer at rank 2 fails, with AC@1 0, AC@3 1 and Avg@5 0.8. ``expected`` names
the label's answer (fault type, root cause, component, layer) for the evaluator; the
scorer's output never goes into a blind export.

Suites (``score-suite``) add ``NO_REPORT`` (no report file for a bundle) and
``INVALID_REPORT`` (an unusable report), both fails with score 0.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from rca.seed.mock_incident_generator import GROUND_TRUTH_FILE, MANIFEST_FILE, GroundTruth

from ._files import UnreadableFile, read_regular_file
from .evidence import (
    BundleIndex,
    RefResult,
    check_ref,
    hits_pointer,
    is_relevant,
    parse_instant,
)
from .matching import component_credit, is_no_incident, match_root_cause
from .models import (
    BrainReport,
    EvaluationResult,
    ExpectedAnswer,
    MinimalAnswer,
    RankedMetrics,
    ReasonCode,
    RefCheck,
    ScoreParts,
)

WEIGHTS: dict[str, float] = {
    "root_cause": 0.5,
    "layer_component": 0.2,
    "evidence_recall": 0.2,
    "first_signal_timing": 0.1,
}
# RCAEval's ranked accuracy (phamquiluan/RCAEval, RCAEval/benchmark/evaluation.py:
# Evaluator counts int(answer in ranks[:k]) for k in 1..5; Avg@k = sum AC@1..AC@k / k).
AVG_AT_K = 5
TIMING_FULL_S = 60.0
TIMING_ZERO_S = 600.0
# The report contract's limits (specs/001-build-realistic-mock/contracts/README.md);
# the file size limit is rca.eval._files.MAX_INPUT_BYTES.
MAX_REPORT_DEPTH = 64
MAX_REPORT_INT_DIGITS = 4300
SHOWN_VALUE_CHARS = 80
NO_INCIDENT_STATUSES = frozenset({"no_incident", "healthy", "no_anomaly", "nothing_found"})

Report = BrainReport | MinimalAnswer
ThresholdSource = Literal["cli", "label_override", "label_default"]


class EvalInputError(Exception):
    """Unusable input: a report, bundle or option the scorer cannot use (exit 2).

    ``code`` is the stable error code the CLI prints first; ``field`` names the input
    (an option, ``BUNDLE``, or a key path inside a report).
    """

    code: str = "INVALID_PARAMETER"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.args[0]}"


class BundleError(EvalInputError):
    """A bundle directory the scorer cannot use (missing, no label, an invalid label)."""

    code = "INVALID_BUNDLE"

    def __init__(self, message: str) -> None:
        super().__init__("BUNDLE", message)


class ReportError(EvalInputError):
    """A report the scorer cannot use; ``path`` is its file when it was read from one.

    ``field`` is the key path inside the report (``hypotheses[0].confidence``), or
    ``REPORT`` for a problem with the file as a whole (not a regular file, too large,
    not JSON, nested too deeply).
    """

    code = "INVALID_REPORT"

    def __init__(self, field: str, message: str, path: str | Path | None = None) -> None:
        super().__init__(field, message)
        self.path = None if path is None else str(path)

    def __str__(self) -> str:
        if self.path is None:
            return super().__str__()
        if self.field == "REPORT":
            return f"{self.path}: {self.args[0]}"
        return f"{self.path}: {self.field}: {self.args[0]}"


# ---------------------------------------------------------------------- loading
def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "report"


def _shown(value: Any) -> str:
    """A value for an error message, cut short: a hostile report may hold megabytes."""
    text = repr(value)
    return text if len(text) <= SHOWN_VALUE_CHARS else f"{text[:SHOWN_VALUE_CHARS]}... (cut)"


def _validation_error(exc: ValidationError) -> ReportError:
    err = exc.errors()[0]
    field = _loc(tuple(err["loc"]))
    msg = str(err["msg"])
    value = err.get("input")
    shown = "" if err["type"] == "missing" or isinstance(value, dict) else f" (got {_shown(value)})"
    if err["type"] == "missing":
        msg = "missing"
    return ReportError(field, f"{msg}{shown}")


def parse_report(data: Any) -> Report:
    """A report object (already parsed JSON) as one of the two accepted shapes."""
    if not isinstance(data, dict):
        raise ReportError("report", f"must be a JSON object, got {type(data).__name__}")
    try:
        if "hypotheses" in data:
            return BrainReport.model_validate(data)
        if "root_cause" in data:
            return MinimalAnswer.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc) from None
    raise ReportError(
        "hypotheses",
        "missing: a brain report needs `hypotheses` (a list of {title, summary, "
        "confidence, evidence_refs}); a minimal answer needs `root_cause`",
    )


class _NotJson(ValueError):
    """Raised from the JSON decoder's hooks: text Python accepts but JSON does not."""


def _json_int(text: str) -> int:
    # Python's own limit (4300 digits) is a process setting a caller can lift, and
    # int() of a huge digit string is quadratic: the report format fixes its own.
    if len(text.lstrip("-")) > MAX_REPORT_INT_DIGITS:
        raise _NotJson(f"holds an integer of more than {MAX_REPORT_INT_DIGITS} digits")
    return int(text)


def _json_constant(name: str) -> Any:
    raise _NotJson(f"not valid JSON ({name} is not a JSON value)")


def _deeper_than(data: Any, limit: int) -> bool:
    """Whether arrays/objects nest more than ``limit`` levels (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def decode_report(raw: bytes, path: str | Path | None = None) -> Any:
    """The JSON value of a report's bytes; :class:`ReportError` (code INVALID_REPORT) if
    the bytes are not UTF-8 JSON within the limits of the report contract."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReportError(
            "REPORT", f"not UTF-8 text (invalid byte at offset {exc.start})", path
        ) from None
    too_deep = f"nested deeper than {MAX_REPORT_DEPTH} levels"
    try:
        data = json.loads(text, parse_int=_json_int, parse_constant=_json_constant)
    except json.JSONDecodeError as exc:
        raise ReportError(
            "REPORT", f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", path
        ) from None
    except _NotJson as exc:
        raise ReportError("REPORT", str(exc), path) from None
    except RecursionError:  # the decoder recurses per level: far past MAX_REPORT_DEPTH
        raise ReportError("REPORT", too_deep, path) from None
    if _deeper_than(data, MAX_REPORT_DEPTH):
        raise ReportError("REPORT", too_deep, path)
    return data


def load_report(path: str | Path) -> Report:
    """Read and parse a report file: a regular file of at most MAX_INPUT_BYTES bytes."""
    try:
        raw = read_regular_file(path)
    except UnreadableFile as exc:
        raise ReportError("REPORT", str(exc), path) from None
    try:
        return parse_report(decode_report(raw, path))
    except ReportError as exc:
        if exc.path is not None:
            raise
        raise ReportError(exc.field, exc.args[0], path) from None


def load_truth(bundle_dir: str | Path) -> GroundTruth:
    bundle = Path(bundle_dir)
    if not bundle.is_dir():
        raise BundleError(f"{bundle}: no such bundle directory")
    path = bundle / GROUND_TRUTH_FILE
    if not os.path.lexists(path):
        hint = ""
        manifest = bundle / MANIFEST_FILE
        if manifest.is_file() and "rca-blind-bundle" in manifest.read_text(errors="replace"):
            hint = " (a blind export carries no label: score against the original bundle)"
        raise BundleError(f"{bundle}: no {GROUND_TRUTH_FILE}{hint}")
    try:
        raw = read_regular_file(path)
    except UnreadableFile as exc:
        raise BundleError(f"{path}: {exc}") from None
    try:
        return GroundTruth.model_validate_json(raw)
    except ValidationError as exc:
        inner = _validation_error(exc)
        raise BundleError(f"{path}: invalid label at {inner.field}: {inner.args[0]}") from None


def resolve_threshold(truth: GroundTruth, cli: float | None) -> tuple[float, ThresholdSource]:
    if cli is not None:
        if not 0.0 <= cli <= 1.0:
            raise EvalInputError("--threshold", f"must be within 0..1 (got {cli})")
        return cli, "cli"
    if truth.threshold_override is not None:
        return truth.threshold_override, "label_override"
    return truth.threshold_default, "label_default"


# ---------------------------------------------------------------------- prediction
@dataclass(frozen=True, slots=True)
class Candidate:
    """One hypothesis as the scorer reads it: what it names and how sure it is."""

    title: str
    fault_type: str | None
    confidence: float


@dataclass(frozen=True, slots=True)
class Prediction:
    shape: Literal["brain", "minimal"]
    incident: bool
    root_cause: str | None
    fault_type: str | None
    text: str  # root cause + component + summary, for component credit
    confidence: float | None
    refs: list[str]
    ranked: list[Candidate]  # by confidence, highest first; ties in the order given


def predict(report: Report, truth: GroundTruth) -> Prediction:
    extra = () if truth.incident else tuple(truth.root_cause_aliases)
    if isinstance(report, MinimalAnswer):
        return Prediction(
            "minimal",
            not is_no_incident(report.root_cause, extra),
            report.root_cause,
            report.fault_type,
            f"{report.root_cause}\n{report.component or ''}",
            report.confidence,
            list(report.evidence_refs),
            [Candidate(report.root_cause, report.fault_type, report.confidence)],
        )
    if not report.hypotheses:
        return Prediction("brain", False, None, None, "", None, [], [])
    # sorted() is stable: a tie keeps the order given, so the first one given leads.
    ranked = sorted(report.hypotheses, key=lambda h: -h.confidence)
    top = ranked[0]
    status = (report.status or "").strip().lower().replace("-", "_").replace(" ", "_")
    incident = status not in NO_INCIDENT_STATUSES and not is_no_incident(top.title, extra)
    return Prediction(
        "brain",
        incident,
        top.title,
        top.fault_type,
        f"{top.title}\n{top.component or ''}\n{top.summary}",
        top.confidence,
        list(top.evidence_refs),
        [Candidate(h.title, h.fault_type, h.confidence) for h in ranked],
    )


@dataclass(frozen=True, slots=True)
class Judgement:
    matched_by: str | None
    named: tuple[str, ...]
    ambiguous: bool


def judge(title: str, fault_type: str | None, truth: GroundTruth) -> Judgement:
    """Whether one hypothesis names the label's root cause. A structured ``fault_type``
    decides (right: a match; wrong: a mismatch, whatever the title says); else the
    title's free text (:func:`rca.eval.matching.match_root_cause`)."""
    if fault_type is not None:
        right = fault_type == truth.fault_type
        return Judgement(f"fault_type:{fault_type}" if right else None, (fault_type,), False)
    m = match_root_cause(title, truth)
    return Judgement(m.matched_by, m.named, m.ambiguous)


def ranked_metrics(pred: Prediction, truth: GroundTruth) -> RankedMetrics | None:
    """RCAEval's AC@k (1 if a right hypothesis is among the top k) and Avg@5 (the mean of
    AC@1..AC@5) over the ranked hypotheses; None for the no-incident label. A report
    that predicts no incident ranks nothing right."""
    if not truth.incident:
        return None
    rank = None
    if pred.incident:
        for i, c in enumerate(pred.ranked, start=1):
            if judge(c.title, c.fault_type, truth).matched_by is not None:
                rank = i
                break

    def ac(k: int) -> float:
        return 1.0 if rank is not None and rank <= k else 0.0

    avg = sum(ac(k) for k in range(1, AVG_AT_K + 1)) / AVG_AT_K
    return RankedMetrics(rank=rank, ac_at_1=ac(1), ac_at_3=ac(3), avg_at_5=round(avg, 4))


def expected_answer(truth: GroundTruth) -> ExpectedAnswer:
    return ExpectedAnswer(
        fault_type=truth.fault_type,
        root_cause=truth.root_cause,
        component=truth.root_cause_component,
        layer=truth.root_cause_layer,
    )


def _in_bounds(conf: float | None, truth: GroundTruth) -> bool:
    return conf is not None and (truth.confidence_target_min <= conf <= truth.confidence_target_max)


# ---------------------------------------------------------------------- scoring
def _timing(t: datetime | None, first: datetime | None) -> float:
    if t is None or first is None:
        return 0.0
    delta = abs((t - first).total_seconds())
    if delta <= TIMING_FULL_S:
        return 1.0
    if delta >= TIMING_ZERO_S:
        return 0.0
    return round(1.0 - (delta - TIMING_FULL_S) / (TIMING_ZERO_S - TIMING_FULL_S), 4)


def evaluate(
    bundle_dir: str | Path,
    report: Report,
    threshold: float | None = None,
    *,
    truth: GroundTruth | None = None,
    index: BundleIndex | None = None,
) -> EvaluationResult:
    """Score ``report`` against the bundle at ``bundle_dir`` (see the module rules)."""
    bundle = Path(bundle_dir)
    truth = truth if truth is not None else load_truth(bundle)
    index = index if index is not None else BundleIndex(bundle)
    thr, source = resolve_threshold(truth, threshold)
    pred = predict(report, truth)

    checked: list[RefResult] = [check_ref(r, index) for r in pred.refs]
    pointers = list(truth.evidence)
    hit_keys: set[tuple[str, int]] = set()
    checks: list[RefCheck] = []
    relevant: list[bool] = []
    for res in checked:
        hits = [p for p in pointers if hits_pointer(res, p)]
        hit_keys |= {(p.file, p.line) for p in hits}
        relevant.append(is_relevant(res, truth, index))
        checks.append(
            RefCheck(
                ref=res.parsed.ref,
                kind=res.parsed.kind,  # type: ignore[arg-type]
                in_bundle=res.in_bundle,
                detail=res.detail,
                hits=[f"{p.file}:{p.line}" for p in hits],
                relevant=relevant[-1],
            )
        )
    invalid = any(not r.in_bundle for r in checked)
    reasons: list[ReasonCode] = []
    matched_by: str | None = None
    named: tuple[str, ...] = ()
    conf = pred.confidence

    if not truth.incident:
        alarm = pred.incident and conf is not None and conf >= thr
        if alarm:
            reasons.append("FALSE_ALARM")
        elif pred.incident and not _in_bounds(conf, truth):
            # Below the threshold, yet more sure of an incident than the label allows.
            reasons.append("CONFIDENCE_OUT_OF_BOUNDS")
        if invalid:
            reasons.append("EVIDENCE_NOT_IN_BUNDLE")
        value = 1.0 if not pred.incident else round(1.0 - (conf or 0.0), 4)
        matched_by = "no_incident" if not pred.incident else None
        parts = ScoreParts(root_cause=value)
        score = value
    else:
        if pred.incident:
            j = judge(pred.root_cause or "", pred.fault_type, truth)
            matched_by, named = j.matched_by, j.named
            if j.ambiguous:
                reasons.append("AMBIGUOUS_ROOT_CAUSE")
            elif matched_by is None:
                reasons.append("ROOT_CAUSE_MISMATCH")
        else:
            matched_by = "no_incident"
            reasons.append("MISSED_INCIDENT")
        root_ok = pred.incident and matched_by is not None
        if pred.incident and (conf is None or conf < thr):
            reasons.append("CONFIDENCE_BELOW_THRESHOLD")
        elif pred.incident and not _in_bounds(conf, truth):
            reasons.append("CONFIDENCE_OUT_OF_BOUNDS")
        if pred.incident and not pred.refs:
            reasons.append("NO_EVIDENCE")
        if invalid:
            reasons.append("EVIDENCE_NOT_IN_BUNDLE")
        if pred.incident and pred.refs and not invalid and not any(relevant):
            reasons.append("EVIDENCE_IRRELEVANT")
        first = truth.first_signal
        first_at = parse_instant(first.at) if first is not None else None
        year = first_at.year if first_at is not None else 1970
        instants = [
            t
            for res in checked
            if res.in_bundle
            for (f, n, _end) in res.locations
            if (t := index.instant(f, n, year, near=first_at)) is not None
        ]
        parts = ScoreParts(
            root_cause=1.0 if root_ok else 0.0,
            layer_component=component_credit(pred.text, truth) if pred.incident else 0.0,
            evidence_recall=round(len(hit_keys) / len(pointers), 4) if pointers else 0.0,
            first_signal_timing=1.0
            if first is not None and any(hits_pointer(r, first) for r in checked)
            else _timing(min(instants) if instants else None, first_at),
        )
        score = round(
            sum(WEIGHTS[k] * (getattr(parts, k) or 0.0) for k in WEIGHTS),
            4,
        )
    return EvaluationResult(
        bundle_id=truth.bundle_id,
        scenario_id=truth.scenario_id,
        incident=truth.incident,
        report_shape=pred.shape,
        predicted_incident=pred.incident,
        predicted_root_cause=pred.root_cause,
        predicted_confidence=conf,
        matched_by=matched_by,
        named_families=list(named),
        expected=expected_answer(truth),
        ranked=ranked_metrics(pred, truth),
        threshold_used=thr,
        threshold_source=source,
        pass_fail="fail" if reasons else "pass",
        reason_codes=reasons,
        score=min(1.0, max(0.0, score)),
        score_parts=parts,
        evidence=checks,
        label_evidence_hit=len(hit_keys),
        label_evidence_total=len(pointers),
    )


def score_files(
    bundle_dir: str | Path, report_path: str | Path, threshold: float | None = None
) -> EvaluationResult:
    """Load both inputs (raising :class:`EvalInputError` when unusable) and score."""
    truth = load_truth(bundle_dir)
    report = load_report(report_path)
    return evaluate(bundle_dir, report, threshold, truth=truth)


def unusable_result(
    truth: GroundTruth, reason: ReasonCode, threshold: float | None, error: str | None = None
) -> EvaluationResult:
    """The result row of a bundle whose report is missing or unusable (suites)."""
    thr, source = resolve_threshold(truth, threshold)
    return EvaluationResult(
        bundle_id=truth.bundle_id,
        scenario_id=truth.scenario_id,
        incident=truth.incident,
        report_shape="none",
        predicted_incident=None,
        predicted_root_cause=None,
        predicted_confidence=None,
        threshold_used=thr,
        threshold_source=source,
        pass_fail="fail",
        reason_codes=[reason],
        score=0.0,
        score_parts=ScoreParts(root_cause=0.0),
        expected=expected_answer(truth),
        ranked=RankedMetrics(rank=None, ac_at_1=0.0, ac_at_3=0.0, avg_at_5=0.0)
        if truth.incident
        else None,
        label_evidence_total=len(truth.evidence),
        error=error,
    )


def perfect_report(truth: GroundTruth, confidence: float = 0.95) -> dict[str, Any]:
    """A brain report built from the label itself: the upper bound a brain can reach."""
    if not truth.incident:
        return {"incident_id": truth.bundle_id, "status": "no_incident", "hypotheses": []}
    refs = [f"{p.file}:{p.line}" for p in truth.evidence]
    return {
        "incident_id": truth.bundle_id,
        "status": "completed",
        "hypotheses": [
            {
                "title": truth.root_cause,
                "summary": f"{truth.root_cause_component}; trigger: {truth.trigger}",
                "confidence": confidence,
                "evidence_refs": refs,
            }
        ],
    }


def format_result(r: EvaluationResult, expected: str | None = None) -> str:
    """A readable verdict."""
    head = f"{r.pass_fail.upper()}  {r.bundle_id} ({r.scenario_id})  score {r.score:.3f}"
    lines = [head]
    predicted = "no incident" if r.predicted_incident is False else repr(r.predicted_root_cause)
    conf = "n/a" if r.predicted_confidence is None else f"{r.predicted_confidence:.2f}"
    lines.append(
        f"  predicted: {predicted} (confidence {conf}; threshold {r.threshold_used:.2f} "
        f"from {r.threshold_source})"
    )
    if expected is not None:
        lines.append(f"  expected:  {expected!r}")
    if r.incident:
        lines.append(
            f"  root cause: {'matched by ' + r.matched_by if r.matched_by else 'no match'}"
            f" (expected fault type {r.expected.fault_type}"
            f"{'; names ' + ', '.join(r.named_families) if r.named_families else ''})"
        )
    if r.ranked is not None:
        rank = "none" if r.ranked.rank is None else str(r.ranked.rank)
        lines.append(
            f"  ranked: right answer at rank {rank}; AC@1 {r.ranked.ac_at_1:.0f}, "
            f"AC@3 {r.ranked.ac_at_3:.0f}, Avg@5 {r.ranked.avg_at_5:.2f}"
        )
    lines.append(f"  reasons: {', '.join(r.reason_codes) if r.reason_codes else 'none'}")
    parts = r.score_parts.model_dump()
    shown = [f"{k} {v:.2f}" for k, v in parts.items() if v is not None]
    lines.append(f"  parts: {', '.join(shown)}")
    ok = sum(1 for e in r.evidence if e.in_bundle)
    lines.append(
        f"  evidence: {len(r.evidence)} ref(s), {ok} in bundle; label evidence hit "
        f"{r.label_evidence_hit}/{r.label_evidence_total}"
    )
    for e in r.evidence:
        if not e.in_bundle:
            lines.append(f"    not in bundle: {e.ref!r}: {e.detail}")
    if r.error:
        lines.append(f"  error: {r.error}")
    return "\n".join(lines)
