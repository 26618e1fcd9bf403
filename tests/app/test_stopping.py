"""Stopping a run: Ctrl-C, SIGTERM and SIGHUP, sent to real processes, are handled alike: what the run has is
written, child processes end, one line, exit 128 + the signal.

Every test waits for a line the process prints once it is at work before it signals it: no guess of time.
"""

from __future__ import annotations

import csv
import fcntl
import os
import re
import select
import signal
import subprocess
import sys
import termios
import time

import numpy as np
import pytest
from conftest import ROOT, TASK, children, start_cli, wait_for_line, wait_until_gone

from graphnet import load_task, train
from graphnet.app.checkpoint import load_checkpoint
from graphnet.app.stopping import Stopped, stopped_by, stopping

LONG = ["--set", "training.iterations=1000000", "--set", "training.log_every=1000000"]  # one log entry, at 0
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_stopped_run_writes_its_checkpoint_and_curve_and_exits_128_plus_the_signal(tmp_path, signum):
    checkpoint, curve = tmp_path / "run.npz", tmp_path / "curve.csv"
    proc = start_cli("train", TASK, *LONG, "--checkpoint", checkpoint, "--curve", curve, "--curve-every", "10")
    wait_for_line(proc.stdout, "------------")  # the log of iteration 0: it is training
    os.kill(proc.pid, signum)  # the process alone, as kill, timeout, systemd or a closed terminal sends it
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    found = re.fullmatch(rf"graphnet: {stopped_by(signum)} after iteration (\d+); checkpoint written to "
                         rf"{re.escape(str(checkpoint))}; curve written to {re.escape(str(curve))}\n", err)
    assert found, err
    stopped_at = int(found.group(1))
    assert load_checkpoint(checkpoint, load_task(TASK, ["training.iterations=1000000"])).iteration == stopped_at
    rows = list(csv.DictReader(curve.open()))
    assert int(rows[-1]["iteration"]) == stopped_at  # the curve's last row is the iteration the run stopped at


def test_a_resumed_run_says_how_many_iterations_it_trained_and_where_it_resumed(tmp_path):
    checkpoint = tmp_path / "run.npz"
    proc = start_cli("train", TASK, *LONG, "--checkpoint", checkpoint)
    wait_for_line(proc.stdout, "------------")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    stopped_at = int(re.search(r"after iteration (\d+);", err).group(1))
    total = stopped_at + 300
    resumed = subprocess.run([sys.executable, "-m", "graphnet", "train", TASK, "--set", f"training.iterations={total}",
                              "--resume", checkpoint, "--quiet"], capture_output=True, text=True, cwd=ROOT)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith(f"trained 300 iterations (resumed at {stopped_at}) in "), resumed.stdout


def test_nohup_keeps_a_run_going_when_its_terminal_hangs_up(tmp_path):
    # Started as nohup starts it (SIGHUP ignored), the run ignores SIGHUP still, and a SIGTERM after it stops it:
    # had SIGHUP been answered, it would have been first (pending signals are taken lowest number first).
    proc = start_cli("train", TASK, *LONG, "--checkpoint", tmp_path / "run.npz",
                     preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    wait_for_line(proc.stdout, "------------")
    proc.send_signal(signal.SIGHUP)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and err.startswith("graphnet: stopped by SIGTERM after iteration"), err


def test_closing_the_terminal_stops_the_run_and_keeps_its_checkpoint(tmp_path):
    """The run on a pseudo-terminal that is its controlling terminal; closing the terminal's side sends SIGHUP,
    and every write to the terminal fails from then on: the checkpoint is written all the same."""
    checkpoint = tmp_path / "run.npz"
    leader, follower = os.openpty()

    def controlled_by_the_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([sys.executable, "-m", "graphnet", "train", str(TASK), "--set", "training.iterations=1000000",
                             "--set", "training.log_every=200", "--checkpoint", str(checkpoint)],
                            stdin=follower, stdout=follower, stderr=follower, cwd=ROOT, close_fds=True,
                            preexec_fn=controlled_by_the_terminal)
    os.close(follower)
    shown = b""
    while b"------------" not in shown:  # the first log entry on the terminal: it is training
        ready, _, _ = select.select([leader], [], [], 120)
        assert ready, shown
        shown += os.read(leader, 65536)
    os.close(leader)  # the terminal goes away
    assert proc.wait(timeout=120) == 128 + signal.SIGHUP
    state = load_checkpoint(checkpoint, load_task(TASK, ["training.iterations=1000000"]))
    assert state.iteration >= 1


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_stopped_animation_ends_its_dot_program_and_leaves_the_file_as_it_was(trained_weights, tmp_path, signum):
    # With the dot program (pygraphviz made unimportable), each frame is laid out by a child process: the signal
    # is sent once one runs.
    output = tmp_path / "bptt.gif"
    output.write_bytes(b"an earlier animation")
    code = ("import sys; sys.modules['pygraphviz'] = None; from graphnet._start import main; "
            "sys.exit(main(sys.argv[1:]))")
    proc = subprocess.Popen([sys.executable, "-c", code, "animate", str(TASK), "--weights", str(trained_weights),
                             "--example", "9+60", "--steps", "16", "-o", str(output)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    drawing = []
    while not drawing and proc.poll() is None:  # a child process: dot, laying out the first of 66 frames
        drawing = children(proc.pid)
        time.sleep(0.002)
    assert drawing, proc.communicate()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum
    assert err == f"graphnet: {stopped_by(signum)} while drawing the frames; nothing is written to {output}\n"
    assert output.read_bytes() == b"an earlier animation" and [p.name for p in tmp_path.iterdir()] == ["bptt.gif"]
    assert not wait_until_gone(drawing), "dot outlived the command"


def test_within_stopping_each_signal_raises_stopped_where_the_program_is():
    for signum in SIGNALS:
        with pytest.raises(Stopped) as stop, stopping():
            os.kill(os.getpid(), signum)
        assert stop.value.signum == signum and stop.value.exit_code == 128 + signum
        assert isinstance(stop.value, KeyboardInterrupt)  # what cleans up after Ctrl-C cleans up after it too
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handlers before it are back


def test_a_stopped_run_resumes_to_the_weights_of_a_run_never_stopped(tmp_path):
    checkpoint = tmp_path / "run.npz"
    proc = start_cli("train", TASK, *LONG, "--checkpoint", checkpoint)
    wait_for_line(proc.stdout, "------------")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    state = load_checkpoint(checkpoint, load_task(TASK, ["training.iterations=1000000"]))
    task = load_task(TASK, [f"training.iterations={state.iteration + 7}", "training.log_every=0"])
    resumed = train(task, params=state.params, start=state.iteration, rng_state=state.rng_state)
    straight = train(task)
    assert all(np.array_equal(resumed.params[k], straight.params[k]) for k in straight.params)


SWALLOWING_MODULE = """
import os, signal
try:
    os.kill(os.getpid(), signal.SIGTERM)  # the signal comes while this module is being imported
    for _ in range(1000):
        pass
except BaseException:  # as an extension module's initialisation (numpy.random's) may lose it
    pass
"""


def test_a_signal_that_comes_during_an_import_is_not_lost(tmp_path, monkeypatch):
    (tmp_path / "swallowing_import.py").write_text(SWALLOWING_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(Stopped) as stop, stopping():
        import swallowing_import  # noqa: F401
        time.sleep(5)  # the run goes on after the import: the signal must still stop it
    assert stop.value.signum == signal.SIGTERM
