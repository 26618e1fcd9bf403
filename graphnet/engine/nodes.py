"""The built-in node types: what the post's network, the LSTM and the GRU are made of, and more.

Each is a stateless class with a hand-written ``forward`` and ``backward`` (see :mod:`graphnet.engine.node`),
the only place its math lives: what trains is what you read here. Each also says, with ``stacking``, whether
many ops of its type may run as one call on operands stacked along a leading member axis, which is why its
rules are written to work on such a stack (``.mT``, reductions over the last axes). They take their array
functions from ``ctx.xp`` (numpy, or jax.numpy when a run is compiled), so one formula serves both.

Examples
--------
>>> import numpy as np
>>> from graphnet.engine.node import Context, get_node
>>> ctx = Context()
>>> y = get_node("sigmoid").forward(ctx, np.zeros((1, 3)))
>>> get_node("sigmoid").backward(ctx, np.ones((1, 3)))[0]
array([[0.25, 0.25, 0.25]])
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ..errors import GraphError
from .node import Node, Shape, Stacking, register_node

def _batch_of_vectors(name: str, shape: Shape) -> None:
    if len(shape) != 2:
        raise ValueError(f"{name} needs a batch of vectors, shape (batch, width), got {shape}")


def _same_shape(name: str, shapes: tuple[Shape, ...]) -> Shape:
    first = shapes[0]
    for other in shapes[1:]:
        if other != first:
            raise ValueError(f"{name} needs inputs of one shape, got {' and '.join(map(str, shapes))}")
    return first


# 1.0 as a 0-d array, read-only since it is shared. numpy computes with it as with the Python float 1.0, to the last
# bit, but about 0.2 µs sooner a call (a Python number is converted anew every time): the sigmoid uses it three times
# a step, forward and back, which made training the post's network 3 % faster at batch 64 and 6 % at batch 1.
ONE = np.array(1.0)
ONE.flags.writeable = False


def sigmoid(x: np.ndarray, xp=np) -> np.ndarray:
    """The logistic function 1/(1+exp(-x)), elementwise, with array functions ``xp``.

    The post's form, which gives its exact numbers. Below x = -709, exp(-x) overflows to inf and the result is
    still the right 0.0: a :class:`~graphnet.engine.program.Program` runs with numpy's overflow warning off for that
    (opening ``np.errstate`` here, on every call, cost more than the sigmoid itself).
    """
    return ONE / (ONE + xp.exp(-x))


class Leaf(Node):
    """A value fed by the run rather than computed."""

    arity = 0
    leaf = True

    def forward(self, ctx):
        raise GraphError(f"a {self.name} node is fed by the run, not computed")

    def backward(self, ctx, grad):
        return ()


@register_node("input")
class Input(Leaf):
    """Data fed at each run (a step's input bits, its target bits, an initial state)."""


@register_node("parameter")
class Parameter(Leaf):
    """A trained weight, one node however many steps use it."""


@register_node("constant")
class Constant(Leaf):
    """A fixed value (filled with the node's ``fill``), never trained."""


def _matmul(a: np.ndarray, b: np.ndarray, xp=np) -> np.ndarray:
    """``a @ b`` for two matrices, a stack of matrices (members, batch, n) and a matrix, or two stacks.

    NB: the same numbers as ``a @ b`` in every case, by the cheapest route numpy has for it. For two matrices
    ``np.dot`` is the same product with less overhead per call (0.3 to 0.5 µs less, on arrays this small). A
    stack goes through ``@``, which makes each member's product with the very BLAS call the member alone would
    make; but where the summed axis has length 1 (the gradient through a one-output weight), numpy's matmul of
    a stack takes a slow loop (4x slower at batch 64), and every element is then a single product, so the stack
    flattened into one matrix for ``np.dot`` gives the same numbers. Any other array library: ``a @ b``.
    """
    if xp is not np:
        return a @ b
    if b.ndim == 3 and b.strides[0] == 0:  # one matrix for every member (stacking's broadcast): multiply by it
        b = b[0]
    if a.ndim == 2 and b.ndim == 2:
        return np.dot(a, b)
    if b.ndim == 2 and b.shape[0] == 1:
        return np.dot(a.reshape(-1, 1), b).reshape(a.shape[:-1] + b.shape[1:])
    return a @ b


@register_node("matmul")
class MatMul(Node):
    """Matrix product a @ b (a batch of row vectors times a weight matrix)."""

    arity = 2
    stacking = Stacking(shared=(1,))  # a stack of members' rows times the one weight they share

    def forward(self, ctx, a, b):
        ctx.save(a, b)
        return _matmul(a, b, ctx.xp)  # a @ b

    def backward(self, ctx, grad):
        a, b = ctx.saved
        # .mT swaps the last two axes (.T would reverse all of them), so a stack (members, batch, n) works too:
        # the weight's gradient then comes per member, (members, n, m).
        grad_a = _matmul(grad, b.mT, ctx.xp) if ctx.needs_input_grad[0] else None
        grad_b = _matmul(a.mT, grad, ctx.xp) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b

    def sample_inputs(self, rng, batch, width):
        return rng.normal(size=(batch, width)), rng.normal(size=(width, width + 1))

    def shape(self, a, b):
        if len(a) != 2 or len(b) != 2 or a[1] != b[0]:
            raise ValueError(f"matmul cannot multiply shapes {a} and {b}")
        return (a[0], b[1])


@register_node("add")
class Add(Node):
    """Elementwise sum of two tensors of one shape."""

    arity = 2
    stacking = Stacking()

    def forward(self, ctx, a, b):
        return a + b

    def backward(self, ctx, grad):
        # The same array goes to both inputs; the engine sums gradients out of place, so this is safe.
        return (grad, grad)

    def shape(self, a, b):
        return _same_shape("add", (a, b))


@register_node("sigmoid")
class Sigmoid(Node):
    """Logistic function 1/(1+exp(-x)), elementwise."""

    stacking = Stacking()

    def forward(self, ctx, x):
        y = sigmoid(x, ctx.xp)
        ctx.save(y)
        return y

    def backward(self, ctx, grad):
        (y,) = ctx.saved
        # grad * (y*(1-y)), in this order, is the post's rounding: its run is reproduced to the last bit. Made in
        # one new array, changed in place (products commute exactly), which saves two arrays of every step.
        d = ONE - y
        d *= y
        d *= grad
        return (d,)


@register_node("squared_error")
class SquaredError(Node):
    """Loss 0.5*sum((prediction - target)**2), averaged over the batch."""

    arity = 2
    stacking = Stacking()  # reduces the last two axes (batch, width) only: one loss per member of a stack

    def forward(self, ctx, prediction, target):
        diff = prediction - target
        ctx.save(diff)
        # A loss past 1.8e308 overflows to inf (no warning in a Program), which training reports by node.
        return ctx.xp.asarray(0.5 * (diff * diff).sum(axis=(-2, -1)) / diff.shape[-2])

    def backward(self, ctx, grad):
        (diff,) = ctx.saved
        d = grad[..., None, None] * diff / diff.shape[-2]  # a loss per member: its own rows
        return (d if ctx.needs_input_grad[0] else None, -d if ctx.needs_input_grad[1] else None)

    def shape(self, prediction, target):
        _batch_of_vectors("squared_error", prediction)
        _same_shape("squared_error", (prediction, target))
        return ()


@register_node("sum")
class Sum(Node):
    """Sum of any number of tensors of one shape (used to total the per-step losses)."""

    arity = None
    stacking = Stacking()

    def forward(self, ctx, *xs):
        ctx.save(len(xs))
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        return total

    def backward(self, ctx, grad):
        (count,) = ctx.saved
        return (grad,) * count

    def shape(self, *shapes):
        return _same_shape("sum", shapes)


# -- more node types: enough to build an LSTM, a GRU and other losses ------------------------------------------
@register_node("tanh")
class Tanh(Node):
    """Hyperbolic tangent, elementwise."""

    stacking = Stacking()

    def forward(self, ctx, x):
        y = ctx.xp.tanh(x)
        ctx.save(y)
        return y

    def backward(self, ctx, grad):
        (y,) = ctx.saved
        return (grad * (1.0 - y * y),)


@register_node("relu")
class ReLU(Node):
    """max(x, 0), elementwise (gradient 0 at 0)."""

    stacking = Stacking()

    def forward(self, ctx, x):
        ctx.save(x > 0)
        return ctx.xp.maximum(x, 0.0)

    def backward(self, ctx, grad):
        (positive,) = ctx.saved
        return (grad * positive,)

    def sample_inputs(self, rng, batch, width):
        # keep away from the kink at 0, where central differences straddle two slopes
        x = rng.normal(size=(batch, width))
        return (x + np.where(x >= 0, 0.1, -0.1),)


@register_node("mul")
class Mul(Node):
    """Elementwise product a * b of two tensors of one shape (a gate times a signal)."""

    arity = 2
    stacking = Stacking()

    def forward(self, ctx, a, b):
        ctx.save(a, b)
        return a * b

    def backward(self, ctx, grad):
        a, b = ctx.saved
        return (grad * b if ctx.needs_input_grad[0] else None, grad * a if ctx.needs_input_grad[1] else None)

    def shape(self, a, b):
        return _same_shape("mul", (a, b))


@register_node("sub")
class Sub(Node):
    """Elementwise difference a - b of two tensors of one shape."""

    arity = 2
    stacking = Stacking()

    def forward(self, ctx, a, b):
        return a - b

    def backward(self, ctx, grad):
        return (grad, -grad if ctx.needs_input_grad[1] else None)

    def shape(self, a, b):
        return _same_shape("sub", (a, b))


@register_node("div")
class Div(Node):
    """Elementwise quotient a / b of two tensors of one shape."""

    arity = 2
    stacking = Stacking()

    def forward(self, ctx, a, b):
        ctx.save(a, b)
        return a / b

    def backward(self, ctx, grad):
        a, b = ctx.saved
        # d(a/b)/da = 1/b, d(a/b)/db = -a/b**2
        grad_a = grad / b if ctx.needs_input_grad[0] else None
        grad_b = -grad * a / (b * b) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b

    def shape(self, a, b):
        return _same_shape("div", (a, b))

    def sample_inputs(self, rng, batch, width):
        # a denominator away from 0, where the quotient and its slope blow up
        b = rng.normal(size=(batch, width))
        return rng.normal(size=(batch, width)), b + np.where(b >= 0, 0.5, -0.5)


@register_node("pow")
class Pow(Node):
    """x ** exponent, elementwise, for a constant ``exponent`` (attrs): x**2, x**3, 1/x as x**-1."""

    stacking = Stacking()

    def forward(self, ctx, x):
        ctx.save(x)
        # np.power, not **: on a numpy scalar (a () value) ** takes another routine, which can differ in the last
        # bit from the one a stack of such values gets
        return ctx.xp.power(x, ctx.attrs["exponent"])

    def backward(self, ctx, grad):
        (x,) = ctx.saved
        p = ctx.attrs["exponent"]
        return (grad * p * ctx.xp.power(x, p - 1),)

    def shape(self, x, *, exponent=None):
        if isinstance(exponent, bool) or not isinstance(exponent, (int, float)) or not np.isfinite(exponent):
            raise ValueError(f"pow needs a finite number as its exponent (attrs={{'exponent': 3}}), got {exponent!r}")
        return x

    def sample_inputs(self, rng, batch, width):
        return (rng.uniform(0.5, 2.0, size=(batch, width)),)  # positive: a fractional power of x < 0 is not real

    def sample_attrs(self, width):
        return {"exponent": 3} if width == 1 else {"exponent": -1.5}


@register_node("exp")
class Exp(Node):
    """e ** x, elementwise."""

    stacking = Stacking()

    def forward(self, ctx, x):
        y = ctx.xp.exp(x)
        ctx.save(y)
        return y

    def backward(self, ctx, grad):
        (y,) = ctx.saved
        return (grad * y,)  # exp is its own derivative


@register_node("log")
class Log(Node):
    """The natural logarithm, elementwise (of positive x)."""

    stacking = Stacking()

    def forward(self, ctx, x):
        ctx.save(x)
        return ctx.xp.log(x)

    def backward(self, ctx, grad):
        (x,) = ctx.saved
        return (grad / x,)

    def sample_inputs(self, rng, batch, width):
        return (rng.uniform(0.2, 3.0, size=(batch, width)),)


@register_node("bias_add")
class BiasAdd(Node):
    """x + b: a bias vector b of shape (width,) added to every row of a batch x."""

    arity = 2
    stacking = Stacking(shared=(1,))  # every member's rows plus the one bias

    def forward(self, ctx, x, b):
        # b[..., None, :]: a bias with leading axes of its own (one per network, side by side) meets its rows
        return x + b[..., None, :]

    def backward(self, ctx, grad):
        # summed over the batch axis, the second to last: a stack (members, batch, width) gets one per member
        return (grad, grad.sum(axis=-2) if ctx.needs_input_grad[1] else None)

    def shape(self, x, b):
        _batch_of_vectors("bias_add", x)
        if len(b) != 1 or x[-1] != b[0]:
            raise ValueError(f"bias_add needs a bias of shape ({x[-1]},) for input {x}, got {b}")
        return x

    def sample_inputs(self, rng, batch, width):
        return rng.normal(size=(batch, width)), rng.normal(size=(width,))


@register_node("concat")
class Concat(Node):
    """Inputs side by side along the last axis: (B, m) and (B, n) give (B, m + n)."""

    arity = None
    stacking = Stacking()

    def forward(self, ctx, *xs):
        ctx.save(list(itertools.accumulate(x.shape[-1] for x in xs))[:-1])
        return ctx.xp.concatenate(xs, axis=-1)

    def backward(self, ctx, grad):
        (splits,) = ctx.saved
        return tuple(ctx.xp.split(grad, splits, axis=-1))

    def shape(self, *shapes):
        if len({s[:-1] for s in shapes}) != 1:
            raise ValueError(f"concat needs inputs that differ only in the last axis, got {shapes}")
        return shapes[0][:-1] + (sum(s[-1] for s in shapes),)

    def sample_inputs(self, rng, batch, width):
        return rng.normal(size=(batch, width)), rng.normal(size=(batch, width + 2))


@register_node("slice")
class Slice(Node):
    """Columns start:stop of the last axis (attrs ``start`` and ``stop``): how a gate reads its share."""

    stacking = Stacking()

    def forward(self, ctx, x):
        ctx.save(x.shape)
        # The same defaults as shape(): a node built without bounds takes the whole last axis.
        return x[..., ctx.attrs.get("start", 0) : ctx.attrs.get("stop")]

    def backward(self, ctx, grad):
        (shape,) = ctx.saved
        start, stop = ctx.attrs.get("start", 0), ctx.attrs.get("stop", shape[-1])
        # zeros for the columns it did not read, either side of the gradient of those it did
        zeros = ctx.xp.zeros
        return (ctx.xp.concatenate([zeros((*shape[:-1], start)), grad, zeros((*shape[:-1], shape[-1] - stop))], axis=-1),)

    def shape(self, x, *, start: int = 0, stop: int | None = None):
        stop = x[-1] if stop is None else stop
        if not 0 <= start < stop <= x[-1]:
            raise ValueError(f"slice needs 0 <= start < stop <= {x[-1]}, got start={start}, stop={stop}")
        return x[:-1] + (stop - start,)

    def sample_attrs(self, width):
        return {"start": width // 2, "stop": width} if width > 1 else {"start": 0, "stop": 1}


@register_node("mean")
class Mean(Node):
    """The mean of every element of the input: a scalar."""

    def forward(self, ctx, x):
        ctx.save(x.shape)
        return ctx.xp.asarray(ctx.xp.mean(x))

    def backward(self, ctx, grad):
        (shape,) = ctx.saved
        return (ctx.xp.full(shape, grad / math.prod(shape)),)

    def shape(self, x):
        return ()


@register_node("bce_with_logits")
class BCEWithLogits(Node):
    """Loss: binary cross-entropy of sigmoid(logits) against targets in [0, 1], summed, averaged over the batch.

    Computed from the logits as max(z, 0) - z*y + log(1 + exp(-|z|)), which never overflows.
    """

    arity = 2
    stacking = Stacking()  # reduces the last two axes (batch, width) only, as squared_error

    def forward(self, ctx, logits, target):
        ctx.save(logits, target)
        xp = ctx.xp
        loss = xp.maximum(logits, 0.0) - logits * target + xp.log1p(xp.exp(-xp.abs(logits)))
        return xp.asarray(loss.sum(axis=(-2, -1)) / logits.shape[-2])

    def backward(self, ctx, grad):
        logits, target = ctx.saved
        grad, batch = grad[..., None, None], logits.shape[-2]  # a loss per member of a stack: its own rows
        d_logits = grad * (sigmoid(logits, ctx.xp) - target) / batch if ctx.needs_input_grad[0] else None
        d_target = grad * -logits / batch if ctx.needs_input_grad[1] else None
        return d_logits, d_target

    def shape(self, logits, target):
        _batch_of_vectors("bce_with_logits", logits)
        _same_shape("bce_with_logits", (logits, target))
        return ()

    def sample_inputs(self, rng, batch, width):
        return rng.normal(size=(batch, width)) * 3, rng.uniform(size=(batch, width))
