"""The post's RNN unrolled: structure, weight sharing and BPTT gradients against numerical ones."""

import numpy as np
import pytest

from graphnet.cells import Network, get_cell
from graphnet.data import get_generator
from graphnet.gradcheck import check_program


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
    assert max(errors.values()) < 1e-6, errors


def test_predicting_in_chunks_carries_the_hidden_state_exactly():
    net = post_network()
    params = net.init_parameters(np.random.RandomState(0))
    x = np.random.RandomState(1).randint(2, size=(50, 3, 2)).astype(float)
    whole = net.predict(params, x, chunk=50)
    assert np.array_equal(net.predict(params, x, chunk=7), whole)
