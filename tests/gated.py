"""A sweep whose trials of one setting wait for a gate: a test stops or breaks the sweep while those trials are
certainly running, and the others certainly done, with no guess of time.

The plugin registers ``gated_sigmoid``, a sigmoid whose forward waits, at networks of 3 hidden units only, until
the gate (a file whose path the plugin's text holds) exists; as it starts to wait in a process it writes that
process's id to ``GATE.waiting.PID``, so a test knows which process is in the middle of a trial. Its text says
all it needs: a process that loads it (a sweep's worker, on a cluster too) needs nothing else.
"""

from __future__ import annotations

import csv
from pathlib import Path

PLUGIN = '''
import os
import time
from pathlib import Path

from graphnet import Node, Stacking, register_node

GATE = Path({gate!r})


@register_node("gated_sigmoid")
class GatedSigmoid(Node):
    """The logistic sigmoid; at 3 hidden units, it waits for the gate first."""

    stacking = Stacking()

    def forward(self, ctx, x):
        if x.shape[-1] == 3 and not GATE.exists():
            GATE.with_name(f"{GATE.name}.waiting.{os.getpid()}").touch()
            while not GATE.exists():
                time.sleep(0.02)
        y = 1 / (1 + ctx.xp.exp(-x))
        ctx.save(y)
        return y

    def backward(self, ctx, grad):
        (y,) = ctx.saved
        return (grad * y * (1 - y),)
'''

# Four trials of 200 iterations, in two groups: hidden 4 (free) and hidden 3 (gated), two seeds each.
SWEEP = ["--set", "network.hidden=4,3", "--set", "network.activation=gated_sigmoid", "--set",
         "training.iterations=200", "--seeds", "2", "--check-every", "50"]


def gate(folder: Path) -> tuple[Path, Path]:
    """The plugin's file and its gate (closed), in ``folder``."""
    plugin, closed = folder / "gated_nodes.py", folder / "gate"
    plugin.write_text(PLUGIN.replace("{gate!r}", repr(str(closed))))
    return plugin, closed


def waiting(gate: Path) -> list[int]:
    """The processes that have waited at ``gate``."""
    return [int(p.name.rsplit(".", 1)[1]) for p in gate.parent.glob(f"{gate.name}.waiting.*")]


def rows(path: Path) -> list[dict]:
    """A sweep's CSV as rows, all but the seconds (which differ from run to run)."""
    with path.open(newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]
