"""A faster runner for a compiled :class:`~graphnet.graph.Program`: flat slots, no dicts, no contexts.

:class:`graphnet.graph.Program` runs node by node with dicts keyed by node name and a ``Context`` object per
op: clear, and what ``render`` and the tests read. :class:`FastProgram` runs the same schedule with every
value in a list slot (an int index decided at compile time) and one small closure per op, so the hot loop
makes no per-op dicts or objects. It uses the graph's structure, never node names:

- the core node types (matmul, add, sigmoid, squared_error, sum) get inlined kernels; any other node type
  (new cells, user modules) runs through its own ``forward``/``backward`` with a ``Context``, so every graph
  is run correctly;
- gradients nobody needs (inputs, targets, constants) are never computed;
- with a batch of more than one example, the gradient of a weight used by many matmuls (one per time step)
  is one product over all steps, ``concat(a).T @ concat(grad)``, instead of a sum of per-step products.
  That sums in another order, so it is skipped at batch 1, where the run stays bit for bit the node-by-node
  run (and the post's numbers).

Results equal :meth:`graphnet.graph.Program.forward` / :meth:`graphnet.graph.Run.backward` to 1e-12
(``tests/test_compiled.py`` checks it on random graphs).

Examples
--------
>>> import numpy as np
>>> from graphnet.graph import Graph
>>> g = Graph()
>>> x = g.input("x", (None, 2))
>>> w = g.parameter("w", (2, 1))
>>> y = g.apply("matmul", "y", x, w)
>>> loss = g.apply("sum", "loss", y)
>>> fast = FastProgram(g.compile())
>>> run = fast.forward({"x": np.ones((3, 2))}, {"w": np.full((2, 1), 0.5)})
>>> run.values["y"][:, 0]
array([1., 1., 1.])
>>> run.backward()["w"][:, 0]
array([3., 3.])
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from .graph import Program, leaf_values
from . import nodes
from .nodes import Context

Slots = list  # values (or gradients) of one run, indexed by slot


class FastRun:
    """The values of one forward pass of a :class:`FastProgram`; ``backward`` as on :class:`graph.Run`."""

    __slots__ = ("program", "slots", "saved", "batch")

    def __init__(self, program: FastProgram, slots: Slots, saved: Slots, batch: int) -> None:
        self.program, self.slots, self.saved, self.batch = program, slots, saved, batch

    @property
    def values(self) -> dict[str, np.ndarray]:
        """Node values by key (built on demand; the hot loop never needs it)."""
        return {k: self.slots[i] for k, i in self.program.slot.items() if self.slots[i] is not None}

    def value(self, key: str) -> np.ndarray:
        return self.slots[self.program.slot[key]]

    def backward(self, of: str = "loss", *, every_node: bool = False) -> dict[str, np.ndarray]:
        """Gradients of scalar node ``of`` with respect to the program's ``wrt`` (``every_node``: all nodes)."""
        p = self.program
        start = p.slot.get(of)
        if start is None or self.slots[start] is None:
            from .errors import GraphError

            raise GraphError(f"node {of!r} was not computed in this run")
        grads: Slots = [None] * len(p.slot)
        grads[start] = np.ones_like(self.slots[start])
        # Batch > 1: per-step weight products are deferred and summed over time in one product per weight.
        deferred: dict[int, tuple[list, list]] | None = {} if self.batch > 1 and p.fusable else None
        slots, saved = self.slots, self.saved
        for out, backward in p.backward_ops:
            g = grads[out]
            if g is not None:
                backward(g, slots, saved, grads, deferred)
        if deferred:
            for w, (lhs, rhs) in deferred.items():
                total = np.concatenate(lhs).T @ np.concatenate(rhs)
                grads[w] = total if grads[w] is None else grads[w] + total
        if every_node:
            return {k: grads[i] for k, i in p.slot.items() if grads[i] is not None}
        return {k: grads[p.slot[k]] for k in p.wrt if grads[p.slot[k]] is not None}


