"""A batch CronJob in another namespace is OOMKilled and its Job fails.

Story: the analytics namespace's ``orders-export`` CronJob (a Python export to the data
warehouse, memory limit 512Mi) starts a Job on its schedule; the export loads a whole
day into memory, the kernel's memory cgroup kills it (node-problem-detector's
``OOMKilling`` event, kubelet's exit code 137), the Job controller re-creates the pod
with its doubling back-off until ``backoffLimit`` is reached. Nothing in the shop
namespace changes: no orders-api container restarts, no 503s, no GC pressure.

Formats: Job/CronJob event reasons and messages from kubernetes
``pkg/controller/job/job_controller.go`` (``BackoffLimitExceeded``, "Job has reached the
specified backoff limit") and ``pkg/controller/cronjob/cronjob_controllerv2.go``
(``SuccessfulCreate`` "Created job %v", ``SawCompletedJob`` "Saw completed job: %v,
status: %v"); the kernel line and PLEG lines as ``renderers/k8s.py`` writes them for
orders-api (/work/shared/reference/log-formats.md, section 4).
"""

from __future__ import annotations

from .._timefmt import US
from ..renderers.k8s import klog_quote
from ..scenarios import Plan, PlanContext
from ._base import Chance, Distractor, pick_time, signal_key

NAMESPACE = "analytics"
CRONJOB = "orders-export"
CONTAINER = "export"
IMAGE = "registry.example.com/analytics/orders-export"
# The export's runtime, and so the process the kernel names: the Python export, or (at
# "hard", as often) its Spring Batch rewrite, a java process like orders-api's.
RUNTIMES = {"python3": "4.2.0", "java": "5.0.1"}
MEMORY_LIMIT_KB = 512 * 1024
BACKOFF_LIMIT = 2  # spec.backoffLimit: three pods in all
KEY = signal_key("cronjob_oom")


