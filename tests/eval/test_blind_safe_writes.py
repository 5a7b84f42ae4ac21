"""export-blind writes as the generator does: no predictable temp name, no symlink followed.

Before, the copy was staged at ``OUT/.<blind_id>.partial-<pid>``: a symlink planted there
(the pid is guessable) redirected the export, and a stream replaced by a symlink in the
source bundle was copied from wherever it pointed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from rca.eval.blind import blind_id, export_blind
from rca.eval.scoring import BundleError, EvalInputError
from rca.seed.mock_incident_generator import MANIFEST_FILE, STREAM_FILES


def _entries(path: Path) -> list[str]:
    return sorted(os.listdir(path))


def test_a_symlink_at_the_old_predictable_name_is_never_followed(
    committed: dict[str, Path], tmp_path: Path
) -> None:
    bundle = committed["normal_load"]
    out = tmp_path / "out"
    out.mkdir()
    victim_dir = tmp_path / "victim"
    victim_dir.mkdir()
    bid = blind_id(bundle.name, "s")
    (out / f".{bid}.partial-{os.getpid()}").symlink_to(victim_dir)
    final = export_blind(bundle, out, "s")
    assert final == out / bid and final.is_dir() and not final.is_symlink()
    assert _entries(victim_dir) == []
    assert _entries(final) == sorted([*STREAM_FILES.values(), MANIFEST_FILE])
    # Only the planted link and the export: no partial left behind.
    assert _entries(out) == sorted([bid, f".{bid}.partial-{os.getpid()}"])


def test_a_symlink_at_the_final_name_is_refused_and_left_alone(
    committed: dict[str, Path], tmp_path: Path
) -> None:
    bundle = committed["normal_load"]
    out = tmp_path / "out"
    out.mkdir()
    victim_dir = tmp_path / "victim"
    victim_dir.mkdir()
    link = out / blind_id(bundle.name, "s")
    link.symlink_to(victim_dir)
    with pytest.raises(EvalInputError, match="not a directory"):
        export_blind(bundle, out, "s")
    assert link.is_symlink() and _entries(victim_dir) == []
    assert _entries(out) == [link.name]


def test_a_stream_replaced_by_a_symlink_is_not_copied(
    committed: dict[str, Path], tmp_path: Path
) -> None:
    bundle = tmp_path / "b" / committed["normal_load"].name
    shutil.copytree(committed["normal_load"], bundle)
    secret = tmp_path / "secret.log"
    secret.write_bytes((bundle / STREAM_FILES["db"]).read_bytes())  # same sha: a perfect fake
    (bundle / STREAM_FILES["db"]).unlink()
    (bundle / STREAM_FILES["db"]).symlink_to(secret)
    out = tmp_path / "out"
    with pytest.raises(BundleError, match="symlink"):
        export_blind(bundle, out, "s")
    assert _entries(out) == []  # nothing half-written


def test_reexport_replaces_the_older_copy(committed: dict[str, Path], tmp_path: Path) -> None:
    bundle = committed["normal_load"]
    first = export_blind(bundle, tmp_path, "s")
    (first / "stray").write_text("x")
    second = export_blind(bundle, tmp_path, "s")
    assert second == first and "stray" not in _entries(second)
    assert _entries(tmp_path) == [first.name]
