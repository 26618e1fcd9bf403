"""Drawing an unrolled graph with graphviz. The only module that imports graphviz; it only reads the graph.

Time flows left to right, one cluster per time step; every shared node (the weights ``synapse_0``,
``synapse_h``, ``synapse_1``, the initial state, the total loss) is drawn once, outside the clusters, and each
weight has its own colour on the node and on its edge to every step that uses it, so weight sharing shows at a
glance. The recurrent edge from one step's hidden state to the next stands out. Given the values of a run,
every vector is a strip of cells coloured by its value (the first example of the batch); given gradients,
by its gradient.

Examples
--------
>>> from graphnet import load_task
>>> graph = load_task("tasks/binary_addition.toml").build_network().graph(4)
>>> dot = to_digraph(graph)
>>> dot.source.count("subgraph cluster_t")
4
"""

from __future__ import annotations

import html
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

import graphviz
import networkx as nx
import numpy as np

from .app.files import write_bytes
from .engine.graph import Graph
from .errors import GraphnetError, RenderError
from .rnn.keys import INPUT, PREDICTION, TARGET, at

FORMATS = (".dot", ".svg", ".png", ".pdf", ".json")
MAX_STEPS = 256  # past this, dot takes minutes and the picture is a grey smear
MAX_CELLS = 64  # vectors wider than this are drawn as their shape only

WEIGHT_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
RECURRENT_COLOUR = "#6a3d9a"
KIND_STYLE = {
    "input": dict(shape="box", style="rounded,filled", fillcolor="#dbe9f6", color="#4a78a8"),
    "target": dict(shape="box", style="rounded,filled,dashed", fillcolor="#f2f2f2", color="#777777"),
    "state": dict(shape="box", style="rounded,filled", fillcolor="#efe6f5", color=RECURRENT_COLOUR),
    "constant": dict(shape="box", style="filled", fillcolor="#f2f2f2", color="#777777"),
    "parameter": dict(shape="box3d", style="filled", penwidth="2"),
    "op": dict(shape="ellipse", style="filled", fillcolor="#ffffff", color="#999999", fontsize="10"),
    "hidden": dict(shape="box", style="rounded,filled,bold", fillcolor="#e5f5e0", color="#31a354"),
    "output": dict(shape="box", style="rounded,filled", fillcolor="#fdebd0", color="#e6550d"),
    "loss": dict(shape="octagon", style="filled", fillcolor="#fde0dd", color="#c51b8a"),
}


# -- colours ----------------------------------------------------------------------------------------------------
def _mix(a: tuple[int, int, int], b: tuple[int, int, int], f: float) -> str:
    f = min(max(f, 0.0), 1.0)
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b))


WHITE, GREEN, BLUE, RED = (255, 255, 255), (0, 109, 44), (33, 102, 172), (178, 24, 43)


def unit_colour(v: float) -> str:
    """A value in [0, 1] (a sigmoid's output, a bit): white at 0 to dark green at 1."""
    return _mix(WHITE, GREEN, v)


def signed_colour(v: float, scale: float) -> str:
    """A value of any sign: blue below 0, white at 0, red above, full colour at ``±scale``."""
    if scale <= 0:
        return "#ffffff"
    return _mix(WHITE, RED, v / scale) if v >= 0 else _mix(WHITE, BLUE, -v / scale)


def _is_unit(values: np.ndarray) -> bool:
    return bool(values.size) and float(values.min()) >= 0.0 and float(values.max()) <= 1.0


# -- labels -----------------------------------------------------------------------------------------------------
def shape_text(shape: tuple) -> str:
    """``(None, 16)`` as ``B×16``: the batch dimension is B."""
    return "×".join("B" if d is None else str(d) for d in shape) or "scalar"


def _strip(key: str, vector: np.ndarray, colour, caption: str) -> str:
    cells = "".join(
        f'<TD WIDTH="12" HEIGHT="14" BGCOLOR="{colour(float(v))}" TOOLTIP="{v:.4g}"></TD>' for v in vector
    )
    return (
        f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="0">'
        f'<TR><TD COLSPAN="{len(vector)}" BORDER="0"><FONT POINT-SIZE="10">{html.escape(caption)}</FONT></TD></TR>'
        f"<TR>{cells}</TR></TABLE>>"
    )


def _step_label(t: int, values: Mapping[str, np.ndarray] | None) -> str:
    if not values or at(INPUT, t) not in values:
        return f"t = {t}"
    bits = " ".join(f"{int(round(b))}" for b in np.ravel(values[at(INPUT, t)][0]))
    label = f"t = {t}   in: {bits}"
    if at(PREDICTION, t) in values:
        label += "   out: " + " ".join(f"{int(round(v))}" for v in np.ravel(values[at(PREDICTION, t)][0]))
    if at(TARGET, t) in values:
        label += "   true: " + " ".join(f"{int(round(v))}" for v in np.ravel(values[at(TARGET, t)][0]))
    return label


