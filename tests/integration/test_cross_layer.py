"""Physical laws between layers: one request, seen by nginx, Envoy, Spring and PostgreSQL.

These do not compare formats with each other; they check what must hold in any real
deployment of this topology (nginx -> istio-proxy -> orders-api -> PostgreSQL).
"""

from __future__ import annotations

import io
import json
import re
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pytest

from rca.seed import _sim, scenarios
from rca.seed._pipeline import run_pass
from rca.seed.mock_incident_generator import GenerationRequest
from tests.integration.conftest import request_for
from tests.integration.logs import (
    ApiAccess,
    Bundle,
    klog_to_datetime,
    parse_rfc3339,
)

MS = timedelta(milliseconds=1)
ROUNDING = 0.001  # nginx and Envoy print milliseconds


def _final_attempts(b: Bundle) -> dict[str, ApiAccess]:
    """Request id -> the API access line of its last attempt that reached Spring."""
    last: dict[str, ApiAccess] = {}
    for a in b.api_access:
        assert a.event.request_id is not None
        last[a.event.request_id] = a
    return last


def test_every_stream_parses(bundle: Bundle) -> None:
    assert bundle.ui and bundle.mesh and bundle.api and bundle.k8s and bundle.db
    assert bundle.unparsed == {"ui": [], "api": [], "k8s": [], "db": []}


def test_every_stream_is_in_time_order(bundle: Bundle) -> None:
    def regressions(times: list) -> list[int]:  # type: ignore[type-arg]
        return [i for i in range(1, len(times)) if times[i] < times[i - 1]]

    assert regressions([u.time for u in bundle.ui]) == []
    assert regressions([e.time for e in bundle.api]) == []
    assert regressions([k.time_key for k in bundle.k8s]) == []
    assert regressions([m["ts"] for _, m in bundle.db]) == []
    # Envoy writes a line when the stream ends; start and duration are each cut to ms.
    ends = [parse_rfc3339(m["start_time"]) + m["duration"] * MS for m in bundle.mesh]
    assert [i for i in range(1, len(ends)) if ends[i] < ends[i - 1] - MS] == []


def test_new_postgres_backends_get_increasing_pids(bundle: Bundle) -> None:
    # Linux hands out PIDs in increasing order (no wrap within a window): a backend forked
    # later has a larger PID than one forked earlier.
    pids = [int(m["pid"]) for _, m in bundle.db if "connection received:" in m.string]
    assert pids, "every bundle opens some connections"
    assert [i for i in range(1, len(pids)) if pids[i] <= pids[i - 1]] == []


# ------------------------------------------------------------------ nginx <-> Envoy
def test_every_mesh_request_is_an_nginx_request_with_the_same_outcome(bundle: Bundle) -> None:
    assert len(bundle.mesh_by_rid) == len(bundle.mesh), "duplicate request ids in mesh"
    for m in bundle.mesh:
        u = bundle.ui_by_rid.get(m["request_id"])
        assert u is not None, f"mesh request {m['request_id']} has no nginx line"
        # nginx proxies the request unchanged and passes status and body through.
        assert (u.method, u.path) == (m["method"], m["path"])
        assert u.status == m["response_code"], u.text
        assert u.body_bytes == m["bytes_sent"], u.text
        # nginx waits for its upstream (the sidecar), which waits for its own upstream.
        assert len(u.upstream_times) == 1, u.text
        upstream = u.upstream_times[0]
        assert u.request_time + ROUNDING >= upstream, u.text
        assert upstream + ROUNDING >= m["duration"] / 1000, (u.text, m)


def test_the_mesh_hop_happens_inside_the_nginx_request(bundle: Bundle) -> None:
    for m in bundle.mesh:
        u = bundle.ui_by_rid[m["request_id"]]
        start = parse_rfc3339(m["start_time"])
        end = start + m["duration"] * MS
        # $time_local is the end of the request, cut to the second.
        nginx_end_latest = u.time + timedelta(seconds=1)
        nginx_start_earliest = u.time - timedelta(seconds=u.request_time) - MS
        assert nginx_start_earliest <= start, (u.text, m)
        assert end <= nginx_end_latest, (u.text, m)


