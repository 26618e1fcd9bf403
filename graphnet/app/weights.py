"""Weights files: the trained weights of a network in one ``.npz``, written atomically, read with checks.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "w.npz")
>>> save_weights(path, {"synapse_0": np.zeros((2, 3))})
>>> load_weights(path)["synapse_0"].shape
(2, 3)
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import WeightsError
from ..rnn.network import Network
from .files import atomic_write, check_readable

Params = dict[str, np.ndarray]

CHECKPOINT_PREFIX = "checkpoint_"  # keys a checkpoint adds to a weights file (iteration, random state, task)


def save_weights(path: str | Path, params: Params) -> None:
    """Write ``params`` to an ``.npz`` atomically: a temporary file in the same folder, flushed, then renamed."""
    atomic_write(path, lambda f: np.savez(f, **params))


def load_weights(path: str | Path, network: Network | None = None) -> Params:
    """Read an ``.npz`` of weights; check it has every weight of ``network`` (if given) with the right shape."""
    path = Path(path)
    check_readable(path, "weights file", ".npz", WeightsError)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        reason = str(exc).split(". ")[0]  # numpy's messages run on with advice about pickles
        raise WeightsError(f"{path}: not a readable .npz weights file ({exc.__class__.__name__}: {reason})") from None
    # A checkpoint is a weights file with more keys (graphnet.checkpoint): weights readers skip them.
    arrays = {k: v for k, v in arrays.items() if not k.startswith(CHECKPOINT_PREFIX)}
    if network is None:
        for key, value in arrays.items():
            if value.dtype.kind != "f" or not np.all(np.isfinite(value)):
                raise WeightsError(f"{path}: {key!r} is not an array of finite floats")
        return arrays
    params = {}
    for key, shape in network.parameter_shapes().items():
        if key not in arrays:
            raise WeightsError(f"{path}: has no {key!r}; expected keys {', '.join(network.parameter_shapes())}")
        value = arrays[key]
        if value.shape != tuple(shape) or value.dtype.kind != "f":
            raise WeightsError(
                f"{path}: {key!r} is {value.dtype} {value.shape}, the task needs float {tuple(shape)}"
            )
        if not np.all(np.isfinite(value)):
            raise WeightsError(f"{path}: {key!r} holds NaN or inf")
        params[key] = value.astype(np.float64)
    return params
