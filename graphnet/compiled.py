"""A faster runner for a compiled :class:`~graphnet.graph.Program`: flat slots, no dicts, no contexts.

:class:`graphnet.graph.Program` runs node by node with dicts keyed by node name and a ``Context`` object per
op: clear, and what ``render`` and the tests read. :class:`FastProgram` runs the same schedule with every
value in a list slot (an int index decided at compile time) and one small closure per op, so the hot loop
makes no per-op dicts or objects. It uses the graph's structure, never node names:

- the core node types (matmul, add, sigmoid, squared_error, sum) get inlined kernels; any other node type
  (new cells, user modules) runs through its own ``forward``/``backward`` with a ``Context``, so every graph
  is run correctly;
- gradients nobody needs (inputs, targets, constants) are never computed;
- time stacking (:mod:`graphnet.stacking` finds the groups, :mod:`graphnet.stacked` runs them): ops of one
  node type that do not depend on each other (every step's input projection; after the recurrence, every
  step's output projection, output sigmoid and loss term) run as one op on operands stacked along a leading
  member axis. A group member that some op reads node by node gets its row in its own slot at every forward;
  the others are only taken from the stack when asked (``FastRun.value``, ``values``);
- a weight used only as the right operand of matmuls gets its gradient once the pass is done, from the
  products of all its uses: at batch 1 each product as the node-by-node run makes it, added in that run's
  order; with more examples, one product over all steps, ``concat(a).T @ concat(grad)``, which adds in
  another order.

Every stacked kernel computes each member's numbers as that member alone would be computed. The post's
network is run bit for bit as node by node at batch 1 (so the post's numbers); with more examples, all but the
weight gradients are, and those equal it to about 1e-15. On any graph, results equal the node-by-node run to
1e-12 (a node read by three or more ops may get its gradient terms added in another order).
``tests/test_compiled.py`` checks it on random graphs, the post's network and gated cells.
``FastProgram(program, stack=False)`` runs without stacking, as do batches of more than ``STACK_ROWS``.

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

from . import nodes, stacked, stacking
from .graph import Program, gc_paused, leaf_values
from .nodes import Context
from .stacked import Backward, GroupPlan, add_grad as _add_grad

Slots = list  # values (or gradients) of one run, indexed by slot

# Stacking saves numpy calls (about 1 µs each) but copies operands into stacks. With more examples per batch
# than this, the copies cost more than the calls saved (measured on the post's network: 1.3x faster at batch
# 1 to 192, 0.8x at 256 and 0.7x at 1024), so bigger batches run node by node.
STACK_ROWS = 128


class FastRun:
    """The values of one forward pass of a :class:`FastProgram`; ``backward`` as on :class:`graph.Run`."""

    __slots__ = ("program", "slots", "saved", "batch")

    def __init__(self, program: FastProgram, slots: Slots, saved: Slots, batch: int) -> None:
        self.program, self.slots, self.saved, self.batch = program, slots, saved, batch

    @property
    def values(self) -> dict[str, np.ndarray]:
        """Node values by key (built on demand; the hot loop never needs it)."""
        slots = self.slots
        for i in self.program.member_of:
            self._slot(i)
        return {k: slots[i] for k, i in self.program.slot.items() if slots[i] is not None}

    def _slot(self, i: int) -> np.ndarray | None:
        # A group member nobody reads node by node is only in its group's stack: take its row when asked.
        value = self.slots[i]
        if value is None and i in self.program.member_of:
            stack, row = self.program.member_of[i]
            if self.slots[stack] is not None:
                value = self.slots[i] = self.slots[stack][row, ...]
        return value

    def value(self, key: str) -> np.ndarray:
        """The value of node ``key`` in this run."""
        return self._slot(self.program.slot[key])

    def backward(self, of: str = "loss", *, every_node: bool = False) -> dict[str, np.ndarray]:
        """Gradients of scalar node ``of`` with respect to the program's ``wrt`` (``every_node``: all nodes)."""
        p = self.program
        start = p.slot.get(of)
        if start is None or self._slot(start) is None:
            from .errors import GraphError

            raise GraphError(f"node {of!r} was not computed in this run")
        grads: Slots = [None] * len(self.slots)
        grads[start] = np.ones_like(self.slots[start])
        state = Backward(exact=self.batch == 1)
        slots, saved = self.slots, self.saved
        for out, backward in p.backward_ops:
            if out is None:  # a group: it gathers its members' gradients itself
                backward(None, slots, saved, grads, state)
            else:
                g = grads[out]
                if g is not None:
                    backward(g, slots, saved, grads, state)
        for w, (where, lhs, grad) in state.deferred.items():
            _add_grad(grads, w, stacked.weight_gradient(where, lhs, grad, state.exact))
        if every_node:
            for plan in p.plans:  # members whose gradient was handed on as one stack
                g, mask = grads[plan.stack], state.masks.get(plan.stack)
                if g is not None:
                    for row, s in enumerate(plan.slots):
                        if grads[s] is None and (mask is None or mask[row]):
                            grads[s] = g[row, ...]
            return {k: grads[i] for k, i in p.slot.items() if grads[i] is not None}
        return {k: grads[p.slot[k]] for k in p.wrt if grads[p.slot[k]] is not None}


