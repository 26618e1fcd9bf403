"""Probing the hidden layer: does a trained network's state hold the hidden fact of its task?

The post says of binary addition that the hidden layer "will have to remember whether or not we carry". A
probe asks the trained network itself. It runs random problems forward (the engine's own program), reads the
state every step passes on (``h[t]``; ``h[t]`` and ``c[t]`` for an LSTM) and fits a linear readout of the
task's hidden fact (:attr:`Generator.fact <graphnet.rnn.data.Generator.fact>`, the carry for addition) from it
on 75 % of the problems, every step pooled. Its accuracy on the steps of the other 25 % says whether the fact
is in the state, linearly. Beside it, a readout fitted the same way from the step's inputs ``x[t]`` alone says
how much of the fact those give away (for addition, the carry out of a step whose bits are both 1 or both 0).

A readout is a logistic regression (a softmax one for a fact of more than two values) fitted by Newton's
method with a small L2 ridge, in plain numpy: the same problems and seed give the same numbers.

Examples
--------
>>> from graphnet import load_task
>>> task = load_task("tasks/binary_addition.toml")
>>> untrained = task.build_network().init_parameters(np.random.RandomState(0))
>>> result = probe(task, untrained, problems=256)
>>> result.fact, result.source, result.held_out_steps
('carry', 'h[t]', 512)
>>> print(result.lines()[-1])  # an untrained network: a random recurrent layer holds some of the carry
carry: linear readout from h[t] 0.936 on 512 held-out steps (this step's inputs alone: 0.865)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import TaskError, UsageError
from ..rnn.data import Batch, Generator, checked
from .figures import check_figure_path, new_figure, save_figure
from .tasks import EVAL_BATCH, Task, check_memory
from .weights import Params

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PROBLEMS = 4096  # random problems drawn, unless told otherwise (graphnet probe --problems)
FIT_SHARE = 0.75  # of them, the share the readouts are fitted on; the steps of the rest measure them
MIN_PROBLEMS = 16  # so that at least 4 problems are held out
MAX_PROBLEMS = 1_000_000
MAX_VALUES = 16  # a fact takes at most this many values (0 to 15)
RIDGE = 1e-3  # L2 penalty on the readout's weights (features standardized), per fitted step's mean loss
NEWTON_STEPS = 50  # at most; a fit stops when a step changes no weight by more than 1e-9
# Newton's method costs about (fitted steps) x (state width)^2 per iteration: past this, minutes.
MAX_FIT_WORK = 20_000_000_000
PLOT_POINTS = 1000  # held-out states drawn at most, spread over every step: more only hide each other


@dataclass(frozen=True)
class Readout:
    """A linear readout of a fact from features: value = argmax([0, standardized(features) @ weights + bias]).

    ``mean`` and ``scale`` standardize each feature as in the fitted data; ``weights`` (features, values - 1)
    and ``bias`` (values - 1,) score each value but 0 against value 0.
    """

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: np.ndarray

    def predict(self, features: np.ndarray) -> np.ndarray:
        """The value the readout reads from each row of ``features`` (n, features): (n,) integers."""
        scores = ((features - self.mean) / self.scale) @ self.weights + self.bias
        return np.argmax(np.concatenate([np.zeros((len(features), 1)), scores], axis=1), axis=1)

    def in_feature_units(self) -> tuple[np.ndarray, np.ndarray]:
        """The weights and bias on the features as they are, not standardized: the same scores."""
        weights = self.weights / self.scale[:, None]
        return weights, self.bias - self.mean @ weights


def fit_readout(features: np.ndarray, values: np.ndarray, *, ridge: float = RIDGE) -> Readout:
    """The logistic (softmax, past two values) regression of ``values`` (n,) integers from 0 on ``features``
    (n, features), by Newton's method with an L2 ``ridge`` on the standardized features' weights and bias.

    Examples
    --------
    >>> x = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> fit_readout(x, np.array([0, 0, 1, 1])).predict(x)
    array([0, 0, 1, 1])
    """
    n, width = features.shape
    others = max(int(values.max()) + 1, 1) - 1  # values scored against value 0
    mean, scale = features.mean(axis=0), features.std(axis=0)
    scale[scale < 1e-12] = 1.0  # a feature that never changes: kept as it is (its weight stays 0)
    z = np.concatenate([(features - mean) / scale, np.ones((n, 1))], axis=1)  # the bias is the last weight
    chosen = (values[:, None] == np.arange(1, others + 1)).astype(np.float64)  # (n, others), one-hot
    theta = np.zeros((width + 1, others))

    def objective(theta: np.ndarray) -> float:  # the mean cross-entropy plus the ridge
        scores = np.concatenate([np.zeros((n, 1)), z @ theta], axis=1)
        top = scores.max(axis=1)
        log_total = top + np.log(np.exp(scores - top[:, None]).sum(axis=1))
        return float(np.mean(log_total - (scores[:, 1:] * chosen).sum(axis=1)) + ridge / 2 * np.sum(theta**2))

    current = objective(theta)
    for _ in range(NEWTON_STEPS if others else 0):
        scores = np.concatenate([np.zeros((n, 1)), z @ theta], axis=1)
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        p = p[:, 1:] / p.sum(axis=1, keepdims=True)  # (n, others): the probability of each value but 0
        gradient = z.T @ (p - chosen) / n + ridge * theta
        hessian = np.empty((others, width + 1, others, width + 1))
        for a in range(others):
            for b in range(others):
                w = p[:, a] * ((a == b) - p[:, b])
                hessian[a, :, b, :] = z.T @ (w[:, None] * z) / n
        size = others * (width + 1)
        hessian = hessian.reshape(size, size) + ridge * np.eye(size)
        step = np.linalg.solve(hessian, gradient.T.ravel()).reshape(others, width + 1).T
        # Newton's full step can overshoot where the loss is far from quadratic: halve it until it helps.
        for _ in range(30):
            tried = objective(theta - step)
            if tried <= current:
                break
            step = step / 2
        theta, current = theta - step, tried
        if np.max(np.abs(step)) < 1e-9:
            break
    return Readout(mean, scale, theta[:-1], theta[-1])


@dataclass(frozen=True)
class ProbeResult:
    """What a probe found: the fact's readout from the state and from the inputs alone, on held-out steps.

    ``states`` (T, held-out problems, width) and ``facts`` (T, held-out problems) are the held-out steps the
    accuracies are measured on; ``readout`` reads the fact from a state (its rows), ``baseline`` from a step's
    inputs.
    """

    fact: str  # the fact's name: "carry"
    read: tuple[str, ...]  # the states read at every step: ("h",), ("h", "c") for an LSTM
    fitted_problems: int
    states: np.ndarray
    inputs: np.ndarray  # (T, held-out problems, inputs)
    facts: np.ndarray
    readout: Readout
    baseline: Readout

    @property
    def source(self) -> str:
        """What the readout reads, as a key of every step: ``h[t]``, or ``h[t] and c[t]``."""
        return " and ".join(f"{s}[t]" for s in self.read)

    @property
    def held_out_steps(self) -> int:
        return self.facts.size

    def step_accuracy(self) -> np.ndarray:
        """(T,) the fraction of each step's held-out problems whose fact the state's readout reads right."""
        return np.mean(self.readout.predict(_rows(self.states)).reshape(self.facts.shape) == self.facts, axis=1)

    def step_baseline(self) -> np.ndarray:
        """(T,) the same for the readout from the step's inputs alone."""
        return np.mean(self.baseline.predict(_rows(self.inputs)).reshape(self.facts.shape) == self.facts, axis=1)

    @property
    def accuracy(self) -> float:
        """The fraction of every held-out step whose fact the state's readout reads right."""
        return float(np.mean(self.step_accuracy()))

    @property
    def baseline_accuracy(self) -> float:
        """The same for the readout from the step's inputs alone."""
        return float(np.mean(self.step_baseline()))

    def lines(self) -> list[str]:
        """A table of the accuracies step by step (and the share of the commonest value, what always guessing
        it would score), then the verdict in one line."""
        commonest = [np.bincount(row).max() / len(row) for row in self.facts]
        columns = [f"from {self.source}", "from x[t] alone", "commonest value"]
        lines = ["step  " + "  ".join(columns)]
        for t, row in enumerate(zip(self.step_accuracy(), self.step_baseline(), commonest)):
            lines.append(f"{t:>4}  " + "  ".join(f"{number:>{len(column)}.3f}" for number, column in zip(row, columns)))
        lines.append(f"{self.fact}: linear readout from {self.source} {self.accuracy:.3f} on {self.held_out_steps} "
                     f"held-out steps (this step's inputs alone: {self.baseline_accuracy:.3f})")
        return lines


