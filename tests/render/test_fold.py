"""Folding each step's cell into one node: a view for drawing, never the graph that runs."""

import json
import re

import networkx as nx

from graphnet import load_task
from graphnet.render import fold_steps, to_digraph, unit_colour
from conftest import ROOT, run_cli
from test_picture import cell_colours, edges_from, trained_run


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
    # The state crosses from one cell to the next as the recurrent edge; the cell names the states it passes on.
    assert re.search(r'"lstm\[0\]" -> "lstm\[1\]" \[.*penwidth=3 .*tooltip="lstm\[0\] → lstm\[1\]: c\[0\], h\[0\]"',
                     source)
    assert re.search(r'^\s*"lstm\[0\]" \[label="lstm\[0\]: c\[0\], h\[0\]\nB×8"', source, re.M)
    assert re.search(r'^\s*"lstm\[2\]" \[label="lstm\[2\]: h\[2\]\nB×8"', source, re.M)  # the last passes on h
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


