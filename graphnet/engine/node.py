"""Node types: the base class, what a node type is handed (a ``Context``), its stacking rule, and the registry.

A node type is a stateless class with a hand-written ``forward`` and ``backward``, registered under a name
that graphs and task files use. It holds no numbers of a run: ``forward(ctx, *inputs)`` returns the node's
value and may save what ``backward`` needs on ``ctx``; ``backward(ctx, grad)`` returns one gradient per input,
in input order, each shaped like its input (``None`` where ``ctx.needs_input_grad`` says nobody wants it).

Shapes carry a leading batch dimension, written ``None`` in static shapes: ``(None, 16)`` is a batch of
16-wide vectors, ``(2, 16)`` a weight matrix, ``()`` a scalar such as a loss. The built-in node types are in
:mod:`graphnet.engine.nodes`.

Examples
--------
>>> import numpy as np
>>> @register_node("double")
... class Double(Node):
...     '''2x, elementwise.'''
...     def forward(self, ctx, x):
...         return 2 * x
...     def backward(self, ctx, grad):
...         return (2 * grad,)
>>> get_node("double").forward(Context(), np.ones((1, 2)))
array([[2., 2.]])
>>> unregister_node("double")
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, Mapping

import numpy as np

from ..errors import GraphError
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
    ``backward`` may return ``None`` for one that does not, and skip computing it. ``xp`` is the array library the
    run computes with, numpy, or ``jax.numpy`` when the run is traced and compiled (``xp.exp``, ``xp.tanh``): a node
    type that takes its functions from it runs in both.
    """

    __slots__ = ("saved", "needs_input_grad", "attrs")
    xp = np  # the same for every context of a run: a class attribute (graphnet.engine.compiling's contexts say jax)

    def __init__(self, needs_input_grad: tuple[bool, ...] = EVERY_INPUT, attrs: Mapping = NO_ATTRS) -> None:
        self.saved: tuple = ()
        self.needs_input_grad = needs_input_grad
        # the node's static settings from the graph, e.g. a slice's start and stop (read them, do not change them)
        self.attrs = attrs

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
    ``backward`` and, to have shapes checked when a graph is built, ``shape``. A node type of several outputs
    (``multiple_outputs = True``, as ``unstack``) returns a tuple from ``forward``, and its ``backward`` takes
    one gradient per output (``None`` for an output nobody differentiated), as PyTorch's ``Function`` does. Leaf types (``leaf = True``:
    inputs, parameters, constants) take no inputs; a run feeds their values. A node type that needs settings
    (a slice's bounds) reads them from ``ctx.attrs``, which the graph stores on the node. ``stacking`` says
    whether, and how, many ops of the type may run as one call (see :class:`Stacking`).
    """

    name: ClassVar[str] = ""
    arity: ClassVar[int | None] = 1
    description: ClassVar[str] = ""
    leaf: ClassVar[bool] = False
    stacking: ClassVar[Stacking | None] = None
    multiple_outputs: ClassVar[bool] = False  # forward returns a tuple, backward takes a gradient per output

    def forward(self, ctx: Context, *inputs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, ctx: Context, grad: np.ndarray) -> tuple:
        raise NotImplementedError

    def shape(self, *shapes: Shape, **attrs) -> Shape:
        """The output shape for these input shapes (a list of them, with ``multiple_outputs``); raise
        ``ValueError`` if they do not fit."""
        return shapes[0]

    def sample_inputs(self, rng: np.random.RandomState, batch: int, width: int) -> tuple[np.ndarray, ...]:
        """Random inputs of a typical shape, for the gradient checker: by default ``arity`` (batch, width)."""
        return tuple(rng.normal(size=(batch, width)) for _ in range(self.arity or 3))

    def sample_attrs(self, width: int) -> dict:
        """Settings to check the node type with, for inputs of this width (none by default)."""
        return {}

    def __repr__(self) -> str:
        return f"<node type {self.name!r}>"


def _wrong_node_type(cls: type) -> str | None:
    """What is wrong with a node type's class when it is registered, read before any graph uses it."""
    if not (isinstance(cls, type) and issubclass(cls, Node)):
        return "expected a subclass of graphnet.Node"
    if cls.stacking is not None and not isinstance(cls.stacking, Stacking):
        return (f"stacking = {cls.stacking!r}; expected None or Stacking() (Stacking(shared=(1,)) for an input that "
                "every member shares)")
    return None


_NODE_TYPES: Registry[Node] = Registry("node type", GraphError, _wrong_node_type)
register_node = _NODE_TYPES.register  # class decorator: @register_node("sigmoid")
get_node = _NODE_TYPES.get  # the registered node type called ``name``
registered_nodes = _NODE_TYPES.all  # every registered node type, by name
unregister_node = _NODE_TYPES.unregister  # forget a node type (a throwaway one of a notebook or a test)
