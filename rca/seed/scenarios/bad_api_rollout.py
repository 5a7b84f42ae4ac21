"""A rolling update ships orders-api 1.9.0, whose pricing path dereferences a null tier.

Story: the Deployment's image moves to 1.9.0 (maxSurge 1, maxUnavailable 0). As each
new pod turns ready it takes traffic, and every order request for a customer without a
loyalty tier throws a NullPointerException in ``DiscountCalculator`` -> 500 with a stack
trace, only on 1.9.0 pods. The mesh retries 5xx onto other pods (old ones succeed while
they last, then retries run out: 500 URX); nginx passes the 500s to users. The on-call
runs ``kubectl rollout undo``; the old ReplicaSet scales back up and errors stop.
"""

from __future__ import annotations

from .._rng import Rng
from .._timefmt import US
from .._topology import VERSION_BAD, VERSION_GOOD, Pod, Stack
from ._base import (
    API_SHARE,
    Caption,
    Expect,
    LabelSpec,
    Paraphrase,
    Plan,
    PlanContext,
    Scenario,
    endpoint_share,
    sure_rate,
)
from ._lifecycle import create_pod, delete_pod

# When the rollout starts and when it is undone, as fractions of the window; the share
# of customers (no loyalty tier) whose order requests hit the null path.
START_AT = (0.24, 0.32)
UNDO_AT = (0.68, 0.76)
FAULT_PROBABILITY = (0.30, 0.42)


def _roll(
    plan: Plan, stack: Stack, old: list[Pod], version: str, t: int, rng: Rng, signal: str
) -> int:
    """A maxSurge=1/maxUnavailable=0 rolling update from ``old`` to ``version``."""
    new_rs = f"orders-api-{stack.rs_hashes[version]}"
    old_rs = f"orders-api-{old[0].replicaset}"
    n = len(old)
    for i in range(n):
        pod = create_pod(plan, stack, version, t + 25_000, rng)
        plan.add(
            t, "k8s", "scaled", rs=new_rs, pods=[pod], signals=[signal], **{"from": i, "to": i + 1}
        )
        ready = pod.containers[0].ready_us + int(rng.uniform(0.5, 2.5) * US)
        plan.add(
            ready, "k8s", "scaled", rs=old_rs, pods=[old[i]], **{"from": n - i, "to": n - i - 1}
        )
        delete_pod(plan, old[i], ready + 40_000)
        t = ready + int(rng.uniform(0.3, 1.5) * US)
    return t


