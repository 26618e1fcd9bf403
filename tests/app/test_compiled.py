"""Compiled training: the numpy run's problems, updates, log, checkpoints and curve, with the program traced by JAX."""

from pathlib import Path

import numpy as np
import pytest

from graphnet import evaluate, load_task, train
from graphnet.app.checkpoint import Checkpointer, load_checkpoint, save_checkpoint
from graphnet import evaluate_compiled, train_compiled
from graphnet.app.compiled import chunk_length, require_jax, train_members_compiled
from graphnet.app.curve import Curve
from graphnet.app.members import train_members
from graphnet.errors import DivergedError, UsageError
from conftest import ROOT, TASK

# the shipped tasks but the post's (its run is held to numpy mode's in the first test)
SHIPPED = sorted(p.stem for p in (ROOT / "tasks").glob("*.toml") if p.stem != "binary_addition")


def short(*overrides: str, task: Path = TASK):
    return load_task(task, ["training.log_every=0", *overrides])


def test_the_posts_published_log_is_printed_identically(post_run):
    compiled = train_compiled(load_task(TASK))
    assert len(compiled.log) == 10
    assert [line for e in compiled.log for line in e.lines()] == [line for e in post_run.log for line in e.lines()]
    for key, weights in post_run.params.items():
        np.testing.assert_allclose(compiled.params[key], weights, rtol=0, atol=1e-12)
    assert evaluate(load_task(TASK), compiled.params).fraction == 1.0


@pytest.mark.parametrize("task, batch", [(TASK, 1), (TASK, 4), (ROOT / "tasks" / "binary_addition_lstm.toml", 3),
                                         (ROOT / "tasks" / "binary_addition_gru.toml", 2)])
def test_each_steps_gradients_are_numpy_modes_within_1e_12(task, batch):
    task = short("training.iterations=30", f"training.batch_size={batch}", task=task)
    rate = task.training.learning_rate
    compiled, numpy = [], []
    train_compiled(task, every=[1], after_chunk=lambda done, params, rng: compiled.append(params) and False)
    train(task, after_update=lambda done, params, rng: numpy.append(params) and False)
    assert len(compiled) == len(numpy) == 30
    for before_c, after_c, before_n, after_n in zip(compiled, compiled[1:], numpy, numpy[1:]):
        for key in before_c:  # the update is the learning rate times the gradient
            gradient_c, gradient_n = (before_c[key] - after_c[key]) / rate, (before_n[key] - after_n[key]) / rate
            assert np.max(np.abs(gradient_c - gradient_n)) < 1e-12


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_task_trains_to_the_same_accuracy(name):
    task = load_task(ROOT / "tasks" / f"{name}.toml", ["training.log_every=0"])
    compiled, numpy = evaluate(task, train_compiled(task).params), evaluate(task, train(task).params)
    # The same accuracy, not always the same weights: a run may be chaotic (running_parity's, at a learning rate
    # of 1, takes numpy mode's weights 9 apart from weights 1e-15 apart within 500 iterations), and rounding
    # differs between XLA and numpy.
    assert compiled == numpy
    assert compiled.fraction == 1.0


def test_chunks_end_where_log_lines_checkpoints_and_rows_are_due():
    assert chunk_length([1000], 8, 10_000) == 1000  # the post: a chunk per log line
    assert chunk_length([1000, 300], 8, 10_000) == 100
    assert chunk_length([0], 8, 10_000) == 1000  # nothing due: as long as a chunk may be
    # 500 divides 1500 and 10,000: twenty chunks, none of their iterations in vain (750: fourteen, 500 in vain)
    assert chunk_length([1500], 8, 10_000) == 500
    assert chunk_length([1000], 8, 30) == 30  # never longer than the run; no log line is due inside it
    assert chunk_length([1000], 64 * 512, 10_000) == 50  # its problems held in memory stay few


def test_a_chunk_runs_its_whole_length_so_the_last_one_is_nearly_full():
    # 2,500 iterations, nothing due: three chunks of 834 (two iterations in vain), not 1,000, 1,000 and a
    # 1,000 holding 500 (a fifth of the run in vain)
    assert chunk_length([0], 8, 2_500) == 834
    assert chunk_length([0], 8, 1_001) == 501
    # resumed at 9,500 of 10,100, a log line due at 10,000: chunks end there, and none reaches past 10,100
    assert chunk_length([1000], 8, 600, start=9_500) == 100


def test_a_chunk_at_a_time_with_the_random_stream_of_numpy_mode():
    task = short("training.iterations=250")
    seen = []
    result = train_compiled(task, every=[100], after_chunk=lambda done, params, rng: seen.append(done) and False)
    assert {100, 200} <= set(seen) and seen == sorted(seen) and seen[-1] == 250  # a chunk ends where one is due
    assert result.iterations == 250
    numpy = train(task)
    assert [k.tolist() if isinstance(k, np.ndarray) else k for k in result.rng_state] == \
        [k.tolist() if isinstance(k, np.ndarray) else k for k in numpy.rng_state]


