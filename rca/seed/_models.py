"""Pydantic v2 contracts of the bundle: request, ground truth, manifest.

All models are frozen and forbid unknown keys, so a typo in a config or a label fails
loudly instead of being ignored.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ._errors import GenerationError

STREAM_FILES: dict[str, str] = {
    "ui": "ui_events.log",
    "api": "api_logs.log",
    "db": "db_events.log",
    "k8s": "k8s_events.log",
    "mesh": "mesh_events.jsonl",
}
STREAMS: tuple[str, ...] = tuple(STREAM_FILES)
# What kinds of data a bundle may hold, each with its stream files. The logs are every
# bundle's (the v0 bundle is logs only); the others are opt-in, with the request's
# ``modalities``. A stream is rendered from the same simulation whichever others are on,
# so turning a modality on adds its files and changes no byte of the others.
MODALITY_STREAMS: dict[str, dict[str, str]] = {
    "logs": STREAM_FILES,
    "metrics": {"metrics": "metrics_openmetrics.txt"},
    "traces": {"traces": "traces_otlp.jsonl"},
}
MODALITIES: tuple[str, ...] = tuple(MODALITY_STREAMS)
ALL_STREAM_FILES: dict[str, str] = {
    s: f for files in MODALITY_STREAMS.values() for s, f in files.items()
}
# Each stream file's format, as the manifest records it.
STREAM_FORMATS: dict[str, str] = {s: "text" for s in ALL_STREAM_FILES} | {
    "mesh": "jsonl",
    "metrics": "openmetrics",
    "traces": "jsonl",
}
GROUND_TRUTH_FILE = "ground_truth.json"
MANIFEST_FILE = "manifest.json"

StreamName = Literal["ui", "api", "db", "k8s", "mesh", "metrics", "traces"]
StreamFile = Literal[
    "ui_events.log", "api_logs.log", "db_events.log", "k8s_events.log", "mesh_events.jsonl"
]  # the logs: what evidence may cite
AnyStreamFile = Literal[
    "ui_events.log",
    "api_logs.log",
    "db_events.log",
    "k8s_events.log",
    "mesh_events.jsonl",
    "metrics_openmetrics.txt",
    "traces_otlp.jsonl",
]
ArtifactFormat = Literal["text", "jsonl", "json", "openmetrics"]
Layer = Literal["ui", "api", "db", "k8s", "mesh"]
NoiseProfile = Literal["low", "medium", "high"]
Difficulty = Literal["easy", "standard", "hard"]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
# The literals are what the JSON Schemas publish; the dictionaries are the declaration.
assert typing.get_args(StreamName) == tuple(ALL_STREAM_FILES)
assert typing.get_args(StreamFile) == tuple(STREAM_FILES.values())
assert typing.get_args(AnyStreamFile) == tuple(ALL_STREAM_FILES.values())
assert set(typing.get_args(ArtifactFormat)) == {*STREAM_FORMATS.values(), "json"}

MIN_DURATION_MINUTES = 15
MAX_DURATION_MINUTES = 1440

# The instants a window may span (issue 17 items 7 and 8, measured with both engines).
# - From the Unix epoch: the simulation counts microseconds since it, and treats 0 and -1
#   as "since ever" and "none" (a pooled connection is free from 0; a tick at -1 starts
#   no noise chunk), so a window before 1970 had its pools busy until the epoch (269
#   readiness failures in a quiet normal_load) and no background noise.
# - To an hour before year 10000: the simulation's last tick is an hour past the window's
#   end (_sim.Simulation, _simcore.c), and every instant up to it is printed with a
#   four-digit year (datetime and the log formats stop at 9999).
EARLIEST_START = datetime(1970, 1, 1, tzinfo=UTC)
RUNS_PAST_END = timedelta(hours=1)
LATEST_END = datetime(9999, 12, 31, 23, tzinfo=UTC)  # + RUNS_PAST_END: year 10000 begins
# Below ~1e-12 requests/s the compiled core's mean gap between arrivals (1e6 / rate
# microseconds, times up to ~37 for the largest exponential draw) overflows 64 bits
# (measured: 1e-12 works, 1e-13 fails); 1e-9 keeps a factor 1000 from it. A bundle that
# slow holds no requests at all; scenarios declare the rate their incident needs.
MIN_RPS = 1e-9


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _utc(value: object) -> object:
    """Accept RFC 3339 text or an aware datetime; normalise to UTC."""
    if isinstance(value, str):
        text = value.strip()
        if not text or "T" not in text.upper():
            raise ValueError("must be an RFC 3339 timestamp such as 2026-11-26T05:00:00Z")
        try:
            value = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError as exc:
            raise ValueError("must be an RFC 3339 timestamp such as 2026-11-26T05:00:00Z") from exc
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(
                "must carry a UTC offset (e.g. a trailing Z); naive times are ambiguous"
            )
        return value.astimezone(UTC)
    return value


def _rfc3339(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class FieldRole(StrEnum):
    """What a request field reaches: which of a bundle's files change with it."""

    STREAM = "stream"  # the streams' bytes (and with them the label and the manifest)
    LABEL = "label"  # only ground_truth.json and manifest.json, never a stream
    FILES = "files"  # which files the bundle holds (its id, its manifest), no file's bytes


