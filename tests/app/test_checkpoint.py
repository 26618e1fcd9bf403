"""Checkpoints: resuming changes nothing, no kill leaves an unloadable file, Ctrl-C saves, NaN stops, same bytes."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT, TASK, diverging_checkpoint, run_cli

from graphnet import load_task
from graphnet.app.checkpoint import Checkpointer, load_checkpoint, save_checkpoint
from graphnet.errors import DivergedError
from graphnet import load_weights, train

RUN = ["training.iterations=60", "training.log_every=0", "training.batch_size=3"]


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def task():
    return load_task(TASK, RUN)


@pytest.fixture(scope="module")
def uninterrupted(task):
    return train(task)


@pytest.mark.parametrize("stop_at", [0, 1, 17, 59, 60])
def test_a_run_resumed_at_any_point_ends_bit_identical(task, uninterrupted, tmp_path, stop_at):
    first = train(task, after_update=lambda done, params, random_state: done == stop_at) if stop_at else None
    path = tmp_path / "run.npz"
    if first is None:  # a checkpoint of the untouched start: weights drawn, no example yet
        rng = np.random.RandomState(task.training.seed)
        save_checkpoint(path, task, task.build_network().init_parameters(rng), 0, rng.get_state())
    else:
        assert first.iterations == stop_at
        save_checkpoint(path, task, first.params, first.iterations, first.rng_state)
    state = load_checkpoint(path, task)
    resumed = train(task, params=state.params, start=state.iteration, rng_state=state.rng_state)
    assert resumed.iterations == 60
    assert _same(resumed.params, uninterrupted.params)


def test_resuming_keeps_logging_on_the_same_iterations(tmp_path):
    task = load_task(TASK, ["training.iterations=40", "training.log_every=10"])
    whole = train(task)
    first = train(task, after_update=lambda done, params, random_state: done == 15)
    rest = train(task, params=first.params, start=first.iterations, rng_state=first.rng_state)
    assert [e.iteration for e in first.log + rest.log] == [0, 10, 20, 30]
    assert [e.lines() for e in first.log + rest.log] == [e.lines() for e in whole.log]


def test_the_cli_resumes_to_the_same_weights_as_one_run(tmp_path):
    n = "training.iterations=300"
    whole = run_cli("train", TASK, "--set", n, "--quiet", "--save", tmp_path / "whole.npz")
    part = run_cli("train", TASK, "--set", "training.iterations=120", "--quiet", "--checkpoint", tmp_path / "c.npz")
    rest = run_cli("train", TASK, "--set", n, "--quiet", "--resume", tmp_path / "c.npz", "--save", tmp_path / "r.npz")
    assert whole.returncode == part.returncode == rest.returncode == 0, rest.stderr
    assert _same(load_weights(tmp_path / "whole.npz"), load_weights(tmp_path / "r.npz"))


def test_a_checkpoint_is_a_weights_file_for_eval_and_add(task, uninterrupted, tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, task, uninterrupted.params, 60, uninterrupted.rng_state)
    assert _same(load_weights(path), uninterrupted.params)  # the extra keys are skipped
    assert _same(load_weights(path, task.build_network()), uninterrupted.params)
    assert run_cli("eval", TASK, "--weights", path).stdout.startswith("accuracy: ")
    assert run_cli("add", "3", "4", "--weights", path).returncode == 0
    drawn = run_cli("render", TASK, "-o", tmp_path / "g.dot", "--weights", path, "--example", "3+4")
    assert drawn.returncode == 0 and (tmp_path / "g.dot").exists(), drawn.stderr


def test_checkpoint_every_writes_while_training(task, tmp_path):
    path = tmp_path / "c.npz"
    written = []
    checkpointer = Checkpointer(path, task, every=25)
    train(task, after_update=lambda done, p, rng: checkpointer(done, p, rng) or written.append(
        load_checkpoint(path, task).iteration if path.exists() else None))
    assert sorted(set(written) - {None}) == [25, 50]


def _loadable(path, task) -> int:
    state = load_checkpoint(path, task)
    assert all(np.all(np.isfinite(v)) for v in state.params.values())
    return state.iteration


def test_sigkill_at_random_moments_never_leaves_an_unloadable_checkpoint(tmp_path):
    """Kill a run that checkpoints every iteration at random moments, resume it, kill it again: the
    checkpoint always loads, and each run went on from the last."""
    settings = ["training.iterations=1000000", "training.log_every=0"]
    task = load_task(TASK, settings)
    path = tmp_path / "run.npz"
    moments = random.Random(1234).sample(range(5, 60), 6)
    args = [sys.executable, "-m", "graphnet", "train", str(TASK), "--quiet", "--checkpoint", str(path),
            "--checkpoint-every", "1"] + [a for s in settings for a in ("--set", s)]
    last = -1
    for i, moment in enumerate(moments):
        args_i = args + ["--resume", str(path)] if i else args
        before = path.stat().st_mtime_ns if path.exists() else None
        proc = subprocess.Popen(args_i, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait for this run's first checkpoint: it is writing them now
            if path.exists() and path.stat().st_mtime_ns != before:
                break
            time.sleep(0.005)
        time.sleep(moment / 1000)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
        iteration = _loadable(path, task)
        assert iteration > last  # every run went on from where the one before was killed
        last = iteration
        # A kill mid-write leaves that write's hidden temporary file (nothing can remove it then); the next
        # run's first checkpoint removes it, so at most the last kill's is ever there.
        temporaries = [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
        assert len(temporaries) <= 1 and all(p.startswith(".run.npz.") for p in temporaries)


def test_ctrl_c_writes_a_checkpoint_and_exits_130(tmp_path):
    path = tmp_path / "run.npz"
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphnet", "train", str(TASK), "--quiet", "--checkpoint", str(path),
         "--set", "training.iterations=1000000", "--checkpoint-every", "100"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 30
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "Traceback" not in err and err.count("\n") == 1
    state = load_checkpoint(path, load_task(TASK, ["training.iterations=1000000"]))
    assert f"interrupted after iteration {state.iteration}; checkpoint written to" in err
    assert state.iteration >= 100  # written at the stop, not only at the last every-100 mark
    # and it resumes to the same weights as a run that was never interrupted
    task = load_task(TASK, [f"training.iterations={state.iteration + 7}", "training.log_every=0"])
    resumed = train(task, params=state.params, start=state.iteration, rng_state=state.rng_state)
    assert _same(resumed.params, train(task).params)


def test_nan_stops_training_naming_the_iteration_and_the_node(task):
    params = task.build_network().init_parameters(np.random.RandomState(0))
    params["synapse_h"] = params["synapse_h"].copy()
    params["synapse_h"][3, 5] = np.nan
    with pytest.raises(DivergedError, match=r"at iteration 0: node 'synapse_h' is NaN"):
        train(task, params=params)
    assert DivergedError.exit_code == 3


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the inf planted below, on purpose
def test_divergence_keeps_the_last_good_checkpoint(task, tmp_path):
    path = tmp_path / "c.npz"
    checkpointer = Checkpointer(path, task, every=10)

    def poison(done, params, rng):
        checkpointer(done, params, rng)
        if done == 25:
            params["synapse_0"][0, 0] = np.inf  # the next iteration diverges
        return False

    with pytest.raises(DivergedError, match="at iteration 25"):
        train(task, after_update=poison)
    assert load_checkpoint(path, task).iteration == 20


def test_a_diverging_run_exits_3_in_one_line_and_keeps_the_checkpoint(tmp_path):
    """Resume from finite but enormous weights: x @ synapse_0 overflows to +inf, h @ synapse_h to -inf."""
    path = diverging_checkpoint(tmp_path / "run.npz")
    result = run_cli("train", TASK, "--set", "training.iterations=30", "--quiet", "--resume", path,
                     "--checkpoint", path, "--checkpoint-every", "1")
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr and "Warning" not in result.stderr
    found = re.search(r"training diverged at iteration (1\d): node 'h_synapse_h\[\d+\]' is inf", result.stderr)
    assert found, result.stderr
    # The checkpoint is the last good one: the weights after every iteration before the one that diverged.
    with np.load(path) as npz:
        assert int(npz["checkpoint_iteration"]) == int(found.group(1))
        assert all(np.all(np.isfinite(npz[k])) for k in ("synapse_0", "synapse_h", "synapse_1"))


def test_the_same_settings_give_the_same_bytes(tmp_path):
    outputs = []
    for name in ("a", "b"):
        result = run_cli("train", TASK, "--set", "training.iterations=200", "--set", "training.log_every=50",
                         "--save", tmp_path / f"{name}.npz", "--checkpoint", tmp_path / f"{name}.ck.npz")
        assert result.returncode == 0
        outputs.append(result.stdout.split("trained")[0])  # the log; the last line has the time
    assert outputs[0] == outputs[1]
    for suffix in (".npz", ".ck.npz"):
        assert (tmp_path / f"a{suffix}").read_bytes() == (tmp_path / f"b{suffix}").read_bytes()
