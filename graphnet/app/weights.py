"""Weights files: the trained weights of a network in one ``.npz``, written atomically, read with checks.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> folder = tempfile.TemporaryDirectory()
>>> path = os.path.join(folder.name, "w.npz")
>>> save_weights(path, {"synapse_0": np.zeros((2, 3))})
>>> load_weights(path)["synapse_0"].shape
(2, 3)
>>> folder.cleanup()
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np

from ..errors import WeightsError
from ..rnn.network import Network
from .files import atomic_write, check_readable

Params = dict[str, np.ndarray]

CHECKPOINT_PREFIX = "checkpoint_"  # keys a checkpoint adds to a weights file (iteration, random state, task)


def save_weights(path: str | Path, params: Params) -> None:
    """Write ``params`` to an ``.npz`` atomically: a temporary file in the same folder, flushed, then renamed."""
    atomic_write(path, lambda f: np.savez(f, **params))


# A weights file (or checkpoint) bigger than this is refused before it is read: the biggest network a task may
# describe (hidden 4,096) has about 0.2 GB of weights.
MAX_WEIGHTS_BYTES = 4 << 30
CHECKPOINT_ELEMENTS = 10_000  # the most numbers any checkpoint_ key holds (the random state: 624)


def read_arrays(path: str | Path, shapes: Mapping[str, tuple] | None = None) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` at ``path``, each checked before its data is read.

    One line naming the file (a :class:`~graphnet.errors.WeightsError`) if it is not a regular file, not an
    ``.npz`` (an ``.npy``, a task file, ...), holds a member that is not an ``.npy`` array or cannot be read
    (compressed in a way zip does not know, encrypted), an array of objects (pickled data), or an array of a
    size that does not fit: not ``shapes[key]`` where given, never more than the file could hold.
    """
    path = Path(path)
    check_readable(path, "weights file", ".npz", WeightsError, max_bytes=MAX_WEIGHTS_BYTES)
    with open(path, "rb") as f:
        start = f.read(8)
    if start.startswith(b"\x93NUMPY"):
        raise WeightsError(f"{path}: one .npy array, not an .npz of named weights (train --save writes those)")
    if not start.startswith(b"PK"):
        looks = "; it starts like text (a task file?)" if start and all(32 <= c < 127 or c in b"\t\r\n" for c in start) else ""
        raise WeightsError(f"{path}: not an .npz weights file (a zip of .npy arrays){looks}")
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                key, _, suffix = info.filename.rpartition(".")
                if suffix != "npy" or not key:
                    raise WeightsError(f"{path}: holds {info.filename[:80]!r}, not an .npy array")
                wanted = None if shapes is None else shapes.get(key)
                if shapes is not None and wanted is None and not key.startswith(CHECKPOINT_PREFIX):
                    continue  # not a weight of this network: left unread
                with archive.open(info) as member:
                    shape, dtype = _header(member, path, key)
                count = math.prod(shape)
                if dtype.hasobject:
                    raise WeightsError(f"{path}: {key!r} holds Python objects (pickled data), not numbers")
                if count * dtype.itemsize > info.file_size:
                    raise WeightsError(f"{path}: {key!r} declares {count:,} numbers, more than it holds")
                if key.startswith(CHECKPOINT_PREFIX) and count > CHECKPOINT_ELEMENTS:
                    raise WeightsError(f"{path}: {key!r} holds {count:,} numbers; a checkpoint's own keys hold at "
                                       f"most {CHECKPOINT_ELEMENTS:,}")
                if wanted is not None and (shape != tuple(wanted) or dtype.kind != "f"):
                    raise WeightsError(f"{path}: {key!r} is {dtype} {shape}, the task needs float {tuple(wanted)}")
                with archive.open(info) as member:
                    arrays[key] = np.lib.format.read_array(member, allow_pickle=False)
    except WeightsError:
        raise
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError, EOFError) as exc:
        reason = str(exc).split(". ")[0][:120]  # numpy's messages run on with advice about pickles
        raise WeightsError(f"{path}: not a readable .npz weights file ({exc.__class__.__name__}: {reason})") from None
    return arrays


def _header(member, path: Path, key: str) -> tuple[tuple[int, ...], np.dtype]:
    """An ``.npy`` member's shape and dtype, from its header alone."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise WeightsError(f"{path}: {key!r} is an .npy of version {version}, which this reader does not know")
    return tuple(shape), dtype


def load_weights(path: str | Path, network: Network | None = None) -> Params:
    """Read an ``.npz`` of weights; check it has every weight of ``network`` (if given) with the right shape.

    Without a network, every array in it but a checkpoint's (``checkpoint_...``) must be finite floats.
    """
    path = Path(path)
    shapes = None if network is None else network.parameter_shapes()
    # A checkpoint is a weights file with more keys (graphnet.app.checkpoint): weights readers skip them.
    arrays = {k: v for k, v in read_arrays(path, shapes).items() if not k.startswith(CHECKPOINT_PREFIX)}
    if network is None:
        for key, value in arrays.items():
            if value.dtype.kind != "f" or not np.all(np.isfinite(value)):
                raise WeightsError(f"{path}: {key!r} is not an array of finite floats")
        return arrays
    params = {}
    for key in shapes:
        if key not in arrays:
            raise WeightsError(f"{path}: has no {key!r}; expected keys {', '.join(shapes)}")
        if not np.all(np.isfinite(arrays[key])):
            raise WeightsError(f"{path}: {key!r} holds NaN or inf")
        params[key] = arrays[key].astype(np.float64)
    return params
