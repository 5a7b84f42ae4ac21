"""A bad request is refused with a stable code, names its field and the allowed values,
and writes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rca.seed.mock_incident_generator import (
    GenerationError,
    bundle_id_for,
    generate_bundle,
    generate_stream,
    list_scenarios,
    make_request,
)

GOOD: dict[str, Any] = {
    "scenario": "normal_load",
    "seed": 42,
    "time_anchor": "2026-11-26T05:00:00Z",
    "duration_minutes": 15,
    "rps": 1.0,
}

# id -> (override, code, field, texts the message must contain)
BAD: dict[str, tuple[dict[str, Any], str, str, tuple[str, ...]]] = {
    "unknown-scenario": (
        {"scenario": "disk_full"},
        "INVALID_SCENARIO",
        "scenario",
        ("'disk_full'", *sorted(list_scenarios())),
    ),
    "duration-5": ({"duration_minutes": 5}, "INVALID_PARAMETER", "duration_minutes", ("15..1440",)),
    "threshold-1.5": ({"threshold": 1.5}, "INVALID_PARAMETER", "threshold", ("0.0..1.0",)),
    "override-negative": (
        {"threshold_override": -0.1},
        "INVALID_PARAMETER",
        "threshold_override",
        ("0.0..1.0",),
    ),
    "anchor-yesterday": (
        {"time_anchor": "yesterday"},
        "INVALID_PARAMETER",
        "time_anchor",
        ("'yesterday'", "RFC 3339", "2026-11-26T05:00:00Z"),
    ),
    "anchor-naive": (
        {"time_anchor": "2026-11-26T05:00:00"},
        "INVALID_PARAMETER",
        "time_anchor",
        ("offset", "2026-11-26T05:00:00Z"),
    ),
    "anchor-date-only": (
        {"time_anchor": "2026-11-26"},
        "INVALID_PARAMETER",
        "time_anchor",
        ("RFC 3339",),
    ),
    "unknown-field": (
        {"colour": "blue"},
        "INVALID_PARAMETER",
        "colour",
        ("unknown field", "scenario", "seed", "time_anchor", "duration_minutes", "rps"),
    ),
    "noise-profile": (
        {"noise_profile": "loud"},
        "INVALID_PARAMETER",
        "noise_profile",
        ("'low'", "'medium'", "'high'"),
    ),
    "negative-seed": ({"seed": -1}, "INVALID_PARAMETER", "seed", ("0..",)),
    "zero-rps": ({"rps": 0}, "INVALID_PARAMETER", "rps", ("rps",)),
    "one-replica": ({"api_replicas": 1}, "INVALID_PARAMETER", "api_replicas", ("2..12",)),
}


@pytest.mark.parametrize(("override", "code", "field", "needles"), BAD.values(), ids=BAD.keys())
def test_bad_request_is_refused_with_code_field_and_allowed_values(
    override: dict[str, Any], code: str, field: str, needles: tuple[str, ...]
) -> None:
    with pytest.raises(GenerationError) as info:
        make_request(**{**GOOD, **override})

    err = info.value
    assert err.code == code
    assert err.field == field
    message = str(err)
    assert message.startswith(f"{code}: {field}")
    for needle in needles:
        assert needle in message, message


@pytest.mark.parametrize(("override", "code", "field", "needles"), BAD.values(), ids=BAD.keys())
def test_bad_request_writes_nothing(
    tmp_path: Path, override: dict[str, Any], code: str, field: str, needles: tuple[str, ...]
) -> None:
    out = tmp_path / "out"
    out.mkdir()

    with pytest.raises(GenerationError) as info:
        generate_bundle({**GOOD, **override}, out)
    assert info.value.code == code
    with pytest.raises(GenerationError):
        generate_stream({**GOOD, **override}, "ui", out / "ui_events.log")
    with pytest.raises(GenerationError):
        bundle_id_for({**GOOD, **override})

    assert list(out.iterdir()) == []


def test_unknown_stream_is_refused_naming_the_streams(tmp_path: Path) -> None:
    with pytest.raises(GenerationError) as info:
        generate_stream(GOOD, "syslog", tmp_path / "x.log")

    assert info.value.code == "INVALID_OUTPUT_FORMAT"
    assert info.value.field == "stream"
    for name in ("ui", "api", "db", "k8s", "mesh"):
        assert name in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_the_same_instant_in_another_offset_is_the_same_request() -> None:
    utc = make_request(**GOOD)
    paris = make_request(**{**GOOD, "time_anchor": "2026-11-26T06:00:00+01:00"})
    assert utc == paris
    assert utc.time_anchor.isoformat() == "2026-11-26T05:00:00+00:00"
