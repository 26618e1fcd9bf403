"""Any graph the builder accepts runs: stacked and op by op alike, and as an independent reference computes it.

Graphs are grown at random from every node type (the built-in ones and a plugin's, registered here as a plugin
registers it) in five shape families:

- ``batch``: a batch axis, ``(None, width)``, as the unrolled RNN;
- ``fixed``: matrices of fixed shapes, no batch axis;
- ``unit``: every value a ``(1, 1)`` matrix and every number a constant, as micrograd's expressions;
- ``scalar``: every value of shape ``()``;
- ``members``: the batch family with a leading member axis on every input and weight (networks side by side).

with constants, inputs that fall back on their ``fill`` (fed or not), nodes read by several ops or twice by one,
several losses, and a random subset of outputs and of ``wrt``. Inputs are mostly chosen to fit and sometimes at
random: whatever ``Graph.apply`` accepts must then run. Each graph is held to the scalar reference of
``scalar_reference.py`` (values and gradients), to central differences (the gradient checker's criterion),
and its stacked program to its op-by-op one.

The ordinary run grows the same graphs every time (derandomized). A longer, random run, for developers::

    GRAPHNET_GRAPHS=2000 pytest tests/engine/test_any_graph.py

grows that many graphs per family from fresh random draws, and prints the one that fails, shrunk.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st
from scalar_reference import REFERENCE, each, reference_run
from stacked_runs import in_stacked

from graphnet import (Graph, Node, Stacking, check_program, get_node, register_node, registered_nodes, stacked,
                      unregister_node)
from graphnet.engine import nodes as builtin_nodes
from graphnet.errors import GraphError


class Softplus(Node):
    """log(1 + e**x), elementwise: a node type of a plugin's, registered as a plugin registers it."""

    stacking = Stacking()

    def forward(self, ctx, x):
        ctx.save(x)
        return np.logaddexp(0.0, x)

    def backward(self, ctx, grad):
        (x,) = ctx.saved
        return (grad / (1.0 + np.exp(-x)),)


PLUGIN = "test_softplus"
REFERENCE[PLUGIN] = lambda x: each("log")(1.0 + each("exp")(x))


@pytest.fixture(autouse=True, scope="module")
def plugin_node_type():
    register_node(PLUGIN)(Softplus)
    yield
    unregister_node(PLUGIN)


BUILTIN = sorted(name for name, node in registered_nodes().items()
                 if not node.leaf and type(node).__module__ == builtin_nodes.__name__)
OPS = BUILTIN + [PLUGIN]
STACKABLE = [op for op in BUILTIN if get_node(op).stacking is not None] + [PLUGIN]
FAMILIES = ["batch", "fixed", "unit", "scalar", "members"]

