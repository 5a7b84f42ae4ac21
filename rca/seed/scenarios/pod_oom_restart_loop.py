"""A memory leak in orders-api: GC pressure, OOMKilled (exit 137), CrashLoopBackOff.

Story: heap use after GC creeps up on every orders-api pod (a cache without eviction,
filled per request). Young GCs come faster, then Full GCs that free almost nothing
while latency climbs; the container's RSS passes its 768 Mi limit and the kernel's
memory cgroup kills it (exit 137, ``OOMKilled``). A restarted container fills up again
within minutes, so kubelet backs off 10 s, 20 s, 40 s ... (CrashLoopBackOff). While a
pod is down the mesh resets in-flight requests (503 UC), briefly routes to a dead
endpoint (UF), and has no healthy endpoint at all when every pod is down (503 UH); nginx
passes those 503s to users. The window ends with the loop still going.
"""

from __future__ import annotations

from .._rng import Rng
from .._timefmt import US
from .._topology import CONTAINER_MEMORY_LIMIT_MI, Container, Pod
from ._base import Caption, Expect, LabelSpec, Paraphrase, Plan, PlanContext, Scenario
from ._lifecycle import kill_container, restart_container

BASE = 0.38  # heap fraction used after GC when healthy
# When the leak starts, as a fraction of the window at difficulty easy; otherwise anywhere
# that leaves LEAD_US for the first pod's heap to fill and be OOMKilled.
ONSET_AT = (0.18, 0.24)
# (every pod's first death and a restart or two: users see 503s once pods overlap)
LEAD_US = 13 * 60 * US


