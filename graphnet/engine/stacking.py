"""Stacking: what makes a program fast, as a rewrite of its graph. A graph in, a graph out, the same numbers.

An unrolled network repeats each op once per time step, and at these sizes a numpy call costs its overhead far
more than its arithmetic. Where the copies of an op do not depend on each other (every step's input projection
``x[t] @ synapse_0``; after the recurrence, every step's output projection, output sigmoid and loss),
:func:`stacked` rewrites the graph so that they run as one op of their node type, on their operands stacked
along a new *member* axis::

    x_synapse_0[t] = matmul(x[t], synapse_0)                        for t = 0 .. 7

becomes::

    x[0..7]             = stack(x[0], ..., x[7])                    (8, batch, 2)
    synapse_0 x8        = broadcast(synapse_0)                      (8, 2, 16), a view
    x_synapse_0[0..7]   = matmul(x[0..7], synapse_0 x8)             one call of matmul's forward and backward
    x_synapse_0[0], ..., x_synapse_0[7] = unstack(x_synapse_0[0..7])

The new nodes are ordinary node types, here below, each with its own ``forward`` and ``backward``: the stacked
graph runs in the same interpreter as any other (:mod:`graphnet.engine.program`), passes the gradient check, and
can be drawn (``graphnet render --stacked``). ``broadcast`` adds the members' gradients of a shared weight one
after another, in the order the op-by-op reverse pass adds them, so a stacked run is bit for bit the op-by-op
run on the post's network.

A node type says whether its ops may be stacked with its ``stacking`` rule
(:class:`graphnet.engine.node.Stacking`). A *group* is a set of ops that

- have the same node type, settings and operand shapes, and the same operand at every *shared* position of
  the rule (a matmul's weight);
- have no path between any two of them: all lie at the same depth (longest path from the leaves) or all at
  the same height (longest path to an output), and a path strictly changes both;
- keep the graph a DAG once every group is contracted to one op (checked: groups that break it are dropped).

The rewrite reads node types, settings, inputs and shapes, never node names, time steps or the cell type. The
nodes it adds carry ``kind="stacked"``, for pictures; the members keep what their builder stored on them.

Examples
--------
>>> from graphnet import Network, get_cell
>>> graph = Network(get_cell("rnn"), inputs=2, hidden=4, outputs=1).graph(3)
>>> groups(graph)  # doctest: +NORMALIZE_WHITESPACE
[['x_synapse_0[0]', 'x_synapse_0[1]', 'x_synapse_0[2]'],
 ['h_synapse_1[0]', 'h_synapse_1[1]', 'h_synapse_1[2]'],
 ['y_hat[0]', 'y_hat[1]', 'y_hat[2]'],
 ['loss[0]', 'loss[1]', 'loss[2]']]
>>> fast = stacked(graph)
>>> fast.node("x_synapse_0[0..2]")["inputs"]
('x[0..2]', 'synapse_0 x3')
"""

from __future__ import annotations

import re
from typing import Sequence

import networkx as nx
import numpy as np

from .graph import ENGINE_ATTRS, Graph
from .node import Node, Stacking, get_node, register_node

# Stacking saves numpy calls but copies operands into stacks. With more examples a batch than this, the copies
# cost more than the calls saved (measured on the post's network: faster up to batch 192, slower from 256 on):
# run such batches on the graph as it is.
STACK_ROWS = 128


# -- the node types the rewrite writes ----------------------------------------------------------------------------
def rows(x: np.ndarray, axis: int, xp=np) -> tuple[np.ndarray, ...]:
    """The rows of ``x`` along ``axis`` (counted from the end), as views."""
    return tuple(x) if x.ndim == -axis else tuple(xp.moveaxis(x, axis, 0))


def side_by_side(xs: Sequence[np.ndarray], axis: int, xp=np) -> np.ndarray:
    """``xs`` stacked on a new ``axis`` (counted from the end)."""
    # NB: np.array of the list is np.stack on the first axis, with a third of the overhead a call.
    if xp is np and getattr(xs[0], "ndim", 0) == -axis - 1:
        return np.array(xs)
    return xp.stack(xs, axis=axis)


def _new_axis(shapes: Sequence[tuple], axis: int) -> None:
    if axis != -len(shapes[0]) - 1:
        raise ValueError(f"the new axis is just before the values' own: axis={-len(shapes[0]) - 1}, got {axis}")


