"""The forward and the reverse pass of a real run, frame by frame, every frame of a pass laid out alike."""

import re

import numpy as np
import pytest

from graphnet import load_task
from graphnet.animate import FRAME_SECONDS, frames
from graphnet.render import PENDING
from graphnet.render.backends import skeleton
from conftest import ROOT, TASK


def cells(frame, key: str) -> list[str]:
    """The colours of the cells of node ``key`` in a frame's picture."""
    label = re.search(rf'^\s*"?{re.escape(key)}"? \[label=<(.*?)>\s', frame.picture.source, re.S | re.M).group(1)
    return re.findall(r'BGCOLOR="(#\w+)"', label)


def computed(frame, key: str) -> bool:
    return PENDING not in cells(frame, key)


@pytest.fixture(scope="module")
def both(post_run):
    """The post's trained network on 9 + 60, 8 bits: the forward pass, then the reverse pass."""
    return frames(load_task(TASK), post_run.params, "9+60", "both", 8)


def test_two_frames_a_step_in_each_pass_each_long_enough_to_read(both):
    forward = [f for f in both if f.phase == "forward"]
    reverse = [f for f in both if f.phase == "reverse"]
    assert len(forward) >= 2 * 8 and len(reverse) >= 2 * 8
    assert forward[0].seconds > forward[1].seconds and reverse[-1].seconds > reverse[1].seconds  # held at the ends
    assert min(f.seconds for f in both) == FRAME_SECONDS >= 1.5  # a number read, not a colour seen going by
    assert "9 + 60 = 69" in both[0].picture.source


def test_every_frame_of_a_pass_is_the_same_picture_but_for_its_numbers(both):
    """What lets a pass be laid out once."""
    for phase in ("forward", "reverse"):
        shown = [f for f in both if f.phase == phase]
        assert len({skeleton(f.picture.source) for f in shown}) == 1
        assert len({tuple(f.picture.cells) for f in shown}) == 1  # the same cells, in the same order
        assert shown[0].picture.cells != shown[-1].picture.cells


def test_the_forward_pass_computes_one_step_after_another(both):
    forward = [f for f in both if f.phase == "forward"]
    for t in range(8):
        first = next(i for i, f in enumerate(forward) if computed(f, f"h[{t}]"))
        assert first == 2 * t  # the first frame of step t computes its hidden state, and not before
        assert not computed(forward[first], f"y_hat[{t}]") and computed(forward[first + 1], f"y_hat[{t}]")
        assert computed(forward[first], f"x[{t}]") and (t == 7 or not computed(forward[first], f"x[{t + 1}]"))
        assert forward[first].step == t and f"h[{t}]" in forward[first].keys  # what the page follows
    assert all(computed(forward[0], w) for w in ["synapse_0", "synapse_h", "synapse_1"])  # the weights: given


def tooltip(frame, key: str) -> str:
    """What hovering over ``key`` (a cell, ``synapse_h[0, 3]``) says in a frame's picture."""
    return re.search(rf'TOOLTIP="{re.escape(key)} = ([^"]*)"', frame.picture.source).group(1)


def test_the_reverse_pass_hands_gradients_back_from_the_last_step_first(both):
    reverse = [f for f in both if f.phase == "reverse"]
    arrival = {t: next(i for i, f in enumerate(reverse) if computed(f, f"h[{t}]")) for t in range(8)}
    assert [arrival[t] for t in range(8)] == sorted((arrival[t] for t in range(8)), reverse=True)
    assert arrival[7] < arrival[0]
    # the numbers drawn are the engine's gradients: the last frame's h[0] has the colours of a full grads render
    assert cells(reverse[-1], "h[0]") != cells(reverse[0], "h[0]")


