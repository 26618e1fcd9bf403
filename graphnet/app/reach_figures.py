"""The figures of how far back the gradient reaches, drawn with matplotlib (the ``plot`` extra), all in this
module: one network's reach (:func:`reach_figure`, ``graphnet reach --plot``) and cells compared over tasks of
growing reach (:func:`compare_figure`, ``graphnet compare --plot``).

Drawn with matplotlib's object interface (:mod:`graphnet.app.figures`), written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..rnn.reach import THRESHOLD
from .figures import new_figure, save_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .compare import Entry
    from .reach import Reach

FLOOR = 1e-12  # sizes below this are drawn at it: a log scale has no 0


def reach_figure(reach: Reach, *, title: str | None = None) -> Figure:
    """Above, the size of each lag's part of the gradient (log scale) with the threshold of the reach; below,
    ‖∂h_t/∂h_k‖ and ‖∂ŷ_t/∂x_k‖ for every pair of steps (the problems' mean, lower triangles, log colours), the
    step ``t`` down, the earlier step ``k`` across. Drawn to be read in a README's column (8.8 inches)."""
    figure = new_figure(8.8, 7.4)
    grid = figure.add_gridspec(2, 2, height_ratios=[1, 1.15])
    lags = figure.add_subplot(grid[0, :])
    states, inputs = figure.add_subplot(grid[1, 0]), figure.add_subplot(grid[1, 1])
    _draw_lags(lags, reach)
    state = reach.state.replace("(", r"\left(").replace(")", r"\right)")  # (h, c) as one symbol
    _draw_pairs(figure, states, reach.states.mean(axis=0),
                rf"$\Vert\partial {state}_t \,/\, \partial {state}_k\Vert$",
                "how much the state of step t moves\nwith the state of step k", diagonal=True)
    _draw_pairs(figure, inputs, reach.inputs.mean(axis=0), r"$\Vert\partial \hat y_t \,/\, \partial x_k\Vert$",
                "how much the prediction of step t moves\nwith the input of step k", diagonal=True)
    heading = f"{title}: " if title else ""
    figure.suptitle(f"{heading}how far back the gradient reaches, on {reach.about}", fontsize=12)
    figure.tight_layout()
    return figure


def _draw_lags(ax: Axes, reach: Reach) -> None:
    split = reach.split
    measured = max(split.measured, 1)  # lags past it have no part (they would read the initial state, 0)
    sizes = split.sizes[:measured]
    ax.bar(np.arange(measured), np.maximum(sizes, FLOOR), color="tab:blue", width=0.7, label="the part of lag k")
    if sizes[0]:
        line = THRESHOLD * sizes[0]
        ax.axhline(line, color="tab:red", linestyle="--", linewidth=1.2, label=f"{THRESHOLD:g} of lag 0's part")
        end = split.reach()
        if split.fades():
            ax.axvspan(end - 0.5, measured - 0.5, color="0.88", zorder=0, label=f"not reached: lag {end} on")
        ax.set_ylim(max(FLOOR, min(line, sizes[sizes > 0].min()) / 5), sizes.max() * 4)
    ax.set_yscale("log")
    ax.set_xlim(-0.6, measured - 0.4)
    ax.set_xlabel("lag k: steps from the step whose error it is back to the step that reads the weight")
    ax.set_ylabel("size of the part")
    weights = split.weights[0] if len(split.weights) == 1 else f"{len(split.weights)} recurrent weights"
    ax.set_title(f"{weights}: its gradient split by lag; it reaches {_reach_words(split)}", fontsize=11)
    _integer_ticks(ax, measured, axis="x")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=9, loc="upper right")


def _reach_words(split) -> str:
    return f"{split.reach()} lags" + ("" if split.fades() else " or more")


def _draw_pairs(figure: Figure, ax: Axes, norms: np.ndarray, what: str, subtitle: str, *, diagonal: bool) -> None:
    """``norms[t, k]`` as a lower triangle of cells coloured on a log scale (the cells above the diagonal blank)."""
    from matplotlib.colors import LogNorm

    steps = len(norms)
    lower = np.tril(np.ones((steps, steps), dtype=bool), 0 if diagonal else -1)
    shown = np.where(lower, np.maximum(norms, FLOOR), np.nan)
    positive = shown[np.isfinite(shown)]
    low, high = (max(positive.min(), positive.max() * 1e-8), positive.max()) if positive.size else (FLOOR, 1.0)
    image = ax.imshow(shown, cmap="viridis", norm=LogNorm(vmin=low, vmax=max(high, low * 10)), origin="upper",
                      interpolation="nearest")
    colourbar = figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    colourbar.ax.tick_params(labelsize=9)
    ax.set_xlabel("earlier step k")
    ax.set_ylabel("step t")
    ax.set_title(f"{what}\n{subtitle}", fontsize=10)
    _integer_ticks(ax, steps, axis="both")


def _integer_ticks(ax: Axes, count: int, *, axis: str) -> None:
    """Ticks at whole steps, at most about twelve of them."""
    every = max(1, int(np.ceil(count / 12)))
    ticks = np.arange(0, count, every)
    if axis in ("x", "both"):
        ax.set_xticks(ticks)
    if axis in ("y", "both"):
        ax.set_yticks(ticks)


