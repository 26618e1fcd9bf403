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


# -- time stacking: groups of independent same-type ops run as one op ------------------------------------------
def assert_runs_match(program, feeds, params, *, exact=False, of="loss"):
    """The stacked fast run equals the node-by-node run: every value and every node's gradient."""
    slow, quick = program.forward(feeds, params), fast(program).forward(feeds, params)
    compare = np.testing.assert_array_equal if exact else (
        lambda a, b, err_msg: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=err_msg)
    )
    assert slow.values.keys() == quick.values.keys()
    for key, value in slow.values.items():
        compare(quick.value(key), value, err_msg=key)
    slow_grads, quick_grads = slow.backward(of, every_node=True), quick.backward(of, every_node=True)
    assert slow_grads.keys() == quick_grads.keys()
    for key, grad in slow_grads.items():
        compare(quick_grads[key], grad, err_msg=key)


def test_random_graphs_are_stacked_and_any_node_can_be_the_one_differentiated():
    stacked_groups = 0
    for seed in range(30):
        rng = np.random.RandomState(seed)
        g = random_graph(rng, width=3)
        program = g.compile()
        stacked_groups += len(fast(program).plans)
        for batch in (1, 4):
            feeds = {k: rng.normal(size=(batch, 3)) for k in ("x0", "x1", "target")}
            params = {k: rng.normal(scale=0.5, size=(3, 3)) for k in ("w0", "w1", "w2")}
            # Any op as the output: group members that do not lead to it get no gradient, nor do their inputs.
            for of in ["loss"] + [s.key for s in program.steps][:: 3]:
                assert_runs_match(program, feeds, params, of=of)
    assert stacked_groups > 20  # the random graphs do exercise stacking


