"""Public face of the incident-bundle generator.

Library::

    from rca.seed.mock_incident_generator import GenerationRequest, generate_bundle
    path = generate_bundle(GenerationRequest(scenario="bad_api_rollout", seed=7,
                                             time_anchor="2026-11-26T05:00:00Z"), "out/")

CLI (also ``rca-mock``; one flag per request field, generated from the model)::

    python -m rca.seed.mock_incident_generator generate --scenario S --seed N \\
        --time-anchor T [--duration-minutes M] [--rps R] [--noise-profile P] \\
        [--threshold X] [--out DIR] [--json]
    python -m rca.seed.mock_incident_generator --scenario S --seed N --time-anchor T
        # no command: generate, into tests/fixtures/mock_incidents/<bundle_id>/
    python -m rca.seed.mock_incident_generator list-scenarios
    python -m rca.seed.mock_incident_generator validate BUNDLE_DIR [--no-regenerate]

Same request => byte-identical streams. Errors carry a code (``INVALID_SCENARIO``,
``INVALID_PARAMETER``, ``INVALID_OUTPUT_FORMAT``, ``GENERATION_FAILED``), name the bad
field with its allowed values, and leave nothing half-written behind.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import signal
import sys
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from . import scenarios
from ._bundle import (
    existing_bundle,
    request_bundle_id,
    require_stream,
    write_bundle,
    write_ground_truth_file,
    write_manifest_file,
    write_stream,
)
from ._errors import ErrorCode, GenerationError
from ._interrupt import Interrupted, signals_raise
from ._models import (
    ALL_STREAM_FILES,
    GROUND_TRUTH_FILE,
    LABEL_ONLY_FIELDS,
    MANIFEST_FILE,
    MODALITIES,
    MODALITY_STREAMS,
    NON_STREAM_FIELDS,
    STREAM_FILES,
    STREAMS,
    SUITE_AXES,
    Artifact,
    CausalStep,
    Distractor,
    EvidencePointer,
    FieldRole,
    GenerationRequest,
    GroundTruth,
    IncidentWindow,
    Manifest,
    allowed_values,
    field_example,
    field_role,
    request_field,
)
from ._pipeline import StreamResult, plan_for
from ._response import Determinism, GenerationResponse, generation_response
from ._validate import validate_bundle

__all__ = [
    "ALL_STREAM_FILES",
    "GROUND_TRUTH_FILE",
    "LABEL_ONLY_FIELDS",
    "MANIFEST_FILE",
    "MODALITIES",
    "MODALITY_STREAMS",
    "NON_STREAM_FIELDS",
    "STREAMS",
    "STREAM_FILES",
    "SUITE_AXES",
    "Artifact",
    "CausalStep",
    "Determinism",
    "Distractor",
    "ErrorCode",
    "EvidencePointer",
    "FieldRole",
    "GenerationError",
    "GenerationRequest",
    "GenerationResponse",
    "GroundTruth",
    "IncidentWindow",
    "Manifest",
    "StreamResult",
    "allowed_values",
    "bundle_id_for",
    "existing_bundle",
    "field_example",
    "field_role",
    "generate_bundle",
    "generate_stream",
    "generation_response",
    "list_scenarios",
    "main",
    "make_request",
    "preflight",
    "request_field",
    "require_stream",
    "validate",
    "write_ground_truth",
    "write_manifest",
]


def list_scenarios() -> dict[str, str]:
    """Scenario id -> one-line title, sorted by id."""
    return {sid: scenarios.get(sid).title for sid in scenarios.scenario_ids()}


def make_request(**fields: Any) -> GenerationRequest:
    """Validate request fields; raise :class:`GenerationError` naming the bad field."""
    try:
        return GenerationRequest(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "request"
        value = err.get("input")
        msg = str(err["msg"]).removeprefix("Value error, ")
        shown = "" if isinstance(value, dict) else f"={value!r}"
        if err["type"] == "extra_forbidden":
            names = ", ".join(sorted(GenerationRequest.model_fields))
            raise GenerationError(
                "INVALID_PARAMETER",
                f"{field}: unknown field; allowed fields: {names}",
                field=field,
            ) from None
        allowed = allowed_values(field)
        suffix = "" if allowed is None else f" (allowed: {allowed})"
        raise GenerationError(
            "INVALID_PARAMETER", f"{field}{shown}: {msg}{suffix}", field=field
        ) from None


def preflight(request: GenerationRequest) -> GenerationRequest:
    """Check that the scenario can happen at these parameters, without generating.

    Field checks live in the model; this catches what only the scenario knows (e.g. too
    little traffic to exhaust a pool). Costs milliseconds: it only plans the fault.
    """
    plan_for(request)
    return request


def _coerce(request: GenerationRequest | Mapping[str, Any]) -> GenerationRequest:
    return request if isinstance(request, GenerationRequest) else make_request(**request)


def bundle_id_for(request: GenerationRequest | Mapping[str, Any]) -> str:
    return request_bundle_id(_coerce(request))


def generate_bundle(
    request: GenerationRequest | Mapping[str, Any],
    out_dir: str | Path,
    *,
    workers: int | None = None,
) -> Path:
    """Write ``out_dir/<bundle_id>/`` atomically and return its path.

    An older bundle there is replaced in one step; a file or symlink there is refused
    (``INVALID_PARAMETER``, field ``out``) and left untouched.

    ``workers`` processes render groups of streams side by side; the bytes are the same
    for any value. ``None`` (the default) uses up to 3 of the usable CPUs for bundles of
    20k requests or more and one process below that.
    """
    return write_bundle(_coerce(request), Path(out_dir), workers)


def generate_stream(
    request: GenerationRequest | Mapping[str, Any], stream: str, out_path: str | Path
) -> StreamResult:
    """Write one stream file; its bytes equal the same stream inside the whole bundle."""
    return write_stream(_coerce(request), stream, Path(out_path))


def write_ground_truth(
    request: GenerationRequest | Mapping[str, Any], out_path: str | Path
) -> GroundTruth:
    return write_ground_truth_file(_coerce(request), Path(out_path))


def write_manifest(
    request: GenerationRequest | Mapping[str, Any], bundle_dir: str | Path
) -> Manifest:
    """Manifest for the stream files and label already in ``bundle_dir``."""
    return write_manifest_file(_coerce(request), Path(bundle_dir))


def validate(bundle_dir: str | Path, *, regenerate: bool = True) -> list[str]:
    """Problems found in a bundle, one line each, most important first; [] when valid.

    Checks files (regular only), checksums, counts, schemas, the manifest against its
    request, the window of every stamped line, evidence pointers; and, unless
    ``regenerate`` is False, that the request regenerates the streams and label exactly
    (in memory: about the cost of generating the bundle).
    """
    return validate_bundle(Path(bundle_dir), regenerate=regenerate)


# ---------------------------------------------------------------------- CLI
EXIT_INVALID = 2
EXIT_FAILED = 1


# The spec's default bundle root (specs/001-build-realistic-mock), relative to the
# working directory: where `generate` writes without --out.
DEFAULT_OUT = "tests/fixtures/mock_incidents"
PACKAGE = "rca-mock-incidents"


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def _number_type(field: str) -> type[int] | type[float] | None:
    """``int`` or ``float`` when the request field holds that number (through Annotated
    and Optional), else None: the flag's text is passed on as it is."""
    pending: list[Any] = [GenerationRequest.model_fields[field].annotation]
    while pending:
        tp = pending.pop()
        if tp is int or tp is float:
            return tp
        pending += [a for a in typing.get_args(tp) if isinstance(a, type) or typing.get_args(a)]
    return None


