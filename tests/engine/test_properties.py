"""Property tests (hypothesis): malformed graphs are refused naming the node, and the numerics hold for large
inputs. That every graph the builder accepts runs right is tests/engine/test_any_graph.py's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphnet import get_node, registered_nodes
from graphnet.engine import nodes as builtin_nodes
from graphnet.errors import GraphError
from graphnet import Graph

# Every built-in node type that computes something: new ones are picked up without touching this file, and
# node types that other tests register for themselves never are (whatever order pytest imports tests in).
OPS = sorted(name for name, node in registered_nodes().items()
             if not node.leaf and type(node).__module__ == builtin_nodes.__name__)
# The same examples on every run (derandomize: a run cannot fail for a change that broke nothing) and no
# example database carried between runs; a failing example is printed, with the line that reproduces it.
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def random_graphs(draw):
    """A graph grown node by node: each new node applies a random registered op to random earlier nodes.

    Ops whose inputs do not fit are refused by ``Graph.apply``, which must name the node; those are recorded.
    """
    width = draw(st.integers(1, 3))
    g = Graph("random")
    pool = [g.input("x", (None, width)), g.parameter("w_in", (width, width)),
            g.parameter("w_out", (width, width + 1)), g.parameter("bias", (None, width))]
    pool.append(g.apply("matmul", "h", "x", "w_in"))  # so every graph has a computed node that a weight feeds
    refused = []
    for i in range(draw(st.integers(0, 8))):
        op = draw(st.sampled_from(OPS))
        arity = get_node(op).arity
        count = draw(st.integers(1, 3)) if arity is None else arity
        inputs = [draw(st.sampled_from(pool)) for _ in range(count)]
        attrs = get_node(op).sample_attrs(width) if draw(st.booleans()) else {}  # or the type's defaults
        key = f"n{i}"
        try:
            pool.append(g.apply(op, key, *inputs, attrs=attrs))
        except GraphError as exc:
            refused.append((key, inputs, str(exc)))
    return g, width, refused


@SETTINGS
@given(random_graphs())
def test_a_refused_node_is_named_and_leaves_the_graph_valid(built):
    g, _, refused = built
    for key, inputs, message in refused:
        assert f"node {key!r}" in message
        if "takes" not in message:  # not an arity error: shapes that do not fit, named with their nodes
            assert f"(its inputs: {', '.join(map(repr, inputs))})" in message
        assert key not in g
    g.validate()


@pytest.mark.parametrize("op", OPS)
def test_wrong_arity_is_refused_naming_the_node(op):
    g = Graph()
    x = g.input("x", (None, 2))
    arity = get_node(op).arity
    wrong = [x] * ((arity or 1) + 1) if arity else []
    with pytest.raises(GraphError, match=f"node 'bad' \\({op}\\) takes"):
        g.apply(op, "bad", *wrong)


def test_an_unknown_node_type_is_refused_naming_the_node():
    g = Graph()
    x = g.input("x", (None, 2))
    with pytest.raises(GraphError, match=r"node 'h\[0\]': unknown node type 'tanhh'; known node types: .*sigmoid"):
        g.apply("tanhh", "h[0]", x)


def test_a_cycle_through_networkx_is_refused_naming_its_nodes():
    g = Graph()
    x = g.input("x", (None, 2))
    a = g.apply("sigmoid", "a", x)
    b = g.apply("sigmoid", "b", a)
    g.nx.nodes[a]["inputs"] = (b,)  # rewire a to read b: a -> b -> a
    g.nx.remove_edge(x, a)
    g.nx.add_edge(b, a, args=(0,))
    with pytest.raises(GraphError, match=r"has a cycle: (a -> b -> a|b -> a -> b)"):
        Graph.from_networkx(g.nx)


@given(st.floats(-1e300, 1e300, allow_nan=False), st.integers(1, 4))
@settings(SETTINGS, max_examples=60)
def test_sigmoid_and_loss_are_finite_and_quiet_for_large_inputs(value, width):
    # Run as every graph runs, by a Program (which keeps exp's overflow to inf, the right 0.0, quiet).
    g = Graph()
    g.input("x", (None, width))
    g.input("zeros", (None, width))
    g.apply("sigmoid", "y", "x")
    g.apply("squared_error", "loss", "y", "zeros")
    feeds = {"x": np.full((2, width), value), "zeros": np.zeros((2, width))}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning fails the test
        run = g.compile(wrt=["x", "zeros"]).forward(feeds, {})
        grads = run.backward(every_node=True)
    y = run.values["y"]
    assert np.all((0 <= y) & (y <= 1)) and np.isfinite(run.values["loss"])
    assert all(np.all(np.isfinite(grad)) for grad in grads.values())
