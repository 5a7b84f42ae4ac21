"""Wrappers around the real log tools (GoAccess, pgBadger) and format validators.

Tests use these to prove that generated logs are accepted by the software people
actually point at such logs, rather than by a regex we wrote to agree with ourselves.
Every wrapper runs its tool hermetically (empty HOME, C locale, UTC) and returns
plain counts, so a test can assert "100 % accepted" against an independent count.

Tool versions these semantics were established on: GoAccess 1.7 and pgBadger 12.0
(Debian 12 packages ``goaccess`` and ``pgbadger``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

__all__ = [
    "ISTIO_ACCESS_LOG_SCHEMA_PATH",
    "KLOG_HEADER_RE",
    "NGINX_DATE_FORMAT",
    "NGINX_MAIN_EXT_GOACCESS",
    "NGINX_MAIN_EXT_RE",
    "NGINX_TIME_FORMAT",
    "PGBADGER_LOG_AS_ERROR_RE",
    "PG_DEBIAN_PREFIX",
    "REAL_TOOLS",
    "GoAccessResult",
    "PgBadgerResult",
    "PgEntryCount",
    "SlowQuery",
    "ToolError",
    "ToolMissingError",
    "count_pg_entries",
    "goaccess_parse",
    "klog_bad_lines",
    "missing_tools",
    "pgbadger_parse",
    "validate_mesh_jsonl",
]

# Binaries the ``realtools`` pytest marker may ask for (Debian package == binary name);
# installed by scripts/bootstrap.sh. chromium renders the Snakemake report
# (tests/workflow/test_report.py); rsync moves the files of the remote-storage test
# (tests/workflow/test_storage.py).
REAL_TOOLS: tuple[str, ...] = ("goaccess", "pgbadger", "chromium", "rsync", "prometheus")

# ---------------------------------------------------------------------------- nginx

# GoAccess spelling of our nginx format
#   log_format main_ext '$remote_addr - $remote_user [$time_local] "$request" $status '
#                       '$body_bytes_sent "$http_referer" "$http_user_agent" '
#                       '$request_time $upstream_response_time $request_id';
# %h remote_addr, %^ skips remote_user and the " +0000" zone, %d:%t the local time,
# %r request, %s status, %b body bytes, %R referer, %u user agent, %T request_time
# (seconds.millis); the last two %^ skip $upstream_response_time and $request_id.
NGINX_MAIN_EXT_GOACCESS = '%h %^[%d:%t %^] "%r" %s %b "%R" "%u" %T %^ %^'
NGINX_DATE_FORMAT = "%d/%b/%Y"
NGINX_TIME_FORMAT = "%H:%M:%S"

# GoAccess does not check anything after %T (see goaccess_parse), so this stricter
# shape check covers the tail: $upstream_response_time is "-" or a list of seconds
# joined by ", " (next upstream in a group) or " : " (internal redirect to another group);
# $request_id is 32 lowercase hex digits.
_UPSTREAM_TIME = r"(?:-|\d+\.\d{3})"
NGINX_MAIN_EXT_RE = re.compile(
    r"^(?P<remote_addr>[0-9a-fA-F.:]+) - (?P<remote_user>\S+) "
    r"\[(?P<time_local>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    r'"(?P<request>[^"]*)" (?P<status>[1-5]\d{2}) (?P<body_bytes_sent>\d+) '
    r'"(?P<http_referer>[^"]*)" "(?P<http_user_agent>[^"]*)" '
    r"(?P<request_time>\d+\.\d{3}) "
    rf"(?P<upstream_response_time>{_UPSTREAM_TIME}(?:(?:, | : ){_UPSTREAM_TIME})*) "
    r"(?P<request_id>[0-9a-f]{32})$"
)

# ---------------------------------------------------------------------------- postgres / k8s

# Debian's postgresql.conf default; %q ends the prefix for background processes.
PG_DEBIAN_PREFIX = "%m [%p] %q%u@%d "

# klog header (k8s.io/klog/v2 FormatHeader): no year, microseconds, PID right-aligned in 7.
KLOG_HEADER_RE = re.compile(r"^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d{6} [ 0-9]{7} [^ :]+:\d+\] ")

ISTIO_ACCESS_LOG_SCHEMA_PATH = Path(__file__).parent / "schemas" / "istio_access_log.schema.json"


# ---------------------------------------------------------------------------- running tools


class ToolMissingError(RuntimeError):
    """The binary is not on PATH (install it with scripts/bootstrap.sh)."""


class ToolError(RuntimeError):
    """The tool ran but failed; the message carries its exit code and stderr."""


def missing_tools(names: Sequence[str] = REAL_TOOLS) -> list[str]:
    """Return the names among ``names`` that are not on PATH."""
    return [name for name in names if shutil.which(name) is None]


def _require(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise ToolMissingError(f"{name} is not installed; run scripts/bootstrap.sh")
    return exe


def _run(argv: Sequence[str], workdir: Path) -> None:
    # Hermetic: no user config (GoAccess reads ~/.goaccessrc even with
    # --no-global-config), English month names, timestamps taken as written.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "XDG_CONFIG_HOME": str(workdir),
        "LC_ALL": "C",
        "LANG": "C",
        "TZ": "UTC",
    }
    proc = subprocess.run(
        list(argv),
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise ToolError(
            f"{argv[0]} exited {proc.returncode}\n"
            f"command: {' '.join(argv)}\nstderr:\n{proc.stderr}\nstdout:\n{proc.stdout}"
        )


def _load_json_object(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ToolError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


# ---------------------------------------------------------------------------- GoAccess


@dataclass(frozen=True)
class GoAccessResult:
    """Counts from GoAccess's JSON ``general`` section (GoAccess 1.7, as invoked here).

    * ``total_requests``: lines GoAccess looked at. Blank lines and lines starting
      with ``#`` are skipped *before* counting, so they appear nowhere.
      ``total == valid + failed + excluded_hits`` (+ lines dropped by ignore options
      such as ``--ignore-status``, which we never pass).
    * ``valid_requests``: lines that matched the format. Nothing is de-duplicated:
      identical lines count once each; static files, crawlers, 404s, 444/499 and a
      ``"-"`` request are all valid.
    * ``failed_requests``: lines that did not match (``invalid_lines`` lists them, in
      order). Every nginx error-log line fails at its first token (``2026/11/26`` is
      not a ``%h`` address). Status codes outside 100-599 (e.g. ``000``) fail, as does
      a hostname or ``unix:`` in ``$remote_addr``, a bad month or a line cut short
      before a required field.
    * ``excluded_hits``: lines dropped by ``--exclude-ip`` and the like; always 0 here.

    GoAccess is lenient after the fields it needs: a non-numeric ``%T`` or ``%b``
    reads as 0, and anything after the format (extra tokens, a missing request id)
    is ignored. Use :data:`NGINX_MAIN_EXT_RE` for the tail.
    """

    total_requests: int
    valid_requests: int
    failed_requests: int
    excluded_hits: int
    bandwidth: int
    status_codes: Mapping[int, int]
    invalid_lines: tuple[str, ...]
    raw: Mapping[str, Any]


def goaccess_parse(
    path: str | os.PathLike[str],
    log_format: str = NGINX_MAIN_EXT_GOACCESS,
    date_format: str = NGINX_DATE_FORMAT,
    time_format: str = NGINX_TIME_FORMAT,
) -> GoAccessResult:
    """Parse ``path`` with the real GoAccess and return its counts.

    Runs::

        goaccess LOG --no-global-config --num-tests=0 --no-progress --no-parsing-spinner
                 --log-format=FMT --date-format=%d/%b/%Y --time-format=%H:%M:%S
                 --invalid-requests=invalid.log -o report.json

    ``--num-tests=0`` matters for mixed access/error files: by default GoAccess
    aborts (exit 1, "Format Errors") when none of the first 10 lines parse.
    """
    exe = _require("goaccess")
    log = Path(path).resolve()
    with tempfile.TemporaryDirectory(prefix="goaccess-") as tmp:
        work = Path(tmp)
        report = work / "report.json"
        invalid = work / "invalid.log"
        _run(
            [
                exe,
                str(log),
                "--no-global-config",
                "--num-tests=0",
                "--no-progress",
                "--no-parsing-spinner",
                f"--log-format={log_format}",
                f"--date-format={date_format}",
                f"--time-format={time_format}",
                f"--invalid-requests={invalid}",
                "-o",
                str(report),
            ],
            work,
        )
        data = _load_json_object(report)
        invalid_lines = (
            tuple(invalid.read_text(encoding="utf-8", errors="replace").splitlines())
            if invalid.exists()
            else ()
        )
    general = data["general"]
    return GoAccessResult(
        total_requests=int(general["total_requests"]),
        valid_requests=int(general["valid_requests"]),
        failed_requests=int(general["failed_requests"]),
        excluded_hits=int(general["excluded_hits"]),
        bandwidth=int(general["bandwidth"]),
        status_codes=_goaccess_status_codes(data),
        invalid_lines=invalid_lines,
        raw=data,
    )


def _goaccess_status_codes(data: Mapping[str, Any]) -> dict[int, int]:
    # Panel items look like {"data": "504 - Gateway Timeout...", "hits": {"count": 1}}.
    counts: dict[int, int] = {}
    for group in data.get("status_codes", {}).get("data", []):
        for item in group.get("items", []):
            code = int(str(item["data"]).split(" ", 1)[0])
            counts[code] = counts.get(code, 0) + int(item["hits"]["count"])
    return counts


# ---------------------------------------------------------------------------- pgBadger


@dataclass(frozen=True)
class SlowQuery:
    duration_ms: float
    timestamp: str
    query: str
    database: str | None
    user: str | None


@dataclass(frozen=True)
class PgBadgerResult:
    """What pgBadger 12 recognised in a stderr log (from its ``-x json`` dump).

    * ``lines_read``: pgBadger's ``nlines``: physical lines read, blank ones included.
      Lines containing ``INFO: `` anywhere are dropped before counting (pgBadger
      treats them as other software's output).
    * ``recognised_entries`` / ``by_severity``: from ``logs_type``, one count per
      line whose prefix and severity matched. This is the "100 % recognised" number:
      it must equal :attr:`PgEntryCount.entries`. pgBadger does not count, by design,
      ``LOCATION:`` lines and ``statement: DEALLOCATE ...`` lines.
      A line whose prefix does not match is *silently* glued onto the previous entry
      as a continuation (or dropped if it contains ``LOG:  ``); ``-v`` prints
      nothing about it, so counting is the only way to notice.
      Only LOG, WARNING, ERROR, FATAL, PANIC, DETAIL, STATEMENT, HINT, CONTEXT
      (and LOCATION) are recognised severities: NOTICE, INFO and DEBUGn are not.
    * ``queries``: ``duration: ... ms  statement|execute ...`` lines.
    * ``errors``: ERROR + FATAL + PANIC lines plus LOG lines pgBadger re-files as
      errors ("still waiting for", "database system was", ...); ``error_events``
      counts them per normalised message.
    * ``connections``: ``connection authorized`` lines; ``sessions``:
      ``disconnection:`` lines; ``checkpoint_starts``: per reason of
      ``checkpoint starting:``; ``checkpoint_warnings``: "checkpoints are occurring
      too frequently"; ``autovacuums``/``autoanalyzes``: ``automatic vacuum/analyze``.
    """

    lines_read: int
    recognised_entries: int
    by_severity: Mapping[str, int]
    queries: int
    errors: int
    error_events: Mapping[str, int]
    slowest: tuple[SlowQuery, ...]
    connections: int
    sessions: int
    checkpoint_starts: Mapping[str, int]
    checkpoint_warnings: int
    autovacuums: int
    autoanalyzes: int
    raw: Mapping[str, Any]


def pgbadger_parse(path: str | os.PathLike[str], prefix: str = PG_DEBIAN_PREFIX) -> PgBadgerResult:
    """Parse a PostgreSQL stderr log with the real pgBadger and return its counts.

    Runs::

        pgbadger -f stderr --prefix '%m [%p] %q%u@%d ' -x json -o report.json
                 --quiet --no-progressbar --no-process-info --pid-dir TMPDIR -j 1 LOG
    """
    exe = _require("pgbadger")
    log = Path(path).resolve()
    with tempfile.TemporaryDirectory(prefix="pgbadger-") as tmp:
        work = Path(tmp)
        report = work / "report.json"
        _run(
            [
                exe,
                "-f",
                "stderr",
                "--prefix",
                prefix,
                "-x",
                "json",
                "-o",
                str(report),
                "--quiet",
                "--no-progressbar",
                "--no-process-info",
                # Its PID file defaults to /tmp/pgbadger.pid: a second run anywhere on the
                # machine (another test, another session) would exit 3. Keep it private.
                "--pid-dir",
                str(work),
                "-j",
                "1",
                str(log),
            ],
            work,
        )
        data = _load_json_object(report)

    # Every section is keyed by database first (one key, "postgres", unless
    # --dbname-based per-database reports are asked for); sum over all of them.
    by_severity: Counter[str] = Counter()
    for levels in data.get("logs_type", {}).values():
        by_severity.update({level: int(n) for level, n in levels.items()})
    by_severity = +by_severity  # drop zero entries pgBadger leaves after re-filing

    error_events: Counter[str] = Counter()
    for events in data.get("error_info", {}).values():
        error_events.update({msg: int(info["count"]) for msg, info in events.items()})

    slowest = tuple(
        SlowQuery(
            duration_ms=float(row[0]),
            timestamp=str(row[1]),
            query=str(row[2]),
            database=row[3],
            user=row[4],
        )
        for rows in data.get("top_slowest", {}).values()
        for row in rows
    )

    checkpoint = data.get("checkpoint_info", {})
    overall = data.get("overall_stat", {})
    return PgBadgerResult(
        lines_read=int(data.get("nlines", 0)),
        recognised_entries=sum(by_severity.values()),
        by_severity=dict(by_severity),
        queries=int(overall.get("queries_number", 0)),
        errors=int(overall.get("errors_number", 0)),
        error_events=dict(error_events),
        slowest=tuple(sorted(slowest, key=lambda q: -q.duration_ms)),
        connections=_sum_counts(data.get("connection_info", {})),
        sessions=_sum_counts(data.get("session_info", {})),
        checkpoint_starts={k: int(v) for k, v in checkpoint.get("starting", {}).items()},
        checkpoint_warnings=int(checkpoint.get("warning", 0)),
        autovacuums=_sum_counts(data.get("autovacuum_info", {})),
        autoanalyzes=_sum_counts(data.get("autoanalyze_info", {})),
        raw=data,
    )


def _sum_counts(per_db: Mapping[str, Any]) -> int:
    return sum(int(v.get("count", 0)) for v in per_db.values() if isinstance(v, dict))


@dataclass(frozen=True)
class PgEntryCount:
    """Independent count of a PostgreSQL stderr log, for comparing with pgBadger.

    An entry is any non-empty line that does not start with a TAB; a line starting
    with a TAB continues the previous entry (autovacuum report, deadlock DETAIL).
    ``by_severity`` takes the first ``WORD:␣␣`` on each entry line.
    ``log_filed_as_error`` counts the LOG entries whose message pgBadger 12 files as
    an error while parsing (see :data:`PGBADGER_LOG_AS_ERROR_RE`).
    """

    lines: int
    entries: int
    continuation_lines: int
    by_severity: Mapping[str, int]
    log_filed_as_error: int


_PG_SEVERITY_RE = re.compile(r" ([A-Z]+[0-9]?):  ")

# pgBadger 12's change_log_level(): LOG messages it counts as ERROR while parsing, so
# that they appear in its error report. Before writing a report it moves them back to
# LOG in ``logs_type`` (restore_log_type_count), but only once per *stored sample* of
# each message, not once per line: with many identical lines the ``-x json`` dump keeps
# most of them under ERROR. Its LOG/ERROR split is therefore not a count of the log.
PGBADGER_LOG_AS_ERROR_RE = re.compile(
    r'parameter "[^"]+" changed to "[^"]+"|database system was|recovery has paused'
    r"|ending cancel to blocking autovacuum|skipping analyze of|using stale statistics"
    r"|replication command:|still waiting for|server process.*was terminated by signal"
    r"|could not (?:receive|send) data (?:from|to) client"
)


def count_pg_entries(path: str | os.PathLike[str]) -> PgEntryCount:
    text = Path(path).read_text(encoding="utf-8")
    lines = text.splitlines()
    entries = [ln for ln in lines if ln and not ln.startswith("\t")]
    severities: Counter[str] = Counter()
    filed_as_error = 0
    for ln in entries:
        match = _PG_SEVERITY_RE.search(ln)
        severity = match.group(1) if match else "?"
        severities[severity] += 1
        if match and severity == "LOG" and PGBADGER_LOG_AS_ERROR_RE.search(ln, match.end()):
            filed_as_error += 1
    return PgEntryCount(
        lines=len(lines),
        entries=len(entries),
        continuation_lines=sum(1 for ln in lines if ln.startswith("\t")),
        by_severity=dict(severities),
        log_filed_as_error=filed_as_error,
    )


# ---------------------------------------------------------------------------- klog


def klog_bad_lines(path: str | os.PathLike[str]) -> list[tuple[int, str]]:
    """Return (1-based line number, line) for each line lacking a klog header."""
    text = Path(path).read_text(encoding="utf-8")
    return [
        (n, line) for n, line in enumerate(text.splitlines(), 1) if not KLOG_HEADER_RE.match(line)
    ]


# ---------------------------------------------------------------------------- Istio JSON


@cache
def _istio_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(ISTIO_ACCESS_LOG_SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ValueError(f"duplicate keys {dupes}")
    return dict(pairs)


def validate_mesh_jsonl(path: str | os.PathLike[str]) -> list[str]:
    """Validate an Istio JSON access log (one object per line) against the schema.

    Returns human-readable errors, each starting with ``line N:``; empty means valid.
    Blank lines, non-objects and duplicate keys are errors too (Envoy writes none).
    """
    validator = _istio_validator()
    errors: list[str] = []
    text = Path(path).read_text(encoding="utf-8")
    for n, line in enumerate(text.splitlines(), 1):
        try:
            record = json.loads(line, object_pairs_hook=_reject_duplicate_keys)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            errors.append(f"line {n}: not a JSON object: {exc}")
            continue
        for err in sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in err.absolute_path) or "<root>"
            errors.append(f"line {n}: {where}: {err.message}")
    return errors
