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


def test_a_module_file_registers_its_node_types_once(tmp_path):
    (tmp_path / "triple_nodes.py").write_text(TRIPLE)
    first = load_plugins(["triple_nodes.py"], relative_to=tmp_path)
    again = load_plugins([str(tmp_path / "triple_nodes.py")])
    assert first == again and "triple" in registered_nodes()


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


# -- a plugin's mistakes, named as the plugin's (issue 28) -------------------------------------------------------
def rnn_cell(name: str, doc: str, *, state: str = "h", kind: str = 'kind="hidden", ') -> str:
    """The text of a plugin file with a plain RNN cell, its state called ``state`` and marked ``kind``."""
    return f'''
from graphnet import Cell, at, register_cell


@register_cell("{name}")
class Plain(Cell):
    """{doc}"""

    def parameters(self, inputs, hidden):
        return {{"W": (inputs, hidden), "U": (hidden, hidden)}}

    def step(self, g, t, x, state, activation="tanh"):
        total = g.apply("add", at("{state}_in", t), g.apply("matmul", at("xW", t), x, "W", t=t),
                        g.apply("matmul", at("{state}U", t), state["{state}"], "U", t=t), t=t)
        return {{"{state}": g.apply(activation, at("{state}", t), total, {kind}t=t)}}
'''


# Each plugin file makes one mistake; the command names the file, what it registered and what was expected.
MISTAKES = {
    "undeclared_state.py": rnn_cell("s_cell", "An RNN whose state is called s, though it declares none (so h).",
                                    state="s"),
    "missing_state.py": '''
from graphnet import Cell, at, register_cell


@register_cell("half_lstm")
class HalfLSTM(Cell):
    """Declares h and c, carries h alone."""

    states = ("h", "c")

    def parameters(self, inputs, hidden):
        return {"W": (inputs, hidden)}

    def step(self, g, t, x, state, activation="tanh"):
        return {"h": g.apply(activation, at("h", t), g.apply("matmul", at("xW", t), x, "W", t=t), kind="hidden", t=t)}
''',
    "narrow_state.py": '''
from graphnet import Cell, at, register_cell


@register_cell("narrow")
class Narrow(Cell):
    """Its state is 3 wide, whatever the network's hidden width."""

    def parameters(self, inputs, hidden):
        return {"W": (inputs, 3)}

    def step(self, g, t, x, state, activation="tanh"):
        return {"h": g.apply(activation, at("h", t), g.apply("matmul", at("xW", t), x, "W", t=t), kind="hidden", t=t)}
''',
    "unfoldable.py": rnn_cell("plain", 'An RNN that marks no node kind="hidden".', kind=""),
    "failing_facts.py": '''
from graphnet.rnn.data import BinaryAddition
from graphnet import register_generator


@register_generator("failing_facts")
class FailingFacts(BinaryAddition):
    """Addition, whose hidden fact cannot be told."""

    def fact_values(self, batch):
        return self.carries(batch)

    def carries(self, batch):
        return batch.size // 0
''',
    "wide_generator.py": '''
import numpy as np
from graphnet import Batch, Generator, register_generator


@register_generator("wide")
class Wide(Generator):
    """Says 2 input bits a step, draws 3."""

    inputs = 2
    outputs = 1

    def sample(self, rng, batch, bits):
        return Batch(np.zeros((bits, batch, 3)), np.zeros((bits, batch, 1)))
''',
    "undeclared_weight.py": '''
from graphnet import Cell, at, register_cell


@register_cell("undeclared_weight")
class UndeclaredWeight(Cell):
    """Reads a weight V its parameters do not declare."""

    def parameters(self, inputs, hidden):
        return {"W": (inputs, hidden)}

    def step(self, g, t, x, state, activation="tanh"):
        return {"h": g.apply(activation, at("h", t), g.apply("matmul", at("xV", t), x, "V", t=t), kind="hidden",
                             t=t)}
''',
    "raising_node.py": '''
import numpy as np
from graphnet import Node, register_node


@register_node("domain_error")
class DomainError(Node):
    """Refuses what it is given."""

    def forward(self, ctx, x):
        raise ValueError("math domain error")

    def backward(self, ctx, grad):
        return (grad,)
''',
    "no_return.py": '''
import numpy as np
from graphnet import Node, register_node


@register_node("no_return")
class NoReturn(Node):
    """The identity, whose backward forgets to return."""

    def forward(self, ctx, x):
        return x

    def backward(self, ctx, grad):
        grad
''',
    "half_width.py": '''
import numpy as np
from graphnet import Node, register_node


@register_node("half_width")
class HalfWidth(Node):
    """A sigmoid of every other element: half as wide as its shape rule says."""

    def forward(self, ctx, x):
        return 1 / (1 + np.exp(-x[..., ::2]))

    def backward(self, ctx, grad):
        return (np.repeat(grad, 2, axis=-1),)
''',
    "two_gradients.py": '''
import numpy as np
from graphnet import Node, register_node


@register_node("two_gradients")
class TwoGradients(Node):
    """Identity, whose backward returns a gradient too many."""

    def forward(self, ctx, x):
        return x

    def backward(self, ctx, grad):
        return (grad, grad)
''',
}


