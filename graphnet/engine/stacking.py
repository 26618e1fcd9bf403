"""Time stacking: ops that can run as one call of their node type's own methods, found from structure alone.

An unrolled network repeats the same op once per time step. Where those copies do not depend on each other
(the input projection ``x[t] @ synapse_0`` of every step; after the recurrence, the output projection, the
output sigmoid and the loss of every step), a :class:`~graphnet.engine.program.Program` runs them as a :class:`Group`:
one call of the node type's ``forward`` and ``backward`` on their operands stacked along a new leading *member*
axis ``(members, batch, ...)``, each member's row handed back to it. Far fewer numpy calls, the same numbers.

A node type says whether its methods may be called so, and how, with its ``stacking`` rule
(:class:`graphnet.engine.node.Stacking`); one without a rule runs op by op. A *group* is a set of ops that

- have the same node type, settings, operand shapes and gradient needs, and the same operand at every
  *shared* position of the rule (a matmul's weight, which must have no batch dimension);
- have no path between any two of them: all lie at the same depth (longest path from the leaves) or all at
  the same height (longest path to an output), and a path strictly changes both;
- keep the schedule a DAG once every group is contracted to one op (checked, groups that break it dropped).

This module reads the ops' node types, settings, operand keys and shapes, never node names, time steps or the
cell type.

Examples
--------
>>> from graphnet import Network, get_cell
>>> net = Network(get_cell("rnn"), inputs=2, hidden=4, outputs=1)
>>> program = net.graph(3).compile()
>>> [group.keys for group in program.groups]  # doctest: +NORMALIZE_WHITESPACE
[['x_synapse_0[0]', 'x_synapse_0[1]', 'x_synapse_0[2]'],
 ['h_synapse_1[0]', 'h_synapse_1[1]', 'h_synapse_1[2]'],
 ['y_hat[0]', 'y_hat[1]', 'y_hat[2]'],
 ['loss[0]', 'loss[1]', 'loss[2]']]
"""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import networkx as nx
import numpy as np

from ..errors import GraphError
from .node import Context

if TYPE_CHECKING:
    from .graph import Graph
    from .program import Op, Slots


# -- finding the groups -----------------------------------------------------------------------------------------
def plan(graph: Graph, ops: Sequence[Op]) -> tuple[list[list[int]], list[list[int]]]:
    """The groups of ``ops`` (indices, in schedule order) and the order to run everything in.

    The order is a list of units, each a group or a single op (a list of one index), in a topological order
    of the ops with every group contracted to one unit (see :func:`schedule`).
    """
    levels = _levels(ops)
    groups = find_groups(graph, ops, levels)
    order = schedule(levels[2], groups)
    assert order is not None  # find_groups keeps only groups that leave a DAG
    return groups, order


def _signature(op: Op, shapes: Mapping[str, tuple]) -> tuple | None:
    """What members of one group must share, or None when the op's node type has no stacking rule."""
    rule = op.node.stacking
    if rule is None:
        return None
    if any(p >= len(op.args) or None in shapes[op.args[p]] for p in rule.shared):
        return None  # a shared operand must be there and be a weight, not batch data
    return (
        type(op.node),
        repr(sorted(op.attrs.items())) if op.attrs else "",
        op.needs,
        tuple(shapes[a] for a in op.args),
        tuple(op.args[p] for p in rule.shared),
    )


def _levels(ops: Sequence[Op]) -> tuple[list[int], list[int], list[list[int]]]:
    """Depth and height of every op, and the ops that produce each op's operands."""
    where = {op.key: i for i, op in enumerate(ops)}
    producers = [sorted({where[a] for a in op.args if a in where}) for op in ops]
    depth = [0] * len(producers)
    for i, ps in enumerate(producers):
        depth[i] = 1 + max((depth[p] for p in ps), default=0)
    height = [0] * len(producers)
    for i in reversed(range(len(producers))):
        for p in producers[i]:
            height[p] = max(height[p], height[i] + 1)
    return depth, height, producers


