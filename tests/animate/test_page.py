"""The animation's page, opened from disk in headless Chromium in a laptop's window (1400 by 1000) and used as a
person uses it: the wheel, a drag, a pinch, keys, clicks. What it shows is read back from its DOM and measured
in screen pixels; every frame of every pass is drawn; the console stays quiet."""

import json
import re
from pathlib import Path

import pytest

from browser import CHROMIUM, Browser
from graphnet import load_task
from graphnet.animate import frames, write_html
from graphnet.animate.page import page_data
from conftest import ROOT, TASK

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium-headless-shell (CI installs it)")
READABLE = 12  # px: the smallest number a person is asked to read on the page


@pytest.fixture(scope="module")
def post(post_run, tmp_path_factory):
    """The post's network on 9 + 60 over 8 steps, both passes, and its page."""
    shown = frames(load_task(TASK), post_run.params, "9+60", "both", 8)
    return shown, write_html(shown, tmp_path_factory.mktemp("page") / "run.html")


@pytest.fixture(scope="module")
def browser():
    with Browser(1400, 1000) as opened:
        yield opened


def camera(browser) -> tuple[float, float, float, float]:
    """The SVG's viewBox now: x, y, width, height."""
    return tuple(map(float, browser.evaluate("document.querySelector('#view svg').getAttribute('viewBox')").split()))


def centre_of(browser, selector_js: str) -> tuple[float, float]:
    return tuple(browser.evaluate(f"(() => {{ const r = ({selector_js}).getBoundingClientRect(); "
                                  "return [r.left + r.width / 2, r.top + r.height / 2]; })()"))


def node(key: str) -> str:
    """JavaScript for the picture's node ``key``."""
    return (f"[...document.querySelectorAll('#view g.node')].find(g => g.querySelector('title').textContent === "
            f"{json.dumps(key)})")


def shown_cells(browser, ids: list[str]) -> dict[str, list[str]]:
    """What the page shows of each cell: its colour, its text and its hover text."""
    return browser.evaluate(f"""(() => {{
        const out = {{}};
        for (const g of document.querySelectorAll("#view g[id^='a_']")) {{
            const id = g.id.slice(2);
            if (!{json.dumps(ids)}.includes(id)) continue;
            const text = g.querySelector("text");
            out[id] = [g.querySelector("polygon").getAttribute("fill"), text ? text.textContent : "",
                       g.querySelector("title").textContent];
        }}
        return out;
    }})()""")


def test_the_page_is_self_contained_and_its_files_are_files(post):
    page = post[1].read_text()
    assert not re.search(r'<(?:script|link|img)[^>]+(?:src|href)=', page)  # nothing loaded from elsewhere
    assert len(page) < 4_000_000  # one layout per pass and each frame's changes, not 34 whole pictures
    package = ROOT / "graphnet" / "animate"
    for name in ("page.html", "page.css", "page.js"):
        assert (package / name).is_file()
    assert "function draw(" in page and "<svg" in page and "#panel" in page
    assert "<html" not in (package / "page.py").read_text()  # the page is not a Python string


def test_the_picture_fills_the_window(post, browser):
    browser.open(post[1])
    width, height = browser.evaluate("[document.getElementById('view').clientWidth, "
                                     "document.getElementById('view').clientHeight]")
    assert width == 1400 and height > 850  # the bar and the help line take the rest
    box = browser.evaluate("(() => { const r = document.querySelector('#view svg g').getBoundingClientRect(); "
                           "return [r.left, r.top, r.right, r.bottom]; })()")
    drawn = (box[2] - box[0]) / width, (box[3] - box[1]) / height
    assert max(drawn) > 0.95  # the whole picture, as large as the window lets it be
    assert browser.console() == []


