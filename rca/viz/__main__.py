"""``python -m rca.viz plot|summarize``: the viz commands alone (no pandas import), for
workflow jobs where start-up time counts."""

from __future__ import annotations

import argparse
import sys

from ..seed.mock_incident_generator import run_cli
from ._commands import add_commands


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m rca.viz")
    add_commands(parser.add_subparsers(dest="command", metavar="COMMAND"))
    return run_cli(parser, None)


if __name__ == "__main__":
    sys.exit(main())
