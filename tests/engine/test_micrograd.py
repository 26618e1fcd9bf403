"""karpathy/micrograd's own tests and README example, run through graphnet's graph API.

micrograd's ``Value`` is a scalar with Python's operators. Here the same expressions build a graphnet
``Graph``: every scalar a ``(1, 1)`` node, every Python number a ``constant``, every operator a node type
(``-a`` is ``a * -1``, ``a / b`` is ``div``, ``a ** 3`` is ``pow`` with ``exponent`` 3). The numbers are
micrograd's: its tests check them against PyTorch, its README prints them to four places.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scalar_reference import Scalar

from graphnet import Graph, check_program, stacked


class Value:
    """A node of ``graph`` with micrograd's operators; each operator adds the node of its node type."""

    def __init__(self, graph: Graph, key: str) -> None:
        self.graph, self.key = graph, key

    def _node(self, op: str, *inputs: Value | float, attrs: dict | None = None) -> Value:
        keys = [self._lift(x).key for x in inputs]
        return Value(self.graph, self.graph.apply(op, f"{op}{next(COUNT)}", *keys, attrs=attrs))

    def _lift(self, x: Value | float) -> Value:
        if isinstance(x, Value):
            return x
        return Value(self.graph, self.graph.constant(f"{x:g}#{next(COUNT)}", (1, 1), x))

    def __add__(self, other):
        return self._node("add", self, other)

    def __radd__(self, other):
        return self._node("add", other, self)

    def __mul__(self, other):
        return self._node("mul", self, other)

    def __rmul__(self, other):
        return self._node("mul", other, self)

    def __sub__(self, other):
        return self._node("sub", self, other)

    def __neg__(self):
        return self * -1.0

    def __truediv__(self, other):
        return self._node("div", self, other)

    def __rtruediv__(self, other):
        return self._node("div", other, self)

    def __pow__(self, exponent: float):
        return self._node("pow", self, attrs={"exponent": exponent})

    def relu(self):
        return self._node("relu", self)


COUNT = itertools.count()


def parameters(*names_and_values: tuple[str, float]) -> tuple[Graph, dict, list[Value]]:
    g = Graph("micrograd")
    values = [Value(g, g.parameter(name, (1, 1))) for name, _ in names_and_values]
    return g, {name: np.array([[v]]) for name, v in names_and_values}, values


def sanity_check(x):
    """micrograd's test_sanity_check, line for line."""
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    return y


def more_ops(a, b):
    """micrograd's test_more_ops (and its README example), line for line; ``c += ...`` as ``c = c + ...``."""
    c = a + b
    d = a * b + b**3
    c = c + (c + 1)
    c = c + (1 + c + (-a))
    d = d + (d * 2 + (b + a).relu())
    d = d + (3 * d + (b - a).relu())
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    return g


@pytest.mark.parametrize("stack", [False, True])
def test_micrograds_sanity_check(stack):
    graph, params, (x,) = parameters(("x", -4.0))
    y = sanity_check(x)
    run = (stacked(graph) if stack else graph).compile([y.key]).forward({}, params)
    grads = run.backward(y.key)
    assert run.value(y.key).item() == -20.0 and grads["x"].item() == 46.0  # micrograd's (and PyTorch's) numbers
    reference = Scalar(-4.0)
    want = sanity_check(reference)
    want.backward()
    assert (want.data, reference.grad) == (-20.0, 46.0)


@pytest.mark.parametrize("stack", [False, True])
def test_micrograds_more_ops_and_its_readme_example(stack):
    graph, params, (a, b) = parameters(("a", -4.0), ("b", 2.0))
    g = more_ops(a, b)
    program = (stacked(graph) if stack else graph).compile([g.key])
    run = program.forward({}, params)
    grads = run.backward(g.key)
    # micrograd's README prints these: g 24.7041, dg/da 138.8338, dg/db 645.5773
    assert f"{run.value(g.key).item():.4f}" == "24.7041"
    assert f"{grads['a'].item():.4f} {grads['b'].item():.4f}" == "138.8338 645.5773"
    # and its test holds them to PyTorch within 1e-6; here to the scalar reference, which shares no code
    ra, rb = Scalar(-4.0), Scalar(2.0)
    want = more_ops(ra, rb)
    want.backward()
    assert run.value(g.key).item() == pytest.approx(want.data, rel=1e-12)
    assert grads["a"].item() == pytest.approx(ra.grad, rel=1e-12)
    assert grads["b"].item() == pytest.approx(rb.grad, rel=1e-12)
    assert all(check.passed for check in check_program(program, {}, params, of=g.key).values())
