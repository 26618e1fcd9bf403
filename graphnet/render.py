"""Drawing an unrolled graph with graphviz. The only module that imports graphviz; it only reads the graph.

Time flows left to right, one cluster per time step, and within a step from the input at the bottom to the
loss at the top, as the post draws it. Every shared node (the weights ``synapse_0``, ``synapse_h``,
``synapse_1``, the initial state, the total loss) is drawn once, outside the steps; each weight has a colour
of its own, on its node and on its edge to every step that reads it, so weight sharing shows at a glance, and
the state carried from one step to the next is a thick purple edge.

Given the values of a run, every vector is a strip of cells coloured by its value (the first example of the
batch; hover over a cell in the SVG for its number), short vectors and every loss print their numbers, and
each weight is a small heat map of its matrix. Given gradients too, the cells and the heat maps show the
gradient of the loss instead (a weight's: summed over the steps, what SGD applies). One colour scale serves
the whole picture, linear or, when the numbers shown span orders of magnitude (gradients fading back through
time), logarithmic; the legend says which.

Examples
--------
>>> from graphnet import load_task
>>> graph = load_task("tasks/binary_addition.toml").build_network().graph(4)
>>> dot = to_digraph(graph)
>>> dot.source.count("subgraph cluster_t")
4
"""

from __future__ import annotations

import colorsys
import html
import json
import math
import os
import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import graphviz
import networkx as nx
import numpy as np

from .app.files import write_bytes
from .engine.graph import Graph
from .errors import RenderError
from .rnn.keys import INPUT, PREDICTION, TARGET, at

FORMATS = (".dot", ".svg", ".png", ".pdf", ".json")
MAX_STEPS = 256  # past this, dot takes minutes and the picture is a grey smear
MAX_CELLS = 64  # vectors wider than this are drawn as their shape only
MAX_HEAT = 32  # weights with more rows or columns than this are drawn as their shape only
NUMBERED = 4  # vectors this short print their numbers in their cells
ORTHO_STEPS = 24  # pictures of up to this many steps route their edges around the nodes; longer ones, straight
MAX_DECADES = 6  # a logarithmic scale reaches at most this many factors of 10 below its largest number

# One colour per weight, never red or blue (a number's sign), purple (the state carried to the next step) or
# grey (numbers in [0, 1]); past 16 weights more are made by stepping round the hue circle.
WEIGHT_COLOURS = [
    "#e66101", "#1b9e77", "#8c510a", "#d01c8b", "#66a61e", "#e6ab02", "#0e8f9e", "#f1b6da",
    "#7a6a00", "#1a1a1a", "#a6d96a", "#f4a442", "#5ec2d1", "#bf812d", "#35978f", "#4d9221",
]
RECURRENT_COLOUR = "#6a3d9a"
PENDING = "#e9e4d4"  # a number not computed yet (in an animation): greige, a colour no scale has
KIND_STYLE = {
    "input": dict(shape="box", style="rounded,filled", fillcolor="#eef3f8", color="#6b7f99"),
    "target": dict(shape="box", style="rounded,filled,dashed", fillcolor="#f5f5f5", color="#777777"),
    "state": dict(shape="box", style="rounded,filled", fillcolor="#f1ebf6", color=RECURRENT_COLOUR),
    "constant": dict(shape="box", style="filled", fillcolor="#f5f5f5", color="#777777"),
    "parameter": dict(shape="box3d", style="filled", penwidth="2"),
    "op": dict(shape="ellipse", style="filled", fillcolor="#ffffff", color="#999999", fontsize="10"),
    "gate": dict(shape="ellipse", style="filled", fillcolor="#ffffff", color="#999999", fontsize="10"),
    "hidden": dict(shape="box", style="rounded,filled,bold", fillcolor="#f7f7f7", color="#333333"),
    "output": dict(shape="box", style="rounded,filled", fillcolor="#fbf3e6", color="#8a6d3b"),
    "loss": dict(shape="octagon", style="filled", fillcolor="#f7f7f7", color="#555555"),
}


# -- colours ----------------------------------------------------------------------------------------------------
def _mix(a: tuple[int, int, int], b: tuple[int, int, int], f: float) -> str:
    f = min(max(f, 0.0), 1.0)
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b))


WHITE, DARK, BLUE, RED = (255, 255, 255), (37, 37, 37), (33, 102, 172), (178, 24, 43)


