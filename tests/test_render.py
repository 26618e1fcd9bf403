"""Rendering: clusters per step, one node per shared weight, value and gradient cells, every output format."""

import json
import re
import shutil
import sys
import xml.etree.ElementTree as ET

import networkx as nx
import numpy as np
import pytest

from graphnet import load_task, render
from graphnet import get_generator
from graphnet.render import Scale, fold_steps, signed_colour, to_digraph, unit_colour
from conftest import ROOT, TASK, run_cli

HAS_DOT = shutil.which("dot") is not None


def post_graph(steps):
    return load_task(TASK).build_network().graph(steps)


def edges_from(source: str, dot_source: str) -> list[str]:
    """The nodes ``source`` has a drawn edge to (the invisible ones only place the weights under the steps)."""
    return re.findall(rf'^\s*"?{re.escape(source)}"? -> "?([^"\s]+)"?(?!.*style=invis)', dot_source, re.M)


@pytest.mark.parametrize("steps", [1, 4, 8])
def test_one_cluster_per_step_and_one_node_per_shared_weight(steps):
    graph = post_graph(steps)
    source = to_digraph(graph).source
    assert source.count("subgraph cluster_t") == steps
    for weight in ["synapse_0", "synapse_h", "synapse_1"]:
        declared = re.findall(rf'^\s*{weight} \[', source, re.M)
        assert len(declared) == 1, weight
        consumers = edges_from(weight, source)
        assert sorted(graph.node(c)["t"] for c in consumers) == list(range(steps)), weight


def test_the_weights_are_drawn_together_outside_every_step():
    source = to_digraph(post_graph(4)).source
    box = re.search(r"subgraph cluster_weights \{(.*?)\n\t\}", source, re.S).group(1)
    assert [w for w in ["synapse_0", "synapse_h", "synapse_1"] if re.search(rf"^\s*{w} \[", box, re.M)] == [
        "synapse_0", "synapse_h", "synapse_1"]
    assert "label=\"shared by every step\"" in box


def test_weights_have_their_own_colours_and_the_recurrent_edges_stand_out():
    source = to_digraph(post_graph(3)).source
    colours = {w: set(re.findall(rf'^\s*{w} -> .*?color="(#\w+)"', source, re.M))
               for w in ["synapse_0", "synapse_h", "synapse_1"]}
    assert all(len(c) == 1 for c in colours.values())  # each weight's edges share its colour
    assert len(set.union(*colours.values())) == 3  # and no two weights share one
    recurrent = re.findall(r'"h\[(-?\d)\]" -> "h_synapse_h\[(\d)\]" \[.*?penwidth=3', source)
    assert sorted(recurrent) == [("-1", "0"), ("0", "1"), ("1", "2")]


def test_shapes_are_on_the_nodes_not_on_the_edges():
    source = to_digraph(post_graph(2)).source
    assert re.search(r'"h_in\[0\]" \[label="h_in\[0\]\nadd  B×16"', source)
    assert re.search(r'synapse_0 \[label="synapse_0\n2×16"', source)  # a weight shows its shape on its node
    edges = [line for line in source.splitlines() if " -> " in line]
    assert edges and not any(re.search(r"\blabel=", line) for line in edges)  # labels sit beside nothing
    assert '"h[0]" -> "h_synapse_1[0]" [tooltip="h[0] → h_synapse_1[0]: B×16"]' in source  # the shape on hover


def trained_run(post_run, a=5, b=6, steps=4):
    network = load_task(TASK).build_network()
    problem = get_generator("binary_addition").encode([a], [b], steps)
    graph = network.graph(steps)
    return graph, graph.compile().forward(network.feeds(problem.x, problem.y), post_run.params)


def cell_colours(source: str, key: str) -> list[str]:
    label = re.search(rf'"{re.escape(key)}" \[label=<(.*?)>\s', source, re.S).group(1)
    return re.findall(r'BGCOLOR="(#\w+)"', label)


def test_hidden_layers_are_cells_coloured_by_their_values(post_run):
    graph, run = trained_run(post_run)
    source = to_digraph(graph, values=run.values).source
    for t in range(4):
        h = run.values[f"h[{t}]"][0]
        assert cell_colours(source, f"h[{t}]") == [unit_colour(v) for v in h]
    assert "t = 0   in: 1 0   out: 1   true: 1" in source  # 5 + 6: bits 1,0 in; 11 = 1011


