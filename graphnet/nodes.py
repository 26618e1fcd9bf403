"""Node types: stateless classes with a hand-written ``forward`` and ``backward``, and their registry.

A node type holds no numbers of a run. ``forward(ctx, *inputs)`` returns the node's value and may save what
``backward`` needs on ``ctx``; ``backward(ctx, grad)`` returns one gradient per input, in input order, with
each gradient shaped like its input (``None`` where ``ctx.needs_input_grad`` says nobody wants it).

Shapes carry a leading batch dimension, written ``None`` in static shapes: ``(None, 16)`` is a batch of
16-wide vectors, ``(2, 16)`` a weight matrix, ``()`` a scalar such as a loss.

Examples
--------
>>> import numpy as np
>>> sigmoid = get("sigmoid")
>>> ctx = Context()
>>> y = sigmoid.forward(ctx, np.zeros((1, 3)))
>>> sigmoid.backward(ctx, np.ones((1, 3)))[0]
array([[0.25, 0.25, 0.25]])
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, Mapping

import numpy as np

from .errors import GraphError
from .registry import Registry

Shape = tuple  # a static shape: ints, with None for the batch dimension


NO_ATTRS: Mapping = MappingProxyType({})  # the settings of a node that has none (read-only, so shareable)


class _EveryInput:
    """The ``needs_input_grad`` of a context nobody said otherwise of: every input wants its gradient."""

    def __getitem__(self, i: int) -> bool:
        return True

    def __iter__(self):  # indexing only: how many inputs there are is the node type's to know
        raise TypeError("needs_input_grad of a context made without it: index it, needs_input_grad[i]")

    def __repr__(self) -> str:
        return "every input"


EVERY_INPUT = _EveryInput()


class Context:
    """What one node saves during forward for its backward, in one run.

    ``needs_input_grad[i]`` says whether input ``i`` wants a gradient (as in PyTorch's ``autograd.Function``):
    ``backward`` may return ``None`` for one that does not, and skip computing it.
    """

    __slots__ = ("saved", "needs_input_grad", "attrs")

    def __init__(self, needs_input_grad: tuple[bool, ...] | None = None, attrs: Mapping | None = None) -> None:
        self.saved: tuple = ()
        self.needs_input_grad = EVERY_INPUT if needs_input_grad is None else needs_input_grad
        # the node's static settings from the graph, e.g. a slice's start and stop (read them, do not change them)
        self.attrs = NO_ATTRS if attrs is None else attrs

    def save(self, *arrays) -> None:
        """Keep ``arrays`` for backward."""
        self.saved = arrays


@dataclass(frozen=True)
class Stacking:
    """A node type's rule for running many of its ops as one call, on operands stacked in a new leading axis.

    An unrolled network repeats an op once per time step. A node type declares ``stacking = Stacking(...)`` when
    its own ``forward`` and ``backward``, given operands stacked along a new leading *member* axis
    ``(members, batch, ...)``, compute every member exactly as that member alone would be computed. The runner
    then runs a group of independent ops of that type (every step's input projection, say) as one call.

    ``shared`` lists the inputs that are one array for every member (a matmul's weight). ``backward`` returns
    their gradient per member, the member axis in front; the runner adds the members' gradients up one after
    another, in the order the reverse pass would have added them op by op. A node type without a ``stacking``
    rule simply runs op by op.
    """

    shared: tuple[int, ...] = ()


class Node:
    """Base class of node types.

    Subclasses set ``arity`` (``None`` for any number of inputs, at least one) and implement ``forward``,
    ``backward`` and, to have shapes checked when a graph is built, ``shape``. Leaf types (``leaf = True``:
    inputs, parameters, constants) take no inputs; a run feeds their values. A node type that needs settings
    (a slice's bounds) reads them from ``ctx.attrs``, which the graph stores on the node. ``stacking`` says
    whether, and how, many ops of the type may run as one call (see :class:`Stacking`).
    """

    name: ClassVar[str] = ""
    arity: ClassVar[int | None] = 1
    description: ClassVar[str] = ""
    leaf: ClassVar[bool] = False
    stacking: ClassVar[Stacking | None] = None

    def forward(self, ctx: Context, *inputs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, ctx: Context, grad: np.ndarray) -> tuple:
        raise NotImplementedError

    def shape(self, *shapes: Shape, **attrs) -> Shape:
        """The output shape for these input shapes; raise ``ValueError`` if they do not fit."""
        return shapes[0]

    def sample_inputs(self, rng: np.random.RandomState, batch: int, width: int) -> tuple[np.ndarray, ...]:
        """Random inputs of a typical shape, for the gradient checker: by default ``arity`` (batch, width)."""
        return tuple(rng.normal(size=(batch, width)) for _ in range(self.arity or 3))

    def sample_attrs(self, width: int) -> dict:
        """Settings to check the node type with, for inputs of this width (none by default)."""
        return {}

    def __repr__(self) -> str:
        return f"<node type {self.name!r}>"


_NODE_TYPES: Registry[Node] = Registry("node type", GraphError)
register = _NODE_TYPES.register  # class decorator: @register("sigmoid")
unregister = _NODE_TYPES.unregister  # forget a node type (a throwaway one of a notebook or a test)
get = _NODE_TYPES.get  # the registered node type called ``name``
registered = _NODE_TYPES.all  # every registered node type, by name


def _batch_of_vectors(name: str, shape: Shape) -> None:
    if len(shape) != 2:
        raise ValueError(f"{name} needs a batch of vectors, shape (batch, width), got {shape}")


def _same_shape(name: str, shapes: tuple[Shape, ...]) -> Shape:
    first = shapes[0]
    for other in shapes[1:]:
        if other != first:
            raise ValueError(f"{name} needs inputs of one shape, got {' and '.join(map(str, shapes))}")
    return first


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function 1/(1+exp(-x)), elementwise.

    The post's form, which gives its exact numbers. Below x = -709, exp(-x) overflows to inf and the result is
    still the right 0.0: a :class:`~graphnet.program.Program` runs with numpy's overflow warning off for that
    (opening ``np.errstate`` here, on every call, cost more than the sigmoid itself).
    """
    return 1.0 / (1.0 + np.exp(-x))


class Leaf(Node):
    """A value fed by the run rather than computed."""

    arity = 0
    leaf = True

    def forward(self, ctx):
        raise GraphError(f"a {self.name} node is fed by the run, not computed")

    def backward(self, ctx, grad):
        return ()


@register("input")
class Input(Leaf):
    """Data fed at each run (a step's input bits, its target bits, an initial state)."""


@register("parameter")
class Parameter(Leaf):
    """A trained weight, one node however many steps use it."""


@register("constant")
class Constant(Leaf):
    """A fixed value (filled with the node's ``fill``), never trained."""


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for two matrices, a stack of matrices (members, batch, n) and a matrix, or two stacks.

    NB: the same numbers as ``a @ b`` in every case, by the cheapest route numpy has for it. For two matrices
    ``np.dot`` is the same product with less overhead per call (0.3 to 0.5 µs less, on arrays this small). A
    stack goes through ``@``, which makes each member's product with the very BLAS call the member alone would
    make; but where the summed axis has length 1 (the gradient through a one-output weight), numpy's matmul of
    a stack takes a slow loop (4x slower at batch 64), and every element is then a single product, so the stack
    flattened into one matrix for ``np.dot`` gives the same numbers.
    """
    if a.ndim == 2 and b.ndim == 2:
        return np.dot(a, b)
    if b.ndim == 2 and b.shape[0] == 1:
        return np.dot(a.reshape(-1, 1), b).reshape(a.shape[:-1] + b.shape[1:])
    return a @ b


@register("matmul")
class MatMul(Node):
    """Matrix product a @ b (a batch of row vectors times a weight matrix)."""

    arity = 2
    stacking = Stacking(shared=(1,))  # a stack of members' rows times the one weight they share

    def forward(self, ctx, a, b):
        ctx.save(a, b)
        return _matmul(a, b)  # a @ b

    def backward(self, ctx, grad):
        a, b = ctx.saved
        # .mT swaps the last two axes (.T would reverse all of them), so a stack (members, batch, n) works too:
        # the weight's gradient then comes per member, (members, n, m).
        grad_a = _matmul(grad, b.mT) if ctx.needs_input_grad[0] else None
        grad_b = _matmul(a.mT, grad) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b

    def sample_inputs(self, rng, batch, width):
        return rng.normal(size=(batch, width)), rng.normal(size=(width, width + 1))

    def shape(self, a, b):
        if len(a) != 2 or len(b) != 2 or a[1] != b[0]:
            raise ValueError(f"matmul cannot multiply shapes {a} and {b}")
        return (a[0], b[1])


@register("add")
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


@register("sigmoid")
class Sigmoid(Node):
    """Logistic function 1/(1+exp(-x)), elementwise."""

    stacking = Stacking()

    def forward(self, ctx, x):
        y = sigmoid(x)
        ctx.save(y)
        return y

    def backward(self, ctx, grad):
        (y,) = ctx.saved
        # grad * (y*(1-y)), in this order, is the post's rounding: its run is reproduced to the last bit.
        return (grad * (y * (1.0 - y)),)


@register("squared_error")
class SquaredError(Node):
    """Loss 0.5*sum((prediction - target)**2), averaged over the batch."""

    arity = 2
    stacking = Stacking()  # reduces the last two axes (batch, width) only: one loss per member of a stack

    def forward(self, ctx, prediction, target):
        diff = prediction - target
        ctx.save(diff)
        # A loss past 1.8e308 overflows to inf (no warning in a Program), which training reports by node.
        return np.asarray(0.5 * (diff * diff).sum(axis=(-2, -1)) / diff.shape[-2])

    def backward(self, ctx, grad):
        (diff,) = ctx.saved
        d = grad[..., None, None] * diff / diff.shape[-2]  # a loss per member: its own rows
        return (d if ctx.needs_input_grad[0] else None, -d if ctx.needs_input_grad[1] else None)

    def shape(self, prediction, target):
        _batch_of_vectors("squared_error", prediction)
        _same_shape("squared_error", (prediction, target))
        return ()


@register("sum")
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
@register("tanh")
class Tanh(Node):
    """Hyperbolic tangent, elementwise."""

    stacking = Stacking()

    def forward(self, ctx, x):
        y = np.tanh(x)
        ctx.save(y)
        return y

    def backward(self, ctx, grad):
        (y,) = ctx.saved
        return (grad * (1.0 - y * y),)


@register("relu")
class ReLU(Node):
    """max(x, 0), elementwise (gradient 0 at 0)."""

    stacking = Stacking()

    def forward(self, ctx, x):
        ctx.save(x > 0)
        return np.maximum(x, 0.0)

    def backward(self, ctx, grad):
        (positive,) = ctx.saved
        return (grad * positive,)

    def sample_inputs(self, rng, batch, width):
        # keep away from the kink at 0, where central differences straddle two slopes
        x = rng.normal(size=(batch, width))
        return (x + np.where(x >= 0, 0.1, -0.1),)


@register("mul")
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


@register("sub")
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


@register("bias_add")
class BiasAdd(Node):
    """x + b: a bias vector b of shape (width,) added to every row of a batch x."""

    arity = 2
    stacking = Stacking(shared=(1,))  # every member's rows plus the one bias

    def forward(self, ctx, x, b):
        return x + b

    def backward(self, ctx, grad):
        # summed over the batch axis, the second to last: a stack (members, batch, width) gets one per member
        return (grad, grad.sum(axis=-2) if ctx.needs_input_grad[1] else None)

    def shape(self, x, b):
        if len(b) != 1 or x[-1] != b[0]:
            raise ValueError(f"bias_add needs a bias of shape ({x[-1]},) for input {x}, got {b}")
        return x

    def sample_inputs(self, rng, batch, width):
        return rng.normal(size=(batch, width)), rng.normal(size=(width,))


@register("concat")
class Concat(Node):
    """Inputs side by side along the last axis: (B, m) and (B, n) give (B, m + n)."""

    arity = None
    stacking = Stacking()

    def forward(self, ctx, *xs):
        ctx.save(np.cumsum([x.shape[-1] for x in xs])[:-1])
        return np.concatenate(xs, axis=-1)

    def backward(self, ctx, grad):
        (splits,) = ctx.saved
        return tuple(np.split(grad, splits, axis=-1))

    def shape(self, *shapes):
        if len({s[:-1] for s in shapes}) != 1:
            raise ValueError(f"concat needs inputs that differ only in the last axis, got {shapes}")
        return shapes[0][:-1] + (sum(s[-1] for s in shapes),)

    def sample_inputs(self, rng, batch, width):
        return rng.normal(size=(batch, width)), rng.normal(size=(batch, width + 2))


@register("slice")
class Slice(Node):
    """Columns start:stop of the last axis (attrs ``start`` and ``stop``): how a gate reads its share."""

    stacking = Stacking()

    def forward(self, ctx, x):
        ctx.save(x.shape)
        # The same defaults as shape(): a node built without bounds takes the whole last axis.
        return x[..., ctx.attrs.get("start", 0) : ctx.attrs.get("stop")]

    def backward(self, ctx, grad):
        (shape,) = ctx.saved
        full = np.zeros(shape)
        full[..., ctx.attrs.get("start", 0) : ctx.attrs.get("stop")] = grad
        return (full,)

    def shape(self, x, *, start: int = 0, stop: int | None = None):
        stop = x[-1] if stop is None else stop
        if not 0 <= start < stop <= x[-1]:
            raise ValueError(f"slice needs 0 <= start < stop <= {x[-1]}, got start={start}, stop={stop}")
        return x[:-1] + (stop - start,)

    def sample_attrs(self, width):
        return {"start": width // 2, "stop": width} if width > 1 else {"start": 0, "stop": 1}


@register("mean")
class Mean(Node):
    """The mean of every element of the input: a scalar."""

    def forward(self, ctx, x):
        ctx.save(x.shape)
        return np.asarray(np.mean(x))

    def backward(self, ctx, grad):
        (shape,) = ctx.saved
        return (np.full(shape, grad / np.prod(shape)),)

    def shape(self, x):
        return ()


@register("bce_with_logits")
class BCEWithLogits(Node):
    """Loss: binary cross-entropy of sigmoid(logits) against targets in [0, 1], summed, averaged over the batch.

    Computed from the logits as max(z, 0) - z*y + log(1 + exp(-|z|)), which never overflows.
    """

    arity = 2
    stacking = Stacking()  # reduces the last two axes (batch, width) only, as squared_error

    def forward(self, ctx, logits, target):
        ctx.save(logits, target)
        loss = np.maximum(logits, 0.0) - logits * target + np.log1p(np.exp(-np.abs(logits)))
        return np.asarray(loss.sum(axis=(-2, -1)) / logits.shape[-2])

    def backward(self, ctx, grad):
        logits, target = ctx.saved
        grad, batch = grad[..., None, None], logits.shape[-2]  # a loss per member of a stack: its own rows
        d_logits = grad * (sigmoid(logits) - target) / batch if ctx.needs_input_grad[0] else None
        d_target = grad * -logits / batch if ctx.needs_input_grad[1] else None
        return d_logits, d_target

    def shape(self, logits, target):
        _batch_of_vectors("bce_with_logits", logits)
        _same_shape("bce_with_logits", (logits, target))
        return ()

    def sample_inputs(self, rng, batch, width):
        return rng.normal(size=(batch, width)) * 3, rng.uniform(size=(batch, width))
