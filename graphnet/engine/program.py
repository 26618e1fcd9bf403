"""Programs: the interpreter. A graph compiled into a list of ops, run forward and then in reverse.

:meth:`Graph.compile <graphnet.engine.graph.Graph.compile>` makes a :class:`Program`: the graph's ops in
topological order, each its node type, the keys of its inputs and output, and which inputs want a gradient.
Running it is all there is to graphnet's engine:

- **Forward**, each op in order calls its node type's own ``forward`` on the values of its inputs, with a fresh
  :class:`~graphnet.engine.node.Context` to save what its ``backward`` will need. Values live in the
  :class:`Run`, never in the graph: in a list, one numbered *slot* per node, which compiling numbers (a list
  is read and written faster than a dict of keys, and this is every op of every run).
- **Reverse**, each op, last first, calls its node type's ``backward`` with the gradient of its output, and
  adds what comes back to the gradient of each input. A node's gradient is so the sum over the ops that read
  it: a weight read at every step gets every step's share (backpropagation through time), summed out of place
  (``old + g``, never ``+=``: an ``add`` hands one array to both its inputs).

Nothing else happens here. What makes a program fast is a rewrite of its graph before compiling
(:mod:`graphnet.engine.stacking`), which this interpreter runs like any other graph.

Examples
--------
>>> import numpy as np
>>> from graphnet.engine.graph import Graph
>>> g = Graph()
>>> x = g.input("x", (None, 2))
>>> w = g.parameter("w", (2, 1))
>>> y = g.apply("matmul", "y", x, w)
>>> loss = g.apply("sum", "loss", y)
>>> run = g.compile().forward({"x": np.ones((3, 2))}, {"w": np.full((2, 1), 0.5)})
>>> run.value("y")[:, 0]
array([1., 1., 1.])
>>> run.backward()["w"][:, 0]
array([3., 3.])
"""

from __future__ import annotations

from operator import itemgetter
from typing import Callable, Iterator, Mapping, NamedTuple, Sequence

import numpy as np

from ..errors import GraphError
from .node import Context, Node, Shape


class Feed(NamedTuple):
    """A node whose value a run is given (an ``input``, a weight: a ``parameter``) or fills (a ``constant``)."""

    key: str
    op: str
    shape: Shape
    fill: float | None  # the value of an unfed input or a constant
    stacks: tuple[str, ...] = ()  # the inputs it holds side by side, which a run may give instead of it


class Op:
    """One op of a program: node type ``node`` applied to the values of ``inputs``, giving ``key``'s value (or,
    for a node type of several outputs, those of ``outputs``), of static ``shapes``. ``needs[i]``: input ``i``
    wants a gradient. ``attrs``: the node's settings, which its node type reads from ``ctx.attrs``. Where these
    live in a run: :meth:`place` numbers them."""

    __slots__ = ("key", "outputs", "shapes", "node", "inputs", "needs", "attrs", "single", "index", "out", "outs",
                 "read", "wanted", "checked")

    def __init__(self, outputs: tuple[str, ...], shapes: tuple[Shape, ...], node: Node, inputs: tuple[str, ...],
                 needs: tuple[bool, ...], attrs: Mapping) -> None:
        self.key, self.outputs, self.shapes, self.node = outputs[0], outputs, shapes, node
        self.inputs, self.needs, self.attrs = inputs, needs, attrs
        self.single = not node.multiple_outputs
        self.checked = False  # whether its backward's gradients have had their shapes checked (the first time)

    def place(self, index: int, slot: Mapping[str, int]) -> None:
        """Number it (its context is ``contexts[index]``) and its values (node ``k`` is in ``values[slot[k]]``)."""
        self.index, self.out, self.outs = index, slot[self.key], tuple(slot[k] for k in self.outputs)
        slots = tuple(slot[k] for k in self.inputs)
        self.read = reader(slots)  # values -> the values of its inputs, in order
        self.wanted = tuple((p, i) for p, i in enumerate(slots) if self.needs[p])  # the inputs that want a gradient

    def __repr__(self) -> str:
        return f"<op {self.key!r}: {self.node.name}({', '.join(self.inputs)})>"


