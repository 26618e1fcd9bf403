"""A frame of an animation, and how long it stays."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from ..engine.graph import Graph
from ..render import Picture

FRAME_SECONDS = 1.5  # each frame of a pass: long enough to read a number; the first and the last are held longer
HOLD_SECONDS = 3.0


@dataclass(frozen=True)
class Frame:
    """One picture of an animation: the ``phase`` it belongs to, what it shows and how long it stays.

    ``step`` is the time step the frame is about (None: the shared ops, the summed loss), ``keys`` the nodes
    whose numbers it adds, ``numbers`` every node's numbers as the frame shows them (NaN: not computed yet),
    ``notes`` a line more about some nodes (a weight's running sum), ``graph`` the graph drawn. The page shows
    these beside the picture.
    """

    picture: Picture
    phase: str  # "forward", "reverse" or "memory"
    caption: str
    seconds: float
    step: int | None = None
    keys: tuple[str, ...] = ()
    numbers: Mapping[str, np.ndarray] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)
    graph: Graph | None = None


def seconds(count: int, i: int) -> float:
    """How long frame ``i`` of a pass of ``count`` frames stays: the first and the last longer."""
    return HOLD_SECONDS if i in (0, count - 1) else FRAME_SECONDS
