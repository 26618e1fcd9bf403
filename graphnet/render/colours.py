"""Colours: numbers as colours (:class:`Scale`, :func:`unit_colour`), a colour for each weight, and the few
colours with a meaning of their own (the state carried between steps, a number not computed yet).

Red and blue are a number's sign, grey a number in [0, 1]; the weights' colours keep away from all three and
from the state's purple, and from each other: any two of the first 13 (the LSTM's weights) are at least 18
apart in CIEDE2000, a difference seen at a glance (tests/render/test_colours.py measures it).

Examples
--------
>>> Scale(2.0).colour(2.0), Scale(2.0).colour(-2.0), Scale(2.0).colour(0.0)
('#b2182b', '#2166ac', '#ffffff')
>>> unit_colour(0.0), unit_colour(1.0)
('#ffffff', '#252525')
>>> weight_colours(["synapse_0", "synapse_h", "synapse_1"])
{'synapse_0': '#e66101', 'synapse_h': '#00ced1', 'synapse_1': '#c71585'}
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np

RGB = tuple[int, int, int]
WHITE: RGB = (255, 255, 255)
DARK: RGB = (37, 37, 37)
BLUE: RGB = (33, 102, 172)
RED: RGB = (178, 24, 43)

RECURRENT_COLOUR = "#6a3d9a"  # the state carried from one step into the next
PENDING = "#e9e4d4"  # a number not computed yet (in an animation): greige, a colour no scale has
EDGE_COLOUR = "#888888"  # every other edge

# One colour per weight, in order (a cell's weights in the order it declares them), chosen from well-known
# qualitative palettes so that each prefix is as spread as it can be: the post's 3 weights at least 42 apart
# (CIEDE2000), the GRU's 10 at least 18.9, the LSTM's 13 at least 18.3, all 16 at least 14.8; none within 20
# of a sign's red or blue or of the state's purple. Past 16, more are made by stepping round the hue circle.
WEIGHT_COLOURS = [
    "#e66101", "#00ced1", "#c71585", "#808000", "#006d5b", "#ff9da7", "#654522", "#9acd32",
    "#f6a600", "#b07aa1", "#0e8f9e", "#1b9e77", "#c2b280", "#a6761d", "#4d9221", "#556b2f",
]
MAX_DECADES = 6  # a logarithmic scale reaches at most this many factors of 10 below its largest number


def rgb(colour: str) -> RGB:
    """``#rrggbb`` as three integers."""
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def mix(a: RGB, b: RGB, f: float) -> str:
    """The colour a fraction ``f`` of the way from ``a`` to ``b`` (``f`` clipped to [0, 1])."""
    f = min(max(f, 0.0), 1.0)
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b))


def tint(colour: str, f: float = 0.12) -> str:
    """``colour`` faded towards white: a weight's node is filled with a tint of its colour."""
    return mix(WHITE, rgb(colour), f)


def ink(background: str) -> str:
    """Black or white text, whichever reads on ``background``."""
    r, g, b = rgb(background)
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#ffffff"


def unit_colour(v: float) -> str:
    """A value in [0, 1] (a sigmoid's output, a bit): white at 0 to near black at 1."""
    return mix(WHITE, DARK, v)


def is_unit(values: np.ndarray) -> bool:
    """Whether every number of ``values`` is in [0, 1] (NaN, not computed yet, aside): drawn on the grey scale."""
    shown = values[~np.isnan(values)] if values.dtype.kind == "f" else values
    return bool(shown.size) and float(shown.min()) >= 0.0 and float(shown.max()) <= 1.0


@dataclass(frozen=True)
class Scale:
    """Numbers of any sign as colours: blue below 0, white at 0, red above, full colour at ``±limit``.

    With ``decades`` 0 the colour grows in proportion to the number. Otherwise it grows with the number's
    logarithm, from faint at ``limit / 10**decades`` to full at ``limit`` (below that, white): a gradient a
    thousand times smaller than the largest still shows.

    Examples
    --------
    >>> Scale.fit([1.0, 0.5]).decades, Scale.fit([1.0, 1e-3]).decades
    (0, 4)
    >>> Scale(1.0, 4).colour(1e-3) != "#ffffff" and Scale(1.0, 4).colour(1e-5) == "#ffffff"
    True
    """

    limit: float
    decades: int = 0

    @classmethod
    def fit(cls, magnitudes: Iterable[float], *, logarithmic: bool = True) -> Scale:
        """The scale for vectors whose largest magnitudes are ``magnitudes``.

        Linear, unless one of them would be all but white on it (under a twentieth of the largest) and
        ``logarithmic`` allows it: then logarithmic, reaching one decade below the smallest.
        """
        shown = [m for m in magnitudes if m > 0 and math.isfinite(m)]
        if not shown:
            return cls(0.0)
        limit, smallest = max(shown), min(shown)
        if smallest * 20 >= limit or not logarithmic:
            return cls(limit)
        # Logarithmic from a round number (1, 2 or 5 times a power of 10), so the legend's ticks read as such;
        # in logarithms throughout, so that numbers near the float limits or subnormal ones neither overflow nor
        # underflow (a round number past the largest float is no limit: then the largest number is).
        power = 10.0 ** math.floor(math.log10(limit))
        limit = next((m * power for m in (1, 2, 5, 10) if limit * (1 - 1e-12) <= m * power < math.inf), limit)
        return cls(limit, min(MAX_DECADES, math.ceil(math.log10(limit) - math.log10(smallest)) + 1))

    def fraction(self, v: float) -> float:
        """How strong ``v``'s colour is, from 0 (white) to 1."""
        size = abs(v)
        if self.limit <= 0 or size == 0 or not math.isfinite(size):
            return 0.0 if size == 0 or self.limit <= 0 else 1.0
        if not self.decades:
            return min(size / self.limit, 1.0)
        above_floor = math.log10(size) - math.log10(self.limit) + self.decades  # decades above limit / 10**decades
        if above_floor < 0:
            return 0.0
        return min(0.15 + 0.85 * above_floor / self.decades, 1.0)

    def colour(self, v: float) -> str:
        """The colour of ``v``."""
        return mix(WHITE, RED if v >= 0 else BLUE, self.fraction(v))

    def ticks(self) -> list[float]:
        """The numbers the legend shows, from ``-limit`` to ``limit``."""
        if not self.decades:
            return [self.limit * f for f in np.linspace(-1, 1, 9)]
        right = [self.limit * 10.0**-k for k in range(self.decades, -1, -1)]
        return [-v for v in reversed(right)] + [0.0] + right


def weight_colours(keys: list[str]) -> dict[str, str]:
    """A distinct colour for each weight, in order: the 16 of ``WEIGHT_COLOURS``, then hues stepped round."""
    colours = dict(zip(keys, WEIGHT_COLOURS))
    for i, key in enumerate(keys[len(WEIGHT_COLOURS):]):
        hue = (0.11 + i * 0.381966) % 1.0  # the golden angle: each new hue far from the ones before
        if 0.55 < hue < 0.85 or hue < 0.03 or hue > 0.95:  # not blue, purple or red
            hue = (hue + 0.3) % 1.0
        r, g, b = colorsys.hls_to_rgb(hue, 0.4 + 0.15 * (i % 2), 0.75)
        colours[key] = "#%02x%02x%02x" % (round(r * 255), round(g * 255), round(b * 255))
    return colours