@dataclass(frozen=True, slots=True)
class _Declared:
    """What :func:`request_field` declares beyond pydantic's ``Field``. Kept as the
    field's ``json_schema_extra`` callable, which leaves the JSON Schema as it is: the
    published contracts (specs/001-build-realistic-mock/contracts/) do not change."""

    role: FieldRole
    example: object
    suite_axis: str | None
    omit_default: bool

    def __call__(self, schema: dict[str, JsonValue]) -> None:
        return None


def request_field(
    default: Any = PydanticUndefined,
    *,
    role: FieldRole,
    example: object,
    suite_axis: str | None = None,
    omit_default: bool = False,
    **field: Any,
) -> Any:
    """A :class:`GenerationRequest` field with what every layer derives from it.

    ``role``: what it changes (stream jobs leave LABEL fields out of their params).
    ``example``: a valid value other than the default, with which
    ``tests/unit/test_request_fields.py`` proves the field reaches every layer.
    ``suite_axis``: the key of a suite (``config/suites.yaml``) that sweeps this field;
    such a field is no override of a suite's ``request``.
    ``omit_default``: at its default the field is left out of the canonical request
    (:meth:`GenerationRequest.canonical`: the bundle id and the manifest's ``request``).
    Every field added after v0 sets it, and at its default changes no byte, so adding it
    leaves every existing bundle's id and bytes as they were. The rest is pydantic's
    ``Field``.
    """
    declared = _Declared(role, example, suite_axis, omit_default)
    return Field(default, json_schema_extra=declared, **field)


