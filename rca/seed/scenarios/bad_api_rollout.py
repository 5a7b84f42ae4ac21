"""A rolling update ships a new orders-api release whose pricing path dereferences a null tier.

Story: the Deployment's image moves to the new release (1.8.2 -> 1.9.0 at difficulty
easy; a release pair drawn per seed otherwise, ``_topology.release_pair``; maxSurge 1, maxUnavailable 0). As each
new pod turns ready it takes traffic, and every order request for a customer without a
loyalty tier throws a NullPointerException in ``DiscountCalculator`` -> 500 with a stack
trace, only on new pods. The mesh retries 5xx onto other pods (old ones succeed while
they last, then retries run out: 500 URX); nginx passes the 500s to users. The on-call
runs ``kubectl rollout undo``; the old ReplicaSet scales back up and errors stop.
"""

from __future__ import annotations

from .._rng import Rng
from .._timefmt import US
from .._topology import Pod, Stack
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
# Drawn stories (not easy): the rollout starts anywhere that leaves LEAD_US for the new
# pods to start and fail, and is undone UNDO_AFTER_US after it completed.
LEAD_US = 420 * US
UNDO_AFTER_US = (6 * 60 * US, 20 * 60 * US)
# The new release also does more work per request and allocates more (the same change
# that brought the null path): (CPU-time multiplier, heap share after GC) by difficulty.
HEAVIER = {"easy": None, "standard": ((1.15, 1.5), (0.40, 0.48)), "hard": ((1.8, 2.8), (0.5, 0.62))}


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
    title = "Bad orders-api rollout (a null path in the new release), then rollback"
    description = "A new `orders-api` release rolls out with a null path, then is rolled back"
    caption = Caption(
        happens=(
            "A rolling update ships a new ``orders-api`` release, whose pricing path "
            "dereferences a null loyalty tier: every affected order request on a new "
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
            title="Bad rollout: the new orders-api release throws a NullPointerException on "
            "every discount",
            summary="new release of the API pods; rolled back later",
            file="api_logs.log",
            signature="java.lang.NullPointerException",
        ),
        commented_sql=False,  # only a chance duplicate-key conflict (0.6 % of POSTs)
        probe_failures=True,
        matching_paraphrases=(
            "Bad rollout of the new orders-api release",
            "Faulty release: NPE in DiscountCalculator",
            "Regression in new version of orders-api",
            "java.lang.NullPointerException in orders-api",
        ),
    )

    def minimum_rps(self, duration_minutes: int, api_replicas: int) -> float:
        # The first signal is a NullPointerException: enough order requests of tierless
        # customers between the latest rollout and the earliest undo.
        share = API_SHARE * endpoint_share("create_order", "get_order") * FAULT_PROBABILITY[0]
        # ... or, for a drawn onset, within the lead it leaves (less the rollout's start-up).
        lead = min(LEAD_US - 60 * US, UNDO_AFTER_US[0]) / (duration_minutes * 60 * US)
        return max(
            sure_rate(share, UNDO_AT[0] - START_AT[1], duration_minutes),
            sure_rate(share, lead, duration_minutes),
        )

    def plan(self, ctx: PlanContext) -> Plan:
        rng = ctx.rng
        stack = ctx.stack
        good, bad_version = stack.good_version, stack.bad_version
        start = ctx.at(ctx.onset(START_AT, LEAD_US))
        old = list(stack.api_pods)
        plan = Plan(
            incident=True,
            faulty_versions=frozenset({bad_version}),
            fault_probability=rng.uniform(*FAULT_PROBABILITY),
        )
        rolled = _roll(plan, stack, old, bad_version, start, rng, "k8s.rollout_step")
        bad = [p for p in stack.api_pods if p.version == bad_version]
        if ctx.difficulty == "easy":
            undo = max(rolled, ctx.at(rng.uniform(*UNDO_AT)))
        else:
            undo = rolled + ctx.length(0, *UNDO_AFTER_US)
        recovered = _roll(plan, stack, bad, good, undo, rng, "k8s.rollback_step")
        heavier = HEAVIER[ctx.difficulty]
        if heavier is not None:
            cpu_x, heap = rng.uniform(*heavier[0]), rng.uniform(*heavier[1])
            plan.cpu_time = lambda _t, pod: cpu_x if pod.version == bad_version else 1.0
            plan.heap_used = lambda _t, pod: heap if pod.version == bad_version else 0.38
        first_ready = bad[0].containers[0].ready_us
        plan.onset_us = start
        plan.peak_us = rolled
        plan.recovery_us = recovered if recovered < ctx.window_end_us else None
        plan.notes = {"first_bad_ready_us": first_ready}
        plan.drawn = {
            "good_version": good,
            "bad_version": bad_version,
            "onset_share": f"{(start - ctx.window_start_us) / (ctx.window_end_us - ctx.window_start_us):.3f}",
        }
        return plan

    def label(self) -> LabelSpec:
        return LabelSpec(
            root_cause="bad deployment: orders-api {bad_version} throws NullPointerException "
            "(unhandled null loyalty tier in DiscountCalculator)",
            root_cause_layer="api",
            root_cause_component="orders-api {bad_version} (DiscountCalculator null path)",
            fault_type="bad_deployment",
            aliases=(
                "bad deployment",
                "bad rollout",
                "bad api rollout",
                "faulty release",
                "regression in new version",
                "orders-api {bad_version}",
                "NullPointerException",
                "null pointer exception",
                "unhandled null",
                "DiscountCalculator",
                "rollout",
            ),
            trigger="deployment rollout (orders-api {good_version} -> {bad_version})",
            blast_radius=(
                "orders-api {bad_version} pods",
                "mesh orders-api route",
                "web (nginx)",
                "shop UI order pages",
            ),
            expected_first_signal="api_logs.log: java.lang.NullPointerException ... "
            "DiscountCalculator ... from an orders-api {bad_version} pod",
            first_signal="api.npe",
            chain=(
                (
                    "k8s",
                    "Deployment orders-api",
                    "rolling update to a {bad_version} ReplicaSet",
                    ("k8s.rollout_step", "k8s.container_started"),
                ),
                (
                    "api",
                    "orders-api {bad_version} pods",
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
                    "rollback scales the {good_version} ReplicaSet back up",
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