@pytest.fixture(scope="module")
def mistakes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mistakes")
    for name, text in MISTAKES.items():
        (folder / name).write_text(text)
    task = (ROOT / "tasks" / "binary_addition.toml").read_text()
    (folder / "facts.toml").write_text(task.replace('"binary_addition"', '"failing_facts"'))
    result = run_cli("train", ROOT / "tasks" / "binary_addition.toml", "--set", "training.iterations=5", "--quiet",
                     "--save", folder / "w.npz")
    assert result.returncode == 0, result.stderr
    return folder


T = str(ROOT / "tasks" / "binary_addition.toml")
TRAIN = ["train", T, "--set", "training.iterations=3", "--quiet"]
EXPECTED = "expected: "
PLUGIN_MISTAKES = [
    ("a state the cell does not declare", [*TRAIN, "--set", "network.cell=s_cell", "--plugin", "undeclared_state.py"],
     "plugin undeclared_state.py: cell 's_cell': its step reads state 's', which it does not declare (states = "
     "('h',)); a cell names every state it carries in states = (...), the first being what the output layer reads"),
    ("a declared state not returned", [*TRAIN, "--set", "network.cell=half_lstm", "--plugin", "missing_state.py"],
     "plugin missing_state.py: cell 'half_lstm': its step returned no state 'c'; expected one node key per name in "
     "its states ('h', 'c')"),
    ("a state of the wrong width", [*TRAIN, "--set", "network.cell=narrow", "--plugin", "narrow_state.py"],
     "plugin narrow_state.py: cell 'narrow': its step returned 'h': 'h[0]' of shape (None, 3); expected (None, 16), "
     "a batch of vectors of the network's hidden width"),
    ("--fold of a cell that marks no state", ["render", T, "--set", "network.cell=plain", "--fold", "-o", "g.dot",
                                              "--plugin", "unfoldable.py"],
     "plugin unfoldable.py: cell 'plain': --fold draws a step's cell as the nodes of its state and what leads to "
     "them, and this cell marks none: give the nodes of its state kind='hidden'"),
    ("a generator's problems of the wrong width", [*TRAIN, "--set", "task.generator=wide", "--plugin",
                                                    "wide_generator.py"],
     "plugin wide_generator.py: generator 'wide': sample returned x of float64 (8, 3, 3); expected numbers of shape "
     "(8, 3, 2): (steps, problems, inputs) with inputs = 2"),
    ("a weight the cell does not declare", [*TRAIN, "--set", "network.cell=undeclared_weight", "--plugin",
                                            "undeclared_weight.py"],
     "plugin undeclared_weight.py: cell 'undeclared_weight': step raised GraphError: node 'xV[0]' (matmul) takes "
     "'V', not in the graph (undeclared_weight.py, line 13); expected: step(g, t, x, state, activation) adds a step "
     "to g and returns the new state's node keys, one per name in states"),
    ("a generator's fact_values raising", ["probe", "facts.toml", "--weights", "w.npz", "--plugin",
                                           "failing_facts.py"],
     "plugin failing_facts.py: generator 'failing_facts': fact_values raised ZeroDivisionError: integer division or "
     "modulo by zero (failing_facts.py, line 14); expected: fact_values(batch) returns the hidden fact after every "
     "step, (steps, problems) whole numbers from 0"),
    ("a node type's forward raising", [*TRAIN, "--set", "network.activation=domain_error", "--plugin",
                                       "raising_node.py"],
     "plugin raising_node.py: domain_error.forward at node 'h[0]' failed: ValueError: math domain error "
     "(raising_node.py, line 11); expected: forward(ctx, *inputs) returns the node's value"),
    ("a sweep's worker meets it", ["sweep", T, "--set", "network.activation=domain_error", "--set",
                                   "network.hidden=2,4", "--workers", "2", "--seeds", "1", "--csv", "s.csv",
                                   "--plugin", "raising_node.py"],
     "plugin raising_node.py: domain_error.forward at node 'h[0]' failed: ValueError: math domain error"),
]
# Mistakes in a node type's results, which the engine checks where it checks shapes (naming the node type and
# where it comes from): the command names the plugin. The reverse pass meets the last step's h[7] first.
ENGINE_CHECKS = [
    ("a backward returning None", [*TRAIN, "--set", "network.activation=no_return", "--plugin", "no_return.py"],
     "plugin no_return.py: no_return.backward at node 'h[7]' returned None for its 1 inputs; it returns a tuple, one "
     "gradient (or None) per input\n"),
    ("a forward of the wrong shape", [*TRAIN, "--set", "network.activation=half_width", "--plugin", "half_width.py"],
     "plugin half_width.py: half_width.forward at node 'h[0]' returned a value of shape (1, 8); the graph expects "
     "(1, 16) (static shape (None, 16))\n"),
    ("a gradient too many", [*TRAIN, "--set", "network.activation=two_gradients", "--plugin", "two_gradients.py"],
     "plugin two_gradients.py: two_gradients.backward at node 'h[7]' returned 2 gradients for its 1 inputs; it "
     "returns a tuple, one gradient (or None) per input\n"),
]


