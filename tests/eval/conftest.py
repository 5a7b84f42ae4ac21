"""Bundles for the evaluation tests, generated once per session through the library.

Seed 42 at rps 2: every scenario with a clear incident, small enough to generate in a
couple of seconds. ``committed`` is the other set: the committed fixture bundles, one per v0 scenario
(``tests/fixtures/mock_incidents``), which the README's pinned numbers describe.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rca.eval.blind import SALT_ENV
from rca.seed import scenarios
from rca.seed.mock_incident_generator import GroundTruth, generate_bundle

SEED = 42
ANCHOR = "2026-11-26T05:00:00Z"
RPS = 2.0
# From the registry: every scenario is generated; the committed fixtures are the v0 ones.
SCENARIOS = tuple(scenarios.scenario_ids())
FAILURE_SCENARIOS = tuple(scenarios.incident_ids())
V0_SCENARIOS = tuple(scenarios.v0_ids())
REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES_DIR = REPO_ROOT / "tests" / "fixtures" / "mock_incidents"


@pytest.fixture(autouse=True)
def _no_salt_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's $RCA_BLIND_SALT must not decide which blind ids the tests see."""
    monkeypatch.delenv(SALT_ENV, raising=False)


@pytest.fixture(scope="session")
def suite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every registered scenario once, seed 42, 30 minutes."""
    root = tmp_path_factory.mktemp("suite")
    for sid in SCENARIOS:
        generate_bundle({"scenario": sid, "seed": SEED, "time_anchor": ANCHOR, "rps": RPS}, root)
    return root


@pytest.fixture(scope="session")
def bundles(suite_dir: Path) -> dict[str, Path]:
    """Scenario id -> bundle directory."""
    out: dict[str, Path] = {}
    # Bundles only: the suite may also hold the blind key file export-blind writes.
    for label in sorted(suite_dir.glob("*/ground_truth.json")):
        truth = GroundTruth.model_validate_json(label.read_bytes())
        out[truth.scenario_id] = label.parent
    assert set(out) == set(SCENARIOS)
    return out


@pytest.fixture(scope="session")
def committed() -> dict[str, Path]:
    """Scenario id -> committed fixture bundle (from the fixtures' index.json)."""
    index = json.loads((FIXTURES_DIR / "index.json").read_text(encoding="utf-8"))
    out = {
        str(entry["scenario"]): FIXTURES_DIR / bundle_id
        for bundle_id, entry in index["bundles"].items()
    }
    assert sorted(out) == sorted(V0_SCENARIOS)
    return out


@pytest.fixture(scope="session")
def truths(bundles: dict[str, Path]) -> dict[str, GroundTruth]:
    return {
        sid: GroundTruth.model_validate_json((p / "ground_truth.json").read_bytes())
        for sid, p in bundles.items()
    }


@pytest.fixture(scope="session")
def override_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle whose label carries threshold_default 0.5 and threshold_override 0.9."""
    root = tmp_path_factory.mktemp("override")
    return generate_bundle(
        {
            "scenario": "bad_api_rollout",
            "seed": SEED,
            "time_anchor": ANCHOR,
            "rps": RPS,
            "threshold": 0.5,
            "threshold_override": 0.9,
        },
        root,
    )
