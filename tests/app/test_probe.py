"""Probing the hidden layer: the post's trained network holds the carry, linearly; what the numbers and the
picture say, and how they are refused."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
from conftest import TASK, run_cli

from graphnet import Batch, Generator, load_task, register_generator, train, unregister_generator
from graphnet.app.probe import fit_readout, probe, probe_figure, write_probe_plot
from graphnet.cli import main
from graphnet.errors import TaskError, UsageError

TASKS = TASK.parent


@pytest.fixture(scope="module")
def trained(post_run):
    return probe(load_task(TASK), post_run.params)


@pytest.fixture(scope="module")
def untrained():
    task = load_task(TASK)
    return probe(task, task.build_network().init_parameters(np.random.RandomState(0)))  # the post's first weights


def test_the_posts_trained_hidden_layer_holds_the_carry(trained):
    assert trained.fact == "carry" and trained.source == "h[t]"
    assert trained.accuracy >= 0.99 and min(trained.step_accuracy()) >= 0.99
    assert trained.baseline_accuracy < 0.9  # a step's own bits do not say whether it carries


def test_the_inputs_alone_give_the_carry_only_where_no_carry_comes_in(trained):
    # Out of bit 0 the carry is a[0] and b[0], linear in the step's inputs; out of the last bit there is none.
    baseline = trained.step_baseline()
    assert baseline[0] == 1.0 and baseline[-1] == 1.0
    assert max(baseline[1:-1]) < 0.9


def test_training_is_what_makes_the_carry_readable_exactly(trained, untrained):
    # A random recurrent layer already echoes much of the carry: far from all of it.
    assert untrained.accuracy < 0.95 <= 0.99 <= trained.accuracy
    assert untrained.baseline_accuracy == trained.baseline_accuracy  # the same problems, the same inputs


def test_the_parity_is_in_a_trained_state_and_not_in_an_untrained_one():
    task = load_task(TASKS / "running_parity.toml", ["training.log_every=0"])
    untrained = probe(task, task.build_network().init_parameters(np.random.RandomState(0)), problems=1024)
    trained = probe(task, train(task).params, problems=1024)
    assert trained.accuracy >= 0.99 and untrained.accuracy < 0.7 and trained.baseline_accuracy < 0.6


def test_a_fact_the_inputs_show_is_read_perfectly_from_them():
    # Echoing the previous bit, the state must hold x[t], which is the step's input itself.
    task = load_task(TASKS / "delayed_echo.toml", ["task.delay=1"])
    result = probe(task, task.build_network().init_parameters(np.random.RandomState(0)), problems=256)
    assert result.fact == "x[t]" and result.baseline_accuracy == 1.0


def test_an_lstm_is_read_from_both_states_it_passes_on():
    task = load_task(TASKS / "binary_addition_lstm.toml")
    result = probe(task, task.build_network().init_parameters(np.random.RandomState(0)), problems=64)
    assert result.read == ("h", "c") and result.source == "h[t] and c[t]"
    assert result.states.shape == (8, 16, 2 * task.network.hidden)  # a quarter of 64 problems held out


def test_the_same_seed_gives_the_same_numbers_and_another_seed_other_problems(post_run):
    task = load_task(TASK)
    first, again = (probe(task, post_run.params, problems=400, seed=1) for _ in range(2))
    other = probe(task, post_run.params, problems=400, seed=2)
    assert first.lines() == again.lines() and np.array_equal(first.facts, again.facts)
    assert first.held_out_steps == 100 * 8 and not np.array_equal(first.inputs, other.inputs)


def test_the_output_is_a_table_of_steps_and_the_verdict(trained):
    lines = trained.lines()
    assert lines[0] == "step  from h[t]  from x[t] alone  commonest value"
    assert [line.split()[0] for line in lines[1:-1]] == [str(t) for t in range(8)]
    assert re.fullmatch(r"carry: linear readout from h\[t\] 1\.000 on 8192 held-out steps "
                        r"\(this step's inputs alone: 0\.\d{3}\)", lines[-1])


# -- the readout ------------------------------------------------------------------------------------------------
def test_a_readout_reads_a_fact_of_three_values():
    rng = np.random.RandomState(0)
    values = rng.randint(3, size=300)
    features = np.stack([values + 0.1 * rng.randn(300), rng.randn(300)], axis=1)  # the second is noise
    readout = fit_readout(features, values)
    assert readout.weights.shape == (2, 2) and np.array_equal(readout.predict(features), values)


def test_a_readout_of_a_fact_that_never_changes_reads_it_and_a_constant_feature_is_harmless():
    features = np.stack([np.arange(10.0), np.ones(10)], axis=1)
    assert fit_readout(features, np.zeros(10, dtype=int)).predict(features).tolist() == [0] * 10
    readout = fit_readout(features, (np.arange(10) >= 5).astype(int))
    assert readout.predict(features).tolist() == [0] * 5 + [1] * 5 and readout.weights[1, 0] == 0


def test_a_readout_in_the_features_own_units_scores_as_the_standardized_one():
    rng = np.random.RandomState(1)
    features = rng.randn(50, 3) * [1, 10, 100] + [5, -5, 50]
    readout = fit_readout(features, (features[:, 0] > 5).astype(int))
    weights, bias = readout.in_feature_units()
    standardized = ((features - readout.mean) / readout.scale) @ readout.weights + readout.bias
    assert np.allclose(features @ weights + bias, standardized)


# -- the picture ------------------------------------------------------------------------------------------------
def _texts(svg: str) -> list[str]:
    return re.findall(r"<!-- (.*?) -->", svg)  # matplotlib writes each line of text as a comment beside it


def test_the_picture_names_the_task_the_fact_and_the_accuracies(trained, tmp_path):
    texts = _texts(write_probe_plot(tmp_path / "p.svg", trained, title="binary_addition.toml").read_text())
    assert "binary_addition.toml: is the carry in h[t]?" in texts
    assert any(t.startswith("linear readout from h[t]: 1.000 of 8,192 held-out steps; from x[t] alone: 0.")
               for t in texts)
    for text in ("carry = 0", "carry = 1", "the readout's boundary", "held-out steps"):
        assert text in texts, text
    assert any(t.startswith("principal component 1 (") for t in texts)
    assert write_probe_plot(tmp_path / "p.png", trained).read_bytes().startswith(b"\x89PNG")


def test_the_same_probe_draws_the_same_file(trained, tmp_path):
    first = write_probe_plot(tmp_path / "a.svg", trained, title="t").read_bytes()
    assert write_probe_plot(tmp_path / "b.svg", trained, title="t").read_bytes() == first


def test_the_readouts_score_separates_the_carry_at_its_boundary(trained):
    figure = probe_figure(trained)
    scores = figure.axes[1]  # the second panel: what the readout reads
    assert scores.get_xlabel() == "the readout's score of h[t] (log-odds of carry = 1)"
    assert [line.get_xdata()[0] for line in scores.get_lines()] == [0]  # the boundary


# -- the command ------------------------------------------------------------------------------------------------
def test_the_command_prints_the_table_and_draws_the_plot(trained_weights, tmp_path):
    result = run_cli("probe", TASK, "--weights", trained_weights, "--plot", tmp_path / "p.svg", "--problems", "400")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-2].startswith("carry: linear readout from h[t] 1.000 on 800 held-out steps")
    assert lines[-1] == f"plot written to {tmp_path / 'p.svg'}" and (tmp_path / "p.svg").exists()


def test_without_matplotlib_a_plot_is_refused_before_any_work(trained_weights, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    monkeypatch.setattr("graphnet.app.probe.probe", lambda *args, **kwargs: pytest.fail("probed before refusing"))
    plot = tmp_path / "p.svg"
    assert main(["probe", str(TASK), "--weights", str(trained_weights), "--plot", str(plot)]) == 2
    assert capsys.readouterr().err.startswith(f"graphnet: error: --plot {plot}: drawing needs matplotlib")
    assert not plot.exists()


@pytest.fixture
def task_of(tmp_path):
    """The post's task with a generator of one bit in and out registered for one test only: ``task_of(cls)``."""
    names = []

    def make(generator: type[Generator]):
        names.append(f"probe_test_{len(names)}")
        register_generator(names[-1])(generator)
        path = tmp_path / f"{names[-1]}.toml"
        path.write_text(TASK.read_text().replace('"binary_addition"', f'"{names[-1]}"').replace("inputs = 2",
                                                                                                "inputs = 1"))
        return load_task(path)

    yield make
    for name in names:
        unregister_generator(name)


