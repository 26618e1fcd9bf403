"""Compiling: the same interpreter and the same node types' methods, traced by JAX and compiled by XLA.

Nothing here computes an op. A program's :meth:`~graphnet.engine.program.Program.forward` and its reverse pass run
as they always do, with contexts whose ``xp`` is ``jax.numpy``: JAX records every array function the node types'
own ``forward`` and ``backward`` call, and XLA compiles what it recorded into one call. A learner's node type is
compiled as it is written, as long as it takes its array functions from ``ctx.xp``.

JAX is optional (the ``compile`` extra: ``pip install -e '.[compile]'``); the rest of graphnet never imports it.
Runs are in float64, as numpy's.

Examples
--------
>>> import numpy as np
>>> from graphnet.engine.graph import Graph
>>> g = Graph()
>>> x, w = g.input("x", (None, 2)), g.parameter("w", (2, 1))
>>> loss = g.apply("mean", "loss", g.apply("sigmoid", "y", g.apply("matmul", "xw", x, w)))
>>> gradients = loss_and_gradients(g.compile())          # traced and compiled on its first call
>>> loss, grads = gradients({"x": np.ones((3, 2))}, {"w": np.zeros((2, 1))})
>>> float(loss), grads["w"].ravel().tolist()
(0.5, [0.25, 0.25])
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from ..errors import GraphError
from .node import Context, Node
from .program import Program

INSTALL = "pip install -e '.[compile]'"  # the extra that brings JAX (CPU)


def available() -> bool:
    """Whether JAX can be imported here."""
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=None)
def jax_context() -> type[Context]:
    """The context of a traced run: its ``xp`` is ``jax.numpy``. JAX is set up on first use: float64, and a
    compilation cache on disk (``GRAPHNET_JAX_CACHE``, by default ``~/.cache/graphnet/jax``) so that a second
    process compiling the same program reads it back instead."""
    if not available():
        raise GraphError(f"compiling needs JAX, which is not installed: {INSTALL}")
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", os.environ.get("JAX_PLATFORMS", "cpu"))
    cache = Path(os.environ.get("GRAPHNET_JAX_CACHE", Path.home() / ".cache" / "graphnet" / "jax"))
    try:
        cache.mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(cache))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    except OSError:  # a home that cannot be written: compile every time
        pass

    class JaxContext(Context):
        __slots__ = ()
        xp = jnp

    return JaxContext


def loss_and_gradients(program: Program, of: str = "loss") -> Callable[[Mapping, Mapping], tuple]:
    """``program``'s forward and reverse pass as one compiled function of (feeds, params): the value of ``of`` and
    the gradients of ``program.wrt``, as the numpy run gives them (within rounding)."""
    import jax

    return jax.jit(_run(program, of))


def _run(program: Program, of: str) -> Callable[[Mapping, Mapping], tuple]:
    """(feeds, params) -> the value of ``of`` and the gradients, with jax.numpy's contexts: what JAX traces."""
    context = jax_context()

    def run(feeds, params):
        forward = program.forward(feeds, params, context=context)
        return forward.value(of), forward.backward(of)

    return run


def check_traceable(program: Program, feeds: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray],
                    of: str = "loss") -> None:
    """Refuse, in one line naming the node type, a program with a node type that does not compute with ``ctx.xp``
    (one that calls numpy on the run's arrays cannot be traced): checked on abstract values, nothing computed."""
    import jax

    try:
        jax.eval_shape(_run(program, of), feeds, params)
    except GraphError as exc:
        cause = exc.__cause__
        if cause is not None and _untraceable(cause):
            op = next((op for op in program.ops if f"at node {op.key!r}" in str(exc)), None)
            name = op.node.name if op else "a node type"
            module = type(op.node).__module__ if op else "?"
            raise GraphError(f"node type {name!r} ({module}) cannot be compiled: its methods call numpy on the "
                             f"run's arrays; take the array functions from ctx.xp (ctx.xp.exp, not np.exp), "
                             f"which is numpy when not compiling", culprit=op.node if op else None) from None
        raise


def _untraceable(exc: BaseException) -> bool:
    """Whether ``exc`` is JAX saying an array it traces was handed to numpy."""
    import jax

    return isinstance(exc, (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError,
                            jax.errors.TracerIntegerConversionError, jax.errors.TracerBoolConversionError))


def check_node_against_jax(node: Node, *, batches: tuple[int, ...] = (1, 3), widths: tuple[int, ...] = (1, 4),
                           seed: int = 0) -> float:
    """How far ``node.backward`` (hand-written) is from JAX's derivative of ``node.forward`` (traced), the largest
    relative difference over random float64 inputs of several shapes: an exact reference, so a mistake smaller
    than the rounding of central differences shows. Returns it (about 1e-16 for a right backward)."""
    import jax

    context = jax_context()
    rng = np.random.RandomState(seed)
    worst = 0.0
    for batch in batches:
        for width in widths:
            inputs = [np.asarray(v, dtype=np.float64) for v in node.sample_inputs(rng, batch, width)]
            attrs = node.sample_attrs(width)
            outs, vjp = jax.vjp(lambda *xs: node.forward(context(attrs=attrs), *xs), *inputs)
            weights = [rng.normal(size=np.shape(o)) for o in (outs if node.multiple_outputs else (outs,))]
            exact = vjp(tuple(weights) if node.multiple_outputs else weights[0])
            ctx = Context(attrs=attrs)
            node.forward(ctx, *inputs)
            written = node.backward(ctx, *weights)
            for mine, theirs in zip(written, exact):
                if mine is None:
                    continue
                theirs = np.asarray(theirs)
                scale = max(float(np.max(np.abs(theirs), initial=0.0)), 1e-300)
                worst = max(worst, float(np.max(np.abs(np.asarray(mine) - theirs), initial=0.0)) / scale)
    return worst
