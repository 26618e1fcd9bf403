"""The module paths and names of earlier versions, kept importing for now, each with a DeprecationWarning.

``graphnet.nodes``, ``graphnet.cells``, ``graphnet.training`` and the others were flat modules; their contents
now live in the layers (``graphnet.engine``, ``graphnet.rnn``, ``graphnet.app``) and what plugins need is at
the top, ``from graphnet import ...``. Importing an old path gives a module with its old names, made from the
new places, and a warning that names them. Nothing in graphnet imports these paths.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

# old module -> (the modules its names now come from, old names that changed -> their new names)
MOVED: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "graphnet.nodes": (("graphnet.engine.node", "graphnet.engine.nodes"),
                       {"register": "register_node", "get": "get_node", "registered": "registered_nodes",
                        "unregister": "unregister_node"}),
    "graphnet.graph": (("graphnet.engine.graph", "graphnet.engine.program"), {}),
    "graphnet.registry": (("graphnet.engine.registry",), {}),
    "graphnet.gradcheck": (("graphnet.engine.gradcheck",), {}),
    "graphnet.cells": (("graphnet.rnn.cells", "graphnet.rnn.network"), {}),
    "graphnet.data": (("graphnet.rnn.data",), {}),
    "graphnet.tasks": (("graphnet.app.tasks",), {}),
    "graphnet.training": (("graphnet.app.training", "graphnet.app.weights"), {"add": "add_integers"}),
    "graphnet.checkpoint": (("graphnet.app.checkpoint",), {}),
    "graphnet.sweep": (("graphnet.app.sweep",), {}),
    "graphnet.plugins": (("graphnet.app.plugins",), {}),
    "graphnet.files": (("graphnet.app.files",), {}),
}

# names that were at the top, ``graphnet.NAME``, and are now called otherwise
RENAMED_AT_TOP = {"register": "register_node", "get": "get_node", "add": "add_integers"}


def check_task_network(task, *, steps=None, batch=3, seed=0, params=None):
    """Earlier ``graphnet.gradcheck.check_task_network``: now ``check_network(network, generator, steps)``."""
    from .rnn.network import check_network

    return check_network(task.build_network(), task.generator, steps or task.problem.bits, batch=batch, seed=seed,
                         params=params)


def _old_module(name: str) -> ModuleType:
    sources, renamed = MOVED[name]
    module = ModuleType(name, f"Moved: see {', '.join(sources)}.")
    for source in sources:
        module.__dict__.update({k: v for k, v in vars(importlib.import_module(source)).items()
                                if not k.startswith("__")})
    for old, new in renamed.items():
        module.__dict__[old] = module.__dict__[new]
    if name == "graphnet.gradcheck":
        module.check_task_network = check_task_network
    return module


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the old module paths: each is made from the new modules, with a DeprecationWarning."""

    def find_spec(self, fullname, path, target=None):
        if fullname in MOVED:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec):
        sources, renamed = MOVED[spec.name]
        new_names = f"; renamed: {', '.join(f'{a} -> {b}' for a, b in renamed.items())}" if renamed else ""
        warnings.warn(f"{spec.name} moved to {' and '.join(sources)} (what plugins need is in graphnet itself: "
                      f"from graphnet import ...){new_names}; the old path will go away",
                      DeprecationWarning, stacklevel=2)
        return _old_module(spec.name)

    def exec_module(self, module):
        pass


def renamed_at_top(name: str):
    """``graphnet.register`` and the other old top-level names, with a DeprecationWarning."""
    if name not in RENAMED_AT_TOP:
        raise AttributeError(f"module 'graphnet' has no attribute {name!r}")
    new = RENAMED_AT_TOP[name]
    warnings.warn(f"graphnet.{name} is now graphnet.{new}; the old name will go away", DeprecationWarning,
                  stacklevel=3)
    return getattr(sys.modules["graphnet"], new)


if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
    sys.meta_path.insert(0, _Finder())
