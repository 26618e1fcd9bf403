"""The post's network trained by batched SGD in plain numpy, as ``graphnet train`` trains it: the baseline of
the whole-process benchmark (``python -m benchmarks whole-process``).

The same weights drawn the same way, the same problems from the same random stream, the same updates (to
about 1e-12: only the order of some sums differs), then the exact-match accuracy on all 8-bit problems, which
``graphnet train`` prints at the end too. Run: ``python benchmarks/plain_numpy_train.py ITERATIONS BATCH``.
"""

import sys
import time

import numpy as np

BITS, HIDDEN, RATE, SEED = 8, 16, 0.1, 0


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def problems(rng, count):
    ab = rng.randint(1 << (BITS - 1), size=(count, 2))
    shifts = np.arange(BITS)[:, None, None]
    x = ((ab[None] >> shifts) & 1).astype(float)  # (T, B, 2), least significant bit first
    y = (((ab[:, 0] + ab[:, 1])[None, :, None] >> shifts) & 1).astype(float)  # (T, B, 1)
    return x, y


def forward(x, s0, sh, s1):
    hs = [np.zeros((x.shape[1], HIDDEN))]
    for t in range(len(x)):
        hs.append(sigmoid(x[t] @ s0 + hs[-1] @ sh))
    return hs, [sigmoid(h @ s1) for h in hs[1:]]


def train(iterations, batch):
    rng = np.random.RandomState(SEED)
    s0, s1, sh = (2 * rng.random_sample(shape) - 1 for shape in ((2, HIDDEN), (HIDDEN, 1), (HIDDEN, HIDDEN)))
    x_all, y_all = problems(rng, iterations * batch)  # drawn ahead, as graphnet draws them: the same stream
    for i in range(iterations):
        x, y = x_all[:, i * batch : (i + 1) * batch], y_all[:, i * batch : (i + 1) * batch]
        hs, outs = forward(x, s0, sh, s1)
        g0, g1, gh = np.zeros_like(s0), np.zeros_like(s1), np.zeros_like(sh)
        future = np.zeros((batch, HIDDEN))
        for t in reversed(range(BITS)):
            d_out = (outs[t] - y[t]) / batch * outs[t] * (1 - outs[t])
            g1 += hs[t + 1].T @ d_out
            delta = (d_out @ s1.T + future @ sh.T) * hs[t + 1] * (1 - hs[t + 1])
            gh += hs[t].T @ delta
            g0 += x[t].T @ delta
            future = delta
        s0, s1, sh = s0 - RATE * g0, s1 - RATE * g1, sh - RATE * gh
    return s0, sh, s1


def accuracy(s0, sh, s1):
    a, b = np.divmod(np.arange(1 << (2 * BITS - 2)), 1 << (BITS - 1))
    shifts = np.arange(BITS)[:, None, None]
    x = ((np.stack([a, b], axis=1)[None] >> shifts) & 1).astype(float)
    y = (((a + b)[None, :, None] >> shifts) & 1).astype(float)
    _, outs = forward(x, s0, sh, s1)
    return np.mean(np.all(np.round(np.stack(outs)) == y, axis=(0, 2)))


if __name__ == "__main__":
    iterations, batch = int(sys.argv[1]), int(sys.argv[2])
    start = time.perf_counter()
    weights = train(iterations, batch)
    seconds = time.perf_counter() - start
    print(f"trained {iterations} iterations in {seconds:.2f} s; accuracy: {accuracy(*weights):.4f}")
