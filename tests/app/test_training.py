"""Training: the post's published run, the post's algorithm for other settings, accuracy, weights files."""

import warnings

import numpy as np
import pytest

from graphnet import at, bits_to_int, load_task, train
from graphnet.errors import DivergedError, NonFiniteError, WeightsError
from graphnet import add_integers, evaluate, load_weights, save_weights
from graphnet import Graph, Network, get_cell
from graphnet.app.training import Networks, descend, problems_to_check, sgd_update
from graphnet.rnn.data import Batch
from conftest import TASK
from post_reference import run_post


def test_the_posts_published_run(post_run):
    by_iteration = {entry.iteration: entry for entry in post_run.log}
    first, middle, late = by_iteration[0], by_iteration[6000], by_iteration[9000]
    assert f"{first.error:.8f}" == "3.45638663"
    assert first.predicted == [0, 0, 0, 0, 0, 0, 0, 1] and first.true == [0, 1, 0, 0, 0, 1, 0, 1]
    assert first.describe == "9 + 60 = 1"
    assert (f"{middle.error:.8f}", middle.describe) == ("0.57691441", "81 + 0 = 81")
    assert f"{late.error:.8f}" == "0.21595037"
    assert late.predicted == late.true == [0, 0, 0, 0, 1, 1, 1, 0]
    assert late.describe == "11 + 3 = 14"


def test_the_whole_log_and_the_weights_equal_the_posts_code(post_run):
    weights, log = run_post()
    assert [(e.iteration, e.error, e.predicted, e.true, e.describe) for e in post_run.log] == log
    for key, value in weights.items():
        assert np.array_equal(post_run.params[key], value), key


@pytest.mark.parametrize(
    "overrides, post_args",
    [
        (["network.hidden=8", "training.seed=3", "task.bits=6", "training.learning_rate=0.25",
          "training.iterations=500"], dict(hidden_dim=8, seed=3, bits=6, alpha=0.25, iterations=500)),
        (["network.hidden=4", "training.seed=11", "task.bits=12", "training.iterations=300"],
         dict(hidden_dim=4, seed=11, bits=12, iterations=300)),
        (["network.hidden=32", "training.seed=7", "training.learning_rate=0.05", "training.iterations=200"],
         dict(hidden_dim=32, seed=7, alpha=0.05, iterations=200)),
    ],
)
def test_other_settings_train_as_the_posts_algorithm_would(overrides, post_args):
    result = train(load_task(TASK, overrides))
    weights, _ = run_post(log_every=0, **post_args)
    for key, value in weights.items():  # bit for bit: the same arithmetic in the same order
        assert np.array_equal(result.params[key], value), key


def test_training_solves_all_128_by_128_problems(post_run):
    accuracy = evaluate(load_task(TASK), post_run.params)
    assert (accuracy.correct, accuracy.total, accuracy.exhaustive) == (16384, 16384, True)


def test_untrained_weights_do_not_solve_them():
    task = load_task(TASK)
    params = task.build_network().init_parameters(np.random.RandomState(0))
    assert evaluate(task, params).fraction < 0.05


def test_a_batch_trains_several_sequences_per_update():
    task = load_task(TASK, ["training.batch_size=8", "training.iterations=3", "training.log_every=1"])
    result = train(task)
    assert [e.iteration for e in result.log] == [0, 1, 2]
    assert all(np.isfinite(e.loss) for e in result.log)


def test_the_log_shows_the_first_problem_of_each_batch():
    # Six of the seven shipped tasks train on 16 problems a batch; the log, like the post's, shows one: the first.
    task = load_task(TASK, ["training.batch_size=16", "training.iterations=4", "training.log_every=1"])
    seen = {}

    def record(iteration, batch, value, params):  # each iteration's problems and its forward pass
        seen[iteration] = batch, np.stack([value(at("y_hat", t)) for t in range(8)]), float(value("loss"))

    result = train(task, on_update=record)
    assert [entry.iteration for entry in result.log] == [0, 1, 2, 3]
    for entry in result.log:
        batch, y_hat, loss = seen[entry.iteration]
        y, first = batch.y[:, 0, 0], y_hat[:, 0, 0]  # step by step, least significant bit first
        assert entry.true == y[::-1].astype(int).tolist()
        assert entry.predicted == np.round(first)[::-1].astype(int).tolist()
        assert entry.error == sum(np.abs(y - first).tolist())  # summed step by step, as the post sums it
        a, b = bits_to_int(batch.x[:, 0, 0]), bits_to_int(batch.x[:, 0, 1])
        assert entry.describe == f"{a} + {b} = {bits_to_int(first)}"
        assert entry.loss == loss  # the batch's


@pytest.mark.parametrize("progress", [False, True])
def test_each_log_entry_is_handed_to_on_log_as_it_is_made(progress):
    entries = []
    result = train(load_task(TASK, ["training.iterations=4", "training.log_every=2"]), on_log=entries.append,
                   progress=progress)  # the bar hides itself off a terminal
    assert [entry.iteration for entry in entries] == [0, 2] and entries == result.log


