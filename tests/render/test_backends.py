"""Laying a picture out and writing it: every format, with pygraphviz or the dot program or neither, in
Jupyter, and a layout made once for pictures that differ only in their numbers."""

import html
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import networkx as nx
import pytest

from drawn import Drawing
from pathlib import Path

from graphnet import load_task, render
from graphnet.errors import RenderError
from graphnet.render import backends
from graphnet.render import Fixed, to_digraph
from conftest import ROOT, TASK, run_cli

HAS_DOT = shutil.which("dot") is not None


def post_graph(steps):
    return load_task(TASK).build_network().graph(steps)


def test_json_loads_back_with_networkx(tmp_path):
    graph = post_graph(3)
    path = render.write(to_digraph(graph), graph, tmp_path / "g.json")
    loaded = nx.node_link_graph(json.loads(path.read_text()), edges="edges")
    assert set(loaded.nodes) == set(graph.nx.nodes)
    assert loaded.nodes["h_in[2]"]["inputs"] == ["x_synapse_0[2]", "h_synapse_h[2]"]
    assert loaded.nodes["synapse_h"]["shape"] == [16, 16] and loaded.nodes["h[1]"]["t"] == 1


@pytest.mark.skipif(not HAS_DOT, reason="needs Graphviz's dot program (CI installs it)")
@pytest.mark.parametrize("suffix, check", [
    (".svg", lambda data: ET.fromstring(data).tag.endswith("svg")),
    (".png", lambda data: data.startswith(b"\x89PNG\r\n\x1a\n")),
    (".pdf", lambda data: data.startswith(b"%PDF")),
])
def test_every_picture_format_through_the_cli(tmp_path, suffix, check):
    out = tmp_path / f"graph{suffix}"
    result = run_cli("render", TASK, "--steps", "4", "-o", out)
    assert result.returncode == 0, result.stderr
    assert check(out.read_bytes())


def test_sixty_four_steps_render(tmp_path):
    result = run_cli("render", TASK, "--steps", "64", "-o", tmp_path / "g.svg")
    assert result.returncode == 0, result.stderr
    assert ET.parse(tmp_path / "g.svg").getroot().tag.endswith("svg")


def run_without_dot(tmp_path, *args, pygraphviz: bool):
    """The CLI with no dot program on PATH and, if asked, pygraphviz made unimportable."""
    import os
    import subprocess

    block = "" if pygraphviz else "sys.modules['pygraphviz'] = None; "
    code = f"import sys; {block}from graphnet.cli import main; sys.exit(main(sys.argv[1:]))"
    env = dict(os.environ, PATH=str(tmp_path / "empty-bin"))
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=str(TASK.parent.parent))


