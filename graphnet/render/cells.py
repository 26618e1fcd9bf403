"""The pieces of a node's label: numbers as text, and vectors and matrices as cells of colour.

A label is Graphviz's HTML-like table. Each cell that shows a number is a :class:`Cell` with an id of its own
(``h[3]:5`` for element 5 of ``h[3]``, ``synapse_h:2,7`` for a weight's entry, ``loss:value`` for a loss's
number), recorded in the picture's ``cells`` as it is made. The frames of an animation are laid out once and
differ only in their cells, which are then found by id: in the laid-out picture (:mod:`.backends`) and in the
page's SVG, where Graphviz writes a cell as ``<g id="a_ID">``.

Examples
--------
>>> from graphnet.render.colours import unit_colour
>>> cells = {}
>>> label = strip(cells, "h[0]", np.array([0.25, 1.0]), unit_colour, "h[0]")
>>> sorted(cells), cells["h[0]:1"].colour, cells["h[0]:1"].text
(['h[0]:0', 'h[0]:1'], '#252525', '1')
>>> number(0.000123456), short(-0.004123), short(0.93)
('0.0001235', '-4.1e-3', '0.93')
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from .colours import PENDING, ink

NAME_SIZE = 11  # node names, captions, shapes
NUMBER_SIZE = 11  # numbers printed in cells and losses: 9 px high in a picture shown 880 px wide
NUMBERED = 4  # vectors this short print their numbers in their cells
MAX_CELLS = 64  # vectors wider than this are drawn as their shape only
MAX_HEAT = 32  # weights with more rows or columns than this are drawn as their shape only
NUMBER_WIDTH, BIT_WIDTH = 40, 18  # a cell that prints a number: a short one (-4.1e-3), or a bit
CELL_WIDTH, CELL_HEIGHT = 5, 12  # a cell of a wider vector, its number on hover

Colour = Callable[[float], str]


def number(v: float) -> str:
    """``v`` to 4 significant digits: what a hover text, a loss or the page's table shows."""
    return f"{v:.4g}" if abs(v) >= 1e-4 or v == 0 or not math.isfinite(v) else f"{v:.3e}"


def short(v: float) -> str:
    """``v`` to 2 significant digits, short enough for a cell: ``0.93``, ``-2.3``, ``-4.1e-3``."""
    if v == 0:
        return "0"  # -0.0 too: a sign of nothing is noise
    if 0.01 <= abs(v) < 1000 or not math.isfinite(v):
        return f"{v:.2g}" if abs(v) < 10 or not math.isfinite(v) else f"{v:.0f}"
    mantissa, exponent = f"{v:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def shape_text(shape: tuple) -> str:
    """``(None, 16)`` as ``B×16``: the batch dimension is B."""
    return "×".join("B" if d is None else str(d) for d in shape) or "scalar"


@dataclass(frozen=True)
class Cell:
    """A table cell that shows a number: its colour, its hover text and the text printed in it (if any).

    Its size is fixed (``FIXEDSIZE``): however wide its number, every frame of an animation is laid out alike.
    """

    colour: str
    tooltip: str
    text: str = ""
    width: int = CELL_WIDTH
    height: int = CELL_HEIGHT
    size: int = NUMBER_SIZE

    def html(self, id: str) -> str:
        """The cell as Graphviz's HTML: a ``TD`` with ``ID`` ``id``.

        HREF: Graphviz writes a cell's id and hover text into the SVG only for a cell that links. A cell of
        width 0 (a title) takes the width of its text.
        """
        inner = f'<FONT POINT-SIZE="{self.size}" COLOR="{ink(self.colour)}">{html.escape(self.text)}</FONT>'
        size = f'WIDTH="{self.width}" HEIGHT="{self.height}" FIXEDSIZE="TRUE" ' if self.width else ""
        return (f'<TD ID="{html.escape(id)}" {size}BGCOLOR="{self.colour}" HREF="#" '
                f'TOOLTIP="{html.escape(self.tooltip)}">{inner if self.text else ""}</TD>')


Cells = dict  # a picture's cells by id, as they are made: dict[str, Cell]


def cell(cells: Cells, id: str, colour: str, tooltip: str, text: str = "", width: int = CELL_WIDTH,
         height: int = CELL_HEIGHT) -> str:
    """A :class:`Cell`, recorded in ``cells`` under ``id``, as HTML."""
    cells[id] = made = Cell(colour, tooltip, text, width, height)
    return made.html(id)


def value_cell(cells: Cells, id: str, name: str, v: float, colour: Colour, width: int, height: int,
               numbered: bool = False) -> str:
    """A cell of the number ``v`` of ``name`` (``h[3][5]``), printed in it if ``numbered``; NaN stands for a
    number not computed yet (in an animation)."""
    if math.isnan(v):
        return cell(cells, id, PENDING, f"{name} = not computed yet", "…" if numbered else "", width, height)
    return cell(cells, id, colour(v), f"{name} = {number(v)}", short(v) if numbered else "", width, height)


def text(words: str, size: int = NAME_SIZE) -> str:
    """Plain words in a label, escaped."""
    return f'<FONT POINT-SIZE="{size}">{html.escape(words)}</FONT>'


