"""The learner's code in the post's network, unrolled: which node, which step, and how its gradient differs.

Every measure runs the post's network twice on the same problems and weights, once with graphnet's own node
types (or reverse pass) and once with the learner's, and compares the gradient at every node of every step.
Where they differ, the learner's op is run alone on the right numbers (the right inputs, the right gradient
from above) to tell the op that goes wrong from those that only receive a wrong gradient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from ...engine.graph import Graph
from ...engine.node import Context, Node, get_node
from ...rnn.cells import get_cell
from ...rnn.data import get_generator
from ...rnn.network import Network
from ..plugins import blame
from .measure import _gradient_words, factor_words, same

STEPS, BATCH, HIDDEN = 8, 3, 16  # the post's length and width; 3 problems, so that a factor of the batch shows
STEP_NODES = ("x_synapse_0", "h_synapse_h", "h_in", "h", "h_synapse_1", "y_hat", "loss")  # a step's ops, in order
WEIGHTS = ("synapse_0", "synapse_h", "synapse_1")
_KEY = re.compile(r"^(.*)\[(-?\d+)\]$")


def split_key(key: str) -> tuple[str, int | None]:
    """``h[3]`` -> ("h", 3); ``synapse_h`` -> ("synapse_h", None)."""
    found = _KEY.match(key)
    return (found.group(1), int(found.group(2))) if found else (key, None)


@dataclass
class Grid:
    """The learner's gradient at every node of the unrolled network against the right one: ``errors[key]`` is the
    relative error (0 where right), ``words[key]`` what is wrong there, if measured."""

    steps: int
    errors: dict[str, float] = field(default_factory=dict)
    words: dict[str, str] = field(default_factory=dict)
    title: str = ""

    def wrong(self) -> list[str]:
        return [key for key, e in self.errors.items() if e > TOLERANCE]


TOLERANCE = 1e-7  # a relative error above this is a wrong gradient, not rounding (rounding is about 1e-15)


def relative(a, b) -> float:
    if a is None or b is None:
        return 0.0 if a is None and b is None else 1.0
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return 1.0
    if not np.all(np.isfinite(a)):
        return 1.0
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


def post_network(hidden: int = HIDDEN) -> Network:
    """The post's network: its RNN cell, 2 inputs, 16 hidden units, 1 output, squared error."""
    return Network(get_cell("rnn"), inputs=2, hidden=hidden, outputs=1)


def problems(network: Network, steps: int = STEPS, batch: int = BATCH, seed: int = 0):
    """Weights drawn as the post draws them and random problems of binary addition: feeds and params."""
    rng = np.random.RandomState(seed)
    params = network.init_parameters(rng)
    batch_ = get_generator("binary_addition").sample(rng, batch, steps)
    return network.feeds(batch_.x, batch_.y), params


def with_types(graph: Graph, swap: Mapping[str, str]) -> Graph:
    """The graph with the learner's node types in place of graphnet's: ``swap`` maps graphnet's name to theirs."""
    mine = graph.copy(f"{graph.name}, with your node types")
    for key in mine.keys():
        op = mine.node(key)["op"]
        if op in swap:
            mine.nx.nodes[key]["op"] = swap[op]
    return mine