# Each field is declared once, here, with request_field: the CLI flags, the config and
# suite layers, the workflow's params, the bundle id and the manifest derive from it.
# (A comment, not the docstring: the docstring is the contracts' schema description.)
class GenerationRequest(Contract):
    """Everything that determines a bundle's streams.

    Same request => byte-identical streams.
    """

    scenario: str = request_field(
        role=FieldRole.STREAM,
        example="bad_api_rollout",
        suite_axis="scenarios",
        description="Scenario id; see `list-scenarios`.",
    )
    seed: int = request_field(
        role=FieldRole.STREAM,
        example=7,
        suite_axis="seeds",
        ge=0,
        le=2**63 - 1,
        description="Random seed.",
    )
    time_anchor: datetime = request_field(
        role=FieldRole.STREAM,
        example="2026-11-26T05:00:00Z",
        description="Start of the incident window, RFC 3339 (normalised to UTC).",
    )
    duration_minutes: int = request_field(
        30,
        role=FieldRole.STREAM,
        example=20,
        ge=MIN_DURATION_MINUTES,
        le=MAX_DURATION_MINUTES,
        description="Length of the window in minutes.",
    )
    resolution_seconds: int = request_field(
        10,
        role=FieldRole.STREAM,
        example=60,
        ge=1,
        le=300,
        description="Step of the traffic-rate curve: the arrival rate changes every step.",
    )
    noise_profile: NoiseProfile = request_field(
        "medium",
        role=FieldRole.STREAM,
        example="high",
        suite_axis="noise_profiles",
        description="How much unrelated background noise to add.",
    )
    threshold: Probability = request_field(
        0.70,
        role=FieldRole.LABEL,
        example=0.8,
        description="Pass threshold written to the label as threshold_default.",
    )
    threshold_override: Probability | None = request_field(
        None,
        role=FieldRole.LABEL,
        example=0.9,
        description="Per-bundle threshold override written to the label.",
    )
    rps: float = request_field(
        5.0,
        role=FieldRole.STREAM,
        example=0.7,
        ge=MIN_RPS,
        le=2000.0,
        description="Mean baseline request rate at the web tier over the window (requests/s); "
        "a scenario's traffic spike comes on top.",
    )
    api_replicas: int = request_field(
        3,
        role=FieldRole.STREAM,
        example=4,
        ge=2,
        le=12,
        description="orders-api pods before any scaling.",
    )
    difficulty: Difficulty = request_field(
        "standard",
        role=FieldRole.STREAM,
        example="easy",
        # Recorded in every manifest (not omit_default): it changed the bytes of the
        # bundles that existed before it (standard is not v0's fixed story).
        description="How hard the incident is to diagnose: easy keeps each scenario's "
        "fixed story (onset in a narrow range, one name for everything); standard draws "
        "the onset (5-85 % of the window), the incident's length and the names per seed; "
        "hard adds overlapping symptoms across fault families.",
    )

    modalities: str = request_field(
        "logs",
        role=FieldRole.FILES,
        example="logs,metrics,traces",
        omit_default=True,
        description="What the bundle holds, comma-separated: logs (always), metrics "
        "(what Prometheus scraped from the stack, OpenMetrics text), traces (each "
        "request's spans, OTLP JSON).",
    )

    @field_validator("modalities", mode="before")
    @classmethod
    def _known_modalities(cls, value: object) -> object:
        """A list (a config's YAML) or comma-separated text (a flag), in any order:
        normalised to the declared order, logs first; unknown names are refused."""
        if isinstance(value, list | tuple):
            if not all(isinstance(v, str) for v in value):
                raise ValueError(f"must be names of modalities ({', '.join(MODALITIES)})")
            value = ",".join(value)
        if not isinstance(value, str):
            return value
        names = [v.strip() for v in value.split(",") if v.strip()]
        unknown = [n for n in names if n not in MODALITY_STREAMS]
        if unknown or "logs" not in names:
            if unknown:
                raise ValueError(f"unknown modality {', '.join(map(repr, unknown))}")
            raise ValueError("logs is missing (the label's evidence is in the logs)")
        return ",".join(m for m in MODALITIES if m in names)

    def streams(self) -> tuple[str, ...]:
        """The streams of the bundle this request makes, in file order: the logs', then
        each other modality's."""
        on = self.modalities.split(",")
        return tuple(s for m in MODALITIES if m in on for s in MODALITY_STREAMS[m])

    @field_validator("time_anchor", mode="before")
    @classmethod
    def _anchor_utc(cls, value: object) -> object:
        return _utc(value)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_or_non_finite(cls, value: object) -> object:
        # Lax mode reads true as 1 (`seed: true` in a config became seed 1), and no field
        # is a boolean. NaN fails every range check, so the message would be a misleading
        # "should be <= 2000"; infinities are out of every range too.
        if isinstance(value, bool):
            raise ValueError("a boolean (true/false) is not allowed here")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @model_validator(mode="after")
    def _window_fits(self) -> GenerationRequest:
        """The window lies where the simulation and the formats work (see LATEST_END)."""
        duration = timedelta(minutes=self.duration_minutes)
        latest = LATEST_END - duration
        if not EARLIEST_START <= self.time_anchor <= latest:
            raise GenerationError(
                "INVALID_PARAMETER",
                f"time_anchor={_rfc3339(self.time_anchor)}: a {self.duration_minutes}-minute "
                f"window must start at or after {_rfc3339(EARLIEST_START)} and end by "
                f"{_rfc3339(LATEST_END)} (allowed: "
                f"{_rfc3339(EARLIEST_START)}..{_rfc3339(latest)})",
                field="time_anchor",
            )
        return self

    def canonical(self) -> dict[str, Any]:
        """The request as JSON values (the anchor in UTC), without the ``omit_default``
        fields that are at their default: what the bundle id hashes and the manifest
        records."""
        data = self.model_dump(mode="json")
        for name, info in type(self).model_fields.items():
            declared = info.json_schema_extra
            omit = isinstance(declared, _Declared) and declared.omit_default
            if omit and getattr(self, name) == info.default:
                del data[name]
        return data

    @field_validator("scenario")
    @classmethod
    def _known_scenario(cls, value: str) -> str:
        from .scenarios import scenario_ids

        if value not in scenario_ids():
            raise GenerationError(
                "INVALID_SCENARIO",
                f"scenario={value!r} is not a known scenario; allowed: {', '.join(scenario_ids())}",
                field="scenario",
            )
        return value


