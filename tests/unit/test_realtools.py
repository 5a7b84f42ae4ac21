"""The real-tool helpers accept the reference samples and catch a broken line."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.realtools import (
    ISTIO_ACCESS_LOG_SCHEMA_PATH,
    KLOG_HEADER_RE,
    NGINX_MAIN_EXT_RE,
    count_pg_entries,
    goaccess_parse,
    klog_bad_lines,
    pgbadger_parse,
    validate_mesh_jsonl,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "realtools"
NGINX = DATA / "nginx_ui_mixed.log"
POSTGRES = DATA / "postgres_debian.log"
MESH = DATA / "istio_mesh.jsonl"
KLOG = DATA / "klog.log"

_NGINX_ERROR_LINE = re.compile(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} \[[a-z]+\] ")


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def _split_nginx(lines: list[str]) -> tuple[list[str], list[str]]:
    errors = [ln for ln in lines if _NGINX_ERROR_LINE.match(ln)]
    return [ln for ln in lines if ln not in errors], errors


# ---------------------------------------------------------------------------- GoAccess


@pytest.mark.realtools("goaccess")
def test_goaccess_accepts_every_access_line_and_fails_every_error_line() -> None:
    access, errors = _split_nginx(_lines(NGINX))
    assert (len(access), len(errors)) == (9, 5)

    result = goaccess_parse(NGINX)

    assert result.valid_requests == len(access)
    assert result.failed_requests == len(errors)
    assert result.total_requests == len(access) + len(errors)
    assert result.excluded_hits == 0
    assert list(result.invalid_lines) == errors
    statuses = Counter(int(ln.split('"')[2].split()[0]) for ln in access)
    assert dict(result.status_codes) == dict(statuses)
    assert result.bandwidth == sum(int(ln.split('"')[2].split()[1]) for ln in access)


_NGINX_MANGLES: dict[str, Callable[[str], str]] = {
    "iso-time": lambda ln: ln.replace("[26/Nov/2026:05:29:55 +0000]", "[2026-11-26T05:29:55Z]"),
    "status-000": lambda ln: ln.replace('HTTP/1.1" 200 ', 'HTTP/1.1" 000 '),
    "hostname-addr": lambda ln: "shop.example.com" + ln[len("127.0.0.1") :],
    "truncated": lambda ln: ln[: ln.index('" 200 ') + len('" 200')],
}


@pytest.mark.realtools("goaccess")
@pytest.mark.parametrize("mangle", _NGINX_MANGLES.values(), ids=_NGINX_MANGLES.keys())
def test_goaccess_counts_a_mangled_access_line_as_failed(
    tmp_path: Path, mangle: Callable[[str], str]
) -> None:
    lines = _lines(NGINX)
    target = 1  # the first access line: 127.0.0.1 ... "GET /api/orders?page=1 ..." 200
    assert NGINX_MAIN_EXT_RE.match(lines[target])
    lines[target] = mangle(lines[target])
    assert NGINX_MAIN_EXT_RE.match(lines[target]) is None
    access, errors = _split_nginx(_lines(NGINX))

    result = goaccess_parse(_write(tmp_path / "ui.log", lines))

    assert result.valid_requests == len(access) - 1
    assert result.failed_requests == len(errors) + 1
    assert lines[target] in result.invalid_lines


@pytest.mark.realtools("goaccess")
def test_goaccess_does_not_abort_when_the_file_starts_with_error_lines(tmp_path: Path) -> None:
    # By default GoAccess gives up when none of the first 10 lines parse.
    access, errors = _split_nginx(_lines(NGINX))
    log = _write(tmp_path / "ui.log", errors * 3 + access[:1])

    result = goaccess_parse(log)

    assert (result.valid_requests, result.failed_requests) == (1, 15)


@pytest.mark.realtools("goaccess")
def test_goaccess_ignores_the_tail_so_the_regex_checks_it(tmp_path: Path) -> None:
    lines = _lines(NGINX)
    target = next(i for i, ln in enumerate(lines) if NGINX_MAIN_EXT_RE.match(ln))
    lines[target] = lines[target].rsplit(" ", 1)[0] + " not-a-request-id"
    access, _ = _split_nginx(_lines(NGINX))

    result = goaccess_parse(_write(tmp_path / "ui.log", lines))

    assert result.valid_requests == len(access)  # GoAccess does not notice...
    assert NGINX_MAIN_EXT_RE.match(lines[target]) is None  # ...the regex does


def test_nginx_main_ext_re_matches_access_lines_only() -> None:
    access, errors = _split_nginx(_lines(NGINX))
    assert all(NGINX_MAIN_EXT_RE.match(ln) for ln in access)
    assert not any(NGINX_MAIN_EXT_RE.match(ln) for ln in errors)
    upstream_times = {
        m["upstream_response_time"] for m in map(NGINX_MAIN_EXT_RE.match, access) if m
    }
    assert {"-", "0.001, 0.000"} <= upstream_times


# ---------------------------------------------------------------------------- pgBadger


@pytest.mark.realtools("pgbadger")
def test_pgbadger_recognises_every_entry() -> None:
    expected = count_pg_entries(POSTGRES)
    assert (expected.entries, expected.continuation_lines) == (34, 12)

    result = pgbadger_parse(POSTGRES)

    assert result.lines_read == expected.lines
    assert result.recognised_entries == expected.entries
    assert dict(result.by_severity) == dict(expected.by_severity)


@pytest.mark.realtools("pgbadger")
def test_pgbadger_reports_queries_errors_sessions_and_maintenance() -> None:
    result = pgbadger_parse(POSTGRES)

    assert result.queries == 4
    assert [q.duration_ms for q in result.slowest] == [2871.204, 1304.819, 1203.551, 422.387]
    assert "traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-" in result.slowest[2].query
    assert {q.database for q in result.slowest} == {"shop"}
    # 3 ERROR + 4 FATAL + the LOG "still waiting for" lock wait, which pgBadger files as error.
    assert result.errors == 8
    assert sum(result.error_events.values()) == 8
    assert result.error_events["FATAL:  sorry, too many clients already"] == 1
    assert result.connections == 1
    assert result.sessions == 1
    assert dict(result.checkpoint_starts) == {"wal": 1}
    assert result.checkpoint_warnings == 1
    assert result.autovacuums == 1
    assert result.autoanalyzes == 0


_PG_BROKEN = {
    # prefix does not match: the PID lacks its brackets / the timestamp is ISO
    "pid-no-brackets": '2026-11-26 05:31:16.594 UTC 12268 app@shop ERROR:  relation "x" does not exist',
    "iso-timestamp": '2026-11-26T05:31:16.594Z [12268] app@shop ERROR:  relation "x" does not exist',
    # a real PostgreSQL severity that pgBadger 12 does not know
    "notice": '2026-11-26 05:31:16.594 UTC [12268] app@shop NOTICE:  relation "x" already exists, skipping',
    "debug": "2026-11-26 05:31:16.594 UTC [12268] app@shop DEBUG1:  snapshot of 0+0 running transaction ids",
}


@pytest.mark.realtools("pgbadger")
@pytest.mark.parametrize("bad", _PG_BROKEN.values(), ids=_PG_BROKEN.keys())
def test_pgbadger_does_not_recognise_a_broken_entry(tmp_path: Path, bad: str) -> None:
    lines = _lines(POSTGRES)
    lines.insert(5, bad)
    log = _write(tmp_path / "postgresql.log", lines)
    expected = count_pg_entries(log)

    result = pgbadger_parse(log)

    assert result.lines_read == expected.lines
    assert result.recognised_entries == expected.entries - 1


@pytest.mark.realtools("pgbadger")
def test_pgbadger_silently_drops_lines_containing_info(tmp_path: Path) -> None:
    lines = _lines(POSTGRES)
    lines.insert(
        5, "2026-11-26 05:31:16.594 UTC [12268] app@shop LOG:  statement: SELECT 'INFO: x'"
    )
    log = _write(tmp_path / "postgresql.log", lines)
    expected = count_pg_entries(log)

    result = pgbadger_parse(log)

    assert result.lines_read == expected.lines - 1
    assert result.recognised_entries == expected.entries - 1


# ---------------------------------------------------------------------------- klog


def test_klog_sample_has_headers_everywhere() -> None:
    assert klog_bad_lines(KLOG) == []


@pytest.mark.parametrize(
    "bad",
    [
        "I1126 05:28:30.492150  9090 prober.go:107] pid not padded to 7",
        "I20261126 05:28:30.492150    9090 prober.go:107] year present",
        "I1126 05:28:30.492    9090 prober.go:107] milliseconds",
        "INFO 1126 05:28:30.492150    9090 prober.go:107] level word",
        "I1126 05:28:30.492150    9090 pkg/kubelet/prober.go:107 no bracket",
    ],
)
def test_klog_header_re_rejects_near_misses(tmp_path: Path, bad: str) -> None:
    assert KLOG_HEADER_RE.match(bad) is None
    log = _write(tmp_path / "kubelet.log", [*_lines(KLOG), bad])
    assert klog_bad_lines(log) == [(len(_lines(KLOG)) + 1, bad)]


# ---------------------------------------------------------------------------- Istio JSON


def test_istio_schema_pins_exactly_the_24_default_keys() -> None:
    schema = json.loads(ISTIO_ACCESS_LOG_SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert len(schema["properties"]) == 24
    assert sorted(schema["required"]) == sorted(schema["properties"])


def test_istio_sample_validates() -> None:
    assert validate_mesh_jsonl(MESH) == []


def _mesh_with_first_record(tmp_path: Path, edit: dict[str, object], drop: str = "") -> Path:
    lines = _lines(MESH)
    record = json.loads(lines[0])
    record.update(edit)
    record.pop(drop, None)
    lines[0] = json.dumps(record)
    return _write(tmp_path / "mesh.jsonl", lines)


@pytest.mark.parametrize(
    ("edit", "drop", "needle"),
    [
        ({"response_code": "200"}, "", "response_code: '200' is not of type 'integer'"),
        ({"duration": 12.5}, "", "duration: 12.5 is not of type 'integer'"),
        ({"upstream_service_time": 11}, "", "upstream_service_time: 11 is not of type"),
        ({"upstream_host": "-"}, "", "upstream_host: '-' does not match"),
        ({"response_flags": "UF URX"}, "", "response_flags: 'UF URX' does not match"),
        ({"pod_name": "orders-api-0"}, "", "Additional properties are not allowed ('pod_name'"),
        ({}, "request_id", "'request_id' is a required property"),
    ],
    ids=["code-str", "duration-float", "ust-number", "dash-not-null", "flags", "extra", "missing"],
)
def test_validate_mesh_jsonl_reports_type_errors(
    tmp_path: Path, edit: dict[str, object], drop: str, needle: str
) -> None:
    errors = validate_mesh_jsonl(_mesh_with_first_record(tmp_path, edit, drop))
    assert len(errors) == 1, errors
    assert errors[0].startswith("line 1: ")
    assert needle in errors[0]


def test_validate_mesh_jsonl_rejects_blank_lines_and_duplicate_keys(tmp_path: Path) -> None:
    first = _lines(MESH)[0]
    dup = first[:-1] + ',"duration":13}'
    errors = validate_mesh_jsonl(_write(tmp_path / "mesh.jsonl", [first, "", dup]))
    assert [e.split(":", 1)[0] for e in errors] == ["line 2", "line 3"]
    assert "duplicate keys ['duration']" in errors[1]


@pytest.mark.parametrize(
    ("request_id", "ok"),
    [
        ("722ef34b-553e-9b82-8a73-a716de0b14fc", True),  # generated by Envoy
        ("4bf92f3577b34da6a3ce929d0e0e4736", True),  # nginx $request_id kept by the sidecar
        ("4BF92F3577B34DA6A3CE929D0E0E4736", False),
        ("4bf92f3577b34da6a3ce929d0e0e473", False),
        ("-", False),
    ],
)
def test_istio_schema_request_id_is_a_uuid_or_an_nginx_request_id(
    tmp_path: Path, request_id: str, ok: bool
) -> None:
    errors = validate_mesh_jsonl(_mesh_with_first_record(tmp_path, {"request_id": request_id}))
    assert (errors == []) is ok, errors
