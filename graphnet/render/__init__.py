"""Drawing a graph with Graphviz: the only code besides :mod:`graphnet.animate` that imports graphviz; it
only reads the graph.

Read in this order:

- :mod:`~graphnet.render.colours`: numbers as colours (:class:`Scale`), a colour for each weight;
- :mod:`~graphnet.render.cells`: a node's label, vectors and matrices as cells of colour, each with an id;
- :mod:`~graphnet.render.fold`: each step's cell folded into one node, a view for drawing;
- :mod:`~graphnet.render.picture`: the picture of a graph (:func:`to_digraph`), with its legend
  (:mod:`~graphnet.render.legend`);
- :mod:`~graphnet.render.backends`: laying it out with pygraphviz or the ``dot`` program, writing it, and a
  layout computed once for many pictures (:class:`Fixed`).

Examples
--------
>>> from graphnet import load_task
>>> from graphnet.render import to_digraph
>>> graph = load_task("tasks/binary_addition.toml").build_network().graph(4)
>>> to_digraph(graph).source.count("subgraph cluster_t")
4
"""

from .cells import Cell, shape_text
from .colours import PENDING, RECURRENT_COLOUR, WEIGHT_COLOURS, Scale, unit_colour, weight_colours
from .fold import fold_steps
from .kinds import kind_of
from .backends import FORMATS, Fixed, layout, node_link_json, write
from .picture import MAX_STEPS, Picture, Scales, fit_scales, to_digraph

__all__ = ["Cell", "FORMATS", "Fixed", "MAX_STEPS", "PENDING", "Picture", "RECURRENT_COLOUR", "Scale", "Scales",
           "WEIGHT_COLOURS", "fit_scales", "fold_steps", "kind_of", "layout", "node_link_json", "shape_text", "to_digraph",
           "unit_colour", "weight_colours", "write"]
