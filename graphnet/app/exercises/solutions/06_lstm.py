"""Exercise 6 of graphnet's exercises: a gated cell, the LSTM, from node types alone (a solution)."""

from graphnet import Cell, at, register_cell


@register_cell("my_lstm")
class LSTM(Cell):
    """My LSTM: gates i, f, o and a memory c, from node types alone."""

    states = ("h", "c")

    def parameters(self, inputs, hidden):
        shapes = {}
        for gate in "ifog":
            shapes[f"synapse_0_{gate}"] = (inputs, hidden)
            shapes[f"synapse_h_{gate}"] = (hidden, hidden)
            shapes[f"bias_{gate}"] = (hidden,)
        return shapes

    def step(self, g, t, x, state, activation="tanh"):
        h_prev, c_prev = state["h"], state["c"]

        def gate(name, squash):
            from_input = g.apply("matmul", at(f"x_synapse_0_{name}", t), x, f"synapse_0_{name}", t=t)
            from_memory = g.apply("matmul", at(f"h_synapse_h_{name}", t), h_prev, f"synapse_h_{name}", t=t)
            total = g.apply("add", at(f"{name}_sum", t), from_input, from_memory, t=t)
            biased = g.apply("bias_add", at(f"{name}_in", t), total, f"bias_{name}", t=t)
            return g.apply(squash, at(name, t), biased, t=t)

        i, f, o = gate("i", "sigmoid"), gate("f", "sigmoid"), gate("o", "sigmoid")
        candidate = gate("g", activation)
        kept = g.apply("mul", at("f*c", t), f, c_prev, t=t)
        written = g.apply("mul", at("i*g", t), i, candidate, t=t)
        c = g.apply("add", at("c", t), kept, written, kind="hidden", t=t)
        read = g.apply(activation, at("tanh_c", t), c, t=t)
        return {"h": g.apply("mul", at("h", t), o, read, kind="hidden", t=t), "c": c}
