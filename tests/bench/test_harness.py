"""Smoke test of the benchmark harness: it runs and writes the expected rows.

Speed is measured by ``python -m benchmarks``, never asserted here: this only checks that
the harness runs end to end (``--quick`` on a 15-minute, low-rps window) and that its
markdown and JSON outputs have the rows the issue asks for.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rca.seed._sim import native_available, resolve_engine

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_quick_run_writes_markdown_and_json(tmp_path: Path) -> None:
    out = tmp_path / "results"
    no_workflow = tmp_path / "repo-without-workflow"
    no_workflow.mkdir()
    cmd = [
        sys.executable,
        "-m",
        "benchmarks",
        "--quick",
        "--minutes=15",
        "--sizes=900,1800",  # rps 1 and 2 over 15 minutes
        "--repeats=1",
        "--faker-lines=1000",
        f"--repo-root={no_workflow}",  # exercises the "no Snakefile" skip path
        f"--scratch={tmp_path / 'scratch'}",
        f"--out={out}",
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]

    md = (out / "latest.md").read_text()
    report = json.loads((out / "latest.json").read_text())
    assert proc.stdout.strip() == md.strip()

    # environment pinned
    env = report["env"]
    for key in ("python", "cpu_count", "platform", "git_commit", "executable", "packages"):
        assert key in env
    assert report["mode"] == "quick"

    # one row per bundle case, each measured (values exist; their size is not asserted);
    # the one-process Python-engine case only when the compiled core runs the others
    main_engine = resolve_engine()  # the workers inherit this environment
    with_py = main_engine == "native"
    assert list(report["bundles"]) == [
        "15m-900",
        "15m-1.8k",
        "15m-1.8k-1p",
        *(["15m-1.8k-1p-py"] if with_py else []),
        "15m-1.8k-all",
        "v0",
    ]
    assert report["bundles"]["15m-1.8k-1p"]["workers"] == 1
    # every modality: the same bundle plus its metrics file (more bytes, not other logs)
    every = report["bundles"]["15m-1.8k-all"]
    assert every["bytes"] > report["bundles"]["15m-1.8k"]["bytes"]
    for key, bundle in report["bundles"].items():
        assert bundle["error"] is None, bundle["error"]
        assert bundle["runs"] == 1
        assert isinstance(bundle["seconds"], float)
        assert bundle["lines"] > 0 and bundle["bytes"] > 0
        assert isinstance(bundle["peak_rss_mb"], float)
        assert f"| {key} |" in md
        # every sample says which engine ran it
        expected = "python" if key.endswith("-1p-py") else main_engine
        assert bundle["engine"] == expected
        assert [s["engine"] for s in bundle["samples"]] == [expected]

    # the engine of the main cases, in the JSON and on the markdown header line
    engine = report["engine"]
    assert engine["main"] == main_engine
    assert engine["native_available"] is native_available()
    sources = {"native": "compiled core rca/seed/_simcore.c", "python": "pure-Python reference"}
    header = md.splitlines()[2]
    assert f"simulation engine: {main_engine} ({sources[main_engine]}" in header
    if with_py:
        py = report["bundles"]["15m-1.8k-1p-py"]
        assert py["workers"] == 1
        sp = engine["speedup"]
        assert sp["ratio"] == py["seconds"] / report["bundles"]["15m-1.8k-1p"]["seconds"]
        assert f"= **{sp['ratio']:.2f}×**, measured in this run." in md
        assert "| engine |" in md  # engines differ: one per row
    else:
        assert engine["speedup"] is None
        assert engine["python_case_skipped"] in md
    assert "floor" in report["bundles"]["15m-1.8k"]

    # per stream, scaling, comparators, workflow note
    streams = report["streams"]["15m-1.8k"]
    for name in ("(simulation only)", "ui", "api", "db", "k8s", "mesh", "(sum of streams)"):
        assert name in streams
    assert [(s["from"], s["to"]) for s in report["scaling"]] == [("15m-900", "15m-1.8k")]
    if report["faker"]["installed"]:
        assert report["faker"]["nginx_error"]["lines"] == 1000
    else:
        assert "faker-observability-provider not installed" in md
    assert "workflow/Snakefile not found" in report["workflow"]["skipped"]
    assert "workflow/Snakefile not found" in md

    names = [t["target"] for t in report["targets"]]
    assert any(n.startswith("100k req / 30 min bundle") for n in names)
    assert any(n.startswith("default v0 bundle") for n in names)
    assert "snakemake all from scratch" in names
    assert "snakemake no-op rerun" in names
    assert any(n.startswith("peak RSS") for n in names)
    assert any(n.startswith("time(") for n in names)
    assert all(t["result"] in ("PASS", "FAIL", "n/a") for t in report["targets"])
    for heading in (
        "## Targets",
        "## Bundles",
        "## Raw-write floor",
        "## Per stream",
        "## Scaling",
        "## faker-observability-provider",
        "## Workflow",
    ):
        assert heading in md
