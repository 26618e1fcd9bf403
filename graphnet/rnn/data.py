"""Data generators: the sequence problems a task trains on, chosen by name in the task file.

A generator turns random draws into time-major arrays, least significant bit first: ``x`` (T, B, inputs) and
``y`` (T, B, outputs), and describes a problem and a prediction in one line for the training log. It may also
name the hidden fact of its problems, what a network's state must remember from one step to the next (the
carry of an addition), and say its value at every step (``graphnet probe`` looks for it in the hidden layer).

Examples
--------
>>> import numpy as np
>>> addition = get_generator("binary_addition")
>>> batch = addition.encode([9], [60], bits=8)
>>> batch.x[:, 0, 0]  # 9, least significant bit first
array([1., 0., 0., 1., 0., 0., 0., 0.])
>>> addition.describe(batch, 0, batch.y[:, 0])
'9 + 60 = 69'
>>> addition.fact, addition.fact_values(batch)[:, 0]  # 1001 + 111100: a carry out of bits 3, 4 and 5
('carry', array([0, 0, 0, 1, 1, 1, 0, 0]))
"""

from __future__ import annotations

import copy
import functools
import operator
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping, Sequence

import numpy as np

from ..engine.registry import Registry
from ..errors import TaskError

# Operands below 2**62 are drawn as int64 the way the post draws them; wider ones are drawn bit by bit.
_INT_BITS = 62
# Problems are enumerated exhaustively (for eval) up to this many.
EXHAUSTIVE_LIMIT = 1 << 16


@dataclass
class Batch:
    """A batch of sequence problems: ``x`` (T, B, inputs) and ``y`` (T, B, outputs), bit 0 first."""

    x: np.ndarray
    y: np.ndarray

    @property
    def size(self) -> int:
        return self.x.shape[1]


