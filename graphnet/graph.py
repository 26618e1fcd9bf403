"""Graphs of nodes on networkx, compiled once into a schedule, run forward and in reverse.

A :class:`Graph` holds structure and static metadata only: on every node its node type (``op``), its role in
the picture (``kind``), its time step (``t``, ``None`` for shared nodes), its ordered ``inputs`` and its static
``shape`` (``None`` for the batch dimension). The numbers of a run live in a :class:`Run`, so one built graph
serves every example of its length.

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

import contextlib
import gc
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping, Sequence

import networkx as nx
import numpy as np

from . import nodes
from .errors import GraphError
from .nodes import Context, Shape

LEAF_OPS = ("input", "parameter", "constant")


class Graph:
    """A computation graph: a ``networkx.DiGraph`` whose nodes are keyed by readable names.

    Edges mirror each node's ``inputs`` (for traversal and drawing); an edge's ``args`` attribute lists the
    argument positions it feeds, so an op fed the same node twice keeps both arguments.
    """

    def __init__(self, name: str = "graph") -> None:
        self.nx = nx.DiGraph(name=name)
        self._programs: dict[tuple, Program] = {}

    # -- building -------------------------------------------------------------------------------------------
    def _leaf(self, key: str, op: str, shape: Shape, kind: str, t: int | None, **attrs) -> str:
        if key in self.nx:
            raise GraphError(f"graph {self.name!r} already has a node {key!r}")
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
        if key in self.nx:
            raise GraphError(f"graph {self.name!r} already has a node {key!r}")
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

    def compile(self, outputs: Sequence[str] | None = None, wrt: Iterable[str] | None = None) -> Program:
        """The schedule that computes ``outputs`` (default: every node) and the gradients of ``wrt``.

        ``wrt`` defaults to every parameter. The result is cached: compile once, run many.
        """
        cache_key = (tuple(outputs) if outputs is not None else None, tuple(wrt) if wrt is not None else None)
        program = self._programs.get(cache_key)
        if program is None:
            with gc_paused():
                program = Program.build(self, outputs, wrt)
            self._programs[cache_key] = program
        return program


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a graph or its schedule is built.

    Building allocates many small containers that stay alive, and every collection walks all of them, so with
    the collector on, the time a step costs to build grew with the number of steps (see docs/performance.md).
    Nothing built is garbage in a cycle, so pausing keeps nothing alive that would have been freed.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _node_type(key: str, op: str) -> nodes.Node:
    """The registered node type ``op``, or a GraphError that names the node asking for it."""
    try:
        return nodes.get(op)
    except GraphError as exc:
        raise GraphError(f"node {key!r}: {exc}") from None


def _check_node(
    key: str, node_type: nodes.Node, shapes: list[Shape], attrs: dict, inputs: Sequence[str] = ()
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


@dataclass
class Step:
    """One scheduled op: its key, node type, input keys and which inputs want a gradient."""

    key: str
    node: nodes.Node
    args: tuple[str, ...]
    needs: tuple[bool, ...]
    attrs: dict = field(default_factory=dict)


@dataclass
class Program:
    """A graph compiled into a flat schedule. Running it touches no networkx."""

    graph: Graph
    leaves: list[tuple[str, str, Shape, float | None]]  # key, op, shape, fill
    steps: list[Step]
    wrt: tuple[str, ...]
    _needs_grad: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, graph: Graph, outputs: Sequence[str] | None, wrt: Iterable[str] | None) -> Program:
        order = graph.topological_order()
        if outputs is not None:
            unknown = [k for k in outputs if k not in graph]
            if unknown:
                raise GraphError(f"graph {graph.name!r} has no node {unknown[0]!r}")
            wanted = set(outputs)
            for key in outputs:
                wanted |= nx.ancestors(graph.nx, key)
            order = [k for k in order if k in wanted]
        wrt = tuple(graph.parameters if wrt is None else wrt)
        needs_grad = set(wrt)
        leaves, steps = [], []
        for key in order:
            attrs = graph.nx.nodes[key]
            if attrs["op"] in LEAF_OPS:
                leaves.append((key, attrs["op"], attrs["shape"], attrs.get("fill")))
                continue
            args = tuple(attrs["inputs"])
            needs = tuple(a in needs_grad for a in args)
            if any(needs):
                needs_grad.add(key)
            steps.append(Step(key, nodes.get(attrs["op"]), args, needs, attrs.get("attrs", {})))
        return cls(graph, leaves, steps, wrt, needs_grad)

    def forward(self, feeds: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray]) -> Run:
        """Run every scheduled op in topological order on ``feeds`` (inputs) and ``params`` (weights)."""
        leaf_keys = [key for key, *_ in self.leaves]
        values: dict[str, np.ndarray] = dict(zip(leaf_keys, leaf_values(self.leaves, feeds, params)))
        contexts: dict[str, Context] = {}
        for step in self.steps:
            ctx = Context(step.needs, step.attrs)
            values[step.key] = step.node.forward(ctx, *[values[a] for a in step.args])
            contexts[step.key] = ctx
        return Run(self, values, contexts)


def leaf_values(
    leaves: Sequence[tuple[str, str, Shape, float | None]],
    feeds: Mapping[str, np.ndarray],
    params: Mapping[str, np.ndarray],
) -> list[np.ndarray]:
    """The values of a program's leaves, in order: weights from ``params``, inputs from ``feeds``, or filled."""
    batch = _batch_size(feeds)
    values = []
    for key, op, shape, fill in leaves:
        if op == "parameter":
            values.append(params[key] if key in params else _missing(key, "params"))
        elif op == "input" and key in feeds:
            values.append(feeds[key])
        elif fill is not None:
            values.append(np.full(tuple(batch if d is None else d for d in shape), fill))
        else:
            _missing(key, "feeds")
    return values


