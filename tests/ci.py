"""What a test does when something it needs is missing: skip here, fail under CI.

CI (``CI`` set and not "0"/"false"/"no") must never go green by skipping the checks that
need a real tool or a second interpreter.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> NoReturn:
    """Skip the test locally; fail it under CI."""
    if in_ci():
        pytest.fail(f"{reason}; CI must have it", pytrace=False)
    pytest.skip(reason)
