"""The answer key: valid, pointing at real lines that show the cause, and honest about
the negative control."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from rca.seed.mock_incident_generator import GroundTruth, Manifest
from tests.integration.logs import (
    FAILURES,
    NGINX_ERROR_RE,
    SCENARIOS,
    Bundle,
    K8sLine,
    klog_to_datetime,
    label_pointers,
    parse_nginx_time,
    parse_rfc3339,
    per_minute,
)


def _line_time(b: Bundle, file: str, text: str) -> tuple[datetime, timedelta]:
    """When a line says it happened, and the resolution its format prints."""
    if file == "ui_events.log":
        m = re.search(r"\[(\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\]", text)
        if m:
            return parse_nginx_time(m[1]), timedelta(seconds=1)
        t = datetime.strptime(text[:19], "%Y/%m/%d %H:%M:%S").replace(tzinfo=UTC)
        return t, timedelta(seconds=1)
    if file == "mesh_events.jsonl":
        m = json.loads(text)
        return parse_rfc3339(m["start_time"]) + timedelta(milliseconds=m["duration"]), timedelta(
            milliseconds=2
        )
    if file == "api_logs.log":
        m = re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}", text)
        assert m, text
        return datetime.fromisoformat(m[0]).replace(tzinfo=UTC), timedelta(milliseconds=1)
    if file == "db_events.log":
        t = datetime.strptime(text[:23], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
        return t, timedelta(milliseconds=1)
    assert file == "k8s_events.log", file
    return klog_to_datetime(text[1:21], b.window[0].year), timedelta(microseconds=1)


def test_label_and_manifest_satisfy_their_schemas(bundle: Bundle) -> None:
    truth = GroundTruth.model_validate_json((bundle.path / "ground_truth.json").read_bytes())
    manifest = Manifest.model_validate_json((bundle.path / "manifest.json").read_bytes())
    assert truth.scenario_id == manifest.scenario_id == bundle.scenario
    assert truth.bundle_id == manifest.bundle_id == bundle.path.name
    assert truth.incident is (
        bundle.scenario in FAILURES
    )  # the registry: label names a first signal
    assert truth.threshold_default == manifest.request.threshold == 0.70
    assert 0.0 <= truth.confidence_target_min <= truth.confidence_target_max <= 1.0


def test_every_evidence_pointer_quotes_its_line_exactly(bundle: Bundle) -> None:
    pointers = label_pointers(bundle.truth)
    assert pointers, "a label with no pointers at all"
    start, end = bundle.window
    for p in pointers:
        lines = bundle.text(p["file"]).split("\n")
        assert 1 <= p["line"] <= len(lines) - 1, p  # the file ends with a newline
        assert lines[p["line"] - 1] == p["excerpt"], p
        # The pointer's instant (RFC 3339, ms) is the line's own timestamp.
        t, resolution = _line_time(bundle, p["file"], p["excerpt"])
        at = parse_rfc3339(p["at"])
        assert t - timedelta(milliseconds=1) < at < t + resolution, (p, t)
        assert start <= at < end + timedelta(seconds=10), p
        if p["request_id"] is not None:
            assert p["request_id"] in bundle.ui_by_rid, p
            # PostgreSQL carries the trace id instead; nginx's error log carries none.
            if p["file"] != "db_events.log" and not NGINX_ERROR_RE.match(p["excerpt"]):
                assert p["request_id"] in p["excerpt"], p


def test_the_label_only_points_at_known_signals(bundle: Bundle) -> None:
    truth = bundle.truth
    for d in truth["distractors"]:
        assert d["pointer"]["signal"].startswith(("noise.", "distractor.")), d
        assert d["why_not_root_cause"]
    causal = {p["signal"] for step in truth["causal_chain"] for p in step["evidence"]}
    assert not any(s.startswith("noise.") for s in causal), causal
    assert [s["order"] for s in truth["causal_chain"]] == list(
        range(1, len(truth["causal_chain"]) + 1)
    )


# ------------------------------------------------------------------ incidents
def test_incident_window_is_ordered_and_inside_the_bundle(failure: Bundle) -> None:
    w = failure.truth["incident_window"]
    start, end = failure.window
    onset, peak = parse_rfc3339(w["onset"]), parse_rfc3339(w["peak"])
    assert start < onset < peak < end
    if w["recovery"] is not None:
        assert peak < parse_rfc3339(w["recovery"]) <= end
    first = failure.truth["first_signal"]
    assert first is not None
    assert parse_rfc3339(first["at"]) >= onset


def test_causal_chain_evidence_follows_the_onset(failure: Bundle) -> None:
    onset = parse_rfc3339(failure.truth["incident_window"]["onset"])
    for step in failure.truth["causal_chain"]:
        assert step["evidence"], f"step {step['order']} ({step['effect']}) has no evidence"
        for p in step["evidence"]:
            assert parse_rfc3339(p["at"]) >= onset, p


def test_ui_and_mesh_evidence_shows_a_symptom(failure: Bundle) -> None:
    """An nginx or Envoy line cited as evidence must show the failure: a 5xx or a slow call.

    A 200 that arrived quickly (e.g. a request whose failed first attempt was retried
    successfully) shows nothing a responder could see.
    """
    for p in label_pointers(failure.truth):
        if p["signal"].startswith("noise."):
            continue
        if p["file"] == "ui_events.log":
            u = next(u for u in failure.ui if u.line == p["line"])
            assert u.status >= 500 or u.request_time >= 2.0, (p["signal"], p["excerpt"])
        elif p["file"] == "mesh_events.jsonl":
            m = json.loads(p["excerpt"])
            assert m["response_code"] >= 500 or m["duration"] >= 2000, (p["signal"], m)


def _excerpts(truth: dict[str, Any]) -> list[str]:
    pointers = [truth["first_signal"], *truth["evidence"]]
    for step in truth["causal_chain"]:
        pointers += step["evidence"]
    return [p["excerpt"] for p in pointers]


def test_pool_exhaustion_evidence_shows_connection_is_not_available(
    bundles: dict[str, Bundle],
) -> None:
    truth = bundles["db_connection_pool_exhaustion"].truth
    first = truth["first_signal"]
    assert first["file"] == "api_logs.log"
    assert re.search(
        r"HikariPool-1 - Connection is not available, request timed out after 50\d\dms "
        r"\(total=(\d+), active=\1, idle=0, waiting=\d+\)",
        first["excerpt"],
    ), first
    assert any("Connection is not available" in e for e in _excerpts(truth))


def test_slow_query_evidence_shows_the_slow_statement_and_the_drop_index(
    bundles: dict[str, Bundle],
) -> None:
    b = bundles["slow_query_regression"]
    truth = b.truth
    first = truth["first_signal"]
    assert first["file"] == "db_events.log"
    m = re.search(r"LOG:  duration: (\d+\.\d{3}) ms  execute <unnamed>: (.*)$", first["excerpt"])
    assert m, first
    assert float(m[1]) >= 1000.0
    assert "from orders o1_0 where o1_0.customer_id=$1 order by o1_0.created_at desc" in m[2]
    drops = [
        e
        for e in _excerpts(truth)
        if "LOG:  statement: DROP INDEX" in e and truth["drawn"]["index"] in e
    ]
    assert drops, "the DROP INDEX statement is not in the evidence"
    # The regression starts with the DROP and ends with the rebuild: every slow run of the
    # customer query lies in between (PostgreSQL logs a statement when it ends).
    text = b.lines("db_events.log")
    drop_at = next(i for i, ln in enumerate(text) if "statement: DROP INDEX" in ln)
    slow = [i for i, ln in enumerate(text) if "duration: " in ln and "customer_id=$1" in ln]
    assert slow and drop_at < min(slow)
    # (Other clients' slow statements, a BI report or an operator's DDL, are herrings.)
    assert not any("duration: " in ln and " orders_app@" in ln for ln in text[:drop_at])
    creates = [i for i, ln in enumerate(text) if "statement: CREATE INDEX" in ln]
    if truth["incident_window"]["recovery"] is None:  # the drawn length ends past the window
        assert creates == [], "an index rebuild in a window the label says never recovers"
        return
    create_at = creates[0]
    analyze_at = next(i for i, ln in enumerate(text) if "statement: ANALYZE public.orders" in ln)
    assert create_at < analyze_at
    late = [i for i in slow if i > analyze_at + 50]
    assert late == [], "slow customer queries long after the index was rebuilt"


def test_rollout_evidence_shows_the_defect_on_a_new_release_pod_and_its_replicaset(
    bundles: dict[str, Bundle],
) -> None:
    b = bundles["bad_api_rollout"]
    truth = b.truth
    release = truth["drawn"]["bad_version"]
    new_pods = {e.pod for e in b.api if f"Starting OrdersApiApplication v{release} " in e.msg}
    new_rs = {p.rsplit("-", 1)[0] for p in new_pods}
    assert len(new_rs) == 1
    first = truth["first_signal"]
    assert first["file"] == "api_logs.log"
    assert "." + truth["drawn"]["defect_exception"] + ": " in first["excerpt"]
    pod = re.match(r"\[pod/([^/]+)/orders-api\] ", first["excerpt"])
    assert pod and pod[1] in new_pods, first
    scaled = [
        e
        for e in _excerpts(truth)
        if 'reason="ScalingReplicaSet"' in e and f"Scaled up replica set {next(iter(new_rs))} " in e
    ]
    assert scaled, f"no ScalingReplicaSet to the {release} ReplicaSet in the evidence"
    # The rollback step cites the old ReplicaSet scaling back up, after the errors began.
    rollback = truth["causal_chain"][-1]
    assert "rollback" in rollback["effect"]
    old_rs = {p.rsplit("-", 1)[0] for p in b.api_pods} - new_rs
    for p in rollback["evidence"]:
        assert any(f"Scaled up replica set {rs} " in p["excerpt"] for rs in old_rs), p
        assert parse_rfc3339(p["at"]) > parse_rfc3339(first["at"])


def test_oom_evidence_shows_exit_137_oomkilling_and_crashloop(bundles: dict[str, Bundle]) -> None:
    excerpts = _excerpts(bundles["pod_oom_restart_loop"].truth)
    k8s = [e for e in excerpts if re.match(r"[IWEF]\d{4} ", e)]
    assert any("exitCode=137" in e for e in k8s)
    assert any('reason="OOMKilling"' in e and "Memory cgroup out of memory" in e for e in k8s)
    assert any("CrashLoopBackOff" in e and "back-off 10s" in e for e in k8s)


# ------------------------------------------------------------------ negative control
def _is_flat(counts: list[int]) -> bool:
    """No minute far above the window's mean (a Poisson-ish bound)."""
    mean = sum(counts) / len(counts)
    return max(counts) <= mean + 4 * math.sqrt(mean) + 2


