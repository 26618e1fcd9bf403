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

from typing import ClassVar

import numpy as np

from .errors import GraphError
from .registry import Registry

Shape = tuple  # a static shape: ints, with None for the batch dimension


class Context:
    """What one node saves during forward for its backward, in one run."""

    __slots__ = ("saved", "needs_input_grad")

    def __init__(self, needs_input_grad: tuple[bool, ...] | None = None) -> None:
        self.saved: tuple = ()
        self.needs_input_grad = needs_input_grad

    def save(self, *arrays) -> None:
        """Keep ``arrays`` for backward."""
        self.saved = arrays

    def needs(self, i: int) -> bool:
        """Whether input ``i`` wants a gradient (all do when nobody said otherwise)."""
        return self.needs_input_grad is None or self.needs_input_grad[i]


class Node:
    """Base class of node types.

    Subclasses set ``arity`` (``None`` for any number of inputs, at least one) and implement ``forward``,
    ``backward`` and, to have shapes checked when a graph is built, ``shape``. Leaf types (``leaf = True``:
    inputs, parameters, constants) take no inputs; a run feeds their values.
    """

    name: ClassVar[str] = ""
    arity: ClassVar[int | None] = 1
    description: ClassVar[str] = ""
    leaf: ClassVar[bool] = False

    def forward(self, ctx: Context, *inputs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, ctx: Context, grad: np.ndarray) -> tuple:
        raise NotImplementedError

    def shape(self, *shapes: Shape) -> Shape:
        """The output shape for these input shapes; raise ``ValueError`` if they do not fit."""
        return shapes[0]

    def sample_inputs(self, rng: np.random.RandomState, batch: int, width: int) -> tuple[np.ndarray, ...]:
        """Random inputs of a typical shape, for the gradient checker: by default ``arity`` (batch, width)."""
        return tuple(rng.normal(size=(batch, width)) for _ in range(self.arity or 3))

    def __repr__(self) -> str:
        return f"<node type {self.name!r}>"


_NODE_TYPES: Registry[Node] = Registry("node type", GraphError)
register = _NODE_TYPES.register  # class decorator: @register("sigmoid")
get = _NODE_TYPES.get  # the registered node type called ``name``
registered = _NODE_TYPES.all  # every registered node type, by name


def _same_shape(name: str, shapes: tuple[Shape, ...]) -> Shape:
    first = shapes[0]
    for other in shapes[1:]:
        if other != first:
            raise ValueError(f"{name} needs inputs of one shape, got {' and '.join(map(str, shapes))}")
    return first


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # 1/(1+exp(-x)) is the post's form and gives its exact numbers; for very negative x, exp(-x) overflows to
    # inf and the result is still the right 0.0, so only the warning needs silencing.
    with np.errstate(over="ignore"):
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


@register("matmul")
class MatMul(Node):
    """Matrix product a @ b (a batch of row vectors times a weight matrix)."""

    arity = 2

    def forward(self, ctx, a, b):
        ctx.save(a, b)
        return a @ b

    def backward(self, ctx, grad):
        a, b = ctx.saved
        return (grad @ b.T if ctx.needs(0) else None, a.T @ grad if ctx.needs(1) else None)

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

    def forward(self, ctx, x):
        y = _sigmoid(x)
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

    def forward(self, ctx, prediction, target):
        diff = prediction - target
        ctx.save(diff)
        return np.asarray(0.5 * np.sum(diff * diff) / diff.shape[0])

    def backward(self, ctx, grad):
        (diff,) = ctx.saved
        d = grad * diff / diff.shape[0]
        return (d if ctx.needs(0) else None, -d if ctx.needs(1) else None)

    def shape(self, prediction, target):
        _same_shape("squared_error", (prediction, target))
        return ()


@register("sum")
class Sum(Node):
    """Sum of any number of tensors of one shape (used to total the per-step losses)."""

    arity = None

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