def find_groups(graph: Graph, ops: Sequence[Op], levels: tuple | None = None) -> list[list[int]]:
    """Groups of ``ops`` that can run stacked, each in schedule order, ordered by first member."""
    shapes = {key: tuple(graph.node(key)["shape"]) for op in ops for key in (op.key, *op.args)}
    buckets: dict[tuple, list[int]] = {}
    for i, op in enumerate(ops):
        signature = _signature(op, shapes)
        if signature is not None:
            buckets.setdefault(signature, []).append(i)
    depth, height, producers = levels or _levels(ops)
    groups: list[list[int]] = []
    for members in buckets.values():
        taken: set[int] = set()
        for level in (depth, height):  # same depth (input side) first, then same height (output side)
            by_level: dict[int, list[int]] = {}
            for i in members:
                if i not in taken:
                    by_level.setdefault(level[i], []).append(i)
            for same in by_level.values():
                if len(same) > 1:
                    groups.append(same)
                    taken.update(same)
    groups.sort(key=lambda g: g[0])
    # Contracting groups chosen at equal depth and at equal height together can close a cycle: keep the
    # largest groups that leave the schedule a DAG.
    if schedule(producers, groups) is None:
        kept: list[list[int]] = []
        for group in sorted(groups, key=len, reverse=True):
            if schedule(producers, kept + [group]) is not None:
                kept.append(group)
        groups = sorted(kept, key=lambda g: g[0])
    return groups


def schedule(producers: Sequence[Sequence[int]], groups: Sequence[list[int]]) -> list[list[int]] | None:
    """A topological order of the ops with every group contracted to one unit, or None if there is none.

    Units are lists of op indices (a group's, or one op's); ties go to the unit whose first op comes first in
    the original order, so ops stay near where an op-by-op run has them.
    """
    unit_of = list(range(len(producers)))  # unit id: an op's own index, or len(producers) + group number
    for g, members in enumerate(groups):
        for i in members:
            unit_of[i] = len(producers) + g
    first = {u: i for i, u in reversed(list(enumerate(unit_of)))}
    contracted = nx.DiGraph()
    contracted.add_nodes_from(first)
    contracted.add_edges_from(
        (unit_of[p], unit_of[i]) for i, ps in enumerate(producers) for p in ps if unit_of[p] != unit_of[i]
    )
    try:
        units = list(nx.lexicographical_topological_sort(contracted, key=first.__getitem__))
    except nx.NetworkXUnfeasible:  # a cycle through a group
        return None
    return [[u] if u < len(producers) else list(groups[u - len(producers)]) for u in units]


