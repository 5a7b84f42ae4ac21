"""The simulated stack: nodes, pods, services, and the settings that bound latency.

Names and addresses are drawn per seed (so a brain cannot memorise them) from the
world RNG, in realistic shapes: GKE-style node names, ReplicaSet hashes and pod suffixes
from Kubernetes' safe alphabet, pod IPs in the cluster's pod CIDR. Public client
addresses come only from the documentation ranges (RFC 5737).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._rng import Rng
from ._timefmt import US

NAMESPACE = "shop"
SITE_HOST = "shop.example.com"
API_SERVICE = "orders-api"
API_FQDN = f"{API_SERVICE}.{NAMESPACE}.svc.cluster.local"
API_PORT = 8080
DB_DATABASE = "shop"
DB_USER = "orders_app"
DB_MAX_CONNECTIONS = 100

# Latency bounds that shape every failure (the values a responder would find in config).
HIKARI_POOL_SIZE = 10  # spring.datasource.hikari.maximum-pool-size
HIKARI_TIMEOUT_MS = 5000  # spring.datasource.hikari.connection-timeout
MESH_ROUTE_TIMEOUT_MS = 8000  # VirtualService http[].timeout
MESH_RETRY_ATTEMPTS = 2  # VirtualService retries.attempts (retryOn: 5xx,connect-failure)
EDS_LAG_US = 1_500_000  # endpoint removal reaches the sidecars ~1.5 s after NotReady
PROBE_PERIOD_US = 10 * US  # readinessProbe.periodSeconds
PROBE_FAILURE_THRESHOLD = 3
CONTAINER_MEMORY_LIMIT_MI = 768
NGINX_WORKERS = (29, 30)  # worker PIDs inside the web container (2 CPUs)

# The RFC 5737 documentation ranges: real-looking, routable nowhere.
CLIENT_NETS = ("192.0.2.", "198.51.100.", "203.0.113.")

VERSION_GOOD = "1.8.2"
VERSION_BAD = "1.9.0"


@dataclass(slots=True)
class Container:
    """One run of the orders-api container in a pod."""

    start_us: int
    ready_us: int
    end_us: int | None = None
    exit_code: int | None = None
    reason: str | None = None  # OOMKilled, Error (SIGTERM on scale-down is Completed)
    restart_count: int = 0
    container_id: str = ""
    java_pid: int = 1


@dataclass(slots=True)
class Pod:
    name: str
    ip: str
    node: str
    uid: str
    version: str
    replicaset: str
    containers: list[Container] = field(default_factory=list)
    deleted_us: int | None = None

    def alive_at(self, t_us: int) -> Container | None:
        for c in self.containers:
            if c.start_us <= t_us and (c.end_us is None or t_us < c.end_us):
                return c
        return None

    def ready_at(self, t_us: int) -> bool:
        c = self.alive_at(t_us)
        if c is None or t_us < c.ready_us:
            return False
        return self.deleted_us is None or t_us < self.deleted_us


@dataclass(slots=True)
class Node:
    name: str
    index: int
    kubelet_pid: int

    def pod_ip(self, rng: Rng) -> str:
        return f"10.244.{self.index}.{rng.between(4, 250)}"


@dataclass(slots=True)
class Stack:
    nodes: list[Node]
    web_pod: Pod
    db_pod: Pod
    api_pods: list[Pod]
    api_cluster_ip: str
    rs_hashes: dict[str, str]  # version -> pod-template hash
    controller_pid: int
    scheduler_pid: int
    rng: Rng
    # The orders-api release running before the window, and the next one (a scenario
    # may roll it out).
    good_version: str = VERSION_GOOD
    bad_version: str = VERSION_BAD

    def new_api_pod(self, version: str, created_us: int) -> Pod:
        """A pod of the ``version`` ReplicaSet, scheduled on the least-loaded node."""
        counts = {n.name: 0 for n in self.nodes}
        for p in self.api_pods:
            if p.deleted_us is None:
                counts[p.node] += 1
        node = min(self.nodes, key=lambda n: (counts[n.name], n.index))
        rs = self.rs_hashes[version]
        pod = _pod(self.rng, f"{API_SERVICE}-{rs}", node, version, rs)
        pod.containers.append(Container(start_us=created_us, ready_us=created_us))
        self.api_pods.append(pod)
        return pod


def _uid(rng: Rng) -> str:
    h = rng.hexstr(32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[rng.below(4)]}{h[17:20]}-{h[20:]}"


def _pod(rng: Rng, prefix: str, node: Node, version: str, rs: str) -> Pod:
    return Pod(
        name=f"{prefix}-{rng.token(5)}",
        ip=node.pod_ip(rng),
        node=node.name,
        uid=_uid(rng),
        version=version,
        replicaset=rs,
    )


def release_pair(rng: Rng) -> tuple[str, str]:
    """The running orders-api release and the next one, semantic versions drawn per
    seed: the next is a new minor (``1.8.2`` -> ``1.9.0``) or a patch (-> ``1.8.3``)."""
    major, minor, patch = rng.between(1, 3), rng.between(2, 19), rng.between(0, 6)
    nxt = f"{major}.{minor + 1}.0" if rng.chance(0.65) else f"{major}.{minor}.{patch + 1}"
    return f"{major}.{minor}.{patch}", nxt


def build_stack(
    rng: Rng, window_start_us: int, api_replicas: int, fixed_versions: bool = True
) -> Stack:
    """The steady state before the window: every pod up for hours.

    ``fixed_versions``: v0's releases (1.8.2, then 1.9.0), else :func:`release_pair`.
    """
    good, bad = (VERSION_GOOD, VERSION_BAD) if fixed_versions else release_pair(rng)
    pool = rng.hexstr(8)
    nodes = [
        Node(
            name=f"gke-shop-default-pool-{pool}-{rng.token(4)}",
            index=i + 1,
            kubelet_pid=rng.between(600, 2400),
        )
        for i in range(3)
    ]
    rs_hashes = {good: rng.template_hash(), bad: rng.template_hash()}
    while rs_hashes[bad] == rs_hashes[good]:  # two templates, two hashes
        rs_hashes[bad] = rng.template_hash()
    long_ago = window_start_us - rng.between(6, 40) * 3600 * US
    web = _pod(rng, f"web-{rng.template_hash()}", nodes[0], "1.25.5", "web")
    db = _pod(rng, "orders-db", nodes[2], "15.18", "orders-db")
    db.name = "orders-db-0"
    stack = Stack(
        nodes=nodes,
        web_pod=web,
        db_pod=db,
        api_pods=[],
        api_cluster_ip=f"10.96.{rng.between(1, 250)}.{rng.between(2, 250)}",
        rs_hashes=rs_hashes,
        controller_pid=1,
        scheduler_pid=1,
        rng=rng,
        good_version=good,
        bad_version=bad,
    )
    for i in range(api_replicas):
        pod = stack.new_api_pod(good, long_ago + i * 41 * US)
        pod.containers[0].ready_us = pod.containers[0].start_us + 20 * US
    for p in stack.api_pods:
        for c in p.containers:
            c.container_id = rng.hexstr(64)
    return stack
