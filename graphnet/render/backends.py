"""Laying a picture out and writing it: Graphviz through pygraphviz (the ``render`` extra) or the ``dot``
program, the formats a picture is written in, and :class:`Fixed`, a layout computed once and drawn again with
other numbers (the frames of an animation).

Graphviz's ``dot`` places the nodes and routes the edges, which takes nearly all of the time (seconds for a
gated cell's picture); drawing a picture whose places are given (Graphviz's ``nop2``, ``neato -n2``) takes a
small part of it. The frames of an animation differ only in the numbers in their cells, so they are laid out
once.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import graphviz
import networkx as nx

from ..app.files import write_bytes, write_new
from ..engine.graph import Graph
from ..errors import RenderError

if TYPE_CHECKING:
    from .picture import Picture

FORMATS = (".dot", ".svg", ".png", ".pdf", ".json")
INSTALL = ("Get it with 'apt-get install graphviz' (Debian/Ubuntu), 'brew install graphviz' (macOS), or, in "
           "graphnet's checkout, pip install -e '.[render]'")


def node_link_json(graph: Graph) -> str:
    """The graph as networkx node-link JSON: keys, kinds, node types, steps, shapes, argument order."""
    return json.dumps(nx.node_link_data(graph.nx, edges="edges"), indent=1)


def write(dot: graphviz.Digraph, graph: Graph, path: str | Path) -> Path:
    """Write the picture to ``path`` in the format its extension names; return the path written.

    ``.dot`` and ``.json`` need no Graphviz program. ``.svg``, ``.png`` and ``.pdf`` are laid out by pygraphviz
    (the ``render`` extra, ``pip install -e '.[render]'``, which carries Graphviz) or, without it, the ``dot``
    program. Without either, the ``.dot`` is written beside ``path`` and a :class:`RenderError` says how to get
    Graphviz.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise RenderError(f"{path}: unknown output format {suffix or '(none)'!r}; expected one of {', '.join(FORMATS)}")
    if suffix == ".dot":
        write_bytes(path, dot.source.encode())
    elif suffix == ".json":
        write_bytes(path, node_link_json(graph).encode())
    else:
        write_bytes(path, layout(dot, suffix[1:], path))
    return path


def _pygraphviz():
    """pygraphviz, if it is installed (the ``render`` extra), else None."""
    try:
        import pygraphviz
    except ImportError:
        return None
    return pygraphviz


def layout(dot: graphviz.Digraph, fmt: str, path: Path | None = None) -> bytes:
    """Lay out and render ``dot`` as ``fmt`` bytes, with pygraphviz if it is installed, else the dot program.

    pygraphviz first: its wheel carries its own Graphviz, the same on every machine for one version of it, so a
    picture comes out the same wherever it is drawn (a system's ``dot`` may be years older or newer).
    """
    pygraphviz = _pygraphviz()
    if pygraphviz is not None:
        with _quiet_stderr():  # its bundled fontconfig warns about the system's config on every call
            return pygraphviz.AGraph(string=dot.source).draw(format=fmt, prog="dot")
    if shutil.which("dot"):
        return _dot_program(dot, fmt, path)
    hint = ""
    if path is not None:  # the DOT source beside it, as a new file only: it replaces nothing nobody named
        fallback = path.with_suffix(".dot")
        hint = (f"; wrote {fallback} instead" if write_new(fallback, dot.source.encode()) else
                f"; {fallback} exists, so the DOT source was not written there (-o FILE.dot writes it)")
    raise RenderError(f"{f'{path}: ' if path else ''}drawing .{fmt} needs Graphviz's dot program{hint}. {INSTALL}")


def have_graphviz() -> bool:
    """Whether pictures can be laid out here: with pygraphviz (the ``render`` extra) or the ``dot`` program."""
    return _pygraphviz() is not None or shutil.which("dot") is not None


