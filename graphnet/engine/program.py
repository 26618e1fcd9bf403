"""Programs: a graph compiled once into a schedule of ops, run forward and then in reverse.

:meth:`Graph.compile <graphnet.engine.graph.Graph.compile>` makes a :class:`Program`, and a program is how graphnet
runs every graph: training, evaluation, prediction, pictures and gradient checks all run the same one.

- Every value lives in a numbered *slot* of a list, decided when compiling: the leaves (inputs, weights,
  constants) first, then one slot per op. Running touches no networkx and no dicts.
- Forward, each op calls its node type's own ``forward`` with a fresh :class:`~graphnet.engine.node.Context`; the
  reverse pass calls each op's ``backward``, last op first, with the gradient of its output.
- The gradient of a node is the sum over its consumers, accumulated out of place (``old + g``, never ``+=``:
  an ``add`` hands one array to both its inputs).
- Gradients nobody needs (of inputs, targets, constants) are not asked for: ``ctx.needs_input_grad`` says so.
- With ``stack=True`` (the default), independent ops of one node type (every step's input projection, say)
  run as one call of that node type's own methods on stacked operands, where the node type declares how
  (``Node.stacking``); :mod:`graphnet.engine.stacking` finds them. Fewer numpy calls, the same numbers: at batch 1,
  every value and gradient is bit for bit that of ``stack=False``, which runs op by op.

Examples
--------
>>> import numpy as np
>>> from graphnet.engine.graph import Graph
>>> g = Graph()
>>> x = g.input("x", (None, 2))
>>> w = g.parameter("w", (2, 1))
>>> y = g.apply("matmul", "y", x, w)
>>> loss = g.apply("sum", "loss", y)
>>> run = g.compile().forward({"x": np.ones((3, 2))}, {"w": np.full((2, 1), 0.5)})
>>> run.values["y"][:, 0]
array([1., 1., 1.])
>>> run.backward()["w"][:, 0]
array([3., 3.])
"""

from __future__ import annotations

from operator import itemgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence

import networkx as nx
import numpy as np

from ..errors import GraphError
from . import stacking
from .node import NO_ATTRS, Context, Node, Shape, get_node

if TYPE_CHECKING:
    from .graph import Graph

Slots = list  # the values (or gradients) of one run, indexed by slot number

# Stacking saves numpy calls but copies operands into stacks. With more examples per batch than this, the copies
# cost more than the calls saved (measured on the post's network: faster up to batch 192, slower from 256 on),
# so a stacked program runs bigger batches op by op.
STACK_ROWS = 128


class Leaf(NamedTuple):
    """A node whose value a run feeds: an input, a weight (``parameter``) or a ``constant``."""

    key: str
    op: str
    shape: Shape
    fill: float | None  # the value of an unfed input or a constant
    slot: int


class Op:
    """One scheduled node: its node type's ``forward`` and ``backward`` on the values in its input slots.

    ``forward(slots, saved)`` and ``backward(slots, saved, grads)`` are made by :meth:`bind`, once the slots are
    known, as closures over them (:func:`_forward`, :func:`_backward`): the hot loop then reads no attributes.
    They look the node type's methods up at every call, so a node type edited in a live session is what runs.
    """

    __slots__ = ("key", "node", "args", "needs", "attrs", "out", "inputs", "index", "forward", "backward")

    def __init__(self, key: str, node: Node, args: tuple[str, ...], needs: tuple[bool, ...], attrs: Mapping):
        self.key, self.node, self.args, self.needs, self.attrs = key, node, args, needs, attrs

    def bind(self, slot: Mapping[str, int], index: int) -> None:
        """Fix the slots it reads and writes and where it keeps its context (``saved[index]``)."""
        self.out, self.inputs, self.index = slot[self.key], tuple(slot[a] for a in self.args), index
        self.forward, self.backward = _forward(self), _backward(self)


def _forward(op: Op) -> Callable[[Slots, list], None]:
    node, needs, attrs, out, index = op.node, op.needs, op.attrs, op.out, op.index
    if len(op.inputs) == 1:
        (a,) = op.inputs

        def forward(slots: Slots, saved: list) -> None:
            ctx = Context(needs, attrs)
            slots[out] = node.forward(ctx, slots[a])
            saved[index] = ctx

        return forward
    if len(op.inputs) == 2:
        a, b = op.inputs

        def forward(slots: Slots, saved: list) -> None:
            ctx = Context(needs, attrs)
            slots[out] = node.forward(ctx, slots[a], slots[b])
            saved[index] = ctx

        return forward
    read = itemgetter(*op.inputs)

    def forward(slots: Slots, saved: list) -> None:
        ctx = Context(needs, attrs)
        slots[out] = node.forward(ctx, *read(slots))
        saved[index] = ctx

    return forward


