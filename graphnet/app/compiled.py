"""Training compiled with JAX: the same program, its node types' own methods traced by JAX and compiled by XLA.

``graphnet train TASK --compile`` (:func:`train_compiled`) makes the run :func:`~graphnet.app.training.train`
makes, number for number within rounding, many times faster at the post's sizes, where numpy's cost is the
overhead of each call and not its arithmetic. Nothing here computes an op: the iterations call the program's
own :meth:`~graphnet.engine.program.Program.forward` and reverse pass, with contexts whose ``xp`` is
``jax.numpy`` (:mod:`graphnet.engine.compiling`), so a learner who edits a node type changes what trains here too.

- The iterations run in *chunks*, one compiled call each (``jax.lax.scan``): forward, reverse pass, whether
  the loss and the gradients are finite, the SGD update. A chunk ends where a log line, a checkpoint, a curve's
  row or a sweep's check is due, so each sees the weights it would see in numpy mode; and a stop (Ctrl-C,
  SIGTERM, SIGHUP) takes effect when the current chunk ends.
- Before a chunk, the task's generator draws its problems from the run's random stream, as numpy mode draws
  them: the same problems in the same order, so the random state a checkpoint saves is numpy mode's too.
- A log line is computed as numpy mode computes it, from the weights its chunk starts with.
- An iteration whose loss or a gradient is not finite stops the run there, its weights those before it; it
  is run again in numpy mode to name the node where the NaN or inf began.
- Networks side by side (a sweep's seeds) run as one call, each member computed as it alone (``jax.vmap``).

JAX is the ``compile`` extra; without it, compiling is refused before any work, with the command that
installs it.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from ..engine.compiling import INSTALL, available, check_traceable, jax_context
from ..engine.program import Program, Run
from ..errors import DivergedError, GraphError, UsageError
from ..rnn.data import Batch, checked
from ..rnn.keys import LOSS, PREDICTION, over
from ..rnn.network import Network
from .tasks import Task
from .training import (Accuracy, LogEntry, TrainResult, _bar_columns, _beside_the_bar, _log_entry,
                       _nonfinite_message, evaluate, sgd_update)
from .weights import Params

# Iterations a chunk holds at most: long enough that a chunk's Python (drawing its problems, a log line) costs
# little beside it, short enough that a stop takes effect soon.
MAX_CHUNK = 1000
# Examples x steps of a chunk's problems at most, drawn ahead of it: they are held in memory while it runs.
CHUNK_NUMBERS = 1 << 21
# What a chunk's call costs beside its iterations, in iterations (drawing its problems, handing them over, a log
# line): choosing a chunk's length, a few more chunks are worth it when they leave fewer iterations computed in vain.
CHUNK_CALL = 8


def require_jax(option: str = "--compile") -> None:
    """Refuse, before any work, to compile without JAX: one line with the command that installs it."""
    if not available() or start_jax() is None:
        raise UsageError(f"{option} needs JAX, which is not installed here: {INSTALL}")


_started: list[float] = []  # the seconds JAX took to start in this process, once it has


def start_jax() -> float | None:
    """Import and set up JAX (float64, the compilation cache on disk), once a process: the seconds that took
    (importing it is most of them), or None without JAX."""
    if not _started:
        started = time.perf_counter()
        if not available():
            return None
        jax_context()
        _started.append(time.perf_counter() - started)
    return _started[0]


@dataclass
class Compiling:
    """What compiling a run cost, in seconds: starting JAX, tracing the program, XLA's compiling (or reading its
    result from the cache on disk, ``cached``)."""

    start_up: float
    tracing: float
    xla: float
    cached: bool

    def line(self) -> str:
        total = self.start_up + self.tracing + self.xla
        xla = f"XLA {self.xla:.1f} s" + (", from the cache" if self.cached else "")
        return f"compiled in {total:.1f} s (JAX start-up {self.start_up:.1f} s, tracing {self.tracing:.1f} s, {xla})"


def chunk_length(periods: Sequence[int], numbers: int, iterations: int, start: int = 0) -> int:
    """Iterations a chunk holds, for a run of ``iterations`` from iteration ``start``, its chunks ending at the
    multiples of the length: they end wherever a period in ``periods`` (log lines, checkpoints, curve rows; 0 for
    none) does within the run, so the length divides every such period; it fits :data:`MAX_CHUNK` and
    :data:`CHUNK_NUMBERS` (``numbers``: examples x steps of an iteration). Among the lengths that do, the one with
    the least work: a chunk always runs its whole length (iterations outside the run are computed and dropped),
    and each chunk costs about :data:`CHUNK_CALL` iterations more."""
    end = start + iterations
    most = max(1, min(MAX_CHUNK, CHUNK_NUMBERS // max(numbers, 1), iterations))
    common = 0
    for period in periods:
        if period > 0 and (start // period + 1) * period < end:  # a period that ends inside the run
            common = math.gcd(common, period)
    lengths = _divisors(common) if common else range(1, most + 1)
    return min((d for d in lengths if d <= most),
               key=lambda d: ((-(-end // d) - start // d) * (d + CHUNK_CALL), -d))


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return small + [n // d for d in small]


class Chunks:
    """A task's iterations compiled, ``length`` at a time: ``chunk(params, rate, x, y, active)`` runs the
    iterations of ``x`` (length, T, B, inputs) and ``y`` whose ``active`` flag is set (the others leave the weights
    as they are), and gives the weights after them and, per iteration, its loss, its error (the sum over the
    batch of ``|y - y_hat|``) and whether its loss and gradients were finite. From the first that was not, the
    weights stay as they were before it. ``members``: networks side by side, each on the leading axis of every
    argument (weights, rate, problems, flags) and computed as it alone (``jax.vmap``)."""

    def __init__(self, network: Network, steps: int, batch: int, length: int, *, members: bool = False) -> None:
        self.start_up = start_jax()
        if self.start_up is None:
            require_jax()
        import jax
        import jax.numpy as jnp

        context = jax_context()
        self.network, self.steps, self.batch, self.length, self.members = network, steps, batch, length, members
        # the numpy run's program, every node: XLA leaves out what nothing reads
        self.program = program = network.program(steps, batch=batch)
        predictions = over(PREDICTION, steps)

        def iteration(rate, carry, problem):
            params, going = carry
            x, y, active = problem
            run = program.forward(network.feeds(x, y), params, context=context)
            grads = run.backward()
            loss = run.value(LOSS)
            total = loss  # a NaN or inf anywhere makes it non-finite, as numpy mode's check
            for g in grads.values():
                total = total + g.sum()
            finite = jnp.isfinite(total)
            error = jnp.abs(y - jnp.stack([run.value(k) for k in predictions])).sum()
            take = going & active & finite
            updated = sgd_update(params, grads, rate)
            params = {k: jnp.where(take, updated[k], w) for k, w in params.items()}
            return (params, going & (finite | ~active)), (loss, error, finite)

        def chunk(params, rate, x, y, active):
            (params, _), out = jax.lax.scan(functools.partial(iteration, rate), (params, jnp.bool_(True)),
                                            (x, y, active))
            return params, out

        self._jitted = jax.jit(jax.vmap(chunk) if members else chunk)
        self._compiled = None
        self.compiling: Compiling | None = None

    def __call__(self, params: Params, rate, x: np.ndarray, y: np.ndarray, active: np.ndarray):
        args = (params, np.asarray(rate, dtype=np.float64), x, y, active)
        if self._compiled is None:
            self._compiled = self._compile(args)
        return self._compiled(*args)

    def _compile(self, args: tuple):
        """Trace and compile the chunk for these arguments' shapes, timed; a node type that cannot be traced is
        refused in one line that names it."""
        import jax

        hits = []

        def hit(event: str, **_) -> None:
            if event == "/jax/compilation_cache/cache_hits":
                hits.append(event)

        started = time.perf_counter()
        try:
            lowered, refused = self._jitted.lower(*args), None
        except GraphError:
            refused = self._untraceable(args)
            if refused is None:
                raise
        if refused is not None:  # raised here, alone: the tracer's error is no part of the user's mistake
            raise refused
        traced = time.perf_counter()
        jax.monitoring.register_event_listener(hit)
        try:
            compiled = lowered.compile()
        finally:
            jax.monitoring.unregister_event_listener(hit)
        self.compiling = Compiling(self.start_up, traced - started, time.perf_counter() - traced, bool(hits))
        return compiled

    def _untraceable(self, args: tuple) -> GraphError | None:
        """The one line that names a node type calling numpy on the run's arrays, if that is why tracing failed."""
        params, _, x, y, _ = args
        one = (lambda a: a[0, 0]) if self.members else (lambda a: a[0])  # an iteration's problems, of a member
        try:
            check_traceable(self.program, self.network.feeds(one(x), one(y)),
                            {k: v[0] if self.members else v for k, v in params.items()})
        except GraphError as refused:
            return GraphError(str(refused), culprit=refused.culprit)
        return None


