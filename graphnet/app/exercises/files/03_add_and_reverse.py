"""Exercise 3 of graphnet's exercises: a node read by two ops (why gradients add).

In the post's network h[3] is read by two ops: this step's output layer (h_synapse_1[3]) and the next step
(h_synapse_h[4]). A change of h[3] moves the loss along both paths, so its gradient is the sum of what each of
its readers hands back. Two tasks:

1. ``Add.backward``: a + b. Return ``(gradient_for_a, gradient_for_b)``.
2. ``reverse(ops, grads)``: the reverse pass itself, graphnet's interpreter loop. ``ops`` are a graph's ops
   in the order the forward pass ran them; each has ``op.key`` (its node), ``op.inputs`` (its input nodes'
   keys, in order), ``op.node`` (its node type) and ``op.ctx`` (what its forward saved). ``grads`` holds one
   gradient, the seed: ``{output_key: ones}``. Hand each op's gradient back through its node type's
   ``backward`` and give every node the gradient of the output; return ``grads``. Take care: an add hands the
   same array to both its inputs.

Check it:      graphnet exercise check 3
A hint:        graphnet exercise hint 3
"""

from graphnet import Node, Stacking, register_node


@register_node("my_add")
class Add(Node):
    """My add: a + b, elementwise."""

    arity = 2
    stacking = Stacking()

    def forward(self, ctx, a, b):
        return a + b

    def backward(self, ctx, grad):
        raise NotImplementedError("exercise 3: return (gradient for a, gradient for b)")


def reverse(ops, grads):
    """Give every node the gradient of the output, which ``grads`` holds (its seed), and return ``grads``."""
    raise NotImplementedError("exercise 3: the reverse pass")
