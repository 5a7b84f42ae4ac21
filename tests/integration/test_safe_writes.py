"""Writes that a planted symlink cannot redirect (issue 17, item 2).

An attacker who can write into the output directory but not into ``/victim`` plants
symlinks at every name a run would use: the temporary name of the old code
(``.<file>.partial-<pid>``; the pid is known because the test runs the CLI in a process
it controls) and the final name. The run must write a regular file of the right bytes
at the final name and leave the victim and the planted links as they were.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rca.seed import _atomic
from rca.seed.mock_incident_generator import (
    GROUND_TRUTH_FILE,
    MANIFEST_FILE,
    STREAM_FILES,
    bundle_id_for,
    generate_stream,
    validate,
    write_ground_truth,
)
from tests.integration.conftest import ROOT, cli_args, request_for
from tests.integration.logs import Bundle

VICTIM_BYTES = b"precious: must never be overwritten\n"

# Plants symlinks named with this process's own pid, then runs the CLI in it.
PLANT_AND_RUN = """
import os, sys
from pathlib import Path
out, victim, *names = sys.argv[1:sys.argv.index("--")]
for name in names:
    os.symlink(victim, Path(out) / name.replace("PID", str(os.getpid())))
from rca.seed.mock_incident_generator import main
sys.exit(main(sys.argv[sys.argv.index("--") + 1:]))
"""


def plant_and_run(
    out: Path, victim: Path, names: list[str], *argv: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-c", PLANT_AND_RUN, str(out), str(victim), *names, "--", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim"
    path.write_bytes(VICTIM_BYTES)
    return path


def listing(directory: Path) -> dict[str, str]:
    """Name -> 'file', 'dir' or 'link -> target' for every entry (links not followed)."""
    kinds = {}
    for p in directory.iterdir():
        if p.is_symlink():
            kinds[p.name] = f"link -> {os.readlink(p)}"
        else:
            kinds[p.name] = "dir" if p.is_dir() else "file"
    return kinds


# command, final file name, extra flags (the bytes must equal the same file of the bundle)
FILE_COMMANDS = {
    "generate-stream": ("generate-stream", STREAM_FILES["ui"], ["--stream", "ui"]),
    "write-ground-truth": ("write-ground-truth", GROUND_TRUTH_FILE, []),
}


@pytest.mark.parametrize("where", ["temp-name", "final-name", "both"])
@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_a_planted_link_never_redirects_a_file_write(
    tmp_path: Path, victim: Path, bundles: dict[str, Bundle], command: str, where: str
) -> None:
    cmd, name, extra = FILE_COMMANDS[command]
    out = tmp_path / "out"
    out.mkdir()
    planted = {
        "temp-name": [f".{name}.partial-PID"],
        "final-name": [name],
        "both": [f".{name}.partial-PID", name],
    }[where]

    proc = plant_and_run(
        out, victim, planted, cmd, *cli_args(request_for("normal_load")), *extra, "--out",
        str(out / name),
    )  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    assert victim.read_bytes() == VICTIM_BYTES
    assert not (out / name).is_symlink()
    assert (out / name).read_bytes() == (bundles["normal_load"].path / name).read_bytes()
    # The decoy at the old temporary name is not ours: left alone, nothing else remains.
    left = listing(out)
    assert left.pop(name) == "file"
    assert sorted(left.values()) == [f"link -> {victim}"] * sum(n != name for n in planted)


def test_write_manifest_never_writes_through_a_planted_link(
    tmp_path: Path, victim: Path, bundles: dict[str, Bundle]
) -> None:
    bundle = tmp_path / bundles["normal_load"].path.name
    shutil.copytree(bundles["normal_load"].path, bundle)
    good = (bundle / MANIFEST_FILE).read_bytes()
    (bundle / MANIFEST_FILE).unlink()

    proc = plant_and_run(
        bundle, victim, [f".{MANIFEST_FILE}.partial-PID", MANIFEST_FILE], "write-manifest",
        *cli_args(request_for("normal_load")), "--bundle", str(bundle),
    )  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    assert victim.read_bytes() == VICTIM_BYTES
    assert not (bundle / MANIFEST_FILE).is_symlink()
    assert (bundle / MANIFEST_FILE).read_bytes() == good
    decoy = next(p for p in bundle.iterdir() if p.name.startswith(f".{MANIFEST_FILE}.partial-"))
    decoy.unlink()  # the planted link, still a link: the bundle is valid without it
    assert validate(bundle) == []


def test_generate_never_stages_through_a_planted_link(
    tmp_path: Path, bundles: dict[str, Bundle]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    victim_dir = tmp_path / "victim-dir"
    victim_dir.mkdir()
    (victim_dir / "keep").write_bytes(VICTIM_BYTES)
    request = request_for("normal_load")
    bid = bundle_id_for(request)

    proc = plant_and_run(
        out, victim_dir, [f".{bid}.partial-PID", f".{bid}.old-PID"], "generate",
        *cli_args(request), "--out", str(out),
    )  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    assert listing(victim_dir) == {"keep": "file"}
    assert (victim_dir / "keep").read_bytes() == VICTIM_BYTES
    left = listing(out)
    assert left.pop(bid) == "dir"
    assert sorted(left.values()) == [f"link -> {victim_dir}"] * 2
    assert validate(out / bid) == []
    src = bundles["normal_load"].path
    assert {p.name: p.read_bytes() for p in (out / bid).iterdir()} == {
        p.name: p.read_bytes() for p in src.iterdir()
    }


@pytest.fixture
def predictable_tokens(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Make the random part of temporary names predictable: '000..', '111..', ..."""
    issued: list[str] = []

    def token() -> str:
        issued.append(str(len(issued) % 10) * _atomic.TOKEN_HEX)
        return issued[-1]

    monkeypatch.setattr(_atomic, "token", token)
    yield issued


