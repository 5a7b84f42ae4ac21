"""The generated doc blocks (``python -m rca.seed.docs``) say what the declarations say.

README.md's scenario table, the spec's FR-005 list and config/README.md's request-field
table are rewritten from the scenario registry and the request model; a block edited by
hand, or left behind after a scenario or field was added, fails here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rca.config import ENTRY_KEY
from rca.seed import distractors, docs, scenarios
from rca.seed.mock_incident_generator import GenerationRequest

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted({file for file, _ in docs.BLOCKS.values()})


def _copy(tmp_path: Path) -> Path:
    for file in FILES:
        (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / file, tmp_path / file)
    return tmp_path


def test_every_generated_block_is_current() -> None:
    assert docs.stale() == []


def test_the_check_command_passes_on_the_repository() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rca.seed.docs", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stderr) == (0, "")


def test_the_blocks_name_every_scenario_and_request_field() -> None:
    texts, problems = docs.regenerated()
    assert problems == []
    readme, spec, config = (
        texts[ROOT / file]
        for file in ("README.md", "specs/001-build-realistic-mock/spec.md", "config/README.md")
    )
    assert {ROOT / file for file, _ in docs.BLOCKS.values()} == set(texts)
    for did in distractors.distractor_ids():
        assert f"| `{did}` | {distractors.get(did).title} |" in readme
    fr005 = spec.split("<!-- /generated:fr-005 -->")[0].split("FR-005")[-1]
    default_set = fr005.split("Registered beyond v0")[0]
    for sid in scenarios.scenario_ids():
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{sid}` |"))
        assert row.endswith(f"| {scenarios.get(sid).description} |"), row
        assert ("| v0 " in row) is scenarios.get(sid).v0, row
        # FR-005's default set is exactly the v0 scenarios; the others follow it.
        assert (f"`{sid}`" in default_set) is scenarios.get(sid).v0, sid
        assert f"`{sid}`" in fr005
    for name in GenerationRequest.model_fields:
        if name != ENTRY_KEY:  # the key of a config entry, not a field in it
            assert f"| `{name}` |" in config, name


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        ("README.md", "(committed fixture) | Normal load:", "(committed fixture) | Typed by hand:"),
        (
            "specs/001-build-realistic-mock/spec.md",
            "`normal_load` (negative control)",
            "`normal_load`",
        ),
        ("config/README.md", "| `rps` | number,", "| `rps` | float,"),
    ],
)
def test_a_block_edited_by_hand_is_stale(tmp_path: Path, file: str, old: str, new: str) -> None:
    root = _copy(tmp_path)
    text = (root / file).read_text(encoding="utf-8")
    assert old in text
    (root / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    assert docs.stale(root) == [f"{file}: generated block is stale"]


def test_a_lost_marker_is_a_problem_not_a_pass(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    readme = root / "README.md"
    readme.write_text(
        readme.read_text(encoding="utf-8").replace("<!-- /generated:scenarios -->", ""),
        encoding="utf-8",
    )
    assert docs.stale(root) == [
        "README.md: expected one <!-- generated:scenarios --> ... "
        "<!-- /generated:scenarios --> block, found 0"
    ]
