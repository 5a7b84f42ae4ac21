"""The bundle id names the whole request: any field that changes a byte changes the id.

Issue 17 item 10: the id came from (scenario, seed, time anchor) only, so a request with
another rps, duration, noise profile, threshold or replica count silently replaced a
bundle under the same ``--out``. The alternative values are derived from the model's own
field types and bounds, so a field added to ``GenerationRequest`` is covered (or this test
says it cannot vary it) without editing a list here.
"""

from __future__ import annotations

import types
import typing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import annotated_types
import pytest
from pydantic.fields import FieldInfo

from rca.seed import scenarios
from rca.seed.mock_incident_generator import (
    GenerationRequest,
    bundle_id_for,
    field_example,
    generate_bundle,
    validate,
)

BASE = GenerationRequest.model_validate(
    {"scenario": "normal_load", "seed": 42, "time_anchor": "2026-11-26T05:00:00Z"}
)


def _bounds(info: FieldInfo, annotation: Any) -> tuple[float | None, float | None]:
    metadata = list(info.metadata)
    for arg in typing.get_args(annotation)[1:]:  # Annotated[float, Field(ge=..)]
        metadata += list(getattr(arg, "metadata", [arg]))
    low = high = None
    for m in metadata:
        if isinstance(m, annotated_types.Ge | annotated_types.Gt):
            low = float(m.ge if isinstance(m, annotated_types.Ge) else m.gt)  # type: ignore[arg-type]
        if isinstance(m, annotated_types.Le | annotated_types.Lt):
            high = float(m.le if isinstance(m, annotated_types.Le) else m.lt)  # type: ignore[arg-type]
    return low, high


def another_value(name: str, current: Any) -> Any:
    """A valid value of field ``name`` other than ``current``, read off the model."""
    if name == "scenario":
        return next(s for s in scenarios.scenario_ids() if s != current)
    info = GenerationRequest.model_fields[name]
    annotation = info.annotation
    options = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        if current is None:  # Optional[X]: any value of X
            annotation = next(a for a in options if a is not type(None))
            return _other_of_type(name, info, annotation, None)
        return None
    return _other_of_type(name, info, annotation, current)


def _other_of_type(name: str, info: FieldInfo, annotation: Any, current: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return next(v for v in typing.get_args(annotation) if v != current)
    base = typing.get_args(annotation)[0] if origin is typing.Annotated else annotation
    if base is datetime:
        return current + timedelta(hours=1)
    low, high = _bounds(info, annotation)
    if base is int:
        value = (current if current is not None else int(low or 0)) + 1
        return value if high is None or value <= high else value - 2
    if base is float:
        mid = ((low or 0.0) + (high if high is not None else 2 * (low or 1.0))) / 2
        value = mid if current is None else current * 0.75
        return value
    if field_example(name) != current:  # e.g. a text field: its declared example
        return field_example(name)
    raise AssertionError(f"{name}: no rule to vary a {annotation!r}; teach another_value")


@pytest.mark.parametrize("name", list(GenerationRequest.model_fields))
def test_every_request_field_changes_the_bundle_id(name: str) -> None:
    fields = BASE.model_dump()
    fields[name] = another_value(name, fields[name])
    varied = GenerationRequest(**fields)  # still a valid request
    assert varied.model_dump()[name] != BASE.model_dump()[name]
    assert bundle_id_for(varied) != bundle_id_for(BASE), name


def test_the_same_instant_in_another_offset_is_the_same_request() -> None:
    shifted = BASE.model_dump() | {"time_anchor": "2026-11-26T06:00:00+01:00"}
    assert bundle_id_for(shifted) == bundle_id_for(BASE)


def test_requests_differing_only_in_rps_get_two_bundles(tmp_path: Path) -> None:
    """The user-visible defect: the second request replaced the first bundle."""
    small = BASE.model_dump() | {"duration_minutes": 15, "rps": 0.5}
    paths = {generate_bundle(small | {"rps": rps}, tmp_path) for rps in (0.5, 0.6)}
    assert len(paths) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    for p in paths:
        assert validate(p) == []