class PodOomRestartLoop(Scenario):
    id = "pod_oom_restart_loop"
    title = "orders-api memory leak -> OOMKilled -> CrashLoopBackOff"
    description = "A memory leak gets `orders-api` OOMKilled into CrashLoopBackOff"
    caption = Caption(
        happens=(
            "A memory leak in ``orders-api``: heap after GC creeps up, Full GCs free "
            "almost nothing, latency climbs, and the kernel OOM-kills the container "
            "(exit 137, ``OOMKilled``). Restarted containers fill up again within "
            "minutes, so kubelet backs off (CrashLoopBackOff). When every pod is down "
            "the mesh has no healthy endpoint (503)."
        ),
        look_for=(
            "Latency creeping up inside the shaded window, Kubernetes warning bars that "
            "grow denser restart after restart in the bottom panel (OOMKilled, "
            "BackOff), and, near the end, the 5xx share jumping at the mesh and nginx "
            "while ``orders-api`` handles almost nothing: the pods are not there to "
            "fail. The loop is still going when the window ends."
        ),
    )
    v0 = True
    expect = Expect(
        paraphrase=Paraphrase(
            title="Memory leak: orders-api containers OOMKilled (exit code 137), now in CrashLoopBackOff",
            summary="heap grows until the container limit",
            file="k8s_events.log",
            signature="exitCode=137",
        ),
        commented_sql=False,
        probe_failures=True,
        matching_paraphrases=(
            "orders-api pods OOMKilled due to a memory leak",
            "Java heap memory leak leading to OOM kills",
            "Containers in CrashLoopBackOff after exit code 137",
            "OutOfMemoryError in orders-api",
        ),
    )

    def plan(self, ctx: PlanContext) -> Plan:
        rng = ctx.rng
        onset = ctx.at(ctx.onset(ONSET_AT, LEAD_US))
        # Leak curves per container: (pod, start of growth, death) piecewise-linear.
        curves: dict[str, list[tuple[int, int]]] = {}
        plan = Plan(incident=True, onset_us=onset)
        deaths: list[int] = []
        for i, pod in enumerate(ctx.stack.api_pods):
            first_death = onset + int((rng.uniform(5.0, 7.0) + i * rng.uniform(2.5, 4.0)) * 60 * US)
            grow_from = onset + int(i * rng.uniform(20, 60) * US)
            deaths += self._loop(plan, ctx, pod, grow_from, first_death, curves, rng)
        plan.peak_us = sorted(deaths)[min(len(deaths) - 1, len(ctx.stack.api_pods))]
        plan.recovery_us = None
        plan.drawn = {
            "onset_share": f"{(onset - ctx.window_start_us) / (ctx.window_end_us - ctx.window_start_us):.3f}",
        }

        def heap_used(t: int, pod: Pod) -> float:
            for grow, death in curves.get(pod.name, ()):
                if grow <= t < death:
                    return BASE + (0.995 - BASE) * float(((t - grow) / (death - grow)) ** 1.6)
            return BASE

        def cpu_time(t: int, pod: Pod) -> float:
            used = heap_used(t, pod)
            # GC overhead: negligible until the heap is ~80% full, then steep.
            return 1.0 + 250.0 * float(max(0.0, used - 0.8) ** 1.5)

        plan.heap_used = heap_used
        plan.cpu_time = cpu_time
        return plan

    def _loop(
        self,
        plan: Plan,
        ctx: PlanContext,
        pod: Pod,
        grow_from: int,
        death: int,
        curves: dict[str, list[tuple[int, int]]],
        rng: Rng,
    ) -> list[int]:
        deaths = []
        backoff = 10
        c: Container = pod.containers[-1]
        while death < ctx.window_end_us:
            curves.setdefault(pod.name, []).append((grow_from, death))
            rss = CONTAINER_MEMORY_LIMIT_MI * 1024 + rng.between(200, 900)
            kill_container(plan, pod, c, death, oom=True, rss_kb=rss)
            deaths.append(death)
            restart = death + backoff * US + int(rng.uniform(0.2, 1.5) * US)
            plan.add(
                death + int(rng.uniform(1.0, 2.0) * US),
                "k8s",
                "backoff",
                pod=pod,
                delay=_delay(backoff),
                until=restart,
            )
            c = restart_container(plan, pod, restart, rng)
            backoff = min(300, backoff * 2)
            # A fresh JVM refills the leaky cache fast: the next death comes in minutes.
            grow_from = c.ready_us
            death = c.ready_us + int(rng.uniform(2.0, 3.5) * 60 * US)
        curves.setdefault(pod.name, []).append((grow_from, death))
        return deaths

    def label(self) -> LabelSpec:
        return LabelSpec(
            root_cause="pod memory exhaustion: memory leak in orders-api; containers "
            "OOMKilled (exit 137) and restart-looping",
            root_cause_layer="k8s",
            root_cause_component="orders-api pods (container memory limit 768Mi)",
            fault_type="memory_leak",
            aliases=(
                "pod memory exhaustion",
                "memory leak",
                "oom",
                "oomkilled",
                "out of memory",
                "oom kill",
                "crashloopbackoff",
                "restart loop",
                "exit code 137",
                "memory limit exceeded",
            ),
            trigger="memory leak",
            blast_radius=("orders-api pods", "mesh orders-api route", "web (nginx)", "shop UI"),
            expected_first_signal="api_logs.log: rising GC pauses (Pause Full) on orders-api "
            "pods, then k8s_events.log: container finished exitCode=137 / OOMKilling",
            first_signal="api.gc_full",
            chain=(
                (
                    "api",
                    "orders-api JVM",
                    "heap after GC climbs; Full GCs free nothing",
                    ("api.gc_full",),
                ),
                (
                    "k8s",
                    "orders-api containers",
                    "OOMKilled (exit 137) and restarted",
                    ("k8s.oom_killing", "k8s.container_exit_137"),
                ),
                (
                    "db",
                    "PostgreSQL orders-db",
                    "each killed JVM's connections reset; each new JVM's pool reconnects "
                    "in a burst",
                    ("db.client_reset", "db.connection_received"),
                ),
                (
                    "k8s",
                    "kubelet",
                    "CrashLoopBackOff with doubling back-off",
                    ("k8s.crashloop", "k8s.backoff_event"),
                ),
                (
                    "mesh",
                    "istio-proxy (web -> orders-api)",
                    "503 UC/UF/UH while pods are down or restarting",
                    ("mesh.503.UH", "mesh.503.UC", "mesh.503.UC,URX", "mesh.503.UF,URX"),
                ),
                ("ui", "web (nginx)", "users get 503s", ("ui.503",)),
            ),
            confidence=(0.7, 1.0),
            # Wordings of the fault family; no drawn name (see LabelSpec.synonyms).
            synonyms=(
                "leaking memory",
                "heap leak",
                "memory exhaustion",
                "heap exhaustion",
                "out of memory",
                "OutOfMemoryError",
                "OOMKilled",
                "OOMKilling",
                "OOM kill",
                "OOM killer",
                "CrashLoopBackOff",
                "crash loop",
                "restart loop",
                "exit code 137",
                "memory limit",
            ),
        )


def _delay(seconds: int) -> str:
    """Go duration text as kubelet prints it: 10s, 1m20s, 5m0s."""
    if seconds < 60:
        return f"{seconds}s"
    return f"{seconds // 60}m{seconds % 60}s"