def _is_recurrent(graph: Graph, source: str, target: str) -> bool:
    """An edge that carries state from one step (or the initial state) into a later step."""
    s, t = graph.node(source), graph.node(target)
    if t["t"] is None or s["kind"] not in ("hidden", "state"):
        return False
    return s["t"] is None or s["t"] < t["t"]


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
        t = graph.node(key)["t"]
        inside = {key} | {a for a in nx.ancestors(graph.nx, key)
                          if graph.node(a)["t"] == t and graph.node(a)["kind"] in ("op", "gate", "hidden")}
        members.update({k: at(cell, t) for k in inside})
    view = Graph(graph.name)
    folded = nx.DiGraph(name=graph.name)
    for key, attrs in graph.nx.nodes(data=True):
        if key not in members:
            folded.add_node(key, **attrs)
        elif members[key] not in folded:
            # The state the rest of the step reads (h[t], not c[t]): a hidden node with a consumer outside.
            t = attrs["t"]
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
def to_digraph(
    graph: Graph,
    *,
    values: Mapping[str, np.ndarray] | None = None,
    grads: Mapping[str, np.ndarray] | None = None,
    title: str | None = None,
) -> graphviz.Digraph:
    """Draw ``graph`` as a ``graphviz.Digraph`` (in Jupyter it shows itself).

    Parameters
    ----------
    graph : the graph to draw; only read.
    values : node values of a run (``Run.values``): vectors become coloured strips of cells.
    grads : gradients of the loss (``Run.backward(every_node=True)``): strips are coloured by these instead.
    title : a line drawn above the picture.
    """
    steps = sorted({a["t"] for _, a in graph.nx.nodes(data=True) if a["t"] is not None})
    title = title or graph.name
    dot = graphviz.Digraph(
        name="graphnet",
        # Bottom to top within a step (input, hidden, output, loss, as the post draws it); steps side by side.
        graph_attr=dict(rankdir="BT", label=title, labelloc="t", fontsize="16", fontname="Helvetica",
                        # mclimit: keep the steps in time order; splines=line: the recurrent edges cross
                        # straight into the next step instead of looping around every cluster.
                        newrank="true", nodesep="0.2", ranksep="0.3", mclimit="0.01", splines="line"),
        node_attr=dict(fontname="Helvetica", fontsize="11"),
        edge_attr=dict(fontname="Helvetica", fontsize="9", color="#888888", arrowsize="0.6"),
    )
    shown = grads if grads is not None else values
    scale = _signed_scale(graph, shown, unit_ok=grads is None)
    weight_colour = {k: WEIGHT_COLOURS[i % len(WEIGHT_COLOURS)] for i, k in enumerate(graph.parameters)}

    def add_node(target: graphviz.Digraph, key: str) -> None:
        attrs = graph.node(key)
        style = dict(KIND_STYLE.get(attrs["kind"], KIND_STYLE["op"]))
        caption = f"{key}  {attrs['op']}" if attrs["kind"] == "op" else key
        label = f"{caption}\n{shape_text(attrs['shape'])}" if attrs["kind"] == "parameter" else caption
        if key in weight_colour:
            style.update(color=weight_colour[key], fillcolor=_mix(WHITE, _rgb(weight_colour[key]), 0.18))
        vector = _first_vector(shown, attrs.get("shows", key), attrs["shape"])
        if vector is not None:
            if grads is None and _is_unit(vector):
                colour = unit_colour
            else:
                colour = lambda v: signed_colour(v, scale)  # noqa: E731
            label = _strip(key, vector, colour, caption)
            style.update(shape="plain" if attrs["kind"] == "op" else "box", margin="0.05")
        target.node(key, label=label, tooltip=f"{key}: {attrs['op']} {shape_text(attrs['shape'])}", **style)

    initial = _initial_state(graph)
    shared = [k for k in graph.keys() if graph.node(k)["t"] is None and k not in initial]
    # The weights in a box of their own, so that no step's cluster is drawn over them.
    with dot.subgraph(name="cluster_weights") as box:
        box.attr(label="shared by every step", style="rounded,dashed", color="#bbbbbb", fontsize="12",
                 labeljust="l")
        for key in shared:
            if key in weight_colour:
                add_node(box, key)
    for key in shared:
        if key not in weight_colour:
            add_node(dot, key)
    for t in steps:
        with dot.subgraph(name=f"cluster_t{t}") as cluster:
            cluster.attr(label=_step_label(t, values), style="rounded", color="#bbbbbb", fontsize="12",
                         labeljust="l")
            # The initial state is drawn in the first step, where it is read.
            for key in (initial if t == steps[0] else []) + graph.keys():
                if graph.node(key)["t"] == t or (key in initial and t == steps[0]):
                    add_node(cluster, key)

    for source, target, data in graph.nx.edges(data=True):
        attrs = dict(label=shape_text(graph.node(source)["shape"]))
        if "label" in data:  # a folded cell's edge: the nodes it stands for
            attrs["label"] = f"{data['label']}: {attrs['label']}"
        if len(data.get("args", ())) > 1:
            attrs["label"] += f" (args {', '.join(map(str, data['args']))})"
        if source in weight_colour:
            # The weight's node shows its shape; a label on each of its T edges would only crowd the picture.
            attrs = dict(color=weight_colour[source], penwidth="1.4", tooltip=f"{source} {attrs['label']}")
        elif _is_recurrent(graph, source, target):
            # constraint=false: the state crosses sideways into the next step instead of lifting it a rank
            # (xlabel, because a plain label on such an edge drags it to the far side of the picture).
            attrs = dict(xlabel=attrs["label"], color=RECURRENT_COLOUR, penwidth="3", fontcolor=RECURRENT_COLOUR,
                         constraint="false")
        dot.edge(source, target, **attrs)
    _order_steps(dot, graph, steps)
    if shown is not None:
        _legend(dot, grads is not None, scale)
    return dot


