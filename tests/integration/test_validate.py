"""`validate` accepts every generated bundle and names what is wrong with a tampered one."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
        shutil.copy(src / "manifest.json", tmp_path / "source-manifest.json")
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


# ------------------------------------------------------- tampering, checksums re-sealed
# Each case edits a copy, then leaves every checksum in agreement with the files again
# (by re-running write_manifest, or by editing only manifest.json, which holds no checksum
# of itself), so only validate's deeper checks can notice. Each returns the bundle
# directory and the exact problems validate must report.
SEALED = "db_connection_pool_exhaustion"
OTHER_ID = "mock-000000000000"
Sealed = Callable[[Path], tuple[Path, list[str]]]


def _reseal(d: Path, **override: Any) -> None:
    write_manifest(request_for(SEALED, **override), d)


def _edit_json(path: Path, edit: Callable[[dict[str, Any]], object]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _edit_mesh_line(d: Path, edit: Callable[[dict[str, Any]], object]) -> int:
    """Edit one mesh line no label pointer quotes (same line count); return its number."""
    path = d / "mesh_events.jsonl"
    truth = json.loads((d / "ground_truth.json").read_text(encoding="utf-8"))
    quoted = {p["line"] for p in label_pointers(truth) if p["file"] == path.name}
    n = next(n for n in range(5, 10_000) if n not in quoted)  # not line 1: the number counts
    lines = path.read_text(encoding="utf-8").split("\n")
    obj = json.loads(lines[n - 1])
    edit(obj)
    lines[n - 1] = json.dumps(obj, separators=(",", ":"))
    path.write_text("\n".join(lines), encoding="utf-8")
    return n


def _mesh_case(edit: Callable[[dict[str, Any]], object], problem: str) -> Sealed:
    def tamper(d: Path) -> tuple[Path, list[str]]:
        n = _edit_mesh_line(d, edit)
        _reseal(d)
        return d, [f"mesh_events.jsonl:{n}: {problem}"]

    return tamper


def _mesh_not_json(d: Path) -> tuple[Path, list[str]]:
    n = _edit_mesh_line(d, lambda o: None)
    path = d / "mesh_events.jsonl"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[n - 1] = lines[n - 1][:-1]  # the closing brace gone
    path.write_text("\n".join(lines), encoding="utf-8")
    _reseal(d)
    return d, [f"mesh_events.jsonl:{n}: not valid JSON"]


def _renamed_directory(d: Path) -> tuple[Path, list[str]]:
    moved = d.rename(d.with_name(OTHER_ID))
    return moved, [
        f"manifest.json: bundle_id {d.name} != directory name {OTHER_ID}",
        f"ground_truth.json: bundle_id {d.name} != directory name",
    ]


def _manifest_of_another_request(d: Path) -> tuple[Path, list[str]]:
    _reseal(d, seed=43)  # a consistent manifest, but of another bundle
    other = json.loads((d / "manifest.json").read_text(encoding="utf-8"))["bundle_id"]
    assert other != d.name
    return d, [f"manifest.json: bundle_id {other} != directory name {d.name}"]


def _request_not_matching_bundle_id(d: Path) -> tuple[Path, list[str]]:
    _edit_json(d / "manifest.json", lambda m: m["request"].update(seed=43))
    return d, ["manifest.json: bundle_id does not match its request"]


def _unlisted(name: str) -> Sealed:
    def tamper(d: Path) -> tuple[Path, list[str]]:
        def drop(m: dict[str, Any]) -> None:
            m["artifacts"] = [a for a in m["artifacts"] if a["file"] != name]

        _edit_json(d / "manifest.json", drop)
        return d, [f"manifest.json: does not list {name}"]

    return tamper


def _extra_file_listed(d: Path) -> tuple[Path, list[str]]:
    """Listed or not, a name other than the seven is never read (not even to hash)."""
    data = b"scratch\n"
    (d / "notes.txt").write_bytes(data)
    art = {
        "file": "notes.txt",
        "stream": None,
        "format": "json",
        "record_count": 1,
        "line_count": 1,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    _edit_json(d / "manifest.json", lambda m: m["artifacts"].append(art))
    return d, [
        "notes.txt: unexpected file in bundle",
        "manifest.json: lists 'notes.txt', which is not a bundle file (allowed: "
        "ui_events.log, api_logs.log, db_events.log, k8s_events.log, mesh_events.jsonl, "
        "ground_truth.json)",
    ]


def _extra_file_unlisted(d: Path) -> tuple[Path, list[str]]:
    (d / "notes.txt").write_text("scratch\n", encoding="utf-8")
    return d, ["notes.txt: unexpected file in bundle"]


def _truth_case(edit: Callable[[dict[str, Any]], object], problem: str) -> Sealed:
    def tamper(d: Path) -> tuple[Path, list[str]]:
        _edit_json(d / "ground_truth.json", edit)
        _reseal(d)
        return d, [f"ground_truth.json: {problem}"]

    return tamper


def _truth_of_another_bundle(d: Path) -> tuple[Path, list[str]]:
    _edit_json(d / "ground_truth.json", lambda t: t.update(bundle_id=OTHER_ID))
    _reseal(d)
    return d, [f"ground_truth.json: bundle_id {OTHER_ID} != directory name"]


def _manifest_case(edit: Callable[[dict[str, Any]], object], problem: str) -> Sealed:
    def tamper(d: Path) -> tuple[Path, list[str]]:
        _edit_json(d / "manifest.json", edit)
        return d, [f"manifest.json: {problem}"]

    return tamper


SEALED_TAMPERS: dict[str, Sealed] = {
    "mesh-missing-key": _mesh_case(
        lambda o: o.pop("route_name"), "not the 24 Istio access-log keys"
    ),
    "mesh-extra-key": _mesh_case(
        lambda o: o.update(trace_id="abc"), "not the 24 Istio access-log keys"
    ),
    "mesh-string-status": _mesh_case(
        lambda o: o.update(response_code=str(o["response_code"])),
        "response_code must be a number",
    ),
    "mesh-string-bytes": _mesh_case(
        lambda o: o.update(bytes_sent=str(o["bytes_sent"])), "bytes_sent must be a number"
    ),
    "mesh-bool-duration": _mesh_case(
        lambda o: o.update(duration=True), "duration must be a number"
    ),
    "mesh-float-bytes-received": _mesh_case(
        lambda o: o.update(bytes_received=0.5), "bytes_received must be a number"
    ),
    "mesh-not-json": _mesh_not_json,
    "renamed-directory": _renamed_directory,
    "manifest-of-another-request": _manifest_of_another_request,
    "request-not-matching-bundle-id": _request_not_matching_bundle_id,
    "stream-not-listed": _unlisted("db_events.log"),
    "label-not-listed": _unlisted("ground_truth.json"),
    "extra-file-listed": _extra_file_listed,
    "extra-file-unlisted": _extra_file_unlisted,
    "label-missing-field": _truth_case(
        lambda t: t.pop("root_cause"), "invalid at root_cause: Field required"
    ),
    "label-bad-layer": _truth_case(
        lambda t: t.update(root_cause_layer="network"),
        "invalid at root_cause_layer: Input should be 'ui', 'api', 'db', 'k8s' or 'mesh'",
    ),
    "label-incoherent": _truth_case(
        lambda t: t.update(confidence_target_min=0.9, confidence_target_max=0.1),
        "invalid at <root>: Value error, confidence_target_min must be <= confidence_target_max",
    ),
    "label-of-another-bundle": _truth_of_another_bundle,
    "manifest-missing-field": _manifest_case(
        lambda m: m.pop("window_end"), "invalid at window_end: Field required"
    ),
}


def _sha_of(d: Path, name: str) -> str:
    """The sha256 the copy's source bundle (untouched) has for ``name``."""
    manifest = json.loads((d.parent / "source-manifest.json").read_text(encoding="utf-8"))
    return str(next(a["sha256"] for a in manifest["artifacts"] if a["file"] == name))


