"""The quickstart's commands run, and print what the quickstart says they print.

Conventions in ``specs/001-build-realistic-mock/quickstart.md`` (a marker is an HTML
comment on the last non-blank line before a fence):

* a ```` ```bash ```` block is run, in document order, with the blocks before it, as one
  ``bash -euo pipefail`` script in a scratch directory (the repository layout the
  quickstart assumes: ``.venv`` linked to this interpreter's virtualenv, copies of
  ``scripts/export_contracts.py`` and ``specs/``); the venv's ``bin`` is on ``PATH``;
* ``<!-- quickstart-test: workflow -->`` before a bash block: run with the other workflow
  blocks in a scratch copy of ``workflow/`` with the tiny test configuration
  (``.test/config/scenarios.yaml``) as ``config/scenarios.yaml``, only when
  ``workflow/Snakefile`` exists;
* ``<!-- quickstart-test: skip -->`` before a bash block: not run (set-up and whole test
  suites that take minutes; at most :data:`MAX_SKIPPED` of them);
* ``<!-- quickstart-test: output -->`` before a ```` ```text ```` block: every non-blank
  line must be a line printed by the bash block just before it (white space runs compare
  equal; a line ending in ``...`` matches any line starting with the text before it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "001-build-realistic-mock"
QUICKSTART = SPEC / "quickstart.md"
SNAKEFILE = ROOT / "workflow" / "Snakefile"
TEST_CONFIG = ROOT / ".test" / "config" / "scenarios.yaml"
VENV = Path(sys.executable).parent.parent
MAX_SKIPPED = 2
BLOCK_MARK = "@@quickstart-block"
MARKER = re.compile(r"^<!--\s*quickstart-test:\s*(?P<mode>[a-z-]+)\s*-->$")
MODES = {"bash": {"run", "workflow", "skip"}, "text": {"output"}}


@dataclass(frozen=True, slots=True)
class Block:
    lang: str
    mode: str  # run | workflow | skip | output | show (an unmarked non-bash block)
    line: int  # 1-based line of the opening fence
    code: str


def parse(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    marker: str | None = None
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        m = MARKER.match(stripped)
        if m:
            marker = m["mode"]
        elif stripped.startswith("```"):
            lang = stripped[3:].strip()
            end = i + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            assert end < len(lines), f"quickstart.md:{i + 1}: unclosed fence"
            default = "run" if lang == "bash" else "show"
            mode = marker or default
            assert mode in MODES.get(lang, set()) | {default}, (
                f"quickstart.md:{i + 1}: marker {marker!r} does not apply to a {lang!r} block"
            )
            blocks.append(Block(lang, mode, i + 1, "\n".join(lines[i + 1 : end])))
            marker = None
            i = end
        elif stripped:
            marker = None
        i += 1
    return blocks


BLOCKS = parse(QUICKSTART.read_text(encoding="utf-8"))


def _script(blocks: list[Block]) -> str:
    parts = ["set -euo pipefail"]
    for b in blocks:
        parts += [f"echo '{BLOCK_MARK} {b.line}'", b.code]
    return "\n".join(parts) + "\n"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(VENV / "bin"), env.get("PATH", os.defpath)])
    env["VIRTUAL_ENV"] = str(VENV)
    env["MPLBACKEND"] = "Agg"
    env.pop("RCA_BLIND_SALT", None)  # the quickstart shows the suite's own key file at work
    return env


def _run(blocks: list[Block], workspace: Path) -> dict[int, list[str]]:
    """Run ``blocks`` as one script in ``workspace``; stdout+stderr lines per block."""
    script = workspace.parent / f"{workspace.name}-quickstart.sh"
    script.write_text(_script(blocks), encoding="utf-8")
    res = subprocess.run(
        ["bash", str(script)],
        cwd=workspace,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
        check=False,
    )
    out: dict[int, list[str]] = {}
    current: int | None = None
    for line in res.stdout.splitlines():
        if line.startswith(BLOCK_MARK):
            current = int(line.split()[1])
            out[current] = []
        elif current is not None:
            out[current].append(line)
    if res.returncode != 0:
        tail = "\n".join(res.stdout.splitlines()[-40:])
        pytest.fail(
            f"quickstart.md: the bash block at line {current} failed "
            f"(exit {res.returncode}); output tail:\n{tail}",
            pytrace=False,
        )
    return out


def _norm(line: str) -> str:
    return " ".join(line.split())


def _check_outputs(group: list[Block], printed: dict[int, list[str]]) -> None:
    """Each output block's lines were printed by the bash block right before it."""
    owner: Block | None = None
    for b in BLOCKS:
        if b.lang == "bash":
            owner = b
        elif b.mode == "output" and owner in group:
            assert owner is not None
            seen = [_norm(x) for x in printed[owner.line]]
            for want in filter(None, map(_norm, b.code.splitlines())):
                if want.endswith("..."):
                    ok = any(s.startswith(want[:-3].rstrip()) for s in seen)
                else:
                    ok = want in seen
                assert ok, (
                    f"quickstart.md:{b.line}: {want!r} was not printed by the block at "
                    f"line {owner.line}; it printed:\n" + "\n".join(printed[owner.line][:60])
                )


def _workspace(root: Path) -> Path:
    ws = root / "ws"
    ws.mkdir()
    (ws / ".venv").symlink_to(VENV, target_is_directory=True)
    return ws


def test_the_quickstart_follows_its_conventions() -> None:
    assert any(b.mode == "run" for b in BLOCKS), "no runnable bash block"
    skipped = [b.line for b in BLOCKS if b.mode == "skip"]
    assert len(skipped) <= MAX_SKIPPED, f"too many skipped blocks (lines {skipped})"
    assert (VENV / "bin" / "rca-mock").exists(), f"run the tests with the project's venv ({VENV})"
    last_bash: Block | None = None
    for b in BLOCKS:
        if b.lang == "bash":
            last_bash = b
        elif b.mode == "output":
            assert last_bash is not None and last_bash.mode != "skip", (
                f"quickstart.md:{b.line}: expected output after a block that is not run"
            )


def test_quickstart_commands_run_and_print_what_it_shows(tmp_path: Path) -> None:
    group = [b for b in BLOCKS if b.mode == "run"]
    ws = _workspace(tmp_path)
    (ws / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "export_contracts.py", ws / "scripts")
    shutil.copytree(SPEC, ws / "specs" / SPEC.name)
    printed = _run(group, ws)
    _check_outputs(group, printed)


@pytest.mark.workflow
def test_quickstart_workflow_commands_run(tmp_path: Path) -> None:
    group = [b for b in BLOCKS if b.mode == "workflow"]
    assert SNAKEFILE.is_file(), "workflow/Snakefile is missing"
    assert group, "the quickstart has no workflow block: its workflow commands go untested"
    ws = _workspace(tmp_path)
    shutil.copytree(
        ROOT / "workflow", ws / "workflow", ignore=shutil.ignore_patterns("__pycache__")
    )
    (ws / "config").mkdir()
    config = TEST_CONFIG if TEST_CONFIG.is_file() else ROOT / "config" / "scenarios.yaml"
    shutil.copy2(config, ws / "config" / "scenarios.yaml")
    printed = _run(group, ws)
    _check_outputs(group, printed)
