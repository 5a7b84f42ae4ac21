"""Bundles on disk: atomic writes and manifests (validation: ``_validate.py``).

A bundle is built in a hidden sibling directory and renamed into place only when
complete, so a failure never leaves a half-written bundle and never removes a good one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TypeVar, cast

from pydantic import BaseModel

from ._errors import GenerationError
from ._formats import count_file
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
from ._timefmt import from_datetime, rfc3339

T = TypeVar("T")
GENERATOR_VERSION = "0.1.0"
BUNDLE_ID_RE = r"^mock-[0-9a-f]{12}$"


def dump_json(model: BaseModel) -> bytes:
    return (json.dumps(model.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n").encode()


def request_bundle_id(req: GenerationRequest) -> str:
    return bundle_id(req.scenario, req.seed, from_datetime(req.time_anchor))


@contextmanager
def _staging(final: Path) -> Iterator[Path]:
    """A scratch directory beside ``final``; renamed over it only on success."""
    parent = final.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = parent / f".{final.name}.partial-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
    except OSError as exc:
        raise GenerationError(
            "GENERATION_FAILED",
            f"output directory {parent} is not writable: {exc.strerror}",
            field="out",
        ) from exc
    old = parent / f".{final.name}.old-{os.getpid()}"
    try:
        yield tmp
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        if old.exists():
            shutil.rmtree(old)
    except BaseException as exc:  # Ctrl-C too: never leave a half-written directory
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not final.exists():
            old.rename(final)  # the swap failed half-way: put the good bundle back
        if isinstance(exc, GenerationError) or not isinstance(exc, Exception):
            raise
        raise GenerationError("GENERATION_FAILED", f"generation failed: {exc}") from exc


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
    with _staging(final) as tmp:
        result = render_streams(req, tmp, workers)
        truth = dump_json(build_ground_truth(req, result))
        (tmp / GROUND_TRUTH_FILE).write_bytes(truth)
        artifacts = [_artifact(result.streams[s], s) for s in STREAMS]
        artifacts.append(_json_artifact(GROUND_TRUTH_FILE, truth))
        (tmp / MANIFEST_FILE).write_bytes(dump_json(build_manifest(req, artifacts)))
    return final


def _atomic_write(path: Path, writer: Callable[[IO[bytes]], T]) -> T:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            result = writer(f)
        tmp.replace(path)
        return result
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise GenerationError(
            "GENERATION_FAILED", f"cannot write {path}: {exc.strerror}", field="out"
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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
    """Manifest of the files already in ``bundle_dir`` (checksums and counts from disk)."""
    bundle_dir = Path(bundle_dir)
    artifacts = []
    for s in STREAMS:
        path = bundle_dir / STREAM_FILES[s]
        data = path.read_bytes()
        records, lines = count_file(s, path)
        artifacts.append(
            Artifact(
                file=path.name,
                stream=s,  # type: ignore[arg-type]
                format="jsonl" if s == "mesh" else "text",
                record_count=records,
                line_count=lines,
                bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
    artifacts.append(
        _json_artifact(GROUND_TRUTH_FILE, (bundle_dir / GROUND_TRUTH_FILE).read_bytes())
    )
    manifest = build_manifest(req, artifacts)
    _atomic_write(bundle_dir / MANIFEST_FILE, lambda f: f.write(dump_json(manifest)))
    return manifest
