"""Kubernetes control plane and kubelets, klog text format, merged in time order.

Lines come from three kinds of process, told apart by PID and source file as in real
logs: kubelets (one per node), kube-controller-manager and kube-scheduler. Events are
the ``"Event occurred"`` lines client-go's recorder writes when structured logging is
on; kubelet's own lines (probes, PLEG, pod workers) carry the structured key/values the
real messages have. Header: ``Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg`` with the
PID right-aligned in seven columns.
"""

from __future__ import annotations

from .. import _timefmt as tf
from .._sim import ProbeResult
from .._sink import LineSink
from .._topology import API_SERVICE, NAMESPACE, Container, Node, Pod
from ..scenarios import Fact
from ._base import RenderContext, Renderer

IMAGE = "registry.example.com/shop/orders-api"
EVENT_SRC = "event.go:389"


def _signals(d: dict[str, object]) -> tuple[str, ...]:
    keys = d.get("signals", ())
    assert isinstance(keys, (list, tuple))
    return tuple(str(k) for k in keys)


def _q(value: str) -> str:
    """A klog string value: Go ``%q`` quoting."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


klog_quote = _q  # for plans that write kubelet messages (``kubelet_line`` facts)
# How often one kubelet's stats summary fails on the missing systemd slice (medium noise).
STATS_PERIOD_US = 180_000_000


class K8sRenderer(Renderer):
    stream = "k8s"

    def __init__(self, ctx: RenderContext, sink: LineSink) -> None:
        super().__init__(ctx, sink)
        self.nodes = {n.name: n for n in ctx.stack.nodes}
        rng = self.rng
        # Each kubelet fails its own system-container stats on its own clock.
        self._next_stats = {
            n.name: ctx.window_start_us + rng.below(STATS_PERIOD_US) for n in ctx.stack.nodes
        }
        self._unrelated = None
        if rng.chance(min(1.0, 0.6 * ctx.noise)):
            span = ctx.window_end_us - ctx.window_start_us
            self._unrelated = (
                ctx.window_start_us + int(span * rng.uniform(0.05, 0.5)),
                f"report-worker-{rng.template_hash()}-{rng.token(5)}",
                rng.pick(ctx.stack.nodes),
            )
            self._unrelated_next = self._unrelated[0]
            self._unrelated_backoff = 10

    def _gap(self, typical_us: int) -> int:
        return self.rng.step_us(typical_us)

    # ------------------------------------------------------------------ formatting
    def _klog(self, t: int, level: str, pid: int, src: str, msg: str) -> str:
        return f"{level}{tf.klog(t)} {pid:>7} {src}] {msg}"

    def _event(
        self,
        t: int,
        pid: int,
        ns: str,
        name: str,
        kind: str,
        api: str,
        typ: str,
        reason: str,
        message: str,
        field_path: str = "",
    ) -> str:
        ref = f"{ns}/{name}" if ns else name  # klog.KRef: cluster-scoped objects have no ns
        return self._klog(
            t,
            "I",
            pid,
            EVENT_SRC,
            f'"Event occurred" object="{ref}" fieldPath={_q(field_path)} kind="{kind}" '
            f'apiVersion="{api}" type="{typ}" reason="{reason}" message={_q(message)}',
        )

    def _kubelet(self, pod: Pod) -> Node:
        return self.nodes[pod.node]

    def _pod_event(
        self, t: int, pod: Pod, typ: str, reason: str, message: str, container: str = API_SERVICE
    ) -> str:
        return self._event(
            t,
            self._kubelet(pod).kubelet_pid,
            NAMESPACE,
            pod.name,
            "Pod",
            "v1",
            typ,
            reason,
            message,
            f"spec.containers{{{container}}}",
        )

    def _cm_event(
        self, t: int, name: str, kind: str, api: str, reason: str, message: str, typ: str = "Normal"
    ) -> str:
        pid = self.ctx.stack.controller_pid
        return self._event(t, pid, NAMESPACE, name, kind, api, typ, reason, message)

    # ------------------------------------------------------------------ probes
    def probe(self, p: ProbeResult) -> None:
        pod = p.pod
        node = self._kubelet(pod)
        ref = f'pod="{NAMESPACE}/{pod.name}" podUID="{pod.uid}"'
        if not p.ok:
            # The prober logs when the GET fails: at its 1 s timeout, or on the refusal.
            t = p.t_us + (
                1_000_000 + self._gap(600) if "deadline" in p.output else self._gap(2_000)
            )
            key = "k8s.readiness_timeout" if "deadline" in p.output else "k8s.readiness_refused"
            self.out.add(
                t,
                self._klog(
                    t,
                    "I",
                    node.kubelet_pid,
                    "prober.go:107",
                    f'"Probe failed" probeType="Readiness" {ref} containerName="{API_SERVICE}" '
                    f'probeResult="failure" output={_q(p.output)}',
                ),
                (key,),
            )
            te = t + self._gap(150)
            self.out.add(
                te,
                self._pod_event(
                    te, pod, "Warning", "Unhealthy", f"Readiness probe failed: {p.output}"
                ),
                (key + ".event",),
            )
        if p.became:
            t = p.t_us + 1_000_000 + self._gap(400)
            status = "ready" if p.became == "ready" else ""
            self.out.add(
                t,
                self._klog(
                    t,
                    "I",
                    node.kubelet_pid,
                    "kubelet.go:2542",
                    f'"SyncLoop (probe)" probe="readiness" status="{status}" pod="{NAMESPACE}/{pod.name}"',
                ),
                ("k8s.pod_not_ready" if p.became == "not ready" else "k8s.pod_ready",),
            )

    # ------------------------------------------------------------------ facts
    def fact(self, f: Fact) -> None:
        if f.stream != "k8s":
            return
        t = f.t_us
        d = f.data
        handler = getattr(self, f"_f_{f.kind}")
        handler(t, d)

    def _f_pod_created(self, t: int, d: dict[str, object]) -> None:
        pod = d["pod"]
        c = d["container"]
        assert isinstance(pod, Pod) and isinstance(c, Container)
        sched = self.ctx.stack.scheduler_pid
        node = self._kubelet(pod)
        ref = f"{NAMESPACE}/{pod.name}"
        version = pod.version
        add = self.out.add
        add(
            t,
            self._klog(
                t,
                "I",
                sched,
                "schedule_one.go:314",
                f'"Successfully bound pod to node" pod="{ref}" node="{node.name}" '
                "evaluatedNodes=3 feasibleNodes=3",
            ),
            ("k8s.pod_scheduled",),
        )
        t1 = t + self._gap(4_000)
        add(
            t1,
            self._event(
                t1,
                sched,
                NAMESPACE,
                pod.name,
                "Pod",
                "v1",
                "Normal",
                "Scheduled",
                f"Successfully assigned {ref} to {node.name}",
            ),
        )
        t2 = t1 + self._gap(56_000)
        add(
            t2,
            self._klog(
                t2,
                "I",
                node.kubelet_pid,
                "kubelet.go:2407",
                f'"SyncLoop ADD" source="api" pods=["{ref}"]',
            ),
        )
        # Back from the container's start (the simulation's): created, pulled; the pull
        # began after the pod sync, and kubelet reports the time it took (plus any wait
        # for the image-pull slot).
        created_at = c.start_us - self._gap(300_000)
        pulled = created_at - self._gap(900_000)
        pulling = min(t2 + self._gap(40_000), pulled - 50_000)
        pull_s = (pulled - pulling) / 1e6
        waited_s = pull_s + self._gap(3_000) / 1e6
        add(
            pulling,
            self._pod_event(
                pulling, pod, "Normal", "Pulling", f'Pulling image "{IMAGE}:{version}"'
            ),
        )
        add(
            pulled,
            self._pod_event(
                pulled,
                pod,
                "Normal",
                "Pulled",
                f'Successfully pulled image "{IMAGE}:{version}" in {pull_s:.3f}s '
                f"({waited_s:.3f}s including waiting). Image size: 187394110 bytes.",
            ),
            ("k8s.image_pulled",),
        )
        self._started(c.start_us, pod, c, created=True, created_at=created_at)

    def _started(
        self, t: int, pod: Pod, c: Container, created: bool, created_at: int | None = None
    ) -> None:
        add = self.out.add
        made = t - self._gap(300_000) if created_at is None else created_at
        if not created:
            present = made - self._gap(300_000)
            add(
                present,
                self._pod_event(
                    present,
                    pod,
                    "Normal",
                    "Pulled",
                    f'Container image "{IMAGE}:{pod.version}" already present on machine',
                ),
            )
        add(
            made,
            self._pod_event(made, pod, "Normal", "Created", f"Created container: {API_SERVICE}"),
        )
        add(
            t,
            self._pod_event(t, pod, "Normal", "Started", f"Started container {API_SERVICE}"),
            ("k8s.container_started",),
        )
        node = self._kubelet(pod)
        t2 = t + self._gap(700_000)  # PLEG relists every second
        event = f'{{"ID":"{pod.uid}","Type":"ContainerStarted","Data":"{c.container_id}"}}'
        add(
            t2,
            self._klog(
                t2,
                "I",
                node.kubelet_pid,
                "kubelet.go:2473",
                f'"SyncLoop (PLEG): event for pod" pod="{NAMESPACE}/{pod.name}" event={event}',
            ),
        )

    def _f_container_restarted(self, t: int, d: dict[str, object]) -> None:
        pod, c = d["pod"], d["container"]
        assert isinstance(pod, Pod) and isinstance(c, Container)
        self._started(t, pod, c, created=False)

    def _f_container_died(self, t: int, d: dict[str, object]) -> None:
        pod, c = d["pod"], d["container"]
        assert isinstance(pod, Pod) and isinstance(c, Container)
        node = self._kubelet(pod)
        add = self.out.add
        if c.reason == "OOMKilled":
            host_pid = 100_000 + self.rng.below(800_000)
            rss = int(str(d.get("rss_kb", 786_000)))
            msg = (
                f"Memory cgroup out of memory: Killed process {host_pid} (java) "
                f"total-vm:{rss * 4 + 1_234_567}kB, anon-rss:{rss}kB, file-rss:{self.rng.between(20000, 30000)}kB, "
                f"shmem-rss:0kB, UID:1000 pgtables:{self.rng.between(2400, 3200)}kB oom_score_adj:{984}"
            )
            ts = t + self._gap(80_000)
            add(
                ts,
                self._event(ts, 1, "", node.name, "Node", "v1", "Warning", "OOMKilling", msg),
                ("k8s.oom_killing",),
            )
        t1 = t + self._gap(400_000)  # the next PLEG relist
        add(
            t1,
            self._klog(
                t1,
                "I",
                node.kubelet_pid,
                "generic.go:334",
                f'"Generic (PLEG): container finished" podID="{pod.uid}" '
                f'containerID="{c.container_id}" exitCode={c.exit_code}',
            ),
            ("k8s.container_exit_137" if c.exit_code == 137 else "k8s.container_exit",),
        )
        event = f'{{"ID":"{pod.uid}","Type":"ContainerDied","Data":"{c.container_id}"}}'
        t2 = t1 + self._gap(300)
        add(
            t2,
            self._klog(
                t2,
                "I",
                node.kubelet_pid,
                "kubelet.go:2473",
                f'"SyncLoop (PLEG): event for pod" pod="{NAMESPACE}/{pod.name}" event={event}',
            ),
        )

    def _f_backoff(self, t: int, d: dict[str, object]) -> None:
        """CrashLoopBackOff: kubelet refuses the start on every pod sync until it expires."""
        pod = d["pod"]
        assert isinstance(pod, Pod)
        delay = str(d["delay"])
        until = int(str(d.get("until", t + 1)))
        node = self._kubelet(pod)
        full = f"{pod.name}_{NAMESPACE}({pod.uid})"
        inner = f"back-off {delay} restarting failed container={API_SERVICE} pod={full}"
        err = f'failed to "StartContainer" for "{API_SERVICE}" with CrashLoopBackOff: "{inner}"'
        while t < until:
            self.out.add(
                t,
                self._klog(
                    t,
                    "E",
                    node.kubelet_pid,
                    "pod_workers.go:1301",
                    f'"Error syncing pod, skipping" err={_q(err)} pod="{NAMESPACE}/{pod.name}" '
                    f'podUID="{pod.uid}"',
                ),
                ("k8s.crashloop",),
            )
            te = t + self._gap(200)
            self.out.add(
                te,
                self._pod_event(
                    te,
                    pod,
                    "Warning",
                    "BackOff",
                    f"Back-off restarting failed container {API_SERVICE} in pod {full}",
                ),
                ("k8s.backoff_event",),
            )
            t += 10_000_000 + self.rng.below(5_000_000)  # the pod worker's resync

    def _f_scaled(self, t: int, d: dict[str, object]) -> None:
        rs = str(d["rs"])
        frm, to = int(str(d["from"])), int(str(d["to"]))
        verb = "up" if to > frm else "down"
        extra = d.get("signals", [])
        signals = [str(k) for k in extra] if isinstance(extra, list) else []
        self.out.add(
            t,
            self._cm_event(
                t,
                API_SERVICE,
                "Deployment",
                "apps/v1",
                "ScalingReplicaSet",
                f"Scaled {verb} replica set {rs} to {to} from {frm}",
            ),
            (f"k8s.scaled_{verb}", *signals),
        )
        pods = d.get("pods", [])
        assert isinstance(pods, list)
        for i, pod in enumerate(pods):
            t1 = t + self._gap(20_000) + i * self._gap(9_000)
            if verb == "up":
                self.out.add(
                    t1,
                    self._cm_event(
                        t1,
                        rs,
                        "ReplicaSet",
                        "apps/v1",
                        "SuccessfulCreate",
                        f"Created pod: {pod.name}",
                    ),
                )
            else:
                self.out.add(
                    t1,
                    self._cm_event(
                        t1,
                        rs,
                        "ReplicaSet",
                        "apps/v1",
                        "SuccessfulDelete",
                        f"Deleted pod: {pod.name}",
                    ),
                )

    def _f_pod_deleted(self, t: int, d: dict[str, object]) -> None:
        pod = d["pod"]
        assert isinstance(pod, Pod)
        node = self._kubelet(pod)
        self.out.add(
            t,
            self._klog(
                t,
                "I",
                node.kubelet_pid,
                "kubelet.go:2423",
                f'"SyncLoop DELETE" source="api" pods=["{NAMESPACE}/{pod.name}"]',
            ),
        )
        tk = t + self._gap(900)
        self.out.add(
            tk,
            self._pod_event(tk, pod, "Normal", "Killing", f"Stopping container {API_SERVICE}"),
            ("k8s.killing",),
        )

    def _f_hpa(self, t: int, d: dict[str, object]) -> None:
        self.out.add(
            t,
            self._cm_event(
                t,
                API_SERVICE,
                "HorizontalPodAutoscaler",
                "autoscaling/v2",
                "SuccessfulRescale",
                f"New size: {d['to']}; reason: cpu resource utilization (percentage of request) "
                "above target",
            ),
            ("k8s.hpa_rescale",),
        )

    def _f_job(self, t: int, d: dict[str, object]) -> None:
        name = str(d["name"])
        pod = f"{name}-{self.rng.token(5)}"
        node = self.rng.pick(self.ctx.stack.nodes)
        add = self.out.add
        add(
            t,
            self._cm_event(t, name, "Job", "batch/v1", "SuccessfulCreate", f"Created pod: {pod}"),
            ("k8s.job_created",),
        )
        t1 = t + self._gap(30_000)
        add(
            t1,
            self._event(
                t1,
                self.ctx.stack.scheduler_pid,
                NAMESPACE,
                pod,
                "Pod",
                "v1",
                "Normal",
                "Scheduled",
                f"Successfully assigned {NAMESPACE}/{pod} to {node.name}",
            ),
        )
        t2 = t1 + self._gap(2_000_000)
        image = str(d["image"])
        for typical, reason, msg in (
            (0, "Pulled", f'Container image "{image}" already present on machine'),
            (200_000, "Created", "Created container: migrate"),
            (200_000, "Started", "Started container migrate"),
        ):
            t2 += self._gap(typical) if typical else 0
            add(
                t2,
                self._event(
                    t2,
                    node.kubelet_pid,
                    NAMESPACE,
                    pod,
                    "Pod",
                    "v1",
                    "Normal",
                    reason,
                    msg,
                    "spec.containers{migrate}",
                ),
            )
        t3 = int(str(d["done_us"]))
        add(
            t3,
            self._cm_event(t3, name, "Job", "batch/v1", "Completed", "Job completed"),
            ("k8s.job_completed",),
        )

    # ------------------------------------------------------------------ workloads off the request path
    # Red herrings (rca/seed/distractors) describe other workloads' events fully drawn
    # in their plan; the renderer only knows whose PID and header each line gets, so
    # these draw nothing from this stream's generator.
    def _source_pid(self, source: str, node: str | None) -> int:
        if source == "kubelet":
            assert node is not None
            return self.nodes[node].kubelet_pid
        if source == "scheduler":
            return self.ctx.stack.scheduler_pid
        if source == "node":  # node-problem-detector's kernel-monitor events, as above
            return 1
        return self.ctx.stack.controller_pid

    def _f_object_event(self, t: int, d: dict[str, object]) -> None:
        """An ``"Event occurred"`` line about any object: ``source`` (kubelet of
        ``node``, controller, scheduler or node), ``ns`` ("" for cluster-scoped), ``name``,
        ``object_kind``, ``api``, ``type``, ``reason``, ``message``, ``field_path``, ``signals``."""
        node = d.get("node")
        pid = self._source_pid(str(d["source"]), None if node is None else str(node))
        line = self._event(
            t,
            pid,
            str(d["ns"]),
            str(d["name"]),
            str(d["object_kind"]),
            str(d["api"]),
            str(d["type"]),
            str(d["reason"]),
            str(d["message"]),
            str(d.get("field_path", "")),
        )
        self.out.add(t, line, _signals(d))

    def _f_kubelet_line(self, t: int, d: dict[str, object]) -> None:
        """One of kubelet's own klog lines on ``node``: ``level``, ``src``, ``msg``."""
        node = self.nodes[str(d["node"])]
        line = self._klog(t, str(d["level"]), node.kubelet_pid, str(d["src"]), str(d["msg"]))
        self.out.add(t, line, _signals(d))

    # ------------------------------------------------------------------ noise
    def background(self, t0_us: int, t1_us: int) -> None:
        rng = self.rng
        nodes = self.ctx.stack.nodes
        # cAdvisor cannot see a systemd slice it was told about: harmless, constant, loud.
        period = int(STATS_PERIOD_US / max(0.2, self.ctx.noise))
        while min(self._next_stats.values()) < t1_us:
            # The node whose kubelet is due first (ties: node order).
            node = min(nodes, key=lambda n: self._next_stats[n.name])
            t = self._next_stats[node.name]
            unit = "/system.slice/containerd.service"
            err = (
                f'failed to get cgroup stats for "{unit}": failed to get container info for '
                f'"{unit}": unknown container "{unit}"'
            )
            self.out.add(
                t,
                self._klog(
                    t,
                    "E",
                    node.kubelet_pid,
                    "summary_sys_containers.go:83",
                    f'"Failed to get system container stats" err={_q(err)} containerName="{unit}"',
                ),
                ("noise.sys_container_stats",),
            )
            # Its housekeeping runs late by whatever else the kubelet was doing.
            self._next_stats[node.name] = t + int(period * rng.uniform(0.5, 1.5))
        if self._unrelated is not None:
            start, pod, node = self._unrelated
            image = "registry.example.com/analytics/report-worker:2.3.1-rc1"
            while self._unrelated_next < t1_us and self._unrelated_next < self.ctx.window_end_us:
                t = self._unrelated_next
                # (after the previous line, typical microseconds, type, reason, message):
                # resolving a missing tag takes a registry round trip.
                ev: list[tuple[int, str, str, str]] = []
                if t == start:
                    ev.append((0, "Normal", "Pulling", f'Pulling image "{image}"'))
                    ev.append(
                        (
                            450_000,
                            "Warning",
                            "Failed",
                            f'Failed to pull image "{image}": rpc error: '
                            f'code = NotFound desc = failed to pull and unpack image "{image}": '
                            f'failed to resolve reference "{image}": {image}: not found',
                        )
                    )
                    ev.append((300, "Warning", "Failed", "Error: ErrImagePull"))
                ev.append(
                    (
                        0 if t != start else 900_000,
                        "Normal",
                        "BackOff",
                        f'Back-off pulling image "{image}"',
                    )
                )
                ev.append((300, "Warning", "Failed", "Error: ImagePullBackOff"))
                ts = t
                for typical, typ, reason, msg in ev:
                    ts += self._gap(typical) if typical else 0
                    self.out.add(
                        ts,
                        self._event(
                            ts,
                            node.kubelet_pid,
                            "analytics",
                            pod,
                            "Pod",
                            "v1",
                            typ,
                            reason,
                            msg,
                            "spec.containers{report-worker}",
                        ),
                        ("noise.image_pull_backoff",),
                    )
                self._unrelated_backoff = min(300, self._unrelated_backoff * 2)
                jitter = self.rng.below(1_500_000)
                self._unrelated_next = t + self._unrelated_backoff * 1_000_000 + jitter
