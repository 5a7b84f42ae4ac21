"""Suites: named sets of bundles to build in bulk (``config/suites.yaml``), validated.

A suite is scenarios x seeds x noise profiles, with optional request overrides::

    defaults:                    # request fields shared by every suite
      time_anchor: "2026-11-26T05:00:00Z"
      duration_minutes: 15
      rps: 0.5
    suites:
      smoke:
        description: every scenario, two seeds
        scenarios: all           # or a list of scenario ids
        seeds: [1, 2]            # or {first: 1, count: 20}
        noise_profiles: [medium]
        request: {rps: 1.0}      # overrides for every bundle of this suite
        scenario_overrides:      # ... and for one scenario of it
          db_connection_pool_exhaustion: {rps: 0.5}

Each bundle's request is the generator's defaults, overlaid with ``defaults``, the
suite's ``request``, its ``scenario_overrides`` entry, then the bundle's scenario, seed
and noise profile; it is checked by the generator's own
:class:`~rca.seed.mock_incident_generator.GenerationRequest` and ``preflight``.

Bundle ids come from the library (:func:`bundle_id_for`, a hash of the whole request,
noise profile included), so they are unique within a suite (checked here), as tools keyed
by bundle id (``score-suite``, ``baselines``, blind exports) need. The k-th noise profile
of a suite (0-based, in the order listed) moves the time anchor k days later (the first
keeps the declared anchor): from when ids covered only scenario, seed and anchor, kept so
the suites' bundles keep their bytes. Same scenario, seed and time of day, so the same kind of incident
at the same hour; not a byte-for-byte replay with other noise (the traffic curve has a
short wave on absolute time, so the requests differ). Bundles are laid out per noise
profile, ``results/suites/<suite>/<noise_profile>/<bundle_id>/``, so one noise level can
also be scored on its own (``rca-mock score-suite results/suites/large/high REPORTS``).

Every key is documented in ``config/README.md``; ``python -m rca.suites [FILE]`` checks a
file by hand. The workflow (``workflow/rules/suites.smk``) loads the file only when a
suite is asked for, so the fixture build never depends on it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shlex
import sys
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rca.config import ConfigError, RequestLayer, read_yaml, request_layer, validate_mapping
from rca.seed import scenarios
from rca.seed.mock_incident_generator import (
    ALL_STREAM_FILES,
    GROUND_TRUTH_FILE,
    MANIFEST_FILE,
    STREAM_FILES,
    SUITE_AXES,
    GenerationError,
    GenerationRequest,
    allowed_values,
    bundle_id_for,
    preflight,
    validate,
)

__all__ = [
    "AXIS_FIELDS",
    "BUNDLE_FILES",
    "DEFAULT_SUITE",
    "DEFAULT_SUITES_FILE",
    "INDEX_COLUMNS",
    "NOISE_PROFILES",
    "SUITES_ROOT",
    "SeedRange",
    "Suite",
    "SuiteBundle",
    "SuiteInvalidError",
    "SuiteRequest",
    "SuitesFile",
    "load_suites",
    "main",
    "parse_suites",
    "suite_index",
    "write_index",
]

DEFAULT_SUITES_FILE = Path("config/suites.yaml")
DEFAULT_SUITE = "smoke"
SUITES_ROOT = "results/suites"

# Request fields that are a suite's axes, never overrides: field -> the suite key that
# sweeps it (declared by each field's suite_axis in the request model).
AXIS_FIELDS = SUITE_AXES
NOISE_PROFILES: tuple[str, ...] = typing.get_args(
    GenerationRequest.model_fields["noise_profile"].annotation
)
SUITE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_SEEDS = 10_000

BUNDLE_FILES: tuple[str, ...] = (*STREAM_FILES.values(), GROUND_TRUTH_FILE, MANIFEST_FILE)


# ---------------------------------------------------------------------- models
class _Strict(BaseModel):
    # strict: a YAML value must already have its field's type (`seeds: [true]` is no seed 1).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


if TYPE_CHECKING:  # mypy cannot see create_model's fields; values() is all it needs

    class SuiteRequest(RequestLayer): ...

else:
    SuiteRequest = request_layer(
        "SuiteRequest",
        without=AXIS_FIELDS,
        doc="Request fields a suite may set: every generator field but its axes.",
    )
# Any request field but the axes (seed and noise profile; the scenario is an axis too).
_OVERRIDABLE = list(SuiteRequest.model_fields)


class SeedRange(_Strict):
    """``{first: F, count: N}``: the seeds F, F+1, ..., F+N-1."""

    first: int = Field(ge=0, le=2**63 - 1)
    count: int = Field(ge=1, le=MAX_SEEDS)

    def seeds(self) -> list[int]:
        return list(range(self.first, self.first + self.count))


class Suite(_Strict):
    description: str = ""
    # A selector of the registry (all: every registered scenario; v0: the five of v0, the
    # committed fixtures' set; beyond_v0: the others) or a list of ids.
    scenarios: Literal["all", "v0", "beyond_v0"] | list[str] = "all"
    seeds: list[int] | SeedRange
    noise_profiles: list[str] = Field(default_factory=lambda: ["medium"], min_length=1)
    request: SuiteRequest = Field(default_factory=SuiteRequest)
    scenario_overrides: dict[str, SuiteRequest] = Field(default_factory=dict)

    @field_validator("scenario_overrides", mode="before")
    @classmethod
    def _empty_overrides(cls, value: object) -> object:
        if isinstance(value, Mapping):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    @field_validator("noise_profiles")
    @classmethod
    def _known_noise(cls, value: list[str]) -> list[str]:
        for n in value:
            if n not in NOISE_PROFILES:
                raise ValueError(
                    f"{n!r} is not a noise profile (allowed: {' | '.join(NOISE_PROFILES)})"
                )
        _no_duplicates(value)
        return value

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_shape(cls, value: object) -> object:
        if not isinstance(value, list | Mapping):
            raise ValueError("give a list of seeds, or {first: F, count: N}")
        return value

    @field_validator("seeds")
    @classmethod
    def _seed_list(cls, value: list[int] | SeedRange) -> list[int] | SeedRange:
        if isinstance(value, list):
            if not value:
                raise ValueError("no seeds; give a list of seeds or {first: F, count: N}")
            if len(value) > MAX_SEEDS:
                raise ValueError(f"{len(value)} seeds; at most {MAX_SEEDS}")
            _no_duplicates(value)
        return value

    def scenario_ids(self) -> list[str]:
        if isinstance(self.scenarios, list):
            return list(self.scenarios)
        v0 = scenarios.v0_ids()
        return {
            "all": scenarios.scenario_ids(),
            "v0": v0,
            "beyond_v0": [sid for sid in scenarios.scenario_ids() if sid not in v0],
        }[self.scenarios]

    def seed_list(self) -> list[int]:
        return self.seeds.seeds() if isinstance(self.seeds, SeedRange) else list(self.seeds)


def _no_duplicates(values: Sequence[object]) -> None:
    seen: set[object] = set()
    dupes: list[object] = []
    for v in values:
        if v in seen:
            dupes.append(v)
        seen.add(v)
    if dupes:
        raise ValueError(f"listed twice: {', '.join(str(d) for d in dict.fromkeys(dupes))}")


class SuitesFile(_Strict):
    """The whole file: shared request fields and the named suites."""

    defaults: SuiteRequest = Field(default_factory=SuiteRequest)
    suites: dict[str, Suite] = Field(min_length=1)

    @field_validator("suites")
    @classmethod
    def _names(cls, value: dict[str, Suite]) -> dict[str, Suite]:
        for name in value:
            if not SUITE_NAME.match(name):
                raise ValueError(
                    f"suite name {name!r}: use lowercase letters, digits, '-' and '_' "
                    "(it names a directory), starting with a letter or digit"
                )
        return value

    def names(self) -> list[str]:
        return list(self.suites)

    def bundles(self, name: str) -> list[SuiteBundle]:
        """Every bundle of suite ``name``, in declaration order (noise, scenario, seed).

        :class:`ConfigError` names every bad key of that suite.
        """
        if name not in self.suites:
            raise ConfigError([f"suite {name!r} is not declared; suites: {', '.join(self.suites)}"])
        suite = self.suites[name]
        where = f"suites.{name}"
        problems: list[str] = []
        known = scenarios.scenario_ids()
        sids = suite.scenario_ids()
        for i, sid in enumerate(sids):
            if sid not in known:
                problems.append(
                    f"{where}.scenarios.{i} = {json.dumps(sid)}: unknown scenario "
                    f"(allowed: all, v0, beyond_v0, or a list of: {', '.join(known)})"
                )
        if not sids:
            problems.append(
                f"{where}.scenarios = {json.dumps(suite.scenarios)}: selects no registered "
                f"scenario (registered: {', '.join(known)})"
            )
        if isinstance(suite.scenarios, list):
            try:
                _no_duplicates(sids)
            except ValueError as exc:
                problems.append(f"{where}.scenarios: {exc}")
        for sid in suite.scenario_overrides:
            if sid not in sids:
                problems.append(
                    f"{where}.scenario_overrides.{sid}: not a scenario of this suite "
                    f"(its scenarios: {', '.join(sids)})"
                )
        if problems:
            raise ConfigError(problems)

        layers = [
            ("defaults", self.defaults.values()),
            (f"{where}.request", suite.request.values()),
        ]
        out: list[SuiteBundle] = []
        seen: dict[str, str] = {}
        for shift, noise in enumerate(suite.noise_profiles):
            for sid in sids:
                own = suite.scenario_overrides.get(sid, SuiteRequest()).values()
                stack = [*layers, (f"{where}.scenario_overrides.{sid}", own)]
                for seed in suite.seed_list():
                    fields: dict[str, Any] = {}
                    for _, values in stack:
                        fields.update(values)
                    fields.update(scenario=sid, seed=seed, noise_profile=noise)
                    try:
                        req = GenerationRequest(**fields)
                        # The k-th noise profile k days later (see the module docstring).
                        anchor = req.time_anchor + timedelta(days=shift)
                        req = preflight(GenerationRequest(**{**fields, "time_anchor": anchor}))
                    except ValidationError as exc:
                        problems += [_describe(e, stack, where) for e in exc.errors()]
                        continue
                    except GenerationError as exc:
                        field = f" ({exc.field})" if exc.field else ""
                        problems.append(
                            f"{where}: scenario {sid}, seed {seed}, noise {noise}{field}: "
                            f"{exc.args[0]}"
                        )
                        continue
                    bundle = SuiteBundle(name, noise, bundle_id_for(req), sid, req)
                    what = f"scenario {sid}, seed {seed}, noise {noise}"
                    if bundle.bundle_id in seen:  # a 48-bit id prefix collision: never seen
                        problems.append(
                            f"{where}: bundle id {bundle.bundle_id} twice ({seen[bundle.bundle_id]}"
                            f" and {what}); change a seed"
                        )
                    seen[bundle.bundle_id] = what
                    out.append(bundle)
        if problems:
            # The same bad value breaks every seed the same way: report it once.
            raise ConfigError(list(dict.fromkeys(problems)))
        return out


@dataclass(frozen=True, slots=True)
class SuiteBundle:
    suite: str
    noise_profile: str
    bundle_id: str
    scenario: str
    request: GenerationRequest

    @property
    def parent(self) -> str:
        """The directory the generator writes the bundle into (``--out``)."""
        return f"{SUITES_ROOT}/{self.suite}/{self.noise_profile}"

    @property
    def path(self) -> str:
        return f"{self.parent}/{self.bundle_id}"

    def cli_args(self) -> str:
        """The whole request as generator CLI flags, shell-quoted (declaration order)."""
        data = self.request.model_dump(mode="json", exclude_none=True)
        args: list[str] = []
        for name in GenerationRequest.model_fields:
            if name in data:
                args += [f"--{name.replace('_', '-')}", str(data[name])]
        return shlex.join(args)

    def identity(self) -> dict[str, Any]:
        """What the index says about the bundle before it is built."""
        return {
            "bundle_id": self.bundle_id,
            "scenario": self.scenario,
            "seed": self.request.seed,
            "noise_profile": self.noise_profile,
            "time_anchor": self.request.model_dump(mode="json")["time_anchor"],
            "path": self.path,
        }


# ---------------------------------------------------------------------- errors
def _describe(err: Any, stack: Sequence[tuple[str, Mapping[str, Any]]], where: str) -> str:
    """One pydantic error of a merged request, at the topmost layer that set the field."""
    loc = [str(x) for x in err.get("loc", ())]
    field = loc[0] if loc else ""
    if field in AXIS_FIELDS:
        path = f"{where}.{AXIS_FIELDS[field]}"
    else:
        path = next(
            (f"{name}.{'.'.join(loc)}" for name, values in reversed(stack) if field in values),
            f"defaults.{field}" if field else where,
        )
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    if err.get("type") == "missing":
        return f"{path}: missing; set it under defaults or in the suite's request"
    value = err.get("input")
    shown = "" if isinstance(value, Mapping | list) else f" = {_show(value)}"
    allowed = allowed_values(field)
    return f"{path}{shown}: {msg}" + ("" if allowed is None else f" (allowed: {allowed})")


_SUITE_KEYS = ", ".join(Suite.model_fields)
_REQUEST_KEYS = ", ".join(_OVERRIDABLE)


def _allowed_keys(loc: Sequence[str]) -> str:
    if len(loc) == 1:
        keys = ", ".join(SuitesFile.model_fields)
    elif loc[0] == "suites" and len(loc) == 3:
        keys = _SUITE_KEYS
    elif loc[0] == "suites" and len(loc) >= 4 and loc[2] == "seeds":
        keys = "first, count"
    else:
        keys = _REQUEST_KEYS
    key = loc[-1]
    if key in AXIS_FIELDS:
        return f"{keys} ({key} is a suite axis: set suites.<name>.{AXIS_FIELDS[key]})"
    return keys


# Union members add their type to the location (seeds.list[int].0, seeds.SeedRange).
_UNION_MEMBER = re.compile(r"^(list\[|SeedRange$|literal\[|function-)")


def _key_path(loc: list[str], value: object) -> list[str] | None:
    """The key path the user wrote, or None for an error of the other ``seeds`` form."""
    # `seeds` is a list or a range: report only the form the user wrote.
    if loc[-1:] == ["list[int]"] and isinstance(value, Mapping):
        return None
    if loc[-1:] == ["SeedRange"] and isinstance(value, list):
        return None
    return [x for x in loc if not _UNION_MEMBER.match(x)]


def _show(value: object) -> str:
    return json.dumps(value, default=str)


# ---------------------------------------------------------------------- loading
def parse_suites(data: object, source: str = "suites") -> SuitesFile:
    """Validate a loaded suites mapping (structure and every suite's bundles)."""
    parsed = validate_mapping(
        SuitesFile, data, source, _allowed_keys, key_path=_key_path, show=_show
    )
    problems: list[str] = []
    for name in parsed.suites:
        try:
            parsed.bundles(name)
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)), source)
    return parsed


