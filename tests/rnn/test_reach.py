"""The gradient split by lag adds up to the engine's gradient, each of its terms is a true gradient, and the
sensitivities between steps are the Jacobians' norms that central differences give."""

import numpy as np
import pytest

from graphnet.engine.gradcheck import check_program
from graphnet.errors import GraphError
from graphnet.rnn import Network, get_cell, get_generator
from graphnet.rnn.keys import LOSS, PREDICTION, at
from graphnet.rnn.reach import (
    LagSplit, hand_on, input_sensitivity, recurrent_weights, split_by_lag, state_sensitivity, stretch, untie,
)

CELLS = [("rnn", "sigmoid"), ("rnn", "tanh"), ("lstm", None), ("gru", None)]
EPS = 1e-6


def small(cell: str, activation: str | None, hidden: int = 3) -> tuple[Network, dict]:
    network = Network(get_cell(cell), inputs=2, hidden=hidden, outputs=1, activation=activation)
    return network, network.init_parameters(np.random.RandomState(0))


def problems(count: int = 3, steps: int = 5):
    return get_generator("binary_addition").sample(np.random.RandomState(1), count, steps)


def test_the_recurrent_weights_are_those_applied_to_the_previous_state():
    assert recurrent_weights(small("rnn", "sigmoid")[0]) == ("synapse_h",)
    assert recurrent_weights(small("lstm", None)[0]) == ("synapse_h_i", "synapse_h_f", "synapse_h_o", "synapse_h_g")
    # the GRU's candidate reads the reset state r * h[t-1]: made of the previous state, so it counts
    assert recurrent_weights(small("gru", None)[0]) == ("synapse_h_z", "synapse_h_r", "synapse_h_n")


