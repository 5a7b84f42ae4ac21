"""One secret salt per suite: drawn by the first export-blind, kept beside the bundles.

Before, blind ids were sha256 of a PUBLIC default salt and the bundle id, so anyone could
map a blind id back to its bundle (and bundle ids are hashes of the request, so of the
scenario). Now there is no default: ``--salt``, ``$RCA_BLIND_SALT``, or the suite's
``blind-key.json``, which never ends up where the system under test looks.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from rca.cli import main
from rca.eval import blind
from rca.eval.blind import KEY_FILE, SALT_ENV, blind_id, export_blind
from rca.eval.models import BlindKey
from rca.eval.scoring import EvalInputError, perfect_report
from rca.eval.suite import run_baselines
from rca.seed import _atomic
from rca.seed.mock_incident_generator import GroundTruth

OLD_PUBLIC_SALT = "rca-eval-blind-v1"  # the default before: anyone could recompute ids


@pytest.fixture
def suite(tmp_path: Path, committed: dict[str, Path]) -> Path:
    """A fresh suite directory of two committed bundles (no key file yet)."""
    root = tmp_path / "suite"
    for sid in ("normal_load", "bad_api_rollout"):
        shutil.copytree(committed[sid], root / committed[sid].name)
    return root


def _bundles(suite: Path) -> list[Path]:
    return sorted(p.parent for p in suite.glob("*/ground_truth.json"))


def _truth(bundle: Path) -> GroundTruth:
    return GroundTruth.model_validate_json((bundle / "ground_truth.json").read_bytes())


def _salt(suite: Path) -> str:
    return BlindKey.model_validate_json((suite / KEY_FILE).read_bytes()).salt


def _files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _export(capsys: pytest.CaptureFixture[str], *argv: str) -> Path:
    assert main(["export-blind", *argv]) == 0
    return Path(capsys.readouterr().out.strip())


def test_export_without_salt_writes_a_key_beside_the_bundles_never_in_out(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    exported = [_export(capsys, str(b), str(out)) for b in _bundles(suite)]
    key = suite / KEY_FILE
    assert key.is_file() and not key.is_symlink()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600  # a secret: the scorer's user only
    salt = _salt(suite)
    assert len(salt) == 32 and int(salt, 16) >= 0  # 128 random bits
    for b, path in zip(_bundles(suite), exported, strict=True):
        assert path.name == blind_id(_truth(b).bundle_id, salt)
    # OUT holds the blind bundles and nothing of the key: no file, no salt in any byte.
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in exported)
    assert not [p for p in _files_under(out) if p.name == KEY_FILE]
    assert not [p for p in _files_under(out) if salt.encode() in p.read_bytes()]


def test_every_export_of_a_suite_shares_its_salt(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = _bundles(suite)
    a = _export(capsys, str(first), str(tmp_path / "a"))
    key_bytes = (suite / KEY_FILE).read_bytes()
    b = _export(capsys, str(second), str(tmp_path / "b"))
    again = _export(capsys, str(first), str(tmp_path / "c"))
    assert (suite / KEY_FILE).read_bytes() == key_bytes  # reused, not redrawn
    assert again.name == a.name != b.name
    assert b.name == blind_id(_truth(second).bundle_id, _salt(suite))


def test_a_racing_export_keeps_the_key_that_landed_first(
    suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another export creates the key between our look and our rename: we use theirs."""
    winner = BlindKey(salt="the-other-export").model_dump_json()
    create_partial = _atomic.create_partial

    def create_then_lose_the_race(dir_fd: int, final: str, *, directory: bool) -> Any:
        partial = create_partial(dir_fd, final, directory=directory)
        (suite / KEY_FILE).write_text(winner, encoding="utf-8")
        return partial

    monkeypatch.setattr(_atomic, "create_partial", create_then_lose_the_race)
    bundle = _bundles(suite)[0]
    path = export_blind(bundle, tmp_path / "out")
    assert path.name == blind_id(_truth(bundle).bundle_id, "the-other-export")
    assert (suite / KEY_FILE).read_text(encoding="utf-8") == winner
    assert sorted(os.listdir(suite)) == sorted([KEY_FILE, *(b.name for b in _bundles(suite))])


def _export_in_child(bundle: str, out: str, barrier: Any, queue: Any) -> None:
    barrier.wait()
    try:
        queue.put(export_blind(bundle, out).name)
    except BaseException as exc:
        queue.put(f"error: {exc!r}")


