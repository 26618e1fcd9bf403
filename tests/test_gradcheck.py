"""The gradient checker itself: it passes right gradients and catches wrong ones."""

import numpy as np

from graphnet import nodes
from graphnet.gradcheck import TOLERANCE, check_all_nodes, check_node, numeric_gradient, relative_error


class SigmoidWithWrongBackward(nodes.Node):
    """A sigmoid whose backward forgets a factor: the kind of bug that trains silently."""

    def forward(self, ctx, x):
        y = 1 / (1 + np.exp(-x))
        ctx.save(y)
        return y

    def backward(self, ctx, grad):
        (y,) = ctx.saved
        return (grad * y,)


def test_a_wrong_backward_is_caught():
    assert check_node(SigmoidWithWrongBackward()) > 1e-2


def test_every_registered_node_type_passes():
    results = check_all_nodes()
    assert results and all(err < TOLERANCE for err in results.values()), results


def test_numeric_gradient_of_a_quadratic_and_leaves_x_unchanged():
    x = np.array([[1.0, -2.0, 3.0]])
    before = x.copy()
    grad = numeric_gradient(lambda: float(np.sum(x**2)), x)
    assert np.allclose(grad, 2 * before, atol=1e-8)
    assert np.array_equal(x, before)


def test_relative_error_is_zero_for_equal_and_one_for_opposite():
    a = np.array([1.0, 2.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(a, -a) == 1.0
