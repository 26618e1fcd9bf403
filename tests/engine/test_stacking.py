"""Stacking: a graph rewritten so that groups of independent ops run as one op of their node type, on stacks, with
the numbers of the graph as built: on random graphs, on the post's network, on gated cells, at any batch."""

import numpy as np
import pytest

from graphnet import Context, Node, Stacking
from graphnet import Network, get_cell, get_node
from graphnet.errors import GraphError
from graphnet import Graph, stacked
from graphnet.engine.stacking import STACK_ROWS, groups, span
from stacked_runs import in_stacked


class Cube(Node):
    """x**3: a node type with no stacking rule, so its ops always run one by one."""

    def forward(self, ctx, x):
        ctx.save(x)
        return x * x * x

    def backward(self, ctx, grad):
        (x,) = ctx.saved
        return (grad * 3.0 * x * x,)


@pytest.fixture
def cube(node_type):
    node_type("test_cube")(Cube)


def random_graph(rng: np.random.RandomState, width: int = 3) -> Graph:
    """A random DAG of the core ops and one without a stacking rule, with weights used many times, and a loss."""
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


def assert_runs_match(graph, feeds, params, *, exact=False, of="loss"):
    """The stacked graph's run equals the graph's: every node's value bit for bit, and every gradient.

    ``exact``: the gradients bit for bit too. Else each within 8 units in the last place of its largest element
    (measured: at most 6), as ``docs/performance.md`` says: where a node is read by several ops, a stacked run adds
    their gradient terms in another order.
    """
    fast = stacked(graph)
    slow, quick = graph.compile().forward(feeds, params), fast.compile().forward(feeds, params)
    for key, value in slow.values.items():  # a member's value is its row of the stack, where it is not read alone
        assert np.array_equal(in_stacked(quick.values, fast, key, value), value), key
    slow_grads, quick_grads = slow.backward(of, every_node=True), quick.backward(of, every_node=True)
    for key, grad in slow_grads.items():
        found = in_stacked(quick_grads, fast, key, grad)
        if exact:
            assert np.array_equal(found, grad), key
        else:
            assert np.max(np.abs(found - grad)) <= 8 * np.finfo(float).eps * np.max(np.abs(grad)), key


def test_random_graphs_are_stacked_and_any_node_can_be_the_one_differentiated(cube):
    stacked_groups = 0
    for seed in range(30):
        rng = np.random.RandomState(seed)
        g = random_graph(rng, width=3)
        stacked_groups += len(groups(g))
        for batch in (1, 4):
            feeds = {k: rng.normal(size=(batch, 3)) for k in ("x0", "x1", "target")}
            params = {k: rng.normal(scale=0.5, size=(3, 3)) for k in ("w0", "w1", "w2")}
            # Any op as the output: group members that do not lead to it get no gradient, nor do their inputs.
            for of in ["loss"] + [op.key for op in g.compile().ops][::3]:
                assert_runs_match(g, feeds, params, of=of)
    assert stacked_groups > 20  # the random graphs do exercise stacking


@pytest.mark.parametrize("hidden, batch", [(16, 1), (16, 64), (1, 1), (1, 16)])
def test_the_posts_network_runs_stacked_bit_for_bit(hidden, batch):
    # Every value and every gradient bit for bit, weights' included: each member's product is made as its op
    # makes it, and a weight's are added last member first, as the op-by-op reverse pass adds them. At hidden
    # size 1 a weight's member gradients are a stack (8, 2, 1) that numpy's own sum (np.add.reduce, .sum) would
    # add pairwise, in another order: 11 of 20 seeds then differ in the last bit.
    net = Network(get_cell("rnn"), inputs=2, hidden=hidden, outputs=1)
    graph = net.graph(8)
    found = groups(graph)
    assert [keys[0] for keys in found] == ["x_synapse_0[0]", "h_synapse_1[0]", "y_hat[0]", "loss[0]"]
    assert all(len(keys) == 8 for keys in found)
    for seed in range(4):
        rng = np.random.RandomState(seed)
        params = net.init_parameters(rng)
        x, y = rng.randint(0, 2, size=(2, 8, batch, 2)).astype(float)
        assert_runs_match(graph, net.feeds(x, y[..., :1]), params, exact=True)


