"""Checkpoints: the weights, the iteration and the random state of a training run, in one atomic ``.npz``.

A checkpoint is a weights file with a few more keys (all named ``checkpoint_...``), so ``eval``, ``add`` and
``render`` read it like any weights file. It is written as :func:`graphnet.app.weights.save_weights` writes:
a temporary file in the same folder, flushed, fsynced, then renamed, so a kill at any moment leaves either the
previous checkpoint or the new one, never half of one.

Resuming restores the weights and the ``numpy.random.RandomState`` exactly, so a resumed run ends with the
same bits as an uninterrupted one.

Examples
--------
>>> import tempfile, os
>>> from graphnet import load_task, train
>>> task = load_task("tasks/binary_addition.toml", ["training.iterations=20", "training.log_every=0"])
>>> part = train(load_task("tasks/binary_addition.toml", ["training.iterations=8", "training.log_every=0"]))
>>> path = os.path.join(tempfile.mkdtemp(), "run.npz")
>>> save_checkpoint(path, task, part.params, part.iterations, part.rng_state)
>>> state = load_checkpoint(path, task)
>>> resumed = train(task, params=state.params, start=state.iteration, rng_state=state.rng_state)
>>> all((resumed.params[k] == train(task).params[k]).all() for k in resumed.params)
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import WeightsError
from .tasks import Task
from .weights import CHECKPOINT_PREFIX, Params, load_weights, save_weights

# Task keys that may change between a checkpoint and its resumption without changing the run's numbers.
RESUMABLE_CHANGES = {("training", "iterations"), ("training", "log_every")}


@dataclass
class Checkpoint:
    """What a resumed run needs: the weights after ``iteration`` updates and the random stream at that point."""

    params: Params
    iteration: int
    rng_state: tuple


def _key(name: str) -> str:
    return CHECKPOINT_PREFIX + name


def _run_settings(task: Task) -> dict:
    """The task's settings that fix a run's numbers (everything but the keys in RESUMABLE_CHANGES)."""
    settings = task.as_dict()
    for section, key in RESUMABLE_CHANGES:
        settings[section].pop(key)
    return settings


def save_checkpoint(path: str | Path, task: Task, params: Params, iteration: int, rng_state: tuple) -> None:
    """Write ``params`` (as a weights file) plus the iteration, the random state and the task, atomically."""
    kind, keys, pos, has_gauss, cached_gaussian = rng_state
    extra = {
        _key("iteration"): np.array(iteration, dtype=np.int64),
        _key("rng_kind"): np.array(kind),
        _key("rng_keys"): np.asarray(keys, dtype=np.uint32),
        _key("rng_pos"): np.array(pos, dtype=np.int64),
        _key("rng_has_gauss"): np.array(has_gauss, dtype=np.int64),
        _key("rng_cached_gaussian"): np.array(cached_gaussian, dtype=np.float64),
        _key("task"): np.array(json.dumps(_run_settings(task), sort_keys=True)),
    }
    save_weights(path, {**params, **extra})


def load_checkpoint(path: str | Path, task: Task) -> Checkpoint:
    """Read a checkpoint for resuming ``task``; refuse one of another task or past its ``iterations``."""
    params = load_weights(path, task.build_network())  # checks the file, the keys and the shapes
    names = ("iteration", "rng_kind", "rng_keys", "rng_pos", "rng_has_gauss", "rng_cached_gaussian", "task")
    with np.load(path, allow_pickle=False) as npz:
        missing = [n for n in names if _key(n) not in npz.files]
        if missing:
            raise WeightsError(f"{path}: a weights file, not a checkpoint (no {_key(missing[0])!r}); "
                               "write one with train --checkpoint")
        raw = {n: npz[_key(n)] for n in names}
    try:
        iteration = int(raw["iteration"])
        rng_state = (str(raw["rng_kind"]), raw["rng_keys"].astype(np.uint32), int(raw["rng_pos"]),
                     int(raw["rng_has_gauss"]), float(raw["rng_cached_gaussian"]))
        # numpy's set_state does not check the length of the keys; a short one would fail mid-run.
        if rng_state[0] != "MT19937" or rng_state[1].shape != (624,) or not 0 <= rng_state[2] <= 624:
            raise ValueError("the random state is not an MT19937 state of 624 keys")
        np.random.RandomState().set_state(rng_state)
        saved = json.loads(str(raw["task"]))
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{path}: a damaged checkpoint ({exc})") from None
    current = _run_settings(task)
    for section, keys in current.items():
        for key, value in keys.items():
            if saved.get(section, {}).get(key) != value:
                raise WeightsError(
                    f"{path}: the checkpoint was made with [{section}] {key} = {saved.get(section, {}).get(key)!r}, "
                    f"this task has {value!r}; only training.iterations and training.log_every may change"
                )
    if iteration > task.training.iterations:
        raise WeightsError(
            f"{path}: the checkpoint is at iteration {iteration}, past training.iterations = "
            f"{task.training.iterations}; give --set training.iterations={iteration} or more"
        )
    return Checkpoint(params, iteration, rng_state)


class Checkpointer:
    """The ``after_step`` hook of :func:`graphnet.app.training.train`: checkpoints every ``every`` iterations and
    stops the run when :meth:`request_stop` was called (by the SIGINT handler)."""

    def __init__(self, path: str | Path | None, task: Task, every: int = 0) -> None:
        self.path, self.task, self.every = path, task, every
        self.stop_requested = False

    def request_stop(self, *_signal_args) -> None:
        self.stop_requested = True

    def __call__(self, done: int, params: Params, random_state: Callable[[], tuple]) -> bool:
        if self.path and self.every and done % self.every == 0:
            save_checkpoint(self.path, self.task, params, done, random_state())
        return self.stop_requested
