"""The network: a cell unrolled over the bits of a sequence, with the post's output layer and loss on every step.

Examples
--------
>>> net = Network(get_cell("rnn"), inputs=2, hidden=16, outputs=1)
>>> g = net.graph(4)
>>> sorted(g.parameters)
['synapse_0', 'synapse_1', 'synapse_h']
>>> g.node("h[3]")["inputs"]
('h_in[3]',)
"""

from __future__ import annotations

import functools
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np

from ..engine.gradcheck import GradientCheck, check_program
from ..engine.graph import Graph
from ..engine.node import Shape
from ..engine.program import Program, Run
from ..engine.stacking import STACK_ROWS, span, stacked
from ..errors import GraphError, NonFiniteError
from .cells import Cell, get_cell  # noqa: F401  (get_cell: for the example above)
from .data import Generator
from .keys import INPUT, LOSS, PREDICTION, TARGET, at, over

# How a network's weights start: "uniform" in [-1, 1), as the post draws them; "zeros", every weight 0, a broken
# start that ``graphnet doctor`` recognises (every hidden unit then computes the same as every other, forever).
INITS = ("uniform", "zeros")


# What runs a program forward in place of its own ``forward``: (program, feeds, params, keys) -> a run knowing keys.
Forward = Callable[[Program, Mapping[str, np.ndarray], Mapping[str, np.ndarray], Sequence[str]], Run]


