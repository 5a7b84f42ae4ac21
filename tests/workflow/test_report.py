"""Issue 5, "Look rather than read": the timelines and `snakemake --report`, on the tiny
test config; the report rendered by a real browser (headless Chromium)."""

from __future__ import annotations

import base64
import colorsys
import io
import json
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from rca.seed.mock_incident_generator import GROUND_TRUTH_FILE, MANIFEST_FILE, STREAM_FILES
from rca.seed.scenarios import scenario_ids
from tests.images import rgb_pixels
from tests.workflow.helpers import FIXTURES, ROOT, snakemake
from tests.workflow.test_workflow import index

pytestmark = pytest.mark.workflow

CAPTION = ROOT / "workflow" / "report" / "plot_bundle.rst"
LEGEND = ("shading", "red dashed line", "triangles", "grey crosses")
# Where the caption says what happens in each scenario of the test config.
STORY = {
    "normal_load": "the negative control",
    "bad_api_rollout": "rolling update ships",
}


def report_data(html: str, var: str) -> Any:
    """A `var NAME = {...};` JSON blob of the Snakemake report's page."""
    match = re.search(rf'<script id="{var}">\s*var {var} = (.*?);\s*</script>', html, re.S)
    assert match, f"no {var} in the report"
    return json.loads(match.group(1))


def png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.convert("RGB")


def pixel_stats(image: Image.Image) -> tuple[float, int, int]:
    """(share of pixels unlike the background, distinct colours, saturated pixels)."""
    counts = Counter(rgb_pixels(image))
    background = counts.most_common(1)[0][1]
    saturated = sum(
        n
        for rgb, n in counts.items()
        if (hsv := colorsys.rgb_to_hsv(*(c / 255 for c in rgb)))[1] > 0.4 and hsv[2] > 0.3
    )
    return 1 - background / (image.width * image.height), len(counts), saturated


def test_the_caption_tells_the_story_its_scenario_declares() -> None:
    # Generic text around the scenario module's own caption (Scenario.caption, passed by
    # report.smk's params): no scenario is named here, so a new one needs no edit.
    text = CAPTION.read_text()
    assert "{{ snakemake.params.happens }}" in text
    assert "{{ snakemake.params.look_for }}" in text
    assert [sid for sid in scenario_ids() if sid in text] == []
    for word in LEGEND:
        assert word in text


def test_all_draws_one_timeline_per_bundle_outside_the_fixtures(built: Path) -> None:
    bundles = index(built)
    plots = built / "results" / "plots"
    assert sorted(p.name for p in plots.iterdir()) == sorted(f"{b}.png" for b in bundles)
    for bundle_id in bundles:
        assert png((plots / f"{bundle_id}.png").read_bytes()).size == (1600, 900)
        files = {p.name for p in (built / FIXTURES / bundle_id).iterdir()}
        assert files == {*STREAM_FILES.values(), GROUND_TRUTH_FILE, MANIFEST_FILE}


def chromium() -> str:
    exe = shutil.which("chromium")
    assert exe, "chromium not installed"  # the realtools marker skips (or fails under CI)
    return exe


def run_chromium(url: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium with no network chatter, a private profile and HOME."""
    argv = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1600,900",
        # Dump or shoot only once the page's scripts have run (virtual time runs them to
        # completion at once); without it a loaded machine can catch the loading screen.
        "--virtual-time-budget=30000",
        "--run-all-compositor-stages-before-draw",
        *args,
        url,
    ]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(profile),
        "XDG_CONFIG_HOME": str(profile),
        "XDG_CACHE_HOME": str(profile),
        "LANG": "C.UTF-8",
    }
    res = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=180, check=False)
    assert res.returncode == 0, f"{argv}\n{res.stderr[-3000:]}"
    return res


@pytest.mark.realtools("chromium")
def test_report_is_self_contained_and_renders_in_chromium(workspace: Path, tmp_path: Path) -> None:
    res = snakemake(workspace, "--report", "report.html")
    assert res.returncode == 0, res.stdout
    page = workspace / "report.html"
    html = page.read_text()

    # Every timeline is in the page (embedded, not linked), under its scenario, with its
    # caption: the scenario's story and the legend of the annotations.
    bundles = {b: str(e["scenario"]) for b, e in index(workspace).items()}
    categories = report_data(html, "categories")
    assert categories == {
        "Bundle timelines": {s: [f"results/plots/{b}.png"] for b, s in bundles.items()}
    }
    results = report_data(html, "results")
    assert set(results) == {f"results/plots/{b}.png" for b in bundles}
    for bundle_id, scenario in bundles.items():
        entry = results[f"results/plots/{bundle_id}.png"]
        assert entry["labels"] == {"bundle": bundle_id, "scenario": scenario}
        caption = re.sub(r"\s+", " ", entry["caption"])
        assert STORY[scenario] in caption, caption
        assert all(word in caption for word in LEGEND), caption
        head, data = entry["data_uri"].split(",", 1)
        assert head.startswith("data:image/png;")
        assert png(base64.b64decode(data)).size == (1600, 900)

    # The page in a real browser: its scripts run (the app replaces the loading screen)...
    dom = run_chromium(page.as_uri(), tmp_path / "profile-dom", "--dump-dom").stdout
    assert re.search(r'id="loading-screen"[^>]*style="display: none;"', dom), dom[:2000]
    assert not re.search(r'<div id="app">\s*</div>', dom)
    assert "Results" in dom

    # ... and what it shows is not blank: a sidebar, text, the coloured rule graph.
    shot = tmp_path / "report.png"
    run_chromium(page.as_uri(), tmp_path / "profile-shot", f"--screenshot={shot}")
    image = png(shot.read_bytes())
    assert image.size == (1600, 900)
    off_background, colours, saturated = pixel_stats(image)
    # A blank page with one line of text: ~0.1 % off the background, no saturated pixel.
    assert off_background > 0.05, off_background
    assert colours > 300, colours
    assert saturated > 100, saturated