def name_and_op(name: str, op: str = "") -> str:
    """A node's name over its node type's (smaller, grey), in a label: two short lines, not one long one."""
    under = f'<BR/><FONT POINT-SIZE="{NAME_SIZE - 1}" COLOR="#555555">{html.escape(op)}</FONT>' if op else ""
    return f"{text(name)}{under}"


def strip(cells: Cells, key: str, vector: np.ndarray, colour: Colour, heading: str, *, bits: bool = False) -> str:
    """A vector as a row of cells under its ``heading`` (:func:`name_and_op`); a short one prints its numbers in them
    (narrow cells if they are ``bits``)."""
    numbered = vector.size <= NUMBERED
    width = (BIT_WIDTH if bits else NUMBER_WIDTH) if numbered else CELL_WIDTH
    height = 16 if numbered else CELL_HEIGHT
    row = "".join(value_cell(cells, f"{key}:{i}", f"{key}[{i}]", float(v), colour, width, height, numbered)
                  for i, v in enumerate(vector))
    return (f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="0">'
            f'<TR><TD COLSPAN="{vector.size}" BORDER="0">{heading}</TD></TR><TR>{row}</TR></TABLE>>')


def heat_map(cells: Cells, key: str, matrix: np.ndarray, colour: Colour, heading: str, scale: str) -> str:
    """A weight's matrix as a grid of small cells (row i of the grid, row i of the matrix) under its heading,
    with ``scale``, the words that say what its colours mean, under the grid."""
    size = 5 if max(matrix.shape) > 16 else 6
    rows = "".join(
        "<TR>" + "".join(value_cell(cells, f"{key}:{i},{j}", f"{key}[{i}, {j}]", float(v), colour, size, size)
                         for j, v in enumerate(row)) + "</TR>"
        for i, row in enumerate(matrix)
    )
    # The grid in a table of its own, so that a wide caption does not stretch a narrow matrix's cells.
    return (f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="0">'
            f'<TR><TD>{text(heading)}</TD></TR>'
            f'<TR><TD><TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0">{rows}</TABLE></TD></TR>'
            f'<TR><TD>{text(scale, NUMBER_SIZE)}</TD></TR></TABLE>>')


def loss_label(cells: Cells, key: str, value: float, summed: bool) -> str:
    """A loss with its number (``…`` if not computed yet); the total says it is the sum over the steps."""
    shown = "…" if math.isnan(value) else number(value)
    # The number in a cell of its own, 64 pt wide (a loss's 4 digits fit): a frame with another number is laid
    # out alike.
    numbered = cell(cells, f"{key}:value", "#f7f7f7", f"{key} = {shown}", shown, 64, 16)
    rows = f"<TR><TD>{text(key + ' =')}</TD></TR><TR>{numbered}</TR>"
    if summed:
        rows += f"<TR><TD>{text('the sum over the steps')}</TD></TR>"
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLPADDING="0" CELLSPACING="0">{rows}</TABLE>>'


def title(cells: Cells, words: str, caption: str | None = None, legend: str = "", size: int = 14) -> str:
    """A picture's title (a graph's label, over the picture): its words, under them a ``caption`` as a cell (an
    animation's frames differ in it), and under that its ``legend`` (a table)."""
    rows = f'<TR><TD><FONT POINT-SIZE="{size}">{html.escape(words)}</FONT></TD></TR>'
    if caption is not None:
        cells["caption"] = made = Cell("#ffffff", caption, caption, 0, 0, size - 1)
        rows += f"<TR>{made.html('caption')}</TR>"
    if legend:
        rows += f'<TR><TD CELLPADDING="6">{legend}</TD></TR>'
    return f'<<TABLE BORDER="0" CELLPADDING="1" CELLSPACING="0">{rows}</TABLE>>'


def bits(vector: np.ndarray) -> str:
    """``1 0``: each number rounded to a bit, ``…`` for one not computed yet."""
    return " ".join("…" if math.isnan(v) else f"{int(round(v))}" for v in np.ravel(vector))


def first_vector(shown: Mapping[str, np.ndarray] | None, key: str, shape: tuple) -> np.ndarray | None:
    """The first example's vector of ``key`` (a batch's first row; a fixed matrix's first row, a vector, a scalar as
    one cell), when it is narrow enough to draw as cells."""
    if shown is None or key not in shown or len(shape) > 2:
        return None
    value = np.asarray(shown[key], dtype=float)
    vector = np.ravel(value[(0,) * (value.ndim - 1)]) if len(shape) == 2 else np.ravel(value)
    return vector if vector.size <= MAX_CELLS else None


def matrix_of(shown: Mapping[str, np.ndarray] | None, key: str, shape: tuple) -> np.ndarray | None:
    """A weight's matrix (a vector as one row), when it is small enough to draw as a heat map."""
    if shown is None or key not in shown or None in shape or len(shape) not in (1, 2):
        return None
    matrix = np.atleast_2d(np.asarray(shown[key], dtype=float))
    return matrix if max(matrix.shape) <= MAX_HEAT else None