def test_a_checkpoint_resumes_in_either_mode(tmp_path):
    task = short("training.iterations=300")
    whole = train(task)
    for first, second in ((train_compiled, train), (train, train_compiled), (train_compiled, train_compiled)):
        part = first(short("training.iterations=137"))
        path = tmp_path / "run.npz"
        save_checkpoint(path, task, part.params, part.iterations, part.rng_state)
        state = load_checkpoint(path, task)
        resumed = second(task, params=state.params, start=state.iteration, rng_state=state.rng_state)
        assert resumed.iterations == 300
        for key, weights in whole.params.items():
            np.testing.assert_allclose(resumed.params[key], weights, rtol=0, atol=1e-12)


def test_a_stop_takes_effect_when_the_chunk_ends(tmp_path):
    task = short("training.iterations=1000")
    checkpointer = Checkpointer(tmp_path / "run.npz", task, every=250)
    checkpointer.request_stop()  # as a signal's handler does, while the first chunk runs
    result = train_compiled(task, after_chunk=checkpointer, every=[checkpointer.every])
    assert result.iterations == 250
    assert load_checkpoint(tmp_path / "run.npz", task).iteration == 250


def test_the_curve_has_numpy_modes_rows():
    task = short("training.iterations=250")
    numpy, compiled = Curve(task, every=100), Curve(task, every=100)
    train(task, on_update=numpy)
    train_compiled(task, curve=compiled)
    rows_n, rows_c = numpy.finish(), compiled.finish()
    assert [r.iteration for r in rows_c] == [r.iteration for r in rows_n] == [100, 200, 250]
    for a, b in zip(rows_c, rows_n):
        assert (a.accuracy, a.error, a.loss) == pytest.approx((b.accuracy, b.error, b.loss), rel=1e-12)


@pytest.mark.parametrize("weight", [1e306, 1e307])
def test_a_divergence_names_the_iteration_and_the_node_as_numpy_mode_does(weight):
    """synapse_1 enormous, a cross-entropy loss and a vast learning rate: inf at iteration 1, or at once."""
    task = short("training.iterations=50", "network.loss=bce_with_logits", "training.learning_rate=1e6")
    params = task.build_network().init_parameters(np.random.RandomState(0))
    params["synapse_1"] = np.full_like(params["synapse_1"], weight)
    messages = []
    for run in (train, train_compiled):
        with pytest.raises(DivergedError) as raised:
            run(task, params=dict(params))
        messages.append(str(raised.value))
    assert messages[0] == messages[1]
    assert messages[0].startswith(f"training diverged at iteration {1 if weight == 1e306 else 0}: node ")


def test_without_jax_compiling_is_refused_with_the_install_command(monkeypatch):
    monkeypatch.setattr("graphnet.app.compiled.available", lambda: False)
    with pytest.raises(UsageError, match=r"--compile needs JAX, which is not installed here: pip install"):
        require_jax()


def test_members_side_by_side_are_numpy_modes_members():
    task = short("training.iterations=300")
    seeds, rates = [0, 1, 2, 3], [0.1, 0.1, 0.5, 0.05]

    def until(done, params):  # stops the second member still training at the first check
        stop = np.zeros(len(next(iter(params.values()))), dtype=bool)
        stop[min(1, len(stop) - 1)] = done == 100
        return stop

    compiled = train_members_compiled(task, seeds, learning_rates=rates, until=until, every=100)
    numpy = train_members(task, seeds, learning_rates=rates, until=until, every=100)
    assert [(m.iterations, m.stopped) for m in compiled] == [(m.iterations, m.stopped) for m in numpy] == \
        [(300, False), (100, True), (300, False), (300, False)]
    for c, n in zip(compiled, numpy):
        for key, weights in n.params.items():
            np.testing.assert_allclose(c.params[key], weights, rtol=0, atol=1e-12)


def test_a_diverging_member_stops_and_the_others_go_on():
    task = short("training.iterations=20", "network.loss=bce_with_logits")
    rates = [0.1, 1e6, 0.1]
    results = []
    for run in (train_members, train_members_compiled):
        results.append(run(task, [0, 1, 2], learning_rates=rates, diverged="stop"))
    assert [(m.iterations, m.diverged) for m in results[1]] == [(m.iterations, m.diverged) for m in results[0]]


def test_evaluating_compiled_gives_numpy_modes_accuracy(post_run):
    task = load_task(TASK)
    assert evaluate_compiled(task, post_run.params) == evaluate(task, post_run.params)
    assert evaluate_compiled(task, post_run.params, bits=300, samples=50) == \
        evaluate(task, post_run.params, bits=300, samples=50)
