"""Plugins: a user's own node types, cells and data generators, loaded without editing graphnet.

A plugin is a Python module that registers things when imported (``@register_node("softplus")``). It is named
on the command line (``--plugin my_nodes`` or ``--plugin path/to/my_nodes.py``), in a task file
(``plugins = ["my_nodes"]``, relative to the task file's folder), or by an installed package through the
entry-point group ``graphnet.nodes``::

    [project.entry-points."graphnet.nodes"]
    my_nodes = "my_package.nodes"

A file is loaded once however it is named (``my_nodes``, ``my_nodes.py``, ``./my_nodes.py``, in a task file and
on the command line). A mistake in a plugin's code is reported as the plugin's (:func:`blame`): one line that
names its file, the node type, cell or generator, and what graphnet expected of it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
import traceback
import zlib
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Iterable, Iterator

from ..errors import GraphnetError, PluginError

ENTRY_POINT_GROUP = "graphnet.nodes"

# Every plugin loaded in this process: its module's name -> how messages name it (its file, or its entry point).
_LOADED: dict[str, str] = {}


def load_plugins(specs: Iterable[str], *, relative_to: Path | None = None, source: str = "--plugin") -> list[ModuleType]:
    """Import each plugin: a module name (found from the current folder too) or the path of a ``.py`` file.

    Naming a plugin twice, in any of its forms, is harmless: its file is imported once.
    """
    folder = Path(relative_to) if relative_to is not None else Path.cwd()
    return [_load_one(spec.strip(), folder, source) for spec in specs]


def _load_one(spec: str, folder: Path, source: str) -> ModuleType:
    try:
        if spec.endswith(".py"):
            path = Path(spec) if Path(spec).is_absolute() else folder / spec
            if not path.is_file():
                raise PluginError(f"{source} {spec}: no such file {path}")
            return _import_file(path.resolve())
        with _on_path(folder, Path.cwd()):
            found = _loaded_from(_origin(spec))  # a file already loaded by its path is not imported again
            module = found or importlib.import_module(spec)
        _LOADED.setdefault(module.__name__, _label(module))
        return module
    except PluginError:
        raise
    except GraphnetError as exc:  # e.g. a node type name that is taken
        raise PluginError(f"{source} {spec}: {_readable(str(exc))}") from None
    except SystemExit as exc:  # sys.exit() while importing: it must not end graphnet, silently, with its code
        raise PluginError(f"{source} {spec}: it called sys.exit({exc.code!r}) while being imported") from None
    except ModuleNotFoundError as exc:
        hint = ""
        if exc.name == spec:  # the module itself, not one it imports: perhaps a file in another folder
            hint = f"; give the path of its .py file (--plugin path/to/{spec}.py) or run from its folder"
        raise PluginError(f"{source} {spec}: cannot import it (ModuleNotFoundError: {exc}){hint}") from None
    except Exception as exc:  # noqa: BLE001 - anything a user's module raises while importing
        raise PluginError(f"{source} {spec}: cannot import it ({exc.__class__.__name__}: {exc})") from None


def _origin(name: str) -> Path | None:
    """The file module ``name`` would be imported from, without importing it (None if not found)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None  # importing it says why, with the messages above
    return Path(spec.origin).resolve() if spec is not None and spec.has_location and spec.origin else None


def _loaded_from(path: Path | None) -> ModuleType | None:
    """The module already imported from the file ``path``, under any name."""
    if path is None:
        return None
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve() == path:
            return module
    return None


def _import_file(path: Path) -> ModuleType:
    found = _loaded_from(path)
    if found is not None:
        _LOADED.setdefault(found.__name__, _label(found))
        return found
    # A name of its own (two plugins may be called nodes.py), the same in every process for the same file.
    name = f"graphnet_plugin_{path.stem}_{zlib.crc32(str(path).encode()):08x}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    _LOADED[name] = _label(module)  # before it runs: a mistake while it registers is already its own
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        del _LOADED[name]
        raise
    return module


def _label(module: ModuleType) -> str:
    """How a message names a plugin: its file, relative to the current folder when it is under it."""
    file = getattr(module, "__file__", None)
    if not file:
        return module.__name__
    path = Path(file)
    if path.name == "__init__.py":
        path = path.parent
    try:
        return os.path.relpath(path) if Path.cwd() in path.resolve().parents else str(path)
    except (OSError, ValueError):
        return str(path)


def _readable(text: str) -> str:
    """``text`` with the made-up module names of plugin files replaced by the files."""
    for name, label in _LOADED.items():
        text = text.replace(name, label)
    return text


