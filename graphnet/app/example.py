"""One problem, written as a user writes it (``9+60``), run through a task's network: what ``graphnet render
--example`` draws and ``graphnet animate`` animates.

Examples
--------
>>> import numpy as np
>>> from graphnet import load_task
>>> task = load_task("tasks/binary_addition.toml")
>>> params = task.build_network().init_parameters(np.random.RandomState(0))
>>> example = run_example(task, params, "5+6")
>>> len(example.problem.x), example.says()
(4, 'the network says 5 + 6 = 1, the answer is 5 + 6 = 11')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..engine.graph import Graph
from ..engine.program import Run
from ..errors import NonFiniteError, UsageError
from ..rnn.data import Batch, checked
from ..rnn.keys import PREDICTION, over
from ..rnn.network import nonfinite
from .tasks import Task


@dataclass(frozen=True)
class Example:
    """A problem of the task and its run: ``graph`` unrolled over the problem's steps, ``run`` its forward pass.

    The run is of the graph as built, op by op (the same numbers as the stacked program), so that its
    reverse pass, :meth:`~graphnet.engine.program.Run.reverse`, hands gradients back one op at a time.
    """

    task: Task
    problem: Batch
    graph: Graph
    run: Run

    @property
    def predicted(self) -> np.ndarray:
        """The network's answer, bits (T, outputs)."""
        return np.round(np.stack([self.run.value(key)[0] for key in over(PREDICTION, len(self.problem.x))]))

    def answer(self) -> str:
        """The problem and its true answer, as the task writes it: ``9 + 60 = 69``."""
        return self.task.generator.describe(self.problem, 0, self.problem.y[:, 0])

    def gradients(self) -> dict[str, np.ndarray]:
        """Every node's gradient of the loss, the reverse pass whole; a :class:`NonFiniteError` naming the first
        that overflows (weights so large that no picture of the pass could show its numbers)."""
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is named below, in one line
            grads = self.run.backward(every_node=True)
        lost = nonfinite(grads, gradients=True)
        if lost:
            raise NonFiniteError(f"the reverse pass of {self.answer()} overflows with these weights ({lost}); a "
                                 "picture of it would show no numbers")
        return grads

    def says(self) -> str:
        """What the network answers, and the true answer if that is not it."""
        said = f"the network says {self.task.generator.describe(self.problem, 0, self.predicted)}"
        if not np.array_equal(self.predicted, self.problem.y[:, 0]):
            said += f", the answer is {self.answer()}"
        return said


def read_example(task: Task, text: str, steps: int | None = None) -> Batch:
    """The task's problem written ``text``, over ``steps`` steps or as few as it needs; a :class:`UsageError`
    naming ``--example`` if the task cannot read it."""
    try:
        problem = task.generator.example(text, steps)
    except ValueError as exc:
        raise UsageError(f"--example {text}: {exc}") from None
    return checked(task.generator, problem, "example", steps, 1)


def run_example(task: Task, params: Mapping[str, np.ndarray], text: str, steps: int | None = None) -> Example:
    """Run the problem written ``text`` (as :func:`read_example` reads it) through the task's network with
    ``params``."""
    problem = read_example(task, text, steps)
    network = task.build_network()
    graph = network.graph(len(problem.x))
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is named below, in one line
        run = graph.compile().forward(network.feeds(problem.x, problem.y), params)
    lost = nonfinite(run.values)
    if lost:  # a picture draws NaN as a number not computed yet: no picture of this run could be true
        raise NonFiniteError(f"the run of {task.generator.describe(problem, 0, problem.y[:, 0])} overflows with these "
                             f"weights ({lost}); a picture of it would show no numbers")
    return Example(task, problem, graph, run)
