"""docs/exercises.md, run as a learner runs it: each `$ graphnet exercise ...` prints what the page shows, with
the edits to the exercise's file the page describes made between them."""

from __future__ import annotations

import shlex

from conftest import ROOT, run_cli
from test_readme import fenced_blocks, matches

PAGE = (ROOT / "docs" / "exercises.md").read_text()
# the page's words for each edit, and the edit: what the learner writes in place of the NotImplementedError
EDITS = {
    "check 1 --picture": ('        raise NotImplementedError("exercise 1: return (the gradient of the loss with respect to x,)")',
                          "        return (grad,)"),
    "check 1\n": ("        return (grad,)", "        return (grad * y * (1 - y),)"),
}


def test_the_page_walks_from_the_first_exercise_to_the_posts_log(tmp_path):
    assert "say you write `return (grad,)`" in PAGE and "With `return (grad * y * (1 - y),)`" in PAGE
    blocks = [b for b in fenced_blocks(PAGE) if b.startswith("$ graphnet")]
    assert len(blocks) == 4
    path = tmp_path / "exercises" / "01_sigmoid.py"
    for block in blocks:
        command, *shown = block.rstrip("\n").splitlines()
        for said, (old, new) in EDITS.items():
            if (command + "\n").endswith(said) or said in command:
                text = path.read_text()
                assert old in text
                path.write_text(text.replace(old, new))
        result = run_cli(*shlex.split(command[2:])[1:], cwd=tmp_path)
        assert result.returncode in (0, 1), (command, result.stderr)
        printed = result.stdout.rstrip("\n").splitlines()
        assert matches(shown, printed), (command, shown, printed)
    assert (tmp_path / "grads.png").read_bytes()[:4] == b"\x89PNG"