@functools.lru_cache(maxsize=16)
def _chunks(network: Network, steps: int, batch: int, length: int, members: bool) -> Chunks:
    """The chunks of these sizes, compiled once in a process (runs of the same shapes share them)."""
    return Chunks(network, steps, batch, length, members=members)


def forward(program: Program, feeds: Mapping[str, np.ndarray], params: Params, keys: Sequence[str]) -> Run:
    """``program.forward(feeds, params)`` compiled, for the values of ``keys``: a run that knows those (what
    :meth:`Network.predict <graphnet.rnn.network.Network.predict>` takes as its ``forward``; evaluating with
    ``--compile``). Compiled once per program, keys and shapes (and read from the cache on disk after)."""
    values = _forward(program, tuple(keys))(dict(feeds), dict(params))
    slots: list = [None] * len(program.slot)
    for key, value in zip(keys, values):
        slots[program.slot[key]] = np.asarray(value)
    return Run(program, slots, [])


def evaluate_compiled(task: Task, params: Params, **options) -> Accuracy:
    """:func:`~graphnet.app.training.evaluate` (the same ``options``) with its forward passes compiled: the same
    accuracy (``graphnet eval --compile``)."""
    return evaluate(task, params, forward=forward, **options)


@functools.lru_cache(maxsize=64)
def _forward(program: Program, keys: tuple[str, ...]):
    import jax

    context = jax_context()

    def run(feeds, params):
        done = program.forward(feeds, params, context=context)
        return [done.value(k) for k in keys]

    return jax.jit(run)


