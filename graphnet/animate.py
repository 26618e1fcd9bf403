"""The post's moving pictures, from a real run: the forward pass and the reverse pass step by step, and the
hidden layer's memory. Built on :mod:`graphnet.render`; it only reads the graph and a run of it.

A run of one example is drawn as frames (:func:`frames`), each the picture :func:`~graphnet.render.to_digraph`
draws with the numbers computed by then, the others grey:

- ``forward``: step by step, two frames a step (the input up to the hidden state, then the output and its
  loss), then the summed loss; the numbers are the values.
- ``reverse``: backpropagation through time, in the order the reverse pass hands gradients back (the reverse
  of the forward order): the loss, then the last step's output side and hidden side, and so back to step 0;
  the numbers are the gradients of the loss. A weight's gradient is the sum over every step that reads it: it
  grows frame by frame as each step adds its share, and is whole when the pass reaches step 0. The numbers
  are the engine's own, read as its reverse pass runs (:meth:`~graphnet.engine.program.Run.reverse`, op by op).
- ``memory``: the post's recurrence picture, computed. Frame t shows the hidden states ``h[0..t]``, each cell
  coloured by the input steps it depends on, one colour per step, mixed in proportion. The dependence is
  measured by occlusion: how much the cell changes when input step k is replaced by 0.5 in every bit (an
  input that says nothing), the run otherwise the same.

:func:`write_gif` writes them as an animated GIF (Pillow, the ``animate`` extra); :func:`write_html` as one
self-contained web page with play/pause, a frame slider, a forward/reverse toggle and every number on hover.
"""

from __future__ import annotations

import html
import io
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import graphviz
import numpy as np

from .app.files import write_bytes
from .app.tasks import Task
from .engine.graph import Graph
from .engine.program import Run
from .errors import UsageError
from .render import PENDING, WHITE, Picture, _cell, _ink, _mix, _number, _rgb, fit_scale, fold_steps, kind_of, layout, to_digraph
from .rnn.keys import INPUT, at

SHOWS = ("both", "values", "grads", "memory")
FORMATS = (".gif", ".html")
MAX_STEPS = 16  # an animation of more steps has too many frames to follow (and takes minutes to draw)
FRAME_SECONDS = 0.8  # each frame of a pass; the first and the last of a pass are held longer
HOLD_SECONDS = 2.5
# One colour per input step in the memory picture (a step is not a weight: these are the weights' colours,
# reused on a picture that has no weights).
STEP_COLOURS = ["#e66101", "#1b9e77", "#d01c8b", "#e6ab02", "#0e8f9e", "#8c510a", "#66a61e", "#7a6a00",
                "#f1b6da", "#1a1a1a", "#a6d96a", "#f4a442", "#5ec2d1", "#bf812d", "#35978f", "#4d9221"]
INSTALL = "in graphnet's checkout: pip install -e '.[animate]'"


@dataclass(frozen=True)
class Frame:
    """One picture of an animation: the ``phase`` it belongs to, what it shows and how long it stays."""

    picture: graphviz.Digraph
    phase: str  # "forward", "reverse" or "memory"
    caption: str
    seconds: float


# -- frames -----------------------------------------------------------------------------------------------------
def frames(task: Task, params: Mapping[str, np.ndarray], example: str, show: str = "both",
           steps: int | None = None, fold: bool = False) -> list[Frame]:
    """The frames of ``example`` (written as the task writes its problems, e.g. ``5+6``) run with ``params``.

    ``show`` is ``both`` (the forward pass, then the reverse pass), ``values`` (the forward pass), ``grads``
    (the reverse pass) or ``memory``; ``steps`` as in ``graphnet render``: at least what the example needs;
    ``fold`` draws each step's cell as one node (:func:`~graphnet.render.fold_steps`).
    """
    if show not in SHOWS:
        raise UsageError(f"--show {show}: expected one of {', '.join(SHOWS)}")
    problem = task.generator.example(example, steps)
    title = f"{task.network.cell}, {task.generator.describe(problem, 0, problem.y[:, 0])}"
    if show == "memory":
        return _memory_frames(task, params, problem.x, title)
    network = task.build_network()
    graph = network.graph(len(problem.x))
    # Op by op (the same numbers as the stacked program at batch 1): the reverse pass then hands gradients back
    # one op at a time, the last step first, and a weight's gradient grows step by step, as it is drawn.
    run = graph.compile().forward(network.feeds(problem.x, problem.y), params)
    out: list[Frame] = []
    drawn = fold_steps(graph, task.network.cell) if fold else graph
    if show in ("both", "values"):
        out += _forward_frames(graph, drawn, run.values, title)
    if show in ("both", "grads"):
        out += _reverse_frames(graph, drawn, run, title)
    return out


