"""The legend of a picture: what its colours mean."""

from __future__ import annotations

import html

import numpy as np

from .cells import NAME_SIZE, NUMBER_SIZE, number
from .colours import PENDING, RECURRENT_COLOUR, WEIGHT_COLOURS, Scale, unit_colour

SWATCH = 'WIDTH="26" HEIGHT="14"'


def _words(words: str, span: int, align: str = "LEFT", bold: str = "") -> str:
    bold = f"<B>{html.escape(bold)}</B> " if bold else ""
    return (f'<TD COLSPAN="{span}" ALIGN="{align}"><FONT POINT-SIZE="{NAME_SIZE}">{bold}{html.escape(words)}'
            "</FONT></TD>")


def _tick(v: float) -> str:
    """A logarithmic scale's tick, short: ``-2e-3``, ``0``, ``5``."""
    mantissa, exponent = f"{v:.0e}".split("e")
    return mantissa if int(exponent) == 0 or v == 0 else f"{mantissa}e{int(exponent)}"


def legend(cells: Scale | None, *, gradients: bool, unit: bool, bits: bool, weights: bool, pending: bool,
           steps: bool = True) -> str:
    """The legend, a table of Graphviz's HTML: the number scale of the vectors' cells (``cells``; none without a run),
    the grey one of numbers in [0, 1] (``unit``) or of the input and target bits a gradient picture shows
    (``bits``), what a weight's heat map means, the colour of a number not computed yet (``pending``), and the
    two kinds of coloured edge (the state's only where there are steps); empty where there is nothing to say."""
    rows = []
    n = 9
    if cells is not None:
        ticks = cells.ticks()
        n = len(ticks)
        kind = "logarithmic, each shade a factor of 10" if cells.decades else "linear"
        rows += [
            f"<TR>{_words(f'({kind})', n, bold='gradient of the loss' if gradients else 'value')}</TR>",
            "<TR>" + "".join(f'<TD {SWATCH} BGCOLOR="{cells.colour(v)}"></TD>' for v in ticks) + "</TR>",
        ]
        if cells.decades:
            rows.append("<TR>" + "".join(f'<TD><FONT POINT-SIZE="{NUMBER_SIZE - 2}">{_tick(v)}</FONT></TD>'
                                         for v in ticks) + "</TR>")
        else:
            third = n // 3
            rows.append(f'<TR><TD COLSPAN="{third}" ALIGN="LEFT"><FONT POINT-SIZE="{NUMBER_SIZE}">'
                        f'{number(-cells.limit)}</FONT></TD><TD COLSPAN="{n - 2 * third}">0</TD>'
                        f'<TD COLSPAN="{third}" ALIGN="RIGHT"><FONT POINT-SIZE="{NUMBER_SIZE}">'
                        f'{number(cells.limit)}</FONT></TD></TR>')
    if unit or bits:
        grey = "".join(f'<TD {SWATCH} BGCOLOR="{unit_colour(v)}"></TD>' for v in np.linspace(0, 1, n))
        what = ("input and target bits", "(no gradient)") if bits else ("values in [0, 1]", "(sigmoid outputs, bits)")
        rows += [f"<TR>{_words(what[1], n, bold=what[0])}</TR>", f"<TR>{grey}</TR>",
                 f'<TR>{_words("0", n // 2)}{_words("1", n - n // 2, "RIGHT")}</TR>']
    if weights and cells is not None:
        rows.append(f"<TR>{_words('its own scale, full colour at the ± under it', n, bold='a weight:')}</TR>")
    if pending:
        rows.append(f'<TR><TD {SWATCH} BGCOLOR="{PENDING}"></TD>{_words("not computed yet", n - 1)}</TR>')
    key = [(RECURRENT_COLOUR, "3", "the state carried to the next step")] if steps else []
    if weights:
        key.append((WEIGHT_COLOURS[0], "2", "a weight (one colour each)" + (" read by every step" if steps else "")))
    for colour, pen, meaning in key:
        bar = (f'<TABLE BORDER="0" CELLPADDING="0" CELLSPACING="0"><TR><TD HEIGHT="{pen}" WIDTH="26" '
               f'BGCOLOR="{colour}"></TD></TR></TABLE>')
        rows.append(f"<TR><TD>{bar}</TD>{_words(meaning, n - 1)}</TR>")
    if not rows:
        return ""
    return f'<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="1" CELLPADDING="1">{"".join(rows)}</TABLE>'