def test_without_dot_the_dot_file_still_works_and_pictures_say_how_to_get_graphviz(tmp_path):
    result = run_without_dot(tmp_path, "render", TASK, "-o", tmp_path / "g.dot", pygraphviz=False)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    (tmp_path / "g.dot").unlink()
    result = run_without_dot(tmp_path, "render", TASK, "-o", tmp_path / "g.svg", pygraphviz=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "apt-get install graphviz" in result.stderr and "pip install -e '.[render]'" in result.stderr
    assert (tmp_path / "g.dot").exists() and not (tmp_path / "g.svg").exists()


def test_without_dot_pygraphviz_renders(tmp_path):
    pytest.importorskip("pygraphviz")
    result = run_without_dot(tmp_path, "render", TASK, "--steps", "3", "-o", tmp_path / "g.svg", pygraphviz=True)
    assert result.returncode == 0, result.stderr
    assert ET.parse(tmp_path / "g.svg").getroot().tag.endswith("svg")


@pytest.mark.parametrize("args, message", [
    (["-o", "g.gif"], "unknown output format '.gif'"),
    (["-o", "g"], "unknown output format '(none)'"),
    (["-o", "g.dot", "--steps", "0"], "--steps: expected an integer of at least 1, got 0"),
    (["-o", "g.dot", "--steps", "5000"], "--steps 5000: more than 256 steps will not be legible"),
    (["-o", "g.dot", "--weights", "w.npz"], "--weights and --example go together"),
    (["-o", "g.dot", "--weights", "w.npz", "--example", "9-60"], "--example 9-60: expected A+B"),
    (["-o", "g.dot", "--weights", "w.npz", "--example=-1+3"], "--example -1+3: expected A+B"),
    (["-o", "g.dot", "--show", "grads"], "--show grads needs --weights and --example"),
    (["-o", "g.dot", "--show", "colours"], "invalid choice: 'colours'"),
    (["-o", "/no/such/dir/g.dot"], "folder /no/such/dir does not exist"),
])
def test_render_mistakes_end_in_one_line(tmp_path, args, message):
    result = run_cli("render", TASK, *args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_the_engine_never_imports_graphviz():
    import subprocess

    code = "import sys, graphnet, graphnet.cli, graphnet.app.training; print('graphviz' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_in_jupyter_a_picture_shows_itself_without_the_dot_program(tmp_path):
    """What Jupyter calls to display a picture, with no dot program on PATH: pygraphviz draws it."""
    import os
    import subprocess

    pytest.importorskip("pygraphviz")
    code = ("import shutil; assert shutil.which('dot') is None\n"
            "from graphnet import load_task\nfrom graphnet.render import to_digraph\n"
            "bundle = to_digraph(load_task('tasks/binary_addition.toml').build_network().graph(3))._repr_mimebundle_()\n"
            "print(sorted(bundle), bundle['image/svg+xml'].count('class=\"cluster\"'))")
    env = dict(os.environ, PATH=str(tmp_path / "empty-bin"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=str(ROOT))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["['image/svg+xml']", "4"]  # 3 steps and the weights' box


@pytest.mark.skipif(not HAS_DOT, reason="needs Graphviz's dot program (CI installs it)")
def test_without_pygraphviz_the_dot_program_draws(tmp_path):
    import subprocess

    code = ("import sys; sys.modules['pygraphviz'] = None; from graphnet.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", code, "render", str(TASK), "--steps", "3", "-o",
                             str(tmp_path / "g.svg")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Generated by graphviz" in (tmp_path / "g.svg").read_text()


@pytest.mark.skipif(not HAS_DOT, reason="needs Graphviz's dot program (CI installs it)")
def test_the_dot_program_draws_the_values_of_eight_steps_quietly(trained_weights, tmp_path):
    """Debian's dot (2.43, which CI installs) crashes routing this picture's edges around its nodes: graphnet
    draws it again with straight lines, and Graphviz's warnings never reach the user's terminal."""
    import subprocess

    code = ("import sys; sys.modules['pygraphviz'] = None; from graphnet.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", code, "render", str(TASK), "--weights", str(trained_weights),
                             "--example", "5+6", "-o", str(tmp_path / "values.svg")], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert ">loss[7] =<" in (tmp_path / "values.svg").read_text()


def test_a_crash_of_the_dot_program_routing_edges_is_drawn_again_with_straight_lines(monkeypatch):
    import subprocess

    import graphviz

    asked = []

    def pipe(self, format=None, quiet=False, **kwargs):
        asked.append(self.graph_attr["splines"])
        if self.graph_attr["splines"] == "ortho":  # as Graphviz 2.43's ortho router does on some pictures
            raise subprocess.CalledProcessError(-6, ["dot"], stderr=b"dot: maze.c:313: chkSgraph: Assertion failed.")
        return b"<svg/>"

    monkeypatch.setitem(sys.modules, "pygraphviz", None)
    monkeypatch.setattr(backends.shutil, "which", lambda name: "/usr/bin/dot")
    monkeypatch.setattr(graphviz.Digraph, "pipe", pipe)
    picture = to_digraph(load_task(TASK).build_network().graph(3))
    assert render.layout(picture, "svg") == b"<svg/>"
    assert asked == ["ortho", "line"] and picture.graph_attr["splines"] == "ortho"  # the caller's is unchanged

    def always_fails(self, format=None, quiet=False, **kwargs):
        raise subprocess.CalledProcessError(-6, ["dot"], stderr=b"dot: maze.c:313: chkSgraph: Assertion failed.")

    monkeypatch.setattr(graphviz.Digraph, "pipe", always_fails)  # a one-line error, not an internal one
    with pytest.raises(RenderError, match=r"^g.svg: Graphviz's dot program failed \(dot: maze.c:313"):
        render.layout(picture, "svg", Path("g.svg"))


# -- laid out once -----------------------------------------------------------------------------------------------
def test_a_picture_laid_out_once_draws_other_numbers_in_the_same_places(post_run):
    """Two frames of an animation: the second drawn in the first's layout has the first's places and the
    second's numbers, as if it had been laid out itself."""
    from graphnet.animate import frames

    shown = frames(load_task(TASK), post_run.params, "5+6", "values", 4)
    first, later = shown[0].picture, shown[5].picture
    fixed = Fixed(first)
    drawn, own = Drawing(fixed.draw(later, "svg").decode()), Drawing(fixed.draw(first, "svg").decode())
    assert drawn.nodes == own.nodes and [e[2] for e in drawn.edges] == [e[2] for e in own.edges]
    svg = fixed.draw(later, "svg").decode()
    changed = [id for id, cell in later.cells.items() if cell != first.cells[id]]
    assert len(changed) > 20
    for id in changed:  # each cell of the later frame, with its colour and its hover text
        cell = later.cells[id]
        group = re.search(rf'<g id="a_{re.escape(id)}"><a xlink:href="#" xlink:title="([^"]*)">\s*<polygon fill="([^"]+)"',
                          svg)
        assert group.group(2) == cell.colour and html.unescape(group.group(1)) == cell.tooltip
    assert fixed.draw(later, "png", dpi=96).startswith(b"\x89PNG")


def test_a_picture_drawn_unlike_the_one_laid_out_is_refused():
    fixed = Fixed(to_digraph(post_graph(2)))
    with pytest.raises(ValueError, match="only in its cells"):
        fixed.draw(to_digraph(post_graph(3)), "svg")


@pytest.mark.skipif(not HAS_DOT, reason="needs Graphviz's dot program (CI installs it)")
def test_without_pygraphviz_the_dot_and_neato_programs_lay_out_once_and_draw_again(monkeypatch):
    """The system's Graphviz (Debian's 2.43 here) lays the picture out with dot and draws it in place with
    neato -n2: the same places, the later picture's numbers."""
    import numpy as np

    from graphnet import get_generator

    monkeypatch.setitem(sys.modules, "pygraphviz", None)
    network = load_task(TASK).build_network()
    graph = network.graph(2)
    problem = get_generator("binary_addition").encode([1], [1], 2)
    params = network.init_parameters(np.random.RandomState(0))
    values = graph.compile().forward(network.feeds(problem.x, problem.y), params).values
    first = to_digraph(graph, values=values, caption="first")
    later = to_digraph(graph, values={k: v + 1 if k == "h[0]" else v for k, v in values.items()}, caption="later",
                       scales=render.fit_scales(graph, values))
    fixed = Fixed(first)
    drawn, own = Drawing(fixed.draw(later, "svg").decode()), Drawing(fixed.draw(first, "svg").decode())
    assert drawn.nodes == own.nodes and ">later<" in fixed.draw(later, "svg").decode()
    assert fixed.draw(later, "png", dpi=96).startswith(b"\x89PNG")


def test_without_graphviz_the_dot_source_never_replaces_a_file(tmp_path):
    # The .dot written instead of a picture is a new file or none: not an earlier .dot, not the task file itself.
    (tmp_path / "g.dot").write_text("an earlier picture's source")
    result = run_without_dot(tmp_path, "render", TASK, "-o", tmp_path / "g.svg", pygraphviz=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert f"{tmp_path / 'g.dot'} exists, so the DOT source was not written there (-o FILE.dot writes it)" in result.stderr
    assert (tmp_path / "g.dot").read_text() == "an earlier picture's source"
    task = tmp_path / "task.dot"  # a task file, named so
    task.write_text(TASK.read_text())
    result = run_without_dot(tmp_path, "render", task, "-o", tmp_path / "task.svg", pygraphviz=False)
    assert result.returncode == 2 and task.read_text() == TASK.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.dot", "task.dot"]
