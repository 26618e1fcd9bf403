"""The package's layers: each imports only the layers before it, the engine stands on its own, no cycles."""

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "graphnet"
# Each layer and what it may import besides itself (graphnet.errors, and the package's top for the CLI).
MAY_IMPORT = {
    "engine": {"errors"},
    "rnn": {"errors", "engine"},
    "app": {"errors", "engine", "rnn"},
    "render": {"errors", "engine", "rnn", "app"},
    "animate": {"errors", "engine", "rnn", "app", "render"},
    "cli": {"errors", "engine", "rnn", "app", "render", "animate", ""},
}


def graphnet_imports(path: Path, *, type_only: bool = False) -> set[str]:
    """The graphnet modules a file imports when it runs, absolute (``graphnet.engine.node``), from any place in
    it; not those under ``if TYPE_CHECKING:``, which only type checkers read, unless ``type_only``."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    package = package.removesuffix(".__init__")
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):  # drop the bodies of `if TYPE_CHECKING:`
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING" and not type_only:
            node.body = []
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            names = [name] if node.module else [f"{name}.{alias.name}" for alias in node.names]
            found.update(n for n in names if n.startswith("graphnet"))
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("graphnet"))
    return found


def layer(module: str) -> str:
    """``engine`` for ``graphnet.engine.node``; "" for the package's top (``graphnet``, ``graphnet.__version__``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and not parts[1].startswith("__") else ""


def modules(*, type_only: bool = False) -> dict[str, set[str]]:
    result = {}
    for path in PACKAGE.rglob("*.py"):
        if path.parent.parent.name == "exercises":  # a learner's file and its solution: plugins, importing graphnet
            continue
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        result[name] = graphnet_imports(path, type_only=type_only)
    return result


def test_each_layer_imports_only_the_layers_before_it():
    for module, imported in modules().items():
        if layer(module) not in MAY_IMPORT:
            continue  # the package's top (graphnet/__init__.py, the old paths) gathers every layer
        allowed = MAY_IMPORT[layer(module)] | {layer(module)}
        wrong = sorted(i for i in imported if layer(i) not in allowed)
        assert not wrong, f"{module} imports {wrong}"


def test_the_engine_stands_on_its_own():
    engine = {m: i for m, i in modules().items() if layer(m) == "engine"}
    assert {"graphnet.engine.node", "graphnet.engine.graph", "graphnet.engine.program"} <= set(engine)
    assert all(layer(i) in ("engine", "errors") for imported in engine.values() for i in imported)


def test_no_module_imports_in_a_cycle():
    found = modules()
    graph = nx.DiGraph((m, i) for m, imported in found.items() for i in imported if i in found and i != m)
    cycles = [c for c in nx.simple_cycles(graph) if not any(m == "graphnet" for m in c)]
    assert not cycles, cycles


def test_the_engines_modules_import_one_way_type_only_imports_included():
    # node <- nodes, node <- program <- graph <- stacking: the graph is data that compiles itself into a program, the
    # program knows no graph, and the rewrite is a function of graphs; no module imports its caller.
    engine = {m: i for m, i in modules(type_only=True).items() if layer(m) == "engine" and m != "graphnet.engine"}
    graph = nx.DiGraph((m, i) for m, imported in engine.items() for i in imported if i in engine and i != m)
    assert nx.is_directed_acyclic_graph(graph), list(nx.simple_cycles(graph))
    assert "graphnet.engine.graph" not in engine["graphnet.engine.program"]
    assert "graphnet.engine.stacking" not in engine["graphnet.engine.program"] | engine["graphnet.engine.graph"]
