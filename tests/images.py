"""Pixels of rendered images (plots, report screenshots), typed for the tests."""

from __future__ import annotations

from PIL import Image


def rgb_pixels(image: Image.Image) -> list[tuple[int, ...]]:
    """An RGB image's pixels, row by row, as (r, g, b) tuples."""
    assert image.mode == "RGB", image.mode
    data = image.get_flattened_data()
    pixels = [p for p in data if isinstance(p, tuple)]
    assert len(pixels) == len(data)  # none dropped: every pixel is a tuple
    return pixels