def _backward(op: Op) -> Callable[[Slots, list, Slots], None]:
    node, out, index, arity = op.node, op.out, op.index, len(op.inputs)
    wanted = [(p, i) for p, i in enumerate(op.inputs) if op.needs[p]]  # the inputs that want a gradient

    def backward(slots: Slots, saved: list, grads: Slots) -> None:
        grad = grads[out]
        if grad is None:  # this node does not lead to what is differentiated
            return
        input_grads = node.backward(saved[index], grad)
        if len(input_grads) != arity:
            raise GraphError(f"{node.name}.backward at node {op.key!r} returned {len(input_grads)} "
                             f"gradients for {arity} inputs")
        for p, i in wanted:
            g = input_grads[p]
            if g is None:
                continue
            if getattr(g, "shape", None) != getattr(slots[i], "shape", None):
                check_shape(op, p, g, slots[i])
            old = grads[i]
            grads[i] = g if old is None else old + g  # summed over consumers, out of place

    return backward


def check_shape(op, p: int, g, value) -> None:
    """Refuse a gradient for input ``p`` of ``op`` not shaped like that input's ``value``, naming the node type."""
    if np.shape(g) == np.shape(value):  # a Python number for a scalar, say: as numpy sees it, it fits
        return
    raise GraphError(f"{op.node.name}.backward at node {op.key!r} returned a gradient of shape {np.shape(g)} "
                     f"for input {op.args[p]!r} of shape {np.shape(value)}")


