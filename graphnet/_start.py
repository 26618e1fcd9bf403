"""The ``graphnet`` command's entry point, light enough that a signal while the command starts is one line too.

Importing the command (:mod:`graphnet.cli`) imports numpy, networkx and the rest, which takes a noticeable
moment; a Ctrl-C (or SIGTERM, SIGHUP) in it would otherwise print a traceback of an import, or end the
command without a word.
"""

from __future__ import annotations

import sys
from typing import Sequence

from .app.stopping import Stopped, exit_code, stopping


def _stop_at_once(signum: int) -> None:
    # While the command is imported, Stopped is raised where the import is (stopping's own handler waits for
    # imports to finish, which here would be the whole start).
    raise Stopped(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Start the command; return its exit code (128 + the signal if stopped while starting)."""
    with stopping(on_signal=_stop_at_once):
        try:
            from .cli import main as run
        except KeyboardInterrupt as stop:
            print(f"graphnet: {str(stop) or 'interrupted'}", file=sys.stderr)
            return exit_code(stop)
    return run(argv)
