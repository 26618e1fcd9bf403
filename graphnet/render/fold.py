"""Folding each step's cell into one node: a view of an unrolled graph for drawing.

Examples
--------
>>> from graphnet import load_task
>>> graph = load_task("tasks/binary_addition_lstm.toml").build_network().graph(3)
>>> folded = fold_steps(graph, "lstm")
>>> len(graph.nx), len(folded.nx), sorted(folded.nx.successors("lstm[0]"))
(106, 34, ['h_synapse_1[0]', 'lstm[1]'])
>>> folded.node("lstm[0]")["states"], folded.nx.edges["lstm[0]", "lstm[1]"]["carries"]
(['c[0]', 'h[0]'], ['c[0]', 'h[0]'])
"""

from __future__ import annotations

import networkx as nx

from ..engine.graph import Graph
from ..rnn.keys import at
from .kinds import kind_of


def fold_steps(graph: Graph, cell: str = "cell") -> Graph:
    """A view of ``graph`` for drawing, with each step's cell folded into one node ``cell[t]``.

    A step's cell is its hidden states (kind ``hidden``) and every op or gate of that step that leads to one.
    What the cell reads (the step's input, the weights, the previous states) and what reads it (the output
    layer, the next step) keep their edges, now to ``cell[t]``; an edge out of a folded cell lists the states
    it carries (``carries``). The folded node names the states it passes on (``states``) and shows the values
    of the one the rest of the step reads (``shows``: ``h[t]``, not ``c[t]``). Only for drawing: the view is not
    a graph that runs.
    """
    members: dict[str, str] = {}  # node key -> the folded node it belongs to
    for key in graph.keys(kind="hidden"):
        t = graph.node(key).get("t")
        inside = {key} | {a for a in nx.ancestors(graph.nx, key)
                          if graph.node(a).get("t") == t and kind_of(graph.node(a)) in ("op", "gate", "hidden")}
        members.update({k: at(cell, t) for k in inside})
    folded = nx.DiGraph(name=graph.name)
    for key, attrs in graph.nx.nodes(data=True):
        if key not in members:
            folded.add_node(key, **attrs)
        elif members[key] not in folded:
            mine = [k for k in graph.keys(kind="hidden") if members[k] == members[key]]
            passed = sorted(k for k in mine if any(members.get(c) != members[k] for c in graph.nx.successors(k)))
            # The state the rest of the step reads (h[t], not c[t]): the one with a consumer in the step.
            shown = next((k for k in passed if any(graph.node(c).get("t") == attrs.get("t") and c not in members
                                                   for c in graph.nx.successors(k))), (passed or mine)[-1])
            folded.add_node(members[key], op=cell, kind="hidden", t=attrs.get("t"), inputs=(),
                            shape=graph.node(shown)["shape"], shows=shown, states=passed,
                            folds=sorted(k for k in members if members[k] == members[key]))
    for source, target in graph.nx.edges():
        u, v = members.get(source, source), members.get(target, target)
        if u == v:
            continue
        if not folded.has_edge(u, v):
            folded.add_edge(u, v, carries=[])
        if u in members.values() and source not in folded.edges[u, v]["carries"]:
            folded.edges[u, v]["carries"].append(source)  # out of a folded cell: which of its states
    for _, _, data in folded.edges(data=True):
        data["carries"].sort()
        if not data["carries"]:
            del data["carries"]
    view = Graph(graph.name)
    view.nx = folded
    return view
