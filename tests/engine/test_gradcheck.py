"""The gradient checker itself: it passes right gradients and catches wrong ones."""

import inspect

import numpy as np
import pytest
from conftest import ROOT, TASK, run_cli

from graphnet import Node, Stacking, get_node, registered_nodes
from graphnet.engine.nodes import Mean
from graphnet import Graph, check_network, check_program, load_task
from graphnet.engine.gradcheck import (
    check_node, check_stacking, compare, numeric_gradient, relative_error,
)


class SigmoidWithWrongBackward(Node):
    """A sigmoid whose backward forgets a factor: the kind of bug that trains silently."""

    def forward(self, ctx, x):
        y = 1 / (1 + np.exp(-x))
        ctx.save(y)
        return y

    def backward(self, ctx, grad):
        (y,) = ctx.saved
        return (grad * y,)


def test_a_wrong_backward_is_caught():
    check = check_node(SigmoidWithWrongBackward())
    assert not check.passed and check.score > 100 and check.relative > 1e-2


class MeanClaimingToStack(Mean):
    """The mean of every element, claiming a stacking rule it does not keep: a stack gets one mean, not one
    per member."""

    stacking = Stacking()


def test_a_stacking_rule_the_node_type_does_not_keep_is_caught():
    with pytest.raises(AssertionError, match=r"declares stacking, but run stacked it gives shape \(\)"):
        check_node(MeanClaimingToStack())
    assert check_stacking(get_node("squared_error")) == 0.0


class MaxScaled(Node):
    """x / max(x), claiming to stack elementwise: run stacked, the max is every member's, not each one's own."""

    name = "max_scaled"
    stacking = Stacking()

    def forward(self, ctx, x):
        top = x.max()
        ctx.save(top)
        return x / top

    def backward(self, ctx, grad):  # (as if the max were 1: only the stacking is judged here, and only forward's)
        return (grad,)


class BackwardScaledByItsLargest(Node):
    """A sigmoid whose backward scales by the gradient's largest element: run stacked, every member's largest."""

    name = "scaled_backward"
    stacking = Stacking()

    def forward(self, ctx, x):
        return get_node("sigmoid").forward(ctx, x)

    def backward(self, ctx, grad):
        (g,) = get_node("sigmoid").backward(ctx, grad)
        return (g / np.abs(grad).max(),)


class BackwardNotPerMember(Node):
    """A sigmoid whose backward, run stacked, sums its members' gradients instead of giving each its own."""

    name = "not_per_member"
    stacking = Stacking()

    def forward(self, ctx, x):
        return get_node("sigmoid").forward(ctx, x)

    def backward(self, ctx, grad):
        (g,) = get_node("sigmoid").backward(ctx, grad)
        return (g.sum(axis=0) if g.ndim == 3 else g,)


class SumsTheFirstAxis(Node):
    """The sum over the first axis, claiming to stack: run stacked it sums the members, not each one's batch."""

    name = "sums_first"
    stacking = Stacking()

    def forward(self, ctx, x):
        return x.sum(axis=0)

    def backward(self, ctx, grad):
        return (grad,)


def test_a_stacking_rule_is_held_to_each_members_own_numbers_and_shapes():
    assert check_stacking(MaxScaled()) > 0.1  # the members' inputs differ, so their maxes do
    assert check_stacking(BackwardScaledByItsLargest()) > 0.01
    with pytest.raises(AssertionError, match=r"^max_scaled declares stacking, but run stacked its numbers differ from "
                                             r"its members' alone \(relative error .*\)$"):
        check_node(MaxScaled())
    with pytest.raises(AssertionError, match=r"^not_per_member declares stacking, but run stacked its backward gives "
                                             r"input 0 a gradient of shape \(2, 4\), not one per member of \(2, 4\)$"):
        check_stacking(BackwardNotPerMember())
    with pytest.raises(AssertionError, match=r"^sums_first declares stacking, but run stacked it gives shape \(2, 4\) "
                                             r"where each of 3 members gives \(4,\)$"):
        check_stacking(SumsTheFirstAxis())


