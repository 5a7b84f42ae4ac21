"""Config files are read strictly: no silent last-key-wins, no `true` read as 1, YAML
errors with their line.

PyYAML's ``safe_load`` (and Snakemake's ``configfile:``) keep the last of two equal keys,
and pydantic's lax mode turns ``seed: true`` into seed 1: both built a bundle nobody
asked for. Each bad file is checked through ``python -m rca.config`` /
``python -m rca.suites`` (exit 2, the file, the key path or line), and the workflow's
files through ``snakemake -n`` in a scratch copy of the workflow (fails before any job).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rca.config import ConfigError, load_config, read_yaml
from rca.seed.mock_incident_generator import allowed_values
from tests.workflow.helpers import (
    ROOT,
    TEST_CONFIG,
    TEST_SUITES,
    new_workspace,
    snakemake,
    suite_workspace,
)

TAB = "\t"
SCENARIOS_TEXT = TEST_CONFIG.read_text(encoding="utf-8")
SUITES_TEXT = TEST_SUITES.read_text(encoding="utf-8")


def _lines_of(text: str, needle: str) -> list[int]:
    """1-based numbers of the lines that start with ``needle``."""
    return [n for n, line in enumerate(text.splitlines(), 1) if line.startswith(needle)]


def _line_of(text: str, needle: str) -> int:
    (found,) = _lines_of(text, needle)
    return found


def _duplicate(text: str, needle: str, key: str, column: int) -> str:
    """The error for the second of two lines starting with ``needle`` (key ``key``)."""
    first, second = _lines_of(text, needle)
    return (
        f"not valid YAML: line {second}, column {column}: duplicate key '{key}' "
        f"(first at line {first}); each key may appear once"
    )


def _edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


# name -> (edited text, the lines the error must hold); the line numbers are computed on
# the edited text, so the expectations follow the shipped test config.
def _scenario_cases() -> dict[str, tuple[str, list[str]]]:
    dup_seed = _edit(SCENARIOS_TEXT, "  seed: 7\n", "  seed: 7\n  seed: 8\n")
    dup_entry = _edit(
        SCENARIOS_TEXT, "  bad_api_rollout: {}\n", "  bad_api_rollout: {}\n  normal_load: {}\n"
    )
    dup_section = SCENARIOS_TEXT + "defaults:\n  seed: 9\n"
    syntax = _edit(SCENARIOS_TEXT, "  rps: 0.5\n", "  rps: [0.5\n")
    tab = _edit(SCENARIOS_TEXT, "  rps: 0.5\n", "\trps: 0.5\n")
    return {
        "duplicate default": (dup_seed, [_duplicate(dup_seed, "  seed: ", "seed", 3)]),
        "duplicate scenario entry": (
            dup_entry,
            [_duplicate(dup_entry, "  normal_load:", "normal_load", 3)],
        ),
        "duplicate section": (dup_section, [_duplicate(dup_section, "defaults:", "defaults", 1)]),
        "seed true": (
            _edit(SCENARIOS_TEXT, "  seed: 7\n", "  seed: true\n"),
            ["defaults.seed = true: a boolean (true/false) is not allowed here"],
        ),
        "api_replicas false in an entry": (
            _edit(SCENARIOS_TEXT, "  normal_load: {}\n", "  normal_load: {api_replicas: false}\n"),
            ["scenarios.normal_load.api_replicas = false: a boolean (true/false) is not allowed"],
        ),
        "enabled 1": (
            _edit(
                SCENARIOS_TEXT,
                "  pod_oom_restart_loop: {enabled: false}\n",
                "  pod_oom_restart_loop: {enabled: 1}\n",
            ),
            ["scenarios.pod_oom_restart_loop.enabled = 1: Input should be a valid boolean"],
        ),
        "rps NaN": (
            _edit(SCENARIOS_TEXT, "  rps: 0.5\n", "  rps: .nan\n"),
            [f"defaults.rps = NaN: must be a finite number (allowed: {allowed_values('rps')})"],
        ),
        "syntax error": (
            syntax,
            [
                f"not valid YAML: line {_line_of(syntax, '  api_replicas')}, column 15: while parsing"
            ],
        ),
        "tab": (
            tab,
            [f"not valid YAML: line {_line_of(tab, TAB + 'rps')}, column 1: ", "character '\\t'"],
        ),
    }


def _suite_cases() -> dict[str, tuple[str, list[str]]]:
    dup_suite = SUITES_TEXT + "  tiny:\n    seeds: [3]\n"
    syntax = _edit(SUITES_TEXT, "    seeds: [1, 2]\n", "    seeds: [1, 2\n")
    dup_nested = _edit(SUITES_TEXT, "    seeds: [1, 2]\n", "    seeds: [1, 2]\n    seeds: [3]\n")
    return {
        "duplicate suite": (dup_suite, [_duplicate(dup_suite, "  tiny:", "tiny", 3)]),
        "duplicate seeds": (dup_nested, [_duplicate(dup_nested, "    seeds: ", "seeds", 5)]),
        "seed true": (
            _edit(SUITES_TEXT, "    seeds: [1, 2]\n", "    seeds: [true, 2]\n"),
            ["suites.tiny.seeds.0 = true: Input should be a valid integer"],
        ),
        "seed range count true": (
            _edit(SUITES_TEXT, "    seeds: [1, 2]\n", "    seeds: {first: 1, count: true}\n"),
            ["suites.tiny.seeds.count = true: Input should be a valid integer"],
        ),
        "request rps true": (
            _edit(SUITES_TEXT, "{threshold_override: 0.8}", "{rps: true}"),
            ["suites.tiny.scenario_overrides.bad_api_rollout.rps = true: a boolean"],
        ),
        "syntax error": (
            syntax,
            [
                f"not valid YAML: line {_line_of(syntax, '    noise_profiles')}, column 19: "
                "while parsing a flow sequence"
            ],
        ),
    }


SCENARIO_CASES = _scenario_cases()
SUITE_CASES = _suite_cases()


def _check_file(module: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.parametrize("case", list(SCENARIO_CASES))
def test_rca_config_refuses_the_file(case: str, tmp_path: Path) -> None:
    text, expected = SCENARIO_CASES[case]
    path = tmp_path / "scenarios.yaml"
    path.write_text(text, encoding="utf-8")
    res = _check_file("rca.config", path)
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stdout == ""
    assert res.stderr.startswith(f"error: invalid workflow configuration in {path} ")
    for line in expected:
        assert line in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("case", list(SUITE_CASES))
def test_rca_suites_refuses_the_file(case: str, tmp_path: Path) -> None:
    text, expected = SUITE_CASES[case]
    path = tmp_path / "suites.yaml"
    path.write_text(text, encoding="utf-8")
    res = _check_file("rca.suites", path)
    assert res.returncode == 2, res.stdout + res.stderr
    assert str(path) in res.stderr
    for line in expected:
        assert line in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_the_shipped_files_load_and_merge_keys_may_still_override(tmp_path: Path) -> None:
    for path in (TEST_CONFIG, ROOT / "config" / "scenarios.yaml", TEST_SUITES):
        assert isinstance(read_yaml(path), dict)
    assert load_config(TEST_CONFIG).requests()["normal_load"].seed == 7
    # `<<: *a` then an explicit key is YAML's own override, not a duplicate.
    data = read_yaml(_write(tmp_path / "m.yaml", "a: &a {x: 1, y: 2}\nb:\n  <<: *a\n  x: 3\n"))
    assert data == {"a": {"x": 1, "y": 2}, "b": {"x": 3, "y": 2}}
    with pytest.raises(
        ConfigError, match=re.escape("not valid YAML: line 4, column 3: duplicate key 'x'")
    ):
        read_yaml(_write(tmp_path / "d.yaml", "b:\n  <<: {x: 1}\n  x: 3\n  x: 4\n"))


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------- the workflow
WORKFLOW_SCENARIO_CASES = ["duplicate default", "seed true", "syntax error"]


def _no_job_ran(log: str) -> bool:
    return not re.search(r"^(local)?rule ", log, re.MULTILINE)


@pytest.mark.workflow
@pytest.mark.parametrize("case", WORKFLOW_SCENARIO_CASES)
def test_snakemake_refuses_the_config_before_any_job(case: str, tmp_path: Path) -> None:
    ws = new_workspace(tmp_path / "ws")
    text, expected = SCENARIO_CASES[case]
    (ws / "config" / "scenarios.yaml").write_text(text, encoding="utf-8")
    res = snakemake(ws, "-n")
    assert res.returncode != 0
    assert "invalid workflow configuration in config/scenarios.yaml" in res.stdout, res.stdout
    for line in expected:
        assert line in res.stdout, res.stdout
    assert _no_job_ran(res.stdout)


@pytest.mark.workflow
def test_snakemake_refuses_a_duplicate_key_in_a_configfile_given_on_the_command_line(
    tmp_path: Path,
) -> None:
    ws = new_workspace(tmp_path / "ws")
    extra = _write(ws / "extra.yaml", "defaults:\n  rps: 0.5\n  rps: 2.0\n")
    res = snakemake(ws, "-n", "--configfile", str(extra))
    assert res.returncode != 0
    assert f"invalid workflow configuration in {extra}" in res.stdout, res.stdout
    assert "line 3, column 3: duplicate key 'rps' (first at line 2)" in res.stdout
    assert _no_job_ran(res.stdout)


@pytest.mark.workflow
def test_snakemake_refuses_a_duplicate_suite_before_any_job(tmp_path: Path) -> None:
    ws = suite_workspace(tmp_path / "ws")
    text, expected = SUITE_CASES["duplicate suite"]
    (ws / "config" / "suites.yaml").write_text(text, encoding="utf-8")
    res = snakemake(ws, "-n", "suite", "--config", "suite=tiny")
    assert res.returncode != 0
    for line in expected:
        assert line in res.stdout, res.stdout
    assert _no_job_ran(res.stdout)
