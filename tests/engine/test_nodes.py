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


# Each node type whose backward skips a gradient nobody needs (``ctx.needs_input_grad``), and the inputs it skips.
SKIPPING = {"matmul": (0, 1), "mul": (0, 1), "sub": (1,), "div": (0, 1), "squared_error": (0, 1),
            "bce_with_logits": (0, 1), "bias_add": (1,), "stack": (0, 1, 2)}


@pytest.mark.parametrize("name", SKIPPING)
def test_a_node_type_skips_the_gradients_nobody_needs(name):
    node = get_node(name)
    inputs = node.sample_inputs(np.random.RandomState(0), 3, 4)
    for skipped in SKIPPING[name]:
        needs = tuple(i != skipped for i in range(len(inputs)))
        ctx = Context(needs, node.sample_attrs(4))
        grads = node.backward(ctx, np.ones_like(node.forward(ctx, *inputs)))
        assert [g is None for g in grads] == [not need for need in needs], skipped


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


def test_matmul_multiplies_each_member_of_a_stack_by_its_own_weight_even_of_one_member():
    rng = np.random.RandomState(0)
    for members in (1, 3):
        for inputs in (1, 2):  # one input: each product is a single one, made another way (see _matmul)
            a, b = rng.normal(size=(members, 4, inputs)), rng.normal(size=(members, inputs, 3))
            product = get_node("matmul").forward(Context(), a, b)
            assert np.array_equal(product, np.stack([x @ w for x, w in zip(a, b)])), (members, inputs)


def test_shapes_are_checked_by_each_node_type():
    assert get_node("slice").shape((None, 8), start=2, stop=5) == (None, 3)
    assert get_node("slice").shape((2, 3, 8), start=0, stop=5) == (2, 3, 5)  # the last axis, whatever the rank
    assert get_node("concat").shape((None, 2), (None, 3)) == (None, 5)
    assert get_node("concat").shape((4, 3, 2), (4, 3, 5)) == (4, 3, 7)
    assert get_node("bias_add").shape((None, 4), (4,)) == (None, 4)


@pytest.mark.parametrize("op, shapes, attrs, message", [
    ("matmul", [(None, 3, 2), (3, 4)], {}, "matmul cannot multiply shapes (None, 3, 2) and (3, 4)"),
    ("matmul", [(None, 3), (3, 4, 5)], {}, "matmul cannot multiply shapes (None, 3) and (3, 4, 5)"),
    ("matmul", [(None, 2), (3, 4)], {}, "matmul cannot multiply shapes (None, 2) and (3, 4)"),
    ("add", [(None, 2), (None, 3)], {}, "add needs inputs of one shape, got (None, 2) and (None, 3)"),
    ("mul", [(None, 2), (2, 2)], {}, "mul needs inputs of one shape, got (None, 2) and (2, 2)"),
    ("sub", [(None, 2), (None, 3)], {}, "sub needs inputs of one shape, got (None, 2) and (None, 3)"),
    ("div", [(None, 2), (None, 3)], {}, "div needs inputs of one shape, got (None, 2) and (None, 3)"),
    ("sum", [(None, 2), (None, 2), (None, 3)], {}, "sum needs inputs of one shape, got (None, 2) and (None, 2) and "
                                                  "(None, 3)"),
    ("squared_error", [(None, 2, 1), (None, 2, 1)], {}, "squared_error needs a batch of vectors, shape (batch, "
                                                       "width), got (None, 2, 1)"),
    ("squared_error", [(None, 2), (None, 1)], {}, "squared_error needs inputs of one shape, got (None, 2) and "
                                                 "(None, 1)"),
    ("bce_with_logits", [(None,), (None,)], {}, "bce_with_logits needs a batch of vectors, shape (batch, width), "
                                               "got (None,)"),
    ("bce_with_logits", [(None, 2), (None, 1)], {}, "bce_with_logits needs inputs of one shape, got (None, 2) and "
                                                   "(None, 1)"),
    ("bias_add", [(None, 4), (3,)], {}, "bias_add needs a bias of shape (4,) for input (None, 4), got (3,)"),
    ("bias_add", [(None, 4), (1, 4)], {}, "bias_add needs a bias of shape (4,) for input (None, 4), got (1, 4)"),
    ("bias_add", [(None, 3, 4), (4,)], {}, "bias_add needs a batch of vectors, shape (batch, width), got "
                                          "(None, 3, 4)"),
    ("concat", [(None, 2), (3, 2)], {}, "concat needs inputs that differ only in the last axis, got ((None, 2), "
                                        "(3, 2))"),
    ("slice", [(None, 8)], {"start": 5, "stop": 9}, "slice needs 0 <= start < stop <= 8, got start=5, stop=9"),
    ("slice", [(None, 3, 8)], {"start": 5, "stop": 9}, "slice needs 0 <= start < stop <= 8, got start=5, stop=9"),
    ("slice", [(None, 8)], {"start": 3, "stop": 3}, "slice needs 0 <= start < stop <= 8, got start=3, stop=3"),
    ("slice", [(None, 8)], {"start": -1}, "slice needs 0 <= start < stop <= 8, got start=-1, stop=8"),
    ("pow", [(None, 2)], {"exponent": True}, "pow needs a finite number as its exponent (attrs={'exponent': 3}), "
                                             "got True"),
    ("pow", [(None, 2)], {"exponent": "3"}, "pow needs a finite number as its exponent (attrs={'exponent': 3}), "
                                            "got '3'"),
    ("pow", [(None, 2)], {"exponent": float("inf")}, "pow needs a finite number as its exponent (attrs={'exponent': "
                                                     "3}), got inf"),
])
def test_a_node_its_type_cannot_compute_is_refused_in_words(op, shapes, attrs, message):
    g = Graph()
    inputs = [g.input(f"in{i}", shape) for i, shape in enumerate(shapes)]
    with pytest.raises(GraphError) as refused:
        g.apply(op, "out", *inputs, attrs=attrs)
    assert str(refused.value) == f"node 'out' ({op}): {message} (its inputs: {', '.join(map(repr, inputs))})"


