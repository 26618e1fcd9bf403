"""Writing files so that a crash, Ctrl-C or a kill never leaves one half-written."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import BinaryIO, Callable

from ..errors import GraphnetError


def check_readable(path: Path, kind: str, suffix: str, error: type[GraphnetError]) -> None:
    """Raise ``error`` naming ``path`` if it is missing or a folder, e.g. kind "task file", suffix ".toml"."""
    if not path.exists():
        raise error(f"{path}: no such {kind}")
    if path.is_dir():
        raise error(f"{path}: is a folder, expected a {kind} ({suffix})")


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(f)`` on a temporary file in ``path``'s folder, flush it to disk, then rename it to ``path``.

    Readers see the old file or the new one, never a part of either. A temporary file left by an earlier
    writer that was killed (SIGKILL, power loss) is removed by the next write of the same ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> _ = atomic_write(target, lambda f: f.write(b"hello"))
    >>> target.read_bytes()
    b'hello'
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise GraphnetError(f"{path}: folder {folder} does not exist")
    if path.is_dir():
        raise GraphnetError(f"{path}: is a folder, expected a file name")
    started = time.time()
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=folder)
    try:
        # mkstemp makes the file private (0600); give it the mode any new file of the user's would get.
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(folder)  # so the rename itself survives a power loss
    _remove_stale_temps(path, before=started)
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda f: f.write(data))


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def _remove_stale_temps(path: Path, before: float) -> None:
    # Only files untouched since before this write began: a writer still at work keeps touching its own.
    for leftover in path.parent.glob(f"{_temp_prefix(path)}*.tmp"):
        try:
            if leftover.stat().st_mtime < before:
                leftover.unlink()
        except OSError:
            pass  # gone already, or not ours to remove: either way nothing the user saved is touched


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some systems cannot open a folder; the rename is still atomic there
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
