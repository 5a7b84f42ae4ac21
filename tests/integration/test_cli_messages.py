"""What the command lines say and do with odd input (issue 17, item 14; `--version`).

* a request flag that is not a number, or not a finite one, is ``INVALID_PARAMETER``
  naming the field and its range (it was argparse's ``invalid int value`` without a
  code, and NaN was "should be <= 2000");
* no option may be abbreviated, on any parser of either CLI (``--thr`` was taken for
  ``--threshold``);
* ``--out -`` is refused (it created a directory named ``-``);
* the spec's quickstart form, no command and no ``--out``, is ``generate`` into
  ``tests/fixtures/mock_incidents/<bundle_id>/``, and ``--json`` prints the generation
  response contract;
* ``--version`` prints the installed distribution's version.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import tomllib
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from rca.cli import build_parser
from rca.seed import mock_incident_generator as gen
from rca.seed.mock_incident_generator import (
    GROUND_TRUTH_FILE,
    MANIFEST_FILE,
    STREAM_FILES,
    GenerationRequest,
    GenerationResponse,
    Manifest,
    allowed_values,
)
from tests.integration.conftest import ROOT, run_cli

ANCHOR = "2026-11-26T05:00:00Z"
SMALL = ["--duration-minutes", "15", "--rps", "0.5"]
BASE = ["--scenario", "normal_load", "--seed", "1", "--time-anchor", ANCHOR]
CONTRACTS = ROOT / "specs" / "001-build-realistic-mock" / "contracts"
# The spec's quickstart command, word for word (specs/001-build-realistic-mock).
SPEC_FORM = [
    "--scenario",
    "db_connection_pool_exhaustion",
    "--seed",
    "42",
    "--time-anchor",
    "2026-02-22T10:00:00Z",
]


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def _with(field: str, value: str) -> list[str]:
    """The small base request, with ``field`` given as ``value``."""
    args = [*BASE, *SMALL]
    flag = _flag(field)
    given = [f"{flag}={value}"]  # `=`: a value like -inf is not taken for an option
    if flag in args:
        i = args.index(flag)
        return [*args[:i], *given, *args[i + 2 :]]
    return [*args, *given]


NUMBER_FIELDS = {
    f: kind for f in GenerationRequest.model_fields if (kind := gen._number_type(f)) is not None
}
FLOAT_FIELDS = [f for f, kind in NUMBER_FIELDS.items() if kind is float]


def test_the_number_fields_are_read_off_the_model() -> None:
    # The CLI parses exactly the fields the request's JSON Schema says are numbers.
    props = GenerationRequest.model_json_schema()["properties"]

    def types(prop: dict[str, object]) -> set[object]:
        options = prop.get("anyOf", [prop])
        assert isinstance(options, list)
        return {o.get("type") for o in options}

    expected = {}
    for field, prop in props.items():
        found = types(prop) & {"integer", "number"}
        if found:
            expected[field] = int if found == {"integer"} else float
    assert expected == NUMBER_FIELDS
    assert set(NUMBER_FIELDS) >= {"seed", "rps", "threshold"}


@pytest.mark.parametrize("field", list(NUMBER_FIELDS))
def test_a_flag_that_is_not_a_number_is_invalid_parameter(field: str, tmp_path: Path) -> None:
    proc = run_cli("generate", *_with(field, "abc"), "--out", str(tmp_path))
    assert proc.returncode == 2
    what = "a whole number" if NUMBER_FIELDS[field] is int else "a number"
    assert proc.stderr == (
        f"error: INVALID_PARAMETER: {field}='abc': must be {what} "
        f"(allowed: {allowed_values(field)})\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("field", FLOAT_FIELDS)
def test_a_non_finite_number_is_named_as_such(
    field: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ui_events.log"
    assert gen.main(["generate-stream", *_with(field, value), "--stream", "ui", "--out", str(out)])
    assert capsys.readouterr().err == (
        f"error: INVALID_PARAMETER: {field}={float(value)!r}: must be a finite number "
        f"(allowed: {allowed_values(field)})\n"
    )
    assert not out.exists()


def test_nan_says_finite_not_a_bound(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gen.main(["generate", *_with("rps", "nan"), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        "error: INVALID_PARAMETER: rps=nan: must be a finite number "
        f"(allowed: {allowed_values('rps')})\n"
    )


def test_workers_that_is_not_a_number_is_invalid_parameter(tmp_path: Path) -> None:
    proc = run_cli("generate", *BASE, *SMALL, "--workers", "two", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: INVALID_PARAMETER: workers='two': expected a whole number >= 1\n"
    )


# ---------------------------------------------------------------------- abbreviations
def _generator_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(allow_abbrev=False)
    gen.add_commands(parser.add_subparsers(dest="command"))
    gen.forbid_abbreviations(parser)
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def _abbreviations() -> list[tuple[str, str, str]]:
    """(cli, command, abbreviation) for every long option of every command of both CLIs
    that has an unambiguous prefix (the option without its last letter)."""
    cases = []
    for cli, parser in (("rca-mock", build_parser()), ("generator", _generator_parser())):
        for command, sub in sorted(_subparsers(parser).items()):
            options = [o for a in sub._actions for o in a.option_strings if o.startswith("--")]
            for option in options:
                prefix = option[:-1]
                if len(prefix) > 3 and sum(o.startswith(prefix) for o in options) == 1:
                    cases.append((cli, command, prefix))
    return cases


ABBREVIATIONS = _abbreviations()


def test_every_command_of_both_clis_is_swept() -> None:
    commands = {(cli, command) for cli, command, _ in ABBREVIATIONS}
    assert {c for cli, c in commands if cli == "generator"} == set(_subparsers(_generator_parser()))
    assert {"score", "score-suite", "plot", "generate"} <= {c for _, c in commands}


@pytest.mark.parametrize(("cli", "command", "abbreviation"), ABBREVIATIONS)
def test_no_option_may_be_abbreviated(cli: str, command: str, abbreviation: str) -> None:
    parser = build_parser() if cli == "rca-mock" else _generator_parser()
    sub = _subparsers(parser)[command]
    for action in sub._actions:  # only the abbreviation is under test here
        action.required = False
    _, unknown = sub.parse_known_args([abbreviation, "1"])
    assert abbreviation in unknown, f"{cli} {command}: {abbreviation} was taken for an option"


def test_an_abbreviated_flag_writes_nothing(tmp_path: Path) -> None:
    # --api-rep for --api-replicas: before, a bundle with 5 replicas was written.
    proc = run_cli("generate", *BASE, *SMALL, "--api-rep", "5", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "unrecognized arguments: --api-rep 5" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_rca_mock_score_refuses_an_abbreviated_threshold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rca.cli import main

    report = tmp_path / "r.json"
    report.write_text('{"hypotheses": []}', encoding="utf-8")
    bundle = ROOT / "tests" / "fixtures" / "mock_incidents"
    with pytest.raises(SystemExit) as info:
        main(["score", str(bundle), str(report), "--thr", "0.99"])
    assert info.value.code == 2
    assert "unrecognized arguments: --thr" in capsys.readouterr().err


# ---------------------------------------------------------------------- --out -
@pytest.mark.parametrize(
    ("command", "extra", "what"),
    [
        ("generate", [], "a directory path"),
        ("generate-stream", ["--stream", "ui"], "a file path"),
        ("write-ground-truth", [], "a file path"),
    ],
)
def test_out_dash_is_refused(command: str, extra: list[str], what: str, tmp_path: Path) -> None:
    proc = run_cli(command, *BASE, *SMALL, *extra, "--out", "-", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: INVALID_PARAMETER: out='-': not {what} ")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- the spec's form
def _bundle_files(path: Path) -> set[str]:
    return {p.name for p in path.iterdir()}


def test_the_spec_quickstart_form_generates_into_the_default_root(tmp_path: Path) -> None:
    proc = run_cli(*SPEC_FORM, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip())
    assert path.parent == Path("tests/fixtures/mock_incidents")
    bundle = tmp_path / path
    assert _bundle_files(bundle) == {*STREAM_FILES.values(), GROUND_TRUTH_FILE, MANIFEST_FILE}
    manifest = Manifest.model_validate_json((bundle / MANIFEST_FILE).read_bytes())
    assert (manifest.scenario_id, manifest.request.seed) == ("db_connection_pool_exhaustion", 42)
    assert bundle.name == manifest.bundle_id
    assert run_cli("validate", str(bundle)).returncode == 0
    # The same bundle as `generate` with the default written out.
    again = run_cli("generate", *SPEC_FORM, "--out", str(tmp_path / "explicit"))
    assert again.returncode == 0, again.stderr
    twin = Path(again.stdout.strip())
    for name in _bundle_files(bundle):
        assert (twin / name).read_bytes() == (bundle / name).read_bytes(), name


def test_generate_json_prints_the_generation_response(tmp_path: Path) -> None:
    proc = run_cli(*SPEC_FORM, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    schema = json.loads((CONTRACTS / "generation_response.schema.json").read_text())
    Draft202012Validator(schema).validate(doc)
    response = GenerationResponse.model_validate(doc)
    bundle = tmp_path / response.path
    raw = (bundle / MANIFEST_FILE).read_bytes()
    manifest = Manifest.model_validate_json(raw)
    assert (response.bundle_id, response.scenario, response.seed) == (
        manifest.bundle_id,
        "db_connection_pool_exhaustion",
        42,
    )
    assert response.artifacts == manifest.artifacts
    assert response.determinism.request == manifest.request
    assert response.determinism.generator == manifest.generator
    assert response.determinism.manifest_sha256 == hashlib.sha256(raw).hexdigest()
    for artifact in response.artifacts:
        data = (bundle / artifact.file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == artifact.sha256
    # Same request, same response, byte for byte (it carries no clock and no host).
    assert run_cli(*SPEC_FORM, "--json", cwd=tmp_path).stdout == proc.stdout


def test_the_commandless_form_still_needs_the_request(tmp_path: Path) -> None:
    proc = run_cli("--seed", "42", cwd=tmp_path)
    assert proc.returncode == 2
    assert "the following arguments are required: --scenario, --time-anchor" in proc.stderr
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- --version
def test_version_of_both_clis_is_the_installed_distributions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert importlib.metadata.version("rca-mock-incidents") == declared
    proc = run_cli("--version")
    assert (proc.returncode, proc.stdout) == (0, f"rca-mock-incidents {declared}\n")
    from rca.cli import main

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"rca-mock-incidents {declared}\n"
