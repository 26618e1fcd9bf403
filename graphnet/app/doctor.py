"""``graphnet doctor``: why does my RNN not learn? A network measured beside the post's trained one, and the
likely cause in plain sentences.

A network is measured on random problems of its task (:func:`examine`):

- whether it learns: its accuracy (every bit right) and its loss;
- its units: the share of hidden activations within 1e-3 of their limits (saturated: a sigmoid's slope there
  is below 1e-3, so almost no gradient passes), the share of output bits pinned at the wrong value, and how many
  hidden units differ from every other (units that are copies of one another can never become different);
- its gradient: its size, how far back it reaches (:mod:`graphnet.rnn.reach`) and by what factor a change of
  the state shrinks or grows a step on its way forward;
- the loss's plateau: what the next iterations of the task's own training do to the loss from these weights;
- the task's hidden fact (the carry), read linearly from the state (:mod:`graphnet.app.probe`), where the task
  has one, beside what the step's inputs alone tell.

Each is set beside the same measure at the weights the task's training starts from, and on the post's network
after its 10,000 iterations (the reference: a network that learned). :func:`diagnose` ends with sentences that
name the likely cause: a learning rate far too high, weights that started equal, a gradient that vanishes or
explodes, a plateau, or training that is not done yet.

Examples
--------
>>> from graphnet import load_task
>>> task = load_task("tasks/binary_addition_fast.toml", ["network.init=zeros"])
>>> start = task.build_network().init_parameters(np.random.RandomState(0))
>>> examine(task, start, problems=32, probe_problems=0).distinct    # every unit a copy of the others
1
"""

from __future__ import annotations

import functools
import textwrap
from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np

from ..errors import DivergedError
from ..rnn.data import Batch
from ..rnn.keys import LOSS, PREDICTION, over
from ..rnn.reach import split_by_lag, stretch
from .probe import MIN_PROBLEMS, probe
from .tasks import NetworkSection, ProblemSection, Task, TrainingSection
from .training import evaluate, train
from .weights import Params

PROBLEMS = 256  # random problems a network is measured on
PROBE_PROBLEMS = 1024  # random problems the fact's readouts are fitted and measured on
TRIAL = 500  # iterations of the task's own training that show what training does next
EARLY = 50  # the trial's loss is also measured after this many: a step too large shows at once
SATURATED = 1e-3  # an activation this close to a limit is saturated; an output this close to a wrong bit, pinned
# The limits of the activations whose saturation is measured; a cell's others (relu, ...) are not.
LIMITS = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}
STRETCH_PROBLEMS = 8  # of the problems, those a state's change per step is measured on (the costlier measure)
# What the findings call a change: below this share, the loss is flat; a loss this much above where it was rose.
FLAT, ROSE = 0.02, 0.2
EXPLODES = 1.1  # a state's change per step above this: the gradient explodes going back
FACT_GAIN = 0.05  # a state whose readout of the fact beats the inputs' alone by less than this lacks the fact
WIDTH = 100  # characters a line of the findings takes at most


@dataclass(frozen=True)
class Trial:
    """What ``iterations`` iterations of the task's own training do from some weights, measured on the same fixed
    problems as the rest: the mean loss before, after the first :data:`EARLY` iterations and at the end, and the
    iteration training diverged at (a NaN or inf), if it did."""

    iterations: int
    before: float
    early: float
    after: float
    diverged: int | None = None

    @property
    def change(self) -> float:
        """The relative change of the loss from before to the end."""
        return self.after / self.before - 1 if self.before else 0.0

    def words(self) -> str:
        if self.diverged is not None:
            return f"NaN at iteration {self.diverged}"
        return f"{self.before:.3g} to {self.after:.3g} ({self.change:+.0%})"


@dataclass(frozen=True)
class Measures:
    """One network measured on random problems of its task; see the module's docstring."""

    accuracy: float
    loss: float  # the mean of the task's loss over the problems
    saturated: float | None  # None: the cell has no activation whose limits are known
    pinned: float  # the share of output bits within SATURATED of the wrong bit
    distinct: int  # hidden units that are not copies of another
    units: int
    largest: float  # the largest |weight|
    gradient: float  # the size (Frobenius norm) of the whole gradient of the loss, every weight together
    reach: int
    measured: int  # lags that can have a part: a reach that equals it did not fade
    stretch: float  # ‖∂h_t/∂h_{t-k}‖ ** (1 / k): a change of the state per step forward
    trial: Trial
    fact: str = ""  # the task's hidden fact, if it has one, and how well a line reads it from the state
    fact_from_state: float | None = None  # (from h[t], or h[t] and c[t]) and from the step's inputs alone
    fact_from_inputs: float | None = None

    def reach_words(self) -> str:
        if not np.isfinite(self.loss):
            return "-"
        if not self.measured:
            return "none: no gradient"
        return f"{self.reach}+" if self.reach >= self.measured else str(self.reach)