@register_node("stack")
class Stack(Node):
    """Values of one shape side by side on a new axis, just before their own: M of shape S give (M, *S)."""

    arity = None
    stacking = Stacking()  # leading axes of networks side by side stay in front of the new one

    def forward(self, ctx, *xs):
        return side_by_side(xs, ctx.attrs["axis"], ctx.xp)

    def backward(self, ctx, grad):
        # each input its row of the gradient
        needs = ctx.needs_input_grad
        return tuple([row if needs[i] else None for i, row in enumerate(rows(grad, ctx.attrs["axis"], ctx.xp))])

    def shape(self, *shapes, axis: int = -1):
        if len(set(shapes)) != 1:
            raise ValueError(f"stack needs inputs of one shape, got {' and '.join(map(str, shapes))}")
        _new_axis(shapes, axis)
        return (len(shapes), *shapes[0])

    def sample_inputs(self, rng, batch, width):
        return tuple(rng.normal(size=(batch, width)) for _ in range(3))

    def sample_attrs(self, width):
        return {"axis": -3}


@register_node("unstack")
class Unstack(Node):
    """A stack's rows, each a value of its own: what stack stacked, given back (an output per row)."""

    multiple_outputs = True
    stacking = Stacking()

    def forward(self, ctx, x):
        out = rows(x, ctx.attrs["axis"], ctx.xp)
        ctx.save(out[0].shape)
        return out

    def backward(self, ctx, *grads):
        (shape,) = ctx.saved
        # a row nobody differentiated (its readers do not lead to the loss) gets a zero gradient
        xp = ctx.xp
        return (side_by_side([xp.zeros(shape) if g is None else g for g in grads], ctx.attrs["axis"], xp),)

    def shape(self, x, *, axis: int = -1):
        _new_axis([x[1:]], axis)
        return [x[1:]] * x[0]

    def sample_inputs(self, rng, batch, width):
        return (rng.normal(size=(3, batch, width)),)

    def sample_attrs(self, width):
        return {"axis": -3}


@register_node("broadcast")
class Broadcast(Node):
    """One value as every member's: ``members`` times the same, on a new axis just before its own (a view)."""

    stacking = Stacking()

    def forward(self, ctx, w):
        axis, members = ctx.attrs["axis"], ctx.attrs["members"]
        where = w.ndim + axis + 1  # the new axis, counted from the front
        shape = (*w.shape[:where], members, *w.shape[where:])
        if ctx.xp is not np or not w.flags.c_contiguous:
            return ctx.xp.broadcast_to(ctx.xp.expand_dims(w, where), shape)
        # NB: np.broadcast_to(np.expand_dims(w, where), shape) makes this view (every member w itself, stride 0),
        # with ten times the overhead a call.
        view = np.ndarray(shape, w.dtype, w, 0, (*w.strides[:where], 0, *w.strides[where:]))
        view.flags.writeable = False
        return view

    def backward(self, ctx, grad):
        # The members' gradients added one after another, the last member's first: the order in which the op-by-op
        # reverse pass adds the gradient of a weight every step reads, so the sum is that one to the last bit.
        # (np.add.accumulate adds row after row, in order, in one call; np.add.reduce may add them pairwise.)
        axis, xp = ctx.attrs["axis"], ctx.xp
        members = grad if grad.ndim == -axis else xp.moveaxis(grad, axis, 0)  # members first
        if xp is not np:  # a compiler orders the sum its own way (within rounding)
            return (members.sum(axis=0),)
        return (np.add.accumulate(members[::-1], axis=0)[-1] if len(members) > 1 else members[0],)

    def shape(self, w, *, axis: int = -1, members: int):
        _new_axis([w], axis)
        if not isinstance(members, int) or members < 1:
            raise ValueError(f"broadcast needs members >= 1, got {members!r}")
        return (members, *w)

    def sample_inputs(self, rng, batch, width):
        return (rng.normal(size=(width, width + 1)),)

    def sample_attrs(self, width):
        return {"axis": -3, "members": 3}