# -- node types in the network ----------------------------------------------------------------------------------
def node_types_in_network(swap: Mapping[str, str], steps: int = STEPS) -> tuple[Grid, list[str]]:
    """The post's network with the learner's node types (``swap``: graphnet's name -> theirs): the gradient of
    every node against the right one, and sentences saying where and how it goes wrong."""
    network = post_network()
    graph = network.graph(steps)
    feeds, params = problems(network, steps)
    right = graph.compile().forward(feeds, params)
    right_grads = right.backward(every_node=True)
    grid = Grid(steps, title=f"the post's network unrolled over {steps} steps, with your "
                f"{', '.join(sorted(swap.values()))}")
    try:
        mine = with_types(graph, swap).compile().forward(feeds, params)
        mine_grads = mine.backward(every_node=True)
    except Exception as exc:  # noqa: BLE001 - the learner's code may raise anything: that is the finding
        return grid, [f"in the post's network it fails: {blame(exc) or f'{type(exc).__name__}: {exc}'}"]
    for key in right_grads:
        grid.errors[key] = relative(mine_grads.get(key), right_grads[key])
    for key in graph.keys():
        if graph.node(key)["op"] not in ("input", "parameter", "constant") and not same(mine.value(key), right.value(key)):
            grid.errors[key] = max(grid.errors.get(key, 0.0), relative(mine.value(key), right.value(key)))
            grid.words.setdefault(key, "its value differs")
    sentences = _local(graph, swap, right, right_grads, grid)
    wrong = grid.wrong()
    if wrong:
        order = [k for k in right_grads if k in wrong]  # the order the reverse pass reached them
        sentences.append(f"{len(wrong)} of {len(grid.errors)} nodes' gradients are wrong; the first the reverse pass "
                         f"reaches is {order[0]}" + (f", and from there the wrong gradient flows back into everything "
                                                     "before it" if len(order) > 1 else ""))
    return grid, sentences


def _local(graph: Graph, swap: Mapping[str, str], right, right_grads, grid: Grid) -> list[str]:
    """Each of the learner's ops run alone on the right numbers: at which steps it hands back a wrong gradient."""
    wrong_at: dict[tuple[str, str], dict[int, str]] = {}  # (node name, what is wrong) -> steps
    worst: dict[tuple[str, str], float] = {}
    program = graph.compile()
    for op in program.ops:
        if op.node.name not in swap:
            continue
        mine_type = get_node(swap[op.node.name])
        inputs = [right.value(k) for k in op.inputs]
        ctx, right_ctx = Context(op.needs, op.attrs), Context(op.needs, op.attrs)
        out = right_grads.get(op.key)
        if out is None:
            continue
        mine_type.forward(ctx, *[np.array(v) for v in inputs])
        op.node.forward(right_ctx, *inputs)
        theirs, ours = mine_type.backward(ctx, out), op.node.backward(right_ctx, out)
        name, t = split_key(op.key)
        for p, (g, r) in enumerate(zip(theirs, ours)):
            if not op.needs[p] or r is None:
                continue
            if g is None or np.shape(g) != np.shape(r) or not same(g, r):
                # measured as the node check measures it, on this step's own numbers
                words = _gradient_words(op.node.name, p, g, r, inputs, right.value(op.key), out, ours)
                words = words or _how(g, r)
                grid.words[op.inputs[p]] = words
                plain = re.sub(r" \(relative error [^)]*\)", "", words)  # steps alike but for their numbers: one line
                where = (f"{op.key.split('[')[0]} ({swap[op.node.name]}), the gradient it hands to "
                         f"{split_key(op.inputs[p])[0]}", plain)
                wrong_at.setdefault(where, {})[t] = op.inputs[p]
                if plain != words:
                    worst[where] = max(worst.get(where, 0.0), relative(g, r))
    sentences = []
    for (where, words), at in wrong_at.items():
        said = f" (relative error up to {worst[where, words]:.2g})" if (where, words) in worst else ""
        sentences.append(f"{where}: {words}{said}, {_steps(at, grid.steps)}")
    return sentences


def _how(g, r) -> str:
    if g is None:
        return "it is None"
    if np.shape(g) != np.shape(r):
        return f"shape {np.shape(g)} where {np.shape(r)} is meant"
    g, r = np.asarray(g, dtype=np.float64), np.asarray(r, dtype=np.float64)
    if np.any(r):
        c = float(np.sum(g * r) / np.sum(r * r))
        if same(g, c * r):
            return factor_words(c, batch=BATCH)
    if g.ndim == 2 and g.shape[0] == g.shape[1] and same(g, r.T):
        return "it is transposed"
    return f"it is off (relative error {relative(g, r):.2g})"


def _steps(at: Mapping[int | None, str], steps: int) -> str:
    ts = sorted(t for t in at if t is not None)
    if not ts:
        return "where it is read"
    if ts == list(range(steps)):
        return "at every step"
    return "at step " + ", ".join(map(str, ts)) if len(ts) > 1 else f"at step {ts[0]}"


