"""The picture of a graph: clusters per step, one node per shared weight, value and gradient cells, the legend,
and, laid out, the steps in time order and no label under an edge."""

import re

import networkx as nx
import numpy as np
import pytest

from drawn import Drawing
from graphnet import get_generator, load_task, render
from graphnet.engine.graph import Graph
from graphnet.render import fold_steps, to_digraph, unit_colour
from graphnet.render.colours import Scale
from conftest import ROOT, TASK, run_cli

LSTM = ROOT / "tasks" / "binary_addition_lstm.toml"


def post_graph(steps):
    return load_task(TASK).build_network().graph(steps)


def edges_from(source: str, dot_source: str) -> list[str]:
    """The nodes ``source`` has a drawn edge to (the invisible ones only place the nodes)."""
    return re.findall(rf'^\s*"?{re.escape(source)}"? -> "?([^"\s]+)"?(?!.*style=invis)', dot_source, re.M)


def trained_run(post_run, a=5, b=6, steps=4):
    network = load_task(TASK).build_network()
    problem = get_generator("binary_addition").encode([a], [b], steps)
    graph = network.graph(steps)
    return graph, graph.compile().forward(network.feeds(problem.x, problem.y), post_run.params)


def cell_colours(source: str, key: str) -> list[str]:
    label = re.search(rf'"{re.escape(key)}" \[label=<(.*?)>\s', source, re.S).group(1)
    return re.findall(r'BGCOLOR="(#\w+)"', label)


def svg_titles(svg: str) -> dict[str, str]:
    """What the SVG shows on hover: ``key[i]`` (or ``key[i, j]``) to its number."""
    import html

    return {key: html.unescape(number) for key, number in re.findall(r'xlink:title="([\w\[\], -]+\]) = ([^"]+)"', svg)}


@pytest.mark.parametrize("steps", [1, 4, 8])
def test_one_cluster_per_step_and_one_node_per_shared_weight(steps):
    graph = post_graph(steps)
    source = to_digraph(graph).source
    assert source.count("subgraph cluster_t") == steps
    for weight in ["synapse_0", "synapse_h", "synapse_1"]:
        assert len(re.findall(rf'^\s*{weight} \[', source, re.M)) == 1, weight
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
    assert edges and not any(re.search(r"\blabel=", line) for line in edges)  # no edge carries a label
    assert '"h[0]" -> "h_synapse_1[0]" [tooltip="h[0] → h_synapse_1[0]: B×16"]' in source  # the shape on hover


def test_hidden_layers_are_cells_coloured_by_their_values(post_run):
    graph, run = trained_run(post_run)
    picture = to_digraph(graph, values=run.values)
    for t in range(4):
        h = run.values[f"h[{t}]"][0]
        assert cell_colours(picture.source, f"h[{t}]") == [unit_colour(v) for v in h]
        assert [picture.cells[f"h[{t}]:{i}"].colour for i in range(16)] == [unit_colour(v) for v in h]
    assert "t = 0   in: 1 0   out: 1   true: 1" in picture.source  # 5 + 6: bits 1,0 in; 11 = 1011


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


def test_each_weights_heat_map_has_a_scale_of_its_own_that_its_label_gives(post_run):
    """A weight of small numbers beside one of large ones still shows them: synapse_h (within ±2.7) once shared
    the scale of the picture's largest number (±10.7) and was all but white."""
    graph, run = trained_run(post_run)
    picture = to_digraph(graph, values=run.values)
    for weight in ["synapse_0", "synapse_h", "synapse_1"]:
        matrix = post_run.params[weight]
        limit = float(np.abs(matrix).max())
        i, j = np.unravel_index(np.abs(matrix).argmax(), matrix.shape)
        strongest = picture.cells[f"{weight}:{i},{j}"].colour
        assert strongest == Scale(limit).colour(matrix[i, j]) and strongest in ("#b2182b", "#2166ac")
        assert f"±{render.cells.number(limit)}" in re.search(rf'^\s*{weight} \[label=<(.*?)>\s', picture.source,
                                                             re.S | re.M).group(1)
    assert sum(visible(picture.cells[f"synapse_h:{i},{j}"].colour) for i in range(16) for j in range(16)) > 128
    assert "a weight:" in picture.source and "its own scale" in picture.source  # the legend says so


