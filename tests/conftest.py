"""Shared pytest wiring.

``@pytest.mark.realtools`` (optionally ``realtools("goaccess")``) marks a test that
runs a real binary. A missing binary skips the test locally but fails it under CI
(``CI`` set and not "0"/"false"), so CI can never go green without the tools.
"""

from __future__ import annotations

import pytest

from tests.ci import unavailable
from tests.realtools import REAL_TOOLS, missing_tools


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("realtools")
    if marker is None:
        return
    wanted = tuple(marker.args) or REAL_TOOLS
    missing = missing_tools(wanted)
    if not missing:
        return
    unavailable(f"real tool(s) not installed: {', '.join(missing)} (run scripts/bootstrap.sh)")
