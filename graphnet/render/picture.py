"""The picture of a graph, with the numbers of a run if given: :func:`to_digraph`.

Time flows left to right, one cluster per time step, and within a step from the input at the bottom to the
loss at the top, as the post draws it. Every shared node (the weights, the initial state, the total loss) is
drawn once, outside the steps; each weight has a colour of its own, on its node and on its edge to every step
that reads it, so weight sharing shows at a glance, and the state carried from one step to the next is a thick
purple edge. Any graph whose nodes carry ``op``, ``inputs`` and ``shape`` can be drawn; ``kind`` (input,
parameter, hidden, loss, ...) picks a node's look and ``t`` its step, and a node without them is drawn as an
op outside the steps.

Given the values of a run, every vector is a strip of cells coloured by its value (the first example of the
batch; hover over a cell in the SVG for its number), short vectors and every loss print their numbers, and
each weight is a small heat map of its matrix. Given gradients too, the cells and the heat maps show the
gradient of the loss instead (a weight's: summed over the steps, what SGD applies). The vectors share one
colour scale, linear or, when their numbers span orders of magnitude (gradients fading back through time),
logarithmic; each weight's heat map has a linear scale of its own, so that a weight of small numbers still
shows them. The legend says which.

Examples
--------
>>> from graphnet import load_task
>>> graph = load_task("tasks/binary_addition.toml").build_network().graph(4)
>>> dot = to_digraph(graph)
>>> dot.source.count("subgraph cluster_t")
4
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Mapping

import graphviz
import numpy as np

from ..engine.graph import Graph
from ..rnn.keys import INPUT, PREDICTION, TARGET, at
from . import cells as c
from .colours import EDGE_COLOUR, RECURRENT_COLOUR, Scale, is_unit, tint, unit_colour, weight_colours
from .backends import layout
from .kinds import kind_of
from .legend import legend

MAX_STEPS = 256  # past this, dot takes minutes and the picture is a grey smear
# Pictures of up to this many nodes and edges route their edges around the nodes in straight segments (the
# orthogonal router, slow on big pictures: the LSTM unrolled over 4 steps, 340, takes 2 s; over 8 steps, 10 s);
# bigger ones, overviews, get dot's curved edges (a tenth of a second).
ORTHO_SIZE = 400
KIND_STYLE = {
    "input": dict(shape="box", style="rounded,filled", fillcolor="#eef3f8", color="#6b7f99"),
    "target": dict(shape="box", style="rounded,filled,dashed", fillcolor="#f5f5f5", color="#777777"),
    "state": dict(shape="box", style="rounded,filled", fillcolor="#f1ebf6", color=RECURRENT_COLOUR),
    "constant": dict(shape="box", style="filled", fillcolor="#f5f5f5", color="#777777"),
    "parameter": dict(shape="box3d", style="filled", penwidth="2"),
    # An op in a box with its corners rounded off, not an ellipse: an ellipse is half as wide again as its label.
    "op": dict(shape="box", style="rounded,filled", fillcolor="#ffffff", color="#999999", margin="0.06,0.03"),
    "gate": dict(shape="box", style="rounded,filled", fillcolor="#ffffff", color="#999999", margin="0.06,0.03"),
    "hidden": dict(shape="box", style="rounded,filled,bold", fillcolor="#f7f7f7", color="#333333"),
    "output": dict(shape="box", style="rounded,filled", fillcolor="#fbf3e6", color="#8a6d3b"),
    # diagonals: a box with its corners cut, an octagon of the size of its label (an octagon of its own shape
    # is half as wide again).
    "loss": dict(shape="box", style="filled,diagonals", fillcolor="#f7f7f7", color="#555555"),
}
BITS = ("input", "target")  # kinds with no gradient whose numbers a gradient picture shows
DRAWN_OTHERWISE = ("parameter", "loss")  # kinds never drawn as a strip of cells: a heat map, a number


class Picture(graphviz.Digraph):
    """A ``graphviz.Digraph`` that lays itself out with pygraphviz or Graphviz's ``dot`` program, and knows its
    cells (:class:`~graphnet.render.cells.Cell`, by id): the numbers it shows.

    In Jupyter it shows itself as SVG either way; :func:`~graphnet.render.write` writes it to a file either way.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.cells: dict[str, c.Cell] = {}
        self.heading = ""  # the title drawn over it

    def copy(self) -> Picture:
        copied = super().copy()
        copied.cells, copied.heading = dict(self.cells), self.heading
        return copied

    def _repr_mimebundle_(self, include=None, exclude=None, **_) -> dict[str, str]:
        return {"image/svg+xml": layout(self, "svg").decode()}