def test_one_step_differentiated_alone_runs_stacked_bit_for_bit():
    # The gradient of loss[2] alone: the other members of the loss group (and of the groups before it) lead to
    # nothing differentiated, and their rows of a stack's gradient are zeros, so a weight's is step 2's share only.
    net = Network(get_cell("rnn"), inputs=2, hidden=4, outputs=1)
    rng = np.random.RandomState(0)
    params = net.init_parameters(rng)
    x, y = rng.randint(0, 2, size=(2, 5, 3, 2)).astype(float)
    for of in ["loss[2]", "y_hat[0]", "h_synapse_1[4]", "h[3]"]:
        assert_runs_match(net.graph(5), net.feeds(x, y[..., :1]), params, exact=True, of=of)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("batch", [1, 5])
def test_gated_cells_run_stacked_as_op_by_op(cell, batch):
    net = Network(get_cell(cell), inputs=2, hidden=5, outputs=1)
    rng = np.random.RandomState(batch)
    params = net.init_parameters(rng)
    x, y = rng.randint(0, 2, size=(2, 6, batch, 2)).astype(float)
    graph = net.graph(6)
    assert len(groups(graph)) > 4
    # h[t] is read by five ops, and a stacked run adds their gradient terms in another order: within 8 ulps.
    assert_runs_match(graph, net.feeds(x, y[..., :1]), params)
    # Prediction (no targets, no loss, no gradients) through the stacked program gives the same numbers.
    op_by_op = graph.compile().forward(net.feeds(x, y[..., :1]), params)
    assert np.array_equal(net.predict(params, x), np.stack([op_by_op.values[f"y_hat[{t}]"] for t in range(6)]))


def test_groups_come_from_structure_not_names(cube):
    # The post's step under other names, and a node type without a stacking rule, which runs op by op.
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
    found = [[[build(names).node(k)["op"] for k in group] for group in groups(build(names))] for names in (plain, odd)]
    assert found[0] == found[1] == [["matmul"] * 4, ["matmul"] * 4, ["squared_error"] * 4]
    rng = np.random.RandomState(0)
    feeds = {f"{k}{t}": rng.normal(size=(3, n)) for t in range(4) for k, n in (("x", 2), ("y", 1))}
    assert_runs_match(build(plain), feeds, {"w": rng.normal(size=(2, 3)), "v": rng.normal(size=(3, 1))})


def test_groups_that_would_wait_for_each_other_are_not_all_stacked():
    # Two sigmoids at equal depth (a2, a1) and two tanhs at equal height (b2, b1), with a1 -> b1 and b2 -> a2:
    # run as two ops, each group would need the other's done first. The rewrite keeps the groups that leave
    # the graph a DAG (here the tanhs) and runs the sigmoids op by op.
    g = Graph()
    g.parameter("w", (3, 2))
    g.apply("tanh", "b2", "w")
    g.apply("exp", "e", "w")
    g.apply("sigmoid", "a2", "b2")
    g.apply("sigmoid", "a1", "e")
    g.apply("tanh", "b1", "a1")
    g.apply("relu", "r", "b1")
    g.apply("sum", "loss", "a2", "r")
    assert groups(g) == [["b2", "b1"]]
    assert_runs_match(g, {}, {"w": np.arange(-3.0, 3.0).reshape(3, 2) / 4}, exact=True)


def test_of_groups_that_would_wait_for_each_other_the_largest_are_kept_and_all_come_by_first_member():
    # As above with a third sigmoid (a3): the sigmoids are now the larger group, kept, and the tanhs run op by op;
    # the squares (p1, p2), in no cycle, are kept too and come first, as their first member does (not their second).
    g = Graph()
    g.parameter("w", (3, 2))
    g.apply("mul", "p1", "w", "w")
    g.apply("tanh", "b2", "w")
    g.apply("sigmoid", "a2", "b2")
    g.apply("sigmoid", "a1", g.apply("exp", "e", "w"))
    g.apply("mul", "p2", "w", "w")
    g.apply("sigmoid", "a3", g.apply("relu", "c", "w"))
    g.apply("relu", "r", g.apply("tanh", "b1", "a1"))
    g.apply("sum", "loss", "p1", "p2", "a2", "a3", "r")
    assert groups(g) == [["p1", "p2"], ["a2", "a1", "a3"]]
    # w is read by ops the rewrite runs in another order (p2 with p1): gradients within 8 ulps
    assert_runs_match(g, {}, {"w": np.arange(-3.0, 3.0).reshape(3, 2) / 4})


