"""The frames of a run's forward pass and reverse pass, each the picture :func:`~graphnet.render.to_digraph`
draws with the numbers computed by then (the others greige, not computed yet).

- ``forward``: step by step, two frames a step (the input up to the hidden state, then the output and its
  loss), then the summed loss; the numbers are the values.
- ``reverse``: backpropagation through time, in the order the reverse pass hands gradients back (the reverse
  of the forward order): the loss, then the last step's output side and hidden side, and so back to step 0;
  the numbers are the gradients of the loss. A weight's gradient is the sum over every step that reads it: it
  grows frame by frame as each step adds its share, and is whole when the pass reaches step 0. The numbers
  are the engine's own, read as its reverse pass runs (:meth:`~graphnet.engine.program.Run.reverse`, op by op).

Every frame of a pass is the same picture but for the numbers in its cells, so a pass is laid out once.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..app.example import Example, read_example, run_example
from ..app.tasks import Task
from ..engine.graph import Graph
from ..errors import UsageError
from ..render import fit_scales, fold_steps, kind_of, to_digraph
from ..rnn.reach import recurrent_weights, split_by_lag
from .frame import Frame, seconds
from .memory import memory_frames

SHOWS = ("both", "values", "grads", "memory")
MAX_STEPS = 16  # an animation of more steps has too many frames to follow


def frames(task: Task, params: Mapping[str, np.ndarray], example: str, show: str = "both",
           steps: int | None = None, fold: bool = False) -> list[Frame]:
    """The frames of ``example`` (written as the task writes its problems, e.g. ``5+6``) run with ``params``.

    ``show`` is ``both`` (the forward pass, then the reverse pass), ``values`` (the forward pass), ``grads``
    (the reverse pass) or ``memory`` (:mod:`graphnet.animate.memory`); ``steps`` as in ``graphnet render``: at
    least what the example needs; ``fold`` draws each step's cell as one node
    (:func:`~graphnet.render.fold_steps`).
    """
    if show not in SHOWS:
        raise UsageError(f"--show {show}: expected one of {', '.join(SHOWS)}")
    if show == "memory":
        problem = read_example(task, example, steps)
        return memory_frames(task, params, problem.x, f"{task.network.cell}, "
                             f"{task.generator.describe(problem, 0, problem.y[:, 0])}")
    ran = run_example(task, params, example, steps)
    drawn = fold_steps(ran.graph, task.network.cell) if fold else ran.graph
    title = f"{task.network.cell}, {ran.answer()}"
    out: list[Frame] = []
    if show in ("both", "values"):
        out += _forward_frames(ran, drawn, title)
    if show in ("both", "grads"):
        out += _reverse_frames(ran, drawn, title)
    return out


Piece = tuple[str, "int | None", list[str]]


def _pieces(graph: Graph) -> list[Piece]:
    """The ops in forward order, in pieces of a frame each: per step, the cell (up to its hidden state), then
    the output (the rest of the step); then the shared ops that come last (the summed loss). Each piece as
    (its part: ``cell``, ``output`` or ``loss``; its step; its keys)."""
    ops = [k for k in graph.topological_order() if graph.node(k)["inputs"]]
    steps = sorted({graph.node(k).get("t") for k in ops if graph.node(k).get("t") is not None})
    pieces: list[Piece] = []
    for t in steps:
        own = [k for k in ops if graph.node(k).get("t") == t]
        hidden = [i for i, k in enumerate(own) if kind_of(graph.node(k)) == "hidden"]
        cut = hidden[-1] + 1 if hidden and hidden[-1] + 1 < len(own) else max(1, len(own) // 2)
        pieces.append(("cell", t, own[:cut]))
        if own[cut:]:
            pieces.append(("output", t, own[cut:]))
    shared = [k for k in ops if graph.node(k).get("t") is None]
    if shared:
        pieces.append(("loss", None, shared))
    return pieces


def _caption(part: str, step: int | None, keys: list[str], forward: bool) -> str:
    """What a frame shows, in words."""
    first, last = keys[0], keys[-1]
    if forward:
        return {"cell": f"forward pass, step {step}: the cell, {first} to {last}",
                "output": f"forward pass, step {step}: the output, {first} to {last}",
                "loss": f"forward pass: {', '.join(keys)}, summed over the steps"}[part]
    return {"cell": f"reverse pass, step {step}: back through the cell, {last} to {first}",
            "output": f"reverse pass, step {step}: back from {last} to {first}",
            "loss": f"reverse pass: {', '.join(keys)}, whose gradient is 1"}[part]


def _pending(numbers: Mapping[str, np.ndarray], keys: Sequence[str]) -> dict[str, np.ndarray]:
    """``numbers`` with those of ``keys`` not computed yet: NaN, drawn greige."""
    out = dict(numbers)
    for key in keys:
        if key in out:
            out[key] = np.full(np.shape(out[key]), np.nan)
    return out


def _later(pieces: Sequence[Piece], i: int) -> list[str]:
    return [key for _, _, keys in pieces[i + 1 :] for key in keys]


def _forward_frames(ran: Example, drawn: Graph, title: str) -> list[Frame]:
    """The forward pass of ``ran``, drawn as ``drawn`` (its graph itself, or folded): each piece's values in
    turn, a step's inputs with its first piece."""
    graph, values = ran.graph, ran.run.values
    pieces = _pieces(graph)
    scales = fit_scales(drawn, values)
    step_leaves = [k for k in graph.keys() if not graph.node(k)["inputs"] and graph.node(k).get("t") is not None]
    out = []
    for i, (part, step, keys) in enumerate(pieces):
        unread = [k for k in step_leaves if step is not None and graph.node(k).get("t") > step]
        numbers = _pending(values, _later(pieces, i) + unread)
        caption = _caption(part, step, keys, forward=True)
        read = [k for k in step_leaves if graph.node(k).get("t") == step and part == "cell"]
        picture = to_digraph(drawn, values=numbers, scales=scales, labels=values, title=f"{title}: forward pass",
                             caption=caption, pending=True)
        out.append(Frame(picture, "forward", caption, seconds(len(pieces), i), step, tuple(read + keys), numbers,
                         graph=drawn))
    return out


