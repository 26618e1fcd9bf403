"""How far back the gradient reaches: a recurrent weight's gradient split by distance, and the sensitivities
of later steps to earlier ones.

Backpropagation through time sums, into a weight read at every step, what each step's error contributes
through each read. Those contributions have a distance: the error of step ``t`` reaches the read at step ``s``
through ``t - s`` steps of recurrence. :func:`split_by_lag` measures every one of them on the learner's own
network, and sums them by that distance, the *lag*: the part of the gradient that comes from zero steps back,
one, two, ... A plain RNN's parts fade by a factor each step back (the vanishing gradient); a gated cell's need
not. The parts add up to the gradient the engine computes.

How it is measured, with nothing but the engine: the unrolled graph is rebuilt with the weight *untied*
(:func:`untie`), each step reading a copy of its own (``synapse_h[3]``: ``synapse_h`` as step 3 reads it), all
copies given the same numbers. The run is then the same run, and the gradient of step ``t``'s loss with respect
to the copy of step ``s`` is exactly the share of that read, computed by the node types' own ``backward``; by
the chain rule the tied weight's gradient is the sum of its copies'.

:func:`state_sensitivity` is ``‖∂h_t/∂h_k‖`` for every pair of steps (the state of every step with respect to
the state of every earlier one; an LSTM's state is its ``h`` and ``c`` together), and
:func:`input_sensitivity` is ``‖∂ŷ_t/∂x_k‖`` (how much each prediction moves with each earlier input: Distill's
"connectivity"). Each is measured by reverse passes seeded at one unit at a time: the example is repeated once
per unit, each copy asking about its own unit.

Examples
--------
>>> import numpy as np
>>> from graphnet.rnn import Network, get_cell, get_generator
>>> network = Network(get_cell("rnn"), inputs=2, hidden=4, outputs=1)
>>> params = network.init_parameters(np.random.RandomState(0))
>>> batch = get_generator("binary_addition").sample(np.random.RandomState(1), 8, 6)
>>> split = split_by_lag(network, params, batch)
>>> split.weights
('synapse_h',)
>>> bool(np.allclose(split.by_lag["synapse_h"].sum(axis=0), split.total["synapse_h"], rtol=1e-12, atol=1e-15))
True
>>> split.shares().round(4)        # each lag's part over lag 0's: lag 5 would read h[-1], which is 0
array([1.    , 0.1837, 0.0292, 0.0049, 0.0012, 0.    ])
>>> split.reach(), split.measured   # above a thousandth of lag 0's up to lag 4: it reaches all it can here
(5, 5)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Mapping, Sequence

import networkx as nx
import numpy as np

from ..engine.graph import ENGINE_ATTRS, Graph
from ..errors import GraphError
from .data import Batch
from .keys import INPUT, LOSS, PREDICTION, at, over
from .network import Network

# A lag's part counts as reached while it is at least this share of the lag-0 part (the measure).
THRESHOLD = 1e-3
STRETCH_LAG = 16  # the steps over which :func:`stretch` measures a state's change per step


def recurrent_weights(network: Network) -> tuple[str, ...]:
    """The network's recurrent weights: those a ``matmul`` applies to the state passed on from the step before
    (or to something made of it, as the GRU's reset state) on the way to the next state. ``synapse_h`` for the
    post's RNN; the ``synapse_h_...`` of every gate for the LSTM and the GRU."""
    graph = network.graph(2)  # step 1 reads step 0's state, as every later step reads its previous one
    before = {at(s, 0) for s in network.cell.states}
    after = {at(s, 1) for s in network.cell.states}
    found = []
    for weight in graph.parameters:
        for reader in graph.nx.successors(weight):
            node = graph.node(reader)
            if node.get("t") != 1 or node["op"] != "matmul":
                continue
            applied_to = [k for k in node["inputs"] if k != weight]
            carries_state = any(k in before or before & nx.ancestors(graph.nx, k) for k in applied_to)
            if carries_state and after & nx.descendants(graph.nx, reader):
                found.append(weight)
                break
    return tuple(found)


def untie(graph: Graph, weights: Sequence[str]) -> Graph:
    """A graph of its own in which every op of step ``t`` that reads one of ``weights`` reads a parameter of its
    own, ``at(weight, t)`` (``synapse_h[3]``), instead; everything else as in ``graph``. Fed the weight's numbers
    for every copy, it runs the same numbers, and the gradient of a copy is the share of that step's read.

    An op without a step (``t``) keeps reading the weight itself.
    """
    missing = [w for w in weights if w not in graph or graph.node(w)["op"] != "parameter"]
    if missing:
        raise GraphError(f"graph {graph.name!r} has no weight {missing[0]!r} to untie; its weights: "
                         f"{', '.join(graph.parameters)}")
    tied = set(weights)

    def read(untied: Graph, t: int | None, source: str) -> str:
        if source not in tied or t is None:
            return source
        copy = at(source, t)
        if copy not in untied:
            untied.parameter(copy, graph.node(source)["shape"], t=t, untied=source)
        return copy

    return _rebuild(graph, f"{graph.name}, {', '.join(weights)} untied", read)


def hand_on(graph: Graph, states: Sequence[str]) -> Graph:
    """A graph of its own in which the state a step passes on goes through a node of its own,
    ``at(f"carried {s}", t)``, the identity (a ``sum`` of one input), read by the next step alone. Its gradient
    is then the gradient with respect to the state as the next step receives it: for an LSTM, with respect to
    ``h`` apart from ``c`` (the gradient of the node ``c[t]`` also holds what goes through ``h[t]``, made from
    it)."""
    steps = 1 + max((graph.node(k).get("t", -1) for k in graph.keys()), default=-1)
    handed = {at(s, t): s for s in states for t in range(-1, steps)}

    def read(built: Graph, t: int | None, source: str) -> str:
        name = handed.get(source)
        if name is None or t is None or source != at(name, t - 1):
            return source
        carried = at(f"carried {name}", t - 1)
        if carried not in built:
            built.apply("sum", carried, source, t=t - 1)
        return carried

    return _rebuild(graph, f"{graph.name}, states carried by nodes of their own", read)


def _rebuild(graph: Graph, name: str, read) -> Graph:
    """``graph`` built again, node by node, through the public builder; each op of step ``t`` reads
    ``read(new_graph, t, source)`` for each of its inputs ``source`` (which may add what it returns)."""
    built = Graph(name)
    for key in graph.topological_order():
        node = graph.node(key)
        meta = {k: v for k, v in node.items() if k not in ENGINE_ATTRS}
        op, shape = node["op"], node["shape"]
        if "outputs" in node:
            raise GraphError(f"node {key!r} gives several outputs (a stacked graph): give the graph as built")
        if op == "parameter":
            built.parameter(key, shape, **meta)
        elif op == "input":
            built.input(key, shape, fill=node.get("fill"), **meta)
        elif op == "constant":
            built.constant(key, shape, node["fill"], **meta)
        else:
            inputs = [read(built, node.get("t"), source) for source in node["inputs"]]
            built.apply(op, key, *inputs, attrs=node.get("attrs"), **meta)
    return built


@dataclass(frozen=True)
class LagSplit:
    """Weights' gradients split by the step whose error it is and the step that read the weight.

    ``terms[w][t, s]`` is what step ``t``'s loss contributes to ``w``'s gradient through step ``s``'s read of it
    (0 where ``s > t``: an error never reaches a later step); ``total[w]`` is the gradient the engine computes for
    the tied weight, on the same run.
    """

    weights: tuple[str, ...]
    terms: Mapping[str, np.ndarray]  # weight -> (T, T, *shape): [error step t, read step s]
    total: Mapping[str, np.ndarray]

    @property
    def steps(self) -> int:
        return len(next(iter(self.terms.values())))

    @cached_property
    def by_lag(self) -> dict[str, np.ndarray]:
        """``by_lag[w][k]``: the part of ``w``'s gradient that comes from ``k`` steps back, the sum over ``t`` of
        step ``t``'s error through the read at step ``t - k``. Summed over ``k`` it is the whole gradient."""
        steps = self.steps
        return {w: np.stack([sum(terms[t, t - k] for t in range(k, steps)) for k in range(steps)])
                for w, terms in self.terms.items()}

    @cached_property
    def by_read(self) -> dict[str, np.ndarray]:
        """``by_read[w][s]``: what step ``s``'s read of ``w`` adds to its gradient, every step's error through it
        (the sum over ``t`` of ``terms[w][t, s]``): what the reverse pass adds to ``w``'s gradient at step ``s``."""
        return {w: terms.sum(axis=0) for w, terms in self.terms.items()}

    def read_shares(self) -> np.ndarray:
        """``[s]``: the size of what step ``s``'s reads add (every weight split, together), as a share of the sum of
        those sizes over the steps (0 to 1; they add up to 1 unless nothing is added)."""
        sizes = np.sqrt(sum(np.sum(part.reshape(self.steps, -1) ** 2, axis=1) for part in self.by_read.values()))
        total = sizes.sum()
        return sizes / total if total else sizes

    @cached_property
    def sizes(self) -> np.ndarray:
        """The size of each lag's part: the Frobenius norm of the parts of every weight split, together."""
        return np.sqrt(sum(np.sum(part.reshape(self.steps, -1) ** 2, axis=1) for part in self.by_lag.values()))

    @cached_property
    def term_sizes(self) -> np.ndarray:
        """``[t, s]``: the size of step ``t``'s error's term through the read at step ``s`` (0 above the
        diagonal)."""
        steps = self.steps
        return np.sqrt(sum(np.sum(terms.reshape(steps, steps, -1) ** 2, axis=2) for terms in self.terms.values()))

    @property
    def measured(self) -> int:
        """How many lags can have a part: up to the last with one that is not exactly 0 (the first step's read of a
        recurrent weight multiplies the initial state, 0, so the longest lag has none)."""
        nonzero = np.flatnonzero(self.sizes)
        return int(nonzero[-1]) + 1 if nonzero.size else 0

    def reach(self, threshold: float = THRESHOLD) -> int:
        """How far back the gradient reaches: the first lag from which on every part is below ``threshold`` of the
        lag-0 part (1: only lag 0 counts). When it equals :attr:`measured`, the gradient did not fade within the
        sequence: it reaches at least that far."""
        if not self.sizes[0]:
            return 0
        above = np.flatnonzero(self.sizes >= threshold * self.sizes[0])
        return int(above[-1]) + 1

    def fades(self, threshold: float = THRESHOLD) -> bool:
        """Whether the parts fall below ``threshold`` of lag 0's within the lags measured."""
        return self.reach(threshold) < self.measured

    def shares(self) -> np.ndarray:
        """Each lag's part over the lag-0 part (its size)."""
        return self.sizes / self.sizes[0] if self.sizes[0] else np.zeros_like(self.sizes)

    def discrepancy(self) -> float:
        """The largest difference between the parts' sum and the engine's gradient, over the largest entry of the
        engine's gradient: rounding, about 1e-16, when the split is right."""
        scale = max(float(np.max(np.abs(g))) for g in self.total.values()) or 1.0
        return max(float(np.max(np.abs(self.by_lag[w].sum(axis=0) - self.total[w]))) for w in self.weights) / scale


def split_by_lag(network: Network, params: Mapping[str, np.ndarray], batch: Batch,
                 weights: Sequence[str] | None = None) -> LagSplit:
    """Split the gradient of ``weights`` (default: :func:`recurrent_weights`) for the problems of ``batch`` by
    the step whose error it is and the step that read the weight; see :class:`LagSplit`.

    One forward pass of the network with the weights untied (:func:`untie`) and a reverse pass from each step's
    loss; the engine's own gradient of the tied weights, for the sum, from the graph as built.
    """
    weights = tuple(recurrent_weights(network) if weights is None else weights)
    if not weights:
        raise GraphError(f"the {network.cell.name} network has no recurrent weight to split; name one")
    steps = batch.x.shape[0]
    graph = network.graph(steps)
    untied = untie(graph, weights)
    copies = [at(w, s) for w in weights for s in range(steps) if at(w, s) in untied]
    feeds = network.feeds(batch.x, batch.y)
    run = untied.compile(wrt=copies).forward(feeds, {**params, **{c: params[untied.node(c)["untied"]]
                                                                   for c in copies}})
    terms = {w: np.zeros((steps, steps, *graph.node(w)["shape"])) for w in weights}
    for t in range(steps):
        grads = run.backward(of=at(LOSS, t))
        for w in weights:
            for s in range(t + 1):
                share = grads.get(at(w, s))
                if share is not None:
                    terms[w][t, s] = share
    total = graph.compile(wrt=weights).forward(feeds, params).backward()
    return LagSplit(weights, terms, {w: total[w] for w in weights})


def state_sensitivity(network: Network, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """``[b, t, k]``: ``‖∂h_t/∂h_k‖``, the largest factor by which a change of the state step ``k`` passes on is
    stretched on its way to step ``t``'s state (the spectral norm of the Jacobian; 1 on the diagonal, 0 above
    it), for each problem ``b`` of ``x`` (T, B, inputs). The state is the cell's states side by side (``h``;
    ``h`` and ``c`` for an LSTM, each as the next step receives it: :func:`hand_on`)."""
    states = network.cell.states
    steps, problems = x.shape[:2]
    graph = hand_on(network.graph(steps), states)
    norms = _jacobian_norms(network, graph, params, x, {s: network.hidden for s in states},
                            lambda k: [at(f"carried {s}", k) for s in states], later=True)
    norms[:, np.arange(steps), np.arange(steps)] = 1.0  # a state is itself: the identity
    return norms


def stretch(network: Network, params: Mapping[str, np.ndarray], x: np.ndarray, lag: int = STRETCH_LAG) -> float:
    """The factor per step by which a change of the state shrinks (below 1) or grows (above 1) on its way forward:
    the mean of ``‖∂h_t/∂h_{t-lag}‖`` over the problems of ``x`` and the steps ``t``, to the power ``1 / lag``
    (``lag`` at most the problems' steps less one). The gradient changes so on its way back."""
    lag = min(lag, x.shape[0] - 1)
    norms = state_sensitivity(network, params, x)
    later = np.arange(lag, x.shape[0])
    return float(norms[:, later, later - lag].mean() ** (1 / lag))


def input_sensitivity(network: Network, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """``[b, t, k]``: ``‖∂ŷ_t/∂x_k‖``, how much step ``t``'s prediction moves with step ``k``'s input (the
    spectral norm of the Jacobian: for one output and one input, the absolute value of the derivative; 0 above
    the diagonal), for each problem ``b`` of ``x`` (T, B, inputs)."""
    graph = network.graph(x.shape[0])
    return _jacobian_norms(network, graph, params, x, {PREDICTION: network.outputs}, lambda k: [at(INPUT, k)])


def _jacobian_norms(network: Network, graph: Graph, params: Mapping[str, np.ndarray], x: np.ndarray,
                    of: Mapping[str, int], to, later: bool = False) -> np.ndarray:
    """``[b, t, k]``: the spectral norm of the Jacobian of the nodes named ``of`` at step ``t`` (their values side
    by side) with respect to the nodes ``to(k)`` of ``graph`` (a network's graph, rebuilt or not), for ``k`` up
    to ``t`` (``later``: below ``t``). Each problem is repeated once per unit of ``of``; the copy ``j`` seeds the
    reverse pass from unit ``j`` alone, so its gradients are row ``j`` of the Jacobians."""
    steps, problems = x.shape[:2]
    width = sum(of.values())
    graph = graph.copy(f"{graph.name}, seeded unit by unit")
    directions = {name: graph.input(f"direction {name}", (None, w)) for name, w in of.items()}
    chosen = [graph.apply("sum", at("chosen", t), *[graph.apply("mul", at(f"chosen {name}", t), at(name, t), d)
                                                     for name, d in directions.items()])
              for t in range(steps)]
    starts = [at(s, -1) for s in network.cell.states]
    program = graph.compile(outputs=chosen, wrt=[*starts, *over(INPUT, steps)])
    feeds = network.feeds(np.repeat(x, width, axis=1))
    unit = np.tile(np.eye(width), (problems, 1))  # row b * width + j: unit j, for problem b
    edges = np.cumsum([0, *of.values()])
    feeds.update({d: unit[:, lo:hi] for d, lo, hi in zip(directions.values(), edges, edges[1:])})
    run = program.forward(feeds, params)
    norms = np.zeros((problems, steps, steps))
    for t in range(steps):
        grads = run.backward(of=at("chosen", t), every_node=True)
        for k in range(t if later else t + 1):
            rows = np.concatenate([grads[key] for key in to(k)], axis=-1)
            norms[:, t, k] = np.linalg.norm(rows.reshape(problems, width, -1), ord=2, axis=(1, 2))
    return norms
