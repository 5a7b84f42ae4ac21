"""Every request field is declared once, in the model, and reaches every layer.

The tests iterate ``GenerationRequest.model_fields``: a field is covered the moment it
is declared (``request_field(role=..., example=...)`` in ``rca/seed/_models.py``), and
one that a layer ignores fails here. Each field, set to its declared example on top of
a tiny request (15 minutes, 1 request/s):

- its CLI flag reaches the request (the manifest written by ``generate`` holds it) and
  gives the bundle a new id;
- a STREAM field changes at least one stream's bytes; a LABEL field changes the label
  and no stream's byte;
- the workflow config accepts it (in a scenario entry; ``scenario`` is the entry's key),
  and the workflow's job params (``Bundle.cli_args``) and request files
  (``request_text``) carry it, a LABEL field only to the label and manifest jobs;
- the suite file accepts it: as an override in a suite's ``request``, or, for a field
  declared with a ``suite_axis``, in that axis.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from rca.config import ENTRY_KEY, Bundle, parse_config, request_text
from rca.seed import mock_incident_generator as gen
from rca.seed.mock_incident_generator import (
    GROUND_TRUTH_FILE,
    MANIFEST_FILE,
    STREAM_FILES,
    SUITE_AXES,
    FieldRole,
    GenerationRequest,
    bundle_id_for,
    field_example,
    field_role,
)
from rca.seed.scenarios import v0_ids
from rca.suites import parse_suites
from tests.workflow.helpers import parsed_cli

# The smallest useful request: every scenario's incident shows at it (preflight agrees).
TINY: dict[str, Any] = {
    "scenario": "normal_load",
    "seed": 1,
    "time_anchor": "2026-06-01T12:00:00Z",
    "duration_minutes": 15,
    "rps": 1.0,
}
FIELDS = list(GenerationRequest.model_fields)


def example(field: str) -> Any:
    return field_example(field)


def fields_with(field: str) -> dict[str, Any]:
    """The tiny request's fields with ``field`` set to its example."""
    return {**TINY, field: example(field)}


def flags(fields: dict[str, Any]) -> list[str]:
    return [a for name, v in fields.items() for a in (gen._flag(name), str(v))]


def cli_bundle(fields: dict[str, Any], out: Path) -> Path:
    """The bundle the generator's CLI writes for these fields."""
    assert gen.main(["generate", *flags(fields), "--out", str(out)]) == 0
    (bundle,) = out.iterdir()
    return bundle


def digests(bundle: Path) -> dict[str, str]:
    """sha256 of each stream file, and of the label less its bundle id (which every
    field changes: a LABEL field must change what the label says)."""
    found = {
        name: hashlib.sha256((bundle / name).read_bytes()).hexdigest()
        for name in STREAM_FILES.values()
    }
    label = json.loads((bundle / GROUND_TRUTH_FILE).read_text())
    assert label.pop("bundle_id") == bundle.name
    found[GROUND_TRUTH_FILE] = hashlib.sha256(json.dumps(label).encode()).hexdigest()
    return found


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cli_bundle(TINY, tmp_path_factory.mktemp("tiny"))


@pytest.mark.parametrize("field", FIELDS)
def test_the_example_is_valid_and_differs_from_the_tiny_request(field: str) -> None:
    varied = gen.preflight(GenerationRequest(**fields_with(field)))
    assert getattr(varied, field) != getattr(GenerationRequest(**TINY), field), (
        f"{field}: its example equals the tiny request's value; declare another"
    )


@pytest.mark.parametrize("field", FIELDS)
def test_the_flag_reaches_the_bundle_and_its_role_holds(
    field: str, tiny_bundle: Path, tmp_path: Path
) -> None:
    expected = GenerationRequest(**fields_with(field))
    bundle = cli_bundle(fields_with(field), tmp_path)
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    assert GenerationRequest.model_validate(manifest["request"]) == expected
    assert bundle.name == bundle_id_for(expected) != tiny_bundle.name

    before, after = digests(tiny_bundle), digests(bundle)
    changed = sorted(name for name in before if before[name] != after[name])
    streams = set(STREAM_FILES.values())
    if field_role(field) is FieldRole.STREAM:
        assert streams & set(changed), f"{field} is a STREAM field but changed no stream"
    elif field_role(field) is FieldRole.FILES:
        # Which files the bundle holds: more of them, and no byte of the others changed.
        assert changed == [], f"{field} is a FILES field but changed {changed}"
        extra = {p.name for p in bundle.iterdir()} - {p.name for p in tiny_bundle.iterdir()}
        assert extra, f"{field} is a FILES field but added no file"
        listed = {a["file"] for a in manifest["artifacts"]}
        assert extra <= listed, f"{field}: the manifest does not list {extra - listed}"
    else:
        assert changed == [GROUND_TRUTH_FILE], (
            f"{field} is a LABEL field: it must change {GROUND_TRUTH_FILE} and nothing else; "
            f"changed: {changed}"
        )


