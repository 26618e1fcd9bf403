"""Learning curves: training's error, loss and accuracy every N iterations, as CSV or as a picture.

A :class:`Curve` is given to :func:`~graphnet.app.training.train` as its ``on_update``. After each update it
adds up the post's error and the loss of the iteration's forward pass; every ``every`` iterations, and at the
last one (:meth:`Curve.finish`), it makes a :class:`Row` of the columns in :data:`COLUMNS`:

- ``iteration``: iterations done since the start of the run (a resumed run goes on from its checkpoint's);
- ``error``: the mean over the problems trained on since the previous row of the post's error, the sum over
  bits of ``|y - y_hat|`` (what the log prints as ``Error``, for one problem);
- ``loss``: the mean loss of those iterations (each is the task's loss averaged over its batch);
- ``accuracy``: the fraction of 512 fixed problems with every output bit right, with the weights after that
  iteration. The problems are drawn once, apart from training's random stream, so every row and every run is
  measured on the same ones.

Recording only reads what training computed, so the weights end bit for bit as without it. It costs the
error's sums every iteration and a forward pass of 512 problems a row: the post's run takes about 15 % longer.

Examples
--------
>>> from graphnet import load_task, train
>>> task = load_task("tasks/binary_addition.toml", ["training.iterations=250", "training.log_every=0"])
>>> curve = Curve(task, every=100)
>>> result = train(task, on_update=curve)
>>> [row.iteration for row in curve.finish()]
[100, 200, 250]
>>> print(csv_text(curve.rows).splitlines()[0])
iteration,error,loss,accuracy
"""

from __future__ import annotations

import csv
import io
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..rnn.data import Batch
from ..rnn.keys import LOSS
from .figures import check_figure_path, new_figure, save_figure
from .files import write_bytes
from .tasks import EVAL_BATCH, Task
from .training import correct_counts, fixed_sample, predictions
from .weights import Params

# Iterations between rows, unless told otherwise (``graphnet train --curve-every``).
EVERY = 100
# Problems the accuracy column is measured on: enough for steps of 1/512, few enough to cost a forward pass of
# about a hundred training iterations' problems per row.
ACCURACY_PROBLEMS = 512


@dataclass(frozen=True)
class Row:
    """One line of a learning curve (see the module's description of the columns)."""

    iteration: int
    error: float
    loss: float
    accuracy: float


COLUMNS = tuple(f.name for f in fields(Row))


class Curve:
    """Records a learning curve while :func:`~graphnet.app.training.train` runs: pass it as ``on_update``.

    Rows come every ``every`` iterations (counted from the start of the run, so a resumed run keeps the same
    rows); :meth:`finish` adds one for the iterations since, when training ends or stops.
    """

    def __init__(self, task: Task, every: int = EVERY, *, problems: int = ACCURACY_PROBLEMS) -> None:
        if every < 1:
            raise ValueError(f"every: expected an integer of at least 1, got {every}")
        self.every = every
        self.network = task.build_network()
        self.problems = fixed_sample(task, problems)
        self.rows: list[Row] = []
        self._error = self._loss = 0.0  # summed since the previous row
        self._problems = self._iterations = 0
        self._done, self._params = 0, {}  # iterations done and the weights after the last one taken in

    def __call__(self, iteration: int, batch: Batch, value: Callable[[str], np.ndarray], params: Params) -> None:
        """Take in one iteration: its ``batch``, its forward pass's ``value(key)`` and the weights after it."""
        y_hat = predictions(value, batch.x.shape[0])
        self.take(iteration + 1, float(np.abs(batch.y - y_hat).sum()), float(value(LOSS)), batch.size, 1, params)

    def take(self, done: int, error: float, loss: float, problems: int, iterations: int, params: Params) -> None:
        """Take in ``iterations`` iterations at once, the last making ``done``: the sums over them of the error and
        of the loss, the ``problems`` they trained on, and the weights after them (compiled training takes in
        a chunk so, :mod:`graphnet.app.compiled`, whose chunks end where rows do)."""
        self._error += error
        self._loss += loss
        self._problems += problems
        self._iterations += iterations
        self._done, self._params = done, params
        if self._done % self.every == 0:
            self._add_row()

    def finish(self) -> list[Row]:
        """The rows, with one for the iterations since the last row, if any: call it when training ended or
        stopped (Ctrl-C, a divergence), to keep every iteration it took in."""
        if self._iterations:
            self._add_row()
        return self.rows

    def _add_row(self) -> None:
        correct = int(correct_counts(self.network, self._params, self.problems, EVAL_BATCH))
        self.rows.append(Row(self._done, self._error / self._problems, self._loss / self._iterations,
                             correct / self.problems.size))
        self._error = self._loss = 0.0
        self._problems = self._iterations = 0


def check_curve_path(path: str | Path, option: str = "--curve") -> None:
    """Refuse, before any training, a curve file of an unknown format, or a picture without matplotlib."""
    check_figure_path(path, option, other=(".csv",), instead="write a .csv")


def csv_text(rows: Sequence[Row]) -> str:
    """The rows as CSV with a header of :data:`COLUMNS`; numbers in full (``repr``), so the file is the rows."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(astuple(row) for row in rows)
    return text.getvalue()


def write_curve(path: str | Path, rows: Sequence[Row], *, title: str = "learning curve") -> Path:
    """Write the rows to ``path``, atomically: CSV (``.csv``), or a picture of them (``.svg``, ``.png``).

    The picture has two panels over the iterations, the error above and the accuracy below, and ``title``
    above both (name the task in it); it shows the numbers the CSV holds.
    """
    check_curve_path(path, "curve")
    if Path(path).suffix.lower() == ".csv":
        return write_bytes(path, csv_text(rows).encode())
    figure = new_figure(6.4, 5.2)
    error, accuracy = figure.subplots(2, 1, sharex=True)
    iterations = [row.iteration for row in rows]
    marker = "." if len(rows) < 50 else None  # dots while there are few enough to tell apart
    error.plot(iterations, [row.error for row in rows], color="tab:red", marker=marker)
    error.set_ylabel("error per problem\n(sum over bits of |y - ŷ|)")
    error.set_ylim(bottom=0)
    accuracy.plot(iterations, [row.accuracy for row in rows], color="tab:blue", marker=marker)
    accuracy.set_ylabel("accuracy\n(every bit right)")
    accuracy.set_ylim(-0.02, 1.02)
    accuracy.set_xlabel("iteration")
    for ax in (error, accuracy):
        ax.grid(True, alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    return save_figure(figure, path)
