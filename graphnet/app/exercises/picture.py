"""The picture of a check: the gradient at every node of every step, the wrong cells marked.

One row a node of a step (the loss at the top, as the network is drawn, the input's matmul at the bottom), one
column a step, and a last column for the weights, whose gradient is summed over the steps. A cell whose
gradient is right is pale; a wrong one is dark, outlined, and says its relative error. Drawn with matplotlib
(the ``plot`` extra).
"""

from __future__ import annotations

from pathlib import Path

from .unrolled import TOLERANCE, Grid, split_key

ORDER = ("loss", "y_hat", "h_synapse_1", "h", "h_in", "h_synapse_h", "x_synapse_0", "c")  # top to bottom
RIGHT, WRONG, EDGE = "#e8e8e4", "#5b2a86", "#1b1b1b"  # pale grey; a deep violet (never red or blue: those are signs)


def figure(grid: Grid, caption: str = ""):
    """A matplotlib figure of ``grid``, 8.8 inches wide (880 pixels at 100 dpi, a README column)."""
    from ..figures import new_figure

    by_step = {split_key(k) for k in grid.errors if split_key(k)[1] is not None and split_key(k)[1] >= 0}
    names = [n for n in ORDER if any(name == n for name, _ in by_step)]
    names += sorted({name for name, _ in by_step} - set(names))
    weights = [k for k in grid.errors if split_key(k)[1] is None and k not in ("loss",)]
    rows = max(len(names), len(weights), 1)
    columns = grid.steps + (1 if weights else 0)
    height = 1.2 + 0.38 * rows  # inches: the title and a line under it, then a row a node
    fig = new_figure(8.8, height, dpi=100)  # matplotlib imported (quietly) by now
    from matplotlib.patches import Rectangle

    ax = fig.add_axes((0.15, 0.1 / height, 0.84 if not weights else 0.74, (height - 1.05) / height))
    ax.set_xlim(0, columns + (0.3 if weights else 0))
    ax.set_ylim(rows, 0)
    ax.axis("off")

    def cell(x: float, y: int, key: str) -> None:
        error = grid.errors.get(key)
        if error is None:
            return
        bad = error > TOLERANCE
        ax.add_patch(Rectangle((x + 0.04, y + 0.06), 0.92, 0.88, facecolor=WRONG if bad else RIGHT,
                               edgecolor=EDGE if bad else "white", linewidth=2 if bad else 0.5))
        ax.text(x + 0.5, y + 0.5, f"{error:.2g}" if bad else "ok", ha="center", va="center", fontsize=9,
                color="white" if bad else "#55554f")

    for y, name in enumerate(names):
        ax.text(-0.1, y + 0.5, name, ha="right", va="center", fontsize=9.5)
        for t in range(grid.steps):
            cell(t, y, f"{name}[{t}]")
    for t in range(grid.steps):
        ax.text(t + 0.5, -0.15, f"step {t}" if grid.steps <= 10 else str(t), ha="center", va="bottom", fontsize=9)
    if weights:
        x = grid.steps + 0.3
        ax.text(x + 0.5, -0.15, "weights", ha="center", va="bottom", fontsize=9)
        for y, w in enumerate(weights):
            cell(x, y, w)
            ax.text(x + 1.05, y + 0.5, w, ha="left", va="center", fontsize=9.5)
    wrong = len(grid.wrong())
    fig.text(0.02, 1 - 0.3 / height, grid.title, fontsize=11.5, ha="left", va="center")
    said = (f"{wrong} wrong gradients, marked and labelled with their relative error to the right gradient"
            if wrong else "every gradient right")
    fig.text(0.02, 1 - 0.58 / height, caption or said, fontsize=9.5, color="#333333", ha="left", va="center")
    return fig


def write(grid: Grid, path: str | Path, caption: str = "") -> None:
    """Write the picture of ``grid`` to ``path`` (.png or .svg), atomically."""
    from ..figures import save_figure

    save_figure(figure(grid, caption), path)


def png(grid: Grid, caption: str = "") -> bytes:
    """The picture as PNG bytes (what a notebook shows)."""
    import io

    buffer = io.BytesIO()
    figure(grid, caption).savefig(buffer, format="png")
    return buffer.getvalue()
