"""The engine: node types, graphs and programs, the forward pass and the reverse pass. Read it first.

It stands on its own (it imports nothing of graphnet but :mod:`graphnet.errors`). In reading order:

- :mod:`~graphnet.engine.node`: what a node type is (``Node``, ``Context``, ``Stacking``) and their registry;
- :mod:`~graphnet.engine.nodes`: the built-in node types, each op's math, hand-written forward and backward;
- :mod:`~graphnet.engine.program`: the interpreter: a program's ops run forward, then in reverse;
- :mod:`~graphnet.engine.graph`: a graph of nodes on networkx, checked as it is built, compiled into a program;
- :mod:`~graphnet.engine.gradcheck`: every backward against central differences in float64;
- :mod:`~graphnet.engine.stacking`: what makes a program fast, a rewrite of its graph into one that runs
  independent ops of one node type as one op on stacked operands;
- :mod:`~graphnet.engine.registry`: the name -> class tables that node types (and cells, generators) use.

Words, one for each thing:

- a **node** is a vertex of a graph, named by its key (``h[3]``); it holds a value in a run;
- a **node type** is a class with ``forward`` and ``backward`` (``Sigmoid``), registered by name (``"sigmoid"``);
- an **op** is a node that computes, as a program runs it: its node type applied to its inputs;
- a **program** is a graph compiled: its ops in order; a **run** is one pass of a program, with its values;
- a **step** is one time step of an unrolled network (``t``); an **iteration** is one update of training;
- a **member** is one of the values side by side in a stack: a time step's in a stacked op, or a network's
  when several train at once on a leading axis.
"""

from . import nodes  # noqa: F401  (registers the built-in node types)
from . import stacking  # noqa: F401  (registers stack, unstack and broadcast)
from .graph import Graph
from .node import Context, Node, Stacking, get_node, register_node, registered_nodes, unregister_node
from .program import Program, Run
from .stacking import stacked

__all__ = ["Context", "Graph", "Node", "Program", "Run", "Stacking", "get_node", "register_node",
           "registered_nodes", "stacked", "unregister_node"]
