"""Plugins: a user's own node types, cells and data generators, loaded without editing graphnet.

A plugin is a Python module that registers things when imported (``@register("softplus")``). It is named
on the command line (``--plugin my_nodes`` or ``--plugin path/to/my_nodes.py``), in a task file
(``plugins = ["my_nodes"]``, relative to the task file's folder), or by an installed package through the
entry-point group ``graphnet.nodes``::

    [project.entry-points."graphnet.nodes"]
    my_nodes = "my_package.nodes"
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Iterable, Iterator

from ..errors import GraphnetError, PluginError

ENTRY_POINT_GROUP = "graphnet.nodes"


def load_plugins(specs: Iterable[str], *, relative_to: Path | None = None, source: str = "--plugin") -> list[ModuleType]:
    """Import each plugin: a module name (found from the current folder too) or the path of a ``.py`` file.

    Importing a plugin twice is harmless: a module is imported once.
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
            return importlib.import_module(spec)
    except PluginError:
        raise
    except GraphnetError as exc:  # e.g. a node type name that is taken
        raise PluginError(f"{source} {spec}: {exc}") from None
    except SystemExit as exc:  # sys.exit() while importing: it must not end graphnet, silently, with its code
        raise PluginError(f"{source} {spec}: it called sys.exit({exc.code!r}) while being imported") from None
    except ModuleNotFoundError as exc:
        hint = ""
        if exc.name == spec:  # the module itself, not one it imports: perhaps a file in another folder
            hint = f"; give the path of its .py file (--plugin path/to/{spec}.py) or run from its folder"
        raise PluginError(f"{source} {spec}: cannot import it (ModuleNotFoundError: {exc}){hint}") from None
    except Exception as exc:  # noqa: BLE001 - anything a user's module raises while importing
        raise PluginError(f"{source} {spec}: cannot import it ({exc.__class__.__name__}: {exc})") from None


def _import_file(path: Path) -> ModuleType:
    name = f"graphnet_plugin_{path.stem}_{abs(hash(str(path))) % 10**8}"
    if name in sys.modules:
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


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
        try:
            entry.load()
        except GraphnetError as exc:
            raise PluginError(f"entry point {entry.name} ({entry.value}): {exc}") from None
        except Exception as exc:  # noqa: BLE001
            raise PluginError(
                f"entry point {entry.name} ({entry.value}): cannot import it ({exc.__class__.__name__}: {exc})"
            ) from None
        loaded.append(entry.name)
    return loaded