def _request_args(p: argparse.ArgumentParser) -> None:
    """One flag per request field, read off the model: names, required, help, allowed."""
    for name, info in GenerationRequest.model_fields.items():
        allowed = allowed_values(name)
        notes = [f"allowed: {allowed}"] if allowed else []
        if not info.is_required():
            notes.append("default: unset" if info.default is None else f"default: {info.default}")
        text = (info.description or name).rstrip(".")
        text = f"{text} ({'; '.join(notes)})" if notes else text
        p.add_argument(
            _flag(name), dest=name, required=info.is_required(), help=text.replace("%", "%%")
        )


def _parse_flag(field: str, text: str) -> object:
    """A flag's text as its field's number type; INVALID_PARAMETER naming the field if not.

    Parsed here rather than by argparse's ``type=``, whose error carries no code."""
    kind = _number_type(field)
    if kind is None:
        return text
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        allowed = allowed_values(field)
        suffix = f" (allowed: {allowed})" if allowed else ""
        raise GenerationError(
            "INVALID_PARAMETER", f"{field}={text!r}: must be {what}{suffix}", field=field
        ) from None


def _request_from(ns: argparse.Namespace) -> GenerationRequest:
    fields = {
        name: _parse_flag(name, getattr(ns, name))
        for name in GenerationRequest.model_fields
        if getattr(ns, name, None) is not None
    }
    return make_request(**fields)