class BadApiRollout(Scenario):
    id = "bad_api_rollout"
    title = "Bad orders-api rollout (null path in 1.9.0), then rollback"
    description = "`orders-api` 1.9.0 rolls out with a null path, then is rolled back"
    caption = Caption(
        happens=(
            "A rolling update ships ``orders-api`` 1.9.0, whose pricing path "
            "dereferences a null loyalty tier: every affected order request on a 1.9.0 "
            "pod throws a ``NullPointerException`` and returns 500. The mesh retries "
            "onto old pods while they last; then ``kubectl rollout undo`` brings the "
            "old ReplicaSet back and the errors stop."
        ),
        look_for=(
            "A 5xx share that starts with the rollout (the Kubernetes evidence triangle "
            "at the start of the shaded window) and is highest at ``orders-api``, lower "
            "at the mesh (retries hide some) and at nginx, while p95 latency stays "
            "under a tenth of a second and the database is quiet. The errors end with "
            "the rollback (the second Kubernetes triangle)."
        ),
    )
    v0 = True
    expect = Expect(
        paraphrase=Paraphrase(
            title="Bad rollout: orders-api 1.9.0 throws a NullPointerException on every discount",
            summary="new release of the API pods; rolled back later",
            file="api_logs.log",
            signature="java.lang.NullPointerException",
        ),
        commented_sql=True,
        probe_failures=True,
        matching_paraphrases=(
            "Bad deploy of orders-api 1.9.0",
            "Faulty release 1.9.0: NPE in DiscountCalculator",
            "Regression introduced by the orders-api v1.9.0 rollout",
            "java.lang.NullPointerException in orders-api",
        ),
    )

    def minimum_rps(self, duration_minutes: int, api_replicas: int) -> float:
        # The first signal is a NullPointerException: enough order requests of tierless
        # customers between the latest rollout and the earliest undo.
        share = API_SHARE * endpoint_share("create_order", "get_order") * FAULT_PROBABILITY[0]
        return sure_rate(share, UNDO_AT[0] - START_AT[1], duration_minutes)

    def plan(self, ctx: PlanContext) -> Plan:
        rng = ctx.rng
        stack = ctx.stack
        start = ctx.at(rng.uniform(*START_AT))
        old = list(stack.api_pods)
        plan = Plan(
            incident=True,
            faulty_versions=frozenset({VERSION_BAD}),
            fault_probability=rng.uniform(*FAULT_PROBABILITY),
        )
        rolled = _roll(plan, stack, old, VERSION_BAD, start, rng, "k8s.rollout_step")
        bad = [p for p in stack.api_pods if p.version == VERSION_BAD]
        undo = max(rolled, ctx.at(rng.uniform(*UNDO_AT)))
        recovered = _roll(plan, stack, bad, VERSION_GOOD, undo, rng, "k8s.rollback_step")
        first_ready = bad[0].containers[0].ready_us
        plan.onset_us = start
        plan.peak_us = rolled
        plan.recovery_us = recovered
        plan.notes = {"first_bad_ready_us": first_ready}
        return plan

    def label(self) -> LabelSpec:
        return LabelSpec(
            root_cause="bad deployment: orders-api 1.9.0 throws NullPointerException "
            "(unhandled null loyalty tier in DiscountCalculator)",
            root_cause_layer="api",
            root_cause_component="orders-api 1.9.0 (DiscountCalculator null path)",
            fault_type="bad_deployment",
            aliases=(
                "bad deployment",
                "bad rollout",
                "bad api rollout",
                "faulty release",
                "regression in new version",
                "orders-api 1.9.0",
                "NullPointerException",
                "null pointer exception",
                "unhandled null",
                "DiscountCalculator",
                "rollout",
            ),
            trigger="deployment rollout (orders-api 1.8.2 -> 1.9.0)",
            blast_radius=(
                "orders-api 1.9.0 pods",
                "mesh orders-api route",
                "web (nginx)",
                "shop UI order pages",
            ),
            expected_first_signal="api_logs.log: java.lang.NullPointerException ... "
            "DiscountCalculator ... from an orders-api 1.9.0 pod",
            first_signal="api.npe",
            chain=(
                (
                    "k8s",
                    "Deployment orders-api",
                    "rolling update to a 1.9.0 ReplicaSet",
                    ("k8s.rollout_step", "k8s.container_started"),
                ),
                (
                    "api",
                    "orders-api 1.9.0 pods",
                    "500 with NullPointerException stack traces",
                    ("api.npe", "exemplar.npe.api"),
                ),
                (
                    "mesh",
                    "istio-proxy (web -> orders-api)",
                    "500s, retried; retries exhausted",
                    ("mesh.500.-", "mesh.500.URX", "mesh.retried", "exemplar.npe.mesh"),
                ),
                (
                    "ui",
                    "web (nginx)",
                    "users get 500 on order pages",
                    ("ui.500", "exemplar.npe.ui"),
                ),
                (
                    "k8s",
                    "Deployment orders-api",
                    "rollback scales the 1.8.2 ReplicaSet back up",
                    ("k8s.rollback_step",),
                ),
            ),
            confidence=(0.7, 1.0),
            # Wordings of the fault family; no drawn name (see LabelSpec.synonyms).
            synonyms=(
                "bad deploy",
                "bad rollout",
                "bad release",
                "bad version",
                "faulty deployment",
                "faulty deploy",
                "faulty rollout",
                "faulty release",
                "broken release",
                "buggy release",
                "release regression",
                "deployment regression",
                "regression in new version",
                "NullPointerException",
                "NPE",
                "null pointer",
                "unhandled null",
            ),
        )