class CoinFlips(Generator):
    """Random bits in, the same bits out: nothing to remember."""

    def sample(self, rng, batch, bits):
        x = rng.randint(2, size=(bits, batch, 1)).astype(np.float64)
        return Batch(x, x)


def test_a_task_without_a_hidden_fact_is_refused(task_of):
    with pytest.raises(TaskError, match="generator names no hidden fact to probe for"):
        probe(task_of(CoinFlips), {})


@pytest.mark.parametrize("facts, message", [
    (lambda batch: batch.x, re.escape("gave float64 (8, 64, 1), expected whole numbers of shape (steps, problems) = "
                                      "(8, 64)")),
    (lambda batch: 20 * batch.x[:, :, 0], "gave values from 0 to 20, expected 0 to 15"),
])
def test_a_generator_that_gives_its_facts_wrong_is_told_how(task_of, facts, message):
    class Wrong(CoinFlips):
        fact = "the flip"

        def fact_values(self, batch):
            return facts(batch)

    task = task_of(Wrong)
    with pytest.raises(TaskError, match=message):
        probe(task, task.build_network().init_parameters(np.random.RandomState(0)), problems=64)


@pytest.mark.parametrize("problems", [15, 1_000_001])
def test_a_number_of_problems_out_of_range_is_refused(problems):
    with pytest.raises(UsageError, match=f"problems: expected an integer from 16 to 1,000,000.*got {problems}"):
        probe(load_task(TASK), {}, problems=problems)

def test_the_command_has_help_with_examples():
    result = run_cli("probe", "--help")
    assert result.returncode == 0 and "usage: graphnet probe" in result.stdout and "examples:" in result.stdout
