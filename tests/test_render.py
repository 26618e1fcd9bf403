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
from graphnet.render import fold_steps, signed_colour, to_digraph, unit_colour
from conftest import ROOT, TASK, run_cli

HAS_DOT = shutil.which("dot") is not None


def post_graph(steps):
    return load_task(TASK).build_network().graph(steps)


def edges_from(source: str, dot_source: str) -> list[str]:
    return re.findall(rf'^\s*"?{re.escape(source)}"? -> "?([^"\s]+)"?', dot_source, re.M)


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


def test_edge_labels_carry_shapes():
    source = to_digraph(post_graph(2)).source
    assert re.search(r'"h\[0\]" -> "h_synapse_1\[0\]" \[label="B×16"', source)
    assert re.search(r'synapse_0 \[label="synapse_0\n2×16"', source)  # a weight shows its shape on its node


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


def test_with_gradients_the_cells_follow_the_gradients(post_run):
    graph, run = trained_run(post_run)
    grads = run.backward(every_node=True)
    source = to_digraph(graph, values=run.values, grads=grads).source
    scale = float(re.search(r"<TD COLSPAN=\"3\" ALIGN=\"RIGHT\">([\d.e+-]+)</TD>", source).group(1))
    for t in range(4):
        expected = [signed_colour(g, scale) for g in grads[f"h[{t}]"][0]]
        got = cell_colours(source, f"h[{t}]")
        # the legend prints the scale to 3 digits, so allow one step of rounding in a channel
        assert all(abs(int(a[i:i + 2], 16) - int(b[i:i + 2], 16)) <= 1 for a, b in zip(got, expected) for i in (1, 3, 5))
    assert cell_colours(source, "h[0]") != cell_colours(to_digraph(graph, values=run.values).source, "h[0]")


def test_colour_scales():
    assert unit_colour(0.0) == "#ffffff" and unit_colour(1.0) == "#006d2c"
    assert signed_colour(0.0, 2.0) == "#ffffff"
    assert signed_colour(2.0, 2.0) == "#b2182b" and signed_colour(-2.0, 2.0) == "#2166ac"


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
    assert re.search(r'"lstm\[0\]" -> "lstm\[1\]" \[[^\]]*xlabel="c\[0\], h\[0\]: B×8"', source)
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