@pytest.mark.parametrize("name, args, message", PLUGIN_MISTAKES + ENGINE_CHECKS,
                         ids=[case[0] for case in PLUGIN_MISTAKES + ENGINE_CHECKS])
def test_a_plugins_mistake_is_one_line_naming_the_plugin(mistakes, name, args, message):
    result = run_cli(*args, cwd=mistakes)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(f"graphnet: error: {message}"), result.stderr


def test_debug_shows_where_in_the_plugin_and_keeps_exit_2(mistakes):
    result = run_cli(*TRAIN, "--set", "network.activation=domain_error", "--plugin", "raising_node.py", "--debug",
                     cwd=mistakes)
    assert result.returncode == 2
    assert 'raising_node.py", line 11, in forward' in result.stderr  # the traceback, into the plugin
    assert result.stderr.splitlines()[-1].startswith("graphnet: error: plugin raising_node.py: domain_error.forward")


def test_gradcheck_names_the_plugin_of_a_node_type_that_raises(mistakes):
    result = run_cli("gradcheck", "domain_error", "--plugin", "raising_node.py", cwd=mistakes)
    assert result.returncode == 1
    assert "FAILED (plugin raising_node.py: node type 'domain_error': forward raised ValueError" in result.stdout


def test_a_plugin_named_in_the_task_file_and_on_the_command_line_is_loaded_once(tmp_path):
    # The task names it as a module, the command line as the file graphnet's own message suggests: one plugin.
    (tmp_path / "triple_nodes.py").write_text(TRIPLE.replace('"triple"', '"triple_twice"'))
    task = (ROOT / "tasks" / "binary_addition.toml").read_text().replace('cell = "rnn"',
                                                                          'cell = "rnn"\nactivation = "triple_twice"')
    (tmp_path / "task.toml").write_text('plugins = ["triple_nodes"]\n' + task)
    for given in (["--plugin", "triple_nodes.py"], ["--plugin", str(tmp_path / "triple_nodes.py")],
                  ["--plugin", "triple_nodes", "--plugin", "./triple_nodes.py"]):
        result = run_cli("train", "task.toml", "--set", "training.iterations=2", "--quiet", *given, cwd=tmp_path)
        assert result.returncode == 0, (given, result.stderr)


def test_two_plugins_that_register_one_name_are_named_by_their_files(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "nodes.py").write_text(TRIPLE.replace('"triple"', '"triple_clash"'))
    result = run_cli("nodes", "--plugin", "a/nodes.py", "--plugin", "b/nodes.py", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr == ("graphnet: error: --plugin b/nodes.py: node type "
                                                        "'triple_clash' is already registered by a/nodes.py\n")


def test_an_error_whose_culprit_is_a_plugins_node_type_names_the_plugin(tmp_path):
    # What the command makes of the engine's GraphError about a node type's results (see ENGINE_CHECKS).
    from graphnet import GraphError, get_node
    from graphnet.app.plugins import blame

    (tmp_path / "culprit_nodes.py").write_text(TRIPLE.replace('"triple"', '"triple_culprit"'))
    load_plugins([str(tmp_path / "culprit_nodes.py")])
    said = "node type 'triple_culprit' at node 'h[0]': forward returned shape (1, 8); expected (1, 16)"
    assert str(blame(GraphError(said, culprit=get_node("triple_culprit")))) == f"plugin {tmp_path}/culprit_nodes.py: {said}"
    assert blame(GraphError(said, culprit=get_node("sigmoid"))) is None  # graphnet's own: not a plugin's mistake
    assert blame(GraphError(said)) is None  # no culprit, raised in no plugin's code
    unregister_node("triple_culprit")