class Program:
    """A graph compiled into a schedule: ``forward(feeds, params)`` runs it and returns a :class:`Run`.

    Made by :meth:`Graph.compile <graphnet.engine.graph.Graph.compile>`, once per graph, outputs and ``wrt``, and kept
    there. ``ops`` is every op in topological order; ``schedule`` what runs, in order: each op, or with
    stacking a :class:`~graphnet.engine.stacking.Group` of ops in its stead.
    """

    def __init__(self, graph: Graph, outputs: Sequence[str] | None, wrt: Iterable[str] | None, *, stack: bool):
        order = graph.topological_order()
        if outputs is not None:
            unknown = [k for k in outputs if k not in graph]
            if unknown:
                raise GraphError(f"graph {graph.name!r} has no node {unknown[0]!r}")
            wanted = set(outputs).union(*(nx.ancestors(graph.nx, k) for k in outputs))
            order = [k for k in order if k in wanted]
        self.graph, self.outputs, self.stack = graph, None if outputs is None else tuple(outputs), stack
        self.wrt = tuple(graph.parameters if wrt is None else wrt)
        unknown = [k for k in self.wrt if k not in graph]
        if unknown:
            raise GraphError(f"graph {graph.name!r} has no node {unknown[0]!r} to differentiate with respect to")
        needs_grad = set(self.wrt)  # the nodes whose gradient someone needs: wrt and what depends on it
        leaves, self.ops = [], []
        for key in order:
            attrs = graph.node(key)
            node_type = get_node(attrs["op"])
            if node_type.leaf:
                leaves.append((key, attrs["op"], attrs["shape"], attrs.get("fill")))
                continue
            args = tuple(attrs["inputs"])
            needs = tuple(a in needs_grad for a in args)
            if any(needs):
                needs_grad.add(key)
            settings = attrs.get("attrs")
            self.ops.append(Op(key, node_type, args, needs, MappingProxyType(settings) if settings else NO_ATTRS))
        groups, order = stacking.plan(graph, self.ops) if stack else ([], [[i] for i in range(len(self.ops))])
        # Slots: leaves first (weights, inputs that must be fed, the rest: each kind side by side, so a run
        # feeds it as one slice), then the ops in the order they run, a group's members side by side (their
        # rows are written, and their gradients read, as one slice); then one slot per group for its stack.
        leaves.sort(key=lambda leaf: _LEAF_ORDER[leaf[1], leaf[3] is None])
        self.slot = {key: i for i, (key, *_) in enumerate(leaves)}
        for unit in order:
            for i in unit:
                self.slot[self.ops[i].key] = len(self.slot)
        self.leaves = [Leaf(*leaf, self.slot[leaf[0]]) for leaf in leaves]
        for index, op in enumerate(self.ops):
            op.bind(self.slot, index)
        self.groups = [stacking.Group(members, self.ops, self.slot, len(self.slot) + g, len(self.ops) + g)
                       for g, members in enumerate(groups)]
        stacking.route(self.groups, self.ops)
        self.n_slots = len(self.slot) + len(self.groups)
        self.n_saved = len(self.ops) + len(self.groups)
        group_of = {members[0]: g for g, members in enumerate(groups)}
        self.schedule = [self.groups[group_of[unit[0]]] if len(unit) > 1 or unit[0] in group_of
                         else self.ops[unit[0]] for unit in order]
        self._forwards = [unit.forward for unit in self.schedule]
        # The reverse pass runs, last first, what can pass a gradient on.
        self._backwards = [unit.backward for unit in reversed(self.schedule) if any(unit.needs)]
        # Members of a group nobody reads one by one are only in the group's stack: slot -> (stack slot, row).
        self.rows = {i: (group.stack, row) for group in self.groups for row, i in enumerate(group.outs)
                     if i not in group.eager}
        weights = [leaf.key for leaf in self.leaves if leaf.op == "parameter"]
        fed = [leaf.key for leaf in self.leaves if leaf.op == "input" and leaf.fill is None]
        self._weights, self._fed = (_getter(weights), len(weights)), (_getter(fed), len(weights), len(weights) + len(fed))
        self._filled = self.leaves[len(weights) + len(fed) :]  # inputs with a default, and constants
        self._no_stacking = next((op for op in self.ops if op.node.stacking is None), None)
        # Every fed node's static shape, to read a run's leading axes and batch size off what it is given (also
        # of inputs this program does not read: a batch fed for the whole graph is the batch of its constants).
        self._shapes = {key: graph.node(key)["shape"] for key in graph.keys(op="input") + graph.parameters}
        self._unstacked: Program | None = None  # the same graph op by op, for batches above STACK_ROWS

    def forward(self, feeds: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray]) -> Run:
        """Run the schedule on ``feeds`` (inputs, by key) and ``params`` (weights, by key).

        Values may carry leading axes before their static shape, the same for all: several networks run side by
        side, a member axis in front of every weight and input (:mod:`graphnet.app.members`), as the node types'
        ``stacking`` rules allow. Those axes and the batch size are read off the inputs fed.
        """
        lead, batch = self._run_axes(feeds, params)
        if lead and self._no_stacking is not None:
            op = self._no_stacking
            raise GraphError(f"node {op.key!r} ({op.node.name}) cannot run with leading axes {lead} (networks side by "
                             f"side): its node type declares no stacking rule, which says its methods take them "
                             f"(see graphnet.Stacking)")
        if batch > STACK_ROWS and self.groups:
            if self._unstacked is None:
                self._unstacked = self.graph.compile(self.outputs, self.wrt, stack=False)
            return self._unstacked.forward(feeds, params)
        slots: Slots = [None] * self.n_slots
        self._feed(slots, feeds, params, lead, batch)
        saved: list = [None] * self.n_saved
        # A sigmoid's exp(-x) may overflow to inf, which still gives the right 0.0: no warning for that.
        with np.errstate(over="ignore"):
            for forward in self._forwards:
                forward(slots, saved)
        return Run(self, slots, saved)

    def _run_axes(self, feeds: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray]) -> tuple[tuple[int, ...], int]:
        """The leading axes of a run (``()`` but for networks side by side) and its batch size (1 if no input fed
        has a batch axis), read off the values fed: a value's axes before its static shape are the leading ones."""
        lead, batch = None, 1
        for values in (feeds, params):
            for key, value in values.items():
                shape = self._shapes.get(key)
                if shape is None:
                    continue
                extra = np.ndim(value) - len(shape)
                if lead is None:
                    lead = tuple(np.shape(value)[:extra])
                if None in shape:
                    return lead, np.shape(value)[extra + shape.index(None)]
        return lead or (), batch

    def entry(self, slots: Slots, key: str) -> np.ndarray | None:
        """Node ``key``'s entry in ``slots``, a run's values or a reverse pass's gradients: its own slot or, for a
        group member kept only in its group's stack, its row of the stack (``None`` if nothing is there yet)."""
        i = self.slot.get(key)
        if i is None:
            raise GraphError(f"node {key!r} was not computed in this run")
        entry = slots[i]
        if entry is None and i in self.rows:
            stack, row = self.rows[i]
            if slots[stack] is not None:
                entry = slots[stack][row]
        return entry

    def _feed(self, slots: Slots, feeds: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray],
              lead: tuple[int, ...], batch: int):
        (weights, n_weights), (fed, start, stop) = self._weights, self._fed
        try:
            slots[:n_weights] = weights(params)
        except KeyError as missing:
            raise GraphError(f"node {missing.args[0]!r} needs a value, and params has none") from None
        try:
            slots[start:stop] = fed(feeds)
        except KeyError as missing:
            raise GraphError(f"node {missing.args[0]!r} needs a value, and feeds has none") from None
        for leaf in self._filled:
            value = feeds.get(leaf.key) if leaf.op == "input" else None  # constants are never fed
            if value is None:  # the run's leading axes, and its batch size where the shape says None
                value = np.full(lead + tuple(batch if d is None else d for d in leaf.shape), leaf.fill)
            slots[leaf.slot] = value


