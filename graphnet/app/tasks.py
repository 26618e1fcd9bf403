"""Task files: TOML read, checked key by key, with ``--set SECTION.KEY=VALUE`` overrides.

A task file fixes everything the post fixes as constants::

    [task]
    bits = 8                 # operands drawn below 2**(bits-1)
    [network]
    inputs = 2
    hidden = 16
    outputs = 1
    [training]
    learning_rate = 0.1
    iterations = 10000
    batch_size = 1
    seed = 0
    log_every = 1000

Every problem is reported as a :class:`~graphnet.errors.TaskError` whose message names the file, the key
and what was expected.

Examples
--------
>>> task = load_task("tasks/binary_addition.toml", ["network.hidden=8"])
>>> task.network.hidden, task.training.learning_rate
(8, 0.1)
"""

from __future__ import annotations

import difflib
import functools
import math
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Iterable

from ..engine.node import get_node, registered_nodes
from ..errors import GraphError, GraphnetError, TaskError
from ..rnn import data
from ..rnn.cells import get_cell, registered_cells
from ..rnn.network import INITS, Network
from .files import check_readable
from .plugins import load_plugins
from .quoting import lookalike_hint, lookalikes, printable

# Sizes past these are refused before any memory is spent on them.
MAX_HIDDEN = 4096
MAX_BITS = 1 << 20
MAX_BATCH = 1 << 16
MAX_TRAINING_BYTES = 4 << 30
MAX_ITERATIONS = 10**12  # about a year of the post's run; more is a typo
MAX_TASK_FILE_BYTES = 1 << 20  # a task file is a few hundred bytes; a bigger one is not one


REQUIRED = object()  # the default of a key a task file must give


@dataclass(frozen=True)
class Key:
    """What one key of a task file may hold."""

    kind: type
    check: Callable[[Any], bool]
    expected: str
    default: Any = REQUIRED

    def parse(self, value: Any) -> Any:
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            try:
                value = float(value)
            except OverflowError:  # an integer of hundreds of digits
                raise ValueError from None
        if self.kind is int and isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)
        if not isinstance(value, self.kind) or isinstance(value, bool) != (self.kind is bool):
            raise ValueError
        if not self.check(value):
            raise ValueError
        return value


def _int(lo: int, hi: int | None = None, default: Any = REQUIRED) -> Key:
    top = f" to {hi:,}" if hi is not None else " or more"
    return Key(int, lambda v: v >= lo and (hi is None or v <= hi), f"an integer from {lo}{top}", default)


def _positive_float(most: float = 1e6) -> Key:
    return Key(float, lambda v: math.isfinite(v) and 0 < v <= most, f"a finite number above 0 and at most {most:,.0f}")


def _name(default: str) -> Key:
    return Key(str, lambda v: bool(v.strip()), "a non-empty name", default)


def _choice(default: str, *choices: str) -> Key:
    return Key(str, lambda v: v in choices, f"one of {', '.join(map(repr, choices))}", default)


SCHEMA: dict[str, dict[str, Key]] = {
    "task": {
        "generator": _name("binary_addition"),
        "bits": _int(2, MAX_BITS),
        # and the options of the generator it names (delayed_echo's delay): see task_keys
    },
    "network": {
        "cell": _name("rnn"),
        "inputs": _int(1, MAX_HIDDEN),
        "hidden": _int(1, MAX_HIDDEN),
        "outputs": _int(1, MAX_HIDDEN),
        "activation": _name(""),  # "": the cell's own (sigmoid for rnn, tanh for lstm and gru)
        "loss": _choice("squared_error", "squared_error", "bce_with_logits"),
        "init": _choice("uniform", *INITS),  # how the weights start: the post's uniform [-1, 1), or all 0
    },
    "training": {
        "learning_rate": _positive_float(),
        "iterations": _int(0, MAX_ITERATIONS),
        "batch_size": _int(1, MAX_BATCH),
        "seed": _int(0, 2**32 - 1),
        "log_every": _int(0, MAX_ITERATIONS),
    },
}


# The task file's sections and the attributes of a Task that hold them.
SECTIONS = {"task": "problem", "network": "network", "training": "training"}


def task_keys(generator: str) -> dict[str, Key]:
    """The keys of a ``[task]`` section naming ``generator``: ``generator``, ``bits``, and the generator's options
    (none for a name nobody registered)."""
    try:
        options = data.get_generator(generator).options
    except GraphnetError:
        options = {}
    return {**SCHEMA["task"], **{key: _option_key(option) for key, option in options.items()}}