def _rows(steps: np.ndarray) -> np.ndarray:
    """(T, B, width) as (T * B, width): every step of every problem a row, step 0's problems first."""
    return steps.reshape(-1, steps.shape[-1])


def check_probe(task: Task, problems: int = PROBLEMS, *, option: str = "problems") -> None:
    """Refuse, before any work, a task whose generator names no hidden fact, or a number of ``problems`` out of
    range, or one that would take more memory or time than is sensible (``option`` names it in the message)."""
    generator = task.generator
    if not generator.fact:
        raise TaskError(f"{task.source}: the {generator.name or type(generator).__name__} generator names no hidden "
                        "fact to probe for (a generator declares one with `fact` and `fact_values`, see "
                        "docs/extending.md)")
    if not MIN_PROBLEMS <= problems <= MAX_PROBLEMS:
        raise UsageError(f"{option}: expected an integer from {MIN_PROBLEMS} to {MAX_PROBLEMS:,} (a quarter of them "
                         f"held out), got {problems}")
    n, bits = task.network, task.problem.bits
    width = n.hidden * len(task.build_network().cell.states)
    fitted_steps = round(problems * FIT_SHARE) * bits
    what = f"{option} {problems:,} of {task.source}'s {bits}-bit problems (state width {width})"
    # The states, their standardized copy and a weighted one for the Hessian, the inputs, and one batch's run.
    check_memory(what, problems * bits * (3 * (width + 1) + n.inputs + 2) * 8 + min(bits, 256) * EVAL_BATCH
                 * 8 * width * 8)
    if fitted_steps * (width + 1) ** 2 > MAX_FIT_WORK:
        raise UsageError(f"{what}: fitting a readout to {fitted_steps:,} states of {width} numbers is too much work "
                         "to wait for; give fewer problems")


