"""graphnet reach: the table of the gradient split by lag, its CSV and its picture, for a task's problems or one
example, on trained weights or those training starts from."""

import csv
import io

import numpy as np
import pytest

from conftest import ROOT, TASK, run_cli
from graphnet import load_task
from graphnet.app.reach import COLUMNS, measure, problems_for, reach_sentence
from graphnet.rnn.reach import LagSplit

LSTM = ROOT / "tasks" / "binary_addition_lstm.toml"


def test_a_measure_on_random_problems_and_its_table(post_run):
    task = load_task(TASK)
    problems, about = problems_for(task, problems=16, seed=3)
    assert about == "16 random 8-bit problems" and problems.x.shape == (8, 16, 2)
    reach = measure(task, post_run.params, problems, about=about)
    rows = reach.rows()
    assert [row[0] for row in rows] == list(range(8))
    assert rows[0][2] == 1.0 and rows[0][3] == 1.0  # lag 0: all of lag 0's part; a state is itself
    assert np.isclose(rows[1][1], reach.split.sizes[1]) and rows[7][1] == 0  # lag 7 would read h[-1]
    lines = reach.lines()
    assert lines[0].startswith("synapse_h's gradient on 16 random 8-bit problems, split by lag k")
    assert lines[3].split()[:2] == ["0", f"{reach.split.sizes[0]:.2e}"]
    assert "the parts add up to the engine's gradient: largest difference" in lines[-2]


def test_the_sensitivities_by_lag_are_means_over_the_problems_and_steps():
    task = load_task(TASK)
    start = task.build_network().init_parameters(np.random.RandomState(0))
    problems, _ = problems_for(task, problems=4)
    reach = measure(task, start, problems)
    k = 2
    expected = np.mean([reach.states[b, t, t - k] for b in range(4) for t in range(k, 8)])
    assert np.isclose(reach.by_lag(reach.states)[k], expected)


def test_one_example_of_an_lstm():
    task = load_task(LSTM)
    problems, about = problems_for(task, example="9+60")
    assert about == "the example 9 + 60 = 69"
    reach = measure(task, task.build_network().init_parameters(np.random.RandomState(0)), problems, about=about)
    assert reach.state == "(h, c)" and reach.states.shape == (1, 8, 8)
    assert reach.lines()[0].startswith("the gradient of synapse_h_i, synapse_h_f, synapse_h_o, synapse_h_g on the "
                                       "example 9 + 60 = 69")


def test_the_reach_in_words():
    terms = np.zeros((4, 4, 1))
    terms[np.arange(4), np.arange(4)] = 1.0  # lag 0
    terms[3, 2] = 0.1  # lag 1
    terms[3, 1] = 1e-5  # lag 2: below 1e-3 of lag 0's (4)
    terms[3, 0] = 1e-6
    split = LagSplit(("w",), {"w": terms}, {"w": terms.sum(axis=(0, 1))})
    assert split.reach() == 2 and split.fades()
    assert reach_sentence(split) == "reach: 2 lags (from lag 2 on, every part is below 0.001 of lag 0's)"
    assert reach_sentence(split, threshold=1e-7) == ("reach: 4 lags or more: every lag measured is above 1e-07 of "
                                                     "lag 0's (the sequence is too short to see it fade)")


def test_the_command_on_trained_weights_writes_table_and_picture(trained_weights, tmp_path):
    table, picture = tmp_path / "reach.csv", tmp_path / "reach.png"
    result = run_cli("reach", TASK, "--weights", trained_weights, "--problems", "16", "--csv", table, "--plot", picture)
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert out[0] == f"rnn network of {TASK}, weights from {trained_weights}"
    assert out[1].startswith("synapse_h's gradient on 16 random 8-bit problems")
    assert out[-2:] == [f"table written to {table}", f"plot written to {picture}"]
    rows = list(csv.reader(io.StringIO(table.read_text())))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 9
    printed = [line.split() for line in out[4:12]]
    assert [float(r[1]) for r in rows[1:]] == pytest.approx([float(p[1]) for p in printed], rel=0.01)
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_command_without_weights_measures_the_start():
    result = run_cli("reach", TASK, "--example", "9+60", "--split", "synapse_0")
    assert result.returncode == 0, result.stderr
    assert "the weights training starts from (seed 0), not trained" in result.stdout.splitlines()[0]
    assert result.stdout.splitlines()[1].startswith("synapse_0's gradient on the example 9 + 60 = 69")


@pytest.mark.parametrize("args, says", [
    (["--split", "synapse_9"], "--split synapse_9: the rnn network has no such weight; its weights: synapse_0"),
    (["--problems", "0"], "--problems: expected an integer from 1 to 4,096, got 0"),
    (["--example", "9+60", "--problems", "5"], "--example and --problems: give one"),
    (["--set", "task.bits=100"], "100 steps: the gradient is split by a reverse pass from every step"),
    (["--plot", "reach.gif"], "--plot reach.gif: unknown format '.gif'"),
    (["--example", "9*60"], "--example 9*60:"),
])
def test_mistakes_are_one_line(args, says):
    result = run_cli("reach", TASK, *args)
    assert result.returncode == 2, result.stdout
    assert says in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.parametrize("command", ["reach", "doctor", "compare"])
def test_the_commands_have_help_with_examples(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0 and f"usage: graphnet {command}" in result.stdout
    assert "examples:" in result.stdout and f"  graphnet {command} tasks/" in result.stdout
