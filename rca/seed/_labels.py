"""The answer key, assembled from the scenario's statement and the lines this pass wrote."""

from __future__ import annotations

import dataclasses
import re
from typing import cast

from . import distractors, scenarios
from ._models import (
    CausalStep,
    Distractor,
    EvidencePointer,
    GenerationRequest,
    GroundTruth,
    IncidentWindow,
    Layer,
    StreamFile,
)
from ._pipeline import PassResult, bundle_id
from ._sink import SignalHit
from ._timefmt import rfc3339
from .scenarios import LabelSpec

# Alarming-looking lines that are NOT the cause, and why a responder should discard them.
DISTRACTORS: dict[str, str] = {
    "noise.scanner_404": "internet scanner probing for common exploits; nginx answers 404 "
    "itself, nothing reaches the API",
    "noise.nginx_open_failed": "the error-log side of scanner 404s: files that do not exist",
    "noise.image_pull_backoff": "an unrelated analytics workload in another namespace with a "
    "bad image tag",
    "noise.sys_container_stats": "a long-standing cAdvisor/systemd mismatch on the nodes; "
    "constant and harmless",
    "noise.duplicate_key": "an idempotent order retry rejected by the unique constraint: "
    "correct behaviour (409)",
    "noise.api_duplicate_key": "Hibernate reporting the same benign idempotency conflict",
    "noise.autovacuum": "routine autovacuum of a busy table",
    "noise.checkpoint": "routine timed checkpoint",
    "noise.housekeeper": "a single pool housekeeper clock leap, not repeated",
    "noise.hikari_validate": "a stale pooled connection retired and replaced transparently",
    "noise.open_in_view": "a start-up configuration warning that every pod prints",
    "noise.max_lifetime": "HikariCP retiring a connection at maxLifetime; a new one "
    "replaces it at once",
    "noise.nginx_reload": "a configuration reload (certificate rotation); no errors follow",
    "noise.order_not_found": "a client asking for an order that does not exist (404)",
}
# Background noise listed beside the red herrings; every herring that fired is listed
# (rca/seed/distractors declares their text).
MAX_DISTRACTORS = 8


def _pointer(hit: SignalHit, files: dict[str, str]) -> EvidencePointer:
    return EvidencePointer(
        file=cast(StreamFile, files[hit.signal]),
        line=hit.line,
        excerpt=hit.text,
        request_id=hit.request_id,
        at=rfc3339(hit.t_us),
        signal=hit.signal,
    )


def _filled(spec: LabelSpec, drawn: dict[str, str]) -> LabelSpec:
    """The scenario's statement with each ``{name}`` of a drawn value filled in (other
    braces are left as they are)."""

    def fill(text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: drawn.get(m[1], m[0]), text)

    return dataclasses.replace(
        spec,
        root_cause=fill(spec.root_cause),
        root_cause_component=None
        if spec.root_cause_component is None
        else fill(spec.root_cause_component),
        aliases=tuple(fill(a) for a in spec.aliases),
        trigger=fill(spec.trigger),
        blast_radius=tuple(fill(b) for b in spec.blast_radius),
        expected_first_signal=fill(spec.expected_first_signal),
        chain=tuple(
            (layer, fill(component), fill(effect), keys)
            for layer, component, effect, keys in spec.chain
        ),
    )


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def build_ground_truth(req: GenerationRequest, result: PassResult) -> GroundTruth:
    spec = _filled(scenarios.get(req.scenario).label(), result.plan.drawn)
    hits: dict[str, SignalHit] = {}
    files: dict[str, str] = {}
    for s in result.streams.values():
        for key, hit in s.signals.items():
            hits[key] = hit
            files[key] = s.file

    def pointers(keys: tuple[str, ...]) -> list[EvidencePointer]:
        """First line of each signal present; one pointer per line."""
        out: dict[tuple[str, int], EvidencePointer] = {}
        for k in keys:
            if k in hits:
                p = _pointer(hits[k], files)
                out.setdefault((p.file, p.line), p)
        return list(out.values())

    chain: list[CausalStep] = []
    evidence: list[EvidencePointer] = []
    seen: set[tuple[str, int]] = set()
    for layer, component, effect, keys in spec.chain:
        ptrs = pointers(keys)
        if not ptrs:
            # A step this bundle shows no line of did not happen here (a symptom that
            # only some requests or difficulties produce): the chain states what did.
            continue
        chain.append(
            CausalStep(
                order=len(chain) + 1,
                layer=cast(Layer, layer),
                component=component,
                effect=effect,
                evidence=ptrs,
            )
        )
        for p in ptrs:
            if (p.file, p.line) not in seen:
                seen.add((p.file, p.line))
                evidence.append(p)

    herrings = [distractors.get(d) for d in distractors.distractor_ids()]
    listed = [
        Distractor(pointer=_pointer(hits[key], files), why_not_root_cause=h.why_not_root_cause)
        for h in herrings
        if (key := distractors.signal_key(h.id)) in hits
    ]
    listed += [
        Distractor(pointer=_pointer(hits[k], files), why_not_root_cause=why)
        for k, why in DISTRACTORS.items()
        if k in hits
    ][:MAX_DISTRACTORS]

    plan = result.plan
    incident_window = None
    if plan.incident and plan.onset_us is not None:
        incident_window = IncidentWindow(
            onset=rfc3339(plan.onset_us),
            peak=rfc3339(plan.peak_us if plan.peak_us is not None else plan.onset_us),
            recovery=None if plan.recovery_us is None else rfc3339(plan.recovery_us),
        )
    first = None
    if spec.first_signal is not None and spec.first_signal in hits:
        first = _pointer(hits[spec.first_signal], files)
    return GroundTruth(
        bundle_id=bundle_id(req),
        scenario_id=req.scenario,
        incident=plan.incident,
        root_cause=spec.root_cause,
        root_cause_layer=cast(Layer | None, spec.root_cause_layer),
        root_cause_component=spec.root_cause_component,
        fault_type=spec.fault_type,
        root_cause_aliases=list(spec.aliases),
        trigger=spec.trigger,
        blast_radius=list(spec.blast_radius),
        expected_first_signal=spec.expected_first_signal,
        first_signal=first,
        incident_window=incident_window,
        causal_chain=chain,
        evidence=evidence,
        distractors=listed,
        confidence_target_min=spec.confidence[0],
        confidence_target_max=spec.confidence[1],
        threshold_default=req.threshold,
        threshold_override=req.threshold_override,
        difficulty=req.difficulty,
        drawn=dict(sorted(plan.drawn.items())),
    )
