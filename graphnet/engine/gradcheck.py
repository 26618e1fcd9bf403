"""Numerical gradient checks: hand-written backward methods against central differences in float64.

A subtly wrong gradient trains silently, so every node type and every program can be held against the
central differences ``(f(x + eps) - f(x - eps)) / (2 eps)``, ``eps = 1e-6``.

The verdict, element by element, as ``numpy.allclose`` and PyTorch's ``gradcheck`` give it::

    |analytic - numeric| <= atol + rtol * |numeric|,   rtol = 1e-5,   atol = 1e-8 * |f|

A right gradient misses the central differences only by their rounding, which grows with the size of the
objective ``f`` (measured on the shipped tasks: up to 5e-10 * |f|), so ``atol`` follows ``|f|``: a gradient
that is tiny or exactly 0 (a weight the loss hardly reaches) passes when it is right, and a wrong one fails
as soon as it is wrong by more than that rounding. ``score`` is the largest
``|analytic - numeric| / (atol + rtol * |numeric|)``: at most 1 passes; a right gradient scores about 0.01,
a wrong one from 10 up. The relative error over the whole gradient, ``|a - n| / (|a| + |n|)`` with Euclidean
norms, is reported beside it.

Examples
--------
>>> from graphnet.engine.node import get_node
>>> check_node(get_node("sigmoid")).passed
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from .node import Context, Node
from .program import Program

EPS = 1e-6  # the step of the central differences
RTOL = 1e-5  # allowed difference, relative to the numeric gradient
NOISE = 1e-8  # allowed difference, absolute, per unit of the objective's size: above its rounding
RULE = f"|analytic - numeric| <= {NOISE:g} |loss| + {RTOL:g} |numeric| in every element, float64 central differences"


@dataclass(frozen=True)
class GradientCheck:
    """The verdict on one gradient: ``backward``'s (analytic) against central differences (numeric)."""

    score: float  # the largest |a - n| / (atol + rtol * |n|) over the elements: at most 1 passes
    difference: float  # the largest |a - n|
    atol: float  # the absolute part of the allowance: NOISE * |f|
    relative: float  # |a - n| / (|a| + |n|) with Euclidean norms, over the whole gradient
    size: float  # the largest |n|

    @property
    def passed(self) -> bool:
        return self.score <= 1.0

    def __str__(self) -> str:
        return "ok" if self.passed else "FAILED"


def compare(analytic: np.ndarray, numeric: np.ndarray, scale: float) -> GradientCheck:
    """The verdict on ``analytic`` against ``numeric``, central differences of an objective of size ``scale``."""
    analytic, numeric = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    atol = NOISE * abs(scale) + 1e-300  # a nonzero floor: an objective of exactly 0 still divides
    difference = np.abs(analytic - numeric)
    score = float(np.max(difference / (atol + RTOL * np.abs(numeric)), initial=0.0))
    return GradientCheck(score, float(np.max(difference, initial=0.0)), atol, relative_error(analytic, numeric),
                         float(np.max(np.abs(numeric), initial=0.0)))


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """``|a - n| / (|a| + |n|)`` with Euclidean norms (0 when both are 0)."""
    analytic, numeric = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return float(np.linalg.norm(analytic - numeric) / max(scale, 1e-300))


