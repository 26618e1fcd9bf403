"""Exercise 3 of graphnet's exercises: a node read by two ops (a solution)."""

from graphnet import Node, Stacking, register_node


@register_node("my_add")
class Add(Node):
    """My add: a + b, elementwise."""

    arity = 2
    stacking = Stacking()

    def forward(self, ctx, a, b):
        return a + b

    def backward(self, ctx, grad):
        return (grad, grad)  # d(a + b)/da = d(a + b)/db = 1: each input gets the whole gradient


def reverse(ops, grads):
    """Give every node the gradient of the output, which ``grads`` holds (its seed), and return ``grads``."""
    for op in reversed(ops):  # every reader of a node runs after it: backwards, its readers come first
        if op.key not in grads:  # nothing reached this op: it does not lead to the output
            continue
        for key, g in zip(op.inputs, op.node.backward(op.ctx, grads[op.key])):
            if g is not None:
                # summed over the readers, out of place: an add hands one array to both inputs
                grads[key] = g if key not in grads else grads[key] + g
    return grads
