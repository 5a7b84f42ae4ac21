"""Validation of a bundle on disk: every problem found, one line each."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ._bundle import request_bundle_id
from ._formats import count_file
from ._models import GROUND_TRUTH_FILE, MANIFEST_FILE, STREAM_FILES, GroundTruth, Manifest

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
