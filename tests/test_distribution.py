"""What a user of the code or the data needs: a licence, a citation, a version, types.

* ``LICENSE`` is the MIT licence and the README says it covers the generated bundles;
* ``CITATION.cff`` is valid Citation File Format 1.2.0 (its JSON Schema, vendored in
  ``tests/data/cff/``) and agrees with ``pyproject.toml``;
* a wheel built from the tree carries ``rca/py.typed``, the licence and its SPDX
  expression, and mypy type-checks a consumer against the installed package (without
  the marker it skips the package as untyped).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, FormatChecker

from rca.config import read_yaml

ROOT = Path(__file__).resolve().parents[1]
PROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
CFF_SCHEMA = ROOT / "tests" / "data" / "cff" / "schema-1.2.0.json"
PIP_WHEEL = (sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q")
MYPY = (sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", os.devnull)
MIT_CLAUSES = (
    "Permission is hereby granted, free of charge, to any person obtaining a copy",
    "The above copyright notice and this permission notice shall be included in all",
    'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR',
)


def test_license_is_mit_and_covers_the_generated_bundles() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the rca-mock-incidents authors\n")
    for clause in MIT_CLAUSES:
        assert clause in text
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## License and citation\n", 1)[1].split("\n## ", 1)[0]
    assert "covers the code **and the bundles it generates**" in section
    assert "tests/fixtures/mock_incidents/" in section


def test_citation_cff_is_valid_cff_1_2_0_and_matches_the_package() -> None:
    cff = read_yaml(ROOT / "CITATION.cff")  # strict: a duplicate key would fail here
    assert isinstance(cff, dict)
    schema = json.loads(CFF_SCHEMA.read_text(encoding="utf-8"))
    assert schema["$id"] == "https://citation-file-format.github.io/1.2.0/schema.json"
    errors = sorted(
        Draft7Validator(schema, format_checker=FormatChecker()).iter_errors(cff), key=str
    )
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    assert cff["cff-version"] == "1.2.0"
    assert cff["version"] == PROJECT["version"]
    assert cff["license"] == PROJECT["license"]


def test_the_cff_schema_check_can_fail() -> None:
    schema = json.loads(CFF_SCHEMA.read_text(encoding="utf-8"))
    bad = {"cff-version": "1.2.0", "message": "m", "title": "t", "authors": [{"nom": "x"}]}
    assert list(Draft7Validator(schema).iter_errors(bad))


def _build_wheel(tmp_path: Path) -> Path:
    """A wheel of a copy of the tree (the build writes build/ and egg-info beside it)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "rca", src / "rca", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    dist = tmp_path / "dist"
    subprocess.run(
        [*PIP_WHEEL, "-w", str(dist), str(src)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("rca_mock_incidents-*.whl")
    return wheel


def _mypy(consumer: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MYPYPATH"}
    return subprocess.run(
        [*MYPY, consumer.name],
        cwd=consumer.parent,  # not the repository: rca must come from the wheel
        env={**env, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_wheel_is_typed_and_licensed(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = f"rca_mock_incidents-{PROJECT['version']}.dist-info"
        metadata = zf.read(f"{info}/METADATA").decode()
        zf.extractall(tmp_path / "site")
    assert "rca/py.typed" in names
    assert f"{info}/licenses/LICENSE" in names
    assert "License-Expression: MIT" in metadata.splitlines()

    consumer = tmp_path / "consumer" / "use.py"
    consumer.parent.mkdir()
    consumer.write_text(
        "from rca.seed.mock_incident_generator import make_request\n\n"
        'x: int = make_request(scenario="normal_load", seed=1, time_anchor="2026-11-26T05:00:00Z")\n',
        encoding="utf-8",
    )
    typed = _mypy(consumer, tmp_path / "site")
    # mypy read the package's annotations: it knows what make_request returns.
    assert 'expression has type "GenerationRequest", variable has type "int"' in typed.stdout
    assert "py.typed" not in typed.stdout

    (tmp_path / "site" / "rca" / "py.typed").unlink()
    untyped = _mypy(consumer, tmp_path / "site")
    assert "missing library stubs or py.typed marker" in untyped.stdout
