"""Exercise 1 of graphnet's exercises: sigmoid's backward.

Your task: write ``backward``. The post's hidden layer and its output are sigmoids, y = 1 / (1 + exp(-x)).
``backward(ctx, grad)`` is handed ``grad``, the gradient of the loss with respect to the node's output y, and
returns the gradient of the loss with respect to its input x, as a tuple with one entry per input: here
``(gradient_for_x,)``, shaped like x. ``forward`` is given: it saved x and y on ``ctx`` for you.

Check it:      graphnet exercise check 1       (or: graphnet exercise check 01_sigmoid.py)
A hint:        graphnet exercise hint 1        (one at a time: hint 1 2 for the second)
"""

from graphnet import Node, Stacking, register_node


@register_node("my_sigmoid")
class Sigmoid(Node):
    """My sigmoid: 1 / (1 + exp(-x)), elementwise."""

    stacking = Stacking()  # elementwise: a stack of members is computed as each member alone

    def forward(self, ctx, x):
        y = 1.0 / (1.0 + ctx.xp.exp(-x))  # ctx.xp is numpy (or jax.numpy when compiled)
        ctx.save(x, y)
        return y

    def backward(self, ctx, grad):
        x, y = ctx.saved
        raise NotImplementedError("exercise 1: return (the gradient of the loss with respect to x,)")