def _pieces(graph: Graph) -> list[tuple[str, int | None, list[str]]]:
    """The ops in forward order, in pieces of a frame each: per step, the cell (up to its hidden state), then
    the output (the rest of the step); then the shared ops that come last (the summed loss). Each piece as
    (its part: ``cell``, ``output`` or ``loss``; its step; its keys)."""
    ops = [k for k in graph.topological_order() if graph.node(k)["inputs"]]
    steps = sorted({graph.node(k).get("t") for k in ops if graph.node(k).get("t") is not None})
    pieces: list[tuple[str, int | None, list[str]]] = []
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
    """``numbers`` with those of ``keys`` not computed yet: NaN, drawn grey."""
    out = dict(numbers)
    for key in keys:
        if key in out:
            out[key] = np.full(np.shape(out[key]), np.nan)
    return out


def _later(pieces: Sequence[tuple[str, int | None, list[str]]], i: int) -> list[str]:
    return [key for _, _, keys in pieces[i + 1 :] for key in keys]


def _forward_frames(graph: Graph, drawn: Graph, values: Mapping[str, np.ndarray], title: str) -> list[Frame]:
    """The forward pass over ``graph``, drawn as ``drawn`` (the graph itself, or folded): each piece's values in
    turn, a step's inputs with its first piece."""
    pieces = _pieces(graph)
    scale = fit_scale(drawn, values)
    step_leaves = [k for k in graph.keys() if not graph.node(k)["inputs"] and graph.node(k).get("t") is not None]
    shown: list[tuple[str, graphviz.Digraph]] = []
    for i, (part, step, keys) in enumerate(pieces):
        unread = [k for k in step_leaves if step is not None and graph.node(k).get("t") > step]
        numbers = _pending(values, _later(pieces, i) + unread)
        caption = _caption(part, step, keys, forward=True)
        shown.append((caption, to_digraph(drawn, values=numbers, scale=scale, labels=values,
                                          title=f"{title}: {caption}")))
    return _timed(shown, "forward")


def _reverse_frames(graph: Graph, drawn: Graph, run: Run, title: str) -> list[Frame]:
    """The reverse pass of ``run``: each piece's gradients in the reverse order, the weights' gradients as far as
    the pass has summed them when it has handed back that piece."""
    weights = list(graph.parameters)
    summed: dict[str, dict[str, np.ndarray | None]] = {}  # op -> each weight's gradient once that op is done
    for key, grad in run.reverse():
        summed[key] = {w: grad(w) for w in weights}
    grads = run.backward(every_node=True)  # the pass done: every node's gradient, whole
    scale = fit_scale(drawn, run.values, grads)
    backwards = list(reversed(_pieces(graph)))
    shown: list[tuple[str, graphviz.Digraph]] = []
    for i, (part, step, keys) in enumerate(backwards):
        numbers = _pending(grads, _later(backwards, i) + weights)
        numbers.update({w: g for w, g in summed[keys[0]].items() if g is not None})  # keys[0]: handed back last
        caption = _caption(part, step, keys, forward=False)
        shown.append((caption, to_digraph(drawn, values=run.values, grads=numbers, scale=scale,
                                          title=f"{title}: {caption}")))
    return _timed(shown, "reverse")


def _timed(shown: Sequence[tuple[str, graphviz.Digraph]], phase: str) -> list[Frame]:
    """Frames of one pass, the first and the last held longer."""
    return [Frame(picture, phase, caption, HOLD_SECONDS if i in (0, len(shown) - 1) else FRAME_SECONDS)
            for i, (caption, picture) in enumerate(shown)]