def int_to_bits(values: Sequence[int] | np.ndarray, bits: int) -> np.ndarray:
    """Non-negative integers of any size as a (bits, len(values)) float array, least significant bit first."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu" and bits <= 63:
        return ((values[None, :] >> np.arange(bits)[:, None]) & 1).astype(np.float64)
    columns = []
    for v in values:
        raw = np.frombuffer(int(v).to_bytes((bits + 7) // 8, "little"), dtype=np.uint8)
        columns.append(np.unpackbits(raw, bitorder="little")[:bits])
    return np.stack(columns, axis=1).astype(np.float64) if columns else np.zeros((bits, 0))


@functools.lru_cache(maxsize=64)
def _shifts(bits: int) -> np.ndarray:
    return np.arange(bits)[:, None, None]


# Up to this many bits, the bits of a value are read from a table of every value's bits (2**12 values of 12
# bits: 384 KiB), one gather instead of a shift, a mask and a conversion per array.
_TABLE_BITS = 12


@functools.lru_cache(maxsize=_TABLE_BITS)
def _bit_table(bits: int) -> np.ndarray:
    """(bits, 2**bits) floats: column v holds the bits of v, least significant first."""
    return int_to_bits(np.arange(1 << bits), bits)


def _pair_bits(pairs: np.ndarray, results: np.ndarray, bits: int) -> Batch:
    """The bits of int operand pairs (B, 2) and results (B,) as a batch, as ``encode`` makes it, in fewer calls
    (sampling runs every training iteration). Every value must be below 2**bits."""
    if bits <= _TABLE_BITS:
        table = _bit_table(bits)  # np.take refuses a value outside the table
        return Batch(np.take(table, pairs, axis=1), np.take(table, results, axis=1)[:, :, None])
    shifts = _shifts(bits)
    x = ((pairs[None] >> shifts) & 1).astype(np.float64)
    y = ((results[None, :, None] >> shifts) & 1).astype(np.float64)
    return Batch(x, y)


def bits_to_int(bits: np.ndarray) -> int:
    """The integer whose bits, least significant first, are ``bits`` (rounded at 0.5 as the post does)."""
    packed = np.packbits(np.round(np.asarray(bits)).astype(np.uint8), bitorder="little")
    return int.from_bytes(packed.tobytes(), "little")


@dataclass(frozen=True)
class Option:
    """A setting of a generator that a task file gives in its ``[task]`` section, beside ``generator`` and ``bits``:
    its ``default`` (whose type is the type it takes: an int, a float, a string or a bool), the least and the
    most it may be (numbers), and what it is, in a few words (``help``: the task file's error messages say it).

    Examples
    --------
    >>> Option(1, low=1, high=64, help="how many steps back to echo").expected
    'an integer from 1 to 64 (how many steps back to echo)'
    """

    default: Any
    low: float | None = None
    high: float | None = None
    help: str = ""

    @property
    def kind(self) -> type:
        return type(self.default)

    @property
    def expected(self) -> str:
        """What a value must be, in words."""
        noun = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(self.kind,
                                                                                                  self.kind.__name__)
        low, high = self.low, self.high
        span = (f" from {low:,} to {high:,}" if low is not None and high is not None else
                f" of at least {low:,}" if low is not None else f" of at most {high:,}" if high is not None else "")
        return f"{noun}{span}" + (f" ({self.help})" if self.help else "")

    def allows(self, value: Any) -> bool:
        """Whether ``value`` (already of :attr:`kind`) is within the bounds."""
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


class Generator:
    """Base class: a family of sequence problems with fixed input and output widths.

    ``options`` are its settings that a task file gives in ``[task]`` (``delayed_echo``'s ``delay``), each an
    :class:`Option`; :meth:`configured` gives the generator with a task's values of them.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    inputs: ClassVar[int] = 1
    outputs: ClassVar[int] = 1
    options: ClassVar[Mapping[str, Option]] = {}

    def sample(self, rng: np.random.RandomState, batch: int, bits: int) -> Batch:
        """``batch`` random problems of ``bits`` steps."""
        raise NotImplementedError

    def sample_many(self, rng: np.random.RandomState, count: int, batch: int, bits: int) -> Batch:
        """What ``count`` calls of ``sample(rng, batch, bits)`` draw, in that order, as one batch of
        ``count * batch`` problems (training draws many iterations' problems at once).

        By default it makes those calls; a generator whose random stream does not depend on how its problems
        are split into batches says so by drawing them in one call.
        """
        batches = [self.sample(rng, batch, bits) for _ in range(count)]
        return Batch(np.concatenate([b.x for b in batches], axis=1), np.concatenate([b.y for b in batches], axis=1))

    def all_problems(self, bits: int) -> Batch | None:
        """Every problem of ``bits`` steps, or None when there are more than ``EXHAUSTIVE_LIMIT``."""
        return None

    def describe(self, batch: Batch, i: int, predicted: np.ndarray) -> str:
        """Problem ``i`` of ``batch`` and the ``predicted`` output bits (T, outputs) as one line."""
        return f"in {_bit_string(batch.x[:, i])} -> out {_bit_string(predicted)} (true {_bit_string(batch.y[:, i])})"

    def configured(self, task_section) -> Generator:
        """This generator with the values of its :attr:`options` that a task file's ``[task]`` section gives
        (``task_section.delay``): by default a copy with each set as an attribute of that name. A generator that
        derives more from them overrides this (``delayed_echo`` names its hidden fact after its delay)."""
        if not self.options:
            return self
        configured = copy.copy(self)
        for key in self.options:
            setattr(configured, key, getattr(task_section, key))
        return configured

    #: How a user writes one problem for :meth:`example` (``render --example``); empty: no examples.
    example_form: ClassVar[str] = ""

    def example(self, text: str, bits: int | None = None) -> Batch:
        """The one problem written ``text`` (see ``example_form``) over ``bits`` steps (default: as few as it
        needs); ValueError saying what was expected if ``text`` is not one or needs more steps."""
        raise ValueError(f"the {self.name or type(self).__name__} generator takes no examples")

    #: The hidden fact of the problems, in a word or two (``carry``): what the network's state must hold after
    #: a step for the steps after it to be right. Empty: none is declared (``graphnet probe`` refuses the
    #: task). A generator that names one gives its values in :meth:`fact_values`; a configured generator may
    #: name its own (``delayed_echo`` does).
    fact: str = ""

    def fact_values(self, batch: Batch) -> np.ndarray:
        """The hidden fact after every step of every problem of ``batch``: (T, B) integers from 0 (classes:
        0 or 1 for a bit, 0, 1 or 2 for a carry that can be 2). Entry ``[t, i]`` is what the state must hold once
        it has read ``x[t]``, the value step ``t + 1`` needs: for addition, the carry out of bit ``t``."""
        raise NotImplementedError(f"the {self.name or type(self).__name__} generator declares no hidden fact")


def _steps(needed: int, bits: int | None) -> int:
    if bits is not None and bits < needed:
        raise ValueError(f"needs at least {needed} steps, got {bits}")
    return needed if bits is None else bits


def _encode_pairs(a, b, bits: int, combine) -> Batch:
    """The problems combine(a[i], b[i]) over ``bits`` steps; Python ints where int64 would overflow."""
    if isinstance(a, np.ndarray) and bits <= 63:
        return _pair_bits(np.stack([a, b], axis=1), combine(a, b), bits)
    a, b = [int(v) for v in a], [int(v) for v in b]
    x = np.stack([int_to_bits(a, bits), int_to_bits(b, bits)], axis=2)
    return Batch(x, int_to_bits([combine(u, v) for u, v in zip(a, b)], bits)[:, :, None])


def _two_operands(text: str, sign: str, form: str) -> tuple[int, int]:
    a, found, b = text.partition(sign)
    try:
        if found and int(a) >= 0 and int(b) >= 0:
            return int(a), int(b)
    except ValueError:
        pass
    raise ValueError(f"expected {form}")


def _bit_string(bits: np.ndarray) -> str:
    """Bits (T, width), most significant step first, each step's bits together: '1011' or '10 01 11'."""
    rows = np.round(np.asarray(bits).reshape(len(bits), -1)[::-1]).astype(int)
    return " ".join("".join(map(str, row)) for row in rows) if rows.shape[1] > 1 else "".join(map(str, rows[:, 0]))


def checked(generator: Generator, batch: object, method: str, steps: int | None, size: int | None = None) -> Batch:
    """``batch``, what ``generator.method(...)`` returned, if it is what that method must return: a Batch of
    ``x`` (steps, problems, inputs) and ``y`` (steps, problems, outputs) numbers, of ``steps`` steps and ``size``
    problems when given. Else a TaskError naming the generator as its culprit (a generator of a plugin may get
    it wrong, and a run fed the wrong shapes would fail far from the mistake)."""
    said = f"generator {generator.name or type(generator).__name__!r}: {method} returned"
    if not isinstance(batch, Batch):
        raise TaskError(f"{said} {type(batch).__name__}; expected a Batch(x, y)", culprit=generator)
    first = np.shape(batch.x)[:2] if np.ndim(batch.x) == 3 else (None, None)
    for name, array, width, what in (("x", batch.x, generator.inputs, "inputs"),
                                     ("y", batch.y, generator.outputs, "outputs")):
        wanted = (first[0] if steps is None else steps, first[1] if size is None else size, width)
        if not isinstance(array, np.ndarray) or array.shape != wanted or array.dtype.kind not in "biuf":
            found = f"{getattr(array, 'dtype', type(array).__name__)} {np.shape(array)}"
            raise TaskError(f"{said} {name} of {found}; expected numbers of shape {wanted}: (steps, problems, "
                            f"{what}) with {what} = {width}", culprit=generator)
    return batch


_GENERATORS: Registry[Generator] = Registry("generator", TaskError)
register_generator = _GENERATORS.register  # class decorator: @register_generator("binary_parity")
get_generator = _GENERATORS.get  # the registered generator called ``name``
registered_generators = _GENERATORS.all  # every registered generator, by name
unregister_generator = _GENERATORS.unregister  # forget a generator (a throwaway one of a notebook or a test)


@register_generator("binary_addition")
class BinaryAddition(Generator):
    """a + b, both operands below 2**(bits-1) so the sum fits in bits: the post's task."""

    inputs = 2
    outputs = 1

    def sample(self, rng, batch, bits):
        if bits - 1 <= _INT_BITS:
            # One draw of a, then one of b, per example: the post's random stream.
            ab = rng.randint(1 << (bits - 1), size=(batch, 2))
            return _pair_bits(ab, ab[:, 0] + ab[:, 1], bits)
        operand_bits = rng.randint(2, size=(bits - 1, batch, 2)).astype(np.float64)
        x = np.concatenate([operand_bits, np.zeros((1, batch, 2))])
        return Batch(x, _add_bits(x))

    def sample_many(self, rng, count, batch, bits):
        if bits - 1 <= _INT_BITS:  # example after example: one call draws what `count` calls would
            return self.sample(rng, count * batch, bits)
        return super().sample_many(rng, count, batch, bits)

    def all_problems(self, bits):
        count = 1 << (bits - 1)
        if count * count > EXHAUSTIVE_LIMIT:
            return None
        a, b = np.divmod(np.arange(count * count), count)
        return self.encode(a, b, bits)

    def encode(self, a, b, bits: int) -> Batch:
        """The problems a[i] + b[i] over ``bits`` steps."""
        return _encode_pairs(a, b, bits, operator.add)

    def describe(self, batch, i, predicted):
        a, b = bits_to_int(batch.x[:, i, 0]), bits_to_int(batch.x[:, i, 1])
        return f"{a} + {b} = {bits_to_int(predicted[:, 0])}"

    example_form = "A+B with non-negative integers, e.g. 9+60"

    def example(self, text, bits=None):
        a, b = _two_operands(text, "+", self.example_form)
        return self.encode([a], [b], _steps(max(a.bit_length(), b.bit_length()) + 1, bits))

    fact = "carry"

    def fact_values(self, batch):
        """The carry out of each bit: 1 where a[t] + b[t] + the carry into bit t is 2 or more."""
        return _carried(batch.x, _carry_out)


def _carry_out(a: np.ndarray, b: np.ndarray, carry: np.ndarray) -> np.ndarray:
    return a + b + carry >= 2


def _borrow_out(a: np.ndarray, b: np.ndarray, borrow: np.ndarray) -> np.ndarray:
    return a - b - borrow < 0


def _carried(x: np.ndarray, out_of: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """(T, B) ints: what each step of operand bits x (T, B, 2) passes to the next, ``out_of(a, b, carried in)``
    (0 into the first step): the carry of an addition, the borrow of a subtraction."""
    carried = np.zeros(x.shape[:2], dtype=np.int64)
    for t in range(x.shape[0]):
        carried[t] = out_of(x[t, :, 0], x[t, :, 1], carried[t - 1] if t else 0)
    return carried


def _add_bits(x: np.ndarray) -> np.ndarray:
    """The sum bits of operand bits x (T, B, 2), by carrying the one: for operands too wide for int64."""
    carried_in = np.concatenate([np.zeros((1, x.shape[1])), _carried(x, _carry_out)[:-1]])
    return ((x[:, :, 0] + x[:, :, 1] + carried_in) % 2)[:, :, None]


@register_generator("binary_subtraction")
class BinarySubtraction(Generator):
    """a - b with a >= b, both below 2**bits: the network must learn to borrow."""

    inputs = 2
    outputs = 1

    def sample(self, rng, batch, bits):
        if bits <= _INT_BITS:
            ab = np.sort(rng.randint(1 << bits, size=(batch, 2)), axis=1)[:, ::-1]
            return _pair_bits(ab, ab[:, 0] - ab[:, 1], bits)
        pairs = [sorted((_random_int(rng, bits), _random_int(rng, bits)), reverse=True) for _ in range(batch)]
        return self.encode([a for a, _ in pairs], [b for _, b in pairs], bits)

    def sample_many(self, rng, count, batch, bits):
        if bits <= _INT_BITS:  # example after example: one call draws what `count` calls would
            return self.sample(rng, count * batch, bits)
        return super().sample_many(rng, count, batch, bits)

    def all_problems(self, bits):
        count = 1 << bits
        if count * (count + 1) // 2 > EXHAUSTIVE_LIMIT:
            return None
        a, b = np.divmod(np.arange(count * count), count)
        keep = a >= b
        return self.encode(a[keep], b[keep], bits)

    def encode(self, a, b, bits: int) -> Batch:
        """The problems a[i] - b[i] over ``bits`` steps (a[i] >= b[i])."""
        return _encode_pairs(a, b, bits, operator.sub)

    def describe(self, batch, i, predicted):
        a, b = bits_to_int(batch.x[:, i, 0]), bits_to_int(batch.x[:, i, 1])
        return f"{a} - {b} = {bits_to_int(predicted[:, 0])}"

    example_form = "A-B with integers A >= B >= 0, e.g. 60-9"

    def example(self, text, bits=None):
        a, b = _two_operands(text, "-", self.example_form)
        if a < b:
            raise ValueError(f"expected {self.example_form}")
        return self.encode([a], [b], _steps(max(a.bit_length(), 1), bits))

    fact = "borrow"

    def fact_values(self, batch):
        """The borrow out of each bit: 1 where a[t] - b[t] - the borrow into bit t is below 0."""
        return _carried(batch.x, _borrow_out)


def _random_int(rng: np.random.RandomState, bits: int) -> int:
    return bits_to_int(rng.randint(2, size=bits))


class _BitStream(Generator):
    """One random bit in per step; the output is a function of the bits seen so far."""

    inputs = 1
    outputs = 1

    def target(self, x: np.ndarray) -> np.ndarray:
        """Output bits (T, B, 1) for input bits x (T, B, 1)."""
        raise NotImplementedError

    def sample(self, rng, batch, bits):
        x = rng.randint(2, size=(bits, batch, 1)).astype(np.float64)
        return Batch(x, self.target(x))

    def all_problems(self, bits):
        if (1 << bits) > EXHAUSTIVE_LIMIT:
            return None
        x = int_to_bits(np.arange(1 << bits), bits)[:, :, None]
        return Batch(x, self.target(x))

    example_form = "the input bits, the last step first as the log prints them, e.g. 1011"

    def example(self, text, bits=None):
        if not text or set(text) - {"0", "1"}:
            raise ValueError(f"expected {self.example_form}")
        # Written like a binary number: the first step is the last character; more steps are zeros after it.
        x = int_to_bits([int(text, 2)], _steps(len(text), bits))[:, :, None]
        return Batch(x, self.target(x))


@register_generator("running_parity")
class RunningParity(_BitStream):
    """At every step, the xor of all the bits seen so far."""

    def target(self, x):
        return np.cumsum(x, axis=0) % 2

    fact = "parity"

    def fact_values(self, batch):
        """The parity of the bits so far, step t's own included: the target itself, which no input shows."""
        return self.target(batch.x)[:, :, 0].astype(np.int64)


@register_generator("delayed_echo")
class DelayedEcho(_BitStream):
    """At every step, the input bit from ``delay`` steps earlier (0 before there was one)."""

    options = {"delay": Option(1, low=1, high=64, help="how many steps back to echo")}
    delay = 1
    # After step t the state must hold the last ``delay`` inputs; the oldest of them, x[t - delay + 1], is the
    # one the next step echoes and the one furthest from any input: the hidden fact (x[t] for a delay of 1,
    # which the step's own input shows).
    fact = "x[t]"

    def configured(self, task_section):
        echo = super().configured(task_section)
        echo.fact = f"x[t-{echo.delay - 1}]" if echo.delay > 1 else "x[t]"
        return echo

    def target(self, x):
        y = np.zeros_like(x)
        y[self.delay :] = x[: len(x) - self.delay]
        return y

    def fact_values(self, batch):
        """The input bit ``delay - 1`` steps back (0 before the first): what step t + 1 echoes."""
        held = np.zeros(batch.x.shape[:2], dtype=np.int64)
        back = self.delay - 1
        held[back:] = batch.x[: len(batch.x) - back, :, 0]
        return held
