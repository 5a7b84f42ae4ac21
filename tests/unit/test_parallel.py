"""How a bundle is split over worker processes (the bytes are tested in integration)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rca.seed import _parallel
from rca.seed._models import STREAMS
from rca.seed.mock_incident_generator import make_request


@pytest.mark.parametrize("workers", range(1, 8))
def test_every_stream_is_rendered_exactly_once(workers: int) -> None:
    groups = _parallel.stream_groups(workers)

    assert 1 <= len(groups) <= min(workers, len(STREAMS))
    assert sorted(s for g in groups for s in g) == sorted(STREAMS)
    for g in groups:
        assert list(g) == sorted(g, key=STREAMS.index)  # bundle order inside a group


def test_the_caller_renders_the_costliest_group() -> None:
    cost = [sum(_parallel.STREAM_COST[s] for s in g) for g in _parallel.stream_groups(3)]
    assert cost == sorted(cost, reverse=True)


def test_two_workers_split_the_heavy_streams() -> None:
    # api alone costs about what the other four cost together (see STREAM_COST)
    assert _parallel.stream_groups(2) == [("api",), ("ui", "db", "k8s", "mesh")]


def test_small_bundles_stay_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_parallel, "usable_cpus", lambda: 8)
    anchor = "2026-11-26T05:00:00Z"
    small = make_request(scenario="normal_load", seed=1, time_anchor=anchor, rps=2)
    big = make_request(scenario="normal_load", seed=1, time_anchor=anchor, rps=20)

    assert _parallel.auto_workers(small) == 1
    assert _parallel.auto_workers(big) == _parallel.MAX_WORKERS


def test_auto_never_asks_for_more_processes_than_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_parallel, "usable_cpus", lambda: 1)
    big = make_request(scenario="normal_load", seed=1, time_anchor="2026-11-26T05:00:00Z", rps=50)
    assert _parallel.auto_workers(big) == 1


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("max 100000\n", 2), ("100000 100000\n", 1), ("150000 100000\n", 1), ("50000 100000\n", 1)],
)
def test_a_cgroup_cpu_quota_caps_the_workers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cpu_max: str, expected: int
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    quota = tmp_path / "cpu.max"
    quota.write_text(cpu_max)
    assert _parallel.usable_cpus(quota) == expected


def test_no_cgroup_file_leaves_the_affinity(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert _parallel.usable_cpus(tmp_path / "missing") == 3
