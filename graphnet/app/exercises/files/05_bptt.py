"""Exercise 5 of graphnet's exercises: backpropagation through time, the post's way.

The post's network, unrolled: at every step t the same seven ops, reading the same three weights.

    x_synapse_0[t] = matmul(x[t], synapse_0)
    h_synapse_h[t] = matmul(h[t-1], synapse_h)          (h[-1] is zeros)
    h_in[t]        = add(x_synapse_0[t], h_synapse_h[t])
    h[t]           = sigmoid(h_in[t])
    h_synapse_1[t] = matmul(h[t], synapse_1)
    y_hat[t]       = sigmoid(h_synapse_1[t])
    loss[t]        = squared_error(y_hat[t], y[t])       and the loss is the sum of every loss[t]

Your task: ``bptt(steps)``, the reverse pass step by step, last step first, as the post's loop does it.
``steps[t]`` is step t's forward pass; ``steps[t].backward(name, grad)`` calls the backward of that step's op
``name`` ("loss", "y_hat", "h_synapse_1", "h", "h_in", "h_synapse_h", "x_synapse_0") with ``grad``, the
gradient of the loss with respect to its output, and returns one gradient per input, in input order. Each
loss[t] gets gradient 1.0 from the total. Return the gradient of the loss with respect to each weight:
``{"synapse_0": ..., "synapse_h": ..., "synapse_1": ...}``. Remember that h[t] is read by two ops, and that
every step reads each weight.

Check it:      graphnet exercise check 5
A hint:        graphnet exercise hint 5
"""


def bptt(steps):
    """The gradient of the loss with respect to synapse_0, synapse_h and synapse_1, last step first."""
    grads = {"synapse_0": 0.0, "synapse_h": 0.0, "synapse_1": 0.0}
    future = 0.0  # the gradient h[t] gets from step t + 1 (none at the last step)
    for step in reversed(steps):
        d_y_hat, _ = step.backward("loss", 1.0)
        raise NotImplementedError("exercise 5: go on, op by op, back to x_synapse_0")
    return grads
