"""The hidden layer's memory, measured by occlusion, drawn with its percentages as numbers."""

import numpy as np
import pytest

from graphnet import load_task
from graphnet.animate import frames, occlusion
from graphnet.animate.memory import shares
from conftest import TASK


@pytest.fixture(scope="module")
def memory(post_run):
    return frames(load_task(TASK), post_run.params, "9+60", "memory", 8)


def test_memory_is_measured_by_occlusion_and_never_reaches_ahead(post_run, memory):
    task = load_task(TASK)
    problem = task.generator.example("9+60", 8)
    change = occlusion(task, post_run.params, problem.x)
    assert change.shape == (8, 8, 16)
    for t in range(8):
        assert np.all(change[t, t + 1 :] == 0)  # h[t] never depends on a later input
        assert change[t, t].sum() > 0  # and always on its own
    assert change[3, 2].sum() > 0.1  # the carry: what step 3 holds depends on step 2's input
    np.testing.assert_allclose(shares(change).sum(axis=1), 1.0)
    assert len(memory) == 8 and all(f.phase == "memory" for f in memory)
    assert "occlusion" in memory[0].picture.source


def test_the_memory_picture_prints_the_percentages_the_readme_quotes(memory):
    """The README: h[4], h[5] and h[6] depend on the input of step 3 for 47 %, 48 % and 40 %; h[6] on its own
    step for 47 %; h[2] on its own for 59 % and on step 0 for 7 %. The numbers are in the cells, not only the
    colours."""
    last = memory[-1].picture.cells
    quoted = {("h[4]", 3): "47", ("h[5]", 3): "48", ("h[6]", 3): "40", ("h[6]", 6): "47", ("h[2]", 2): "59",
              ("h[2]", 0): "7"}
    for (key, step), percent in quoted.items():
        assert last[f"{key}:step{step}"].text == percent, (key, step)
    assert last["h[2]:step5"].text == "" and "never depends on a later step" in last["h[2]:step5"].tooltip


def test_each_frame_adds_one_step_and_every_frame_is_laid_out_alike(memory):
    from graphnet.render.backends import skeleton

    assert len({skeleton(f.picture.source) for f in memory}) == 1
    for now, frame in enumerate(memory):
        assert frame.step == now and frame.keys == (f"x[{now}]", f"h[{now}]")
        assert frame.picture.cells[f"h[{now}]:step{now}"].text != "…"
        if now < 7:
            assert frame.picture.cells[f"h[{now + 1}]:step0"].text == "…"  # not computed yet
