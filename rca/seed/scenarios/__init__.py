"""Scenario registry: every module in this package defines one ``Scenario`` subclass.

Adding a scenario means adding one module here (and its entry in config/scenarios.yaml);
nothing else changes. Modules are imported in sorted order so registration is stable.
"""

from __future__ import annotations

import importlib
import pkgutil

from ._base import Fact, LabelSpec, Plan, PlanContext, Scenario, unchanged

__all__ = [
    "Fact",
    "LabelSpec",
    "Plan",
    "PlanContext",
    "Scenario",
    "get",
    "scenario_ids",
    "unchanged",
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


def scenario_ids() -> list[str]:
    _load()
    return sorted(Scenario.registry)


def get(scenario_id: str) -> Scenario:
    _load()
    return Scenario.registry[scenario_id]()