def test_every_frame_of_every_pass_draws_its_numbers(post, browser):
    """Stepped through with the keyboard, each frame shows the colours, numbers and hover texts of its picture."""
    shown, page = post
    browser.open(page)
    browser.key(" ")  # pause
    drawn = 0
    for name in ("forward", "reverse"):
        browser.click(*centre_of(browser, f"document.querySelector('#phases input[value={name}]')"))
        mine = [f for f in shown if f.phase == name]
        for i, frame in enumerate(mine):
            if i:
                browser.key(".")
            assert browser.evaluate("[document.body.dataset.phase, +document.body.dataset.frame]") == [name, i]
            assert browser.evaluate("document.getElementById('caption').textContent") == frame.caption
            changed = [id for id, cell in frame.picture.cells.items() if cell != mine[0].picture.cells[id]] or \
                list(frame.picture.cells)[:50]
            on_page = shown_cells(browser, changed)
            for id in changed:
                cell = frame.picture.cells[id]
                assert on_page[id] == [cell.colour, cell.text, cell.tooltip], (name, i, id)
            drawn += 1
    assert drawn == len(shown)
    assert browser.console() == []


def test_the_wheel_zooms_about_the_pointer_a_drag_pans_and_so_does_a_pinch(post, browser):
    browser.open(post[1])
    browser.key(" ")
    x, y, w, h = camera(browser)
    at = (500, 500)
    before = browser.evaluate(f"(() => {{ const p = new DOMPoint({at[0]}, {at[1]}).matrixTransform("
                              "document.querySelector('#view svg').getScreenCTM().inverse()); return [p.x, p.y]; })()")
    browser.wheel(*at, -400)  # away from you: closer
    x2, y2, w2, h2 = camera(browser)
    assert w2 < w / 2
    after = browser.evaluate(f"(() => {{ const p = new DOMPoint({at[0]}, {at[1]}).matrixTransform("
                             "document.querySelector('#view svg').getScreenCTM().inverse()); return [p.x, p.y]; })()")
    assert after == pytest.approx(before, abs=0.5)  # what was under the pointer stays under it
    browser.drag((700, 600), (600, 550))
    x3, y3, _, _ = camera(browser)
    scale = 1400 / w2
    assert (x3 - x2, y3 - y2) == pytest.approx((100 / scale, 50 / scale), abs=1 / scale)
    browser.wheel(700, 500, 120, ctrl=True)  # a touchpad's pinch, apart: further
    assert camera(browser)[2] > w2
    width = camera(browser)[2]
    browser.pinch(700, 500, 100, 300)  # two fingers on a screen, spread: closer
    assert camera(browser)[2] < width / 2
    assert browser.evaluate("document.body.dataset.pinned") in (None, "")  # a drag or a pinch pins nothing
    assert browser.console() == []


def test_keys_zoom_pan_step_and_play(post, browser):
    browser.open(post[1])
    assert browser.evaluate("document.getElementById('play').textContent") == "pause"  # it plays on its own
    browser.key(" ")
    assert browser.evaluate("document.getElementById('play').textContent") == "play"
    whole = camera(browser)
    browser.key("+")
    assert camera(browser)[2] == pytest.approx(whole[2] / 1.4)
    zoomed = camera(browser)
    browser.key("ArrowRight")
    assert camera(browser)[0] > zoomed[0] and camera(browser)[1] == zoomed[1]
    browser.key("ArrowDown")
    assert camera(browser)[1] > zoomed[1]
    browser.key("-")
    browser.key("0")
    assert camera(browser) == pytest.approx(whole)
    for key, frame in [(".", 1), (".", 2), (",", 1), ("End", 16), ("Home", 0)]:
        browser.key(key)
        assert browser.evaluate("+document.body.dataset.frame") == frame
    assert browser.console() == []


