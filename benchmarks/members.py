"""A sweep's seeds trained as one program against the same trials one by one, as whole processes, alternately.

Both are ``graphnet sweep``: by default it trains the seeds of a setting as the members of one program, with
``--separately`` each trial on its own (what every sweep did before). The results are the same (the CSVs are
compared, seconds aside); the wall times are what is measured.

Run from the repository root: ``python -m benchmarks members [--hidden 16] [--seeds 16] [--workers 1]
[--rounds 3]``.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parent.parent


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks members", description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default=str(ROOT / "tasks" / "binary_addition.toml"))
    parser.add_argument("--hidden", default="16", help="the values of network.hidden to sweep (default: 16)")
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:  # the two CSVs, compared below, then removed
        folder = Path(scratch)
        base = [sys.executable, "-m", "graphnet", "sweep", args.task, "--set", f"network.hidden={args.hidden}",
                "--seeds", str(args.seeds), "--workers", str(args.workers), "--quiet"]
        runs = {"together": base + ["--csv", str(folder / "together.csv")],
                "one by one": base + ["--separately", "--csv", str(folder / "apart.csv")]}
        times = alternately(runs, args.rounds)
        rows = [rows_but_seconds(folder / name) for name in ("together.csv", "apart.csv")]
    together, apart = (statistics.median(times[name]) for name in runs)
    print(f"network.hidden={args.hidden}, {args.seeds} seeds, {args.workers} worker(s): together {together:.1f} s, "
          f"one by one {apart:.1f} s (medians of {args.rounds}): {apart / together:.1f}x less wall time; "
          f"the same results: {rows[0] == rows[1]}")
    return 0


def alternately(runs: dict[str, list[str]], rounds: int) -> dict[str, list[float]]:
    """Run each command of ``runs`` once a round, in turn, for ``rounds`` rounds; the wall time of each run, by
    name. A line a round says them."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(rounds):
        for name, command in runs.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - start)
        print(f"round {round_ + 1}: " + ", ".join(f"{name} {t[-1]:.1f} s" for name, t in times.items()), flush=True)
    return times


def rows_but_seconds(path: Path) -> list[dict[str, str]]:
    """A sweep CSV's rows without the ``seconds`` column, the one that may differ between the two ways."""
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


if __name__ == "__main__":
    raise SystemExit(main())
