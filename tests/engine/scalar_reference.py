"""A reference for the engine that shares none of its code: micrograd's scalar reverse mode, and every built-in
node type's forward written with it.

Each :class:`Scalar` records its parents and the local derivative towards each; ``backward`` walks them in
reverse topological order and adds ``local * grad`` into each parent. A node type's reference is its forward
written on numpy arrays of ``Scalar`` (``dtype=object``), so numpy's own ``+``, ``*``, ``@``, ``sum`` and
indexing build the scalar graph, and the gradients come from the chain rule on scalars alone: not from any
``backward`` of graphnet's.

>>> x = Scalar(-4.0)
>>> z = 2 * x + 2 + x
>>> y = z.relu() + z * x
>>> y.backward()
>>> y.data, x.grad
(40.0, -22.0)
"""

from __future__ import annotations

import math
from typing import Callable

import networkx as nx
import numpy as np


class Scalar:
    """A number, the numbers it was made from, and d(it)/d(each of them)."""

    __slots__ = ("data", "grad", "parents")

    def __init__(self, data: float, parents: tuple = ()) -> None:
        self.data, self.grad, self.parents = float(data), 0.0, parents  # parents: ((Scalar, local derivative), ...)

    def __add__(self, other):
        other = lift(other)
        return Scalar(self.data + other.data, ((self, 1.0), (other, 1.0)))

    def __mul__(self, other):
        other = lift(other)
        return Scalar(self.data * other.data, ((self, other.data), (other, self.data)))

    def __pow__(self, k: float):
        return Scalar(self.data**k, ((self, k * self.data ** (k - 1)),))

    def exp(self):
        e = math.exp(self.data)
        return Scalar(e, ((self, e),))

    def log(self):
        return Scalar(math.log(self.data), ((self, 1.0 / self.data),))

    def relu(self):
        return Scalar(max(self.data, 0.0), ((self, float(self.data > 0)),))

    def tanh(self):
        t = math.tanh(self.data)
        return Scalar(t, ((self, 1.0 - t * t),))

    def sigmoid(self):
        s = 1.0 / (1.0 + math.exp(-self.data)) if self.data > -700 else 0.0
        return Scalar(s, ((self, s * (1.0 - s)),))

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + -lift(other)

    def __truediv__(self, other):
        return self * lift(other) ** -1

    __radd__ = __add__
    __rmul__ = __mul__

    def __rsub__(self, other):
        return lift(other) + -self

    def __rtruediv__(self, other):
        return lift(other) * self**-1

    def backward(self) -> None:
        """d(self)/d(every scalar it was made from), into their ``grad``: the chain rule, last made first."""
        order, seen = [], set()
        stack = [(self, False)]
        while stack:  # an iterative depth-first sort: deep graphs must not hit Python's recursion limit
            node, done = stack.pop()
            if done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((parent, False) for parent, _ in node.parents)
        self.grad = 1.0
        for node in reversed(order):
            for parent, local in node.parents:
                parent.grad += local * node.grad


def lift(x) -> Scalar:
    if isinstance(x, np.ndarray):  # a 0-d array of numpy's making, holding one scalar
        x = x.item()
    return x if isinstance(x, Scalar) else Scalar(x)


def scalars(values: np.ndarray) -> np.ndarray:
    """An array of fresh leaf scalars holding ``values``."""
    out = np.empty(np.shape(values), dtype=object)
    for index, v in np.ndenumerate(np.asarray(values, dtype=np.float64)):
        out[index] = Scalar(v)
    return out


def each(method: str) -> Callable[[np.ndarray], np.ndarray]:
    return np.frompyfunc(lambda s: getattr(lift(s), method)(), 1, 1)


data = np.frompyfunc(lambda s: lift(s).data, 1, 1)
grads = np.frompyfunc(lambda s: s.grad, 1, 1)


def _sum(x: np.ndarray, axis=None):
    return np.sum(x, axis=axis) if np.size(x) else Scalar(0.0)


# Every built-in node type's forward, on arrays of Scalar; settings come as keyword arguments.
REFERENCE: dict[str, Callable] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda x, exponent: x**exponent,
    "exp": each("exp"),
    "log": each("log"),
    "sigmoid": each("sigmoid"),
    "tanh": each("tanh"),
    "relu": each("relu"),
    "matmul": lambda a, b: a @ b,
    "bias_add": lambda x, b: x + b[..., None, :],
    "sum": lambda *xs: sum(xs[1:], xs[0]),
    "concat": lambda *xs: np.concatenate(xs, axis=-1),
    "slice": lambda x, start=0, stop=None: x[..., start:stop],
    "mean": lambda x: _sum(x) / np.size(x),
    "squared_error": lambda p, t: _sum((p - t) ** 2, axis=(-2, -1)) * 0.5 / p.shape[-2],
    # softplus(z) - z*y: the same function as graphnet's max(z, 0) - z*y + log(1 + exp(-|z|)), written otherwise
    "bce_with_logits": lambda z, y: _sum(each("log")(1.0 + each("exp")(z)) - z * y, axis=(-2, -1)) / z.shape[-2],
}


def reference_run(graph, feeds: dict, params: dict, fills: dict, of: str, wrt: list[str]) -> tuple[dict, dict]:
    """The value of ``of`` and of every node it depends on, and d(of)/d(each of ``wrt``), by the scalar engine.

    ``feeds`` and ``params`` are the values a program is given; ``fills`` the values of the leaves it fills
    itself (constants and unfed inputs), as numpy arrays.
    """
    needed = nx.ancestors(graph.nx, of) | {of}
    given = {**feeds, **params, **fills}
    values: dict[str, np.ndarray] = {}
    for key in graph.topological_order():
        if key not in needed and key not in wrt:
            continue
        node = graph.node(key)
        if not node["inputs"]:
            values[key] = scalars(given[key])
        else:
            out = REFERENCE[node["op"]](*(values[k] for k in node["inputs"]), **node.get("attrs", {}))
            values[key] = np.asarray(out, dtype=object) if not isinstance(out, Scalar) else _scalar_array(out)
    lift(values[of]).backward()
    return ({k: np.asarray(data(v), dtype=np.float64) for k, v in values.items()},
            {k: np.asarray(grads(values[k]), dtype=np.float64) for k in wrt})


def _scalar_array(s: Scalar) -> np.ndarray:
    out = np.empty((), dtype=object)
    out[()] = s
    return out