def unit_colour(v: float) -> str:
    """A value in [0, 1] (a sigmoid's output, a bit): white at 0 to near black at 1."""
    return _mix(WHITE, DARK, v)


@dataclass(frozen=True)
class Scale:
    """Numbers of any sign as colours: blue below 0, white at 0, red above, full colour at ``±limit``.

    With ``decades`` 0 the colour grows in proportion to the number. Otherwise it grows with the number's
    logarithm, from faint at ``limit / 10**decades`` to full at ``limit`` (below that, white): a gradient a
    thousand times smaller than the largest still shows.

    Examples
    --------
    >>> Scale(2.0).colour(2.0), Scale(2.0).colour(-2.0), Scale(2.0).colour(0.0)
    ('#b2182b', '#2166ac', '#ffffff')
    >>> Scale.fit([1.0, 0.5]).decades, Scale.fit([1.0, 1e-3]).decades
    (0, 4)
    """

    limit: float
    decades: int = 0

    @classmethod
    def fit(cls, magnitudes: Iterable[float]) -> Scale:
        """The scale for vectors whose largest magnitudes are ``magnitudes``.

        Linear, unless one of them would be all but white on it (under a twentieth of the largest): then
        logarithmic, reaching one decade below the smallest.
        """
        shown = [m for m in magnitudes if m > 0 and math.isfinite(m)]
        if not shown:
            return cls(0.0)
        limit, smallest = max(shown), min(shown)
        if smallest * 20 >= limit:
            return cls(limit)
        # Logarithmic from a round number (1, 2 or 5 times a power of 10), so the legend's ticks read as such.
        power = 10.0 ** math.floor(math.log10(limit))
        limit = next(m * power for m in (1, 2, 5, 10) if m * power >= limit * (1 - 1e-12))
        return cls(limit, min(MAX_DECADES, math.ceil(math.log10(limit / smallest)) + 1))

    def fraction(self, v: float) -> float:
        """How strong ``v``'s colour is, from 0 (white) to 1."""
        size = abs(v)
        if self.limit <= 0 or size == 0 or not math.isfinite(size):
            return 0.0 if size == 0 or self.limit <= 0 else 1.0
        if not self.decades:
            return min(size / self.limit, 1.0)
        floor = self.limit * 10.0**-self.decades
        if size < floor:
            return 0.0
        return min(0.15 + 0.85 * math.log10(size / floor) / self.decades, 1.0)

    def colour(self, v: float) -> str:
        """The colour of ``v``."""
        return _mix(WHITE, RED if v >= 0 else BLUE, self.fraction(v))

    def ticks(self) -> list[float]:
        """The numbers the legend shows, from ``-limit`` to ``limit``."""
        if not self.decades:
            return [self.limit * f for f in np.linspace(-1, 1, 9)]
        right = [self.limit * 10.0**-k for k in range(self.decades, -1, -1)]
        return [-v for v in reversed(right)] + [0.0] + right


def signed_colour(v: float, scale: float) -> str:
    """A value of any sign on a linear scale: blue below 0, white at 0, red above, full colour at ``±scale``."""
    return Scale(scale).colour(v)


def weight_colours(keys: list[str]) -> dict[str, str]:
    """A distinct colour for each weight, in order: the 16 of ``WEIGHT_COLOURS``, then hues stepped round."""
    colours = dict(zip(keys, WEIGHT_COLOURS))
    for i, key in enumerate(keys[len(WEIGHT_COLOURS):]):
        hue = (0.11 + i * 0.381966) % 1.0  # the golden angle: each new hue far from the ones before
        if 0.55 < hue < 0.85 or hue < 0.03 or hue > 0.95:  # not blue, purple or red
            hue = (hue + 0.3) % 1.0
        r, g, b = colorsys.hls_to_rgb(hue, 0.4 + 0.15 * (i % 2), 0.75)
        colours[key] = "#%02x%02x%02x" % (round(r * 255), round(g * 255), round(b * 255))
    return colours


def _ink(background: str) -> str:
    """Black or white text, whichever reads on ``background``."""
    r, g, b = _rgb(background)
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#ffffff"


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _is_unit(values: np.ndarray) -> bool:
    return bool(values.size) and float(values.min()) >= 0.0 and float(values.max()) <= 1.0


