"""The keys of an unrolled network's nodes, made in one place.

The node of ``name`` at time step ``t`` is keyed ``name[t]`` (``h[3]``, ``x_synapse_0[7]``); ``h[-1]`` is the
state before the first step. Training, the pictures and the command read a run by these keys, so they are
made here rather than written out where they are used.

Examples
--------
>>> at(PREDICTION, 3), at("h", -1), over(INPUT, 3), LOSS
('y_hat[3]', 'h[-1]', ('x[0]', 'x[1]', 'x[2]'), 'loss')
"""

from __future__ import annotations

import functools

INPUT = "x"  # a step's input bits
TARGET = "y"  # a step's target bits
PREDICTION = "y_hat"  # a step's prediction
LOSS = "loss"  # a step's loss is at(LOSS, t); LOSS alone is their sum, what training differentiates


def at(name: str, t: int) -> str:
    """The key of node ``name`` at time step ``t``."""
    return f"{name}[{t}]"


@functools.lru_cache(maxsize=256)
def over(name: str, steps: int) -> tuple[str, ...]:
    """The keys of node ``name`` at steps 0 to ``steps - 1`` (made once per length: feeds need them often)."""
    return tuple(at(name, t) for t in range(steps))
