"""Evaluation of RCA brains against mock incident bundles.

* :mod:`rca.eval.scoring` - score one report against one bundle (the rules);
* :mod:`rca.eval.matching` - free-text root-cause matching (the rules);
* :mod:`rca.eval.evidence` - evidence refs checked against a bundle;
* :mod:`rca.eval.blind` - blind exports a system under test may see;
* :mod:`rca.eval.baselines` - trivial brains, the floors to beat;
* :mod:`rca.eval.suite` - many bundles at once (pandas);
* :mod:`rca.eval.schemas` - JSON Schemas of the report shapes and the result;
* :mod:`rca.eval.cli` - the ``rca-mock`` subcommands (``add_commands``).
"""

from __future__ import annotations

from .blind import blind_id, export_blind
from .models import (
    BlindKey,
    BlindManifest,
    BrainReport,
    EvaluationResult,
    Hypothesis,
    MinimalAnswer,
)
from .scoring import (
    BundleError,
    EvalInputError,
    ReportError,
    evaluate,
    load_report,
    parse_report,
    score_files,
)

__all__ = [
    "BlindKey",
    "BlindManifest",
    "BrainReport",
    "BundleError",
    "EvalInputError",
    "EvaluationResult",
    "Hypothesis",
    "MinimalAnswer",
    "ReportError",
    "blind_id",
    "evaluate",
    "export_blind",
    "load_report",
    "parse_report",
    "score_files",
]
