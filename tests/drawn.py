"""What a laid-out picture (Graphviz's SVG) shows where: its nodes', clusters' and edges' places, read back to
check what a person sees: which step is left of which, whether an edge runs through a label."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

SVG = "{http://www.w3.org/2000/svg}"
Box = tuple[float, float, float, float]  # left, top, right, bottom, in the SVG's units (y down)


@dataclass(frozen=True)
class Label:
    """A text of the picture: what it says, its box, and the node or cluster it belongs to."""

    words: str
    box: Box
    owner: str


def _points(shape: ET.Element) -> list[tuple[float, float]]:
    if shape.tag == f"{SVG}ellipse":
        cx, cy, rx, ry = (float(shape.get(a)) for a in ("cx", "cy", "rx", "ry"))
        return [(cx - rx, cy - ry), (cx + rx, cy + ry)]
    if shape.tag in (f"{SVG}polygon", f"{SVG}polyline"):
        return [tuple(map(float, p.split(","))) for p in shape.get("points").split()]
    return _path(shape.get("d"))


def _path(d: str) -> list[tuple[float, float]]:
    """The points of an SVG path of Graphviz's (M, then cubic Béziers), sampled along its curves."""
    numbers = [tuple(map(float, p.split(","))) for p in re.findall(r"-?[\d.]+,-?[\d.]+", d)]
    points = [numbers[0]]
    for i in range(1, len(numbers) - 2, 3):
        p0, p1, p2, p3 = points[-1], numbers[i], numbers[i + 1], numbers[i + 2]
        for k in range(1, 21):
            t = k / 20
            points.append(tuple((1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t * t * c + t**3 * e
                                for a, b, c, e in zip(p0, p1, p2, p3)))
    return points


def _box(points: list[tuple[float, float]]) -> Box:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


# Helvetica's widths (its AFM, in thousandths of the font size) from space to "~": Liberation Sans, which draws
# Helvetica here, has Arial's widths, which are Helvetica's.
_WIDTHS = [278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, *[556] * 10, 278, 278,
           584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667,
           778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556,
           278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500,
           334, 260, 334, 584]
_OTHERS = {"\xa0": 278, "×": 584, "−": 584, "±": 584, "…": 1000, "→": 1000}


def text_width(words: str, size: float) -> float:
    """How wide ``words`` are in Helvetica at ``size``."""
    return size * sum(_WIDTHS[ord(c) - 32] if 32 <= ord(c) <= 126 else _OTHERS.get(c, 556) for c in words) / 1000


def _text_box(text: ET.Element) -> Box:
    size, words = float(text.get("font-size")), "".join(text.itertext())
    width = text_width(words, size)
    x, y = float(text.get("x")), float(text.get("y"))
    left = {"start": x, "middle": x - width / 2, "end": x - width}[text.get("text-anchor", "start")]
    return left, y - 0.7 * size, left + width, y  # from the digits' top to the baseline


class Drawing:
    """An SVG of Graphviz's, read: ``nodes`` and ``clusters`` (their boxes by name), ``edges`` (tail, head and
    the points of the line) and ``labels`` (every text, with the node or cluster it is in)."""

    def __init__(self, svg: str) -> None:
        root = ET.fromstring(svg)
        self.nodes: dict[str, Box] = {}
        self.clusters: dict[str, Box] = {}
        self.edges: list[tuple[str, str, list[tuple[float, float]]]] = []
        self.labels: list[Label] = []
        for group in root.iter(f"{SVG}g"):
            kind, title = group.get("class"), group.find(f"{SVG}title")
            if kind not in ("node", "cluster", "edge") or title is None:
                continue
            name = title.text or ""
            shapes = [e for e in group.iter() if e.tag in (f"{SVG}polygon", f"{SVG}ellipse", f"{SVG}path",
                                                             f"{SVG}polyline")]
            if kind == "edge":
                line = next(e for e in shapes if e.tag == f"{SVG}path")
                tail, head = name.split("->")
                self.edges.append((tail, head, _path(line.get("d"))))
                continue
            labels = [Label("".join(t.itertext()), _text_box(t), name) for t in group.iter(f"{SVG}text")
                      if "".join(t.itertext()).strip()]
            corners = [p for s in shapes for p in _points(s)] or [c for label in labels for c in
                                                                 (label.box[:2], label.box[2:])]
            (self.nodes if kind == "node" else self.clusters)[name] = _box(corners)
            self.labels += labels

    def crossings(self) -> list[tuple[str, str, str]]:
        """Each label an edge runs through (not a label of the edge's own two nodes): (tail, head, words)."""
        found = []
        for tail, head, points in self.edges:
            for label in self.labels:
                if label.owner in (tail, head):
                    continue
                left, top, right, bottom = label.box
                if any(left < x < right and top < y < bottom for x, y in _dense(points)):
                    found.append((tail, head, label.words))
        return found

    def left_to_right(self, names: list[str]) -> bool:
        """Whether the clusters or nodes ``names`` are drawn in this order from left to right."""
        boxes = [self.clusters.get(n) or self.nodes[n] for n in names]
        return all(a[0] < b[0] for a, b in zip(boxes, boxes[1:]))


def _dense(points: list[tuple[float, float]], step: float = 1.0) -> list[tuple[float, float]]:
    """The line through ``points`` with a point at least every ``step`` units: a straight segment of an orthogonal
    edge has only its two ends."""
    out = points[:1]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        n = max(1, int(max(abs(x1 - x0), abs(y1 - y0)) / step))
        out += [(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(1, n + 1)]
    return out