# Leaves by kind, in slot order: weights, inputs that must be fed, inputs with a default, constants.
_LEAF_ORDER = {("parameter", True): 0, ("parameter", False): 0, ("input", True): 1, ("input", False): 2,
               ("constant", True): 3, ("constant", False): 3}


def _getter(keys: Sequence[str]) -> Callable[[Mapping], tuple]:
    """A function of a mapping giving the tuple of its values at ``keys`` (one C call for two or more)."""
    if len(keys) > 1:
        return itemgetter(*keys)
    return lambda mapping: tuple(mapping[k] for k in keys)


class Run:
    """The values of one forward pass (and what each op saved for its backward); ``backward`` is the reverse pass."""

    __slots__ = ("program", "slots", "saved")

    def __init__(self, program: Program, slots: Slots, saved: list) -> None:
        self.program, self.slots, self.saved = program, slots, saved

    def value(self, key: str) -> np.ndarray:
        """The value of node ``key`` in this run."""
        return self.program.entry(self.slots, key)

    @property
    def values(self) -> dict[str, np.ndarray]:
        """Every node's value, by key, in topological order (made when asked; the hot loop never needs it)."""
        program = self.program
        return {key: self.value(key) for key in (*(leaf.key for leaf in program.leaves), *(op.key for op in program.ops))}

    def backward(self, of: str = "loss", *, every_node: bool = False) -> dict[str, np.ndarray]:
        """The reverse pass: gradients of the scalar node ``of`` with respect to the program's ``wrt`` nodes.

        Backpropagation through time is nothing special here: a weight used by every step gets the sum of
        its consumers' gradients. Calling this twice gives the same gradients: nothing of a previous call is
        kept. With ``every_node``, the gradients of every node between ``wrt`` and ``of`` are returned too.
        """
        program, grads = self.program, self._seed(of)
        slots, saved = self.slots, self.saved
        with np.errstate(over="ignore"):
            for backward in program._backwards:
                backward(slots, saved, grads)
        if every_node:
            for group in program.groups:  # members whose gradient was handed on as their group's stack
                group.unstack_grads(grads)
            return {key: grads[i] for key, i in program.slot.items() if grads[i] is not None}
        return {key: grads[program.slot[key]] for key in program.wrt
                if key in program.slot and grads[program.slot[key]] is not None}

    def reverse(self, of: str = "loss") -> Iterator[tuple[str, Callable[[str], np.ndarray | None]]]:
        """The reverse pass one op at a time, to watch it: after each op's ``backward``, the op's key and
        ``grad(key)``, the gradient of ``of`` with respect to node ``key`` so far (``None`` if nothing has
        reached it yet). ``grad`` reads the pass as it is now: ask it before taking the next op. The arrays it
        gives are never changed afterwards (gradients are summed out of place), so they may be kept.

        So far is what the ops done so far handed back: a weight's gradient grows as each step that reads it
        adds its share, and is whole when the pass ends (it then equals :meth:`backward`'s). A program compiled
        with ``stack=False`` hands back op by op, the last step first; a stacked one runs a group at once (its
        first member's key is given). :mod:`graphnet.animate` draws the reverse pass from this.

        Examples
        --------
        >>> import numpy as np
        >>> from graphnet.engine.graph import Graph
        >>> g = Graph()
        >>> x, w = g.input("x", (None, 1)), g.parameter("w", (1, 1))
        >>> y0, y1 = g.apply("matmul", "y[0]", x, w), g.apply("matmul", "y[1]", x, w)
        >>> loss = g.apply("sum", "loss", y0, y1)
        >>> run = g.compile(stack=False).forward({"x": np.full((1, 1), 3.0)}, {"w": np.ones((1, 1))})
        >>> for key, grad in run.reverse():
        ...     print(key, grad("w"))
        loss None
        y[1] [[3.]]
        y[0] [[6.]]
        """
        program, grads = self.program, self._seed(of)
        slots, saved = self.slots, self.saved

        def grad(key: str) -> np.ndarray | None:
            return program.entry(grads, key)

        for unit in reversed(program.schedule):
            if any(unit.needs):
                with np.errstate(over="ignore"):
                    unit.backward(slots, saved, grads)
            yield getattr(unit, "key", None) or unit.keys[0], grad

    def _seed(self, of: str) -> Slots:
        """The gradients of a reverse pass from ``of`` before it starts: 1 for ``of``, none for the rest."""
        start = self.program.slot.get(of)
        if start is None:
            raise GraphError(f"node {of!r} was not computed in this run")
        grads: Slots = [None] * self.program.n_slots
        grads[start] = np.ones_like(self.value(of))
        return grads
