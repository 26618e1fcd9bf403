"""Graphs of nodes on networkx, checked as they are built, and compiled into a :class:`~graphnet.engine.program.Program`.

A :class:`Graph` is data: on every node its node type (``op``), its ordered ``inputs``, its static ``shape``
(``None`` for the batch dimension) and its settings (``attrs``), plus whatever the code that builds it wants
to remember there (the RNN layer stores each node's time step ``t`` and its role ``kind``, which the pictures
read): the engine stores those and never reads them. The numbers of a run live in a
:class:`~graphnet.engine.program.Run`, so one built graph serves every example of its length. A graph that is
shared (a network keeps one per length) is frozen: it cannot change behind another user's back;
:meth:`Graph.copy` gives one to extend.

Examples
--------
>>> import numpy as np
>>> g = Graph()
>>> x = g.input("x", (None, 2))
>>> w = g.parameter("w", (2, 1))
>>> y = g.apply("matmul", "y", x, w)
>>> run = g.compile().forward({"x": np.ones((1, 2))}, {"w": np.full((2, 1), 0.5)})
>>> run.value("y")
array([[1.]])
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Iterable, Sequence

import networkx as nx

from ..errors import GraphError
from .node import NO_ATTRS, Node, Shape, get_node
from .program import Feed, Op, Program

# What the engine keeps on a node; anything else a builder passes is its own (``kind``, ``t``, ...).
ENGINE_ATTRS = frozenset({"op", "inputs", "shape", "attrs", "fill", "stacks", "outputs", "stacked"})


class Graph:
    """A computation graph: a ``networkx.DiGraph`` whose nodes are keyed by readable names.

    Edges mirror each node's ``inputs`` (for traversal and drawing); an edge's ``args`` attribute lists the
    argument positions it feeds, so an op fed the same node twice keeps both arguments.
    """

    def __init__(self, name: str = "graph") -> None:
        self.nx = nx.DiGraph(name=name)

    # -- building -------------------------------------------------------------------------------------------
    def _can_add(self, key: str, meta: dict) -> None:
        if nx.is_frozen(self.nx):
            raise GraphError(f"graph {self.name!r} is frozen: it is shared by every run of its network; "
                             f"add {key!r} to a copy of it (graph.copy()) or build a new graph")
        if not isinstance(key, str) or not key:
            raise GraphError(f"a node's key is a non-empty string, got {key!r}")
        if key in self.nx:
            raise GraphError(f"graph {self.name!r} already has a node {key!r}")
        clash = ENGINE_ATTRS & set(meta)
        if clash:
            raise GraphError(f"node {key!r}: {', '.join(sorted(clash))} is the engine's to set, not a keyword of yours")

    def _leaf(self, key: str, op: str, shape: Shape, meta: dict, **data) -> str:
        self._can_add(key, meta)
        self.nx.add_node(key, op=op, inputs=(), shape=tuple(shape), **data, **meta)
        return key

    def input(self, key: str, shape: Shape, *, fill: float | None = None, stacks: Sequence[str] = (), **meta) -> str:
        """Add a node fed at each run; with ``fill``, a run that does not feed it gets that constant.

        ``stacks``: the keys of the inputs this one holds side by side on its first axis (what
        :func:`~graphnet.engine.stacking.stacked` makes of every step's input bits): a run may feed it, or them.
        """
        held = {"stacks": tuple(stacks)} if stacks else {}  # only a stacked input has the attribute
        return self._leaf(key, "input", shape, meta, fill=fill, **held)

    def parameter(self, key: str, shape: Shape, **meta) -> str:
        """Add a trained weight: one node, however many ops read it."""
        return self._leaf(key, "parameter", shape, meta)

    def constant(self, key: str, shape: Shape, fill: float, **meta) -> str:
        """Add a constant filled with ``fill`` (where its shape says ``None``, the run's batch size)."""
        return self._leaf(key, "constant", shape, meta, fill=fill)

    def apply(self, op: str, key: str | Sequence[str], *inputs: str, attrs: dict | None = None,
              stacked: bool = False, **meta) -> str | tuple[str, ...]:
        """Add node ``key`` computing node type ``op`` of ``inputs`` (keys of nodes already in the graph).

        ``attrs`` are the node's static settings (plain data, e.g. a slice's ``start`` and ``stop``); ``meta``
        (``kind=``, ``t=``, ...) is stored on the node for whoever reads it, never by the engine. Arity and
        shapes are checked here, so a graph that could not run is refused where it is built. A node type of
        several outputs (``unstack``) is given one key per output, and the keys are returned.

        ``stacked``: the node type applied once to stacks, every input with a leading axis of members (what
        :mod:`~graphnet.engine.stacking` writes); shapes are checked member by member.
        """
        node_type = _node_type(key, op)
        keys = (key,) if isinstance(key, str) else tuple(key)
        for k in keys:
            self._can_add(k, meta)
        if len(set(keys)) != len(keys) or not keys:
            raise GraphError(f"node {key!r} ({op}): give each output a key of its own")
        missing = [k for k in inputs if k not in self.nx]
        if missing:
            raise GraphError(f"node {keys[0]!r} ({op}) takes {', '.join(map(repr, missing))}, not in the graph")
        shapes = _check_node(keys[0], node_type, [self.nx.nodes[k]["shape"] for k in inputs], attrs or {}, inputs,
                             stacked)
        if len(shapes) != len(keys):
            raise GraphError(f"node {keys[0]!r} ({op}) gives {len(shapes)} outputs, and {len(keys)} keys were given")
        data = dict(op=op, inputs=tuple(inputs), **meta)
        if attrs:
            data["attrs"] = dict(attrs)
        if stacked:
            data["stacked"] = True
        if node_type.multiple_outputs:  # (several keys for another node type are refused above)
            data["outputs"] = keys
        for k, shape in zip(keys, shapes):
            self.nx.add_node(k, shape=shape, **data)
            for position, source in enumerate(inputs):
                if self.nx.has_edge(source, k):
                    self.nx.edges[source, k]["args"] += (position,)
                else:
                    self.nx.add_edge(source, k, args=(position,))
        return key if isinstance(key, str) else keys

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

    def subgraph(self, outputs: Sequence[str]) -> Graph:
        """A graph of its own holding ``outputs``, every op they depend on and every leaf, in the same order (what a
        run of either is given is the same)."""
        unknown = [k for k in outputs if k not in self.nx]
        if unknown:
            raise GraphError(f"graph {self.name!r} has no node {unknown[0]!r}")
        wanted = set(outputs).union(*(nx.ancestors(self.nx, k) for k in outputs), self.keys(inputs=()))
        graph = Graph()
        graph.nx = self.nx.subgraph(wanted).copy()  # networkx keeps the nodes in this graph's order
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

    def keys(self, *, op: str | None = None, **meta) -> list[str]:
        """Node keys in insertion order, optionally only those of one node type, or with the given ``meta``
        (``graph.keys(kind="hidden")``)."""
        return [k for k, a in self.nx.nodes(data=True)
                if (op is None or a["op"] == op) and all(a.get(m) == v for m, v in meta.items())]

    @property
    def parameters(self) -> list[str]:
        return self.keys(op="parameter")

    # -- checking and compiling -----------------------------------------------------------------------------
    @classmethod
    def from_networkx(cls, g: nx.DiGraph) -> Graph:
        """Wrap a DiGraph built elsewhere, after checking it as :meth:`validate` does."""
        graph = cls()
        graph.nx = g  # its name too
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
            for needed in ("op", "inputs", "shape"):
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
            shapes = _check_node(key, node_type, [self.nx.nodes[k]["shape"] for k in inputs], attrs.get("attrs", {}),
                                 inputs, attrs.get("stacked", False))
            outputs = attrs.get("outputs", (key,))
            if tuple(attrs["shape"]) != shapes[outputs.index(key)]:
                raise GraphError(f"node {key!r} says shape {attrs['shape']} but its inputs give "
                                 f"{shapes[outputs.index(key)]}")

    def topological_order(self) -> list[str]:
        """Nodes with every input before its consumers, ties broken by insertion order (time order)."""
        rank = {k: i for i, k in enumerate(self.nx)}
        try:
            return list(nx.lexicographical_topological_sort(self.nx, key=rank.__getitem__))
        except nx.NetworkXUnfeasible:
            raise GraphError(f"graph {self.name!r} has a cycle") from None

    def compile(self, outputs: Sequence[str] | None = None, wrt: Iterable[str] | None = None) -> Program:
        """The program that computes ``outputs`` (default: every node) and the gradients of ``wrt``.

        This is how every graph runs: training, evaluation, prediction, pictures and gradient checks call it.
        ``wrt`` defaults to every parameter. The program runs op by op, in topological order; a graph rewritten
        by :func:`~graphnet.engine.stacking.stack` runs faster with the same numbers.
        """
        order = self.topological_order()
        if outputs is not None:
            unknown = [k for k in outputs if k not in self.nx]
            if unknown:
                raise GraphError(f"graph {self.name!r} has no node {unknown[0]!r}")
            wanted = set(outputs).union(*(nx.ancestors(self.nx, k) for k in outputs))
            order = [k for k in order if k in wanted]
        wrt = tuple(self.parameters if wrt is None else wrt)
        unknown = [k for k in wrt if k not in self.nx]
        if unknown:
            raise GraphError(f"graph {self.name!r} has no node {unknown[0]!r} to differentiate with respect to")
        needs_grad = set(wrt)  # the nodes whose gradient someone needs: wrt and what depends on them
        # an input given stacked (every step's input bits as one) holds its members' gradients too
        needs_grad.update(k for k, a in self.nx.nodes(data=True) if set(a.get("stacks", ())) & needs_grad)
        feeds, ops, done = [], [], set()
        for key in order:
            node = self.nx.nodes[key]
            node_type = get_node(node["op"])
            if node_type.leaf:
                feeds.append(Feed(key, node["op"], node["shape"], node.get("fill"), node.get("stacks", ())))
                continue
            outputs_of = node.get("outputs", (key,))
            if outputs_of[0] in done:  # a node type of several outputs: one op computes them all
                continue
            done.add(outputs_of[0])
            needs = tuple(k in needs_grad for k in node["inputs"])
            if any(needs):
                needs_grad.update(outputs_of)
            settings = node.get("attrs")
            ops.append(Op(outputs_of, tuple(self.nx.nodes[k]["shape"] for k in outputs_of), node_type,
                          tuple(node["inputs"]), needs, MappingProxyType(settings) if settings else NO_ATTRS))
        given = {k: a["shape"] for k, a in self.nx.nodes(data=True) if a["op"] in ("input", "parameter")}
        given.update({m: a["shape"][1:] for a in self.nx.nodes.values() for m in a.get("stacks", ())})
        return Program(self.name, ops, feeds, wrt, given)


def _node_type(key, op: str) -> Node:
    """The registered node type ``op``, or a GraphError that names the node asking for it."""
    try:
        return get_node(op)
    except GraphError as exc:
        raise GraphError(f"node {key!r}: {exc}") from None


def _check_node(key: str, node_type: Node, shapes: list[Shape], attrs: dict, inputs: Sequence[str],
                stacked: bool) -> list[Shape]:
    """The output shapes of ``node_type`` for these input shapes (one for most node types), checked."""
    arity = node_type.arity
    if (arity is None and not shapes) or (arity is not None and len(shapes) != arity):
        wanted = "at least 1" if arity is None else str(arity)
        raise GraphError(f"node {key!r} ({node_type.name}) takes {wanted} inputs, got {len(shapes)}")
    of = f" (its inputs: {', '.join(map(repr, inputs))})" if inputs else ""
    members = ()
    if stacked:  # each input a stack of members: the node type's rule is checked on one member's shapes
        if node_type.stacking is None:
            raise GraphError(f"node {key!r} ({node_type.name}): a node type without a stacking rule cannot be "
                             f"applied to stacks")
        if not shapes[0] or len({s[:1] for s in shapes}) != 1:
            raise GraphError(f"node {key!r} ({node_type.name}): stacks of as many members, each, expected{of}")
        members, shapes = tuple(shapes[0][:1]), [s[1:] for s in shapes]
    try:
        shape = node_type.shape(*[tuple(s) for s in shapes], **attrs)
    except (ValueError, TypeError, IndexError) as exc:  # IndexError: a shape rule reading a scalar's axes
        raise GraphError(f"node {key!r} ({node_type.name}): {exc}{of}") from None
    out = [tuple(s) for s in shape] if node_type.multiple_outputs else [tuple(shape)]
    return [members + s for s in out]