def _option_key(option: data.Option) -> Key:
    return Key(option.kind, option.allows, option.expected, option.default)


def _every_option() -> set[str]:
    """The options of every registered generator: the keys ``--set task.KEY=...`` may name."""
    return {key for name in data.registered_generators() for key in data.get_generator(name).options}


@dataclass(frozen=True)
class ProblemSection:
    """The ``[task]`` section: which problems to learn (``generator``), over how many bits, and the values of the
    generator's options (``options``, as (key, value) pairs; read one as an attribute: ``task.problem.delay``)."""

    generator: str
    bits: int
    options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not (isinstance(self.options, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in self.options)):
            raise TypeError(f"ProblemSection: options are (key, value) pairs, got {self.options!r}")

    def __getattr__(self, key: str) -> Any:  # only for what is not a field: an option
        # (read through __dict__ alone: pickle asks for attributes before the fields are set)
        for name, value in self.__dict__.get("options", ()):
            if name == key:
                return value
        raise AttributeError(f"the [task] section of the {self.__dict__.get('generator')!r} generator has no "
                             f"option {key!r}")


@dataclass(frozen=True)
class NetworkSection:
    cell: str
    inputs: int
    hidden: int
    outputs: int
    activation: str
    loss: str
    init: str = "uniform"


@dataclass(frozen=True)
class TrainingSection:
    learning_rate: float
    iterations: int
    batch_size: int
    seed: int
    log_every: int


@functools.lru_cache(maxsize=16)
def _network(cell, inputs: int, hidden: int, outputs: int, activation: str | None, loss: str,
             init: str = "uniform") -> Network:
    """One Network per description, shared by every task that describes it.

    A Network holds no weights or values, only its description and, per length, its unrolled graph (frozen)
    with the programs compiled from it. Building, scheduling and analysing that graph for stacking takes about
    2 ms, which a process training the same network again (a sweep, a benchmark's rounds, a resumed run)
    would otherwise spend on every ``train`` call. The cell instance is part of the key, so a cell registered
    anew (a reloaded plugin) gets a network of its own.
    """
    return Network(cell, inputs=inputs, hidden=hidden, outputs=outputs, activation=activation, loss=loss, init=init)


@dataclass(frozen=True)
class Task:
    """A checked task file: where it came from and its three sections (``problem`` is the file's ``[task]``)."""

    source: str
    problem: ProblemSection
    network: NetworkSection
    training: TrainingSection
    plugins: tuple[str, ...] = ()

    @property
    def generator(self) -> data.Generator:
        """The data generator the ``[task]`` section names, with its options."""
        return data.get_generator(self.problem.generator).configured(self.problem)

    def build_network(self) -> Network:
        """The network this task describes (its graphs are built on demand, per length).

        Tasks that describe the same network get the same object, with the graphs it has built; those stay
        alive while it is among the 16 networks last asked for. So a network cannot change, and its graphs are
        frozen: one task's user cannot change another's (``graph.copy()`` gives a graph of one's own).
        """
        n = self.network
        return _network(get_cell(n.cell), n.inputs, n.hidden, n.outputs, n.activation or None, n.loss, n.init)

    def with_settings(self, overrides: Iterable[str]) -> Task:
        """This task with ``SECTION.KEY=VALUE`` overrides, checked as :func:`load_task` checks them (the file is
        not read again: a sweep makes each of its settings so)."""
        # the keys the file gave (a default is given again by the check, and some, such as no activation, are
        # not values a file may write)
        schema = {**SCHEMA, "task": task_keys(self.problem.generator)}
        raw = {section: {k: v for k, v in keys.items() if v != schema[section][k].default}
               for section, keys in self.as_dict().items()}
        return _check(self.source, raw, self.plugins, _override(self.source, raw, overrides))

    def load_plugins(self) -> None:
        """Load the plugins the task file names (relative to its folder), as :func:`load_task` did: what a new
        process, such as a sweep's worker, needs before it builds the network."""
        _load_plugins(self.source, self.plugins)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """The task as plain data, one dict per section (what a TOML file of it would hold)."""
        sections = {section: {f.name: getattr(getattr(self, name), f.name) for f in fields(getattr(self, name))}
                    for section, name in SECTIONS.items()}
        sections["task"].update(sections["task"].pop("options"))
        return sections


