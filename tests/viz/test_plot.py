"""`rca-mock plot`: a 1600x900 PNG timeline that is not blank, with the label drawn on it
(the incident window shaded, the first signal a red dashed line, evidence triangles on
their layer's panel in its colour, grey crosses for distractors); by default beside the
bundle; a missing bundle is a one-line error."""

from __future__ import annotations

import colorsys
import math
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import rgb_to_hsv, to_rgb
from matplotlib.container import BarContainer
from PIL import Image

from rca.cli import main
from rca.seed.mock_incident_generator import (
    GROUND_TRUTH_FILE,
    GroundTruth,
    generate_bundle,
)
from tests.images import rgb_pixels

RCA_MOCK = Path(sys.executable).parent / "rca-mock"
SIZE = (1600, 900)
REQUEST = {
    "scenario": "bad_api_rollout",
    "seed": 7,
    "time_anchor": "2026-11-26T05:00:00Z",
    "duration_minutes": 15,
    "noise_profile": "low",
    "rps": 0.5,
    "api_replicas": 2,
}


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_bundle(REQUEST, tmp_path_factory.mktemp("labelled"))


@pytest.fixture(scope="module")
def unlabelled(labelled: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same bundle without its ground_truth.json."""
    copy = tmp_path_factory.mktemp("unlabelled") / labelled.name
    shutil.copytree(labelled, copy, ignore=shutil.ignore_patterns(GROUND_TRUTH_FILE))
    return copy


def rgb(path: Path) -> Image.Image:
    image = Image.open(path)
    assert image.format == "PNG"
    return image.convert("RGB")


def draw(bundle: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Image.Image, Any]:
    """`rca-mock plot BUNDLE --out OUT` in process; the PNG and the figure it saved."""
    figures: list[Any] = []
    close = plt.close

    def keep(fig: Any = None) -> None:
        figures.append(fig)
        close(fig)

    monkeypatch.setattr(plt, "close", keep)
    assert main(["plot", str(bundle), "--out", str(out)]) == 0
    assert len(figures) == 1
    return rgb(out), figures[0]


def non_white_share(image: Image.Image, box: tuple[int, int, int, int]) -> float:
    region = image.crop(box)
    pixels = rgb_pixels(region)
    return sum(1 for p in pixels if min(p) < 248) / len(pixels)


def red_pixels(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    """Pixels of the label's red (#d62728), however anti-aliased: strong red, little else."""
    return sum(1 for r, g, b in rgb_pixels(image.crop(box)) if r > 170 and g < 110 and b < 110)


def day_of(at: str) -> float:
    """Instant ``at`` (RFC 3339) in matplotlib's date units (days)."""
    naive = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)
    # matplotlib.dates ships no annotations for date2num
    return float(mdates.date2num([naive])[0])  # type: ignore[no-untyped-call]


def x_pixel(ax: Any, at: str) -> float:
    """The image column of instant ``at`` (RFC 3339) on an axes."""
    x, _ = ax.transData.transform((day_of(at), 0.0))
    return float(x)


def inner_rows(ax: Any, height: int) -> tuple[int, int]:
    """Image rows inside an axes' frame (display y grows upwards, image rows downwards)."""
    box = ax.get_window_extent()
    return height - math.floor(box.y1) + 3, height - math.ceil(box.y0) - 3


