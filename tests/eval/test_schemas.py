"""Published JSON Schemas agree with the pydantic models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from rca.eval.schemas import DIALECT, report_schemas, schemas
from rca.eval.scoring import evaluate, parse_report, perfect_report
from rca.seed.mock_incident_generator import GroundTruth


def test_every_schema_is_a_valid_2020_12_schema() -> None:
    all_schemas = schemas()
    assert {"brain_report", "minimal_answer", "evaluation_result", "blind_manifest"} <= set(
        all_schemas
    )
    assert set(report_schemas()) == {"brain_report", "minimal_answer"}
    for name, schema in all_schemas.items():
        assert schema["$schema"] == DIALECT, name
        assert schema["$id"].endswith(f"{name}.schema.json")
        jsonschema.Draft202012Validator.check_schema(schema)


def _valid(name: str, data: Any) -> bool:
    return jsonschema.Draft202012Validator(schemas()[name]).is_valid(data)


def test_report_schemas_accept_and_refuse_like_the_models(truths: dict[str, GroundTruth]) -> None:
    good = perfect_report(truths["bad_api_rollout"])
    good["extra_key"] = {"anything": 1}
    assert _valid("brain_report", good)
    parse_report(good)
    bad_conf = {"hypotheses": [{"title": "x", "confidence": 3, "evidence_refs": []}]}
    assert not _valid("brain_report", bad_conf)
    assert not _valid("brain_report", {"incident_id": "x"})
    minimal = {"root_cause": "memory leak", "confidence": 0.8, "evidence_refs": ["api_logs.log:3"]}
    assert _valid("minimal_answer", minimal)
    parse_report(minimal)
    assert not _valid("minimal_answer", {**minimal, "confidence": "high"})
    assert not _valid("minimal_answer", {**minimal, "evidence_refs": "api_logs.log:3"})


@pytest.mark.parametrize("sid", ["normal_load", "slow_query_regression"])
def test_results_validate_against_their_schema(
    sid: str, bundles: dict[str, Path], truths: dict[str, GroundTruth]
) -> None:
    result = evaluate(bundles[sid], parse_report(perfect_report(truths[sid])))
    assert _valid("evaluation_result", result.model_dump(mode="json"))
