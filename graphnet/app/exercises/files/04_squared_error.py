"""Exercise 4 of graphnet's exercises: the squared-error loss, forward and backward.

The post's loss at a step: half the sum of squared differences between the prediction and the target,
0.5 * sum((prediction - target)**2), averaged over the batch (the examples of the batch are the rows, the
second to last axis; with batch 1 this is the post's loss). Your task: ``forward(ctx, prediction, target)``
returns that loss, a scalar (shape ()), and saves what ``backward`` needs with ``ctx.save(...)``;
``backward(ctx, grad)``, where ``grad`` is the loss's gradient (a scalar), returns
``(gradient_for_prediction, gradient_for_target)``, each shaped like its input.

``stacking = Stacking()`` says it works on a stack of members too, (members, batch, width), giving one loss per
member, shape (members,), and taking one gradient per member: reduce over the last two axes, not all of them,
and read the batch size as shape[-2].

Check it:      graphnet exercise check 4
A hint:        graphnet exercise hint 4
"""

from graphnet import Node, Stacking, register_node


@register_node("my_squared_error")
class SquaredError(Node):
    """My loss: 0.5 * sum((prediction - target)**2), averaged over the batch."""

    arity = 2
    stacking = Stacking()

    def forward(self, ctx, prediction, target):
        raise NotImplementedError("exercise 4: return the loss, having saved what backward needs")

    def backward(self, ctx, grad):
        raise NotImplementedError("exercise 4: return (gradient for prediction, gradient for target)")

    def shape(self, prediction, target):
        return ()