def _api_problems_per_minute(b: Bundle) -> list[int]:
    start, end = b.window
    return per_minute([e.time for e in b.api if e.level in ("WARN", "ERROR")], start, end)


def test_normal_load_is_a_true_negative_control(bundles: dict[str, Bundle]) -> None:
    b = bundles["normal_load"]
    truth = b.truth
    assert truth["incident"] is False
    assert truth["first_signal"] is None and truth["incident_window"] is None
    assert truth["causal_chain"] == [] and truth["evidence"] == []
    assert truth["root_cause_layer"] is None

    # Whatever looks like a failure is a red herring the label lists, and lasts only
    # as long as the herring does: a pool blip's lock queue stands under a minute, and
    # its slowest statements and 504s follow within two more.
    herrings = {
        d["pointer"]["signal"].removeprefix("distractor."): parse_rfc3339(d["pointer"]["at"])
        for d in truth["distractors"]
        if d["pointer"]["signal"].startswith("distractor.")
    }

    def in_blip(t: datetime) -> bool:
        at = herrings.get("pool_blip")
        return at is not None and at <= t <= at + timedelta(minutes=3)

    assert all(in_blip(u.time) for u in b.ui if u.status >= 500)
    assert all(
        in_blip(parse_rfc3339(m["start_time"]))
        for m in b.mesh
        if m["response_code"] >= 500 or m["response_flags"] != "-"
    )
    scheduled = "TaskUtils$LoggingErrorHandler"
    for e in b.api:
        if e.level != "ERROR" or "duplicate key value violates unique constraint" in e.msg:
            continue
        if scheduled in e.logger:  # a @Scheduled job's failure: no request's
            assert "scheduled_npe" in herrings, e
        else:
            assert in_blip(e.time), e
    assert not any(
        e.continuation
        and e.continuation[0] == ""
        and not in_blip(e.time)
        and scheduled not in e.logger
        for e in b.api
    )  # no request's stack trace
    assert all(
        a.status < 500 and a.elapsed_ms < 2000 for a in b.api_access if not in_blip(a.event.time)
    )
    for line in b.lines("db_events.log"):
        if "LOG:  duration: " in line:  # over 500 ms: a BI tool's report, or the blip
            stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
            assert " reporting@" in line or in_blip(stamp), line
    year = b.window[0].year

    def k8s_time(k: K8sLine) -> datetime:
        return datetime.strptime(f"{year}{k.time_key}", "%Y%m%d %H:%M:%S.%f").replace(tzinfo=UTC)

    k8s_warnings = [
        k.text
        for k in b.k8s
        if k.event
        and k.event["type"] == "Warning"
        and k.event["object"].startswith("shop/")
        and not in_blip(k8s_time(k))  # the blip's probe timeouts are the herring's
    ]
    assert k8s_warnings == []
    start, end = b.window
    ui_4xx = per_minute(
        [u.time for u in b.ui if 400 <= u.status < 500 and u.request_id in b.mesh_by_rid],
        start,
        end,
    )
    problems = per_minute(
        [
            e.time
            for e in b.api
            if e.level in ("WARN", "ERROR") and not in_blip(e.time) and scheduled not in e.logger
        ],
        start,
        end,
    )
    assert _is_flat(problems) and _is_flat(ui_4xx)


