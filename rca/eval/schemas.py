"""JSON Schemas of the evaluation contracts, generated from the pydantic models.

``schemas()`` maps a file stem to a schema dict with ``$schema`` (draft 2020-12) and
``$id`` set; ``scripts/export_contracts.py`` writes them to ``specs/.../contracts/``. ``report_schemas()`` is the pair a
system under test needs: the brain report and the minimal answer.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .models import BlindKey, BlindManifest, BrainReport, EvaluationResult, MinimalAnswer

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://rca-mock-incidents.invalid/schemas/"

MODELS: dict[str, type[BaseModel]] = {
    "brain_report": BrainReport,
    "minimal_answer": MinimalAnswer,
    "evaluation_result": EvaluationResult,
    "blind_manifest": BlindManifest,
    "blind_key": BlindKey,
}


def schema_of(name: str) -> dict[str, Any]:
    model = MODELS[name]
    body = model.model_json_schema(mode="validation")
    return {"$schema": DIALECT, "$id": f"{ID_BASE}{name}.schema.json", **body}


def schemas() -> dict[str, dict[str, Any]]:
    """Every evaluation schema, keyed by file stem (``<stem>.schema.json``)."""
    return {name: schema_of(name) for name in MODELS}


def report_schemas() -> dict[str, dict[str, Any]]:
    """The two accepted report shapes."""
    return {name: schema_of(name) for name in ("brain_report", "minimal_answer")}