def _number(v: float) -> str:
    """``v`` to 4 significant digits: what a tooltip or a loss shows."""
    return f"{v:.4g}" if abs(v) >= 1e-4 or v == 0 else f"{v:.3e}"


def _short(v: float) -> str:
    """``v`` to 2 significant digits, short enough for a cell: ``0.93``, ``-2.3``, ``-4.1e-3``."""
    if v == 0 or 0.01 <= abs(v) < 1000:
        return f"{v:.2g}" if abs(v) < 10 else f"{v:.0f}"
    mantissa, exponent = f"{v:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


# -- labels -----------------------------------------------------------------------------------------------------
def shape_text(shape: tuple) -> str:
    """``(None, 16)`` as ``B×16``: the batch dimension is B."""
    return "×".join("B" if d is None else str(d) for d in shape) or "scalar"


def _cell(colour: str, tooltip: str, text: str = "", width: int = 7, height: int = 12) -> str:
    # HREF: Graphviz writes a cell's tooltip into the SVG (shown on hover) only for a cell that links.
    # FIXEDSIZE: a cell keeps its size, however wide the caption above it or the number in it, so that the
    # frames of an animation, whose numbers differ, are laid out alike.
    inner = f'<FONT POINT-SIZE="8" COLOR="{_ink(colour)}">{text}</FONT>' if text else ""
    return (f'<TD WIDTH="{width}" HEIGHT="{height}" FIXEDSIZE="TRUE" BGCOLOR="{colour}" HREF="#" '
            f'TOOLTIP="{html.escape(tooltip)}">{inner}</TD>')


def _value_cell(key: str, v: float, colour, width: int, height: int, numbered: bool = False) -> str:
    """A cell of a number (printed in it if ``numbered``), or of one not computed yet (NaN, in an animation)."""
    if math.isnan(v):
        return _cell(PENDING, f"{key} = not computed yet", "…" if numbered else "", width, height)
    return _cell(colour(v), f"{key} = {_number(v)}", _short(v) if numbered else "", width, height)


def _strip(key: str, vector: np.ndarray, colour, caption: str) -> str:
    """A vector as a row of cells under its caption; a short one prints its numbers in them."""
    numbered = vector.size <= NUMBERED
    cells = "".join(
        _value_cell(f"{key}[{i}]", float(v), colour, 32 if numbered else 7, 14 if numbered else 12, numbered)
        for i, v in enumerate(vector)
    )
    return (
        f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="0">'
        f'<TR><TD COLSPAN="{vector.size}" BORDER="0"><FONT POINT-SIZE="10">{html.escape(caption)}</FONT></TD></TR>'
        f"<TR>{cells}</TR></TABLE>>"
    )


def _heat_map(key: str, matrix: np.ndarray, colour, caption: str) -> str:
    """A weight matrix as a grid of small cells, row i of the grid row i of the matrix."""
    size = 5 if max(matrix.shape) > 16 else 6
    rows = "".join(
        "<TR>" + "".join(_value_cell(f"{key}[{i}, {j}]", float(v), colour, size, size)
                         for j, v in enumerate(row)) + "</TR>"
        for i, row in enumerate(matrix)
    )
    # The grid in a table of its own, so that a wide caption does not stretch a narrow matrix's cells.
    return (
        f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="0">'
        f'<TR><TD><FONT POINT-SIZE="10">{html.escape(caption)}</FONT></TD></TR>'
        f'<TR><TD><TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0">{rows}</TABLE></TD></TR></TABLE>>'
    )


def _bits(vector: np.ndarray) -> str:
    """``1 0``: each number rounded to a bit, ``…`` for one not computed yet."""
    return " ".join("…" if math.isnan(v) else f"{int(round(v))}" for v in np.ravel(vector))


def _step_label(t: int, values: Mapping[str, np.ndarray] | None) -> str:
    if not values or at(INPUT, t) not in values:
        return f"t = {t}"
    label = f"t = {t}   in: {_bits(values[at(INPUT, t)][0])}"
    if at(PREDICTION, t) in values:
        label += f"   out: {_bits(values[at(PREDICTION, t)][0])}"
    if at(TARGET, t) in values:
        label += f"   true: {_bits(values[at(TARGET, t)][0])}"
    return label


