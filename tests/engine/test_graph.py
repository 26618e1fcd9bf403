"""Graphs: building with checks, one edge per argument pair, compile once, forward and reverse passes."""

import networkx as nx
import numpy as np
import pytest

from graphnet import Node
from graphnet.errors import GraphError
from graphnet import Graph


def small_graph() -> Graph:
    g = Graph("small")
    g.input("x", (None, 3))
    g.parameter("w", (3, 2))
    g.apply("matmul", "xw", "x", "w")
    g.apply("sigmoid", "y_hat", "xw", kind="output")
    g.input("y", (None, 2), kind="target")
    g.apply("squared_error", "loss", "y_hat", "y", kind="loss")
    return g


def test_nodes_carry_type_inputs_and_shape_and_what_their_builder_stores():
    g = small_graph()
    assert g.node("xw") == {"op": "matmul", "inputs": ("x", "w"), "shape": (None, 2)}
    assert g.node("y_hat")["kind"] == "output"  # the engine stores it, and never reads it
    assert list(g.nx.predecessors("xw")) == ["x", "w"]
    assert g.keys(kind="output") == ["y_hat"]


def test_a_builders_keyword_may_not_take_an_engine_attribute():
    g = small_graph()
    with pytest.raises(GraphError, match="node 'z': shape is the engine's to set"):
        g.apply("sigmoid", "z", "xw", shape=(1, 2))


def test_an_op_fed_the_same_node_twice_keeps_both_arguments():
    g = Graph()
    g.parameter("p", (1, 3))
    g.apply("add", "twice", "p", "p")
    g.apply("sum", "loss", "twice")
    assert g.nx.edges["p", "twice"]["args"] == (0, 1)
    p = np.array([[1.0, 2.0, 3.0]])
    run = g.compile().forward({}, {"p": p})
    assert np.array_equal(run.values["twice"], 2 * p)
    grads = run.backward()
    assert np.array_equal(grads["p"], np.full((1, 3), 2.0))


def test_backward_twice_gives_the_same_gradients():
    g = small_graph()
    rng = np.random.RandomState(0)
    feeds = {"x": rng.normal(size=(4, 3)), "y": rng.uniform(size=(4, 2))}
    run = g.compile().forward(feeds, {"w": rng.normal(size=(3, 2))})
    first, second = run.backward(), run.backward()
    assert np.array_equal(first["w"], second["w"])


def test_gradients_of_a_shared_node_are_summed_over_its_consumers():
    g = Graph()
    g.parameter("w", (1, 1))
    g.input("a", (None, 1))
    g.input("b", (None, 1))
    g.apply("matmul", "aw", "a", "w")
    g.apply("matmul", "bw", "b", "w")
    g.apply("add", "s", "aw", "bw")
    g.apply("sum", "loss", "s")
    run = g.compile().forward({"a": np.array([[2.0]]), "b": np.array([[5.0]])}, {"w": np.array([[1.0]])})
    assert run.backward()["w"].item() == 7.0


def test_only_requested_outputs_are_computed():
    g = small_graph()
    program = g.compile(outputs=["y_hat"], wrt=())
    assert [op.key for op in program.ops] == ["xw", "y_hat"]
    run = program.forward({"x": np.zeros((1, 3))}, {"w": np.zeros((3, 2))})
    assert "loss" not in run.values


def test_compile_is_a_function_of_the_graph_as_it_is_now():
    g = small_graph()
    before = g.compile()
    g.apply("sigmoid", "extra", "xw")
    assert [op.key for op in g.compile().ops] == [op.key for op in before.ops] + ["extra"]


