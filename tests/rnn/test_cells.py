"""The post's RNN unrolled: structure, weight sharing and BPTT gradients against numerical ones."""

import numpy as np
import pytest

from graphnet import Network, get_cell
from graphnet import get_generator
from graphnet import check_program


def post_network(hidden: int = 16) -> Network:
    return Network(get_cell("rnn"), inputs=2, hidden=hidden, outputs=1)


def test_each_weight_is_one_node_with_an_edge_to_every_step():
    g = post_network().graph(4)
    assert g.parameters == ["synapse_0", "synapse_1", "synapse_h"]
    for weight in g.parameters:
        steps = sorted(g.node(k)["t"] for k in g.nx.successors(weight))
        assert steps == [0, 1, 2, 3], weight


def test_the_hidden_layer_reads_the_input_and_its_own_previous_state():
    g = post_network().graph(3)
    assert g.node("h_in[2]")["inputs"] == ("x_synapse_0[2]", "h_synapse_h[2]")
    assert g.node("h_synapse_h[2]")["inputs"] == ("h[1]", "synapse_h")
    assert g.node("h_synapse_h[0]")["inputs"] == ("h[-1]", "synapse_h")
    assert g.node("y_hat[2]")["shape"] == (None, 1)


def test_graphs_are_built_once_per_length():
    net = post_network()
    assert net.graph(8) is net.graph(8)
    assert net.graph(8) is not net.graph(9)


def test_weights_are_drawn_in_the_posts_order():
    net = post_network()
    params = net.init_parameters(np.random.RandomState(0))
    rng = np.random.RandomState(0)
    assert np.array_equal(params["synapse_0"], 2 * rng.random_sample((2, 16)) - 1)
    assert np.array_equal(params["synapse_1"], 2 * rng.random_sample((16, 1)) - 1)
    assert np.array_equal(params["synapse_h"], 2 * rng.random_sample((16, 16)) - 1)


@pytest.mark.parametrize("steps", [1, 3, 8])
@pytest.mark.parametrize("batch", [1, 4])
def test_bptt_gradients_of_all_three_weights_match_central_differences(steps, batch):
    net = post_network(hidden=5)
    rng = np.random.RandomState(steps * 10 + batch)
    params = net.init_parameters(rng)
    problems = get_generator("binary_addition").sample(rng, batch, steps)
    errors = check_program(net.graph(steps).compile(), net.feeds(problems.x, problems.y), params)
    assert set(errors) == {"synapse_0", "synapse_1", "synapse_h"}
    assert all(check.passed for check in errors.values()), errors


def test_predicting_in_chunks_carries_the_hidden_state_exactly():
    net = post_network()
    params = net.init_parameters(np.random.RandomState(0))
    x = np.random.RandomState(1).randint(2, size=(50, 3, 2)).astype(float)
    whole = net.predict(params, x, chunk=50)
    assert np.array_equal(net.predict(params, x, chunk=7), whole)



def test_feeds_for_a_stacked_program_give_the_steps_only_side_by_side_and_run_the_same():
    net = post_network(hidden=4)
    rng = np.random.RandomState(0)
    params = net.init_parameters(rng)
    problems = get_generator("binary_addition").sample(rng, 5, 3)
    stacked, as_built = net.program(3, batch=5), net.graph(3).compile()
    assert sorted(net.feeds(problems.x, problems.y, program=stacked)) == ["x[0..2]", "y[0..2]"]
    assert {"x[0]", "x[2]", "y[1]"} <= set(net.feeds(problems.x, problems.y, program=as_built))
    one = stacked.forward(net.feeds(problems.x, problems.y, program=stacked), params)
    other = as_built.forward(net.feeds(problems.x, problems.y, program=as_built), params)
    assert one.value("loss") == other.value("loss")
    one_grads, other_grads = one.backward(), other.backward()
    assert all(np.array_equal(one_grads[k], other_grads[k]) for k in params)

@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("steps, batch", [(1, 1), (3, 4), (6, 2)])
def test_gated_cells_bptt_gradients_match_central_differences(cell, steps, batch):
    net = Network(get_cell(cell), inputs=2, hidden=3, outputs=1)
    rng = np.random.RandomState(steps + batch)
    params = net.init_parameters(rng)
    problems = get_generator("binary_addition").sample(rng, batch, steps)
    errors = check_program(net.graph(steps).compile(), net.feeds(problems.x, problems.y), params)
    assert set(errors) == set(net.parameter_shapes())
    assert all(check.passed for check in errors.values()), errors


def test_the_lstm_carries_two_states_and_shares_every_gate_weight():
    g = Network(get_cell("lstm"), inputs=2, hidden=4, outputs=1).graph(3)
    assert {"h[-1]", "c[-1]"} <= set(g.keys(kind="state"))
    assert g.node("c[2]")["inputs"] == ("f*c[2]", "i*g[2]")
    for gate in "ifog":
        assert sorted(g.node(k)["t"] for k in g.nx.successors(f"synapse_h_{gate}")) == [0, 1, 2]


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_the_rnn_takes_its_activation_by_name(activation):
    g = Network(get_cell("rnn"), inputs=2, hidden=4, outputs=1, activation=activation).graph(2)
    assert g.node("h[1]")["op"] == activation


def test_cross_entropy_reads_the_logits():
    g = Network(get_cell("rnn"), inputs=2, hidden=4, outputs=1, loss="bce_with_logits").graph(2)
    assert g.node("loss[1]")["inputs"] == ("h_synapse_1[1]", "y[1]")
