"""What is already at ``OUT/<bundle_id>``, and a crash in the middle of replacing it
(issue 17, item 9).

A directory there is an older bundle: it is replaced in one atomic step. Anything else
(a file, a symlink, dangling or not) is not ours: the run refuses it and touches nothing.
A run killed at the worst moment of a replacement leaves either bundle at the final name
or, where the atomic exchange is unavailable, the old one recoverable: the next run into
the directory puts it back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from rca.seed.mock_incident_generator import (
    GenerationError,
    bundle_id_for,
    generate_bundle,
    validate,
)
from tests.integration.conftest import ROOT, cli_args, request_for, run_cli
from tests.integration.logs import Bundle

SMALL = {"duration_minutes": 15, "rps": 1.0}
PRECIOUS = b"the user's own file\n"


def _file(target: Path, elsewhere: Path) -> None:
    target.write_bytes(PRECIOUS)


def _link_to_dir(target: Path, elsewhere: Path) -> None:
    elsewhere.mkdir()
    (elsewhere / "keep").write_bytes(PRECIOUS)
    target.symlink_to(elsewhere)


def _link_to_file(target: Path, elsewhere: Path) -> None:
    elsewhere.write_bytes(PRECIOUS)
    target.symlink_to(elsewhere)


def _dangling_link(target: Path, elsewhere: Path) -> None:
    target.symlink_to(elsewhere)


OCCUPANTS: dict[str, Callable[[Path, Path], None]] = {
    "file": _file,
    "link-to-dir": _link_to_dir,
    "link-to-file": _link_to_file,
    "dangling-link": _dangling_link,
}


def snapshot(path: Path) -> object:
    """What a path is, without following it, and what it holds."""
    if path.is_symlink():
        return ("link", os.readlink(path))
    if path.is_dir():
        return ("dir", sorted((p.name, p.read_bytes()) for p in path.iterdir()))
    if path.exists():
        return ("file", path.read_bytes())
    return None


@pytest.mark.parametrize("occupant", OCCUPANTS.values(), ids=OCCUPANTS.keys())
def test_a_non_directory_at_the_bundle_path_is_refused_and_untouched(
    tmp_path: Path, occupant: Callable[[Path, Path], None]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    request = request_for("normal_load", **SMALL)
    target = out / bundle_id_for(request)
    elsewhere = tmp_path / "elsewhere"
    occupant(target, elsewhere)
    before = (snapshot(target), snapshot(elsewhere))

    proc = run_cli("generate", *cli_args(request), "--out", str(out))

    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: INVALID_PARAMETER: out:"), proc.stderr
    assert str(target) in proc.stderr and "not a bundle directory" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (snapshot(target), snapshot(elsewhere)) == before
    assert [p.name for p in out.iterdir()] == [target.name]  # no partial, no .old

    with pytest.raises(GenerationError) as info:
        generate_bundle(request, out)
    assert (info.value.code, info.value.field) == ("INVALID_PARAMETER", "out")
    assert (snapshot(target), snapshot(elsewhere)) == before


# Runs generate_bundle with every rename primitive wrapped: the first one that moves the
# bundle's final name does its work and then the process dies on the spot, as in a
# power cut between two steps of the replacement.
CRASH_AT_SWAP = """
import errno, os, pathlib, sys
from rca.seed import _atomic
from rca.seed.mock_incident_generator import bundle_id_for, generate_bundle
request = eval(sys.argv[2])
final = bundle_id_for(request)

def crashing(real):
    def wrapped(*args, **kwargs):
        result = real(*args, **kwargs)
        if any(os.path.basename(str(a)) == final for a in args):
            os._exit(137)
        return result
    return wrapped

os.rename = crashing(os.rename)
os.replace = crashing(os.replace)
pathlib.Path.rename = crashing(pathlib.Path.rename)
pathlib.Path.replace = crashing(pathlib.Path.replace)
if sys.argv[3] == "no-renameat2":
    def unavailable(*args):
        raise OSError(errno.ENOSYS, "renameat2 unavailable")
    _atomic.renameat2 = unavailable
elif hasattr(_atomic, "renameat2"):
    _atomic.renameat2 = crashing(_atomic.renameat2)
generate_bundle(request, sys.argv[1])
sys.exit(3)  # never reached: the crash comes first
"""


@pytest.fixture
def damaged_bundle(tmp_path: Path, bundles: dict[str, Bundle]) -> tuple[Path, dict[str, bytes]]:
    """A bundle whose regeneration gives other bytes (so the two copies are told apart)."""
    dst = tmp_path / "out" / bundles["normal_load"].path.name
    shutil.copytree(bundles["normal_load"].path, dst)
    (dst / "ui_events.log").write_bytes(b"damaged\n")
    return dst, {p.name: p.read_bytes() for p in dst.iterdir()}


@pytest.mark.parametrize("mode", ["renameat2", "no-renameat2"])
def test_a_crash_while_replacing_a_bundle_loses_nothing(
    damaged_bundle: tuple[Path, dict[str, bytes]], bundles: dict[str, Bundle], mode: str
) -> None:
    path, old = damaged_bundle
    new = {p.name: p.read_bytes() for p in bundles["normal_load"].path.iterdir()}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    request = request_for("normal_load")

    crashed = subprocess.run(
        [sys.executable, "-c", CRASH_AT_SWAP, str(path.parent), repr(request), mode],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert crashed.returncode == 137, crashed.stderr
    leftovers = sorted(p.name for p in path.parent.iterdir() if p.name != path.name)
    kinds = [n.removeprefix(f".{path.name}.").split("-")[0] for n in leftovers]
    if mode == "renameat2":
        # One atomic exchange: the final name holds the new bundle from that instant on,
        # the old one waits under the partial's name for removal.
        assert kinds == ["partial"], leftovers
        assert {p.name: p.read_bytes() for p in path.iterdir()} == new
        assert validate(path) == []
    else:
        # Two renames, killed between them: the final name is empty for now.
        assert kinds == ["old", "partial"], leftovers
        assert not path.exists()

    # The next run into the directory, for another bundle, tidies up after the crash.
    other = generate_bundle(request_for("normal_load", seed=43, **SMALL), path.parent)

    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, other.name])
    assert {p.name: p.read_bytes() for p in path.iterdir()} == (
        new if mode == "renameat2" else old  # without the exchange: the old one, restored
    )
    assert validate(other) == []


def test_replacing_a_bundle_leaves_one_clean_copy_with_or_without_renameat2(
    monkeypatch: pytest.MonkeyPatch,
    damaged_bundle: tuple[Path, dict[str, bytes]],
    bundles: dict[str, Bundle],
) -> None:
    from rca.seed import _atomic

    path, _ = damaged_bundle
    new = {p.name: p.read_bytes() for p in bundles["normal_load"].path.iterdir()}
    for available in (True, False):
        if not available:
            (path / "ui_events.log").write_bytes(b"damaged again\n")

            def unavailable(*args: object) -> None:
                raise OSError(38, "Function not implemented")

            monkeypatch.setattr(_atomic, "renameat2", unavailable)
        assert generate_bundle(request_for("normal_load"), path.parent) == path
        assert [p.name for p in path.parent.iterdir()] == [path.name]
        assert {p.name: p.read_bytes() for p in path.iterdir()} == new
