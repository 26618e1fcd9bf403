"""The figures of graphnet reach and graphnet compare: drawn for a README's column (at most 8.8 inches, about 845
pixels, wide; no text under 8 points, 10.7 pixels there), saying what they show."""

import numpy as np
import pytest

from conftest import TASK
from graphnet import load_task
from graphnet.app.compare import Entry
from graphnet.app.reach import measure, problems_for
from graphnet.app.reach_figures import compare_figure, reach_figure, write_reach_plot


def texts(figure) -> list:
    """Every piece of text the figure shows: titles, labels, ticks, legends, colour bars."""
    return [t for t in figure.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontsize"))
            if t.get_text() and t.get_visible()]


def readable_in_a_column(figure) -> None:
    figure.canvas.draw()  # ticks are made when drawn
    assert figure.get_size_inches()[0] <= 8.8
    small = [(t.get_text(), t.get_fontsize()) for t in texts(figure) if t.get_fontsize() < 8]
    assert not small, small


@pytest.fixture(scope="module")
def reach(post_run):
    task = load_task(TASK)
    problems, about = problems_for(task, problems=8, steps=12)
    return measure(task, post_run.params, problems, about=about)


def test_one_networks_reach(reach, tmp_path):
    figure = reach_figure(reach, title="binary_addition.toml")
    readable_in_a_column(figure)
    lags, states, _, inputs, _ = figure.axes  # the two heat maps with their colour bars
    assert len(lags.patches) >= reach.split.measured  # a bar a lag that has a part
    assert lags.get_yscale() == "log" and f"it reaches {reach.split.reach()} lags" in lags.get_title()
    assert any("on 8 random 12-bit problems" in t.get_text() for t in texts(figure))
    image = states.get_images()[0].get_array()
    assert image.shape == (12, 12) and np.all(image.mask[np.triu_indices(12, 1)])  # a lower triangle
    assert np.allclose(image[np.tril_indices(12)], reach.states.mean(axis=0)[np.tril_indices(12)])
    assert write_reach_plot(tmp_path / "r.svg", reach).read_text().startswith("<?xml")


def test_cells_compared():
    entries = [Entry(cell, f"task.delay={d} task.bits={d + 4}", 0.1, seed, accuracy, 8, reach, 31, 0.5, 0.6)
               for cell, accuracy, reach in [("sigmoid-rnn", 0.0, 7), ("lstm", 1.0, 31)]
               for d in (1, 2, 4) for seed in (0, 1)]
    figure = compare_figure(entries, title="echo")
    readable_in_a_column(figure)
    accuracy, reach, stretch = figure.axes
    assert [t.get_text() for t in reach.get_xticklabels()] == ["1", "2", "4"]
    legends = [[t.get_text() for t in legend.get_texts()] for legend in figure.legends]
    assert legends == [["sigmoid-rnn", "lstm"], ["trained", "at the start", "did not fade: at least", "the delay"]]
    assert len(reach.collections) >= 2  # the LSTM's triangles: its reach is every lag measured
