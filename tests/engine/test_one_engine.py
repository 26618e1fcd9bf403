"""One engine: what trains is the node types' own forward and backward, as a learner reads and edits them.

Each core node type's ``forward`` and ``backward`` is broken in turn (as a learner editing ``nodes.py`` would)
and training must change: at batch 1 (the post), at batch 64 (stacked groups) and on the LSTM. A broken
``backward`` must fail ``gradcheck --task``, which checks the very program training runs.
"""

import numpy as np
import pytest

from graphnet import check_network, get_node, load_task, train
from conftest import ROOT, TASK, run_cli

LSTM = ROOT / "tasks" / "binary_addition_lstm.toml"
RUNS = {  # what is trained, and the node types its graph uses
    "batch 1": (TASK, ["training.batch_size=1"], ["matmul", "add", "sigmoid", "squared_error", "sum"]),
    "batch 64": (TASK, ["training.batch_size=64"], ["matmul", "add", "sigmoid", "squared_error", "sum"]),
    "lstm": (LSTM, [], ["matmul", "add", "bias_add", "sigmoid", "tanh", "mul", "squared_error", "sum"]),
}
SHORT = ["training.iterations=12", "training.log_every=4"]


def broken_forward(original):
    def forward(self, ctx, *inputs):
        return original(self, ctx, *inputs) + 0.25  # the value every op of the type gives is off

    return forward


def broken_backward(original):
    def backward(self, ctx, grad):
        return tuple(None if g is None else 0.5 * g for g in original(self, ctx, grad))  # half the gradients

    return backward


def outcome(path, overrides) -> tuple:
    """What a training run produces: its weights and the losses it logged."""
    result = train(load_task(path, overrides + SHORT))
    return {k: v.copy() for k, v in result.params.items()}, [entry.loss for entry in result.log]


def changed(before: tuple, after: tuple) -> bool:
    (weights, losses), (weights_after, losses_after) = before, after
    return losses != losses_after or any(not np.array_equal(weights[k], weights_after[k]) for k in weights)


CASES = [(run, name, method) for run, (_, _, names) in RUNS.items() for name in names
         for method in ("forward", "backward")]


@pytest.mark.parametrize("run, name, method", CASES, ids=[f"{r}-{n}.{m}" for r, n, m in CASES])
def test_breaking_a_node_types_method_changes_what_trains(run, name, method, monkeypatch):
    path, overrides, _ = RUNS[run]
    before = outcome(path, overrides)
    node_type = type(get_node(name))
    breaker = broken_forward if method == "forward" else broken_backward
    monkeypatch.setattr(node_type, method, breaker(getattr(node_type, method)))
    assert changed(before, outcome(path, overrides)), f"{name}.{method} broken, and training did not change"


@pytest.mark.parametrize("path, name", [(TASK, n) for n in RUNS["batch 1"][2]] + [(LSTM, n) for n in ("tanh", "mul", "bias_add")])
def test_a_broken_backward_fails_the_gradient_check_of_the_network_training_runs(path, name, monkeypatch):
    task = load_task(path)
    network = task.build_network()
    assert all(check.passed for check in check_network(network, task.generator, 4).values())
    node_type = type(get_node(name))
    monkeypatch.setattr(node_type, "backward", broken_backward(node_type.backward))
    assert max(check.score for check in check_network(network, task.generator, 4).values()) > 100


def test_a_learners_edit_of_sigmoid_backward_shows_in_train_and_gradcheck(tmp_path):
    # As a learner would: return zeros from Sigmoid.backward (here from a plugin that edits the class).
    edit = tmp_path / "edit_sigmoid.py"
    edit.write_text("import graphnet.engine.nodes as n\n"
                    "n.Sigmoid.backward = lambda self, ctx, grad: (0 * grad,)\n")
    plain = run_cli("train", TASK, "--set", "training.iterations=600", "--set", "training.log_every=200")
    edited = run_cli("train", TASK, "--plugin", edit, "--set", "training.iterations=600",
                     "--set", "training.log_every=200")
    assert plain.returncode == edited.returncode == 0, edited.stderr
    assert plain.stdout.splitlines()[:5] == edited.stdout.splitlines()[:5]  # iteration 0: before any update
    assert plain.stdout != edited.stdout
    checked = run_cli("gradcheck", "--task", TASK, "--steps", "3", "--plugin", edit)
    assert checked.returncode == 1 and "FAILED" in checked.stdout
