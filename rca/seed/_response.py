"""What ``generate --json`` prints: the generation response contract.

One JSON object per bundle written: its id, scenario and seed, where it is, the same
``artifacts`` as its ``manifest.json``, and ``determinism``: everything needed to make the
same bytes again (the full request, the generator and its output format version) and to
check that they are the same (the sha256 of ``manifest.json``, which lists every other
file's sha256). The JSON Schema is
``specs/001-build-realistic-mock/contracts/generation_response.schema.json``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import Field

from ._models import (
    MANIFEST_FILE,
    Artifact,
    Contract,
    GenerationRequest,
    GeneratorInfo,
    Manifest,
)


class Determinism(Contract):
    """How to reproduce the bundle, and one digest to compare a reproduction with."""

    request: GenerationRequest = Field(
        description="The whole request, defaults filled in: the same request and format "
        "version give the same bytes."
    )
    generator: GeneratorInfo
    manifest_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="sha256 of manifest.json, which lists the sha256 of every other file.",
    )


class GenerationResponse(Contract):
    """The response to one generation request (``generate --json``)."""

    schema_version: Literal["1.0"] = "1.0"
    bundle_id: str = Field(pattern=r"^mock-[0-9a-f]{12}$")
    scenario: str
    seed: int
    path: str = Field(description="The bundle directory, as the output path was given.")
    artifacts: list[Artifact] = Field(description="As in manifest.json: streams, then label.")
    determinism: Determinism


def generation_response(bundle_dir: str | Path) -> GenerationResponse:
    """The response describing the bundle written at ``bundle_dir`` (from its manifest)."""
    bundle = Path(bundle_dir)
    raw = (bundle / MANIFEST_FILE).read_bytes()
    manifest = Manifest.model_validate_json(raw)
    return GenerationResponse(
        bundle_id=manifest.bundle_id,
        scenario=manifest.scenario_id,
        seed=manifest.request.seed,
        path=str(bundle),
        artifacts=list(manifest.artifacts),
        determinism=Determinism(
            request=manifest.request,
            generator=manifest.generator,
            manifest_sha256=hashlib.sha256(raw).hexdigest(),
        ),
    )
