"""One problem, written as a user writes it, run through the network: what render and animate both draw."""

import numpy as np
import pytest

from graphnet import load_task
from graphnet.app.example import read_example, run_example
from graphnet.errors import UsageError
from conftest import ROOT, TASK


def test_the_run_is_the_networks_own_on_that_problem(post_run):
    task = load_task(TASK)
    assert len(run_example(task, post_run.params, "9+60").problem.x) == 7  # as few steps as it needs
    example = run_example(task, post_run.params, "9+60", 8)
    assert len(example.problem.x) == 8 and example.graph is task.build_network().graph(8)
    network = task.build_network()
    stacked = example.graph.compile().forward(network.feeds(example.problem.x, example.problem.y), post_run.params)
    for key in ["h[3]", "y_hat[7]", "loss"]:  # op by op, the same numbers as the stacked program
        np.testing.assert_array_equal(example.run.value(key), stacked.value(key))
    assert example.says() == "the network says 9 + 60 = 69" and example.answer() == "9 + 60 = 69"
    assert example.predicted.shape == (8, 1) and [key for key, _ in example.run.reverse()][0] == "loss"


def test_a_wrong_answer_is_said_with_the_right_one():
    task = load_task(TASK)
    untrained = task.build_network().init_parameters(np.random.RandomState(0))
    assert run_example(task, untrained, "5+6", 6).says() == "the network says 5 + 6 = 1, the answer is 5 + 6 = 11"


def test_an_example_is_read_as_its_task_writes_it_or_refused_in_one_line():
    assert read_example(load_task(ROOT / "tasks" / "running_parity.toml"), "1011").x.shape == (4, 1, 1)
    with pytest.raises(UsageError, match=r"^--example 9-60: expected A\+B"):
        read_example(load_task(TASK), "9-60")
    with pytest.raises(UsageError, match=r"^--example 9\+60: needs at least 7 steps, got 4"):
        read_example(load_task(TASK), "9+60", 4)
