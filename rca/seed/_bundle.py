"""Bundles on disk: atomic writes and manifests (validation: ``_validate.py``).

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
from typing import IO, TypeVar, cast

from pydantic import BaseModel

from . import _atomic
from ._errors import GenerationError
from ._formats import count_records
from ._labels import build_ground_truth
from ._models import (
    ALL_STREAM_FILES,
    GROUND_TRUTH_FILE,
    MANIFEST_FILE,
    MODALITIES,
    MODALITY_STREAMS,
    STREAM_FORMATS,
    STREAMS,
    Artifact,
    ArtifactFormat,
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


def dump_json(model: BaseModel) -> bytes:
    return (json.dumps(model.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n").encode()


def request_bundle_id(req: GenerationRequest) -> str:
    return bundle_id(req)


def existing_bundle(text: str | Path) -> Path:
    """The bundle directory named on a command line; INVALID_PARAMETER if it is not one."""
    path = Path(text)
    if not (path / MANIFEST_FILE).is_file():
        what = "does not exist" if not path.exists() else f"has no {MANIFEST_FILE}"
        raise GenerationError(
            "INVALID_PARAMETER",
            f"bundle={str(text)!r} is not a bundle directory: it {what}",
            field="bundle",
        )
    return path


def require_stream(manifest: Manifest, stream: str, bundle: Path) -> None:
    """INVALID_PARAMETER unless the bundle holds ``stream`` (its modality is on)."""
    if stream in manifest.request.streams():
        return
    modality = next(m for m, files in MODALITY_STREAMS.items() if stream in files)
    raise GenerationError(
        "INVALID_PARAMETER",
        f"bundle {bundle} holds no {modality} (modalities={manifest.request.modalities!r}); "
        f"generate it with --modalities {MODALITIES[0]},{modality}",
        field="bundle",
    )


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
        format=cast(ArtifactFormat, STREAM_FORMATS[stream]),
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
        artifacts = [_artifact(result.streams[s], s) for s in req.streams()]
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
    if stream not in ALL_STREAM_FILES:
        raise GenerationError(
            "INVALID_OUTPUT_FORMAT",
            f"stream={stream!r} is not a bundle stream; allowed: {', '.join(ALL_STREAM_FILES)}",
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
        for s in req.streams():
            data = _read_bundle_file(bundle_dir, dir_fd, ALL_STREAM_FILES[s])
            artifacts.append(
                Artifact(
                    file=ALL_STREAM_FILES[s],
                    stream=s,  # type: ignore[arg-type]
                    format=cast(ArtifactFormat, STREAM_FORMATS[s]),
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