# -- running a group ----------------------------------------------------------------------------------------------
class Group:
    """Independent ops of one node type, run as one call of its ``forward`` and ``backward`` on stacked operands.

    The members' outputs are one stack ``(members, batch, ...)`` in slot ``stack``; a member that some op reads
    one by one also gets its row in its own slot at every forward (``eager``). At every operand position the
    group reads a weight all members share, the stack another group made (same members, in order), or the
    members' operands gathered into a stack; its gradients go back the same ways.
    """

    def __init__(self, members: list[int], ops: Sequence[Op], slot: Mapping[str, int], stack: int, index: int):
        first = ops[members[0]]
        self.members, self.keys = members, [ops[i].key for i in members]
        self.node, self.needs, self.attrs = first.node, first.needs, first.attrs
        self.shared = first.node.stacking.shared
        self.outs = [slot[key] for key in self.keys]  # side by side: Program numbers them so
        self.first, self.size = self.outs[0], len(self.outs)
        if self.outs != list(range(self.first, self.first + self.size)):
            raise GraphError(f"group {self.keys[0]!r}...: its members' slots are not side by side")
        self.stack, self.index = stack, index
        # Filled by route(): per operand position, where the operand comes from and where its gradient goes.
        self.sources: list[tuple[str, int]] = []  # ("shared" | "stack", slot) or ("gather", -1)
        self.operand_slots: list[list[int]] = []  # each member's operand slot, per position
        self.routes: list[str] = []  # "shared", "stack" (hand the producer its stack's gradient) or "scatter"
        self.reads: list[Callable[[Slots], np.ndarray]] = []
        self.eager: set[int] = set()

    def forward(self, slots: Slots, saved: list) -> None:
        ctx = Context(self.needs, self.attrs)
        reads = self.reads
        operands = (reads[0](slots), reads[1](slots)) if len(reads) == 2 else [read(slots) for read in reads]
        out = self.node.forward(ctx, *operands)
        slots[self.stack] = out
        if len(self.eager) == self.size and out.ndim > 1:  # every row at once, as views
            slots[self.first : self.first + self.size] = out
        else:
            for i in self.eager:
                slots[i] = out[i - self.first, ...]
        saved[self.index] = ctx

    def backward(self, slots: Slots, saved: list, grads: Slots) -> None:
        grad, mask = grads[self.stack], None
        if grad is None:  # the members' gradients came one by one
            grad, mask = self._gather(slots, grads)
            if grad is None:
                return
        input_grads = self.node.backward(saved[self.index], grad)
        if len(input_grads) != len(self.sources):
            raise GraphError(f"{self.node.name}.backward at nodes {self.keys[0]!r}... returned "
                             f"{len(input_grads)} gradients for {len(self.sources)} inputs")
        for p, g in enumerate(input_grads):
            if not self.needs[p] or g is None:
                continue
            self._check(p, g, slots)
            route, where = self.routes[p], self.sources[p][1]
            if route == "shared":
                # Each member's gradient of the weight, added as the op-by-op reverse pass adds them: last first.
                total = sum_in_order(g[::-1] if mask is None else g[mask][::-1])
                old = grads[where]
                grads[where] = total if old is None else old + total
            elif route == "stack" and mask is None:  # this group is all that reads those members
                grads[where] = g
            else:
                for row, i in enumerate(self.operand_slots[p]):
                    if mask is None or mask[row]:
                        old = grads[i]
                        grads[i] = g[row] if old is None else old + g[row]

    def _gather(self, slots: Slots, grads: Slots) -> tuple[np.ndarray | None, list[bool] | None]:
        """The members' gradients as one stack, and which members have one (None: all)."""
        member_grads = grads[self.first : self.first + self.size]
        missing = sum(g is None for g in member_grads)
        if not missing:
            return np.array(member_grads), None
        if missing == self.size:
            return None, None
        present = [g is not None for g in member_grads]
        # Members that do not lead to what is differentiated get zeros, and their inputs nothing (as op by op).
        zeros = np.zeros(slots[self.stack].shape[1:])
        return np.array([g if g is not None else zeros for g in member_grads]), present

    def _check(self, p: int, g, slots: Slots) -> None:
        """Refuse a gradient for input ``p`` not shaped like that input's stack (or the shared input, per member)."""
        kind, where = self.sources[p]
        operand = slots[where if kind != "gather" else self.operand_slots[p][0]]
        expected = operand.shape if kind == "stack" else (self.size, *operand.shape)
        if getattr(g, "shape", None) != expected:
            raise GraphError(f"{self.node.name}.backward at nodes {self.keys[0]!r}... (run stacked, "
                             f"{self.size} at once) returned a gradient of shape {np.shape(g)} for input {p}, "
                             f"expected {expected}: see graphnet.Stacking")

    def unstack_grads(self, grads: Slots) -> None:
        """Give every member its row of a gradient that was handed to the group as one stack."""
        g = grads[self.stack]
        if g is not None:
            for row, i in enumerate(self.outs):
                if grads[i] is None:
                    grads[i] = g[row]