def test_an_op_of_several_outputs_is_copied_as_it_is(node_type):
    @node_type("halves")
    class Halves(Node):
        """The first column, and the rest."""

        multiple_outputs = True

        def forward(self, ctx, x):
            return x[:, :1], x[:, 1:]

        def backward(self, ctx, first, rest):
            return (np.concatenate([first, rest], axis=1),)

        def shape(self, x):
            return [(x[0], 1), (x[0], x[1] - 1)]

    g = Graph()
    g.apply("halves", ("first", "rest"), g.parameter("w", (2, 3)))
    g.apply("sum", "loss", g.apply("matmul", "a", "first", g.parameter("v", (1, 2))), g.apply("sigmoid", "b", "rest"))
    assert stacked(g).node("rest") == g.node("rest")
    assert_runs_match(g, {}, {"w": np.arange(6.0).reshape(2, 3) / 4, "v": np.ones((1, 2))}, exact=True)


def test_node_types_with_settings_get_them_when_stacked_too():
    g = Graph()
    g.parameter("w", (6, 6))
    for t in range(3):
        g.input(f"x{t}", (None, 6))
        g.apply("matmul", f"xw{t}", f"x{t}", "w")
        g.apply("slice", f"right{t}", f"xw{t}", attrs={"start": 2, "stop": 6})
    g.apply("concat", "all", *[f"right{t}" for t in range(3)])
    g.apply("mean", "loss", "all")
    assert [g.node(group[0])["op"] for group in groups(g)] == ["matmul", "slice"]
    feeds = {f"x{t}": np.arange(12.0).reshape(2, 6) + t for t in range(3)}
    assert_runs_match(g, feeds, {"w": np.eye(6)}, exact=True)


def test_an_op_fed_one_node_twice_and_a_node_read_twice_get_every_gradient():
    g = Graph()
    g.parameter("w", (2, 2))
    for t in range(3):
        g.input(f"x{t}", (None, 2))
        g.apply("matmul", f"a{t}", f"x{t}", "w")
        g.apply("mul", f"sq{t}", f"a{t}", f"a{t}")  # x * x: both arguments are one node
        g.apply("add", f"b{t}", f"sq{t}", f"a{t}")  # a[t] read by two ops
    g.apply("sum", "loss", *[f"b{t}" for t in range(3)])
    assert {g.node(group[0])["op"] for group in groups(g)} >= {"matmul", "mul", "add"}
    rng = np.random.RandomState(1)
    assert_runs_match(g, {f"x{t}": rng.normal(size=(2, 2)) for t in range(3)}, {"w": rng.normal(size=(2, 2))})


def test_ops_with_other_settings_are_not_stacked_together():
    g = Graph()
    g.parameter("w", (2, 6))
    g.apply("slice", "left", "w", attrs={"start": 0, "stop": 2})
    g.apply("slice", "middle", "w", attrs={"start": 2, "stop": 4})  # alike but for its bounds
    g.apply("sum", "loss", "left", "middle")
    assert groups(g) == []


def test_stacking_leaves_the_graph_it_rewrites_unchanged():
    from graphnet.render import node_link_json, to_digraph

    graph = Network(get_cell("rnn"), inputs=2, hidden=3, outputs=1).graph(4)
    before_json, before_dot = node_link_json(graph), to_digraph(graph).source
    stacked(graph)
    assert node_link_json(graph) == before_json and to_digraph(graph).source == before_dot


def test_a_stacked_graph_keeps_every_member_and_what_its_builder_stored_on_it():
    graph = Network(get_cell("rnn"), inputs=2, hidden=3, outputs=1).graph(4)
    fast = stacked(graph)
    fast.validate()
    assert set(graph.nx) < set(fast.nx) and fast.name == "rnn unrolled over 4 steps, stacked"
    assert all(fast.node(k)["kind"] == "stacked" for k in fast.nx if k not in graph.nx)  # what it adds, for pictures
    assert fast.node("loss")["kind"] == "loss"  # an op it copies as it is
    assert fast.node("y_hat[2]")["op"] == "unstack" and fast.node("y_hat[2]")["kind"] == "output"
    assert fast.node("y_hat[2]")["t"] == 2 and fast.node("y_hat[0..3]")["stacked"]
    assert fast.node("synapse_1 x4")["inputs"] == ("synapse_1",)  # the shared weight, handed to every member