def visible(colour: str) -> bool:
    """A cell a reader sees as coloured: some channel at least 24 steps away from white."""
    return min(int(colour[i:i + 2], 16) for i in (1, 3, 5)) <= 255 - 24


def test_with_gradients_the_cells_follow_the_gradients_and_reach_back_to_the_first_step(post_run):
    graph, run = trained_run(post_run)
    grads = run.backward(every_node=True)
    source = to_digraph(graph, values=run.values, grads=grads).source
    assert "logarithmic" in source  # gradients fade by orders of magnitude back through time: the legend says so
    for key in ["h[0]", "h_in[0]", "x_synapse_0[0]", "h[3]"]:
        colours, g = cell_colours(source, key), grads[key][0]
        assert len(colours) == g.size
        for colour, value in zip(colours, g):  # red for positive, blue for negative
            r, _, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
            assert (r > b) if value > 0 else (b > r) if value < 0 else colour == "#ffffff"
        for sign in (1, -1):  # a larger gradient is never paler than a smaller one of its sign
            order = [i for i in np.argsort(np.abs(g)) if np.sign(g[i]) == sign]
            strength = [255 - min(int(colours[i][j:j + 2], 16) for j in (1, 3, 5)) for i in order]
            assert strength == sorted(strength), key
    # what the issue measured: 0 of 16 cells of h_in[0] visibly coloured on one linear scale
    assert sum(map(visible, cell_colours(source, "h_in[0]"))) >= 12
    assert cell_colours(source, "h[0]") != cell_colours(to_digraph(graph, values=run.values).source, "h[0]")


def test_colour_scales():
    assert unit_colour(0.0) == "#ffffff" and unit_colour(1.0) == "#252525"
    assert signed_colour(0.0, 2.0) == "#ffffff"
    assert signed_colour(2.0, 2.0) == "#b2182b" and signed_colour(-2.0, 2.0) == "#2166ac"
    log = Scale.fit([1.0, 1e-3])  # a thousandth of the largest: logarithmic, one decade below it
    assert log.decades == 4 and log.ticks()[0] == -1.0 and log.ticks()[-1] == 1.0 and len(log.ticks()) == 11
    assert log.colour(1.0) == "#b2182b" and visible(log.colour(1e-3)) and log.colour(1e-5) == "#ffffff"
    assert Scale.fit([1.0, 0.1]).decades == 0 and Scale.fit([]).colour(3.0) == "#ffffff"


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


@pytest.mark.skipif(not HAS_DOT, reason="needs Graphviz's dot program (CI installs it)")
def test_values_and_grads_through_the_cli(tmp_path, trained_weights):
    for show in ["values", "grads"]:
        out = tmp_path / f"{show}.svg"
        result = run_cli("render", TASK, "-o", out, "--weights", trained_weights, "--example", "9+60", "--show", show)
        assert result.returncode == 0, result.stderr
        svg = out.read_text()
        ET.fromstring(svg)
        assert "the network says 9 + 60 = 69" in svg and "the answer is" not in svg


def test_other_tasks_take_examples_written_their_way_and_a_wrong_answer_is_named(tmp_path):
    # One iteration of training: the network cannot be right, and the title says what the answer is.
    for task, example, says in [("binary_subtraction.toml", "60-9", "60 - 9 = "), ("running_parity.toml", "1011", "in 000000001011 -> out ")]:
        path = ROOT / "tasks" / task
        weights = tmp_path / f"{task}.npz"
        assert run_cli("train", path, "--set", "training.iterations=1", "--quiet", "--save", weights).returncode == 0
        out = tmp_path / f"{task}.dot"
        result = run_cli("render", path, "-o", out, "--weights", weights, "--example", example)
        assert result.returncode == 0, result.stderr
        title = out.read_text()
        assert f"the network says {says}" in title and "the answer is" in title


