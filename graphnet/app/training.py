"""Training by SGD through the unrolled graph, evaluation, and adding integers with a trained network.

With the shipped task file, :func:`train` is the post's run exactly: the same random stream, the same
examples, the same numbers in the log.

Examples
--------
>>> from graphnet import load_task
>>> task = load_task("tasks/binary_addition.toml", ["training.iterations=1"])
>>> result = train(task)
>>> result.log[0].describe
'9 + 60 = 1'
"""

from __future__ import annotations

import functools
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from ..errors import DivergedError, NonFiniteError
from ..rnn.data import Batch, Generator, bits_to_int, checked, get_generator
from ..rnn.keys import LOSS, PREDICTION, over
from ..engine.program import Program, Run
from ..rnn.network import Forward, Network, nonfinite
from .tasks import EVAL_BATCH, Task
from .weights import Params



@dataclass
class LogEntry:
    """What the post prints every ``log_every`` iterations, for the first example of the batch."""

    iteration: int
    error: float  # sum over bits of |y - y_hat|
    predicted: list[int]  # most significant bit first, as the post prints them
    true: list[int]
    describe: str  # "a + b = predicted"
    loss: float

    def lines(self) -> list[str]:
        return [
            f"Error:{self.error:.8f}",
            f"Pred:{_bit_list(self.predicted)}",
            f"True:{_bit_list(self.true)}",
            self.describe,
            "------------",
        ]


def _bit_list(bits: list[int]) -> str:
    return "[" + " ".join(str(b) for b in bits) + "]"


@dataclass
class TrainResult:
    params: Params
    log: list[LogEntry] = field(default_factory=list)
    iterations: int = 0  # iterations done since the start of the run (a resumed run counts the earlier ones)
    rng_state: tuple | None = None  # the random stream after the last iteration, to checkpoint and resume


# Problems drawn per call when drawing ahead: the iterations' worth of this many examples.
DRAW_AHEAD = 4096


def sgd_update(params: Params, grads: Params, learning_rate: float) -> Params:
    """W <- W - learning_rate * dL/dW for every weight, out of place."""
    return {k: w - learning_rate * grads[k] for k, w in params.items()}


def train(
    task: Task,
    *,
    params: Params | None = None,
    on_log: Callable[[LogEntry], None] | None = None,
    progress: bool = False,
    start: int = 0,
    rng_state: tuple | None = None,
    after_update: Callable[[int, Params, Callable[[], tuple]], bool] | None = None,
    on_update: Callable[[int, Batch, Callable[[str], np.ndarray], Params], None] | None = None,
) -> TrainResult:
    """Train the task's network by SGD, one update per batch, as the task file says.

    ``on_log`` is called with a :class:`LogEntry` every ``log_every`` iterations; ``progress`` shows a tqdm
    bar on stderr; ``after_update(iterations_done, params, rng)``, called after every update, ends training early
    when it returns True (the sweep stops at the first iteration that solves the task); its third argument is
    a function that gives the random stream's state after that iteration (checkpoints save it, see
    :mod:`graphnet.app.checkpoint`). ``on_update(iteration, batch, value, params)``, called after every update
    (before ``after_update``), gets the iteration's batch, its forward pass's values (``value(key)``) and the
    weights after the update (:class:`graphnet.app.curve.Curve` records a learning curve so). To resume,
    give the ``params``, the iteration ``start`` and the ``rng_state`` a checkpoint saved: the run then ends
    exactly as an uninterrupted one. A NaN or inf in the loss or a gradient raises
    :class:`~graphnet.errors.DivergedError`.

    The same run compiled with JAX (the ``compile`` extra): :func:`graphnet.app.compiled.train_compiled`.
    """
    spec, network, bits = task.training, task.build_network(), task.problem.bits
    rng = np.random.RandomState(spec.seed)
    # The post draws the weights first, then the examples: keep that order for its exact run.
    initial = network.init_parameters(rng)
    if rng_state is not None:
        rng.set_state(rng_state)
    iterations = range(start, spec.iterations)
    problems = Problems(task.generator, rng, spec.batch_size, bits, len(iterations))
    networks = Networks(dict(initial if params is None else params), spec.learning_rate, [iter(problems)])
    # An iteration needs the loss and the gradients; a hook that reads the run (a learning curve) needs every
    # node's value, and so does a log entry, which runs the whole program once more on its batch.
    program = network.program(bits, outputs=None if on_update else [LOSS], batch=spec.batch_size)
    result = TrainResult(networks.params, iterations=start)
    log = on_log
    if progress:
        from tqdm import tqdm

        iterations = tqdm(iterations, desc="training", unit="it", mininterval=0.5, leave=False, disable=None,
                          ncols=_bar_columns())
        if on_log is not None:
            log = _beside_the_bar(on_log)

    def diverged(iteration: int, lost: np.ndarray, batch: Batch) -> None:
        # named on the graph as built, node by node in step order
        as_built = network.graph(bits).compile().forward(network.feeds(batch.x, batch.y), networks.params)
        raise DivergedError(_nonfinite_message(as_built, iteration))

    def log_entry(iteration: int, batch: Batch, run: Run) -> None:
        if spec.log_every and iteration % spec.log_every == 0:
            every_value = run if on_update else network.program(bits, batch=spec.batch_size).forward(
                network.feeds(batch.x, batch.y), networks.params)
            entry = _log_entry(task, batch, every_value.value, iteration)
            result.log.append(entry)
            if log:
                log(entry)

    def hooks(iteration: int, batch: Batch, run: Run) -> bool:
        if on_update is not None:
            on_update(iteration, batch, run.value, networks.params)
        result.iterations = iteration + 1
        return after_update is not None and bool(after_update(iteration + 1, networks.params, problems.state))

    descend(network, program, networks, iterations, diverged=diverged, before_update=log_entry, after_update=hooks)
    result.params = networks.params
    result.rng_state = problems.state()
    return result


