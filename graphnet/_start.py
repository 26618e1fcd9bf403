"""The ``graphnet`` command's entry point, light enough that Ctrl-C while the command starts is one line too.

Importing the command (:mod:`graphnet.cli`) imports numpy, networkx and the rest, which takes a noticeable
moment; a Ctrl-C in it would otherwise print a traceback of an import.
"""

from __future__ import annotations

import sys
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Start the command; return its exit code (130 if interrupted while starting)."""
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        print("graphnet: interrupted", file=sys.stderr)
        return 130
    return run(argv)