LONG_RUN = int(os.environ.get("GRAPHNET_GRAPHS", "0"))
# Inputs drawn at random may take a log of a negative number or divide by 0: numpy warns, the values are not
# finite, and such a graph is set aside (``moderate``), not judged.
QUIET = pytest.mark.filterwarnings("ignore::RuntimeWarning")
SETTINGS = settings(max_examples=LONG_RUN or 60, deadline=None, derandomize=not LONG_RUN, database=None,
                    print_blob=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

POSITIVE_ALWAYS = {"sigmoid", "exp", PLUGIN}  # results > 0 whatever their inputs
POSITIVE_KEEPING = {"add", "mul", "div", "sum", "concat", "slice", "mean", "matmul", "bias_add", "pow"}


@dataclass
class Grown:
    """A random graph and what a run of it needs."""

    graph: Graph
    family: str
    batch: int
    lead: tuple[int, ...]
    positive: set[str] = field(default_factory=set)  # keys whose values are > 0 (what log and div may take)
    fills: dict[str, float] = field(default_factory=dict)  # every filled leaf's fill
    losses: list[str] = field(default_factory=list)
    of: str = ""

    def __repr__(self) -> str:  # what a failing example prints: the graph, node by node
        nodes = "; ".join(f"{k}={a['op']}{a['inputs']}{a['shape']}{a.get('attrs', '')}"
                          for k, a in self.graph.nx.nodes(data=True))
        return f"Grown({self.family}, batch={self.batch}, lead={self.lead}, of={self.of!r}: {nodes})"


@st.composite
def grown(draw, family: str) -> Grown:
    """A graph of ``family`` grown op by op, with one to three losses and their total, ``of``."""
    g = Graph(family)
    n = draw(st.integers(1, 3))
    shape = {"batch": (None, n), "members": (None, n), "fixed": (draw(st.integers(1, 3)), n),
             "unit": (1, 1), "scalar": ()}[family]
    grown = Grown(g, family, draw(st.integers(1, 3)), (draw(st.integers(1, 3)),) if family == "members" else ())
    counter = iter(range(10**6))

    def leaf(kind: str, leaf_shape: tuple, positive: bool = False) -> str:
        key = f"{kind}{next(counter)}"
        fill = draw(st.sampled_from([0.5, 1.5, 2.0]) if positive else st.sampled_from([-1.0, 0.0, 0.5, 3.0]))
        if kind == "c":
            g.constant(key, leaf_shape, fill)
        elif kind == "d":
            g.input(key, leaf_shape, fill=fill)
        elif kind == "x":
            g.input(key, leaf_shape)
        else:
            g.parameter(key, leaf_shape)
        if kind in ("c", "d"):
            grown.fills[key] = fill
        if positive:
            grown.positive.add(key)
        return key

    weight = shape if family in ("unit", "scalar") else (shape[-1], shape[-1])
    pool = [leaf("x", shape), leaf("w", weight), leaf("s", shape if None not in shape else weight, positive=True),
            leaf("c", shape, positive=draw(st.booleans())), leaf("d", shape)]
    if len(shape) == 2:
        pool.append(leaf("b", shape[-1:]))
    ops = STACKABLE if family == "members" else OPS
    for i in range(draw(st.integers(1, 12))):
        op = draw(st.sampled_from(ops))
        if family == "unit" and draw(st.integers(0, 3)) == 0:  # a Python number of micrograd's: a new constant
            pool.append(leaf("c", shape, positive=draw(st.booleans())))
        if draw(st.integers(0, 4)) == 0:  # at random: whatever the builder accepts must run
            node_type = get_node(op)
            count = node_type.arity if node_type.arity is not None else draw(st.integers(1, 3))
            inputs, attrs = [draw(st.sampled_from(pool)) for _ in range(count)], _attrs(draw, op, pool, g)
        else:
            picked = _fitting(draw, op, pool, grown, leaf)
            if picked is None:
                continue
            inputs, attrs = picked
        # Sometimes the same op again on other operands of the same shapes, as an unrolled network repeats it
        # once a step: what stacking runs as one call.
        repeats = [inputs] + [[draw(st.sampled_from([a] + [k for k in pool if g.node(k)["shape"] == g.node(a)["shape"]
                                                           and (k in grown.positive or a not in grown.positive)]))
                               for a in inputs] for _ in range(draw(st.sampled_from([0, 0, 1, 3])))]
        for r, operands in enumerate(repeats):
            key = f"{op}{i}" + (f"_{r}" if r else "")
            try:
                g.apply(op, key, *operands, attrs=attrs)
            except GraphError as exc:  # refused where it is built, naming the node: fine, and nothing added
                assert f"node {key!r}" in str(exc) and key not in g
                continue
            pool.append(key)
            if op in POSITIVE_ALWAYS or (op in POSITIVE_KEEPING and all(k in grown.positive for k in operands)):
                grown.positive.add(key)
    trained = set(g.parameters)
    reached = [k for k in g.keys() if g.node(k)["inputs"] and nx.ancestors(g.nx, k) & trained]
    assume(reached)
    if family == "members":  # mean reduces every axis, members' too: only the losses that keep them apart
        reached = [k for k in reached if len(g.node(k)["shape"]) == 2]
        assume(reached)
    for j in range(draw(st.integers(1, 3))):
        source = draw(st.sampled_from(reached))
        if len(g.node(source)["shape"]) == 2 and (family == "members" or draw(st.booleans())):
            loss_op = draw(st.sampled_from(["squared_error", "bce_with_logits"]))
            target = leaf("x", g.node(source)["shape"])
            grown.losses.append(g.apply(loss_op, f"loss{j}", source, target))
        else:
            grown.losses.append(g.apply("mean", f"loss{j}", source))
    grown.of = g.apply("sum", "total", *grown.losses) if len(grown.losses) > 1 else grown.losses[0]
    return grown


def _attrs(draw, op: str, pool: list[str], g: Graph, x: str | None = None) -> dict:
    if op == "pow":
        return {"exponent": draw(st.sampled_from([2, 3, -1, 0.5]))}
    if op == "slice":
        width = g.node(x)["shape"][-1] if x is not None and g.node(x)["shape"] else draw(st.integers(1, 3))
        width = width or 1
        start = draw(st.integers(0, max(width - 1, 0)))
        return {"start": start, "stop": draw(st.integers(start + 1, max(width, start + 1)))}
    return {}


def _fitting(draw, op: str, pool: list[str], grown: Grown, leaf):
    """Inputs for ``op`` drawn from ``pool`` (or new leaves) that fit its shape rule, and its settings."""
    g = grown.graph
    shape_of = {k: g.node(k)["shape"] for k in pool}
    a = draw(st.sampled_from(pool))
    same = [k for k in pool if shape_of[k] == shape_of[a]]
    positive_same = [k for k in same if k in grown.positive]
    attrs = _attrs(draw, op, pool, g, a)
    if op == "log" or (op == "pow" and not float(attrs["exponent"]).is_integer()) or \
            (op == "pow" and attrs["exponent"] < 0):
        if not [k for k in pool if k in grown.positive]:
            return None
        a = draw(st.sampled_from([k for k in pool if k in grown.positive]))
        return [a], attrs
    if op in ("add", "sub", "mul"):
        return [a, draw(st.sampled_from(same))], attrs
    if op == "div":
        b = draw(st.sampled_from(positive_same)) if positive_same else leaf("c", shape_of[a], positive=True)
        return [a, b], attrs
    if op in ("sum", "concat"):
        fits = same if op == "sum" else [k for k in pool if shape_of[k][:-1] == shape_of[a][:-1] and shape_of[k]]
        if not shape_of[a] and op == "concat":
            return None
        return [a] + [draw(st.sampled_from(fits)) for _ in range(draw(st.integers(0, 2)))], attrs
    if op == "matmul":
        if len(shape_of[a]) != 2:
            return None
        fits = [k for k in pool if len(shape_of[k]) == 2 and shape_of[k][0] == shape_of[a][1]]
        b = draw(st.sampled_from(fits)) if fits and draw(st.booleans()) else \
            leaf("w", (shape_of[a][1], draw(st.integers(1, 3))))
        return [a, b], attrs
    if op == "bias_add":
        if len(shape_of[a]) != 2:
            return None
        fits = [k for k in pool if shape_of[k] == shape_of[a][-1:]]
        return [a, draw(st.sampled_from(fits)) if fits else leaf("b", shape_of[a][-1:])], attrs
    if op in ("squared_error", "bce_with_logits"):
        if len(shape_of[a]) != 2:
            return None
        return [a, draw(st.sampled_from(same)) if draw(st.booleans()) else leaf("x", shape_of[a])], attrs
    if op == "slice" and not shape_of[a]:
        return None
    return [a], attrs


# -- running a grown graph -----------------------------------------------------------------------------------------
def values_for(grown: Grown, seed: int, feed_defaults: bool) -> tuple[dict, dict, dict]:
    """Feeds, weights and the filled leaves' values for one run of ``grown``: positive where it says so."""
    rng, g = np.random.RandomState(seed), grown.graph

    def draw(key: str) -> np.ndarray:
        shape = grown.lead + tuple(grown.batch if d is None else d for d in g.node(key)["shape"])
        if key in grown.positive:
            return rng.uniform(0.5, 2.0, size=shape)
        return rng.normal(size=shape)

    feeds = {k: draw(k) for k in g.keys(op="input") if k not in grown.fills}
    params = {k: draw(k) for k in g.parameters}
    fills = {}
    for key, fill in grown.fills.items():
        if feed_defaults and g.node(key)["op"] == "input":
            feeds[key] = draw(key)
        else:
            fills[key] = np.full(grown.lead + tuple(grown.batch if d is None else d for d in g.node(key)["shape"]),
                                 fill)
    return feeds, params, fills


def moderate(values: dict) -> bool:
    """Every value finite and of a size at which central differences can be trusted."""
    return all(np.all(np.isfinite(v)) and np.max(np.abs(v), initial=0.0) < 1e4 for v in values.values())


def choose(draw, grown: Grown) -> tuple[list[str] | None, list[str]]:
    """The program's outputs (every node, or the total and some others) and ``wrt`` (some weights and inputs)."""
    g = grown.graph
    outputs = None if draw(st.booleans()) else [grown.of] + draw(st.lists(st.sampled_from(g.keys()), max_size=3))
    leaves = [k for k in g.keys() if not g.node(k)["inputs"]]
    wrt = draw(st.lists(st.sampled_from(leaves), min_size=1, max_size=len(leaves), unique=True))
    return outputs, wrt


def close(got: np.ndarray, want: np.ndarray, rtol: float) -> bool:
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    return np.shape(got) == np.shape(want) and np.allclose(got, want, rtol=rtol, atol=rtol * scale, equal_nan=True)


# -- the properties -------------------------------------------------------------------------------------------------
def a_run(data, family: str):
    """A grown graph, its feeds, weights and filled leaves, its outputs and ``wrt``, and its op-by-op run
    (graphs whose values or gradients are too large or not finite set aside)."""
    grown = data.draw(grown_graphs(family))
    note(repr(grown))
    feeds, params, fills = values_for(grown, data.draw(st.integers(0, 2**31 - 1)), data.draw(st.booleans()))
    outputs, wrt = data.draw(choose_strategy(grown))
    op_by_op = grown.graph.compile(outputs, wrt).forward(feeds, params)
    assume(moderate(op_by_op.values))
    # Every node's slope finite (sqrt at 0 has none): a stacked op computes its members together, and a member that
    # does not lead to what is differentiated gets a zero gradient, which times an infinite slope is NaN.
    g = grown.graph
    leaves = [k for k in g.keys() if not g.node(k)["inputs"]]
    everything = g.compile(outputs, leaves).forward(feeds, params)
    for of in outputs or [k for k in g.keys() if g.nx.out_degree(k) == 0]:
        assume(moderate(everything.backward(of, every_node=True)))
    return grown, feeds, params, fills, outputs, wrt, op_by_op


@QUIET
@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "members"])
@SETTINGS
@given(data=st.data())
def test_a_grown_graph_runs_as_the_scalar_reference_computes_it(family, data):
    grown, feeds, params, fills, outputs, wrt, op_by_op = a_run(data, family)
    g = grown.graph
    want_values, want_grads = reference_run(g, feeds, params, fills, grown.of, wrt)
    for key, value in op_by_op.values.items():
        if key in want_values:
            assert close(value, want_values[key], 1e-12), key
    got_grads = op_by_op.backward(grown.of)
    for key in wrt:
        want = want_grads[key]
        got = got_grads.get(key, np.zeros_like(want))  # a key the total does not depend on gets no gradient
        assert close(got, want, 1e-9), (key, got, want)
    assert set(got_grads) <= set(wrt)


