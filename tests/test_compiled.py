"""The fast runner equals the node-by-node run: on random graphs, on the post's network, at any batch."""

import numpy as np
import pytest

from graphnet import nodes
from graphnet.cells import Network, get_cell
from graphnet.compiled import FastProgram, fast
from graphnet.errors import GraphError
from graphnet.graph import Graph


@nodes.register("test_cube")
class Cube(nodes.Node):
    """x**3: a node type the fast runner has no kernel for, so it runs through the generic path."""

    def forward(self, ctx, x):
        ctx.save(x)
        return x * x * x

    def backward(self, ctx, grad):
        (x,) = ctx.saved
        return (grad * 3.0 * x * x,)


def random_graph(rng: np.random.RandomState, width: int = 3) -> Graph:
    """A random DAG of every core op and one unknown op, with shared weights used many times, and a loss."""
    g = Graph("random")
    weights = [g.parameter(f"w{i}", (width, width)) for i in range(3)]
    pool = [g.input(f"x{i}", (None, width)) for i in range(2)] + [g.constant("c", (None, width), 0.5)]
    for i in range(int(rng.randint(6, 14))):
        op = rng.choice(["matmul", "matmul", "add", "sigmoid", "test_cube"])
        a = pool[rng.randint(len(pool))]
        if op == "matmul":
            pool.append(g.apply("matmul", f"n{i}", a, weights[rng.randint(3)]))
        elif op == "add":
            pool.append(g.apply("add", f"n{i}", a, pool[rng.randint(len(pool))]))
        else:
            pool.append(g.apply(op, f"n{i}", a))
    target = g.input("target", (None, width))
    losses = [g.apply("squared_error", f"loss{i}", k, target) for i, k in enumerate(pool[-3:])]
    g.apply("sum", "loss", *losses)
    return g


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("batch", [1, 5])
def test_random_graphs_match_the_node_by_node_run(seed, batch):
    rng = np.random.RandomState(seed)
    g = random_graph(rng)
    feeds = {k: rng.normal(size=(batch, 3)) for k in ("x0", "x1", "target")}
    params = {k: rng.normal(scale=0.5, size=(3, 3)) for k in ("w0", "w1", "w2")}
    program = g.compile()
    slow, quick = program.forward(feeds, params), FastProgram(program).forward(feeds, params)
    assert slow.values.keys() == quick.values.keys()
    for key, value in slow.values.items():
        np.testing.assert_allclose(quick.values[key], value, rtol=1e-12, atol=1e-12, err_msg=key)
    slow_grads, quick_grads = slow.backward(every_node=True), quick.backward(every_node=True)
    assert slow_grads.keys() == quick_grads.keys()
    for key, grad in slow_grads.items():
        np.testing.assert_allclose(quick_grads[key], grad, rtol=1e-12, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("batch", [1, 64])
def test_the_posts_network_matches_bit_for_bit_at_batch_1_and_to_1e12_batched(batch):
    net = Network(get_cell("rnn"), inputs=2, hidden=16, outputs=1)
    rng = np.random.RandomState(batch)
    params = net.init_parameters(rng)
    x, y = rng.randint(0, 2, size=(2, 8, batch, 2)).astype(float)
    feeds = net.feeds(x, y[..., :1])
    program = net.graph(8).compile()
    slow, quick = program.forward(feeds, params).backward(), fast(program).forward(feeds, params).backward()
    assert slow.keys() == quick.keys() == set(params)
    for key in params:
        if batch == 1:  # no fusing at batch 1: the same operations in the same order
            assert np.array_equal(quick[key], slow[key]), key
        else:  # weight gradients summed over time in one product: another order of the same sum
            np.testing.assert_allclose(quick[key], slow[key], rtol=1e-12, atol=1e-12, err_msg=key)


def test_gradients_nobody_needs_are_not_computed_and_calling_backward_twice_is_the_same():
    net = Network(get_cell("rnn"), inputs=2, hidden=4, outputs=1)
    params = net.init_parameters(np.random.RandomState(0))
    feeds = net.feeds(np.ones((3, 2, 2)), np.ones((3, 2, 1)))
    run = fast(net.graph(3).compile()).forward(feeds, params)
    every = run.backward(every_node=True)
    assert "x[0]" not in every and "y[0]" not in every and "h[-1]" not in every
    first, second = run.backward(), run.backward()
    assert all(np.array_equal(first[k], second[k]) for k in first)


def test_the_fast_program_is_built_once_per_program():
    net = Network(get_cell("rnn"), inputs=2, hidden=4, outputs=1)
    program = net.graph(3).compile()
    assert fast(program) is fast(program)


def test_a_missing_parameter_and_an_unknown_loss_are_clear_errors():
    net = Network(get_cell("rnn"), inputs=2, hidden=4, outputs=1)
    program = fast(net.graph(2).compile())
    feeds = net.feeds(np.ones((2, 1, 2)), np.ones((2, 1, 1)))
    with pytest.raises(GraphError, match="synapse_0"):
        program.forward(feeds, {})
    run = program.forward(feeds, net.init_parameters(np.random.RandomState(0)))
    with pytest.raises(GraphError, match="nope"):
        run.backward("nope")


def test_node_types_with_settings_get_them_in_the_fast_runner_too():
    from graphnet.compiled import fast
    from graphnet.graph import Graph

    g = Graph()
    g.input("x", (None, 6))
    g.parameter("w", (6, 6))
    g.apply("matmul", "xw", "x", "w")
    g.apply("slice", "right", "xw", attrs={"start": 2, "stop": 6})
    g.apply("mean", "loss", "right")
    feeds, params = {"x": np.arange(12.0).reshape(2, 6)}, {"w": np.eye(6)}
    slow = g.compile().forward(feeds, params)
    quick = fast(g.compile()).forward(feeds, params)
    assert np.array_equal(quick.value("right"), slow.values["right"])
    assert np.array_equal(quick.backward()["w"], slow.backward()["w"])
