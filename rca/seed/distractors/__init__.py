"""Red-herring registry: every module in this package defines one ``Distractor``.

Adding a herring means adding one module here: it declares itself (``_base.DECLARATIONS``:
id, the family it imitates, its chance per difficulty, why it is not the root cause,
its signal keys) and its ``plan``. Modules are imported in sorted order, so
registration, and so the order herrings are planned and listed in, is stable.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Iterable

from .._rng import Rng
from ..scenarios import LabelSpec, Plan, PlanContext
from ._base import DECLARATIONS, DIFFICULTIES, Chance, Distractor, signal_key

__all__ = [
    "DECLARATIONS",
    "DIFFICULTIES",
    "Chance",
    "Distractor",
    "add_distractors",
    "distractor_ids",
    "eligible",
    "get",
    "label_keys",
    "signal_key",
]

_loaded = False


def _load() -> None:
    global _loaded
    if _loaded:
        return
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    for name in names:
        importlib.import_module(f"{__name__}.{name}")
    _loaded = True


def distractor_ids() -> list[str]:
    _load()
    return sorted(Distractor.registry)


def get(distractor_id: str) -> Distractor:
    _load()
    return Distractor.registry[distractor_id]()


def label_keys(spec: LabelSpec) -> frozenset[str]:
    """Every signal key a scenario's label points with (first signal, causal chain)."""
    keys = {k for _layer, _component, _effect, ks in spec.chain for k in ks}
    if spec.first_signal is not None:
        keys.add(spec.first_signal)
    return frozenset(keys)


def eligible(distractor: Distractor, spec: LabelSpec) -> bool:
    """Whether ``distractor`` may join a scenario: none of its lines may carry a key the
    label points with, or the label's first signal or evidence could be the herring's
    line. (Herrings that only add facts carry their own key alone, so join every
    scenario; one that bends the shared simulation produces the simulation's keys.)"""
    return not label_keys(spec).intersection(distractor.signal_keys)


def add_distractors(
    ctx: PlanContext, plan: Plan, spec: LabelSpec, key: Iterable[object]
) -> list[str]:
    """Draw each herring for this bundle and plan the ones drawn, after the scenario
    planned: each from ``Rng(*key, "distractor", id)``, its first draw deciding whether
    it comes at ``ctx.difficulty``. Returns the ids planned, in registry order."""
    parts = tuple(key)
    planned = []
    for distractor_id in distractor_ids():
        distractor = get(distractor_id)
        chance = distractor.probability.at(ctx.difficulty)
        if chance <= 0.0 or not eligible(distractor, spec):
            continue
        rng = Rng(*parts, "distractor", distractor_id)
        if not rng.chance(chance):
            continue
        distractor.plan(dataclasses.replace(ctx, rng=rng), plan)
        planned.append(distractor_id)
    return planned
