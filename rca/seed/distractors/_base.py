"""What a red herring is: a declaration, and a plan that adds it to a bundle.

A herring is something real systems do beside an incident that *looks* like a fault
family's signature (an OOMKilled container, a HikariCP timeout, a NullPointerException,
a slow ``duration:`` line) but that real diagnosis tells apart: another namespace or
workload, no user-facing impact, a timeline the symptoms do not follow, or a blip that
recovers on its own. Like a scenario, it never formats lines: it adds facts (rendered
by the stream's renderer, ``rca/seed/renderers``) and may bend the plan's hooks, always
by composing with the scenario's (multiply), never by replacing them.

Each herring draws only from its own generator (``Rng(..., "distractor", id)``), after
the scenario has planned, so adding, removing or changing a herring moves neither the
scenario's draws nor another herring's.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from ..scenarios import Plan, PlanContext


@dataclass(frozen=True, slots=True)
class Chance:
    """The chance that a bundle gets the herring, per difficulty (PlanContext.difficulty).
    At "easy" no herring comes: the bundles a beginner's brain should get right."""

    easy: float = 0.0
    standard: float = 0.0
    hard: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            if not 0.0 <= getattr(self, f.name) <= 1.0:
                raise ValueError(f"Chance.{f.name}={getattr(self, f.name)}: allowed 0..1")

    def at(self, difficulty: str) -> float:
        if difficulty not in DIFFICULTIES:
            raise ValueError(f"difficulty={difficulty!r}: allowed {', '.join(DIFFICULTIES)}")
        return float(getattr(self, difficulty))


# Difficulty levels, easiest first: the fields of Chance.
DIFFICULTIES = tuple(f.name for f in fields(Chance))


def signal_key(distractor_id: str) -> str:
    """The key of the herring's own lines: its label entry points at the first."""
    return f"distractor.{distractor_id}"


# What a herring module must declare, beside ``plan``: name -> type.
DECLARATIONS: dict[str, type] = {
    "id": str,
    "title": str,  # one line, for the docs' table
    # The fault_type of the scenario whose signature it resembles ("" for none).
    "imitates": str,
    # The chance that a bundle gets it, per difficulty.
    "probability": Chance,
    # What a responder should notice that rules it out (the label's text).
    "why_not_root_cause": str,
    # Every signal key its lines can carry, its own key (signal_key(id)) first.
    "signal_keys": tuple,
}


class Distractor:
    """Base class; subclasses register themselves by defining ``id`` and must declare
    everything in :data:`DECLARATIONS` (checked here, at import)."""

    id: ClassVar[str]
    title: ClassVar[str]
    imitates: ClassVar[str]
    probability: ClassVar[Chance]
    why_not_root_cause: ClassVar[str]
    signal_keys: ClassVar[tuple[str, ...]]
    registry: ClassVar[dict[str, type[Distractor]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "id" not in cls.__dict__:
            return
        problems = [
            f"{name} ({kind.__name__})"
            for name, kind in DECLARATIONS.items()
            if not isinstance(getattr(cls, name, None), kind)
        ]
        if not problems and cls.signal_keys[:1] != (signal_key(cls.id),):
            problems.append(f"signal_keys starting with {signal_key(cls.id)!r}")
        if problems:
            raise TypeError(
                f"distractor {cls.__module__}.{cls.__name__} must declare: {', '.join(problems)}"
            )
        if cls.id in Distractor.registry:
            raise RuntimeError(f"duplicate distractor id {cls.id!r}")
        Distractor.registry[cls.id] = cls

    def plan(self, ctx: PlanContext, plan: Plan) -> None:
        """Add the herring to ``plan`` (facts, composed hooks); ``ctx.rng`` is the
        herring's own generator and ``ctx.difficulty`` says how hard to confuse."""
        raise NotImplementedError


def pick_time(ctx: PlanContext, plan: Plan, span_us: int = 0) -> int:
    """When a herring starts, leaving ``span_us`` of it inside the window.

    At "hard" it comes before the scenario's onset more often than not, so that the
    first alarming line of a bundle is often not the incident's; otherwise anywhere.
    """
    rng = ctx.rng
    first = ctx.at(0.03)
    last = max(first + 1, ctx.window_end_us - span_us - (ctx.window_end_us - first) // 20)
    onset = plan.onset_us
    if ctx.difficulty == "hard" and onset is not None and onset > first and rng.chance(0.6):
        return first + rng.below(max(1, min(onset, last) - first))
    return first + rng.below(last - first)
