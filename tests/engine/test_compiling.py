"""Compiling: the interpreter and the node types' own methods traced by JAX give the numpy run's numbers."""

import numpy as np
import pytest

from graphnet import Graph, Network, Node, get_cell, registered_nodes, stacked
from graphnet.engine.compiling import check_node_against_jax, check_traceable, loss_and_gradients
from graphnet.errors import GraphError

BUILTIN = sorted(name for name, node in registered_nodes().items()
                 if not node.leaf and type(node).__module__.startswith("graphnet.engine"))


@pytest.mark.parametrize("name", BUILTIN)
def test_every_node_types_backward_is_jaxs_derivative_of_its_forward(name):
    assert check_node_against_jax(registered_nodes()[name]) < 1e-13


@pytest.mark.parametrize("name", BUILTIN)
def test_every_node_types_forward_and_backward_compute_with_ctx_xp(name):
    # Traced on abstract values, as a compiled run traces them: numpy called on the run's arrays would be refused.
    node = registered_nodes()[name]
    values = node.sample_inputs(np.random.RandomState(0), 3, 4)
    attrs = node.sample_attrs(4)
    g = Graph()
    inputs = [g.input(f"in{i}", np.shape(v)) for i, v in enumerate(values)]
    count = len(node.shape(*[np.shape(v) for v in values], **attrs)) if node.multiple_outputs else None
    outputs = g.apply(name, [f"out{i}" for i in range(count)] if count else "out", *inputs, attrs=attrs)
    g.apply("sum", "loss", *[g.apply("mean", f"mean of {k}", k) for k in ([outputs] if count is None else outputs)])
    check_traceable(g.compile(wrt=inputs), {k: v for k, v in zip(inputs, values)}, {})


class ForgetsAFactor(Node):
    """A sigmoid whose backward forgets y: the kind of mistake an exact reference catches at once."""

    def forward(self, ctx, x):
        y = 1 / (1 + ctx.xp.exp(-x))
        ctx.save(y)
        return y

    def backward(self, ctx, grad):
        (y,) = ctx.saved
        return (grad * (1 - y),)


def test_a_wrong_backward_is_far_from_jaxs_derivative():
    assert check_node_against_jax(ForgetsAFactor()) > 0.1


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("stack", [False, True])
def test_a_compiled_run_gives_the_numpy_runs_loss_and_gradients(cell, stack):
    net = Network(get_cell(cell), inputs=2, hidden=5, outputs=1)
    graph = stacked(net.graph(6)) if stack else net.graph(6)
    rng = np.random.RandomState(0)
    params = net.init_parameters(rng)
    x, y = rng.randint(0, 2, size=(2, 6, 4, 2)).astype(float)
    feeds = net.feeds(x, y[..., :1])
    program = graph.compile()
    run = program.forward(feeds, params)
    want = run.backward()
    step_by_step = {k: v for k, v in feeds.items() if ".." not in k}  # no input given whole: stacked in the run
    for given in (feeds, step_by_step):
        loss, grads = loss_and_gradients(program)(given, params)
        assert abs(float(loss) - float(run.value("loss"))) < 1e-12
        for key, grad in want.items():
            np.testing.assert_allclose(np.asarray(grads[key]), grad, rtol=1e-12, atol=1e-12)


def test_a_node_type_that_calls_numpy_is_refused_naming_it(node_type):
    @node_type("test_numpy_exp")
    class NumpyExp(Node):
        """e**x with numpy itself: right in numpy mode, not traceable."""

        def forward(self, ctx, x):
            return np.exp(x)

        def backward(self, ctx, grad):
            return (grad,)

    g = Graph()
    g.input("x", (None, 2))
    g.apply("test_numpy_exp", "e", "x")
    g.apply("mean", "loss", "e")
    program = g.compile(wrt=["x"])
    assert program.forward({"x": np.ones((1, 2))}, {}).value("loss") == pytest.approx(np.e)  # numpy mode works
    with pytest.raises(GraphError, match=r"node type 'test_numpy_exp' \(.*\) cannot be compiled: .*ctx\.xp"):
        check_traceable(program, {"x": np.ones((1, 2))}, {})
