"""Many networks trained as one: a member axis in front of every weight, input and learning rate.

Networks that differ only in their seed, or in their learning rate, share one graph and its shapes. Side by side
on a new leading *member* axis (weights ``(M, 16, 16)``, inputs ``(M, batch, 2)``), one program trains them all:
each node type's own ``forward`` and ``backward`` computes every member as that member alone (the ``stacking``
rule it declares; a graph with a node type that declares none cannot be trained so), each member draws its
problems from its own random stream, and SGD applies each member's learning rate to it. So member ``i`` is,
number for number, the run :func:`~graphnet.app.training.train` makes with its seed: bit for bit at batch 1 (and,
measured, at the shipped batch sizes too). A member stops when ``until`` says so, at the iteration a run with
the same check would have stopped; the others go on without it.

At these sizes the cost of an iteration is its numpy calls, not their arithmetic: 16 members cost about the
time of 2 or 3 single runs (``python -m benchmarks members``).

Examples
--------
>>> from graphnet import load_task, train
>>> task = load_task("tasks/binary_addition.toml", ["training.iterations=50", "training.log_every=0"])
>>> members = train_members(task, seeds=[0, 1, 2])
>>> [m.iterations for m in members]
[50, 50, 50]
>>> alone = train(load_task("tasks/binary_addition.toml", ["training.iterations=50", "training.seed=2"]))
>>> all((members[2].params[k] == alone.params[k]).all() for k in alone.params)
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..errors import DivergedError, TaskError
from ..rnn.data import Batch
from .tasks import EVAL_BATCH, Task, check_memory, training_bytes
from .training import Accuracy, Networks, Problems, correct_counts, descend, problems_to_check
from .weights import Params


@dataclass
class Member:
    """One network of a :func:`train_members` run, as a run of its own would report it."""

    seed: int
    learning_rate: float
    params: Params  # its weights at the end
    iterations: int  # the updates it made: to the iteration ``until`` stopped it, or all of them
    seconds: float  # its share of the training time: each iteration's time divided among the members it trained
    stopped: bool  # whether ``until`` stopped it before the task's iterations
    diverged: bool = False  # whether its loss or a gradient went NaN or inf (with ``diverged="stop"``)


def train_members(
    task: Task,
    seeds: Sequence[int],
    *,
    learning_rates: Sequence[float] | None = None,
    until: Callable[[int, Params], np.ndarray] | None = None,
    every: int = 100,
    diverged: str = "raise",
) -> list[Member]:
    """Train one network per seed (with its learning rate, default the task's) as the members of one program.

    ``until(done, params)``, called every ``every`` iterations with the members still training (their weights
    stacked on the member axis), returns which of them to stop (a boolean per member). A member whose loss or
    gradient is NaN or inf raises :class:`~graphnet.errors.DivergedError` naming its seed; with
    ``diverged="stop"``, it is stopped there instead (``Member.diverged``, its weights those before the update
    that failed) and the others go on: each member is computed as it alone, so one's NaN is not another's.
    """
    spec, network = task.training, task.build_network()
    rates = check_members(task, seeds, learning_rates, diverged)
    streams, initial = [], []
    for seed in seeds:  # each member's random stream, as a run of its own draws it: its weights, then its problems
        rng = np.random.RandomState(seed)
        initial.append(network.init_parameters(rng))
        streams.append(iter(Problems(task.generator, rng, spec.batch_size, task.problem.bits, spec.iterations)))
    program = network.program(task.problem.bits, batch=spec.batch_size)
    unruled = sorted({op.node.name for op in program.ops if op.node.stacking is None})
    if unruled:  # its methods may not compute each member as it alone: no numbers are better than wrong ones
        raise TaskError(f"{task.source}: node type {unruled[0]!r} declares no stacking rule, so its networks cannot "
                        "train side by side; train them one by one")
    networks = Networks({key: np.stack([p[key] for p in initial]) for key in initial[0]}, rates, streams,
                        side_by_side=True)
    shares = np.zeros(len(seeds))
    finished: dict[int, Member] = {}

    def member(row: int, iterations: int, **how: bool) -> Member:
        m = networks.active[row]
        return Member(seeds[m], rates[m], {k: v[row].copy() for k, v in networks.params.items()}, iterations,
                      float(shares[m]), **how)

    def lost(iteration: int, rows: np.ndarray, batch: Batch) -> None:
        if diverged == "raise":
            raise DivergedError(f"training diverged at iteration {iteration} for the network of seed "
                                f"{seeds[networks.active[np.flatnonzero(rows)[0]]]}: a NaN or inf in its loss or "
                                "a gradient; lower training.learning_rate")
        for row in np.flatnonzero(rows):  # its weights before the update that failed
            finished[networks.active[row]] = member(row, iteration, stopped=False, diverged=True)

    clock = [time.perf_counter()]

    def after_update(iteration: int, batch, run) -> bool:
        now = time.perf_counter()
        shares[networks.active] += (now - clock[0]) / len(networks.active)
        done = iteration + 1
        if until is not None and done % every == 0 and done < spec.iterations:
            stop = np.asarray(until(done, networks.params), dtype=bool)
            for row in np.flatnonzero(stop):
                finished[networks.active[row]] = member(row, done, stopped=True)
            if stop.any():
                networks.leave(stop)
        clock[0] = time.perf_counter()
        return not networks.active

    descend(network, program, networks, range(spec.iterations), diverged=lost, after_update=after_update)
    for row, m in enumerate(networks.active):
        finished[m] = member(row, spec.iterations, stopped=False)
    return [finished[m] for m in range(len(seeds))]


def check_members(task: Task, seeds: Sequence[int], learning_rates: Sequence[float] | None, diverged: str
                  ) -> list[float]:
    """Each member's learning rate (default: the task's), once it is sure that there are as many as seeds, that
    their networks fit in memory together and that ``diverged`` is a way to handle a NaN."""
    rates = [task.training.learning_rate] * len(seeds) if learning_rates is None else list(learning_rates)
    if len(rates) != len(seeds) or not seeds:
        raise TaskError(f"train_members: {len(seeds)} seeds and {len(rates)} learning rates; give one of each")
    if diverged not in ("raise", "stop"):
        raise ValueError(f"diverged={diverged!r}: expected 'raise' or 'stop'")
    check_memory(f"{task.source}: {len(seeds)} networks trained together", len(seeds) * training_bytes(task))
    return rates


def evaluate_members(task: Task, params: Params, *, batch: int | None = None) -> list[Accuracy]:
    """The exact-match accuracy of each member (weights stacked on the member axis), on the task's problems.

    The same problems and the same numbers as :func:`~graphnet.app.training.evaluate` for each member alone:
    all of them when they are few, else the same 10,000 random ones. ``batch``: problems a pass, per member
    (default: ``EVAL_BATCH`` shared among the members, so that a pass's arrays stay as small as one network's).
    """
    problems, exhaustive = problems_to_check(task)
    members = len(next(iter(params.values())))
    counts = correct_counts(task.build_network(), params, problems, batch or max(64, EVAL_BATCH // members))
    return [Accuracy(int(c), problems.size, exhaustive, task.problem.bits) for c in counts]