def probe(task: Task, params: Params, *, problems: int = PROBLEMS, seed: int = 0) -> ProbeResult:
    """Fit linear readouts of the task's hidden fact from the state each step passes on, and from the step's
    inputs alone, on the first 75 % of ``problems`` random problems (drawn with ``seed``); measure them on the
    steps of the rest.

    Raises :class:`~graphnet.errors.TaskError` when the task's generator names no fact, and
    :class:`~graphnet.errors.UsageError` for a number of problems out of range (:func:`check_probe`).
    """
    check_probe(task, problems)
    network, generator = task.build_network(), task.generator
    batch = checked(generator, generator.sample(np.random.RandomState(seed), problems, task.problem.bits), "sample",
                    task.problem.bits, problems)
    facts = _fact_values(generator, batch, task.source)
    # The batch runs in parts, as evaluation does: one forward pass keeps every node of every step.
    states = np.concatenate([network.states(params, batch.x[:, i : i + EVAL_BATCH])
                             for i in range(0, problems, EVAL_BATCH)], axis=1)
    fitted = round(problems * FIT_SHARE)
    return ProbeResult(
        fact=generator.fact,
        read=tuple(network.cell.states),
        fitted_problems=fitted,
        states=states[:, fitted:],
        inputs=batch.x[:, fitted:],
        facts=facts[:, fitted:],
        readout=fit_readout(_rows(states[:, :fitted]), facts[:, :fitted].ravel()),
        baseline=fit_readout(_rows(batch.x[:, :fitted]), facts[:, :fitted].ravel()),
    )


def _fact_values(generator: Generator, batch: Batch, source: object) -> np.ndarray:
    """The generator's facts for ``batch``, checked: a generator of a plugin may get them wrong."""
    name = generator.name or type(generator).__name__
    try:
        facts = np.asarray(generator.fact_values(batch))
    except NotImplementedError:
        raise TaskError(f"{source}: the {name} generator names the fact {generator.fact!r} but gives no "
                        "fact_values(batch) for it") from None
    expected = batch.x.shape[:2]
    whole = facts.dtype.kind in "iub" or facts.dtype.kind == "f" and np.all(facts == np.round(facts))
    if facts.shape != expected or not whole:
        raise TaskError(f"{source}: the {name} generator's fact_values gave {facts.dtype} {facts.shape}, "
                        f"expected whole numbers of shape (steps, problems) = {expected}")
    facts = facts.astype(np.int64)
    if facts.min() < 0 or facts.max() >= MAX_VALUES:
        raise TaskError(f"{source}: the {name} generator's fact_values gave values from {facts.min()} to "
                        f"{facts.max()}, expected 0 to {MAX_VALUES - 1}")
    return facts


# -- the picture ------------------------------------------------------------------------------------------------
def check_plot_path(path: str | Path, option: str = "--plot") -> None:
    """Refuse, before any work, a picture of an unknown format, or any picture without matplotlib."""
    check_figure_path(path, option, instead="leave out --plot (the numbers need nothing)")


