"""Issue 4, "Done when": changing `threshold_override` in the config flips the verdict of a
borderline report, end to end through the workflow and `rca-mock score`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rca.eval.scoring import perfect_report
from rca.seed.mock_incident_generator import GROUND_TRUTH_FILE, STREAM_FILES, GroundTruth
from tests.workflow.helpers import FIXTURES, new_workspace, snakemake
from tests.workflow.test_workflow import bundle_of, edit_config

pytestmark = pytest.mark.workflow

RCA_MOCK = Path(sys.executable).parent / "rca-mock"
SCENARIO = "bad_api_rollout"
CONFIDENCE = 0.75  # between the two overrides: fails at 0.8, passes at 0.7


def score(bundle: Path, report: Path) -> tuple[int, dict[str, Any]]:
    """`rca-mock score BUNDLE REPORT --json`: exit status and the EvaluationResult."""
    res = subprocess.run(
        [str(RCA_MOCK), "score", str(bundle), str(report), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode in (0, 1), res.stderr
    result: dict[str, Any] = json.loads(res.stdout)
    return res.returncode, result


def test_threshold_override_flips_a_borderline_verdict(tmp_path: Path) -> None:
    ws = new_workspace(tmp_path / "ws")  # .test/config, copied
    edit_config(ws, ("scenarios", SCENARIO), {"threshold_override": 0.8})
    res = snakemake(ws, "--cores", "2", "all")
    assert res.returncode == 0, res.stdout

    bundle_id = bundle_of(ws, SCENARIO)
    bundle = ws / FIXTURES / bundle_id
    truth = GroundTruth.model_validate_json((bundle / GROUND_TRUTH_FILE).read_bytes())
    assert truth.threshold_override == 0.8
    # A report that gets everything right but is only 75 % sure; outside the bundle.
    report = tmp_path / "report.json"
    report.write_text(json.dumps(perfect_report(truth, confidence=CONFIDENCE)))

    status, result = score(bundle, report)
    assert status == 1
    assert result["pass_fail"] == "fail"
    assert result["reason_codes"] == ["CONFIDENCE_BELOW_THRESHOLD"]
    assert (result["threshold_used"], result["threshold_source"]) == (0.8, "label_override")

    edit_config(ws, ("scenarios", SCENARIO), {"threshold_override": 0.7})
    # The override is part of the request, so of the bundle id: a new bundle, whose
    # streams equal the old one's (the override reaches only the label); the superseded
    # bundle is removed.
    streams = {name: (bundle / name).read_bytes() for name in STREAM_FILES.values()}
    res = snakemake(ws, "--cores", "2", "all")
    assert res.returncode == 0, res.stdout
    relabelled = ws / FIXTURES / bundle_of(ws, SCENARIO)
    assert relabelled != bundle and not bundle.exists()
    for name in STREAM_FILES.values():
        assert (relabelled / name).read_bytes() == streams[name], name
    bundle = relabelled

    status, result = score(bundle, report)
    assert status == 0, result
    assert result["pass_fail"] == "pass"
    assert result["reason_codes"] == []
    assert (result["threshold_used"], result["threshold_source"]) == (0.7, "label_override")
