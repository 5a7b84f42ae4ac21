"""Pydantic v2 contracts of evaluation: what a brain hands in, what the scorer hands back.

Two report shapes are accepted (see :mod:`rca.eval.scoring` for the rules):

* :class:`BrainReport` - the shape RCA brains already emit: ``incident_id``, ``status``,
  ``hypotheses`` (each with ``title``, ``summary``, ``confidence``, ``evidence_refs``).
  Extra keys, top-level or per hypothesis, are tolerated and ignored; the fields the
  scorer uses are validated strictly (a confidence given as text, a bool, NaN or outside
  0..1 is refused, not coerced).
* :class:`MinimalAnswer` - ``root_cause``, ``confidence``, ``evidence_refs``.
"""

from __future__ import annotations

import typing
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from rca.seed._models import AnyStreamFile, ArtifactFormat, StreamName

from .matching import fault_types

Confidence = Annotated[
    float,
    Field(ge=0.0, le=1.0, strict=True, allow_inf_nan=False, description="0..1"),
]
Ref = Annotated[
    str,
    Field(
        strict=True,
        min_length=1,
        description="`file:line`, `file:start-end` or a 32-hex request id.",
    ),
]
Refs = Annotated[list[Ref], Field(strict=True)]
Text = Annotated[str, Field(strict=True)]


def _known_fault_type(value: str) -> str:
    allowed = fault_types()
    if value not in allowed:
        raise ValueError(f"unknown fault_type; allowed: {', '.join(allowed)}")
    return value


# The closed vocabulary is the registry's: every incident scenario's label().fault_type
# (rca.eval.matching.fault_types); the schema's enum is generated from it.
FaultType = Annotated[
    str,
    Field(strict=True),
    AfterValidator(_known_fault_type),
    WithJsonSchema(
        {
            "type": "string",
            "enum": fault_types(),
            "description": "The fault family, from the closed vocabulary; when given it "
            "decides the root-cause match instead of the title.",
        }
    ),
]
Component = Annotated[
    str,
    Field(strict=True, min_length=1, description="The faulty component, in words."),
]

ReasonCode = Literal[
    "ROOT_CAUSE_MISMATCH",
    "AMBIGUOUS_ROOT_CAUSE",
    "CONFIDENCE_BELOW_THRESHOLD",
    "CONFIDENCE_OUT_OF_BOUNDS",
    "NO_EVIDENCE",
    "EVIDENCE_NOT_IN_BUNDLE",
    "EVIDENCE_IRRELEVANT",
    "FALSE_ALARM",
    "MISSED_INCIDENT",
    "NO_REPORT",
    "INVALID_REPORT",
]
REASON_CODES: tuple[ReasonCode, ...] = typing.get_args(ReasonCode)


class _Lenient(BaseModel):
    """Unknown keys are kept aside and ignored; known keys are checked strictly."""

    model_config = ConfigDict(extra="allow", frozen=True)


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hypothesis(_Lenient):
    title: Text = Field(min_length=1, description="The proposed root cause, in words.")
    summary: Text = Field(default="", description="Explanation; used for component credit.")
    confidence: Confidence
    evidence_refs: Refs = Field(description="Where in the bundle the evidence is.")
    fault_type: FaultType | None = None
    component: Component | None = None


class BrainReport(_Lenient):
    """The report shape RCA brains emit; the top-confidence hypothesis is the prediction."""

    incident_id: Text | None = None
    status: Text | None = Field(
        default=None,
        description="Free text; no_incident/healthy/no_anomaly/nothing_found mean no incident.",
    )
    hypotheses: list[Hypothesis] = Field(
        description="Candidate root causes; an empty list means no incident was found."
    )


class MinimalAnswer(_Lenient):
    """The least a system under test can answer."""

    root_cause: Text = Field(
        min_length=1, description="The root cause in words; 'none' or 'no incident' for none."
    )
    confidence: Confidence
    evidence_refs: Refs = Field(default_factory=list)
    fault_type: FaultType | None = None
    component: Component | None = None