def compare_figure(entries: Sequence[Entry], *, title: str | None = None) -> Figure:
    """Three panels over the settings compared, a line per contestant (its chosen learning rate's seeds): whether
    it learns (the mean accuracy, each seed a dot), how far back its gradient reaches and by what factor a change
    of its state shrinks or grows a step on its way forward (medians over the seeds; solid: trained, dashed: at
    the start; a triangle: the median reach is every lag measured, the gradient did not fade within the problems,
    so it reaches at least that far). For the delayed echo, the delay is the wide grey line: the reach the task
    needs. Needs matplotlib."""
    from .compare import chosen, summary

    groups = chosen(entries)
    contestants = list(dict.fromkeys(runs[0].contestant for runs in groups))
    values = list(dict.fromkeys(runs[0].value for runs in groups))
    key = groups[0][0].setting.split(" ")[0].split("=")[0] if groups else "setting"
    figure = new_figure(8.8, 4.6)
    accuracy, reach, stretch = figure.subplots(1, 3)
    spread = np.linspace(-0.1, 0.1, len(contestants)) if len(contestants) > 1 else np.zeros(1)
    for i, contestant in enumerate(contestants):
        mine = {runs[0].value: runs for runs in groups if runs[0].contestant == contestant}
        colour = f"C{i}"
        xs = np.array([values.index(v) for v in mine]) + spread[i]
        sums = [summary(runs) for runs in mine.values()]
        accuracy.plot(xs, [s["accuracy"] for s in sums], color=colour, marker="o", markersize=4, label=contestant)
        for x, runs in zip(xs, mine.values()):
            accuracy.scatter([x] * len(runs), [r.accuracy or 0.0 for r in runs], s=9, color=colour, alpha=0.4,
                             linewidths=0)
        ends = np.array([np.nan if s["reach_end"] is None else s["reach_end"] for s in sums], dtype=float)
        reach.plot(xs, ends, color=colour, marker="o", markersize=4)
        reach.plot(xs, [s["reach_start"] for s in sums], color=colour, linestyle="--", linewidth=1)
        unfaded = [j for j, s in enumerate(sums) if np.isfinite(ends[j]) and ends[j] >= s["measured"]]
        reach.scatter(xs[unfaded], ends[unfaded], marker="^", s=45, color=colour, zorder=3)
        stretch.plot(xs, [np.nan if s["stretch_end"] is None else s["stretch_end"] for s in sums], color=colour,
                     marker="o", markersize=4)
        stretch.plot(xs, [s["stretch_start"] for s in sums], color=colour, linestyle="--", linewidth=1)
    styles = [reach.plot([], [], color="0.3", marker="o", markersize=4, label="trained")[0],
              reach.plot([], [], color="0.3", linestyle="--", linewidth=1, label="at the start")[0],
              reach.scatter([], [], marker="^", s=40, color="0.3", label="did not fade: at least")]
    if key == "task.delay":
        styles.append(reach.plot(range(len(values)), [float(v) for v in values], color="0.5", linewidth=7, alpha=0.3,
                                 zorder=0, label="the delay")[0])
    stretch.axhline(1.0, color="0.5", linewidth=1)
    for ax in (accuracy, reach, stretch):
        ax.set_xticks(range(len(values)), values)
        ax.set_xlabel(key)
        ax.grid(True, alpha=0.3)
    accuracy.set_ylim(-0.03, 1.03)
    accuracy.set_title("does it learn?\naccuracy, every bit right", fontsize=10)
    reach.set_yscale("log", base=2)
    reach.yaxis.set_major_formatter("{x:g}")
    reach.set_title("how far back does its\ngradient reach? (lags)", fontsize=10)
    stretch.set_yscale("log")
    stretch.yaxis.set_major_formatter("{x:g}")
    stretch.set_title(r"$\Vert\partial h_t / \partial h_{t-16}\Vert^{1/16}$: a state's" "\nchange, per step forward",
                      fontsize=10)
    handles, labels = accuracy.get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(handles), fontsize=9, frameon=False,
                  bbox_to_anchor=(0.5, 0.055))
    figure.legend(styles, [s.get_label() for s in styles], loc="lower center", ncol=len(styles), fontsize=9,
                  frameon=False, bbox_to_anchor=(0.5, 0.0))
    if title:
        figure.suptitle(title, fontsize=12)
    figure.tight_layout(rect=(0, 0.12, 1, 1))
    return figure


def write_compare_plot(path: str | Path, entries: Sequence[Entry], *, title: str | None = None) -> Path:
    """Write :func:`compare_figure` to ``path`` (``.svg``, ``.png``) atomically."""
    return save_figure(compare_figure(entries, title=title), path)


def write_reach_plot(path: str | Path, reach: Reach, *, title: str | None = None) -> Path:
    """Write :func:`reach_figure` to ``path`` (``.svg``, ``.png``) atomically."""
    return save_figure(reach_figure(reach, title=title), path)