def load_suites(path: str | Path = DEFAULT_SUITES_FILE) -> SuitesFile:
    """Read (:func:`rca.config.read_yaml`: strict, no duplicate keys) and validate."""
    return parse_suites(read_yaml(path), str(path))


# ---------------------------------------------------------------------- index
# Every stream a bundle may hold (a modality it does not hold leaves its columns empty).
_STREAM_COLUMNS = [
    f"{s}_{k}" for s in ALL_STREAM_FILES for k in ("records", "lines", "bytes", "sha256")
]
INDEX_COLUMNS: tuple[str, ...] = (
    "bundle_id",
    "scenario",
    "seed",
    "noise_profile",
    "time_anchor",
    "path",
    "bytes",
    *_STREAM_COLUMNS,
    "ground_truth_sha256",
    "manifest_sha256",
)


class SuiteInvalidError(ValueError):
    """Bundles of a suite that do not validate; ``problems`` holds one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            f"{len(self.problems)} problem(s) in the suite's bundles:\n"
            + "\n".join(f"  - {p}" for p in self.problems)
        )


def suite_index(
    suite: str, description: str, entries: Sequence[Mapping[str, Any]], root: Path = Path()
) -> tuple[str, str]:
    """Validate every bundle, then return the suite's index as (CSV text, JSON text).

    ``entries`` are :meth:`SuiteBundle.identity` dicts. Each bundle is checked with the
    generator's :func:`validate` (checksums, counts, schemas, window, evidence,
    regeneration; ~20 ms each, so one process checks a whole suite faster than one
    process per bundle would start);
    :class:`SuiteInvalidError` lists every problem. The checksums and counts come from
    each ``manifest.json`` (under ``root``), whose own sha256 is added, so the index pins
    every byte of the suite.
    """
    problems: list[str] = []
    for entry in entries:
        path = root / str(entry["path"])
        found = validate(path)
        where = str(entry["path"])
        problems += [p if p.startswith(str(path)) else f"{where}: {p}" for p in found]
        if not found:
            manifest = json.loads((path / MANIFEST_FILE).read_bytes())
            if manifest["bundle_id"] != entry["bundle_id"]:
                problems.append(f"{entry['path']}: holds bundle {manifest['bundle_id']}")
    if problems:
        raise SuiteInvalidError(problems)

    rows: list[dict[str, Any]] = []
    for entry in entries:
        raw = (root / str(entry["path"]) / MANIFEST_FILE).read_bytes()
        manifest = json.loads(raw)
        files = {a["file"]: a for a in manifest["artifacts"]}
        row: dict[str, Any] = dict(entry)
        row["bytes"] = sum(int(a["bytes"]) for a in files.values())
        for s in ALL_STREAM_FILES:
            a = files.get(ALL_STREAM_FILES[s])
            if a is None:
                row.update({f"{s}_{k}": "" for k in ("records", "lines", "bytes", "sha256")})
                continue
            row.update(
                {
                    f"{s}_records": a["record_count"],
                    f"{s}_lines": a["line_count"],
                    f"{s}_bytes": a["bytes"],
                    f"{s}_sha256": a["sha256"],
                }
            )
        row["ground_truth_sha256"] = files[GROUND_TRUTH_FILE]["sha256"]
        row["manifest_sha256"] = hashlib.sha256(raw).hexdigest()
        rows.append(row)

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=INDEX_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)

    doc = {
        "schema_version": "1.0",
        "suite": suite,
        "description": description,
        "bundle_count": len(rows),
        "bundles": [
            {
                **{k: row[k] for k in INDEX_COLUMNS[:7]},
                "files": {
                    ALL_STREAM_FILES[s]: {
                        k: row[f"{s}_{k}"] for k in ("records", "lines", "bytes", "sha256")
                    }
                    for s in ALL_STREAM_FILES
                    if row[f"{s}_sha256"]
                }
                | {
                    GROUND_TRUTH_FILE: {"sha256": row["ground_truth_sha256"]},
                    MANIFEST_FILE: {"sha256": row["manifest_sha256"]},
                },
            }
            for row in rows
        ],
    }
    return buf.getvalue(), json.dumps(doc, indent=2) + "\n"


# ---------------------------------------------------------------------- CLI
_USAGE = """usage: python -m rca.suites [SUITES_FILE [SUITE]]
       python -m rca.suites index SUITE --csv OUT.csv --json OUT.json [--file SUITES_FILE]"""


def write_index(suite: str, csv_out: str, json_out: str, path: str | Path) -> int:
    """Validate suite ``suite``'s built bundles and write its index (the workflow's job)."""
    parsed = load_suites(path)
    bundles = parsed.bundles(suite)
    csv_text, json_text = suite_index(
        suite, parsed.suites[suite].description, [b.identity() for b in bundles]
    )
    Path(csv_out).write_text(csv_text, encoding="utf-8")
    Path(json_out).write_text(json_text, encoding="utf-8")
    print(f"{len(bundles)} bundles valid; wrote {csv_out} and {json_out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rca.suites [FILE [SUITE]]``: validate, list the suites or one suite's
    bundles; ``python -m rca.suites index SUITE --csv C --json J``: write the index."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["index"]:
            opts = dict(zip(args[2::2], args[3::2], strict=False))
            if (
                len(args) % 2
                or set(opts) - {"--csv", "--json", "--file"}
                or (not {"--csv", "--json"} <= set(opts))
            ):
                print(_USAGE, file=sys.stderr)
                return 2
            return write_index(
                args[1], opts["--csv"], opts["--json"], opts.get("--file", DEFAULT_SUITES_FILE)
            )
        if len(args) > 2 or any(a.startswith("-") for a in args):
            print(_USAGE, file=sys.stderr)
            return 2
        parsed = load_suites(args[0] if args else DEFAULT_SUITES_FILE)
        if len(args) == 2:
            for b in parsed.bundles(args[1]):
                print(f"{b.path}\t{b.scenario}\tseed={b.request.seed}")
            return 0
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SuiteInvalidError as exc:
        print(f"error: suite {args[1]}: {exc}", file=sys.stderr)
        return 1
    for name, suite in parsed.suites.items():
        n = len(parsed.bundles(name))
        print(f"{name}\t{n} bundles\t{SUITES_ROOT}/{name}/\t{suite.description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