class TwoGradients(Node):
    """One input, and a backward that returns two gradients."""

    name = "two_gradients"

    def forward(self, ctx, x):
        return 2 * x

    def backward(self, ctx, grad):
        return 2 * grad, 2 * grad


class GradientOfTheWrongShape(TwoGradients):
    """One input, and a backward that returns its gradient summed over the batch."""

    name = "wrong_shape"

    def backward(self, ctx, grad):
        return (2 * grad.sum(axis=0),)


def test_a_backward_that_returns_the_wrong_gradients_is_named():
    with pytest.raises(AssertionError, match=r"^two_gradients.backward returned 2 gradients for 1 inputs$"):
        check_node(TwoGradients())
    with pytest.raises(AssertionError, match=r"^wrong_shape.backward gave shape \(1,\) for input \(1, 1\)$"):
        check_node(GradientOfTheWrongShape())


def test_every_graphnet_node_type_passes_the_speed_layers_too():
    results = {name: check_node(node) for name, node in registered_nodes().items()
               if not node.leaf and type(node).__module__.startswith("graphnet.engine.")}
    assert {"stack", "unstack", "broadcast", "sigmoid"} <= set(results)
    assert all(check.passed and check.score < 0.1 for check in results.values()), results


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
    assert relative_error(1e-100 * a, -1e-100 * a) == 1.0  # relative, however small
    assert relative_error(0 * a, 0 * a) == 0.0


# The same wrong sigmoid as a user's plugin file, registered under a name a task can choose.
WRONG_SIGMOID_PLUGIN = (
    "import numpy as np\nfrom graphnet import Node, register_node\n\n\n@register_node('forgetful_sigmoid')\n"
    + inspect.getsource(SigmoidWithWrongBackward)
)


def test_the_whole_unrolled_network_of_every_shipped_task_passes_through_the_cli():
    for task in sorted((ROOT / "tasks").glob("*.toml")):
        result = run_cli("gradcheck", "--task", task, "--steps", "4", "--batch", "2")
        assert result.returncode == 0, (task, result.stdout, result.stderr)
        assert result.stdout.strip().splitlines()[-1].endswith(
            " 0 failed (|analytic - numeric| <= 1e-08 |loss| + 1e-05 |numeric| in every element, float64 central differences through the unrolled graph: score at most 1)")


def test_a_cell_built_on_a_wrong_backward_fails_the_network_check(tmp_path):
    plugin = tmp_path / "forgetful.py"
    plugin.write_text(WRONG_SIGMOID_PLUGIN)
    result = run_cli("gradcheck", "--task", TASK, "--set", "network.activation=forgetful_sigmoid",
                     "--plugin", plugin, "--steps", "3")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    # The output layer keeps the right sigmoid; the hidden layer's wrong one spoils both weights feeding it.
    assert [line.split()[0] for line in lines if line.endswith("FAILED")] == ["synapse_0", "synapse_h"]
    assert lines[-1] == ("1 passed, 2 failed (|analytic - numeric| <= 1e-08 |loss| + 1e-05 |numeric| in every "
                         "element, float64 central differences through the unrolled graph: score at most 1)")


def test_the_network_check_at_trained_weights(trained_weights):
    result = run_cli("gradcheck", "--task", TASK, "--weights", trained_weights, "--steps", "10")
    assert result.returncode == 0 and "weights from" in result.stdout.splitlines()[0]


# -- a verdict that holds for gradients of any size -----------------------------------------------------------------
def test_a_right_gradient_passes_however_small_it_is():
    # The case: hidden 256 over 2 steps, where synapse_h's gradient is about 1e-9 in size; the relative
    # error of such a gradient is 3.5e-4 from rounding alone, and synapse_0's gradient is exactly 0 here.
    result = run_cli("gradcheck", "--task", TASK, "--set", "network.hidden=256", "--steps", "2", "--batch", "1")
    assert result.returncode == 0, result.stdout
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[2:5]}
    assert float(rows["synapse_h"][-3]) < 1e-11 and float(rows["synapse_h"][-2]) > 1e-4  # tiny, and relative big