def test_a_weights_gradient_grows_as_each_step_adds_its_share(both, post_run):
    """BPTT's sum over the steps, drawn as it is summed: the frame of step s shows steps 7 down to s."""
    task = load_task(TASK)
    problem = task.generator.example("9+60", 8)
    network = task.build_network()
    run = network.graph(8).compile().forward(network.feeds(problem.x, problem.y), post_run.params)
    grads = run.backward(every_node=True)
    h = {t: run.value("h[-1]" if t < 0 else f"h[{t}]")[0] for t in range(-1, 8)}
    share = {("synapse_1", t): h[t][:, None] * grads[f"h_synapse_1[{t}]"][0][None] for t in range(8)}
    share |= {("synapse_h", t): h[t - 1][:, None] * grads[f"h_synapse_h[{t}]"][0][None] for t in range(8)}
    reverse = [f for f in both if f.phase == "reverse"]
    assert "not computed yet" in tooltip(reverse[0], "synapse_1[0, 0]")  # the loss' frame: no weight yet
    assert reverse[0].notes["synapse_h"].startswith("nothing summed yet")
    for s in range(8):
        output, cell = reverse[1 + 2 * (7 - s)], reverse[2 + 2 * (7 - s)]
        for frame, weight, steps in [(output, "synapse_1", range(s, 8)), (cell, "synapse_h", range(s, 8)),
                                     (output, "synapse_h", range(s + 1, 8))]:
            if not steps:
                assert "not computed yet" in tooltip(frame, f"{weight}[0, 0]")
                continue
            summed = sum(share[weight, t] for t in steps)
            for i, j in [(0, 0), (3, 0), (15, 0)] if weight == "synapse_1" else [(0, 0), (5, 9), (15, 15)]:
                assert float(tooltip(frame, f"{weight}[{i}, {j}]")) == pytest.approx(summed[i, j], rel=1e-3, abs=1e-12)
            np.testing.assert_allclose(frame.numbers[weight], summed, rtol=1e-12, atol=1e-15)  # what the page shows
            named = ", ".join(str(t) for t in reversed(steps))
            assert frame.notes[weight].startswith(f"the sum so far of the shares of steps {named}: {len(steps)} of 8")
    whole = grads["synapse_h"]  # the last frame: the whole sum, the gradient SGD applies
    assert float(tooltip(reverse[-1], "synapse_h[5, 9]")) == pytest.approx(whole[5, 9], rel=1e-3)
    assert reverse[-1].notes["synapse_h"].endswith("(whole: what SGD applies)")


def test_a_weights_heat_map_keeps_one_scale_while_it_grows(both):
    """Each weight on a scale of its own, fitted to every partial sum it is drawn with: the same number is the
    same colour in every frame, and the largest partial sum is full colour."""
    reverse = [f for f in both if f.phase == "reverse"]
    limits = {re.search(r"±([\d.e-]+)", f.picture.source.split("synapse_h [label=<", 1)[1]).group(1) for f in reverse}
    assert len(limits) == 1
    strongest = max(float(np.abs(f.numbers["synapse_h"]).max()) for f in reverse if "synapse_h" in f.numbers
                    and not np.isnan(f.numbers["synapse_h"]).all())
    assert float(limits.pop()) == pytest.approx(strongest, rel=1e-3)


def test_a_gated_cell_animates_too(tmp_path):
    task = load_task(ROOT / "tasks" / "binary_addition_lstm.toml")
    params = task.build_network().init_parameters(np.random.RandomState(0))
    shown = frames(task, params, "3+1", "both", 3, fold=True)
    assert len(shown) == 2 * (2 * 3 + 1)  # each pass: two frames a step, and the summed loss
    assert computed(shown[-1], "lstm[0]") and not computed(shown[len(shown) // 2 + 1], "lstm[0]")


def test_each_steps_share_of_the_recurrent_weights_gradient_is_what_it_adds_to_the_running_sum(both):
    """The caption of a step's cell says what share its read of synapse_h adds (graphnet reach's numbers): the
    size of what that frame adds to the sum drawn, over the sizes of every step's addition."""
    reverse = [f for f in both if f.phase == "reverse"]
    added, said = {}, {}
    for before, frame in zip(reverse, reverse[1:]):
        found = re.search(r"its read of synapse_h adds (\d+)% of the weight's gradient$", frame.caption)
        if "back through the cell" in frame.caption:
            assert found, frame.caption
            growth = frame.numbers["synapse_h"] - np.nan_to_num(before.numbers["synapse_h"])
            added[frame.step], said[frame.step] = np.linalg.norm(growth), int(found.group(1))
        else:
            assert found is None and np.array_equal(frame.numbers["synapse_h"], before.numbers["synapse_h"],
                                                    equal_nan=True)
    total = sum(added.values())
    assert sorted(added) == list(range(8)) and said[0] == 0  # step 0 reads the initial state, 0
    assert {t: round(100 * a / total) for t, a in added.items()} == said
