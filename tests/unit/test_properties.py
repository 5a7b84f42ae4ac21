"""Laws that hold for every request, not only the fixtures': any seed, any scenario, any
anchor gives a bundle that validates, and the same request gives the same bytes."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rca.seed.mock_incident_generator import generate_bundle, list_scenarios, validate

SCENARIOS = sorted(list_scenarios())

anchors = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2099, 12, 31),
    timezones=st.just(UTC),
).map(lambda d: d.replace(microsecond=0).isoformat().replace("+00:00", "Z"))


def _files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    scenario=st.sampled_from(SCENARIOS),
    seed=st.integers(min_value=0, max_value=2**63 - 1),
    anchor=anchors,
    noise=st.sampled_from(["low", "medium", "high"]),
)
def test_any_request_gives_a_valid_and_repeatable_bundle(
    scenario: str, seed: int, anchor: str, noise: str
) -> None:
    request = {
        "scenario": scenario,
        "seed": seed,
        "time_anchor": anchor,
        "duration_minutes": 15,
        "rps": 1.0,
        "noise_profile": noise,
    }
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        first = generate_bundle(request, a)
        second = generate_bundle(request, b)

        assert validate(first) == []
        assert first.name == second.name
        assert _files(first) == _files(second)
        # Nothing but the bundle is left in the output directory.
        assert [p.name for p in Path(a).iterdir()] == [first.name]