def numeric_gradient(f: Callable[[], float], x: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Central differences of the scalar ``f()`` with respect to every element of ``x``, changed in place.

    ``x`` is restored element by element, so it ends exactly as it began.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    flat, flat_grad = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        plus = f()
        flat[i] = original - eps
        minus = f()
        flat[i] = original
        flat_grad[i] = (plus - minus) / (2 * eps)
    return grad


def check_node(
    node: Node, *, batches: tuple[int, ...] = (1, 3), widths: tuple[int, ...] = (1, 4), seed: int = 0
) -> GradientCheck:
    """The worst verdict on ``node.backward`` over random float64 inputs of several shapes.

    The node's output is reduced to a scalar with random weights, ``L = sum(out * w)``, so every element of
    every input gradient is checked (``|L|``'s size, for the rounding allowance, is ``sum(|out * w|)``). A node
    type that declares ``stacking`` is held to it too (:func:`check_stacking`), to the bit.
    """
    rng = np.random.RandomState(seed)
    worst = GradientCheck(0.0, 0.0, 0.0, 0.0, 0.0)
    for batch in batches:
        for width in widths:
            inputs = [np.asarray(v, dtype=np.float64).copy() for v in node.sample_inputs(rng, batch, width)]
            attrs = node.sample_attrs(width)
            outs = _outputs(node, node.forward(Context(attrs=attrs), *inputs))
            weights = [rng.normal(size=np.shape(out)) for out in outs]

            def objective() -> float:
                outs = _outputs(node, node.forward(Context(attrs=attrs), *inputs))
                return float(sum(np.sum(out * w) for out, w in zip(outs, weights)))

            ctx = Context(attrs=attrs)
            node.forward(ctx, *inputs)
            analytic = node.backward(ctx, *weights)
            if len(analytic) != len(inputs):
                raise AssertionError(f"{node.name}.backward returned {len(analytic)} gradients for {len(inputs)} inputs")
            scale = float(sum(np.sum(np.abs(out * w)) for out, w in zip(outs, weights)))
            for value, grad in zip(inputs, analytic):
                if np.shape(grad) != value.shape:
                    raise AssertionError(f"{node.name}.backward gave shape {np.shape(grad)} for input {value.shape}")
                verdict = compare(grad, numeric_gradient(objective, value), scale)
                worst = max(worst, verdict, key=lambda v: v.score)
    if node.stacking is not None:
        stacked = check_stacking(node, seed=seed)
        if stacked > 0.0:  # the rule promises each member's numbers as it alone gets them
            raise AssertionError(f"{node.name} declares stacking, but run stacked its numbers differ from its "
                                 f"members' alone (relative error {stacked:.1e})")
    return worst


def check_stacking(node: Node, *, members: int = 3, batch: int = 2, width: int = 4, seed: int = 0) -> float:
    """How far ``node``'s call on operands stacked along a leading member axis is from its members one by one.

    What a :class:`~graphnet.engine.node.Stacking` rule promises: each member's value and input gradients as that
    member alone gets them; a shared input (one array for all members) gets its gradient per member, the
    member axis in front. Returns the largest relative error (0.0 when the rule holds to the bit).

    Examples
    --------
    >>> from graphnet.engine.node import get_node
    >>> check_stacking(get_node("matmul"))
    0.0
    """
    rng = np.random.RandomState(seed)
    attrs, shared = node.sample_attrs(width), node.stacking.shared
    alone = [[np.asarray(v, dtype=np.float64) for v in node.sample_inputs(rng, batch, width)] for _ in range(members)]
    for inputs in alone[1:]:  # a shared input is the same array for every member
        inputs[:] = [alone[0][p] if p in shared else v for p, v in enumerate(inputs)]
    stacked = [alone[0][p] if p in shared else np.stack([a[p] for a in alone]) for p in range(len(alone[0]))]
    ctx = Context(attrs=attrs)
    outs = _outputs(node, node.forward(ctx, *stacked))
    out_grads = [rng.normal(size=np.shape(out)) for out in outs]
    grads = node.backward(ctx, *out_grads)
    worst = 0.0
    for m, inputs in enumerate(alone):
        ctx = Context(attrs=attrs)
        member_outs = _outputs(node, node.forward(ctx, *inputs))
        for out, member_out in zip(outs, member_outs):
            if np.shape(out) != (members, *np.shape(member_out)) or len(grads) != len(inputs):
                raise AssertionError(f"{node.name} declares stacking, but run stacked it gives shape {np.shape(out)} "
                                     f"where each of {members} members gives {np.shape(member_out)}")
            worst = max(worst, relative_error(out[m], member_out))
        member_grads = node.backward(ctx, *[g[m] for g in out_grads])
        for p, (g, member_g) in enumerate(zip(grads, member_grads)):
            if g is None or member_g is None or np.shape(g) != (members, *np.shape(member_g)):
                raise AssertionError(f"{node.name} declares stacking, but run stacked its backward gives input {p} "
                                     f"a gradient of shape {np.shape(g)}, not one per member of {np.shape(member_g)}")
            worst = max(worst, relative_error(g[m], member_g))
    return worst


def _outputs(node: Node, out) -> tuple:
    """A node type's outputs as a tuple: its one value, or each of a node type of several outputs."""
    return tuple(out) if node.multiple_outputs else (out,)


def check_program(
    program: Program,
    feeds: Mapping[str, np.ndarray],
    params: Mapping[str, np.ndarray],
    of: str = "loss",
    eps: float = EPS,
) -> dict[str, GradientCheck]:
    """The verdict on the reverse pass's gradient of ``of`` (of the sum of its elements, if it has several) for every
    node of ``program.wrt``."""
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    run = program.forward(feeds, params)
    analytic, scale = run.backward(of), float(np.sum(np.abs(run.value(of))))

    def loss() -> float:  # the sum of ``of``'s elements, what the reverse pass differentiates (a (1, 1) "scalar" too)
        return float(np.sum(program.forward(feeds, params).value(of)))

    return {key: compare(analytic.get(key, np.zeros_like(params[key])), numeric_gradient(loss, params[key], eps),
                         scale) for key in program.wrt}
