"""The exercises in a notebook: a cell with the learner's node type, one call that checks it, and what the
notebook then shows (its text and its picture), run by a real kernel through nbclient."""

from __future__ import annotations

import base64

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

CELL = '''
from graphnet import Node, Stacking, register_node, unregister_node

unregister_node("my_sigmoid")  # so that this cell can run again after an edit

@register_node("my_sigmoid")
class Sigmoid(Node):
    stacking = Stacking()

    def forward(self, ctx, x):
        y = 1.0 / (1.0 + ctx.xp.exp(-x))
        ctx.save(x, y)
        return y

    def backward(self, ctx, grad):
        x, y = ctx.saved
        return (grad * x * (1 - x),)       # a mistake: x where sigmoid(x) is meant
'''


def test_one_call_in_a_notebook_shows_the_diagnosis_and_its_picture(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(CELL),
        nbformat.v4.new_code_cell("from graphnet.app.exercises import check\ncheck(1, globals(), train=False)"),
    ])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    (shown,) = notebook.cells[1].outputs
    assert shown["output_type"] == "execute_result"
    text = shown["data"]["text/plain"]
    assert "x is used where sigmoid(x) is meant" in text and "your notebook's code" in text
    png = base64.b64decode(shown["data"]["image/png"])
    assert png[:4] == b"\x89PNG"
    assert "<img" in shown["data"]["text/html"]
