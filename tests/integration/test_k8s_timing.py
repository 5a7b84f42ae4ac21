"""Kubernetes timing has no fingerprints (issue #15 item 6): chains of events take
drawn times, not constant offsets; probe failures are logged when the probe fails, not
on exact 10 s ticks; a pull's stated time fits between its Pulling and Pulled events;
each kubelet fails its stats summary on its own clock.

Measured on bundles of every v0 scenario, at the default rate and at ``--rps 20``, and
at difficulty hard (more herrings: rollouts, CronJobs, flaps).
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime

import pytest

from rca.seed import scenarios
from rca.seed.mock_incident_generator import generate_bundle

ANCHOR = "2026-11-26T05:00:00Z"
_HEAD = re.compile(r"^[IWE](\d{4}) (\d\d:\d\d:\d\d\.\d{6})\s+(\d+) ")
_PULLING = re.compile(r'object="(?P<pod>[^"]+)".*reason="Pulling"')
_PULLED = re.compile(
    r'object="(?P<pod>[^"]+)".*reason="Pulled" message="Successfully pulled image [^ ]+ '
    r"in (?P<s>[\d.]+)s \((?P<w>[\d.]+)s including waiting\)"
)
_PROBE = re.compile(r'"Probe failed" probeType="Readiness" pod="(?P<pod>[^"]+)"')
_STATS = "summary_sys_containers.go"


def _instant(line: str) -> datetime | None:
    m = _HEAD.match(line)
    if m is None:
        return None
    return datetime.strptime(f"2026{m[1]} {m[2]}", "%Y%m%d %H:%M:%S.%f")


@pytest.fixture(scope="module", params=[(2.5, "standard"), (20.0, "standard"), (2.5, "hard")])
def k8s_logs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> list[list[str]]:
    rps, difficulty = request.param
    out = []
    for scenario in scenarios.v0_ids():
        for seed in (1, 2):
            where = tmp_path_factory.mktemp("k8s")
            generate_bundle(
                {
                    "scenario": scenario,
                    "seed": seed,
                    "time_anchor": ANCHOR,
                    "duration_minutes": 30,
                    "rps": rps,
                    "difficulty": difficulty,
                },
                where,
            )
            (bundle,) = [p for p in where.iterdir() if p.is_dir()]
            text = (bundle / "k8s_events.log").read_text(encoding="utf-8")
            out.append(text.splitlines())
    return out


def test_consecutive_lines_share_no_sub_millisecond_digits(k8s_logs: list[list[str]]) -> None:
    pairs = same = 0
    for lines in k8s_logs:
        subs = [m[2][-3:] for line in lines if (m := _HEAD.match(line))]
        pairs += len(subs) - 1
        same += sum(a == b for a, b in itertools.pairwise(subs))
    assert pairs > 500
    assert same / pairs <= 0.02, (same, pairs)


def test_a_pull_takes_no_longer_than_its_events_say(k8s_logs: list[list[str]]) -> None:
    checked = 0
    for lines in k8s_logs:
        pulling: dict[str, datetime] = {}
        for line in lines:
            at = _instant(line)
            if at is None:
                continue
            if m := _PULLING.search(line):
                pulling[m["pod"]] = at
            elif (m := _PULLED.search(line)) and m["pod"] in pulling:
                gap = (at - pulling.pop(m["pod"])).total_seconds()
                took, waited = float(m["s"]), float(m["w"])
                assert took <= gap + 0.001, line
                assert waited >= took, line
                checked += 1
    assert checked


def test_probe_failures_are_not_on_exact_ticks(k8s_logs: list[list[str]]) -> None:
    """A kubelet prober ticks every 10 s, but the failure is logged when the GET gives
    up (its 1 s timeout, or the refusal) plus scheduling: intervals between one pod's
    failures are not whole milliseconds."""
    intervals = []
    for lines in k8s_logs:
        last: dict[str, datetime] = {}
        for line in lines:
            if (m := _PROBE.search(line)) and (at := _instant(line)) is not None:
                if m["pod"] in last:
                    intervals.append(round((at - last[m["pod"]]).total_seconds() * 1e6))
                last[m["pod"]] = at
    assert len(intervals) > 20
    whole_ms = sum(1 for us in intervals if us % 1000 == 0)
    assert whole_ms / len(intervals) < 0.05, (whole_ms, len(intervals))


def test_each_kubelet_fails_its_stats_on_its_own_clock(k8s_logs: list[list[str]]) -> None:
    """Not a round robin: somewhere in the window one node logs twice in a row, or the
    order of nodes changes."""
    rotating = 0
    for lines in k8s_logs:
        pids = [m[3] for line in lines if _STATS in line and (m := _HEAD.match(line))]
        nodes = len(set(pids))
        if nodes > 1 and len(pids) > 2 * nodes:
            cycle = pids[:nodes]
            rotating += all(p == cycle[i % nodes] for i, p in enumerate(pids))
    assert rotating <= len(k8s_logs) // 4, rotating
