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

The names below are imported when first used, so that importing graphnet itself costs nothing and the
command can answer Ctrl-C while it is still starting.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# What plugins and scripts import from here, and the module each comes from.
_PUBLIC = {
    # node types (graphnet.engine)
    **dict.fromkeys(["Context", "Node", "Stacking", "get_node", "register_node", "registered_nodes",
                     "unregister_node", "Graph", "Program", "Run", "stacked"], "graphnet.engine"),
    **dict.fromkeys(["check_node", "check_program"], "graphnet.engine.gradcheck"),
    # cells, networks, data generators (graphnet.rnn)
    **dict.fromkeys(["Batch", "Cell", "Generator", "Network", "Option", "bits_to_int", "check_network", "get_cell",
                     "get_generator", "int_to_bits", "register_cell", "register_generator", "registered_cells",
                     "registered_generators", "unregister_cell", "unregister_generator"], "graphnet.rnn"),
    "at": "graphnet.rnn.keys",
    # task files, training, weights (graphnet.app)
    **dict.fromkeys(["Task", "load_task"], "graphnet.app.tasks"),
    **dict.fromkeys(["add_integers", "evaluate", "train"], "graphnet.app.training"),
    **dict.fromkeys(["evaluate_compiled", "train_compiled"], "graphnet.app.compiled"),  # the 'compile' extra
    **dict.fromkeys(["load_weights", "save_weights"], "graphnet.app.weights"),
    # errors
    **dict.fromkeys(["DivergedError", "GraphError", "GraphnetError", "TaskError", "WeightsError"], "graphnet.errors"),
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    """A public name, imported from its module the first time it is asked for (then kept here)."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'graphnet' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
