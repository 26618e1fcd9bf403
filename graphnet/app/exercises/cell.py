"""The learner's LSTM cell (exercise 6) against graphnet's: the state of every step, and what differs.

Both cells are unrolled over the same problems with the same weights (the learner's cell declares the same
weights), and their states h[t] and c[t] are compared step by step. At the first step where one differs, the
numbers a typical mistake gives are computed from graphnet's gates at that step and compared with it.
"""

from __future__ import annotations

import numpy as np

from ...rnn.cells import get_cell
from ...rnn.data import get_generator
from ...rnn.network import Network, check_network
from .measure import same
from .unrolled import Grid, relative

STEPS, BATCH, HIDDEN = 6, 3, 4


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_faults(cell_name: str) -> tuple[Grid, list[str]]:
    """Where the learner's cell ``cell_name`` differs from graphnet's LSTM, step by step."""
    grid = Grid(STEPS, title=f"your {cell_name} against graphnet's lstm, unrolled over {STEPS} steps")
    mine_cell, right_cell = get_cell(cell_name), get_cell("lstm")
    mine_net = Network(mine_cell, inputs=2, hidden=HIDDEN, outputs=1)
    right_net = Network(right_cell, inputs=2, hidden=HIDDEN, outputs=1)
    try:
        shapes = mine_cell.parameters(2, HIDDEN)
    except NotImplementedError:
        return grid, [f"{cell_name}.parameters is not written yet"]
    if dict(shapes) != right_cell.parameters(2, HIDDEN):
        return grid, [f"{cell_name}.parameters gives {dict(shapes)}; the LSTM's weights are "
                      f"{right_cell.parameters(2, HIDDEN)}"]
    if tuple(mine_cell.states) != ("h", "c"):
        return grid, [f"{cell_name}.states is {mine_cell.states!r}; an LSTM carries ('h', 'c'), h first"]
    rng = np.random.RandomState(0)
    params = right_net.init_parameters(rng)
    batch = get_generator("binary_addition").sample(rng, BATCH, STEPS)
    feeds = right_net.feeds(batch.x, batch.y)
    right = right_net.graph(STEPS).compile().forward(feeds, params)
    try:
        mine = mine_net.graph(STEPS).compile().forward(feeds, params)
    except NotImplementedError:
        return grid, [f"{cell_name}.step is not written yet (it raises NotImplementedError)"]
    except Exception as exc:  # noqa: BLE001 - building or running the learner's graph: its message is the finding
        return grid, [f"building or running your cell fails: {type(exc).__name__}: {exc}"]
    sentences: list[str] = []
    for t in range(STEPS):
        for state in ("c", "h"):
            key = f"{state}[{t}]"
            grid.errors[key] = relative(mine.value(key), right.value(key))
    for t in range(STEPS):
        for state in ("c", "h"):
            key = f"{state}[{t}]"
            if grid.errors[key] > 1e-9:
                sentences.append(_state_words(state, t, mine, right))
                break
        if sentences:
            break
    if not sentences:
        checks = check_network(mine_net, get_generator("binary_addition"), 4, params=None)
        failed = [w for w, c in checks.items() if not c.passed]
        if failed:
            sentences.append(f"its forward is the LSTM's, but the gradient of {failed[0]} misses central differences")
    return grid, sentences


def _state_words(state: str, t: int, mine, right) -> str:
    """What the first wrong state is, measured against what typical mistakes compute from the right gates."""
    v = right.value
    i, f, o, g = (v(f"{gate}[{t}]") for gate in "ifog")
    g_in = v(f"g_in[{t}]")
    c_prev = v(f"c[{t - 1}]")
    got = mine.value(f"{state}[{t}]")
    # the gates without their biases: from each gate's sum before bias_add
    i0, f0, g0 = _sigmoid(v(f"i_sum[{t}]")), _sigmoid(v(f"f_sum[{t}]")), np.tanh(v(f"g_sum[{t}]"))
    if state == "c":
        typical = {
            "the biases are missing: each gate is squash(x @ synapse_0 + h @ synapse_h + bias), bias_add after the sum":
                f0 * c_prev + i0 * g0,
            "the input and forget gates are swapped: c[t] = i * c[t-1] + f * g, where f * c[t-1] + i * g is meant":
                i * c_prev + f * g,
            "the input gate is missing: c[t] = f * c[t-1] + g, where i * g is written": f * c_prev + g,
            "the forget gate is missing: c[t] = c[t-1] + i * g, where f * c[t-1] is kept": c_prev + i * g,
            "the candidate g is squashed with sigmoid, where tanh is meant": f * c_prev + i * _sigmoid(g_in),
            "the candidate g is not squashed: tanh is missing": f * c_prev + i * g_in,
            "the memory is overwritten, not kept: c[t] = i * g, where f * c[t-1] + i * g is meant": i * g,
        }
    else:
        c = mine.value(f"c[{t}]")
        typical = {
            "h[t] = o * c[t]: the tanh of the memory is missing, h[t] = o * tanh(c[t])": o * c,
            "h[t] reads the memory through sigmoid: h[t] = o * tanh(c[t]) is meant": o * _sigmoid(c),
            "h[t] = tanh(o * c[t]): the gate goes after the tanh, h[t] = o * tanh(c[t])": np.tanh(o * c),
            "h[t] reads the previous memory c[t-1]: h[t] = o * tanh(c[t])": o * np.tanh(c_prev),
            "h[t] is read out through the forget gate f, where the output gate o is meant": f * np.tanh(c),
            "h[t] is read out through the input gate i, where the output gate o is meant": i * np.tanh(c),
        }
    for words, numbers in typical.items():
        if same(got, numbers):
            return f"{state}[{t}], step {t}: {words}"
    return (f"{state}[{t}] differs from the LSTM's at step {t} (relative error {relative(got, right.value(f'{state}[{t}]')):.2g}), "
            f"the first state that does; compare its formula with the task's, gate by gate")
