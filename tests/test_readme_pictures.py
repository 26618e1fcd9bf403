"""The README's pictures read in the README's column, about 880 pixels wide: each made by a command the README
shows, its numbers measured on a PNG of it at the size it is shown there (at least 9 pixels high), the frames of
its animations held long enough to read one."""

from __future__ import annotations

import io
import re
import shlex

import pytest
from PIL import Image

from browser import CHROMIUM, Browser
from graphnet import load_task
from graphnet.animate import frames
from graphnet.animate.gif import DPI
from graphnet.render import Fixed
from pixels import digit_heights, in_a_column
from conftest import ROOT
from test_readme import fenced_blocks

README = (ROOT / "README.md").read_text()
COLUMN = 880  # px: the README's column on GitHub
PICTURES = re.findall(r"!\[[^\]]*\]\((docs/[^)]+\.(?:svg|gif|png))\)", README)
COMMANDS = [line for block in fenced_blocks(README) for line in block.splitlines()]
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium-headless-shell (CI installs it)")


def command_of(picture: str) -> list[str]:
    """The README's command that writes ``picture``, as words."""
    return shlex.split(next(line for line in COMMANDS if picture in line and not line.startswith("![")))


def test_every_picture_is_made_by_a_command_the_readme_shows():
    assert len(PICTURES) >= 8
    for picture in PICTURES:
        assert (ROOT / picture).is_file(), picture
        assert command_of(picture), picture


@pytest.fixture(scope="module")
def browser():
    with Browser(COLUMN + 40, 1000) as opened:
        yield opened


@needs_chromium
@pytest.mark.parametrize("picture", [p for p in PICTURES if p.endswith(".svg") and "-" in p and "sweep" not in p
                                     and "curve" not in p and "probe" not in p and "reach" not in p])
def test_a_drawn_pictures_numbers_read_in_the_column(picture, browser, tmp_path):
    svg = tmp_path / picture.split("/")[-1]
    svg.write_text((ROOT / picture).read_text())
    shown = in_a_column(browser, svg, COLUMN)
    assert shown.width <= COLUMN
    heights = digit_heights(shown, svg.read_text())
    if "values" in picture or "grads" in picture or "folded-3+3" in picture:
        assert len(heights) >= 8, heights  # the bits, predictions, losses and the legend's numbers
    assert heights and min(heights.values()) >= 9, sorted(heights.items(), key=lambda kv: kv[1])[:5]


def gif_frames(post_run, picture: str):
    """The frames the README's command draws for ``picture``, with the trained weights it uses."""
    words = command_of(picture)
    example, show = words[words.index("--example") + 1], words[words.index("--show") + 1] if "--show" in words else "both"
    steps = int(words[words.index("--steps") + 1]) if "--steps" in words else None
    return frames(load_task(ROOT / words[2]), post_run.params, example, show, steps or 8, fold="--fold" in words)


@pytest.mark.parametrize("picture", [p for p in PICTURES if p.endswith(".gif")])
def test_an_animations_frames_read_in_the_column_and_stay_long_enough(picture, post_run):
    with Image.open(ROOT / picture) as gif:
        assert gif.width <= COLUMN  # shown at its own size
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
    assert min(durations) >= 1500  # ms: time to read a number
    shown = gif_frames(post_run, picture)
    assert len(shown) == len(durations)
    fixed = {}
    for frame in shown[:: max(1, len(shown) // 4)] + shown[-1:]:  # a few frames of each pass
        laid = fixed.setdefault(frame.phase, Fixed(frame.picture))
        png = Image.open(io.BytesIO(laid.draw(frame.picture, "png", DPI)))
        assert png.width == gif.width or frame.phase != shown[0].phase
        heights = digit_heights(png, laid.draw(frame.picture, "svg").decode(), DPI / 72)
        assert heights and min(heights.values()) >= 9, (frame.caption, sorted(heights.items(), key=lambda kv: kv[1])[:5])
    if "memory" in picture:  # the percentages the README quotes, as numbers in the last frame's picture
        paragraph = next(p for p in README.split("\n\n") if "Summed over the 16 cells" in p)
        quoted = re.findall(r"(\d+) %", paragraph)
        assert sorted(set(quoted)) == ["40", "47", "48", "59", "7"]
        assert all(heights.get(q, 0) >= 9 for q in quoted), heights


@needs_chromium
def test_the_pages_picture_reads_in_the_column(browser, tmp_path, post_run):
    """docs/page.png: the README's view of the page in a window as wide as the column, its numbers (in the
    picture and in the panel) at least 13 pixels high: their digits at least 9."""
    from graphnet.animate import write_html

    words = command_of("docs/page.png")
    view = re.search(r"#(.*)$", words[-1]).group(1)
    width, height = map(int, re.search(r"--window-size=(\d+),(\d+)", " ".join(words)).groups())
    assert width <= COLUMN and Image.open(ROOT / "docs" / "page.png").size == (width, height)
    animate = command_of("bptt.html")
    page = write_html(frames(load_task(ROOT / animate[2]), post_run.params, animate[animate.index("--example") + 1],
                             "both", 8), tmp_path / "bptt.html")
    browser.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                        "mobile": False})
    browser.open(page, "#" + view)
    sizes = browser.evaluate("""(() => {
        const view = document.getElementById("view").getBoundingClientRect(), out = [];
        for (const text of document.querySelectorAll("#view svg text")) {
            const r = text.getBoundingClientRect();
            if (!/^[-−]?[0-9][0-9.e-]*$/.test(text.textContent.trim())) continue;
            if (r.right < view.left || r.left > view.right || r.bottom < view.top || r.top > view.bottom) continue;
            out.push(parseFloat(text.getAttribute("font-size")) * text.getScreenCTM().a);
        }
        for (const td of document.querySelectorAll("#panel td")) out.push(parseFloat(getComputedStyle(td).fontSize));
        return out;
    })()""")
    assert len(sizes) > 16 and min(sizes) >= 12.9, sorted(sizes)[:5]
    assert browser.console() == []


@needs_chromium
def test_the_measure_shrinks_with_the_picture(browser, tmp_path):
    """Half as wide a column, digits about half as high: the measure reads the pixels, not the source."""
    svg = tmp_path / "values.svg"
    svg.write_text((ROOT / "docs" / "values-3+3.svg").read_text())
    full, half = (digit_heights(in_a_column(browser, svg, width), svg.read_text()) for width in (COLUMN, COLUMN // 2))
    assert set(full) == set(half)
    assert all(half[n] <= full[n] * 0.6 + 1 for n in full) and max(half.values()) < 9