def load_task(path: str | Path, overrides: Iterable[str] = ()) -> Task:
    """Read, override and check the task file at ``path``.

    ``overrides`` are ``SECTION.KEY=VALUE`` strings; VALUE is read as TOML (``8``, ``0.25``, ``"lstm"``), and
    a bare word that is not TOML is taken as a string (``network.cell=lstm``).
    """
    path = Path(path)
    source = str(path)
    check_readable(path, "task file", ".toml", TaskError, max_bytes=MAX_TASK_FILE_BYTES, suggest=_did_you_mean)
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a byte-order mark some editors write is not TOML
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskError(f"{source}: cannot read it as UTF-8 text ({exc.__class__.__name__})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TaskError(f"{source}: not valid TOML: {exc}{_invisible(text)}") from None
    except RecursionError:
        raise TaskError(f"{source}: not a task file: its tables or arrays are nested too deeply to read") from None
    if not raw:
        raise TaskError(f"{source}: is empty, expected the sections {', '.join(f'[{s}]' for s in SCHEMA)}")
    plugins = raw.pop("plugins", [])
    if not isinstance(plugins, list) or not all(isinstance(p, str) and p.strip() for p in plugins):
        raise TaskError(f"{source}: plugins: expected a list of module names or .py files, got {shown(plugins)}")
    _load_plugins(source, plugins)
    return _check(source, raw, tuple(plugins), _override(source, raw, overrides))


def _load_plugins(source: str, plugins: Iterable[str]) -> None:
    """Load the plugins the task file at ``source`` names, relative to its folder; a failure is the file's."""
    try:
        load_plugins(plugins, relative_to=Path(source).parent, source=f"{source}: plugins")
    except GraphnetError as exc:
        raise TaskError(str(exc)) from None


def _override(source: str, raw: dict[str, Any], overrides: Iterable[str]) -> dict[tuple[str, str], str]:
    """Put ``overrides`` (``SECTION.KEY=VALUE``) into the task's ``raw`` sections; return which --set gave each."""
    given_by = {}  # (section, key) -> the --set that gave the value: what a message about it names
    for override in overrides:
        section, key, value = parse_override(override)
        if (section, key) in given_by:  # the last would win silently, and the run be another than the one asked for
            raise TaskError(f"--set {override.strip()}: {section}.{key} is given twice (also {given_by[section, key]}); "
                            "give each key once")
        raw.setdefault(section, {})
        if not isinstance(raw[section], dict):
            raise TaskError(f"{source}: {section} must be a [{section}] section")
        raw[section][key] = value
        given_by[section, key] = f"--set {override.strip()}"
    return given_by


def _invisible(text: str) -> str:
    """``"; line 11 has an invisible U+200B ZERO WIDTH SPACE"`` for the first line of ``text`` holding a character
    that shows as nothing (pasted along with a key, it makes the line look right and read wrong); else ``""``."""
    for number, line in enumerate(text.splitlines(), 1):
        found = [said for said in lookalikes(line.strip()) if said.startswith("it has an invisible")]
        if found:
            return f"; line {number} {found[0][3:]}"
    return ""


def _did_you_mean(path: Path) -> str:
    """'; did you mean tasks/binary_addition.toml?' for a task file named almost right, or in tasks/."""
    try:
        folders = [path.parent, Path("tasks"), path.parent / "tasks"]
        candidates = {str(f / p.name) if str(f) != "." else p.name: p.name
                      for f in folders if f.is_dir() for p in f.glob("*.toml")}
    except OSError:
        return ""
    exact = [c for c, name in candidates.items() if name == path.name]
    close = exact or difflib.get_close_matches(str(path), list(candidates), n=1, cutoff=0.8)
    return f"; did you mean {close[0]}?" if close else ""


def parse_override(text: str) -> tuple[str, str, Any]:
    """``SECTION.KEY=VALUE`` as (section, key, value); refuse unknown keys here, with the known ones."""
    name, sep, value_text = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot or not section or not key:
        raise TaskError(f"--set {text}: expected SECTION.KEY=VALUE, e.g. --set network.hidden=8")
    if section not in SCHEMA:
        raise TaskError(f"--set {text}: unknown section {section!r}{lookalike_hint(section, SCHEMA)}; sections: "
                        f"{', '.join(SCHEMA)}")
    known = [*SCHEMA[section], *(sorted(_every_option()) if section == "task" else [])]
    if key not in known:
        raise TaskError(f"--set {text}: unknown key {key!r} in [{section}]{lookalike_hint(key, known)}; "
                        f"keys: {', '.join(known)}")
    try:
        value = tomllib.loads(f"v = {value_text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = value_text.strip()
    return section, key, value


def _check(source: str, raw: dict[str, Any], plugins: tuple[str, ...],
           given_by: dict[tuple[str, str], str] | None = None) -> Task:
    given_by = given_by or {}
    unknown = [s for s in raw if s not in SCHEMA]
    if unknown:
        raise TaskError(f"{source}: unknown section [{printable(unknown[0])}]{lookalike_hint(unknown[0], SCHEMA)}; "
                        f"expected {', '.join(f'[{s}]' for s in SCHEMA)}")
    for section in SCHEMA:
        if section in raw and not isinstance(raw[section], dict):
            raise TaskError(f"{source}: {section} must be a [{section}] section, got a value")
    # [task]'s keys are those of the generator it names, whose options a plugin may declare
    generator = raw.get("task", {}).get("generator", SCHEMA["task"]["generator"].default)
    if isinstance(generator, str) and generator.strip():
        where = given_by.get(("task", "generator"), f"{source}: [task] generator")
        _registered(data.get_generator, data.registered_generators, generator, where, "a generator")
    schema = {**SCHEMA, "task": task_keys(generator if isinstance(generator, str) else "")}
    for section, keys in schema.items():
        extra = [k for k in raw.get(section, {}) if k not in keys]
        if extra:  # before what is missing: a key spelt wrong is both, and this is what to fix
            close = difflib.get_close_matches(extra[0], list(keys), n=1)
            hint = lookalike_hint(extra[0], keys)[2:] or (f"did you mean {close[0]}?" if close else "")
            where = given_by.get((section, extra[0]), f"{source}: [{section}] {printable(extra[0])}")
            owners = [name for name in data.registered_generators()
                      if extra[0] in data.get_generator(name).options] if section == "task" else []
            if owners:  # an option of another generator
                hint = f"it is an option of the {' and '.join(owners)} generator, and this task's is {generator}; "
            raise TaskError(f"{where}: unknown key; {hint}{hint and not owners and ' ' or ''}keys: {', '.join(keys)}")
    # Every key the file lacks, in one line: a minimal file learns all it needs at once.
    missing = {section: [k for k, spec in keys.items() if spec.default is REQUIRED and k not in raw.get(section, {})]
               for section, keys in schema.items()}
    if any(missing.values()):
        lacking = "; ".join(f"[{section}] {', '.join(keys)}" for section, keys in missing.items() if keys)
        raise TaskError(f"{source}: missing {lacking} (tasks/binary_addition.toml shows every key, the README "
                        "says what each holds)")
    sections: dict[str, dict[str, Any]] = {}
    for section, keys in schema.items():
        given = raw[section]
        values = {}
        for key, spec in keys.items():
            if key not in given:
                values[key] = spec.default
                continue
            try:
                values[key] = spec.parse(given[key])
            except ValueError:
                where = given_by.get((section, key), f"{source}: [{section}] {key}")
                raise TaskError(f"{where}: expected {spec.expected}, got {shown(given[key])}"
                                f"{_size_estimate(section, key, given[key], spec)}") from None
        sections[section] = values
    problem = sections["task"]
    task = Task(
        source,
        ProblemSection(problem.pop("generator"), problem.pop("bits"), tuple(problem.items())),
        NetworkSection(**sections["network"]),
        TrainingSection(**sections["training"]),
        plugins,
    )
    _check_consistency(task)
    return task


def _registered(get: Callable[[str], Any], known: Callable[[], dict], name: str, where: str, what: str) -> Any:
    """``get(name)``, or a TaskError naming ``where`` for a name nobody registered (see :func:`unknown_hint`)."""
    try:
        return get(name)
    except (TaskError, GraphError) as exc:
        raise TaskError(f"{where}: {exc}{unknown_hint(name, known(), what)}") from None


def unknown_hint(name: str, known: Iterable[str], what: str) -> str:
    """What a message about a ``name`` nobody registered adds: a look-alike or invisible character in it pointed
    out, with the name meant; else where such things come from (``what``: "a node type", "a cell")."""
    return lookalike_hint(name, known) or (f"; {what} of your own is loaded with --plugin FILE.py, or plugins = "
                                           "[...] in the task file (docs/extending.md)")


def _check_consistency(task: Task) -> None:
    source = task.source
    problem = data.get_generator(task.problem.generator)  # registered: _check looked it up before the keys
    try:
        generator = problem.configured(task.problem)
    except (TaskError, GraphError) as exc:
        raise TaskError(f"{source}: {exc}") from None
    _registered(get_cell, registered_cells, task.network.cell, source, "a cell")
    activation = task.network.activation
    if activation:
        node_type = _registered(get_node, registered_nodes, activation, f"{source}: [network] activation",
                                "a node type")
        if node_type.arity != 1 or node_type.leaf:
            takes = "no inputs (a leaf)" if node_type.leaf else ("any number of inputs" if node_type.arity is None
                                                                 else f"{node_type.arity} inputs")
            raise TaskError(f"{source}: [network] activation: {activation!r} takes {takes}, expected a node type of "
                            "one input such as sigmoid, tanh or relu")
        hidden = (None, task.network.hidden)
        try:
            shape = tuple(node_type.shape(hidden))
        except (ValueError, TypeError, IndexError):
            shape = None
        if shape != hidden:
            raise TaskError(f"{source}: [network] activation: {activation!r} makes shape {shape} of a hidden layer "
                            f"{hidden}; expected an elementwise node type such as sigmoid, tanh or relu")
    for key in ("inputs", "outputs"):
        wanted, given = getattr(generator, key), getattr(task.network, key)
        if wanted != given:
            raise TaskError(
                f"{source}: [network] {key}: the {generator.name} task has {wanted} {key} per step, got {given}"
            )
    check_memory(
        f"{source}: this run (bits x batch_size x hidden = {task.problem.bits} x {task.training.batch_size} x "
        f"{task.network.hidden})",
        training_bytes(task),
    )


# Problems evaluated per forward pass. A batch of 1024 keeps a step's (batch, hidden) arrays in the CPU's L2
# cache; measured with the post's trained network, 1024 evaluates all 8-bit problems 3.6x faster than 4096,
# 64-bit ones 2x faster, and 1024-bit ones with 0.57 GB at peak instead of 1.41 GB.
EVAL_BATCH = 1024


def evaluation_bytes(task: Task, bits: int, samples: int) -> int:
    """A rough estimate of the memory evaluating ``samples`` random ``bits``-bit problems needs, in bytes."""
    n = task.network
    problems = bits * samples * (n.inputs + n.outputs) * 8 * 2  # the operands as integers, then as floats
    chunk = min(bits, 256) * min(samples, EVAL_BATCH) * 8 * n.hidden * 8  # what one chunk of the forward pass keeps
    return problems + chunk


def check_memory(what: str, needed: int) -> None:
    """Refuse, before spending it, more memory than MAX_TRAINING_BYTES, saying how much would be needed."""
    if needed > MAX_TRAINING_BYTES:
        raise TaskError(
            f"{what} would need about {needed / 2**30:.1f} GiB of memory; the limit is "
            f"{MAX_TRAINING_BYTES / 2**30:.0f} GiB"
        )


def shown(value: Any) -> str:
    """``value`` as a message shows it: short, even for a number of thousands of digits or a long string."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"a number of about {int(abs(value).bit_length() * 0.30103) + 1:,} digits"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:50]}... ({len(text):,} characters)"


def _size_estimate(section: str, key: str, value: Any, spec: Key) -> str:
    """For a size past its limit, what the post's run with that size would need: ' (about N GiB ...)'."""
    sizes = {("task", "bits"): "bits", ("network", "hidden"): "hidden", ("training", "batch_size"): "batch_size"}
    if (section, key) not in sizes or not isinstance(value, int) or isinstance(value, bool) or not 1 <= value < 10**15:
        return ""
    if spec.check(value) or value < 2:  # not too big: a value below the range needs no estimate
        return ""
    the_post = {"bits": 8, "hidden": 16, "batch_size": 1, sizes[section, key]: value}
    needed = _run_bytes(the_post["bits"], the_post["batch_size"], 2, the_post["hidden"], 1)
    return f" (a run with {key} = {value:,} would need about {needed / 2**30:,.1f} GiB)"


def training_bytes(task: Task) -> int:
    """A rough estimate of the memory one training iteration needs, in bytes."""
    n = task.network
    return _run_bytes(task.problem.bits, task.training.batch_size, n.inputs, n.hidden, n.outputs)


def _run_bytes(bits: int, batch_size: int, inputs: int, hidden: int, outputs: int) -> int:
    per_step = batch_size * (8 * hidden + 4 * outputs + inputs) * 8
    weights = 3 * (inputs * hidden + hidden * hidden + hidden * outputs) * 8
    return bits * per_step + weights
