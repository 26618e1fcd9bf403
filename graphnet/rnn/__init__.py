"""Recurrent nets on the engine: cells, the network that unrolls a cell over time, and the problems they learn.

- :mod:`~graphnet.rnn.cells`: the post's RNN, the LSTM, the GRU: what one time step adds to a graph;
- :mod:`~graphnet.rnn.network`: a cell unrolled over ``T`` steps, with an output layer and a loss on each;
- :mod:`~graphnet.rnn.keys`: the keys of an unrolled network's nodes (``h[3]``, ``y_hat[7]``, ``loss``);
- :mod:`~graphnet.rnn.data`: the problems (binary addition, ...) as time-major bit arrays;
- :mod:`~graphnet.rnn.reach`: how far back the gradient reaches: a weight's gradient split by lag, and how much a
  step's state and prediction move with an earlier state and input.
"""

from .cells import Cell, get_cell, register_cell, registered_cells, unregister_cell
from .data import (
    Batch, Generator, Option, bits_to_int, get_generator, int_to_bits, register_generator, registered_generators,
    unregister_generator,
)
from .network import Network, check_network

__all__ = ["Batch", "Cell", "Generator", "Network", "bits_to_int", "check_network", "get_cell", "get_generator",
           "int_to_bits", "Option", "register_cell", "register_generator", "registered_cells", "registered_generators",
           "unregister_cell", "unregister_generator"]
