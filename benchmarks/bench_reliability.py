"""Overhead of the NaN/inf check and the checkpoint hook, as a ratio against the same loop without them."""
# Run: python benchmarks/bench_reliability.py   (from the repository root; about 30 s)
import time

from graphnet import load_task
from graphnet import training as tr
from graphnet.checkpoint import Checkpointer

task = load_task("tasks/binary_addition.toml", ["training.iterations=3000", "training.log_every=0"])
real = tr._finite


def best(fn, n=5):
    """The fastest of n runs: the least disturbed by the other work on the machine."""
    times = []
    for _ in range(n):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return min(times)


tr._finite = lambda loss, grads: True
base = best(lambda: tr.train(task))
tr._finite = real
checked = best(lambda: tr.train(task))
hooked = best(lambda: tr.train(task, after_step=Checkpointer(None, task)))
print(f"baseline {base:.3f} s; with NaN check x{checked / base:.3f}; with check + hook x{hooked / base:.3f}")
