"""Reliability's cost: the NaN/inf check and the checkpoint hook, as ratios against the same loop without them.

Run from the repository root: ``python -m benchmarks reliability`` (about 30 s).
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from graphnet import load_task
from graphnet.app import training
from graphnet.app.checkpoint import Checkpointer


def best(run: Callable[[], object], rounds: int = 5) -> float:
    """The fastest of ``rounds`` runs: the least disturbed by the other work on the machine."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: Sequence[str] | None = None) -> int:
    task = load_task("tasks/binary_addition.toml", ["training.iterations=3000", "training.log_every=0"])
    real = training.Networks.finite
    training.Networks.finite = lambda self, loss, grads: np.ones(1, dtype=bool)
    try:
        base = best(lambda: training.train(task))
    finally:
        training.Networks.finite = real
    checked = best(lambda: training.train(task))
    hooked = best(lambda: training.train(task, after_update=Checkpointer(None, task)))
    print(f"baseline {base:.3f} s; with NaN check x{checked / base:.3f}; with check + hook x{hooked / base:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
