"""Negative control: ordinary traffic and ordinary noise, no incident."""

from __future__ import annotations

from ._base import LabelSpec, Plan, PlanContext, Scenario


class NormalLoad(Scenario):
    id = "normal_load"
    title = "Normal load (negative control)"

    def plan(self, ctx: PlanContext) -> Plan:
        return Plan(incident=False)

    def label(self) -> LabelSpec:
        return LabelSpec(
            root_cause="none",
            root_cause_layer=None,
            root_cause_component=None,
            fault_type="none",
            aliases=("no incident", "healthy", "no root cause", "normal operation"),
            trigger="none",
            blast_radius=(),
            expected_first_signal="none: no incident signal; background noise only",
            first_signal=None,
            chain=(),
            confidence=(0.0, 0.3),
        )
