"""graphnet: a tiny, readable computation-graph engine that unrolls the post's RNN and trains it.

The layers, each a folder, read top to bottom: :mod:`graphnet.engine` (node types, graphs, programs, the
reverse pass; read it first), :mod:`graphnet.rnn` (cells, the unrolled network, the problems),
:mod:`graphnet.app` (task files, training, weights, checkpoints, sweeps, plugins), :mod:`graphnet.render`
(pictures) and :mod:`graphnet.cli` (the command). What a plugin needs is here, at the top:

>>> from graphnet import load_task
>>> task = load_task("tasks/binary_addition.toml")
>>> graph = task.build_network().graph(task.problem.bits)
>>> len(graph.parameters)
3
"""

__version__ = "0.1.0"

from . import _moved  # noqa: E402, F401  (the module paths of earlier versions, with a DeprecationWarning)
from .app.tasks import Task, load_task  # noqa: E402
from .app.training import add_integers, evaluate, train  # noqa: E402
from .app.weights import load_weights, save_weights  # noqa: E402
from .engine import (  # noqa: E402
    Context, Graph, Node, Program, Run, Stacking, get_node, register_node, registered_nodes, unregister_node,
)
from .engine.gradcheck import check_node, check_program  # noqa: E402
from .errors import DivergedError, GraphError, GraphnetError, TaskError, WeightsError  # noqa: E402
from .rnn import (  # noqa: E402
    Batch, Cell, Generator, Network, bits_to_int, check_network, get_cell, get_generator, int_to_bits,
    register_cell, register_generator, registered_cells, registered_generators, unregister_cell, unregister_generator,
)
from .rnn.keys import at  # noqa: E402

__all__ = [
    # node types (graphnet.engine)
    "Context", "Node", "Stacking", "get_node", "register_node", "registered_nodes", "unregister_node",
    # graphs and programs
    "Graph", "Program", "Run", "check_node", "check_program",
    # cells, networks, data generators (graphnet.rnn)
    "Batch", "Cell", "Generator", "Network", "at", "bits_to_int", "check_network", "get_cell", "get_generator",
    "int_to_bits", "register_cell", "register_generator", "registered_cells", "registered_generators",
    "unregister_cell", "unregister_generator",
    # task files, training, weights (graphnet.app)
    "Task", "add_integers", "evaluate", "load_task", "load_weights", "save_weights", "train",
    # errors
    "DivergedError", "GraphError", "GraphnetError", "TaskError", "WeightsError",
]


def __getattr__(name: str):
    """The top-level names of earlier versions (``graphnet.register``, ``graphnet.get``, ``graphnet.add``)."""
    return _moved.renamed_at_top(name)
