"""Node types: each backward against central differences, and the registry."""

import numpy as np
import pytest

from graphnet import nodes
from graphnet.errors import GraphError
from graphnet.gradcheck import TOLERANCE, check_node
from graphnet.nodes import Context

CORE = ["matmul", "add", "sigmoid", "squared_error", "sum"]


@pytest.mark.parametrize("name", CORE)
def test_backward_matches_central_differences(name):
    assert check_node(nodes.get(name), batches=(1, 4), widths=(1, 3, 16)) < TOLERANCE


def test_backward_returns_one_gradient_per_input_shaped_like_it():
    rng = np.random.RandomState(0)
    for name in CORE:
        node = nodes.get(name)
        inputs = node.sample_inputs(rng, 3, 5)
        ctx = Context()
        out = node.forward(ctx, *inputs)
        grads = node.backward(ctx, np.ones_like(out))
        assert [g.shape for g in grads] == [x.shape for x in inputs], name


def test_matmul_skips_gradients_nobody_needs():
    ctx = Context(needs_input_grad=(False, True))
    x, w = np.ones((2, 3)), np.ones((3, 4))
    nodes.get("matmul").forward(ctx, x, w)
    grad_x, grad_w = nodes.get("matmul").backward(ctx, np.ones((2, 4)))
    assert grad_x is None and grad_w.shape == (3, 4)


def test_sigmoid_is_stable_for_large_inputs():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = nodes.get("sigmoid").forward(Context(), np.array([[-1000.0, 0.0, 1000.0]]))
    assert y.tolist() == [[0.0, 0.5, 1.0]]


def test_squared_error_is_half_the_sum_of_squares_averaged_over_the_batch():
    prediction, target = np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]])
    loss = nodes.get("squared_error").forward(Context(), prediction, target)
    assert loss == pytest.approx(0.5 * (1 + 4) / 2)


def test_registry_lists_the_core_types_and_refuses_unknown_names():
    assert set(CORE) <= set(nodes.registered())
    with pytest.raises(GraphError, match="unknown node type 'nope'"):
        nodes.get("nope")


def test_a_name_cannot_be_registered_twice_by_different_classes():
    with pytest.raises(GraphError, match="already registered"):

        @nodes.register("sigmoid")
        class AnotherSigmoid(nodes.Node):
            pass
