"""Animations of a real run: the forward pass, the reverse pass step by step, the hidden layer's memory."""

import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from graphnet import cli, load_task
from graphnet.animate import MAX_STEPS, SHOWS, frames, occlusion, write_gif, write_html
from graphnet.render import PENDING
from conftest import ROOT, TASK, run_cli

CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")


def cells(frame, key: str) -> list[str]:
    """The colours of ``key``'s cells in a frame's picture."""
    label = re.search(rf'^\s*"?{re.escape(key)}"? \[label=<(.*?)>\s', frame.picture.source, re.S | re.M).group(1)
    return re.findall(r'BGCOLOR="(#\w+)"', label)


def computed(frame, key: str) -> bool:
    return PENDING not in cells(frame, key)


@pytest.fixture(scope="module")
def both(post_run):
    """The post's trained network on 9 + 60, 8 bits: the forward pass, then the reverse pass."""
    return frames(load_task(TASK), post_run.params, "9+60", "both", 8)


def test_two_frames_a_step_in_each_pass(both):
    forward = [f for f in both if f.phase == "forward"]
    reverse = [f for f in both if f.phase == "reverse"]
    assert len(forward) >= 2 * 8 and len(reverse) >= 2 * 8
    assert forward[0].seconds > forward[1].seconds and reverse[-1].seconds > reverse[1].seconds  # held at the ends
    assert "9 + 60 = 69" in both[0].picture.source


def test_the_forward_pass_computes_one_step_after_another(both):
    forward = [f for f in both if f.phase == "forward"]
    for t in range(8):
        first = next(i for i, f in enumerate(forward) if computed(f, f"h[{t}]"))
        assert first == 2 * t  # the first frame of step t computes its hidden state, and not before
        assert not computed(forward[first], f"y_hat[{t}]") and computed(forward[first + 1], f"y_hat[{t}]")
        assert computed(forward[first], f"x[{t}]") and (t == 7 or not computed(forward[first], f"x[{t + 1}]"))
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
    whole = grads["synapse_h"]  # the last frame: the whole sum, the gradient SGD applies
    assert float(tooltip(reverse[-1], "synapse_h[5, 9]")) == pytest.approx(whole[5, 9], rel=1e-3)


def test_memory_is_measured_by_occlusion_and_never_reaches_ahead(post_run):
    task = load_task(TASK)
    problem = task.generator.example("9+60", 8)
    change = occlusion(task, post_run.params, problem.x)
    assert change.shape == (8, 8, 16)
    for t in range(8):
        assert np.all(change[t, t + 1 :] == 0)  # h[t] never depends on a later input
        assert change[t, t].sum() > 0  # and always on its own
    assert change[3, 2].sum() > 0.1  # the carry: what step 3 holds depends on step 2's input
    memory = frames(task, post_run.params, "9+60", "memory", 8)
    assert len(memory) == 8 and all(f.phase == "memory" for f in memory)
    assert "occlusion" in memory[0].picture.source


def test_a_gif_has_every_frame_for_its_time(both, tmp_path):
    from PIL import Image

    some = both[:3] + both[-3:]
    path = write_gif(some, tmp_path / "run.gif")
    with Image.open(path) as gif:
        assert gif.n_frames == len(some) and gif.info["loop"] == 0
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
    assert durations == [round(f.seconds * 1000) for f in some]


def test_the_page_is_self_contained(both, tmp_path):
    page = write_html(both, tmp_path / "run.html").read_text()
    assert not re.search(r'<(?:script|link|img)[^>]+(?:src|href)=', page)  # nothing loaded from elsewhere
    assert "play" in page and 'type="range"' in page
    assert len(page) < 4_000_000  # one layout per phase and each frame's changes, not 35 whole pictures


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium-headless-shell (CI installs it)")
@pytest.mark.parametrize("show", ["both", "memory"])
def test_the_page_runs_in_a_browser_without_a_console_message(post_run, tmp_path, show):
    """Headless Chromium opens the page from disk and draws every frame of every phase (#check)."""
    shown = frames(load_task(TASK), post_run.params, "9+60", show, 8)
    page = write_html(shown, tmp_path / "run.html")
    result = subprocess.run([CHROMIUM, "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                             "--dump-dom", f"{page.as_uri()}#check"], capture_output=True, text=True, timeout=120)
    assert f'data-drawn="{len(shown)}"' in result.stdout, result.stderr[-2000:]
    assert "CONSOLE" not in result.stderr, [line for line in result.stderr.splitlines() if "CONSOLE" in line]


def test_the_command_writes_a_gif_and_a_page(trained_weights, tmp_path):
    for name in ["run.gif", "run.html"]:
        result = run_cli("animate", TASK, "--weights", trained_weights, "--example", "5+6", "--steps", "4",
                         "--fold", "-o", tmp_path / name)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"wrote {tmp_path / name} (18 frames, 4 steps, 21 s a loop)\n"
    assert (tmp_path / "run.gif").read_bytes().startswith(b"GIF89a")


def test_a_gated_cell_animates_too(tmp_path):
    task = load_task(ROOT / "tasks" / "binary_addition_lstm.toml")
    params = task.build_network().init_parameters(np.random.RandomState(0))
    shown = frames(task, params, "3+1", "both", 3, fold=True)
    assert len(shown) == 2 * (2 * 3 + 1)  # each pass: two frames a step, and the summed loss
    assert computed(shown[-1], "lstm[0]") and not computed(shown[len(shown) // 2 + 1], "lstm[0]")


def test_the_command_line_knows_what_animate_does():
    assert cli.ANIMATE_SHOWS == SHOWS and cli.ANIMATE_MAX_STEPS == MAX_STEPS


@pytest.mark.parametrize("args, message", [
    (["-o", "run.mp4"], "-o run.mp4: unknown animation format '.mp4'; expected one of .gif, .html"),
    (["-o", "run.gif", "--steps", "17"], "--steps 17: more than 16 steps make too many frames to follow"),
    (["-o", "run.gif", "--show", "colours"], "invalid choice: 'colours'"),
    (["-o", "run.gif", "--steps", "0"], "--steps: expected an integer of at least 1, got 0"),
])
def test_animate_mistakes_end_in_one_line(trained_weights, tmp_path, args, message):
    result = run_cli("animate", TASK, "--weights", trained_weights, "--example", "9+60", *args, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_an_example_the_task_cannot_read_and_a_gif_without_pillow(trained_weights, tmp_path):
    result = run_cli("animate", TASK, "--weights", trained_weights, "--example", "9-60", "-o", tmp_path / "a.gif")
    assert result.returncode == 2 and "--example 9-60: expected A+B" in result.stderr
    code = "import sys; sys.modules['PIL'] = None; from graphnet.cli import main; sys.exit(main(sys.argv[1:]))"
    result = subprocess.run([sys.executable, "-c", code, "animate", str(TASK), "--weights", str(trained_weights),
                             "--example", "9+60", "-o", str(tmp_path / "a.gif")], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "a GIF needs Pillow" in result.stderr and "pip install -e '.[animate]'" in result.stderr
    assert not (tmp_path / "a.gif").exists()


def test_not_computed_yet_has_a_colour_no_number_has():
    from graphnet.render import Scale, unit_colour

    numbers = np.linspace(-1, 1, 2001)
    reachable = {unit_colour(v) for v in numbers if v >= 0} | {Scale(1.0).colour(v) for v in numbers}
    reachable |= {Scale(1.0, 4).colour(v) for v in numbers}
    assert PENDING not in reachable
