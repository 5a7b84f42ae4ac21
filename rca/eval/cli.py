"""``rca-mock`` subcommands of evaluation: score, score-suite, export-blind, baselines.

Exit statuses: 0 pass (all pass, for a suite), 1 fail (any fail), 2 unusable input with
``error: CODE: FIELD: message`` on stderr and never a traceback: ``INVALID_REPORT`` (a
report that is not a regular file, too large, not JSON, nested too deeply, or breaks the
report schema), ``INVALID_BUNDLE`` (a missing bundle or label), ``INVALID_PARAMETER`` (a
missing directory, a threshold outside 0..1). In ``score-suite`` an unusable report
fails its bundle only (reason ``INVALID_REPORT``, the error in the ``error`` column).
``export-blind`` and ``baselines`` exit 0 when they did their job. A blind key file
(``blind-key.json`` beside the bundles) that is a symlink, unreadable or malformed is
``INVALID_PARAMETER`` naming the file (see :mod:`rca.eval.blind`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from .baselines import BASELINES
from .blind import KEY_FILE, SALT_ENV, export_blind
from .scoring import EvalInputError, format_result, load_truth, score_files
from .suite import (
    baseline_table,
    format_table,
    run_baselines,
    scenario_table,
    score_suite,
)

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_UNUSABLE = 2


def _guarded(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(ns: argparse.Namespace) -> int:
        try:
            return func(ns)
        except EvalInputError as exc:
            print(f"error: {exc.code}: {exc}", file=sys.stderr)
            return EXIT_UNUSABLE
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
            return EXIT_UNUSABLE

    return run


def _cmd_score(ns: argparse.Namespace) -> int:
    result = score_files(ns.bundle, ns.report, ns.threshold)
    if ns.json:
        print(result.model_dump_json(indent=2))
    else:
        print(format_result(result, expected=load_truth(ns.bundle).root_cause))
    return EXIT_PASS if result.pass_fail == "pass" else EXIT_FAIL


def _cmd_export_blind(ns: argparse.Namespace) -> int:
    print(export_blind(ns.bundle, ns.out, ns.salt))
    return EXIT_PASS


def _cmd_score_suite(ns: argparse.Namespace) -> int:
    results = score_suite(ns.suite_dir, ns.reports_dir, ns.threshold, ns.salt)
    if ns.out:
        results.to_csv(ns.out, index=False)
    base = (
        None
        if ns.no_baselines
        else run_baselines(ns.suite_dir, threshold=ns.threshold, salt=ns.salt)
    )
    table = scenario_table(results, base)
    passed = int((results["pass_fail"] == "pass").sum())
    if ns.json:
        print(json.dumps(_json_table(table), indent=2))
    else:
        print(
            f"{len(results)} bundle(s): pass rate {100 * passed / len(results):.1f}% "
            f"({passed}/{len(results)}), mean score {results['score'].mean():.3f}"
        )
        print(format_table(table))
        failed = results[results["pass_fail"] == "fail"]
        for row in failed.itertuples():
            why = f" ({row.error})" if isinstance(row.error, str) and row.error else ""
            print(f"  FAIL {row.bundle_id} ({row.scenario_id}): {row.reason_codes}{why}")
        if ns.out:
            print(f"wrote {ns.out}")
    return EXIT_PASS if passed == len(results) else EXIT_FAIL


def _cmd_baselines(ns: argparse.Namespace) -> int:
    names = ns.baseline or list(BASELINES)
    rows = run_baselines(ns.suite_dir, names, ns.threshold, ns.salt, ns.reports_out)
    if ns.out:
        rows.to_csv(ns.out, index=False)
    table = baseline_table(rows)
    if ns.json:
        print(json.dumps(_json_table(table), indent=2))
        return EXIT_PASS
    n = rows["bundle_id"].nunique()
    print(f"baseline pass rates over {n} bundle(s) (blind exports, scored against labels)")
    print(format_table(table))
    return EXIT_PASS


def _json_table(table: Any) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(table.to_json(orient="index"))
    return out


def _threshold(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--threshold",
        type=float,
        help="pass threshold 0..1 (default: the label's threshold_override, else "
        "threshold_default)",
    )


def _salt(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--salt", help=f"secret salt of the blind ids (default: ${SALT_ENV}, {default})")


def add_commands(sub: Any) -> None:
    """Register the evaluation subcommands on an argparse subparsers object."""
    s = sub.add_parser("score", help="score one RCA report against one bundle")
    s.add_argument("bundle", metavar="BUNDLE", help="bundle directory (with ground_truth.json)")
    s.add_argument("report", metavar="REPORT", help="report JSON (brain report or minimal)")
    _threshold(s)
    s.add_argument("--json", action="store_true", help="print the EvaluationResult as JSON")
    s.set_defaults(func=_guarded(_cmd_score))

    ss = sub.add_parser("score-suite", help="score reports for every bundle of a suite")
    ss.add_argument("suite_dir", metavar="SUITE_DIR")
    ss.add_argument(
        "reports_dir", metavar="REPORTS_DIR", help="holds <bundle_id>.json or <blind-id>.json files"
    )
    ss.add_argument("--out", help="write the per-bundle table as CSV")
    _threshold(ss)
    _salt(ss, f"else each bundle directory's {KEY_FILE} written by export-blind")
    ss.add_argument("--no-baselines", action="store_true", help="skip the baseline columns")
    ss.add_argument("--json", action="store_true", help="print the summary table as JSON")
    ss.set_defaults(func=_guarded(_cmd_score_suite))

    b = sub.add_parser(
        "export-blind",
        help="copy a bundle's streams under an opaque id",
        description="Copy BUNDLE's five streams to OUT/<blind-id>/ with a neutral manifest. "
        f"Without --salt or ${SALT_ENV}, the salt is BUNDLE's parent's {KEY_FILE}, drawn "
        "at random and written there by the first export: keep that directory (the "
        "scorer's side) from the system under test, and give it OUT only.",
    )
    b.add_argument("bundle", metavar="BUNDLE")
    b.add_argument(
        "out",
        metavar="OUT",
        help="parent directory of the blind bundle (not BUNDLE's parent, nor above it)",
    )
    _salt(b, f"else BUNDLE's parent's {KEY_FILE}, created if missing")
    b.set_defaults(func=_guarded(_cmd_export_blind))

    bl = sub.add_parser("baselines", help="run the baseline brains over a suite")
    bl.add_argument("suite_dir", metavar="SUITE_DIR")
    bl.add_argument(
        "--baseline", action="append", choices=list(BASELINES), help="only this one (repeatable)"
    )
    bl.add_argument("--reports-out", help="also write reports to DIR/<baseline>/<blind-id>.json")
    bl.add_argument("--out", help="write the per-bundle rows as CSV")
    _threshold(bl)
    _salt(bl, f"else each bundle directory's {KEY_FILE}, created with --reports-out")
    bl.add_argument("--json", action="store_true", help="print the table as JSON")
    bl.set_defaults(func=_guarded(_cmd_baselines))