def test_the_flatness_check_would_see_an_error_burst(bundles: dict[str, Bundle]) -> None:
    assert not _is_flat(_api_problems_per_minute(bundles["bad_api_rollout"]))


def test_failure_scenarios_have_a_5xx_burst_after_onset(failure: Bundle) -> None:
    start, end = failure.window
    w = failure.truth["incident_window"]
    onset = parse_rfc3339(w["onset"])
    stop = parse_rfc3339(w["recovery"]) if w["recovery"] else end
    fives = [u.time for u in failure.ui if u.status >= 500]
    before = per_minute(fives, start, onset)
    during = per_minute(fives, onset, stop + timedelta(minutes=1))
    rate_before = sum(before) / max(1, len(before))
    rate_during = sum(during) / max(1, len(during))
    # When the label says users saw 5xx (a ui step cites one), they did, far more often
    # than before; a label that cites none has none in the window to speak of (a restart
    # loop whose deaths never overlap: the mesh retries around each dead pod).
    cited = any(
        p["signal"].startswith("ui.5")
        for step in failure.truth["causal_chain"]
        for p in step["evidence"]
    )
    if cited:
        assert sum(during) >= 1, during
    else:
        assert sum(during) <= 2, during
        return
    assert rate_during >= 10 * rate_before, (before, during)
    after = per_minute(fives, stop + timedelta(minutes=1), end)
    assert sum(after) <= sum(before) + 1, "5xx go on after the recovery"


def test_the_negative_control_is_the_only_scenario_without_an_incident() -> None:
    # SCENARIOS and FAILURES come from the registry (tests/integration/logs.py).
    assert set(SCENARIOS) - set(FAILURES) == {"normal_load"}