# The role of a node in a picture (``kind``) is what the code that built the graph stored on it (the RNN layer
# stores "hidden", "gate", "output", "loss", ...); a node with none is drawn by what it is.
DEFAULT_KIND = {"parameter": "parameter", "input": "input", "constant": "constant"}


def kind_of(attrs: Mapping) -> str:
    """The picture's role of a node with these attributes: its ``kind``, or one that its node type implies."""
    return attrs.get("kind") or DEFAULT_KIND.get(attrs["op"], "op")


def _is_recurrent(graph: Graph, source: str, target: str) -> bool:
    """An edge that carries state from one step (or the initial state) into a later step."""
    s, t = graph.node(source), graph.node(target)
    if t.get("t") is None or kind_of(s) not in ("hidden", "state"):
        return False
    return s.get("t") is None or s.get("t") < t.get("t")


# -- folding each step's cell into one node ---------------------------------------------------------------------
def fold_steps(graph: Graph, cell: str = "cell") -> Graph:
    """A view of ``graph`` for drawing, with each step's cell folded into one node ``cell[t]``.

    A step's cell is its hidden states (kind ``hidden``) and every op or gate of that step that leads to one.
    What the cell reads (the step's input, the weights, the previous states) and what reads it (the output
    layer, the next step) keep their edges, now to ``cell[t]``; the edge between two steps lists the states
    it carries (``c[0], h[0]``). The folded node shows the values of the state the rest of the graph reads
    (its ``shows`` attribute). Only for drawing: the view is not a graph that runs.

    Examples
    --------
    >>> from graphnet import load_task
    >>> graph = load_task("tasks/binary_addition_lstm.toml").build_network().graph(3)
    >>> folded = fold_steps(graph, "lstm")
    >>> len(graph.nx), len(folded.nx), sorted(folded.nx.successors("lstm[0]"))
    (106, 34, ['h_synapse_1[0]', 'lstm[1]'])
    >>> folded.nx.edges["lstm[0]", "lstm[1]"]["label"]
    'c[0], h[0]'
    """
    members: dict[str, str] = {}  # node key -> the folded node it belongs to
    for key in graph.keys(kind="hidden"):
        t = graph.node(key).get("t")
        inside = {key} | {a for a in nx.ancestors(graph.nx, key)
                          if graph.node(a).get("t") == t and kind_of(graph.node(a)) in ("op", "gate", "hidden")}
        members.update({k: at(cell, t) for k in inside})
    view = Graph(graph.name)
    folded = nx.DiGraph(name=graph.name)
    for key, attrs in graph.nx.nodes(data=True):
        if key not in members:
            folded.add_node(key, **attrs)
        elif members[key] not in folded:
            # The state the rest of the step reads (h[t], not c[t]): a hidden node with a consumer outside.
            t = attrs.get("t")
            shown = next(k for k in graph.keys(kind="hidden") if members[k] == members[key]
                         and any(c not in members for c in graph.nx.successors(k)))
            folded.add_node(members[key], op=cell, kind="hidden", t=t, inputs=(), shape=graph.node(shown)["shape"],
                            shows=shown, folds=sorted(k for k in members if members[k] == members[key]))
    for source, target in graph.nx.edges():
        u, v = members.get(source, source), members.get(target, target)
        if u == v:
            continue
        if folded.has_edge(u, v):
            carried = folded.edges[u, v].setdefault("carries", [])
            if source not in carried:
                carried.append(source)
        else:
            folded.add_edge(u, v, carries=[source])
    for u, v, data in folded.edges(data=True):
        carried = data.pop("carries")
        if u in members.values():  # out of a folded cell: say which of its states
            data["label"] = ", ".join(carried)
    view.nx = folded
    return view


# -- the picture ------------------------------------------------------------------------------------------------
class Picture(graphviz.Digraph):
    """A ``graphviz.Digraph`` that lays itself out with Graphviz's ``dot`` program or, without it, pygraphviz.

    In Jupyter it shows itself as SVG either way; :func:`write` writes it to a file either way.
    """

    def _repr_mimebundle_(self, include=None, exclude=None, **_) -> dict[str, str]:
        return {"image/svg+xml": layout(self, "svg").decode()}