def test_a_link_at_the_random_temp_name_is_skipped_not_followed(
    tmp_path: Path, victim: Path, predictable_tokens: list[str], bundles: dict[str, Bundle]
) -> None:
    """Even a guessed random name only makes the write pick another one."""
    out = tmp_path / GROUND_TRUTH_FILE
    decoy = tmp_path / f".{GROUND_TRUTH_FILE}.partial-{'0' * _atomic.TOKEN_HEX}"
    decoy.symlink_to(victim)

    write_ground_truth(request_for("normal_load"), out)

    assert predictable_tokens[:2] == ["0" * _atomic.TOKEN_HEX, "1" * _atomic.TOKEN_HEX]
    assert victim.read_bytes() == VICTIM_BYTES
    assert decoy.is_symlink() and os.readlink(decoy) == str(victim)
    assert out.read_bytes() == (bundles["normal_load"].path / GROUND_TRUTH_FILE).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, decoy.name, "victim"])


def test_a_stream_file_is_created_with_the_usual_permissions(tmp_path: Path) -> None:
    """Exclusive creation keeps what ``open(path, 'wb')`` gave: 0o666 less the umask."""
    old = os.umask(0o022)
    try:
        generate_stream(request_for("normal_load"), "k8s", tmp_path / "k8s.log")
    finally:
        os.umask(old)
    assert (tmp_path / "k8s.log").stat().st_mode & 0o777 == 0o644


# ------------------------------------------------------------------ reading a bundle
def _planted_link(path: Path, victim: Path) -> None:
    path.unlink()
    path.symlink_to(victim)


def _planted_fifo(path: Path, victim: Path) -> None:
    path.unlink()
    os.mkfifo(path)


@pytest.mark.parametrize(
    "plant", [_planted_link, _planted_fifo], ids=["symlink", "fifo"]
)  # fmt: skip
def test_write_manifest_reads_only_regular_files(
    tmp_path: Path, victim: Path, bundles: dict[str, Bundle], plant: object
) -> None:
    """A stream replaced by a link (or a FIFO) is refused, not checksummed as if ours."""
    bundle = tmp_path / bundles["normal_load"].path.name
    shutil.copytree(bundles["normal_load"].path, bundle)
    good = (bundle / MANIFEST_FILE).read_bytes()
    stream = STREAM_FILES["ui"]
    plant(bundle / stream, victim)  # type: ignore[operator]

    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "rca.seed.mock_incident_generator", "write-manifest",
         *cli_args(request_for("normal_load")), "--bundle", str(bundle)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip

    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: INVALID_PARAMETER: bundle:"), proc.stderr
    assert stream in proc.stderr and "regular file" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (bundle / MANIFEST_FILE).read_bytes() == good
    assert victim.read_bytes() == VICTIM_BYTES
