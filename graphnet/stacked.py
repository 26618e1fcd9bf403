"""Kernels that run a group of ops (found by :mod:`graphnet.stacking`) as one op on stacked operands.

A group's operands are stacked on a new leading member axis: ``(members, batch, ...)``. Every kernel computes
each member's numbers exactly as that member would be computed alone, so a stacked run is bit for bit the
node-by-node run at any batch size:

- a matmul of a stack by the shared weight is numpy's batched matmul, which makes, member by member, the very
  BLAS call a single ``a @ w`` makes (a stack flattened to rows would go through another BLAS routine and round
  differently);
- elementwise node types compute every element on its own;
- squared_error sums each member's rows with numpy's own reduction over a contiguous row, as ``np.sum`` does;
- a shared weight's gradient is the members' products, each as the node-by-node run makes it, added one after
  another in the order that run adds them (see :func:`weight_gradient`).

Examples
--------
>>> import numpy as np
>>> stack = np.arange(6.0).reshape(3, 1, 2)            # three members, batch 1
>>> w = np.ones((2, 2))
>>> bool(np.array_equal((stack @ w)[1], stack[1] @ w))
True
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from . import nodes
from .nodes import Context

Slots = list


class Backward:
    """What one backward call shares between kernels: deferred weight products, masks, the batch size."""

    __slots__ = ("deferred", "masks", "exact")

    def defer(self, w: int, where: int | list[int], lhs: np.ndarray, grad: np.ndarray) -> None:
        """Keep the product ``lhs.T @ grad`` (one matmul's, or a group's stacked) for weight ``w``'s gradient."""
        entry = self.deferred.get(w)
        if entry is None:
            entry = self.deferred[w] = ([], [], [])
        entry[0].append(where)
        entry[1].append(lhs)
        entry[2].append(grad)

    def __init__(self, exact: bool) -> None:
        # weight slot -> ([schedule index or a group's indices], [lhs], [grad]): products summed at the end
        self.deferred: dict[int, tuple[list, list, list]] = {}
        # stack slot -> which members' gradients are real (None: all), for gradients passed as one stack
        self.masks: dict[int, list[bool]] = {}
        self.exact = exact  # sum weight products in the node-by-node order (batch 1) rather than in one product


def add_grad(grads: Slots, i: int, g: np.ndarray) -> None:
    """``grads[i] += g`` out of place: the same array may be handed to two inputs."""
    old = grads[i]
    grads[i] = g if old is None else old + g


class GroupPlan:
    """One group as the fast runner runs it: where its operands come from and its gradients go.

    ``sources[p]`` is ``("shared", slot)``, ``("stack", slot)`` (the stack another group made, same members in
    order) or ``("gather", slots)`` (one slot per member). ``routes[p]`` is ``("stack", slot)`` (this
    position's gradient is all the producing group gets: hand it the stack) or ``("scatter", slots)``.
    """

    def __init__(self, members: list[int], slots: list[int], stack: int, node: nodes.Node, step) -> None:
        self.members, self.slots, self.stack = members, slots, stack
        self.node, self.needs, self.attrs = node, step.needs, step.attrs
        self.sources: list[tuple] = []
        self.routes: list[tuple] = []
        self.eager: list[tuple[int, int]] = []  # (member, slot) written at every forward: read node by node
        self.eager_all = False  # every member is
        self.first = slots[0]
        assert slots == list(range(self.first, self.first + len(slots)))  # FastProgram numbers them so

    def operand(self, p: int) -> Callable[[Slots], np.ndarray]:
        """A function of the slots giving the stacked operand at position ``p``."""
        kind, where = self.sources[p]
        if kind == "gather":
            return lambda slots: np.array([slots[i] for i in where])
        return lambda slots: slots[where]

    def store(self, slots: Slots, out: np.ndarray) -> None:
        slots[self.stack] = out
        if self.eager_all and out.ndim > 1:  # the members' slots are side by side: one slice of row views
            slots[self.first : self.first + len(out)] = out
            return
        for i, s in self.eager:
            slots[s] = out[i, ...]

    def grad(self, slots: Slots, grads: Slots, state: Backward) -> tuple[np.ndarray | None, list | None]:
        """The stacked gradient of the members' outputs and its mask, or (None, None) when none has one."""
        stacked = grads[self.stack]
        if stacked is not None:
            return stacked, state.masks.get(self.stack)
        gs = grads[self.first : self.first + len(self.slots)]
        mask = [g is not None for g in gs]
        if all(mask):
            return np.array(gs), None
        if not any(mask):
            return None, None
        # Members that do not lead to the loss get zeros, and their inputs none (the node-by-node run skips them).
        values = slots[self.stack]
        return np.array([g if g is not None else np.zeros_like(values[i]) for i, g in enumerate(gs)]), mask

    def route(self, p: int, g: np.ndarray, mask: list | None, grads: Slots, state: Backward) -> None:
        """Hand the stacked gradient ``g`` of operand ``p`` to where it goes."""
        kind, where = self.routes[p]
        if kind == "stack":
            grads[where] = g
            if mask is not None:
                state.masks[where] = mask
            return
        for i, s in enumerate(where):
            if mask is None or mask[i]:
                add_grad(grads, s, g[i, ...])