def test_only_api_requests_reach_the_mesh(bundle: Bundle) -> None:
    proxied = {u.request_id for u in bundle.ui if u.upstream_times}
    assert proxied == set(bundle.mesh_by_rid)
    assert all(u.path.startswith("/api/") for u in bundle.ui if u.request_id in proxied)


# ------------------------------------------------------------------ Envoy <-> Spring
def test_api_request_ids_all_come_through_the_mesh(bundle: Bundle) -> None:
    with_rid = [e for e in bundle.api if e.request_id]
    assert with_rid
    orphans = [e.line for e in with_rid if e.request_id not in bundle.mesh_by_rid]
    assert orphans == []
    # The correlation block is [traceId,spanId,requestId], all three set or none.
    for e in with_rid:
        assert re.fullmatch(r"[0-9a-f]{32}", e.trace or ""), e.line
        assert re.fullmatch(r"[0-9a-f]{16}", e.span or ""), e.line


def test_one_trace_per_request_and_one_span_per_attempt(bundle: Bundle) -> None:
    traces: dict[str, set[str]] = defaultdict(set)
    spans: dict[str, set[str]] = defaultdict(set)
    for a in bundle.api_access:
        rid = a.event.request_id
        assert rid is not None and a.event.trace and a.event.span
        traces[rid].add(a.event.trace)
        spans[a.event.span].add(rid)
    assert all(len(t) == 1 for t in traces.values())
    assert all(len(r) == 1 for r in spans.values())


def test_api_attempts_fit_inside_the_mesh_exchange(bundle: Bundle) -> None:
    final = _final_attempts(bundle)
    attempts_of: dict[str, list[ApiAccess]] = defaultdict(list)
    for a in bundle.api_access:
        attempts_of[a.event.request_id or ""].append(a)
    checked = 0
    for rid, m in bundle.mesh_by_rid.items():
        start = parse_rfc3339(m["start_time"])
        end = start + m["duration"] * MS
        via_upstream = m["response_code_details"] == "via_upstream"
        if via_upstream:
            # Envoy relayed the answer of the final attempt: it got there first.
            a = final[rid]
            assert a.status == m["response_code"], (a.event.line, m)
            assert a.elapsed_ms <= m["duration"], (a.event.line, m)
            assert a.elapsed_ms <= int(m["upstream_service_time"]), (a.event.line, m)
            assert int(m["upstream_service_time"]) <= m["duration"], m
            checked += 1
        for a in attempts_of[rid]:
            began = a.event.time - a.elapsed_ms * MS
            assert began >= start - 2 * MS, (a.event.line, m)  # Envoy sent it
            abandoned = m["response_flags"] == "UT" and a is final.get(rid)
            if abandoned:
                # 504 UT: Envoy gave up first; Spring finished later and logged it.
                assert a.event.time >= end - 3 * MS, (a.event.line, m)
            else:
                assert a.event.time <= end + 2 * MS, (a.event.line, m)
    assert checked > 0


def test_upstream_hosts_are_orders_api_pods(bundle: Bundle) -> None:
    """Each Envoy upstream_host is the IP of the pod whose log answered the request."""
    final = _final_attempts(bundle)
    ip_to_pods: dict[str, set[str]] = defaultdict(set)
    pod_to_ips: dict[str, set[str]] = defaultdict(set)
    for m in bundle.mesh:
        if m["response_code_details"] != "via_upstream":
            continue
        ip, port = m["upstream_host"].split(":")
        assert port == "8080"
        pod = final[m["request_id"]].event.pod
        ip_to_pods[ip].add(pod)
        pod_to_ips[pod].add(ip)
    assert all(len(p) == 1 for p in ip_to_pods.values()), ip_to_pods
    assert all(len(i) == 1 for i in pod_to_ips.values()), pod_to_ips
    pods = {next(iter(p)) for p in ip_to_pods.values()}
    # A Deployment's pod: <name>-<pod-template-hash>-<suffix>. The hash is a uint32 in
    # decimal, each digit mapped into the safe alphabet (only 4-9, b, c, d, f can occur);
    # the suffix is 5 characters of the whole alphabet (apimachinery pkg/util/rand).
    pod_name = r"orders-api-[4-9bcdf]{1,10}-[bcdfghjklmnpqrstvwxz2456789]{5}"
    assert all(re.fullmatch(pod_name, p) for p in pods), pods
    # Pods named in the logs: kubectl logs prefixes and kubelet/controller lines.
    k8s_text = bundle.text("k8s_events.log")
    assert all(p in bundle.api_pods or p in k8s_text for p in pods)
    # Local replies (UT/UC/UF) name a host too: it must be one of those pods' IPs.
    hosts = {m["upstream_host"].split(":")[0] for m in bundle.mesh if m["upstream_host"]}
    assert hosts <= set(ip_to_pods), hosts - set(ip_to_pods)
    # Where kubelet names a pod and its IP together (a probe URL), they agree.
    for k in bundle.k8s:
        pm = re.search(r'pod="shop/([^"]+)".*http://([\d.]+):8080/', k.msg)
        if pm and pm[1] in pod_to_ips:
            assert pod_to_ips[pm[1]] == {pm[2]}, k.text


