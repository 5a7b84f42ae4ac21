"""Session-wide bundles: each of the five scenarios is generated once and shared.

Every test reads these bundles; nothing may modify them (tests that tamper with a bundle
copy it into their own ``tmp_path`` first).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from rca.seed import _parallel
from rca.seed.mock_incident_generator import generate_bundle
from tests.integration.logs import FAILURES, SCENARIOS, Bundle
from tests.realtools import PgBadgerResult, missing_tools, pgbadger_parse

ROOT = Path(__file__).resolve().parents[2]

SEED = 42
ANCHOR = "2026-11-26T05:00:00Z"
DURATION = 30
RPS = 2.5


def request_for(scenario: str, **override: Any) -> dict[str, Any]:
    """The session's request for ``scenario`` (30 min from the anchor, seed 42, 2.5 rps)."""
    fields: dict[str, Any] = {
        "scenario": scenario,
        "seed": SEED,
        "time_anchor": ANCHOR,
        "duration_minutes": DURATION,
        "rps": RPS,
    }
    fields.update(override)
    return fields


def cli_args(fields: dict[str, Any]) -> list[str]:
    """The generator's CLI flags for a request dict."""
    args = []
    for key, value in fields.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def run_cli(
    *args: str, cwd: Path = ROOT, prefix: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """``python -m rca.seed.mock_incident_generator ARGS`` in a fresh interpreter.

    ``prefix`` runs it under another command (e.g. ``setpriv ... --``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "rca.seed.mock_incident_generator", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Bundle]:
    out = tmp_path_factory.mktemp("bundles")
    return {s: Bundle(s, generate_bundle(request_for(s), out)) for s in SCENARIOS}


@pytest.fixture(params=SCENARIOS)
def bundle(request: pytest.FixtureRequest, bundles: dict[str, Bundle]) -> Bundle:
    return bundles[request.param]


@pytest.fixture(params=FAILURES)
def failure(request: pytest.FixtureRequest, bundles: dict[str, Bundle]) -> Bundle:
    return bundles[request.param]


@pytest.fixture(scope="session")
def pgbadger_results(bundles: dict[str, Bundle]) -> dict[str, PgBadgerResult]:
    """pgBadger's reading of each bundle's PostgreSQL log, all five runs side by side
    (each costs ~2 s of Perl start-up)."""
    if missing_tools(("pgbadger",)):
        return {}  # the realtools marker skips (or fails, under CI) the tests using this
    with ThreadPoolExecutor(max_workers=len(bundles)) as pool:
        futures = {
            s: pool.submit(pgbadger_parse, b.path / "db_events.log") for s, b in bundles.items()
        }
    return {s: f.result() for s, f in futures.items()}


@pytest.fixture
def worker_pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of worker processes of every pool a bundle starts (proof workers ran).

    ``render_streams`` quietly renders in one process when it may not fork, so a test of
    the worker path asserts on this list rather than trusting the request.
    """
    started: list[int] = []
    real = _parallel.WorkerPool

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, req: Any, groups: Sequence[Any], dir_fd: int) -> None:
            started.append(len(groups))
            super().__init__(req, groups, dir_fd)

    monkeypatch.setattr(_parallel, "WorkerPool", Counting)
    return started
