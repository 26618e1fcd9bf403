"""Graphs of nodes on networkx, checked as they are built, compiled once into a :class:`~graphnet.engine.program.Program`.

A :class:`Graph` holds structure and static metadata only: on every node its node type (``op``), its role in
the picture (``kind``), its time step (``t``, ``None`` for shared nodes), its ordered ``inputs`` and its static
``shape`` (``None`` for the batch dimension). The numbers of a run live in a :class:`~graphnet.engine.program.Run`,
so one built graph serves every example of its length. A graph that is shared (a network keeps one per length
for every run) is frozen: it cannot change behind another user's back; :meth:`Graph.copy` gives one to extend.

Examples
--------
>>> import numpy as np
>>> g = Graph()
>>> x = g.input("x", (None, 2))
>>> w = g.parameter("w", (2, 1))
>>> y = g.apply("matmul", "y", x, w)
>>> run = g.compile().forward({"x": np.ones((1, 2))}, {"w": np.full((2, 1), 0.5)})
>>> run.values["y"]
array([[1.]])
"""

from __future__ import annotations

from typing import Iterable, Sequence

import networkx as nx

from ..errors import GraphError
from .node import Node, Shape, get_node
from .program import Program


class Graph:
    """A computation graph: a ``networkx.DiGraph`` whose nodes are keyed by readable names.

    Edges mirror each node's ``inputs`` (for traversal and drawing); an edge's ``args`` attribute lists the
    argument positions it feeds, so an op fed the same node twice keeps both arguments.
    """

    def __init__(self, name: str = "graph") -> None:
        self.nx = nx.DiGraph(name=name)
        self._programs: dict[tuple, Program] = {}  # compiled programs, by (outputs, wrt, stack)

    # -- building -------------------------------------------------------------------------------------------
    def _can_add(self, key: str) -> None:
        if nx.is_frozen(self.nx):
            raise GraphError(f"graph {self.name!r} is frozen: it is shared by every run of its network; "
                             f"add {key!r} to a copy of it (graph.copy()) or build a new graph")
        if key in self.nx:
            raise GraphError(f"graph {self.name!r} already has a node {key!r}")

    def _leaf(self, key: str, op: str, shape: Shape, kind: str, t: int | None, **attrs) -> str:
        self._can_add(key)
        self.nx.add_node(key, op=op, kind=kind, t=t, inputs=(), shape=tuple(shape), **attrs)
        self._programs.clear()
        return key

    def input(
        self, key: str, shape: Shape, *, kind: str = "input", t: int | None = None, fill: float | None = None
    ) -> str:
        """Add a node fed at each run; with ``fill``, a run that does not feed it gets that constant."""
        return self._leaf(key, "input", shape, kind, t, fill=fill)

    def parameter(self, key: str, shape: Shape) -> str:
        """Add a trained weight: one node, however many steps use it."""
        return self._leaf(key, "parameter", shape, "parameter", None)

    def constant(self, key: str, shape: Shape, fill: float, *, t: int | None = None) -> str:
        """Add a constant filled with ``fill`` (its batch dimension follows the run's batch)."""
        return self._leaf(key, "constant", shape, "constant", t, fill=fill)

    def apply(
        self, op: str, key: str, *inputs: str, kind: str = "op", t: int | None = None, attrs: dict | None = None
    ) -> str:
        """Add node ``key`` computing node type ``op`` of ``inputs`` (keys of nodes already in the graph).

        ``attrs`` are the node's static settings (plain data, e.g. a slice's ``start`` and ``stop``). Arity
        and shapes are checked here, so a malformed graph is refused where it is built.
        """
        node_type = _node_type(key, op)
        self._can_add(key)
        missing = [k for k in inputs if k not in self.nx]
        if missing:
            raise GraphError(f"node {key!r} ({op}) takes {', '.join(map(repr, missing))}, not in the graph")
        shape = _check_node(key, node_type, [self.nx.nodes[k]["shape"] for k in inputs], attrs or {}, inputs)
        self.nx.add_node(key, op=op, kind=kind, t=t, inputs=tuple(inputs), shape=shape)
        if attrs:
            self.nx.nodes[key]["attrs"] = dict(attrs)
        for position, source in enumerate(inputs):
            if self.nx.has_edge(source, key):
                self.nx.edges[source, key]["args"] += (position,)
            else:
                self.nx.add_edge(source, key, args=(position,))
        self._programs.clear()
        return key

    def freeze(self) -> Graph:
        """Refuse every change from now on (networkx's ``nx.freeze``): for a graph that is shared. Returns it."""
        nx.freeze(self.nx)
        return self

    @property
    def frozen(self) -> bool:
        return nx.is_frozen(self.nx)

    def copy(self, name: str | None = None) -> Graph:
        """A graph of its own with the same nodes and edges, not frozen: to extend a shared graph."""
        graph = Graph()
        graph.nx = self.nx.copy()  # a new DiGraph with copies of the node and edge attribute dicts
        if name is not None:
            graph.nx.graph["name"] = name
        for _, attrs in graph.nx.nodes(data=True):
            if "attrs" in attrs:
                attrs["attrs"] = dict(attrs["attrs"])
        return graph

    # -- reading --------------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.nx.graph.get("name", "graph")

    def __contains__(self, key: str) -> bool:
        return key in self.nx

    def __len__(self) -> int:
        return self.nx.number_of_nodes()

    def node(self, key: str) -> dict:
        """The attributes of node ``key`` (read them, do not change them)."""
        return self.nx.nodes[key]

    def keys(self, *, op: str | None = None, kind: str | None = None) -> list[str]:
        """Node keys in insertion order, optionally only those of one node type or kind."""
        return [
            k
            for k, a in self.nx.nodes(data=True)
            if (op is None or a["op"] == op) and (kind is None or a["kind"] == kind)
        ]

    @property
    def parameters(self) -> list[str]:
        return self.keys(op="parameter")

    # -- checking and compiling -----------------------------------------------------------------------------
    @classmethod
    def from_networkx(cls, g: nx.DiGraph) -> Graph:
        """Wrap a DiGraph built elsewhere, after checking it as :meth:`validate` does."""
        graph = cls(g.graph.get("name", "graph"))
        graph.nx = g
        graph.validate()
        return graph

    def validate(self) -> None:
        """Refuse cycles, unknown node types, wrong arity, edges that disagree with ``inputs``, bad shapes."""
        try:
            cycle = nx.find_cycle(self.nx)
        except nx.NetworkXNoCycle:
            cycle = None
        if cycle:
            raise GraphError(f"graph {self.name!r} has a cycle: {' -> '.join(u for u, _ in cycle)} -> {cycle[0][0]}")
        for key in self.topological_order():
            attrs = self.nx.nodes[key]
            for needed in ("op", "kind", "inputs", "shape"):
                if needed not in attrs:
                    raise GraphError(f"node {key!r} has no {needed!r} attribute")
            node_type = _node_type(key, attrs["op"])
            inputs = tuple(attrs["inputs"])
            expected = {(s, key): tuple(i for i, k in enumerate(inputs) if k == s) for s in set(inputs)}
            actual = {(s, key): tuple(self.nx.edges[s, key].get("args", ())) for s in self.nx.predecessors(key)}
            if expected != actual:
                raise GraphError(f"node {key!r}: its edges do not match its inputs {inputs}")
            if node_type.leaf:
                continue
            shape = _check_node(
                key, node_type, [self.nx.nodes[k]["shape"] for k in inputs], attrs.get("attrs", {}), inputs
            )
            if tuple(attrs["shape"]) != shape:
                raise GraphError(f"node {key!r} says shape {attrs['shape']} but its inputs give {shape}")

    def topological_order(self) -> list[str]:
        """Nodes with every input before its consumers, ties broken by insertion order (time order)."""
        rank = {k: i for i, k in enumerate(self.nx)}
        try:
            return list(nx.lexicographical_topological_sort(self.nx, key=rank.__getitem__))
        except nx.NetworkXUnfeasible:
            raise GraphError(f"graph {self.name!r} has a cycle") from None

    def compile(
        self, outputs: Sequence[str] | None = None, wrt: Iterable[str] | None = None, *, stack: bool = True
    ) -> Program:
        """The program that computes ``outputs`` (default: every node) and the gradients of ``wrt``.

        This is how every graph runs: training, evaluation, prediction, pictures and gradient checks call it.
        ``wrt`` defaults to every parameter. ``stack``: independent ops of one node type run as one call on
        stacked operands (:mod:`graphnet.engine.stacking`); ``stack=False`` runs op by op, with the same numbers at
        batch 1 (and to about 1e-15 otherwise). Compiled once per outputs, ``wrt`` and ``stack``, then kept.
        """
        cache_key = (
            tuple(outputs) if outputs is not None else None, tuple(self.parameters if wrt is None else wrt), stack
        )
        program = self._programs.get(cache_key)
        if program is None:
            program = self._programs[cache_key] = Program(self, outputs, wrt, stack=stack)
        return program


def _node_type(key: str, op: str) -> Node:
    """The registered node type ``op``, or a GraphError that names the node asking for it."""
    try:
        return get_node(op)
    except GraphError as exc:
        raise GraphError(f"node {key!r}: {exc}") from None


def _check_node(
    key: str, node_type: Node, shapes: list[Shape], attrs: dict, inputs: Sequence[str] = ()
) -> Shape:
    arity = node_type.arity
    if (arity is None and not shapes) or (arity is not None and len(shapes) != arity):
        wanted = "at least 1" if arity is None else str(arity)
        raise GraphError(f"node {key!r} ({node_type.name}) takes {wanted} inputs, got {len(shapes)}")
    try:
        return tuple(node_type.shape(*[tuple(s) for s in shapes], **attrs))
    except (ValueError, TypeError, IndexError) as exc:  # IndexError: a shape rule reading a scalar's axes
        of = f" (its inputs: {', '.join(map(repr, inputs))})" if inputs else ""
        raise GraphError(f"node {key!r} ({node_type.name}): {exc}{of}") from None
