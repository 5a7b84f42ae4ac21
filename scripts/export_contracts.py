"""Write the JSON Schema contracts of specs/001-build-realistic-mock/ from the pydantic models.

    python scripts/export_contracts.py            # (re)write contracts/*.schema.json
    python scripts/export_contracts.py --check    # write nothing; exit 1 listing drifted files

One file per contract: the model's JSON Schema (pydantic, validation mode) with ``$schema``
(draft 2020-12) and a stable ``$id``, dumped with sorted keys, a two-space indent and a
trailing newline, so a rerun on unchanged models is byte-identical. The evaluation
contracts come from :func:`rca.eval.schemas.schemas` as they are; the bundle contracts
(request, manifest, label) get the same dialect and ``$id`` base here.

``--check`` reports a contract that is missing, differs from what its model produces, or
is a ``*.schema.json`` no model produces any more (stale). Exit status: 0 in sync (or
written), 1 drift found by ``--check``, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ROOT / "specs" / "001-build-realistic-mock" / "contracts"
SUFFIX = ".schema.json"


def _import_rca() -> None:
    """Make ``rca`` importable when the script runs outside the installed venv."""
    try:
        import rca  # noqa: F401
    except ModuleNotFoundError:
        sys.path.insert(0, str(ROOT))


def schemas() -> dict[str, dict[str, Any]]:
    """Contract stem -> JSON Schema (with ``$schema`` and ``$id``), for every contract."""
    _import_rca()
    from rca.eval import schemas as eval_schemas
    from rca.seed.mock_incident_generator import (
        GenerationRequest,
        GenerationResponse,
        GroundTruth,
        Manifest,
    )

    out: dict[str, dict[str, Any]] = {}
    for stem, model in (
        ("generation_request", GenerationRequest),
        ("generation_response", GenerationResponse),
        ("manifest", Manifest),
        ("ground_truth", GroundTruth),
    ):
        body = model.model_json_schema(mode="validation")
        out[stem] = {
            "$schema": eval_schemas.DIALECT,
            "$id": f"{eval_schemas.ID_BASE}{stem}{SUFFIX}",
            **body,
        }
    for stem, schema in eval_schemas.schemas().items():
        if stem in out:
            raise RuntimeError(f"two contracts named {stem!r}")
        out[stem] = schema
    return dict(sorted(out.items()))


def render(schema: dict[str, Any]) -> bytes:
    """The stable text of one schema file."""
    return (json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def contract_files() -> dict[str, bytes]:
    """File name -> exact bytes, for every contract."""
    return {f"{stem}{SUFFIX}": render(schema) for stem, schema in schemas().items()}


def drift(directory: Path) -> list[str]:
    """One line per contract file in ``directory`` that is not what the models produce."""
    expected = contract_files()
    problems = []
    for name, data in expected.items():
        path = directory / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif path.read_bytes() != data:
            problems.append(f"{name}: differs from what the model produces")
    present = sorted(p.name for p in directory.glob(f"*{SUFFIX}")) if directory.is_dir() else []
    for name in present:
        if name not in expected:
            problems.append(f"{name}: stale (no model produces it)")
    return problems


def write(directory: Path) -> list[str]:
    """Bring ``directory`` in sync; return the names written or removed."""
    expected = contract_files()
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, data in expected.items():
        path = directory / name
        if not path.is_file() or path.read_bytes() != data:
            tmp = path.with_name(f".{name}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
            changed.append(f"wrote {name}")
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        if path.name not in expected:
            path.unlink()
            changed.append(f"removed {path.name}")
    return changed


def _shown(directory: Path) -> str:
    """``directory`` relative to the repository root when inside it."""
    try:
        return str(directory.resolve().relative_to(ROOT))
    except ValueError:
        return str(directory)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="export_contracts.py",
        description="Export the JSON Schema contracts generated from the pydantic models.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and list the files that drifted from the models",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=CONTRACTS,
        help=f"contracts directory (default: {CONTRACTS.relative_to(ROOT)})",
    )
    ns = parser.parse_args(argv)
    if ns.check:
        problems = drift(ns.dir)
        if problems:
            print(f"contracts drifted from the models in {_shown(ns.dir)}:", file=sys.stderr)
            for line in problems:
                print(f"  {line}", file=sys.stderr)
            print("run: python scripts/export_contracts.py", file=sys.stderr)
            return 1
        print(f"contracts in sync: {len(contract_files())} file(s) in {_shown(ns.dir)}")
        return 0
    changed = write(ns.dir)
    for line in changed:
        print(line)
    print(f"{len(changed)} change(s); {len(contract_files())} contract(s) in {_shown(ns.dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