# -- finding the groups ---------------------------------------------------------------------------------------------
def groups(graph: Graph) -> list[list[str]]:
    """The groups of ops of ``graph`` that can run as one, each in topological order, ordered by first member."""
    ops = [k for k in graph.topological_order() if graph.node(k)["inputs"]]
    producers = _producers(graph, ops)
    buckets: dict[tuple, list[int]] = {}
    for i, key in enumerate(ops):
        signature = _signature(graph, key)
        if signature is not None:
            buckets.setdefault(signature, []).append(i)
    depth, height = _levels(producers)
    found: list[list[int]] = []
    for members in buckets.values():
        taken: set[int] = set()
        for level in (depth, height):  # same depth (input side) first, then same height (output side)
            by_level: dict[int, list[int]] = {}
            for i in members:
                if i not in taken:
                    by_level.setdefault(level[i], []).append(i)
            for same in by_level.values():
                if len(same) > 1:
                    found.append(same)
                    taken.update(same)
    found.sort(key=lambda g: g[0])
    # Contracting groups chosen at equal depth and at equal height together can close a cycle: keep the
    # largest groups that leave the graph a DAG.
    if _schedule(producers, found) is None:
        kept: list[list[int]] = []
        for group in sorted(found, key=len, reverse=True):
            if _schedule(producers, kept + [group]) is not None:
                kept.append(group)
        found = sorted(kept, key=lambda g: g[0])
    return [[ops[i] for i in group] for group in found]


def _signature(graph: Graph, key: str) -> tuple | None:
    """What members of one group must share, or None when the op cannot be stacked."""
    node = graph.node(key)
    rule = get_node(node["op"]).stacking
    if rule is None or "outputs" in node or node.get("stacked"):
        return None
    inputs = node["inputs"]
    if any(p >= len(inputs) for p in rule.shared):
        return None
    return (node["op"], repr(sorted(node.get("attrs", {}).items())),
            tuple(graph.node(a)["shape"] for a in inputs), tuple(inputs[p] for p in rule.shared))


def _producers(graph: Graph, ops: list[str]) -> list[list[int]]:
    """For every op, the ops that compute its operands (by index in ``ops``)."""
    where = {k: i for i, k in enumerate(ops)}
    return [sorted({where[a] for a in graph.node(k)["inputs"] if a in where}) for k in ops]


def _levels(producers: list[list[int]]) -> tuple[list[int], list[int]]:
    """Depth and height of every op."""
    depth = [0] * len(producers)
    for i, ps in enumerate(producers):
        depth[i] = 1 + max((depth[p] for p in ps), default=0)
    height = [0] * len(producers)
    for i in reversed(range(len(producers))):
        for p in producers[i]:
            height[p] = max(height[p], height[i] + 1)
    return depth, height


def _schedule(producers: list[list[int]], found: list[list[int]]) -> list[list[int]] | None:
    """A topological order of the ops with every group contracted to one unit, or None if there is none.

    Units are lists of op indices (a group's, or one op's); ties go to the unit whose first op comes first in
    the original order, so ops stay near where an op-by-op run has them.
    """
    unit_of = list(range(len(producers)))  # unit id: an op's own index, or len(producers) + group number
    for g, members in enumerate(found):
        for i in members:
            unit_of[i] = len(producers) + g
    first = {u: i for i, u in reversed(list(enumerate(unit_of)))}
    contracted = nx.DiGraph()
    contracted.add_nodes_from(first)
    contracted.add_edges_from(
        (unit_of[p], unit_of[i]) for i, ps in enumerate(producers) for p in ps if unit_of[p] != unit_of[i]
    )
    try:
        units = list(nx.lexicographical_topological_sort(contracted, key=first.__getitem__))
    except nx.NetworkXUnfeasible:  # a cycle through a group
        return None
    return [[u] if u < len(producers) else list(found[u - len(producers)]) for u in units]