def test_folding_draws_each_steps_cell_as_one_node_and_keeps_every_shared_weight():
    graph = load_task(ROOT / "tasks" / "binary_addition_lstm.toml").build_network().graph(3)
    folded = fold_steps(graph, "lstm")
    source = to_digraph(folded).source
    assert source.count("subgraph cluster_t") == 3
    assert "i_sum[0]" not in source and "tanh_c[1]" not in source  # the gates are inside the cells now
    gate_weights = [w for w in graph.parameters if w != "synapse_1"]
    assert len(gate_weights) == 12
    for weight in gate_weights:  # still one node each, with one edge to every step's cell
        assert len(re.findall(rf'^\s*{weight} \[', source, re.M)) == 1
        assert sorted(edges_from(weight, source)) == ["lstm[0]", "lstm[1]", "lstm[2]"]
    # The state crosses from one cell to the next as the recurrent edge, saying what it carries.
    assert re.search(r'"lstm\[0\]" -> "lstm\[1\]" \[.*xlabel="c\[0\], h\[0\]"', source)
    assert {"h[-1]", "c[-1]"} <= set(folded.nx.predecessors("lstm[0]"))
    # Folding never changes the graph that runs.
    assert len(graph.nx) == 3 * 30 + 13 + 3 and "i_sum[0]" in graph.nx


def test_a_folded_cell_shows_the_values_of_the_state_it_passes_on(post_run):
    graph, run = trained_run(post_run)
    folded = fold_steps(graph, "rnn")
    assert {"x_synapse_0[2]", "h_synapse_h[2]", "h_in[2]", "h[2]"}.isdisjoint(folded.nx)
    assert folded.node("rnn[2]")["shows"] == "h[2]"
    source = to_digraph(folded, values=run.values).source
    assert cell_colours(source, "rnn[2]") == [unit_colour(v) for v in run.values["h[2]"][0]]


def test_fold_through_the_cli_and_json_stays_the_whole_graph(tmp_path):
    lstm = ROOT / "tasks" / "binary_addition_lstm.toml"
    result = run_cli("render", lstm, "--steps", "3", "--fold", "-o", tmp_path / "g.dot")
    assert result.returncode == 0 and result.stdout.strip() == f"wrote {tmp_path / 'g.dot'} (3 steps, 106 nodes, drawn as 34)"
    run_cli("render", lstm, "--steps", "3", "--fold", "-o", tmp_path / "g.json")
    whole = nx.node_link_graph(json.loads((tmp_path / "g.json").read_text()), edges="edges")
    assert len(whole) == 106


@pytest.mark.skipif(not HAS_DOT, reason="needs Graphviz's dot program (CI installs it)")
def test_sixty_four_steps_render(tmp_path):
    assert "splines=ortho" in to_digraph(post_graph(24)).source  # edges around the nodes, up to 24 steps
    assert "splines=line" in to_digraph(post_graph(64)).source  # past that, straight: ortho would take 30 s
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


# -- numbers where people look ----------------------------------------------------------------------------------
def svg_titles(svg: str) -> dict[str, str]:
    """What the SVG shows on hover: ``key[i]`` (or ``key[i, j]``) to its number."""
    import html

    return {key: html.unescape(number) for key, number in re.findall(r'xlink:title="([\w\[\], -]+\]) = ([^"]+)"', svg)}


def test_a_values_picture_shows_every_hidden_cell_each_loss_and_the_weights(post_run, tmp_path):
    graph, run = trained_run(post_run)
    svg = render.write(to_digraph(graph, values=run.values), graph, tmp_path / "values.svg").read_text()
    titles = svg_titles(svg)
    for t in range(4):
        for i, v in enumerate(run.values[f"h[{t}]"][0]):  # every hidden cell's number, on hover
            assert float(titles[f"h[{t}][{i}]"]) == pytest.approx(v, rel=1e-3)
        loss = float(np.ravel(run.values[f"loss[{t}]"])[0])
        assert re.search(rf">loss\[{t}\] =</text>\s*<text[^>]*>{loss:.4g}</text>", svg)  # each step's loss
    assert re.search(rf">loss =</text>\s*<text[^>]*>{float(run.values['loss']):.4g}</text>", svg)  # their sum
    y_hat = float(run.values["y_hat[2]"][0, 0])
    assert f">{y_hat:.2g}<" in svg  # a one-cell vector prints its number: the prediction
    w = post_run.params["synapse_h"]  # each weight a heat map of its matrix, every entry on hover
    assert all(float(titles[f"synapse_h[{i}, {j}]"]) == pytest.approx(w[i, j], rel=1e-3, abs=1e-6)
               for i in range(16) for j in range(16))
    text = re.sub(r"(&#160;| )+", " ", svg)
    assert ">t = 0 in: 1 0 out: 1 true: 1<" in text  # the bits fed in, predicted and true


