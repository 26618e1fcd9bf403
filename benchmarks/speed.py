"""Speed: graphnet against the post's code, its arithmetic alone, a hand-tuned numpy loop and PyTorch, in one process.

Every contestant trains the post's 8-bit addition RNN (hidden 16) by SGD; rounds alternate between them so
the machine's drift hits all alike. It prints examples per second (median and min-max over rounds) and the
ratios to the post's code as published, to the post's arithmetic alone (without its log's bookkeeping), to the
hand-tuned loop and to PyTorch (each the median over rounds of that round's ratio, so
that a slow spell of the machine, which slows the contestants of one round alike, does not move it), the time
to get all 128x128 problems right, and how the cost of build, forward and backward grows with the number of
steps. On a machine shared with other jobs, give the benchmark a core of its own (``--cpu``, with the other
jobs moved off it, e.g. ``taskset -a -p 1 PID`` for each), or its ratios move by 10 % from run to run.

Run ``python -m benchmarks speed`` from the repository root (``--quick``: tiny sizes, one round, to check it
works; not for timing).
Timings are only compared within one run. PyTorch is used when it is installed, else skipped.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from graphnet import evaluate, load_task, train, train_compiled

TASKS = Path(__file__).resolve().parent.parent / "tasks"  # the shipped task files (a source checkout)
BITS, HIDDEN = 8, 16


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def published_loop(iterations: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    """The post's code as published, in Python 3, its printing left out: the lookup table of bits, the bits it
    predicts and its summed error kept every iteration for its log, a copy of each hidden layer. Its weights.

    It is the tests' own port of the post (``tests/post_reference.py``, which the tests hold graphnet's run to)."""
    return _post_reference().run_post(iterations=iterations, seed=seed, log_every=0)[0]


@functools.lru_cache(maxsize=1)
def _post_reference():
    path = Path(__file__).resolve().parent.parent / "tests" / "post_reference.py"
    spec = importlib.util.spec_from_file_location("post_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def post_loop(iterations: int, *, seed: int = 0, check: Callable | None = None, every: int = 100) -> int | None:
    """The post's arithmetic alone, in plain numpy (batch 1): its forward pass, deltas and updates, without the
    bookkeeping of its log (the predicted bits, the summed error) or the copies of :func:`published_loop`.

    With ``check(params) -> bool``, it is called every ``every`` iterations (outside the timing the caller
    does not do) and the loop stops at the first iteration count where it says solved; that count is returned.
    """
    rng = np.random.RandomState(seed)
    s0 = 2 * rng.random_sample((2, HIDDEN)) - 1
    s1 = 2 * rng.random_sample((HIDDEN, 1)) - 1
    sh = 2 * rng.random_sample((HIDDEN, HIDDEN)) - 1
    for j in range(iterations):
        a, b = rng.randint(2 ** (BITS - 1)), rng.randint(2 ** (BITS - 1))
        abits, bbits, cbits = (a >> np.arange(BITS)) & 1, (b >> np.arange(BITS)) & 1, ((a + b) >> np.arange(BITS)) & 1
        u0, u1, uh = np.zeros_like(s0), np.zeros_like(s1), np.zeros_like(sh)
        deltas, hs = [], [np.zeros((1, HIDDEN))]
        for t in range(BITS):
            x = np.array([[abits[t], bbits[t]]])
            h = _sigmoid(x @ s0 + hs[-1] @ sh)
            out = _sigmoid(h @ s1)
            deltas.append((cbits[t] - out) * out * (1 - out))
            hs.append(h)
        future = np.zeros((1, HIDDEN))
        for t in reversed(range(BITS)):
            x = np.array([[abits[t], bbits[t]]])
            h, prev = hs[t + 1], hs[t]
            delta = (future @ sh.T + deltas[t] @ s1.T) * h * (1 - h)
            u1 += np.atleast_2d(h).T @ deltas[t]
            uh += np.atleast_2d(prev).T @ delta
            u0 += x.T @ delta
            future = delta
        s0, s1, sh = s0 + u0 * 0.1, s1 + u1 * 0.1, sh + uh * 0.1
        if check is not None and (j + 1) % every == 0 and check({"synapse_0": s0, "synapse_1": s1, "synapse_h": sh}):
            return j + 1
    return None


def tuned_loop(iterations: int, batch: int, *, seed: int = 0) -> None:
    """A hand-tuned batched numpy loop: data drawn beforehand, weight gradients summed after the time loop."""
    rng = np.random.RandomState(seed)
    s0, s1, sh = (2 * rng.random_sample(s) - 1 for s in ((2, HIDDEN), (HIDDEN, 1), (HIDDEN, HIDDEN)))
    a = rng.randint(2 ** (BITS - 1), size=(iterations, batch))
    b = rng.randint(2 ** (BITS - 1), size=(iterations, batch))
    shifts = np.arange(BITS)[:, None]
    for i in range(iterations):
        x = np.stack([(a[i] >> shifts) & 1, (b[i] >> shifts) & 1], axis=2).astype(float)  # (T, B, 2)
        y = (((a[i] + b[i]) >> shifts) & 1)[..., None].astype(float)  # (T, B, 1)
        hs = np.zeros((BITS + 1, batch, HIDDEN))
        proj = (x.reshape(-1, 2) @ s0).reshape(BITS, batch, HIDDEN)  # input projections of all steps at once
        for t in range(BITS):
            hs[t + 1] = _sigmoid(proj[t] + hs[t] @ sh)
        out = _sigmoid(hs[1:].reshape(-1, HIDDEN) @ s1).reshape(BITS, batch, 1)
        d_out = (out - y) * out * (1 - out) / batch
        d_h = np.empty((BITS, batch, HIDDEN))
        future = np.zeros((batch, HIDDEN))
        back = d_out @ s1.T
        for t in reversed(range(BITS)):
            future = (back[t] + future @ sh.T) * hs[t + 1] * (1 - hs[t + 1])
            d_h[t] = future
        dh = d_h.reshape(-1, HIDDEN)
        s0 = s0 - 0.1 * (x.reshape(-1, 2).T @ dh)
        sh = sh - 0.1 * (hs[:-1].reshape(-1, HIDDEN).T @ dh)
        s1 = s1 - 0.1 * (hs[1:].reshape(-1, HIDDEN).T @ d_out.reshape(-1, 1))


def torch_loop(iterations: int, batch: int, *, seed: int = 0) -> None:
    """The same network in PyTorch CPU autograd (float64), data drawn beforehand."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    s0, s1, sh = (
        torch.tensor(2 * rng.random_sample(s) - 1, requires_grad=True)
        for s in ((2, HIDDEN), (HIDDEN, 1), (HIDDEN, HIDDEN))
    )
    a = rng.randint(2 ** (BITS - 1), size=(iterations, batch))
    b = rng.randint(2 ** (BITS - 1), size=(iterations, batch))
    shifts = np.arange(BITS)[:, None]
    xs = torch.tensor(np.stack([(a[:, None] >> shifts) & 1, (b[:, None] >> shifts) & 1], axis=3), dtype=torch.float64)
    ys = torch.tensor(((a + b)[:, None] >> shifts) & 1, dtype=torch.float64)[..., None]
    for i in range(iterations):
        h = torch.zeros(batch, HIDDEN, dtype=torch.float64)
        loss = 0
        for t in range(BITS):
            h = torch.sigmoid(xs[i, t] @ s0 + h @ sh)
            loss = loss + 0.5 * ((torch.sigmoid(h @ s1) - ys[i, t]) ** 2).sum() / batch
        loss.backward()
        with torch.no_grad():
            for w in (s0, s1, sh):
                w -= 0.1 * w.grad
                w.grad = None


