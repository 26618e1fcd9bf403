"""``graphnet train`` against a plain numpy script doing the same updates, as whole processes, timed alternately.

Everything a user waits for is counted: starting Python, imports, reading the task, building and compiling the
graph, training and the final accuracy. The plain script (``benchmarks/plain_numpy_train.py``) trains the same
network the same way to the same numbers (about 1e-16 apart) and prints the same accuracy.

Run from the repository root: ``python -m benchmarks whole-process [--batch 64] [--iterations 10000]
[--rounds 5]``. It prints each round and the ratio of median wall times (above 1: graphnet is faster).
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parent.parent


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks whole-process", description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    graphnet = [sys.executable, "-m", "graphnet", "train", str(ROOT / "tasks" / "binary_addition.toml"), "--quiet",
                "--set", f"training.batch_size={args.batch}", "--set", f"training.iterations={args.iterations}"]
    plain = [sys.executable, str(ROOT / "benchmarks" / "plain_numpy_train.py"), str(args.iterations), str(args.batch)]
    times: dict[str, list[float]] = {"graphnet train": [], "plain numpy": []}
    for round_ in range(args.rounds):
        times["graphnet train"].append(wall(graphnet))
        times["plain numpy"].append(wall(plain))
        print(f"round {round_ + 1}: " + ", ".join(f"{name} {t[-1]:.2f} s" for name, t in times.items()))
    ours, theirs = (statistics.median(times[k]) for k in ("graphnet train", "plain numpy"))
    print(f"batch {args.batch}, {args.iterations} iterations: graphnet train {ours:.2f} s, plain numpy {theirs:.2f} s "
          f"(medians of {args.rounds}): graphnet at {theirs / ours:.2f}x the plain script's speed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
