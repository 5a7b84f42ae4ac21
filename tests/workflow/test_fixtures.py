"""The committed fixtures (tests/fixtures/mock_incidents) agree with config/scenarios.yaml.

Byte-for-byte reproducibility is `snakemake determinism_check`'s job (run by .ci/run);
these checks are the cheap ones: the right bundles, valid, within the size budget.
"""

from __future__ import annotations

import json

from rca.config import fixture_index, load_config
from rca.seed.mock_incident_generator import validate
from tests.workflow.helpers import FIXTURES, ROOT

BUDGET_BYTES = 25_000_000  # all committed fixtures together
ROOT_FIXTURES = ROOT / "tests" / "fixtures"


def test_index_matches_the_configuration() -> None:
    bundles = load_config(ROOT / "config" / "scenarios.yaml").bundles()
    index = (ROOT / FIXTURES / "index.json").read_text()
    assert index == fixture_index(bundles, FIXTURES)
    on_disk = {p.name for p in (ROOT / FIXTURES).iterdir() if p.is_dir()}
    assert on_disk == {b.bundle_id for b in bundles}


def test_every_committed_bundle_validates() -> None:
    entries = json.loads((ROOT / FIXTURES / "index.json").read_text())["bundles"]
    for entry in entries.values():
        assert validate(ROOT / entry["path"]) == [], entry["path"]


def test_fixtures_fit_the_size_budget() -> None:
    total = sum(p.stat().st_size for p in ROOT_FIXTURES.rglob("*") if p.is_file())
    assert total < BUDGET_BYTES, f"{total / 1e6:.1f} MB of fixtures; the budget is 25 MB"