def to_digraph(
    graph: Graph,
    *,
    values: Mapping[str, np.ndarray] | None = None,
    grads: Mapping[str, np.ndarray] | None = None,
    title: str | None = None,
    scale: Scale | None = None,
    labels: Mapping[str, np.ndarray] | None = None,
) -> Picture:
    """Draw ``graph`` as a :class:`Picture`, a ``graphviz.Digraph`` (in Jupyter it shows itself).

    Parameters
    ----------
    graph : the graph to draw; only read.
    values : node values of a run (``Run.values``): vectors become coloured strips of cells, weights heat
        maps, and the losses print their numbers.
    grads : gradients of the loss (``Run.backward(every_node=True)``): strips and heat maps show these instead.
    title : a line drawn above the picture.
    scale : the colour scale of the numbers; by default the one that fits them (:func:`fit_scale`). The frames
        of an animation share one, and NaN stands for a number not computed yet.
    labels : the values the step labels read (the bits in, out and true); by default ``values``.
    """
    steps = sorted({a.get("t") for _, a in graph.nx.nodes(data=True) if a.get("t") is not None})
    dot = Picture(
        name="graphnet",
        # Bottom to top within a step (input, hidden, output, loss, as the post draws it); steps side by side.
        graph_attr=dict(rankdir="BT", label=title or graph.name, labelloc="t", fontsize="16", fontname="Helvetica",
                        # mclimit: keep the steps in time order. splines=ortho: edges run in straight segments
                        # between the nodes, never through a label, and the state steps sideways into the next
                        # step; its routing grows slow with size (32 steps: 5 s, 64: 30 s), so longer pictures,
                        # overviews, get straight lines.
                        # nodesep: a gated cell's many weights each run an edge to every step, and each edge
                        # takes nodesep of room beside the nodes it passes: a narrow one keeps such pictures narrow.
                        newrank="true", nodesep="0.15" if len(graph.parameters) <= 4 else "0.03", ranksep="0.3",
                        mclimit="0.01", splines="ortho" if len(steps) <= ORTHO_STEPS else "line"),
        node_attr=dict(fontname="Helvetica", fontsize="11"),
        edge_attr=dict(fontname="Helvetica", fontsize="9", color="#888888", arrowsize="0.6"),
    )
    shown = grads if grads is not None else values
    scale = scale or fit_scale(graph, values, grads)
    colours = weight_colours(graph.parameters)

    def add_node(target: graphviz.Digraph, key: str) -> None:
        attrs = graph.node(key)
        style = dict(KIND_STYLE.get(kind_of(attrs), KIND_STYLE["op"]))
        shape = shape_text(attrs["shape"])
        operation = kind_of(attrs) in ("op", "gate")
        caption = f"{key}  {attrs['op']}" if operation else key  # above a strip of cells
        label = f"{key}\n{attrs['op']}  {shape}" if operation else f"{key}\n{shape}"  # without numbers
        if kind_of(attrs) == "loss":
            label = _loss_label(key, attrs, values, summed=bool(steps))
        if key in colours:
            style.update(color=colours[key], fillcolor=_mix(WHITE, _rgb(colours[key]), 0.12))
            matrix = _matrix(shown, key, attrs["shape"])
            if matrix is not None:
                label = _heat_map(key, matrix, scale.colour, f"{key}  {shape}")
                style.update(margin="0.08")
        drawn_otherwise = kind_of(attrs) in ("parameter", "loss")  # a heat map, a number
        vector = None if drawn_otherwise else _first_vector(shown, attrs.get("shows", key), attrs["shape"])
        colour = scale.colour
        if vector is None and grads is not None and kind_of(attrs) in ("input", "target"):
            vector = _first_vector(values, key, attrs["shape"])  # no gradient: its bits instead
            colour = unit_colour
        if vector is not None:
            if grads is None and _is_unit(vector):
                colour = unit_colour
            label = _strip(attrs.get("shows", key), vector, colour, caption)
            style.update(shape="plain" if operation else "box", margin="0.05")
        target.node(key, label=label, tooltip=f"{key}: {attrs['op']} {shape}", **style)

    initial = _initial_state(graph)
    shared = [k for k in graph.keys() if graph.node(k).get("t") is None and k not in initial]
    # The weights in a box of their own, so that no step's cluster is drawn over them.
    with dot.subgraph(name="cluster_weights") as box:
        summed = ": their gradients, summed over the steps" if grads is not None else ""
        box.attr(label=f"shared by every step{summed}" if steps else "weights", style="rounded,dashed", color="#bbbbbb", fontsize="12",
                 labeljust="l")
        weights = [key for key in shared if key in colours]
        for key in weights:
            add_node(box, key)
        _grid(box, weights)
    for key in shared:
        if key not in colours:
            add_node(dot, key)
    for t in steps:
        with dot.subgraph(name=f"cluster_t{t}") as cluster:
            cluster.attr(label=_step_label(t, values if labels is None else labels), style="rounded", color="#bbbbbb", fontsize="12",
                         labeljust="l", labelloc="b")  # "b": the top, as the graph runs bottom to top
            # The initial state is drawn in the first step, where it is read.
            for key in (initial if t == steps[0] else []) + [k for k in graph.keys() if graph.node(k).get("t") == t]:
                add_node(cluster, key)

    for source, target, data in graph.nx.edges(data=True):
        attrs = dict(tooltip=f"{source} → {target}: {shape_text(graph.node(source)['shape'])}")
        if source in colours:
            attrs.update(color=colours[source], penwidth="1.4")
        elif _is_recurrent(graph, source, target):
            # constraint=false: the state crosses sideways into the next step instead of lifting it a rank.
            attrs.update(color=RECURRENT_COLOUR, penwidth="3", constraint="false")
            if "label" in data:  # a folded cell's edge: the states it carries (xlabel: beside the edge)
                attrs.update(xlabel=data["label"], fontcolor=RECURRENT_COLOUR)
        dot.edge(source, target, **attrs)
    _order_steps(dot, graph, steps)
    # The weights and the legend below the steps: edges reach each step from beneath, not through the others.
    legend = _legend(dot, scale if shown is not None else None, gradients=grads is not None, steps=bool(steps),
                     unit=grads is None and shown is not None, weights=bool(colours))
    for key in [*(k for k in shared if k in colours), *legend]:
        for above in [*_first_nodes(graph, steps)[:1], *initial]:  # a graph without steps has no first node
            dot.edge(key, above, style="invis")
    return dot


