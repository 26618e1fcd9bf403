"""How high the digits of a picture are, measured on a PNG of it at the size a person sees it.

The numbers are found in the picture's SVG (Graphviz's: each text with its place and font size); each is then
looked for in the PNG, in the box where that text is drawn, and its height is the height of its ink: the rows of
the box with a pixel far from the box's background. A number is a text of digits alone (``0.93``, ``-4.1e-3``,
``47``, ``1 0``) or a shape (``B×16``), so its ink is as high as its digits.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# a number, bits ("1 0"), or a shape ("B×16", "2×16": the B as high as a digit, the × lower)
NUMBER = re.compile(r"^([-−]?\d[\d.]*(e-?\d+)?%?( [-−]?\d[\d.]*)*|(B×)?\d+(×\d+)*)$")
SVG = "{http://www.w3.org/2000/svg}"


@dataclass(frozen=True)
class Text:
    """A text of the SVG, in the SVG's units: where its baseline starts or is centred, its font size."""

    content: str
    x: float
    y: float
    size: float
    anchor: str


def numbers(svg: str) -> list[Text]:
    """The numbers an SVG of Graphviz's shows, placed in the SVG's own units (its viewBox)."""
    root = ET.fromstring(svg)
    graph = root.find(f"{SVG}g")
    scale, dx, dy = 1.0, 0.0, 0.0
    transform = graph.get("transform", "")
    if m := re.search(r"scale\(([\d.]+)", transform):
        scale = float(m.group(1))
    if m := re.search(r"translate\(([-\d.]+)[ ,]([-\d.]+)\)", transform):
        dx, dy = float(m.group(1)), float(m.group(2))
    found = []
    for text in graph.iter(f"{SVG}text"):
        content = (text.text or "").strip().replace("\xa0", " ")
        if NUMBER.match(content):
            found.append(Text(content, (float(text.get("x")) + dx) * scale, (float(text.get("y")) + dy) * scale,
                              float(text.get("font-size")) * scale, text.get("text-anchor", "start")))
    return found


def size_of(svg: str) -> tuple[float, float]:
    """The SVG's width and height in its own units."""
    view = ET.fromstring(svg).get("viewBox").split()
    return float(view[2]), float(view[3])


def ink_height(image: np.ndarray, text: Text, scale: float) -> int:
    """How many rows of ``image`` (an RGB array) the ink of ``text`` covers, the SVG shown ``scale`` pixels a
    unit."""
    width = 0.62 * text.size * len(text.content)  # wider than the text: digits are 0.56 of the font size
    left = {"start": text.x, "middle": text.x - width / 2, "end": text.x - width}[text.anchor]
    top, bottom = text.y - 0.95 * text.size, text.y + 0.05 * text.size  # digits sit on the baseline
    box = image[max(int(top * scale), 0): int(bottom * scale) + 1, max(int(left * scale), 0): int((left + width) * scale) + 1]
    if not box.size:
        return 0
    edge = np.concatenate([box[0], box[-1], box[:, 0], box[:, -1]]).astype(float)
    background = np.median(edge, axis=0)
    far = np.abs(box.astype(float) - background).sum(axis=2) > 150  # ink: far from the background
    rows = np.flatnonzero(far.any(axis=1))
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


def digit_heights(png: Path | Image.Image, svg: str, scale: float | None = None) -> dict[str, int]:
    """Each number of ``svg`` and the height of its ink in ``png``, a picture of that SVG (the same drawing, at
    ``scale`` pixels a unit, by default as wide as the picture): the smallest height of each number's texts."""
    image = np.asarray((Image.open(png) if isinstance(png, Path) else png).convert("RGB"))
    width, _ = size_of(svg)
    scale = scale or image.shape[1] / width
    heights: dict[str, int] = {}
    for text in numbers(svg):
        measured = ink_height(image, text, scale)
        heights[text.content] = min(measured, heights.get(text.content, measured))
    return heights


def in_a_column(browser, svg: Path, column: int = 880) -> Image.Image:
    """The SVG as a web page shows it in a column ``column`` pixels wide (a README's on GitHub: an image no
    wider than its natural size or the column), as a PNG from the browser."""
    page = svg.with_suffix(".column.html")
    page.write_text(f'<!DOCTYPE html><body style="margin:0"><img id="p" src="{svg.name}" '
                    f'style="max-width:{column}px;display:block"></body>')
    browser.send("Emulation.setDeviceMetricsOverride", {"width": column + 40, "height": 3000,
                                                        "deviceScaleFactor": 1, "mobile": False})
    browser.open(page)
    left, top, width, height = browser.evaluate(
        "(() => { const r = document.getElementById('p').getBoundingClientRect(); "
        "return [r.left, r.top, r.width, r.height]; })()")
    clip = {"x": left, "y": top, "width": width, "height": height, "scale": 1}
    data = browser.send("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True})
    shot = page.with_suffix(".png")
    shot.write_bytes(base64.b64decode(data["data"]))
    return Image.open(shot).convert("RGB")
