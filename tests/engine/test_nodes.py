"""Node types: each backward against central differences, and the registry."""

import numpy as np
import pytest

from graphnet import Context, Graph, Node, get_node, register_node, registered_nodes
from graphnet.engine import nodes as builtin_nodes
from graphnet.errors import GraphError
from graphnet.engine.gradcheck import check_node

CORE = ["matmul", "add", "sigmoid", "squared_error", "sum"]
# The built-in node types (not those other tests register for themselves, whatever order they are imported in).
OPS = [name for name, node in registered_nodes().items() if not node.leaf and type(node).__module__ == builtin_nodes.__name__]


def test_at_least_twelve_node_types_beside_the_leaves():
    assert len(OPS) >= 12 and set(CORE) <= set(OPS)
    assert {"tanh", "relu", "mul", "sub", "concat", "slice", "mean", "bce_with_logits"} <= set(OPS)


@pytest.mark.parametrize("name", OPS)
def test_backward_matches_central_differences(name):
    assert check_node(get_node(name), batches=(1, 4), widths=(1, 3, 16)).passed


def test_backward_returns_one_gradient_per_input_shaped_like_it():
    rng = np.random.RandomState(0)
    for name in OPS:
        node = get_node(name)
        inputs = node.sample_inputs(rng, 3, 5)
        ctx = Context(attrs=node.sample_attrs(5))
        out = node.forward(ctx, *inputs)
        grads = node.backward(ctx, np.ones_like(out))
        assert [g.shape for g in grads] == [x.shape for x in inputs], name


def test_matmul_skips_gradients_nobody_needs():
    ctx = Context(needs_input_grad=(False, True))
    x, w = np.ones((2, 3)), np.ones((3, 4))
    get_node("matmul").forward(ctx, x, w)
    grad_x, grad_w = get_node("matmul").backward(ctx, np.ones((2, 4)))
    assert grad_x is None and grad_w.shape == (3, 4)


def run_through_a_program(op: str, *values: np.ndarray):
    """The value of one node of type ``op`` fed ``values``, computed as every graph is: by a Program."""
    g = Graph()
    inputs = [g.input(f"in{i}", (None, *np.shape(v)[1:])) for i, v in enumerate(values)]
    g.apply(op, "out", *inputs)
    return g.compile().forward({f"in{i}": v for i, v in enumerate(values)}, {}).values["out"]


def test_sigmoid_is_stable_for_large_inputs():
    # The post's form 1/(1+exp(-x)) overflows exp(-x) below -709 and still gives the right 0.0; a Program runs
    # with numpy's overflow warning off, so a run is quiet (opening errstate in the node cost more than it).
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = run_through_a_program("sigmoid", np.array([[-1000.0, 0.0, 1000.0]]))
    assert y.tolist() == [[0.0, 0.5, 1.0]]


def test_squared_error_is_half_the_sum_of_squares_averaged_over_the_batch():
    prediction, target = np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]])
    loss = get_node("squared_error").forward(Context(), prediction, target)
    assert loss == pytest.approx(0.5 * (1 + 4) / 2)


def test_squared_error_past_the_largest_float_is_inf_without_a_warning():
    # Training reports a non-finite loss by iteration and node; a numpy warning before it would be noise.
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = run_through_a_program("squared_error", np.array([[1e200]]), np.array([[0.0]]))
    assert loss == np.inf


def test_registry_lists_the_core_types_and_refuses_unknown_names():
    assert set(CORE) <= set(registered_nodes())
    with pytest.raises(GraphError, match="unknown node type 'nope'"):
        get_node("nope")


def test_a_name_cannot_be_registered_twice_by_different_classes():
    with pytest.raises(GraphError, match="already registered"):

        @register_node("sigmoid")
        class AnotherSigmoid(Node):
            pass


def test_bce_with_logits_is_stable_and_matches_its_definition():
    bce = get_node("bce_with_logits")
    logits, target = np.array([[-800.0, 0.0, 800.0]]), np.array([[0.0, 1.0, 1.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = bce.forward(Context(), logits, target)
    assert loss == pytest.approx(np.log(2.0))
    p = 1 / (1 + np.exp(-0.3))
    assert bce.forward(Context(), np.array([[0.3]]), np.array([[1.0]])) == pytest.approx(-np.log(p))


def test_slice_and_concat_undo_each_other():
    x = np.arange(12.0).reshape(2, 6)
    left = get_node("slice").forward(Context(attrs={"start": 0, "stop": 2}), x)
    right = get_node("slice").forward(Context(attrs={"start": 2, "stop": 6}), x)
    assert np.array_equal(get_node("concat").forward(Context(), left, right), x)


def test_shapes_are_checked_by_each_node_type():
    assert get_node("slice").shape((None, 8), start=2, stop=5) == (None, 3)
    assert get_node("concat").shape((None, 2), (None, 3)) == (None, 5)
    assert get_node("bias_add").shape((None, 4), (4,)) == (None, 4)
    with pytest.raises(ValueError, match="slice needs 0 <= start < stop <= 8"):
        get_node("slice").shape((None, 8), start=5, stop=9)
    with pytest.raises(ValueError, match="bias_add needs a bias of shape"):
        get_node("bias_add").shape((None, 4), (3,))


def test_a_node_type_whose_stacking_rule_is_not_one_is_refused_when_registered(node_type):
    from graphnet import Node

    with pytest.raises(GraphError, match=r"node type 'sigmoid2' \(.*\): stacking = 'elementwise'; expected None "
                                         r"or Stacking\(\)"):
        @node_type("sigmoid2")
        class Sigmoid2(Node):
            """A plugin's guess at how stacking is declared."""

            stacking = "elementwise"