def test_a_log_entry_prints_as_the_posts():
    (entry,) = train(load_task(TASK, ["training.iterations=1"])).log
    assert entry.lines() == ["Error:3.45638663", "Pred:[0 0 0 0 0 0 0 1]", "True:[0 1 0 0 0 1 0 1]", "9 + 60 = 1",
                             "------------"]


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf - inf, on purpose
def test_nan_gradients_of_a_finite_loss_stop_training_before_their_update():
    # Weights of +-1e300 whose columns sum to 0: every hidden unit is alike, so h @ synapse_1 is exactly 0, every
    # prediction 0.5 and the loss 8 * 0.125 = 1.0. But the reverse pass through synapse_h overflows: inf - inf.
    task = load_task(TASK, ["training.iterations=5"])
    sign = np.where(np.arange(16) % 2 == 0, 1e300, -1e300)
    params = {"synapse_0": np.array([[1e300] * 16, [-1e300] * 16]), "synapse_h": np.outer(sign, np.ones(16)),
              "synapse_1": sign[:, None]}
    network, problem = task.build_network(), task.generator.example("9+60", 8)
    run = network.program(8).forward(network.feeds(problem.x, problem.y), params)
    assert run.value("loss") == 1.0 and np.isnan(run.backward()["synapse_h"]).any()
    updates = []
    with pytest.raises(DivergedError, match=r"^training diverged at iteration 0: the gradient at node 'h\[6\]' is NaN"
                                            r".*; lower training.learning_rate, or check the weights it started from$"):
        with warnings.catch_warnings():  # said in one line, without numpy's overflow warnings on the way there
            warnings.simplefilter("error")
            train(task, params=params, after_update=lambda *update: updates.append(update))
    assert updates == []  # no NaN update made, nor handed on to be checkpointed


def test_trained_weights_add_numbers_far_longer_than_they_saw(post_run):
    network = load_task(TASK).build_network()
    a, b = 3**400, 7**300
    assert add_integers(network, post_run.params, a, b) == a + b
    assert add_integers(network, post_run.params, 0, 0) == 0


FAST = "tasks/binary_addition_fast.toml"


@pytest.fixture(scope="module")
def fast_run():
    """The fast task's run: 500 batches of 16, a second or less, and every 8-bit problem solved."""
    return train(load_task(FAST))


def test_accuracy_reads_as_the_readme_shows_it_on_all_problems_or_on_random_ones(fast_run):
    task = load_task(FAST)
    assert evaluate(task, fast_run.params).line() == "accuracy: 1.0000 (16384/16384) on all 16384 8-bit problems"
    # Of 32-bit problems there are too many: 10,000 random ones, or as many as asked, in batches of any size.
    assert (evaluate(task, fast_run.params, bits=32).line()
            == "accuracy: 1.0000 (10000/10000) on 10000 random 32-bit problems")
    assert (evaluate(task, fast_run.params, bits=32, samples=1000, batch=300).line()
            == "accuracy: 1.0000 (1000/1000) on 1000 random 32-bit problems")


def test_weights_trained_in_a_second_add_numbers_hundreds_of_bits_long_or_say_why_not(fast_run):
    network = load_task(FAST).build_network()
    a, b = 3**400, 7**300
    assert add_integers(network, fast_run.params, a, b) == a + b
    assert add_integers(network, fast_run.params, 0, 0) == 0
    huge = {k: np.full_like(w, 1e308) for k, w in fast_run.params.items()}  # 1 + 1 at bit 0 overflows
    with pytest.raises(NonFiniteError, match=r"^the network's run overflows with these weights \(.*, counting from "
                                             r"bit 0\): there is no sum to read from it$"):
        add_integers(network, huge, a, b)


def test_members_side_by_side_draw_from_their_own_streams_and_each_diverges_alone():
    streams = [iter([Batch(np.full((8, 2, 2), m), np.full((8, 2, 1), -m))]) for m in range(3)]
    networks = Networks({"w": np.zeros((3, 2, 1))}, [0.1, 0.2, 0.3], streams, side_by_side=True)
    batch = networks.batch()  # the member axis after the steps'
    assert batch.x.shape == (8, 3, 2, 2) and batch.y.shape == (8, 3, 2, 1)
    assert batch.x[0, :, 0, 0].tolist() == [0, 1, 2] and batch.y[7, :, 1, 0].tolist() == [0, -1, -2]
    grads = {"w": np.array([[[1.0], [2.0]], [[np.nan], [0.0]], [[3.0], [4.0]]])}
    assert networks.lost(np.array([0.5, 0.5, np.inf]), grads).tolist() == [False, True, True]
    assert networks.lost(np.array([0.5, 0.5, 0.5]), {"w": np.ones((3, 2, 1))}) is None


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the loop silences it (descend)
def test_a_nan_in_any_gradient_is_lost_and_huge_finite_ones_are_not():
    one = Networks({"a": np.zeros(2), "b": np.zeros(2)}, 0.1, [iter(())])
    assert one.lost(np.array(0.5), {"a": np.array([np.nan, 0.0]), "b": np.ones(2)}).tolist() == [True]
    assert one.lost(np.array(np.inf), {"a": np.ones(2), "b": np.ones(2)}).tolist() == [True]
    # their sum overflows, but every number is finite: nothing diverged
    assert one.lost(np.array(0.5), {"a": np.full(2, 1e308), "b": np.full(2, 1e308)}) is None
    three = Networks({"w": np.zeros((3, 2))}, [0.1, 0.2, 0.3], [iter(())] * 3, side_by_side=True)
    grads = {"w": np.array([[1e308, 1e308], [np.nan, 0.0], [1.0, 1.0]])}
    assert three.lost(np.array([0.5, 0.5, 0.5]), grads).tolist() == [False, True, False]
    assert three.lost(np.array([0.5, 0.5, 0.5]), {"w": np.full((3, 2), 1e308)}) is None