# -- memory -----------------------------------------------------------------------------------------------------
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
    run = network.graph(steps).compile(outputs=hidden, wrt=()).forward(network.feeds(batch), params)
    h = np.stack([run.values[key] for key in hidden])  # (T, T + 1, hidden)
    return np.abs(h[:, 1:] - h[:, :1])


def _memory_frames(task: Task, params: Mapping[str, np.ndarray], x: np.ndarray, title: str) -> list[Frame]:
    change = occlusion(task, params, x)
    steps = x.shape[0]
    strongest = float(change.sum(axis=1).max()) or 1.0
    out = []
    for now in range(steps):
        caption = f"memory, step {now}: h[0] to h[{now}], each cell the mix of the input steps it depends on"
        picture = _memory_picture(x, change, now, strongest, f"{title}: {caption}")
        out.append(Frame(picture, "memory", caption, HOLD_SECONDS if now in (0, steps - 1) else FRAME_SECONDS * 1.5))
    return out


def _memory_colour(change: np.ndarray, strongest: float) -> str:
    """One hidden cell's colour: the step colours mixed by how much it depends on each step, paler the less
    it depends on any."""
    total = float(change.sum())
    if total <= 0:
        return "#ffffff"
    mixed = np.sum([np.array(_rgb(_step_colour(k))) * w for k, w in enumerate(change)], axis=0)
    rgb = tuple(int(round(c)) for c in mixed / total)
    return _mix(WHITE, rgb, math.sqrt(min(total / strongest, 1.0)))  # sqrt: a weak dependence still shows


def _memory_picture(x: np.ndarray, change: np.ndarray, now: int, strongest: float, title: str) -> graphviz.Digraph:
    """Frame ``now`` of the memory: inputs and hidden states up to step ``now`` (later ones grey)."""
    steps = x.shape[0]
    dot = Picture(name="memory", graph_attr=dict(rankdir="BT", label=title, labelloc="t", fontsize="14",
                                                 fontname="Helvetica", nodesep="0.25", ranksep="0.35",
                                                 newrank="true"),
                  node_attr=dict(fontname="Helvetica", fontsize="11", shape="plain"))
    for t in range(steps):
        with dot.subgraph(name=f"cluster_t{t}") as step:  # a step's input right under its hidden state
            step.attr(label=f"t = {t}", labeljust="l", color="#cccccc", style="rounded", fontsize="11")
            step.node(at(INPUT, t), label=_input_label(x, t, seen=t <= now))
            step.node(at("h", t), label=_hidden_label(change, t, strongest, seen=t <= now))
        dot.edge(at(INPUT, t), at("h", t), color="#888888", arrowsize="0.6")
        if t:
            dot.edge(at("h", t - 1), at("h", t), color="#6a3d9a", penwidth="3", constraint="false", arrowsize="0.6")
    with dot.subgraph() as row:
        row.attr(rank="same")
        for t in range(steps):
            row.node(at(INPUT, t))
    for t in range(1, steps):  # the steps in time order, left to right
        dot.edge(at(INPUT, t - 1), at(INPUT, t), style="invis", weight="10")
    swatches = "".join(f'<TD BGCOLOR="{_step_colour(k)}" WIDTH="28"><FONT COLOR="{_ink(_step_colour(k))}">'
                       f"{k}</FONT></TD>" for k in range(steps))
    dot.node("legend", label=(
        f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="1" CELLPADDING="2"><TR><TD COLSPAN="{steps}" ALIGN="LEFT">'
        "<B>input step</B>: a hidden cell takes the colours of the steps whose input it depends on, mixed in "
        f"proportion</TD></TR><TR>{swatches}</TR><TR><TD COLSPAN=\"{steps}\" ALIGN=\"LEFT\">dependence measured "
        "by occlusion: the change in the cell when that step's input is replaced by 0.5; paler: a small change"
        "</TD></TR></TABLE>>"))
    dot.edge("legend", at(INPUT, 0), style="invis")
    return dot


