"""The one thing pyproject.toml cannot declare stably: the compiled simulation core.

rca/seed/_simcore.c is the simulation's main loop in C; rca/seed/_sim.py is its reference
and its fallback, with the same output bytes (tests/unit/test_simcore.py). The extension
is optional: without a C compiler the install still succeeds and the generator runs the
Python engine, slower. Everything else about the package is in pyproject.toml.
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup

SOURCE = "rca/seed/_simcore.c"
# Built into the module: _sim.py refuses a build whose source has changed since (stale).
SOURCE_SHA256 = hashlib.sha256((Path(__file__).parent / SOURCE).read_bytes()).hexdigest()

setup(
    ext_modules=[
        Extension(
            "rca.seed._simcore",
            sources=[SOURCE],
            optional=True,
            define_macros=[("SIMCORE_SOURCE_SHA256", f'"{SOURCE_SHA256}"')],
            # Floating point exactly as CPython computes it: the draws must match bit for bit.
            extra_compile_args=["-O2", "-fno-fast-math", "-ffp-contract=off"],
        )
    ]
)