class Network:
    """A cell unrolled over time, with the post's output layer and loss on every step.

    Node keys: ``x[t]`` (input bits), ``y[t]`` (target bits), ``h[t]`` (hidden state; ``h[-1]`` is the
    initial state, zeros unless fed), ``y_hat[t]`` (prediction), ``loss[t]`` and ``loss`` (their sum).

    A network holds its description and, per length, its unrolled graph (frozen: tasks that describe the same
    network share it) and the programs that run it, never weights or values. Its description cannot change
    once made.
    """

    __slots__ = ("cell", "inputs", "hidden", "outputs", "activation", "loss", "init", "_graphs", "_programs")

    def __init__(
        self,
        cell: Cell,
        *,
        inputs: int,
        hidden: int,
        outputs: int,
        activation: str | None = None,
        loss: str = "squared_error",
        init: str = "uniform",
    ) -> None:
        if init not in INITS:
            raise GraphError(f"init {init!r}: expected one of {', '.join(map(repr, INITS))}")
        for name, value in (("cell", cell), ("inputs", inputs), ("hidden", hidden), ("outputs", outputs),
                            ("activation", activation or cell.default_activation), ("loss", loss), ("init", init),
                            ("_graphs", {}),  # the graph of each length built so far
                            ("_programs", {})):  # the programs compiled so far, by what they compute
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"a Network cannot change (it may be shared); make a new one with {name}={value!r}")

    def parameter_shapes(self) -> dict[str, Shape]:
        """Every weight and its shape, in the order the initial values are drawn."""
        shapes = dict(self.cell.parameters(self.inputs, self.hidden))
        shapes["synapse_1"] = (self.hidden, self.outputs)
        order = self.cell.draw_order or tuple(shapes)
        return {k: shapes[k] for k in order}

    def init_parameters(self, rng: np.random.RandomState) -> dict[str, np.ndarray]:
        """Weights drawn as the post draws them: uniform in [-1, 1), in :meth:`parameter_shapes` order; or, with
        ``init="zeros"``, all 0 (the same numbers are drawn and dropped, so the problems drawn next are the same)."""
        drawn = {k: 2 * rng.random_sample(shape) - 1 for k, shape in self.parameter_shapes().items()}
        return {k: np.zeros_like(w) for k, w in drawn.items()} if self.init == "zeros" else drawn

    def graph(self, steps: int) -> Graph:
        """The network unrolled over ``steps`` time steps: built once per length, then shared, so frozen."""
        if steps < 1:
            raise GraphError(f"a network needs at least 1 step, got {steps}")
        graph = self._graphs.get(steps)
        if graph is None:
            graph = self._graphs[steps] = self._build(steps).freeze()
        return graph

    def program(self, steps: int, *, outputs: Sequence[str] | None = None, wrt: Sequence[str] | None = None,
                batch: int = 1) -> Program:
        """The program that runs the network unrolled over ``steps``, for batches of ``batch`` examples: it computes
        ``outputs`` (default: every node) and the gradients of ``wrt`` (default: every weight).

        Up to :data:`~graphnet.engine.stacking.STACK_ROWS` examples a batch, it runs the graph of what ``outputs``
        need, :func:`~graphnet.engine.stacking.stacked` (the same numbers, fewer numpy calls); above, the graph as
        it is. Each program is compiled once and kept.
        """
        fast = batch <= STACK_ROWS
        key = (steps, None if outputs is None else tuple(outputs), None if wrt is None else tuple(wrt), fast)
        program = self._programs.get(key)
        if program is None:
            graph = self.graph(steps)
            if fast:
                graph = stacked(graph if outputs is None else graph.subgraph(outputs))
            program = self._programs[key] = graph.compile(outputs, wrt)
        return program

    def _build(self, steps: int) -> Graph:
        cell = self.cell
        _check_states(cell)
        g = Graph(f"{cell.name} unrolled over {steps} steps")
        for key, shape in self.parameter_shapes().items():
            g.parameter(key, shape)
        state = _States(cell, {s: g.input(at(s, -1), (None, self.hidden), kind="state", fill=0.0) for s in cell.states})
        losses = []
        for t in range(steps):
            x = g.input(at(INPUT, t), (None, self.inputs), t=t)
            state = _States(cell, _checked_step(cell, g, cell.step(g, t, x, state, self.activation), self.hidden))
            logits = g.apply("matmul", at("h_synapse_1", t), state[cell.states[0]], "synapse_1", t=t)
            y_hat = g.apply("sigmoid", at(PREDICTION, t), logits, kind="output", t=t)
            y = g.input(at(TARGET, t), (None, self.outputs), kind="target", t=t)
            # squared_error on y_hat is the post's loss; a cross-entropy loss reads the logits, which is stable
            scored = y_hat if self.loss == "squared_error" else logits
            losses.append(g.apply(self.loss, at(LOSS, t), scored, y, kind="loss", t=t))
        g.apply("sum", LOSS, *losses, kind="loss")
        return g

    # -- running --------------------------------------------------------------------------------------------
    def feeds(self, x: np.ndarray, y: np.ndarray | None = None, *, program: Program | None = None
              ) -> dict[str, np.ndarray]:
        """Feeds for a run from time-major arrays: ``x`` (T, B, inputs) and ``y`` (T, B, outputs), step by step
        (``x[t]``), and whole under the name a stacked graph gives every step's inputs side by side (``x[0..7]``),
        which it then reads with no copy. ``program``: the program they are for, if known; where it reads a node
        only as every step's side by side (a stacked graph's inputs), that node is not also given step by step
        (making each step's view costs more than the rest of this, and training does it every iteration)."""
        feeds = {}
        for name, values in ((INPUT, x), (TARGET, y)):
            if values is None:
                continue
            keys = over(name, len(values))
            if program is None or not program.fed.isdisjoint(keys):
                feeds.update(zip(keys, values))
            feeds[_whole(name, len(values))] = _steps_behind_lead(values)
        return feeds

    def _chunk_program(self, steps: int, outputs: Sequence[str], batch: int) -> Program:
        """The program that computes ``outputs`` (among them the last state, what the next chunk starts from)."""
        return self.program(steps, outputs=outputs, wrt=(), batch=batch)

    def forward_in_chunks(
        self, params: Mapping[str, np.ndarray], x: np.ndarray, outputs: Callable[[int], Sequence[str]], *,
        chunk: int = 256, forward: Forward | None = None,
    ) -> Iterator[tuple[int, int, Run]]:
        """Run inputs ``x`` (T, ..., B, inputs) forward ``chunk`` steps at a time, the last state of a chunk fed
        as the first state of the next, so memory and graph size stay bounded however many steps there are.

        Yields, chunk by chunk, its first step, its length and its run, whose ``value(key)`` knows the keys
        ``outputs(length)`` names, counted from the chunk's first step (``h[0]`` is step ``start``). ``forward``,
        when given, runs each chunk's program instead of its own ``forward``: ``forward(program, feeds, params,
        keys)`` gives a run that knows ``keys`` (:func:`graphnet.app.compiled.forward` runs it compiled).
        """
        steps = x.shape[0]
        state: dict[str, np.ndarray] = {}
        for start in range(0, steps, chunk):
            length = min(chunk, steps - start)
            feeds = self.feeds(x[start : start + length])
            feeds.update({at(s, -1): v for s, v in state.items()})
            keys = list(dict.fromkeys([*outputs(length), *(at(s, length - 1) for s in self.cell.states)]))
            program = self._chunk_program(length, keys, x.shape[-2])
            run = program.forward(feeds, params) if forward is None else forward(program, feeds, params, keys)
            yield start, length, run
            state = {s: run.value(at(s, length - 1)) for s in self.cell.states}

    def predict(self, params: Mapping[str, np.ndarray], x: np.ndarray, *, chunk: int = 256,
                forward: Forward | None = None) -> np.ndarray:
        """Predictions ``y_hat`` (T, ..., B, outputs) for inputs ``x`` (T, ..., B, inputs), any T.

        Long sequences run ``chunk`` steps at a time (:meth:`forward_in_chunks`, which ``forward`` is given to).
        Axes between T and B (a member axis: networks side by side, their weights stacked) are carried through.
        """
        out = np.empty(x.shape[:-1] + (self.outputs,))
        for start, length, run in self.forward_in_chunks(params, x, functools.partial(over, PREDICTION),
                                                         chunk=chunk, forward=forward):
            for t in range(length):
                out[start + t] = run.value(at(PREDICTION, t))
        return out

    def states(self, params: Mapping[str, np.ndarray], x: np.ndarray, *, chunk: int = 256) -> np.ndarray:
        """The state every step passes on, for inputs ``x`` (T, ..., B, inputs): (T, ..., B, width), the cell's
        states side by side in :attr:`Cell.states <graphnet.rnn.cells.Cell.states>` order (``h[t]``; ``h[t]``
        then ``c[t]`` for an LSTM), ``hidden`` numbers each. Run as :meth:`predict` runs.

        Examples
        --------
        >>> net = Network(get_cell("lstm"), inputs=2, hidden=3, outputs=1)
        >>> params = net.init_parameters(np.random.RandomState(0))
        >>> net.states(params, np.zeros((5, 4, 2))).shape     # 5 steps, 4 problems: h and c, 3 numbers each
        (5, 4, 6)
        """
        names = self.cell.states
        out = np.empty(x.shape[:-1] + (self.hidden * len(names),))

        def every_state(length: int) -> list[str]:
            return [at(s, t) for t in range(length) for s in names]

        for start, length, run in self.forward_in_chunks(params, x, every_state, chunk=chunk):
            for t in range(length):
                out[start + t] = np.concatenate([run.value(at(s, t)) for s in names], axis=-1)
        return out