class Networks:
    """What a training loop trains: one network, or several side by side on a leading *member* axis (their
    weights stacked, one learning rate and one stream of problems each; see :mod:`graphnet.app.members`).

    ``params`` are their weights now; :meth:`batch` draws the next iteration's problems; :meth:`update` makes the
    SGD update, out of place; :meth:`leave` takes members out, and the others go on as they would have alone.
    """

    def __init__(self, params: Params, learning_rate: float | Sequence[float], streams: list[Iterator[Batch]],
                 *, side_by_side: bool = False) -> None:
        self.params, self.streams, self.side_by_side = params, streams, side_by_side
        self.rate = np.asarray(learning_rate, dtype=np.float64) if side_by_side else learning_rate
        self.active = list(range(len(streams)))  # the members still training, in member-axis order

    def batch(self) -> Batch:
        """The next problems: a member's from its own stream, side by side on the member axis after the steps'."""
        if not self.side_by_side:
            return next(self.streams[0])
        batches = [next(self.streams[m]) for m in self.active]
        return Batch(np.stack([b.x for b in batches], axis=1), np.stack([b.y for b in batches], axis=1))

    def lost(self, loss: np.ndarray, grads: Params) -> np.ndarray | None:
        """The members whose loss or a gradient has a NaN or an inf (a flag per member, in member-axis order; one
        flag alone for one network), or ``None`` when none has: what a training loop asks every iteration."""
        # One running total per member first: a NaN or an inf anywhere makes it non-finite, in a few calls. Huge
        # finite numbers can overflow it too, so a total that is not finite is looked at element by element.
        if not self.side_by_side:
            total = float(loss)
            for g in grads.values():
                total += float(np.add.reduce(g, axis=None))  # g.sum(), without the Python wrapper around it
            if math.isfinite(total) or _all_finite(loss, grads):
                return None
            return np.array([True])
        members = len(self.active)
        total = np.array(loss, dtype=np.float64)
        for g in grads.values():
            total = total + g.reshape(members, -1).sum(axis=1)
        if np.isfinite(total).all():
            return None
        lost = ~np.isfinite(np.asarray(loss, dtype=np.float64)).reshape(members)
        for g in grads.values():
            lost |= ~np.isfinite(g.reshape(members, -1)).all(axis=1)
        return lost if lost.any() else None

    def update(self, grads: Params) -> None:
        """W <- W - learning_rate * dL/dW, each member with its own rate."""
        if not self.side_by_side:
            self.params = sgd_update(self.params, grads, self.rate)
            return
        rate = self.rate
        self.params = {k: w - rate.reshape(-1, *[1] * (w.ndim - 1)) * grads[k] for k, w in self.params.items()}

    def leave(self, rows: np.ndarray, grads: Params | None = None) -> None:
        """Take out the members of ``rows`` (booleans, in member-axis order), with their gradients if given."""
        keep = ~rows
        self.active = [m for m, k in zip(self.active, keep) if k]
        if self.side_by_side:
            self.params = {key: w[keep] for key, w in self.params.items()}
            self.rate = self.rate[keep]
            if grads is not None:
                grads.update({key: g[keep] for key, g in grads.items()})


def _all_finite(loss: np.ndarray, grads: Params) -> bool:
    return bool(np.isfinite(loss).all()) and all(bool(np.isfinite(g).all()) for g in grads.values())