def _dot_program(dot: graphviz.Digraph, fmt: str, path: Path | None) -> bytes:
    """Render with the system's ``dot``. Its edge router for ``splines=ortho`` crashes on some of graphnet's
    pictures in Graphviz 2.43 (Debian's and Ubuntu's: an assertion in maze.c); such a picture is drawn again
    with straight edges, as pictures of many steps are."""
    try:
        return dot.pipe(format=fmt, quiet=True)
    except subprocess.CalledProcessError as failed:
        if dot.graph_attr.get("splines") == "ortho":
            straight = dot.copy()  # the caller's picture stays as it is
            straight.graph_attr["splines"] = "line"
            return _dot_program(straight, fmt, path)
        raise _failed(failed, path) from None


def _failed(failed: subprocess.CalledProcessError, path: Path | None) -> RenderError:
    said = (failed.stderr or b"").decode(errors="replace").strip().splitlines()
    return RenderError(
        f"{path or 'picture'}: Graphviz's {failed.cmd[0] if failed.cmd else 'dot'} program failed "
        f"({said[-1] if said else f'exit {failed.returncode}'}); in graphnet's checkout, pip install -e "
        "'.[render]' draws with the Graphviz pygraphviz carries")


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# -- laid out once ----------------------------------------------------------------------------------------------
# A cell in a label, by its id: a cell holds no table of its own, so its end is the first </TD> after it.
_CELL = re.compile(r'<TD ID="([^"]*)".*?</TD>', re.S)


def skeleton(source: str) -> str:
    """``source`` with each cell's contents left out: what two frames laid out alike have in common."""
    return _CELL.sub(lambda m: m.group(1), source)


class Fixed:
    """A picture laid out once, and pictures made like it drawn in its places without laying them out again.

    Made like it: the same nodes, edges and labels, differing only in their cells (an animation's frames). The
    layout is Graphviz's own output in its ``dot`` format, every node, edge and cluster with its position; a
    picture is drawn from it with each cell's contents replaced by that picture's.

    ``width`` and ``height`` are the layout's size in points.

    Examples
    --------
    >>> from graphnet import load_task
    >>> from graphnet.render import to_digraph
    >>> graph = load_task("tasks/binary_addition.toml").build_network().graph(2)
    >>> fixed = Fixed(to_digraph(graph, caption="one"))
    >>> fixed.draw(to_digraph(graph, caption="two"), "svg").count(b">two<")
    1
    """

    def __init__(self, picture: Picture, path: Path | None = None) -> None:
        self.skeleton = skeleton(picture.source)
        self.path = path
        self.positioned = layout(picture, "dot", path).decode()
        box = re.search(r'\bbb="([-\d.]+),([-\d.]+),([-\d.]+),([-\d.]+)"', self.positioned)
        self.width, self.height = float(box.group(3)) - float(box.group(1)), float(box.group(4)) - float(box.group(2))

    def draw(self, picture: Picture, fmt: str, dpi: float | None = None) -> bytes:
        """``picture`` as ``fmt`` bytes, in this layout's places (at ``dpi``, for a bitmap)."""
        if skeleton(picture.source) != self.skeleton:
            raise ValueError("a picture drawn in another's layout must differ from it only in its cells")
        cells = picture.cells
        positioned = _CELL.sub(lambda m: cells[html.unescape(m.group(1))].html(html.unescape(m.group(1))),
                               self.positioned)
        if dpi is not None:
            positioned = positioned.replace("{", f"{{\n\tdpi={dpi};", 1)  # a graph attribute, before any other
        pygraphviz = _pygraphviz()
        if pygraphviz is not None:
            with _quiet_stderr():
                return pygraphviz.AGraph(string=positioned).draw(format=fmt, prog="nop2")
        if not shutil.which("neato"):
            raise RenderError(f"{self.path or 'picture'}: drawing a laid-out picture needs Graphviz's neato "
                              f"program beside dot. {INSTALL}")
        try:  # the Graphviz that laid it out: the dot program's, whose neato -n2 draws what is placed
            return subprocess.run(["neato", "-n2", f"-T{fmt}"], input=positioned.encode(), capture_output=True,
                                  check=True).stdout
        except subprocess.CalledProcessError as failed:
            raise _failed(failed, self.path) from None
