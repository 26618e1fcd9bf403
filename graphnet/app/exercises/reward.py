"""The reward: the post's network trained with the learner's own node types (or reverse pass), its log printed.

The post's run, as ``graphnet train tasks/binary_addition.toml`` makes it (seed 0, 10,000 iterations, a log
entry every 1,000), with the learner's node types in place of graphnet's in the unrolled graph, run op by op:
what trains is what they wrote. With the learner's ``bptt`` (exercise 5) their reverse pass makes every
gradient that SGD applies.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from ...errors import DivergedError
from ..tasks import NetworkSection, ProblemSection, Task, TrainingSection
from ..training import LogEntry, Networks, Problems, _log_entry, descend, evaluate, train
from ...rnn.keys import LOSS
from .unrolled import ExerciseOp, Step, with_types

# The post's settings, as tasks/binary_addition.toml writes them.
POST = Task("the post's network", ProblemSection("binary_addition", 8),
            NetworkSection("rnn", 2, 16, 1, "sigmoid", "squared_error"), TrainingSection(0.1, 10000, 1, 0, 1000))
# tasks/binary_addition_lstm.toml with the learner's cell.
LSTM = Task("the LSTM of tasks/binary_addition_lstm.toml", ProblemSection("binary_addition", 8),
            NetworkSection("my_lstm", 2, 8, 1, "", "squared_error"), TrainingSection(0.5, 1500, 16, 0, 250))


class _TheirReverse:
    """A program whose runs take their gradients from the learner's ``bptt``, not from the engine's reverse pass."""

    def __init__(self, program, bptt: Callable | None, steps: int, reverse: Callable | None = None) -> None:
        self.program, self.bptt, self.steps, self.reverse = program, bptt, steps, reverse

    def forward(self, feeds, params):
        return _TheirRun(self, self.program.forward(feeds, params))


class _TheirRun:
    def __init__(self, owner: _TheirReverse, run) -> None:
        self.owner, self.run, self.value = owner, run, run.value

    def backward(self) -> dict:
        owner, run = self.owner, self.run
        if owner.reverse is not None:  # the learner's interpreter loop: every op's backward, summed over readers
            ops = [ExerciseOp(op.key, op.inputs, op.node, run.contexts[op.index]) for op in owner.program.ops]
            given = owner.reverse(ops, {LOSS: np.ones_like(run.value(LOSS))})
            return {key: np.asarray(given[key], dtype=np.float64) for key in owner.program.wrt}
        steps = [Step(t, run, owner.program, {}) for t in range(owner.steps)]
        grads = owner.bptt(steps)
        return {key: np.asarray(g, dtype=np.float64) for key, g in grads.items()}


def train_post(swap: Mapping[str, str], *, bptt: Callable | None = None, reverse: Callable | None = None, on_log: Callable[[str], None] = print,
               iterations: int | None = None) -> float:
    """Train the post's network with node types ``swap`` (graphnet's name -> the learner's), and the learner's
    ``bptt`` or ``reverse`` if given, for every gradient; ``on_log`` gets the post's log, line by line. Returns the accuracy on every problem."""
    task = POST
    spec, network, bits = task.training, task.build_network(), task.problem.bits
    iterations = spec.iterations if iterations is None else iterations
    rng = np.random.RandomState(spec.seed)
    initial = network.init_parameters(rng)  # the post draws the weights first, then the problems
    problems = Problems(task.generator, rng, spec.batch_size, bits, iterations)
    networks = Networks(initial, spec.learning_rate, [iter(problems)])
    program = with_types(network.graph(bits), swap).compile()
    if bptt is not None or reverse is not None:
        program = _TheirReverse(program, bptt, bits, reverse)

    def diverged(iteration, lost, batch):
        raise DivergedError(f"training with your code diverged at iteration {iteration} (a NaN or inf in the loss or "
                            "a gradient)")

    def log(iteration, batch, run):
        if spec.log_every and iteration % spec.log_every == 0:
            entry: LogEntry = _log_entry(task, batch, run.value, iteration)
            for line in entry.lines():
                on_log(line)

    descend(network, program, networks, range(iterations), diverged=diverged, before_update=log)
    accuracy = evaluate(task, networks.params)
    on_log(f"trained {iterations} iterations; {accuracy.line()}")
    return accuracy.fraction


def train_lstm(on_log: Callable[[str], None] = print) -> float:
    """Train the LSTM task with the learner's cell ``my_lstm``; ``on_log`` gets its log, line by line."""
    result = train(LSTM, on_log=lambda entry: [on_log(line) for line in entry.lines()])
    accuracy = evaluate(LSTM, result.params)
    on_log(f"trained {LSTM.training.iterations} iterations; {accuracy.line()}")
    return accuracy.fraction

