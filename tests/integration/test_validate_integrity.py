"""`validate` against hostile and inconsistent bundles (issue 17 items 1, 4, 5, 6, 11, 12, 14).

Each test starts from a copy of a generated bundle that validates, damages it the way the
issue describes, and asserts the exact problem lines (or exit status) a user relies on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rca.seed._validate import JSON_CAP
from rca.seed.mock_incident_generator import (
    GROUND_TRUTH_FILE,
    MANIFEST_FILE,
    STREAM_FILES,
    generate_bundle,
    validate,
    write_manifest,
)
from tests.integration.conftest import ROOT, request_for, run_cli
from tests.integration.logs import Bundle, label_pointers

SCENARIO = "bad_api_rollout"
ALLOWED = (
    "ui_events.log, api_logs.log, db_events.log, k8s_events.log, mesh_events.jsonl, "
    "ground_truth.json"
)


@pytest.fixture
def bundle_copy(tmp_path: Path, bundles: dict[str, Bundle]) -> Path:
    src = bundles[SCENARIO].path
    dst = tmp_path / "bundles" / src.name  # the directory name is the bundle id
    shutil.copytree(src, dst)
    assert validate(dst) == []
    return dst


def _edit_json(path: Path, edit: Callable[[dict[str, Any]], object]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _reseal(d: Path, **override: Any) -> None:
    """Rewrite the manifest from the files on disk: every checksum agrees again."""
    write_manifest(request_for(SCENARIO, **override), d)


# ------------------------------------------------------------ item 4: bad bytes
def test_a_non_utf8_byte_is_a_checksum_mismatch_and_validation_goes_on(
    bundle_copy: Path,
) -> None:
    d = bundle_copy
    truth = json.loads((d / GROUND_TRUTH_FILE).read_text(encoding="utf-8"))
    pointer = truth["first_signal"]
    stream = d / pointer["file"]
    data = bytearray(stream.read_bytes())
    # One byte of the quoted line becomes 0xff: same length, same line count.
    at = data.index(pointer["excerpt"].encode()) + 5
    data[at] = 0xFF
    stream.write_bytes(bytes(data))
    (d / "k8s_events.log").unlink()  # a second problem: it must be listed too

    proc = run_cli("validate", str(d))

    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "GENERATION_FAILED" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert f"INVALID {d}: {stream.name}: sha256 mismatch (file changed since the manifest)" in lines
    assert f"INVALID {d}: k8s_events.log: missing" in lines
    assert any(
        f"evidence {pointer['file']}:{pointer['line']} ({pointer['signal']}) does not match" in ln
        for ln in lines
    ), lines


@pytest.mark.parametrize("command", ["summarize", "plot"])
def test_summarize_and_plot_read_a_bad_byte_and_say_where(
    bundle_copy: Path, tmp_path: Path, command: str
) -> None:
    d = bundle_copy
    ui = d / "ui_events.log"
    data = bytearray(ui.read_bytes())
    third = data.index(b"\n", data.index(b"\n") + 1) + 1  # line 3 starts here
    data[third + 3] = 0xFF
    ui.write_bytes(bytes(data))
    args = [command, str(d)] + (["--out", str(tmp_path / "t.png")] if command == "plot" else [])

    proc = subprocess.run(
        [sys.executable, "-m", "rca.cli", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        f"warning: {d}: ui_events.log:3: not valid UTF-8 (1 line(s)); "
        "read with U+FFFD in place of the bad bytes"
    ]
    if command == "plot":
        assert (tmp_path / "t.png").stat().st_size > 10_000
    else:
        assert proc.stdout.startswith(f"bundle {d.name}")


# ------------------------------------------------------------ item 11: integrity
def test_a_manifest_entry_outside_the_bundle_is_refused_unread(bundle_copy: Path) -> None:
    d = bundle_copy
    secret = d.parent / "secret"
    secret.write_bytes(b"not for validate\n")
    entry = {
        "file": "../secret",
        "stream": None,
        "format": "json",
        "record_count": 1,
        "line_count": 1,
        "bytes": 1,  # wrong on purpose: reading it would add a size problem
        "sha256": "0" * 64,
    }
    _edit_json(d / MANIFEST_FILE, lambda m: m["artifacts"].append(entry))

    assert validate(d) == [
        f"manifest.json: lists '../secret', which is not a bundle file (allowed: {ALLOWED})"
    ]


def test_a_duplicate_manifest_entry_is_refused(bundle_copy: Path) -> None:
    d = bundle_copy

    def twice(m: dict[str, Any]) -> None:
        first = next(a for a in m["artifacts"] if a["file"] == "db_events.log")
        m["artifacts"].append(dict(first))

    _edit_json(d / MANIFEST_FILE, twice)

    assert validate(d) == ["manifest.json: lists db_events.log more than once"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("window_end", "2026-11-26T05:45:00Z"),
        ("window_start", "2026-11-26T04:00:00Z"),
        ("created_at", "2026-12-01T00:00:00Z"),
        ("scenario_id", "normal_load"),
    ],
)
def test_a_manifest_contradicting_its_request_is_refused(
    bundle_copy: Path, key: str, value: str
) -> None:
    d = bundle_copy
    before = json.loads((d / MANIFEST_FILE).read_text(encoding="utf-8"))[key]
    _edit_json(d / MANIFEST_FILE, lambda m: m.update({key: value}))

    assert validate(d) == [f"manifest.json: {key} {value} contradicts its request ({before})"]


def test_a_label_edited_with_its_checksum_is_caught_by_regeneration(bundle_copy: Path) -> None:
    d = bundle_copy
    _edit_json(d / GROUND_TRUTH_FILE, lambda t: t.update(root_cause="cosmic rays"))
    _reseal(d)  # the manifest now carries the edited label's sha256

    assert validate(d, regenerate=False) == []  # structurally sound: only bytes tell
    assert validate(d) == ["ground_truth.json: not the label the manifest's request generates"]


def test_a_label_threshold_that_contradicts_the_request_is_refused(bundle_copy: Path) -> None:
    """Issue item 1: the manifest says threshold 0.55, the label still 0.7."""
    d = bundle_copy
    _reseal(d, threshold=0.55)
    expected = [
        "ground_truth.json: threshold_default 0.7 contradicts the manifest's request "
        "(threshold 0.55)"
    ]
    problems = validate(d, regenerate=False)
    # (A bundle id covering every request field adds the id problems of a new bundle.)
    assert [p for p in problems if not p.startswith("manifest.json: bundle_id")] == expected
    assert "ground_truth.json: not the label the manifest's request generates" in validate(d)


def test_streams_of_another_request_are_caught_by_regeneration(
    bundle_copy: Path, tmp_path: Path
) -> None:
    """Issue item 1: rps edited, manifest rewritten; the streams are the old rps's."""
    d = bundle_copy
    _reseal(d, rps=3.5)
    other = generate_bundle(request_for(SCENARIO, rps=3.5), tmp_path / "other")
    differ = [n for n in STREAM_FILES.values() if (d / n).read_bytes() != (other / n).read_bytes()]
    assert len(differ) >= 3  # ui, api, mesh at least carry every request

    problems = validate(d)

    flagged = [
        n
        for n in STREAM_FILES.values()
        if any(p.startswith(f"{n}: not what the manifest's request generates") for p in problems)
    ]
    assert flagged == differ
    assert problems[-1] == "ground_truth.json: not the label the manifest's request generates"


