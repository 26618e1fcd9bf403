"""Programs: the reverse pass watched one op at a time (``Run.reverse``) is the reverse pass ``backward`` runs; what
a run's leaves hold."""

import numpy as np
import pytest

from graphnet import Graph, Node, load_task, stacked
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


def test_constants_and_unfed_inputs_hold_their_fill_and_a_fed_input_its_value():
    g = Graph()
    g.input("x", (None, 2))
    g.input("bias", (None, 2), fill=0.25)  # an input with a default: a run may feed it or not
    g.constant("scale", (None, 2), 3.0)  # a batch of 3.0s, as many rows as the run's batch
    g.constant("mix", (2, 2), -1.5)  # a fixed shape: no batch axis
    g.apply("mul", "scaled", "x", "scale")
    g.apply("add", "y", "scaled", "bias")
    g.apply("matmul", "z", "y", "mix")
    program = g.compile()
    x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    run = program.forward({"x": x}, {})
    assert run.value("bias").tolist() == [[0.25, 0.25]] * 3 and run.value("scale").tolist() == [[3.0, 3.0]] * 3
    assert run.value("mix").tolist() == [[-1.5, -1.5]] * 2
    np.testing.assert_array_equal(run.value("z"), (3 * x + 0.25) @ np.full((2, 2), -1.5))
    assert not run.value("scale").flags.writeable  # shared by every run of this shape: nobody may change it
    fed = program.forward({"x": x[:1], "bias": np.array([[7.0, 8.0]])}, {})  # another batch size, bias fed
    assert fed.value("bias").tolist() == [[7.0, 8.0]] and fed.value("scale").tolist() == [[3.0, 3.0]]
    assert fed.value("y").tolist() == [[10.0, 14.0]]
    # Networks side by side: a leading axis of 2 members in front of every input and every fill.
    side_by_side = program.forward({"x": np.stack([x, -x])}, {})
    assert side_by_side.value("bias").shape == side_by_side.value("scale").shape == (2, 3, 2)
    assert side_by_side.value("mix").shape == (2, 2, 2)
    np.testing.assert_array_equal(side_by_side.value("z")[1], (-3 * x + 0.25) @ np.full((2, 2), -1.5))


def test_a_run_reads_the_leaves_it_knows_and_a_batch_of_one_when_none_has_a_batch():
    g = Graph()
    g.apply("add", "y", g.input("x", (None, 2)), g.constant("one", (None, 2), 1.0))
    g.apply("add", "z", "y", g.input("shift", (None, 2), fill=0.0))  # a default, after a constant
    program = g.compile()
    assert program.fed == {"x", "one", "shift"}
    x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    run = program.forward({"unknown": np.zeros(5), "x": x, "shift": np.full((3, 2), 10.0)}, {})  # what it does not
    assert run.value("z").tolist() == (x + 11.0).tolist()  # know, it does not read
    constants = Graph()
    constants.apply("sigmoid", "s", constants.constant("zero", (None, 2), 0.0))
    assert constants.compile().forward({}, {}).value("s").tolist() == [[0.5, 0.5]]


def test_a_runs_leading_axes_are_read_off_its_weights_when_no_input_has_them():
    g = Graph()
    g.apply("add", "y", g.parameter("w", (2,)), g.constant("one", (2,), 1.0))
    run = g.compile().forward({}, {"w": np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])})  # 3 networks side by side
    assert run.value("one").shape == (3, 2) and run.value("y").tolist() == [[2.0, 3.0], [4.0, 5.0], [6.0, 7.0]]


def test_a_node_type_without_a_stacking_rule_runs_alone_and_is_refused_side_by_side_in_words(node_type):
    @node_type("test_cube")
    class Cube(Node):
        """x**3, with no stacking rule: its methods take one network's values only."""

        def forward(self, ctx, x):
            return x * x * x

    g = Graph()
    g.apply("test_cube", "c", g.input("x", (None, 2)))
    program = g.compile()
    assert program.forward({"x": np.full((1, 2), 2.0)}, {}).value("c").tolist() == [[8.0, 8.0]]
    with pytest.raises(GraphError) as refused:
        program.forward({"x": np.ones((3, 1, 2))}, {})
    assert str(refused.value) == ("node 'c' (test_cube) cannot run with leading axes (3,) (networks side by side): its "
                                  "node type declares no stacking rule, which says its methods take them (see "
                                  "graphnet.Stacking)")


