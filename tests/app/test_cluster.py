"""Sweeps on dask.distributed: a real `dask scheduler` and two `dask worker` processes on loopback, started as a
user starts them, and `graphnet sweep --scheduler` run against them (and against `local`, a LocalCluster).

Every process a test starts is stopped by its id when the test (or the module's cluster) is done, whether it
passed or not. The trials that must be running when a test stops or breaks something wait at a gate
(tests/gated.py), so nothing here depends on timing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gated
import pytest
from conftest import ROOT, wait_for_line, wait_until_gone

pytest.importorskip("distributed", reason="the distributed extra (the test extra installs it)")
from distributed import Client  # noqa: E402

TASK = str(ROOT / "tasks" / "binary_addition.toml")
DASK = str(Path(sys.executable).with_name("dask"))  # the command a user runs, of this Python's environment
WAIT = 120  # seconds any wait for an event gives up after (a failure, not a measurement)


def start(command: list[str], log: Path, **popen) -> subprocess.Popen:
    """A process of the test's, in a session of its own (so its children can be found and stopped too)."""
    return subprocess.Popen(["nice", "-n", "19", *command], stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True, **popen)


def stop(procs: list[subprocess.Popen]) -> None:
    """Stop processes the test started, by their ids: SIGTERM (a worker closes itself and the process its nanny
    started), then SIGKILL for what is left of each one's session; and wait until none is left."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        family = [proc.pid, *_descendants(proc.pid)]
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        left = wait_until_gone(family, timeout=10)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.poll()
        assert not wait_until_gone(family), f"{proc.args} left processes behind"


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``, whichever of its threads started it (a LocalCluster starts its workers from
    a thread of its own)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            started = [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
        for child in started:
            found += [child, *_descendants(child)]
    return found


def until(what, message: str):
    """Wait for ``what()`` to be true (its value), for at most WAIT seconds: an event, not a duration."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"waited {WAIT} s in vain for {message}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two workers (each with its nanny, one thread) on loopback: its address."""
    folder = tmp_path_factory.mktemp("cluster")
    procs = []
    try:
        procs.append(start([DASK, "scheduler", "--host", "127.0.0.1",
                            "--port", "0", "--no-dashboard", "--scheduler-file", str(folder / "scheduler.json")],
                           folder / "scheduler.log"))
        address = until(lambda: _address(folder / "scheduler.json"), "the scheduler's address")
        for name in ("one", "two"):
            procs.append(start([DASK, "worker", address, "--nthreads", "1",
                                "--no-dashboard", "--name", name, "--local-directory", str(folder / name)],
                               folder / f"{name}.log"))
        with Client(address) as client:
            client.wait_for_workers(2, timeout=WAIT)
        yield address
    finally:
        stop(procs[1:])
        stop(procs[:1])


def _address(path: Path) -> str | None:
    try:
        return json.loads(path.read_text())["address"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return None


@pytest.fixture
def idle(cluster):
    """The cluster's address; after the test, the cluster is as the test found it: no task of a sweep's left on
    the scheduler, no worker busy, and two workers."""
    yield cluster
    with Client(cluster) as client:
        until(lambda: not client.run_on_scheduler(_tasks) and not any(client.run(_busy).values())
              and len(client.nthreads()) == 2, "the cluster to be idle, with its two workers")


# Run on the scheduler and on each worker: lambdas, which travel by value (this module is not on the workers).
_tasks = lambda dask_scheduler: list(dask_scheduler.tasks)  # noqa: E731
_busy = lambda dask_worker: len(dask_worker.state.executing)  # noqa: E731


def sweep(folder: Path, *how: str, csv: str = "s.csv", iterations: int = 200, **popen) -> subprocess.Popen:
    """The gated sweep (tests/gated.py), its plugin named on the command line, started in ``folder``."""
    args = [f"training.iterations={iterations}" if a == "training.iterations=200" else a for a in gated.SWEEP]
    return subprocess.Popen([sys.executable, "-m", "graphnet", "--plugin", "gated_nodes.py", "sweep", TASK, *args,
                             "--csv", csv, *how], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=folder, start_new_session=True, **popen)


def finished(proc: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, out, err


@pytest.fixture(scope="module")
def expected(tmp_path_factory) -> list[dict]:
    """The gated sweep's rows on today's process pool (two workers), the gate open."""
    folder = tmp_path_factory.mktemp("pool")
    _, gate = gated.gate(folder)
    gate.touch()
    code, _, err = finished(sweep(folder, "--workers", "2"))
    assert code == 0, err
    return gated.rows(folder / "s.csv")


def test_the_same_sweep_gives_the_same_rows_on_the_pool_a_local_cluster_and_a_loopback_one(tmp_path, idle,
                                                                                            expected):
    # The plugin is a file named on the command line: the workers get its text with their jobs.
    _, gate = gated.gate(tmp_path)
    gate.touch()
    for name, where in (("local", "local"), ("loopback", idle)):
        code, out, err = finished(sweep(tmp_path, "--scheduler", where, csv=f"{name}.csv"))
        assert code == 0, err
        assert gated.rows(tmp_path / f"{name}.csv") == expected, where
        assert len(err.splitlines()) == 4 and out.endswith(f"results written to {name}.csv\n"), (out, err)


def test_a_sweep_stopped_on_the_cluster_keeps_its_rows_cancels_the_rest_and_resumes_there(tmp_path, idle, expected):
    _, gate = gated.gate(tmp_path)
    proc = sweep(tmp_path, "--scheduler", idle)
    try:
        wait_for_line(proc.stderr, "sweep: 2/4")
        until(lambda: gated.waiting(gate), "a gated trial to start on a worker")
        os.kill(proc.pid, signal.SIGINT)
    finally:
        code, out, err = finished(proc)
    assert code == 130, err  # (the gate opens below, after the scheduler is seen to have let the job go)
    assert err.splitlines()[-1] == "graphnet: interrupted after 2 of 4 trials; their results are written to s.csv"
    assert gated.rows(tmp_path / "s.csv") == expected[:2]
    with Client(idle) as client:  # nothing of the sweep's left: the gated job is let go
        until(lambda: not client.run_on_scheduler(_tasks), "the scheduler to forget the sweep's jobs")
    gate.touch()
    code, out, err = finished(sweep(tmp_path, "--scheduler", idle, "--resume"))
    assert code == 0, err
    assert gated.rows(tmp_path / "s.csv") == expected


def test_the_running_trials_of_a_stopped_sweep_stop_at_their_next_check(tmp_path, idle):
    # Trials that would train for ever: one group at the gate, one training. Stopped, the sweep cancels both; dask
    # cannot stop a running job, so each stops itself at its next check (the idle fixture waits for that).
    _, gate = gated.gate(tmp_path)
    proc = sweep(tmp_path, "--scheduler", idle, iterations=100_000_000)
    try:
        until(lambda: gated.waiting(gate), "a gated trial to start on a worker")
        with Client(idle) as client:
            until(lambda: sum(client.run(_busy).values()) == 2, "both workers to be training")
        os.kill(proc.pid, signal.SIGTERM)
    finally:
        code, _, err = finished(proc)
        gate.touch()  # the gated job goes on to its first check, where it stops
    assert code == 143, err
    assert err == "graphnet: stopped by SIGTERM after 0 of 4 trials; their results are written to s.csv\n"


def test_a_worker_killed_mid_trial_has_its_trials_run_again_elsewhere(tmp_path, idle, expected):
    _, gate = gated.gate(tmp_path)
    proc = sweep(tmp_path, "--scheduler", idle)
    try:
        first = until(lambda: gated.waiting(gate), "a gated trial to start on a worker")[0]
        os.kill(first, signal.SIGKILL)  # the worker process, as the kernel's out-of-memory killer would
        until(lambda: set(gated.waiting(gate)) - {first}, "the trial to start again on another worker")
        gate.touch()
    finally:
        code, _, err = finished(proc)
    assert code == 0, err
    assert gated.rows(tmp_path / "s.csv") == expected


@pytest.mark.parametrize("signum, to", [(signal.SIGINT, "the sweep"), (signal.SIGINT, "the process group"),
                                        (signal.SIGHUP, "the process group")],
                         ids=["SIGINT to the sweep", "Ctrl-C at a terminal", "the terminal closed"])
def test_a_local_cluster_stopped_is_closed_with_every_process_it_started(tmp_path, expected, signum, to):
    # A terminal's Ctrl-C, or its closing, reaches the cluster's workers too: they leave it to the sweep, which
    # closes them, in one line and no worker's traceback.
    _, gate = gated.gate(tmp_path)
    proc = sweep(tmp_path, "--scheduler", "local", "--workers", "2")
    try:
        wait_for_line(proc.stderr, "sweep: 2/4")
        started = _descendants(proc.pid)
        if to == "the sweep":
            os.kill(proc.pid, signum)
        else:
            os.killpg(proc.pid, signum)
    finally:
        code, _, err = finished(proc)
    assert len(started) >= 2  # its two workers (and multiprocessing's resource tracker)
    assert code == 128 + signum, err
    stopped = "interrupted" if signum == signal.SIGINT else "stopped by SIGHUP"
    assert err == f"graphnet: {stopped} after 2 of 4 trials; their results are written to s.csv\n"
    assert gated.rows(tmp_path / "s.csv") == expected[:2]
    assert not wait_until_gone(started), "a process of the LocalCluster outlived the sweep"


def test_a_trial_whose_workers_keep_dying_ends_the_sweep_in_one_line_with_the_finished_rows_written(tmp_path,
                                                                                                   expected):
    # dask runs a dead worker's job again elsewhere, up to distributed.scheduler.allowed-failures times; with
    # none allowed, the first death is the job's last.
    _, gate = gated.gate(tmp_path)
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    proc = sweep(tmp_path, "--scheduler", "local", "--workers", "2", env=env)
    try:
        wait_for_line(proc.stderr, "sweep: 2/4")
        (first,) = until(lambda: gated.waiting(gate), "a gated trial to start on a worker")
        os.kill(first, signal.SIGKILL)
    finally:
        code, _, err = finished(proc)
    assert code == 2, err
    assert err.startswith("graphnet: error: the workers that ran network.hidden=3 network.activation=gated_sigmoid "
                          "training.iterations=200 seed 0, network.hidden=3 ") and err.count("\n") == 1, err
    assert err.endswith("the trials that finished are written, --resume runs the others\n"), err
    assert gated.rows(tmp_path / "s.csv") == expected[:2]


def test_a_scheduler_that_cannot_be_reached_is_one_line_before_any_work(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gated.gate(tmp_path)
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}
    code, out, err = finished(sweep(tmp_path, "--scheduler", f"tcp://127.0.0.1:{port}", env=env))
    assert code == 2 and out == ""
    assert err.startswith(f"graphnet: error: --scheduler tcp://127.0.0.1:{port}: cannot reach it (") and \
        err.endswith("is `dask scheduler` running there, and the port open?\n") and err.count("\n") == 1, err
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize("worker, says", [
    ("import sys; sys.modules['graphnet'] = None", "has no graphnet (No module named 'graphnet"),
    ("import importlib.metadata as m; v = m.version; m.version = lambda n: '0.0.1' if n == 'graphnet-rnn' else v(n)",
     "runs graphnet 0.0.1 (code "),
], ids=["without graphnet", "another version"])
def test_a_worker_that_cannot_run_graphnets_trials_is_named_in_one_line(tmp_path, idle, worker, says):
    # A third worker, without graphnet or with another version, joins the cluster for this test only.
    gated.gate(tmp_path)
    odd = start([sys.executable, "-c", f"{worker}; from distributed.cli.dask_worker import main; main()", idle,
                 "--no-nanny", "--nthreads", "1", "--no-dashboard", "--name", "odd"], tmp_path / "odd.log")
    try:
        with Client(idle) as client:
            client.wait_for_workers(3, timeout=WAIT)
            (address,) = [a for a, info in client.scheduler_info()["workers"].items() if info["name"] == "odd"]
        code, out, err = finished(sweep(tmp_path, "--scheduler", idle))
    finally:
        stop([odd])
    assert code == 2 and out == ""
    assert err.startswith(f"graphnet: error: --scheduler: worker {address} {says}") and err.count("\n") == 1, err
    assert not (tmp_path / "s.csv").exists()
    with Client(idle) as client:
        until(lambda: len(client.nthreads()) == 2, "the odd worker to leave")