# -- the rewrite --------------------------------------------------------------------------------------------------
def stacked(graph: Graph) -> Graph:
    """``graph`` with each group of :func:`groups` run as one op on stacks: ``stack`` gathers the members' operands,
    ``broadcast`` hands a shared one to every member, the node type runs once, ``unstack`` gives every member its
    row back under its own key. Every node of ``graph`` keeps its key, value and gradient."""
    ops = [k for k in graph.topological_order() if graph.node(k)["inputs"]]
    found = groups(graph)
    where = {k: i for i, k in enumerate(ops)}
    units = _schedule(_producers(graph, ops), [[where[k] for k in group] for group in found])
    new = Graph(f"{graph.name}, stacked")
    made: dict[tuple[str, ...], str] = {}  # members' keys -> the stack that holds their values, in order
    given = _stacked_inputs(graph, found)
    for key in graph.keys():
        node = graph.node(key)
        if key in given:  # the first of inputs given stacked: the stacked input, and each member its row of it
            keys = given[key]
            made[keys] = new.input(_free(span(keys), new, graph), (len(keys), *node["shape"]), stacks=keys,
                                   kind="stacked")
            new.apply("unstack", keys, made[keys], attrs={"axis": -len(node["shape"]) - 1})
            for k in keys:
                new.nx.nodes[k].update(_meta(graph.node(k)))
        elif not node["inputs"] and not any(key in keys for keys in given.values()):
            new.nx.add_node(key, **node)
    for unit in units:
        members = [ops[i] for i in unit]
        node = graph.node(members[0])
        if len(members) == 1:
            outputs = node.get("outputs", (members[0],))
            if outputs[0] == members[0]:  # a node type of several outputs is added once, with every key
                new.apply(node["op"], outputs if "outputs" in node else members[0], *node["inputs"],
                          attrs=node.get("attrs"), stacked=node.get("stacked", False), **_meta(node))
            continue
        size, rule = len(members), get_node(node["op"]).stacking
        operands = []
        for p in range(len(node["inputs"])):
            keys = tuple(graph.node(m)["inputs"][p] for m in members)
            rank = len(graph.node(keys[0])["shape"])
            if p in rule.shared:
                operands.append(new.apply("broadcast", _free(f"{keys[0]} x{size}", new, graph), keys[0],
                                          attrs={"axis": -rank - 1, "members": size}, kind="stacked"))
            elif keys not in made:
                made[keys] = new.apply("stack", _free(span(keys), new, graph), *keys, attrs={"axis": -rank - 1},
                                       kind="stacked")
                operands.append(made[keys])
            else:
                operands.append(made[keys])
        group = new.apply(node["op"], _free(span(members), new, graph), *operands, attrs=node.get("attrs"),
                          stacked=True, kind="stacked")
        made[tuple(members)] = group
        new.apply("unstack", members, group, attrs={"axis": -len(node["shape"]) - 1})
        for m in members:  # each member keeps what its builder stored on it (its step, its kind)
            new.nx.nodes[m].update(_meta(graph.node(m)))
    return new


def _stacked_inputs(graph: Graph, found: list[list[str]]) -> dict[str, tuple[str, ...]]:
    """Fed inputs that a group reads as one operand, all of them in order, each once (every step's input bits):
    given as one input of them side by side, which a run may feed whole, with no copy, or step by step. By the
    first of them, their keys."""
    taken: set[str] = set()
    given: dict[str, tuple[str, ...]] = {}
    for group in found:
        node = graph.node(group[0])
        for p in range(len(node["inputs"])):
            if p in get_node(node["op"]).stacking.shared:
                continue
            keys = tuple(graph.node(m)["inputs"][p] for m in group)
            if len(set(keys)) == len(keys) and not taken & set(keys) and all(
                    graph.node(k)["op"] == "input" and graph.node(k).get("fill") is None
                    and not graph.node(k).get("stacks") for k in keys):
                given[keys[0]] = keys
                taken.update(keys)
    return given


def _meta(node: dict) -> dict:
    return {k: v for k, v in node.items() if k not in ENGINE_ATTRS}


def span(keys: Sequence[str]) -> str:
    """A name for a run of keys: ``x[0..7]`` for ``x[0]``, ..., ``x[7]``."""
    parts = [re.fullmatch(r"(.*)\[(-?\d+)\]", k) for k in keys]
    if all(parts) and len({m.group(1) for m in parts}) == 1:
        numbers = [int(m.group(2)) for m in parts]
        if numbers == list(range(numbers[0], numbers[0] + len(numbers))):
            return f"{parts[0].group(1)}[{numbers[0]}..{numbers[-1]}]"
        return f"{parts[0].group(1)}[{','.join(map(str, numbers))}]"
    return f"{keys[0]}..{keys[-1]}"


def _free(name: str, *graphs: Graph) -> str:
    """``name``, or with primes added until no node of ``graphs`` has it (the rewrite's and the graph it rewrites: a
    name is taken by a node not copied yet too)."""
    while any(name in graph for graph in graphs):
        name += "'"
    return name
