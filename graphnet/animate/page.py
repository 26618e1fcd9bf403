"""An animation as one self-contained web page (no network, opens from disk): the picture fills the window,
zooms and pans, follows the pass step by step if asked, and a node clicked shows its numbers, its formula and
what it was computed from in a panel beside it.

The page is ``page.html``, ``page.css`` and ``page.js`` beside this module, with the animation's data put in:
for each pass, its picture laid out once (an SVG), and for each frame the cells that differ from it (their
colour, text and hover text, by id), what the frame is about (its step, its nodes) and every node's numbers.
"""

from __future__ import annotations

import html
import json
import math
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

from ..app.files import write_bytes
from ..engine.graph import Graph
from ..render import kind_of, layout, shape_text
from ..render.cells import Cell
from ..render.colours import ink
from ..render.backends import skeleton
from . import formulas
from .frame import Frame

NAMES = {"forward": "forward pass", "reverse": "reverse pass", "memory": "memory"}


def write_html(frames: Sequence[Frame], path: str | Path) -> Path:
    """One self-contained page of ``frames``: play/pause, a slider, a pass to choose, zoom and pan, a view that
    follows the step, and a node's numbers, formula and inputs in a panel when it is clicked."""
    files = resources.files(__package__)
    title = frames[0].picture.heading.split(":")[0] if frames else "graphnet"
    data = json.dumps(page_data(frames), separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    page = (files.joinpath("page.html").read_text()
            .replace("{{title}}", html.escape(title))
            .replace("/*{{style}}*/", files.joinpath("page.css").read_text())
            .replace("/*{{script}}*/", files.joinpath("page.js").read_text())
            .replace("{{data}}", data))
    return write_bytes(path, page.encode())


def _cell(id: str, made: Cell) -> list:
    return [id, made.colour, ink(made.colour), made.tooltip, made.text]


def page_data(frames: Sequence[Frame]) -> dict:
    """What the page shows, as JSON-ready data: each pass (``phases``) and each node (``nodes``, ``ops``)."""
    phases: dict[str, dict] = {}
    skeletons: dict[str, list[str]] = {}
    before: dict[tuple[str, int], dict] = {}  # (pass, layout) -> the cells of its frame before, by id
    for frame in frames:
        phase = phases.setdefault(frame.phase, {"name": NAMES.get(frame.phase, frame.phase), "layouts": [],
                                                "frames": [], "numbers": {}})
        shape = skeleton(frame.picture.source)
        known = skeletons.setdefault(frame.phase, [])
        if shape not in known:  # one layout for every frame of a pass drawn alike
            known.append(shape)
            svg = layout(frame.picture, "svg").decode()
            phase["layouts"].append({"svg": svg[svg.index("<svg"):],
                                     "cells": [_cell(id, made) for id, made in frame.picture.cells.items()]})
        index = known.index(shape)
        last = before.get((frame.phase, index), {})
        # each frame as the cells it changes: those of the frame before in its layout (the first: the layout's)
        changed = [_cell(id, made) for id, made in frame.picture.cells.items() if last.get(id, made) != made]
        before[frame.phase, index] = frame.picture.cells
        phase["frames"].append({"caption": frame.caption, "seconds": frame.seconds, "step": frame.step,
                                "keys": list(frame.keys), "layout": index, "cells": changed,
                                "notes": dict(frame.notes)})
        _add_numbers(phase["numbers"], len(phase["frames"]) - 1, frame)
    graphs = {id(f.graph): f.graph for f in frames if f.graph is not None}
    nodes: dict[str, dict] = {}
    for graph in graphs.values():
        nodes.update(_nodes(graph))
    for frame in frames:
        for key in frame.numbers:
            nodes.setdefault(key, {"key": key, "inputs": [], "readers": []})
    ops = {op: formulas.code(op) for op in sorted({n.get("op") for n in nodes.values() if n.get("op")})}
    return {"phases": phases, "order": list(phases), "nodes": nodes, "ops": {k: v for k, v in ops.items() if v}}


def _add_numbers(numbers: dict, index: int, frame: Frame) -> None:
    """Each node's numbers as this frame shows them, kept only where they differ from the frame before: a
    node's list of [first frame, numbers] (numbers as text, None where not computed yet)."""
    for key, value in frame.numbers.items():
        shown = _as_text(np.asarray(value, dtype=float))
        versions = numbers.setdefault(key, [])
        if not versions or versions[-1][1] != shown:
            versions.append([index, shown])


def _as_text(value: np.ndarray):
    """The first example's numbers (a vector of a batch: its first row; a weight: all of it) as text."""
    if value.ndim == 2 and value.shape[0] == 1:
        value = value[0]
    if value.ndim > 2 or value.size > 4096:
        return None
    if value.ndim == 0:
        return None if math.isnan(float(value)) else _short_exponent(float(value))
    shown = np.vectorize(lambda v: "" if math.isnan(v) else _short_exponent(v), otypes=[object])(value).tolist()
    return None if value.size and np.all(np.isnan(value)) else shown


def _short_exponent(v: float) -> str:
    """``v`` to 3 significant digits, its exponent without padding: ``-6.59e-4``, not ``-0.0006588`` or
    ``-6.588e-04``: eight numbers of a row fit the panel."""
    shown = f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 or not math.isfinite(v) else f"{v:.2e}"
    if "e" not in shown:
        return shown
    mantissa, exponent = shown.split("e")
    return f"{mantissa}e{int(exponent)}"


def _nodes(graph: Graph) -> dict[str, dict]:
    """What the panel says of each node of ``graph``: what it is, its formulas, what it reads and what reads it."""
    out = {}
    for key, attrs in graph.nx.nodes(data=True):
        inputs = list(attrs.get("inputs") or graph.nx.predecessors(key))
        op = attrs.get("op", "")
        out[key] = {
            "key": key, "op": op, "kind": kind_of(attrs), "t": attrs.get("t"),
            "shape": shape_text(attrs.get("shape", ())), "inputs": inputs,
            "readers": sorted(graph.nx.successors(key)), "shows": attrs.get("shows", key),
            "folds": attrs.get("folds", []),
            "forward": formulas.forward(key, op, inputs, attrs.get("attrs", {})) if "folds" not in attrs else
            f"{key}: the ops of step {attrs.get('t')}'s cell, folded into one node: {', '.join(attrs['folds'])}",
            "backward": formulas.backward(key, op, inputs, attrs.get("attrs", {})) if "folds" not in attrs else
            "back through each of those ops' backward, the last first",
        }
    return out
