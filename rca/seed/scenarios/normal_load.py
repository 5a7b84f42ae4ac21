"""Negative control: ordinary traffic and ordinary noise, no incident."""

from __future__ import annotations

from ._base import Caption, Expect, LabelSpec, Plan, PlanContext, Scenario


class NormalLoad(Scenario):
    id = "normal_load"
    title = "Normal load (negative control)"
    description = "Normal load: the negative control, nothing to find (only noise and red herrings)"
    caption = Caption(
        happens=(
            "Nothing: the negative control. Ordinary traffic and the usual noise "
            "(scanners probing nginx, an unrelated workload's bad image in another "
            "namespace, autovacuum and checkpoints, a stale pooled connection "
            "replaced) and, at standard and hard, red herrings that look like a "
            "fault (rca/seed/distractors); no incident, so the label has no incident "
            "window, no first signal and no evidence."
        ),
        look_for=(
            "Flat request rates, a 5xx share at zero but for a herring's short blip, p95 "
            "latency in the tens of milliseconds, and a few scattered event bars. The "
            "grey crosses are the "
            "distractors the label lists: lines that look alarming on their own but are "
            'not an incident. A brain should answer "no incident" here; naming one of '
            "these is a false alarm."
        ),
    )
    v0 = True
    expect = Expect(
        paraphrase=None,
        commented_sql=True,
        probe_failures=False,
        matching_paraphrases=(),
    )

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
