"""Recurrent cells, and the network that unrolls a cell over the bits of a sequence.

A cell adds one time step to a graph: given the step's input node and the previous state nodes, it adds the
nodes of the new state and returns their keys. :class:`Network` unrolls a cell ``T`` times, puts the output
layer (``synapse_1`` and a sigmoid) and a loss on every step, and caches the graph per length. Every weight is
one parameter node with an edge to each step that uses it, so the reverse pass through the unrolled graph is
backpropagation through time, with nothing special about it.

Examples
--------
>>> net = Network(get_cell("rnn"), inputs=2, hidden=16, outputs=1)
>>> g = net.graph(4)
>>> sorted(g.parameters)
['synapse_0', 'synapse_1', 'synapse_h']
>>> g.node("h[3]")["inputs"]
('h_in[3]',)
"""

from __future__ import annotations

import functools
from typing import ClassVar

import numpy as np

from .errors import GraphError
from .graph import Graph
from .nodes import Shape
from .program import Program
from .registry import Registry


class Cell:
    """Base class of recurrent cells. Subclasses name their ``states`` (the first is what the output reads)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    states: ClassVar[tuple[str, ...]] = ("h",)
    # The order in which the post draws the weights, where it matters for reproducing a published run.
    draw_order: ClassVar[tuple[str, ...] | None] = None
    # The activation a task gets when it names none (for gated cells: that of the candidate memory).
    default_activation: ClassVar[str] = "tanh"

    def parameters(self, inputs: int, hidden: int) -> dict[str, Shape]:
        """The cell's weights and their shapes."""
        raise NotImplementedError

    def step(self, g: Graph, t: int, x: str, state: dict[str, str], activation: str) -> dict[str, str]:
        """Add step ``t`` to ``g``: from input ``x`` and the previous ``state`` keys, the new state keys."""
        raise NotImplementedError


def _affine(g: Graph, t: int, gate: str, x: str, h: str, *, bias: bool = True) -> str:
    """x @ synapse_0_GATE + h @ synapse_h_GATE (+ bias_GATE): what every gate of a gated cell computes."""
    from_input = g.apply("matmul", f"x_synapse_0_{gate}[{t}]", x, f"synapse_0_{gate}", t=t)
    from_memory = g.apply("matmul", f"h_synapse_h_{gate}[{t}]", h, f"synapse_h_{gate}", t=t)
    total = g.apply("add", f"{gate}_sum[{t}]", from_input, from_memory, t=t)
    return g.apply("bias_add", f"{gate}_in[{t}]", total, f"bias_{gate}", t=t) if bias else total


def _gate_parameters(gates: str, inputs: int, hidden: int) -> dict[str, Shape]:
    shapes: dict[str, Shape] = {}
    for gate in gates:
        shapes[f"synapse_0_{gate}"] = (inputs, hidden)
        shapes[f"synapse_h_{gate}"] = (hidden, hidden)
        shapes[f"bias_{gate}"] = (hidden,)
    return shapes


_CELLS: Registry[Cell] = Registry("cell", GraphError)
register_cell = _CELLS.register  # class decorator: @register_cell("lstm")
get_cell = _CELLS.get  # the registered cell called ``name``
registered_cells = _CELLS.all  # every registered cell, by name


@register_cell("rnn")
class PostRNN(Cell):
    """The post's cell: h[t] = sigmoid(x[t] @ synapse_0 + h[t-1] @ synapse_h)."""

    draw_order = ("synapse_0", "synapse_1", "synapse_h")
    default_activation = "sigmoid"

    def parameters(self, inputs, hidden):
        return {"synapse_0": (inputs, hidden), "synapse_h": (hidden, hidden)}

    def step(self, g, t, x, state, activation="sigmoid"):
        from_input = g.apply("matmul", f"x_synapse_0[{t}]", x, "synapse_0", t=t)
        from_memory = g.apply("matmul", f"h_synapse_h[{t}]", state["h"], "synapse_h", t=t)
        h_in = g.apply("add", f"h_in[{t}]", from_input, from_memory, t=t)
        return {"h": g.apply(activation, f"h[{t}]", h_in, kind="hidden", t=t)}


