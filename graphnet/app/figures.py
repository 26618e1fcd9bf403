"""Figures drawn with matplotlib, the ``plot`` extra: a learning curve (:mod:`graphnet.app.curve`), a sweep's
plot (:mod:`graphnet.app.sweep`) and a probe's picture of the hidden states (:mod:`graphnet.app.probe`).

matplotlib is optional: a command asked for a figure without it says so, and how to install it, before any
work (:func:`check_figure_path`); CSV needs nothing. Figures are made with matplotlib's object interface, not
pyplot, so drawing one leaves no backend chosen and no figure open in a user's session (a notebook keeps its
own), and they are written atomically.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from .files import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INSTALL = "in graphnet's checkout: pip install -e '.[plot]'"
FORMATS = (".svg", ".png")  # what a figure is written as, by the file's extension


def check_figure_path(path: str | Path, option: str, *, other: tuple[str, ...] = (), instead: str) -> None:
    """Refuse, before any work, a file ``option`` names whose extension is neither a figure's nor one of
    ``other``, or a figure when matplotlib is not installed (``instead`` says what to do without it)."""
    suffix = Path(path).suffix.lower()
    if suffix not in (*other, *FORMATS):
        raise UsageError(f"{option} {path}: unknown format {suffix or '(none)'!r}; expected one of "
                         f"{', '.join((*other, *FORMATS))}")
    if suffix in FORMATS and not have_matplotlib():
        raise UsageError(f"{option} {path}: drawing needs matplotlib, which is not installed; install the plot "
                         f"extra ({INSTALL}), or {instead}")


def have_matplotlib() -> bool:
    """Whether matplotlib can be imported (``sys.modules['matplotlib'] = None`` counts as absent, for tests).

    Its first import is quiet: where the home folder takes no files (a service's, a container's), matplotlib
    keeps its cache in a temporary folder and warns in two lines that are no business of a graphnet user's.
    """
    if "matplotlib" in sys.modules:
        return sys.modules["matplotlib"] is not None
    said = logging.getLogger("matplotlib")
    level = said.level
    said.setLevel(logging.ERROR)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    finally:
        said.setLevel(level)
    return True


def new_figure(width: float, height: float, dpi: float | None = None) -> Figure:
    """An empty figure of ``width`` x ``height`` inches (at ``dpi`` pixels an inch, by default matplotlib's),
    owned by nobody but the caller."""
    have_matplotlib()  # imported quietly first
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=dpi)


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Write ``figure`` to ``path`` atomically, in the format its extension names (``.svg``, ``.png``)."""
    from matplotlib import rc_context

    form = Path(path).suffix[1:].lower() or "svg"
    # No date in an SVG and no random salt in its ids: the same numbers make the same file, and a regenerated
    # picture shows no change.
    metadata = {"Date": None} if form == "svg" else None
    with rc_context({"svg.hashsalt": "graphnet"}):
        return atomic_write(path, lambda f: figure.savefig(f, format=form, metadata=metadata))
