"""Exercise 1 of graphnet's exercises: sigmoid's backward (a solution)."""

from graphnet import Node, Stacking, register_node


@register_node("my_sigmoid")
class Sigmoid(Node):
    """My sigmoid: 1 / (1 + exp(-x)), elementwise."""

    stacking = Stacking()

    def forward(self, ctx, x):
        y = 1.0 / (1.0 + ctx.xp.exp(-x))
        ctx.save(x, y)
        return y

    def backward(self, ctx, grad):
        x, y = ctx.saved
        # dy/dx = y (1 - y): the post's sigmoid_output_to_derivative(y)
        return (grad * (y * (1.0 - y)),)