def test_concurrent_exports_end_with_one_salt(suite: Path, tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    n = 6
    barrier, queue = ctx.Barrier(n), ctx.Queue()
    bundle = _bundles(suite)[0]
    procs = [
        ctx.Process(
            target=_export_in_child, args=(str(bundle), str(tmp_path / f"o{i}"), barrier, queue)
        )
        for i in range(n)
    ]
    for p in procs:
        p.start()
    names = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert names == [blind_id(_truth(bundle).bundle_id, _salt(suite))] * n
    assert [p.name for p in suite.iterdir() if p.is_file()] == [KEY_FILE]  # no partial left


def test_score_suite_maps_blind_reports_back_through_the_key(
    suite: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    for b in _bundles(suite):
        path = _export(capsys, str(b), str(tmp_path / "blind"))
        (reports / f"{path.name}.json").write_text(json.dumps(perfect_report(_truth(b))))
    args = ["score-suite", str(suite), str(reports), "--no-baselines"]
    assert main(args) == 0
    assert "pass rate 100.0% (2/2)" in capsys.readouterr().out
    # The salt is what maps them: another one (the environment wins over the key) does not.
    monkeypatch.setenv(SALT_ENV, "another")
    assert main(args) == 1
    assert capsys.readouterr().out.count("NO_REPORT") == 2
    monkeypatch.delenv(SALT_ENV)
    (suite / KEY_FILE).unlink()
    assert main(args) == 1
    assert capsys.readouterr().out.count("NO_REPORT") == 2


def test_baseline_reports_use_the_key_and_a_plain_run_writes_none(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_baselines(suite, ["most_errors"])
    assert not (suite / KEY_FILE).exists()  # nothing to map back: no key written
    run_baselines(suite, ["most_errors"], reports_out=tmp_path / "br")
    names = sorted(p.stem for p in (tmp_path / "br" / "most_errors").iterdir())
    salt = _salt(suite)
    assert names == sorted(blind_id(_truth(b).bundle_id, salt) for b in _bundles(suite))
    argv = ["score-suite", str(suite), str(tmp_path / "br" / "most_errors"), "--no-baselines"]
    assert main(argv) != 2
    assert "NO_REPORT" not in capsys.readouterr().out


def test_a_symlink_at_the_key_path_is_refused(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    planted = tmp_path / "attacker-key.json"
    planted.write_text(BlindKey(salt="known-to-the-attacker").model_dump_json())
    (suite / KEY_FILE).symlink_to(planted)
    bundle = _bundles(suite)[0]
    out = tmp_path / "out"
    assert main(["export-blind", str(bundle), str(out)]) == 2
    err = capsys.readouterr().err
    assert str(suite / KEY_FILE) in err and "symlink" in err
    assert not out.exists() or not any(out.iterdir())
    assert (suite / KEY_FILE).is_symlink()  # left alone, not replaced
    assert main(["score-suite", str(suite), str(tmp_path), "--no-baselines"]) == 2
    assert "symlink" in capsys.readouterr().err
    # A dangling link is not written through either.
    (suite / KEY_FILE).unlink()
    (suite / KEY_FILE).symlink_to(tmp_path / "nowhere.json")
    assert main(["export-blind", str(bundle), str(out)]) == 2
    assert not (tmp_path / "nowhere.json").exists()


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{not json", "not a blind key file"),
        ("[]", "not a blind key file"),
        ('{"salt": ""}', "salt"),
        ('{"kind": "rca-blind-key"}', "salt"),
        ('{"salt": "s", "extra": 1}', "extra"),
        ('{"salt": 42}', "salt"),
        (None, "directory"),
    ],
)
def test_a_malformed_key_file_exits_2_naming_it(
    suite: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
    why: str,
) -> None:
    key = suite / KEY_FILE
    if content is None:
        key.mkdir()
    else:
        key.write_text(content, encoding="utf-8")
    for argv in (
        ["export-blind", str(_bundles(suite)[0]), str(tmp_path / "out")],
        ["score-suite", str(suite), str(tmp_path), "--no-baselines"],
        ["baselines", str(suite), "--reports-out", str(tmp_path / "br")],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(f"error: INVALID_PARAMETER: {key}: ") and why in err, err
        assert "Traceback" not in err
    # Never replaced: that would orphan the blind ids already handed out.
    assert key.is_dir() if content is None else key.read_text(encoding="utf-8") == content
    assert not (tmp_path / "out").exists()


def test_out_that_would_hold_the_key_is_refused(
    suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _bundles(suite)[0]
    before = sorted(os.listdir(suite))
    for out in (suite, suite.parent):
        assert main(["export-blind", str(bundle), str(out)]) == 2
        assert "would contain the blind key" in capsys.readouterr().err
    assert sorted(os.listdir(suite)) == before
    # With a salt given nothing is written beside the bundles, so no key is exposed.
    assert main(["export-blind", str(bundle), str(suite / "blind"), "--salt", "s"]) == 0
    assert not (suite / KEY_FILE).exists()


def test_an_empty_salt_is_refused(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export-blind", str(_bundles(suite)[0]), str(tmp_path), "--salt", ""]) == 2
    assert "--salt: must not be empty" in capsys.readouterr().err


def test_the_blind_id_is_not_computable_from_the_bundle_id(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _bundles(suite)[0]
    bid = _truth(bundle).bundle_id
    name = _export(capsys, str(bundle), str(tmp_path / "a")).name
    # Neither the old public-salt id nor a plain hash of the bundle id.
    public = "blind-" + hashlib.sha256(f"{OLD_PUBLIC_SALT}\0{bid}".encode()).hexdigest()[:16]
    plain = "blind-" + hashlib.sha256(bid.encode()).hexdigest()[:16]
    assert name not in (public, plain, blind_id(bid, OLD_PUBLIC_SALT), blind_id(bid, ""))
    # The same bundle in another suite gets another salt, so another id.
    other = tmp_path / "other"
    shutil.copytree(bundle, other / bundle.name)
    assert _export(capsys, str(other / bundle.name), str(tmp_path / "b")).name != name
    assert _salt(other) != _salt(suite)


def test_salt_resolution_order(suite: Path) -> None:
    bundle = _bundles(suite)[0]
    assert blind.resolve_salt(bundle, create=False) is None  # score side: no key, no id
    with pytest.raises(EvalInputError, match="--salt"):
        blind.resolve_salt(bundle, "", create=False)
    drawn = blind.resolve_salt(bundle, create=True)
    assert drawn == _salt(suite) == blind.resolve_salt(bundle, create=False)
    assert blind.resolve_salt(bundle, "given", create=True) == "given"
