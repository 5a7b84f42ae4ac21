"""Bundles on disk: atomic writes, manifests, validation.

A bundle is built in a hidden sibling directory and swapped into place only when
complete, so a failure never leaves a half-written bundle and never removes a good one;
single files likewise go through a temporary file (how, and why no planted symlink is
ever followed: :mod:`._atomic`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar, cast

from pydantic import BaseModel, ValidationError

from . import _atomic
from ._errors import GenerationError
from ._formats import count_file, count_records
from ._labels import build_ground_truth
from ._models import (
    GROUND_TRUTH_FILE,
    MANIFEST_FILE,
    STREAM_FILES,
    STREAMS,
    Artifact,
    GenerationRequest,
    GeneratorInfo,
    GroundTruth,
    Manifest,
    StreamName,
)
from ._parallel import auto_workers, render_streams
from ._pipeline import FORMAT_VERSION, StreamResult, bundle_id, run_pass, window
from ._timefmt import rfc3339

T = TypeVar("T")
GENERATOR_VERSION = "0.1.0"
BUNDLE_ID_RE = r"^mock-[0-9a-f]{12}$"
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


def dump_json(model: BaseModel) -> bytes:
    return (json.dumps(model.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n").encode()


def request_bundle_id(req: GenerationRequest) -> str:
    return bundle_id(req)


def _not_writable(parent: Path, exc: OSError) -> GenerationError:
    return GenerationError(
        "GENERATION_FAILED",
        f"output directory {parent} is not writable: {exc.strerror}",
        field="out",
    )


def _not_a_bundle_dir(final: Path, exc: _atomic.NotADirectoryTarget) -> GenerationError:
    # Unusable input, not a failure: the path holds something of the user's; never touched.
    return GenerationError(
        "INVALID_PARAMETER",
        f"out: {final} exists and is not a bundle directory (it is a {exc.kind}); "
        "move it away or choose another --out",
        field="out",
    )


@dataclass(frozen=True)
class _Stage:
    path: Path
    fd: int  # descriptor of the staging directory: files inside are opened relative to it


@contextmanager
def _staging(final: Path) -> Iterator[_Stage]:
    """A fresh, locked scratch directory beside ``final``; swapped in only on success.

    See :mod:`._atomic`: random exclusive name, dead runs' leftovers swept first, one
    atomic exchange with an older bundle, nothing followed through a symlink.
    """
    parent = final.parent
    try:
        dir_fd = _atomic.open_dir(parent)
    except OSError as exc:
        raise _not_writable(parent, exc) from exc
    try:
        try:
            _atomic.check_directory_target(dir_fd, final.name)  # refuse before working
            partial = _atomic.create_partial(dir_fd, final.name, directory=True)
        except _atomic.NotADirectoryTarget as exc:
            raise _not_a_bundle_dir(final, exc) from None
        except OSError as exc:
            raise _not_writable(parent, exc) from exc
        try:
            yield _Stage(parent / partial.name, partial.fd)
            _atomic.install_dir(partial, final.name)
        except BaseException as exc:  # Ctrl-C too: never leave a half-written directory
            partial.discard()
            if isinstance(exc, _atomic.NotADirectoryTarget):
                raise _not_a_bundle_dir(final, exc) from None
            if isinstance(exc, GenerationError) or not isinstance(exc, Exception):
                raise
            raise GenerationError("GENERATION_FAILED", f"generation failed: {exc}") from exc
        finally:
            partial.close()
    finally:
        os.close(dir_fd)


def _artifact(res: StreamResult, stream: str) -> Artifact:
    return Artifact(
        file=res.file,
        stream=cast(StreamName, stream),
        format="jsonl" if stream == "mesh" else "text",
        record_count=res.records,
        line_count=res.lines,
        bytes=res.bytes,
        sha256=res.sha256,
    )


def build_manifest(req: GenerationRequest, artifacts: list[Artifact]) -> Manifest:
    start, end = window(req)
    return Manifest(
        bundle_id=request_bundle_id(req),
        scenario_id=req.scenario,
        created_at=rfc3339(end, 0),
        window_start=rfc3339(start, 0),
        window_end=rfc3339(end, 0),
        generator=GeneratorInfo(version=GENERATOR_VERSION, format_version=FORMAT_VERSION),
        request=req,
        artifacts=artifacts,
    )


def _json_artifact(name: str, data: bytes) -> Artifact:
    return Artifact(
        file=name,
        stream=None,
        format="json",
        record_count=1,
        line_count=data.count(b"\n"),
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def write_bundle(req: GenerationRequest, out_dir: Path, workers: int | None = None) -> Path:
    """``out_dir/<bundle_id>/``, rendered by ``workers`` processes (None: decide by size)."""
    if workers is None:
        workers = auto_workers(req)
    elif isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise GenerationError(
            "INVALID_PARAMETER",
            f"workers={workers!r} must be a whole number >= 1 (or None for automatic)",
            field="workers",
        )
    final = Path(out_dir) / request_bundle_id(req)
    with _staging(final) as stage:
        result = render_streams(req, stage.fd, workers)
        truth = dump_json(build_ground_truth(req, result))
        with _atomic.new_file(stage.fd, GROUND_TRUTH_FILE) as f:
            f.write(truth)
        artifacts = [_artifact(result.streams[s], s) for s in STREAMS]
        artifacts.append(_json_artifact(GROUND_TRUTH_FILE, truth))
        with _atomic.new_file(stage.fd, MANIFEST_FILE) as f:
            f.write(dump_json(build_manifest(req, artifacts)))
    return final


def _atomic_write(path: Path, writer: Callable[[IO[bytes]], T]) -> T:
    """Write ``path`` through an exclusive temporary file renamed over it when complete."""
    path = Path(path)

    def cannot(exc: OSError) -> GenerationError:
        return GenerationError(
            "GENERATION_FAILED", f"cannot write {path}: {exc.strerror}", field="out"
        )

    try:
        dir_fd = _atomic.open_dir(path.parent)
    except OSError as exc:
        raise cannot(exc) from exc
    try:
        try:
            partial = _atomic.create_partial(dir_fd, path.name, directory=False)
        except OSError as exc:
            raise cannot(exc) from exc
        try:
            # A duplicate descriptor: closing the file keeps the partial's lock until renamed.
            with os.fdopen(os.dup(partial.fd), "wb") as f:
                result = writer(f)
            _atomic.install_file(partial, path.name)
            return result
        except OSError as exc:
            partial.discard()
            raise cannot(exc) from exc
        except BaseException:
            partial.discard()
            raise
        finally:
            partial.close()
    finally:
        os.close(dir_fd)


def write_stream(req: GenerationRequest, stream: str, path: Path) -> StreamResult:
    if stream not in STREAM_FILES:
        raise GenerationError(
            "INVALID_OUTPUT_FORMAT",
            f"stream={stream!r} is not a bundle stream; allowed: {', '.join(STREAMS)}",
            field="stream",
        )
    return _atomic_write(path, lambda f: run_pass(req, (stream,), {stream: f}).streams[stream])


def write_ground_truth_file(req: GenerationRequest, path: Path) -> GroundTruth:
    truth = build_ground_truth(req, run_pass(req, STREAMS))
    _atomic_write(path, lambda f: f.write(dump_json(truth)))
    return truth


def write_manifest_file(req: GenerationRequest, bundle_dir: Path) -> Manifest:
    """Manifest of the files already in ``bundle_dir`` (checksums and counts from disk).

    Only regular files count: a symlink or FIFO in place of a stream is refused, not read.
    """
    bundle_dir = Path(bundle_dir)
    dir_fd = os.open(bundle_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        artifacts = []
        for s in STREAMS:
            data = _read_bundle_file(bundle_dir, dir_fd, STREAM_FILES[s])
            artifacts.append(
                Artifact(
                    file=STREAM_FILES[s],
                    stream=s,  # type: ignore[arg-type]
                    format="jsonl" if s == "mesh" else "text",
                    record_count=count_records(s, data),
                    line_count=data.count(b"\n"),
                    bytes=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                )
            )
        truth = _read_bundle_file(bundle_dir, dir_fd, GROUND_TRUTH_FILE)
        artifacts.append(_json_artifact(GROUND_TRUTH_FILE, truth))
    finally:
        os.close(dir_fd)
    manifest = build_manifest(req, artifacts)
    _atomic_write(bundle_dir / MANIFEST_FILE, lambda f: f.write(dump_json(manifest)))
    return manifest


def _read_bundle_file(bundle_dir: Path, dir_fd: int, name: str) -> bytes:
    try:
        return _atomic.read_regular(dir_fd, name)
    except _atomic.NotRegularFile as exc:
        raise GenerationError(
            "INVALID_PARAMETER",
            f"bundle: {bundle_dir / name} is a {exc.kind}; a bundle holds regular files only",
            field="bundle",
        ) from None


# ---------------------------------------------------------------------- validation
def _load(path: Path, model: type[BaseModel], problems: list[str]) -> Any:
    try:
        return model.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        problems.append(f"{path.name}: missing")
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        problems.append(f"{path.name}: invalid at {loc or '<root>'}: {first['msg']}")
    return None


def validate_bundle(bundle_dir: Path) -> list[str]:
    """Every problem found in a bundle directory; an empty list means valid."""
    bundle_dir = Path(bundle_dir)
    problems: list[str] = []
    if not bundle_dir.is_dir():
        return [f"{bundle_dir}: not a directory"]
    manifest = _load(bundle_dir / MANIFEST_FILE, Manifest, problems)
    truth = _load(bundle_dir / GROUND_TRUTH_FILE, GroundTruth, problems)
    expected = {*STREAM_FILES.values(), GROUND_TRUTH_FILE, MANIFEST_FILE}
    for extra in sorted(p.name for p in bundle_dir.iterdir() if p.name not in expected):
        problems.append(f"{extra}: unexpected file in bundle")
    if manifest is not None:
        if manifest.bundle_id != bundle_dir.name:
            problems.append(
                f"manifest.json: bundle_id {manifest.bundle_id} != directory name {bundle_dir.name}"
            )
        if request_bundle_id(manifest.request) != manifest.bundle_id:
            problems.append("manifest.json: bundle_id does not match its request")
        for art in manifest.artifacts:
            path = bundle_dir / art.file
            if not path.is_file():
                problems.append(f"{art.file}: missing")
                continue
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() != art.sha256:
                problems.append(f"{art.file}: sha256 mismatch (file changed since the manifest)")
            if len(data) != art.bytes:
                problems.append(f"{art.file}: {len(data)} bytes, manifest says {art.bytes}")
            if art.stream is not None:
                records, lines = count_file(art.stream, path)
                if lines != art.line_count:
                    problems.append(f"{art.file}: {lines} lines, manifest says {art.line_count}")
                if records != art.record_count:
                    problems.append(
                        f"{art.file}: {records} records, manifest says {art.record_count}"
                    )
        listed = {a.file for a in manifest.artifacts}
        for name in sorted(expected - {MANIFEST_FILE} - listed):
            problems.append(f"manifest.json: does not list {name}")
    if truth is not None:
        if truth.bundle_id != bundle_dir.name:
            problems.append(f"ground_truth.json: bundle_id {truth.bundle_id} != directory name")
        problems += _check_pointers(bundle_dir, truth)
    mesh = bundle_dir / STREAM_FILES["mesh"]
    if mesh.is_file():
        problems += _check_mesh(mesh)
    return problems


def _check_pointers(bundle_dir: Path, truth: GroundTruth) -> list[str]:
    pointers = list(truth.evidence)
    if truth.first_signal is not None:
        pointers.append(truth.first_signal)
    for step in truth.causal_chain:
        pointers += step.evidence
    pointers += [d.pointer for d in truth.distractors]
    lines_of: dict[str, list[str]] = {}
    problems = []
    for p in pointers:
        if p.file not in lines_of:
            path = bundle_dir / p.file
            lines_of[p.file] = path.read_text().split("\n") if path.is_file() else []
        lines = lines_of[p.file]
        if p.line > len(lines) or lines[p.line - 1] != p.excerpt:
            problems.append(
                f"ground_truth.json: evidence {p.file}:{p.line} ({p.signal}) does not "
                "match the line in the bundle"
            )
    return problems


def _check_mesh(path: Path) -> list[str]:
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                obj = json.loads(raw)
            except ValueError:
                return [f"{path.name}:{n}: not valid JSON"]
            if not isinstance(obj, dict) or tuple(sorted(obj)) != MESH_KEYS:
                return [f"{path.name}:{n}: not the 24 Istio access-log keys"]
            for key in ("response_code", "bytes_received", "bytes_sent", "duration"):
                if not isinstance(obj[key], int) or isinstance(obj[key], bool):
                    return [f"{path.name}:{n}: {key} must be a number"]
    return []