# ---------------------------------------------------------------------- results
class RefCheck(_Closed):
    """One evidence ref of the prediction, checked against the bundle."""

    ref: str
    kind: Literal["line", "range", "request_id", "unparsed"]
    in_bundle: bool
    detail: str = ""
    hits: list[str] = Field(
        default_factory=list, description="Label evidence pointers (`file:line`) it hits."
    )
    relevant: bool = Field(
        default=False,
        description="Counts as evidence of the incident: it holds a label evidence or causal "
        "chain line, or a line of the root-cause layer's stream inside the incident window, "
        "and is at most MAX_RANGE_FOR_HITS lines, not a whole file.",
    )


class ScoreParts(_Closed):
    """The graded parts of the score, each 0..1; None where a part does not apply."""

    root_cause: float = Field(ge=0.0, le=1.0)
    layer_component: float | None = Field(default=None, ge=0.0, le=1.0)
    evidence_recall: float | None = Field(default=None, ge=0.0, le=1.0)
    first_signal_timing: float | None = Field(default=None, ge=0.0, le=1.0)


class ExpectedAnswer(_Closed):
    """The label's answer, for the evaluator (never part of a blind export)."""

    fault_type: str
    root_cause: str
    component: str | None
    layer: str | None


class RankedMetrics(_Closed):
    """RCAEval's ranked accuracy over the hypotheses ranked by confidence (ties: order
    given); incident labels only."""

    rank: int | None = Field(
        ge=1, description="1-based rank of the first right hypothesis; null if none is."
    )
    ac_at_1: float = Field(ge=0.0, le=1.0)
    ac_at_3: float = Field(ge=0.0, le=1.0)
    avg_at_5: float = Field(ge=0.0, le=1.0, description="Mean of AC@1..AC@5.")


class EvaluationResult(_Closed):
    schema_version: Literal["1.0"] = "1.0"
    bundle_id: str
    scenario_id: str
    incident: bool = Field(description="The label's answer: is there an incident at all?")
    report_shape: Literal["brain", "minimal", "none"]
    predicted_incident: bool | None
    predicted_root_cause: str | None
    predicted_confidence: float | None
    matched_by: str | None = Field(
        default=None, description="Which rule matched the root cause (or 'no_incident')."
    )
    named_families: list[str] = Field(
        default_factory=list,
        description="Fault families the predicted root cause names (two or more: ambiguous).",
    )
    expected: ExpectedAnswer
    ranked: RankedMetrics | None = Field(
        default=None, description="AC@1, AC@3, Avg@5; null for the no-incident label."
    )
    threshold_used: float = Field(ge=0.0, le=1.0)
    threshold_source: Literal["cli", "label_override", "label_default"]
    pass_fail: Literal["pass", "fail"]
    reason_codes: list[ReasonCode]
    score: float = Field(ge=0.0, le=1.0)
    score_parts: ScoreParts
    evidence: list[RefCheck] = Field(default_factory=list)
    label_evidence_hit: int = Field(default=0, ge=0)
    label_evidence_total: int = Field(default=0, ge=0)
    error: str | None = Field(default=None, description="Why the report was unusable.")


# ---------------------------------------------------------------------- blind bundles
class BlindArtifact(_Closed):
    """One stream of a blind export: what a reader needs to parse it and to check the
    copy. No record, line or byte count: those alone tell the scenarios apart."""

    file: AnyStreamFile
    stream: StreamName
    format: ArtifactFormat
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class BlindManifest(_Closed):
    """The only metadata a system under test gets: the blind id, and per stream its file,
    stream, format and sha256."""

    schema_version: Literal["1.0"] = "1.0"
    kind: Literal["rca-blind-bundle"] = "rca-blind-bundle"
    bundle_id: str = Field(pattern=r"^blind-[0-9a-f]{16}$")
    artifacts: list[BlindArtifact]


class BlindKey(_Closed):
    """``blind-key.json`` beside the bundles: the salt of their blind ids, for the scorer.

    Never part of a blind export: whoever holds the salt can map blind ids to bundles.
    """

    schema_version: Literal["1.0"] = "1.0"
    kind: Literal["rca-blind-key"] = "rca-blind-key"
    salt: str = Field(min_length=1, strict=True, description="Secret key of the blind ids.")