def _loss_label(key: str, attrs: dict, values: Mapping[str, np.ndarray] | None, summed: bool = True) -> str:
    """A loss with its number when there is a run: each step's, and their sum."""
    if not values or key not in values or np.size(values[key]) != 1:
        return f"{key}\n{attrs['op']}"
    value = float(np.ravel(values[key])[0])
    number = "…" if math.isnan(value) else _number(value)  # not computed yet
    # The number in a cell of its own, 64 pt wide (a loss's 4 digits fit): a frame with another number is laid
    # out alike.
    row = (f'<TR><TD>{html.escape(key)} =</TD><TD WIDTH="64" ALIGN="LEFT">{number}</TD></TR>')
    if attrs.get("t") is None and summed:
        row += '<TR><TD COLSPAN="2">the sum over the steps</TD></TR>'
    return f'<<TABLE BORDER="0" CELLPADDING="1" CELLSPACING="0">{row}</TABLE>>'



def _initial_state(graph: Graph) -> list[str]:
    return [k for k in graph.keys() if kind_of(graph.node(k)) == "state" and graph.node(k).get("t") is None]


def _grid(box: graphviz.Digraph, weights: list[str]) -> None:
    """Many weights in rows of three (a gated cell's three weights per gate side by side), not one long row."""
    if len(weights) <= 4:
        return
    rows = [weights[i : i + 3] for i in range(0, len(weights), 3)]
    for row in rows:
        with box.subgraph() as same:
            same.attr(rank="same")
            for key in row:
                same.node(key)
    for upper, lower in zip(rows, rows[1:]):  # each row under the one before (the graph runs bottom to top)
        box.edge(lower[0], upper[0], style="invis")


def _order_steps(dot: graphviz.Digraph, graph: Graph, steps: list[int]) -> None:
    """Keep the steps in time order, left to right: their first nodes share a rank, chained invisibly."""
    row = _first_nodes(graph, steps)
    with dot.subgraph() as same:
        same.attr(rank="same")
        for key in row:
            same.node(key)
    for left, right in zip(row, row[1:]):
        dot.edge(left, right, style="invis", weight="10")


def _first_nodes(graph: Graph, steps: list[int]) -> list[str]:
    return [next(k for k in graph.keys() if graph.node(k).get("t") == t) for t in steps]