# -- a reverse pass of the learner's own (exercise 3) -------------------------------------------------------------
@dataclass
class ExerciseOp:
    """An op as ``reverse(ops, grads)`` gets it: its node's key, its inputs' keys, its node type, its context."""

    key: str
    inputs: tuple
    node: Node
    ctx: Context

    def __repr__(self) -> str:
        return f"<op {self.key!r}: {self.node.name}({', '.join(self.inputs)})>"


class _Watched(Node):
    """A node type that records when its backward is called and hands back arrays nobody may change in place."""

    def __init__(self, node: Node, calls: list, key: str) -> None:
        self.inner, self.calls, self.key, self.name = node, calls, key, node.name

    def forward(self, ctx, *inputs):
        return self.inner.forward(ctx, *inputs)

    def backward(self, ctx, *grads):
        self.calls.append(self.key)
        out = []
        for g in self.inner.backward(ctx, *grads):
            if g is not None:
                g = np.array(g)  # its own copy, read-only: a += on it is an in-place change the engine must not make
                g.flags.writeable = False
            out.append(g)
        return tuple(out)


def micrograd_graph() -> tuple[Graph, dict, dict, str]:
    """f = x*y + exp(x): x is read by two ops (micrograd's README expression, smaller)."""
    g = Graph("f = x*y + exp(x)")
    x, y = g.parameter("x", (1, 1)), g.parameter("y", (1, 1))
    g.apply("add", "f", g.apply("mul", "x*y", x, y), g.apply("exp", "exp(x)", x))
    return g, {}, {"x": np.array([[0.5]]), "y": np.array([[3.0]])}, "f"


def reverse_faults(reverse: Callable, steps: int = 4) -> tuple[Grid, list[str]]:
    """The learner's ``reverse(ops, grads)`` on a graph where x is read by two ops, then on the post's network:
    which node's gradient is wrong, and whether it misses a reader's share, walks forward, or adds in place."""
    sentences: list[str] = []
    g, feeds, params, of = micrograd_graph()
    _, said = _reverse_on(reverse, g, feeds, params, of, Grid(1))
    sentences += said
    network = post_network()
    feeds, params = problems(network, steps)
    grid = Grid(steps, title=f"your reverse pass through the post's network, unrolled over {steps} steps")
    _, said = _reverse_on(reverse, network.graph(steps), feeds, params, "loss", grid)
    def alike(sentence: str) -> str:  # the same fault in both graphs is said once
        return sentence.replace(" in the post's network", "").replace(f" in {g.name!r}", "")

    sentences += [s for s in said if alike(s) not in map(alike, sentences)]
    return grid, sentences


def _reverse_on(reverse: Callable, graph: Graph, feeds, params, of: str, grid: Grid) -> tuple[dict, list[str]]:
    program = graph.compile()
    run = program.forward(feeds, params)
    right = run.backward(of, every_node=True)
    calls: list[str] = []
    ops = [ExerciseOp(op.key, op.inputs, _Watched(op.node, calls, op.key), run.contexts[op.index])
           for op in program.ops]
    seed = np.ones_like(run.value(of))
    seed.flags.writeable = False
    grads = {of: seed}
    where = f"in {graph.name!r}" if graph.name.startswith("f =") else "in the post's network"
    try:
        given = reverse(ops, grads)
    except NotImplementedError:
        return {}, ["reverse is not written yet (it raises NotImplementedError)"]
    except ValueError as exc:
        if "read-only" in str(exc):
            return {}, [f"reverse adds a gradient in place (+= into an array a backward returned) {where}: an add hands "
                        "the same array to both its inputs, so changing one changes the other's too; add out of "
                        "place: grads[k] = grads[k] + g"]
        return {}, [f"reverse raises ValueError {where}: {exc}"]
    except KeyError as exc:
        order = _order_words(calls, program)
        return {}, [f"reverse raises KeyError {exc} {where}: a node with no gradient yet was asked for one"
                    + (f"; {order}" if order else "")]
    except Exception as exc:  # noqa: BLE001
        return {}, [f"reverse raises {type(exc).__name__} {where}: {exc}"]
    if given is None:
        given = grads
    if not isinstance(given, Mapping):
        return {}, [f"reverse returns {type(given).__name__}; return grads, the dict of gradients by node key"]
    sentences = []
    order = _order_words(calls, program)
    if order:
        sentences.append(order)
    uncalled = [op.key for op in program.ops if op.key in given and op.key not in calls]
    positions = [[op.key for op in program.ops].index(k) for k in calls]
    if not order and uncalled and positions == sorted(positions):
        sentences.append(f"reverse walks the ops first to last {where}: when it reaches an op, the ops that read its "
                         f"output have not handed back their gradients yet ({uncalled[0]} got its gradient only "
                         "after reverse had passed it); walk them last first, reversed(ops)")
        return given, sentences
    readers: dict[str, list[str]] = {}
    for op in program.ops:
        for key in op.inputs:
            readers.setdefault(key, []).append(op.key)
    for key, r in right.items():
        e = relative(given.get(key), r)
        grid.errors[key] = e
        if e > TOLERANCE and not any(key in s for s in sentences):
            sentences.append(_reader_words(key, given.get(key), r, readers.get(key, []), run, right, program, where))
    sentences = [s for s in sentences if s]
    if len(sentences) > 3:  # the first wrong ones say it; the rest follow from them
        sentences = sentences[:3] + [f"and {len(sentences) - 3} more nodes {where}"]
    return given, sentences


