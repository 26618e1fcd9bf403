"""graphnet doctor names the cause: the shipped tasks learn; a learning rate far too high and weights started at
0 are found out, each by the measures that show it."""

import numpy as np
import pytest

from conftest import ROOT, TASK, run_cli
from graphnet import load_task, train
from graphnet.app.doctor import Measures, Trial, diagnose, examine, findings, post_task, reference
from graphnet.app.training import evaluate

FAST = ROOT / "tasks" / "binary_addition_fast.toml"  # the post's task in 500 batched iterations: broken cheaply
SHIPPED = ["binary_addition_lstm", "binary_addition_gru", "binary_subtraction", "running_parity", "delayed_echo"]


def trained(path, *overrides: str):
    task = load_task(path, [*overrides, "training.log_every=0"])
    return task, train(task).params


def test_the_reference_is_the_posts_network_and_run():
    shipped = load_task(TASK)
    assert post_task().problem == shipped.problem and post_task().network == shipped.network
    assert post_task().training == load_task(TASK, ["training.log_every=0"]).training


def test_the_posts_trained_network_learns(post_run):
    report = diagnose(load_task(TASK), post_run.params)
    assert report.cause == "learns" and len(report.findings) == 1
    assert report.yours == report.reference  # the reference is that very run
    assert report.reference.accuracy == 1.0 and report.reference.distinct == 16
    assert report.lines()[-1] == "likely cause: none: it gets every problem right, as the post's network does. " \
                                 "Nothing to fix."


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_task_learns(name):
    task, params = trained(ROOT / "tasks" / f"{name}.toml")
    assert diagnose(task, params).cause == "learns"


def test_a_learning_rate_far_too_high_is_named():
    task, params = trained(FAST, "training.learning_rate=100")
    report = diagnose(task, params)
    assert report.cause == "learning_rate"
    mine, start = report.yours, report.start
    assert mine.accuracy == 0 and mine.pinned > 0.1 and mine.gradient < 1e-3 * report.reference.gradient
    assert start.trial.early > 1.2 * start.loss  # from the first weights, the loss goes up at once
    sentence = report.findings[0].sentence
    assert "learning rate is far too high (training.learning_rate = 100)" in sentence and "Lower" in sentence
    assert " ".join(report.lines()).count("training.learning_rate = 100") == 1


def test_weights_started_at_zero_are_named():
    task, params = trained(FAST, "network.init=zeros")
    report = diagnose(task, params)
    assert report.cause == "symmetry"
    assert report.yours.distinct == 1 and report.start.distinct == 1 and report.yours.units == 16
    assert "network.init = 'zeros'" in report.findings[0].sentence
    assert all(np.all(w == 0) for w in task.build_network().init_parameters(np.random.RandomState(0)).values())


def test_a_run_stopped_too_soon_is_still_learning():
    task, params = trained(FAST, "training.iterations=100")
    report = diagnose(task, params)
    assert report.cause == "unfinished" and report.yours.trial.change < -0.5
    assert "training.iterations = 100 now" in report.findings[0].sentence


def test_a_trial_that_diverges_names_the_learning_rate():
    """From weights that overflow at once, training gives a NaN: the diagnosis says so without a traceback."""
    task = load_task(FAST, ["training.log_every=0"])
    params = {k: np.full_like(w, 1e308 if k == "synapse_0" else -1e308) for k, w in
              task.build_network().init_parameters(np.random.RandomState(0)).items()}
    measured = examine(task, params, problems=32, probe_problems=0, trial=5)
    assert measured.trial.diverged == 0 and "NaN" in measured.trial.words()
    start = examine(task, task.build_network().init_parameters(np.random.RandomState(0)), problems=32,
                    probe_problems=0, trial=5)
    assert findings(task, measured, start, reference())[0].cause == "learning_rate"


def test_saturation_counts_activations_near_their_limits():
    task = load_task(FAST)
    network = task.build_network()
    calm = examine(task, network.init_parameters(np.random.RandomState(0)), problems=32, probe_problems=0, trial=1)
    huge = {k: 50 * w for k, w in network.init_parameters(np.random.RandomState(0)).items()}
    wild = examine(task, huge, problems=32, probe_problems=0, trial=1)
    assert calm.saturated == 0 and wild.saturated > 0.8 and wild.largest == pytest.approx(50, rel=0.01)
    assert calm.units == calm.distinct == 16 and wild.measured == 0 or wild.gradient < calm.gradient


def test_a_report_reads_as_a_table_then_sentences():
    good = Measures(1.0, 0.01, 0.04, 0.0, 16, 16, 8.6, 0.01, 7, 7, 0.73, Trial(500, 0.01, 0.01, 0.01), "carry",
                    1.0, 0.85)
    lines = "\n".join(findings_report(good))
    assert "accuracy (every bit right)" in lines and "7+" in lines and "1.00 (x[t]: 0.85)" in lines


def findings_report(measures: Measures) -> list[str]:
    from graphnet.app.doctor import Report

    return Report(post_task(), measures, measures, measures, (findings(post_task(), measures, measures,
                                                                          measures)[0],)).lines()


def test_the_command_trains_then_names_the_cause(tmp_path):
    result = run_cli("doctor", FAST, "--set", "training.learning_rate=100", "--problems", "64")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"rnn network of {FAST} --set training.learning_rate=100, trained here as the task says")
    assert "the post's, trained" in out and "likely cause: the learning rate is far too high" in out
    assert all(len(line) <= 100 for line in out.splitlines()[out.splitlines().index(""):])


def test_the_command_examines_given_weights(trained_weights):
    result = run_cli("doctor", TASK, "--weights", trained_weights, "--problems", "64")
    assert result.returncode == 0, result.stderr
    assert f"weights from {trained_weights}" in result.stdout.splitlines()[0]
    assert result.stdout.rstrip().endswith("Nothing to fix.")


def test_bad_arguments_are_one_line(trained_weights):
    for args, says in [(["--problems", "3"], "--problems: expected an integer of at least 16"),
                       (["--set", "network.init=ones"], "network.init=ones: expected one of 'uniform', 'zeros'"),
                       (["--weights", ROOT / "tasks" / "binary_addition.toml"], "not an .npz")]:
        result = run_cli("doctor", TASK, *args)
        assert result.returncode == 2 and says in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr


def test_zeros_start_keeps_the_problems_of_a_uniform_start():
    """init = "zeros" draws the post's numbers and drops them, so the run sees the same problems."""
    zeros = load_task(TASK, ["network.init=zeros", "training.iterations=3", "training.log_every=1"])
    uniform = load_task(TASK, ["training.iterations=3", "training.log_every=1"])
    assert [e.describe.split(" =")[0] for e in train(zeros).log] == [e.describe.split(" =")[0] for e in train(uniform).log]
    assert evaluate(zeros, train(zeros).params).fraction < 0.01
