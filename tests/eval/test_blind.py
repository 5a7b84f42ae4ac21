"""Blind exports leak nothing: not in names, not in the manifest, not in the streams."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from rca.eval.blind import blind_id, export_blind
from rca.eval.models import BlindManifest
from rca.eval.scoring import EvalInputError, load_truth
from rca.seed.mock_incident_generator import STREAM_FILES, GroundTruth
from tests.eval.conftest import SCENARIOS

# Aliases that state a diagnosis (rather than quoting a log line): they must never occur
# in a stream. Aliases such as "NullPointerException", "connection is not available" or
# "crashloopbackoff" are what the logs say - evidence, not labels - and are not listed.
DIAGNOSIS_ALIASES = (
    "db connection pool exhaustion",
    "connection pool exhausted",
    "connection pool exhaustion",
    "hikaricp pool exhausted",
    "hikari pool exhaustion",
    "pool size too small",
    "missing index",
    "slow query regression",
    "dropped index",
    "index dropped",
    "query plan regression",
    "bad deployment",
    "bad rollout",
    "bad api rollout",
    "faulty release",
    "regression in new version",
    "pod memory exhaustion",
    "memory leak",
    "memory limit exceeded",
    "restart loop",
)


def _label_tokens(truths: dict[str, GroundTruth]) -> set[str]:
    """Scenario ids, fault types (as ids and as words), incident root-cause sentences and
    diagnosis aliases, lower-cased."""
    tokens: set[str] = set()
    for t in truths.values():
        tokens.add(t.scenario_id)
        if t.fault_type != "none":
            tokens |= {t.fault_type, t.fault_type.replace("_", " ")}
        if t.incident:
            tokens.add(t.root_cause)
    tokens |= set(DIAGNOSIS_ALIASES)
    return {x.lower() for x in tokens}


def test_diagnosis_aliases_are_label_aliases(truths: dict[str, GroundTruth]) -> None:
    aliases = {a.lower() for t in truths.values() for a in t.root_cause_aliases}
    assert set(DIAGNOSIS_ALIASES) <= aliases


SALT = "test-salt"


@pytest.fixture(scope="module")
def blind_dirs(
    tmp_path_factory: pytest.TempPathFactory, bundles: dict[str, Path]
) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("blind")
    return {sid: export_blind(path, out, SALT) for sid, path in bundles.items()}


def test_no_label_token_in_any_stream(
    bundles: dict[str, Path], truths: dict[str, GroundTruth]
) -> None:
    tokens = _label_tokens(truths)
    leaks = []
    for sid, bundle in bundles.items():
        for name in STREAM_FILES.values():
            text = (bundle / name).read_text(encoding="utf-8").lower()
            leaks += [(sid, name, tok) for tok in sorted(tokens) if tok in text]
    assert leaks == []


def test_blind_export_holds_only_streams_and_a_neutral_manifest(
    blind_dirs: dict[str, Path], bundles: dict[str, Path], truths: dict[str, GroundTruth]
) -> None:
    tokens = _label_tokens(truths) | {t.bundle_id for t in truths.values()}
    tokens |= {"ground_truth", "scenario", "seed", "request", "threshold", "rca-mock", "mock-"}
    for sid, blind in blind_dirs.items():
        names = {p.name for p in blind.iterdir()}
        assert names == {*STREAM_FILES.values(), "manifest.json"}
        for part in (blind.name, *names):
            assert not any(tok in part.lower() for tok in tokens), part
        manifest_text = (blind / "manifest.json").read_text(encoding="utf-8")
        manifest = BlindManifest.model_validate_json(manifest_text)
        assert manifest.bundle_id == blind.name
        lowered = manifest_text.lower()
        assert not [tok for tok in tokens if tok in lowered]
        assert set(json.loads(manifest_text)) == {
            "schema_version",
            "kind",
            "bundle_id",
            "artifacts",
        }
        # What a reader needs to parse a file and check its copy; no count or size, which
        # alone would tell the scenarios apart.
        for entry in json.loads(manifest_text)["artifacts"]:
            assert set(entry) == {"file", "stream", "format", "sha256"}
        for art in manifest.artifacts:
            data = (blind / art.file).read_bytes()
            assert data == (bundles[sid] / art.file).read_bytes()
            assert hashlib.sha256(data).hexdigest() == art.sha256


def test_the_blind_manifest_says_the_same_for_every_scenario(
    blind_dirs: dict[str, Path],
) -> None:
    """Apart from the id and the checksums, which are unique to a bundle and so name no
    class, every scenario's blind manifest is the same: nothing in it (a count, a size)
    can be learnt to tell scenarios apart."""
    shapes, unique = set(), []
    for blind in blind_dirs.values():
        manifest = json.loads((blind / "manifest.json").read_text(encoding="utf-8"))
        unique.append(manifest.pop("bundle_id"))
        for art in manifest["artifacts"]:
            unique.append(art.pop("sha256"))
        shapes.add(json.dumps(manifest, sort_keys=True))
    assert len(shapes) == 1
    assert len(set(unique)) == len(unique)


def test_blind_ids_are_deterministic_opaque_and_salted(
    blind_dirs: dict[str, Path],
    truths: dict[str, GroundTruth],
    tmp_path: Path,
    bundles: dict[str, Path],
) -> None:
    ids = {sid: blind_id(truths[sid].bundle_id, SALT) for sid in SCENARIOS}
    assert {sid: p.name for sid, p in blind_dirs.items()} == ids
    assert len(set(ids.values())) == len(ids)
    salted = blind_id(truths["normal_load"].bundle_id, salt="secret")
    assert salted != ids["normal_load"]
    again = export_blind(bundles["normal_load"], tmp_path, salt="secret")
    assert again.name == salted
    # Re-exporting replaces the directory with identical content.
    second = export_blind(bundles["normal_load"], tmp_path, salt="secret")
    assert second == again and len(list(tmp_path.iterdir())) == 1


def test_a_blind_bundle_cannot_be_scored(blind_dirs: dict[str, Path]) -> None:
    with pytest.raises(EvalInputError, match="blind export"):
        load_truth(blind_dirs["normal_load"])


def test_export_refuses_a_modified_bundle(tmp_path: Path, bundles: dict[str, Path]) -> None:
    src = tmp_path / "copy"
    src.mkdir()
    for p in bundles["normal_load"].iterdir():
        (src / p.name).write_bytes(p.read_bytes())
    with (src / "k8s_events.log").open("a", encoding="utf-8") as f:
        f.write("tampered\n")
    with pytest.raises(EvalInputError, match="sha256"):
        export_blind(src, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