def test_a_grads_picture_shows_the_weights_gradients_summed_over_the_steps(post_run, tmp_path):
    graph, run = trained_run(post_run)
    grads = run.backward(every_node=True)
    svg = render.write(to_digraph(graph, values=run.values, grads=grads), graph, tmp_path / "grads.svg").read_text()
    titles = svg_titles(svg)
    summed = sum(run.values["h[-1]" if t == 0 else f"h[{t - 1}]"][0][:, None] * grads[f"h_synapse_h[{t}]"][0][None]
                 for t in range(4))  # d loss / d synapse_h: one term per step, as BPTT sums them
    np.testing.assert_allclose(grads["synapse_h"], summed, atol=1e-12)
    assert all(float(titles[f"synapse_h[{i}, {j}]"]) == pytest.approx(summed[i, j], rel=1e-3, abs=1e-9)
               for i in range(16) for j in range(16))
    assert "their gradients, summed over the steps" in svg
    assert float(titles["h_in[0][3]"]) == pytest.approx(grads["h_in[0]"][0, 3], rel=1e-3, abs=1e-12)
    assert f"{int(run.values['x[0]'][0, 0])}</text>" in svg  # inputs, with no gradient, still show their bits


def test_every_weight_has_a_colour_of_its_own_never_a_scale_s():
    graph = load_task(ROOT / "tasks" / "binary_addition_lstm.toml").build_network().graph(2)
    source = to_digraph(fold_steps(graph, "lstm")).source
    colours = {w: set(re.findall(rf'^\s*{w} -> .*?color="(#\w+)"', source, re.M)) for w in graph.parameters}
    assert len(colours) == 13 and all(len(c) == 1 for c in colours.values())
    assert len(set.union(*colours.values())) == 13  # the LSTM's 13 weights: 13 colours
    many = render.weight_colours([f"w{i}" for i in range(40)])
    scale = {Scale(1.0).colour(v) for v in (-1.0, 1.0)} | {unit_colour(1.0), render.RECURRENT_COLOUR, "#888888"}
    assert len(set(many.values())) == 40 and not scale & set(many.values())


def test_readme_pictures_read_on_a_web_page():
    readme = (ROOT / "README.md").read_text()
    pictures = re.findall(r"!\[[^\]]*\]\((docs/[^)]+\.svg)\)", readme)
    assert len(pictures) >= 5
    for picture in pictures:
        width = float(re.search(r'<svg[^>]*?\swidth="([\d.]+)pt"', (ROOT / picture).read_text()).group(1))
        assert width <= 1200, picture
        # and each is made by a command the README shows
        assert any(picture in block for block in re.findall(r"```(?:sh|console)?\n(.*?)```", readme, re.S)), picture


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
    monkeypatch.setattr(render.shutil, "which", lambda name: "/usr/bin/dot")
    monkeypatch.setattr(graphviz.Digraph, "pipe", pipe)
    picture = to_digraph(load_task(TASK).build_network().graph(3))
    assert render.layout(picture, "svg") == b"<svg/>"
    assert asked == ["ortho", "line"] and picture.graph_attr["splines"] == "ortho"  # the caller's is unchanged

    def always_fails(self, format=None, quiet=False, **kwargs):
        raise subprocess.CalledProcessError(-6, ["dot"], stderr=b"dot: maze.c:313: chkSgraph: Assertion failed.")

    monkeypatch.setattr(graphviz.Digraph, "pipe", always_fails)  # a one-line error, not an internal one
    with pytest.raises(render.RenderError, match=r"^g.svg: Graphviz's dot program failed \(dot: maze.c:313"):
        render.layout(picture, "svg", render.Path("g.svg"))