def _declaration(name: str, info: FieldInfo) -> _Declared:
    """A field's declaration; refuses, at import, a field not declared with
    :func:`request_field` (nothing would know whether it changes the streams)."""
    if not isinstance(info.json_schema_extra, _Declared):
        raise TypeError(
            f"GenerationRequest.{name}: declare it with request_field(role=..., example=...)"
        )
    return info.json_schema_extra


_DECLARED = {n: _declaration(n, i) for n, i in GenerationRequest.model_fields.items()}

# Request fields that reach only the label and the manifest, never a stream's bytes.
LABEL_ONLY_FIELDS = frozenset(n for n, d in _DECLARED.items() if d.role is FieldRole.LABEL)
# Request fields no stream's bytes depend on: stream jobs leave them out of their params.
NON_STREAM_FIELDS = frozenset(n for n, d in _DECLARED.items() if d.role is not FieldRole.STREAM)
# Request field -> the suite key that sweeps it (config/suites.yaml), in declaration order.
SUITE_AXES: dict[str, str] = {
    n: d.suite_axis for n, d in _DECLARED.items() if d.suite_axis is not None
}


def field_role(name: str) -> FieldRole:
    """What request field ``name`` changes (KeyError if there is no such field)."""
    return _DECLARED[name].role


def field_example(name: str) -> object:
    """The valid, non-default value request field ``name`` declares (for the tests)."""
    return _DECLARED[name].example


def allowed_values(field: str) -> str | None:
    """The allowed values of a request field, read off the model (for error messages)."""
    if field == "time_anchor":
        return "an RFC 3339 instant with an offset, e.g. 2026-11-26T05:00:00Z"
    if field == "modalities":
        return f"a comma-separated subset of {', '.join(MODALITIES)} that includes logs"
    info = GenerationRequest.model_fields.get(field)
    if info is None:
        return None
    metadata = list(info.metadata)
    options: list[str] = []
    pending: list[Any] = [info.annotation]
    while pending:
        tp = pending.pop()
        origin = typing.get_origin(tp)
        if origin is typing.Literal:
            options += [repr(a) for a in typing.get_args(tp)]
        elif origin is typing.Annotated:
            pending.append(typing.get_args(tp)[0])
            metadata += list(tp.__metadata__)
        elif origin in (typing.Union, types.UnionType):
            pending += list(typing.get_args(tp))
        elif tp is type(None):
            options.append("null")
    if any(o != "null" for o in options):
        return " | ".join(options)
    low = _bound(metadata, "ge", "") or _bound(metadata, "gt", ">")
    high = _bound(metadata, "le", "") or _bound(metadata, "lt", "<")
    if low is None and high is None:
        return None
    nullable = " or null" if "null" in options else ""
    return f"{low or ''}..{high or ''}{nullable}"


