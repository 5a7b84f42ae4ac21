"""Write the fixture index, then remove the bundles the configuration no longer produces.

The index text was prepared at parse time (``rca.config.fixture_index``, in the request
file ``results/requests/fixture_index.json``). Every entry of the index's directory whose
name is a bundle id (``params.bundle_pattern``) but not a configured bundle
(``params.bundles``) is a superseded bundle: a real directory is removed (``shutil.rmtree``
does not follow symlinks inside it); anything else by that name (a symlink, a file) is
left alone and reported. The log lists each.
"""

# No `from __future__ import annotations`: Snakemake puts its preamble above this line.
import os
import re
import shutil
import sys
from pathlib import Path

out = Path(snakemake.output[0])
root = out.parent
configured = set(snakemake.params.bundles)
is_bundle_id = re.compile(snakemake.params.bundle_pattern).fullmatch

lines = []
with os.scandir(root) as entries:
    stale = sorted(
        (e for e in entries if is_bundle_id(e.name) and e.name not in configured),
        key=lambda e: e.name,
    )
for entry in stale:
    path = root / entry.name
    if entry.is_dir(follow_symlinks=False):
        shutil.rmtree(path)
        lines.append(f"removed {path}/: a bundle the configuration no longer produces")
    else:
        lines.append(f"left {path} alone: named like a bundle but not a directory")

shutil.copyfile(snakemake.input.text, out)
lines.append(f"wrote {out}")
Path(snakemake.log[0]).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
for line in lines[:-1]:
    print(f"write_index: {line}", file=sys.stderr)