def _first_vector(shown: Mapping[str, np.ndarray] | None, key: str, shape: tuple) -> np.ndarray | None:
    """The first example's vector of ``key`` (a batch's first row; a fixed matrix's first row, a vector, a scalar as
    one cell), when it is narrow enough to draw as cells."""
    if shown is None or key not in shown or len(shape) > 2:
        return None
    value = np.asarray(shown[key])
    vector = np.ravel(value[(0,) * (value.ndim - 1)]) if len(shape) == 2 else np.ravel(value)
    return vector if vector.size <= MAX_CELLS else None


def _matrix(shown: Mapping[str, np.ndarray] | None, key: str, shape: tuple) -> np.ndarray | None:
    """A weight's matrix (a vector as one row), when it is small enough to draw as a heat map."""
    if shown is None or key not in shown or None in shape or len(shape) not in (1, 2):
        return None
    matrix = np.atleast_2d(np.asarray(shown[key], dtype=float))
    return matrix if max(matrix.shape) <= MAX_HEAT else None


def fit_scale(graph: Graph, values: Mapping[str, np.ndarray] | None,
              grads: Mapping[str, np.ndarray] | None = None) -> Scale:
    """The colour scale :func:`to_digraph` gives the numbers it draws: the gradients if given, else the values."""
    return Scale.fit(_magnitudes(graph, grads if grads is not None else values, unit_ok=grads is None))


def _magnitudes(graph: Graph, shown: Mapping[str, np.ndarray] | None, unit_ok: bool) -> Iterator[float]:
    """The largest magnitude of each drawn vector and heat map that is not in [0, 1]: what the scale must show."""
    if shown is None:
        return
    for key in graph.keys():
        attrs = graph.node(key)
        if kind_of(attrs) == "parameter":
            drawn = _matrix(shown, key, attrs["shape"])
        elif kind_of(attrs) == "loss":
            continue
        else:
            drawn = _first_vector(shown, attrs.get("shows", key), attrs["shape"])
        if drawn is not None and drawn.size and not (unit_ok and _is_unit(drawn)):
            yield float(np.nanmax(np.abs(drawn))) if not np.all(np.isnan(drawn)) else 0.0


def _legend(dot: graphviz.Digraph, scale: Scale | None, *, gradients: bool, unit: bool, weights: bool,
            steps: bool = True) -> list[str]:
    """What the colours mean: the number scales of a run, and the two kinds of coloured edge. Returns the legend's
    node (none where there is nothing to explain)."""
    rows = []
    if scale is not None:
        ticks = scale.ticks()
        n = len(ticks)
        kind = "logarithmic: each cell a factor of 10" if scale.decades else "linear"
        rows += [
            f'<TR><TD COLSPAN="{n}"><B>{"gradient of the loss" if gradients else "value"}</B> ({kind})</TD></TR>',
            "<TR>" + "".join(f'<TD WIDTH="22" HEIGHT="12" BGCOLOR="{scale.colour(v)}"></TD>' for v in ticks) + "</TR>",
        ]
        if scale.decades:
            rows.append("<TR>" + "".join(f'<TD><FONT POINT-SIZE="7">{v:.3g}</FONT></TD>' for v in ticks) + "</TR>")
        else:
            third = n // 3
            rows.append(f'<TR><TD COLSPAN="{third}" ALIGN="LEFT">{-scale.limit:.3g}</TD>'
                        f'<TD COLSPAN="{n - 2 * third}">0</TD>'
                        f'<TD COLSPAN="{third}" ALIGN="RIGHT">{scale.limit:.3g}</TD></TR>')
        if unit:
            grey = "".join(f'<TD WIDTH="22" HEIGHT="12" BGCOLOR="{unit_colour(v)}"></TD>'
                           for v in np.linspace(0, 1, n))
            rows += [
                f'<TR><TD COLSPAN="{n}"><B>values in [0, 1]</B> (sigmoid outputs, bits)</TD></TR>',
                f"<TR>{grey}</TR>",
                f'<TR><TD COLSPAN="{n // 2}" ALIGN="LEFT">0</TD><TD COLSPAN="{n - n // 2}" ALIGN="RIGHT">1</TD></TR>',
            ]
        width = n
    else:
        width = 2
    key = [(RECURRENT_COLOUR, "3", "the state, carried into the next step")] if steps else []
    if weights:
        key.append((WEIGHT_COLOURS[0], "1", "a weight (one colour each)" + (", read at every step" if steps else "")))
    for colour, pen, meaning in key:
        bar = f'<TABLE BORDER="0" CELLPADDING="0" CELLSPACING="0"><TR><TD HEIGHT="{pen}" WIDTH="24" BGCOLOR="{colour}"></TD></TR></TABLE>'
        rows.append(f'<TR><TD>{bar}</TD><TD COLSPAN="{max(width - 1, 1)}" ALIGN="LEFT">{meaning}</TD></TR>')
    if not rows:
        return []
    table = f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="1" CELLPADDING="1">{"".join(rows)}</TABLE>>'
    dot.node("legend", label=table, shape="plain", fontsize="9")
    return ["legend"]