@dataclass(frozen=True)
class Scales:
    """The colour scales of a picture's numbers: one for the vectors' cells, one for each weight's heat map."""

    cells: Scale
    weights: Mapping[str, Scale] = field(default_factory=dict)


def fit_scales(graph: Graph, values: Mapping[str, np.ndarray] | None,
               grads: Mapping[str, np.ndarray] | None = None, *,
               weights: Mapping[str, list[np.ndarray]] | None = None) -> Scales:
    """The colour scales :func:`to_digraph` gives the numbers it draws: the gradients if given, else the values.

    ``weights`` gives, for a weight, every matrix it will be drawn with (an animation's partial sums): its scale
    then fits them all.
    """
    shown = grads if grads is not None else values
    vectors = Scale.fit(_magnitudes(graph, shown, unit_ok=grads is None))
    own = {}
    for key in graph.parameters:
        drawn = (weights or {}).get(key) or [c.matrix_of(shown, key, graph.node(key)["shape"])]
        sizes = [float(np.nanmax(np.abs(m))) for m in drawn if m is not None and not np.all(np.isnan(m))]
        own[key] = Scale.fit(sizes, logarithmic=False)
    return Scales(vectors, own)


def _magnitudes(graph: Graph, shown: Mapping[str, np.ndarray] | None, unit_ok: bool) -> Iterator[float]:
    """The largest magnitude of each drawn vector that is not in [0, 1]: what the cells' scale must show."""
    if shown is None:
        return
    for key in graph.keys():
        attrs = graph.node(key)
        if kind_of(attrs) in DRAWN_OTHERWISE:  # a heat map on its own scale, a number
            continue
        drawn = c.first_vector(shown, attrs.get("shows", key), attrs["shape"])
        if drawn is not None and drawn.size and not (unit_ok and is_unit(drawn)):
            yield float(np.nanmax(np.abs(drawn))) if not np.all(np.isnan(drawn)) else 0.0


def _step(attrs: Mapping) -> int | None:
    return attrs.get("t")


