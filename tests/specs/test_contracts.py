"""The committed JSON Schema contracts equal the models, and real bundles conform to them.

Checked with the independent ``jsonschema`` validator (draft 2020-12), reading the
committed files under ``specs/001-build-realistic-mock/contracts/``, never the models.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from rca.eval import export_blind
from rca.eval.schemas import DIALECT, ID_BASE
from rca.eval.scoring import evaluate, parse_report, perfect_report
from rca.seed.mock_incident_generator import (
    GROUND_TRUTH_FILE,
    MANIFEST_FILE,
    GroundTruth,
    Manifest,
    generate_bundle,
    list_scenarios,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "export_contracts.py"
CONTRACTS = ROOT / "specs" / "001-build-realistic-mock" / "contracts"
FIXTURES = ROOT / "tests" / "fixtures" / "mock_incidents"
REQUIRED = {
    "generation_request",
    "manifest",
    "ground_truth",
    "brain_report",
    "minimal_answer",
    "evaluation_result",
}
LABEL_FILES = ((GROUND_TRUTH_FILE, "ground_truth"), (MANIFEST_FILE, "manifest"))


def _load_exporter() -> ModuleType:
    spec = importlib.util.spec_from_file_location("export_contracts", SCRIPT)
    assert spec is not None and spec.loader is not None, SCRIPT
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


exporter = _load_exporter()


def _run_exporter(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@functools.cache
def validator(stem: str) -> Draft202012Validator:
    """A validator for the committed contract ``<stem>.schema.json``."""
    schema = json.loads((CONTRACTS / f"{stem}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def problems(stem: str, data: Any) -> list[str]:
    errors = sorted(validator(stem).iter_errors(data), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]


# ---------------------------------------------------------------------- (1) no drift
def test_committed_contracts_equal_what_the_models_produce() -> None:
    drifted = exporter.drift(CONTRACTS)
    assert not drifted, (
        "contracts drifted from the models; run `python scripts/export_contracts.py`:\n  "
        + "\n  ".join(drifted)
    )


def test_every_contract_is_a_2020_12_schema_with_a_stable_id() -> None:
    stems = {p.name.removesuffix(".schema.json") for p in CONTRACTS.glob("*.schema.json")}
    assert stems >= REQUIRED, f"missing contracts: {sorted(REQUIRED - stems)}"
    for stem in sorted(stems):
        path = CONTRACTS / f"{stem}.schema.json"
        text = path.read_text(encoding="utf-8")
        schema = json.loads(text)
        assert schema["$schema"] == DIALECT, path.name
        assert schema["$id"] == f"{ID_BASE}{stem}.schema.json", path.name
        Draft202012Validator.check_schema(schema)
        # Sorted keys, two-space indent, trailing newline: the exporter's exact formatting.
        assert text == json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_the_docs_list_every_contract() -> None:
    readme = (CONTRACTS / "README.md").read_text(encoding="utf-8")
    data_model = (CONTRACTS.parent / "data-model.md").read_text(encoding="utf-8")
    for name in exporter.contract_files():
        assert f"`{name}`" in readme, f"contracts/README.md does not list {name}"
        assert f"(contracts/{name})" in data_model, f"data-model.md does not link {name}"


def test_check_mode_passes_in_sync_and_lists_every_drifted_file(tmp_path: Path) -> None:
    ok = _run_exporter("--check")
    assert ok.returncode == 0, ok.stderr
    assert "contracts in sync" in ok.stdout

    copy = tmp_path / "contracts"
    shutil.copytree(CONTRACTS, copy)
    edited = copy / "ground_truth.schema.json"
    edited.write_text(edited.read_text(encoding="utf-8").replace('"line"', '"row"'))
    (copy / "manifest.schema.json").unlink()
    (copy / "retired.schema.json").write_text("{}\n")
    bad = _run_exporter("--check", "--dir", str(copy))
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "ground_truth.schema.json: differs" in bad.stderr
    assert "manifest.schema.json: missing" in bad.stderr
    assert "retired.schema.json: stale" in bad.stderr
    assert "generation_request.schema.json" not in bad.stderr  # untouched files pass
    assert not (copy / "manifest.schema.json").exists(), "--check must write nothing"

    # Writing repairs the copy; it then holds exactly the committed bytes.
    fixed = _run_exporter("--dir", str(copy))
    assert fixed.returncode == 0, fixed.stderr
    assert _run_exporter("--check", "--dir", str(copy)).returncode == 0
    assert _snapshot(copy) == _snapshot(CONTRACTS)


def test_reruns_are_byte_identical(tmp_path: Path) -> None:
    for run in ("a", "b"):
        assert _run_exporter("--dir", str(tmp_path / run)).returncode == 0
    assert _snapshot(tmp_path / "a") == _snapshot(tmp_path / "b") == _snapshot(CONTRACTS)
    again = _run_exporter("--dir", str(tmp_path / "a"))
    assert "0 change(s)" in again.stdout, again.stdout


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.schema.json"))}


# ---------------------------------------------------------------------- (2) bundles conform
def _fixture_bundles() -> list[Path]:
    if not FIXTURES.is_dir():
        return []
    return sorted(p for p in FIXTURES.iterdir() if p.is_dir() and not p.name.startswith("."))


_FIXTURE_PARAMS = [pytest.param(p, id=p.name) for p in _fixture_bundles()] or [
    pytest.param(None, id="no-fixtures")
]


@pytest.mark.parametrize("bundle", _FIXTURE_PARAMS)
def test_committed_fixture_conforms_to_the_contracts(bundle: Path | None) -> None:
    if bundle is None:
        if FIXTURES.exists():
            pytest.fail(f"{FIXTURES} exists but holds no bundle directory")
        pytest.skip(f"no fixtures at {FIXTURES}; generated bundles are checked instead")
    for name, stem in LABEL_FILES:
        path = bundle / name
        assert path.is_file(), f"{path}: missing"
        found = problems(stem, json.loads(path.read_text(encoding="utf-8")))
        assert not found, f"{path} breaks {stem}.schema.json:\n  " + "\n  ".join(found)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small bundle per registered scenario (15 minutes, 1 request/s, noisy)."""
    root = tmp_path_factory.mktemp("generated")
    return {
        sid: generate_bundle(
            {
                "scenario": sid,
                "seed": 3,
                "time_anchor": "2026-11-26T05:00:00Z",
                "duration_minutes": 15,
                "rps": 1.0,
                "noise_profile": "high",
                "threshold_override": 0.6 if sid == "normal_load" else None,
            },
            root,
        )
        for sid in list_scenarios()
    }