class ReadsGroup:
    """An op of any number of inputs that is all that reads a group's members, and reads all of them, in order
    (the total of every step's loss): it takes them as the rows of the group's stack, and hands their gradients
    back as one stack."""

    __slots__ = ("key", "node", "args", "needs", "attrs", "out", "index", "group")

    def __init__(self, op: Op, group: Group) -> None:
        self.key, self.node, self.args, self.needs, self.attrs = op.key, op.node, op.args, op.needs, op.attrs
        self.out, self.index, self.group = op.out, op.index, group

    def forward(self, slots: Slots, saved: list) -> None:
        ctx = Context(self.needs, self.attrs)
        slots[self.out] = self.node.forward(ctx, *slots[self.group.stack])
        saved[self.index] = ctx

    def backward(self, slots: Slots, saved: list, grads: Slots) -> None:
        grad = grads[self.out]
        if grad is None:
            return
        input_grads = self.node.backward(saved[self.index], grad)
        stack = slots[self.group.stack]
        if len(input_grads) != len(stack):
            raise GraphError(f"{self.node.name}.backward at node {self.key!r} returned {len(input_grads)} "
                             f"gradients for {len(stack)} inputs")
        # A gradient nobody gave (None) is a zero one here: the rows travel as one stack.
        g = np.array([np.zeros(stack.shape[1:]) if gi is None else gi for gi in input_grads])
        if g.shape != stack.shape:
            raise GraphError(f"{self.node.name}.backward at node {self.key!r} returned gradients of shapes "
                             f"{[np.shape(gi) for gi in input_grads]} for inputs of shape {stack.shape[1:]}")
        grads[self.group.stack] = g


def route(groups: Sequence[Group], ops: list[Op | ReadsGroup]) -> None:
    """Decide, for every group, where each operand comes from and where its gradient goes, and which members
    are written to their own slots at every forward (those some op reads one by one). An op that is all that
    reads a group, and reads all of it in order, is replaced in ``ops`` by a :class:`ReadsGroup`."""
    readers: dict[str, list[tuple[int, int]]] = {}  # key -> (reading op, operand position)
    for i, op in enumerate(ops):
        for p, a in enumerate(op.args):
            readers.setdefault(a, []).append((i, p))
    by_keys = {tuple(group.keys): group for group in groups}
    group_of = {i: group for group in groups for i in group.members}
    for i, op in enumerate(ops):
        group = by_keys.get(op.args)
        if i not in group_of and group is not None and all(len(readers[k]) == 1 for k in op.args):
            ops[i] = ReadsGroup(op, group)
    for group in groups:
        for p in range(len(group.needs)):
            keys = tuple(ops[i].args[p] for i in group.members)
            group.operand_slots.append([ops[i].inputs[p] for i in group.members])
            producer = by_keys.get(keys)
            if p in group.shared:
                group.sources.append(("shared", ops[group.members[0]].inputs[p]))
                group.routes.append("shared")
                group.reads.append(_read(ops[group.members[0]].inputs[p]))
            elif producer is not None:
                group.sources.append(("stack", producer.stack))
                # Hand the gradient on as one stack when each operand's only reader is its member, here.
                group.routes.append("stack" if all(len(readers[k]) == 1 for k in keys) else "scatter")
                group.reads.append(_read(producer.stack))
            else:
                group.sources.append(("gather", -1))
                group.routes.append("scatter")
                group.reads.append(_gather(group.operand_slots[p]))
    for group in groups:
        for row, i in enumerate(group.members):
            for r, p in readers.get(ops[i].key, ()):
                reader = group_of.get(r)
                reads_stack = isinstance(ops[r], ReadsGroup) if reader is None else \
                    reader.sources[p] == ("stack", group.stack)
                if not reads_stack:
                    group.eager.add(group.outs[row])


def _read(i: int) -> Callable[[Slots], np.ndarray]:
    return itemgetter(i)


def _gather(where: list[int]) -> Callable[[Slots], np.ndarray]:
    def read(slots: Slots) -> np.ndarray:
        return np.array([slots[i] for i in where])

    return read


def sum_in_order(stack: np.ndarray) -> np.ndarray:
    """``stack[0] + stack[1] + ...``, added one after another in this order.

    ``np.add.accumulate`` adds each row to the running total, in order, whatever the shape; ``np.add.reduce``
    may add eight rows pairwise, so its sum can differ in the last bit from adding them op by op.
    """
    return stack[0] if len(stack) == 1 else np.add.accumulate(stack, axis=0)[-1]