def tiny_config(field: str) -> dict[str, Any]:
    """A workflow config of the tiny request with ``field`` set in one entry."""
    entries: dict[str, dict[str, Any]] = {sid: {} for sid in v0_ids()}
    if field != ENTRY_KEY:
        entries[TINY[ENTRY_KEY]] = {field: example(field)}
    defaults = {k: v for k, v in TINY.items() if k != ENTRY_KEY}
    return {"defaults": defaults, "scenarios": entries}


@pytest.mark.parametrize("field", FIELDS)
def test_the_config_accepts_it_and_the_jobs_params_carry_it(field: str) -> None:
    sid = example(field) if field == ENTRY_KEY else TINY[ENTRY_KEY]
    request = parse_config(tiny_config(field)).requests()[sid]
    assert request == GenerationRequest(**fields_with(field))

    bundle = Bundle(bundle_id_for(request), sid, request)
    assert parsed_cli(bundle.cli_args(label_fields=True)) == request
    stream_params = bundle.cli_args(label_fields=False)
    assert (gen._flag(field) in stream_params) is (field_role(field) is FieldRole.STREAM)
    # The jobs' request files (the workflow's inputs): the whole request for the label and
    # manifest jobs, the stream jobs' without the LABEL fields.
    whole = json.loads(request_text(bundle, label_fields=True))["request"]
    assert GenerationRequest.model_validate(whole) == request
    stream_file = json.loads(request_text(bundle, label_fields=False))["request"]
    assert (field in stream_file) is (field_role(field) is FieldRole.STREAM)


@pytest.mark.parametrize("field", FIELDS)
def test_a_suite_accepts_it_as_an_override_or_an_axis(field: str) -> None:
    axes: dict[str, list[Any]] = {
        "scenarios": [TINY["scenario"]],
        "seeds": [TINY["seed"]],
        "noise_profiles": ["medium"],
    }
    request: dict[str, Any] = {k: v for k, v in TINY.items() if k not in SUITE_AXES}
    if field in SUITE_AXES:
        axes[SUITE_AXES[field]] = [example(field)]
    else:
        request[field] = example(field)
    suites = parse_suites({"suites": {"t": {**axes, "request": request}}})
    (bundle,) = suites.bundles("t")
    assert bundle.request == GenerationRequest(**fields_with(field))
    assert parsed_cli(bundle.cli_args()) == bundle.request


@pytest.mark.parametrize("field", FIELDS)
def test_the_canonical_request_round_trips(field: str) -> None:
    # What the manifest records is enough to rebuild the request (validate regenerates).
    req = GenerationRequest(**fields_with(field))
    assert GenerationRequest.model_validate(req.canonical()) == req


def test_a_field_added_later_changes_no_id_at_its_default() -> None:
    # A field declared with omit_default (every field added after v0: modifiers,
    # modalities) is absent from the canonical request at its default, so existing
    # bundle ids and manifests stay as they were; set, it gives a new id.
    from pydantic import create_model

    from rca.seed._models import request_field

    later = create_model(
        "LaterRequest",
        __base__=GenerationRequest,
        modifier=(
            float,
            request_field(0.0, role=FieldRole.STREAM, example=1.0, omit_default=True),
        ),
    )
    old = GenerationRequest(**TINY)
    assert later(**TINY).canonical() == old.canonical()
    assert bundle_id_for(later(**TINY)) == bundle_id_for(old)
    set_ = later(**{**TINY, "modifier": 1.0})
    assert set_.canonical() == {**old.canonical(), "modifier": 1.0}
    assert bundle_id_for(set_) != bundle_id_for(old)
    from rca.seed._bundle import build_manifest, dump_json

    manifest = json.loads(dump_json(build_manifest(later(**TINY), [])))
    assert "modifier" not in manifest["request"]
    assert json.loads(dump_json(build_manifest(set_, [])))["request"]["modifier"] == 1.0
