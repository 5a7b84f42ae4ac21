"""Validation of a bundle on disk: every problem found, one line each, most important first.

What a clean result proves:

* the directory holds exactly the seven expected files, each a regular file (a symlink,
  FIFO or device is refused unread: members are opened relative to the directory with
  ``O_NOFOLLOW | O_NONBLOCK`` and checked with ``fstat``); the JSON files are at most
  ``JSON_CAP`` bytes;
* the manifest lists exactly those files (no other names, no duplicates), with their
  sha256, bytes, lines and records; its bundle id, scenario, window and ``created_at``
  are the ones its request gives; the label's bundle id, scenario and thresholds too;
* every stamped line lies in the request's window, every evidence pointer quotes its
  line exactly, every mesh line is one Istio access-log object;
* unless ``regenerate=False``: regenerating the request in memory (no files) gives the
  streams' exact sha256s and the label's exact bytes, so nothing was edited and
  re-sealed. This pass costs about what generating costs (~5 s per GB of bundle).

Each stream is read once, in blocks (:class:`~._formats.LineReader`), so memory stays
bounded by a constant whatever the bundle's size. The directory given may itself be a
symlink (e.g. ``latest -> mock-...``): its real name is the bundle id checked.
"""

from __future__ import annotations

import bisect
import errno
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, ValidationError

from ._bundle import _artifact, _json_artifact, build_manifest, dump_json, request_bundle_id
from ._errors import GenerationError
from ._formats import MAX_LINE, LineReader, WindowCheck, count_records
from ._labels import build_ground_truth
from ._models import (
    ALL_STREAM_FILES,
    GROUND_TRUTH_FILE,
    MANIFEST_FILE,
    STREAM_FILES,
    STREAMS,
    Artifact,
    EvidencePointer,
    GenerationRequest,
    GroundTruth,
    Manifest,
)
from ._parallel import auto_workers, can_fork
from ._pipeline import FORMAT_VERSION, StreamResult, run_pass, window
from ._timefmt import US, rfc3339

# Every file a bundle may hold (which of them it must hold, its request says).
BUNDLE_FILES = (*ALL_STREAM_FILES.values(), GROUND_TRUTH_FILE, MANIFEST_FILE)
JSON_CAP = 64 << 20  # manifest.json and ground_truth.json: a generated label is < 1 MiB
MESH_KEYS = (
    "authority",
    "bytes_received",
    "bytes_sent",
    "connection_termination_details",
    "downstream_local_address",
    "downstream_remote_address",
    "duration",
    "method",
    "path",
    "protocol",
    "request_id",
    "requested_server_name",
    "response_code",
    "response_code_details",
    "response_flags",
    "route_name",
    "start_time",
    "upstream_cluster",
    "upstream_host",
    "upstream_local_address",
    "upstream_service_time",
    "upstream_transport_failure_reason",
    "user_agent",
    "x_forwarded_for",
)
# Label fields that copy a request field (build_ground_truth); checked even without
# regeneration, which compares every byte of the label.
LABEL_FROM_REQUEST = {
    "scenario_id": "scenario",
    "threshold_default": "threshold",
    "threshold_override": "threshold_override",
}
_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
    stat.S_IFLNK: "a symbolic link",
}


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
    return f"is {kind}; a bundle holds regular files only (not read)"


def _open_member(dir_fd: int, name: str) -> int | str:
    """A read-only fd of the regular file ``name`` in the bundle, or why there is none."""
    try:
        why = _not_regular(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    if why is not None:
        return why
    try:
        # O_NONBLOCK: a FIFO swapped in after the lstat opens at once instead of hanging.
        fd = os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd
        )
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return cast(str, _not_regular(stat.S_IFLNK))
        return f"cannot be read: {exc.strerror}"
    why = _not_regular(os.fstat(fd).st_mode)
    if why is not None:
        os.close(fd)
        return why
    return fd


def _read_capped(dir_fd: int, name: str, problems: list[str]) -> bytes | None:
    fd = _open_member(dir_fd, name)
    if isinstance(fd, str):
        problems.append(f"{name}: {fd}")
        return None
    try:
        parts: list[bytes] = []
        size = 0
        while size <= JSON_CAP and (part := os.read(fd, min(1 << 20, JSON_CAP + 1 - size))):
            parts.append(part)
            size += len(part)
    finally:
        os.close(fd)
    if size > JSON_CAP:
        problems.append(f"{name}: larger than {JSON_CAP >> 20} MiB, the cap for a JSON file")
        return None
    return b"".join(parts)