def _steps_behind_lead(x: np.ndarray) -> np.ndarray:
    """Time-major ``x`` (T, ..., B, width) with its steps' axis after the leading (member) axes, where a stacked
    input has it: (..., T, B, width), a view."""
    return x if x.ndim == 3 else np.moveaxis(x, 0, -3)


@functools.lru_cache(maxsize=256)
def _whole(name: str, steps: int) -> str:
    """The key of node ``name`` at every step side by side, as a stacked graph names it (``x[0..7]``)."""
    return span(over(name, steps))


# -- what a cell must keep to: the states it declares ----------------------------------------------------------
# A cell's mistakes are named as its own (``culprit``), so that the command can name the plugin it came from.
_HOW = "a cell names every state it carries in states = (...), the first being what the output layer reads"


def _check_states(cell: Cell) -> None:
    """A cell's ``states``: a non-empty tuple of distinct names."""
    states = cell.states
    if (not isinstance(states, (tuple, list)) or not states or not all(isinstance(s, str) and s for s in states)
            or len(set(states)) != len(states)):
        raise GraphError(f"cell {cell.name!r}: states = {states!r}; expected a tuple of distinct names such as "
                         f"('h',) or ('h', 'c'): {_HOW}", culprit=cell)


class _States(dict):
    """A step's state keys by name, as the cell's ``step`` reads them: a name it never declared is its mistake."""

    def __init__(self, cell: Cell, keys: Mapping[str, str]) -> None:
        super().__init__(keys)
        self.cell = cell

    def __missing__(self, name: str):
        raise GraphError(f"cell {self.cell.name!r}: its step reads state {name!r}, which it does not declare "
                         f"(states = {tuple(self.cell.states)!r}); {_HOW}", culprit=self.cell)


