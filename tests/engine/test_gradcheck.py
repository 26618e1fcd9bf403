"""The gradient checker itself: it passes right gradients and catches wrong ones."""

import inspect

import numpy as np
import pytest
from conftest import ROOT, TASK, run_cli

from graphnet import Node, Stacking, get_node
from graphnet.engine.nodes import Mean
from graphnet.engine.gradcheck import (
    TOLERANCE, check_all_nodes, check_node, check_stacking, numeric_gradient, relative_error,
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
    assert check_node(SigmoidWithWrongBackward()) > 1e-2


class MeanClaimingToStack(Mean):
    """The mean of every element, claiming a stacking rule it does not keep: a stack gets one mean, not one
    per member."""

    stacking = Stacking()


def test_a_stacking_rule_the_node_type_does_not_keep_is_caught():
    with pytest.raises(AssertionError, match=r"declares stacking, but run stacked it gives shape \(\)"):
        check_node(MeanClaimingToStack())
    assert check_stacking(get_node("squared_error")) == 0.0


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
            "0 failed (tolerance 1e-06, float64 central differences through the unrolled graph)")


def test_a_cell_built_on_a_wrong_backward_fails_the_network_check(tmp_path):
    plugin = tmp_path / "forgetful.py"
    plugin.write_text(WRONG_SIGMOID_PLUGIN)
    result = run_cli("gradcheck", "--task", TASK, "--set", "network.activation=forgetful_sigmoid",
                     "--plugin", plugin, "--steps", "3")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    # The output layer keeps the right sigmoid; the hidden layer's wrong one spoils both weights feeding it.
    assert [line.split()[0] for line in lines if line.endswith("FAILED")] == ["synapse_0", "synapse_h"]
    assert lines[-1] == ("1 passed, 2 failed (tolerance 1e-06, float64 central differences through the "
                         "unrolled graph)")


def test_the_network_check_at_trained_weights(trained_weights):
    result = run_cli("gradcheck", "--task", TASK, "--weights", trained_weights, "--steps", "10")
    assert result.returncode == 0 and "weights from" in result.stdout.splitlines()[0]