@QUIET
@pytest.mark.parametrize("family", FAMILIES)
@SETTINGS
@given(data=st.data())
def test_a_grown_graph_runs_stacked_as_op_by_op_and_passes_the_gradient_check(family, data):
    grown, feeds, params, _, outputs, wrt, op_by_op = a_run(data, family)
    g = grown.graph
    fast = stacked(g if outputs is None else g.subgraph(outputs))  # as a network stacks what its outputs need
    fast.validate()
    run = fast.compile(outputs, wrt).forward(feeds, params)
    event(f"computed nodes: {min(len(op_by_op.program.ops), 12) // 4 * 4}+")
    event(f"stacked groups: {len(fast.keys(stacked=True))}")
    event(f"losses: {len(grown.losses)}")
    event(f"a node read by several ops: {any(g.nx.out_degree(k) > 1 for k in g.keys())}")
    for key, value in op_by_op.values.items():  # forward: each member exactly as alone
        assert np.array_equal(in_stacked(run.values, fast, key, value), value), key
    leaves = [k for k in g.keys() if not g.node(k)["inputs"]]
    for of in {grown.of, data.draw(st.sampled_from(grown.losses))}:  # the total, and one loss alone
        want, got = op_by_op.backward(of), run.backward(of)
        for key in wrt:  # the same terms, summed in the same order but where a node has three readers or more
            a, b = got.get(key), want.get(key)  # none, or zeros: nothing of ``of`` reaches the key
            assert close(a if a is not None else 0 * b, b if b is not None else 0 * a, 1e-14) if a is not None or \
                b is not None else True, (key, a, b)
        # every node's gradient, with respect to every leaf: a member's is the row of its stack's
        want = g.compile(outputs, leaves).forward(feeds, params).backward(of, every_node=True)
        assume(moderate(want))
        got = fast.compile(outputs, leaves).forward(feeds, params).backward(of, every_node=True)
        for key, grad in want.items():
            assert close(in_stacked(got, fast, key, grad), grad, 1e-14), key
    if grown.lead:  # networks side by side: each member is the graph run alone
        for m in range(grown.lead[0]):
            alone = g.compile(outputs, wrt).forward(
                {k: v[m] for k, v in feeds.items()}, {k: v[m] for k, v in params.items()})
            for key, value in alone.values.items():
                assert close(op_by_op.value(key)[m], value, 1e-14), key
    else:
        program = g.compile(outputs, [k for k in wrt if k in params])
        # The checker allows rounding in proportion to the objective's size: an objective that is 0 by
        # cancellation (mean(b - b)) leaves it no room for the rounding of terms that cancel, so it is not asked.
        degenerate = abs(float(np.sum(op_by_op.value(grown.of)))) < 1e-6
        if program.wrt and not degenerate and grown.batch * sum(params[k].size for k in program.wrt) <= 60:
            for checked in (program, fast.compile(outputs, program.wrt)):  # the rewritten graph, like any graph
                checks = check_program(checked, feeds, params, of=grown.of)
                assert all(check.passed for check in checks.values()), checks


def grown_graphs(family: str):
    return grown(family)


def choose_strategy(grown_graph: Grown):
    return st.composite(lambda draw: choose(draw, grown_graph))()


# -- the graphs that cannot run are refused where they are built -----------------------------------------------------
def test_a_graph_with_member_axes_and_a_node_type_without_a_stacking_rule_is_refused_in_one_line():
    g = Graph()
    x = g.input("x", (None, 2))
    g.apply("mean", "m", x)  # mean reduces every axis: run on members side by side it would mix them
    with pytest.raises(GraphError, match=r"node 'm' \(mean\) cannot run with leading axes \(3,\)"):
        g.compile().forward({"x": np.ones((3, 1, 2))}, {})


def test_micrograds_numbers_are_held_to_by_the_reference_too():
    # micrograd's test_sanity_check, in the reference's own scalars: y = -20, dy/dx = 46 (its README and tests)
    from scalar_reference import Scalar

    x = Scalar(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    assert (y.data, x.grad) == (-20.0, 46.0)
    assert math.isclose(x.grad, 46.0)