def _checked_step(cell: Cell, g: Graph, new: object, hidden: int) -> Mapping[str, str]:
    """What a cell's ``step`` returned, if it is its new state: a node key of shape (batch, hidden) per state."""
    said = f"cell {cell.name!r}: its step returned"
    if not isinstance(new, Mapping):
        raise GraphError(f"{said} {type(new).__name__}; expected the new state's node keys by name, e.g. "
                         "{'h': 'h[t]'}", culprit=cell)
    extra = [name for name in new if name not in cell.states]
    if extra:
        raise GraphError(f"{said} state {extra[0]!r}, which it does not declare (states = {tuple(cell.states)!r}); "
                         f"{_HOW}", culprit=cell)
    missing = [name for name in cell.states if name not in new]
    if missing:
        raise GraphError(f"{said} no state {missing[0]!r}; expected one node key per name in its states "
                         f"{tuple(cell.states)!r}", culprit=cell)
    for name, key in new.items():
        if not isinstance(key, str) or key not in g:
            raise GraphError(f"{said} {name!r}: {key!r}, which is not a node of the graph; expected the key "
                             "g.apply returned", culprit=cell)
        shape = tuple(g.node(key)["shape"])
        if shape != (None, hidden):
            raise GraphError(f"{said} {name!r}: {key!r} of shape {shape}; expected (None, {hidden}), a batch of "
                             "vectors of the network's hidden width", culprit=cell)
    return new


def check_network(
    network: Network,
    generator: Generator,
    steps: int,
    *,
    batch: int = 3,
    seed: int = 0,
    params: Mapping[str, np.ndarray] | None = None,
) -> dict[str, GradientCheck]:
    """Every weight's gradient through ``network`` unrolled over ``steps``, against central differences.

    Backpropagation through time checked on the very program training runs, on random problems of
    ``generator``, at the weights drawn as training draws them (or ``params``, trained ones say): the verdict
    on each weight's gradient (:func:`~graphnet.engine.gradcheck.check_program`).

    Examples
    --------
    >>> from graphnet.rnn.data import get_generator
    >>> checks = check_network(Network(get_cell("rnn"), inputs=2, hidden=4, outputs=1),
    ...                        get_generator("binary_addition"), steps=3)
    >>> sorted(checks), all(check.passed for check in checks.values())
    (['synapse_0', 'synapse_1', 'synapse_h'], True)
    """
    rng = np.random.RandomState(seed)
    drawn = network.init_parameters(rng)
    problems = generator.sample(rng, batch, steps)
    feeds = network.feeds(problems.x, problems.y)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is named below, in one line (on the graph as built)
        lost = nonfinite(network.graph(steps).compile().forward(feeds, params or drawn).values)
    if lost:  # central differences of inf are no measure of anything
        raise NonFiniteError(f"the run overflows at these weights ({lost}): no gradient of it can be checked")
    return check_program(network.program(steps, batch=batch), feeds, params or drawn)


def nonfinite(numbers: Mapping[str, np.ndarray], *, gradients: bool = False) -> str | None:
    """Where a run's numbers left the floats: ``node 'h_in[3]' is inf`` for the first of ``numbers`` that holds a
    NaN or inf, in their order (a run's values: the order the forward pass made them), or, for ``gradients`` (a
    reverse pass's, in the order it made them), ``the gradient at node 'h[0]' is NaN``; None if all are finite."""
    for key, value in numbers.items():
        if not np.all(np.isfinite(value)):
            which = "NaN" if np.any(np.isnan(value)) else "inf"
            return f"the gradient at node {key!r} is {which}" if gradients else f"node {key!r} is {which}"
    return None
