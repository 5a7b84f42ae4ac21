"""A rolling update ships a new orders-api release with a bug in its order path.

Story: the Deployment's image moves to the new release (1.8.2 -> 1.9.0 at difficulty
easy; a release pair drawn per seed otherwise, ``_topology.release_pair``; maxSurge 1, maxUnavailable 0). As each
new pod turns ready it takes traffic, and a share of its order requests meet the
release's bug -> 500 with a stack trace, only on new pods. At difficulty easy the bug is
v0's: a customer without a loyalty tier throws a NullPointerException in
``DiscountCalculator``; otherwise one of ``DEFECTS`` is drawn per seed. The mesh retries 5xx onto other pods (old ones succeed while
they last, then retries run out: 500 URX); nginx passes the 500s to users. The on-call
runs ``kubectl rollout undo``; the old ReplicaSet scales back up and errors stop.
"""

from __future__ import annotations

from .._rng import Rng
from .._timefmt import US
from .._topology import Pod, Stack
from ._base import (
    API_SHARE,
    NULL_TIER,
    Caption,
    Expect,
    LabelSpec,
    Paraphrase,
    Plan,
    PlanContext,
    ReleaseDefect,
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

# What the faulty release throws, drawn per seed (easy: v0's null tier). Every one is a
# bug a release ships in the order path and that fails the requests it meets with a
# 500, and the JDK words its message as here (Java 21: JEP 358 helpful NPE messages,
# BigDecimal.divide's non-terminating expansion, Preconditions.outOfBounds,
# Enum.valueOf, the module-aware ClassCastException). So the exception's name tells a
# responder nothing about the cause by itself: the rollout it starts with does.
DEFECTS: tuple[ReleaseDefect, ...] = (
    NULL_TIER,
    ReleaseDefect(
        exception="java.lang.ArithmeticException",
        message="Non-terminating decimal expansion; no exact representable decimal result.",
        frames=(
            ("java.base/java.math.BigDecimal.divide(BigDecimal.java:1780)", True),
            ("com.example.orders.pricing.TaxCalculator.perUnitTax(TaxCalculator.java:67)", False),
            ("com.example.orders.service.OrderService.priceOrder(OrderService.java:138)", False),
        ),
        where="TaxCalculator",
        what="BigDecimal division without a rounding mode",
    ),
    ReleaseDefect(
        exception="java.lang.IndexOutOfBoundsException",
        message="Index 0 out of bounds for length 0",
        frames=(
            ("java.base/jdk.internal.util.Preconditions.outOfBounds(Preconditions.java:100)", True),
            (
                "java.base/jdk.internal.util.Preconditions.outOfBoundsCheckIndex"
                "(Preconditions.java:106)",
                True,
            ),
            ("java.base/jdk.internal.util.Preconditions.checkIndex(Preconditions.java:302)", True),
            ("java.base/java.util.Objects.checkIndex(Objects.java:385)", True),
            ("java.base/java.util.ArrayList.get(ArrayList.java:427)", True),
            (
                "com.example.orders.shipping.ShippingQuoteService.cheapest"
                "(ShippingQuoteService.java:51)",
                False,
            ),
            ("com.example.orders.service.OrderService.priceOrder(OrderService.java:144)", False),
        ),
        where="ShippingQuoteService",
        what="first shipping quote taken from an empty list",
    ),
    ReleaseDefect(
        exception="java.lang.IllegalArgumentException",
        message="No enum constant com.example.orders.domain.PaymentMethod.CARD",
        frames=(
            ("java.base/java.lang.Enum.valueOf(Enum.java:293)", True),
            (
                "com.example.orders.domain.PaymentMethod.valueOf(PaymentMethod.java:5)",
                False,
            ),
            ("com.example.orders.service.OrderService.paymentOf(OrderService.java:152)", False),
        ),
        where="PaymentMethod",
        what="enum constant CARD renamed while stored orders still hold it",
    ),
    ReleaseDefect(
        exception="java.lang.ClassCastException",
        message="class java.lang.Integer cannot be cast to class java.lang.Long "
        "(java.lang.Integer and java.lang.Long are in module java.base of loader 'bootstrap')",
        frames=(
            ("com.example.orders.pricing.PromotionRules.maxUnits(PromotionRules.java:93)", False),
            ("com.example.orders.service.OrderService.priceOrder(OrderService.java:126)", False),
        ),
        where="PromotionRules",
        what="promotion limit read as Long from a config map of Integers",
    ),
)


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
    title = "Bad orders-api rollout (a bug in the new release's order path), then rollback"
    description = (
        "A new `orders-api` release rolls out with a bug in its order path, then is rolled back"
    )
    caption = Caption(
        happens=(
            "A rolling update ships a new ``orders-api`` release with a bug in its "
            "order path (a null loyalty tier, a BigDecimal division, an empty list, a "
            "renamed enum constant or a bad cast, drawn per seed): every affected order "
            "request on a new pod throws and returns 500. The mesh retries "
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
            title="Bad rollout: the new orders-api release fails order requests with 500s",
            summary="new release of the API pods; rolled back later",
            file="api_logs.log",
            # The release's exception, whichever was drawn (a JDK one, java.lang.*).
            signature="Request processing failed: java.lang.",
        ),
        commented_sql=False,  # only a chance duplicate-key conflict (0.6 % of POSTs)
        probe_failures=True,
        matching_paraphrases=(
            "Bad rollout of the new orders-api release",
            "Faulty release: order requests fail on the new pods",
            "Regression in new version of orders-api",
            "The orders-api deployment broke order requests; rolling back fixed it",
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
        # Drawn last, so that the story's other draws are those of a v0 plan.
        defect = NULL_TIER if ctx.difficulty == "easy" else rng.pick(DEFECTS)
        plan.release_defect = defect
        plan.drawn = {
            "good_version": good,
            "bad_version": bad_version,
            "defect_exception": defect.simple_name,
            "defect_class": defect.where,
            "defect_bug": defect.what,
            "onset_share": f"{(start - ctx.window_start_us) / (ctx.window_end_us - ctx.window_start_us):.3f}",
        }
        return plan

    def label(self) -> LabelSpec:
        return LabelSpec(
            root_cause="bad deployment: orders-api {bad_version} fails order requests "
            "({defect_exception}: {defect_bug} in {defect_class})",
            root_cause_layer="api",
            root_cause_component="orders-api {bad_version} ({defect_class})",
            fault_type="bad_deployment",
            aliases=(
                "bad deployment",
                "bad rollout",
                "bad api rollout",
                "faulty release",
                "regression in new version",
                "orders-api {bad_version}",
                # The class and the bug, not the bare exception type: every error line
                # prints that, and it says nothing of the cause (NPE alone is family
                # vocabulary below, as responders say "the NPE release").
                "{defect_bug}",
                "{defect_class}",
                "rollout",
            ),
            trigger="deployment rollout (orders-api {good_version} -> {bad_version})",
            blast_radius=(
                "orders-api {bad_version} pods",
                "mesh orders-api route",
                "web (nginx)",
                "shop UI order pages",
            ),
            expected_first_signal="api_logs.log: {defect_exception} ... {defect_class} ... "
            "from an orders-api {bad_version} pod",
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
                    "500 with {defect_exception} stack traces",
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
                "broken deployment",
                "deployment broke",
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
