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
>>> folder = tempfile.TemporaryDirectory()
>>> path = os.path.join(folder.name, "run.npz")
>>> save_checkpoint(path, task, part.params, part.iterations, part.rng_state)
>>> state = load_checkpoint(path, task)
>>> resumed = train(task, params=state.params, start=state.iteration, rng_state=state.rng_state)
>>> all((resumed.params[k] == train(task).params[k]).all() for k in resumed.params)
True
>>> folder.cleanup()
"""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import WeightsError
from .tasks import Task
from .weights import CHECKPOINT_PREFIX, Params, load_weights, read_arrays, save_weights

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
    """Read a checkpoint for resuming ``task``; refuse one of another task, past its ``iterations``, or damaged.

    Every saved value is checked for its type, shape and range before it is used: a whole number of
    iterations from 0 on, an MT19937 random state of 624 32-bit keys (not all zero) at a position from 0 to 624,
    the task's settings as JSON.
    """
    params = load_weights(path, task.build_network())  # checks the file, the keys and the shapes
    names = ("iteration", "rng_kind", "rng_keys", "rng_pos", "rng_has_gauss", "rng_cached_gaussian", "task")
    arrays = read_arrays(path, shapes={})  # the checkpoint_ keys, each checked before it is read
    missing = [n for n in names if _key(n) not in arrays]
    if missing:
        raise WeightsError(f"{path}: a weights file, not a checkpoint (no {_key(missing[0])!r}); "
                           "write one with train --checkpoint")
    raw = {n: arrays[_key(n)] for n in names}
    try:
        iteration = _whole(raw["iteration"], "iteration", 0, None)
        keys = raw["rng_keys"]
        if keys.dtype != np.uint32 or keys.shape != (624,) or not keys.any():
            raise ValueError("the random state is not 624 32-bit keys, not all zero")
        if raw["rng_kind"].dtype.kind != "U" or str(raw["rng_kind"]) != "MT19937":
            raise ValueError("the random state is not an MT19937 state")
        gaussian = raw["rng_cached_gaussian"]
        if gaussian.dtype.kind != "f" or gaussian.shape != () or not np.isfinite(gaussian):
            raise ValueError("the random state's cached gaussian is not a finite number")
        rng_state = ("MT19937", keys, _whole(raw["rng_pos"], "rng_pos", 0, 624),
                     _whole(raw["rng_has_gauss"], "rng_has_gauss", 0, 1), float(gaussian))
        np.random.RandomState().set_state(rng_state)
        if raw["task"].dtype.kind != "U":
            raise ValueError("the task's settings are not text")
        saved = json.loads(str(raw["task"]))
        if not isinstance(saved, dict):
            raise ValueError("the task's settings are not a table")
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{path}: a damaged checkpoint ({exc})") from None
    current = _run_settings(task)
    for section, keys in current.items():
        for key, value in keys.items():
            was = saved.get(section, {}).get(key) if isinstance(saved.get(section), dict) else None
            if was != value:
                raise WeightsError(
                    f"{path}: the checkpoint was made with [{section}] {key} = {was!r}, "
                    f"this task has {value!r}; only training.iterations and training.log_every may change"
                )
    if iteration > task.training.iterations:
        raise WeightsError(
            f"{path}: the checkpoint is at iteration {iteration}, past training.iterations = "
            f"{task.training.iterations}; give --set training.iterations={iteration} or more"
        )
    return Checkpoint(params, iteration, rng_state)


def _whole(value: np.ndarray, name: str, lowest: int, highest: int | None) -> int:
    """A saved scalar that must be a whole number from ``lowest`` to ``highest``."""
    if value.shape != () or value.dtype.kind not in "iu":
        raise ValueError(f"{name} is {value.dtype} {value.shape}, not a whole number")
    number = int(value)
    if number < lowest or (highest is not None and number > highest):
        raise ValueError(f"{name} is {number}, not from {lowest}{f' to {highest}' if highest is not None else ' on'}")
    return number


class Checkpointer:
    """The ``after_update`` hook of :func:`graphnet.app.training.train`: checkpoints every ``every`` iterations and
    stops the run after the update during which :meth:`request_stop` was called (by a signal's handler, see
    :func:`graphnet.app.stopping.stopping`)."""

    def __init__(self, path: str | Path | None, task: Task, every: int = 0) -> None:
        self.path, self.task, self.every = path, task, every
        self.stop_signal: int | None = None  # the signal that asked the run to stop, if one did

    @property
    def stop_requested(self) -> bool:
        return self.stop_signal is not None

    def request_stop(self, signum: int = signal.SIGINT) -> None:
        if self.stop_signal is None:  # the first signal is the one the run reports
            self.stop_signal = signum

    def __call__(self, done: int, params: Params, random_state: Callable[[], tuple]) -> bool:
        if self.path and self.every and done % self.every == 0:
            save_checkpoint(self.path, self.task, params, done, random_state())
        return self.stop_requested
