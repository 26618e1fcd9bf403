"""Exercise 5 of graphnet's exercises: backpropagation through time, the post's way (a solution)."""


def bptt(steps):
    """The gradient of the loss with respect to synapse_0, synapse_h and synapse_1, last step first."""
    grads = {"synapse_0": 0.0, "synapse_h": 0.0, "synapse_1": 0.0}
    future = 0.0  # the gradient h[t] gets from step t + 1 (none at the last step)
    for step in reversed(steps):
        d_y_hat, _ = step.backward("loss", 1.0)
        (d_logits,) = step.backward("y_hat", d_y_hat)
        d_h, d_synapse_1 = step.backward("h_synapse_1", d_logits)
        (d_h_in,) = step.backward("h", d_h + future)  # h[t] is read by two ops: the sum of both
        d_from_input, d_from_memory = step.backward("h_in", d_h_in)
        future, d_synapse_h = step.backward("h_synapse_h", d_from_memory)  # what h[t-1] gets from this step
        _, d_synapse_0 = step.backward("x_synapse_0", d_from_input)
        # every step reads each weight: its gradient is the sum over the steps (the post's synapse_h_update +=)
        grads["synapse_0"] = grads["synapse_0"] + d_synapse_0
        grads["synapse_h"] = grads["synapse_h"] + d_synapse_h
        grads["synapse_1"] = grads["synapse_1"] + d_synapse_1
    return grads