class CronJobOom(Distractor):
    id = "cronjob_oom"
    title = "A batch CronJob in another namespace OOMKilled until its Job fails"
    imitates = "memory_leak"
    probability = Chance(standard=0.4, hard=0.8)
    why_not_root_cause = (
        f"the OOMKilled container is the {CRONJOB} batch Job in namespace {NAMESPACE}, not "
        "orders-api: no shop pod restarts, no 503s and no GC pressure follow; the Job "
        "simply fails after its backoff limit"
    )
    signal_keys = (KEY,)

    def plan(self, ctx: PlanContext, plan: Plan) -> None:
        rng = ctx.rng
        # A CronJob's Job is named after its scheduled minute, so it starts on one.
        t = pick_time(ctx, plan, span_us=4 * 60 * US)
        t -= t % (60 * US)
        t = max(t, ctx.window_start_us)
        process = "java" if ctx.difficulty == "hard" and rng.chance(0.5) else "python3"
        self._job(ctx, plan, t, process)
        if ctx.difficulty == "hard" and rng.chance(0.5):
            # Scheduled every ten minutes (*/10): each run meets the same limit, so the
            # kernel kills it as often as a leaking shop pod.
            t += 10 * 60 * US
            while t + 4 * 60 * US < ctx.window_end_us:
                self._job(ctx, plan, t, process)
                t += 10 * 60 * US

    def _job(self, ctx: PlanContext, plan: Plan, minute_us: int, process: str) -> None:
        rng = ctx.rng
        nodes = ctx.stack.nodes
        t = minute_us + int(rng.uniform(0.005, 0.05) * US)
        job = f"{CRONJOB}-{t // (60 * US)}"
        image = f"{IMAGE}:{RUNTIMES[process]}"
        runs = 1 + BACKOFF_LIMIT

        def ev(
            at: int,
            source: str,
            kind: str,
            name: str,
            typ: str,
            reason: str,
            msg: str,
            **extra: object,
        ) -> None:
            api = {"CronJob": "batch/v1", "Job": "batch/v1"}.get(kind, "v1")
            plan.add(
                at,
                "k8s",
                "object_event",
                source=source,
                ns=NAMESPACE,
                name=name,
                object_kind=kind,
                api=api,
                type=typ,
                reason=reason,
                message=msg,
                **extra,
            )

        ev(t, "controller", "CronJob", CRONJOB, "Normal", "SuccessfulCreate", f"Created job {job}")
        start = t + int(rng.uniform(0.2, 0.8) * US)
        backoff = 10 * US
        for _ in range(runs):
            pod = f"{job}-{rng.token(5)}"
            node = rng.pick(nodes).name
            uid = rng.hexstr(32)
            uid = f"{uid[:8]}-{uid[8:12]}-4{uid[13:16]}-a{uid[17:20]}-{uid[20:]}"
            cid = rng.hexstr(64)
            ev(start, "controller", "Job", job, "Normal", "SuccessfulCreate", f"Created pod: {pod}")
            ev(
                start + rng.step_us(30_000),
                "scheduler",
                "Pod",
                pod,
                "Normal",
                "Scheduled",
                f"Successfully assigned {NAMESPACE}/{pod} to {node}",
            )
            up = start + int(rng.uniform(1.5, 3.0) * US)
            fp = f"spec.containers{{{CONTAINER}}}"
            at = up
            for typical, reason, msg in (
                (0, "Pulled", f'Container image "{image}" already present on machine'),
                (200_000, "Created", f"Created container: {CONTAINER}"),
                (200_000, "Started", f"Started container {CONTAINER}"),
            ):
                at += rng.step_us(typical) if typical else 0
                ev(at, "kubelet", "Pod", pod, "Normal", reason, msg, node=node, field_path=fp)
            # The export grows until the cgroup limit: a minute or two of work.
            death = up + int(rng.uniform(50, 110) * US)
            rss = MEMORY_LIMIT_KB + rng.between(100, 900)
            kernel = (
                f"Memory cgroup out of memory: Killed process {100_000 + rng.below(800_000)} "
                f"({process}) total-vm:{rss * 2 + rng.between(90_000, 200_000)}kB, "
                f"anon-rss:{rss}kB, file-rss:{rng.between(9000, 16000)}kB, shmem-rss:0kB, "
                f"UID:1000 pgtables:{rng.between(1100, 1700)}kB oom_score_adj:{rng.between(900, 999)}"
            )
            plan.add(
                death + rng.step_us(80_000),
                "k8s",
                "object_event",
                source="node",
                ns="",
                name=node,
                object_kind="Node",
                api="v1",
                type="Warning",
                reason="OOMKilling",
                message=kernel,
                signals=[KEY],
            )
            relist = death + rng.step_us(400_000)  # the next PLEG relist
            plan.add(
                relist,
                "k8s",
                "kubelet_line",
                node=node,
                level="I",
                src="generic.go:334",
                msg=f'"Generic (PLEG): container finished" podID="{uid}" '
                f'containerID="{cid}" exitCode=137',
            )
            event = f'{{"ID":"{uid}","Type":"ContainerDied","Data":"{cid}"}}'
            plan.add(
                relist + rng.step_us(300),
                "k8s",
                "kubelet_line",
                node=node,
                level="I",
                src="kubelet.go:2473",
                msg=f'"SyncLoop (PLEG): event for pod" pod={klog_quote(f"{NAMESPACE}/{pod}")} '
                f"event={event}",
            )
            start = death + backoff + int(rng.uniform(0.1, 1.0) * US)
            backoff *= 2
        # The last failure reaches the limit: the controller fails the Job at once.
        failed = death + int(rng.uniform(0.6, 1.4) * US)
        ev(
            failed,
            "controller",
            "Job",
            job,
            "Warning",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        )
        ev(
            failed + int(rng.uniform(1.0, 9.0) * US),
            "controller",
            "CronJob",
            CRONJOB,
            "Normal",
            "SawCompletedJob",
            f"Saw completed job: {job}, status: Failed",
        )