def _step_colour(k: int) -> str:
    return STEP_COLOURS[k % len(STEP_COLOURS)]


def _input_label(x: np.ndarray, t: int, seen: bool) -> str:
    colour = _step_colour(t) if seen else PENDING
    bits = " ".join(str(int(b)) for b in x[t, 0]) if seen else "…"
    return (f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4"><TR><TD BGCOLOR="{colour}">'
            f'<FONT COLOR="{_ink(colour)}">x[{t}]: {bits}</FONT></TD></TR></TABLE>>')


def _hidden_label(change: np.ndarray, t: int, strongest: float, seen: bool) -> str:
    cells = []
    for i in range(change.shape[2]):
        if not seen:
            cells.append(_cell(PENDING, f"h[{t}][{i}] = not computed yet", "", 9, 16))
            continue
        parts = change[t, : t + 1, i]
        total = float(parts.sum())
        shares = ", ".join(f"step {k} {100 * w / total:.0f}%" for k, w in sorted(enumerate(parts), key=lambda kw: -kw[1])
                           if total > 0 and w / total >= 0.05) or "no input step"
        cells.append(_cell(_memory_colour(parts, strongest), f"h[{t}][{i}] = {shares} (changes by {_number(total)})",
                           "", 9, 16))
    return (f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="0"><TR><TD COLSPAN="{len(cells)}" '
            f'BORDER="0">h[{t}]</TD></TR><TR>{"".join(cells)}</TR></TABLE>>')