def test_only_plain_fed_inputs_a_group_reads_one_each_are_given_whole(node_type):
    # The post's network: every step's input bits, and its targets, as one input each, which a run may feed whole.
    fast = stacked(Network(get_cell("rnn"), inputs=2, hidden=3, outputs=1).graph(3))
    given = {k: fast.node(k).get("stacks") for k in fast.keys(op="input")}
    assert given == {"h[-1]": None, "x[0..2]": ("x[0]", "x[1]", "x[2]"), "y[0..2]": ("y[0]", "y[1]", "y[2]")}

    @node_type("test_scale")
    class Scale(Node):
        """w * x: the weight first, the input its members share."""

        arity = 2
        stacking = Stacking(shared=(0,))

        def forward(self, ctx, w, x):
            return w * x

        def shape(self, w, x):
            return x

    g = Graph()
    w = g.parameter("w", (1, 2))
    for t in range(2):
        g.apply("test_scale", f"s[{t}]", w, g.input(f"a[{t}]", (None, 2)))  # plain: given whole
        g.apply("sigmoid", f"f[{t}]", g.input(f"b[{t}]", (None, 2), fill=0.0))  # with a default: stacked by an op
        g.apply("tanh", f"p[{t}]", g.input(f"c[{t}]", (2, None, 2), stacks=(f"c{t}", f"d{t}")))  # stacks already
    g.parameter("a[0..1]", (1,))  # a node of the name the rewrite would give: it takes another
    fast = stacked(g)
    given = {k: fast.node(k)["stacks"] for k in fast.keys(op="input") if fast.node(k).get("stacks")}
    assert given == {"a[0..1]'": ("a[0]", "a[1]"), "c[0]": ("c0", "d0"), "c[1]": ("c1", "d1")}
    assert fast.node("b[0..1]")["op"] == fast.node("c[0..1]")["op"] == "stack"


def test_what_the_rewrite_adds_is_named_apart_from_what_it_copies_and_from_itself():
    g = Graph()
    w = g.parameter("w", (2, 2))
    for t in range(2):
        m = g.apply("matmul", f"m[{t}]", g.input(f"x[{t}]", (None, 2)), w)
        g.apply("matmul", f"q[{t}]", g.apply("sigmoid", f"p[{t}]", m), w)
    g.apply("relu", "r[0]", g.apply("tanh", "u[0]", "x[0]"))
    g.apply("relu", "r[1]", g.apply("exp", "u[1]", "x[1]"))  # r's group reads a stack of u[0], u[1]
    # ops of the names the rewrite would give its group of m's, its stack of u's and its broadcast of w, copied after
    g.apply("sum", "m[0..1]", "q[0]", "q[1]")
    g.apply("add", "u[0..1]", "r[0]", "r[1]")
    g.apply("sum", "w x2", "m[0..1]", "u[0..1]")
    fast = stacked(g)
    assert fast.node("m[0..1]'")["op"] == "matmul" and fast.node("u[0..1]'")["op"] == "stack"
    assert fast.node("w x2'")["op"] == fast.node("w x2''")["op"] == "broadcast"  # w for m's group, and for q's
    assert [fast.node(k)["op"] for k in ("m[0..1]", "u[0..1]", "w x2")] == ["sum", "add", "sum"]


def test_a_stacked_graph_stacked_again_runs_alike():
    net = Network(get_cell("rnn"), inputs=2, hidden=3, outputs=1)
    fast = stacked(net.graph(4))
    rng = np.random.RandomState(0)
    params = net.init_parameters(rng)
    x, y = rng.randint(0, 2, size=(2, 4, 5, 2)).astype(float)
    feeds = net.feeds(x, y[..., :1])
    again = stacked(fast)
    assert groups(fast) == [] and set(again.nx) == set(fast.nx)  # what is stacked already is not stacked again
    gates = stacked(Network(get_cell("lstm"), inputs=2, hidden=3, outputs=1).graph(3))  # alike stacked ops
    assert groups(gates) and not any(gates.node(k).get("stacked") for group in groups(gates) for k in group)
    assert again.compile().forward(feeds, params).value("loss") == fast.compile().forward(feeds, params).value("loss")