class FastProgram:
    """``program`` compiled to slot-indexed closures: same ``forward(feeds, params)`` and run ``backward``.

    With ``stack`` (the default), the groups :func:`graphnet.stacking.find_groups` finds run as one op each.
    """

    def __init__(self, program: Program, *, stack: bool = True) -> None:
        self.program = program
        self.wrt = program.wrt
        self._plain: FastProgram | None = None  # the same program without stacking, for big batches
        groups, order = stacking.plan(program) if stack else ([], [("step", i) for i in range(len(program.steps))])
        self.slot = _slots(program, groups)
        self._weights = [(self.slot[k], k) for k, op, *_ in program.leaves if op == "parameter"]
        self._inputs = [
            (self.slot[k], k if op == "input" else None, fill, shape)  # constants are never fed
            for k, op, shape, fill in program.leaves
            if op != "parameter"
        ]
        self.n_slots = len(self.slot) + len(groups)  # then one slot per group for its stack
        self.exclusive = _exclusive_weights(program, self.slot)
        self.plans = [self._plan(g, members) for g, members in enumerate(groups)]
        self.member_of = {s: (plan.stack, row) for plan in self.plans for row, s in enumerate(plan.slots)}
        sums = self._route(groups)
        self.forward_ops: list[Callable] = []
        self.backward_ops: list[tuple[int | None, Callable]] = []
        for kind, i in order:
            if kind == "group":
                make = stacked.kernel(type(self.plans[i].node))
                fwd, bwd = make(self.plans[i], len(program.steps) + i, self.exclusive)
                self.forward_ops.append(fwd)
                if any(self.plans[i].needs):
                    self.backward_ops.append((None, bwd))
                continue
            step = program.steps[i]
            make = _chained_sum(sums[i]) if i in sums else _KERNELS.get(type(step.node), _generic)
            fwd, bwd = make(self, i, step)
            self.forward_ops.append(fwd)
            if bwd is not None and any(step.needs):
                self.backward_ops.append((self.slot[step.key], bwd))
        self.backward_ops.reverse()
        self.n_saved = len(program.steps) + len(groups)

    def _plan(self, g: int, members: list[int]) -> GroupPlan:
        steps = self.program.steps
        first = steps[members[0]]
        return GroupPlan(members, [self.slot[steps[i].key] for i in members], len(self.slot) + g, first.node, first)

    def _route(self, groups: list[list[int]]) -> dict[int, tuple]:
        """Decide every group's operand sources and gradient routes and which members are read node by node.

        Returns the sums that add up a whole group's outputs: step index -> (plan, whether the sum is all that
        reads those outputs, so their gradient can be handed on as one stack).
        """
        steps, slot = self.program.steps, self.slot
        by_members = {tuple(steps[i].key for i in plan.members): plan for plan in self.plans}
        group_of = {i: g for g, members in enumerate(groups) for i in members}
        readers: dict[str, list[tuple[int, int]]] = {}  # key -> (reading step, operand position)
        for i, step in enumerate(steps):
            for p, a in enumerate(step.args):
                readers.setdefault(a, []).append((i, p))
        for plan in self.plans:
            for p, shared in enumerate(_positions(plan)):
                keys = tuple(steps[i].args[p] for i in plan.members)
                if shared:
                    plan.sources.append(("shared", slot[keys[0]]))
                    plan.routes.append(("shared", slot[keys[0]]))
                    continue
                producer = by_members.get(keys)
                plan.sources.append(("stack", producer.stack) if producer else ("gather", [slot[k] for k in keys]))
                # Hand the gradient on as one stack when each operand's only reader is its member, here.
                sole = producer is not None and all(len(readers[k]) == 1 for k in keys)
                plan.routes.append(("stack", producer.stack) if sole else ("scatter", [slot[k] for k in keys]))
        sums: dict[int, tuple] = {}
        for i, step in enumerate(steps):
            plan = by_members.get(step.args) if type(step.node) is nodes.Sum and i not in group_of else None
            if plan is not None:
                sums[i] = (plan, all(len(readers[k]) == 1 for k in step.args))

        def reads_the_stack(i: int, p: int, plan: GroupPlan) -> bool:
            if i in group_of:
                return self.plans[group_of[i]].sources[p] == ("stack", plan.stack)
            return i in sums and sums[i][0] is plan

        # A member some op reads node by node is written to its own slot at every forward; the others are
        # taken from the stack only when asked (FastRun.value).
        for plan in self.plans:
            for row, i in enumerate(plan.members):
                key = steps[i].key
                if not all(reads_the_stack(r, p, plan) for r, p in readers.get(key, ())):
                    plan.eager.append((row, slot[key]))
            plan.eager_all = len(plan.eager) == len(plan.members)
        return sums

    def forward(self, feeds: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray]) -> FastRun:
        """Run every op on ``feeds`` (inputs) and ``params`` (weights), as :meth:`graph.Program.forward`."""
        batch = next(iter(feeds.values())).shape[0] if feeds else 1
        if batch > STACK_ROWS and self.plans:
            return self._unstacked().forward(feeds, params)
        slots: Slots = [None] * self.n_slots
        saved: Slots = [None] * self.n_saved
        self._leaves(slots, feeds, params, batch)
        # One errstate for the whole pass: the sigmoid's exp may overflow to inf, which still gives 0.0.
        with np.errstate(over="ignore"):
            for op in self.forward_ops:
                op(slots, saved)
        return FastRun(self, slots, saved, batch)


    def _unstacked(self) -> FastProgram:
        # Built on first use: only runs with big batches need it.
        if self._plain is None:
            self._plain = fast(self.program, batch=STACK_ROWS + 1)
        return self._plain

    def _leaves(self, slots: Slots, feeds: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray], batch: int):
        # graph.leaf_values, unrolled for the hot loop; it still words the error when a value is missing.
        try:
            for i, key in self._weights:
                slots[i] = params[key]
            for i, key, fill, shape in self._inputs:
                value = feeds.get(key) if key is not None else None
                if value is None:
                    value = np.full(tuple(batch if d is None else d for d in shape), fill) if fill is not None else feeds[key]
                slots[i] = value
        except KeyError:
            slots[: len(self.program.leaves)] = leaf_values(self.program.leaves, feeds, params)


