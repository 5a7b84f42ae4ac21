"""A 1600x900 PNG timeline of one bundle.

Four panels share the time axis: request rate, 5xx share and p95 latency for the three
request-carrying layers (nginx, mesh, orders-api), and event counts for the two that log
events (PostgreSQL slow/errored statements, Kubernetes warnings). When the bundle has a
label, the incident window is shaded (onset -> peak darker, peak -> recovery lighter),
the first signal is a red line, evidence points are triangles on the layer they come
from, and distractors grey crosses, so the eye finds the story before the logs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._series import BundleSeries, load, p95, warn_stderr

STREAM_OF_FILE = {
    "ui_events.log": "ui",
    "api_logs.log": "api",
    "db_events.log": "db",
    "k8s_events.log": "k8s",
    "mesh_events.jsonl": "mesh",
}
PANEL_OF_STREAM = {"ui": 1, "mesh": 1, "api": 1, "db": 3, "k8s": 3}
COLORS = {"ui": "#1f77b4", "mesh": "#9467bd", "api": "#2ca02c", "db": "#8c564b", "k8s": "#ff7f0e"}


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def render(bundle: Path, out: Path, warn: Callable[[str], object] = warn_stderr) -> Path:
    """Draw ``bundle`` into ``out``; ``warn`` gets each line of it that could not be read."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    s: BundleSeries = load(bundle)
    for w in s.warnings:
        warn(w)
    label: dict[str, Any] | None = None
    truth = bundle / "ground_truth.json"
    if truth.is_file():
        label = json.loads(truth.read_text())
    xs = [datetime.fromtimestamp(s.start + (i + 0.5) * s.bucket, tz=UTC) for i in range(s.n)]

    fig, axes = plt.subplots(4, 1, figsize=(16, 9), dpi=100, sharex=True)
    layers = (("ui", "nginx (ui)", s.ui), ("mesh", "mesh", s.mesh), ("api", "orders-api", s.api))
    for key, name, series in layers:
        axes[0].plot(xs, [r / s.bucket for r in series.requests], label=name, color=COLORS[key])
        share = [
            100.0 * e / r if r else 0.0 for e, r in zip(series.errors, series.requests, strict=True)
        ]
        axes[1].plot(xs, share, label=name, color=COLORS[key])
        lat = [p95(v) for v in series.latencies]
        axes[2].plot(
            xs, [v if v is not None else float("nan") for v in lat], label=name, color=COLORS[key]
        )
    width = s.bucket / 86400 * 0.4
    axes[3].bar(
        [x for x in xs],
        s.db_slow,
        width=width,
        label="db slow statements",
        color=COLORS["db"],
        align="edge",
    )
    axes[3].bar(
        xs, s.k8s_warnings, width=-width, label="k8s warnings", color=COLORS["k8s"], align="edge"
    )
    axes[3].bar(
        xs,
        s.db_errors,
        width=width,
        bottom=s.db_slow,
        label="db errors",
        color="#d62728",
        align="edge",
    )
    axes[0].set_ylabel("requests/s")
    axes[1].set_ylabel("5xx %")
    axes[2].set_ylabel("p95 latency (s)")
    axes[2].set_yscale("symlog", linthresh=0.01)
    axes[3].set_ylabel(f"events / {s.bucket:.0f} s")

    title = f"{bundle.name}"
    if label is not None:
        title += f" - {label['scenario_id']}"
        _annotate(axes, label)
    fig.suptitle(title, fontsize=14, x=0.01, ha="left")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(loc="center left", bbox_to_anchor=(1.005, 0.5), fontsize=8, frameon=False)
    # matplotlib.dates ships no annotations for DateFormatter.__init__
    fmt = mdates.DateFormatter("%H:%M", tz=UTC)  # type: ignore[no-untyped-call]
    axes[-1].xaxis.set_major_formatter(fmt)
    axes[-1].set_xlabel("time (UTC)")
    fig.tight_layout(rect=(0, 0, 0.88, 0.97))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    plt.close(fig)
    return out


def _annotate(axes: Any, label: dict[str, Any]) -> None:
    window = label.get("incident_window")
    if window:
        onset, peak = _t(window["onset"]), _t(window["peak"])
        end = _t(window["recovery"]) if window.get("recovery") else None
        for ax in axes:
            ax.axvspan(onset, peak, color="#d62728", alpha=0.12, lw=0)
            if end is not None:
                ax.axvspan(peak, end, color="#d62728", alpha=0.06, lw=0)
    first = label.get("first_signal")
    if first and first.get("at"):
        for ax in axes:
            ax.axvline(_t(first["at"]), color="#d62728", lw=1.5, ls="--")
        axes[0].annotate(
            "first signal",
            (_t(first["at"]), 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(4, -12),
            textcoords="offset points",
            color="#d62728",
            fontsize=9,
        )
    seen: set[str] = set()
    for p in label.get("evidence", []):
        if not p.get("at"):
            continue
        stream = STREAM_OF_FILE[p["file"]]
        ax = axes[PANEL_OF_STREAM[stream]]
        name = f"evidence ({stream})"
        ax.plot(
            [_t(p["at"])],
            [0.92],
            marker="v",
            ms=10,
            color=COLORS[stream],
            transform=ax.get_xaxis_transform(),
            ls="none",
            label=None if name in seen else name,
        )
        seen.add(name)
    for i, d in enumerate(label.get("distractors", [])):
        p = d["pointer"]
        if not p.get("at"):
            continue
        axes[3].plot(
            [_t(p["at"])],
            [0.8],
            marker="x",
            ms=8,
            color="#7f7f7f",
            transform=axes[3].get_xaxis_transform(),
            ls="none",
            label="distractor" if i == 0 else None,
        )