def test_cli_writes_a_1600x900_png_that_is_not_blank(labelled: Path, tmp_path: Path) -> None:
    out = tmp_path / "timeline.png"
    res = subprocess.run(
        [str(RCA_MOCK), "plot", str(labelled), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(out)
    image = rgb(out)
    assert image.size == SIZE
    counts = Counter(rgb_pixels(image))
    background = counts.most_common(1)[0][1]
    assert 1 - background / (SIZE[0] * SIZE[1]) > 0.05  # lines, bars, text, shading
    assert len(counts) > 200
    saturated = sum(
        n
        for p, n in counts.items()
        if (hsv := colorsys.rgb_to_hsv(*(c / 255 for c in p)))[1] > 0.4 and hsv[2] > 0.3
    )
    assert saturated > 2000  # the coloured series of five layers


def test_the_label_is_drawn_over_the_timeline(
    labelled: Path, unlabelled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    truth = GroundTruth.model_validate_json((labelled / GROUND_TRUTH_FILE).read_bytes())
    window, first = truth.incident_window, truth.first_signal
    assert truth.incident and window is not None and first is not None
    assert first.at is not None
    end = window.recovery or window.peak
    with_label, fig_l = draw(labelled, tmp_path / "labelled.png", monkeypatch)
    without, fig_u = draw(unlabelled, tmp_path / "unlabelled.png", monkeypatch)
    assert with_label.size == without.size == SIZE

    for panel, (ax_l, ax_u) in enumerate(zip(fig_l.axes, fig_u.axes, strict=True)):
        shares = []
        for image, ax in ((with_label, ax_l), (without, ax_u)):
            top, bottom = inner_rows(ax, image.height)
            left = math.ceil(x_pixel(ax, window.onset)) + 3
            right = math.floor(x_pixel(ax, end)) - 3
            assert right - left > 20, (panel, left, right)
            shares.append(non_white_share(image, (left, top, right, bottom)))
        # Shaded: (almost) every pixel of the window is tinted; unshaded: white between
        # the series and the grid.
        assert shares[0] > 0.9, (panel, shares)
        assert shares[1] < 0.6, (panel, shares)

    # The first signal: a red dashed line across the three series panels (the bottom
    # panel's red bars are database errors, so it is left out).
    for image, fig, expected in ((with_label, fig_l, True), (without, fig_u, False)):
        red = 0
        for ax in fig.axes[:3]:
            top, bottom = inner_rows(ax, image.height)
            x = round(x_pixel(ax, first.at))
            red += red_pixels(image, (x - 2, top, x + 3, bottom))
        assert (red > 150) is expected, red


TRIANGLES = {"v", "^", "<", ">"}
CROSSES = {"x", "X", "+", "P"}
# The series standing for each stream file's layer on the timeline, by legend label.
LAYER_SERIES = {
    "ui_events.log": "nginx (ui)",
    "mesh_events.jsonl": "mesh",
    "api_logs.log": "orders-api",
    "db_events.log": "db slow statements",
    "k8s_events.log": "k8s warnings",
}
RGB = tuple[float, float, float]
# Evidence lines of different layers can be 1 ms apart; a marker must sit within 0.1 ms.
TOLERANCE_DAYS = 0.0001 / 86400


class Marker(NamedTuple):
    panel: int
    day: float  # x, in date units
    colour: RGB
    inside: bool  # drawn inside its panel's frame


def series_colours(ax: Any) -> dict[str, RGB]:
    """Legend label -> colour of every series (line or bars) an axes draws."""
    colours: dict[str, RGB] = {
        line.get_label(): to_rgb(line.get_color())
        for line in ax.get_lines()
        if line.get_linestyle() not in ("None", "", " ")
    }
    for bars in ax.containers:
        if isinstance(bars, BarContainer) and bars.patches:
            colours[str(bars.get_label())] = to_rgb(bars.patches[0].get_facecolor())
    return colours


def markers(fig: Any, shapes: set[str]) -> list[Marker]:
    """Every visible point drawn with one of ``shapes`` as marker, on any panel."""
    found: list[Marker] = []
    for panel, ax in enumerate(fig.axes):
        for line in ax.get_lines():
            if line.get_marker() not in shapes or not line.get_visible():
                continue
            if line.get_markersize() <= 0 or line.get_alpha() == 0:
                continue
            # Unfilled markers (crosses) show their edge colour, triangles their face.
            filled = line.get_marker() in TRIANGLES
            colour = to_rgb(line.get_markerfacecolor() if filled else line.get_markeredgecolor())
            for x, y in line.get_xydata():
                dx, dy = line.get_transform().transform((x, y))
                found.append(Marker(panel, float(x), colour, bool(ax.bbox.contains(dx, dy))))
    return found


def test_evidence_triangles_and_distractor_crosses(
    labelled: Path, unlabelled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    truth = GroundTruth.model_validate_json((labelled / GROUND_TRUTH_FILE).read_bytes())
    evidence = [p for p in truth.evidence if p.at is not None]
    distractors = [d.pointer for d in truth.distractors if d.pointer.at is not None]
    # The bundle exercises the check: evidence from several layers, both panel kinds.
    assert {p.file for p in evidence} >= {"k8s_events.log", "api_logs.log", "ui_events.log"}
    assert distractors
    _, fig = draw(labelled, tmp_path / "labelled.png", monkeypatch)
    _, bare = draw(unlabelled, tmp_path / "unlabelled.png", monkeypatch)

    # One triangle per evidence line, at its instant, on a panel that draws the line's
    # layer, in that layer's colour, inside the frame.
    left = markers(fig, TRIANGLES)
    assert len(left) == len(evidence), (left, evidence)
    for p in evidence:
        assert p.at is not None
        series = LAYER_SERIES[p.file]
        match = [
            m
            for m in left
            if abs(m.day - day_of(p.at)) < TOLERANCE_DAYS
            and series_colours(fig.axes[m.panel]).get(series) == m.colour
            and m.inside
        ]
        assert match, (p.file, p.line, p.at, left)
        left.remove(match[0])
    assert not left

    # One grey cross per distractor, at its instant, inside a panel.
    crosses = markers(fig, CROSSES)
    assert sorted(m.day for m in crosses) == pytest.approx(
        sorted(day_of(str(p.at)) for p in distractors), abs=TOLERANCE_DAYS
    )
    for m in crosses:
        _, saturation, value = rgb_to_hsv(m.colour)
        assert saturation < 0.05 and 0.25 < value < 0.75, m  # grey: neither black nor white
        assert m.inside, m

    # No label, no markers.
    assert markers(bare, TRIANGLES | CROSSES) == []


@pytest.mark.parametrize("how", ["absolute", "relative/", "."])
def test_cli_without_out_writes_the_png_beside_the_bundle(
    labelled: Path, tmp_path: Path, how: str
) -> None:
    bundle = tmp_path / labelled.name
    shutil.copytree(labelled, bundle)
    files = sorted(p.name for p in bundle.iterdir())
    arg, cwd = {
        "absolute": (str(bundle), tmp_path.parent),
        "relative/": (f"{bundle.name}/", tmp_path),
        ".": (".", bundle),  # from inside the bundle
    }[how]
    res = subprocess.run(
        [str(RCA_MOCK), "plot", arg],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    expected = tmp_path / f"{bundle.name}.png"
    assert res.stdout.strip() == str(expected.resolve())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([bundle.name, expected.name])
    assert sorted(p.name for p in bundle.iterdir()) == files  # nothing written inside
    assert rgb(expected).size == SIZE


def test_cli_missing_bundle_is_a_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "mock-000000000000"
    for out in (["--out", str(tmp_path / "x.png")], []):
        res = subprocess.run(
            [str(RCA_MOCK), "plot", str(missing), *out],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert res.returncode == 2, (out, res.returncode, res.stderr)  # bad input
        assert "Traceback" not in res.stderr, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1, res.stderr
        assert lines[0].startswith("error: INVALID_PARAMETER: bundle="), lines
        assert str(missing) in lines[0] and "does not exist" in lines[0], lines
        assert res.stdout == ""
        assert list(tmp_path.iterdir()) == []  # no PNG, no directory