def test_a_run_of_keys_is_named_by_its_first_and_last_step_or_by_every_step():
    assert span(["x[3]", "x[4]", "x[5]"]) == "x[3..5]" and span(["h[-1]", "h[0]"]) == "h[-1..0]"
    assert span(["x[0]", "x[2]", "x[5]"]) == "x[0,2,5]"
    assert span(["a", "b", "c"]) == "a..c" and span(["x[0]", "y[1]"]) == "x[0]..y[1]"


def test_a_group_runs_where_its_first_member_ran_op_by_op(cube):
    g = Graph()
    x0, x1 = g.input("x0", (None, 2)), g.input("x1", (None, 2))
    g.apply("sigmoid", "a", x0)
    g.apply("test_cube", "b", x0)
    g.apply("sigmoid", "c", x1)
    assert stacked(g).keys() == ["x0..x1", "x0", "x1", "a..c", "a", "c", "b"]


def test_a_member_of_an_input_given_whole_has_its_gradient_when_asked_for():
    net = Network(get_cell("rnn"), inputs=2, hidden=3, outputs=1)
    graph = net.graph(4)
    rng = np.random.RandomState(0)
    params = net.init_parameters(rng)
    x, y = rng.randint(0, 2, size=(2, 4, 5, 2)).astype(float)
    feeds = net.feeds(x, y[..., :1])
    expected = graph.compile(wrt=["x[1]"]).forward(feeds, params).backward()
    grads = stacked(graph).compile(wrt=["x[1]"]).forward(feeds, params).backward()
    assert list(grads) == ["x[1]"] and np.array_equal(grads["x[1]"], expected["x[1]"])


def test_broadcast_hands_every_member_the_weight_and_back_their_gradients_added():
    broadcast = get_node("broadcast")
    for w in (np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(3, 2).T, np.arange(12.0).reshape(2, 6)[:, ::2]):
        out = broadcast.forward(Context(attrs={"axis": -3, "members": 4}), w)
        assert out.shape == (4, 2, 3) and all(np.array_equal(member, w) for member in out)
        assert not out.flags.writeable  # every member is the weight itself
    grad = np.arange(6.0).reshape(1, 2, 3)
    (alone,) = broadcast.backward(Context(attrs={"axis": -3, "members": 1}), grad)
    assert np.array_equal(alone, grad[0])


def test_networks_side_by_side_fed_step_by_step_run_stacked_as_op_by_op():
    net = Network(get_cell("rnn"), inputs=2, hidden=3, outputs=1)
    graph = net.graph(3)
    rng = np.random.RandomState(0)
    params = {k: np.stack([v, 2 * v]) for k, v in net.init_parameters(rng).items()}  # two networks, a member axis
    feeds = {k: rng.randint(0, 2, size=(2, 4, 2)).astype(float) for k in ("x[0]", "x[1]", "x[2]")}
    feeds.update({f"y[{t}]": np.ones((2, 4, 1)) for t in range(3)})
    slow, fast = graph.compile().forward(feeds, params), stacked(graph).compile().forward(feeds, params)
    assert fast.value("loss").shape == (2,) and np.array_equal(fast.value("loss"), slow.value("loss"))


def test_reading_a_runs_values_changes_nothing_in_it():
    net = Network(get_cell("rnn"), inputs=2, hidden=3, outputs=1)
    params = net.init_parameters(np.random.RandomState(0))
    run = net.program(3).forward(net.feeds(np.ones((3, 1, 2)), np.ones((3, 1, 1))), params)
    before = dict(run.values)
    run.value("h_synapse_1[1]"), run.backward(every_node=True)
    assert run.values.keys() == before.keys() and all(run.values[k] is v for k, v in before.items())


