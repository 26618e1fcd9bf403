"""The files a command reads and writes: checked before any work, written so that nothing is ever lost.

Inputs must be regular files (a FIFO would block and ``/dev/zero`` never end). Outputs are checked before
any work starts: their folder must take a new file, they may not be a FIFO, a device or a folder, nor the
same file as an input or as another output. They are written atomically: a crash, Ctrl-C, a kill, a full
disk or a second writer of the same file leaves the old file or the new one, never a part of either.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import time
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

from ..errors import GraphnetError, UsageError


def check_readable(
    path: Path, kind: str, suffix: str, error: type[GraphnetError], *, max_bytes: int | None = None,
    suggest: Callable[[Path], str] | None = None,
) -> None:
    """Raise ``error`` naming ``path`` unless it is a regular file that can be read (of at most ``max_bytes``).

    ``kind`` and ``suffix`` word the message, e.g. "task file" and ".toml"; ``suggest(path)`` may add to the
    message of a path that does not exist (``"; did you mean ...?"``).
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise error(f"{path}: no such {kind}{suggest(path) if suggest else ''}") from None
    except OSError as exc:  # a name too long, a component that is a file, no permission
        raise error(f"{_short(path)}: cannot read it ({exc.strerror or exc.__class__.__name__})") from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"{path}: is a folder, expected a {kind} ({suffix})")
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path}: is not a regular file (a pipe or a device), expected a {kind} ({suffix})")
    if max_bytes is not None and info.st_size > max_bytes:
        raise error(f"{path}: is {info.st_size:,} bytes, more than any {kind} ({max_bytes:,} at most)")


def check_writable(
    path: str | Path, option: str, *, reading: Iterable[str | Path | None] = (),
    writing: Iterable[str | Path | None] = (), named: bool = True,
) -> Path:
    """Refuse, before any work, an output that cannot be written or whose writing would destroy something.

    One line naming ``option`` (e.g. ``--save``) if: the name is too long, its folder is missing or takes no
    new file (read-only, no permission), it is a folder, a FIFO or a device, or it is the same file as one of
    ``reading`` (the task file, weights being read) or of ``writing`` (the command's other outputs). A path the
    user did not name (``named=False``: a default) must not exist yet: only a file named as the output is
    replaced.
    """
    path = Path(path)
    if not named and os.path.lexists(path):
        raise UsageError(f"{option}: the default, {path}, exists already; it is kept (only a file named as the "
                         f"output is replaced): give {option} {path} to replace it, or another name")
    try:
        _check_target(path)
        folder = path.parent if str(path.parent) else Path(".")
        fd, probe = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except GraphnetError as exc:
        raise UsageError(f"{option} {exc}") from None
    except OSError as exc:
        raise UsageError(f"{option} {_short(path)}: cannot write there ({exc.strerror or exc})") from None
    for others, what in ((reading, "is also read by this command"), (writing, "is also written by this command")):
        for other in others:
            if other is not None and same_file(path, Path(other)):
                raise UsageError(f"{option} {path}: {what} ({other}); give it a name of its own")
    return path


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same path once resolved, or one file under two names."""
    try:
        if os.path.realpath(a) == os.path.realpath(b):
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _check_target(path: Path) -> None:
    """What every output must be: a name not too long, in a folder that exists, and a regular file or new."""
    if len(os.fsencode(path.name)) > 255:
        raise GraphnetError(f"{_short(path)}: the file name is longer than 255 bytes")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise GraphnetError(f"{path}: folder {folder} does not exist")
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        raise GraphnetError(f"{path}: is a folder, expected a file name")
    if not stat.S_ISREG(info.st_mode):
        raise GraphnetError(f"{path}: is not a regular file (a pipe or a device); it is left as it is")


def _short(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 80 else f"{text[:60]}...{text[-16:]}"


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(f)`` on a temporary file in ``path``'s folder, flush it to disk, then rename it to ``path``.

    Readers see the old file or the new one, never a part of either. A temporary file left by an earlier
    writer that was killed (SIGKILL, power loss) is removed by the next write of the same ``path``; one of a
    writer still at work (another run saving to the same file) is left alone. A write that fails (a full
    disk) raises a :class:`~graphnet.errors.GraphnetError` naming the file, and leaves the old one.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = tempfile.TemporaryDirectory()
    >>> target = pathlib.Path(folder.name) / "note.txt"
    >>> _ = atomic_write(target, lambda f: f.write(b"hello"))
    >>> target.read_bytes()
    b'hello'
    >>> folder.cleanup()
    """
    path = Path(path)
    _check_target(path)
    folder = path.parent if str(path.parent) else Path(".")
    started = time.time()
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=folder)
    except OSError as exc:
        raise GraphnetError(f"{_short(path)}: cannot write it ({exc.strerror or exc})") from None
    try:
        # mkstemp makes the file private (0600); give it the mode any new file of the user's would get.
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # a full disk, say: the old file is still there
        Path(tmp).unlink(missing_ok=True)
        raise GraphnetError(f"{_short(path)}: cannot write it ({exc.strerror or exc}); the file is as it was") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(folder)  # so the rename itself survives a power loss
    _remove_stale_temps(path, before=started)
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda f: f.write(data))


def write_new(path: str | Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` only if there is no such file yet (a fallback the user did not name: it may
    replace nothing, not even a file made while this one was being written); whole or not at all. Returns
    whether it was written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = tempfile.TemporaryDirectory()
    >>> target = pathlib.Path(folder.name) / "graph.dot"
    >>> write_new(target, b"digraph {}"), write_new(target, b"something else"), target.read_bytes()
    (True, False, b'digraph {}')
    >>> folder.cleanup()
    """
    path = Path(path)
    if os.path.lexists(path):
        return False
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=folder)
    except OSError:
        return False
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # unlike a rename, a link fails if the name was taken meanwhile
        return True
    except OSError:  # taken meanwhile, or a file system without links: nothing is written
        return False
    finally:
        Path(tmp).unlink(missing_ok=True)


def _temp_prefix(path: Path) -> str:
    # The writer's process id in the name: another writer of the same file can tell whether it still runs.
    return f".{path.name}.{os.getpid()}."


def _remove_stale_temps(path: Path, before: float) -> None:
    """Remove the temporary files of writers of ``path`` that were killed: their process is gone. Only names
    exactly of the form :func:`atomic_write` gives them (``.NAME.PID.XXXXXXXX.tmp``, made by ``mkstemp``) are
    touched: a file of the user's that merely looks alike is not graphnet's to remove."""
    for leftover in path.parent.glob(f".{_glob_escape(path.name)}.*.tmp"):
        try:
            found = re.fullmatch(rf"\.{re.escape(path.name)}\.(\d+)\.[a-z0-9_]{{8}}\.tmp", leftover.name)
            if found and not _running(int(found.group(1))) and leftover.stat().st_mtime < before:
                leftover.unlink()
        except OSError:
            pass  # gone already, or not ours to remove: either way nothing the user saved is touched


def _glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists (ours, another user's, or this one)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but is not ours to signal
        return True
    return True


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