# -- files ------------------------------------------------------------------------------------------------------
def check_output(path: str | Path) -> None:
    """Refuse, before any work, an output of a format this module cannot write, or a GIF without Pillow."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"-o {path}: unknown animation format {suffix or '(none)'!r}; expected one of "
                         f"{', '.join(FORMATS)}")
    if suffix == ".gif":
        try:
            import PIL  # noqa: F401
        except ImportError:
            raise UsageError(f"-o {path}: a GIF needs Pillow, which is not installed; install the animate extra "
                             f"({INSTALL}), or write a .html") from None


def write(frames: Sequence[Frame], path: str | Path) -> Path:
    """Write ``frames`` to ``path`` as its extension says (``.gif`` or ``.html``), atomically."""
    check_output(path)
    if Path(path).suffix.lower() == ".gif":
        return write_gif(frames, path)
    return write_html(frames, path)


def write_gif(frames: Sequence[Frame], path: str | Path, dpi: int = 72) -> Path:
    """An animated GIF of the frames, each laid out by Graphviz as a PNG at ``dpi``, shown for its ``seconds``,
    looping."""
    from PIL import Image

    images = []
    for frame in frames:
        picture = frame.picture.copy()
        picture.graph_attr["dpi"] = str(dpi)
        images.append(Image.open(io.BytesIO(layout(picture, "png"))).convert("RGB"))
    # Every frame has one layout, but a label's width may differ by a point: pad them all to the largest.
    width, height = max(i.width for i in images), max(i.height for i in images)
    padded = []
    for image in images:
        canvas = Image.new("RGB", (width, height), "white")
        canvas.paste(image, (0, 0))
        padded.append(canvas)
    # One palette for every frame, made from a sample of all of their pixels (NEAREST keeps colours exact):
    # a frame then differs from the one before only where the picture does, and the file is a tenth the size.
    sample = Image.new("RGB", (width // 4, (height // 4) * len(padded)))
    for i, image in enumerate(padded):
        sample.paste(image.resize((width // 4, height // 4), Image.Resampling.NEAREST), (0, i * (height // 4)))
    palette = sample.quantize(colors=256, dither=Image.Dither.NONE)
    frames_p = [image.quantize(palette=palette, dither=Image.Dither.NONE) for image in padded]
    out = io.BytesIO()
    frames_p[0].save(out, format="GIF", save_all=True, append_images=frames_p[1:], loop=0, optimize=True,
                     duration=[round(frame.seconds * 1000) for frame in frames])
    return write_bytes(path, out.getvalue())


# A frame's SVG differs from the others of its phase only in colours, hover texts and printed numbers: the page
# keeps one SVG per layout and, per frame, those values, in the order the SVG has them (and so the page's DOM:
# every element with a fill, every link's title, every text).
_FILL = re.compile(r'( fill=")([^"]*)(")')
_TITLE = re.compile(r'( xlink:title=")([^"]*)(")')
_TEXT_X = re.compile(r'(<text[^>]*? x=")([^"]*)(")')  # a text's x: a centred label moves with its width
_TEXT = re.compile(r'(<text[^>]*>)([^<]*)(</text>)')
_ID = re.compile(r' id="[^"]*"')  # numbered on by Graphviz from one drawing to the next: not the layout


def _variables(svg: str) -> tuple[str, str, list[list[str]]]:
    """The SVG from its ``<svg`` tag, its skeleton (without the values) and its values: fills, titles, texts'
    x and texts."""
    svg = svg[svg.index("<svg"):]
    patterns = (_FILL, _TITLE, _TEXT_X, _TEXT)
    values = [[html.unescape(m.group(2)) for m in pattern.finditer(svg)] for pattern in patterns]
    skeleton = _ID.sub("", svg)
    for pattern in patterns:
        skeleton = pattern.sub(r"\1\3", skeleton)
    return svg, skeleton, values


def write_html(frames: Sequence[Frame], path: str | Path) -> Path:
    """One self-contained page (no network, opens from disk): the frames with play/pause, a slider, a
    forward/reverse toggle, and every number on hover."""
    phases: dict[str, dict] = {}
    for frame in frames:
        svg, skeleton, values = _variables(layout(frame.picture, "svg").decode())
        phase = phases.setdefault(frame.phase, {"layouts": [], "skeletons": [], "frames": []})
        if skeleton not in phase["skeletons"]:  # laid out unlike the frames before (a label of another width)
            phase["skeletons"].append(skeleton)
            phase["layouts"].append({"svg": svg, "values": values})
        layout_index = phase["skeletons"].index(skeleton)
        base = phase["layouts"][layout_index]["values"]
        # each frame as its changes to its layout's first frame: a page of kilobytes, not megabytes
        changes = [[[i, v] for i, (v, b) in enumerate(zip(now, then)) if v != b] for now, then in zip(values, base)]
        phase["frames"].append({"caption": frame.caption, "seconds": frame.seconds, "layout": layout_index,
                                "changes": changes})
    for phase in phases.values():
        del phase["skeletons"]
    title = frames[0].picture.graph_attr.get("label", "graphnet").split(":")[0] if frames else "graphnet"
    data = json.dumps(phases, separators=(",", ":")).replace("</", "<\\/")
    page = _PAGE.replace("{title}", html.escape(title)).replace("{data}", data)
    return write_bytes(path, page.encode())


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>graphnet: {title}</title>
<style>
  body { font-family: Helvetica, Arial, sans-serif; margin: 1em; color: #222; }
  #controls { display: flex; gap: 1em; align-items: center; flex-wrap: wrap; margin-bottom: 0.5em; }
  #frame { width: 24em; }
  #caption { font-size: 0.95em; }
  #picture svg { max-width: 100%; height: auto; }
  #picture a { cursor: default; }
</style>
</head>
<body>
<div id="controls">
  <button id="play" type="button">pause</button>
  <span id="phases"></span>
  <input id="frame" type="range" min="0" value="0" aria-label="frame">
  <span id="position"></span>
</div>
<div id="caption"></div>
<div id="picture"></div>
<script>
"use strict";
const PHASES = {data};
const NAMES = {forward: "forward pass", reverse: "reverse pass", memory: "memory"};
const order = Object.keys(PHASES);
const svgNS = "http://www.w3.org/2000/svg", xlinkNS = "http://www.w3.org/1999/xlink";
let phase = order[0], index = 0, playing = true, timer = null, slots = [], bound = null;
const picture = document.getElementById("picture"), slider = document.getElementById("frame");

// Every frame's values, rebuilt once from its layout's values and its changes.
for (const name of order) {
  for (const frame of PHASES[name].frames) {
    const base = PHASES[name].layouts[frame.layout].values;
    frame.values = base.map((values, kind) => {
      const copy = values.slice();
      for (const [i, v] of frame.changes[kind]) copy[i] = v;
      return copy;
    });
  }
}

function bind(layout) {
  // A layout's SVG, with a <title> in each link (what a browser shows on hover) and the slots of its values:
  // the elements with a fill, the links, the texts, in the order of the SVG.
  picture.innerHTML = layout.svg;
  const title = a => { const t = document.createElementNS(svgNS, "title"); a.insertBefore(t, a.firstChild); return t; };
  slots = [
    Array.from(picture.querySelectorAll("svg [fill]"), el => v => el.setAttribute("fill", v)),
    Array.from(picture.querySelectorAll("svg a"), a => { const t = title(a); return v => { a.setAttributeNS(xlinkNS, "title", v); t.textContent = v; }; }),
    Array.from(picture.querySelectorAll("svg text"), el => v => el.setAttribute("x", v)),
    Array.from(picture.querySelectorAll("svg text"), el => v => { el.textContent = v; }),
  ];
  bound = layout;
}

function show(name) {
  phase = name;
  slider.max = PHASES[name].frames.length - 1;
  for (const button of document.querySelectorAll("#phases input")) button.checked = button.value === name;
}

function draw(i) {
  index = i;
  const frame = PHASES[phase].frames[i], layout = PHASES[phase].layouts[frame.layout];
  if (bound !== layout) bind(layout);
  frame.values.forEach((values, kind) => {
    if (values.length !== slots[kind].length) throw new Error("frame " + i + " does not fit its layout");
    values.forEach((v, k) => slots[kind][k](v));
  });
  slider.value = i;
  document.getElementById("caption").textContent = frame.caption;
  document.getElementById("position").textContent = (i + 1) + " / " + PHASES[phase].frames.length;
}

function next() {
  // On to the next frame, the next phase after a phase's last, and round again.
  let i = index + 1;
  if (i >= PHASES[phase].frames.length) {
    show(order[(order.indexOf(phase) + 1) % order.length]);
    i = 0;
  }
  draw(i);
}

function schedule() {
  clearTimeout(timer);
  if (playing) timer = setTimeout(() => { next(); schedule(); }, PHASES[phase].frames[index].seconds * 1000);
}

function setPlaying(on) {
  playing = on;
  document.getElementById("play").textContent = on ? "pause" : "play";
  schedule();
}

const phases = document.getElementById("phases");
for (const name of order) {
  const label = document.createElement("label");
  label.innerHTML = '<input type="radio" name="phase" value="' + name + '"> ' + (NAMES[name] || name);
  label.querySelector("input").addEventListener("change", () => { show(name); draw(0); schedule(); });
  phases.appendChild(label);
}
if (order.length < 2) phases.style.display = "none";
document.getElementById("play").addEventListener("click", () => setPlaying(!playing));
slider.addEventListener("input", () => { setPlaying(false); draw(+slider.value); });
document.addEventListener("keydown", e => {
  if (e.key === " ") { e.preventDefault(); setPlaying(!playing); }
  if (e.key === "ArrowRight") { setPlaying(false); draw(Math.min(index + 1, PHASES[phase].frames.length - 1)); }
  if (e.key === "ArrowLeft") { setPlaying(false); draw(Math.max(index - 1, 0)); }
});
// The cells link to "#" only so that Graphviz keeps their hover text: a click goes nowhere.
picture.addEventListener("click", e => { if (e.target.closest("a")) e.preventDefault(); });

show(order[0]);
draw(0);
if (location.hash === "#check") {
  // Draw every frame of every phase once, then say so on the page (what a test reads back).
  let drawn = 0;
  for (const name of order) {
    show(name);
    for (let i = 0; i < PHASES[name].frames.length; i++) { draw(i); drawn++; }
  }
  show(order[0]);
  draw(0);
  document.body.dataset.drawn = drawn;
  setPlaying(false);
} else {
  schedule();
}
</script>
</body>
</html>
"""
