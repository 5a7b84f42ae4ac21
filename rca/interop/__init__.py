"""Bundles in the layouts of the field's own tools: ``rca-mock export --format FORMAT``.

- ``rcaeval`` (:mod:`.rcaeval`): an RCAEval case directory (``data.csv``,
  ``inject_time.txt``) that RCAEval's metric-based methods run on unmodified;
- ``otlp`` (:mod:`.otlp`): logs, metrics and traces as OTLP/JSON export requests.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

FORMATS = ("rcaeval", "otlp")


def _export(ns: argparse.Namespace) -> int:
    from rca.seed.mock_incident_generator import GenerationError, existing_bundle

    if ns.format not in FORMATS:
        raise GenerationError(
            "INVALID_PARAMETER",
            f"format={ns.format!r}; allowed: {', '.join(FORMATS)}",
            field="format",
        )
    bundle = existing_bundle(ns.bundle)
    if ns.format == "otlp":
        from .otlp import export_otlp

        print(export_otlp(bundle, Path(ns.out)))
        return 0
    from .rcaeval import export_rcaeval

    print(export_rcaeval(bundle, Path(ns.out)))
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("export", help="write a bundle in another tool's layout (rcaeval, otlp)")
    p.add_argument("--format", required=True, help=" | ".join(FORMATS))
    p.add_argument("bundle")
    p.add_argument("out", help="directory to write the case into (as OUT/<bundle id>/)")
    p.set_defaults(func=_export)
