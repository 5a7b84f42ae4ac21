"""One generation pass: build the world, run the simulation, feed the renderers."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from . import distractors, scenarios
from ._errors import GenerationError
from ._models import ALL_STREAM_FILES, FieldRole, GenerationRequest, allowed_values, field_role
from ._rng import Rng
from ._sim import CHUNK_US, ProbeResult, Request, Simulation, Tick, resolve_engine
from ._sink import SignalHit, new_sink
from ._timefmt import US, from_datetime
from ._topology import Stack, build_stack
from .renderers import RENDERERS, RenderContext
from .scenarios import Fact, Plan, PlanContext

FORMAT_VERSION = "4"  # bump when any renderer's output bytes change on purpose


def bundle_id(req: GenerationRequest) -> str:
    """``mock-`` + 12 hex chars of the sha256 of the whole request, canonical JSON.

    Every field of the model counts (a field added later too), so two requests that
    differ in any byte of their bundle never share a directory. The JSON form is
    :meth:`GenerationRequest.canonical` (the anchor normalised to UTC; a field added
    after v0 absent at its default, so adding one keeps every id), keys sorted, no
    whitespace.
    """
    canonical = json.dumps(req.canonical(), sort_keys=True, separators=(",", ":"))
    return f"mock-{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"


def stream_digest(req: GenerationRequest) -> str:
    """The sha256 (hex) of every request field that reaches the streams (role
    ``stream``), canonical JSON: the key of draws that must depend on all of them and
    on nothing that only the label reads (a threshold), since each stream file is
    generated on its own."""
    fields = {
        name: value
        for name, value in req.canonical().items()
        if field_role(name) is FieldRole.STREAM
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def window(req: GenerationRequest) -> tuple[int, int]:
    start = from_datetime(req.time_anchor)
    return start, start + req.duration_minutes * 60 * US


@dataclass(frozen=True, slots=True)
class StreamResult:
    stream: str
    file: str
    sha256: str
    bytes: int
    lines: int
    records: int
    signals: dict[str, SignalHit]


@dataclass(frozen=True, slots=True)
class PassResult:
    streams: dict[str, StreamResult]
    plan: Plan
    window_start_us: int
    window_end_us: int


def plan_for(req: GenerationRequest) -> tuple[Stack, Plan]:
    """The stack and the scenario's fault plan (cheap; raises if the scenario refuses)."""
    start, end = window(req)
    scenario = scenarios.get(req.scenario)
    minimum = scenario.minimum_rps(req.duration_minutes, req.api_replicas)
    if req.rps < minimum:
        high = allowed_values("rps") or ""
        raise GenerationError(
            "INVALID_PARAMETER",
            f"rps={req.rps}: too little traffic for {req.scenario} to show its incident in "
            f"{req.duration_minutes} minutes with {req.api_replicas} orders-api pods "
            f"(allowed: {_round_up(minimum)}..{high.partition('..')[2]})",
            field="rps",
        )
    # Every draw (the world here, traffic, each stream, every id) is keyed by all the
    # stream fields, never by (seed, scenario): an id or a name learnt on one bundle
    # tells nothing about another, and two noise levels of one seed share no onset.
    key = stream_digest(req)
    world_rng = Rng(key, "world")
    difficulty = _difficulty(req)
    stack = build_stack(world_rng, start, req.api_replicas, difficulty == "easy")
    ctx = PlanContext(start, end, req.rps, stack, world_rng, difficulty)
    plan = scenario.plan(ctx)
    # Red herrings come after the scenario, each from its own generator, so the
    # scenario's draws are the same with or without them. Keyed by every stream field:
    # a herring's names and draws neither tell the scenario nor tie bundles together.
    distractors.add_distractors(ctx, plan, scenario.label(), (key,))
    return stack, plan


def _difficulty(req: GenerationRequest) -> str:
    """The request's difficulty (one place, so a test can force one for every plan)."""
    return req.difficulty


def _round_up(value: float) -> float:
    """``value`` rounded up to 3 significant digits: a rate a user can type that passes."""
    step = 10.0 ** (math.floor(math.log10(value)) - 2)
    return float(f"{math.ceil(value / step - 1e-9) * step:.3g}")


def simulation_for(
    req: GenerationRequest,
    engine: str | None = None,
    adjust: Callable[[Stack, Plan], None] | None = None,
) -> Simulation:
    """The shared simulation of ``req`` (``adjust`` may bend the world first: tests)."""
    start, end = window(req)
    stack, plan = plan_for(req)
    if adjust is not None:
        adjust(stack, plan)
    return Simulation(
        key=stream_digest(req),
        window_start_us=start,
        window_end_us=end,
        resolution_us=req.resolution_seconds * US,
        rps=req.rps,
        noise_profile=req.noise_profile,
        stack=stack,
        plan=plan,
        engine=engine,
    )


def run_pass(
    req: GenerationRequest,
    streams: Sequence[str],
    outputs: Mapping[str, IO[bytes]] | None = None,
) -> PassResult:
    """Generate ``streams``; write each to ``outputs[stream]`` if given, else only index it."""
    start, end = window(req)
    engine = resolve_engine()  # the simulation's, and so the sinks' and formatters'
    sim = simulation_for(req, engine)
    stack, plan = sim.stack, sim.plan
    noise = {"low": 0.4, "medium": 1.0, "high": 2.5}[req.noise_profile]
    ctx = RenderContext(stream_digest(req), start, end, noise, stack, plan)
    outputs = outputs or {}
    # A bundle holds what its window's logs hold: a line stamped at or after the end (a
    # checkpoint completing, a reconnect due at the simulation's last tick) is dropped.
    sinks = {
        s: new_sink(ALL_STREAM_FILES[s], outputs.get(s), engine, (start, end)) for s in streams
    }
    renderers = [RENDERERS[s](ctx, sinks[s]) for s in streams]
    on_request = [r.handler() for r in renderers]
    for e in sim.run():
        if type(e) is Request:  # the common case first, without isinstance's MRO walk
            # A request still open at the window's end is in no stream: every layer
            # agrees on which requests the bundle holds.
            if e.end_us < end:
                for handle in on_request:
                    handle(e)
        elif isinstance(e, Fact):
            for r in renderers:
                r.fact(e)
        elif isinstance(e, ProbeResult):
            for r in renderers:
                r.probe(e)
        elif isinstance(e, Tick):
            if e.chunk_start_us >= 0:
                for r in renderers:
                    r.background(e.chunk_start_us, min(e.chunk_start_us + CHUNK_US, end))
            for r in renderers:
                r.tick(e.t_us)
            for sink in sinks.values():
                sink.flush_before(e.t_us)
    for r in renderers:
        r.finish()
    results = {}
    for s, sink in sinks.items():
        sink.close()
        results[s] = StreamResult(
            s, sink.file, sink.sha.hexdigest(), sink.bytes, sink.lines, sink.records, sink.signals
        )
    return PassResult(results, plan, start, end)