def test_the_gradient_pictures_legend_says_why_the_bits_are_black_and_white(post_run):
    graph, run = trained_run(post_run)
    grads = run.backward(every_node=True)
    picture = to_digraph(graph, values=run.values, grads=grads)
    assert [picture.cells[f"x[0]:{i}"].colour for i in range(2)] == [unit_colour(1.0), unit_colour(0.0)]
    assert "input and target bits" in picture.source and "(no gradient)" in picture.source
    assert "input and target bits" not in to_digraph(graph, values=run.values).source


def test_values_and_grads_through_the_cli(tmp_path, trained_weights):
    for show in ["values", "grads"]:
        out = tmp_path / f"{show}.svg"
        result = run_cli("render", TASK, "-o", out, "--weights", trained_weights, "--example", "9+60", "--show", show)
        assert result.returncode == 0, result.stderr
        svg = out.read_text()
        assert "the network says 9 + 60 = 69" in svg and "the answer is" not in svg


def test_other_tasks_take_examples_written_their_way_and_a_wrong_answer_is_named(tmp_path):
    # One iteration of training: the network cannot be right, and the title says what the answer is.
    for task, example, says in [("binary_subtraction.toml", "60-9", "60 - 9 = "),
                                ("running_parity.toml", "1011", "in 000000001011 -&gt; out ")]:
        path = ROOT / "tasks" / task
        weights = tmp_path / f"{task}.npz"
        assert run_cli("train", path, "--set", "training.iterations=1", "--quiet", "--save", weights).returncode == 0
        out = tmp_path / f"{task}.dot"
        result = run_cli("render", path, "-o", out, "--weights", weights, "--example", example)
        assert result.returncode == 0, result.stderr
        title = out.read_text()
        assert f"the network says {says}" in title and "the answer is" in title


def test_a_values_picture_shows_every_hidden_cell_each_loss_and_the_weights(post_run, tmp_path):
    graph, run = trained_run(post_run)
    svg = render.write(to_digraph(graph, values=run.values), graph, tmp_path / "values.svg").read_text()
    titles = svg_titles(svg)
    for t in range(4):
        for i, v in enumerate(run.values[f"h[{t}]"][0]):  # every hidden cell's number, on hover
            assert float(titles[f"h[{t}][{i}]"]) == pytest.approx(v, rel=1e-3)
        loss = float(np.ravel(run.values[f"loss[{t}]"])[0])
        assert float(titles[f"loss[{t}]"]) == pytest.approx(loss, rel=1e-3)  # each step's loss
        assert f">{loss:.4g}</text>" in svg  # printed
    assert f">{float(run.values['loss']):.4g}</text>" in svg and "the sum over the steps" in svg  # their sum
    y_hat = float(run.values["y_hat[2]"][0, 0])
    assert f">{y_hat:.2g}</text>" in svg  # a one-cell vector prints its number: the prediction
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


def test_every_weight_of_a_gated_cell_has_a_colour_of_its_own():
    graph = load_task(LSTM).build_network().graph(2)
    source = to_digraph(fold_steps(graph, "lstm")).source
    colours = {w: set(re.findall(rf'^\s*{w} -> .*?color="(#\w+)"', source, re.M)) for w in graph.parameters}
    assert len(colours) == 13 and all(len(c) == 1 for c in colours.values())
    assert len(set.union(*colours.values())) == 13  # the LSTM's 13 weights: 13 colours


def test_any_graph_draws_not_only_an_unrolled_network():
    """What the picture needs of a node: its op, inputs and shape. Nodes without a kind or a step (a rewritten
    graph's) are drawn as ops outside the steps."""
    graph = Graph("any")
    x, w = graph.input("x", (None, 3)), graph.parameter("w", (3, 2))
    y = graph.apply("matmul", "y", x, w)
    graph.apply("mean", "m", y)
    bare = Graph("bare")
    bare.nx = nx.DiGraph()
    for key, attrs in graph.nx.nodes(data=True):
        bare.nx.add_node(key, op=attrs["op"], inputs=attrs["inputs"], shape=attrs["shape"])
    bare.nx.add_edges_from(graph.nx.edges)
    for drawn in [graph, bare]:
        picture = to_digraph(drawn)
        assert "cluster_t" not in picture.source and re.search(r'^\s*m \[label="m\nmean  scalar"', picture.source, re.M)
        assert render.layout(picture, "svg").startswith(b"<?xml")