@contextmanager
def _on_path(*folders: Path) -> Iterator[None]:
    added = [str(f) for f in folders if str(f) not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for f in added:
            sys.path.remove(f)


def load_entry_points() -> list[str]:
    """Import every installed plugin of the entry-point group ``graphnet.nodes``; return their names."""
    loaded = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        where = f"entry point {entry.name} ({entry.value})"
        try:
            module = entry.load()
        except GraphnetError as exc:
            raise PluginError(f"{where}: {_readable(str(exc))}") from None
        except Exception as exc:  # noqa: BLE001
            raise PluginError(f"{where}: cannot import it ({exc.__class__.__name__}: {exc})") from None
        if isinstance(module, ModuleType):
            _LOADED.setdefault(module.__name__, where)
        loaded.append(entry.name)
    return loaded


# -- a plugin's mistakes ----------------------------------------------------------------------------------------
# What graphnet expects of each method it calls on a plugin's node type, cell or generator: what a message about
# a method that raised says was expected.
EXPECTED = {
    "forward": "forward(ctx, *inputs) returns the node's value, an array of the shape its shape() gives",
    "backward": "backward(ctx, grad) returns a tuple of one gradient per input, each shaped like its input",
    "shape": "shape(*shapes) returns the output shape, or raises ValueError for shapes that do not fit",
    "sample_inputs": "sample_inputs(rng, batch, width) returns one random array per input",
    "parameters": "parameters(inputs, hidden) returns a dict of the cell's weights and their shapes",
    "step": "step(g, t, x, state, activation) adds a step to g and returns the new state's node keys, one per "
            "name in states",
    "sample": "sample(rng, batch, bits) returns a Batch of x (T, B, inputs) and y (T, B, outputs)",
    "sample_many": "sample_many(rng, count, batch, bits) returns what count calls of sample draw, as one Batch",
    "all_problems": "all_problems(bits) returns every problem as a Batch, or None when there are too many",
    "describe": "describe(batch, i, predicted) returns problem i and its predicted bits as one line",
    "example": "example(text, bits) returns the Batch of the one problem written text, or raises ValueError "
               "saying what was expected",
    "fact_values": "fact_values(batch) returns the hidden fact after every step, (steps, problems) whole numbers "
                   "from 0",
    "configured": "configured(task_section) returns the generator with the [task] section's options",
}


def plugin_of(thing: object) -> str | None:
    """The plugin that defined ``thing`` (a node type, cell or generator, or its class), as messages name it;
    None if it is graphnet's own or not from a loaded plugin."""
    cls = thing if isinstance(thing, type) else type(thing)
    module = getattr(cls, "__module__", "") or ""
    for name, label in _LOADED.items():
        if module == name or module.startswith(name + "."):
            return label
    return None


def blame(exc: BaseException) -> PluginError | None:
    """``exc`` as the mistake of the plugin whose code made it, in one line naming the plugin, the node type,
    cell or generator and what was expected; None if no plugin's code is to blame.

    A plugin is to blame when the error names its node type, cell or generator as the culprit (``culprit`` of a
    :class:`~graphnet.errors.GraphnetError`, or the engine's ``(node type 'x' of module)``: graphnet found a
    result of its code wrong), or when the error, or the one it was raised from, was raised while its code ran.
    """
    if not isinstance(exc, Exception) or isinstance(exc, PluginError):
        return None
    said, label = str(exc), None
    culprit = getattr(exc, "culprit", None)
    if culprit is not None:
        label = plugin_of(culprit)
    elif isinstance(exc, GraphnetError):  # the engine names where a node type not graphnet's own comes from
        found = _ENGINE_NAMES.search(said)
        if found and found.group(2) in _LOADED:
            said, label = said[: found.start()], _LOADED[found.group(2)]
    raised_in, frames = _plugin_frames(exc)
    if frames:
        (called, _, frame_label), (raised, line, _) = frames[0], frames[-1]  # what graphnet called, where it raised
        method, what = called.f_code.co_name, _describe(called.f_locals.get("self"))
        if label is None or not isinstance(exc, GraphnetError):  # the plugin's own exception, said as such
            said = f"{what}: {method}" if what else method
            said += f" raised {raised_in.__class__.__name__}: {raised_in}"
        label = label or frame_label
        said += f" ({Path(raised.f_code.co_filename).name}, line {line})"
        said += f"; expected: {EXPECTED[method]}" if method in EXPECTED and what else ""
    return PluginError(f"plugin {label}: {_readable(said)}") if label else None


# The engine's words for a node type that is not graphnet's own: " (node type 'softplus' of my_nodes)".
_ENGINE_NAMES = re.compile(r" \(node type '([^']*)' of ([\w.]+)\)$")


def _plugin_frames(exc: BaseException) -> tuple[BaseException | None, list[tuple]]:
    """The frames of ``exc``'s traceback in a plugin's code, (frame, line, the plugin's label), outermost first,
    with the exception they belong to; if there are none, those of the exception it was raised from (the engine
    re-raises a node type's own), and so on."""
    places, seen = _plugin_places(), set()
    while exc is not None and id(exc) not in seen:  # a chain may loop back (``raise exc from exc``)
        seen.add(id(exc))
        frames = [(frame, line, label) for frame, line in traceback.walk_tb(exc.__traceback__)
                  if (label := _plugin_at(frame.f_code.co_filename, places))]
        if frames:
            return exc, frames
        exc = exc.__cause__ or exc.__context__
    return None, []


def _describe(owner: object) -> str:
    """``node type 'softplus'``, ``cell 'mgu'``, ``generator 'times_three'``: what a plugin's object is to graphnet."""
    from ..engine.node import Node
    from ..rnn.cells import Cell
    from ..rnn.data import Generator

    for base, kind in ((Node, "node type"), (Cell, "cell"), (Generator, "generator")):
        if isinstance(owner, base):
            return f"{kind} {getattr(owner, 'name', '') or type(owner).__name__!r}"
    return ""


def _plugin_places() -> list[tuple[str, bool, str]]:
    """Where every loaded plugin's code is: (its file, or its package's folder; whether a folder; its label)."""
    places = []
    for name, label in _LOADED.items():
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if file:
            package = hasattr(module, "__path__")
            places.append((_resolved(os.path.dirname(file) if package else file), package, label))
    return places


def _plugin_at(file: str, places: list[tuple[str, bool, str]]) -> str | None:
    """The label of the plugin whose code is in ``file``, if any."""
    file = _resolved(file)
    for place, folder, label in places:
        if file == place or folder and file.startswith(place + os.sep):
            return label
    return None


def _resolved(file: str) -> str:
    try:
        return str(Path(file).resolve())
    except (OSError, ValueError):
        return file
