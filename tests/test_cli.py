"""The graphnet command, run as a user runs it."""

import pytest

from conftest import TASK, run_cli


def test_train_prints_the_posts_numbers(tmp_path):
    weights = tmp_path / "weights.npz"
    result = run_cli("train", TASK, "--save", weights)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ["Error:3.45638663", "Pred:[0 0 0 0 0 0 0 1]", "True:[0 1 0 0 0 1 0 1]", "9 + 60 = 1",
                     "Error:0.57691441", "81 + 0 = 81", "Error:0.21595037", "Pred:[0 0 0 0 1 1 1 0]", "11 + 3 = 14"]:
        assert expected in out
    assert out.strip().splitlines()[-1].endswith(f"(16384/16384) on all 16384 8-bit problems; weights saved to {weights}")
    assert weights.exists()


def test_train_with_overrides_and_quiet(tmp_path):
    result = run_cli("train", TASK, "--set", "network.hidden=8", "--set", "training.iterations=50", "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1 and result.stdout.startswith("trained 50 iterations")


def test_eval_on_all_problems_and_on_random_long_ones(trained_weights):
    result = run_cli("eval", TASK, "--weights", trained_weights)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "accuracy: 1.0000 (16384/16384) on all 16384 8-bit problems"
    result = run_cli("eval", TASK, "--weights", trained_weights, "--bits", "40", "--samples", "500")
    assert result.stdout.strip().splitlines()[-1] == "accuracy: 1.0000 (500/500) on 500 random 40-bit problems"


def test_add_numbers_of_any_size(trained_weights):
    result = run_cli("add", "9", "60", "--weights", trained_weights)
    assert result.returncode == 0 and result.stdout.strip().splitlines()[-1] == "69"
    a, b = 2**300 + 12345, 3**150
    result = run_cli("add", str(a), str(b), "--weights", trained_weights, "--task", TASK)
    assert result.stdout.strip().splitlines()[-1] == str(a + b)
    result = run_cli("add", "0xff", "0b1", "--weights", trained_weights)
    assert result.stdout.strip().splitlines()[-1] == "256"


def test_add_with_an_untrained_network_prints_its_sum_and_says_where_it_is_wrong(tmp_path):
    weights = tmp_path / "untrained.npz"
    run_cli("train", TASK, "--set", "training.iterations=1", "--quiet", "--save", weights)
    result = run_cli("add", "9", "60", "--weights", weights)
    assert result.returncode == 0
    printed = int(result.stdout.strip().splitlines()[-1])
    assert printed != 69  # one step of training does not add
    wrong = printed ^ 69
    assert result.stderr.strip() == (f"graphnet: the network is wrong here: the sum is 69, bits wrong: "
                                     f"{bin(wrong).count('1')}, the lowest at bit {(wrong & -wrong).bit_length() - 1}")
    huge = run_cli("add", str(2**5000 - 1), "1", "--weights", weights)
    assert len(huge.stderr) < 200 and "bits wrong:" in huge.stderr and "of 5001" in huge.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "nope.toml"], "nope.toml: no such task file"),
        (["train", TASK, "--set", "network.hidden"], "--set network.hidden: expected SECTION.KEY=VALUE"),
        (["train", TASK, "--set", "network.hidden=-3"], r"--set network.hidden=-3: expected an integer from 1"),
        (["train", TASK, "--set", "training.iterations=1.5"], "--set training.iterations=1.5: expected an integer"),
        (["train"], "the following arguments are required: TASK"),
        (["train", TASK, "--save", "/no/such/folder/w.npz"], "folder /no/such/folder does not exist"),
        (["fly"], "invalid choice: 'fly'"),
        (["eval", TASK], "the following arguments are required: --weights"),
        (["eval", TASK, "--weights", "missing.npz"], "missing.npz: no such weights file"),
        (["eval", TASK, "--weights", TASK], "not an .npz weights file (a zip of .npy arrays); it starts like text (a task file?)"),
        (["add", "-5", "3", "--weights", "w.npz"], "A: expected a non-negative integer, got -5"),
        (["add", "1.5", "3", "--weights", "w.npz"], "A: expected a non-negative integer, got '1.5'"),
        (["add", "1", "x", "--weights", "w.npz"], "B: expected a non-negative integer, got 'x'"),
    ],
)
def test_mistakes_end_in_one_line_and_exit_code_2(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert message in result.stderr


def test_debug_shows_the_traceback():
    result = run_cli("train", "nope.toml", "--debug")
    assert result.returncode != 0 and "Traceback" in result.stderr


@pytest.mark.parametrize("command", [[], ["train"], ["eval"], ["add"]])
def test_every_command_has_help(command):
    result = run_cli(*command, "--help")
    assert result.returncode == 0 and "usage: graphnet" in result.stdout
    if command:
        assert "examples:" in result.stdout


def test_the_readme_python_example_runs():
    import re

    from conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## The Python API\n.*?```python\n(.*?)```", readme, re.S).group(1)
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["grads"]["synapse_h"].shape == (16, 16)


def test_plugin_and_debug_work_before_the_command_or_after_it(tmp_path):
    (tmp_path / "double.py").write_text(
        "from graphnet import Node, register_node\n\n\n@register_node('double')\nclass Double(Node):\n"
        "    '''2x, elementwise.'''\n\n    def forward(self, ctx, x):\n        return 2 * x\n\n"
        "    def backward(self, ctx, grad):\n        return (2 * grad,)\n")
    (tmp_path / "half.py").write_text((tmp_path / "double.py").read_text().replace("double", "half")
                                      .replace("2x", "x/2").replace("2 *", "0.5 *"))
    before = run_cli("--plugin", "double.py", "nodes", cwd=tmp_path)
    both = run_cli("--plugin", "double.py", "nodes", "--plugin", "half.py", cwd=tmp_path)
    checked = run_cli("--debug", "--plugin", "double.py", "gradcheck", "double", cwd=tmp_path)
    assert before.returncode == both.returncode == checked.returncode == 0, before.stderr + both.stderr
    assert "double" in before.stdout and "double" in both.stdout and "half" in both.stdout
    assert checked.stdout.splitlines()[1].startswith("double") and checked.stdout.splitlines()[1].endswith("ok")
    traced = run_cli("--debug", "eval", str(TASK), "--weights", "missing.npz", cwd=tmp_path)
    assert "Traceback" in traced.stderr and "WeightsError" in traced.stderr


def test_nodes_lists_descriptions_without_markup():
    listed = run_cli("nodes").stdout
    assert "``" not in listed and ":class:" not in listed
    assert "A fixed value (filled with the node's fill), never trained." in listed


def test_render_stacked_draws_what_training_runs(tmp_path):
    result = run_cli("render", TASK, "--steps", "3", "--stacked", "-o", tmp_path / "stacked.dot")
    assert result.returncode == 0, result.stderr
    dot = (tmp_path / "stacked.dot").read_text()
    assert "cluster_stacked" in dot and '"x_synapse_0[0..2]"' in dot and '"synapse_0 x3"' in dot
    refused = run_cli("render", TASK, "--stacked", "--fold", "-o", tmp_path / "both.dot")
    assert refused.returncode == 2 and "--stacked and --fold" in refused.stderr and not (tmp_path / "both.dot").exists()
