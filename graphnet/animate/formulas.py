"""What a node computes, in words a learner reads beside its numbers: its formula forward and backward, written
with the names of its own inputs, and the code of its node type that the engine runs.

The formulas describe the built-in node types' ``forward`` and ``backward`` (:mod:`graphnet.engine.nodes`); they
do not compute anything. A node type without one (a plugin's) is described by its docstring and its code.

Examples
--------
>>> forward("h[3]", "sigmoid", ["h_in[3]"])
'h[3] = 1 / (1 + exp(−h_in[3]))'
>>> backward("h[3]", "sigmoid", ["h_in[3]"])
'∂L/∂h_in[3] = ∂L/∂h[3] · h[3] · (1 − h[3])'
>>> forward("b**3", "pow", ["b"], {"exponent": 3})
'b**3 = b ** 3'
>>> forward("w", "parameter", [])
'w: a weight, one node however many steps read it; trained by SGD'
"""

from __future__ import annotations

import inspect
import textwrap
from typing import Mapping

from ..engine.node import NO_ATTRS, get_node
from ..errors import GraphError

L = "∂L/∂"  # the gradient of the loss with respect to

_FORMULAS = {  # op: (forward, backward); y is the node, a and b its first two inputs, L the loss
    "matmul": ("{y} = {a} @ {b}", "{L}{a} = {L}{y} @ {b}ᵀ;   {L}{b} = {a}ᵀ @ {L}{y}"),
    "add": ("{y} = {a} + {b}", "{L}{a} = {L}{y};   {L}{b} = {L}{y}"),
    "sub": ("{y} = {a} − {b}", "{L}{a} = {L}{y};   {L}{b} = −{L}{y}"),
    "div": ("{y} = {a} / {b}", "{L}{a} = {L}{y} / {b};   {L}{b} = −{L}{y} · {a} / {b}²"),
    "pow": ("{y} = {a} ** {exponent}", "{L}{a} = {L}{y} · {exponent} · {a} ** ({exponent} − 1)"),
    "exp": ("{y} = exp({a})", "{L}{a} = {L}{y} · {y}"),
    "log": ("{y} = log({a})", "{L}{a} = {L}{y} / {a}"),
    "mul": ("{y} = {a} · {b}   (elementwise)", "{L}{a} = {L}{y} · {b};   {L}{b} = {L}{y} · {a}"),
    "sigmoid": ("{y} = 1 / (1 + exp(−{a}))", "{L}{a} = {L}{y} · {y} · (1 − {y})"),
    "tanh": ("{y} = tanh({a})", "{L}{a} = {L}{y} · (1 − {y}²)"),
    "relu": ("{y} = max({a}, 0)", "{L}{a} = {L}{y} · ({a} > 0)"),
    "bias_add": ("{y} = {a} + {b}   ({b} added to every row of the batch)",
                 "{L}{a} = {L}{y};   {L}{b} = {L}{y} summed over the batch"),
    "squared_error": ("{y} = ½ Σ ({a} − {b})², averaged over the batch",
                      "{L}{a} = {L}{y} · ({a} − {b}) / B;   {L}{b} = −{L}{a}"),
    "bce_with_logits": ("{y} = −Σ ({b} log σ({a}) + (1 − {b}) log(1 − σ({a}))), averaged over the batch",
                        "{L}{a} = {L}{y} · (σ({a}) − {b}) / B"),
    "sum": ("{y} = {all}", "{L}(each input) = {L}{y}"),
    "concat": ("{y} = [{list}]   (side by side)", "each input gets its columns of {L}{y}"),
    "slice": ("{y} = {a}[:, {start}:{stop}]", "{L}{a} = {L}{y} in columns {start}:{stop}, 0 elsewhere"),
    "mean": ("{y} = the mean of every element of {a}", "{L}{a} = {L}{y} / (its number of elements), everywhere"),
    # leaves: what a run feeds, trains or fixes
    "parameter": ("{y}: a weight, one node however many steps read it; trained by SGD",
                  "{L}{y} = the sum of what every op that reads {y} hands back: one share a step"),
    "input": ("{y}: fed by the run (a step's input bits, its target, an initial state)",
              "{y} is data: its gradient is not needed"),
    "constant": ("{y}: a fixed value, never trained", "{y} is fixed: its gradient is not needed"),
}
_ANY = ("{y} = {op}({list})", "{L}({list}) = {op}.backward({L}{y})")  # a node type of a plugin's


def _formula(key: str, op: str, inputs: list[str], attrs: Mapping, which: int) -> str:
    a, b = (inputs + ["?", "?"])[:2]
    settings = {"exponent": "p", "start": "start", "stop": "stop", **attrs}  # a node's own, where it has them
    return _FORMULAS.get(op, _ANY)[which].format(y=key, a=a, b=b, L=L, op=op, all=" + ".join(inputs),
                                                 list=", ".join(inputs), **settings)


def forward(key: str, op: str, inputs: list[str], attrs: Mapping = NO_ATTRS) -> str:
    """What node ``key`` of node type ``op`` (with ``attrs``) computes from ``inputs`` (their keys, in argument
    order)."""
    return _formula(key, op, inputs, attrs, 0)


def backward(key: str, op: str, inputs: list[str], attrs: Mapping = NO_ATTRS) -> str:
    """What node ``key``'s backward hands back to each of its ``inputs``, from the gradient at ``key``."""
    return _formula(key, op, inputs, attrs, 1)


def code(op: str) -> dict[str, str]:
    """The node type's description and the source of its ``forward`` and ``backward``, where Python has them
    (a node type typed into a notebook may not); empty for a name that is no node type (a folded cell)."""
    try:
        node = get_node(op)
    except GraphError:
        return {}
    out = {"description": node.description}
    for method in ("forward", "backward"):
        try:
            out[method] = textwrap.dedent(inspect.getsource(getattr(type(node), method)))
        except (OSError, TypeError):
            pass
    return out
