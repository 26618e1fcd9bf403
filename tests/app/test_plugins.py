"""Plugins: node types from the user's own modules, named on the command line, in a task file, or installed."""

import subprocess
import sys

import pytest

from graphnet import registered_nodes, unregister_node
from graphnet.app.plugins import load_plugins
from conftest import ROOT, run_cli

TRIPLE = """
from graphnet import Node, register_node

@register_node("triple")
class Triple(Node):
    '''3x, elementwise.'''

    def forward(self, ctx, x):
        return 3 * x

    def backward(self, ctx, grad):
        return (3 * grad,)
"""


@pytest.fixture(autouse=True)
def forget_the_node_types_plugins_register():
    """What a test's plugins register is forgotten after it: the property tests draw from every registered type."""
    before = set(registered_nodes())
    yield
    for name in set(registered_nodes()) - before:
        unregister_node(name)


def test_a_module_file_registers_its_node_types_once(tmp_path):
    (tmp_path / "triple_nodes.py").write_text(TRIPLE)
    first = load_plugins(["triple_nodes.py"], relative_to=tmp_path)
    again = load_plugins([str(tmp_path / "triple_nodes.py")])
    assert first == again and "triple" in registered_nodes()


# The same plugin as earlier versions' docs wrote it: the old names and module paths.
OLD_TRIPLE = '''
from graphnet import Node, register
from graphnet.nodes import get
from graphnet.training import train

@register("old_triple")
class Triple(Node):
    """3x, elementwise."""

    def forward(self, ctx, x):
        return 3 * x

    def backward(self, ctx, grad):
        return (3 * grad,)

assert get("old_triple") is not None and callable(train)
'''


def test_a_plugin_written_against_the_old_paths_still_works_and_warns(tmp_path):
    (tmp_path / "old_nodes.py").write_text(OLD_TRIPLE)
    with pytest.warns(DeprecationWarning) as caught:
        load_plugins([str(tmp_path / "old_nodes.py")])
    said = [str(w.message) for w in caught]
    assert "graphnet.register is now graphnet.register_node; the old name will go away" in said
    assert any(m.startswith("graphnet.nodes moved to graphnet.engine.node and graphnet.engine.nodes") for m in said)
    assert any(m.startswith("graphnet.training moved to graphnet.app.training") and "add -> add_integers" in m
               for m in said)
    assert "old_triple" in registered_nodes()


@pytest.mark.parametrize("old, name", [("graphnet.nodes", "Sigmoid"), ("graphnet.graph", "Graph"),
                                       ("graphnet.cells", "Network"), ("graphnet.data", "bits_to_int"),
                                       ("graphnet.tasks", "load_task"), ("graphnet.training", "save_weights"),
                                       ("graphnet.gradcheck", "check_task_network"),
                                       ("graphnet.checkpoint", "Checkpointer"), ("graphnet.sweep", "sweep")])
def test_every_old_module_path_imports_with_a_warning_naming_the_new_place(old, name):
    code = (f"import warnings; warnings.simplefilter('error')\n"
            f"try:\n    import {old}\nexcept DeprecationWarning as w:\n    print(w)\n"
            f"warnings.simplefilter('ignore'); import {old} as m; print(hasattr(m, {name!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    said, found = result.stdout.strip().splitlines()
    assert said.startswith(f"{old} moved to graphnet.") and found == "True", result.stderr


def test_plugins_named_in_a_task_file_load_from_its_folder(tmp_path):
    (tmp_path / "triple_nodes.py").write_text(TRIPLE.replace("triple", "triple_from_task"))
    task = (ROOT / "tasks" / "binary_addition.toml").read_text()
    (tmp_path / "task.toml").write_text('plugins = ["triple_nodes"]\n' + task)
    result = run_cli("train", tmp_path / "task.toml", "--set", "training.iterations=2", "--quiet")
    assert result.returncode == 0, result.stderr
    result = run_cli("nodes", "--plugin", tmp_path / "triple_nodes.py")
    assert "triple_from_task" in result.stdout


def test_installed_packages_register_through_the_entry_point_group(tmp_path):
    (tmp_path / "installed_nodes.py").write_text(TRIPLE.replace("triple", "triple_installed"))
    dist = tmp_path / "installed_nodes-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: installed-nodes\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[graphnet.nodes]\ntriple = installed_nodes\n")
    import os
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "graphnet", "gradcheck", "triple_installed"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "1 passed, 0 failed" in result.stdout


def test_gradcheck_fails_a_wrong_backward_with_exit_code_1(tmp_path):
    (tmp_path / "wrong.py").write_text(TRIPLE.replace("triple", "wrong_triple").replace("3 * grad", "2 * grad"))
    result = run_cli("gradcheck", "wrong_triple", "--plugin", "wrong.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "FAILED" in result.stdout and "0 passed, 1 failed" in result.stdout


def test_nodes_lists_types_cells_and_generators():
    result = run_cli("nodes")
    assert result.returncode == 0
    for name in ["matmul", "bce_with_logits", "lstm", "gru", "running_parity", "delayed_echo"]:
        assert name in result.stdout


def test_gradcheck_passes_every_builtin_node_type():
    result = run_cli("gradcheck")
    assert result.returncode == 0, result.stdout
    builtin = [n for n, t in registered_nodes().items() if not t.leaf and type(t).__module__.startswith("graphnet.")]
    assert len(builtin) >= 21  # the post's, the gated cells', micrograd's (div, pow, exp, log), stacking's
    assert f"{len(builtin)} passed, 0 failed" in result.stdout


def test_gradcheck_of_an_unknown_name_is_a_one_line_error():
    result = run_cli("gradcheck", "softmax")
    assert result.returncode == 2 and "unknown node type 'softmax'" in result.stderr
