"""A terminal summary of one bundle for users without a browser."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ._series import load, warn_stderr


def summarize(
    bundle: Path, minutes_per_row: int = 1, warn: Callable[[str], object] = warn_stderr
) -> str:
    """The summary text; ``warn`` gets each line of the bundle that could not be read."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    truth_path = bundle / "ground_truth.json"
    truth = json.loads(truth_path.read_text()) if truth_path.is_file() else None
    start = datetime.fromisoformat(manifest["window_start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(manifest["window_end"].replace("Z", "+00:00"))
    rows = max(1, int((end - start).total_seconds() // (60 * minutes_per_row)))
    s = load(bundle, buckets=rows)
    for w in s.warnings:
        warn(w)
    out = [f"bundle {manifest['bundle_id']}"]
    if truth is not None:
        out[0] += f"  scenario {truth['scenario_id']}"
    out.append(f"window {manifest['window_start']} .. {manifest['window_end']}")
    out.append("")
    out.append(f"{'file':<20}{'records':>10}{'lines':>10}{'bytes':>12}")
    for a in manifest["artifacts"]:
        out.append(f"{a['file']:<20}{a['record_count']:>10}{a['line_count']:>10}{a['bytes']:>12}")
    out.append("")
    out.append("errors by minute (nginx 5xx | mesh 5xx | api 5xx | db slow | db err | k8s warn)")
    out.append(
        f"{'UTC':<7}{'req':>6}{'ui5xx':>7}{'mesh5xx':>8}{'api5xx':>7}{'dbslow':>7}"
        f"{'dberr':>6}{'k8sW':>6}  "
    )
    peak = max([*s.ui.errors, *s.mesh.errors, *s.api.errors, *s.db_slow, *s.k8s_warnings, 1])
    for i in range(s.n):
        t = datetime.fromtimestamp(s.start + i * s.bucket, tz=UTC)
        worst = max(
            s.ui.errors[i], s.mesh.errors[i], s.api.errors[i], s.db_slow[i], s.k8s_warnings[i]
        )
        bar = "#" * round(20 * worst / peak)
        out.append(
            f"{t:%H:%M}  {s.ui.requests[i]:>6}{s.ui.errors[i]:>7}{s.mesh.errors[i]:>8}"
            f"{s.api.errors[i]:>7}{s.db_slow[i]:>7}{s.db_errors[i]:>6}"
            f"{s.k8s_warnings[i]:>6}  {bar}"
        )
    if truth is not None:
        out.append("")
        if not truth["incident"]:
            out.append("label: no incident (negative control)")
        else:
            out.append(f"label: {truth['root_cause']}")
            out.append(
                f"  trigger {truth['trigger']}; layer {truth['root_cause_layer']}; "
                f"fault {truth['fault_type']}"
            )
            w = truth["incident_window"]
            out.append(f"  onset {w['onset']}  peak {w['peak']}  recovery {w['recovery']}")
            for step in truth["causal_chain"]:
                refs = ", ".join(f"{p['file']}:{p['line']}" for p in step["evidence"][:3])
                out.append(
                    f"  {step['order']}. [{step['layer']}] {step['component']}: "
                    f"{step['effect']}  ({refs})"
                )
    return "\n".join(out)
