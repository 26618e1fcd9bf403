"""The hidden layer's memory: the post's recurrence picture, computed.

Frame t shows the hidden states ``h[0..t]``, one row a step, time running down: the step's input bits in the
step's colour, the hidden cells, each coloured by the input steps it depends on (the steps' colours mixed in
proportion, paler the less it depends on any), and, as numbers, how much the whole of ``h[t]`` depends on each
input step, in percent. The dependence is measured by occlusion: how much a cell changes when input step k is
replaced by 0.5 in every bit (an input that says nothing), the run otherwise the same.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from ..app.tasks import Task
from ..errors import NonFiniteError
from ..render import PENDING, RECURRENT_COLOUR, Picture
from ..render.cells import NAME_SIZE, cell, number, text, title
from ..render.colours import EDGE_COLOUR, WHITE, WEIGHT_COLOURS, ink, mix, rgb
from ..rnn.keys import INPUT, at
from ..rnn.network import nonfinite
from .frame import Frame, seconds

SHARE_WIDTH = 30  # a step's share, "100", fits


def occlusion(task: Task, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """How much each hidden cell depends on each input step: ``change[t, k, i]``, the size of the change in
    ``h[t]``'s cell ``i`` when input step ``k`` is replaced by 0.5 in every bit (one example, ``x`` (T, 1, inputs)).

    The run and its occluded copies go through the engine as one batch. A step never depends on a later one,
    so ``change[t, k]`` is 0 for ``k > t``: the net reads its input one step at a time.
    """
    steps = x.shape[0]
    network = task.build_network()
    batch = np.repeat(x[:, :1], steps + 1, axis=1)  # example 0 as it is, example k + 1 with step k occluded
    for k in range(steps):
        batch[k, k + 1] = 0.5
    hidden = [at("h", t) for t in range(steps)]
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is named below, in one line
        run = network.graph(steps).compile(outputs=hidden, wrt=()).forward(network.feeds(batch), params)
    h = np.stack([run.values[key] for key in hidden])  # (T, T + 1, hidden)
    if not np.all(np.isfinite(h)):
        raise NonFiniteError(f"the run overflows with these weights ({nonfinite(run.values)}); the memory picture "
                             "would show no dependence")
    return np.abs(h[:, 1:] - h[:, :1])


def shares(change: np.ndarray) -> np.ndarray:
    """``shares[t, k]``: the part of all of ``h[t]``'s change (summed over its cells) due to input step ``k``,
    from 0 to 1; each row sums to 1 (a row that never changes is all 0)."""
    summed = change.sum(axis=2)
    total = summed.sum(axis=1, keepdims=True)
    return np.divide(summed, total, out=np.zeros_like(summed), where=total > 0)


def memory_frames(task: Task, params: Mapping[str, np.ndarray], x: np.ndarray, name: str) -> list[Frame]:
    """The frames of the memory of a run of ``x`` (T, 1, inputs): frame t shows ``h[0..t]``."""
    change = occlusion(task, params, x)
    parts = shares(change)
    steps = x.shape[0]
    strongest = float(change.sum(axis=1).max()) or 1.0
    out = []
    for now in range(steps):
        caption = f"step {now}: h[0] to h[{now}], what each depends on"
        picture = _memory_picture(x, change, parts, now, strongest, f"{name}: memory", caption)
        numbers = {at("h", t): parts[t] * 100 if t <= now else np.full(steps, np.nan) for t in range(steps)}
        numbers |= {at(INPUT, t): x[t, 0] if t <= now else np.full(x.shape[2], np.nan) for t in range(steps)}
        notes = {at("h", t): "how much of h[t]'s change, summed over its cells, is due to each input step, in %"
                 for t in range(steps)}
        out.append(Frame(picture, "memory", caption, seconds(steps, now), now, (at(INPUT, now), at("h", now)), numbers, notes))
    return out


def step_colour(k: int) -> str:
    """Input step ``k``'s colour: the weights' colours, reused on a picture that has no weights."""
    return WEIGHT_COLOURS[k % len(WEIGHT_COLOURS)]


def _memory_colour(change: np.ndarray, strongest: float) -> str:
    """One hidden cell's colour: the step colours mixed by how much it depends on each step, paler the less
    it depends on any."""
    total = float(change.sum())
    if total <= 0:
        return "#ffffff"
    mixed = np.sum([np.array(rgb(step_colour(k))) * w for k, w in enumerate(change)], axis=0)
    colour = tuple(int(round(v)) for v in mixed / total)
    return mix(WHITE, colour, math.sqrt(min(total / strongest, 1.0)))  # sqrt: a weak dependence still shows


def _memory_picture(x: np.ndarray, change: np.ndarray, parts: np.ndarray, now: int, strongest: float, name: str,
                    caption: str) -> Picture:
    """Frame ``now`` of the memory: one row a step, time running down; steps after ``now`` greige."""
    steps = x.shape[0]
    dot = Picture(name="memory", graph_attr=dict(rankdir="TB", labelloc="t", fontname="Helvetica", nodesep="0.3",
                                                 ranksep="0.22", newrank="true"),
                  node_attr=dict(fontname="Helvetica", fontsize=str(NAME_SIZE), shape="plain"))
    dot.heading = name
    dot.attr(label=title(dot.cells, name, caption))
    for t in range(steps):
        with dot.subgraph() as row:
            row.attr(rank="same")
            row.node(at(INPUT, t), label=_input_label(dot.cells, x, t, seen=t <= now))
            row.node(at("h", t), label=_hidden_label(dot.cells, change, parts, t, strongest, seen=t <= now))
        dot.edge(at(INPUT, t), at("h", t), color=EDGE_COLOUR, arrowsize="0.6")
        if t:
            # from name to name: the state carried down, beside the cells, through none of them
            dot.edge(f'{at("h", t - 1)}:name:s', f'{at("h", t)}:name:n', color=RECURRENT_COLOUR, penwidth="3",
                     arrowsize="0.6")
    dot.node("legend", label=(
        '<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="1" CELLPADDING="3"><TR><TD ALIGN="LEFT">'
        + text("a hidden cell takes the colours of the input steps it depends on, mixed in proportion;")
        + '</TD></TR><TR><TD ALIGN="LEFT">'
        + text("paler: a small change. Measured by occlusion: the change in the cell when that step's")
        + '</TD></TR><TR><TD ALIGN="LEFT">'
        + text("input is replaced by 0.5. The numbers: each step's part of all of h[t]'s change, in %.")
        + "</TD></TR></TABLE>>"))
    dot.edge(at("h", steps - 1), "legend", style="invis")
    return dot


def _input_label(cells: dict, x: np.ndarray, t: int, seen: bool) -> str:
    colour = step_colour(t) if seen else PENDING
    bits = " ".join(str(int(b)) for b in x[t, 0]) if seen else "…"
    made = cell(cells, f"{at(INPUT, t)}:bits", colour, f"{at(INPUT, t)} = {bits}", f"x[{t}]: {bits}", 72, 20)
    return f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="0"><TR>{made}</TR></TABLE>>'


def _hidden_label(cells: dict, change: np.ndarray, parts: np.ndarray, t: int, strongest: float,
                  seen: bool) -> str:
    """``h[t]``: its cells coloured by what they depend on, then its share of dependence on each input step."""
    key = at("h", t)
    mixed = []
    for i in range(change.shape[2]):
        if not seen:
            mixed.append(cell(cells, f"{key}:{i}", PENDING, f"{key}[{i}] = not computed yet", "", 9, 18))
            continue
        own = change[t, : t + 1, i]
        total = float(own.sum())
        said = ", ".join(f"step {k} {100 * w / total:.0f}%" for k, w in sorted(enumerate(own), key=lambda kw: -kw[1])
                         if total > 0 and w / total >= 0.05) or "no input step"
        mixed.append(cell(cells, f"{key}:{i}", _memory_colour(own, strongest),
                          f"{key}[{i}] = {said} (changes by {number(total)})", "", 9, 18))
    header = ""
    if t == 0:  # the steps' colours and numbers, once, over the columns of the shares
        header = (f'<TR><TD COLSPAN="{2 + change.shape[2]}" BORDER="0"></TD><TD COLSPAN="{change.shape[1]}" '
                  f'BORDER="0">{text("% of the change due to input step")}</TD></TR><TR><TD COLSPAN="'
                  f'{2 + change.shape[2]}" BORDER="0"></TD>'
                  + "".join(f'<TD BGCOLOR="{step_colour(k)}"><FONT COLOR="{ink(step_colour(k))}">{k}</FONT></TD>'
                            for k in range(change.shape[1])) + "</TR>")
    due = []
    for k in range(change.shape[1]):
        if not seen:
            due.append(cell(cells, f"{key}:step{k}", PENDING, f"{key}: not computed yet", "…", SHARE_WIDTH, 18))
        elif k > t:  # a later step: never, and nothing to print
            due.append(cell(cells, f"{key}:step{k}", "#ffffff", f"{key} never depends on a later step",
                            "", SHARE_WIDTH, 18))
        else:
            share = float(parts[t, k])
            due.append(cell(cells, f"{key}:step{k}", mix(WHITE, rgb(step_colour(k)), 0.15 + 0.85 * share),
                            f"{key}: {100 * share:.0f}% of its change is due to input step {k}",
                            f"{100 * share:.0f}", SHARE_WIDTH, 18))
    return (f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="0">{header}<TR>'
            f'<TD BORDER="0" WIDTH="40" PORT="name">{text(key)}</TD>{"".join(mixed)}<TD BORDER="0" WIDTH="10"></TD>'
            f'{"".join(due)}</TR></TABLE>>')
