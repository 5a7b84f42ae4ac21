"""Scoring many bundles at once, and running the baselines over a suite (pandas tables).

A suite is a directory tree; every directory holding a ``ground_truth.json`` is a bundle
(hidden directories are skipped). Reports live flat in a reports directory, named
``<bundle_id>.json`` or ``<blind-id>.json`` (the id of the bundle's blind export under
the same salt: ``--salt``, ``$RCA_BLIND_SALT``, or the ``blind-key.json`` beside the
bundle that ``export-blind`` wrote; see :mod:`rca.eval.blind`), so a system that only
ever saw blind exports can name its reports after what it saw.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from rca.seed.mock_incident_generator import GROUND_TRUTH_FILE

from .baselines import BASELINES, read_blind
from .blind import SALT_BYTES, blind_id, export_blind, given_salt, key_dir, resolve_salt
from .evidence import BundleIndex
from .models import EvaluationResult
from .scoring import (
    EvalInputError,
    ReportError,
    evaluate,
    load_report,
    load_truth,
    unusable_result,
)

RESULT_COLUMNS = [
    "bundle_id",
    "scenario_id",
    "incident",
    "pass_fail",
    "score",
    "root_cause_part",
    "layer_component_part",
    "evidence_recall_part",
    "first_signal_timing_part",
    "predicted_incident",
    "predicted_root_cause",
    "predicted_confidence",
    "matched_by",
    "named_families",
    "expected_fault_type",
    "rank",
    "ac_at_1",
    "ac_at_3",
    "avg_at_5",
    "threshold_used",
    "threshold_source",
    "reason_codes",
    "label_evidence_hit",
    "label_evidence_total",
    "error",
]


# RCAEval's ranked accuracy per bundle (rca.eval.scoring.ranked_metrics).
RANKED_COLUMNS = ["ac_at_1", "ac_at_3", "avg_at_5"]


def find_bundles(suite_dir: str | Path) -> list[Path]:
    root = Path(suite_dir)
    if not root.is_dir():
        raise EvalInputError("SUITE_DIR", f"{root}: no such directory")
    found = [
        p.parent
        for p in root.rglob(GROUND_TRUTH_FILE)
        if not any(part.startswith(".") for part in p.parent.relative_to(root).parts)
    ]
    if not found:
        raise EvalInputError("SUITE_DIR", f"{root}: no bundle (no {GROUND_TRUTH_FILE}) found")
    return sorted(found, key=lambda p: (p.name, str(p)))


def result_row(r: EvaluationResult) -> dict[str, Any]:
    parts = r.score_parts
    return {
        "bundle_id": r.bundle_id,
        "scenario_id": r.scenario_id,
        "incident": r.incident,
        "pass_fail": r.pass_fail,
        "score": r.score,
        "root_cause_part": parts.root_cause,
        "layer_component_part": parts.layer_component,
        "evidence_recall_part": parts.evidence_recall,
        "first_signal_timing_part": parts.first_signal_timing,
        "predicted_incident": r.predicted_incident,
        "predicted_root_cause": r.predicted_root_cause,
        "predicted_confidence": r.predicted_confidence,
        "matched_by": r.matched_by,
        "named_families": ";".join(r.named_families),
        "expected_fault_type": r.expected.fault_type,
        # Ranked metrics exist for incident labels only (NaN in the table otherwise).
        "rank": r.ranked.rank if r.ranked is not None else None,
        "ac_at_1": r.ranked.ac_at_1 if r.ranked is not None else None,
        "ac_at_3": r.ranked.ac_at_3 if r.ranked is not None else None,
        "avg_at_5": r.ranked.avg_at_5 if r.ranked is not None else None,
        "threshold_used": r.threshold_used,
        "threshold_source": r.threshold_source,
        "reason_codes": ";".join(r.reason_codes),
        "label_evidence_hit": r.label_evidence_hit,
        "label_evidence_total": r.label_evidence_total,
        "error": r.error,
    }


def _frame(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(columns))


def _salt_lookup(salt: str | None, *, create: bool) -> Callable[[Path], str | None]:
    """Bundle -> the salt of its blind id (:func:`rca.eval.blind.resolve_salt`), each
    key file read once."""
    given = given_salt(salt)
    by_dir: dict[Path, str | None] = {}

    def lookup(bundle: Path) -> str | None:
        if given is not None:
            return given
        where = key_dir(bundle)
        if where not in by_dir:
            by_dir[where] = resolve_salt(bundle, create=create)
        return by_dir[where]

    return lookup


def score_suite(
    suite_dir: str | Path,
    reports_dir: str | Path,
    threshold: float | None = None,
    salt: str | None = None,
) -> pd.DataFrame:
    """One row per bundle; a missing report is a fail (NO_REPORT), an unusable one too
    (INVALID_REPORT, with the error)."""
    reports = Path(reports_dir)
    if not reports.is_dir():
        raise EvalInputError("REPORTS_DIR", f"{reports}: no such directory")
    salt_of = _salt_lookup(salt, create=False)
    rows = []
    for bundle in find_bundles(suite_dir):
        truth = load_truth(bundle)
        bundle_salt = salt_of(bundle)
        candidates = [reports / f"{truth.bundle_id}.json"]
        if bundle_salt is not None:  # no salt, no key file: no blind id to look for
            candidates.append(reports / f"{blind_id(truth.bundle_id, bundle_salt)}.json")
        # Anything at a report's name counts as its report (a FIFO or a link too, so that
        # it is refused as INVALID_REPORT, not silently taken for a missing report).
        path = next((p for p in candidates if os.path.lexists(p)), None)
        if path is None:
            result = unusable_result(truth, "NO_REPORT", threshold)
        else:
            try:
                report = load_report(path)
            except ReportError as exc:  # this bundle fails; the suite goes on
                result = unusable_result(truth, "INVALID_REPORT", threshold, str(exc))
            else:
                result = evaluate(bundle, report, threshold, truth=truth)
        rows.append(result_row(result))
    return _frame(rows, RESULT_COLUMNS)


def run_baselines(
    suite_dir: str | Path,
    names: Sequence[str] = tuple(BASELINES),
    threshold: float | None = None,
    salt: str | None = None,
    reports_out: str | Path | None = None,
) -> pd.DataFrame:
    """Each baseline on each bundle's BLIND export, scored against the bundle's label.

    With ``reports_out``, each report is also written to
    ``reports_out/<baseline>/<blind-id>.json``, ready for ``score-suite``: the blind ids
    then use the suite's salt (``salt``, ``$RCA_BLIND_SALT`` or the key file beside the
    bundles, created if missing). Without it, nothing outside the temporary exports is
    written: a bundle without a salt gets a throwaway one.
    """
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise EvalInputError(
            "--baseline", f"unknown {', '.join(unknown)}; allowed: {', '.join(BASELINES)}"
        )
    salt_of = _salt_lookup(salt, create=reports_out is not None)
    throwaway = secrets.token_hex(SALT_BYTES)  # the blind ids of this run only
    rows = []
    with tempfile.TemporaryDirectory(prefix="rca-blind-") as tmp:
        for bundle in find_bundles(suite_dir):
            truth = load_truth(bundle)
            bundle_salt = salt_of(bundle)
            blind = export_blind(bundle, tmp, bundle_salt or throwaway)
            view = read_blind(blind)
            index = BundleIndex(bundle)
            for name in names:
                report = BASELINES[name](view)
                if reports_out is not None:
                    out = Path(reports_out) / name
                    out.mkdir(parents=True, exist_ok=True)
                    (out / f"{blind.name}.json").write_text(
                        json.dumps(report.model_dump(mode="json"), indent=2) + "\n",
                        encoding="utf-8",
                    )
                result = evaluate(bundle, report, threshold, truth=truth, index=index)
                rows.append({"baseline": name, **result_row(result)})
    return _frame(rows, ["baseline", *RESULT_COLUMNS])


def _rate(series: pd.Series) -> float:
    return float((series == "pass").mean()) if len(series) else 0.0


def scenario_table(results: pd.DataFrame, baselines: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per scenario (and ALL): n, pass rate, mean score, and each baseline's pass rate."""
    grouped = results.groupby("scenario_id", sort=True)
    table = pd.DataFrame(
        {
            "n": grouped.size(),
            "pass_rate": grouped["pass_fail"].agg(_rate),
            "mean_score": grouped["score"].mean(),
            **{m: grouped[m].mean() for m in RANKED_COLUMNS},
        }
    )
    # Ranked metrics average over incident bundles only (NaN for the control).
    table.loc["ALL"] = [
        len(results),
        _rate(results["pass_fail"]),
        results["score"].mean(),
        *(results[m].astype(float).mean() for m in RANKED_COLUMNS),
    ]
    if baselines is not None and not baselines.empty:
        for name, rows in baselines.groupby("baseline", sort=False):
            col = rows.groupby("scenario_id")["pass_fail"].agg(_rate)
            col.loc["ALL"] = _rate(rows["pass_fail"])
            table[f"{name}_pass"] = col
    table["n"] = table["n"].astype(int)
    table.index.name = "scenario"
    return table


def baseline_table(baselines: pd.DataFrame) -> pd.DataFrame:
    """Rows: scenarios and ALL; columns: each baseline's pass rate."""
    cols: dict[str, pd.Series] = {}
    for name, rows in baselines.groupby("baseline", sort=False):
        col = rows.groupby("scenario_id")["pass_fail"].agg(_rate)
        col.loc["ALL"] = _rate(rows["pass_fail"])
        cols[str(name)] = col
    table = pd.DataFrame(cols)
    counts = baselines.drop_duplicates("bundle_id").groupby("scenario_id").size()
    counts.loc["ALL"] = int(baselines["bundle_id"].nunique())
    table.insert(0, "n", counts.astype(int))
    table.index.name = "scenario"
    return table


def format_table(table: pd.DataFrame) -> str:
    shown = table.copy()
    for col in shown.columns:
        if col == "n":
            continue
        if col.endswith("pass") or col == "pass_rate" or col in BASELINES:
            shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{100 * v:.0f}%")
        else:
            shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
    return shown.to_string()