@pytest.mark.parametrize("cell, activation", CELLS)
def test_the_parts_add_up_to_the_engines_gradient(cell, activation):
    network, params = small(cell, activation)
    batch = problems()
    split = split_by_lag(network, params, batch)
    engine = network.program(5, batch=3).forward(network.feeds(batch.x, batch.y), params).backward()  # training's
    for weight in split.weights:
        summed = split.by_lag[weight].sum(axis=0)
        assert np.allclose(summed, engine[weight], rtol=1e-10, atol=1e-15), weight
        assert np.any(summed != 0)
    assert split.discrepancy() < 1e-14
    # and by the step whose error it is: step t's terms are the gradient of loss[t] alone
    graph_run = network.graph(5).compile().forward(network.feeds(batch.x, batch.y), params)
    for t in (0, 4):
        alone = graph_run.backward(of=at(LOSS, t))
        for weight in split.weights:
            assert np.allclose(split.terms[weight][t].sum(axis=0), alone[weight], rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("cell, activation", CELLS)
def test_each_term_is_the_gradient_of_a_steps_loss_through_one_read(cell, activation):
    """Central differences of step t's loss when only the copy of the weight that step s reads moves."""
    network, params = small(cell, activation, hidden=2)
    batch = problems(2, 4)
    split = split_by_lag(network, params, batch)
    untied = untie(network.graph(4), split.weights)
    copies = [k for k in untied.parameters if "untied" in untied.node(k)]  # synapse_h[0], synapse_h[1], ...
    assert len(copies) == 4 * len(split.weights)
    feeds = network.feeds(batch.x, batch.y)
    values = {**params, **{c: params[untied.node(c)["untied"]] for c in copies}}
    for t in (1, 3):
        checks = check_program(untied.compile([at(LOSS, t)], wrt=copies), feeds, values, of=at(LOSS, t))
        assert all(check.passed for check in checks.values())
        run = untied.compile([at(LOSS, t)], wrt=copies).forward(feeds, values)
        grads = run.backward(of=at(LOSS, t))
        for copy in copies:
            s = untied.node(copy)["t"]
            expected = grads.get(copy, np.zeros_like(values[copy]))
            assert np.array_equal(split.terms[untied.node(copy)["untied"]][t, s], expected)


def test_lags_are_the_distance_from_the_error_back_to_the_read():
    network, params = small("rnn", "sigmoid")
    split = split_by_lag(network, params, problems())
    terms = split.terms["synapse_h"]
    assert np.all(terms[np.triu_indices(5, 1)] == 0)  # an error never reaches a later step's read
    assert np.array_equal(split.by_lag["synapse_h"][1], terms[1, 0] + terms[2, 1] + terms[3, 2] + terms[4, 3])
    assert np.array_equal(split.by_lag["synapse_h"][4], terms[4, 0])
    assert np.all(terms[:, 0] == 0)  # step 0 reads the initial state, 0


def test_a_plain_rnn_fades_and_the_reach_counts_the_lags_above_a_thousandth():
    network, params = small("rnn", "sigmoid", hidden=8)
    split = split_by_lag(network, params, problems(16, 12))
    shares = split.shares()
    assert shares[0] == 1 and split.measured == 11  # lag 11 would read h[-1] at step 0
    reach = split.reach()
    assert np.all(shares[reach:] < 1e-3) and shares[reach - 1] >= 1e-3
    assert 1 < reach < 11 and split.fades()
    assert split.reach(threshold=1e-12) == 11 and not split.fades(threshold=1e-12)


def test_any_weight_can_be_split_and_one_not_read_at_each_step_cannot():
    network, params = small("rnn", "sigmoid")
    split = split_by_lag(network, params, problems(), weights=["synapse_0"])
    assert split.weights == ("synapse_0",)
    assert split.terms["synapse_0"][:, 0].any()  # the input weight's read at step 0 matters
    with pytest.raises(GraphError, match="no weight 'synapse_2'"):
        split_by_lag(network, params, problems(), weights=["synapse_2"])


def test_an_untied_graph_runs_the_same_numbers():
    network, params = small("lstm", None)
    batch = problems()
    graph = network.graph(5)
    untied = untie(graph, ["synapse_h_f"])
    assert "synapse_h_f[3]" in untied and untied.node("synapse_h_f[3]")["t"] == 3
    assert untied.node("h_synapse_h_f[3]")["inputs"] == ("h[2]", "synapse_h_f[3]")
    values = {**params, **{at("synapse_h_f", s): params["synapse_h_f"] for s in range(5)}}
    tied = graph.compile().forward(network.feeds(batch.x, batch.y), params)
    same = untied.compile().forward(network.feeds(batch.x, batch.y), values)
    assert same.value(LOSS) == tied.value(LOSS)


def numeric_state_jacobian(network, params, x, t, k):
    """d state[t] / d state[k] by central differences: the run from step k + 1 with step k's state fed as the
    initial state, each of its numbers moved by EPS both ways."""
    states, width = network.cell.states, network.hidden
    full = network.graph(len(x)).compile([at(s, k) for s in states]).forward(network.feeds(x), params)
    steps = t - k
    program = network.graph(steps).compile([at(s, steps - 1) for s in states])
    start = {at(s, -1): full.value(at(s, k)) for s in states}
    jacobian = np.zeros((x.shape[1], width * len(states), width * len(states)))
    for j in range(width * len(states)):
        for sign in (1, -1):
            fed = {key: value.copy() for key, value in start.items()}
            fed[at(states[j // width], -1)][:, j % width] += sign * EPS
            fed.update(network.feeds(x[k + 1 : t + 1]))
            run = program.forward(fed, params)
            jacobian[:, :, j] += sign * np.concatenate([run.value(at(s, steps - 1)) for s in states], -1) / (2 * EPS)
    return jacobian


@pytest.mark.parametrize("cell, activation", CELLS)
def test_state_sensitivity_is_the_norm_of_the_jacobian_from_one_state_to_a_later_one(cell, activation):
    network, params = small(cell, activation)
    x = problems(2, 4).x
    norms = state_sensitivity(network, params, x)
    assert norms.shape == (2, 4, 4)
    assert np.all(norms[:, np.arange(4), np.arange(4)] == 1) and np.all(norms[:, 0, 1:] == 0)
    for t, k in [(1, 0), (3, 0), (3, 2)]:
        jacobian = numeric_state_jacobian(network, params, x, t, k)
        # the Jacobian's rows are d state[t]_i: its spectral norm is that of its transpose
        assert np.allclose(norms[:, t, k], np.linalg.norm(jacobian, ord=2, axis=(1, 2)), rtol=1e-6)


@pytest.mark.parametrize("factor", [0.5, 1.0, 1.5])
def test_stretch_is_a_states_change_per_step(factor):
    """A tanh RNN that reads no input and whose recurrent weight is a rotation times ``factor`` stays at h = 0,
    where tanh's slope is 1: each step multiplies a change of its state by that rotation, so by ``factor``."""
    network, params = small("rnn", "tanh", hidden=4)
    rotation, _ = np.linalg.qr(np.random.RandomState(2).randn(4, 4))
    still = {**params, "synapse_0": np.zeros_like(params["synapse_0"]), "synapse_h": factor * rotation}
    x = problems(2, 20).x
    assert stretch(network, still, x) == pytest.approx(factor, rel=1e-12)  # over 16 steps
    assert stretch(network, still, x[:5]) == pytest.approx(factor, rel=1e-12)  # over 4: all that 5 steps have
    assert stretch(network, params, x) != pytest.approx(stretch(network, params, x, lag=2))  # a real one varies


def test_an_lstms_state_is_h_and_c_each_as_the_next_step_receives_it():
    network, _ = small("lstm", None)
    carried = hand_on(network.graph(3), network.cell.states)
    assert carried.node("carried c[1]")["inputs"] == ("c[1]",)
    assert carried.node("f*c[2]")["inputs"] == ("f[2]", "carried c[1]")  # the next step reads the carried c
    assert carried.node("tanh_c[1]")["inputs"] == ("c[1]",)  # its own step reads c itself
    assert carried.node("h_synapse_h_i[2]")["inputs"] == ("carried h[1]", "synapse_h_i")
    assert carried.node("h_synapse_1[1]")["inputs"] == ("h[1]", "synapse_1")


@pytest.mark.parametrize("cell, activation", CELLS)
def test_input_sensitivity_is_how_much_a_prediction_moves_with_an_earlier_input(cell, activation):
    network, params = small(cell, activation)
    x = problems(2, 4).x
    norms = input_sensitivity(network, params, x)
    program = network.graph(4).compile([at(PREDICTION, t) for t in range(4)])
    for k in range(4):
        derivative = np.zeros((4, 2, 2))  # [t, problem, input]
        for i in range(2):
            for sign in (1, -1):
                moved = x.copy()
                moved[k, :, i] += sign * EPS
                run = program.forward(network.feeds(moved), params)
                derivative[:, :, i] += sign * np.stack([run.value(at(PREDICTION, t))[:, 0] for t in range(4)]) / (2 * EPS)
        assert np.allclose(norms[:, :, k], np.linalg.norm(derivative, axis=2).T, atol=1e-9)
    assert np.all(norms[:, 0, 1:] == 0) and np.all(norms[:, 3, :] > 0)


def test_a_split_of_a_step_that_never_reads_the_state_reaches_nothing():
    split = LagSplit(("w",), {"w": np.zeros((3, 3, 2, 2))}, {"w": np.zeros((2, 2))})
    assert split.reach() == 0 and split.measured == 0 and split.discrepancy() == 0
