"""The ``graphnet`` command's entry point, light enough that a signal while the command starts is one line too.

Importing the command (:mod:`graphnet.cli`) imports numpy, networkx and the rest, which takes a noticeable
moment; a Ctrl-C (or SIGTERM, SIGHUP) in it would otherwise print a traceback of an import, or end the
command without a word.
"""

from __future__ import annotations

import sys
from typing import Sequence

from .app.stopping import exit_code, stopping


def main(argv: Sequence[str] | None = None) -> int:
    """Start the command; return its exit code (128 + the signal if stopped while starting)."""
    with stopping():
        try:
            from .cli import main as run
        except KeyboardInterrupt as stop:
            print(f"graphnet: {str(stop) or 'interrupted'}", file=sys.stderr)
            return exit_code(stop)
    return run(argv)