def _reverse_frames(ran: Example, drawn: Graph, title: str) -> list[Frame]:
    """The reverse pass of ``ran``: each piece's gradients in the reverse order, the weights' gradients as far as
    the pass has summed them when it has handed back that piece."""
    graph, run = ran.graph, ran.run
    grads = ran.gradients()  # the pass done: every node's gradient, whole (and none overflows)
    weights = list(graph.parameters)
    summed: dict[str, dict[str, np.ndarray | None]] = {}  # op -> each weight's gradient once that op is done
    done: list[str] = []
    handed: dict[str, list[str]] = {}  # op -> the ops done by then
    for key, grad in run.reverse():
        summed[key] = {w: grad(w) for w in weights}
        done.append(key)
        handed[key] = list(done)
    partials = {w: [s[w] for s in summed.values() if s[w] is not None] for w in weights}
    scales = fit_scales(drawn, run.values, grads, weights=partials)
    backwards = list(reversed(_pieces(graph)))
    adds = _shares(ran)
    out = []
    for i, (part, step, keys) in enumerate(backwards):
        numbers = _pending(grads, _later(backwards, i) + weights)
        numbers.update({w: g for w, g in summed[keys[0]].items() if g is not None})  # keys[0]: handed back last
        caption = _caption(part, step, keys, forward=False)
        if part == "cell" and adds is not None:
            caption += f"; {adds[1]} {adds[0][step]:.0%} of {adds[2]}"
        picture = to_digraph(drawn, values=run.values, grads=numbers, scales=scales, title=f"{title}: reverse pass",
                             caption=caption, pending=True)
        notes = {w: _running_sum(graph, w, handed[keys[0]]) for w in weights}
        out.append(Frame(picture, "reverse", caption, seconds(len(backwards), i), step, tuple(reversed(keys)),
                         numbers, notes, drawn))
    return out


def _shares(ran: Example) -> tuple[np.ndarray, str, str] | None:
    """The share of the recurrent weights' gradient each step's reads add (:mod:`graphnet.rnn.reach`), and how a
    caption says it: ``(shares, "its read of synapse_h adds", "its gradient")``; None for a network without one."""
    network = ran.task.build_network()
    recurrent = recurrent_weights(network)
    if not recurrent:
        return None
    params = {w: ran.run.value(w) for w in ran.graph.parameters}
    shares = split_by_lag(network, params, ran.problem, recurrent).read_shares()
    if len(recurrent) == 1:
        return shares, f"its read of {recurrent[0]} adds", "the weight's gradient"
    return shares, "its reads of the recurrent weights add", "their gradient"


def _running_sum(graph: Graph, weight: str, done: list[str]) -> str:
    """Which steps' shares a weight's gradient holds once the ops ``done`` have handed theirs back."""
    readers = {graph.node(k).get("t") for k in graph.nx.successors(weight)}
    summed = sorted({graph.node(k).get("t") for k in graph.nx.successors(weight) if k in done},
                    key=lambda t: -1 if t is None else t, reverse=True)
    if not summed:
        return f"nothing summed yet: {len(readers)} step(s) read {weight}, each will add its share"
    named = ", ".join("the shared ops" if t is None else str(t) for t in summed)
    whole = " (whole: what SGD applies)" if len(summed) == len(readers) else ""
    return f"the sum so far of the shares of steps {named}: {len(summed)} of {len(readers)}{whole}"