def _parse(name: str, data: bytes | None, model: type[BaseModel], problems: list[str]) -> Any:
    if data is None:
        return None
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        problems.append(f"{name}: invalid at {loc or '<root>'}: {first['msg']}")
    return None


def _instant(t_us: int) -> str:
    return rfc3339(t_us, 0 if t_us % US == 0 else 6)


@dataclass
class _Scan:
    """What one pass over a stream file found."""

    sha256: str = ""
    size: int = 0
    lines: int = 0
    records: int = 0
    problems: list[str] = field(default_factory=list)
    quoted: dict[int, bytes] = field(default_factory=dict)  # pointer line -> its text


def _scan_stream(
    fd: int,
    stream: str,
    span: tuple[int, int] | None,
    wanted: list[int],
) -> _Scan:
    """Hash, count, window-check, mesh-check a stream and pick the ``wanted`` lines."""
    name = ALL_STREAM_FILES[stream]
    scan = _Scan()
    sha = hashlib.sha256()

    def raw(chunk: bytes) -> None:
        sha.update(chunk)
        scan.size += len(chunk)
        scan.lines += chunk.count(b"\n")

    reader = LineReader(lambda n: os.read(fd, n), raw)
    check = WindowCheck(stream, *span) if span is not None and stream in STREAM_FILES else None
    start_us = span[0] if span is not None else 0
    first: dict[str, tuple[int, str]] = {}  # "before"/"after"/"bad"/"unstamped" -> line, stamp
    outside = {"before": 0, "after": 0}
    mesh_problem: str | None = None
    line0 = 0  # lines before this block
    for block in reader:
        n_lines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        scan.records += count_records(stream, block)
        if check is not None:
            stamped, out = check.scan(block)
            for o in out:
                kind = "bad" if o.t_us is None else "before" if o.t_us < start_us else "after"
                if kind in outside:
                    outside[kind] += 1
                if kind not in first:
                    first[kind] = (line0 + o.line, o.text)
            if check.every_line and stamped < n_lines and "unstamped" not in first:
                i = check.unstamped(block)
                if i is not None:
                    first["unstamped"] = (line0 + i, "")
        lo = bisect.bisect_right(wanted, line0)
        hi = bisect.bisect_right(wanted, line0 + n_lines)
        if lo < hi:
            lines = block.split(b"\n")
            for n in wanted[lo:hi]:
                scan.quoted[n] = lines[n - line0 - 1]
        if stream == "mesh" and mesh_problem is None:
            mesh_problem = _check_mesh_block(block, line0, name)
        if stream == "metrics" and mesh_problem is None:
            mesh_problem = _check_metrics_block(block, line0, name, span)
        if stream == "traces" and mesh_problem is None:
            mesh_problem = _check_traces_block(block, line0, name, span)
        line0 += n_lines
    scan.sha256 = sha.hexdigest()
    if reader.overlong_line is not None:
        scan.problems.append(
            f"{name}:{reader.overlong_line}: longer than {MAX_LINE} bytes (no stream writes that)"
        )
    if span is not None:
        start, end = (_instant(t) for t in span)
        if "after" in first:
            n, text = first["after"]
            scan.problems.append(
                f"{name}:{n}: stamped {text}, after the window end {end} "
                f"({outside['after']} line(s) after it)"
            )
        if "before" in first:
            n, text = first["before"]
            scan.problems.append(
                f"{name}:{n}: stamped {text}, before the window start {start} "
                f"({outside['before']} line(s) before it)"
            )
        if "bad" in first:
            n, text = first["bad"]
            scan.problems.append(f"{name}:{n}: timestamp {text} is not a valid instant")
        if "unstamped" in first:
            n, _ = first["unstamped"]
            scan.problems.append(f"{name}:{n}: carries no timestamp")
    if mesh_problem is not None:
        scan.problems.append(mesh_problem)
    return scan


