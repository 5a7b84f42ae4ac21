"""Compare two fresh regenerations with the committed fixtures, byte for byte.

Run by the ``determinism_check`` rule. Every regenerated file must equal the committed
fixture and the second regeneration. The committed fixture directory must hold no bundle
or bundle file the configuration does not produce. The report (the rule's log) names the
first differing file and line; the job fails on any difference. On success the scratch
regenerations are removed so that the next check regenerates them.
"""

# No `from __future__ import annotations`: Snakemake puts its preamble above this line.
import os
import re
import shutil
import sys
from pathlib import Path

BUNDLE_DIR = re.compile(r"^mock-[0-9a-f]{12}$")
BEFORE, AFTER = 60, 100  # characters quoted around the first differing column


def root_of(files: list[str]) -> Path:
    return Path(os.path.commonpath(files))


def files_under(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def excerpt(line: bytes | None, col: int) -> str:
    if line is None:
        return "<end of file>"
    text = line.decode("utf-8", errors="replace")
    start = max(0, col - BEFORE)
    head = "..." if start else ""
    tail = "..." if len(text) > col + AFTER else ""
    return head + repr(text[start : col + AFTER]) + tail


def first_difference(a: bytes, b: bytes) -> tuple[int, int, str, str] | None:
    """(line, column, excerpt of a, excerpt of b) of the first difference (1-based)."""
    if a == b:
        return None
    la, lb = a.split(b"\n"), b.split(b"\n")
    n = next(
        (i for i, (x, y) in enumerate(zip(la, lb, strict=False)) if x != y),
        min(len(la), len(lb)),
    )
    x = la[n] if n < len(la) else None
    y = lb[n] if n < len(lb) else None
    tx = (x or b"").decode("utf-8", errors="replace")
    ty = (y or b"").decode("utf-8", errors="replace")
    col = next(
        (i for i, (p, q) in enumerate(zip(tx, ty, strict=False)) if p != q), min(len(tx), len(ty))
    )
    return n + 1, col + 1, excerpt(x, col), excerpt(y, col)


def compare(fixtures: Path, run1: Path, run2: Path, rel_files: list[Path]) -> list[list[str]]:
    """Every difference, each as report lines (a headline, then details)."""
    diffs: list[list[str]] = []
    for rel in rel_files:
        committed, first, second = fixtures / rel, run1 / rel, run2 / rel
        if not committed.is_file():
            diffs.append([f"{committed}: missing (the configuration produces it: {first})"])
        else:
            found = first_difference(committed.read_bytes(), first.read_bytes())
            if found:
                n, col, old, new = found
                diffs.append(
                    [
                        f"{committed}:{n}: committed fixture differs from regeneration {first}"
                        f" (line {n}, column {col})",
                        f"  committed:    {old}",
                        f"  regenerated:  {new}",
                    ]
                )
        if not second.is_file():
            diffs.append([f"{second}: missing (the first regeneration wrote {first})"])
            continue
        found = first_difference(first.read_bytes(), second.read_bytes())
        if found:
            n, col, one, two = found
            diffs.append(
                [
                    f"{first}:{n}: two regenerations differ ({first} vs {second};"
                    f" line {n}, column {col})",
                    f"  run1:  {one}",
                    f"  run2:  {two}",
                ]
            )
    for rel in sorted(set(files_under(run2)) - set(rel_files)):
        diffs.append([f"{run2 / rel}: only the second regeneration wrote this file"])
    expected = {fixtures / rel for rel in rel_files}
    bundles = {p.parent for p in expected if BUNDLE_DIR.match(p.parent.name)}
    if fixtures.is_dir():
        for entry in sorted(fixtures.iterdir()):
            if entry.is_dir() and BUNDLE_DIR.match(entry.name) and entry not in bundles:
                diffs.append([f"{entry}: committed bundle the configuration does not produce"])
        for bundle in sorted(bundles):
            if bundle.is_dir():
                for extra in sorted(p for p in bundle.iterdir() if p not in expected):
                    diffs.append([f"{extra}: file the configuration does not produce"])
    return diffs


def main() -> int:
    run1, run2 = root_of(snakemake.input.run1), root_of(snakemake.input.run2)
    fixtures = Path(snakemake.params.fixtures)
    # The inputs are each run's manifests and index; the manifests' own inputs (streams,
    # labels) sit beside them, so compare everything the run wrote.
    rel_files = files_under(run1)
    diffs = compare(fixtures, run1, run2, rel_files)
    scope = (
        f"compared {len(rel_files)} files byte for byte: committed fixtures ({fixtures}) "
        f"vs regeneration {run1}, and {run1} vs {run2}"
    )
    if diffs:
        lines = [
            f"determinism_check: FAILED ({len(diffs)} difference{'s' if len(diffs) > 1 else ''})",
            scope,
            "",
            "first difference:",
            *(f"  {line}" for line in diffs[0]),
            "",
            "all differences:",
            *(f"  {d[0]}" for d in diffs),
            "",
            f"the regenerations are kept in {run1.parent} for inspection",
        ]
    else:
        lines = [
            "determinism_check: OK",
            scope,
            "every regenerated file equals its committed fixture, and the two runs agree",
        ]
    report = "\n".join(lines) + "\n"
    Path(snakemake.log[0]).write_text(report, encoding="utf-8")
    if diffs:
        print(report, file=sys.stderr, end="")
        return 1
    for run in (run1, run2):
        shutil.rmtree(run)
    print(f"determinism_check: OK ({len(rel_files)} files); report: {snakemake.log[0]}")
    return 0


sys.exit(main())
