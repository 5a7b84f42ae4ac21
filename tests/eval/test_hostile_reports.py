"""Reports written to hurt the scorer: deep nesting, huge numbers, FIFOs, devices, links.

A report comes from the system under test. Whatever it is, ``score`` must answer with
exit 2 and ``error: INVALID_REPORT: <file>: <problem>`` (never exit 1, which reads as a
"fail" verdict, never a traceback, never a hang), and ``score-suite`` must mark that one
bundle ``INVALID_REPORT`` and score the others. Subprocesses carry a timeout: before the
fix a FIFO or ``/dev/zero`` made ``score`` wait forever.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rca.cli import main
from rca.eval._files import MAX_INPUT_BYTES
from rca.eval.scoring import MAX_REPORT_DEPTH, perfect_report
from rca.seed.mock_incident_generator import GroundTruth
from tests.eval.conftest import REPO_ROOT

TIMEOUT_S = 60


def _rca_mock(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rca.cli", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )


def _nested(depth: int, leaf: str = "0") -> str:
    return "[" * depth + leaf + "]" * depth


HOSTILE_JSON: dict[str, tuple[str | bytes, str]] = {
    # name: (file content, what the error must say)
    "array nested 5000 deep": (_nested(5000), f"nested deeper than {MAX_REPORT_DEPTH} levels"),
    "object nested 5000 deep": (
        '{"a":' * 5000 + "0" + "}" * 5000,
        f"nested deeper than {MAX_REPORT_DEPTH} levels",
    ),
    # Deep enough to exceed the contract, shallow enough for Python's parser: the limit
    # is the contract's, not an accident of the interpreter's recursion limit.
    "extra key nested 100 deep": (
        '{"root_cause": "x", "confidence": 0.9, "evidence_refs": [], "x": ' + _nested(100) + "}",
        f"nested deeper than {MAX_REPORT_DEPTH} levels",
    ),
    "confidence with 5001 digits": (
        '{"root_cause": "x", "confidence": ' + "1" * 5001 + ', "evidence_refs": []}',
        "holds an integer of more than 4300 digits",
    ),
    "NaN confidence": (
        '{"root_cause": "x", "confidence": NaN, "evidence_refs": []}',
        "NaN is not a JSON value",
    ),
    "not UTF-8": (b'{"root_cause": "\xff"}', "not UTF-8 text (invalid byte at offset 16)"),
}


@pytest.mark.parametrize("name", list(HOSTILE_JSON))
def test_score_refuses_hostile_json_with_invalid_report(
    name: str, tmp_path: Path, bundles: dict[str, Path]
) -> None:
    content, needle = HOSTILE_JSON[name]
    report = tmp_path / "report.json"
    report.write_bytes(content if isinstance(content, bytes) else content.encode())
    proc = _rca_mock("score", str(bundles["bad_api_rollout"]), str(report))
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.startswith(f"error: INVALID_REPORT: {report}: "), proc.stderr
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_error_messages_cut_huge_values_short(
    tmp_path: Path, bundles: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # 4000 digits: a valid JSON integer, but no confidence; the message must not echo it.
    report = tmp_path / "r.json"
    report.write_text('{"root_cause": "x", "confidence": ' + "7" * 4000 + "}", encoding="utf-8")
    assert main(["score", str(bundles["bad_api_rollout"]), str(report)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: INVALID_REPORT: {report}: confidence: ")
    assert "(cut)" in err and len(err) < 400


def test_a_line_number_with_5000_digits_is_a_ref_outside_the_bundle(
    tmp_path: Path, bundles: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # A well-formed report citing a line no file has: a fail (1), with the reason.
    refs = ["api_logs.log:" + "9" * 5000, "api_logs.log:1-" + "9" * 40]
    report = tmp_path / "r.json"
    report.write_text(
        json.dumps({"root_cause": "bad rollout", "confidence": 0.9, "evidence_refs": refs}),
        encoding="utf-8",
    )
    assert main(["score", str(bundles["bad_api_rollout"]), str(report), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert "EVIDENCE_NOT_IN_BUNDLE" in result["reason_codes"]
    assert [e["in_bundle"] for e in result["evidence"]] == [False, False]


def _special(kind: str, tmp_path: Path) -> tuple[Path, str]:
    """A path that is not a regular file, and the kind the error must name."""
    if kind == "fifo":
        path = tmp_path / "report.json"
        os.mkfifo(path)
        return path, "is a FIFO, not a regular file"
    if kind == "char device":
        return Path("/dev/zero"), "is a character device, not a regular file"
    if kind == "directory":
        path = tmp_path / "report.json"
        path.mkdir()
        return path, "is a directory, not a regular file"
    assert kind == "symlink"
    target = tmp_path / "elsewhere.json"
    target.write_text('{"hypotheses": []}', encoding="utf-8")
    path = tmp_path / "report.json"
    path.symlink_to(target)
    return path, "is a symbolic link; give the file itself"


@pytest.mark.parametrize("kind", ["fifo", "char device", "directory", "symlink"])
def test_score_accepts_regular_files_only(
    kind: str, tmp_path: Path, bundles: dict[str, Path]
) -> None:
    path, needle = _special(kind, tmp_path)
    proc = _rca_mock("score", str(bundles["normal_load"]), str(path))  # no hang: timeout
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == f"error: INVALID_REPORT: {path}: {needle}\n"


def test_score_caps_the_report_size(
    tmp_path: Path, bundles: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    over = tmp_path / "over.json"
    with over.open("wb") as f:
        f.truncate(MAX_INPUT_BYTES + 1)  # sparse: refused before a byte is read
    assert main(["score", str(bundles["normal_load"]), str(over)]) == 2
    assert capsys.readouterr().err == (
        f"error: INVALID_REPORT: {over}: is {MAX_INPUT_BYTES + 1} bytes; "
        f"the limit is {MAX_INPUT_BYTES} bytes\n"
    )
    # At the limit the file is read (and is then judged as JSON).
    at = tmp_path / "at.json"
    at.write_bytes(b" " * (MAX_INPUT_BYTES - 2) + b"{}")
    assert main(["score", str(bundles["normal_load"]), str(at)]) == 2
    assert "hypotheses: missing" in capsys.readouterr().err


def _reports_for(truths: dict[str, GroundTruth], root: Path) -> dict[str, Path]:
    root.mkdir()
    paths = {}
    for sid, truth in truths.items():
        paths[sid] = root / f"{truth.bundle_id}.json"
        paths[sid].write_text(json.dumps(perfect_report(truth)), encoding="utf-8")
    return paths


def test_score_suite_marks_hostile_reports_and_scores_the_rest(
    tmp_path: Path, suite_dir: Path, truths: dict[str, GroundTruth]
) -> None:
    reports = _reports_for(truths, tmp_path / "reports")
    hostile: dict[str, str] = {}
    reports["normal_load"].write_text(_nested(5000), encoding="utf-8")
    hostile["normal_load"] = f"nested deeper than {MAX_REPORT_DEPTH} levels"
    reports["slow_query_regression"].write_text(
        '{"root_cause": "x", "confidence": ' + "1" * 5001 + "}", encoding="utf-8"
    )
    hostile["slow_query_regression"] = "holds an integer of more than 4300 digits"
    reports["bad_api_rollout"].unlink()
    os.mkfifo(reports["bad_api_rollout"])
    hostile["bad_api_rollout"] = "is a FIFO, not a regular file"

    table = tmp_path / "table.csv"
    proc = _rca_mock(
        "score-suite", str(suite_dir), str(tmp_path / "reports"), "--no-baselines", "--out",
        str(table),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    n, passed = len(truths), len(truths) - len(hostile)  # every other report is perfect
    assert f"pass rate {100 * passed / n:.1f}% ({passed}/{n})" in proc.stdout
    rows: dict[str, dict[str, Any]] = {
        r["scenario_id"]: r for r in csv.DictReader(table.open(encoding="utf-8"))
    }
    assert set(rows) == set(truths)
    for sid, row in rows.items():
        if sid in hostile:
            assert (row["pass_fail"], row["reason_codes"]) == ("fail", "INVALID_REPORT")
            assert row["error"] == f"{reports[sid]}: {hostile[sid]}"
            assert f"FAIL {row['bundle_id']} ({sid}): INVALID_REPORT ({row['error']})" in (
                proc.stdout
            )
        else:
            assert (row["pass_fail"], row["reason_codes"]) == ("pass", ""), row
