"""Reading a run of a stacked graph (:func:`graphnet.stacked`) node by node, as a run of the graph it was made from."""

from __future__ import annotations

import numpy as np

from graphnet import Graph


def in_stacked(found: dict, fast: Graph, key: str, like: np.ndarray) -> np.ndarray:
    """Node ``key``'s entry in ``found`` (values or gradients of a run of the stacked graph ``fast``): a member of a
    stack's is its row of the stack's (which holds every reader's share), zeros where nothing reached it."""
    node = fast.node(key) if key in fast else {"op": "given"}  # a weight given to a run that does not read it
    if node["op"] == "unstack":
        stack = found.get(node["inputs"][0])
        if stack is None:  # nothing went back through the stack (the member is where the pass began, say)
            return found[key] if key in found else np.zeros_like(like)
        return np.moveaxis(stack, node["attrs"]["axis"], 0)[node["outputs"].index(key)]
    return found[key] if key in found else np.zeros_like(like)