def numbers_on_screen(browser, within: str) -> list[tuple[str, float]]:
    """Each number drawn in the picture inside the box of ``within`` (JavaScript for an element) and in the view,
    with its height on the screen: its font size times the picture's scale, in px."""
    return browser.evaluate(f"""(() => {{
        const area = ({within}).getBoundingClientRect(), view = document.getElementById("view").getBoundingClientRect();
        const out = [];
        for (const text of document.querySelectorAll("#view svg text")) {{
            const r = text.getBoundingClientRect(), words = text.textContent.trim();
            if (!/^[-−]?[0-9][0-9.e-]*$/.test(words)) continue;
            if (r.left < area.left || r.right > area.right || r.top < area.top || r.bottom > area.bottom) continue;
            if (r.left < view.left || r.right > view.right || r.top < view.top || r.bottom > view.bottom) continue;
            out.push([words, parseFloat(text.getAttribute("font-size")) * text.getScreenCTM().a]);
        }}
        return out;
    }})()""")


@pytest.fixture(scope="module")
def lstm(tmp_path_factory):
    """A gated cell unrolled, unfolded: a step far bigger than the post's."""
    import numpy as np

    task = load_task(ROOT / "tasks" / "binary_addition_lstm.toml")
    params = task.build_network().init_parameters(np.random.RandomState(0))
    shown = frames(task, params, "3+1", "both", 3)
    return shown, write_html(shown, tmp_path_factory.mktemp("lstm") / "lstm.html")


@pytest.mark.parametrize("which", ["post", "lstm"])
def test_following_the_step_shows_its_numbers_at_a_readable_size(which, post, lstm, browser):
    shown, page = {"post": post, "lstm": lstm}[which]
    browser.open(page)
    browser.key(" ")
    browser.key("f")
    assert browser.evaluate("document.getElementById('follow').checked") is True
    centres = []
    forward = [f for f in shown if f.phase == "forward"]
    for i, frame in enumerate(forward):
        if i:
            browser.key(".")
        if frame.step is None:
            continue
        area = f"document.querySelectorAll('#view g.cluster')[{frame.step + 1}]"  # the weights' box is first
        assert browser.evaluate(f"({area}).querySelector('title').textContent") == f"cluster_t{frame.step}"
        seen = numbers_on_screen(browser, area)
        keys = [k for k in frame.keys if k in frame.picture.source]
        assert seen, (which, i)  # the step's numbers are in the view
        assert min(size for _, size in seen) >= READABLE, (which, i, seen)
        for key in keys[:1]:  # what the frame computes is in the view
            r = browser.evaluate(f"(() => {{ const r = ({node(key)}).getBoundingClientRect(); "
                                 "return [r.left + r.width / 2, r.top + r.height / 2]; })()")
            assert 0 < r[0] < 1400 and 60 < r[1] < 1000, (which, i, key)
        centres.append((frame.step, camera(browser)[0] + camera(browser)[2] / 2))
    by_step = [max(c for t, c in centres if t == step) for step in sorted({t for t, _ in centres})]
    assert by_step == sorted(by_step) and len(by_step) > 2  # the view follows the pass, step by step, to the right
    assert browser.console() == []


def panel_numbers(browser) -> list[tuple[str, float]]:
    """The numbers of the panel's table, each with its font size on the screen."""
    return browser.evaluate("""[...document.querySelectorAll('#panel table.numbers td')].map(td =>
        [td.textContent, parseFloat(getComputedStyle(td).fontSize), td.getBoundingClientRect().height])""")


