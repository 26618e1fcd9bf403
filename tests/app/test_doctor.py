"""graphnet doctor names the cause: the shipped tasks learn; a learning rate far too high and weights started at
0 are found out, each by the measures that show it."""

import os
import signal

import numpy as np
import pytest

from conftest import ROOT, TASK, run_cli, start_cli, wait_for_line
from graphnet import load_task, train
from graphnet.app.doctor import Measures, Trial, diagnose, examine, findings, post_task, reference
from graphnet.app.stopping import stopped_by
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
    assert calm.distinct == 16 and wild.pinned > 0.3 and wild.gradient < calm.gradient  # saturated: less passes


def test_a_report_reads_as_a_table_then_sentences():
    from graphnet.app.doctor import Report

    good = Measures(1.0, 0.01, 0.04, 0.0, 16, 16, 8.6, 0.01, 7, 7, 0.73, Trial(500, 0.01, 0.01, 0.01), "carry",
                    1.0, 0.85)
    lines = Report(post_task(), good, good, good, tuple(findings(post_task(), good, good, good))).lines()
    assert lines[0].split() == ["yours", "at", "its", "start", "the", "post's,", "trained"]
    assert lines[8].split()[-3:] == ["7+", "7+", "7+"] and lines[11].startswith("carry read from the state")
    assert lines[11].endswith("1.00 (x[t]: 0.85)") and lines[12] == ""
    assert lines[13].startswith("likely cause: none")


def test_the_command_trains_then_names_the_cause(tmp_path):
    result = run_cli("doctor", FAST, "--set", "training.learning_rate=100", "--problems", "64")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"rnn network of {FAST} --set training.learning_rate=100, trained here as the task says")
    iterations = load_task(FAST).training.iterations
    assert result.stderr == f"doctor: training the network as the task says ({iterations:,} iterations), then examining it\n"
    assert "the post's, trained" in out and "likely cause: the learning rate is far too high" in out
    assert all(len(line) <= 100 for line in out.splitlines()[out.splitlines().index(""):])


def test_the_command_examines_given_weights(trained_weights):
    result = run_cli("doctor", TASK, "--weights", trained_weights, "--problems", "64")
    assert result.returncode == 0, result.stderr
    assert f"weights from {trained_weights}" in result.stdout.splitlines()[0]
    assert result.stderr == ""  # nothing trained: nothing to say while it works
    assert result.stdout.rstrip().endswith("Nothing to fix.")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: signal.Signals(s).name)
def test_a_doctor_stopped_while_it_trains_says_so_in_one_line(signum):
    proc = start_cli("doctor", FAST, "--set", "training.iterations=100000000")
    try:
        wait_for_line(proc.stderr, "doctor: training the network")
        os.kill(proc.pid, signum)
        printed, said = proc.communicate(timeout=120)
    finally:  # a doctor that did not stop must not train on after the test
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, said
    assert said == f"graphnet: {stopped_by(signum)} while training the network, before examining it\n"
    assert printed == ""


def test_a_doctor_stopped_while_it_examines_prints_no_half_report(trained_weights):
    # Examining takes seconds: it trains the post's network for the reference column first.
    proc = start_cli("doctor", TASK, "--weights", trained_weights)
    wait_for_line(proc.stdout, f"weights from {trained_weights}")
    proc.send_signal(signal.SIGTERM)
    printed, said = proc.communicate(timeout=120)
    assert proc.returncode == 143, said
    assert said == "graphnet: stopped by SIGTERM while examining the network; no report\n" and printed == ""


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


def measures(**changes) -> Measures:
    """A network's measures, the post's trained one's but for ``changes``."""
    from dataclasses import replace

    good = Measures(accuracy=1.0, loss=0.0144, saturated=0.04, pinned=0.0, distinct=16, units=16, largest=8.6,
                    gradient=0.011, reach=7, measured=7, stretch=0.73, trial=Trial(500, 0.0144, 0.013, 0.0126),
                    fact="carry", fact_from_state=1.0, fact_from_inputs=0.85)
    return replace(good, **changes)


def test_a_gradient_that_vanishes_or_explodes_while_the_state_lacks_the_fact():
    task = load_task(ROOT / "tasks" / "delayed_echo.toml", ["task.delay=8", "task.bits=16"])
    start = measures(accuracy=0.0, loss=3.6, largest=1.0, trial=Trial(500, 3.6, 3.0, 1.0))
    lacking = dict(accuracy=0.05, fact="x[t-7]", fact_from_state=0.74, fact_from_inputs=0.72,
                   trial=Trial(500, 0.8, 0.8, 0.8))
    fading = findings(task, measures(reach=3, measured=15, stretch=0.2, **lacking), start, measures())
    assert [f.cause for f in fading] == ["vanishing", "plateau"]
    assert "it reaches 3 lags back" in fading[0].sentence and "the task's fact, x[t-7]" in fading[0].sentence
    growing = findings(task, measures(reach=15, measured=15, stretch=1.5, **lacking), start, measures())
    assert [f.cause for f in growing] == ["exploding", "plateau"] and "x1.50 a step" in growing[0].sentence
    holding = findings(task, measures(reach=3, measured=15, stretch=0.2, **{**lacking, "fact_from_state": 0.9}),
                       start, measures())
    assert [f.cause for f in holding] == ["plateau"]  # the fact is in the state: the gradient reached far enough


def test_a_start_whose_gradient_explodes_is_named_with_the_learning_rate():
    task = load_task(ROOT / "tasks" / "delayed_echo.toml", ["network.activation=tanh"])
    saturated = measures(accuracy=0.0, loss=8.2, saturated=0.9, largest=107.0, gradient=1.7, reach=3, measured=15,
                         stretch=0.0, trial=Trial(500, 8.2, 8.2, 8.1))
    start = measures(accuracy=0.0, loss=14.0, saturated=0.02, largest=1.0, stretch=1.58, trial=Trial(500, 14.0, 20.8, 5))
    found = findings(task, saturated, start, measures())
    assert found[0].cause == "learning_rate"
    assert "90% of the hidden activations are within 0.001 of their limits" in found[0].sentence
    assert "the weights grew to 107" in found[0].sentence and "grows x1.58 a step" in found[0].sentence
    assert "the gradient is" not in found[0].sentence  # it is not small: saturation, not silence, is the story