def test_an_input_with_a_fill_defaults_to_it_with_the_run_batch():
    g = Graph()
    g.input("x", (None, 2))
    g.input("h0", (None, 2), kind="state", fill=0.0)
    g.apply("add", "s", "x", "h0")
    run = g.compile().forward({"x": np.ones((3, 2))}, {})
    assert np.array_equal(run.values["h0"], np.zeros((3, 2)))
    fed = g.compile().forward({"x": np.ones((3, 2)), "h0": np.ones((3, 2))}, {})
    assert np.array_equal(fed.values["s"], np.full((3, 2), 2.0))


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda g: g.apply("matmul", "bad", "x"), r"'bad' \(matmul\) takes 2 inputs, got 1"),
        (lambda g: g.apply("matmul", "bad", "x", "x"), r"'bad' \(matmul\): matmul cannot multiply"),
        (lambda g: g.apply("add", "bad", "x", "w"), r"'bad' \(add\): add needs inputs of one shape"),
        (lambda g: g.apply("frobnicate", "bad", "x"), r"unknown node type 'frobnicate'"),
        (lambda g: g.apply("sigmoid", "bad", "nowhere"), r"'bad' \(sigmoid\) takes 'nowhere', not in the graph"),
        (lambda g: g.apply("sigmoid", "x", "w"), r"already has a node 'x'"),
        (lambda g: g.apply("sum", "bad"), r"'bad' \(sum\) takes at least 1 inputs, got 0"),
        (lambda g: g.apply("add", "bad", "nowhere", "x", "nothing"),
         r"^node 'bad' \(add\) takes 'nowhere', 'nothing', not in the graph$"),
        (lambda g: g.input("", (None, 1)), r"^a node's key is a non-empty string, got ''$"),
        (lambda g: g.apply("sigmoid", "z", "x", shape=(1, 3), fill=0.0),
         r"^node 'z': fill, shape is the engine's to set, not a keyword of yours$"),
        (lambda g: g.apply("sigmoid", ("a", "a"), "x"),
         r"^node \('a', 'a'\) \(sigmoid\): give each output a key of its own$"),
        (lambda g: g.apply("sigmoid", ("a", "b"), "x"),
         r"^node 'a' \(sigmoid\) gives 1 outputs, and 2 keys were given$"),
        (lambda g: g.apply("sigmoid", "bad", g.parameter("s", ()), stacked=True),
         r"^node 'bad' \(sigmoid\): stacks of as many members, each, expected \(its inputs: 's'\)$"),
        (lambda g: g.freeze().apply("sigmoid", "bad", "x"),
         r"^graph 'graph' is frozen: it is shared by every run of its network; add 'bad' to a copy of it "
         r"\(graph.copy\(\)\) or build a new graph$"),
    ],
)
def test_malformed_graphs_are_refused_where_they_are_built(build, message):
    g = Graph()
    g.input("x", (None, 3))
    g.parameter("w", (3, 2))
    with pytest.raises(GraphError, match=message):
        build(g)


def test_a_node_type_without_a_stacking_rule_is_not_applied_to_stacks_and_one_of_no_inputs_names_none(node_type):
    @node_type("test_cube")
    class Cube(Node):
        """x**3, with no stacking rule."""

        def forward(self, ctx, x):
            return x * x * x

    @node_type("test_zeros")
    class Zeros(Node):
        """Zeros of a width: a node type of no inputs."""

        arity = 0

        def forward(self, ctx):
            return np.zeros((1, ctx.attrs["width"]))

        def shape(self, *, width):
            if width < 1:
                raise ValueError(f"zeros needs a width >= 1, got {width}")
            return (1, width)

    g = Graph()
    with pytest.raises(GraphError) as refused:
        g.apply("test_cube", "bad", g.parameter("p", (2, 3)), stacked=True)
    assert str(refused.value) == ("node 'bad' (test_cube): a node type without a stacking rule cannot be applied to "
                                  "stacks")
    with pytest.raises(GraphError) as refused:
        g.apply("test_zeros", "bad", attrs={"width": 0})
    assert str(refused.value) == "node 'bad' (test_zeros): zeros needs a width >= 1, got 0"