@register_cell("lstm")
class LSTM(Cell):
    """Long short-term memory: gates i, f, o decide what to write to, keep in and read from the memory c."""

    states = ("h", "c")

    def parameters(self, inputs, hidden):
        return _gate_parameters("ifog", inputs, hidden)

    def step(self, g, t, x, state, activation="tanh"):
        h_prev, c_prev = state["h"], state["c"]
        i = g.apply("sigmoid", f"i[{t}]", _affine(g, t, "i", x, h_prev), kind="gate", t=t)
        f = g.apply("sigmoid", f"f[{t}]", _affine(g, t, "f", x, h_prev), kind="gate", t=t)
        o = g.apply("sigmoid", f"o[{t}]", _affine(g, t, "o", x, h_prev), kind="gate", t=t)
        candidate = g.apply(activation, f"g[{t}]", _affine(g, t, "g", x, h_prev), t=t)
        kept = g.apply("mul", f"f*c[{t}]", f, c_prev, t=t)
        written = g.apply("mul", f"i*g[{t}]", i, candidate, t=t)
        c = g.apply("add", f"c[{t}]", kept, written, kind="hidden", t=t)
        read = g.apply(activation, f"tanh_c[{t}]", c, t=t)
        return {"h": g.apply("mul", f"h[{t}]", o, read, kind="hidden", t=t), "c": c}


@register_cell("gru")
class GRU(Cell):
    """Gated recurrent unit: z decides how much of h to replace by a candidate n built from the reset-gated h."""

    def parameters(self, inputs, hidden):
        return _gate_parameters("zrn", inputs, hidden)

    def step(self, g, t, x, state, activation="tanh"):
        h_prev = state["h"]
        z = g.apply("sigmoid", f"z[{t}]", _affine(g, t, "z", x, h_prev), kind="gate", t=t)
        r = g.apply("sigmoid", f"r[{t}]", _affine(g, t, "r", x, h_prev), kind="gate", t=t)
        reset = g.apply("mul", f"r*h[{t}]", r, h_prev, t=t)
        candidate = g.apply(activation, f"n[{t}]", _affine(g, t, "n", x, reset), t=t)
        # h = (1 - z) * n + z * h_prev, written as n + z * (h_prev - n): no constant node needed
        change = g.apply("sub", f"h-n[{t}]", h_prev, candidate, t=t)
        kept = g.apply("mul", f"z*(h-n)[{t}]", z, change, t=t)
        return {"h": g.apply("add", f"h[{t}]", candidate, kept, kind="hidden", t=t)}


@functools.lru_cache(maxsize=256)
def _step_keys(name: str, steps: int) -> tuple[str, ...]:
    # Built once per length: feeds are made every training iteration.
    return tuple(f"{name}[{t}]" for t in range(steps))


