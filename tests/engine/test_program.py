"""Programs: the reverse pass watched one op at a time (``Run.reverse``) is the reverse pass ``backward`` runs."""

import numpy as np
import pytest

from graphnet import load_task, stacked
from graphnet.errors import GraphError
from conftest import TASK


def run_of_5_plus_6(stack: bool, steps: int = 4):
    """A run of the post's network (its first weights, seed 0) on 5 + 6, of its graph as built or stacked."""
    task = load_task(TASK)
    network = task.build_network()
    problem = task.generator.example("5+6", steps)
    graph = network.graph(steps)
    params = network.init_parameters(np.random.RandomState(0))
    program = (stacked(graph) if stack else graph).compile()
    return graph, program.forward(network.feeds(problem.x, problem.y), params)


def test_op_by_op_the_reverse_pass_visits_every_op_last_first_and_ends_with_backwards_gradients():
    graph, run = run_of_5_plus_6(stack=False)
    seen, so_far = [], []
    for key, grad in run.reverse():
        seen.append(key)
        so_far.append(grad("synapse_h"))
    assert seen == [op.key for op in reversed(run.program.ops)]
    assert seen[0] == "loss" and seen[-1] == "x_synapse_0[0]"
    whole = run.backward()
    np.testing.assert_array_equal(so_far[-1], whole["synapse_h"])  # the same pass: bit for bit
    # synapse_h's gradient changes exactly when a step's recurrent matmul hands its share back, 4 times
    changes = [key for key, before, after in zip(seen[1:], so_far, so_far[1:]) if after is not before]
    assert changes == [f"h_synapse_h[{t}]" for t in (3, 2, 1, 0)]


def test_a_stacked_program_hands_a_group_back_at_once_with_the_same_gradients():
    _, op_by_op = run_of_5_plus_6(stack=False)
    graph, fast = run_of_5_plus_6(stack=True)
    keys = []
    for key, grad in fast.reverse():
        keys.append(key)
    expected = op_by_op.backward(every_node=True)
    assert keys == [op.key for op in reversed(fast.program.ops)]
    assert "h_synapse_1[0..3]" in keys and "h_synapse_1[3]" not in keys  # one op: the group's, on the stack
    for key in ["synapse_0", "synapse_h", "synapse_1", "h[0]"]:
        np.testing.assert_array_equal(grad(key), expected[key])
    np.testing.assert_array_equal(grad("y_hat[0..3]")[2], expected["y_hat[2]"])  # a member: its row of the stack


def test_reverse_refuses_what_the_run_did_not_compute():
    _, run = run_of_5_plus_6(stack=False)
    with pytest.raises(GraphError, match="node 'nope' was not computed"):
        next(run.reverse("nope"))
    key, grad = next(run.reverse())
    with pytest.raises(GraphError, match="node 'h\\[9\\]' was not computed"):
        grad("h[9]")


def test_a_node_types_wrong_result_is_raised_as_the_engine_said_it_not_chained_to_itself(node_type):
    from graphnet import Graph, Node

    @node_type("forgets_to_return")
    class ForgetsToReturn(Node):
        """x, whose backward returns nothing."""

        def forward(self, ctx, x):
            return x

        def backward(self, ctx, grad):
            pass

    g = Graph()
    g.apply("sum", "loss", g.apply("forgets_to_return", "y", g.parameter("w", (1, 2))))
    run = g.compile().forward({}, {"w": np.ones((1, 2))})
    with pytest.raises(GraphError, match="forgets_to_return.backward at node 'y' returned None") as caught:
        run.backward()
    chain, exc = [], caught.value
    while exc is not None and len(chain) < 10:  # what reports it walks this chain: it must end
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    assert exc is None