def _order_words(calls: list[str], program) -> str | None:
    keys = [op.key for op in program.ops]
    if len(calls) >= 2 and calls[0] == keys[0] and len(keys) > 1:
        return ("reverse walks the ops first to last: the first backward it calls is the first op's "
                f"({keys[0]}), before any of its readers has handed back a gradient; walk them last first, "
                "reversed(ops)")
    return None


def _reader_words(key, mine, right, readers, run, right_grads, program, where) -> str | None:
    """How node ``key``'s gradient misses: a share of one of its readers only, none, or twice."""
    if mine is None:
        return f"{key} gets no gradient {where}"
    shares = {}
    for op in program.ops:
        if op.key in readers and op.key in right_grads:
            ctx = Context(op.needs, op.attrs)
            op.node.forward(ctx, *[run.value(k) for k in op.inputs])
            grads = op.node.backward(ctx, right_grads[op.key])
            total = sum(g for k, g in zip(op.inputs, grads) if k == key and g is not None)
            shares[op.key] = total
    kind = "consumers" if "[" in key else "readers"
    if len(shares) >= 2:
        for reader, share in shares.items():
            if same(mine, share):
                others = ", ".join(r for r in shares if r != reader)
                return (f"{key} gets the gradient of only one of its {len(shares)} {kind} ({reader}) {where}; "
                        f"{others} hands it one too: a node's gradient is the sum over its readers, added, not "
                        "replaced")
        if same(mine, 2 * right):
            return f"{key} gets its gradient twice {where}: each reader's share is added once"
    if np.shape(mine) == np.shape(right):
        return f"{key}'s gradient is wrong {where}: {_how(mine, right)}"
    return f"{key}'s gradient has shape {np.shape(mine)} {where}, its node {np.shape(right)}"


# -- BPTT of the learner's own (exercise 5) ----------------------------------------------------------------------
class Step:
    """Step t of a forward pass, as ``bptt(steps)`` gets it: ``backward(name, grad)`` runs that op's backward."""

    def __init__(self, t: int, run, program, calls: dict) -> None:
        self.t, self._run, self._ops, self._calls = t, run, {op.key: op for op in program.ops}, calls

    def backward(self, name: str, grad) -> tuple:
        """The backward of this step's op ``name`` (x_synapse_0, h_synapse_h, h_in, h, h_synapse_1, y_hat, loss),
        given the gradient of the loss with respect to its output: one gradient per input."""
        key = f"{name}[{self.t}]"
        op = self._ops.get(key)
        if op is None:
            raise KeyError(f"step {self.t} has no op {name!r}; its ops: {', '.join(STEP_NODES)}")
        grad = np.asarray(grad, dtype=np.float64)
        if name == "loss":
            grad = np.broadcast_to(grad, np.shape(self._run.value(key))).copy()
        self._calls.setdefault(key, []).append(grad)
        return op.node.backward(self._run.contexts[op.index], grad)

    def __repr__(self) -> str:
        return f"<step {self.t}>"