def test_big_batches_run_the_graph_as_built_with_the_same_numbers():
    net = Network(get_cell("rnn"), inputs=2, hidden=4, outputs=1)
    graph = net.graph(3)
    params = net.init_parameters(np.random.RandomState(2))
    x, y = np.random.RandomState(3).randint(0, 2, size=(2, 3, STACK_ROWS + 1, 2)).astype(float)
    assert any(op.node.name == "stack" for op in net.program(3, batch=STACK_ROWS).ops)
    assert not any(op.node.name == "stack" for op in net.program(3, batch=STACK_ROWS + 1).ops)  # copies cost more
    assert net.program(3, batch=1) is net.program(3, batch=2)  # compiled once, kept by the network
    assert_runs_match(graph, net.feeds(x, y[..., :1]), params, exact=True)


def test_a_stacked_backward_of_the_wrong_shape_is_named(node_type):
    @node_type("test_bad_stack")
    class BadStack(Node):
        """x, claiming a stacking rule its backward does not keep (it drops the member axis)."""

        stacking = Stacking()

        def forward(self, ctx, x):
            return x

        def backward(self, ctx, grad):
            return (grad[0],)

    g = Graph()
    g.parameter("w", (2, 2))
    for t in range(3):
        g.input(f"x{t}", (None, 2))
        g.apply("matmul", f"a{t}", f"x{t}", "w")
        g.apply("test_bad_stack", f"b{t}", f"a{t}")
    g.apply("sum", "loss", *[f"b{t}" for t in range(3)])
    run = stacked(g).compile().forward({f"x{t}": np.ones((1, 2)) for t in range(3)}, {"w": np.eye(2)})
    with pytest.raises(GraphError, match=r"test_bad_stack.backward at node 'b0..b2' returned a gradient of shape "
                                         r"\(1, 2\) for input 'a0..a2' of shape \(3, 1, 2\)"):
        run.backward()


def test_gradients_nobody_needs_are_not_computed_and_calling_backward_twice_is_the_same():
    net = Network(get_cell("rnn"), inputs=2, hidden=4, outputs=1)
    params = net.init_parameters(np.random.RandomState(0))
    feeds = net.feeds(np.ones((3, 2, 2)), np.ones((3, 2, 1)))
    run = net.program(3).forward(feeds, params)
    every = run.backward(every_node=True)
    assert "x[0]" not in every and "y[0]" not in every and "h[-1]" not in every
    first, second = run.backward(), run.backward()
    assert all(np.array_equal(first[k], second[k]) for k in first)


def test_a_missing_parameter_and_an_unknown_loss_are_clear_errors():
    net = Network(get_cell("rnn"), inputs=2, hidden=4, outputs=1)
    program = net.program(2)
    feeds = net.feeds(np.ones((2, 1, 2)), np.ones((2, 1, 1)))
    with pytest.raises(GraphError, match="node 'synapse_0' needs a value, and params has none"):
        program.forward(feeds, {})
    with pytest.raises(GraphError, match=r"node 'y\[0\]' needs a value, and feeds has none"):
        program.forward({"x[0]": np.ones((1, 2)), "x[1]": np.ones((1, 2))}, net.init_parameters(np.random.RandomState(0)))
    run = program.forward(feeds, net.init_parameters(np.random.RandomState(0)))
    with pytest.raises(GraphError, match="nope"):
        run.backward("nope")


@pytest.mark.parametrize("op, shapes, attrs, message", [
    ("stack", [(None, 2), (None, 3)], {"axis": -3}, "stack needs inputs of one shape, got (None, 2) and (None, 3)"),
    ("stack", [(None, 2), (None, 2)], {"axis": -2}, "the new axis is just before the values' own: axis=-3, got -2"),
    ("broadcast", [(2, 3)], {"axis": -3, "members": 0}, "broadcast needs members >= 1, got 0"),
    ("broadcast", [(2, 3)], {"axis": -3, "members": 2.0}, "broadcast needs members >= 1, got 2.0"),
])
def test_the_rewrites_node_types_refuse_what_they_cannot_compute_in_words(op, shapes, attrs, message):
    with pytest.raises(ValueError) as refused:
        get_node(op).shape(*shapes, **attrs)
    assert str(refused.value) == message
    assert get_node("stack").shape((None, 2), (None, 2), axis=-3) == (2, None, 2)
    assert get_node("broadcast").shape((2, 3), axis=-3, members=1) == (1, 2, 3)
