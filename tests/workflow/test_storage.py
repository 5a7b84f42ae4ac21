"""The workflow through a default storage provider, as the Kubernetes recipe runs it.

Kubernetes has no shared file system: with `--default-storage-provider s3` every input
and output goes through the bucket. Kubernetes cannot run here, remote storage can:
snakemake-storage-plugin-fs stands in for S3 (a directory as the bucket, files moved with
rsync), with the same path handling. Code inputs (`rca/**/*.py`) and the request files
are local() (part of the checkout or the job's image, written at parse time); everything
else must land in the storage, byte for byte what a local build writes.
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest
import yaml

from tests.workflow.helpers import (
    FIXTURES,
    assert_bundles_match_config,
    jobs_in,
    new_workspace,
    snakemake,
)

pytestmark = [pytest.mark.workflow, pytest.mark.realtools("rsync")]


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_all_through_remote_storage_equals_a_local_build(built: Path, tmp_path: Path) -> None:
    ws = new_workspace(tmp_path / "ws")
    bucket = tmp_path / "bucket"
    storage = ("--default-storage-provider", "fs", "--default-storage-prefix", str(bucket))

    res = snakemake(ws, "--cores", "2", *storage, "all")

    assert res.returncode == 0, res.stdout
    assert not (ws / FIXTURES).exists(), "outputs written beside the workflow, not to storage"
    local, remote = built / FIXTURES, bucket / FIXTURES
    names = files_under(local)
    assert files_under(remote) == names
    same = filecmp.cmpfiles(local, remote, names, shallow=False)
    assert same == (names, [], []), "a file differs from the local build"
    plots = sorted(p.name for p in (bucket / "results" / "plots").iterdir())
    assert plots == sorted(p.name for p in (built / "results" / "plots").iterdir())

    res = snakemake(ws, *storage, "-n")
    assert res.returncode == 0, res.stdout
    assert jobs_in(res.stdout) == [], res.stdout

    # An edit re-runs what it affects through the storage too (request files are local).
    # The superseded bundle stays in the bucket: the index job removes superseded bundles
    # from a local fixture root only (the index lists the configured ones either way).
    config = ws / "config" / "scenarios.yaml"
    data = yaml.safe_load(config.read_text())
    data["scenarios"]["normal_load"] = {"threshold": 0.6}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    res = snakemake(ws, "--cores", "2", *storage, "all")
    assert res.returncode == 0, res.stdout
    assert_bundles_match_config(config, remote, tmp_path / "reference", superseded_kept=True)
