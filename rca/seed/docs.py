"""Doc blocks generated from the declarations: ``python -m rca.seed.docs [--check]``.

A generated block sits between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->``
in a Markdown file (on one line, inside a table cell, or around whole lines); everything
between the markers is rewritten from the registry and the request model, everything
outside them is left alone:

- ``scenarios`` (README.md): the scenario table, from each module's ``description``;
- ``distractors`` (README.md): the red-herring table, from each herring module's
  declarations (``rca/seed/distractors``);
- ``fr-005`` (specs/001-build-realistic-mock/spec.md): the registered scenarios;
- ``request-fields`` (config/README.md): the request-field table, from the model's
  declarations (type, range, description, role) and the shipped ``config/scenarios.yaml``;
- ``metric-families`` (README.md): what each scrape target of the metrics modality
  exposes (``rca.seed.renderers.metrics.TARGET_FAMILIES``);
- ``rcaeval`` (README.md): the table of ``benchmarks/results/rcaeval.md`` (RCAEval's
  methods on exported bundles; ``scripts/rcaeval_results.py`` measures it).

Without ``--check`` the files are rewritten in place; with it nothing is written and the
exit status is 1 if a block is stale (``tests/specs/test_docs_current.py`` runs the
check). Paths are relative to the repository root. Not imported by the generator.
"""

from __future__ import annotations

import json
import re
import sys
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import distractors, scenarios
from ._models import FieldRole, GenerationRequest, allowed_values, field_role

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = Path("config/scenarios.yaml")


def _scenario_table() -> str:
    v0 = set(scenarios.v0_ids())
    rows = [
        f"| `{sid}` | {'v0 (committed fixture)' if sid in v0 else 'beyond v0 (suites only)'} "
        f"| {scenarios.get(sid).description} |"
        for sid in scenarios.scenario_ids()
    ]
    return "\n".join(["", "| id | set | what happens |", "|---|---|---|", *rows, ""])


def _distractor_table() -> str:
    rows = []
    for did in distractors.distractor_ids():
        d = distractors.get(did)
        chance = " / ".join(f"{d.probability.at(level):.0%}" for level in distractors.DIFFICULTIES)
        joins = [
            sid
            for sid in scenarios.scenario_ids()
            if distractors.eligible(d, scenarios.get(sid).label())
        ]
        where = "all" if joins == scenarios.scenario_ids() else ", ".join(f"`{s}`" for s in joins)
        looks = f"`{d.imitates}`" if d.imitates else "–"
        rows.append(f"| `{did}` | {d.title} | {looks} | {where} | {chance} |")
    levels = " / ".join(distractors.DIFFICULTIES)
    header = f"| id | what happens | looks like | joins | chance per bundle ({levels}) |"
    return "\n".join(["", header, "|---|---|---|---|---|", *rows, ""])


def _fr005() -> str:
    ids = scenarios.v0_ids()
    incidents = set(scenarios.incident_ids())
    named = [f"`{sid}`" + ("" if sid in incidents else " (negative control)") for sid in ids]
    beyond = [sid for sid in scenarios.scenario_ids() if sid not in ids]
    text = f"The default set is the {len(ids)} v0 scenarios: {', '.join(named)}."
    if beyond:
        text += (
            f" Registered beyond v0 (built by suites, never committed as fixtures): "
            f"{', '.join(f'`{sid}`' for sid in beyond)}."
        )
    return text


def _allowed(name: str) -> str:
    """A field's type and allowed values in words, read off the model."""
    allowed = allowed_values(name) or "any"
    words = {int: "integer", float: "number", str: "text"}
    pending: list[Any] = [GenerationRequest.model_fields[name].annotation]
    while pending:
        tp = pending.pop()
        if typing.get_origin(tp) is typing.Literal:
            return "one of " + " | ".join(f"`{option}`" for option in typing.get_args(tp))
        if tp in words:
            return f"{words[tp]}, {allowed}"
        pending += list(typing.get_args(tp))
    return allowed  # e.g. time_anchor: the model's own words


def _yaml_value(value: object) -> str:
    return f"`{json.dumps(value) if isinstance(value, str) else value}`"