def zero_gradient_graph():
    """loss = mean(h + (w - h)) with h = x @ w_in: w_in's gradient cancels to exactly 0."""
    g = Graph()
    g.input("x", (None, 2))
    g.parameter("w_in", (2, 2))
    g.parameter("w", (None, 2))
    g.apply("matmul", "h", "x", "w_in")
    g.apply("sub", "d", "w", "h")
    g.apply("add", "back", "h", "d")  # = w, whatever w_in is: w_in's true gradient is exactly 0
    g.apply("mean", "loss", "back")
    return g


def test_an_exactly_zero_gradient_passes():
    rng = np.random.RandomState(3)
    checks = check_program(zero_gradient_graph().compile(["loss"], wrt=["w_in"]), {"x": rng.normal(size=(2, 2))},
                           {"w_in": rng.normal(size=(2, 2)), "w": rng.normal(size=(2, 2))})
    assert checks["w_in"].passed and checks["w_in"].size < 1e-9


def test_a_weight_the_objective_does_not_read_has_a_zero_gradient_that_passes():
    g = Graph()
    g.parameter("unread", (1, 2))
    g.apply("sum", "loss", g.apply("sigmoid", "s", g.parameter("w", (1, 2))))
    checks = check_program(g.compile(["loss"]), {}, {"w": np.ones((1, 2)), "unread": np.ones((1, 2))})
    assert set(checks) == {"w", "unread"} and checks["w"].passed and checks["w"].size > 0.1
    assert checks["unread"].passed and checks["unread"].size == 0.0


def test_a_vanishing_gradient_passes_when_right_and_fails_when_wrong(node_type):
    # The hidden layer's weights get gradients of about 1e-5 (the output weight is tiny, so little error reaches
    # them), as a user's cell may: right, they pass; with the hidden layer's backward wrong, they fail.
    node_type("forgetful_sigmoid")(SigmoidWithWrongBackward)
    for activation, passes in (("sigmoid", True), ("forgetful_sigmoid", False)):
        task = load_task(TASK, [f"network.activation={activation}", "network.hidden=8"])
        network = task.build_network()
        params = {k: 1e-4 * v if k == "synapse_1" else v
                  for k, v in network.init_parameters(np.random.RandomState(0)).items()}
        check = check_network(network, task.generator, 8, params=params)["synapse_h"]
        assert check.size < 1e-4 and check.passed == passes, check


def test_compare_allows_rounding_relative_to_the_loss_and_nothing_more():
    numeric = np.array([1e-9, 0.0, 0.5])
    assert compare(numeric + 1e-9, numeric, scale=1.0).passed  # within 1e-8 * |loss|
    assert not compare(numeric + 1e-7, numeric, scale=1.0).passed
    assert compare(numeric + 1e-7, numeric, scale=100.0).passed  # a bigger loss rounds more
    assert not compare(numeric * (1 + 1e-4), numeric, scale=1e-9).passed  # 0.5 off by 1e-4: relative, fails
    assert not compare(np.array([1e-3]), np.array([0.0]), scale=0.0).passed  # an objective of 0 allows no rounding


def test_a_verdict_reports_the_largest_difference_its_allowance_and_the_gradients_size():
    numeric = np.array([[1e-9, 0.0, 0.5]])
    verdict = compare(numeric + [[1e-9, 0.0, 2e-9]], numeric, scale=3.0)
    assert (verdict.difference, verdict.atol, verdict.size) == pytest.approx((2e-9, 3e-8, 0.5), rel=1e-6)
    assert str(verdict) == "ok" and str(compare(numeric + 1, numeric, scale=3.0)) == "FAILED"
    assert compare(np.zeros((2, 0)), np.zeros((2, 0)), scale=1.0).passed  # a weight of no elements