def _checksums_agree(d: Path) -> None:
    """Every file manifest.json lists has the listed size and sha256 (the precondition)."""
    manifest = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    for art in manifest["artifacts"]:
        data = (d / art["file"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (art["bytes"], art["sha256"])


@pytest.mark.parametrize("tamper", SEALED_TAMPERS.values(), ids=SEALED_TAMPERS.keys())
def test_validate_reports_exactly_what_is_wrong_when_checksums_agree(
    copy_of: Callable[[str], Path], tamper: Sealed
) -> None:
    d = copy_of(SEALED)
    assert validate(d) == []

    d, expected = tamper(d)
    _checksums_agree(d)

    # Without regeneration: exactly the structural problems. With it (the default), the
    # same first, then whatever regenerating the request shows on top.
    assert validate(d, regenerate=False) == expected
    assert validate(d)[: len(expected)] == expected


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

    problems = validate(d, regenerate=False)
    assert validate(d) == [
        *problems,
        f"{stream.name}: not what the manifest's request generates (sha256 "
        f"{hashlib.sha256(stream.read_bytes()).hexdigest()[:12]}..., regenerated "
        f"{_sha_of(d, stream.name)[:12]}...)",
    ]

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

    ev = truth["evidence"][0]
    mismatch = (
        f"ground_truth.json: evidence {ev['file']}:{ev['line']} ({ev['signal']}) does not "
        "match the line in the bundle"
    )
    assert validate(d, regenerate=False) == [mismatch]
    assert validate(d) == [
        mismatch,
        "ground_truth.json: not the label the manifest's request generates",
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
    """Unusable input: exit 2 with INVALID_PARAMETER, as for any bad argument."""
    (tmp_path / "file").write_text("x\n")
    for target in (tmp_path / "nope", tmp_path / "file"):
        proc = run_cli("validate", str(target))
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr == (
            f"error: INVALID_PARAMETER: bundle={str(target)!r} is not a directory\n"
        )


def test_cli_validate_fails_on_a_bad_mesh_line_with_checksums_agreeing(
    copy_of: Callable[[str], Path],
) -> None:
    d, expected = SEALED_TAMPERS["mesh-missing-key"](copy_of(SEALED))

    proc = run_cli("validate", "--no-regenerate", str(d))

    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [f"INVALID {d}: {p}" for p in expected]
    # By default the request is regenerated too, which names the edited stream again.
    lines = run_cli("validate", str(d)).stderr.splitlines()
    assert lines[:-1] == [f"INVALID {d}: {p}" for p in expected]
    assert lines[-1].startswith(f"INVALID {d}: mesh_events.jsonl: not what the manifest's")