def graphnet_loop(iterations: int, batch: int, *, seed: int = 0, compile: bool = False) -> None:
    """graphnet's own training loop (sampling, forward, backward, SGD) on the post's task at ``batch``;
    ``compile``: compiled with JAX (compiled once a process: time a second call for the steady state)."""
    task = load_task(TASKS / "binary_addition.toml", [
        f"training.iterations={iterations}", f"training.batch_size={batch}", "training.log_every=0",
        f"training.seed={seed}",
    ])
    (train_compiled if compile else train)(task)


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


# How many more iterations a compiled contestant runs a round than the others: enough to time.
COMPILED_MORE = 10


def throughput(iterations: int, rounds: int, batches: Sequence[int], *, compiled: bool = False
               ) -> list[tuple[str, int, list[float]]]:
    """Examples per second of every contestant, ``rounds`` times, alternating. ``compiled``: graphnet compiled
    with JAX too, in its steady state (compiled before the first round, as a long run is after its first seconds)."""
    contestants: list[tuple[str, int, int, Callable[[], None]]] = [
        ("the post's code", 1, iterations, lambda: published_loop(iterations)),
        ("its arithmetic alone", 1, iterations, lambda: post_loop(iterations))]
    for batch in batches:
        # as many examples a round as batch 1's iterations times 16: long enough to time, and to make what a
        # training run does once (reading the task, building and compiling the graph) as small a part as at batch 1
        n = max(1, iterations * 16 // batch) if batch > 1 else iterations
        contestants.append(("graphnet", batch, n * batch, lambda n=n, b=batch: graphnet_loop(n, b)))
        if compiled:
            more = n * COMPILED_MORE
            graphnet_loop(more, batch, compile=True)  # compiled here, not in a round
            contestants.append(("graphnet --compile", batch, more * batch,
                                lambda n=more, b=batch: graphnet_loop(n, b, compile=True)))
        contestants.append(("hand-tuned numpy", batch, n * batch, lambda n=n, b=batch: tuned_loop(n, b)))
        if _torch_available():
            contestants.append(("PyTorch CPU", batch, n * batch, lambda n=n, b=batch: torch_loop(n, b)))
    samples: dict[int, list[float]] = {i: [] for i in range(len(contestants))}
    for _ in range(rounds):
        for i, (_, _, examples, run) in enumerate(contestants):
            start = time.perf_counter()
            run()
            samples[i].append(examples / (time.perf_counter() - start))
    return [(name, batch, samples[i]) for i, (name, batch, _, _) in enumerate(contestants)]


def ratio(samples: Sequence[float], baseline: Sequence[float]) -> float:
    """How many times ``baseline``'s rate ``samples`` is: the median over rounds of the two rates' ratio in each."""
    return statistics.median(a / b for a, b in zip(samples, baseline))


def whole_runs(rounds: int, quick: bool) -> list[tuple[str, list[float]]]:
    """Wall seconds of whole processes, alternating: the post's run (``graphnet train``, import, compile, train,
    the accuracy check) in numpy mode and compiled, from an empty compilation cache and from a filled one; and a
    16-seed sweep, its members in numpy mode and compiled (the cache filled)."""
    import subprocess
    import sys
    import tempfile

    task = str(TASKS / "binary_addition.toml")
    short = ["--set", "training.iterations=20"] if quick else []
    train = [sys.executable, "-m", "graphnet", "train", task, "--quiet", *short]
    sweep = [sys.executable, "-m", "graphnet", "sweep", task, "--set", "network.hidden=16", "--seeds",
             "2" if quick else "16", "--workers", "1", "--quiet", *(["--set", "training.iterations=200"] if quick else [])]
    with tempfile.TemporaryDirectory() as scratch:
        filled = os.path.join(scratch, "filled")
        runs = {
            "post's run, numpy mode": (train, None),
            "post's run --compile, empty cache": (train + ["--compile"], "empty"),
            "post's run --compile, filled cache": (train + ["--compile"], filled),
            "16-seed sweep, numpy members": (sweep + ["--csv", os.path.join(scratch, "a.csv")], None),
            "16-seed sweep --compile": (sweep + ["--csv", os.path.join(scratch, "b.csv"), "--compile"], filled),
        }
        for command, cache in runs.values():  # the filled cache filled, once, outside the timing
            if cache == filled:
                subprocess.run(command, check=True, stdout=subprocess.DEVNULL,
                               env={**os.environ, "GRAPHNET_JAX_CACHE": filled})
        times: dict[str, list[float]] = {name: [] for name in runs}
        for round_ in range(rounds):
            for name, (command, cache) in runs.items():
                env = dict(os.environ)
                if cache is not None:  # an empty cache is a new folder every round
                    env["GRAPHNET_JAX_CACHE"] = tempfile.mkdtemp(dir=scratch) if cache == "empty" else cache
                start = time.perf_counter()
                subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
                times[name].append(time.perf_counter() - start)
    return list(times.items())


def time_to_solve(quick: bool) -> list[tuple[str, float, int]]:
    """Wall time (training only) to get every 128x128 problem right: the post's arithmetic and the fast task."""
    task = load_task(TASKS / "binary_addition.toml")
    rows = []
    if not quick:
        solved = lambda p: evaluate(task, p).fraction == 1.0  # noqa: E731
        needed = post_loop(20000, check=solved)
        start = time.perf_counter()
        post_loop(needed or 20000)
        rows.append(("the post's arithmetic, batch 1, seed 0", time.perf_counter() - start, needed or -1))
    fast_task = load_task(TASKS / "binary_addition_fast.toml", ["training.iterations=5"] if quick else [])
    start = time.perf_counter()
    result = train(fast_task)
    seconds = time.perf_counter() - start
    accuracy = evaluate(fast_task, result.params).fraction
    rows.append((f"binary_addition_fast.toml (accuracy {accuracy:.4f})", seconds, fast_task.training.iterations))
    return rows


def scaling(lengths: Sequence[int]) -> list[tuple[int, float, float, float]]:
    """Seconds to build (graph and program), run forward and backward at each length, batch 1."""
    task = load_task(TASKS / "binary_addition.toml")
    rows = []
    for steps in lengths:
        network = task.build_network()
        params = network.init_parameters(np.random.RandomState(0))
        problem = task.generator.sample(np.random.RandomState(1), 1, steps)
        start = time.perf_counter()
        program = network.program(steps)
        built = time.perf_counter()
        run = program.forward(network.feeds(problem.x, problem.y), params)
        forwarded = time.perf_counter()
        run.backward()
        rows.append((steps, built - start, forwarded - built, time.perf_counter() - forwarded))
    return rows


def _machine() -> str:
    cpu = platform.processor()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    torch_version = "absent"
    if _torch_available():
        import torch

        torch_version = torch.__version__
    versions = f"numpy {np.__version__}, torch {torch_version}, Python {platform.python_version()}"
    return f"{os.cpu_count()} cores, {cpu}, {versions}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks speed",
        description=__doc__.split("\n\n")[0],
        epilog="examples:\n  python -m benchmarks speed\n  python -m benchmarks speed --quick   # tiny sizes: does it run?\n"
               "  python -m benchmarks speed --cpu 1   # on core 1 alone",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one round, to check it works")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of alternation (default 5)")
    parser.add_argument("--iterations", type=int, default=1000, help="batch-1 iterations per round (default 1000)")
    parser.add_argument("--compile", action="store_true",
                        help="graphnet compiled with JAX as a contestant too (the 'compile' extra), and whole "
                        "processes: the post's run and a 16-seed sweep, numpy mode against compiled")
    parser.add_argument("--cpu", type=int, metavar="N",
                        help="run on core N alone (Linux); on a shared machine, move the other jobs off it first")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    rounds, iterations = (1, 20) if args.quick else (args.rounds, args.iterations)
    print(f"machine: {_machine()}")
    results = throughput(iterations, rounds, (1, 64, 256) if not args.quick else (1, 4), compiled=args.compile)
    post, arithmetic = results[0][2], results[1][2]
    tuned = {batch: samples for name, batch, samples in results if name == "hand-tuned numpy"}
    torch = {batch: samples for name, batch, samples in results if name == "PyTorch CPU"}
    print(f"\n{'implementation':<22}{'batch':>6}{'examples/s':>12}{'min-max':>20}{'vs post':>9}{'vs arithmetic':>15}"
          f"{'vs hand-tuned':>15}" + (f"{'vs PyTorch':>12}" if torch else ""))
    for name, batch, samples in results:
        spread = f"{min(samples):,.0f}-{max(samples):,.0f}"
        print(f"{name:<22}{batch:>6}{statistics.median(samples):>12,.0f}{spread:>20}{ratio(samples, post):>8.2f}x"
              f"{ratio(samples, arithmetic):>14.2f}x{ratio(samples, tuned[batch]):>14.2f}x"
              + (f"{ratio(samples, torch[batch]):>11.2f}x" if batch in torch else ""))
    if args.compile:
        print(f"\n{'whole process (wall seconds)':<40}{'median':>8}{'min-max':>14}{'vs numpy mode':>15}")
        whole = whole_runs(rounds, args.quick)
        for name, seconds in whole:
            against = whole[0 if "post" in name else 3][1]  # numpy mode's seconds, round by round
            print(f"{name:<40}{statistics.median(seconds):>8.2f}{f'{min(seconds):.2f}-{max(seconds):.2f}':>14}"
                  f"{ratio(against, seconds):>14.2f}x")
    print(f"\n{'time to solve all 128x128 problems':<55}{'seconds':>9}{'iterations':>12}")
    for name, seconds, its in time_to_solve(args.quick):
        print(f"{name:<55}{seconds:>9.3f}{its:>12}")
    lengths = (16, 64) if args.quick else (64, 256, 1024, 4096)
    print(f"\n{'steps':>6}{'build s':>10}{'forward s':>11}{'backward s':>12}{'µs/step (b+f+b)':>18}")
    for steps, b, f, bw in scaling(lengths):
        print(f"{steps:>6}{b:>10.4f}{f:>11.4f}{bw:>12.4f}{(b + f + bw) / steps * 1e6:>18.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