def _slots(program: Program, groups: list[list[int]]) -> dict[str, int]:
    """Slot numbers: leaves first, in the program's order; a group's members side by side, so that their rows
    are written (and their gradients read) as one slice of the slot list. Keys stay in schedule order."""
    number: dict[str, int] = {key: i for i, (key, *_) in enumerate(program.leaves)}
    group_of = {i: members for members in groups for i in members}
    for i, step in enumerate(program.steps):
        if step.key not in number:
            for m in group_of.get(i, (i,)):
                number[program.steps[m].key] = len(number)
    return {key: number[key] for key in [k for k, *_ in program.leaves] + [s.key for s in program.steps]}


def _positions(plan: GroupPlan) -> list[bool]:
    """Which operand positions of the group's node type are one shared operand (a matmul's weight)."""
    shared = stacking.STACKABLE[type(plan.node)]
    return [p in shared for p in range(len(plan.needs))]


def _exclusive_weights(program: Program, slot: dict[str, int]) -> set[int]:
    """Weights used only as the right operand of matmuls, more than once: their gradient is summed at the end."""
    wrt, uses, other = set(program.wrt), {}, set()
    for step in program.steps:
        for p, a in enumerate(step.args):
            if a in wrt:
                if type(step.node) is nodes.MatMul and p == 1 and step.args[0] != a:
                    uses[a] = uses.get(a, 0) + 1
                else:
                    other.add(a)
    return {slot[a] for a, n in uses.items() if n > 1 and a not in other}


