"""Every shipped task trains to 100% exact-match accuracy with `graphnet train`, then `graphnet eval`."""

import pytest

from conftest import ROOT, run_cli

TASKS = ["binary_addition_lstm", "binary_addition_gru", "binary_subtraction", "running_parity", "delayed_echo"]


def test_every_task_file_in_tasks_is_covered():
    shipped = {p.stem for p in (ROOT / "tasks").glob("*.toml")}
    covered = set(TASKS) | {"binary_addition"}  # the post's task: tests/test_cli.py and test_training.py
    assert shipped - {"binary_addition_fast"} <= covered


@pytest.mark.parametrize("name", TASKS)
def test_the_task_trains_to_full_accuracy(name, tmp_path):
    task = ROOT / "tasks" / f"{name}.toml"
    weights = tmp_path / "w.npz"
    trained = run_cli("train", task, "--save", weights, "--quiet")
    assert trained.returncode == 0, trained.stderr
    result = run_cli("eval", task, "--weights", weights)
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("accuracy: 1.0000 (") and " on all " in last, last
