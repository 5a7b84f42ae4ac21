"""Pod lifecycle changes, written once for every stream that would show them.

A container start is a scheduling decision and image pull in Kubernetes, a Spring Boot
start-up in the API log and ten new backends in PostgreSQL; a death is a PLEG event and
connection resets. Scenarios call these helpers so no layer is ever forgotten.
"""

from __future__ import annotations

from .._rng import Rng
from .._timefmt import US
from .._topology import Container, Pod, Stack
from ._base import Plan


def _boot_us(rng: Rng) -> int:
    return int(rng.uniform(8.5, 12.5) * US)


def create_pod(plan: Plan, stack: Stack, version: str, t: int, rng: Rng) -> Pod:
    """Schedule a new pod at ``t``; its container starts after the image pull."""
    pod = stack.new_api_pod(version, t)
    c = pod.containers[0]
    c.start_us = t + int(rng.uniform(3.0, 6.5) * US)
    c.ready_us = c.start_us + _boot_us(rng)
    c.container_id = rng.hexstr(64)
    plan.add(t, "k8s", "pod_created", pod=pod, container=c)
    _started(plan, pod, c)
    return pod


def _started(plan: Plan, pod: Pod, c: Container) -> None:
    plan.add(c.start_us, "api", "startup", pod=pod, version=pod.version, ready_us=c.ready_us)
    # HikariCP opens its connections a little after Spring begins (about half-way).
    plan.add(c.start_us + (c.ready_us - c.start_us) // 2, "db", "pool_open", pod=pod)


def kill_container(
    plan: Plan, pod: Pod, c: Container, t: int, *, oom: bool, rss_kb: int = 786_000
) -> None:
    c.end_us = t
    c.exit_code = 137 if oom else 143
    c.reason = "OOMKilled" if oom else "Error"
    plan.add(t, "k8s", "container_died", pod=pod, container=c, rss_kb=rss_kb)
    plan.add(t, "db", "pool_reset", pod=pod)


def restart_container(plan: Plan, pod: Pod, t: int, rng: Rng) -> Container:
    prev = pod.containers[-1]
    c = Container(
        start_us=t,
        ready_us=t + _boot_us(rng),
        restart_count=prev.restart_count + 1,
        container_id=rng.hexstr(64),
    )
    pod.containers.append(c)
    plan.add(t, "k8s", "container_restarted", pod=pod, container=c)
    _started(plan, pod, c)
    return c


def delete_pod(plan: Plan, pod: Pod, t: int) -> None:
    """Graceful termination (scale-down): SIGTERM, drain, exit 143 after ~1 s."""
    pod.deleted_us = t
    c = pod.containers[-1]
    c.end_us = t + 1_300_000
    c.exit_code = 143
    plan.add(t, "k8s", "pod_deleted", pod=pod)
    plan.add(t + 200_000, "api", "shutdown", pod=pod)
    plan.add(t + 400_000, "db", "pool_close", pod=pod)
