"""Every stream is accepted by the software (or published schema) people point at it."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.integration.logs import NGINX_ERROR_RE, Bundle
from tests.realtools import (
    NGINX_MAIN_EXT_RE,
    PgBadgerResult,
    count_pg_entries,
    goaccess_parse,
    klog_bad_lines,
    validate_mesh_jsonl,
)


@pytest.mark.realtools("goaccess")
def test_goaccess_accepts_every_nginx_access_line(bundle: Bundle) -> None:
    lines = bundle.ui_raw
    errors = [ln for ln in lines if NGINX_ERROR_RE.match(ln)]
    access = [ln for ln in lines if not NGINX_ERROR_RE.match(ln)]
    assert access, "no access lines at all"

    result = goaccess_parse(bundle.path / "ui_events.log")

    assert result.total_requests == len(lines)
    assert result.valid_requests == len(access)
    assert result.failed_requests == len(errors)
    assert list(result.invalid_lines) == errors  # only the interleaved error-log lines
    assert result.excluded_hits == 0
    # GoAccess read the same statuses and byte counts we wrote.
    assert dict(result.status_codes) == dict(Counter(u.status for u in bundle.ui))
    assert result.bandwidth == sum(u.body_bytes for u in bundle.ui)


def test_nginx_access_lines_match_main_ext_exactly(bundle: Bundle) -> None:
    # GoAccess ignores everything after %T; the stricter shape covers the tail.
    bad = [
        (n, ln)
        for n, ln in enumerate(bundle.ui_raw, 1)
        if not NGINX_ERROR_RE.match(ln) and not NGINX_MAIN_EXT_RE.match(ln)
    ]
    assert bad == []


@pytest.mark.realtools("pgbadger")
def test_pgbadger_recognises_every_postgres_entry(
    bundle: Bundle, pgbadger_results: dict[str, PgBadgerResult]
) -> None:
    path = bundle.path / "db_events.log"
    text = path.read_text(encoding="utf-8")
    expected = count_pg_entries(path)
    assert expected.entries > 0

    result = pgbadger_results[bundle.scenario]  # pgbadger_parse(path), run once per session

    assert result.lines_read == expected.lines
    assert result.recognised_entries == expected.entries
    # Per severity, against our own count. pgBadger files some LOG messages as ERROR
    # ("could not receive data from client", "still waiting for", ...) and moves only
    # some of them back (PGBADGER_LOG_AS_ERROR_RE): LOG and ERROR are compared as a pair,
    # and its surplus of ERROR is bounded by the LOG lines it may re-file. Every other
    # severity (DETAIL, STATEMENT, FATAL, ...) must match exactly.
    got, ours = dict(result.by_severity), dict(expected.by_severity)
    pair = ("LOG", "ERROR")
    assert {k: v for k, v in got.items() if k not in pair} == {
        k: v for k, v in ours.items() if k not in pair
    }
    assert got.get("LOG", 0) + got.get("ERROR", 0) == ours.get("LOG", 0) + ours.get("ERROR", 0)
    surplus = got.get("ERROR", 0) - ours.get("ERROR", 0)
    assert 0 <= surplus <= expected.log_filed_as_error, (surplus, expected.log_filed_as_error)
    # What it understood, not only that it swallowed the lines.
    # A statement log_statement logged (psql's simple query, or a JDBC client's
    # "execute <unnamed>:") is a query, and so is each duration line.
    logged = text.count("LOG:  statement: ") + text.count("LOG:  execute <unnamed>: ")
    assert result.queries == text.count("LOG:  duration: ") + logged
    assert result.sessions == text.count("LOG:  disconnection: ")
    assert result.connections == text.count("LOG:  connection authorized: ")
    assert sum(result.checkpoint_starts.values()) == text.count("LOG:  checkpoint starting: ")
    assert result.autovacuums == text.count("LOG:  automatic vacuum of table ")
    slowest = {round(q.duration_ms, 3) for q in result.slowest}
    assert all(f"duration: {ms:.3f} ms" in text for ms in slowest)


def test_every_mesh_line_validates_against_the_istio_schema(bundle: Bundle) -> None:
    assert validate_mesh_jsonl(bundle.path / "mesh_events.jsonl") == []


def test_every_k8s_line_has_a_klog_header(bundle: Bundle) -> None:
    assert bundle.k8s, "empty k8s stream"
    assert klog_bad_lines(bundle.path / "k8s_events.log") == []