def reader(slots: Sequence[int]) -> Callable[[list], tuple]:
    """A function of a run's values giving the tuple of those in ``slots`` (one C call where there are two or more:
    a list comprehension costs twice as much, and this is called for every op of every run)."""
    if len(slots) == 1:
        (i,) = slots
        return lambda values: (values[i],)
    return itemgetter(*slots)


class Program:
    """A graph compiled: ``ops`` in the order they run, ``feeds`` (its leaves; ``fed``, their keys), and ``wrt``, the
    nodes whose gradient :meth:`Run.backward` gives; ``given``, the static shape of everything a run may be given.
    ``forward(feeds, params)`` runs it and returns a :class:`Run`. ``slot[key]`` is where node ``key`` is in a
    run's values: the weights, the inputs and the filled leaves first, then each op's outputs in order."""

    def __init__(self, name: str, ops: list[Op], feeds: list[Feed], wrt: Sequence[str],
                 given: Mapping[str, Shape]) -> None:
        self.name, self.ops, self.wrt = name, ops, tuple(wrt)
        weights = [f for f in feeds if f.op == "parameter"]
        inputs = [f for f in feeds if f.op == "input" and f.fill is None and not f.stacks]
        self._stacked = [f for f in feeds if f.stacks]  # inputs given as one, or made from their members
        self._filled = [f for f in feeds if f.fill is not None]  # inputs with a default, and constants
        self.feeds = weights + inputs + self._stacked + self._filled
        self.fed = frozenset(f.key for f in self.feeds)  # the keys of the leaves a run reads, to look up
        self.slot = {key: i for i, key in enumerate([f.key for f in self.feeds] + [k for op in ops for k in op.outputs])}
        for index, op in enumerate(ops):
            op.place(index, self.slot)
        self.reverse_ops = [op for op in reversed(ops) if any(op.needs)]  # what can pass a gradient on, last first
        self._weights, self._inputs = _taker([f.key for f in weights]), _taker([f.key for f in inputs])
        self._first_input, self._first_stacked = len(weights), len(weights) + len(inputs)
        self._first_filled = self._first_stacked + len(self._stacked)
        # each member of an input given stacked: where its value and gradient are, as a row of that input's
        self.rows = {m: (self.slot[f.key], row, len(f.shape)) for f in self._stacked for row, m in enumerate(f.stacks)}
        # The static shapes of what a run may be given (every input and weight of the graph, also those this program
        # does not read: a batch fed for the whole graph is the batch of its constants), to read its axes off.
        self._shapes = dict(given)
        self._fills: dict[tuple, list[np.ndarray]] = {}  # the filled leaves' values, by (leading axes, batch size)
        self._checked: set[tuple] = set()  # the (leading axes, batch size) of runs whose shapes were checked
        self._no_stacking = next((op for op in ops if op.node.stacking is None), None)

    def forward(self, feeds: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray], *,
                context: type[Context] = Context) -> Run:
        """Run every op on ``feeds`` (inputs, by key) and ``params`` (weights, by key): the forward pass.

        Values may carry leading axes before their static shape, the same for all: several networks run side by
        side, a member axis in front of every weight and input (:mod:`graphnet.app.members`), as the node types'
        ``stacking`` rules allow. Those axes and the batch size are read off what is given. ``context``: the class
        of the contexts handed to node types, whose ``xp`` is the array library they compute with
        (:mod:`graphnet.engine.compiling` traces a run with jax.numpy's).
        """
        values, axes = self._start(feeds, params, context.xp)
        contexts: list[Context] = []
        with np.errstate(over="ignore"):  # a sigmoid's exp(-x) may overflow to inf, which still gives the right 0
            try:
                for op in self.ops:
                    ctx = context(op.needs, op.attrs)
                    if op.single:
                        values[op.out] = op.node.forward(ctx, *op.read(values))
                    else:  # a node type of several outputs gives one value each
                        for i, value in zip(op.outs, op.node.forward(ctx, *op.read(values))):
                            values[i] = value
                    contexts.append(ctx)
            except GraphError:  # said already, by a check or by a node type
                raise
            except Exception as exc:
                raise self._blame(op, "forward", exc, values, axes) from exc
        if axes not in self._checked:
            self._check_values(values, axes)
        return Run(self, values, contexts, context.xp)

    # -- what a run is given, and what it gives ----------------------------------------------------------------
    def _start(self, feeds: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray], xp=np) -> tuple[list, tuple]:
        """The values of a run before its first op: the leaves', in their slots; and its leading axes and batch."""
        axes = self._axes(feeds, params)
        if axes[0] and self._no_stacking is not None:
            op = self._no_stacking
            raise GraphError(f"node {op.key!r} ({op.node.name}) cannot run with leading axes {axes[0]} (networks side "
                             f"by side): its node type declares no stacking rule, which says its methods take them "
                             f"(see graphnet.Stacking)")
        values: list = [None] * len(self.slot)
        try:
            values[: self._first_input] = self._weights(params)
        except KeyError as missing:
            raise GraphError(f"node {missing.args[0]!r} needs a value, and params has none") from None
        try:
            values[self._first_input : self._first_stacked] = self._inputs(feeds)
            for i, leaf in enumerate(self._stacked, self._first_stacked):
                given = feeds.get(leaf.key)
                # given as one array (the inputs of every step), or as its members, stacked here on a new axis
                values[i] = given if given is not None else \
                    xp.stack([feeds[k] for k in leaf.stacks], axis=-len(leaf.shape))
        except KeyError as missing:
            raise GraphError(f"node {missing.args[0]!r} needs a value, and feeds has none") from None
        filled = self._fills.get(axes)
        if filled is None:  # made once for each shape of run, and read-only, since every run shares them
            filled = self._fills[axes] = [_frozen(np.full(self.expected_shape(leaf.shape, axes), leaf.fill))
                                          for leaf in self._filled]
        values[self._first_filled : self._first_filled + len(filled)] = filled
        for i, leaf in enumerate(self._filled):
            if leaf.op == "input" and leaf.key in feeds:  # an input with a default may be fed; a constant never
                values[self._first_filled + i] = feeds[leaf.key]
        return values, axes

    def _axes(self, feeds: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray]) -> tuple[tuple[int, ...], int]:
        """The leading axes of a run (``()`` but for networks side by side) and its batch size (1 if no input given
        has a batch axis): a value's axes before its static shape are the leading ones."""
        lead = None
        for given in (feeds, params):
            for key, value in given.items():
                shape = self._shapes.get(key)
                if shape is None:
                    continue
                value_shape = np.shape(value)
                extra = len(value_shape) - len(shape)
                if lead is None:
                    lead = value_shape[:extra]
                if None in shape:
                    return lead, value_shape[extra + shape.index(None)]
        return lead or (), 1

    def expected_shape(self, shape: Shape, axes: tuple) -> tuple[int, ...]:
        """The shape a value of static ``shape`` has in a run of these leading axes and batch size."""
        lead, batch = axes
        return lead + tuple(batch if d is None else d for d in shape)

    def _check_values(self, values: list, axes: tuple) -> None:
        """Refuse a value not shaped as the graph says, naming its node type: checked in the first run of a program
        with these leading axes and batch size (node types give the same shapes every time)."""
        for op in self.ops:
            for key, i, shape in zip(op.outputs, op.outs, op.shapes):
                if values[i] is not None and np.shape(values[i]) != self.expected_shape(shape, axes):
                    raise GraphError(f"{op.node.name}.forward at node {key!r} returned a value of shape "
                                     f"{np.shape(values[i])}; the graph expects {self.expected_shape(shape, axes)} "
                                     f"(static shape {shape}){_of(op.node)}")
        self._checked.add(axes)

    def _blame(self, op: Op, where: str, exc: Exception, values: list, axes: tuple) -> Exception:
        """The error to raise when ``op``'s ``where`` (forward or backward) failed: a value of the wrong shape made
        earlier, if there is one (named), or the failure itself, naming the op."""
        try:
            self._check_values(values, axes)
        except GraphError as wrong:
            return wrong
        return GraphError(f"{op.node.name}.{where} at node {op.key!r} failed: {type(exc).__name__}: {exc}"
                          f"{_of(op.node)}")