def ordered_sum(stack: np.ndarray) -> np.ndarray:
    """``stack[0] + stack[1] + ...``, added one after another in this order (not pairwise).

    ``np.add.reduce`` over the leading axis of a contiguous stack adds whole members one after another; a stack
    of one number per member would be reduced pairwise, so it is accumulated instead.
    """
    if stack.ndim == 1:  # one number per member
        return np.add.accumulate(stack)[-1]
    if len(stack) == 1:
        return stack[0]
    if stack[0].size <= 1:
        return np.add.accumulate(stack.reshape(len(stack)), axis=0)[-1].reshape(stack.shape[1:])
    return np.add.reduce(np.ascontiguousarray(stack), axis=0)


def weight_gradient(where: list, lhs: list[np.ndarray], grad: list[np.ndarray], exact: bool) -> np.ndarray:
    """The gradient of a weight every use of which is a matmul's right operand, from its deferred products.

    Entry ``i`` is one matmul's ``lhs[i]`` and ``grad[i]`` (2-D; ``where[i]`` its schedule index) or a group's
    stacks (``where[i]`` the members' indices). ``exact``: every product ``lhs.T @ grad`` as the node-by-node
    run makes it, added in that run's order (the reverse of the schedule), so the sum is bit for bit its sum.
    Otherwise (batches of more than one example) one product of all rows, which adds in another order: equal
    to about 1e-15.
    """
    if not exact:
        if len(lhs) == 1:  # one group: its stacks are already the rows
            return lhs[0].reshape(-1, lhs[0].shape[-1]).T @ grad[0].reshape(-1, grad[0].shape[-1])
        if all(type(i) is int for i in where):  # single matmuls: 2-D already, stacked as they are
            return np.concatenate(lhs).T @ np.concatenate(grad)
        a = np.concatenate([x.reshape(-1, x.shape[-1]) for x in lhs])
        g = np.concatenate([x.reshape(-1, x.shape[-1]) for x in grad])
        return a.T @ g
    singles = all(type(i) is int for i in where)
    if len(lhs) == 1 and not singles:
        a, g = lhs[0][::-1], grad[0][::-1]  # a group's members are in schedule order: add the last one first
    elif singles and where == sorted(where, reverse=True):
        a, g = np.array(lhs), np.array(grad)  # one matmul after another, in the order backward ran them
    else:
        rows = []
        for i, x, y in zip(where, lhs, grad):
            rows.extend([(i, x, y)] if type(i) is int else zip(i, x, y))
        rows.sort(key=lambda row: -row[0])
        a, g = np.array([x for _, x, _ in rows]), np.array([y for _, _, y in rows])
    if a.shape[1] == 1:
        # One row (batch 1): each product a.T @ g is an outer product, one rounding per element, which an
        # elementwise product makes in one call for all members (a batched matmul of this layout is slow).
        products = a.reshape(a.shape[0], -1, 1) * g
    else:
        products = np.matmul(a.transpose(0, 2, 1), g)
    return ordered_sum(products)