def draw(task: Task, rng: np.random.RandomState, count: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """The problems of ``count`` iterations, drawn from ``rng`` as numpy mode draws them (``sample_many``: what
    ``count`` calls of ``sample`` draw), as ``x`` and ``y`` of ``length`` iterations (length, T, B, width): those
    past ``count`` are zeros, which a chunk skips."""
    size, bits, generator = task.training.batch_size, task.problem.bits, task.generator
    drawn = checked(generator, generator.sample_many(rng, count, size, bits), "sample", bits, count * size)
    out = []
    for a in (drawn.x, drawn.y):
        steps, _, width = a.shape
        whole = np.zeros((length, steps, size, width))
        whole[:count] = a.reshape(steps, count, size, width).transpose(1, 0, 2, 3)
        out.append(whole)
    return out[0], out[1]


def train_compiled(
    task: Task,
    *,
    params: Params | None = None,
    on_log: Callable[[LogEntry], None] | None = None,
    progress: bool = False,
    start: int = 0,
    rng_state: tuple | None = None,
    after_chunk: Callable[[int, Params, Callable[[], tuple]], bool] | None = None,
    every: Sequence[int] = (),
    curve=None,
    on_compiled: Callable[[Compiling], None] | None = None,
) -> TrainResult:
    """Train as :func:`~graphnet.app.training.train` does, compiled: the same problems, updates and log.

    ``after_chunk(iterations_done, params, rng)`` is called after each chunk, as ``train``'s ``after_update`` after
    each update, and stops the run when it returns True; chunks end at every multiple of each of ``every`` (a
    :class:`~graphnet.app.checkpoint.Checkpointer`'s ``every``), of the task's ``log_every`` and of ``curve``'s
    rows. ``curve``: a :class:`~graphnet.app.curve.Curve`, which takes in each chunk. ``on_compiled`` is told what
    compiling cost, before the first chunk runs. A NaN or inf in the loss or a gradient raises
    :class:`~graphnet.errors.DivergedError` naming the iteration and the node, as numpy mode does.
    """
    spec, network = task.training, task.build_network()
    steps, size = task.problem.bits, spec.batch_size
    rng = np.random.RandomState(spec.seed)
    initial = network.init_parameters(rng)  # the weights first, then the problems, as numpy mode draws them
    if rng_state is not None:
        rng.set_state(rng_state)
    params = {k: np.asarray(v, dtype=np.float64) for k, v in (initial if params is None else params).items()}
    result = TrainResult(dict(params), iterations=start)
    if start >= spec.iterations:
        result.rng_state = rng.get_state()
        return result
    length = chunk_length([spec.log_every, curve.every if curve is not None else 0, *every], size * steps,
                          spec.iterations - start, start)
    chunks = _chunks(network, steps, size, length, False)
    log, bar = on_log, None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=spec.iterations - start, desc="training", unit="it", mininterval=0.5, leave=False,
                   disable=None, ncols=_bar_columns())
        log = _beside_the_bar(on_log) if on_log is not None else None
    logged = network.program(steps, batch=size)  # a log line's run, in numpy mode
    try:
        iteration = start
        while iteration < spec.iterations:
            end = min((iteration // length + 1) * length, spec.iterations)
            count = end - iteration
            x, y = draw(task, rng, count, length)
            entry = None
            if spec.log_every and iteration % spec.log_every == 0:
                batch = Batch(x[0], y[0])
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    run = logged.forward(network.feeds(batch.x, batch.y), params)
                entry = _log_entry(task, batch, run.value, iteration)
            first = chunks.compiling is None
            after, (loss, error, finite) = chunks(params, spec.learning_rate, x, y, np.arange(length) < count)
            if first and on_compiled is not None:
                on_compiled(chunks.compiling)
            params = {k: np.array(v) for k, v in after.items()}
            finite = np.asarray(finite)[:count]
            done = int(np.argmin(finite)) if not finite.all() else count  # iterations before the first NaN or inf
            if entry is not None and done:
                result.log.append(entry)
                if log:
                    log(entry)
            if curve is not None and done:
                curve.take(iteration + done, float(np.sum(np.asarray(error)[:done])),
                           float(np.sum(np.asarray(loss)[:done])), done * size, done, params)
            result.iterations, result.params = iteration + done, params
            if bar is not None:
                bar.update(done)
            if done < count:  # named as numpy mode names it: the iteration run again there, on the graph as built
                failed = iteration + done
                feeds = network.feeds(x[done], y[done])
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    as_built = network.graph(steps).compile().forward(feeds, params)
                    raise DivergedError(_nonfinite_message(as_built, failed))
            iteration = end
            if after_chunk is not None and after_chunk(end, params, rng.get_state):
                break
    finally:
        if bar is not None:
            bar.close()
    result.rng_state = rng.get_state()
    return result


def train_members_compiled(
    task: Task,
    seeds: Sequence[int],
    *,
    learning_rates: Sequence[float] | None = None,
    until: Callable[[int, Params], np.ndarray] | None = None,
    every: int = 100,
    diverged: str = "raise",
    on_compiled: Callable[[Compiling], None] | None = None,
) -> list:
    """:func:`~graphnet.app.members.train_members`, compiled: one network per seed, all in one compiled call a
    chunk (``jax.vmap`` over the member axis), each computed as it alone and drawing its problems from its own
    random stream, so member ``i`` is the run ``train_compiled`` makes with its seed. A member stopped (by
    ``until``, called at the end of the chunks that end at a multiple of ``every``, or by a NaN or inf with
    ``diverged="stop"``) keeps its weights from then on, and the others go on."""
    from .members import Member, check_members

    spec, network = task.training, task.build_network()
    rates = check_members(task, seeds, learning_rates, diverged)
    steps, size, count_all = task.problem.bits, spec.batch_size, len(seeds)
    streams, initial = [], []
    for seed in seeds:  # each member's random stream, as a run of its own draws it: its weights, then its problems
        rng = np.random.RandomState(seed)
        initial.append(network.init_parameters(rng))
        streams.append(rng)
    params = {key: np.stack([p[key] for p in initial]) for key in initial[0]}
    length = chunk_length([every if until is not None else 0], size * steps, spec.iterations)
    chunks = _chunks(network, steps, size, length, True)
    training = np.ones(count_all, dtype=bool)  # the members still training
    shares = np.zeros(count_all)
    finished: dict[int, Member] = {}
    rate = np.asarray(rates, dtype=np.float64)
    iteration = 0
    while iteration < spec.iterations and training.any():
        started = time.perf_counter()
        end = min((iteration // length + 1) * length, spec.iterations)
        count = end - iteration
        x = np.zeros((count_all, length, steps, size, task.generator.inputs))
        y = np.zeros((count_all, length, steps, size, task.generator.outputs))
        for m in np.flatnonzero(training):
            x[m], y[m] = draw(task, streams[m], count, length)
        first = chunks.compiling is None
        after, (_, _, finite) = chunks(params, rate, x, y, training[:, None] & (np.arange(length) < count))
        if first and on_compiled is not None:
            on_compiled(chunks.compiling)
        params = {k: np.array(v) for k, v in after.items()}
        finite = np.asarray(finite)[:, :count] | ~training[:, None]
        done = np.where(finite.all(axis=1), count, np.argmin(finite, axis=1))  # each member's iterations
        took = done * training
        shares += (time.perf_counter() - started) * took / max(int(took.sum()), 1)
        lost = np.flatnonzero(done < count)
        if lost.size:
            if diverged == "raise":
                m = lost[np.argmin(done[lost])]  # the first to diverge, the first of those in member order
                raise DivergedError(f"training diverged at iteration {iteration + done[m]} for the network of seed "
                                    f"{seeds[m]}: a NaN or inf in its loss or a gradient; lower "
                                    "training.learning_rate")
            for m in lost:  # its weights are those before the update that failed
                finished[m] = Member(seeds[m], rates[m], {k: v[m].copy() for k, v in params.items()},
                                     iteration + int(done[m]), float(shares[m]), False, diverged=True)
                training[m] = False
        iteration = end
        if until is not None and end % every == 0 and end < spec.iterations and training.any():
            rows = np.flatnonzero(training)
            stop = np.asarray(until(end, {k: v[rows] for k, v in params.items()}), dtype=bool)
            for m in rows[stop]:
                finished[m] = Member(seeds[m], rates[m], {k: v[m].copy() for k, v in params.items()}, end,
                                     float(shares[m]), True)
                training[m] = False
    for m in np.flatnonzero(training):
        finished[m] = Member(seeds[m], rates[m], {k: v[m].copy() for k, v in params.items()}, spec.iterations,
                             float(shares[m]), False)
    return [finished[m] for m in range(count_all)]
