"""``plot`` and ``summarize`` subcommands of the ``rca-mock`` console script."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _bundle(text: str) -> Path:
    """The bundle directory named on the command line; a clear error if it is not one."""
    from ..seed.mock_incident_generator import existing_bundle

    return existing_bundle(text)


def _warner(bundle: str) -> Callable[[str], None]:
    """Warnings go to stderr, so stdout stays the result (a path, the summary)."""

    def warn(text: str) -> None:
        print(f"warning: {bundle}: {text}", file=sys.stderr)

    return warn


def _plot(ns: argparse.Namespace) -> int:
    from .plot import render

    bundle = _bundle(ns.bundle)
    if ns.out:
        out = Path(ns.out)
    else:
        # Resolved first: `plot .` (or `dir/..`) has no usable name of its own.
        where = bundle.resolve()
        out = where.parent / f"{where.name}.png"
    print(render(bundle, out.resolve(), _warner(ns.bundle)))
    return 0


def _summarize(ns: argparse.Namespace) -> int:
    from .summary import summarize

    print(summarize(_bundle(ns.bundle), warn=_warner(ns.bundle)))
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("plot", help="write a PNG timeline of a bundle (1600x900)")
    p.add_argument("bundle")
    p.add_argument("--out", help="PNG path (default: <bundle>.png beside the bundle)")
    p.set_defaults(func=_plot)
    s = sub.add_parser("summarize", help="print a terminal summary of a bundle")
    s.add_argument("bundle")
    s.set_defaults(func=_summarize)