def _taker(keys: Sequence[str]) -> Callable[[Mapping], tuple]:
    """A function of a mapping giving the tuple of its values at ``keys``."""
    if len(keys) > 1:
        return itemgetter(*keys)
    return lambda mapping: tuple(mapping[k] for k in keys)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _of(node: Node) -> str:
    """Where a node type comes from, when it is not graphnet's own: its module."""
    module = type(node).__module__
    return "" if module.startswith("graphnet.") else f" (node type {node.name!r} of {module})"


class Run:
    """The values of one forward pass (``values[slot]``, or by key with :meth:`value` and :attr:`by_key`) and what each
    op saved for its backward (``contexts``, in op order); :meth:`backward` is the reverse pass."""

    __slots__ = ("program", "slots", "contexts", "xp")

    def __init__(self, program: Program, slots: list, contexts: list[Context], xp=np) -> None:
        self.program, self.slots, self.contexts, self.xp = program, slots, contexts, xp

    def value(self, key: str) -> np.ndarray:
        """The value of node ``key`` in this run."""
        i = self.program.slot.get(key)
        if i is None or self.slots[i] is None:
            raise GraphError(f"node {key!r} was not computed in this run")
        return self.slots[i]

    @property
    def values(self) -> dict[str, np.ndarray]:
        """Every node's value, by key, in the order the run made them (made when asked: the run itself keeps a list)."""
        slots = self.slots
        return {key: slots[i] for key, i in self.program.slot.items() if slots[i] is not None}

    def backward(self, of: str = "loss", *, every_node: bool = False) -> dict[str, np.ndarray]:
        """The reverse pass: gradients of node ``of`` (of the sum of its elements) with respect to ``wrt``.

        Backpropagation through time is nothing special here: a weight read by every step gets the sum of
        its readers' gradients. Calling this twice gives the same gradients: nothing of a previous call is
        kept. With ``every_node``, the gradients of every node between ``wrt`` and ``of`` are returned too, in the
        order the reverse pass completes them (the last op's output first, the leaves last), so that the first
        NaN found in them is where the pass first made one.
        """
        grads = self._seed(of)
        self._reverse(self.program.reverse_ops, grads)
        program, slot = self.program, self.program.slot
        if every_node:
            found = {key: grads[i] for key, i in reversed(slot.items()) if grads[i] is not None}
        else:
            found = {key: grads[slot[key]] for key in program.wrt if key in slot and grads[slot[key]] is not None}
        # a member of an input given stacked: its row of the stacked input's gradient, which has every reader's share
        for key, (i, row, rank) in program.rows.items():
            g = grads[i]
            if g is not None and (every_node or key in program.wrt):
                found[key] = g[(slice(None),) * (g.ndim - rank) + (row,)]
        return found

    def _reverse(self, ops: Sequence[Op], grads: list) -> None:
        """The reverse pass through ``ops`` (last first): each op's node type's ``backward`` on the gradient of its
        output, and what it gives each input added to the gradient that input has so far."""
        contexts = self.contexts
        with np.errstate(over="ignore"):
            try:
                for op in ops:
                    if op.single:
                        grad = grads[op.out]
                        if grad is None:  # this op does not lead to ``of``
                            continue
                        input_grads = op.node.backward(contexts[op.index], grad)
                    else:  # a node type of several outputs: a gradient (or None) for each
                        out = [grads[i] for i in op.outs]
                        if all(g is None for g in out):
                            continue
                        input_grads = op.node.backward(contexts[op.index], *out)
                    if not op.checked:  # an op's first backward: one gradient per input, each of its input's shape
                        self._check(op, input_grads)
                    for p, i in op.wanted:  # the inputs that want a gradient
                        g = input_grads[p]
                        if g is not None:
                            old = grads[i]
                            grads[i] = g if old is None else old + g  # summed over readers, out of place
            except GraphError:  # said already, by a check or by a node type
                raise
            except Exception as exc:
                raise self._failed(op, exc) from exc

    def reverse(self, of: str = "loss") -> Iterator[tuple[str, Callable[[str], np.ndarray | None]]]:
        """The reverse pass one op at a time, to watch it: after each op, last first, the op's key and
        ``grad(key)``, the gradient of ``of`` with respect to node ``key`` so far (``None`` if nothing has
        reached it yet). ``grad`` reads the pass as it is now: ask it before taking the next op. The arrays it
        gives are never changed afterwards (gradients are summed out of place), so they may be kept.

        So far is what the ops done so far handed back: a weight's gradient grows as each step that reads it
        adds its share, and is whole when the pass ends (it then equals :meth:`backward`'s).
        :mod:`graphnet.animate` draws the reverse pass from this.

        Examples
        --------
        >>> import numpy as np
        >>> from graphnet.engine.graph import Graph
        >>> g = Graph()
        >>> x, w = g.input("x", (None, 1)), g.parameter("w", (1, 1))
        >>> y0, y1 = g.apply("matmul", "y[0]", x, w), g.apply("matmul", "y[1]", x, w)
        >>> loss = g.apply("sum", "loss", y0, y1)
        >>> run = g.compile().forward({"x": np.full((1, 1), 3.0)}, {"w": np.ones((1, 1))})
        >>> for key, grad in run.reverse():
        ...     print(key, grad("w"))
        loss None
        y[1] [[3.]]
        y[0] [[6.]]
        """
        grads = self._seed(of)

        def grad(key: str) -> np.ndarray | None:
            self.value(key)  # a node this run did not compute has no gradient either: say so
            return grads[self.program.slot[key]]

        for op in reversed(self.program.ops):
            self._reverse([op] if any(op.needs) else [], grads)
            yield op.key, grad

    def _seed(self, of: str) -> list:
        """The gradients of a reverse pass from ``of`` before it starts: ones for ``of``, none for the rest."""
        grads: list = [None] * len(self.slots)
        grads[self.program.slot[of]] = self.xp.ones_like(self.value(of))
        return grads

    def _failed(self, op: Op, exc: Exception) -> GraphError:
        """The error for ``op``'s backward that raised ``exc``, naming its node type and node."""
        return GraphError(f"{op.node.name}.backward at node {op.key!r} failed: {type(exc).__name__}: {exc}"
                          f"{_of(op.node)}")

    def _check(self, op: Op, input_grads) -> None:
        """Refuse what ``op``'s backward returned unless it is one gradient (or None) per input, each shaped like
        that input's value, naming the node type. Node types give the same shapes every time: each op is checked
        the first time it runs backward."""
        if not isinstance(input_grads, (tuple, list)) or len(input_grads) != len(op.inputs):
            got = f"{len(input_grads)} gradients" if isinstance(input_grads, (tuple, list)) else repr(input_grads)
            raise GraphError(f"{op.node.name}.backward at node {op.key!r} returned {got} for its {len(op.inputs)} "
                             f"inputs; it returns a tuple, one gradient (or None) per input{_of(op.node)}")
        for key, g in zip(op.inputs, input_grads):
            # np.shape: a Python number for a scalar, as numpy sees it, fits
            if g is not None and np.shape(g) != np.shape(self.value(key)):
                raise GraphError(f"{op.node.name}.backward at node {op.key!r} returned a gradient of shape "
                                 f"{np.shape(g)} for input {key!r} of shape {np.shape(self.value(key))}"
                                 f"{_of(op.node)}")
        op.checked = True
