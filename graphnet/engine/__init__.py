"""The engine: node types, graphs and programs, the forward pass and the reverse pass. Read it first.

It stands on its own (it imports nothing of graphnet but :mod:`graphnet.errors`). In reading order:

- :mod:`~graphnet.engine.node`: what a node type is (``Node``, ``Context``, ``Stacking``) and their registry;
- :mod:`~graphnet.engine.nodes`: the built-in node types, each op's math, hand-written forward and backward;
- :mod:`~graphnet.engine.graph`: a graph of nodes on networkx, checked as it is built;
- :mod:`~graphnet.engine.program`: a graph compiled once and run: the forward pass, then the reverse pass;
- :mod:`~graphnet.engine.gradcheck`: every backward against central differences in float64;
- :mod:`~graphnet.engine.stacking`: what makes a program fast, ops run as one call on stacked operands;
- :mod:`~graphnet.engine.registry`: the name -> class tables that node types (and cells, generators) use.
"""

from . import nodes  # noqa: F401  (registers the built-in node types)
from .graph import Graph
from .node import Context, Node, Stacking, get_node, register_node, registered_nodes, unregister_node
from .program import Program, Run

__all__ = ["Context", "Graph", "Node", "Program", "Run", "Stacking", "get_node", "register_node",
           "registered_nodes", "unregister_node"]
