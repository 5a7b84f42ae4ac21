"""``plot`` and ``summarize`` subcommands of the ``rca-mock`` console script."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _plot(ns: argparse.Namespace) -> int:
    from .plot import render

    out = Path(ns.out) if ns.out else Path(ns.bundle) / ".." / f"{Path(ns.bundle).name}.png"
    print(render(Path(ns.bundle), out.resolve()))
    return 0


def _summarize(ns: argparse.Namespace) -> int:
    from .summary import summarize

    print(summarize(Path(ns.bundle)))
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("plot", help="write a PNG timeline of a bundle (1600x900)")
    p.add_argument("bundle")
    p.add_argument("--out", help="PNG path (default: <bundle>.png beside the bundle)")
    p.set_defaults(func=_plot)
    s = sub.add_parser("summarize", help="print a terminal summary of a bundle")
    s.add_argument("bundle")
    s.set_defaults(func=_summarize)