class FastProgram:
    """``program`` compiled to slot-indexed closures: same ``forward(feeds, params)`` and run ``backward``."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.wrt = program.wrt
        self.slot: dict[str, int] = {}
        for key, *_ in program.leaves:
            self.slot[key] = len(self.slot)
        for step in program.steps:
            self.slot[step.key] = len(self.slot)
        self.forward_ops: list[Callable] = []
        self.backward_ops: list[tuple[int, Callable]] = []
        wrt_params = {self.slot[k] for k, op, *_ in program.leaves if op == "parameter" and k in set(program.wrt)}
        # Weights that feed, as right-hand operand, more than one matmul: their gradient can be one product.
        uses: dict[int, int] = {}
        for step in program.steps:
            if type(step.node) is nodes.MatMul and step.needs[1] and self.slot[step.args[1]] in wrt_params:
                uses[self.slot[step.args[1]]] = uses.get(self.slot[step.args[1]], 0) + 1
        self.fusable = {w for w, n in uses.items() if n > 1}
        for index, step in enumerate(program.steps):
            make = _KERNELS.get(type(step.node), _generic)
            fwd, bwd = make(self, index, step)
            self.forward_ops.append(fwd)
            if bwd is not None and any(step.needs):
                self.backward_ops.append((self.slot[step.key], bwd))
        self.backward_ops.reverse()

    def forward(self, feeds: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray]) -> FastRun:
        """Run every op on ``feeds`` (inputs) and ``params`` (weights), as :meth:`graph.Program.forward`."""
        slots: Slots = [None] * len(self.slot)
        saved: Slots = [None] * len(self.forward_ops)
        # Leaves come first in slot order, in the program's leaf order.
        slots[: len(self.program.leaves)] = leaf_values(self.program.leaves, feeds, params)
        batch = next(iter(feeds.values())).shape[0] if feeds else 1
        # One errstate for the whole pass: the sigmoid's exp may overflow to inf, which still gives 0.0.
        with np.errstate(over="ignore"):
            for op in self.forward_ops:
                op(slots, saved)
        return FastRun(self, slots, saved, batch)


def _add_grad(grads: Slots, i: int, g: np.ndarray) -> None:
    # Out of place: the same array may be handed to two inputs.
    old = grads[i]
    grads[i] = g if old is None else old + g


# -- kernels: make(program, index, step) -> (forward(slots, saved), backward(g, slots, saved, grads, deferred))
def _matmul(p: FastProgram, index: int, step) -> tuple:
    o, (a, b) = p.slot[step.key], [p.slot[k] for k in step.args]
    need_a, need_b = step.needs
    fused = b in p.fusable

    def forward(slots, saved):
        slots[o] = slots[a] @ slots[b]

    def backward(g, slots, saved, grads, deferred):
        # _add_grad written out inline: this is the hottest function of a training run.
        if need_a:
            ga, old = g @ slots[b].T, grads[a]
            grads[a] = ga if old is None else old + ga
        if need_b:
            if fused and deferred is not None:
                lhs, rhs = deferred.setdefault(b, ([], []))
                lhs.append(slots[a])
                rhs.append(g)
            else:
                gb, old = slots[a].T @ g, grads[b]
                grads[b] = gb if old is None else old + gb

    return forward, backward


def _add(p: FastProgram, index: int, step) -> tuple:
    o, (a, b) = p.slot[step.key], [p.slot[k] for k in step.args]
    need_a, need_b = step.needs

    def forward(slots, saved):
        slots[o] = slots[a] + slots[b]

    def backward(g, slots, saved, grads, deferred):
        if need_a:
            _add_grad(grads, a, g)
        if need_b:
            _add_grad(grads, b, g)

    return forward, backward


def _sigmoid_kernel(p: FastProgram, index: int, step) -> tuple:
    o, x = p.slot[step.key], p.slot[step.args[0]]

    def forward(slots, saved):
        slots[o] = 1.0 / (1.0 + np.exp(-slots[x]))

    def backward(g, slots, saved, grads, deferred):
        y = slots[o]
        # The same expression and order as nodes.Sigmoid.backward: bit for bit the node-by-node run.
        gx, old = g * (y * (1.0 - y)), grads[x]
        grads[x] = gx if old is None else old + gx

    return forward, backward


def _squared_error(p: FastProgram, index: int, step) -> tuple:
    o, (a, b) = p.slot[step.key], [p.slot[k] for k in step.args]
    need_a, need_b = step.needs

    def forward(slots, saved):
        diff = slots[a] - slots[b]
        saved[index] = diff
        # (diff * diff).sum() is np.sum's own reduction without its Python wrapper: the same number.
        slots[o] = np.asarray(0.5 * (diff * diff).sum() / diff.shape[0])

    def backward(g, slots, saved, grads, deferred):
        diff = saved[index]
        d = g * diff / diff.shape[0]
        if need_a:
            _add_grad(grads, a, d)
        if need_b:
            _add_grad(grads, b, -d)

    return forward, backward


def _sum(p: FastProgram, index: int, step) -> tuple:
    o, args = p.slot[step.key], [p.slot[k] for k in step.args]
    needs = [i for i, n in zip(args, step.needs) if n]

    def forward(slots, saved):
        total = slots[args[0]]
        for i in args[1:]:
            total = total + slots[i]
        slots[o] = total

    def backward(g, slots, saved, grads, deferred):
        for i in needs:
            _add_grad(grads, i, g)

    return forward, backward


def _generic(p: FastProgram, index: int, step) -> tuple:
    """Any other node type: its own forward and backward, with a Context, exactly as the node-by-node run."""
    o, args, node, needs = p.slot[step.key], [p.slot[k] for k in step.args], step.node, step.needs

    def forward(slots, saved):
        ctx = Context(needs, step.attrs)
        slots[o] = node.forward(ctx, *[slots[i] for i in args])
        saved[index] = ctx

    def backward(g, slots, saved, grads, deferred):
        input_grads = node.backward(saved[index], g)
        if len(input_grads) != len(args):
            from .errors import GraphError

            raise GraphError(
                f"{node.name}.backward at node {step.key!r} returned {len(input_grads)} gradients "
                f"for {len(args)} inputs"
            )
        for i, needed, gi in zip(args, needs, input_grads):
            if needed and gi is not None:
                if np.shape(gi) != np.shape(slots[i]):
                    from .errors import GraphError

                    raise GraphError(
                        f"{node.name}.backward at node {step.key!r} returned a gradient of shape "
                        f"{np.shape(gi)} for an input of shape {np.shape(slots[i])}"
                    )
                _add_grad(grads, i, gi)

    return forward, backward


# Inlined kernels for the core node types, keyed by class. They must compute exactly what the
# node types in nodes.py compute; tests/test_compiled.py checks that against the node-by-node run. Keyed by
# class, not name, so a different node type registered elsewhere never picks up a kernel that is not its own.
_KERNELS: dict[type, Callable] = {
    nodes.MatMul: _matmul,
    nodes.Add: _add,
    nodes.Sigmoid: _sigmoid_kernel,
    nodes.SquaredError: _squared_error,
    nodes.Sum: _sum,
}


def fast(program: Program) -> FastProgram:
    """The :class:`FastProgram` of ``program``, built once and kept on it."""
    cached = program.__dict__.get("_fast")
    if cached is None:
        cached = program.__dict__["_fast"] = FastProgram(program)
    return cached