def _workers(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise GenerationError(
            "INVALID_PARAMETER", f"workers={text!r}: expected a whole number >= 1", field="workers"
        )
    return n


def _out_path(text: str, what: str) -> str:
    """``--out``, refused when it names no path (``-`` would create a file or directory
    literally named ``-``; nothing here writes to standard output)."""
    if text == "-":
        raise GenerationError(
            "INVALID_PARAMETER",
            f"out='-': not {what} (nothing is written to standard output; for a path "
            "named '-', write ./-)",
            field="out",
        )
    if not text:
        raise GenerationError("INVALID_PARAMETER", f"out='': empty; give {what}", field="out")
    return text


def _cmd_generate(ns: argparse.Namespace) -> int:
    request = _request_from(ns)
    out = _out_path(ns.out, "a directory path")
    path = generate_bundle(request, out, workers=_workers(ns.workers))
    if ns.json:
        print(generation_response(path).model_dump_json(indent=2))
    else:
        print(path)
    return 0


def _cmd_stream(ns: argparse.Namespace) -> int:
    res = generate_stream(_request_from(ns), ns.stream, _out_path(ns.out, "a file path"))
    print(f"{ns.out}\t{res.records} records\t{res.sha256}")
    return 0


def _cmd_ground_truth(ns: argparse.Namespace) -> int:
    write_ground_truth(_request_from(ns), _out_path(ns.out, "a file path"))
    print(ns.out)
    return 0


def _cmd_manifest(ns: argparse.Namespace) -> int:
    write_manifest(_request_from(ns), ns.bundle)
    print(Path(ns.bundle) / MANIFEST_FILE)
    return 0


def _cmd_list(ns: argparse.Namespace) -> int:
    for sid, title in list_scenarios().items():
        print(f"{sid}\t{title}")
    return 0


def _cmd_validate(ns: argparse.Namespace) -> int:
    if not Path(ns.bundle).is_dir():
        raise GenerationError(
            "INVALID_PARAMETER", f"bundle={ns.bundle!r} is not a directory", field="bundle"
        )
    problems = validate(ns.bundle, regenerate=ns.regenerate)
    if problems:
        for p in problems:
            print(f"INVALID {ns.bundle}: {p}", file=sys.stderr)
        return EXIT_FAILED
    print(f"OK {ns.bundle}")
    return 0


def add_commands(sub: Any) -> None:
    """Register the generator's subcommands on an argparse subparsers object."""
    g = sub.add_parser("generate", help="write one bundle directory")
    _request_args(g)
    g.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help=f"parent directory of the bundle (default: {DEFAULT_OUT}, in the working directory)",
    )
    g.add_argument(
        "--workers",
        help="processes rendering streams side by side (same bytes for any value; "
        "default: by bundle size, at most 3)",
    )
    g.add_argument(
        "--json",
        action="store_true",
        help="print the generation response (bundle_id, scenario, seed, path, artifacts, "
        "determinism) as JSON instead of the path",
    )
    g.set_defaults(func=_cmd_generate)

    s = sub.add_parser("generate-stream", help="write one stream file of a bundle")
    _request_args(s)
    s.add_argument("--stream", required=True, help=" | ".join(ALL_STREAM_FILES))
    s.add_argument("--out", required=True, help="output file path")
    s.set_defaults(func=_cmd_stream)

    t = sub.add_parser("write-ground-truth", help="write a bundle's ground_truth.json")
    _request_args(t)
    t.add_argument("--out", required=True, help="output file path")
    t.set_defaults(func=_cmd_ground_truth)

    m = sub.add_parser("write-manifest", help="write manifest.json for a bundle directory")
    _request_args(m)
    m.add_argument("--bundle", required=True, help="bundle directory")
    m.set_defaults(func=_cmd_manifest)

    ls = sub.add_parser("list-scenarios", help="print scenario ids and titles")
    ls.set_defaults(func=_cmd_list)

    v = sub.add_parser("validate", help="check a bundle (checksums, counts, schemas, evidence)")
    v.add_argument("bundle")
    v.add_argument(
        "--no-regenerate",
        dest="regenerate",
        action="store_false",
        help="skip regenerating the request in memory to compare every stream and the "
        "label byte for byte (that costs about what generating the bundle costs)",
    )
    v.set_defaults(func=_cmd_validate)


def run_cli(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse and dispatch; map errors to codes and exit statuses, never a traceback."""
    ns = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(ns, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return EXIT_INVALID
    try:
        with signals_raise():  # SIGTERM too runs the cleanup (no half-written bundle)
            return func(ns)
    except Interrupted as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:  # a SIGINT that came before the handler was in place
        print("error: interrupted by SIGINT", file=sys.stderr)
        return 128 + signal.SIGINT
    except GenerationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED if exc.code == "GENERATION_FAILED" else EXIT_INVALID
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (OSError, ValidationError, ValueError) as exc:
        # Files that are missing, unreadable or not a bundle: say which, no traceback.
        print(f"error: GENERATION_FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED


def package_version() -> str:
    """The installed distribution's version (package metadata, not a copy in the code)."""
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def add_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"{PACKAGE} {package_version()}")


def forbid_abbreviations(parser: argparse.ArgumentParser) -> None:
    """``allow_abbrev=False`` on ``parser`` and every subcommand parser below it.

    argparse takes any unambiguous prefix of a long option by default (``--thr 0.9`` for
    ``--threshold``), so a typo or a future option can silently change what a flag means.
    Set after the subcommands are registered, so every module's parsers are covered."""
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                forbid_abbreviations(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rca.seed.mock_incident_generator",
        description="Generate mock incident bundles. Without a command, the arguments are "
        f"those of `generate` (the spec's form: --scenario S --seed N --time-anchor T, "
        f"into {DEFAULT_OUT}/<bundle_id>/).",
        allow_abbrev=False,
    )
    add_version(parser)
    add_commands(parser.add_subparsers(dest="command", metavar="COMMAND"))
    forbid_abbreviations(parser)
    args = list(sys.argv[1:] if argv is None else argv)
    # The spec's quickstart form has no command: options first means `generate`.
    if args and args[0].startswith("--") and args[0] not in ("--help", "--version"):
        args.insert(0, "generate")
    return run_cli(parser, args)


if __name__ == "__main__":
    sys.exit(main())