class Network:
    """A cell unrolled over time, with the post's output layer and loss on every step.

    Node keys: ``x[t]`` (input bits), ``y[t]`` (target bits), ``h[t]`` (hidden state; ``h[-1]`` is the
    initial state, zeros unless fed), ``y_hat[t]`` (prediction), ``loss[t]`` and ``loss`` (their sum).

    A network holds its description and, per length, its unrolled graph (frozen: tasks that describe the same
    network share it), never weights or values. Its description cannot change once made.
    """

    __slots__ = ("cell", "inputs", "hidden", "outputs", "activation", "loss", "_graphs")

    def __init__(
        self,
        cell: Cell,
        *,
        inputs: int,
        hidden: int,
        outputs: int,
        activation: str | None = None,
        loss: str = "squared_error",
    ) -> None:
        for name, value in (("cell", cell), ("inputs", inputs), ("hidden", hidden), ("outputs", outputs),
                            ("activation", activation or cell.default_activation), ("loss", loss),
                            ("_graphs", {})):  # the graph of each length built so far
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"a Network cannot change (it may be shared); make a new one with {name}={value!r}")

    def parameter_shapes(self) -> dict[str, Shape]:
        """Every weight and its shape, in the order the initial values are drawn."""
        shapes = dict(self.cell.parameters(self.inputs, self.hidden))
        shapes["synapse_1"] = (self.hidden, self.outputs)
        order = self.cell.draw_order or tuple(shapes)
        return {k: shapes[k] for k in order}

    def init_parameters(self, rng: np.random.RandomState) -> dict[str, np.ndarray]:
        """Weights drawn as the post draws them: uniform in [-1, 1), in :meth:`parameter_shapes` order."""
        return {k: 2 * rng.random_sample(shape) - 1 for k, shape in self.parameter_shapes().items()}

    def graph(self, steps: int) -> Graph:
        """The network unrolled over ``steps`` time steps: built once per length, then shared, so frozen."""
        if steps < 1:
            raise GraphError(f"a network needs at least 1 step, got {steps}")
        graph = self._graphs.get(steps)
        if graph is None:
            graph = self._graphs[steps] = self._build(steps).freeze()
        return graph

    def _build(self, steps: int) -> Graph:
        g = Graph(f"{self.cell.name} unrolled over {steps} steps")
        for key, shape in self.parameter_shapes().items():
            g.parameter(key, shape)
        state = {s: g.input(f"{s}[-1]", (None, self.hidden), kind="state", fill=0.0) for s in self.cell.states}
        losses = []
        for t in range(steps):
            x = g.input(f"x[{t}]", (None, self.inputs), t=t)
            state = self.cell.step(g, t, x, state, self.activation)
            logits = g.apply("matmul", f"h_synapse_1[{t}]", state[self.cell.states[0]], "synapse_1", t=t)
            y_hat = g.apply("sigmoid", f"y_hat[{t}]", logits, kind="output", t=t)
            y = g.input(f"y[{t}]", (None, self.outputs), kind="target", t=t)
            # squared_error on y_hat is the post's loss; a cross-entropy loss reads the logits, which is stable
            scored = y_hat if self.loss == "squared_error" else logits
            losses.append(g.apply(self.loss, f"loss[{t}]", scored, y, kind="loss", t=t))
        g.apply("sum", "loss", *losses, kind="loss")
        return g

    # -- running --------------------------------------------------------------------------------------------
    def feeds(self, x: np.ndarray, y: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Feeds for a run from time-major arrays: ``x`` (T, B, inputs) and ``y`` (T, B, outputs)."""
        feeds = dict(zip(_step_keys("x", len(x)), x))
        if y is not None:
            feeds.update(zip(_step_keys("y", len(y)), y))
        return feeds

    def predict_program(self, steps: int) -> Program:
        """The schedule that computes every ``y_hat[t]`` and the last state, without targets or loss."""
        outputs = [f"y_hat[{t}]" for t in range(steps)] + [f"{s}[{steps - 1}]" for s in self.cell.states]
        return self.graph(steps).compile(outputs, wrt=())

    def predict(self, params: dict[str, np.ndarray], x: np.ndarray, *, chunk: int = 256) -> np.ndarray:
        """Predictions ``y_hat`` (T, B, outputs) for inputs ``x`` (T, B, inputs), any T.

        Long sequences run ``chunk`` steps at a time, the last state of a chunk fed as the first state of
        the next, so memory and graph size stay bounded however many bits there are.
        """
        steps, batch = x.shape[0], x.shape[1]
        out = np.empty((steps, batch, self.outputs))
        state: dict[str, np.ndarray] = {}
        for start in range(0, steps, chunk):
            length = min(chunk, steps - start)
            feeds = self.feeds(x[start : start + length])
            feeds.update({f"{s}[-1]": v for s, v in state.items()})
            value = self.predict_program(length).forward(feeds, params).value
            for t in range(length):
                out[start + t] = value(f"y_hat[{t}]")
            state = {s: value(f"{s}[{length - 1}]") for s in self.cell.states}
        return out