# Envoy local-reply bodies (reference, section 5.3); bytes_sent is their length.
_RESET = "upstream connect error or disconnect/reset before headers. "
LOCAL_REPLY_BODIES = {
    "UH": "no healthy upstream",
    "UT": "upstream request timeout",
    "UC": _RESET + "reset reason: connection termination",
    "UC,URX": _RESET + "retried and the latest reset reason: connection termination",
    "UF": _RESET + "reset reason: connection failure, transport failure reason: "
    "delayed connect error: 111",
    "UF,URX": _RESET + "retried and the latest reset reason: connection failure, "
    "transport failure reason: delayed connect error: 111",
}
DOCUMENTED_SIZES = {"UH": 19, "UT": 24, "UC": 95, "UF": 145, "UF,URX": 168}
LOCAL_REPLY_CODES = {"UH": 503, "UT": 504, "UC": 503, "UC,URX": 503, "UF": 503, "UF,URX": 503}


# The generator's bodies, per response_flags value (rca/seed/_sim.py).
PRODUCT_BODIES = {
    "UH": _sim.BODY_UH,
    "UT": _sim.BODY_UT,
    "UC": _sim.BODY_UC,
    "UC,URX": _sim.BODY_UC_RETRIED,
    "UF": _sim.BODY_UF,
    "UF,URX": _sim.BODY_UF_RETRIED,
}


def test_generator_local_reply_bodies_are_envoys(bundles: dict[str, Bundle]) -> None:
    """The generator's local-reply bodies are Envoy's text, and bytes_sent is their length.

    Covers the kinds the session's bundles never produce (UC, UC,URX, UF) too.
    """
    assert PRODUCT_BODIES == LOCAL_REPLY_BODIES
    for flags, size in DOCUMENTED_SIZES.items():
        assert len(PRODUCT_BODIES[flags]) == size, flags
    sent: dict[str, set[int]] = defaultdict(set)
    for b in bundles.values():
        for m in b.mesh:
            if m["response_code_details"] != "via_upstream":
                sent[m["response_flags"]].add(m["bytes_sent"])
    assert sent, "no local reply in any bundle"
    assert {f: {len(PRODUCT_BODIES[f])} for f in sent} == dict(sent)


def test_envoy_local_replies_send_exactly_their_body(bundle: Bundle) -> None:
    for m in bundle.mesh:
        if m["response_code_details"] == "via_upstream":
            assert m["response_flags"] in ("-", "URX"), m
            continue
        flags = m["response_flags"]
        assert flags in LOCAL_REPLY_BODIES, m
        assert m["response_code"] == LOCAL_REPLY_CODES[flags], m
        assert m["bytes_sent"] == len(LOCAL_REPLY_BODIES[flags]), m
        assert m["upstream_service_time"] is None, m  # no upstream response headers
        assert (m["upstream_host"] is None) == (flags == "UH"), m
        failure = "delayed connect error: 111" if flags.startswith("UF") else None
        assert m["upstream_transport_failure_reason"] == failure, m


