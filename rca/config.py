"""The fixture workflow's configuration (``config/scenarios.yaml``), validated once.

The file has two sections (every key is documented in ``config/README.md``)::

    defaults:            # request fields shared by every scenario
      seed: 42
      time_anchor: "2026-11-26T05:00:00Z"
      ...
    scenarios:           # exactly one entry per v0 scenario (the committed fixtures)
      normal_load: {}
      slow_query_regression:
        threshold: 0.8   # any request field overrides the default
      bad_api_rollout:
        enabled: false   # listed, but not built

Each entry, merged over ``defaults``, must make a valid
:class:`~rca.seed.mock_incident_generator.GenerationRequest`; the request model is the
single source of truth for names, types and ranges. Every problem is reported at once,
each with the dotted path of the offending key and its allowed values, e.g.::

    scenarios.slow_query_regression.threshold = 1.5: Input should be less than or
    equal to 1 (allowed: 0.0..1.0)

Files are read by :class:`StrictYamlLoader`: a key given twice in one mapping and a
syntax error are problems with their line and column, and the models are strict
(``seed: true`` or ``enabled: 1`` are errors, not seed 1 and true).

The Snakemake workflow calls :func:`parse_config` at parse time (and
:func:`check_yaml_files` before its ``configfile:``, whose loader checks neither), so a
bad file fails before any job runs. ``python -m rca.config [FILE]`` checks a file by
hand.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

import rca
from rca.seed import scenarios
from rca.seed._bundle import BUNDLE_ID_RE
from rca.seed.mock_incident_generator import (
    LABEL_ONLY_FIELDS,
    NON_STREAM_FIELDS,
    GenerationError,
    GenerationRequest,
    allowed_values,
    bundle_id_for,
    preflight,
)
from rca.seed.renderers import RENDERERS

__all__ = [
    "BUNDLE_ID_RE",
    "DEFAULT_CONFIG",
    "ENTRY_KEY",
    "LABEL_ONLY_FIELDS",
    "REQUEST_FIELDS",
    "Bundle",
    "ConfigError",
    "RequestFields",
    "RequestLayer",
    "ScenarioEntry",
    "StrictYamlLoader",
    "WorkflowConfig",
    "check_yaml_files",
    "code_inputs",
    "fixture_index",
    "load_config",
    "main",
    "parse_config",
    "read_yaml",
    "request_layer",
    "request_text",
    "write_if_changed",
]

DEFAULT_CONFIG = Path("config/scenarios.yaml")

# A config's entries are keyed by scenario id, so `scenario` is no key of an entry.
ENTRY_KEY = "scenario"
# Request fields a config may set: every field of the request model but the entry key.
REQUEST_FIELDS: tuple[str, ...] = tuple(f for f in GenerationRequest.model_fields if f != ENTRY_KEY)

# Request fields that reach only the label (ground_truth.json) and the manifest, never a
# stream's bytes. Stream jobs leave them out of their params, so editing a threshold
# re-runs a bundle's ground truth and manifest but not its streams.
# (declared by the library, from each field's role: LABEL_ONLY_FIELDS)


class ConfigError(ValueError):
    """An invalid workflow configuration; ``problems`` holds one line per bad key."""

    def __init__(self, problems: Sequence[str], source: str = "config") -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"invalid workflow configuration in {source} "
            f"({len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}; "
            f"every key is documented in config/README.md):\n{lines}"
        )


# ---------------------------------------------------------------------- models
class _Strict(BaseModel):
    # strict: a YAML value must already have its field's type (`enabled: 1` is not true).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class RequestLayer(_Strict):
    """A layer of request fields (config defaults, an entry, a suite's request): any
    value or none, each checked by ``GenerationRequest`` itself once the layers are
    merged, so names, types and ranges have one definition (``rca/seed/_models.py``)."""

    def values(self) -> dict[str, Any]:
        """The request fields this layer sets (an explicit null counts as set)."""
        return {
            k: getattr(self, k)
            for k in GenerationRequest.model_fields
            if k in self.model_fields_set
        }


def request_layer(name: str, *, without: Iterable[str], doc: str) -> type[RequestLayer]:
    """A :class:`RequestLayer` model with one optional key per request field but
    ``without``, in the request's order, each described as the request describes it."""
    left_out = frozenset(without)
    fields: dict[str, Any] = {
        f: (Any, Field(default=None, description=info.description))
        for f, info in GenerationRequest.model_fields.items()
        if f not in left_out
    }
    model = create_model(name, __base__=RequestLayer, __module__=__name__, **fields)
    model.__doc__ = doc
    return model


if TYPE_CHECKING:  # mypy cannot see create_model's fields; values() is all it needs

    class RequestFields(RequestLayer): ...

else:
    RequestFields = request_layer(
        "RequestFields",
        without=[ENTRY_KEY],
        doc="Any :class:`GenerationRequest` field but ``scenario``; unset keys fall through.",
    )


class ScenarioEntry(RequestFields):
    """One scenario: overrides of ``defaults``, and whether the workflow builds it."""

    enabled: bool = Field(
        default=True, description="Build this scenario's bundle (false: listed, not built)."
    )


class WorkflowConfig(_Strict):
    """The whole file: shared request fields and one entry per v0 scenario (spec FR-005:
    the committed fixtures; scenarios beyond v0 are built by suites and refused here)."""

    defaults: RequestFields = Field(default_factory=RequestFields)
    scenarios: dict[str, ScenarioEntry]

    @field_validator("scenarios", mode="before")
    @classmethod
    def _empty_entries(cls, value: object) -> object:
        # `normal_load:` with nothing after it is an entry with no overrides.
        if isinstance(value, Mapping):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    def requests(self) -> dict[str, GenerationRequest]:
        """Scenario id -> its request (enabled or not); :class:`ConfigError` if any is bad."""
        problems: list[str] = []
        registered = scenarios.scenario_ids()
        # The committed fixtures are the v0 set (spec FR-005); scenarios beyond it are
        # built by suites (config/suites.yaml), so a new scenario needs no entry here.
        known = scenarios.v0_ids()
        for sid in sorted(set(self.scenarios) - set(registered)):
            problems.append(f"scenarios.{sid}: unknown scenario; allowed here: {', '.join(known)}")
        for sid in sorted((set(self.scenarios) & set(registered)) - set(known)):
            problems.append(
                f"scenarios.{sid}: a scenario beyond v0 is built by suites "
                f"(config/suites.yaml), never as a committed fixture; allowed here: "
                f"{', '.join(known)}"
            )
        for sid in known:
            if sid not in self.scenarios:
                problems.append(
                    f"scenarios: no entry for {sid}; every v0 scenario needs one "
                    "(`enabled: false` lists it without building it)"
                )
        requests: dict[str, GenerationRequest] = {}
        base = self.defaults.values()
        for sid in sorted(set(self.scenarios) & set(known)):
            own = self.scenarios[sid].values()
            try:
                requests[sid] = preflight(GenerationRequest(**{**base, **own, "scenario": sid}))
            except ValidationError as exc:
                for err in exc.errors():
                    problems.append(_describe(err, sid, own, base))
            except GenerationError as exc:  # the request's own validators, or the scenario's
                # preflight (the window's range, a scenario's minimum rate): at the key
                # that set the field, else at the entry.
                if exc.field in own:
                    path = f"scenarios.{sid}.{exc.field}"
                elif exc.field in base:
                    path = f"defaults.{exc.field}"
                else:
                    path = f"scenarios.{sid}"
                problems.append(f"{path}: {exc.args[0]}")
        if problems:
            # A bad default breaks every scenario the same way: report it once.
            raise ConfigError(list(dict.fromkeys(problems)))
        return requests

    def bundles(self) -> list[Bundle]:
        """The bundles to build (enabled entries), sorted by scenario id."""
        return [
            Bundle(bundle_id_for(req), sid, req)
            for sid, req in self.requests().items()
            if self.scenarios[sid].enabled
        ]


@dataclass(frozen=True, slots=True)
class Bundle:
    bundle_id: str
    scenario: str
    request: GenerationRequest

    def cli_args(self, *, label_fields: bool) -> str:
        """The request as generator CLI flags, shell-quoted.

        ``label_fields=False`` leaves out :data:`NON_STREAM_FIELDS` (stream jobs).
        """
        data = self.request.model_dump(mode="json", exclude_none=True)
        args: list[str] = []
        for name in GenerationRequest.model_fields:  # declaration order: stable text
            if name in data and (label_fields or name not in NON_STREAM_FIELDS):
                args += [f"--{name.replace('_', '-')}", str(data[name])]
        return shlex.join(args)


# ---------------------------------------------------------------------- errors
def _describe(err: Any, sid: str, own: Mapping[str, Any], base: Mapping[str, Any]) -> str:
    """One pydantic error of scenario ``sid``'s merged request, at the key that caused it."""
    loc = [str(x) for x in err.get("loc", ())]
    field = loc[0] if loc else ""
    if field in own:
        path = f"scenarios.{sid}.{'.'.join(loc)}"
    elif field in base:
        path = f"defaults.{'.'.join(loc)}"
    else:
        path = f"scenarios.{sid}.{field}" if field else f"scenarios.{sid}"
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    if err.get("type") == "missing":
        return f"{path}: missing; set it under defaults or in this entry"
    value = err.get("input")
    shown = "" if isinstance(value, Mapping) else f" = {_show(value)}"
    allowed = allowed_values(field)
    return f"{path}{shown}: {msg}" + ("" if allowed is None else f" (allowed: {allowed})")


def _show(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return json.dumps(value) if isinstance(value, str | int | float | bool | None) else repr(value)


def _allowed_keys(loc: Sequence[str]) -> str:
    if len(loc) == 1:
        return ", ".join(WorkflowConfig.model_fields)
    if loc[0] == "defaults":
        return ", ".join(REQUEST_FIELDS)
    return ", ".join(("enabled", *REQUEST_FIELDS))


# ---------------------------------------------------------------------- loading
def parse_config(data: object, source: str = "config") -> WorkflowConfig:
    """Validate a loaded config mapping; :class:`ConfigError` names every bad key."""
    cfg = validate_mapping(WorkflowConfig, data, source, _allowed_keys)
    try:
        cfg.requests()
    except ConfigError as exc:
        raise ConfigError(exc.problems, source) from None
    return cfg


class StrictYamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping holding the same key twice.

    PyYAML (and so Snakemake's ``configfile:``) keeps the last of two equal keys without
    a word, so a second ``seed:`` under ``defaults`` silently wins. YAML 1.2 requires
    keys to be unique (https://yaml.org/spec/1.2.2/#mapping); this loader says where both
    are. Merge keys (``<<: *base``) may still be overridden, as YAML intends.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[object, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                earlier = first.get(key)
            except TypeError:  # unhashable: the base class reports it
                continue
            if earlier is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first at line {earlier.line + 1}); "
                    "each key may appear once",
                    key_node.start_mark,
                )
            first[key] = key_node.start_mark
        return super().construct_mapping(node, deep)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """``not valid YAML: line L, column C: problem`` (1-based, as editors count)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = "; ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        where = "" if mark is None else f"line {mark.line + 1}, column {mark.column + 1}: "
        return f"not valid YAML: {where}{what}"
    return f"not valid YAML: {exc}"


def read_yaml(path: str | Path) -> object:
    """A YAML file read by :class:`StrictYamlLoader` (``{}`` when empty).

    :class:`ConfigError` (source: the file) if it is unreadable, not valid YAML (the
    problem with its line and column) or holds a duplicate key.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read: {exc.strerror}"], str(path)) from None
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text (invalid byte at offset {exc.start})"
        raise ConfigError([problem], str(path)) from None
    try:
        data = yaml.load(text, Loader=StrictYamlLoader)
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_problem(exc)], str(path)) from None
    return {} if data is None else data


def check_yaml_files(paths: Iterable[str | Path]) -> None:
    """Read every file that exists with :class:`StrictYamlLoader`; :class:`ConfigError` on
    the first bad one. For loaders that do not check (Snakemake's ``configfile:``)."""
    for path in paths:
        if Path(path).exists():
            read_yaml(path)


_Model = TypeVar("_Model", bound=BaseModel)


def validate_mapping(
    model: type[_Model],
    data: object,
    source: str,
    allowed_keys: Callable[[Sequence[str]], str],
    *,
    key_path: Callable[[list[str], object], list[str] | None] | None = None,
    show: Callable[[object], str] = _show,
) -> _Model:
    """``model`` validated from a loaded YAML mapping; :class:`ConfigError` names every bad key.

    Each problem names the dotted key path: an unknown key with ``allowed_keys(path)``, a
    missing one as required, any other with its value (``show``) and pydantic's message.
    ``key_path(loc, value)`` turns a pydantic location into the key path the user wrote
    (e.g. without union members' types), or ``None`` to leave the error out; problems that
    end up the same are then reported once.
    """
    if not isinstance(data, Mapping):
        raise ConfigError([f"<top level>: must be a mapping, got {type(data).__name__}"], source)
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        problems: list[str] = []
        for err in exc.errors():
            value = err.get("input")
            loc = [str(x) for x in err["loc"]]
            if key_path is not None:
                found = key_path(loc, value)
                if found is None:
                    continue
                loc = found
            path = ".".join(loc) or "<top level>"
            if err["type"] == "extra_forbidden":
                problems.append(f"{path}: unknown key; allowed keys: {allowed_keys(loc)}")
            elif err["type"] == "missing":
                problems.append(f"{path}: missing (required)")
            else:
                shown = "" if isinstance(value, Mapping | list) else f" = {show(value)}"
                msg = str(err["msg"]).removeprefix("Value error, ")
                problems.append(f"{path}{shown}: {msg}")
        if key_path is not None:
            problems = list(dict.fromkeys(problems))
        raise ConfigError(problems, source) from None


def load_config(path: str | Path = DEFAULT_CONFIG) -> WorkflowConfig:
    """Read and validate a YAML config file."""
    return parse_config(read_yaml(path), str(path))


# ---------------------------------------------------------------------- workflow helpers
def fixture_index(bundles: Iterable[Bundle], root: str) -> str:
    """The fixture index as JSON text: bundle id -> scenario, seed, time anchor, path.

    Only these fields, so a threshold edit leaves the index (and its job) alone.
    """
    entries = {
        b.bundle_id: {
            "scenario": b.scenario,
            "seed": b.request.seed,
            "time_anchor": b.request.model_dump(mode="json")["time_anchor"],
            "path": f"{root}/{b.bundle_id}",
        }
        for b in bundles
    }
    doc = {"schema_version": "1.0", "bundles": dict(sorted(entries.items()))}
    return json.dumps(doc, indent=2) + "\n"


def request_text(bundle: Bundle, *, label_fields: bool) -> str:
    """A bundle's request as canonical JSON text: the content of a job's request file.

    The workflow writes one per bundle (and one without :data:`NON_STREAM_FIELDS` for the
    stream jobs) at parse time, with :func:`write_if_changed`, and the jobs take it as an
    input. Its modification time then says when the request last changed, so an edit of
    the config re-runs exactly the jobs it affects even without Snakemake's records
    (``.snakemake/``, absent in a fresh clone), which are what params changes rely on.
    """
    data = bundle.request.model_dump(mode="json")
    if not label_fields:
        data = {k: v for k, v in data.items() if k not in NON_STREAM_FIELDS}
    return json.dumps({"bundle_id": bundle.bundle_id, "request": data}, indent=2) + "\n"


def write_if_changed(path: str | Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless it already holds exactly that; True if written.

    An unchanged file is not touched (its mtime is what the workflow's jobs compare
    against). A new version is written to an exclusively created, randomly named temp
    file beside it and renamed over ``path`` in one step, so a concurrent reader (another
    Snakemake parsing the same workflow) sees the old or the new text, and a symlink
    planted at ``path`` is replaced, never written through.
    """
    path = Path(path)
    data = text.encode("utf-8")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        pass  # missing, or a symlink (ELOOP): (re)write it
    else:
        with os.fdopen(fd, "rb") as current:
            if current.read(len(data) + 1) == data:
                return False
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp: O_CREAT | O_EXCL with a random name, mode 0600; widen to the umask's default.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


_CODE_SUFFIXES = (".py", ".json", ".yaml", ".yml")


def _module_file(obj: type) -> Path:
    file = sys.modules[obj.__module__].__file__
    assert file is not None, obj
    return Path(file)


def code_inputs(scenario: str, stream: str | None = None) -> list[str]:
    """Source files a job's output depends on, for Snakemake to watch as inputs.

    Every job depends on the generator's shared code and its own scenario's module, not
    on the other scenarios' modules. A stream job (``stream`` given) also leaves out the
    other streams' renderers and the label builder; ground-truth and manifest jobs
    (``stream=None``) depend on every renderer, since evidence line numbers come from
    all of them. Paths are relative to the working directory when inside it.
    """
    package = Path(rca.__file__).parent
    seed_dir = package / "seed"
    others: set[Path] = {seed_dir / "docs.py"}  # writes the docs' generated blocks only
    for sid, cls in _scenario_classes().items():
        if sid != scenario:
            others.add(_module_file(cls))
    if stream is not None:
        if stream not in RENDERERS:
            raise ValueError(f"stream={stream!r}; allowed: {', '.join(RENDERERS)}")
        others |= {_module_file(r) for s, r in RENDERERS.items() if s != stream}
        others.add(seed_dir / "_labels.py")
    shared = sorted(
        p
        for p in seed_dir.rglob("*")
        if p.suffix in _CODE_SUFFIXES and "__pycache__" not in p.parts and p not in others
    )
    return [_display(p) for p in (package / "__init__.py", *shared)]


def _scenario_classes() -> dict[str, type]:
    return {sid: scenarios.Scenario.registry[sid] for sid in scenarios.scenario_ids()}


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------- CLI
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rca.config [FILE]``: validate a config and list its bundles."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1 or any(a.startswith("-") for a in args):
        print("usage: python -m rca.config [CONFIG_FILE]", file=sys.stderr)
        return 2
    try:
        cfg = load_config(args[0] if args else DEFAULT_CONFIG)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    built = {b.scenario: b for b in cfg.bundles()}
    for sid in sorted(cfg.scenarios):
        b = built.get(sid)
        print(f"{sid}\t{b.bundle_id if b else '(disabled)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