def bptt_steps(network: Network, steps: int, feeds, params, calls: dict, graph: Graph | None = None):
    """The forward pass of the network, op by op, as a list of :class:`Step`; and its run and program."""
    program = (graph or network.graph(steps)).compile()
    run = program.forward(feeds, params)
    return [Step(t, run, program, calls) for t in range(steps)], run, program


def bptt_faults(bptt: Callable, steps: int = STEPS) -> tuple[Grid, list[str]]:
    """The learner's ``bptt(steps)`` against the engine's reverse pass: the gradient it hands each node of each
    step, and each weight's gradient split into the steps' shares."""
    network = post_network()
    feeds, params = problems(network, steps)
    calls: dict[str, list] = {}
    step_list, run, program = bptt_steps(network, steps, feeds, params, calls)
    right = run.backward(every_node=True)
    grid = Grid(steps, title=f"your bptt in the post's network, unrolled over {steps} steps")
    try:
        given = bptt(step_list)
    except NotImplementedError:
        return grid, ["bptt is not written yet (it raises NotImplementedError)"]
    except Exception as exc:  # noqa: BLE001
        return grid, [f"bptt raises {type(exc).__name__}: {exc}"]
    if not isinstance(given, Mapping) or not all(w in given for w in WEIGHTS):
        return grid, [f"bptt returns {type(given).__name__}{' without ' + ', '.join(w for w in WEIGHTS if w not in given) if isinstance(given, Mapping) else ''}; "
                      "return {'synapse_0': ..., 'synapse_h': ..., 'synapse_1': ...}"]
    sentences = []
    # the gradient it handed each op: what that op's output got
    for key in right:
        name, t = split_key(key)
        if name in STEP_NODES and t is not None and t >= 0:
            got = calls.get(key)
            mine = None if not got else got[-1]
            grid.errors[key] = relative(mine, right[key]) if got else 1.0
            if len(got or ()) > 1:
                grid.words[key] = "called twice"
    missing = [k for k, e in grid.errors.items() if e > TOLERANCE and not calls.get(k)]
    wrong = [k for k in right if k in grid.errors and grid.errors[k] > TOLERANCE and calls.get(k)]
    if wrong:
        key = wrong[0]  # the first, in the order the reverse pass reaches the nodes
        sentences.append(_bptt_node_words(key, calls[key][-1], run, right, program))
    elif missing:
        sentences.append(f"bptt never calls the backward of {missing[0]} (nor of {len(missing) - 1} more)"
                         if len(missing) > 1 else f"bptt never calls the backward of {missing[0]}")
    shares = _shares(run, right, program, steps)
    follow = []
    for w in WEIGHTS:
        mine = given[w]
        e = relative(mine, right[w])
        grid.errors[w] = e
        if e > TOLERANCE and (wrong or missing):  # a wrong gradient at a node makes the weights' wrong too
            follow.append(w)
        elif e > TOLERANCE:
            sentences.append(_weight_words(w, mine, right[w], shares[w], steps))
    if follow:
        sentences.append(f"so the gradient of {' and '.join(follow)} is wrong too: fix the gradient of the nodes first")
    return grid, sentences