# -- kernels: make(program, index, step) -> (forward(slots, saved), backward(g, slots, saved, grads, state))
def _matmul(p: FastProgram, index: int, step) -> tuple:
    o, (a, b) = p.slot[step.key], [p.slot[k] for k in step.args]
    need_a, need_b = step.needs
    deferred = b in p.exclusive

    def forward(slots, saved):
        slots[o] = slots[a] @ slots[b]

    def backward(g, slots, saved, grads, state):
        # _add_grad written out inline: this is the hottest function of a training run.
        if need_a:
            ga, old = g @ slots[b].T, grads[a]
            # old + ga, added into ga: a new array of this call's, so no one else holds it (same numbers)
            grads[a] = ga if old is None else np.add(ga, old, out=ga)
        if need_b:
            if deferred:  # summed once the pass is done (stacked.weight_gradient), in this run's order
                state.defer(b, index, slots[a], g)
            else:
                gb, old = slots[a].T @ g, grads[b]
                grads[b] = gb if old is None else old + gb

    return forward, backward


def _chained_sum(found: tuple) -> Callable:
    """A sum of exactly one group's outputs, in order: it adds the rows of the group's stack."""
    plan, sole = found

    def make(p: FastProgram, index: int, step) -> tuple:
        o, stack, members = p.slot[step.key], plan.stack, plan.slots

        def forward(slots, saved):
            # One after another, as nodes.Sum adds them: the same number.
            slots[o] = stacked.ordered_sum(slots[stack])

        def backward(g, slots, saved, grads, state):
            if sole:  # the group's only reader: its gradient is this one, for every member
                full = np.empty((len(members),) + np.shape(g))
                full[...] = g
                grads[stack] = full
            else:
                for i in members:
                    _add_grad(grads, i, g)

        return forward, backward

    return make


def _add(p: FastProgram, index: int, step) -> tuple:
    o, (a, b) = p.slot[step.key], [p.slot[k] for k in step.args]
    need_a, need_b = step.needs

    def forward(slots, saved):
        slots[o] = slots[a] + slots[b]

    def backward(g, slots, saved, grads, state):
        if need_a:
            _add_grad(grads, a, g)
        if need_b:
            _add_grad(grads, b, g)

    return forward, backward


def _sigmoid_kernel(p: FastProgram, index: int, step) -> tuple:
    o, x = p.slot[step.key], p.slot[step.args[0]]

    def forward(slots, saved):
        slots[o] = 1.0 / (1.0 + np.exp(-slots[x]))

    def backward(g, slots, saved, grads, state):
        y = slots[o]
        # nodes.Sigmoid.backward's g * (y * (1.0 - y)), then old + gx, each product and sum the same (the
        # operands of a product or sum swapped give the same number), computed in one new array.
        gx = np.subtract(1.0, y)
        np.multiply(gx, y, out=gx)
        np.multiply(gx, g, out=gx)
        old = grads[x]
        grads[x] = gx if old is None else np.add(gx, old, out=gx)

    return forward, backward


def _squared_error(p: FastProgram, index: int, step) -> tuple:
    o, (a, b) = p.slot[step.key], [p.slot[k] for k in step.args]
    need_a, need_b = step.needs

    def forward(slots, saved):
        diff = slots[a] - slots[b]
        saved[index] = diff
        # (diff * diff).sum() is np.sum's own reduction without its Python wrapper: the same number.
        slots[o] = np.asarray(0.5 * (diff * diff).sum() / diff.shape[0])

    def backward(g, slots, saved, grads, state):
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

    def backward(g, slots, saved, grads, state):
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

    def backward(g, slots, saved, grads, state):
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


def fast(program: Program, *, batch: int | None = None) -> FastProgram:
    """The :class:`FastProgram` of ``program``, built once and kept on it.

    ``batch``: the examples per run, when the caller knows it; above ``STACK_ROWS`` the program is built
    without stacking, which such runs would not use.
    """
    key = "_fast" if batch is None or batch <= STACK_ROWS else "_fast_unstacked"
    cached = program.__dict__.get(key)
    if cached is None:
        with gc_paused():
            cached = program.__dict__[key] = FastProgram(program, stack=key == "_fast")
    return cached
