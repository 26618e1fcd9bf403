"""Exercise 6 of graphnet's exercises: a gated cell, the LSTM, from node types alone.

An LSTM keeps a memory c beside its state h. At step t, from the input x and the previous h and c, four gates
(each an affine map of x and h followed by a sigmoid, or for g a tanh):

    i = sigmoid(x @ synapse_0_i + h @ synapse_h_i + bias_i)      what to write
    f = sigmoid(x @ synapse_0_f + h @ synapse_h_f + bias_f)      what to keep
    o = sigmoid(x @ synapse_0_o + h @ synapse_h_o + bias_o)      what to read out
    g = tanh(x @ synapse_0_g + h @ synapse_h_g + bias_g)         the candidate memory
    c[t] = f * c[t-1] + i * g
    h[t] = o * tanh(c[t])

Your task: ``step``, made of node types only (``g.apply("matmul", key, a, b, t=t)``, "add", "bias_add",
"sigmoid", "tanh", "mul"): no backward to write. graphnet derives backpropagation through time from the graph
you build, so if the forward pass is the LSTM's, its gradients are right. Each ``g.apply`` needs a key of its
own per step: ``at("i", t)`` gives "i[3]". Mark the new state's nodes with ``kind="hidden"``.

Check it:      graphnet exercise check 6
A hint:        graphnet exercise hint 6
"""

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
        raise NotImplementedError("exercise 6: return {'h': key of h[t], 'c': key of c[t]}")