def _restart_loop_mesh(seeds: range) -> list[dict[str, Any]]:
    """The mesh entries of restart loops at several seeds: whether pods are down at the
    same time (UH, UF) depends on how the deaths fall, so one seed may show none."""
    entries = []
    for seed in seeds:
        out = {"mesh": io.BytesIO()}
        req = GenerationRequest(**request_for("pod_oom_restart_loop", seed=seed))
        run_pass(req, ["mesh"], out)
        entries += [json.loads(ln) for ln in out["mesh"].getvalue().decode().splitlines()]
    return entries


def test_local_replies_of_every_kind_are_covered(bundles: dict[str, Bundle]) -> None:
    """The size test above is not vacuous: the scenarios produce UH, UT and UF replies
    (each checked here as there: Envoy's body, its length, its code)."""
    extra = _restart_loop_mesh(range(1, 7))
    entries = [m for b in bundles.values() for m in b.mesh] + extra
    local = [m for m in entries if m["response_code_details"] != "via_upstream"]
    for m in local:
        assert m["bytes_sent"] == len(LOCAL_REPLY_BODIES[m["response_flags"]]), m
        assert m["response_code"] == LOCAL_REPLY_CODES[m["response_flags"]], m
    seen = {m["response_flags"] for m in local}
    assert {"UH", "UT", "UF,URX"} <= seen, seen


# ------------------------------------------------------------------ Spring <-> PostgreSQL
def test_logged_statements_belong_to_api_attempts(bundle: Bundle) -> None:
    """sqlcommenter traceparent = (trace, span) of the attempt; the query fits inside it."""
    by_span = {(a.event.trace, a.event.span): a for a in bundle.api_access}
    pattern = re.compile(r"traceparent='00-([0-9a-f]{32})-([0-9a-f]{16})-01'")
    seen: set[tuple[str, str]] = set()
    matched: list[int] = []
    timed = 0
    for n, m in bundle.db:
        tp = pattern.search(m["msg"])
        if tp is None:
            continue
        matched.append(n)
        seen.add((tp[1], tp[2]))
        a = by_span.get((tp[1], tp[2]))
        assert a is not None, f"db_events.log:{n}: no API attempt with this trace/span"
        duration = re.match(r"duration: (\d+\.\d{3}) ms", m["msg"])
        if duration:
            timed += 1
            assert float(duration[1]) <= a.elapsed_ms + 1, (n, a.event.line)
            assert m["user"] == "orders_app" and m["db"] == "shop", n
    # The pattern reads every sqlcommenter comment there is (none slips past unchecked).
    commented = [
        n
        for n, ln in enumerate(bundle.lines("db_events.log"), 1)
        if "traceparent=" in ln and not ln.startswith("\t")
    ]
    assert matched == commented, sorted(set(commented) - set(matched))[:5]
    # Every duplicate-key conflict (a 409 attempt in the API log) is logged with its
    # statement: ERROR, DETAIL, STATEMENT /*...traceparent of that attempt*/.
    conflicts = {
        (a.event.trace or "", a.event.span or "") for a in bundle.api_access if a.status == 409
    }
    assert conflicts <= seen, conflicts - seen
    # Declared by the scenario (Expect.commented_sql): slow statements or a conflict.
    if scenarios.get(bundle.scenario).expect.commented_sql:
        assert seen, "no statement carries a traceparent: nothing was checked"
    if bundle.scenario == "slow_query_regression":
        assert timed > 0, "no slow statement with a duration and a traceparent"


def test_hikari_timeouts_report_the_configured_5s(bundle: Bundle) -> None:
    text = bundle.text("api_logs.log")
    found = re.findall(
        r"HikariPool-1 - Connection is not available, request timed out after (\d+)ms "
        r"\(total=(\d+), active=(\d+), idle=(\d+), waiting=(\d+)\)",
        text,
    )
    assert len(found) == text.count("Connection is not available")
    for after, total, active, idle, _waiting in found:
        assert 5000 <= int(after) < 5010
        assert int(active) == int(total) and int(idle) == 0  # that is what "not available" means
    if bundle.scenario == "db_connection_pool_exhaustion":
        assert found, "pool exhaustion without a single HikariCP timeout"


