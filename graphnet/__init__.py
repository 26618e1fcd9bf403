"""graphnet: a tiny, readable computation-graph engine that unrolls the post's RNN and trains it.

>>> from graphnet import load_task
>>> task = load_task("tasks/binary_addition.toml")
>>> graph = task.build_network().graph(task.task.bits)
>>> len(graph.parameters)
3
"""

__version__ = "0.1.0"

from .cells import Cell, Network, get_cell, register_cell  # noqa: E402
from .data import Batch, Generator, get_generator, register_generator  # noqa: E402
from .errors import GraphError, GraphnetError, TaskError, WeightsError  # noqa: E402
from .graph import Graph  # noqa: E402
from .nodes import Context, Node, Stacking, get, register  # noqa: E402
from .program import Program, Run  # noqa: E402
from .tasks import Task, load_task  # noqa: E402
from .training import add, evaluate, load_weights, save_weights, train  # noqa: E402

__all__ = [
    "Batch", "Cell", "Context", "Generator", "Graph", "GraphError", "GraphnetError", "Network", "Node",
    "Program", "Run", "Stacking", "Task", "TaskError", "WeightsError", "add", "evaluate", "get", "get_cell",
    "get_generator", "load_task", "load_weights", "register", "register_cell", "register_generator",
    "save_weights", "train",
]