@dataclass(frozen=True)
class Finding:
    """A likely cause (or "learns"), named by ``cause`` (a word tests and scripts can read), in a sentence."""

    cause: str  # "learns", "learning_rate", "symmetry", "vanishing", "exploding", "plateau", "unfinished"
    sentence: str


@dataclass(frozen=True)
class Report:
    """A network's measures (``yours``) beside those at its task's first weights (``start``) and the post's
    trained network's (``reference``), and the findings, the likeliest first."""

    task: Task
    yours: Measures
    start: Measures
    reference: Measures
    findings: tuple[Finding, ...]

    @property
    def cause(self) -> str:
        """The likeliest cause: the first finding's."""
        return self.findings[0].cause

    def lines(self) -> list[str]:
        """The table of measures, then the findings, a sentence each."""
        columns = [self.yours, self.start, self.reference]
        heads = ("yours", "at its start", "the post's, trained")
        fact = self.yours.fact or "its fact"
        rows = [
            ("accuracy (every bit right)", [f"{m.accuracy:.3f}" for m in columns]),
            ("loss per problem", [f"{m.loss:.3g}" for m in columns]),
            ("hidden activations saturated", [_share(m.saturated) for m in columns]),
            ("output bits pinned wrong", [_share(m.pinned) for m in columns]),
            ("distinct hidden units", [f"{m.distinct} of {m.units}" for m in columns]),
            ("largest |weight|", [f"{m.largest:.3g}" for m in columns]),
            ("gradient's size", [f"{m.gradient:.2g}" for m in columns]),
            ("gradient's reach (lags)", [m.reach_words() for m in columns]),
            ("a state's change per step", [f"x{m.stretch:.2f}" for m in columns]),
            (f"loss over {TRIAL} more iterations", [m.trial.words() for m in columns]),
            (f"{fact} read from the state", [_fact(m) for m in columns]),
        ]
        width = max(len(name) for name, _ in rows) + 2
        sizes = [max(len(h), *(len(r[1][i]) for r in rows)) + 2 for i, h in enumerate(heads)]
        lines = [" " * width + "".join(f"{h:>{s}}" for h, s in zip(heads, sizes))]
        lines += [f"{name:<{width}}" + "".join(f"{v:>{s}}" for v, s in zip(values, sizes)) for name, values in rows]
        lines.append("")
        for i, finding in enumerate(self.findings):
            lines += textwrap.wrap(f"{'likely cause' if i == 0 else 'also'}: {finding.sentence}", WIDTH,
                                   subsequent_indent="  ")
        return lines


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}" if value >= 0.01 or value == 0 else f"{value:.1%}"


def _fact(m: Measures) -> str:
    if m.fact_from_state is None:
        return "-"
    return f"{m.fact_from_state:.2f} (x[t]: {m.fact_from_inputs:.2f})"


# -- measuring --------------------------------------------------------------------------------------------------
def examine(task: Task, params: Mapping[str, np.ndarray], *, problems: int = PROBLEMS, seed: int = 0,
            probe_problems: int = PROBE_PROBLEMS, trial: int = TRIAL) -> Measures:
    """Measure ``params`` of ``task``'s network on ``problems`` random problems drawn with ``seed``; the trial is
    ``trial`` iterations of the task's own training from ``params``; the fact is probed on ``probe_problems``
    (0: not probed)."""
    network = task.build_network()
    steps = task.problem.bits
    batch = task.generator.sample(np.random.RandomState(seed), problems, steps)
    graph = network.graph(steps)
    with np.errstate(all="ignore"):  # weights that overflow are measured too: their loss is NaN or inf
        run = graph.compile().forward(network.feeds(batch.x, batch.y), params)
        grads = run.backward()
    hidden = np.stack([run.value(key) for key in over(network.cell.states[0], steps)])  # (T, B, hidden)
    predicted = np.stack([run.value(key) for key in over(PREDICTION, steps)])
    finite = all(np.all(np.isfinite(v)) for v in run.values.values())
    reach = measured = 0
    stretched = float("nan")
    if finite:  # a gradient to split, and states to move
        split = split_by_lag(network, params, batch)
        reach, measured = split.reach(), split.measured
        stretched = stretch(network, params, batch.x[:, :STRETCH_PROBLEMS])
    fact = {}
    if finite and task.generator.fact and probe_problems >= MIN_PROBLEMS:
        probed = probe(task, params, problems=probe_problems, seed=seed)
        fact = dict(fact=task.generator.fact, fact_from_state=probed.accuracy,
                    fact_from_inputs=probed.baseline_accuracy)
    with np.errstate(all="ignore"):
        accuracy = evaluate(task, params).fraction
    return Measures(
        accuracy=accuracy,
        loss=float(run.value(LOSS)),
        saturated=_saturation(graph, run.values),
        pinned=float(np.mean(np.abs(predicted - batch.y) > 1 - SATURATED)),
        distinct=len(np.unique(np.round(hidden.reshape(-1, hidden.shape[-1]).T, 9), axis=0)),
        units=network.hidden,
        largest=max(float(np.max(np.abs(w))) for w in params.values()),
        gradient=float(np.sqrt(sum(np.sum(g**2) for g in grads.values()))),
        reach=reach,
        measured=measured,
        stretch=stretched,
        trial=_trial(task, params, batch, trial),
        **fact,
    )