def test_the_loop_goes_to_its_verdict_without_numpys_warnings():
    # Any graph the loop may train: mean(x @ w / y), fed x[0] and y[0] as a network's feeds name them.
    network = Network(get_cell("rnn"), inputs=2, hidden=1, outputs=2)
    g = Graph()
    x, y, w = g.input("x[0]", (None, 2)), g.input("y[0]", (None, 2)), g.parameter("w", (2, 2))
    g.apply("mean", "loss", g.apply("div", "ratio", g.apply("matmul", "xw", x, w), y))
    verdicts = []

    def descend_once(x, y, w):
        networks = Networks({"w": w}, 0.1, [iter([Batch(np.full((1, 1, 2), x), np.full((1, 1, 2), y))])])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            descend(network, g.compile(), networks, range(1),
                    diverged=lambda i, lost, *_: verdicts.append((i, lost.tolist())))
        return networks.params["w"]

    # gradients of 5e307 whose sum overflows, every one finite: nothing diverged, and the update is made
    assert np.array_equal(descend_once(1e308, 1.0, np.zeros((2, 2))), -0.1 * np.full((2, 2), 5e307))
    assert verdicts == []
    descend_once(1.0, 0.0, np.ones((2, 2)))  # a division by zero: an inf loss
    assert verdicts == [(0, [True])]


def test_the_problems_checked_are_drawn_by_their_seed():
    task = load_task(TASK, ["task.bits=32"])
    (first, exhaustive), (again, _), (other, _) = (problems_to_check(task, samples=5, seed=s) for s in (3, 3, 4))
    assert not exhaustive and np.array_equal(first.x, again.x) and not np.array_equal(first.x, other.x)


def test_members_that_leave_take_their_weights_rate_and_gradients_with_them():
    networks = Networks({"w": np.array([[1.0], [2.0], [3.0]])}, [0.1, 0.2, 0.3], [iter(())] * 3, side_by_side=True)
    grads = {"w": np.array([[10.0], [20.0], [30.0]])}
    networks.leave(np.array([False, True, False]), grads)
    assert networks.active == [0, 2] and grads["w"].tolist() == [[10.0], [30.0]]
    networks.update(grads)  # the others go on as they would have alone
    assert networks.params["w"].tolist() == [[1.0 - 0.1 * 10.0], [3.0 - 0.3 * 30.0]]
    networks.leave(np.array([True, False]))
    assert networks.active == [2] and networks.params["w"].tolist() == [[3.0 - 0.3 * 30.0]]


def test_sgd_step_is_out_of_place():
    w = {"w": np.ones(2)}
    new = sgd_update(w, {"w": np.ones(2)}, 0.5)
    assert w["w"].tolist() == [1, 1] and new["w"].tolist() == [0.5, 0.5]


def test_weights_round_trip_and_are_checked_against_the_task(tmp_path, post_run):
    network = load_task(TASK).build_network()
    path = tmp_path / "w.npz"
    save_weights(path, post_run.params)
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]  # no temporary file left behind
    loaded = load_weights(path, network)
    assert all(np.array_equal(loaded[k], post_run.params[k]) for k in post_run.params)
    smaller = load_task(TASK, ["network.hidden=8"]).build_network()
    with pytest.raises(WeightsError, match=r"'synapse_0' is float64 \(2, 16\), the task needs float \(2, 8\)"):
        load_weights(path, smaller)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a zip", r"not an .npz weights file \(a zip of .npy arrays\); it starts like text"),
        (None, "has no 'synapse_h'"),
    ],
)
def test_bad_weights_files_are_named(tmp_path, content, message):
    path = tmp_path / "w.npz"
    if content is None:
        np.savez(path, synapse_0=np.zeros((2, 16)), synapse_1=np.zeros((16, 1)))
    else:
        path.write_bytes(content)
    with pytest.raises(WeightsError, match=message):
        load_weights(path, load_task(TASK).build_network())


def test_saved_files_get_the_usual_permissions(tmp_path):
    import os

    path = tmp_path / "w.npz"
    save_weights(path, {"w": np.zeros(1)})
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
