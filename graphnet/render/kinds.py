"""What a node is in a picture (its ``kind``): what the code that built the graph stored on it, or what its node type
makes it. The engine stores a builder's ``kind`` and never reads it; the RNN layer stores "hidden", "state",
"gate", "output", "target" and "loss"."""

from __future__ import annotations

from typing import Mapping

DEFAULT_KIND = {"parameter": "parameter", "input": "input", "constant": "constant"}


def kind_of(attrs: Mapping) -> str:
    """A node's role in the picture: its ``kind``, or the one its node type implies (``op`` for computed nodes).

    >>> kind_of({"op": "parameter"}), kind_of({"op": "sigmoid", "kind": "hidden"}), kind_of({"op": "add"})
    ('parameter', 'hidden', 'op')
    """
    return attrs.get("kind") or DEFAULT_KIND.get(attrs["op"], "op")
