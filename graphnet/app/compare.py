"""``graphnet compare``: cells side by side on tasks of growing reach, to see why gated cells exist.

Every contestant (a cell, with an activation: ``sigmoid-rnn``, ``tanh-rnn``, ``lstm``, ``gru``) is trained on
every setting of the task (``--set task.delay=1,2,4,8,16``: the delayed echo, echoing further and further back),
for several seeds and learning rates. For each, two things are measured together: whether it learns (the
exact-match accuracy on the task's problems) and how far back its gradient reaches (:mod:`graphnet.rnn.reach`:
the first lag from which on every part of the recurrent weights' gradient is below a thousandth of the lag-0
part), at the weights it starts from and at those it ends with, on problems of 32 steps (or the setting's, if
longer), so that a gradient has room to fade. A setting's numbers are those of the learning
rate whose seeds score best on average.

Examples
--------
>>> parse_contestant("tanh-rnn")
Contestant(name='tanh-rnn', cell='rnn', activation='tanh')
>>> fixed, axis = parse_axis(["task.delay=1,2,4", "task.bits=9,10,12", "training.iterations=100"])
>>> fixed, axis
(['training.iterations=100'], [('task.delay=1', 'task.bits=9'), ('task.delay=2', 'task.bits=10'), ('task.delay=4', 'task.bits=12')])
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..engine.node import registered_nodes
from ..errors import DivergedError, UsageError
from ..rnn.cells import registered_cells
from ..rnn.reach import split_by_lag, stretch
from .files import write_bytes
from .members import evaluate_members, train_members
from .tasks import load_task

CONTESTANTS = ("sigmoid-rnn", "tanh-rnn", "lstm", "gru")
REACH_PROBLEMS = 32  # random problems the reach is measured on, the same for every network of a setting
# Steps of those problems (the setting's own, if more): long enough for a gradient to fade, whatever the problems
# a network trains on. A network runs on problems of any length.
REACH_STEPS = 32
STRETCH_PROBLEMS = 8  # of the reach's problems, those a state's change per step is measured on (the costlier one)
MAX_RUNS = 10_000  # trained networks in one comparison: more is a typo


@dataclass(frozen=True)
class Contestant:
    """A cell and the activation of its hidden layer ("": the cell's own), named as ``--cells`` names it."""

    name: str
    cell: str
    activation: str

    def overrides(self) -> list[str]:
        """The ``--set`` items that make a task's network this one (its activation: the task's, if it names one)."""
        return [f"network.cell={self.cell}"] + ([f"network.activation={self.activation}"] if self.activation else [])


def parse_contestant(text: str) -> Contestant:
    """``CELL`` (a registered cell, its own activation) or ``ACTIVATION-CELL`` (``tanh-rnn``)."""
    name = text.strip()
    cells = registered_cells()
    if name in cells:
        return Contestant(name, name, "")
    activation, dash, cell = name.partition("-")
    if dash and cell in cells and activation in registered_nodes():
        return Contestant(name, cell, activation)
    raise UsageError(f"--cells {text}: expected a cell ({', '.join(cells)}) or ACTIVATION-CELL such as tanh-rnn")


def parse_axis(items: Sequence[str]) -> tuple[list[str], list[tuple[str, ...]]]:
    """``--set`` items as the overrides every run gets (one value) and the settings compared (several values:
    the lists go together, position by position, so they must be as long as each other)."""
    fixed, lists, given = [], {}, {}
    for item in items:
        key, sep, values = item.partition("=")
        key, listed = key.strip(), [v.strip() for v in values.split(",")]
        if not sep or "." not in key or not any(listed):
            raise UsageError(f"--set {item}: expected SECTION.KEY=VALUE[,VALUE...], e.g. task.delay=1,2,4,8,16")
        if not all(listed):
            raise UsageError(f"--set {item}: an empty value between commas; expected SECTION.KEY=VALUE[,VALUE...]")
        if key in ("network.cell", "network.activation", "training.seed", "training.learning_rate"):
            raise UsageError(f"--set {item}: compare sets {key} itself (--cells, --seeds, --learning-rates)")
        if key in given:
            raise UsageError(f"--set {item}: {key} is given twice (also --set {given[key]}); give its values once")
        given[key] = item
        if len(listed) == 1:
            fixed.append(f"{key}={listed[0]}")
        else:
            lists[key] = listed
    lengths = {len(v) for v in lists.values()}
    if len(lengths) > 1:
        counts = ", ".join(f"{k} {len(v)}" for k, v in lists.items())
        raise UsageError(f"--set: the keys compared go together, one value of each per setting, so they need as many "
                         f"values each; got {counts}")
    if not lists:
        raise UsageError("--set: give the key to compare over with several values, e.g. --set task.delay=1,2,4,8,16")
    axis = list(zip(*[[f"{k}={v}" for v in values] for k, values in lists.items()]))
    twice = next((setting for i, setting in enumerate(axis) if setting in axis[:i]), None)
    if twice:
        raise UsageError(f"--set: the setting {' '.join(twice)} is given twice; give each setting once")
    return fixed, axis


@dataclass(frozen=True)
class Entry:
    """One trained network of a comparison: the contestant, the setting, its learning rate and seed, its
    accuracy (None: it diverged), and at its first weights and at its last ones: its gradient's reach (of
    ``measured`` lags that can have a part; a reach that equals it did not fade within the problems) and the
    factor by which a change of its state shrinks (below 1) or grows (above 1) a step on its way forward
    (:func:`~graphnet.rnn.reach.stretch`)."""

    contestant: str
    setting: str  # "task.delay=8 task.bits=16"
    learning_rate: float
    seed: int
    accuracy: float | None
    reach_start: int
    reach_end: int | None
    measured: int
    stretch_start: float
    stretch_end: float | None

    @property
    def value(self) -> str:
        """The value of the setting's first key: what the figure's axis shows."""
        return self.setting.split(" ")[0].split("=", 1)[1]


COLUMNS = tuple(f.name for f in fields(Entry))


def compare(
    task_path: str | Path,
    contestants: Sequence[Contestant],
    fixed: Sequence[str],
    axis: Sequence[tuple[str, ...]],
    *,
    seeds: int = 3,
    learning_rates: Sequence[float] | None = None,
    on_entries: Callable[[list[Entry]], None] | None = None,
) -> list[Entry]:
    """Train every contestant on every setting of ``axis`` (each with the overrides ``fixed``), for seeds 0 to
    ``seeds - 1`` and each of ``learning_rates`` (default: the task's), and measure each network; see
    :class:`Entry`. The seeds of a learning rate train together (:func:`~graphnet.app.members.train_members`).
    ``on_entries`` is called with the entries of each contestant and setting as they are done."""
    entries: list[Entry] = []
    for setting in axis:
        for contestant in contestants:
            task = load_task(task_path, [*fixed, *contestant.overrides(), *setting])
            network = task.build_network()
            problems = task.generator.sample(np.random.RandomState(0), REACH_PROBLEMS,
                                             max(REACH_STEPS, task.problem.bits))
            few = problems.x[:, :STRETCH_PROBLEMS]
            starts = {}
            for seed in range(seeds):
                first = network.init_parameters(np.random.RandomState(seed))
                split = split_by_lag(network, first, problems)
                starts[seed] = split.reach(), split.measured, stretch(network, first, few)
            done = []
            for rate in learning_rates or [task.training.learning_rate]:
                try:
                    members = train_members(task, list(range(seeds)), learning_rates=[rate] * seeds)
                except DivergedError:  # these seeds at this rate: recorded as such, the comparison goes on
                    done += [Entry(contestant.name, " ".join(setting), rate, seed, None, starts[seed][0], None,
                                   starts[seed][1], starts[seed][2], None) for seed in range(seeds)]
                    continue
                stacked = {k: np.stack([m.params[k] for m in members]) for k in members[0].params}
                for member, accuracy in zip(members, evaluate_members(task, stacked)):
                    end = split_by_lag(network, member.params, problems)
                    reach_start, _, stretch_start = starts[member.seed]
                    done.append(Entry(contestant.name, " ".join(setting), rate, member.seed, accuracy.fraction,
                                      reach_start, end.reach(), end.measured, stretch_start,
                                      stretch(network, member.params, few)))
            entries += done
            if on_entries is not None:
                on_entries(done)
    return entries


def chosen(entries: Sequence[Entry]) -> list[list[Entry]]:
    """For each contestant and setting, in order, the entries of the learning rate whose seeds' mean accuracy is
    highest (a diverged seed counts 0; the first such rate on a tie)."""
    groups: dict[tuple[str, str], dict[float, list[Entry]]] = {}
    for entry in entries:
        groups.setdefault((entry.contestant, entry.setting), {}).setdefault(entry.learning_rate, []).append(entry)
    return [max(rates.values(), key=lambda runs: np.mean([r.accuracy or 0.0 for r in runs]))
            for rates in groups.values()]


def summary(runs: Sequence[Entry]) -> dict:
    """The numbers of one contestant and setting (its chosen learning rate's seeds): mean accuracy, seeds that
    learned every problem, and the median reaches."""
    learned = [r for r in runs if r.accuracy is not None]
    return dict(
        accuracy=float(np.mean([r.accuracy or 0.0 for r in runs])),
        solved=sum(r.accuracy == 1.0 for r in learned),
        diverged=len(runs) - len(learned),
        reach_start=statistics.median(r.reach_start for r in runs),
        reach_end=statistics.median(r.reach_end for r in learned) if learned else None,
        measured=runs[0].measured,
        stretch_start=statistics.median(r.stretch_start for r in runs),
        stretch_end=statistics.median(r.stretch_end for r in learned) if learned else None,
    )


def table(entries: Sequence[Entry]) -> str:
    """A text table, a row per contestant and setting: the chosen learning rate, the mean accuracy and the seeds
    that learned every problem, the median reach ("31+": did not fade) and stretch per step, at the start and
    trained."""
    groups = chosen(entries)
    key = "setting" if not groups else groups[0][0].setting.split(" ")[0].split("=")[0]
    columns = ("learning rate", "accuracy", "solved", "reach: start", "trained", "stretch: start", "trained")
    lines = [f"{'cell':<12}{key:>11}" + "".join(f"{c:>{len(c) + 2}}" for c in columns)]
    for runs in groups:
        s = summary(runs)
        diverged = s["reach_end"] is None
        numbers = (f"{runs[0].learning_rate:g}", f"{s['accuracy']:.3f}", f"{s['solved']}/{len(runs)}",
                   _lags(s["reach_start"], s["measured"]),
                   "diverged" if diverged else _lags(s["reach_end"], s["measured"]),
                   f"{s['stretch_start']:.2f}", "-" if diverged else f"{s['stretch_end']:.2f}")
        lines.append(f"{runs[0].contestant:<12}{runs[0].value:>11}"
                     + "".join(f"{n:>{len(c) + 2}}" for n, c in zip(numbers, columns)))
    return "\n".join(lines)


def _lags(reach: float, measured: int) -> str:
    """A median reach as the table shows it: ``7+`` when it is every lag measured (it did not fade)."""
    text = f"{reach:g}"
    return f"{text}+" if reach >= measured else text


def csv_text(entries: Sequence[Entry]) -> str:
    """Every entry as a CSV row under :data:`COLUMNS` (an accuracy or reach of a diverged run empty)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(["" if v is None else v for v in astuple(entry)] for entry in entries)
    return text.getvalue()


def read_csv(path: str | Path) -> list[Entry]:
    """The entries of a CSV :func:`write_csv` wrote (to draw or tabulate them again without training)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    kinds = {f.name: f.type for f in fields(Entry)}

    def value(name: str, text: str):
        kind = kinds[name].replace(" | None", "")
        if text == "" and "None" in kinds[name]:
            return None
        return {"str": str, "int": int, "float": float}[kind](text)

    return [Entry(**{name: value(name, row[name]) for name in COLUMNS}) for row in rows]


def write_csv(path: str | Path, entries: Sequence[Entry]) -> Path:
    """Write :func:`csv_text` to ``path`` atomically."""
    return write_bytes(path, csv_text(entries).encode())


def check_size(contestants: Sequence[Contestant], axis: Sequence, seeds: int, rates: Sequence[float]) -> None:
    """Refuse, before any work, a comparison of more runs than :data:`MAX_RUNS`."""
    runs = len(contestants) * len(axis) * seeds * max(1, len(rates))
    if runs > MAX_RUNS:
        raise UsageError(f"compare: {runs:,} networks to train (cells x settings x seeds x learning rates); at most "
                         f"{MAX_RUNS:,}")
