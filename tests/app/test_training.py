"""Training: the post's published run, the post's algorithm for other settings, accuracy, weights files."""

import numpy as np
import pytest

from graphnet import load_task, train
from graphnet.errors import WeightsError
from graphnet import add_integers, evaluate, load_weights, save_weights
from graphnet.app.training import sgd_update
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
    for key, value in weights.items():
        assert result.params[key].shape == value.shape
        assert np.max(np.abs(result.params[key] - value)) < 1e-9, key


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


def test_trained_weights_add_numbers_far_longer_than_they_saw(post_run):
    network = load_task(TASK).build_network()
    a, b = 3**400, 7**300
    assert add_integers(network, post_run.params, a, b) == a + b
    assert add_integers(network, post_run.params, 0, 0) == 0


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
