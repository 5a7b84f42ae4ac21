"""`rca-mock score | score-suite | export-blind | baselines`: output and exit statuses."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rca.cli import main
from rca.eval.blind import SALT_ENV, blind_id, ensure_key
from rca.eval.matching import fault_types
from rca.eval.models import EvaluationResult
from rca.eval.scoring import perfect_report
from rca.seed.mock_incident_generator import GroundTruth
from tests.eval.conftest import FIXTURES_DIR


def _write(path: Path, data: Any) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_score_pass_and_fail_exit_statuses(
    tmp_path: Path,
    bundles: dict[str, Path],
    truths: dict[str, GroundTruth],
    capsys: pytest.CaptureFixture[str],
) -> None:
    bundle = bundles["bad_api_rollout"]
    good = _write(tmp_path / "good.json", perfect_report(truths["bad_api_rollout"]))
    assert main(["score", str(bundle), str(good)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PASS") and "bad_api_rollout" in out

    assert main(["score", str(bundle), str(good), "--threshold", "0.99"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAIL") and "CONFIDENCE_BELOW_THRESHOLD" in out

    assert main(["score", str(bundle), str(good), "--json"]) == 0
    result = EvaluationResult.model_validate_json(capsys.readouterr().out)
    assert result.pass_fail == "pass" and result.threshold_source == "label_default"
    # The JSON names the expected answer and the ranked metrics beside the verdict.
    assert result.expected.fault_type == truths["bad_api_rollout"].fault_type
    assert result.ranked is not None and result.ranked.ac_at_1 == 1.0


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "not valid JSON"),
        (
            {"hypotheses": [{"title": "x", "summary": "", "confidence": 3, "evidence_refs": []}]},
            "hypotheses[0].confidence",
        ),
        ({"incident_id": "x", "status": "completed"}, "hypotheses: missing"),
        (
            {
                "hypotheses": [
                    {"title": "x", "confidence": 0.9, "evidence_refs": [], "fault_type": "dns"}
                ]
            },
            "hypotheses[0].fault_type: Value error, unknown fault_type; allowed: "
            + ", ".join(fault_types()),
        ),
        (
            {"hypotheses": [{"title": "x", "confidence": 0.5, "evidence_refs": [1]}]},
            "evidence_refs[0]",
        ),
        ("", "not valid JSON"),
    ],
)
def test_unusable_reports_exit_2_naming_the_field(
    content: Any,
    needle: str,
    tmp_path: Path,
    bundles: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = _write(tmp_path / "r.json", content)
    assert main(["score", str(bundles["normal_load"]), str(report)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ")
    assert needle in captured.err
    assert "Traceback" not in captured.err


def test_missing_inputs_exit_2(
    tmp_path: Path, bundles: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    report = _write(tmp_path / "r.json", {"hypotheses": []})
    assert main(["score", str(tmp_path / "nope"), str(report)]) == 2
    assert "BUNDLE" in capsys.readouterr().err
    assert main(["score", str(bundles["normal_load"]), str(tmp_path / "nope.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["score", str(bundles["normal_load"]), str(report), "--threshold", "3"]) == 2
    assert "--threshold" in capsys.readouterr().err


def test_console_script_never_prints_a_traceback(tmp_path: Path, bundles: dict[str, Path]) -> None:
    report = _write(tmp_path / "r.json", '{"hypotheses": [{"title": "x", "confidence": 3')
    proc = subprocess.run(
        [sys.executable, "-m", "rca.cli", "score", str(bundles["normal_load"]), str(report)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "not valid JSON" in proc.stderr and "Traceback" not in proc.stderr


def test_score_suite_csv_summary_and_missing_reports(
    tmp_path: Path,
    suite_dir: Path,
    truths: dict[str, GroundTruth],
    capsys: pytest.CaptureFixture[str],
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    # Every scenario but one gets a perfect report; one under its blind id (the suite's
    # key file salts it, as export-blind would have written it).
    salt = ensure_key(suite_dir)
    for sid, truth in truths.items():
        if sid == "slow_query_regression":
            continue
        name = blind_id(truth.bundle_id, salt) if sid == "pod_oom_restart_loop" else truth.bundle_id
        _write(reports / f"{name}.json", perfect_report(truth))
    table = tmp_path / "table.csv"
    assert main(["score-suite", str(suite_dir), str(reports), "--out", str(table)]) == 1
    out = capsys.readouterr().out
    n = len(truths)  # every scenario of the suite; all but one pass
    assert f"pass rate {100 * (n - 1) / n:.1f}% ({n - 1}/{n})" in out
    for name in ("most_errors_pass", "earliest_error_pass", "majority_prior_pass", "ALL"):
        assert name in out
    rows = {r["scenario_id"]: r for r in csv.DictReader(table.open(encoding="utf-8"))}
    assert set(rows) == set(truths)
    assert rows["slow_query_regression"]["reason_codes"] == "NO_REPORT"
    assert rows["pod_oom_restart_loop"]["pass_fail"] == "pass"


def test_score_suite_counts_an_unusable_report_as_a_fail(
    tmp_path: Path,
    suite_dir: Path,
    truths: dict[str, GroundTruth],
    capsys: pytest.CaptureFixture[str],
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    for truth in truths.values():
        _write(reports / f"{truth.bundle_id}.json", perfect_report(truth))
    _write(reports / f"{truths['normal_load'].bundle_id}.json", "{broken")
    code = main(["score-suite", str(suite_dir), str(reports), "--no-baselines", "--json"])
    assert code == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["normal_load"]["pass_rate"] == 0.0
    assert summary["ALL"]["pass_rate"] == pytest.approx((len(truths) - 1) / len(truths))


def test_score_suite_unusable_dirs_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["score-suite", str(tmp_path), str(tmp_path)]) == 2
    assert "no bundle" in capsys.readouterr().err
    assert main(["score-suite", str(tmp_path / "x"), str(tmp_path)]) == 2
    assert "SUITE_DIR" in capsys.readouterr().err


def test_export_blind_and_baselines_commands(
    tmp_path: Path, bundles: dict[str, Path], suite_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export-blind", str(bundles["bad_api_rollout"]), str(tmp_path / "blind")]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.parent == tmp_path / "blind" and path.name.startswith("blind-")

    assert main(["baselines", str(suite_dir), "--reports-out", str(tmp_path / "br")]) == 0
    out = capsys.readouterr().out
    assert "most_errors" in out and "ALL" in out
    written = sorted(
        p.relative_to(tmp_path / "br").parts[0] for p in (tmp_path / "br").rglob("*.json")
    )
    assert written.count("most_errors") == len(bundles)  # one report per bundle of the suite
    # Baseline reports are named by blind id and score-suite accepts them.
    code = main(
        ["score-suite", str(suite_dir), str(tmp_path / "br" / "most_errors"), "--no-baselines"]
    )
    assert code == 1
    assert "NO_REPORT" not in capsys.readouterr().out


def test_score_suite_exits_0_when_every_committed_fixture_passes(
    tmp_path: Path, committed: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    for bundle in committed.values():
        truth = GroundTruth.model_validate_json((bundle / "ground_truth.json").read_bytes())
        _write(reports / f"{truth.bundle_id}.json", perfect_report(truth))
    table = tmp_path / "table.csv"
    suite = str(FIXTURES_DIR)
    code = main(["score-suite", suite, str(reports), "--no-baselines", "--out", str(table)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[0] == "5 bundle(s): pass rate 100.0% (5/5), mean score 1.000"
    assert "FAIL" not in out
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert sorted(r["scenario_id"] for r in rows) == sorted(committed)
    assert {(r["pass_fail"], r["reason_codes"], float(r["score"])) for r in rows} == {
        ("pass", "", 1.0)
    }
    # The JSON summary agrees: every scenario and ALL at a 100% pass rate.
    assert main(["score-suite", suite, str(reports), "--no-baselines", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary) == {*committed, "ALL"}
    assert {s["pass_rate"] for s in summary.values()} == {1.0}
    # Ranked metrics beside the pass rate: incident scenarios only (null for the control).
    assert summary["ALL"]["ac_at_1"] == summary["ALL"]["avg_at_5"] == 1.0
    assert summary["normal_load"]["ac_at_1"] is None


@pytest.fixture
def one_bundle_suite(tmp_path: Path, bundles: dict[str, Path]) -> tuple[Path, GroundTruth]:
    """A suite of one bundle (bad_api_rollout), so that one report can make it pass."""
    suite = tmp_path / "suite"
    dest = suite / bundles["bad_api_rollout"].name
    shutil.copytree(bundles["bad_api_rollout"], dest)
    return suite, GroundTruth.model_validate_json((dest / "ground_truth.json").read_bytes())


def _blind_name(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.is_dir() and (path / "manifest.json").is_file()
    return path.name


def test_salt_option_names_blind_reports_for_score_suite(
    tmp_path: Path,
    one_bundle_suite: tuple[Path, GroundTruth],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv(SALT_ENV, raising=False)
    suite, truth = one_bundle_suite
    bundle = next(suite.iterdir())
    salted = _blind_name(
        ["export-blind", str(bundle), str(tmp_path / "b"), "--salt", "s3cret"], capsys
    )
    keyed = _blind_name(["export-blind", str(bundle), str(tmp_path / "p")], capsys)
    assert salted != keyed and salted.startswith("blind-")
    reports = tmp_path / "reports"
    reports.mkdir()
    _write(reports / f"{salted}.json", perfect_report(truth))

    args = ["score-suite", str(suite), str(reports), "--no-baselines"]
    assert main([*args, "--salt", "s3cret"]) == 0
    assert "pass rate 100.0% (1/1)" in capsys.readouterr().out
    # Without the salt (so with the key file's) or with another one, it is not found.
    assert main(args) == 1
    assert "NO_REPORT" in capsys.readouterr().out
    assert main([*args, "--salt", "other"]) == 1
    assert "NO_REPORT" in capsys.readouterr().out


def test_salt_from_the_environment(
    tmp_path: Path,
    one_bundle_suite: tuple[Path, GroundTruth],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    suite, truth = one_bundle_suite
    bundle = next(suite.iterdir())
    monkeypatch.delenv(SALT_ENV, raising=False)
    keyed = _blind_name(["export-blind", str(bundle), str(tmp_path / "p")], capsys)
    by_option = _blind_name(
        ["export-blind", str(bundle), str(tmp_path / "o"), "--salt", "from-env"], capsys
    )
    monkeypatch.setenv(SALT_ENV, "from-env")
    by_env = _blind_name(["export-blind", str(bundle), str(tmp_path / "e")], capsys)
    assert by_env == by_option != keyed
    reports = tmp_path / "reports"
    reports.mkdir()
    _write(reports / f"{by_env}.json", perfect_report(truth))

    args = ["score-suite", str(suite), str(reports), "--no-baselines"]
    assert main(args) == 0
    assert "pass rate 100.0% (1/1)" in capsys.readouterr().out
    # --salt overrides the environment.
    assert main([*args, "--salt", "other"]) == 1
    assert "NO_REPORT" in capsys.readouterr().out
    monkeypatch.delenv(SALT_ENV)
    assert main(args) == 1
    assert "NO_REPORT" in capsys.readouterr().out
