"""Exercise 4 of graphnet's exercises: the squared-error loss (a solution)."""

from graphnet import Node, Stacking, register_node


@register_node("my_squared_error")
class SquaredError(Node):
    """My loss: 0.5 * sum((prediction - target)**2), averaged over the batch."""

    arity = 2
    stacking = Stacking()

    def forward(self, ctx, prediction, target):
        diff = prediction - target
        ctx.save(diff)
        return ctx.xp.asarray(0.5 * (diff * diff).sum(axis=(-2, -1)) / diff.shape[-2])

    def backward(self, ctx, grad):
        (diff,) = ctx.saved
        d = grad[..., None, None] * diff / diff.shape[-2]  # one loss per member: its gradient meets its own rows
        return (d, -d)

    def shape(self, prediction, target):
        return ()
