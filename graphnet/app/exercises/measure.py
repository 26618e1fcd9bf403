"""What is wrong with a learner's node type, measured: its numbers held against graphnet's own node type's.

Nothing here reads the learner's source. Each measure runs the learner's ``forward`` and ``backward`` on random
float64 inputs and compares what comes back with the right numbers: their shape, a constant ratio (-1 is a
sign, 1/batch a mean where a sum is meant), a transpose, another input's gradient, and the numbers a typical
mistake would give (``grad`` alone where ``grad * y * (1 - y)`` is meant). The first measure that fits names
the fault.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ...engine.gradcheck import check_node
from ...engine.node import Context, Node

class Structural(str):
    """A fault that stops the node type from running as node types must (it raises, returns no tuple, saves
    nothing): nothing in a network can be measured until it is mended."""


BATCH, WIDTH, MEMBERS = 3, 4, 5  # distinct, so that a factor of one is not taken for another


def same(mine, right) -> bool:
    """Whether two arrays are the same numbers up to rounding."""
    mine, right = np.asarray(mine, dtype=np.float64), np.asarray(right, dtype=np.float64)
    if mine.shape != right.shape or not np.all(np.isfinite(mine)):
        return False
    return bool(np.allclose(mine, right, rtol=1e-7, atol=1e-12 * (1 + np.max(np.abs(right), initial=0.0))))


def _factor(mine: np.ndarray, right: np.ndarray) -> float | None:
    """The constant c with mine = c * right, if there is one (and right is not all 0)."""
    mine, right = np.asarray(mine, dtype=np.float64), np.asarray(right, dtype=np.float64)
    if mine.shape != right.shape or not np.any(right):
        return None
    c = float(np.sum(mine * right) / np.sum(right * right))
    return c if same(mine, c * right) else None


def factor_words(c: float, *, batch: int = BATCH, width: int = WIDTH) -> str:
    """What a constant factor c between a gradient and the right one says."""
    named = {-1.0: "the sign is flipped: it is -1 times the right gradient",
             0.0: "it is 0 everywhere",
             2.0: "it is twice the right gradient",
             0.5: "it is half the right gradient",
             float(batch): f"it is {batch} times the right gradient, the batch size: not divided by the batch size "
                           "(the loss is averaged over the batch)",
             1.0 / batch: f"it is 1/{batch} of the right gradient: divided by the batch size ({batch}), a mean where "
                          "a sum over the batch is meant",
             1.0 / width: f"it is 1/{width} of the right gradient: divided by the width ({width}), a mean where a sum "
                          "is meant",
             -float(batch): f"the sign is flipped and it is not divided by the batch size ({batch})"}
    for value, words in named.items():
        if abs(c - value) <= 1e-9 * max(1.0, abs(value)):
            return words
    return f"it is {c:.4g} times the right gradient"


# The numbers typical mistakes give, per node type graphnet's own stands in for: name -> [(input, numbers from
# (inputs, output, grad), what the mistake is)]. Each is a measure: the learner's gradient is compared with it.
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


TYPICAL: dict[str, list[tuple[int, Callable, str]]] = {
    "sigmoid": [
        (0, lambda i, y, g: g, "off by a factor y(1 - y): it hands grad back as it came, without the derivative "
                                 "of the sigmoid"),
        (0, lambda i, y, g: g * i[0] * (1 - i[0]), "x is used where sigmoid(x) is meant: it gives grad * x(1 - x), "
                                                     "the derivative is y(1 - y) with y = sigmoid(x), the output"),
        (0, lambda i, y, g: g * _sigmoid(y) * (1 - _sigmoid(y)), "the sigmoid is applied twice: it gives grad * "
                                                                  "s(y)(1 - s(y)) of the output y; y(1 - y) is meant"),
        (0, lambda i, y, g: g * y, "off by a factor (1 - y): it gives grad * y, the derivative is y(1 - y)"),
        (0, lambda i, y, g: g * (1 - y), "off by a factor y: it gives grad * (1 - y), the derivative is y(1 - y)"),
        (0, lambda i, y, g: g * y * (1 + y), "a sign inside: it gives grad * y(1 + y), the derivative is y(1 - y)"),
    ],
    "matmul": [
        (0, lambda i, y, g: g @ i[1], "forgotten transpose: the gradient for a is grad @ b.T (b transposed), it gives "
                                      "grad @ b"),
        (1, lambda i, y, g: g.T @ i[0], "the weight's gradient is transposed: it gives grad.T @ a, shape (m, n) read "
                                        "as (n, m); a.T @ grad is meant"),
    ],
    "add": [
        (0, lambda i, y, g: g / 2, "the gradient is split between a and b, half each: each input of a + b gets the "
                                   "whole gradient (a change of a alone changes the sum as much)"),
        (1, lambda i, y, g: g / 2, "the gradient is split between a and b, half each: each input of a + b gets the "
                                   "whole gradient (a change of b alone changes the sum as much)"),
    ],
    "squared_error": [
        (0, lambda i, y, g: g * (i[0] - i[1]), f"not divided by the batch size ({BATCH}): the loss is averaged over "
                                               "the batch, so its gradient is too"),
        (0, lambda i, y, g: g * 2 * (i[0] - i[1]) / i[0].shape[-2], "twice the right gradient: the 0.5 of the loss "
                                                                     "and the 2 of d(d**2)/dd cancel"),
        (0, lambda i, y, g: g * (i[0] - i[1]) / i[0].size, f"divided by every element ({BATCH}x{WIDTH}), a mean over "
                                                           "the widths too, where only the batch is averaged"),
    ],
}


def node_faults(mine: Node, right: Node, label: str) -> list[str]:
    """What is wrong with ``mine``, which stands in for graphnet's ``right`` (``label``: how to name it), as
    sentences; none when it is right: forward, backward, its gradient check and its stacking rule."""
    rng = np.random.RandomState(0)
    inputs = _square(right, right.sample_inputs(rng, BATCH, WIDTH))
    attrs = right.sample_attrs(WIDTH)
    try:
        ctx = Context(attrs=attrs)
        out = mine.forward(ctx, *[v.copy() for v in inputs])
    except Exception as exc:  # noqa: BLE001 - the learner's code may raise anything: that is the finding
        return [Structural(f"{label}.forward raises {type(exc).__name__}: {exc}")]
    right_ctx = Context(attrs=attrs)
    right_out = right.forward(right_ctx, *inputs)
    if not same(out, right_out):
        return [Structural(f"{label}.forward: {_forward_words(out, right_out)}")]
    grad = rng.normal(size=np.shape(right_out))
    right_grads = right.backward(right_ctx, grad)
    try:
        grads = mine.backward(ctx, grad)
    except NotImplementedError:
        return [Structural(f"{label}.backward is not written yet (it raises NotImplementedError)")]
    except Exception as exc:  # noqa: BLE001
        if not ctx.saved:
            return [Structural(f"{label}.forward saves nothing (ctx.saved is empty after it), so backward has nothing "
                               f"to compute from ({type(exc).__name__}: {exc}): call ctx.save(...) in forward")]
        return [Structural(f"{label}.backward raises {type(exc).__name__}: {exc}")]
    if not isinstance(grads, (tuple, list)):
        return [Structural(f"{label}.backward returns {type(grads).__name__}, not a tuple of one gradient per input: "
                f"return (gradient,) for one input, (ga, gb) for two")]
    if len(grads) != len(inputs):
        return [Structural(f"{label}.backward returns {len(grads)} gradients for its {len(inputs)} inputs: one per input")]
    faults = []
    ones_ctx = Context(attrs=attrs)
    right.forward(ones_ctx, *inputs)
    derivative = right.backward(ones_ctx, np.ones_like(grad))  # what a backward that ignores grad gives
    for p, (g, r) in enumerate(zip(grads, right_grads)):
        if g is not None and derivative[p] is not None and same(g, derivative[p]) and not same(g, r):
            faults.append(f"{label}.backward, the gradient for {_input_name(right, p)}: it ignores grad: it returns "
                          "the local derivative alone, not grad times it (the chain rule)")
            continue
        words = _gradient_words(right.name, p, g, r, inputs, right_out, grad, right_grads)
        if words:
            faults.append(f"{label}.backward, the gradient for {_input_name(right, p)}: {words}")
    if not faults:
        faults += _ignores_grad(mine, right, label, inputs, attrs, grad)
    if not faults:
        faults += _needs(mine, right, label, inputs, attrs, grad)
    if not faults:
        faults += _shapes(mine, right, label, rng, attrs)
    if not faults and right.stacking is not None:
        faults += _stacking(mine, right, label)
    if not faults:
        check = check_node(mine) if mine.stacking is not None else _check_alone(mine)
        if not check.passed:  # every measure above fits, and yet central differences disagree: say by how much
            faults.append(f"{label}.backward differs from central differences (score {check.score:.3g}, at most 1 "
                          f"passes; relative error {check.relative:.2g})")
    return faults


def _check_alone(mine: Node):
    """The central-difference check of a node type that declares no stacking rule (check_node holds it to none)."""
    return check_node(mine)


def gradient_check_line(mine: Node, label: str) -> str:
    """The gradient check's verdict, and the stacking rule's, in one line (for a right node type)."""
    check = check_node(mine)
    rule = "its stacking rule holds" if mine.stacking is not None else "it declares no stacking rule"
    return (f"{label}: gradient check against central differences: score {check.score:.2f} (at most 1 passes), "
            f"{rule}")


def _input_name(node: Node, p: int) -> str:
    names = {"matmul": ("a", "b (the weight)"), "add": ("a", "b"), "squared_error": ("the prediction", "the target")}
    return names.get(node.name, ("x",) * 4)[p] if node.name in names or p == 0 else f"input {p}"


def _square(node: Node, inputs: tuple) -> tuple:
    """The inputs to measure with: for a matmul a square weight, so that a forgotten transpose gives numbers (the
    shapes are checked apart)."""
    if node.name == "matmul":
        return inputs[0], inputs[1][:, : inputs[1].shape[0]].copy()
    return tuple(np.asarray(v, dtype=np.float64) for v in inputs)


def _forward_words(out, right_out) -> str:
    if np.shape(out) != np.shape(right_out):
        return f"returns shape {np.shape(out)}, expected {np.shape(right_out)}"
    c = _factor(out, right_out)
    if c is not None:
        return f"its value is {c:.4g} times the right one" + (
            " (a mean where the sum over the widths is meant, or a missing 0.5?)" if c not in (1.0,) else "")
    return f"its value differs from the right one (relative error {_relative(out, right_out):.2g})"


def _relative(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


def _gradient_words(name: str, p: int, g, r, inputs, out, grad, right_grads) -> str | None:
    """What is wrong with gradient ``g`` for input ``p`` (the right one: ``r``), or None."""
    if g is None:
        return "it is None, but this input wants a gradient (ctx.needs_input_grad[%d] is True)" % p
    shape = np.shape(g)
    if shape != np.shape(r):
        others = [q for q, v in enumerate(inputs) if q != p and np.shape(v) == shape]
        if others:
            return (f"it has shape {shape}, the shape of {_input_name_of(name, others[0])}: the gradients are "
                    f"for the wrong input (returned in the wrong order?); input {p} has shape {np.shape(r)}")
        if shape == np.shape(r)[::-1]:
            return f"it has shape {shape}, transposed: the input has shape {np.shape(r)}"
        return f"it has shape {shape}, but the input has shape {np.shape(r)}: a gradient has its input's shape"
    if same(g, r):
        return None
    for q, other in enumerate(right_grads):
        if q != p and other is not None and np.shape(other) == shape and same(g, other) and not same(other, -r):
            return f"it is the gradient of {_input_name_of(name, q)}: the gradients are for the wrong input"
    for q, typical, words in TYPICAL.get(name, []):
        if q == p:
            try:
                candidate = typical(inputs, out, grad)
            except ValueError:
                continue
            if np.shape(candidate) == shape and same(g, candidate):
                return words
    c = _factor(g, r)
    if c is not None:
        return factor_words(c)
    if len(shape) == 2 and shape[0] == shape[1] and same(g, np.asarray(r).T):
        return "it is transposed"
    g, r = np.asarray(g, dtype=np.float64), np.asarray(r, dtype=np.float64)
    if np.all(np.isfinite(g)) and np.all(np.abs(r) > 1e-12):
        ratio = g / r
        return (f"it differs from the right gradient (relative error {_relative(g, r):.2g}) by no one factor: element "
                f"by element it is {np.min(ratio):.3g} to {np.max(ratio):.3g} times the right one, a factor that "
                "changes with the input")
    return f"it differs from the right gradient (relative error {_relative(g, r):.2g}), by no factor or transpose"


def _input_name_of(name: str, q: int) -> str:
    names = {"matmul": ("a", "b (the weight)"), "add": ("a", "b"), "squared_error": ("the prediction", "the target")}
    return names.get(name, tuple(f"input {i}" for i in range(4)))[q]


def _ignores_grad(mine: Node, right: Node, label: str, inputs, attrs, grad) -> list[str]:
    """Measured with twice the gradient: a backward that ignores ``grad`` gives the same numbers."""
    try:
        ctx = Context(attrs=attrs)
        mine.forward(ctx, *inputs)
        doubled = mine.backward(ctx, 2 * grad)
        right_ctx = Context(attrs=attrs)
        right.forward(right_ctx, *inputs)
        right_doubled = right.backward(right_ctx, 2 * grad)
    except Exception as exc:  # noqa: BLE001
        return [f"{label}.backward raises {type(exc).__name__} when grad doubles: {exc}"]
    for p, (g, r) in enumerate(zip(doubled, right_doubled)):
        if g is not None and not same(g, r):
            return [f"{label}.backward ignores grad: it is right when grad is 1 (as it is at the loss) but not "
                    f"when grad is anything else: multiply the local derivative by grad (the chain rule)"]
    return []


def _needs(mine: Node, right: Node, label: str, inputs, attrs, grad) -> list[str]:
    """Each input alone wanting a gradient: the one wanted must come back right."""
    if len(inputs) < 2:
        return []
    for p in range(len(inputs)):
        needs = tuple(q == p for q in range(len(inputs)))
        ctx, right_ctx = Context(needs, attrs), Context(needs, attrs)
        try:
            mine.forward(ctx, *inputs)
            g = mine.backward(ctx, grad)[p]
        except Exception as exc:  # noqa: BLE001
            return [f"{label}.backward raises {type(exc).__name__} when only input {p} wants a gradient "
                    f"(ctx.needs_input_grad = {needs}): {exc}"]
        right.forward(right_ctx, *inputs)
        if g is None or not same(g, right.backward(right_ctx, grad)[p]):
            return [f"{label}.backward: when only {_input_name(right, p)} wants a gradient "
                    f"(ctx.needs_input_grad = {needs}) it gives {'None' if g is None else 'wrong numbers'} for it: "
                    "ctx.needs_input_grad[i] says which input wants one"]
    return []


def _shapes(mine: Node, right: Node, label: str, rng, attrs) -> list[str]:
    """Other shapes: batch 1 (the post's) and, for a matmul, a weight that is not square."""
    for batch, width in ((1, WIDTH), (BATCH, 1), (2, 3)):
        inputs = [np.asarray(v, dtype=np.float64) for v in right.sample_inputs(rng, batch, width)]
        attrs = right.sample_attrs(width)
        ctx, right_ctx = Context(attrs=attrs), Context(attrs=attrs)
        try:
            mine.forward(ctx, *inputs)
            out = right.forward(right_ctx, *inputs)
            grad = rng.normal(size=np.shape(out))
            grads = mine.backward(ctx, grad)
        except Exception as exc:  # noqa: BLE001
            shapes = " and ".join(str(np.shape(v)) for v in inputs)
            return [f"{label}.backward raises {type(exc).__name__} on inputs of shapes {shapes}: {exc}"]
        for p, (g, r) in enumerate(zip(grads, right.backward(right_ctx, grad))):
            words = _gradient_words(right.name, p, g, r, inputs, out, grad, ())
            if words:
                shapes = " and ".join(str(np.shape(v)) for v in inputs)
                return [f"{label}.backward on inputs of shapes {shapes}, the gradient for {_input_name(right, p)}: "
                        f"{words}"]
    return []


def _stacking(mine: Node, right: Node, label: str) -> list[str]:
    """Its stacking rule: run on operands stacked along a leading member axis, each member as it alone is."""
    if mine.stacking is None:
        return []  # it runs op by op: no rule to hold it to
    shared = mine.stacking.shared
    rng = np.random.RandomState(1)
    attrs = right.sample_attrs(WIDTH)
    alone = [[np.asarray(v, dtype=np.float64) for v in right.sample_inputs(rng, 2, WIDTH)] for _ in range(MEMBERS)]
    for inputs in alone[1:]:
        inputs[:] = [alone[0][p] if p in shared else v for p, v in enumerate(inputs)]
    stack = [alone[0][p] if p in shared else np.stack([a[p] for a in alone]) for p in range(len(alone[0]))]
    rule = f"it declares stacking = Stacking({'shared=' + str(shared) if shared else ''})"
    try:
        ctx = Context(attrs=attrs)
        out = mine.forward(ctx, *stack)
        grad = rng.normal(size=np.shape(out))
        grads = mine.backward(ctx, grad)
    except Exception as exc:  # noqa: BLE001
        said = str(exc)
        why = ""
        if "core dimension" in said or "not aligned" in said:
            why = " (alone it runs: if it transposes, .T reverses every axis of a stack; .mT swaps the last two)"
        elif "broadcast" in said:
            why = (f" (alone it runs: stacked, grad holds one number per member, shape ({MEMBERS},): "
                   "grad[..., None, None] lines it up with the members' rows and columns)")
        return [f"{label}: {rule}, but on a stack of {MEMBERS} members (a leading axis) it raises "
                f"{type(exc).__name__}: {said.strip()}{why}"]
    try:
        return _members(mine, right, label, rule, alone, out, grads, grad, attrs)
    except Exception as exc:  # noqa: BLE001 - the learner's code, run on one member
        return [f"{label}: run on one member alone it raises {type(exc).__name__}: {exc}"]


def _members(mine: Node, right: Node, label: str, rule: str, alone, out, grads, grad, attrs) -> list[str]:
    """Each member's numbers alone against its row of the stacked call's."""
    for m, inputs in enumerate(alone):
        ctx = Context(attrs=attrs)
        member_out = mine.forward(ctx, *inputs)
        if np.shape(out) != (MEMBERS, *np.shape(member_out)) or not same(np.asarray(out)[m], member_out):
            return [f"{label}.forward: {rule}, but on a stack of {MEMBERS} members it gives shape {np.shape(out)}, "
                    f"not {(MEMBERS, *np.shape(member_out))}, one value per member: reduce over the last axes "
                    "(axis=(-2, -1)), not all of them"]
        for p, (g, member_g) in enumerate(zip(grads, mine.backward(ctx, grad[m]))):
            expected = (MEMBERS, *np.shape(member_g))
            if g is None or np.shape(g) != expected:
                said = "None" if g is None else f"shape {np.shape(g)}"
                hint = (": .T reverses every axis of a stack; .mT swaps the last two" if g is not None
                        and sorted(np.shape(g)) == sorted(expected) else "")
                return [f"{label}.backward: {rule}, but on a stack of {MEMBERS} members it gives "
                        f"{_input_name(right, p)} {said}, not one per member {expected}{hint}"]
            if not same(g[m], member_g):
                c = _factor(g[m], member_g)
                why = ""
                if c is not None and abs(c - 2 / MEMBERS) < 1e-9:
                    why = (f": it divides by shape[0], which on a stack is the number of members ({MEMBERS}); the "
                           "batch is shape[-2]")
                elif c is not None:
                    why = f" (stacked it is {c:.4g} times a member's alone)"
                return [f"{label}.backward: {rule}, but on a stack of {MEMBERS} members the gradient for "
                        f"{_input_name(right, p)} differs from each member's alone{why}"]
    return []