def product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for a stack ``a`` and a matrix ``b``, each member's product as ``a[i] @ b`` makes it.

    Where the summed dimension is 1, every element is one rounded product and nothing is added, so any routine
    gives the same numbers; numpy's matmul then takes a slow loop, so ``np.dot`` of the rows makes it.
    """
    if b.shape[0] == 1:
        return np.dot(a.reshape(-1, 1), b).reshape(a.shape[:-1] + b.shape[1:])
    return a @ b


# -- kernels: make(plan, index, exclusive) -> (forward(slots, saved), backward(g, slots, saved, grads, state)) --
def _matmul(plan: GroupPlan, index: int, exclusive: set[int]) -> tuple:
    lhs, w = plan.operand(0), plan.sources[1][1]
    need_a, need_w = plan.needs
    deferred = w in exclusive
    members = plan.members

    def forward(slots, saved):
        a = lhs(slots)
        saved[index] = a
        plan.store(slots, product(a, slots[w]))

    def backward(_, slots, saved, grads, state):
        g, mask = plan.grad(slots, grads, state)
        if g is None:
            return
        a = saved[index]
        if need_a:
            plan.route(0, product(g, slots[w].T), mask, grads, state)
        if need_w:
            if deferred:
                state.defer(w, members, a, g)
            else:  # the weight has other uses too: this group's products, added last member first
                add_grad(grads, w, weight_gradient([members], [a], [g], True))

    return forward, backward


def _sigmoid(plan: GroupPlan, index: int, exclusive: set[int]) -> tuple:
    x = plan.operand(0)

    def forward(slots, saved):
        plan.store(slots, 1.0 / (1.0 + np.exp(-x(slots))))  # as nodes.Sigmoid, inside the pass's errstate

    def backward(_, slots, saved, grads, state):
        g, mask = plan.grad(slots, grads, state)
        if g is not None:
            y = slots[plan.stack]
            plan.route(0, g * (y * (1.0 - y)), mask, grads, state)

    return forward, backward


def _elementwise(plan: GroupPlan, index: int, exclusive: set[int]) -> tuple:
    """Any elementwise node type: its own forward and backward, on the stacks."""
    operands, node, needs, attrs = [plan.operand(p) for p in range(len(plan.sources))], plan.node, plan.needs, plan.attrs

    def forward(slots, saved):
        ctx = Context(needs, attrs)
        plan.store(slots, node.forward(ctx, *[o(slots) for o in operands]))
        saved[index] = ctx

    def backward(_, slots, saved, grads, state):
        g, mask = plan.grad(slots, grads, state)
        if g is None:
            return
        for p, gp in enumerate(node.backward(saved[index], g)):
            if needs[p] and gp is not None:
                plan.route(p, gp, mask, grads, state)

    return forward, backward


def _squared_error(plan: GroupPlan, index: int, exclusive: set[int]) -> tuple:
    prediction, target = plan.operand(0), plan.operand(1)
    need_p, need_t = plan.needs

    def forward(slots, saved):
        diff = prediction(slots) - target(slots)
        saved[index] = diff
        # Each member's rows summed as np.sum sums one member's array: one contiguous row of the stack.
        per_member = np.add.reduce((diff * diff).reshape(len(diff), -1), axis=1)
        plan.store(slots, 0.5 * per_member / diff.shape[1])

    def backward(_, slots, saved, grads, state):
        g, mask = plan.grad(slots, grads, state)
        if g is None:
            return
        diff = saved[index]
        d = g.reshape(g.shape + (1,) * (diff.ndim - g.ndim)) * diff / diff.shape[1]
        if need_p:
            plan.route(0, d, mask, grads, state)
        if need_t:
            plan.route(1, -d, mask, grads, state)

    return forward, backward


def kernel(node_type: type) -> Callable:
    """The stacked kernel factory for ``node_type`` (one of :data:`graphnet.stacking.STACKABLE`)."""
    if node_type is nodes.MatMul:
        return _matmul
    if node_type is nodes.Sigmoid:
        return _sigmoid
    if node_type is nodes.SquaredError:
        return _squared_error
    return _elementwise
