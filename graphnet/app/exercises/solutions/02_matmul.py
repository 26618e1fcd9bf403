"""Exercise 2 of graphnet's exercises: matmul's backward, for both inputs (a solution)."""

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
        grad_a = grad @ b.mT if ctx.needs_input_grad[0] else None  # each row of a meets every column of b
        grad_b = a.mT @ grad if ctx.needs_input_grad[1] else None  # summed over the batch by the product
        return grad_a, grad_b

    def shape(self, a, b):
        if len(a) != 2 or len(b) != 2 or a[1] != b[0]:
            raise ValueError(f"my_matmul cannot multiply shapes {a} and {b}")
        return (a[0], b[1])

    def sample_inputs(self, rng, batch, width):
        return rng.normal(size=(batch, width)), rng.normal(size=(width, width + 1))