def test_a_forward_of_the_wrong_shape_is_named_with_the_shape_the_graph_expects(node_type):
    @node_type("test_first_column")
    class FirstColumn(Node):
        """x's first column, though its shape rule (the default) says all of x."""

        def forward(self, ctx, x):
            return x[:, :1]

    g = Graph()
    g.apply("test_first_column", "y", g.input("x", (None, 2)))
    with pytest.raises(GraphError) as refused:
        g.compile().forward({"x": np.ones((3, 2))}, {})
    assert str(refused.value) == ("test_first_column.forward at node 'y' returned a value of shape (3, 1); the graph "
                                  "expects (3, 2) (static shape (None, 2)) "
                                  f"(node type 'test_first_column' of {__name__})")


def test_a_reverse_pass_past_the_largest_float_gives_inf_without_a_warning():
    g = Graph()
    w = g.parameter("w", (1, 1))
    g.apply("mul", "cube", g.apply("mul", "square", w, w), w)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        grads = g.compile().forward({}, {"w": np.array([[1e200]])}).backward("cube")
    assert grads["w"].tolist() == [[np.inf]]


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

    @node_type("bare")
    class Bare(Node):
        """x, whose backward returns its gradient bare, not in a tuple."""

        def forward(self, ctx, x):
            return x

        def backward(self, ctx, grad):
            return grad

    g = Graph()
    g.apply("sum", "loss", g.apply("bare", "z", g.parameter("w", (1, 2))))
    with pytest.raises(GraphError, match=r"^bare.backward at node 'z' returned array\(\[\[1., 1.\]\]\) for its 1 inputs; "
                                         r"it returns a tuple, one gradient \(or None\) per input"):
        g.compile().forward({}, {"w": np.ones((1, 2))}).backward()


def test_a_failing_op_is_named_and_so_is_a_node_type_that_is_not_graphnets(node_type):
    @node_type("boom")
    class Boom(Node):
        """Fails."""

        def forward(self, ctx, x):
            raise ZeroDivisionError("no")

    g = Graph()
    x = g.input("x", (None, 2))
    g.apply("boom", "b", g.apply("matmul", "y", x, g.parameter("w", (2, 1))))
    program = g.compile()
    with pytest.raises(GraphError) as failed:  # graphnet's own matmul: the message says what numpy said
        program.forward({"x": np.ones((3, 5))}, {"w": np.ones((2, 1))})
    numpy_said = failed.value.__cause__
    assert isinstance(numpy_said, ValueError)
    assert str(failed.value) == f"matmul.forward at node 'y' failed: ValueError: {numpy_said}"
    with pytest.raises(GraphError) as failed:  # a plugin's: and where it comes from
        program.forward({"x": np.ones((3, 2))}, {"w": np.ones((2, 1))})
    assert str(failed.value) == f"boom.forward at node 'b' failed: ZeroDivisionError: no (node type 'boom' of {__name__})"


def test_a_failing_backward_is_named_as_a_failing_forward_is(node_type):
    @node_type("bust")
    class Bust(Node):
        """x forward; its backward fails."""

        def forward(self, ctx, x):
            return x

        def backward(self, ctx, grad):
            raise KeyError("gone")

    g = Graph()
    g.apply("sum", "loss", g.apply("bust", "b", g.parameter("w", (1, 2))))
    run = g.compile().forward({}, {"w": np.ones((1, 2))})
    with pytest.raises(GraphError) as failed:
        run.backward()
    assert str(failed.value) == f"bust.backward at node 'b' failed: KeyError: 'gone' (node type 'bust' of {__name__})"
    assert isinstance(failed.value.__cause__, KeyError)


def test_every_nodes_gradients_come_in_the_order_the_reverse_pass_completes_them():
    # The first NaN among them is where the reverse pass first made one (training names it so).
    g = Graph()
    h = g.apply("tanh", "h", g.apply("matmul", "xw", g.input("x", (None, 2)), g.parameter("w", (2, 2))))
    g.apply("sum", "loss", g.apply("mul", "hh", h, h))
    run = g.compile().forward({"x": np.ones((1, 2))}, {"w": np.eye(2)})
    assert list(run.backward(every_node=True)) == ["loss", "hh", "h", "xw", "w"]