def test_a_stream_replaced_by_a_symlink_is_refused_unread(bundle_copy: Path) -> None:
    d = bundle_copy
    real = d.parent / "ui_events.log"
    (d / "ui_events.log").rename(real)
    (d / "ui_events.log").symlink_to(real)  # same bytes: every checksum would agree

    assert validate(d) == [
        "ui_events.log: is a symbolic link; a bundle holds regular files only (not read)"
    ]


# ------------------------------------------------------------ item 5: hostile JSON files
@pytest.mark.parametrize("name", [GROUND_TRUTH_FILE, MANIFEST_FILE, "api_logs.log"])
def test_a_fifo_in_the_bundle_is_refused_without_hanging(bundle_copy: Path, name: str) -> None:
    d = bundle_copy
    (d / name).unlink()
    os.mkfifo(d / name)

    proc = run_cli("validate", str(d))  # a hang fails here (timeout)

    assert proc.returncode == 1
    assert f"INVALID {d}: {name}: is a FIFO; a bundle holds regular files only (not read)" in (
        proc.stderr.splitlines()
    )


def test_dev_zero_as_the_label_is_refused(bundle_copy: Path) -> None:
    d = bundle_copy
    (d / GROUND_TRUTH_FILE).unlink()
    (d / GROUND_TRUTH_FILE).symlink_to("/dev/zero")

    proc = run_cli("validate", str(d))

    assert proc.returncode == 1
    assert (
        f"INVALID {d}: ground_truth.json: is a symbolic link; a bundle holds regular files "
        "only (not read)"
    ) in proc.stderr.splitlines()


def test_a_label_over_the_size_cap_is_refused_unparsed(bundle_copy: Path) -> None:
    d = bundle_copy
    with open(d / GROUND_TRUTH_FILE, "r+b") as f:
        f.truncate(JSON_CAP + 1)  # sparse: costs no disk

    problems = validate(d, regenerate=False)

    assert problems[0] == "ground_truth.json: larger than 64 MiB, the cap for a JSON file"


