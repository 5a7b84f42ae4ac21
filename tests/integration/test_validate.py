"""`validate` accepts every generated bundle and names what is wrong with a tampered one."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from rca.seed.mock_incident_generator import validate, write_manifest
from tests.integration.conftest import request_for, run_cli
from tests.integration.logs import Bundle, label_pointers


def test_generated_bundle_validates(bundle: Bundle) -> None:
    assert validate(bundle.path) == []


def test_cli_validate_accepts_a_generated_bundle(bundles: dict[str, Bundle]) -> None:
    bundle = bundles["bad_api_rollout"]
    proc = run_cli("validate", str(bundle.path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"OK {bundle.path}"
    assert proc.stderr == ""


# ------------------------------------------------------------------ tampering
def _change_one_line(d: Path) -> None:
    """Edit one digit of one access line: same length, same line count."""
    path = d / "ui_events.log"
    lines = path.read_text(encoding="utf-8").split("\n")
    i = next(i for i, ln in enumerate(lines) if '" 200 ' in ln)
    lines[i] = lines[i].replace('" 200 ', '" 500 ', 1)
    path.write_text("\n".join(lines), encoding="utf-8")


def _drop_a_line(d: Path) -> None:
    path = d / "mesh_events.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:10] + lines[11:]), encoding="utf-8")


def _remove_file(d: Path) -> None:
    (d / "db_events.log").unlink()


def _wrong_checksum(d: Path) -> None:
    path = d / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    art = next(a for a in manifest["artifacts"] if a["file"] == "api_logs.log")
    art["sha256"] = "0" * 64
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _extra_file(d: Path) -> None:
    (d / "notes.txt").write_text("scratch\n", encoding="utf-8")


TAMPERS: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "changed-line": (_change_one_line, ["ui_events.log: sha256 mismatch"]),
    "dropped-line": (
        _drop_a_line,
        ["mesh_events.jsonl: sha256 mismatch", "mesh_events.jsonl: ", " lines, manifest says "],
    ),
    "missing-file": (_remove_file, ["db_events.log: missing"]),
    "wrong-checksum": (_wrong_checksum, ["api_logs.log: sha256 mismatch"]),
    "extra-file": (_extra_file, ["notes.txt: unexpected file in bundle"]),
}


@pytest.fixture
def copy_of(tmp_path: Path, bundles: dict[str, Bundle]) -> Callable[[str], Path]:
    def make(scenario: str) -> Path:
        src = bundles[scenario].path
        dst = tmp_path / src.name  # the directory name is the bundle id: keep it
        shutil.copytree(src, dst)
        return dst

    return make


@pytest.mark.parametrize("tamper", TAMPERS.values(), ids=TAMPERS.keys())
def test_validate_names_the_tampered_file(
    copy_of: Callable[[str], Path], tamper: tuple[Callable[[Path], None], list[str]]
) -> None:
    edit, needles = tamper
    d = copy_of("db_connection_pool_exhaustion")
    assert validate(d) == []

    edit(d)
    problems = validate(d)

    assert problems, "tampering went unnoticed"
    text = "\n".join(problems)
    for needle in needles:
        assert needle in text, problems


def test_validate_catches_an_evidence_pointer_that_no_longer_matches(
    copy_of: Callable[[str], Path],
) -> None:
    d = copy_of("slow_query_regression")
    truth_path = d / "ground_truth.json"
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    pointer = truth["first_signal"]
    # The line the pointer quotes changes (e.g. someone "fixed" a log line by hand)...
    stream = d / pointer["file"]
    lines = stream.read_text(encoding="utf-8").split("\n")
    assert lines[pointer["line"] - 1] == pointer["excerpt"]
    lines[pointer["line"] - 1] = pointer["excerpt"].replace("duration: ", "duration:  ")
    stream.write_text("\n".join(lines), encoding="utf-8")
    # ...and the manifest is regenerated, so every checksum agrees with the files again.
    write_manifest(request_for("slow_query_regression"), d)

    problems = validate(d)

    same_line = [
        p for p in label_pointers(truth) if (p["file"], p["line"]) == (stream.name, pointer["line"])
    ]
    assert sorted(problems) == sorted(
        f"ground_truth.json: evidence {p['file']}:{p['line']} ({p['signal']}) does not "
        "match the line in the bundle"
        for p in same_line
    )


def test_validate_catches_an_evidence_excerpt_edited_in_the_label(
    copy_of: Callable[[str], Path],
) -> None:
    d = copy_of("bad_api_rollout")
    truth_path = d / "ground_truth.json"
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    truth["evidence"][0]["excerpt"] += " "
    truth_path.write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    write_manifest(request_for("bad_api_rollout"), d)

    problems = validate(d)

    ev = truth["evidence"][0]
    assert problems == [
        f"ground_truth.json: evidence {ev['file']}:{ev['line']} ({ev['signal']}) does not "
        "match the line in the bundle"
    ]


def test_cli_validate_fails_with_the_problem_on_stderr(copy_of: Callable[[str], Path]) -> None:
    d = copy_of("pod_oom_restart_loop")
    _remove_file(d)

    proc = run_cli("validate", str(d))

    assert proc.returncode == 1
    assert proc.stdout == ""
    assert f"INVALID {d}: db_events.log: missing" in proc.stderr.splitlines()
    assert "Traceback" not in proc.stderr


def test_cli_validate_rejects_a_directory_that_is_not_a_bundle(tmp_path: Path) -> None:
    proc = run_cli("validate", str(tmp_path / "nope"))
    assert proc.returncode == 1
    assert "not a directory" in proc.stderr
    assert "Traceback" not in proc.stderr