@pytest.mark.parametrize("batch", [1, 64])
def test_the_posts_network_runs_stacked_bit_for_bit(batch):
    # Batch 1: bit for bit the node-by-node run (and so the post). Batch 64: bit for bit too except the weight
    # gradients, summed over time in one product (another order of the same sum).
    net = Network(get_cell("rnn"), inputs=2, hidden=16, outputs=1)
    rng = np.random.RandomState(7)
    params = net.init_parameters(rng)
    x, y = rng.randint(0, 2, size=(2, 8, batch, 2)).astype(float)
    program = net.graph(8).compile()
    groups = [[program.steps[i].key for i in plan.members] for plan in fast(program).plans]
    assert [keys[0] for keys in groups] == ["x_synapse_0[0]", "h_synapse_1[0]", "y_hat[0]", "loss[0]"]
    assert all(len(keys) == 8 for keys in groups)
    feeds = net.feeds(x, y[..., :1])
    slow, quick = program.forward(feeds, params), fast(program).forward(feeds, params)
    for key, value in slow.values.items():
        assert np.array_equal(quick.value(key), value), key
    slow_grads, quick_grads = slow.backward(every_node=True), quick.backward(every_node=True)
    assert slow_grads.keys() == quick_grads.keys()
    for key, grad in slow_grads.items():
        if batch == 1 or key not in params:
            assert np.array_equal(quick_grads[key], grad), key
        else:
            np.testing.assert_allclose(quick_grads[key], grad, rtol=1e-12, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("batch", [1, 5])
def test_gated_cells_run_stacked_as_node_by_node(cell, batch):
    net = Network(get_cell(cell), inputs=2, hidden=5, outputs=1)
    rng = np.random.RandomState(batch)
    params = net.init_parameters(rng)
    x, y = rng.randint(0, 2, size=(2, 6, batch, 2)).astype(float)
    program = net.graph(6).compile()
    assert len(fast(program).plans) > 4
    assert_runs_match(program, net.feeds(x, y[..., :1]), params)
    # Prediction (no targets, no loss, no gradients) through the stacked runner gives the same numbers.
    assert np.array_equal(net.predict(params, x), np.stack([program.forward(net.feeds(x, y[..., :1]), params)
                                                            .values[f"y_hat[{t}]"] for t in range(6)]))


def test_groups_come_from_structure_not_names():
    # The post's step under other names, and a user node type (no stacked rule), which runs node by node.
    def build(names):
        g = Graph()
        g.parameter(names["w"], (2, 3))
        g.parameter(names["v"], (3, 1))
        losses = []
        for t in range(4):
            x = g.input(f"{names['x']}{t}", (None, 2))
            a = g.apply("matmul", f"{names['a']}{t}", x, names["w"])
            c = g.apply("test_cube", f"{names['c']}{t}", a)
            o = g.apply("matmul", f"{names['o']}{t}", c, names["v"])
            losses.append(g.apply("squared_error", f"{names['l']}{t}", o, g.input(f"{names['y']}{t}", (None, 1))))
        g.apply("sum", names["total"], *losses)
        return g

    plain = dict(w="w", v="v", x="x", a="a", c="c", o="o", l="l", y="y", total="loss")
    odd = dict(w="zz", v="h_synapse_1", x="q", a="y_hat", c="sigmoid", o="x_synapse_0", l="t", y="loss", total="T")
    found = []
    for names in (plain, odd):
        program = build(names).compile()
        found.append([[program.steps[i].node.name for i in plan.members] for plan in fast(program).plans])
    assert found[0] == found[1] == [["matmul"] * 4, ["matmul"] * 4, ["squared_error"] * 4]
    rng = np.random.RandomState(0)
    program = build(plain).compile()
    feeds = {f"{k}{t}": rng.normal(size=(3, n)) for t in range(4) for k, n in (("x", 2), ("y", 1))}
    assert_runs_match(program, feeds, {"w": rng.normal(size=(2, 3)), "v": rng.normal(size=(3, 1))})


def test_stacking_leaves_the_graph_users_see_and_render_unchanged():
    from graphnet.render import node_link_json, to_digraph

    net = Network(get_cell("rnn"), inputs=2, hidden=3, outputs=1)
    graph = net.graph(4)
    before_json, before_dot = node_link_json(graph), to_digraph(graph).source
    program = graph.compile()
    params = net.init_parameters(np.random.RandomState(0))
    feeds = net.feeds(np.ones((4, 1, 2)), np.ones((4, 1, 1)))
    run = fast(program).forward(feeds, params)
    values, grads = run.values, run.backward(every_node=True)
    assert node_link_json(graph) == before_json and to_digraph(graph).source == before_dot
    # Every node has its value, as in the node-by-node run; drawing a stacked run's values is the same picture.
    slow = program.forward(feeds, params)
    assert values.keys() == slow.values.keys()
    assert (to_digraph(graph, values=values, grads=grads).source
            == to_digraph(graph, values=slow.values, grads=slow.backward(every_node=True)).source)


def test_an_unstacked_fast_program_is_still_there_and_agrees():
    net = Network(get_cell("rnn"), inputs=2, hidden=4, outputs=1)
    program = net.graph(5).compile()
    params = net.init_parameters(np.random.RandomState(1))
    feeds = net.feeds(np.ones((5, 1, 2)), np.zeros((5, 1, 1)))
    plain = FastProgram(program, stack=False)
    assert not plain.plans
    a, b = plain.forward(feeds, params).backward(), fast(program).forward(feeds, params).backward()
    assert all(np.array_equal(a[k], b[k]) for k in params)


def test_big_batches_run_unstacked_with_the_same_numbers():
    from graphnet.compiled import STACK_ROWS

    net = Network(get_cell("rnn"), inputs=2, hidden=4, outputs=1)
    program = net.graph(3).compile()
    params = net.init_parameters(np.random.RandomState(2))
    x, y = np.random.RandomState(3).randint(0, 2, size=(2, 3, STACK_ROWS + 1, 2)).astype(float)
    run = fast(program).forward(net.feeds(x, y[..., :1]), params)
    assert fast(program).plans and not run.program.plans  # stacking copies more than it saves there
    assert_runs_match(program, net.feeds(x, y[..., :1]), params)