# ------------------------------------------------------------------ Kubernetes
_DELAYS = ["10s", "20s", "40s", "1m20s", "2m40s", "5m0s"]


def _seconds(delay: str) -> int:
    m = re.fullmatch(r"(?:(\d+)m)?(\d+)s", delay)
    assert m, delay
    return int(m[1] or 0) * 60 + int(m[2])


def test_crashloop_backoff_doubles_to_the_5m_cap(bundles: dict[str, Bundle]) -> None:
    b = bundles["pod_oom_restart_loop"]
    year = b.window[0].year
    refusals: dict[str, list[tuple[int, str, datetime]]] = defaultdict(list)
    deaths: dict[str, list[datetime]] = defaultdict(list)
    starts: dict[str, list[datetime]] = defaultdict(list)
    uid_to_pod: dict[str, str] = {}
    for k in b.k8s:
        m = re.search(
            r"back-off (\S+) restarting failed container=orders-api pod=(\S+?)_shop\(", k.msg
        )
        if m and "CrashLoopBackOff" in k.msg:
            refusals[m[2]].append((k.line, m[1], klog_to_datetime(k.time_key, year)))
        pm = re.search(r'pod="shop/(\S+)" podUID="([0-9a-f-]+)"', k.msg)
        if pm:
            uid_to_pod[pm[2]] = pm[1]
        # Pods of other namespaces (a batch Job OOMKilled, a red herring) are named by
        # their PLEG events; they are no shop pod's deaths.
        other = re.search(r'event for pod" pod="(?!shop/)\S+" event=\{"ID":"([0-9a-f-]+)"', k.msg)
        if other:
            uid_to_pod[other[1]] = ""
    for k in b.k8s:
        d = re.search(r'container finished" podID="([0-9a-f-]+)" .*exitCode=137', k.msg)
        if d and uid_to_pod[d[1]]:
            deaths[uid_to_pod[d[1]]].append(klog_to_datetime(k.time_key, year))
        if k.event and k.event["reason"] == "Started" and k.event["object"].startswith("shop/"):
            starts[k.event["object"][5:]].append(klog_to_datetime(k.time_key, year))
    assert len(refusals) >= 2, "expected several pods in CrashLoopBackOff"
    # Only OOM kills (exit 137) put a pod into CrashLoopBackOff here, and every kill does.
    assert set(deaths) == set(refusals), (set(deaths), set(refusals))
    longest = 0
    for pod, lines in refusals.items():
        # Each death opens one back-off, which lasts until the container dies again:
        # kubelet refuses the restart on every pod sync in it, always with the same delay.
        # Its first refusal comes after that death (PLEG reports it within a second).
        seq: list[tuple[int, str]] = []
        ends = [*deaths[pod][1:], b.window[1] + timedelta(days=1)]
        for died, until in zip(deaths[pod], ends, strict=True):
            period = [(ln, v) for ln, v, at in lines if died <= at < until]
            assert period, (pod, died, "an OOM kill without a back-off")
            assert {v for _, v in period} == {period[0][1]}, (pod, period)
            seq.append(period[0])
        assert sum(1 for _, _, at in lines if at >= deaths[pod][0]) == len(lines), (
            pod,
            "a back-off before the first death",
        )
        # Back-offs of 20 s and more span several pod syncs: the refusal repeats.
        if any(_seconds(v) >= 20 for _, v in seq):
            assert len(lines) > len(seq), (pod, "kubelet repeats CrashLoopBackOff per sync")
        values = [v for _, v in seq]
        assert len(values) >= 3, (pod, values)  # at least 10s -> 20s -> 40s
        expected = (_DELAYS + ["5m0s"] * len(values))[: len(values)]
        assert values == expected, (pod, seq)
        longest = max(longest, len(values))
        # kubelet restarts the container only once the back-off has elapsed since the
        # container finished; PLEG (relisting every second) reports the death up to 1 s late.
        for died, delay in zip(deaths[pod], values, strict=True):
            later = [s for s in starts[pod] if s > died]
            if later:
                waited = later[0] - died
                back_off = timedelta(seconds=_seconds(delay))
                assert (
                    back_off - timedelta(seconds=1) <= waited <= back_off + timedelta(seconds=30)
                ), (
                    pod,
                    died,
                    delay,
                )
    assert longest >= 5, "no pod backed off as far as 2m40s"