def test_a_clicked_node_shows_its_name_shape_numbers_formula_and_inputs(post, browser):
    shown, page = post
    browser.open(page)
    browser.key(" ")
    for _ in range(7):
        browser.key(".")  # frame 7: step 3's output; h[3] is computed
    frame = [f for f in shown if f.phase == "forward"][7]
    assert browser.evaluate("document.getElementById('panel').hidden") is True
    browser.click(*centre_of(browser, node("h[3]")))
    assert browser.evaluate("document.body.dataset.pinned") == "h[3]"
    text = browser.evaluate("document.getElementById('panel').innerText")
    assert text.startswith("h[3]") and "sigmoid · hidden · step 3 · B×16" in text
    assert "h[3] = 1 / (1 + exp(−h_in[3]))" in text and "backward" not in text.lower().split("the code")[0]
    numbers = panel_numbers(browser)
    expected = page_data([frame])["phases"]["forward"]["numbers"]["h[3]"][0][1]
    assert [n for n, _, _ in numbers] == expected and len(expected) == 16
    assert min(size for _, size, _ in numbers) >= READABLE and min(h for _, _, h in numbers) >= READABLE
    assert float(numbers[5][0]) == pytest.approx(frame.numbers["h[3]"][0, 5], rel=5e-3)
    # what it was computed from, each a button that pins it
    assert browser.evaluate("[...document.querySelectorAll('#panel .keys')][0].innerText.split(/\\s+/)") == ["h_in[3]"]
    browser.click(*centre_of(browser, "[...document.querySelectorAll('#panel .keys button')][0]"))
    assert browser.evaluate("document.body.dataset.pinned") == "h_in[3]"
    assert "h_in[3] = x_synapse_0[3] + h_synapse_h[3]" in browser.evaluate("document.getElementById('panel').innerText")
    browser.key("Escape")
    assert browser.evaluate("document.getElementById('panel').hidden") is True
    assert browser.console() == []


def test_in_the_reverse_pass_a_weights_panel_shows_its_running_sum(post, browser):
    shown, page = post
    reverse = [f for f in shown if f.phase == "reverse"]
    browser.open(page)
    browser.key(" ")
    browser.click(*centre_of(browser, "document.querySelector('#phases input[value=reverse]')"))
    browser.click(*centre_of(browser, node("synapse_h")))
    numbers = page_data(reverse)["phases"]["reverse"]["numbers"]["synapse_h"]
    for i, frame in enumerate(reverse):
        if i:
            browser.key(".")
        text = browser.evaluate("document.getElementById('panel').innerText")
        assert "∂L/∂synapse_h = the sum of what every op that reads synapse_h hands back" in text
        assert frame.notes["synapse_h"] in text
        table = panel_numbers(browser)
        if frame.notes["synapse_h"].startswith("nothing summed yet"):
            assert not table
            continue
        now = [version for first, version in numbers if first <= i][-1]
        in_blocks = [v for start in (0, 8) for row in now for v in row[start:start + 8]]  # 8 columns at a time
        assert [n for n, _, _ in table] == in_blocks and len(table) == 256
        assert min(size for _, size, _ in table) >= READABLE
    assert "(whole: what SGD applies)" in text
    assert browser.console() == []


def test_a_view_named_in_the_address_is_shown_paused(post, browser):
    browser.open(post[1], "#reverse&frame=5&pin=synapse_h&follow")
    assert browser.evaluate("[document.body.dataset.phase, +document.body.dataset.frame, document.body.dataset.pinned,"
                            " document.getElementById('follow').checked, document.getElementById('play').textContent]"
                            ) == ["reverse", 4, "synapse_h", True, "play"]
    assert browser.console() == []


def test_the_page_draws_the_memory_too(post_run, tmp_path, browser):
    shown = frames(load_task(TASK), post_run.params, "9+60", "memory", 8)
    page = write_html(shown, tmp_path / "memory.html")
    browser.open(page, "#check")
    assert browser.evaluate("+document.body.dataset.drawn") == len(shown)
    browser.open(page)
    browser.key(" ")
    browser.key("End")
    browser.click(*centre_of(browser, node("h[4]")))
    text = browser.evaluate("document.getElementById('panel').innerText")
    assert "% of its change due to each input step" in text
    on_page = [n for n, _, _ in panel_numbers(browser)]
    assert on_page == page_data(shown)["phases"]["memory"]["numbers"]["h[4]"][-1][1]
    assert round(float(on_page[3])) == 47  # the README's 47 %: h[4] on step 3
    assert browser.console() == []