def test_a_slice_without_a_bound_runs_to_that_end_of_the_axis():
    slice_, x = get_node("slice"), np.arange(12.0).reshape(2, 6)
    for attrs, columns in [({"stop": 2}, slice(0, 2)), ({"start": 4}, slice(4, 6)), ({}, slice(0, 6))]:
        ctx = Context(attrs=attrs)
        assert np.array_equal(slice_.forward(ctx, x), x[:, columns]), attrs
        (grad,) = slice_.backward(ctx, np.ones((2, columns.stop - columns.start)))
        assert np.array_equal(grad, np.isin(np.arange(6), np.arange(6)[columns]) * np.ones((2, 1))), attrs
        assert slice_.shape((None, 6), **attrs) == (None, columns.stop - columns.start), attrs
    ctx, x = Context(attrs={"start": 4}), np.arange(24.0).reshape(2, 2, 6)  # the last axis, whatever the rank
    assert np.array_equal(slice_.forward(ctx, x), x[..., 4:]) and slice_.shape((2, 2, 6), start=4) == (2, 2, 2)
    (grad,) = slice_.backward(ctx, np.ones((2, 2, 2)))
    assert grad.shape == (2, 2, 6) and grad[..., 4:].all() and not grad[..., :4].any()


def test_relu_passes_the_gradient_where_its_input_is_positive_and_none_at_zero():
    # At the kink the gradient is 0, as the docstring says (PyTorch's too); central differences cannot judge it.
    relu, ctx = get_node("relu"), Context()
    x = np.array([[-2.0, -0.0, 0.0, 1e-300, 3.0]])
    assert relu.forward(ctx, x).tolist() == [[0.0, 0.0, 0.0, 1e-300, 3.0]]
    (grad,) = relu.backward(ctx, np.full_like(x, 5.0))
    assert grad.tolist() == [[0.0, 0.0, 0.0, 5.0, 5.0]]


def test_a_node_type_whose_stacking_rule_is_not_one_is_refused_when_registered(node_type):
    from graphnet import Node

    with pytest.raises(GraphError, match=r"node type 'sigmoid2' \(.*\): stacking = 'elementwise'; expected None "
                                         r"or Stacking\(\)"):
        @node_type("sigmoid2")
        class Sigmoid2(Node):
            """A plugin's guess at how stacking is declared."""

            stacking = "elementwise"


def test_a_leaf_is_fed_by_the_run_and_a_context_made_without_needs_input_grad_wants_every_gradient():
    with pytest.raises(GraphError, match=r"^a parameter node is fed by the run, not computed$"):
        get_node("parameter").forward(Context())
    assert Context().saved == ()  # nothing saved yet
    wants = Context().needs_input_grad
    assert wants[0] and wants[7]
    with pytest.raises(TypeError, match=r"^needs_input_grad of a context made without it: index it, "
                                        r"needs_input_grad\[i\]$"):  # how many inputs there are is the node type's
        list(wants)
