"""Another workload of the shop rolls out a new version, smoothly.

Story: the ``notification-worker`` Deployment (it e-mails order confirmations from a
queue; no request of the shop's site passes through it) ships a new patch release with
a rolling update (maxSurge 1, maxUnavailable 0): each new pod is scheduled, pulls its
image, starts and turns ready, then one old pod is scaled down and stopped. Every step
succeeds; nothing else changes.

Formats: the Deployment and ReplicaSet controllers' events (``ScalingReplicaSet``
"Scaled up replica set %s to %d from %d", ``SuccessfulCreate``/``SuccessfulDelete``),
the scheduler's bind line, and kubelet's pull/create/start events and SyncLoop lines,
exactly as ``renderers/k8s.py`` writes them for orders-api's rollouts
(kubernetes ``pkg/controller/deployment/sync.go``, ``pkg/kubelet/images/image_manager.go``).
"""

from __future__ import annotations

from .._rng import Rng
from .._timefmt import US
from ..scenarios import Plan, PlanContext
from ._base import Chance, Distractor, pick_time, signal_key

KEY = signal_key("healthy_rollout")
NAMESPACE = "shop"
APP = "notification-worker"
IMAGE = f"registry.example.com/shop/{APP}"


def _version(rng: Rng) -> tuple[str, str]:
    major, minor, patch = rng.between(1, 3), rng.between(0, 14), rng.between(0, 8)
    return f"{major}.{minor}.{patch}", f"{major}.{minor}.{patch + 1}"


class HealthyRollout(Distractor):
    id = "healthy_rollout"
    title = "Another shop workload rolls out a new version, smoothly"
    imitates = "bad_deployment"
    probability = Chance(standard=0.45, hard=0.85)
    why_not_root_cause = (
        f"the rollout is of {APP}, which no shop request passes through, and every new pod "
        "turns ready; no error rate or latency change starts with it"
    )
    signal_keys = (KEY,)

    def plan(self, ctx: PlanContext, plan: Plan) -> None:
        rng = ctx.rng
        nodes = ctx.stack.nodes
        _old_version, new_version = _version(rng)
        old_rs, new_rs = f"{APP}-{rng.template_hash()}", f"{APP}-{rng.template_hash()}"
        replicas = rng.between(2, 3)
        old_pods = [f"{old_rs}-{rng.token(5)}" for _ in range(replicas)]
        t = pick_time(ctx, plan, span_us=replicas * 45 * US)

        def ev(
            at: int, source: str, kind: str, name: str, reason: str, msg: str, **extra: object
        ) -> None:
            api = "v1" if kind == "Pod" else "apps/v1"
            plan.add(
                at,
                "k8s",
                "object_event",
                source=source,
                ns=NAMESPACE,
                name=name,
                object_kind=kind,
                api=api,
                type="Normal",
                reason=reason,
                message=msg,
                **extra,
            )

        for i in range(replicas):
            pod = f"{new_rs}-{rng.token(5)}"
            node = nodes[(i + rng.below(len(nodes))) % len(nodes)].name
            ev(
                t,
                "controller",
                "Deployment",
                APP,
                "ScalingReplicaSet",
                f"Scaled up replica set {new_rs} to {i + 1} from {i}",
                signals=[KEY] if i == 0 else [],
            )
            created = t + rng.step_us(20_000)
            ev(
                created,
                "controller",
                "ReplicaSet",
                new_rs,
                "SuccessfulCreate",
                f"Created pod: {pod}",
            )
            ref = f"{NAMESPACE}/{pod}"
            scheduled = created + rng.step_us(9_000)
            ev(
                scheduled,
                "scheduler",
                "Pod",
                pod,
                "Scheduled",
                f"Successfully assigned {ref} to {node}",
            )
            t_add = scheduled + rng.step_us(56_000)
            plan.add(
                t_add,
                "k8s",
                "kubelet_line",
                node=node,
                level="I",
                src="kubelet.go:2407",
                msg=f'"SyncLoop ADD" source="api" pods=["{ref}"]',
            )
            fp = f"spec.containers{{{APP}}}"
            image = f"{IMAGE}:{new_version}"
            pulling = t_add + rng.step_us(40_000)
            pulled = pulling + int(rng.uniform(1.2, 4.0) * US)
            pull_s = (pulled - pulling) / 1e6
            size = rng.between(60_000_000, 140_000_000)
            ev(
                pulling,
                "kubelet",
                "Pod",
                pod,
                "Pulling",
                f'Pulling image "{image}"',
                node=node,
                field_path=fp,
            )
            ev(
                pulled,
                "kubelet",
                "Pod",
                pod,
                "Pulled",
                f'Successfully pulled image "{image}" in {pull_s:.3f}s '
                f"({pull_s + rng.step_us(3_000) / 1e6:.3f}s including waiting). "
                f"Image size: {size} bytes.",
                node=node,
                field_path=fp,
            )
            made = pulled + rng.step_us(300_000)
            ev(
                made,
                "kubelet",
                "Pod",
                pod,
                "Created",
                f"Created container: {APP}",
                node=node,
                field_path=fp,
            )
            started = made + rng.step_us(300_000)
            ev(
                started,
                "kubelet",
                "Pod",
                pod,
                "Started",
                f"Started container {APP}",
                node=node,
                field_path=fp,
            )
            ready = started + int(rng.uniform(4.0, 12.0) * US)
            plan.add(
                ready,
                "k8s",
                "kubelet_line",
                node=node,
                level="I",
                src="kubelet.go:2542",
                msg=f'"SyncLoop (probe)" probe="readiness" status="ready" pod="{ref}"',
            )
            down = ready + int(rng.uniform(0.5, 2.5) * US)
            old = old_pods[i]
            ev(
                down,
                "controller",
                "Deployment",
                APP,
                "ScalingReplicaSet",
                f"Scaled down replica set {old_rs} to {replicas - i - 1} from {replicas - i}",
            )
            deleted = down + rng.step_us(20_000)
            ev(
                deleted,
                "controller",
                "ReplicaSet",
                old_rs,
                "SuccessfulDelete",
                f"Deleted pod: {old}",
            )
            old_node = nodes[(i + 1) % len(nodes)].name
            synced = deleted + rng.step_us(40_000)
            plan.add(
                synced,
                "k8s",
                "kubelet_line",
                node=old_node,
                level="I",
                src="kubelet.go:2423",
                msg=f'"SyncLoop DELETE" source="api" pods=["{NAMESPACE}/{old}"]',
            )
            ev(
                synced + rng.step_us(900),
                "kubelet",
                "Pod",
                old,
                "Killing",
                f"Stopping container {APP}",
                node=old_node,
                field_path=fp,
            )
            t = down + int(rng.uniform(0.3, 1.5) * US)
