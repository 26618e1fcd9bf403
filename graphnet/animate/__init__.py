"""The post's moving pictures, from a real run: the forward pass and the reverse pass step by step, and the
hidden layer's memory. Built on :mod:`graphnet.render`; it only reads the graph and a run of it.

Read in this order:

- :mod:`~graphnet.animate.frame`: a :class:`Frame`, one picture of an animation;
- :mod:`~graphnet.animate.passes`: a run of one example as :class:`Frame` s, the forward and reverse pass;
- :mod:`~graphnet.animate.memory`: the hidden layer's memory, measured by occlusion;
- :mod:`~graphnet.animate.gif`: the frames as an animated GIF (Pillow, the ``animate`` extra);
- :mod:`~graphnet.animate.page`: the frames as one self-contained web page to explore (``page.html``,
  ``page.css``, ``page.js``), with what a node computes from :mod:`~graphnet.animate.formulas`.

A pass is laid out once: its frames differ only in the numbers in their cells.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..errors import UsageError
from ..render.backends import INSTALL as GRAPHVIZ
from ..render.backends import have_graphviz
from .frame import FRAME_SECONDS, HOLD_SECONDS, Frame
from .passes import MAX_STEPS, SHOWS, frames
from .gif import write_gif
from .memory import occlusion
from .page import write_html

FORMATS = (".gif", ".html")
INSTALL = "in graphnet's checkout: pip install -e '.[animate]'"

__all__ = ["FORMATS", "FRAME_SECONDS", "HOLD_SECONDS", "MAX_STEPS", "SHOWS", "Frame", "check_output", "frames",
           "occlusion", "write", "write_gif", "write_html"]


def check_output(path: str | Path) -> None:
    """Refuse, before any work, an output of a format this module cannot write, or a GIF without Pillow."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"-o {path}: unknown animation format {suffix or '(none)'!r}; expected one of "
                         f"{', '.join(FORMATS)}")
    if suffix == ".gif":
        try:
            import PIL  # noqa: F401
        except ImportError:
            raise UsageError(f"-o {path}: a GIF needs Pillow, which is not installed; install the animate extra "
                             f"({INSTALL}), or write a .html") from None
    if not have_graphviz():  # every frame is laid out by Graphviz, for a page too
        raise UsageError(f"-o {path}: drawing the frames needs Graphviz's dot program. {GRAPHVIZ}")


def write(frames: Sequence[Frame], path: str | Path) -> Path:
    """Write ``frames`` to ``path`` as its extension says (``.gif`` or ``.html``), atomically."""
    check_output(path)
    if Path(path).suffix.lower() == ".gif":
        return write_gif(frames, path)
    return write_html(frames, path)