def to_digraph(
    graph: Graph,
    *,
    values: Mapping[str, np.ndarray] | None = None,
    grads: Mapping[str, np.ndarray] | None = None,
    title: str | None = None,
    caption: str | None = None,
    scales: Scales | None = None,
    labels: Mapping[str, np.ndarray] | None = None,
    pending: bool | None = None,
) -> Picture:
    """Draw ``graph`` as a :class:`Picture`, a ``graphviz.Digraph`` (in Jupyter it shows itself).

    Parameters
    ----------
    graph : the graph to draw; only read.
    values : node values of a run (``Run.values``): vectors become coloured strips of cells, weights heat
        maps, and the losses print their numbers.
    grads : gradients of the loss (``Run.backward(every_node=True)``): strips and heat maps show these instead.
    title : a line drawn above the picture (by default the graph's name).
    caption : a second line under it, what an animation's frame shows.
    scales : the colour scales of the numbers; by default those that fit them (:func:`fit_scales`). The frames
        of an animation share them, and NaN stands for a number not computed yet.
    labels : the values the step labels read (the bits in, out and true); by default ``values``.
    pending : whether the legend gives the colour of a number not computed yet; by default, if a number is
        not (every frame of an animation says so, so that all are laid out alike).
    """
    steps = sorted({t for _, a in graph.nx.nodes(data=True) if (t := _step(a)) is not None})
    size = len(graph.nx) + graph.nx.number_of_edges()
    dot = Picture(
        name="graphnet",
        # Bottom to top within a step (input, hidden, output, loss, as the post draws it); steps side by side.
        graph_attr=dict(rankdir="BT", labelloc="t", fontname="Helvetica",
                        # mclimit: keep the steps in time order. splines=ortho: edges run in straight segments
                        # between the nodes, never through a label, and the state steps sideways into the next
                        # step; nodesep: a gated cell's many weights each run an edge to every step, and each edge
                        # takes nodesep of room beside the nodes it passes: a narrow one keeps such pictures narrow.
                        newrank="true", nodesep="0.1" if len(graph.parameters) <= 4 else "0.02", ranksep="0.3",
                        mclimit="0.01", splines="ortho" if size <= ORTHO_SIZE else "spline"),
        node_attr=dict(fontname="Helvetica", fontsize=str(c.NAME_SIZE)),
        edge_attr=dict(fontname="Helvetica", fontsize=str(c.NAME_SIZE), color=EDGE_COLOUR, arrowsize="0.6"),
    )
    dot.heading = title or graph.name or "graph"
    shown = grads if grads is not None else values
    scales = scales or fit_scales(graph, values, grads)
    colours = weight_colours(graph.parameters)
    on_grey: set[str] = set()  # what was drawn on the grey scale: numbers in [0, 1], bits with no gradient

    def add_node(target: graphviz.Digraph, key: str) -> None:
        attrs = graph.node(key)
        kind = kind_of(attrs)
        style = dict(KIND_STYLE.get(kind, KIND_STYLE["op"]))
        shape = c.shape_text(attrs["shape"])
        operation = kind in ("op", "gate", "stacked")
        if "states" in attrs:  # a folded cell: the states it passes on
            name = f"{key}: {', '.join(attrs['states'])}"
            heading, label = c.name_and_op(name), f"{name}\n{shape}"
        elif operation:
            heading, label = c.name_and_op(key, attrs["op"]), f"{key}\n{attrs['op']}  {shape}"
        else:
            heading, label = c.name_and_op(key), f"{key}\n{shape}"
        if kind == "loss" and values and key in values and np.size(values[key]) == 1:
            label = c.loss_label(dot.cells, key, float(np.ravel(values[key])[0]),
                                 summed=_step(attrs) is None and bool(steps))
        if key in colours:
            style.update(color=colours[key], fillcolor=tint(colours[key]))
            matrix = c.matrix_of(shown, key, attrs["shape"])
            if matrix is not None:
                own = scales.weights.get(key) or Scale.fit([float(np.nanmax(np.abs(matrix)))], logarithmic=False)
                label = c.heat_map(dot.cells, key, matrix, own.colour, f"{key}  {shape}",
                                   f"±{c.number(own.limit)}")
                style.update(margin="0.08")
        vector = None if kind in DRAWN_OTHERWISE else c.first_vector(shown, attrs.get("shows", key), attrs["shape"])
        colour = scales.cells.colour
        whole = c.first_vector(values if labels is None else labels, attrs.get("shows", key), attrs["shape"])
        bits = whole is not None and bool(np.isin(whole[~np.isnan(whole)], (0.0, 1.0)).all())  # narrow cells
        if vector is None and grads is not None and kind in BITS:
            vector = c.first_vector(values, key, attrs["shape"])  # no gradient: its numbers instead, bits in grey
            colour = unit_colour if bits else (lambda v: "#ffffff")
            on_grey.add("bits" if bits else "")
        elif vector is not None and grads is None and whole is not None and is_unit(whole):  # every frame alike
            colour = unit_colour
            on_grey.add("unit")
        if vector is not None:
            label = c.strip(dot.cells, attrs.get("shows", key), vector, colour, heading, bits=bits)
            style.update(shape="plain" if operation else "box", margin="0.05")
        target.node(key, label=label, tooltip=f"{key}: {attrs['op']} {shape}", **style)

    initial = _initial_state(graph)
    shared = [k for k in graph.keys() if _step(graph.node(k)) is None and k not in initial]
    # The weights in a box of their own, so that no step's cluster is drawn over them.
    weights = [key for key in shared if key in colours]
    if weights:
        with dot.subgraph(name="cluster_weights") as box:
            summed = ": their gradients, summed over the steps" if grads is not None else ""
            box.attr(label=f"shared by every step{summed}" if steps else "weights", style="rounded,dashed",
                     color="#bbbbbb", fontsize="12", labeljust="l")
            for key in weights:
                add_node(box, key)
            _grid(box, weights)
    # What the speed layer added (graphnet.stacked): each stacked op and its stacks, one op for every step.
    stacking = [key for key in shared if kind_of(graph.node(key)) == "stacked"]
    if stacking:
        with dot.subgraph(name="cluster_stacked") as box:
            box.attr(label="stacked: one op for every step", style="rounded,dashed", color="#9a7fc7", fontsize="12",
                     labeljust="l")
            for key in stacking:
                add_node(box, key)
    shared = [key for key in shared if key not in stacking]
    for key in shared:
        if key not in colours:
            add_node(dot, key)
    for t in steps:
        with dot.subgraph(name=f"cluster_t{t}") as cluster:
            cluster.attr(style="rounded", color="#bbbbbb")
            # The initial state is drawn in the first step, where it is read.
            members = (initial if t == steps[0] else []) + [k for k in graph.keys() if _step(graph.node(k)) == t]
            for key in members:
                add_node(cluster, key)
            # What the step reads and says, in a node over the step's top: an edge leaving the step goes round
            # it, where it would run through the cluster's own label.
            cluster.node(step_header(t), label=_step_label(t, values if labels is None else labels), shape="plain",
                         fontsize="12")
            for key in members:
                if not any(_step(graph.node(reader)) == t for reader in graph.nx.successors(key)):
                    cluster.edge(key, step_header(t), style="invis")
    for key in shared:  # what the steps' results go to (the summed loss): over the headers
        for t in sorted({_step(graph.node(source)) for source in graph.nx.predecessors(key)} - {None}):
            dot.edge(step_header(t), key, style="invis")

    for source, target, data in graph.nx.edges(data=True):
        carried = ", ".join(data.get("carries", [])) or c.shape_text(graph.node(source)["shape"])
        attrs = dict(tooltip=f"{source} → {target}: {carried}")
        if source in colours:
            attrs.update(color=colours[source], penwidth="2")
        elif _is_recurrent(graph, source, target):
            # constraint=false: the state crosses sideways into the next step instead of lifting it a rank.
            attrs.update(color=RECURRENT_COLOUR, penwidth="3", constraint="false")
        dot.edge(source, target, **attrs)
    if steps:
        _order_steps(dot, graph, steps)
        _align_steps(dot, graph, steps)
        # The weights below the steps: edges reach each step from beneath, not through the others. Held under
        # every step alike, so that they pull none of the steps out of time order.
        for key in weights:
            for above in [*_first_nodes(graph, steps), *initial]:
                dot.edge(key, above, style="invis")
    # The legend under the title, where a reader looks first (and outside the layout of the nodes).
    if pending is None:
        pending = any(cell.tooltip.endswith("not computed yet") for cell in dot.cells.values())
    key = legend(scales.cells if shown is not None else None, gradients=grads is not None,
                 unit="unit" in on_grey, bits="bits" in on_grey, weights=bool(colours),
                 pending=pending and shown is not None, steps=bool(steps))
    dot.attr(label=c.title(dot.cells, dot.heading, caption, key))
    return dot