def probe_figure(result: ProbeResult, *, title: str | None = None) -> Figure:
    """The held-out states projected on their two principal components (PCA by SVD), each a dot coloured by
    its fact's value. For a fact of two values, the readout's boundary is drawn there when that plane shows it
    (when its line there sorts at least 95 % of the dots as the readout does), and a second panel shows what
    the readout sees: its score (the log-odds of value 1) of every held-out state, by the fact's value, the
    boundary at 0. ``title`` (the task) heads it, with the accuracies. Needs matplotlib."""
    two_values = result.readout.weights.shape[1] == 1
    figure = new_figure(11.6 if two_values else 7.0, 5.6)
    panels = figure.subplots(1, 2) if two_values else [figure.subplots()]
    _draw_principal_plane(panels[0], result)
    if two_values:
        _draw_scores(panels[1], result)
    heading = f"{title}: " if title else ""
    figure.suptitle(f"{heading}is the {result.fact} in {result.source}?\nlinear readout from {result.source}: "
                    f"{result.accuracy:.3f} of {result.held_out_steps:,} held-out steps; from x[t] alone: "
                    f"{result.baseline_accuracy:.3f}", fontsize=10)
    figure.tight_layout()
    return figure


def _draw_principal_plane(ax, result: ProbeResult) -> None:
    everything = _rows(result.states)
    centre = everything.mean(axis=0)
    _, spread, axes_t = np.linalg.svd(everything - centre, full_matrices=False)
    axes = np.zeros((2, everything.shape[1]))
    axes[: len(axes_t[:2])] = axes_t[:2]  # a state of one number has one axis; the second stays 0
    for axis in axes:  # an axis has two directions: the one whose largest entry is positive, on every machine
        axis *= -1 if axis[np.argmax(np.abs(axis))] < 0 else 1
    variance = np.zeros(2)
    variance[: len(spread[:2])] = spread[:2] ** 2 / max(np.sum(spread**2), 1e-300)
    shown = np.linspace(0, len(everything) - 1, min(PLOT_POINTS, len(everything))).astype(int)
    points = (everything[shown] - centre) @ axes.T
    values = result.facts.ravel()[shown]
    for value in np.unique(values):
        mine = values == value
        ax.scatter(points[mine, 0], points[mine, 1], s=12, alpha=0.35, color=f"C{value % 10}", linewidths=0,
                   label=f"{result.fact} = {value}")
    if result.readout.weights.shape[1] == 1:  # two values: one boundary, a line if the plane holds it
        weights, bias = result.readout.in_feature_units()
        normal, offset = axes @ weights[:, 0], float(centre @ weights[:, 0] + bias[0])
        in_plane = (points @ normal + offset > 0).astype(int)
        if np.any(normal) and np.mean(in_plane == result.readout.predict(everything[shown])) >= 0.95:
            foot = -offset * normal / (normal @ normal)
            ax.axline(tuple(foot), tuple(foot + [-normal[1], normal[0]]), color="0.25", linestyle="--",
                      linewidth=1, label="the readout's boundary")
        else:
            ax.text(0.02, 0.02, "the readout's boundary is not in this plane", transform=ax.transAxes,
                    fontsize=8, color="0.35")
    ax.set_xlabel(f"principal component 1 ({variance[0]:.0%} of the variance)")
    ax.set_ylabel(f"principal component 2 ({variance[1]:.0%} of the variance)")
    ax.set_title(f"{result.source} of {len(shown):,} held-out steps, by their two principal components", fontsize=9)
    _legend(ax)
    ax.grid(True, alpha=0.3)


def _draw_scores(ax, result: ProbeResult) -> None:
    weights, bias = result.readout.in_feature_units()
    scores = _rows(result.states) @ weights[:, 0] + bias[0]
    values = result.facts.ravel()
    edges = np.histogram_bin_edges(scores, bins=60)
    for value in np.unique(values):
        ax.hist(scores[values == value], bins=edges, color=f"C{value % 10}", alpha=0.6,
                label=f"{result.fact} = {value}")
    ax.axvline(0, color="0.25", linestyle="--", linewidth=1, label="the readout's boundary")
    ax.set_xlabel(f"the readout's score of {result.source} (log-odds of {result.fact} = 1)")
    ax.set_ylabel("held-out steps")
    ax.set_title(f"what the readout reads, all {result.held_out_steps:,} held-out steps", fontsize=9)
    _legend(ax)
    ax.grid(True, alpha=0.3)


def _legend(ax) -> None:
    legend = ax.legend(loc="best", fontsize=8)
    for handle in legend.legend_handles:  # the faint dots are for overlaps; the legend shows the colours
        handle.set_alpha(1)


def write_probe_plot(path: str | Path, result: ProbeResult, *, title: str | None = None) -> Path:
    """Write :func:`probe_figure` to ``path`` (``.svg``, ``.png``) atomically."""
    check_plot_path(path, "plot")
    return save_figure(probe_figure(result, title=title), path)
