"""`make all` works as a normal user on a machine without apt: only the tests need it.

The checkout's tracked files are copied into a directory owned by an unprivileged user
(a fresh clone: no .venv, no compiled core), and `make` runs as that user (uid 65534 via
setpriv when the tests run as root) with a PATH that has no apt-get, no sudo, and none
of the Debian tools the tests use. `make all` must set up .venv (pip, from the package
index, as in any fresh clone) and build the bundles; the tests' set-up (`make env`,
behind `make test`) still insists on the tools.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rca.config import load_config
from rca.seed.mock_incident_generator import validate
from tests.workflow.helpers import FIXTURES, ROOT, TEST_CONFIG

pytestmark = [pytest.mark.workflow, pytest.mark.slow]  # a whole pip install: ~1 min

NOBODY = 65534
BOOTSTRAP = ROOT / "scripts" / "bootstrap.sh"
# What a machine without apt, root or sudo lacks: the package tools, and the Debian
# tools bootstrap.sh would install for the tests (its own list).
APT_TOOLS = re.search(r"^APT_PACKAGES=\(([^)]*)\)", BOOTSTRAP.read_text(), re.M)
assert APT_TOOLS, "APT_PACKAGES not found in scripts/bootstrap.sh"
HIDDEN = {"apt", "apt-get", "sudo", *APT_TOOLS.group(1).split()}


def as_normal_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv to become a normal user")
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]


def tool_dir(path: Path) -> Path:
    """A PATH directory with every command of the system's own but the HIDDEN ones."""
    path.mkdir()
    for directory in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):  # fmt: skip
        if not os.path.isdir(directory):
            continue
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            link = path / entry.name
            if entry.name not in HIDDEN and not link.exists() and os.access(entry.path, os.X_OK):
                link.symlink_to(entry.path)
    return path


def copy_checkout(dest: Path) -> None:
    """Every tracked file of the repository (as a clone has them), on the test config."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for rel in filter(None, tracked.split("\0")):
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    shutil.copy2(TEST_CONFIG, dest / "config" / "scenarios.yaml")  # two small bundles


@pytest.fixture
def user_checkout() -> Iterator[Path]:
    # Not under pytest's tmp_path: its parent is private to root.
    base = Path(tempfile.mkdtemp(prefix="rca-make-all-"))
    try:
        base.chmod(0o755)
        repo = base / "repo"
        copy_checkout(repo)
        (base / "home").mkdir()
        tool_dir(base / "bin")
        if os.geteuid() == 0:
            for path in [base / "home", repo, *repo.rglob("*")]:
                os.lchown(path, NOBODY, NOBODY)
        yield repo
    finally:
        shutil.rmtree(base)


def make(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    base = repo.parent
    env = {"PATH": str(base / "bin"), "HOME": str(base / "home"), "LANG": "C.UTF-8"}
    return subprocess.run(
        [*as_normal_user(), "env", "-i", *(f"{k}={v}" for k, v in env.items()), "make", *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
        check=False,
    )


def test_make_all_builds_as_a_normal_user_without_apt(user_checkout: Path) -> None:
    repo = user_checkout
    res = make(repo, "all", "CORES=2")

    assert res.returncode == 0, res.stdout
    assert "Debian" not in res.stdout and "apt-get" not in res.stdout, res.stdout
    bundles = load_config(repo / "config" / "scenarios.yaml").bundles()
    user = NOBODY if os.geteuid() == 0 else os.geteuid()
    root = repo / FIXTURES
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == sorted(
        b.bundle_id for b in bundles
    )
    for bundle in bundles:
        assert validate(root / bundle.bundle_id) == [], bundle.scenario
        # Built by the normal user, not by a privileged helper.
        assert (root / bundle.bundle_id / "manifest.json").stat().st_uid == user, bundle

    # The tests' set-up still wants the Debian tools, and says which and why it stops.
    res = make(repo, "env")
    assert res.returncode != 0
    missing = re.search(r"ERROR: missing ([\w -]+?) and no apt-get here", res.stdout)
    assert missing, res.stdout
    assert set(missing.group(1).split()) == HIDDEN - {"apt", "apt-get", "sudo"}