def _saturation(graph, values: Mapping[str, np.ndarray]) -> float | None:
    """The share of the cell's activations (of a step, not the output) within SATURATED of their limits."""
    near, count = 0, 0
    for key in graph.keys():
        node = graph.node(key)
        limits = LIMITS.get(node["op"])
        if limits is None or node.get("t") is None or node.get("kind") == "output":
            continue
        value = values[key]
        near += int(np.sum((value - limits[0] < SATURATED) | (limits[1] - value < SATURATED)))
        count += value.size
    return near / count if count else None


def _trial(task: Task, params: Mapping[str, np.ndarray], batch: Batch, iterations: int) -> Trial:
    """Train ``iterations`` iterations as the task says, from ``params``, and measure the loss on ``batch``
    before, after :data:`EARLY` iterations and at the end."""
    network = task.build_network()
    program = network.graph(task.problem.bits).compile([LOSS], wrt=())
    feeds = network.feeds(batch.x, batch.y)

    def loss(weights: Mapping[str, np.ndarray]) -> float:
        return float(program.forward(feeds, weights).value(LOSS))

    early, done = [], [0]

    def after_update(iteration: int, weights: Params, _random_state) -> bool:
        done[0] = iteration
        if iteration == min(EARLY, iterations):
            early.append(loss(weights))
        return False

    short = replace(task, training=replace(task.training, iterations=iterations, log_every=0))
    with np.errstate(all="ignore"):  # weights that overflow: a NaN, which says so
        before = loss(params)
        try:
            trained = train(short, params=dict(params), after_update=after_update)
        except DivergedError:  # at the iteration after the last one done
            return Trial(iterations, before, early[0] if early else np.nan, np.nan, done[0])
        return Trial(iterations, before, early[0] if early else before, loss(trained.params))


# -- the reference ----------------------------------------------------------------------------------------------
def post_task() -> Task:
    """The post's network and training run, as ``tasks/binary_addition.toml`` describes it."""
    return Task("the post's network", ProblemSection("binary_addition", 8),
                NetworkSection("rnn", 2, 16, 1, "", "squared_error"), TrainingSection(0.1, 10_000, 1, 0, 0))


@functools.lru_cache(maxsize=1)
def reference(problems: int = PROBLEMS, seed: int = 0) -> Measures:
    """The post's network after its 10,000 iterations, measured: what a network that learned looks like (trained
    once a process, about 2 s)."""
    task = post_task()
    return examine(task, train(task).params, problems=problems, seed=seed)


# -- the diagnosis ----------------------------------------------------------------------------------------------
def diagnose(task: Task, params: Params, *, problems: int = PROBLEMS, seed: int = 0) -> Report:
    """Measure ``params`` beside the task's first weights and the post's trained network, and find the likely
    cause of what does not learn."""
    network = task.build_network()
    start = network.init_parameters(np.random.RandomState(task.training.seed))
    yours = examine(task, params, problems=problems, seed=seed)
    begun = examine(task, start, problems=problems, seed=seed)
    ref = reference(problems, seed)
    return Report(task, yours, begun, ref, tuple(findings(task, yours, begun, ref)))


