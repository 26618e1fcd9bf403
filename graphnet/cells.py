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

from typing import ClassVar

import numpy as np

from .errors import GraphError
from .compiled import fast
from .graph import Graph, Program
from .nodes import Shape
from .registry import Registry


class Cell:
    """Base class of recurrent cells. Subclasses name their ``states`` (the first is what the output reads)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    states: ClassVar[tuple[str, ...]] = ("h",)
    # The order in which the post draws the weights, where it matters for reproducing a published run.
    draw_order: ClassVar[tuple[str, ...] | None] = None

    def parameters(self, inputs: int, hidden: int) -> dict[str, Shape]:
        """The cell's weights and their shapes."""
        raise NotImplementedError

    def step(self, g: Graph, t: int, x: str, state: dict[str, str]) -> dict[str, str]:
        """Add step ``t`` to ``g``: from input ``x`` and the previous ``state`` keys, the new state keys."""
        raise NotImplementedError


_CELLS: Registry[Cell] = Registry("cell", GraphError)
register_cell = _CELLS.register  # class decorator: @register_cell("lstm")
get_cell = _CELLS.get  # the registered cell called ``name``
registered_cells = _CELLS.all  # every registered cell, by name


@register_cell("rnn")
class PostRNN(Cell):
    """The post's cell: h[t] = sigmoid(x[t] @ synapse_0 + h[t-1] @ synapse_h)."""

    draw_order = ("synapse_0", "synapse_1", "synapse_h")

    def parameters(self, inputs, hidden):
        return {"synapse_0": (inputs, hidden), "synapse_h": (hidden, hidden)}

    def step(self, g, t, x, state):
        from_input = g.apply("matmul", f"x_synapse_0[{t}]", x, "synapse_0", t=t)
        from_memory = g.apply("matmul", f"h_synapse_h[{t}]", state["h"], "synapse_h", t=t)
        h_in = g.apply("add", f"h_in[{t}]", from_input, from_memory, t=t)
        return {"h": g.apply("sigmoid", f"h[{t}]", h_in, kind="hidden", t=t)}


class Network:
    """A cell unrolled over time, with the post's output layer and loss on every step.

    Node keys: ``x[t]`` (input bits), ``y[t]`` (target bits), ``h[t]`` (hidden state; ``h[-1]`` is the
    initial state, zeros unless fed), ``y_hat[t]`` (prediction), ``loss[t]`` and ``loss`` (their sum).
    """

    def __init__(self, cell: Cell, *, inputs: int, hidden: int, outputs: int) -> None:
        self.cell, self.inputs, self.hidden, self.outputs = cell, inputs, hidden, outputs
        self._graphs: dict[int, Graph] = {}

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
        """The network unrolled over ``steps`` time steps (built once per length, then reused)."""
        if steps < 1:
            raise GraphError(f"a network needs at least 1 step, got {steps}")
        graph = self._graphs.get(steps)
        if graph is None:
            graph = self._graphs[steps] = self._build(steps)
        return graph

    def _build(self, steps: int) -> Graph:
        g = Graph(f"{self.cell.name} unrolled over {steps} steps")
        for key, shape in self.parameter_shapes().items():
            g.parameter(key, shape)
        state = {s: g.input(f"{s}[-1]", (None, self.hidden), kind="state", fill=0.0) for s in self.cell.states}
        losses = []
        for t in range(steps):
            x = g.input(f"x[{t}]", (None, self.inputs), t=t)
            state = self.cell.step(g, t, x, state)
            logits = g.apply("matmul", f"h_synapse_1[{t}]", state[self.cell.states[0]], "synapse_1", t=t)
            y_hat = g.apply("sigmoid", f"y_hat[{t}]", logits, kind="output", t=t)
            y = g.input(f"y[{t}]", (None, self.outputs), kind="target", t=t)
            losses.append(g.apply("squared_error", f"loss[{t}]", y_hat, y, kind="loss", t=t))
        g.apply("sum", "loss", *losses, kind="loss")
        return g

    # -- running --------------------------------------------------------------------------------------------
    def feeds(self, x: np.ndarray, y: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Feeds for a run from time-major arrays: ``x`` (T, B, inputs) and ``y`` (T, B, outputs)."""
        feeds = {f"x[{t}]": x[t] for t in range(len(x))}
        if y is not None:
            feeds.update({f"y[{t}]": y[t] for t in range(len(y))})
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
            value = fast(self.predict_program(length)).forward(feeds, params).value
            for t in range(length):
                out[start + t] = value(f"y_hat[{t}]")
            state = {s: value(f"{s}[{length - 1}]") for s in self.cell.states}
        return out