def _bptt_node_words(key, mine, run, right, program) -> str:
    name, t = split_key(key)
    if name == "h":
        nxt = f"h_synapse_h[{t + 1}]"
        out_share = _share(program, run, right, f"h_synapse_1[{t}]", key)
        future = _share(program, run, right, nxt, key) if nxt in right else None
        if future is not None and same(mine, out_share):
            return (f"{key} gets the gradient of only one of its two consumers, this step's h_synapse_1[{t}]; the next "
                    f"step's {nxt} hands it one too (future, the post's future_layer_1_delta): add them")
        if future is not None and same(mine, future):
            return (f"{key} gets the gradient of only one of its two consumers, the next step's {nxt}; this step's "
                    f"h_synapse_1[{t}] hands it one too: add them")
        if future is not None:
            d_h_in_next = right[f"h_in[{t + 1}]"]
            if np.shape(d_h_in_next) == np.shape(mine) and same(mine, out_share + d_h_in_next):
                return (f"{key} gets from the next step the gradient of h_in[{t + 1}], which has not been through "
                        f"h_synapse_h[{t + 1}]'s backward yet (missing @ synapse_h.T): the future gradient is what "
                        "h_synapse_h's backward returns for its first input")
            for k in range(1, 4):  # a future gradient from k steps later: stale
                later = f"h_synapse_h[{t + 1 + k}]"
                if later in right and same(mine, out_share + _share(program, run, right, later, f"h[{t + k}]")):
                    return (f"{key} gets the future gradient of step {t + k + 1}, not step {t + 1}'s: the future is "
                            "updated once a step, right after h_synapse_h's backward")
    return f"the gradient you hand to {key} is wrong: {_how(mine, right[key])}"


def _share(program, run, right, reader: str, key: str):
    """What op ``reader`` hands node ``key``, given the right gradient of its output."""
    op = next(o for o in program.ops if o.key == reader)
    ctx = Context(op.needs, op.attrs)
    op.node.forward(ctx, *[run.value(k) for k in op.inputs])
    grads = op.node.backward(ctx, right[reader])
    return sum(g for k, g in zip(op.inputs, grads) if k == key and g is not None)


def _shares(run, right, program, steps: int) -> dict[str, list]:
    """Each weight's gradient split into the steps' shares (what the step's matmul hands the weight)."""
    readers = {"synapse_0": "x_synapse_0", "synapse_h": "h_synapse_h", "synapse_1": "h_synapse_1"}
    return {w: [_share(program, run, right, f"{r}[{t}]", w) for t in range(steps)] for w, r in readers.items()}


def _weight_words(w: str, mine, right, shares: list, steps: int) -> str:
    """Which steps' shares the learner's weight gradient holds, measured by least squares."""
    mine = np.asarray(mine, dtype=np.float64)
    if mine.shape != np.shape(right):
        if mine.shape == np.shape(right)[::-1]:
            return f"the gradient of {w} is transposed: shape {mine.shape}, the weight {np.shape(right)}"
        return f"the gradient of {w} has shape {mine.shape}, the weight {np.shape(right)}"
    basis = np.stack([np.ravel(s) for s in shares], axis=1)
    c, *_ = np.linalg.lstsq(basis, mine.ravel(), rcond=None)
    if same(basis @ c, mine.ravel()):
        kept = [t for t in range(steps) if abs(c[t]) > 1e-6]
        if len(kept) == 1 and abs(c[kept[0]] - 1) < 1e-6:
            t = kept[0]
            last = " (the last step of the post's run)" if t == steps - 1 else (
                " (the last step your loop visits: it is overwritten at every step, not added to)" if t == 0 else "")
            return (f"the gradient of {w} counts only step {t}{last}: every step reads {w}, so its gradient is the "
                    f"sum of every step's share (the post's synapse_h_update +=)")
        if np.allclose(c, c[0]) and abs(c[0]) > 1e-6:
            return f"the gradient of {w} holds every step's share, {factor_words(c[0], batch=BATCH).replace('it is', 'but it is')}"
        if not kept and not np.any(mine):
            zero_first = not np.any(shares[0])
            return (f"the gradient of {w} is 0: it holds no step's share"
                    + (f", or only step 0's, the last step your loop visits, which is 0 (step 0 reads h[-1], zeros)"
                       if zero_first else "")
                    + f": every step reads {w}, so its gradient is the sum of every step's share, added up "
                      "(the post's synapse_h_update +=), not overwritten")
        if kept:
            return (f"the gradient of {w} holds the shares of steps {', '.join(map(str, kept))} only, of the "
                    f"{steps} steps that read it")
    if mine.ndim == 2 and mine.shape[0] == mine.shape[1] and same(mine, np.asarray(right).T):
        return f"the gradient of {w} is transposed"
    return f"the gradient of {w} is wrong (relative error {relative(mine, right):.2g}) and no sum of steps' shares"