# ------------------------------------------------------------ item 12: the window
def _retime_line(d: Path, name: str, old: str, new: str) -> int:
    """Give a line holding ``old`` (and quoted by no pointer) the stamp ``new``; its number."""
    path = d / name
    truth = json.loads((d / GROUND_TRUTH_FILE).read_text(encoding="utf-8"))
    quoted = {p["line"] for p in label_pointers(truth) if p["file"] == name}
    lines = path.read_bytes().split(b"\n")
    i = [i for i, ln in enumerate(lines) if old.encode() in ln and i + 1 not in quoted][10]
    lines[i] = lines[i].replace(old.encode(), new.encode(), 1)
    path.write_bytes(b"\n".join(lines))
    return i + 1


AFTER = "after the window end 2026-11-26T05:30:00Z (1 line(s) after it)"
BEFORE = "before the window start 2026-11-26T05:00:00Z (1 line(s) before it)"


@pytest.mark.parametrize(
    ("name", "old", "new", "shown", "where"),
    [
        ("ui_events.log", "26/Nov/2026:05:10:", "26/Nov/2026:05:40:", "26/Nov/2026:05:40:", AFTER),
        ("ui_events.log", "2026/11/26 05:", "2026/11/26 04:", "2026/11/26 04:", BEFORE),
        ("api_logs.log", "2026-11-26T05:10:", "2026-11-26T04:59:", "2026-11-26T04:59:", BEFORE),
        ("db_events.log", "2026-11-26 05:", "2026-11-26 04:", "2026-11-26 04:", BEFORE),
        ("k8s_events.log", "I1126 05:", "I1126 06:", "1126 06:", AFTER),
        ("k8s_events.log", "I1126 05:", "I1125 05:", "1125 05:", BEFORE),
        (
            "mesh_events.jsonl",
            '"start_time":"2026-11-26T05:10:',
            '"start_time":"2026-11-26T05:40:',
            "2026-11-26T05:40:",
            AFTER,
        ),
    ],
)
def test_a_line_moved_outside_the_window_is_found(
    bundle_copy: Path, name: str, old: str, new: str, shown: str, where: str
) -> None:
    d = bundle_copy
    n = _retime_line(d, name, old, new)
    _reseal(d)  # every checksum agrees: only the stamps tell

    problems = validate(d, regenerate=False)

    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{name}:{n}: stamped {shown}"), problems
    assert problems[0].endswith(f", {where}"), problems


def test_a_line_without_a_timestamp_is_found(bundle_copy: Path) -> None:
    d = bundle_copy
    path = d / "k8s_events.log"
    data = path.read_bytes()
    path.write_bytes(data + b"hello from nowhere\n")  # after the last line: no pointer moves
    _reseal(d)

    n = data.count(b"\n") + 1
    assert validate(d, regenerate=False) == [f"k8s_events.log:{n}: carries no timestamp"]


# ------------------------------------------------------------ item 14: `validate .`
def test_validate_dot_from_inside_a_bundle(bundle_copy: Path) -> None:
    proc = run_cli("validate", ".", cwd=bundle_copy)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "OK .\n", "")


def test_a_symlink_to_a_bundle_validates_under_the_real_name(bundle_copy: Path) -> None:
    link = bundle_copy.parent / "latest"
    link.symlink_to(bundle_copy.name)
    assert validate(link) == []


# ------------------------------------------------------------ item 6: memory
def _peak_rss_mb(bundle: Path) -> tuple[float, str]:
    """Peak RSS (MB) of a fresh `validate` process, and its stderr."""
    code = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run([sys.executable, '-m', 'rca.seed.mock_incident_generator', "
        "'validate', sys.argv[1]], capture_output=True, text=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.stderr.write(p.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(bundle)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return int(proc.stdout) / 1024, proc.stderr


@pytest.mark.slow
def test_validate_memory_does_not_grow_with_the_bundle(tmp_path: Path) -> None:
    small = generate_bundle(request_for("db_connection_pool_exhaustion", rps=1.0), tmp_path / "s")
    big = generate_bundle(request_for("db_connection_pool_exhaustion", rps=60.0), tmp_path / "b")
    size = sum(p.stat().st_size for p in big.iterdir())
    assert size > 250 << 20  # a few hundred MB: the old validate held all of it, twice

    small_mb, _ = _peak_rss_mb(small)
    big_mb, stderr = _peak_rss_mb(big)

    assert big_mb < 150, (big_mb, small_mb)
    assert big_mb < small_mb + 60, (big_mb, small_mb)
    assert "Traceback" not in stderr