def _block_lines(block: bytes) -> list[bytes]:
    """The lines of a block of whole lines (its last newline ends the last line)."""
    lines = block.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def _check_mesh_block(block: bytes, line0: int, name: str) -> str | None:
    for n, raw in enumerate(_block_lines(block), start=line0 + 1):
        try:
            obj = json.loads(raw)
        except ValueError:  # UnicodeDecodeError included
            return f"{name}:{n}: not valid JSON"
        if not isinstance(obj, dict) or tuple(sorted(obj)) != MESH_KEYS:
            return f"{name}:{n}: not the 24 Istio access-log keys"
        for key in ("response_code", "bytes_received", "bytes_sent", "duration"):
            if not isinstance(obj[key], int) or isinstance(obj[key], bool):
                return f"{name}:{n}: {key} must be a number"
    return None


_METRIC_SAMPLE = re.compile(rb"[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})? \S+ (\d+)\.(\d{3})")


def _check_metrics_block(
    block: bytes, line0: int, name: str, span: tuple[int, int] | None
) -> str | None:
    """Each line a comment (``# TYPE``, ``# HELP``, ``# EOF``) or a sample stamped, to the
    millisecond, inside the window: the shape the generator writes. The full grammar
    is the real parsers' to check (promtool, prometheus_client: the tests)."""
    for n, raw in enumerate(_block_lines(block), start=line0 + 1):
        if raw.startswith(b"# "):
            continue
        m = _METRIC_SAMPLE.fullmatch(raw)
        if m is None:
            return f"{name}:{n}: not an OpenMetrics sample with a timestamp"
        t = int(m.group(1)) * US + int(m.group(2)) * 1000
        if span is not None and not span[0] <= t < span[1]:
            return f"{name}:{n}: sample stamped {_instant(t)}, outside the window"
    return None