def _request_field_table() -> str:
    from rca.config import ENTRY_KEY, read_yaml  # the workflow layer: only for the docs

    # Read, not validated: the table must not depend on the file listing every scenario.
    data = read_yaml(ROOT / SHIPPED_CONFIG)
    assert isinstance(data, dict), SHIPPED_CONFIG
    shipped: dict[str, Any] = data.get("defaults") or {}
    entries: dict[str, dict[str, Any]] = {
        sid: entry or {} for sid, entry in (data.get("scenarios") or {}).items()
    }
    rows = []
    for name, info in GenerationRequest.model_fields.items():
        if name == ENTRY_KEY:
            continue
        typed = _allowed(name)
        default = _yaml_value(shipped[name]) if name in shipped else "unset (the model's)"
        overrides = [
            f"`{sid}`: {_yaml_value(entry[name])}"
            for sid, entry in sorted(entries.items())
            if name in entry
        ]
        if overrides:
            default += f" ({'; '.join(overrides)})"
        model_default = "required" if info.is_required() else _yaml_value(info.default)
        if info.default is None and not info.is_required():
            model_default = "unset (`null`)"
        rerun = (
            "yes"
            if field_role(name) is FieldRole.STREAM
            else "a new bundle id; its streams are the old bundle's bytes"
        )
        meaning = (info.description or "").replace("|", "\\|")
        typed_cell = typed.replace("|", "\\|")
        rows.append(
            f"| `{name}` | {typed_cell} | {default} | {model_default} | {meaning} | {rerun} |"
        )
    header = (
        "| key | type / allowed | shipped | model default | meaning | stream jobs re-run? |\n"
        "|---|---|---|---|---|---|"
    )
    return "\n".join(["", header, *rows, ""])


def _metric_families() -> str:
    from .renderers.metrics import TARGET_FAMILIES

    rows = [
        f"| {target} | {', '.join(f'`{name}`' for name in names)} |"
        for target, names in TARGET_FAMILIES.items()
    ]
    return "\n".join(["", "| target | metric families |", "|---|---|", *rows, ""])


def _rcaeval_table() -> str:
    results = (ROOT / "benchmarks" / "results" / "rcaeval.md").read_text(encoding="utf-8")
    rows = [line for line in results.splitlines() if line.startswith("|")]
    return "\n".join(["", *rows, ""])


# Block name -> (file, its text).
BLOCKS: dict[str, tuple[str, Callable[[], str]]] = {
    "scenarios": ("README.md", _scenario_table),
    "distractors": ("README.md", _distractor_table),
    "fr-005": ("specs/001-build-realistic-mock/spec.md", _fr005),
    "request-fields": ("config/README.md", _request_field_table),
    "metric-families": ("README.md", _metric_families),
    "rcaeval": ("README.md", _rcaeval_table),
}


def _block(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- generated:{re.escape(name)} -->)(.*?)(<!-- /generated:{re.escape(name)} -->)",
        re.S,
    )


def regenerated(root: Path = ROOT) -> tuple[dict[Path, str], list[str]]:
    """(path -> its text with every block regenerated, problems such as a lost marker)."""
    texts: dict[Path, str] = {}
    problems: list[str] = []
    for name, (file, render) in BLOCKS.items():
        path = root / file
        text = texts.get(path) or path.read_text(encoding="utf-8")
        pattern = _block(name)
        found = len(pattern.findall(text))
        if found != 1:
            problems.append(
                f"{file}: expected one <!-- generated:{name} --> ... "
                f"<!-- /generated:{name} --> block, found {found}"
            )
            continue
        inside = pattern.search(text)
        assert inside is not None
        texts[path] = text[: inside.start(2)] + render() + text[inside.end(2) :]
    return texts, problems


def stale(root: Path = ROOT) -> list[str]:
    """The files whose generated blocks differ from what the declarations say, and any
    missing or doubled block; [] when every block is current."""
    texts, problems = regenerated(root)
    for path, text in texts.items():
        if path.read_text(encoding="utf-8") != text:
            problems.append(f"{path.relative_to(root)}: generated block is stale")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args not in ([], ["--check"]):
        print("usage: python -m rca.seed.docs [--check]", file=sys.stderr)
        return 2
    if args == ["--check"]:
        problems = stale()
        for p in problems:
            print(f"{p} (run: python -m rca.seed.docs)", file=sys.stderr)
        return 1 if problems else 0
    texts, problems = regenerated()
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if problems:
        return 2
    for path, text in texts.items():
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"rewrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
