"""A 64-trial sweep on today's process pool against the same sweep on a dask.distributed cluster on loopback.

The cluster is what a user starts: ``dask scheduler`` and ``dask worker`` processes (as many workers as the pool
has processes, one thread each), here on 127.0.0.1; the sweep is ``graphnet sweep ... --scheduler tcp://...``.
Both run alternately, each as a whole process; the cluster is started once, before the rounds, and its start is
timed apart. The results are the same (the CSVs are compared, seconds aside); the wall times are what is
measured. Every process started here is stopped by its id at the end.

Run from the repository root (needs the ``distributed`` extra): ``python -m benchmarks cluster [--workers 2]
[--rounds 3] [--iterations 3000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from .members import alternately, rows_but_seconds

ROOT = Path(__file__).resolve().parent.parent
# 4 hidden sizes x 4 learning rates x 4 seeds: 64 trials, in groups of a hidden size (the learning rates and seeds
# of one size train as one program).
GRID = ["--set", "network.hidden=4,8,16,32", "--set", "training.learning_rate=0.1,0.25,0.5,1", "--seeds", "4"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default=str(ROOT / "tasks" / "binary_addition.toml"))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="pool processes, and cluster "
                        "workers (default: one per core)")
    parser.add_argument("--iterations", type=int, default=3000, help="training.iterations of each trial")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    dask = str(Path(sys.executable).with_name("dask"))
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        procs: list[subprocess.Popen] = []
        try:
            start = time.perf_counter()
            procs.append(_start([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                 "--scheduler-file", str(folder / "scheduler.json")], folder / "scheduler.log"))
            address = _address(folder / "scheduler.json")
            for i in range(args.workers):
                procs.append(_start([dask, "worker", address, "--nthreads", "1", "--no-dashboard",
                                     "--local-directory", str(folder / f"worker{i}")], folder / f"worker{i}.log"))
            _wait_for_workers(address, args.workers)
            print(f"loopback cluster: a scheduler and {args.workers} workers started in "
                  f"{time.perf_counter() - start:.1f} s", flush=True)
            base = [sys.executable, "-m", "graphnet", "sweep", args.task, *GRID, "--set",
                    f"training.iterations={args.iterations}", "--quiet"]
            runs = {"process pool": base + ["--workers", str(args.workers), "--csv", str(folder / "pool.csv")],
                    "loopback cluster": base + ["--scheduler", address, "--csv", str(folder / "cluster.csv")]}
            times = alternately(runs, args.rounds)
            rows = [rows_but_seconds(folder / name) for name in ("pool.csv", "cluster.csv")]
        finally:
            _stop(procs)
    pool, cluster = (statistics.median(times[name]) for name in runs)
    print(f"64 trials ({args.iterations:,} iterations at most), {args.workers} processes: process pool {pool:.1f} s, "
          f"loopback cluster {cluster:.1f} s (medians of {args.rounds}): the cluster takes {cluster / pool:.2f}x the "
          f"pool's wall time; the same results: {rows[0] == rows[1]}")
    return 0


def _start(command: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _address(path: Path, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return json.loads(path.read_text())["address"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            time.sleep(0.1)
    raise SystemExit(f"the scheduler wrote no address to {path} in {timeout:.0f} s")


def _wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address) as client:
        client.wait_for_workers(count, timeout=120)


def _stop(procs: list[subprocess.Popen]) -> None:
    """Stop the workers, then the scheduler, by their ids (SIGTERM; SIGKILL to a session that outlives it)."""
    for proc in reversed(procs):
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


if __name__ == "__main__":
    raise SystemExit(main())
