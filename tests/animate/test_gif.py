"""An animation as a GIF: every frame for its time, each pass laid out once."""

import numpy as np
import pytest
from PIL import Image

from graphnet import load_task
from graphnet.animate import frames, write_gif
from graphnet.render import Fixed
from conftest import TASK


@pytest.fixture(scope="module")
def three_steps(post_run):
    return frames(load_task(TASK), post_run.params, "3+3", "both", 3)


def test_a_gif_has_every_frame_for_its_time(three_steps, tmp_path):
    some = three_steps[:3] + three_steps[-3:]
    path = write_gif(some, tmp_path / "run.gif")
    with Image.open(path) as gif:
        assert gif.n_frames == len(some) and gif.info["loop"] == 0
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
    assert durations == [round(f.seconds * 1000) for f in some]


def test_each_frame_is_its_picture_drawn_in_its_pass_s_one_layout(three_steps, tmp_path):
    """The GIF's frame is what the frame's own picture looks like in the layout of its pass's first frame: the
    same pixels, not another layout."""
    forward = [f for f in three_steps if f.phase == "forward"]
    path = write_gif(forward, tmp_path / "forward.gif")
    fixed = Fixed(forward[0].picture)
    with Image.open(path) as gif:
        gif.seek(3)
        shown = np.asarray(gif.convert("RGB"))
    import io

    alone = np.asarray(Image.open(io.BytesIO(fixed.draw(forward[3].picture, "png", 96))).convert("RGB"))
    assert shown.shape[:2] == alone.shape[:2]
    assert np.mean(np.abs(shown.astype(int) - alone.astype(int)).sum(axis=2) > 60) < 0.01  # one palette aside
