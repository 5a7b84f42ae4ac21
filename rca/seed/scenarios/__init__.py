"""Scenario registry: every module in this package defines one ``Scenario`` subclass.

Adding a scenario means adding one module here (and its entry in config/scenarios.yaml).
The module declares everything about itself (``_base.DECLARATIONS``: title, one-line
description, report caption, whether it is a v0 scenario, what the tests expect of it);
a module missing one fails at import. Modules are imported in sorted order so
registration is stable.
"""

from __future__ import annotations

import importlib
import pkgutil

from ._base import (
    DECLARATIONS,
    Caption,
    Expect,
    Fact,
    LabelSpec,
    Paraphrase,
    Plan,
    PlanContext,
    Scenario,
    no_wait,
    unchanged,
)

__all__ = [
    "DECLARATIONS",
    "Caption",
    "Expect",
    "Fact",
    "LabelSpec",
    "Paraphrase",
    "Plan",
    "PlanContext",
    "Scenario",
    "get",
    "incident_ids",
    "no_wait",
    "scenario_ids",
    "unchanged",
    "v0_ids",
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


def v0_ids() -> list[str]:
    """The five scenarios of v0 (``v0 = True``), sorted: the committed fixtures."""
    return [sid for sid in scenario_ids() if Scenario.registry[sid].v0]


def incident_ids() -> list[str]:
    """Scenarios with an incident to find, sorted: their label names a first signal
    (the negative control's does not)."""
    return [sid for sid in scenario_ids() if get(sid).label().first_signal is not None]