def findings(task: Task, yours: Measures, start: Measures, reference: Measures) -> list[Finding]:
    """The likely causes, the likeliest first; "learns" alone when every problem is right."""
    rate = task.training.learning_rate
    if yours.accuracy == 1.0:
        return [Finding("learns", "none: it gets every problem right, as the post's network does. Nothing to fix.")]
    found = []
    settings = f"training.learning_rate = {rate:g}"
    if not np.isfinite(yours.loss):
        found.append(Finding("learning_rate", f"the network's numbers overflow: its loss is {yours.loss}, the "
                             f"largest weight {yours.largest:.3g}. Weights that large come from steps far too big: "
                             f"lower the learning rate ({settings}), by 10 times at a time."))
    elif yours.trial.diverged is not None or start.trial.diverged is not None:
        where = "from these weights" if yours.trial.diverged is not None else "from the weights it starts from"
        found.append(Finding("learning_rate", f"the learning rate is far too high: {where}, training gives a NaN "
                             f"within {TRIAL} iterations ({settings}); lower it, by 10 times at a time."))
    if yours.units > 1 and yours.distinct == 1:
        why = ("its weights started all equal (network.init = 'zeros')" if start.distinct == 1
               else "they became equal")
        found.append(Finding("symmetry", f"the {yours.units} hidden units are copies of one another: every unit "
                             f"computes what every other does, so the network has in effect one. They get equal "
                             f"updates and stay equal forever, because {why}; start from random weights "
                             f"(network.init = 'uniform', the post's)."))
    no_gradient = yours.gradient < 1e-3 * reference.gradient
    stuck = (yours.saturated or 0) > 0.5 or yours.pinned > 0.1 or no_gradient
    rose = start.trial.early > start.loss * (1 + ROSE)
    grew = yours.largest > 2 * max(reference.largest, start.largest)
    if stuck and (rose or grew):
        detail = []
        if (yours.saturated or 0) > 0.5:
            detail.append(f"{_share(yours.saturated)} of the hidden activations are within {SATURATED:g} of their "
                          f"limits (the post's: {_share(reference.saturated)}), where their slope, and so the "
                          f"gradient through them, is almost 0")
        if yours.pinned > 0.1:
            detail.append(f"{_share(yours.pinned)} of the output bits are pinned at the wrong value")
        if no_gradient:
            detail.append(f"the gradient is {yours.gradient:.2g} (the post's: {reference.gradient:.2g})")
        evidence = []
        if rose:
            evidence.append(f"from the weights it starts from, {EARLY} iterations take the loss from {start.loss:.3g} "
                            f"up to {start.trial.early:.3g}")
        if grew:
            evidence.append(f"the weights grew to {yours.largest:.3g} (at the start {start.largest:.3g}, the post's "
                            f"{reference.largest:.3g})")
        if start.stretch > EXPLODES:
            evidence.append(f"at its first weights the gradient explodes (a change of the state grows "
                            f"x{start.stretch:.2f} a step), which makes the first steps larger still")
        found.append(Finding("learning_rate", f"the learning rate is far too high ({settings}): its steps threw the "
                             f"network into saturation: {'; '.join(detail)}. {_capital('; '.join(evidence))}. Lower "
                             f"the learning rate, by 10 times at a time."))
    elif yours.trial.change > ROSE:
        found.append(Finding("learning_rate", f"the loss rises as training goes on (from {yours.trial.words()} over "
                             f"{TRIAL} iterations): the learning rate is too high ({settings}); lower it."))
    fact_missing = (yours.fact_from_state is not None and yours.fact_from_state - yours.fact_from_inputs < FACT_GAIN
                    and yours.fact_from_state < 0.99)
    if yours.measured and yours.reach < yours.measured and (fact_missing or yours.reach < 3):
        lags = f"{yours.reach} lag{'s' if yours.reach != 1 else ''}"
        found.append(Finding("vanishing", f"the gradient vanishes: it reaches {lags} back (from lag {yours.reach} "
                             f"on, each part is below 1e-3 of lag 0's; a change of the state shrinks "
                             f"x{yours.stretch:.2f} a step), so an error cannot teach the steps further back"
                             + (f", and the task's fact, {yours.fact}, is not in the state" if fact_missing else "")
                             + ". A gated cell (network.cell = 'lstm' or 'gru') keeps its gradient."))
    if yours.stretch > EXPLODES and fact_missing:
        found.append(Finding("exploding", f"a change of the state grows x{yours.stretch:.2f} a step on its way "
                             f"forward, so the gradient from far steps outweighs the near ones (it explodes), and "
                             f"the task's fact, {yours.fact}, is not in the state; a smaller learning rate or a "
                             "gated cell (network.cell = 'lstm' or 'gru') tames it."))
    trial = yours.trial
    if trial.diverged is None and abs(trial.change) < FLAT:
        if found:  # what was found already keeps it there
            found.append(Finding("plateau", f"the loss is on a plateau, as the above explains: {TRIAL} more "
                                 f"iterations of its training move it {trial.words()}."))
        else:
            found.append(Finding("plateau", f"the loss is on a plateau: {TRIAL} more iterations of its training move "
                                 f"it {trial.words()}. Try another seed (training.seed), more hidden units "
                                 f"(network.hidden) or a larger learning rate."))
    elif trial.diverged is None and trial.change < -FLAT:
        found.append(Finding("unfinished", f"it is still learning: {TRIAL} more iterations take the loss from "
                             f"{trial.words()}; train longer (training.iterations = "
                             f"{task.training.iterations:,} now)."))
    return found or [Finding("unknown", "no measure stands out; compare them with the post's column above.")]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
