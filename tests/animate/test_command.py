"""``graphnet animate``: what it writes, and its mistakes in one line."""

import os
import subprocess
import sys

import pytest

from graphnet import cli
from graphnet.animate import MAX_STEPS, SHOWS
from conftest import TASK, run_cli


def test_the_command_writes_a_gif_and_a_page(trained_weights, tmp_path):
    for name in ["run.gif", "run.html"]:
        result = run_cli("animate", TASK, "--weights", trained_weights, "--example", "5+6", "--steps", "4",
                         "--fold", "-o", tmp_path / name)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"wrote {tmp_path / name} (18 frames, 4 steps, 33 s a loop)\n"
    assert (tmp_path / "run.gif").read_bytes().startswith(b"GIF89a")


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


def test_without_graphviz_an_animation_is_refused_before_any_work(trained_weights, tmp_path):
    code = "import sys; sys.modules['pygraphviz'] = None; from graphnet.cli import main; sys.exit(main(sys.argv[1:]))"
    env = dict(os.environ, PATH=str(tmp_path / "empty-bin"))  # no dot program either
    result = subprocess.run([sys.executable, "-c", code, "animate", str(TASK), "--weights", str(trained_weights),
                             "--example", "9+60", "-o", str(tmp_path / "a.html")], capture_output=True, text=True,
                            env=env)
    assert result.returncode == 2 and result.stderr.startswith(
        f"graphnet: error: -o {tmp_path / 'a.html'}: drawing the frames needs Graphviz's dot program. Get it with "
        "'apt-get install graphviz'"), result.stderr
    assert result.stderr.count("\n") == 1 and list(tmp_path.iterdir()) == []
