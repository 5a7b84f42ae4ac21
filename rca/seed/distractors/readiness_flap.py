"""A monitoring pod in another namespace fails its readiness probe for a while.

Story: Grafana in the ``monitoring`` namespace answers its ``/api/health`` probe slowly
while it re-reads its dashboards (or its SQLite store is busy): kubelet logs probe
failures, after three in a row the pod leaves its Service's endpoints, and a probe or
two later it is ready again. Nothing in the shop namespace is touched.

Formats: kubelet ``pkg/kubelet/prober/prober.go`` (``"Probe failed"`` with
``probeType``, ``probeResult``, ``output``; the ``Unhealthy`` event "Readiness probe
failed: %s") and ``kubelet.go``'s ``"SyncLoop (probe)"`` line, as ``renderers/k8s.py``
writes them for orders-api; the Go HTTP client's timeout text
(/work/shared/reference/log-formats.md, section 4).
"""

from __future__ import annotations

from .._timefmt import US
from .._topology import PROBE_FAILURE_THRESHOLD, PROBE_PERIOD_US
from ..renderers.k8s import klog_quote
from ..scenarios import Plan, PlanContext
from ._base import Chance, Distractor, pick_time, signal_key

KEY = signal_key("readiness_flap")
NAMESPACE = "monitoring"
CONTAINER = "grafana"
PORT = 3000


class ReadinessFlap(Distractor):
    id = "readiness_flap"
    title = "A monitoring pod in another namespace flaps its readiness"
    imitates = ""  # probe failures belong to several families; none is Grafana's
    probability = Chance(standard=0.4, hard=0.8)
    why_not_root_cause = (
        f"the failing readiness probe is Grafana's in namespace {NAMESPACE}, a pod no shop "
        "request passes through; it turns ready again by itself and no shop error follows"
    )
    signal_keys = (KEY,)

    def plan(self, ctx: PlanContext, plan: Plan) -> None:
        rng = ctx.rng
        node = rng.pick(ctx.stack.nodes)
        pod = f"grafana-{rng.template_hash()}-{rng.token(5)}"
        uid = rng.hexstr(32)
        uid = f"{uid[:8]}-{uid[8:12]}-4{uid[13:16]}-b{uid[17:20]}-{uid[20:]}"
        ip = node.pod_ip(rng)
        url = f"http://{ip}:{PORT}/api/health"
        output = (
            f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting '
            "headers)"
        )
        ref = f'pod="{NAMESPACE}/{pod}" podUID="{uid}"'
        episodes = rng.between(1, 2) if ctx.difficulty != "hard" else rng.between(3, 6)
        # Probes keep their period; a flap is a run of consecutive failures.
        phase = rng.below(PROBE_PERIOD_US)
        for _ in range(episodes):
            t = pick_time(ctx, plan, span_us=3 * 60 * US)
            t = t - (t - ctx.window_start_us) % PROBE_PERIOD_US + phase
            failures = rng.between(2, 7)
            for i in range(failures):
                # The probe ticks on the period; the failure is logged at its 1 s timeout
                # plus the goroutine's scheduling.
                tp = t + i * PROBE_PERIOD_US + 1_000_000 + rng.step_us(600)
                plan.add(
                    tp,
                    "k8s",
                    "kubelet_line",
                    node=node.name,
                    level="I",
                    src="prober.go:107",
                    msg=f'"Probe failed" probeType="Readiness" {ref} '
                    f'containerName="{CONTAINER}" probeResult="failure" '
                    f"output={klog_quote(output)}",
                    signals=[KEY],
                )
                plan.add(
                    tp + rng.step_us(150),
                    "k8s",
                    "object_event",
                    source="kubelet",
                    node=node.name,
                    ns=NAMESPACE,
                    name=pod,
                    object_kind="Pod",
                    api="v1",
                    type="Warning",
                    reason="Unhealthy",
                    message=f"Readiness probe failed: {output}",
                    field_path=f"spec.containers{{{CONTAINER}}}",
                )
                if i + 1 == PROBE_FAILURE_THRESHOLD:
                    _sync_probe(plan, node.name, pod, tp + rng.step_us(400), "")
            if failures >= PROBE_FAILURE_THRESHOLD:
                back = t + failures * PROBE_PERIOD_US + rng.step_us(30_000)
                _sync_probe(plan, node.name, pod, back, "ready")


def _sync_probe(plan: Plan, node: str, pod: str, t: int, status: str) -> None:
    plan.add(
        t,
        "k8s",
        "kubelet_line",
        node=node,
        level="I",
        src="kubelet.go:2542",
        msg=f'"SyncLoop (probe)" probe="readiness" status="{status}" pod="{NAMESPACE}/{pod}"',
    )
