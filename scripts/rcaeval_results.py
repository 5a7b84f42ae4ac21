"""RCAEval's BARO and N-Sigma on exported bundles: benchmarks/results/rcaeval.md.

    .venv/bin/python scripts/rcaeval_results.py [--out benchmarks/results/rcaeval.md]

Every incident scenario in the registry x SEEDS, 30 minutes at 1.5 requests/s, metrics
on; each bundle exported as an RCAEval case (rca-mock export --format rcaeval) and ranked
by each method, unmodified. The table is a measurement of how hard the bundles are for
metric-based RCA, not a target: tests/interop/test_rcaeval.py regenerates it and fails
when it differs from the committed file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rca.interop.rcaeval import (
    METHODS,
    CaseResult,
    evaluate,
    export_rcaeval,
    root_cause_service,
    run_method,
)
from rca.seed import scenarios
from rca.seed.mock_incident_generator import generate_bundle

SEEDS = (1, 2, 3, 4)
ANCHOR = "2026-11-26T05:00:00Z"
OUT = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "rcaeval.md"


def request(scenario: str, seed: int) -> dict[str, object]:
    return {
        "scenario": scenario,
        "seed": seed,
        "time_anchor": ANCHOR,
        "rps": 1.5,
        "modalities": "logs,metrics",
    }


def results(work: Path) -> list[CaseResult]:
    found = []
    for scenario in scenarios.incident_ids():
        for seed in SEEDS:
            bundle = generate_bundle(request(scenario, seed), work / "bundles")
            case = export_rcaeval(bundle, work / "cases")
            answer = root_cause_service(bundle)
            assert answer is not None
            for method in METHODS:
                found.append(CaseResult(scenario, method, run_method(case, method), answer))
    return found


def table(found: list[CaseResult]) -> str:
    rows = evaluate(found)
    lines = [
        "# RCAEval methods on rca-mock bundles",
        "",
        "Written by `scripts/rcaeval_results.py` (checked by `tests/interop/test_rcaeval.py`).",
        f"Each incident scenario x seeds {', '.join(map(str, SEEDS))}: 30 min at 1.5 requests/s,",
        "`--modalities logs,metrics`, exported with `rca-mock export --format rcaeval` and",
        "ranked by RCAEval's own method, unmodified. Service-level accuracy, RCAEval's",
        "Evaluator; the services are `orders-api` and `orders-db`, so a ranking that",
        "always puts orders-api first already reaches AC@1 = 1 on every orders-api fault.",
        "",
        "| method | scenario | cases | AC@1 | AC@3 | Avg@5 |",
        "|---|---|---|---|---|---|",
    ]
    for (method, scenario), r in rows.items():
        lines.append(
            f"| {method} | `{scenario}` | {r['cases']} | {r['AC@1']:.2f} | {r['AC@3']:.2f} "
            f"| {r['Avg@5']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--out", type=Path, default=OUT)
    ns = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        text = table(results(Path(work)))
    ns.out.write_text(text, encoding="utf-8")
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
