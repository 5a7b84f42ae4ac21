"""The v0 set is good evaluation material: the label's own evidence reaches the answer,
and no trivial baseline passes every scenario; the kitchen sink, the signature grep and
the change-point brain behave as designed, and stay floors on a small "hard" set."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from rca.cli import main
from rca.eval.baselines import (
    BASELINES,
    MAX_REFS,
    SIGNATURES,
    BlindView,
    ErrorLine,
    change_point,
    change_points,
    incident_families,
    kitchen_sink_title,
    majority_answer,
    read_blind,
    run_baseline,
    signature_grep,
    signature_hits,
)
from rca.eval.blind import export_blind
from rca.eval.matching import families_named, fault_types
from rca.eval.models import BrainReport
from rca.eval.scoring import evaluate, parse_report, perfect_report
from rca.eval.suite import baseline_table, format_table, run_baselines
from rca.seed import scenarios
from rca.seed.mock_incident_generator import STREAM_FILES, GroundTruth, generate_bundle
from tests.eval.conftest import (
    ANCHOR,
    FAILURE_SCENARIOS,
    FIXTURES_DIR,
    REPO_ROOT,
    SCENARIOS,
    V0_SCENARIOS,
)


@pytest.fixture(scope="module")
def baseline_rows(suite_dir: Path) -> pd.DataFrame:
    return run_baselines(suite_dir)


def test_label_evidence_suffices_for_every_failure_scenario(
    bundles: dict[str, Path], truths: dict[str, GroundTruth]
) -> None:
    for sid in FAILURE_SCENARIOS:
        result = evaluate(bundles[sid], parse_report(perfect_report(truths[sid])))
        assert result.pass_fail == "pass", (sid, result.reason_codes)


@pytest.mark.parametrize("name", list(BASELINES))
def test_no_baseline_passes_every_scenario(name: str, baseline_rows: pd.DataFrame) -> None:
    rows = baseline_rows[baseline_rows["baseline"] == name]
    assert sorted(rows["scenario_id"]) == sorted(SCENARIOS)
    passed = rows["pass_fail"] == "pass"
    assert passed.mean() < 1.0
    # Not only because of the negative control: some failure scenario defeats it too.
    assert passed[rows["incident"]].mean() < 1.0


def test_baseline_reports_are_well_formed_and_cite_the_bundle(baseline_rows: pd.DataFrame) -> None:
    assert not baseline_rows["reason_codes"].str.contains("EVIDENCE_NOT_IN_BUNDLE").any()
    assert not baseline_rows["reason_codes"].str.contains("NO_EVIDENCE").any()
    table = baseline_table(baseline_rows)
    assert list(table.columns) == ["n", *BASELINES]
    assert table.loc["ALL", "n"] == len(SCENARIOS)


def test_baselines_run_on_blind_bundles_only(tmp_path: Path, bundles: dict[str, Path]) -> None:
    blind = export_blind(bundles["bad_api_rollout"], tmp_path)
    assert not (blind / "ground_truth.json").exists()
    view = read_blind(blind)
    assert view.bundle_id == blind.name and view.errors
    for name in BASELINES:
        report = run_baseline(name, blind, view)
        assert report.incident_id == blind.name
        assert parse_report(report.model_dump(mode="json")) == report


def test_baselines_are_deterministic(tmp_path: Path, bundles: dict[str, Path]) -> None:
    a = export_blind(bundles["pod_oom_restart_loop"], tmp_path / "a")
    b = export_blind(bundles["pod_oom_restart_loop"], tmp_path / "b")
    for name in BASELINES:
        assert run_baseline(name, a) == run_baseline(name, b)


def test_majority_answer_is_a_known_root_cause(truths: dict[str, GroundTruth]) -> None:
    # The label's root cause less the values each bundle drew (a release number).
    answer = majority_answer()
    assert "{" not in answer
    assert any(
        set(answer.split()) <= set(t.root_cause.split()) for t in truths.values() if t.incident
    )


def _first_line_with(bundle: Path, file: str, signature: str, since: int = 1) -> int | None:
    with open(bundle / file, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if n >= since and signature in line:
                return n
    return None


@pytest.mark.parametrize(
    ("sid", "source"),
    [(sid, "generated") for sid in FAILURE_SCENARIOS]
    + [(sid, "committed") for sid in FAILURE_SCENARIOS if sid in V0_SCENARIOS],
)
def test_an_independently_written_report_passes(
    sid: str,
    source: str,
    bundles: dict[str, Path],
    committed: dict[str, Path],
) -> None:
    bundle = (bundles if source == "generated" else committed)[sid]
    # A report written without the label, declared by the scenario (Expect.paraphrase):
    # its root cause in other words, one cited line found by the fault's signature.
    paraphrase = scenarios.get(sid).expect.paraphrase
    assert paraphrase is not None, f"{sid} has an incident but declares no paraphrase"
    title, summary, file, signature = (
        paraphrase.title,
        paraphrase.summary,
        paraphrase.file,
        paraphrase.signature,
    )
    truth = GroundTruth.model_validate_json((bundle / "ground_truth.json").read_bytes())
    assert title.lower() != truth.root_cause.lower()  # a paraphrase, not the label
    # The negative control may log the signature too (a red herring, issue #16): the
    # report cites the incident bundle's own line.
    # (A herring's line may come before the incident: a brain reading the timeline cites
    # the first one from where the incident shows in that file.)
    lines = [p.line for p in truth.evidence if p.file == file]
    n = _first_line_with(bundle, file, signature, min(lines, default=1))
    assert n is not None, f"{signature!r} not in {bundle / file}"
    ref = f"{file}:{n}"
    report = {
        "incident_id": bundle.name,
        "status": "completed",
        "hypotheses": [
            {"title": title, "summary": summary, "confidence": 0.85, "evidence_refs": [ref]}
        ],
    }
    result = evaluate(bundle, parse_report(report))
    assert result.pass_fail == "pass", (ref, result.reason_codes)
    assert result.matched_by is not None
    assert result.score_parts.root_cause == 1.0
    # The same report names the wrong fault for every other scenario.
    for other in FAILURE_SCENARIOS:
        if other != sid:
            assert (
                "ROOT_CAUSE_MISMATCH" in evaluate(bundles[other], parse_report(report)).reason_codes
            )


def _always_no_incident(view: BlindView) -> BrainReport:
    return BrainReport(incident_id=view.bundle_id, status="no_incident", hypotheses=[])


def test_a_baseline_that_always_answers_no_incident_fails_every_failure_scenario(
    suite_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(BASELINES, "always_no_incident", _always_no_incident)
    rows = run_baselines(suite_dir, ["always_no_incident"])
    by_scenario = {str(r.scenario_id): r for r in rows.itertuples()}
    assert sorted(by_scenario) == sorted(SCENARIOS)
    for sid in FAILURE_SCENARIOS:
        row = by_scenario[sid]
        assert (row.pass_fail, row.reason_codes) == ("fail", "MISSED_INCIDENT"), sid
        assert row.score == 0.0
    # Silence is right only for the negative control.
    assert by_scenario["normal_load"].pass_fail == "pass"


def _readme_baseline_table() -> dict[str, dict[str, float]]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Baselines: the floors to beat", 1)[1]
    names = list(BASELINES)
    header = "| scenario | " + " | ".join(f"`{n}`" for n in names) + " |"
    assert header in section, "README baseline table header differs from BASELINES"
    rows = section.split(header, 1)[1].strip().split("\n\n", 1)[0].splitlines()[1:]
    table: dict[str, dict[str, float]] = {}
    for row in rows:
        cells = [c.strip().strip("*`") for c in row.strip().strip("|").split("|")]
        label = "ALL" if cells[0].startswith("all (") else cells[0]
        table[label] = {
            n: float(c.rstrip("%")) / 100 for n, c in zip(names, cells[1:], strict=True)
        }
    return table


def test_readme_baseline_table_matches_the_committed_fixtures() -> None:
    readme = _readme_baseline_table()
    assert sorted(readme) == sorted([*V0_SCENARIOS, "ALL"])
    # The numbers the README states, pinned here too so that a drift is seen twice.
    assert readme["ALL"] == {
        "most_errors": 0.2,
        "earliest_error": 0.0,
        "majority_prior": 0.0,
        "kitchen_sink": 0.0,
        "signature_grep": 0.6,
        "change_point": 0.6,
    }
    measured = baseline_table(run_baselines(FIXTURES_DIR))
    assert measured.loc["ALL", "n"] == len(V0_SCENARIOS)
    got = {
        str(sid): {name: float(measured.loc[sid, name]) for name in BASELINES}
        for sid in measured.index
    }
    assert got == readme


# --- kitchen sink, signature grep, change point (issue #16: floors beside every score) ---


@pytest.fixture(scope="module")
def committed_rows() -> pd.DataFrame:
    return run_baselines(FIXTURES_DIR, ["kitchen_sink", "signature_grep", "change_point"])


def test_one_signature_per_incident_family() -> None:
    assert sorted(SIGNATURES) == sorted(incident_families()) == fault_types()
    assert {file for file, _pattern in SIGNATURES.values()} <= set(STREAM_FILES.values())


def test_kitchen_sink_names_every_family_and_fails_every_incident(
    committed_rows: pd.DataFrame,
) -> None:
    assert families_named(kitchen_sink_title()) == fault_types()
    rows = committed_rows[committed_rows["baseline"] == "kitchen_sink"]
    assert sorted(rows["scenario_id"]) == sorted(V0_SCENARIOS)
    for row in rows.itertuples():
        assert row.pass_fail == "fail", row.scenario_id
        if row.incident:
            assert str(row.reason_codes).split(";")[0] == "AMBIGUOUS_ROOT_CAUSE", row
            assert str(row.named_families).split(";") == fault_types()
            assert row.root_cause_part == 0.0
        else:
            assert row.reason_codes == "FALSE_ALARM"


def test_signature_grep_names_the_family_whose_signature_leads(
    committed: dict[str, Path],
) -> None:
    for sid, bundle in committed.items():
        truth = GroundTruth.model_validate_json((bundle / "ground_truth.json").read_bytes())
        view = read_blind(bundle)
        hits = signature_hits(view)
        report = signature_grep(view)
        if not truth.incident:
            continue
        # Where the bundle's own family's signature is present and leads, the grep names
        # that family first, citing the first matching lines of its file.
        if not hits[truth.fault_type] or len(hits[truth.fault_type]) < max(
            len(v) for v in hits.values()
        ):
            continue
        top = report.hypotheses[0]
        assert top.fault_type == truth.fault_type, sid
        file, pattern = SIGNATURES[truth.fault_type]
        expected = hits[truth.fault_type][:MAX_REFS]
        assert top.evidence_refs == [f"{file}:{n}" for n in expected]
        lines = (bundle / file).read_text(encoding="utf-8").split("\n")
        assert all(pattern.search(lines[n - 1]) for n in expected)
        # The other families with hits follow, by hits.
        ranked = [h.fault_type for h in report.hypotheses]
        assert sorted(ranked, key=lambda f: -len(hits[str(f)])) == ranked
        assert set(ranked) == {f for f, v in hits.items() if v}
        result = evaluate(bundle, report)
        assert result.ranked is not None and result.ranked.rank == 1, sid


def test_the_signature_grep_floor_on_the_committed_fixtures(
    committed_rows: pd.DataFrame, committed: dict[str, Path]
) -> None:
    rows = committed_rows[committed_rows["baseline"] == "signature_grep"]
    passed = {str(r.scenario_id): r.pass_fail == "pass" for r in rows.itertuples()}
    # The keyword matcher reads the fixtures whose fault prints its family's v0 words, and
    # misses the rollout whose release drew another defect than v0's NPE (issue #16: the
    # defect is drawn per seed, so "NullPointerException" no longer names the fault).
    rollout = committed["bad_api_rollout"] / "ground_truth.json"
    truth = GroundTruth.model_validate_json(rollout.read_bytes())
    assert truth.drawn["defect_exception"] != "NullPointerException"
    assert passed == {
        sid: sid in FAILURE_SCENARIOS and sid != "bad_api_rollout" for sid in V0_SCENARIOS
    }


def _view(
    errors: dict[str, list[tuple[int, str]]], lines: dict[str, list[str]] | None = None
) -> BlindView:
    """A 30-minute blind view from (minute, template) error lines per stream."""
    start = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    out: list[ErrorLine] = []
    for stream, items in errors.items():
        for n, (minute, template) in enumerate(items, start=1):
            at = start + timedelta(minutes=minute, seconds=n % 60)
            out.append(ErrorLine(STREAM_FILES[stream], n, stream, at, f"{template} #{n}", template))
    return BlindView("blind-test", start, out, start + timedelta(minutes=30), lines or {})


def _steady(minutes: range, per_minute: int, template: str) -> list[tuple[int, str]]:
    return [(m, template) for m in minutes for _ in range(per_minute)]


def test_signature_grep_ranks_families_by_hits_and_breaks_ties_by_registry(
    committed: dict[str, Path],
) -> None:
    # One real line of each family's signature, from the committed fixtures.
    sample: dict[str, str] = {}
    for fam, (file, pattern) in SIGNATURES.items():
        for bundle in committed.values():
            text = (bundle / file).read_text(encoding="utf-8").split("\n")
            line = next((ln for ln in text if pattern.search(ln)), None)
            if line is not None:
                sample[fam] = line
                break
    assert sorted(sample) == sorted(SIGNATURES), "a family's signature is in no fixture"
    stream_of = {file: stream for stream, file in STREAM_FILES.items()}

    def view_with(counts: dict[str, int]) -> BlindView:
        lines: dict[str, list[str]] = {s: ["an ordinary line"] for s in STREAM_FILES}
        for fam, n in counts.items():
            lines[stream_of[SIGNATURES[fam][0]]] += [sample[fam]] * n
        return _view({}, lines)

    order = incident_families()
    # More hits win, whatever the registry order; the rest follow as hypotheses 2..n.
    last, first = order[-1], order[0]
    report = signature_grep(view_with({first: 2, last: 3}))
    assert [h.fault_type for h in report.hypotheses] == [last, first]
    assert report.hypotheses[0].confidence > report.hypotheses[1].confidence
    # A tie goes to the family the registry lists first.
    report = signature_grep(view_with({last: 3, first: 3}))
    assert [h.fault_type for h in report.hypotheses] == [first, last]
    assert report.hypotheses[0].title == report.hypotheses[0].title.replace("{", "")
    # Nothing matches: no incident.
    assert signature_grep(view_with({})).status == "no_incident"


def test_change_point_finds_a_step_and_ignores_a_burst() -> None:
    background = _steady(range(30), 1, "kubelet noise")
    step = _view({"k8s": background, "api": _steady(range(12, 30), 8, "boom")})
    (cp,) = change_points(step)
    assert (cp.stream, cp.minute) == ("api", 12)
    assert cp.before_rate == 0.0 and cp.after_rate == 8.0
    report = change_point(step)
    assert report.hypotheses[0].title == "boom #1"
    assert report.hypotheses[0].evidence_refs == [f"api_logs.log:{n}" for n in range(1, 6)]
    # One minute of 40 scanner lines is no change; neither is a flat rate.
    burst = _view({"k8s": background, "ui": _steady(range(12, 13), 40, "scanner")})
    assert change_points(burst) == []
    assert change_point(burst).status == "no_incident"
    assert change_point(_view({"k8s": background})).status == "no_incident"
    # Two streams change: the earlier change is blamed, its new template is the title.
    both = _view(
        {
            "db": _steady(range(30), 1, "old") + _steady(range(10, 30), 6, "new in db"),
            "api": _steady(range(14, 30), 20, "later in api"),
        }
    )
    assert sorted((c.stream, c.minute) for c in change_points(both)) == [("api", 14), ("db", 10)]
    assert change_point(both).hypotheses[0].title.startswith("new in db")


ONSET_TOLERANCE_MIN = 2


def test_change_point_finds_the_onset_on_the_committed_fixtures(
    committed: dict[str, Path],
) -> None:
    """Where the label's first signal is itself an error-ish line, the error rate rises at
    the onset: the blamed change must lie within two minutes of it (minute bins)."""
    checked = 0
    for sid, bundle in committed.items():
        truth = GroundTruth.model_validate_json((bundle / "ground_truth.json").read_bytes())
        view = read_blind(bundle)
        first = truth.first_signal
        if first is None or truth.incident_window is None or view.start is None:
            continue
        if not any((e.file, e.line) == (first.file, first.line) for e in view.errors):
            continue  # a GC pause or a slow statement: no error line marks the onset
        onset = datetime.fromisoformat(truth.incident_window.onset.replace("Z", "+00:00"))
        onset_min = (onset - view.start).total_seconds() / 60
        found = change_points(view)
        assert found, sid
        blamed = min(found, key=lambda c: (c.minute, -c.llr))
        assert abs(blamed.minute - onset_min) <= ONSET_TOLERANCE_MIN, (sid, blamed, onset_min)
        report = change_point(view)
        assert report.status == "completed" and report.hypotheses[0].evidence_refs
        checked += 1
    assert checked >= 2, "no committed fixture's first signal is an error line"


def test_cli_runs_one_named_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["baselines", str(FIXTURES_DIR), "--baseline", "kitchen_sink", "--json"])
    assert code == 0
    table = json.loads(capsys.readouterr().out)
    assert sorted(table) == sorted([*V0_SCENARIOS, "ALL"])
    assert table["ALL"] == {"n": len(V0_SCENARIOS), "kitchen_sink": 0.0}


def test_cli_baseline_choices_come_from_baselines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["baselines", str(FIXTURES_DIR), "--baseline", "always_no_incident"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--baseline" in err and all(repr(name) in err for name in BASELINES)
    monkeypatch.setitem(BASELINES, "always_no_incident", _always_no_incident)
    assert main(["baselines", str(FIXTURES_DIR), "--baseline", "always_no_incident"]) == 0
    assert "always_no_incident" in capsys.readouterr().out


# A small "hard" set: every scenario x 4 seeds, 30 minutes at 2.5 requests/s.
HARD_SEEDS = range(1, 5)
# Measured (2026-12-03, 5 disjoint 4-seed sets of seeds 1..20): the best baseline passes
# 38-62 % of incidents (signature_grep 38-56 %, change_point 44-62 %, most_errors 50 %)
# and 30-65 % of all bundles; the kitchen sink 0 %. The bound leaves a margin; a
# benchmark where keyword matching or a change point passes (nearly) everything fails.
HARD_MAX_PASS = 0.7


@pytest.fixture(scope="module")
def hard_rows(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("hard")
    for sid in SCENARIOS:
        for seed in HARD_SEEDS:
            request = {
                "scenario": sid,
                "seed": seed,
                "time_anchor": ANCHOR,
                "duration_minutes": 30,
                "rps": 2.5,
                "difficulty": "hard",
            }
            generate_bundle(request, root)
    return run_baselines(root)


def test_baselines_stay_floors_on_a_small_hard_set(hard_rows: pd.DataFrame) -> None:
    print("\n" + format_table(baseline_table(hard_rows)))
    incidents = hard_rows[hard_rows["incident"]]
    assert incidents["bundle_id"].nunique() == len(FAILURE_SCENARIOS) * len(HARD_SEEDS)
    for name in BASELINES:
        mine = hard_rows[hard_rows["baseline"] == name]
        inc = incidents[incidents["baseline"] == name]
        inc_rate = float((inc["pass_fail"] == "pass").mean())
        all_rate = float((mine["pass_fail"] == "pass").mean())
        print(f"{name}: {inc_rate:.0%} of incidents, {all_rate:.0%} overall")
        assert inc_rate <= HARD_MAX_PASS, (name, inc_rate)
        assert all_rate <= HARD_MAX_PASS, (name, all_rate)
    sink = incidents[incidents["baseline"] == "kitchen_sink"]
    assert (sink["pass_fail"] == "fail").all()
    assert sink["reason_codes"].str.startswith("AMBIGUOUS_ROOT_CAUSE").all()