def test_defect_stack_traces_come_only_from_new_release_pods(bundles: dict[str, Bundle]) -> None:
    b = bundles["bad_api_rollout"]
    release, running = b.truth["drawn"]["bad_version"], b.truth["drawn"]["good_version"]
    version: dict[str, str] = {}
    for e in b.api:
        m = re.match(r"Starting OrdersApiApplication v(\S+) ", e.msg)
        if m:
            version[e.pod] = m[1]
    new = {p for p, v in version.items() if v == release}
    assert new, f"no {release} pod started"

    def rs_hash(pod: str) -> str:
        return pod.rsplit("-", 2)[1]

    new_hashes = {rs_hash(p) for p in new}
    old = {p for p in b.api_pods if rs_hash(p) not in new_hashes}
    assert len(new_hashes) == 1 and old, f"{release} pods must share one ReplicaSet hash"
    assert all(version.get(p, running) == running for p in old)

    # The release's drawn defect, thrown by requests (a @Scheduled job's NPE, a red
    # herring, runs on every version).
    defect = "." + b.truth["drawn"]["defect_exception"]
    npe = [
        e
        for e in b.api
        if "dispatcherServlet" in e.msg and any(defect in c for c in e.continuation)
    ]
    assert npe, f"no {defect} at all"
    assert {e.pod for e in npe} <= new, {e.pod for e in npe} - new
    for e in npe:
        frames = [c for c in e.continuation if c.startswith("\tat com.example.orders.")]
        assert frames and all(c.endswith(f"~[!/:{release}]") for c in frames), e.line
    # Nothing else carries the pricing NPE: no pod of the running release mentions it.
    for ln in b.lines("api_logs.log"):
        if "NullPointerException" in ln and "LoyaltyTier" in ln:
            assert any(f"[pod/{p}/" in ln for p in new), ln


def test_rollout_scales_up_the_replicaset_of_the_new_pods(bundles: dict[str, Bundle]) -> None:
    b = bundles["bad_api_rollout"]
    release = b.truth["drawn"]["bad_version"]
    new_pods = {e.pod for e in b.api if f"Starting OrdersApiApplication v{release} " in e.msg}
    new_rs = {p.rsplit("-", 1)[0] for p in new_pods}
    assert len(new_rs) == 1
    rs = next(iter(new_rs))
    scaled = [
        k.event["message"]
        for k in b.k8s_events("ScalingReplicaSet")
        if k.event is not None and k.event["object"] == "shop/orders-api"
    ]
    assert f"Scaled up replica set {rs} to 1 from 0" in scaled
    assert f"Scaled down replica set {rs} to 0 from 1" in scaled  # the rollback
    created = [k.event["message"] for k in b.k8s_events("SuccessfulCreate") if k.event]
    assert {f"Created pod: {p}" for p in new_pods} <= set(created)


@pytest.mark.parametrize("reason", ["Unhealthy"])
def test_readiness_failures_name_the_pod_ip(bundle: Bundle, reason: str) -> None:
    """Readiness probe output hits the pod's own IP on the API port."""
    events = bundle.k8s_events(reason)
    # Every such event line was parsed as an event (none skipped by the event pattern).
    assert len(events) == bundle.text("k8s_events.log").count(f'reason="{reason}"')
    # Declared by the scenario (Expect.probe_failures): a saturated or absent listener.
    if scenarios.get(bundle.scenario).expect.probe_failures:
        assert events, f"no {reason} event: nothing was checked"
    for k in events:
        assert k.event is not None
        if not k.event["object"].startswith("shop/"):
            continue  # another namespace's pod (a red herring), on its own port
        m = re.search(r"http://([\d.]+):8080/actuator/health/readiness", k.event["message"])
        assert m, k.text
        assert re.fullmatch(r"10\.244\.\d+\.\d+", m[1]), k.text