def _bound(metadata: Sequence[object], name: str, prefix: str) -> str | None:
    """``ge=15`` and friends, as pydantic stores them (annotated_types.Ge(ge=15), ...)."""
    for m in metadata:
        inner = getattr(m, "metadata", None)  # Annotated[float, Field(ge=...)] keeps a FieldInfo
        if isinstance(inner, list) and (found := _bound(inner, name, prefix)) is not None:
            return found
        value = getattr(m, name, None)
        if value is not None:
            return f"{prefix}{value}"
    return None


class EvidencePointer(Contract):
    """One line of one stream file, quoted exactly."""

    file: StreamFile
    line: int = Field(ge=1, description="1-based line number in `file`.")
    excerpt: str = Field(min_length=1, description="The exact text of that line.")
    request_id: str | None = Field(default=None, description="Request id the line carries.")
    at: str | None = Field(default=None, description="Instant of the line, RFC 3339.")
    signal: str = Field(description="What the line shows, as a stable signal key.")


class IncidentWindow(Contract):
    onset: str
    peak: str
    recovery: str | None = Field(
        description="When the symptoms end; null if they last to the window's end."
    )


class CausalStep(Contract):
    order: int = Field(ge=1)
    layer: Layer
    component: str
    effect: str
    evidence: list[EvidencePointer] = Field(default_factory=list)


class Distractor(Contract):
    pointer: EvidencePointer
    why_not_root_cause: str


class GroundTruth(Contract):
    """The answer key of one bundle."""

    schema_version: Literal["1.0"] = "1.0"
    bundle_id: str = Field(pattern=r"^mock-[0-9a-f]{12}$")
    scenario_id: str
    incident: bool = Field(description="False for the negative control: nothing to find.")
    root_cause: str
    root_cause_layer: Layer | None
    root_cause_component: str | None
    fault_type: str
    root_cause_aliases: list[str]
    trigger: str
    blast_radius: list[str]
    expected_first_signal: str
    first_signal: EvidencePointer | None
    incident_window: IncidentWindow | None
    causal_chain: list[CausalStep]
    evidence: list[EvidencePointer]
    distractors: list[Distractor]
    confidence_target_min: Probability
    confidence_target_max: Probability
    threshold_default: Probability = 0.70
    threshold_override: Probability | None = None
    difficulty: Difficulty = Field(
        default="standard", description="The request's difficulty (see the request field)."
    )
    drawn: dict[str, str] = Field(
        default_factory=dict,
        description="Every value this bundle drew for its story (versions, names, the "
        "onset's share of the window ...), by name, sorted.",
    )

    @model_validator(mode="after")
    def _coherent(self) -> GroundTruth:
        if self.confidence_target_min > self.confidence_target_max:
            raise ValueError("confidence_target_min must be <= confidence_target_max")
        if self.incident and (self.first_signal is None or self.incident_window is None):
            raise ValueError("an incident needs a first_signal and an incident_window")
        return self


class Artifact(Contract):
    file: str
    stream: StreamName | None
    format: ArtifactFormat
    record_count: int = Field(ge=0, description="Log entries (a multi-line entry counts once).")
    line_count: int = Field(ge=0)
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class GeneratorInfo(Contract):
    name: Literal["rca-mock-incidents"] = "rca-mock-incidents"
    version: str
    format_version: str


class Manifest(Contract):
    schema_version: Literal["1.0"] = "1.0"
    bundle_id: str = Field(pattern=r"^mock-[0-9a-f]{12}$")
    scenario_id: str
    created_at: str = Field(
        description="Bundle-level timestamp (the end of the window; never the wall clock)."
    )
    window_start: str
    window_end: str
    generator: GeneratorInfo
    request: GenerationRequest
    artifacts: list[Artifact]

    @field_serializer("request")
    def _canonical_request(self, req: GenerationRequest) -> dict[str, Any]:
        return req.canonical()  # a field added after v0 is absent at its default