def descend(
    network: Network,
    program: Program,
    networks: Networks,
    iterations: Iterable[int],
    *,
    diverged: Callable[[int, np.ndarray, Batch], None],
    before_update: Callable[[int, Batch, Run], None] | None = None,
    after_update: Callable[[int, Batch, Run], bool] | None = None,
) -> None:
    """The training loop, for one network and for many side by side: for every iteration, a batch, the forward
    pass, the reverse pass, and the SGD update.

    A NaN or inf in the loss or a gradient calls ``diverged(iteration, lost, batch)`` (``lost``: a flag
    per member) before any update; it raises, or lets those members leave while the others go on.
    ``before_update`` sees the run before the weights change (the log); ``after_update`` after, and ends the
    loop when it returns True.
    """
    # A run that diverges is stopped at the first NaN or inf and named in one line, without the overflow warnings
    # numpy would print on its way there.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for iteration in iterations:
            batch = networks.batch()
            run = program.forward(network.feeds(batch.x, batch.y, program=program), networks.params)
            grads = run.backward()
            lost = networks.lost(run.value(LOSS), grads)
            if lost is not None:
                diverged(iteration, lost, batch)
                networks.leave(lost, grads)
                if not networks.active:
                    break
            if before_update is not None:
                before_update(iteration, batch, run)
            networks.update(grads)
            if after_update is not None and after_update(iteration, batch, run):
                break