@pytest.mark.parametrize("sid", sorted(list_scenarios()))
def test_generated_bundle_conforms_to_the_contracts(sid: str, generated: dict[str, Path]) -> None:
    for name, stem in LABEL_FILES:
        path = generated[sid] / name
        found = problems(stem, json.loads(path.read_text(encoding="utf-8")))
        assert not found, f"{path} breaks {stem}.schema.json:\n  " + "\n  ".join(found)
    request = json.loads((generated[sid] / MANIFEST_FILE).read_text())["request"]
    assert not problems("generation_request", request)


def test_evaluation_contracts_accept_what_the_scorer_reads_and_writes(
    generated: dict[str, Path], tmp_path: Path
) -> None:
    bundle = generated["slow_query_regression"]
    truth = GroundTruth.model_validate_json((bundle / GROUND_TRUTH_FILE).read_bytes())
    report = perfect_report(truth)
    assert not problems("brain_report", report)
    minimal = {"root_cause": truth.root_cause, "confidence": 0.9, "evidence_refs": []}
    assert not problems("minimal_answer", minimal)
    # Structured answers and a ranked list: the right one second (AC@3, no pass).
    ranked = copy.deepcopy(report)
    ranked["hypotheses"][0].update(fault_type=truth.fault_type, component="orders table")
    ranked["hypotheses"].insert(
        0, {"title": "bad rollout", "confidence": 0.99, "evidence_refs": ["ui_events.log:1"]}
    )
    assert not problems("brain_report", ranked)
    assert not problems("minimal_answer", {**minimal, "fault_type": truth.fault_type})
    assert problems(
        "brain_report", {**ranked, "hypotheses": [{**ranked["hypotheses"][1], "fault_type": "dns"}]}
    )
    for answer in (report, minimal, ranked):
        result = evaluate(bundle, parse_report(answer)).model_dump(mode="json")
        assert not problems("evaluation_result", result)
    assert result["ranked"] == {"rank": 2, "ac_at_1": 0.0, "ac_at_3": 1.0, "avg_at_5": 0.8}
    blind = export_blind(bundle, tmp_path)
    assert not problems("blind_manifest", json.loads((blind / MANIFEST_FILE).read_text()))


# Edits a consumer could make by mistake; the contract and the model must both refuse them.
LABEL_BREAKS = {
    "unknown key": lambda d: d.update(extra=1),
    "bundle id shape": lambda d: d.update(bundle_id="bundle-1"),
    "evidence line 0": lambda d: d["evidence"][0].update(line=0),
    "evidence file not a stream": lambda d: d["evidence"][0].update(file="ground_truth.json"),
    "empty excerpt": lambda d: d["evidence"][0].update(excerpt=""),
    "confidence above 1": lambda d: d.update(confidence_target_max=1.5),
    "unknown layer": lambda d: d.update(root_cause_layer="network"),
    "schema version": lambda d: d.update(schema_version="2.0"),
    "missing root cause": lambda d: d.pop("root_cause"),
}
MANIFEST_BREAKS = {
    "sha256 shape": lambda d: d["artifacts"][0].update(sha256="xyz"),
    "negative byte count": lambda d: d["artifacts"][0].update(bytes=-1),
    "unknown stream": lambda d: d["artifacts"][0].update(stream="net"),
    "unknown noise profile": lambda d: d["request"].update(noise_profile="extreme"),
    "rps zero": lambda d: d["request"].update(rps=0),
    "duration below 15": lambda d: d["request"].update(duration_minutes=5),
    "generator name": lambda d: d["generator"].update(name="other"),
    "unknown request key": lambda d: d["request"].update(tenant="x"),
}


@pytest.mark.parametrize(
    ("file", "stem", "model", "name"),
    [(GROUND_TRUTH_FILE, "ground_truth", GroundTruth, n) for n in LABEL_BREAKS]
    + [(MANIFEST_FILE, "manifest", Manifest, n) for n in MANIFEST_BREAKS],
)
def test_contract_and_model_refuse_the_same_broken_file(
    file: str, stem: str, model: type[BaseModel], name: str, generated: dict[str, Path]
) -> None:
    data = json.loads((generated["bad_api_rollout"] / file).read_text())
    assert not problems(stem, data)
    (LABEL_BREAKS if stem == "ground_truth" else MANIFEST_BREAKS)[name](data)
    assert problems(stem, data), f"{stem}.schema.json accepts: {name}"
    with pytest.raises(ValidationError):
        model.model_validate(data)
