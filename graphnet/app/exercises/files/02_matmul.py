"""Exercise 2 of graphnet's exercises: matmul's backward, for both inputs.

Your task: write ``backward``. ``a @ b`` multiplies a batch of row vectors a, shape (batch, n), by a weight
matrix b, shape (n, m): every layer of the post (x @ synapse_0, h @ synapse_h, h @ synapse_1). ``backward(ctx,
grad)`` gets ``grad``, shape (batch, m), the gradient of the loss with respect to a @ b, and returns
``(gradient_for_a, gradient_for_b)``, each shaped like its input. ``forward`` is given.

Two rules of graphnet's node types:
- ``ctx.needs_input_grad[i]`` says whether input i wants a gradient; where it does not, return None for it.
- ``stacking = Stacking(shared=(1,))`` below says that forward and backward also work on a stack of members,
  a of shape (members, batch, n) with the one b they share: b's gradient then comes per member, shape
  (members, n, m). Write transposes with ``.mT`` (swaps the last two axes), not ``.T`` (reverses them all).

Check it:      graphnet exercise check 2
A hint:        graphnet exercise hint 2
"""

from graphnet import Node, Stacking, register_node


@register_node("my_matmul")
class MatMul(Node):
    """My matmul: a @ b, a batch of row vectors times a weight matrix."""

    arity = 2
    stacking = Stacking(shared=(1,))

    def forward(self, ctx, a, b):
        ctx.save(a, b)
        return a @ b

    def backward(self, ctx, grad):
        a, b = ctx.saved
        raise NotImplementedError("exercise 2: return (gradient for a, gradient for b)")

    def shape(self, a, b):
        if len(a) != 2 or len(b) != 2 or a[1] != b[0]:
            raise ValueError(f"my_matmul cannot multiply shapes {a} and {b}")
        return (a[0], b[1])

    def sample_inputs(self, rng, batch, width):  # what the gradient check feeds it: b not square
        return rng.normal(size=(batch, width)), rng.normal(size=(width, width + 1))