def _check_traces_block(
    block: bytes, line0: int, name: str, span: tuple[int, int] | None
) -> str | None:
    """Each line an OTLP JSON export request whose spans end inside the window (the
    full mapping is opentelemetry-proto's to check: the tests)."""
    for n, raw in enumerate(_block_lines(block), start=line0 + 1):
        try:
            obj = json.loads(raw)
            spans = [
                s for rs in obj["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]
            ]
            ends = [int(s["endTimeUnixNano"]) // 1000 for s in spans]
        except (ValueError, KeyError, TypeError):
            return f"{name}:{n}: not an OTLP JSON trace export (resourceSpans/scopeSpans/spans)"
        if span is not None and not all(span[0] <= t < span[1] for t in ends):
            return f"{name}:{n}: a span ends outside the window"
    return None


def _pointers(truth: GroundTruth) -> list[EvidencePointer]:
    pointers = list(truth.evidence)
    if truth.first_signal is not None:
        pointers.append(truth.first_signal)
    for step in truth.causal_chain:
        pointers += step.evidence
    pointers += [d.pointer for d in truth.distractors]
    return pointers


def _entries(manifest: Manifest, problems: list[str]) -> dict[str, Artifact]:
    """The manifest's artifacts by file name; other names and repeats are problems."""
    allowed = [*(ALL_STREAM_FILES[s] for s in manifest.request.streams()), GROUND_TRUTH_FILE]
    seen: dict[str, Artifact] = {}
    repeated: list[str] = []
    for art in manifest.artifacts:
        if art.file not in allowed:
            # Never opened: only the expected names are read, so no path can lead out.
            problems.append(
                f"manifest.json: lists {art.file!r}, which is not a bundle file "
                f"(allowed: {', '.join(allowed)})"
            )
        elif art.file in seen:
            repeated.append(art.file)
        else:
            seen[art.file] = art
    for name in dict.fromkeys(repeated):
        problems.append(f"manifest.json: lists {name} more than once")
        del seen[name]
    return seen


def _compare_artifact(listed: Artifact, actual: Artifact, problems: list[str]) -> None:
    name = listed.file
    if listed.sha256 != actual.sha256:
        problems.append(f"{name}: sha256 mismatch (file changed since the manifest)")
    if listed.bytes != actual.bytes:
        problems.append(f"{name}: {actual.bytes} bytes, manifest says {listed.bytes}")
    if listed.line_count != actual.line_count:
        problems.append(f"{name}: {actual.line_count} lines, manifest says {listed.line_count}")
    if listed.record_count != actual.record_count:
        problems.append(
            f"{name}: {actual.record_count} records, manifest says {listed.record_count}"
        )
    for key in ("stream", "format"):
        if getattr(listed, key) != getattr(actual, key):
            problems.append(
                f"manifest.json: {name} has {key} {getattr(listed, key)!r}, "
                f"expected {getattr(actual, key)!r}"
            )


def _manifest_vs_request(manifest: Manifest, dir_name: str, problems: list[str]) -> None:
    if manifest.bundle_id != dir_name:
        problems.append(
            f"manifest.json: bundle_id {manifest.bundle_id} != directory name {dir_name}"
        )
    if request_bundle_id(manifest.request) != manifest.bundle_id:
        problems.append("manifest.json: bundle_id does not match its request")
    expected = build_manifest(manifest.request, [])
    for key in Manifest.model_fields:
        if key in ("bundle_id", "request", "artifacts", "generator"):
            continue  # checked above, the source itself, per file, regeneration's concern
        got, want = getattr(manifest, key), getattr(expected, key)
        if got != want:
            problems.append(f"manifest.json: {key} {got} contradicts its request ({want})")


def _label_vs_request(truth: GroundTruth, req: GenerationRequest, problems: list[str]) -> None:
    for label_key, request_key in LABEL_FROM_REQUEST.items():
        got, want = getattr(truth, label_key), getattr(req, request_key)
        if got != want:
            problems.append(
                f"ground_truth.json: {label_key} {got} contradicts the manifest's request "
                f"({request_key} {want})"
            )


def _regenerated(req: GenerationRequest) -> tuple[dict[str, str], bytes]:
    """The sha256 of every stream and the label's bytes that ``req`` generates (no files)."""
    result = run_pass(req, req.streams())
    label = dump_json(build_ground_truth(req, result))
    return {s: r.sha256 for s, r in result.streams.items()}, label


@contextmanager
def _regeneration(
    req: GenerationRequest | None,
) -> Iterator[Callable[[], tuple[dict[str, str], bytes]]]:
    """The regeneration of ``req``: in a forked process beside the scan when the bundle is
    big enough to be worth a second core (``auto_workers``), else in this one when asked."""
    if req is None or auto_workers(req) < 2 or not can_fork():
        yield lambda: _regenerated(cast(GenerationRequest, req))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        future = pool.submit(_regenerated, req)
        yield future.result


def _compare_regenerated(
    manifest: Manifest,
    result: Callable[[], tuple[dict[str, str], bytes]],
    scans: dict[str, _Scan],
    truth_bytes: bytes | None,
    problems: list[str],
) -> None:
    have = manifest.generator.format_version
    if have != FORMAT_VERSION:
        problems.append(
            f"manifest.json: format_version {have!r} is not this generator's "
            f"{FORMAT_VERSION!r}, so the bundle cannot be regenerated to compare "
            "(validate with --no-regenerate)"
        )
        return
    try:
        shas, label = result()
    except GenerationError as exc:
        problems.append(f"manifest.json: its request cannot be generated: {exc}")
        return
    except Exception as exc:  # a generator bug (or a dead worker): a problem, not a crash
        problems.append(
            f"manifest.json: regenerating its request failed: {type(exc).__name__}: {exc}"
        )
        return
    for s, scan in scans.items():
        if scan.sha256 != shas[s]:
            problems.append(
                f"{ALL_STREAM_FILES[s]}: not what the manifest's request generates "
                f"(sha256 {scan.sha256[:12]}..., regenerated {shas[s][:12]}...)"
            )
    if truth_bytes is not None and truth_bytes != label:
        problems.append("ground_truth.json: not the label the manifest's request generates")


def validate_bundle(bundle_dir: Path, *, regenerate: bool = True) -> list[str]:
    """Every problem found in a bundle directory; an empty list means valid."""
    bundle_dir = Path(bundle_dir)
    try:
        # The real name: `validate .` and a symlink to a bundle name the bundle itself.
        real = bundle_dir.resolve(strict=True)
        dir_fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return [f"{bundle_dir}: not a directory"]
    try:
        return _validate(dir_fd, real.name, regenerate)
    finally:
        os.close(dir_fd)


def _validate(dir_fd: int, dir_name: str, regenerate: bool) -> list[str]:
    problems: list[str] = []
    manifest_bytes = _read_capped(dir_fd, MANIFEST_FILE, problems)
    truth_bytes = _read_capped(dir_fd, GROUND_TRUTH_FILE, problems)
    manifest: Manifest | None = _parse(MANIFEST_FILE, manifest_bytes, Manifest, problems)
    truth: GroundTruth | None = _parse(GROUND_TRUTH_FILE, truth_bytes, GroundTruth, problems)
    # The files its request makes (every name a bundle may hold, without a manifest).
    files = BUNDLE_FILES
    if manifest is not None:
        files = (*(ALL_STREAM_FILES[s] for s in manifest.request.streams()), GROUND_TRUTH_FILE)
        files += (MANIFEST_FILE,)
    for extra in sorted(n for n in os.listdir(dir_fd) if n not in files):
        problems.append(f"{extra}: unexpected file in bundle")

    listed: dict[str, Artifact] = {}
    if manifest is not None:
        _manifest_vs_request(manifest, dir_name, problems)
        listed = _entries(manifest, problems)
    req = manifest.request if manifest is not None else None
    with _regeneration(req if regenerate else None) as regenerated:
        scans = _scan_streams(dir_fd, req, truth, listed, problems)
        if truth_bytes is not None and GROUND_TRUTH_FILE in listed:
            actual = _json_artifact(GROUND_TRUTH_FILE, truth_bytes)
            _compare_artifact(listed[GROUND_TRUTH_FILE], actual, problems)
        if manifest is not None:
            names = {a.file for a in manifest.artifacts}
            expected = {ALL_STREAM_FILES[s] for s in manifest.request.streams()}
            for name in sorted((expected | {GROUND_TRUTH_FILE}) - names):
                problems.append(f"manifest.json: does not list {name}")
        if truth is not None:
            if truth.bundle_id != dir_name:
                problems.append(f"ground_truth.json: bundle_id {truth.bundle_id} != directory name")
            if req is not None:
                _label_vs_request(truth, req, problems)
        for scan in scans.values():
            problems += scan.problems
        if truth is not None:
            problems += _check_pointers(truth, scans)
        if regenerate and manifest is not None:
            _compare_regenerated(manifest, regenerated, scans, truth_bytes, problems)
    return problems


def _scan_streams(
    dir_fd: int,
    req: GenerationRequest | None,
    truth: GroundTruth | None,
    listed: dict[str, Artifact],
    problems: list[str],
) -> dict[str, _Scan]:
    """One pass over each stream file; its open and checksum problems go to ``problems``,
    the rest (window, mesh) stay in each scan's own list."""
    span = window(req) if req is not None else None
    wanted: dict[str, set[int]] = {}
    for p in _pointers(truth) if truth is not None else []:
        wanted.setdefault(p.file, set()).add(p.line)
    scans: dict[str, _Scan] = {}
    for s in req.streams() if req is not None else STREAMS:
        name = ALL_STREAM_FILES[s]
        fd = _open_member(dir_fd, name)
        if isinstance(fd, str):
            problems.append(f"{name}: {fd}")
            continue
        try:
            scan = _scan_stream(fd, s, span, sorted(wanted.get(name, ())))
        finally:
            os.close(fd)
        scans[s] = scan
        if name in listed:
            result = StreamResult(s, name, scan.sha256, scan.size, scan.lines, scan.records, {})
            _compare_artifact(listed[name], _artifact(result, s), problems)
    return scans


def _check_pointers(truth: GroundTruth, scans: dict[str, _Scan]) -> list[str]:
    stream_of = {f: s for s, f in STREAM_FILES.items()}
    problems = []
    for p in _pointers(truth):
        scan = scans.get(stream_of[p.file])
        if scan is None:
            continue  # the file could not be read: that problem is already listed
        if scan.quoted.get(p.line) != p.excerpt.encode():
            problems.append(
                f"ground_truth.json: evidence {p.file}:{p.line} ({p.signal}) does not "
                "match the line in the bundle"
            )
    return problems
