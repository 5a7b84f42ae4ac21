"""Thin entry point: ``.venv/bin/python scripts/bench.py [args]`` == ``python -m benchmarks``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import main

if __name__ == "__main__":
    sys.exit(main())
