"""``graphnet reach``: how far back a network's gradient reaches, on a task's problems or on one example.

The measures are :mod:`graphnet.rnn.reach`'s: the recurrent weights' gradient split by lag (the step whose
error it is minus the step that read the weight), each lag's part beside the lag-0 part, and how much a step's
state and prediction move with an earlier step's state and input. The reach is the first lag from which on
every part is below a thousandth of the lag-0 part.

Examples
--------
>>> from graphnet import load_task
>>> task = load_task("tasks/binary_addition.toml")
>>> start = task.build_network().init_parameters(np.random.RandomState(0))   # what training starts from
>>> problems, about = problems_for(task, problems=16)
>>> reach = measure(task, start, problems, about=about)
>>> reach.split.reach(), reach.split.measured
(7, 7)
>>> print(reach.lines()[-3])
reach: 7 lags or more: every lag measured is above 0.001 of lag 0's (the sequence is too short to see it fade)
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..errors import UsageError
from ..rnn.data import Batch
from ..rnn.reach import THRESHOLD, LagSplit, input_sensitivity, split_by_lag, state_sensitivity
from .example import read_example
from .files import write_bytes
from .tasks import Task, check_memory

PROBLEMS = 64  # random problems measured when no example is given: enough that one problem's quirks average out
MAX_PROBLEMS = 4096
MAX_STEPS = 64  # a reverse pass from every step's loss and every unit: the work grows with the steps squared
COLUMNS = ("lag", "part", "of_lag_0", "state_sensitivity", "input_sensitivity")


@dataclass(frozen=True)
class Reach:
    """What ``graphnet reach`` measures on ``about`` (the problems, in words): the gradient split by lag
    (``split``), and ``states[b, t, k]`` = ‖∂h_t/∂h_k‖, ``inputs[b, t, k]`` = ‖∂ŷ_t/∂x_k‖ for each problem ``b``."""

    split: LagSplit
    states: np.ndarray
    inputs: np.ndarray
    state: str  # the state's name: "h", or "(h, c)" for an LSTM
    about: str

    def by_lag(self, norms: np.ndarray) -> np.ndarray:
        """``[k]``: the mean of ``norms[b, t, t - k]`` over the problems and the steps ``t`` (from ``k`` on)."""
        steps = norms.shape[1]
        return np.array([norms[:, np.arange(k, steps), np.arange(steps - k)].mean() for k in range(steps)])

    def rows(self) -> list[tuple[int, float, float, float, float]]:
        """One row a lag: the lag, the size of its part, that over the lag-0 part's, and the mean sensitivities
        of a state and of a prediction to the state and the input that many steps before."""
        states, inputs = self.by_lag(self.states), self.by_lag(self.inputs)
        return [(k, float(size), float(share), float(s), float(i))
                for k, (size, share, s, i) in enumerate(zip(self.split.sizes, self.split.shares(), states, inputs))]

    @property
    def weights(self) -> str:
        """The weights split, in words."""
        names = self.split.weights
        return f"{names[0]}'s gradient" if len(names) == 1 else f"the gradient of {', '.join(names)}"

    def lines(self) -> list[str]:
        """The table, a lag a row, then the reach and the check that the parts add up, in words."""
        state, split = self.state, self.split
        columns = ("size of its part", "of lag 0's", f"|d{state}[t]/d{state}[t-k]|", "|dy_hat[t]/dx[t-k]|")
        lines = [f"{self.weights} on {self.about}, split by lag k:",
                 "(k: the steps from the step whose error it is back to the step that reads the weight)",
                 " lag  " + "  ".join(columns)]
        for k, size, share, s, i in self.rows():
            numbers = (f"{size:.2e}", f"{share:.2e}", f"{s:.2e}", f"{i:.2e}")
            lines.append(f"{k:>4}  " + "  ".join(f"{n:>{len(c)}}" for n, c in zip(numbers, columns)))
        lines.append(reach_sentence(split))
        lines.append(f"the parts add up to the engine's gradient: largest difference {split.discrepancy():.1e} of its "
                     "largest number")
        lines.append("(the sensitivities: spectral norms of the Jacobians, means over the problems and the steps t)")
        return lines

    def csv_text(self) -> str:
        """The rows as CSV under :data:`COLUMNS`, numbers in full."""
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(self.rows())
        return text.getvalue()


def reach_sentence(split: LagSplit, threshold: float = THRESHOLD) -> str:
    """The reach in words: how many lags, and whether the sequence was long enough to see the gradient fade."""
    reach = split.reach(threshold)
    if not split.fades(threshold):
        return (f"reach: {reach} lags or more: every lag measured is above {threshold:g} of lag 0's (the sequence "
                "is too short to see it fade)")
    return f"reach: {reach} lag{'s' if reach != 1 else ''} (from lag {reach} on, every part is below {threshold:g} of lag 0's)"


def check_reach(task: Task, steps: int, problems: int, *, option: str = "--problems") -> None:
    """Refuse, before any work, more steps or problems than a measure can take in sensible time and memory."""
    if not 1 <= problems <= MAX_PROBLEMS:
        raise UsageError(f"{option}: expected an integer from 1 to {MAX_PROBLEMS:,}, got {problems}")
    if steps > MAX_STEPS:
        raise UsageError(f"{task.source}: {steps} steps: the gradient is split by a reverse pass from every step, "
                         f"which past {MAX_STEPS} steps takes too long; measure shorter problems "
                         f"(--set task.bits={MAX_STEPS})")
    n = task.network
    width = n.hidden * len(task.build_network().cell.states)
    # The split keeps every step's term of every recurrent weight; the sensitivities run each problem once a unit.
    check_memory(f"{task.source}: measuring {problems:,} problems of {steps} steps",
                 steps * steps * 4 * n.hidden * n.hidden * 8 + problems * width * steps * 30 * n.hidden * 8)


def problems_for(task: Task, *, example: str | None = None, problems: int = PROBLEMS, seed: int = 0,
                 steps: int | None = None) -> tuple[Batch, str]:
    """The problems to measure and what they are, in words: the ``example`` written as the task writes its
    problems, or ``problems`` random ones drawn with ``seed``; over ``steps`` steps (default: the task's bits),
    or more if the example needs them."""
    bits = steps or task.problem.bits
    if example is not None:
        batch = read_example(task, example, max(bits, len(read_example(task, example).x)))
        return batch, f"the example {task.generator.describe(batch, 0, batch.y[:, 0])}"
    batch = task.generator.sample(np.random.RandomState(seed), problems, bits)
    return batch, f"{problems:,} random {bits}-bit problems"


def measure(task: Task, params: Mapping[str, np.ndarray], problems: Batch, *, weights: Sequence[str] | None = None,
            about: str = "the problems") -> Reach:
    """Measure how far back the gradient of ``weights`` (default: the recurrent ones) reaches on ``problems``."""
    network = task.build_network()
    states = network.cell.states
    return Reach(
        split=split_by_lag(network, params, problems, weights),
        states=state_sensitivity(network, params, problems.x),
        inputs=input_sensitivity(network, params, problems.x),
        state=states[0] if len(states) == 1 else f"({', '.join(states)})",
        about=about,
    )


def write_csv(path: str | Path, reach: Reach) -> Path:
    """Write the table of ``reach`` to ``path`` as CSV, atomically."""
    return write_bytes(path, reach.csv_text().encode())