def step_header(t: int) -> str:
    """The key of the node that heads step ``t`` in a picture: not a node of the graph."""
    return f"[step {t}]"


def _step_label(t: int, values: Mapping[str, np.ndarray] | None) -> str:
    if not values or at(INPUT, t) not in values:
        return f"t = {t}"
    label = f"t = {t}   in: {c.bits(values[at(INPUT, t)][0])}"
    if at(PREDICTION, t) in values:
        label += f"   out: {c.bits(values[at(PREDICTION, t)][0])}"
    if at(TARGET, t) in values:
        label += f"   true: {c.bits(values[at(TARGET, t)][0])}"
    return label


def _is_recurrent(graph: Graph, source: str, target: str) -> bool:
    """An edge that carries state from one step (or the initial state) into a later step."""
    s, t = graph.node(source), graph.node(target)
    if _step(t) is None or kind_of(s) not in ("hidden", "state"):
        return False
    return _step(s) is None or _step(s) < _step(t)


def _initial_state(graph: Graph) -> list[str]:
    return [k for k in graph.keys() if kind_of(graph.node(k)) == "state" and _step(graph.node(k)) is None]


def _grid(box: graphviz.Digraph, weights: list[str]) -> None:
    """Many weights in rows of three (a gated cell's three weights per gate side by side), not one long row,
    each row in the cell's order: an invisible edge from each to the next in its row keeps them so."""
    if len(weights) <= 4:
        return
    rows = [weights[i : i + 3] for i in range(0, len(weights), 3)]
    for row in rows:
        with box.subgraph() as same:
            same.attr(rank="same")
            for key in row:
                same.node(key)
        for left, right in zip(row, row[1:]):
            box.edge(left, right, style="invis")
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


def _align_steps(dot: graphviz.Digraph, graph: Graph, steps: list[int]) -> None:
    """Draw every step alike: an op that reads nothing of its own step (``h_synapse_h[t]``, which reads the step
    before and a weight) is held above the step's first node, beside the ops that read it (``x_synapse_0[t]``),
    by an invisible edge; else it would drop to the step's bottom in every step but the first."""
    for t, first in zip(steps, _first_nodes(graph, steps)):
        for key in graph.keys():
            sources = list(graph.nx.predecessors(key))
            if _step(graph.node(key)) == t and sources and not any(_step(graph.node(s)) == t for s in sources):
                dot.edge(first, key, style="invis")


def _first_nodes(graph: Graph, steps: list[int]) -> list[str]:
    return [next(k for k in graph.keys() if _step(graph.node(k)) == t) for t in steps]
