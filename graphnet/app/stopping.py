"""Stopping a run: Ctrl-C, SIGTERM and SIGHUP, handled alike.

A run is stopped by Ctrl-C (SIGINT), as often by SIGTERM (what ``timeout``, ``kill``, systemd, Docker and batch
schedulers send) and by SIGHUP (the terminal it ran in was closed). Whichever comes, the command does the same:
it writes what it has (atomically), ends its child processes, prints one line and exits with 128 + the
signal's number (130, 143, 129), as a shell reports a process a signal ended.

:func:`stopping` is the one place that turns those signals into that path. Within it, each raises
:class:`Stopped`, a ``KeyboardInterrupt``, where the program is (so ``except KeyboardInterrupt`` and
``finally`` clean up for all three, and ``subprocess`` kills the child it waits for); or, given ``on_signal``,
calls it instead (training asks its loop to stop after the current update, so its checkpoint holds a whole
iteration). ``graphnet`` runs every command within it.

A signal the process was started ignoring stays ignored if it is SIGTERM or SIGHUP: ``nohup`` ignores SIGHUP so
that a run outlives its terminal, and that is what its user asked for. SIGINT is handled even then: a shell
starts the jobs of a script in the background with SIGINT ignored, and ``kill -INT`` must still stop them.

Examples
--------
>>> import os, signal
>>> with stopping():
...     try:
...         os.kill(os.getpid(), signal.SIGTERM)
...     except Stopped as stop:
...         print(stop, stop.exit_code)
stopped by SIGTERM 143
"""

from __future__ import annotations

import os
import signal
import threading
import contextlib
from contextlib import contextmanager
from typing import Callable, Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Signals a process may have been started ignoring on purpose (nohup): those stay ignored.
_KEEP_IGNORED = (signal.SIGTERM, signal.SIGHUP)


def stopped_by(signum: int) -> str:
    """How a message says a run ended: ``interrupted`` (Ctrl-C), ``stopped by SIGTERM``, ``stopped by SIGHUP``."""
    if signum == signal.SIGINT:
        return "interrupted"
    return f"stopped by {signal.Signals(signum).name}"


class Stopped(KeyboardInterrupt):
    """A run stopped by a signal (``signum``): what Ctrl-C raises, for SIGTERM and SIGHUP too."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(stopped_by(signum))
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """128 + the signal's number: what a shell reports for a process that signal ended."""
        return 128 + self.signum


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """The exit code of a run ``interrupt`` ended: 128 + its signal (a bare KeyboardInterrupt is Ctrl-C's)."""
    return getattr(interrupt, "exit_code", 128 + signal.SIGINT)


def _raise_stopped(signum: int, frame) -> None:
    if _importing(frame):
        # Raised inside an import, the exception may be lost: an extension module's initialisation (numpy.random's,
        # imported on first use) can swallow it, and the run would go on as if no signal had come. So the signal
        # is sent again shortly, until it arrives where the import has finished.
        timer = threading.Timer(0.02, os.kill, (os.getpid(), signum))
        timer.daemon = True
        timer.start()
        return
    raise Stopped(signum)


def _importing(frame) -> bool:
    """Whether ``frame`` runs within an import (a module being executed by importlib)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


@contextmanager
def stopping(on_signal: Callable[[int], None] | None = None) -> Iterator[None]:
    """Within it, SIGINT, SIGTERM and SIGHUP each raise :class:`Stopped` (or call ``on_signal(signum)``); the
    handlers before it are restored after. Outside the main thread, where Python handles no signal, it does
    nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = _raise_stopped if on_signal is None else (lambda signum, _frame: on_signal(signum))
    previous = {}
    try:
        for signum in STOP_SIGNALS:
            before = signal.getsignal(signum)
            if before == signal.SIG_IGN and signum in _KEEP_IGNORED:
                continue
            previous[signum] = before
            signal.signal(signum, handler)
        yield
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before if before is not None else signal.SIG_DFL)


def finishing() -> contextlib.AbstractContextManager:
    """Within it, SIGINT, SIGTERM and SIGHUP change nothing: a stopped run is writing what it has and its last
    line, and a second Ctrl-C must not cut that short."""
    return stopping(on_signal=lambda signum: None)