def _batch_size(feeds: Mapping[str, np.ndarray]) -> int:
    for value in feeds.values():
        return value.shape[0]
    return 1


def _missing(key: str, where: str):
    raise GraphError(f"node {key!r} needs a value, and {where} has none")


@dataclass
class Run:
    """The values of one forward pass, and what each op saved for backward."""

    program: Program
    values: dict[str, np.ndarray]
    contexts: dict[str, Context]

    def value(self, key: str) -> np.ndarray:
        """The value of node ``key`` in this run."""
        return self.values[key]

    def backward(self, of: str = "loss", *, every_node: bool = False) -> dict[str, np.ndarray]:
        """Gradients of the scalar node ``of`` with respect to the program's ``wrt`` nodes (BPTT included).

        The gradient of a node is the sum over its consumers, accumulated out of place. Calling this twice
        gives the same gradients: nothing of a previous call is kept. With ``every_node``, the gradients of
        all nodes between ``wrt`` and ``of`` are returned too (to draw them).
        """
        if of not in self.values:
            raise GraphError(f"node {of!r} was not computed in this run")
        grads: dict[str, np.ndarray] = {of: np.ones_like(self.values[of])}
        for step in reversed(self.program.steps):
            grad = grads.get(step.key)
            if grad is None or not any(step.needs):
                continue
            input_grads = step.node.backward(self.contexts[step.key], grad)
            if len(input_grads) != len(step.args):
                raise GraphError(
                    f"{step.node.name}.backward at node {step.key!r} returned {len(input_grads)} gradients "
                    f"for {len(step.args)} inputs"
                )
            for source, needed, g in zip(step.args, step.needs, input_grads):
                if not needed or g is None:
                    continue
                if np.shape(g) != np.shape(self.values[source]):
                    raise GraphError(
                        f"{step.node.name}.backward at node {step.key!r} returned a gradient of shape "
                        f"{np.shape(g)} for input {source!r} of shape {np.shape(self.values[source])}"
                    )
                grads[source] = g if source not in grads else grads[source] + g
        if every_node:
            return grads
        return {k: grads[k] for k in self.program.wrt if k in grads}