def _initial_state(graph: Graph) -> list[str]:
    return [k for k in graph.keys() if graph.node(k)["kind"] == "state" and graph.node(k)["t"] is None]


def _order_steps(dot: graphviz.Digraph, graph: Graph, steps: list[int]) -> None:
    """Keep the steps in time order, left to right: their first nodes share a rank, chained invisibly."""
    row = [next(k for k in graph.keys() if graph.node(k)["t"] == t) for t in steps]
    with dot.subgraph() as same:
        same.attr(rank="same")
        for key in row:
            same.node(key)
    for left, right in zip(row, row[1:]):
        dot.edge(left, right, style="invis", weight="10")


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _first_vector(shown: Mapping[str, np.ndarray] | None, key: str, shape: tuple) -> np.ndarray | None:
    """The first example's vector of ``key``, when it is narrow enough to draw as cells."""
    if shown is None or key not in shown or len(shape) != 2 or shape[0] is not None:
        return None
    vector = np.ravel(np.asarray(shown[key])[0])
    return vector if vector.size <= MAX_CELLS else None


def _signed_scale(graph: Graph, shown: Mapping[str, np.ndarray] | None, unit_ok: bool) -> float:
    """The largest magnitude among the drawn vectors that are not in [0, 1]: the ends of the signed scale."""
    if shown is None:
        return 0.0
    scale = 0.0
    for key in graph.keys():
        vector = _first_vector(shown, graph.node(key).get("shows", key), graph.node(key)["shape"])
        if vector is not None and not (unit_ok and _is_unit(vector)):
            scale = max(scale, float(np.max(np.abs(vector))))
    return scale


def _legend(dot: graphviz.Digraph, gradients: bool, scale: float) -> None:
    ticks = np.linspace(-1, 1, 9)
    signed = "".join(f'<TD WIDTH="18" HEIGHT="14" BGCOLOR="{signed_colour(v * scale, scale)}"></TD>' for v in ticks)
    rows = [
        f'<TR><TD COLSPAN="9"><B>{"gradient of the loss" if gradients else "value"}</B></TD></TR>',
        f"<TR>{signed}</TR>",
        f'<TR><TD COLSPAN="3" ALIGN="LEFT">{-scale:.3g}</TD><TD COLSPAN="3">0</TD>'
        f'<TD COLSPAN="3" ALIGN="RIGHT">{scale:.3g}</TD></TR>',
    ]
    if not gradients:
        unit = "".join(f'<TD WIDTH="18" HEIGHT="14" BGCOLOR="{unit_colour(v)}"></TD>' for v in np.linspace(0, 1, 9))
        rows += [
            '<TR><TD COLSPAN="9"><B>values in [0, 1] (sigmoid outputs, bits)</B></TD></TR>',
            f"<TR>{unit}</TR>",
            '<TR><TD COLSPAN="4" ALIGN="LEFT">0</TD><TD COLSPAN="5" ALIGN="RIGHT">1</TD></TR>',
        ]
    table = f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="1" CELLPADDING="1">{"".join(rows)}</TABLE>>'
    dot.node("legend", label=table, shape="plain", fontsize="9")


# -- files ------------------------------------------------------------------------------------------------------
def node_link_json(graph: Graph) -> str:
    """The graph as networkx node-link JSON: keys, kinds, node types, steps, shapes, argument order."""
    return json.dumps(nx.node_link_data(graph.nx, edges="edges"), indent=1)


def write(dot: graphviz.Digraph, graph: Graph, path: str | Path) -> Path:
    """Write the picture to ``path`` in the format its extension names; return the path written.

    ``.dot`` and ``.json`` need no Graphviz program. ``.svg``, ``.png`` and ``.pdf`` are laid out by the ``dot``
    program, or by pygraphviz (the ``render`` extra, ``pip install -e '.[render]'``, which carries Graphviz) when
    ``dot`` is absent. Without either, the ``.dot`` is written beside ``path`` and a :class:`RenderError` says how to get Graphviz.
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
    """Lay out and render ``dot`` as ``fmt`` bytes, with the dot program or else pygraphviz."""
    if shutil.which("dot"):
        return dot.pipe(format=fmt)
    try:
        import pygraphviz
    except ImportError:
        pygraphviz = None
    if pygraphviz is not None:
        with _quiet_stderr():  # its bundled fontconfig warns about the system's config on every call
            return pygraphviz.AGraph(string=dot.source).draw(format=fmt, prog="dot")
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

