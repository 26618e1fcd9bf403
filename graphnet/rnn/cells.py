"""Recurrent cells: the post's RNN, the LSTM and the GRU, and their registry.

A cell adds one time step to a graph: given the step's input node and the previous state nodes, it adds the
nodes of the new state and returns their keys (:class:`~graphnet.rnn.network.Network` unrolls it). Every
weight is one parameter node that each step uses, so the reverse pass through the unrolled graph is
backpropagation through time, with nothing special about it.

Examples
--------
>>> from graphnet.engine import Graph
>>> g = Graph()
>>> for name, shape in get_cell("rnn").parameters(inputs=2, hidden=3).items():
...     _ = g.parameter(name, shape)
>>> state = get_cell("rnn").step(g, 0, g.input("x[0]", (None, 2)), {"h": g.input("h[-1]", (None, 3))})
>>> state, g.node("h[0]")["inputs"]
({'h': 'h[0]'}, ('h_in[0]',))
"""

from __future__ import annotations

from typing import ClassVar

from ..engine.graph import Graph
from ..engine.node import Shape
from ..engine.registry import Registry
from ..errors import GraphError
from .keys import at


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
    from_input = g.apply("matmul", at(f"x_synapse_0_{gate}", t), x, f"synapse_0_{gate}", t=t)
    from_memory = g.apply("matmul", at(f"h_synapse_h_{gate}", t), h, f"synapse_h_{gate}", t=t)
    total = g.apply("add", at(f"{gate}_sum", t), from_input, from_memory, t=t)
    return g.apply("bias_add", at(f"{gate}_in", t), total, f"bias_{gate}", t=t) if bias else total


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
unregister_cell = _CELLS.unregister  # forget a cell (a throwaway one of a notebook or a test)


@register_cell("rnn")
class PostRNN(Cell):
    """The post's cell: h[t] = sigmoid(x[t] @ synapse_0 + h[t-1] @ synapse_h)."""

    draw_order = ("synapse_0", "synapse_1", "synapse_h")
    default_activation = "sigmoid"

    def parameters(self, inputs, hidden):
        return {"synapse_0": (inputs, hidden), "synapse_h": (hidden, hidden)}

    def step(self, g, t, x, state, activation="sigmoid"):
        from_input = g.apply("matmul", at("x_synapse_0", t), x, "synapse_0", t=t)
        from_memory = g.apply("matmul", at("h_synapse_h", t), state["h"], "synapse_h", t=t)
        h_in = g.apply("add", at("h_in", t), from_input, from_memory, t=t)
        return {"h": g.apply(activation, at("h", t), h_in, kind="hidden", t=t)}


@register_cell("lstm")
class LSTM(Cell):
    """Long short-term memory: gates i, f, o decide what to write to, keep in and read from the memory c."""

    states = ("h", "c")

    def parameters(self, inputs, hidden):
        return _gate_parameters("ifog", inputs, hidden)

    def step(self, g, t, x, state, activation="tanh"):
        h_prev, c_prev = state["h"], state["c"]
        i = g.apply("sigmoid", at("i", t), _affine(g, t, "i", x, h_prev), kind="gate", t=t)
        f = g.apply("sigmoid", at("f", t), _affine(g, t, "f", x, h_prev), kind="gate", t=t)
        o = g.apply("sigmoid", at("o", t), _affine(g, t, "o", x, h_prev), kind="gate", t=t)
        candidate = g.apply(activation, at("g", t), _affine(g, t, "g", x, h_prev), t=t)
        kept = g.apply("mul", at("f*c", t), f, c_prev, t=t)
        written = g.apply("mul", at("i*g", t), i, candidate, t=t)
        c = g.apply("add", at("c", t), kept, written, kind="hidden", t=t)
        read = g.apply(activation, at("tanh_c", t), c, t=t)
        return {"h": g.apply("mul", at("h", t), o, read, kind="hidden", t=t), "c": c}


@register_cell("gru")
class GRU(Cell):
    """Gated recurrent unit: z decides how much of h to replace by a candidate n built from the reset-gated h."""

    def parameters(self, inputs, hidden):
        return _gate_parameters("zrn", inputs, hidden)

    def step(self, g, t, x, state, activation="tanh"):
        h_prev = state["h"]
        z = g.apply("sigmoid", at("z", t), _affine(g, t, "z", x, h_prev), kind="gate", t=t)
        r = g.apply("sigmoid", at("r", t), _affine(g, t, "r", x, h_prev), kind="gate", t=t)
        reset = g.apply("mul", at("r*h", t), r, h_prev, t=t)
        candidate = g.apply(activation, at("n", t), _affine(g, t, "n", x, reset), t=t)
        # h = (1 - z) * n + z * h_prev, written as n + z * (h_prev - n): no constant node needed
        change = g.apply("sub", at("h-n", t), h_prev, candidate, t=t)
        kept = g.apply("mul", at("z*(h-n)", t), z, change, t=t)
        return {"h": g.apply("add", at("h", t), candidate, kept, kind="hidden", t=t)}