def test_an_op_of_several_outputs_lists_its_keys_even_if_one_and_gives_them_back_as_a_tuple():
    g = Graph()
    assert g.apply("unstack", ["a", "b"], g.parameter("two", (2, 3)), attrs={"axis": -2}) == ("a", "b")
    assert g.apply("unstack", ["only"], g.parameter("one", (1, 3)), attrs={"axis": -2}) == ("only",)
    assert g.node("a")["outputs"] == ("a", "b") and g.node("only")["outputs"] == ("only",)


def test_compile_differentiates_with_respect_to_what_it_is_told_and_refuses_keys_the_graph_has_not():
    g = small_graph()
    rng = np.random.RandomState(0)
    feeds, params = {"x": rng.normal(size=(4, 3)), "y": rng.uniform(size=(4, 2))}, {"w": rng.normal(size=(3, 2))}
    assert g.compile().name == "small"
    assert set(g.compile().forward(feeds, params).backward()) == {"w"}  # by default, every parameter
    assert set(g.compile(wrt=["x"]).forward(feeds, params).backward()) == {"x"}
    with pytest.raises(GraphError, match=r"^graph 'small' has no node 'nope'$"):
        g.compile(outputs=["y_hat", "nope", "nada"])
    with pytest.raises(GraphError, match=r"^graph 'small' has no node 'nope' to differentiate with respect to$"):
        g.compile(wrt=["w", "nope", "nada"])


def test_a_cycle_is_refused_naming_its_nodes():
    d = nx.DiGraph()
    d.add_node("a", op="sigmoid", inputs=("b",), shape=(None, 1))
    d.add_node("b", op="sigmoid", inputs=("a",), shape=(None, 1))
    d.add_edge("a", "b", args=(0,))
    d.add_edge("b", "a", args=(0,))
    with pytest.raises(GraphError, match="cycle: (a -> b -> a|b -> a -> b)"):
        Graph.from_networkx(d)
    g = small_graph()
    g.nx.add_edge("loss", "xw", args=())  # changed by hand, past the graph's checks
    with pytest.raises(GraphError, match=r"^graph 'small' has a cycle$"):
        g.compile()


def test_a_graph_copied_through_networkx_validates_and_runs_alike():
    g = small_graph()
    copy = Graph.from_networkx(g.nx.copy())
    feeds = {"x": np.ones((2, 3)), "y": np.zeros((2, 2))}
    w = {"w": np.full((3, 2), 0.1)}
    assert copy.compile().forward(feeds, w).values["loss"] == g.compile().forward(feeds, w).values["loss"]


class BadShape(Node):
    """x, whose backward returns a gradient of the wrong shape."""

    def forward(self, ctx, x):
        return x

    def backward(self, ctx, grad):
        return (grad[:, :1],)


class BadCount(Node):
    """x, whose backward returns two gradients for its one input."""

    def forward(self, ctx, x):
        return x

    def backward(self, ctx, grad):
        return (grad, grad)


@pytest.mark.parametrize("op, broken, message", [
    ("test_bad_shape", BadShape, r"test_bad_shape.backward at node 'bad' returned a gradient of shape \(1, 1\) for input "
                       r"'xw' of shape \(1, 2\)"),
    ("test_bad_count", BadCount, r"test_bad_count.backward at node 'bad' returned 2 gradients for its 1 inputs"),
])
def test_a_backward_returning_the_wrong_gradients_is_named(op, broken, message, node_type):
    node_type(op)(broken)
    g = small_graph()
    g.apply(op, "bad", "xw")
    g.apply("sum", "total", "bad")
    run = g.compile().forward({"x": np.ones((1, 3)), "y": np.ones((1, 2))}, {"w": np.ones((3, 2))})
    with pytest.raises(GraphError, match=message):
        run.backward("total")