# -- files ------------------------------------------------------------------------------------------------------
def node_link_json(graph: Graph) -> str:
    """The graph as networkx node-link JSON: keys, kinds, node types, steps, shapes, argument order."""
    return json.dumps(nx.node_link_data(graph.nx, edges="edges"), indent=1)


def write(dot: graphviz.Digraph, graph: Graph, path: str | Path) -> Path:
    """Write the picture to ``path`` in the format its extension names; return the path written.

    ``.dot`` and ``.json`` need no Graphviz program. ``.svg``, ``.png`` and ``.pdf`` are laid out by pygraphviz (the
    ``render`` extra, ``pip install -e '.[render]'``, which carries Graphviz) or, without it, the ``dot`` program. Without either, the ``.dot`` is written beside ``path`` and a :class:`RenderError` says how to get Graphviz.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise RenderError(f"{path}: unknown output format {suffix or '(none)'!r}; expected one of {', '.join(FORMATS)}")
    if suffix == ".dot":
        write_bytes(path, dot.source.encode())
    elif suffix == ".json":
        write_bytes(path, node_link_json(graph).encode())
    else:
        write_bytes(path, layout(dot, suffix[1:], path))
    return path


def layout(dot: graphviz.Digraph, fmt: str, path: Path | None = None) -> bytes:
    """Lay out and render ``dot`` as ``fmt`` bytes, with pygraphviz if it is installed, else the dot program.

    pygraphviz first: its wheel carries its own Graphviz, the same on every machine for one version of it, so a
    picture comes out the same wherever it is drawn (a system's ``dot`` may be years older or newer).
    """
    try:
        import pygraphviz
    except ImportError:
        pygraphviz = None
    if pygraphviz is not None:
        with _quiet_stderr():  # its bundled fontconfig warns about the system's config on every call
            return pygraphviz.AGraph(string=dot.source).draw(format=fmt, prog="dot")
    if shutil.which("dot"):
        return _dot_program(dot, fmt, path)
    hint = ""
    if path is not None:
        fallback = path.with_suffix(".dot")
        write_bytes(fallback, dot.source.encode())
        hint = f"; wrote {fallback} instead"
    raise RenderError(
        f"{path or fmt}: rendering .{fmt} needs Graphviz's dot program{hint}. Get it with 'apt-get install "
        "graphviz' (Debian/Ubuntu), 'brew install graphviz' (macOS), or, in graphnet's checkout, "
        "pip install -e '.[render]'"
    )


def _dot_program(dot: graphviz.Digraph, fmt: str, path: Path | None) -> bytes:
    """Render with the system's ``dot``. Its edge router for ``splines=ortho`` crashes on some of graphnet's
    pictures in Graphviz 2.43 (Debian's and Ubuntu's: an assertion in maze.c); such a picture is drawn again
    with straight edges, as pictures of many steps are."""
    try:
        return dot.pipe(format=fmt, quiet=True)
    except subprocess.CalledProcessError as failed:
        if dot.graph_attr.get("splines") == "ortho":
            straight = dot.copy()  # the caller's picture stays as it is
            straight.graph_attr["splines"] = "line"
            return _dot_program(straight, fmt, path)
        said = (failed.stderr or b"").decode(errors="replace").strip().splitlines()
        raise RenderError(
            f"{path or 'picture'}: Graphviz's dot program failed ({said[-1] if said else f'exit {failed.returncode}'})"
            "; in graphnet's checkout, pip install -e '.[render]' draws with the Graphviz pygraphviz carries"
        ) from None


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)

