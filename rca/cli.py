"""The ``rca-mock`` console script: every project command behind one entry point."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import interop, serve, viz
from .eval import cli as eval_cli
from .seed import mock_incident_generator as gen


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rca-mock",
        description="Deterministic, realistic mock incident bundles for evaluating RCA systems.",
        allow_abbrev=False,
    )
    gen.add_version(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    gen.add_commands(sub)
    eval_cli.add_commands(sub)
    viz.add_commands(sub)
    serve.add_commands(sub)
    interop.add_commands(sub)
    gen.forbid_abbreviations(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return gen.run_cli(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