def test_a_subgraph_holds_what_its_outputs_need_and_every_leaf_and_settings_of_its_own():
    g = Graph("two heads")
    x, w, v = g.input("x", (None, 2)), g.parameter("w", (2, 3)), g.parameter("v", (2, 3))
    g.apply("slice", "s", g.apply("matmul", "a", x, w), attrs={"start": 0, "stop": 2})
    g.apply("matmul", "b", x, v)
    sub = g.subgraph(["s"])
    assert sub.keys() == ["x", "w", "v", "a", "s"] and sub.name == "two heads"  # v too: a run gives both the same
    sub.nx.nodes["s"]["attrs"]["stop"] = 1
    assert g.node("s")["attrs"] == {"start": 0, "stop": 2}
    with pytest.raises(GraphError, match=r"^graph 'two heads' has no node 'c'$"):
        g.subgraph(["s", "c"])


def test_a_copy_is_a_graph_of_ones_own_that_grows_alone():
    g = Graph("shared")
    g.apply("slice", "s", g.parameter("w", (1, 3)), attrs={"start": 0, "stop": 2})
    g.freeze()
    mine = g.copy()
    assert mine.name == "shared" and g.frozen and not mine.frozen
    mine.apply("sigmoid", "extra", "s")
    mine.nx.nodes["s"]["attrs"]["stop"] = 1
    assert g.keys() == ["w", "s"] and g.node("s")["attrs"] == {"start": 0, "stop": 2}
    assert mine.keys() == ["w", "s", "extra"] and mine.node("extra")["shape"] == (1, 2)
    assert g.copy("renamed").name == "renamed" and g.name == "shared"


def hand_built() -> nx.DiGraph:
    """``y = sigmoid(x @ w)`` as networkx holds it, built without :class:`Graph`'s checks."""
    d = nx.DiGraph(name="by hand")
    d.add_node("x", op="input", inputs=(), shape=(None, 2))
    d.add_node("w", op="parameter", inputs=(), shape=(2, 3))
    d.add_node("xw", op="matmul", inputs=("x", "w"), shape=(None, 3))
    d.add_node("y", op="sigmoid", inputs=("xw",), shape=(None, 3))
    d.add_edges_from([("x", "xw", {"args": (0,)}), ("w", "xw", {"args": (1,)}), ("xw", "y", {"args": (0,)})])
    return d


@pytest.mark.parametrize("spoil, message", [
    (lambda d: d.nodes["y"].pop("shape"), "node 'y' has no 'shape' attribute"),
    (lambda d: d.nodes["y"].update(op="frobnicate"), "node 'y': unknown node type 'frobnicate'"),
    (lambda d: d.edges["xw", "y"].pop("args"), "node 'y': its edges do not match its inputs ('xw',)"),
    (lambda d: d.nodes["y"].update(shape=(None, 2)), "node 'y' says shape (None, 2) but its inputs give (None, 3)"),
    (lambda d: d.nodes["w"].update(shape=(3, 3)), "node 'xw' (matmul): matmul cannot multiply shapes (None, 2) and "
                                                  "(3, 3) (its inputs: 'x', 'w')"),
])
def test_a_graph_built_elsewhere_is_refused_in_words(spoil, message):
    assert Graph.from_networkx(hand_built()).name == "by hand"
    d = hand_built()
    spoil(d)
    with pytest.raises(GraphError) as refused:
        Graph.from_networkx(d)
    assert str(refused.value).split(";")[0] == message  # (an unknown type's message goes on: the known ones)


def test_each_output_of_a_node_type_of_several_is_checked_against_its_own_shape(node_type):
    @node_type("halves")
    class Halves(Node):
        """The first column, and the rest."""

        multiple_outputs = True

        def forward(self, ctx, x):
            return x[:, :1], x[:, 1:]

        def shape(self, x):
            return [(x[0], 1), (x[0], x[1] - 1)]

    g = Graph()
    g.apply("halves", ("first", "rest"), g.input("x", (None, 3)))
    assert [g.node(k)["shape"] for k in ("first", "rest")] == [(None, 1), (None, 2)]
    Graph.from_networkx(g.nx.copy())  # each as its own: the rest's is not the first's