class Problems:
    """``count`` batches of ``size`` problems, as ``count`` calls of ``generator.sample(rng, size, bits)`` draw
    them, but drawn many iterations' worth at a time (``Generator.sample_many``: the same numbers, in fewer
    numpy calls). ``state()`` is the random stream's state after the batches taken so far, as if they had been
    drawn one by one: replayed from where the current draw began.
    """

    def __init__(self, generator: Generator, rng: np.random.RandomState, size: int, bits: int, count: int) -> None:
        self.generator, self.rng, self.size, self.bits, self.count = generator, rng, size, bits, count
        self._start, self._taken = rng.get_state(), 0  # where the current draw began, and batches taken of it

    def __iter__(self) -> Iterator[Batch]:
        size, left = self.size, self.count
        while left > 0:
            n = min(left, max(1, DRAW_AHEAD // size))
            self._start, self._taken = self.rng.get_state(), 0
            drawn = checked(self.generator, self.generator.sample_many(self.rng, n, size, self.bits), "sample",
                            self.bits, n * size)
            for i in range(0, n * size, size):
                self._taken += 1
                yield Batch(drawn.x[:, i : i + size], drawn.y[:, i : i + size])
            left -= n

    def state(self) -> tuple:
        """The state of the random stream after the batches taken so far."""
        replay = np.random.RandomState()
        replay.set_state(self._start)
        if self._taken:
            self.generator.sample_many(replay, self._taken, self.size, self.bits)
        return replay.get_state()


def _bar_columns() -> int | None:
    """The progress bar's width: the terminal's, less room for the ``^C`` a terminal echoes after it when Ctrl-C is
    pressed. A bar as wide as the terminal pushes the echo onto a line of its own, and clearing the bar then
    clears that line instead, leaving the bar on the screen after the run has stopped."""
    try:
        return max(os.get_terminal_size(sys.stderr.fileno()).columns - 3, 20)
    except (OSError, ValueError):  # not a terminal: tqdm draws nothing there anyway
        return None


def _beside_the_bar(on_log: Callable[[LogEntry], None]) -> Callable[[LogEntry], None]:
    """``on_log`` with the progress bar cleared while it writes and drawn again after, so that on a terminal,
    where the bar and the log share the screen, the log's lines are never written into the bar's."""
    from tqdm import tqdm

    def log(entry: LogEntry) -> None:
        with tqdm.external_write_mode():
            on_log(entry)

    return log


def _nonfinite_message(run, iteration: int) -> str:
    """Name the first node (in the order the forward pass ran) whose value, or else gradient, is NaN or inf."""
    advice = "lower training.learning_rate, or check the weights it started from"
    found = nonfinite(run.values) or nonfinite(run.backward(every_node=True), gradients=True)
    return f"training diverged at iteration {iteration}: {found or 'a NaN or inf in the loss or a gradient'}; {advice}"


def predictions(value: Callable[[str], np.ndarray], steps: int) -> np.ndarray:
    """A run's ``y_hat`` over ``steps`` steps, (T, B, outputs), from its ``value(key)``."""
    return np.stack([value(key) for key in over(PREDICTION, steps)])


def _log_entry(task: Task, batch: Batch, values: Callable, iteration: int) -> LogEntry:
    y_hat = predictions(values, batch.x.shape[0])[:, 0]  # (T, outputs), first example
    y = batch.y[:, 0]
    predicted = np.round(y_hat)
    error = 0.0
    for miss in np.abs(y - y_hat).ravel().tolist():  # summed step by step, as the post sums it
        error += miss
    return LogEntry(
        iteration=iteration,
        error=error,
        predicted=[int(b) for b in predicted[::-1, 0]],
        true=[int(b) for b in y[::-1, 0]],
        describe=task.generator.describe(batch, 0, predicted),
        loss=float(values(LOSS)),
    )


@dataclass
class Accuracy:
    correct: int
    total: int
    exhaustive: bool
    bits: int

    @property
    def fraction(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def line(self) -> str:
        which = f"all {self.total}" if self.exhaustive else f"{self.total} random"
        return f"accuracy: {self.fraction:.4f} ({self.correct}/{self.total}) on {which} {self.bits}-bit problems"


def evaluate(
    task: Task, params: Params, *, bits: int | None = None, samples: int = 10000, seed: int = 0, batch: int = EVAL_BATCH,
    forward: Forward | None = None,
) -> Accuracy:
    """Exact-match accuracy (every output bit right): on all problems when they are few, else on random ones.
    ``forward``: what runs the forward passes (:func:`graphnet.app.compiled.evaluate_compiled` gives it one
    compiled with JAX)."""
    bits = bits or task.problem.bits
    problems, exhaustive = problems_to_check(task, bits, samples, seed)
    correct = int(correct_counts(task.build_network(), params, problems, batch, forward=forward))
    return Accuracy(correct, problems.size, exhaustive, bits)


def problems_to_check(task: Task, bits: int | None = None, samples: int = 10000, seed: int = 0) -> tuple[Batch, bool]:
    """The problems an accuracy is measured on: all of them when they are few (True), else random ones."""
    bits = bits or task.problem.bits
    generator = task.generator
    problems = generator.all_problems(bits)
    if problems is not None:
        return checked(generator, problems, "all_problems", bits), True
    return checked(generator, generator.sample(np.random.RandomState(seed), samples, bits), "sample", bits,
                   samples), False


def fixed_sample(task: Task, size: int, seed: int = 0) -> Batch:
    """A fixed sample of ``size`` of the problems an accuracy is measured on (:func:`problems_to_check`),
    drawn with its own ``seed``, whatever the training seed: the same problems at every check of every run."""
    problems, _ = problems_to_check(task)
    order = np.random.RandomState(seed).permutation(problems.size)[:size]
    return Batch(problems.x[:, order], problems.y[:, order])


def correct_counts(network: Network, params: Params, problems: Batch, batch: int, *,
                   forward: Forward | None = None) -> np.ndarray:
    """How many problems the network gets right, every output bit; weights with a member axis in front (networks
    side by side) give one count per member. ``forward``: what runs the programs (see :meth:`Network.predict`)."""
    first = next(iter(params))
    lead = params[first].shape[: params[first].ndim - len(network.parameter_shapes()[first])]
    correct = np.zeros(lead, dtype=np.int64)
    for start in range(0, problems.size, batch):
        x = problems.x[:, start : start + batch]
        y = problems.y[:, start : start + batch]
        if lead:  # every member sees the same problems: a view, not a copy
            x = np.broadcast_to(x[:, None], (x.shape[0], *lead, *x.shape[1:]))
        with np.errstate(over="ignore", invalid="ignore"):  # a prediction that overflows to NaN is simply wrong
            predicted = np.round(network.predict(params, x, forward=forward))
        correct += np.sum(np.all(predicted == y[:, None] if lead else predicted == y, axis=(0, -1)), axis=-1)
    return correct


def add_integers(network: Network, params: Params, a: int, b: int) -> int:
    """The trained network's sum of two non-negative integers of any size (unrolled over as many bits).

    Weights so large that the run overflows give no sum: :class:`~graphnet.errors.NonFiniteError` says where.
    """
    bits = max(a.bit_length(), b.bit_length()) + 1
    problem = get_generator("binary_addition").encode([a], [b], bits)
    predicted = np.empty(bits)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below, in one line
        for start, length, run in network.forward_in_chunks(params, problem.x, functools.partial(over, PREDICTION)):
            lost = nonfinite(run.values)  # a NaN, or an inf an output's sigmoid would hide
            if lost:
                raise NonFiniteError(f"the network's run overflows with these weights ({lost}, counting from bit "
                                     f"{start}): there is no sum to read from it")
            predicted[start : start + length] = [run.value(key)[0, 0] for key in over(PREDICTION, length)]
    return bits_to_int(predicted)
