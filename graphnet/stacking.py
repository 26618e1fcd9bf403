"""Time stacking: find, from a program's structure, ops that can run as one op on operands stacked in time.

An unrolled network repeats the same op once per time step. Where those copies do not depend on each other
(the input projection ``x[t] @ synapse_0`` of every step; after the recurrence, the output projection, the
output sigmoid and the loss term of every step), :class:`graphnet.compiled.FastProgram` runs them as one op on
their operands stacked along a new leading axis (member, batch, ...) and hands each member its row: far fewer
numpy calls, the same numbers. This module only reads the structure of a :class:`~graphnet.graph.Program`
(node types, settings, operand keys and shapes, edges), never node names, time steps or the cell type.

A *group* is a set of scheduled ops that

- have the same node type (one with a stacked rule in :data:`STACKABLE`), settings, operand shapes and
  gradient needs, and the same operand at every *shared* position (a matmul's weight);
- have no path between any two of them: all lie at the same depth (longest path from the leaves) or all at
  the same height (longest path to an output), and a path strictly changes both;
- keep the schedule a DAG once every group is contracted to one op (checked, groups that break it dropped).

Examples
--------
>>> from graphnet.cells import Network, get_cell
>>> net = Network(get_cell("rnn"), inputs=2, hidden=4, outputs=1)
>>> program = net.graph(3).compile()
>>> [[program.steps[i].key for i in g] for g in find_groups(program)]  # doctest: +NORMALIZE_WHITESPACE
[['x_synapse_0[0]', 'x_synapse_0[1]', 'x_synapse_0[2]'],
 ['h_synapse_1[0]', 'h_synapse_1[1]', 'h_synapse_1[2]'],
 ['y_hat[0]', 'y_hat[1]', 'y_hat[2]'],
 ['loss[0]', 'loss[1]', 'loss[2]']]
"""

from __future__ import annotations

from typing import Sequence

import networkx as nx

from . import nodes
from .graph import Program

# Node types with a stacked rule, and which operand positions must be one shared operand for all members.
# Elementwise types run their own forward/backward on the stacked arrays (each element is computed as it
# would be alone); matmul multiplies a stack of left operands by the shared weight; squared_error sums each
# member's rows apart. Any other node type (sum, user node types, ...) runs node by node.
ELEMENTWISE: tuple[type, ...] = (nodes.Sigmoid, nodes.Tanh, nodes.ReLU, nodes.Add, nodes.Sub, nodes.Mul)
STACKABLE: dict[type, tuple[int, ...]] = {nodes.MatMul: (1,), nodes.SquaredError: ()}
STACKABLE.update({t: () for t in ELEMENTWISE})

Group = list  # indices into program.steps, in schedule order


def _signature(program: Program, index: int, shapes: dict[str, tuple]) -> tuple | None:
    """What members of one group must share, or None when this op has no stacked rule."""
    step = program.steps[index]
    shared = STACKABLE.get(type(step.node))
    if shared is None:
        return None
    args = step.args
    if any(None in shapes[args[p]] for p in shared):  # a shared operand must be a weight, not batch data
        return None
    if any(args[p] in args[:p] + args[p + 1 :] for p in range(len(args)) if p not in shared):
        return None  # an op fed one node twice (x * x): its stacked gradients would need summing per member
    return (
        type(step.node),
        repr(sorted(step.attrs.items())) if step.attrs else "",
        step.needs,
        tuple(shapes[a] for a in args),
        tuple(args[p] for p in shared),
    )


def _levels(program: Program) -> tuple[list[int], list[int], list[list[int]]]:
    """Depth and height of every step, and the steps that produce each step's operands."""
    where = {step.key: i for i, step in enumerate(program.steps)}
    producers = [sorted({where[a] for a in step.args if a in where}) for step in program.steps]
    depth = [0] * len(producers)
    for i, ps in enumerate(producers):
        depth[i] = 1 + max((depth[p] for p in ps), default=0)
    height = [0] * len(producers)
    for i in reversed(range(len(producers))):
        for p in producers[i]:
            height[p] = max(height[p], height[i] + 1)
    return depth, height, producers


def plan(program: Program) -> tuple[list[Group], list[tuple[str, int]]]:
    """The groups of ``program`` and the order to run them and its other ops in (see :func:`schedule`)."""
    levels = _levels(program)
    groups = find_groups(program, levels=levels)
    order = schedule(levels[2], groups)
    assert order is not None  # find_groups keeps only groups that leave a DAG
    return groups, order


def find_groups(program: Program, *, min_size: int = 2, levels: tuple | None = None) -> list[Group]:
    """Groups of ops of ``program`` that can run stacked, each in schedule order, ordered by first member.

    Parameters
    ----------
    program : Program
        A compiled schedule.
    min_size : int
        The fewest members a group may have.
    levels : tuple, optional
        ``_levels(program)``, when the caller has it already.
    """
    graph = program.graph.nx
    shapes = {k: tuple(graph.nodes[k]["shape"]) for k, *_ in program.leaves}
    shapes.update({s.key: tuple(graph.nodes[s.key]["shape"]) for s in program.steps})
    buckets: dict[tuple, list[int]] = {}
    for i in range(len(program.steps)):
        sig = _signature(program, i, shapes)
        if sig is not None:
            buckets.setdefault(sig, []).append(i)
    depth, height, producers = levels or _levels(program)
    groups: list[Group] = []
    for members in buckets.values():
        if len(members) < min_size:
            continue
        taken: set[int] = set()
        for level in (depth, height):  # same depth (input side) first, then same height (output side)
            by_level: dict[int, list[int]] = {}
            for i in members:
                if i not in taken:
                    by_level.setdefault(level[i], []).append(i)
            for same in by_level.values():
                if len(same) >= min_size:
                    groups.append(same)
                    taken.update(same)
    groups.sort(key=lambda g: g[0])
    # Contracting groups chosen at equal depth and at equal height together can close a cycle: keep the
    # largest groups that leave the schedule a DAG.
    if schedule(producers, groups) is None:
        kept: list[Group] = []
        for group in sorted(groups, key=len, reverse=True):
            if schedule(producers, kept + [group]) is not None:
                kept.append(group)
        groups = sorted(kept, key=lambda g: g[0])
    return groups


def schedule(producers: Sequence[Sequence[int]], groups: Sequence[Group]) -> list[tuple[str, int]] | None:
    """A topological order of the steps with every group contracted to one unit, or None if there is none.

    Units are ``("step", index)`` or ``("group", number)``; ties go to the unit whose first step comes first in
    the original schedule, so ops stay near where the node-by-node run has them.
    """
    unit_of = list(range(len(producers)))  # unit id: a step's own index, or len(producers) + group number
    for g, members in enumerate(groups):
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
    return [("step", u) if u < len(producers) else ("group", u - len(producers)) for u in units]
