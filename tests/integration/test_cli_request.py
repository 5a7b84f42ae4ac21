"""The generator's CLI turns every request flag into the request it generates.

Each optional flag gets a value other than its default, so a flag the CLI drops (or
mistranslates) on its way to the request shows as a default in the written bundle.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from rca.seed.mock_incident_generator import GenerationRequest
from tests.integration.conftest import cli_args, request_for, run_cli
from tests.integration.logs import Bundle

# normal_load: no scenario event adds or replaces pods, so the pods are the replicas.
FLAGS: dict[str, Any] = request_for(
    "normal_load",
    duration_minutes=20,
    resolution_seconds=30,
    noise_profile="high",
    threshold=0.55,
    threshold_override=0.85,
    api_replicas=5,
    difficulty="hard",
    modalities="logs,metrics",
)


@pytest.fixture(scope="module")
def cli_bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    out = tmp_path_factory.mktemp("cli")
    proc = run_cli("generate", *cli_args(FLAGS), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip())
    assert path.parent == out
    return Bundle("normal_load", path)


def test_every_flag_differs_from_its_default() -> None:
    required = ("scenario", "seed", "time_anchor")
    defaults = GenerationRequest(**{f: FLAGS[f] for f in required}).model_dump()
    given = GenerationRequest(**FLAGS).model_dump()
    optional = set(GenerationRequest.model_fields) - set(required)
    assert {f for f in optional if given[f] == defaults[f]} == set()
    assert set(FLAGS) == set(GenerationRequest.model_fields)


def test_the_manifest_records_the_request_the_flags_gave(cli_bundle: Bundle) -> None:
    expected = GenerationRequest(**FLAGS).model_dump(mode="json")
    assert cli_bundle.manifest["request"] == expected
    assert expected["api_replicas"] == 5 and expected["noise_profile"] == "high"


def test_the_label_carries_both_thresholds(cli_bundle: Bundle) -> None:
    assert cli_bundle.truth["threshold_default"] == FLAGS["threshold"]
    assert cli_bundle.truth["threshold_override"] == FLAGS["threshold_override"]


def test_the_window_is_the_duration_given(cli_bundle: Bundle) -> None:
    start, end = cli_bundle.window
    assert end - start == timedelta(minutes=FLAGS["duration_minutes"])


def test_the_api_stream_has_one_pod_per_replica(cli_bundle: Bundle) -> None:
    pods = {p for p in cli_bundle.api_pods if p.startswith("orders-api-")}
    assert pods == cli_bundle.api_pods
    assert len(pods) == FLAGS["api_replicas"]
    # and every replica serves requests, not only logs housekeeping
    assert {a.event.pod for a in cli_bundle.api_access} == pods


def test_the_bundle_validates(cli_bundle: Bundle) -> None:
    proc = run_cli("validate", str(cli_bundle.path))
    assert proc.returncode == 0, proc.stderr
