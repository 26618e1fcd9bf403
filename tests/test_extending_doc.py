"""docs/extending.md, followed as a user would: its files written, its commands run, its outputs checked."""

import re
import shlex

from conftest import ROOT, run_cli

DOC = (ROOT / "docs" / "extending.md").read_text()


def test_the_worked_example_runs_as_written(tmp_path):
    files = re.findall(r"```(?:python|toml) (\S+)\n(.*?)```", DOC, re.S)
    assert [name for name, _ in files] == ["my_nodes.py", "softplus_addition.toml", "my_cell.py", "times_three.toml"]
    code_lines = [line for line in files[0][1].splitlines() if line.strip()]
    assert len(code_lines) < 25  # the promise: a node type in under 25 lines
    for name, text in files:
        (tmp_path / name).write_text(text)

    blocks = re.findall(r"```sh\n(.*?)```\n\n```\n(.*?)```", DOC, re.S)
    assert len(blocks) == 3
    for commands, expected in blocks:
        outputs = []
        for command in commands.strip().splitlines():
            words = shlex.split(command)
            assert words[0] == "graphnet"
            result = run_cli(*words[1:], cwd=tmp_path)
            assert result.returncode == 0, (command, result.stderr)
            outputs.append(result.stdout.strip().splitlines()[-1])
        # each command's last line as the page shows it (timings aside)
        for got, want in zip(outputs, expected.strip().splitlines()[-len(outputs):]):
            assert re.sub(r"in [\d.]+ s", "", got) == re.sub(r"in [\d.]+ s", "", want)


def test_a_plugin_that_fails_or_clashes_gets_one_line(tmp_path):
    (tmp_path / "broken.py").write_text("raise RuntimeError('oops')\n")
    (tmp_path / "clash.py").write_text(
        "from graphnet import Node, register_node\n\n@register_node('sigmoid')\nclass MySigmoid(Node):\n    pass\n"
    )
    for plugin, message in [
        ("broken", "--plugin broken: cannot import it (RuntimeError: oops)"),
        ("clash", "--plugin clash: node type 'sigmoid' is already registered by graphnet.engine.nodes"),
        ("missing.py", "--plugin missing.py: no such file"),
    ]:
        result = run_cli("nodes", "--plugin", plugin, cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert message in result.stderr


def test_the_page_says_what_a_cell_and_a_generator_declare():
    # A cell's states are what the output layer reads, kind what --fold folds: left out, they fail or fold nothing.
    for declared in ("states", "kind", "arity", "default_activation", "example_form", "draw_order", "options"):
        assert f"`{declared}" in DOC, declared
    assert "for a task of two outputs" in DOC  # what the training log shows of several outputs
