"""The exercises, in order: what each asks, which file the learner edits, what it stands in for, its hints.

Each exercise is a file the learner edits, a plugin module (``files/NN_name.py``, copied out by
``graphnet exercise start N``), with a worked solution beside it (``solutions/``) that is printed only when
asked for. Hints come one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from ...errors import UsageError


@dataclass(frozen=True)
class Exercise:
    """One exercise: its number, its file's name, its title, and what the learner's code stands in for."""

    number: int
    file: str  # the file the learner edits, e.g. 01_sigmoid.py
    title: str
    task: str  # one line: what to write
    node_types: dict  # the learner's node type -> graphnet's it stands in for, e.g. {"my_sigmoid": "sigmoid"}
    functions: tuple = ()  # functions the file defines that the checker calls, e.g. ("reverse",)
    cell: str | None = None  # the cell it registers (exercise 6)
    hints: tuple = ()

    def template(self) -> str:
        """The file the learner starts from."""
        return resources.files(__package__).joinpath("files", self.file).read_text()

    def solution(self) -> str:
        """A worked solution (printed only when asked for)."""
        return resources.files(__package__).joinpath("solutions", self.file).read_text()


EXERCISES = (
    Exercise(1, "01_sigmoid.py", "sigmoid's backward", "write Sigmoid.backward: the gradient of the loss for x",
             {"my_sigmoid": "sigmoid"}, hints=(
                 "The chain rule: the gradient for x is grad times dy/dx, element by element.",
                 "dy/dx of y = 1/(1 + exp(-x)) is y * (1 - y): the post's sigmoid_output_to_derivative(output). "
                 "It is written with y, the output, not with x.",
                 "backward returns a tuple, one entry per input: return (grad * y * (1 - y),) (the comma makes "
                 "it a tuple).",
             )),
    Exercise(2, "02_matmul.py", "matmul's backward, both inputs", "write MatMul.backward: gradients for a and b",
             {"my_matmul": "matmul"}, hints=(
                 "Let the shapes guide you: grad is (batch, m), a is (batch, n), b is (n, m). The gradient for "
                 "a must be (batch, n), for b (n, m).",
                 "out[i, k] = sum_j a[i, j] b[j, k], so d out[i, k] / d a[i, j] = b[j, k]: the gradient for a is "
                 "grad @ b transposed. And d out[i, k] / d b[j, k] = a[i, j], summed over the rows i: a "
                 "transposed @ grad.",
                 "Transpose with .mT, which swaps the last two axes (a stack of members (members, batch, n) keeps "
                 "its member axis in front); .T reverses every axis. Return None for an input whose "
                 "ctx.needs_input_grad[i] is False.",
             )),
    Exercise(3, "03_add_and_reverse.py", "a node read by two ops: why gradients add",
             "write Add.backward and reverse(ops, grads), the reverse pass", {"my_add": "add"}, ("reverse",), hints=(
                 "Add: a small change of a changes a + b by the same amount, and so does one of b. Each input "
                 "gets the whole gradient: (grad, grad).",
                 "reverse: walk the ops last first (reversed(ops)): an op's readers all ran after it, so when you "
                 "reach it backwards they have all handed back their share. Call "
                 "op.node.backward(op.ctx, grads[op.key]) and pair what it returns with op.inputs.",
                 "A node read by two ops gets a share from each: add it to what the node has, do not replace it. "
                 "And add out of place, grads[k] = grads[k] + g, not grads[k] += g: an add hands the very same "
                 "array to both its inputs, and += would change the other's too.",
             )),
    Exercise(4, "04_squared_error.py", "the squared-error loss", "write SquaredError: forward and backward",
             {"my_squared_error": "squared_error"}, hints=(
                 "forward: diff = prediction - target; the loss is 0.5 * (diff * diff).sum(axis=(-2, -1)) / "
                 "diff.shape[-2]. Save diff: ctx.save(diff). Return it as an array: ctx.xp.asarray(...).",
                 "backward: the derivative of 0.5 * d**2 is d, so the gradient for the prediction is diff / batch "
                 "times grad, and for the target its negative.",
                 "grad is one number per member (shape () alone, (members,) stacked): grad[..., None, None] "
                 "lines it up with the rows and columns of diff. Read the batch as diff.shape[-2].",
             )),
    Exercise(5, "05_bptt.py", "backpropagation through time, the post's way",
             "write bptt(steps): the weights' gradients, last step first", {}, ("bptt",), hints=(
                 "Go op by op from the loss back to x_synapse_0, each backward's output gradient being what the "
                 "op after it handed back: loss -> y_hat -> h_synapse_1 -> h -> h_in -> h_synapse_h and "
                 "x_synapse_0.",
                 "h[t] is read by h_synapse_1[t] and by h_synapse_h[t+1]: its gradient is what the first hands "
                 "back plus `future`, what the second handed back at the step you did before (the post's "
                 "future_layer_1_delta).",
                 "h_synapse_h's backward returns (the gradient for h[t-1], a share of synapse_h's): keep the "
                 "first as the next step's `future`, and add every step's share to the weight's gradient: "
                 "grads['synapse_h'] = grads['synapse_h'] + share.",
             )),
    Exercise(6, "06_lstm.py", "a gated cell (the LSTM) from node types alone",
             "write LSTM.step from node types: graphnet derives its backward", {}, cell="my_lstm", hints=(
                 "Write a small function gate(name, squash) that adds x @ synapse_0_name, h_prev @ synapse_h_name, "
                 "their sum, the bias (bias_add) and the squashing (sigmoid, or tanh for g), each g.apply with a "
                 "key of its own: at(f'{name}_in', t).",
                 "Then c = add(mul(f, c_prev), mul(i, g)) and h = mul(o, tanh(c)), each its own node.",
                 "Return {'h': the key of h[t], 'c': the key of c[t]}, and give both kind='hidden'.",
             )),
)


def get_exercise(which: int | str) -> Exercise:
    """The exercise numbered ``which`` (1 to 6, or its file's name); one line saying what exists otherwise."""
    for exercise in EXERCISES:
        if str(which) in (str(exercise.number), f"{exercise.number:02d}", exercise.file, exercise.file[:-3]):
            return exercise
    raise UsageError(f"exercise {which!r}: expected a number from 1 to {len(EXERCISES)} "
                     f"(graphnet exercise list shows them)")