# -- laid out: what a person sees --------------------------------------------------------------------------------
PICTURES = {  # graphs drawn as the README and a learner draw them: (task, steps, fold, example, show)
    "post, 1 step": (TASK, 1, False, None, None),
    "post, 3 steps, values": (TASK, 3, False, "3+3", "values"),
    "post, 3 steps, grads": (TASK, 3, False, "3+3", "grads"),
    "post, 4 steps, folded": (TASK, 4, True, "5+6", "values"),
    "post, 8 steps": (TASK, 8, False, "9+60", "values"),
    "post, 8 steps, folded grads": (TASK, 8, True, "9+60", "grads"),
    "lstm, 3 steps, folded": (LSTM, 3, True, None, None),
    "lstm, 4 steps": (LSTM, 4, False, None, None),
    "gru, 4 steps, folded": (ROOT / "tasks" / "binary_addition_gru.toml", 4, True, None, None),
}


def laid_out(post_run, task, steps, fold, example, show) -> Drawing:
    task = load_task(task)
    network = task.build_network()
    graph, values, grads = network.graph(steps), None, None
    if example:
        problem = task.generator.example(example, steps)
        run = graph.compile().forward(network.feeds(problem.x, problem.y), post_run.params)
        values, grads = run.values, run.backward(every_node=True) if show == "grads" else None
    drawn = fold_steps(graph, task.network.cell) if fold else graph
    return Drawing(render.layout(to_digraph(drawn, values=values, grads=grads), "svg").decode())


@pytest.mark.parametrize("name", PICTURES)
def test_time_flows_left_to_right_and_no_edge_runs_through_a_label(post_run, name):
    drawing = laid_out(post_run, *PICTURES[name])
    steps = PICTURES[name][1]
    assert drawing.left_to_right([f"cluster_t{t}" for t in range(steps)])
    assert drawing.labels and drawing.edges
    assert drawing.crossings() == []


def test_an_edge_through_a_label_is_found():
    """The check above has teeth: a line drawn through a node's name is a crossing."""
    picture = to_digraph(post_graph(1))
    drawing = Drawing(render.layout(picture, "svg").decode())
    left, top, right, bottom = next(l.box for l in drawing.labels if l.owner == "h[0]")
    drawing.edges.append(("x[0]", "loss", [(left - 5, (top + bottom) / 2), (right + 5, (top + bottom) / 2)]))
    assert drawing.crossings() == [("x[0]", "loss", next(l.words for l in drawing.labels if l.owner == "h[0]"))]


def test_a_gated_cells_weights_are_laid_out_alike_in_every_row(post_run):
    """Three to a row, a gate's input weight, recurrent weight and bias, in that order, every row."""
    drawing = laid_out(post_run, LSTM, 3, True, None, None)
    rows = [[f"synapse_0_{g}", f"synapse_h_{g}", f"bias_{g}"] for g in "ifog"]
    for row in rows:
        assert drawing.left_to_right(row), row
        tops = {round(drawing.nodes[k][1]) for k in row}
        assert max(tops) - min(tops) <= 2, row  # on one line
    centres = [drawing.nodes[row[0]][1] for row in rows]
    assert centres == sorted(centres)  # the gates' rows in the cell's order, i, f, o, g, from the top


def test_a_big_picture_gets_the_fast_router_and_a_small_one_the_orthogonal():
    assert "splines=ortho" in to_digraph(post_graph(8)).source  # edges around the nodes in straight segments
    assert "splines=spline" in to_digraph(post_graph(64)).source  # ortho would take half a minute
    lstm = load_task(LSTM).build_network().graph(8)
    assert "splines=spline" in to_digraph(lstm).source and "splines=ortho" in to_digraph(fold_steps(lstm, "lstm")).source
