"""The graphnet command, run as a user runs it."""

import os
import re
import signal
from csv import DictReader
import subprocess
import sys

import numpy as np
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


# -- --compile: the same runs compiled with JAX ------------------------------------------------------------------
NUMPY_SIGMOID = '''import numpy as np
from graphnet import Node, register_node


@register_node("numpy_sigmoid")
class NumpySigmoid(Node):
    """The logistic function with numpy's exp: right in numpy mode, but JAX cannot trace it."""

    arity = 1

    def forward(self, ctx, x):
        y = 1 / (1 + np.exp(-x))
        ctx.save(y)
        return y

    def backward(self, ctx, grad):
        (y,) = ctx.saved
        return (grad * y * (1 - y),)
'''


def test_train_compile_prints_the_posts_log_identically(post_run, tmp_path):
    result = run_cli("train", TASK, "--compile", "--save", tmp_path / "w.npz")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:50] == [line for entry in post_run.log for line in entry.lines()]
    assert lines[50].endswith(f"(16384/16384) on all 16384 8-bit problems; weights saved to {tmp_path / 'w.npz'}")
    assert re.fullmatch(r"graphnet: compiled in \d+\.\d s \(JAX start-up \d+\.\d s, tracing \d+\.\d s, XLA \d+\.\d s"
                        r"(, from the cache)?\)\n", result.stderr), result.stderr
    quiet = run_cli("train", TASK, "--compile", "--quiet", "--set", "training.iterations=20")
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout.startswith("trained 20 iterations in ")


def test_eval_compile_prints_what_eval_prints(trained_weights):
    lines = [run_cli("eval", TASK, "--weights", trained_weights, *compiled).stdout for compiled in ([], ["--compile"])]
    assert lines[0] == lines[1] == "accuracy: 1.0000 (16384/16384) on all 16384 8-bit problems\n"


def test_without_jax_compile_is_refused_before_any_work_with_the_install_command(tmp_path):
    (tmp_path / "jax").mkdir()
    (tmp_path / "jax" / "__init__.py").write_text("raise ImportError('JAX is not installed (a test)')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    for args in (["train", TASK, "--compile", "--save", "w.npz"], ["eval", TASK, "--weights", "w.npz", "--compile"],
                 ["sweep", TASK, "--set", "network.hidden=4,8", "--compile"], ["gradcheck", "sigmoid", "--against", "jax"]):
        result = subprocess.run([sys.executable, "-m", "graphnet", *map(str, args)], capture_output=True, text=True,
                                cwd=tmp_path, env=env)
        assert result.returncode == 2, result.stderr
        option = "--against jax" if "gradcheck" in args else "--compile"
        assert result.stderr == f"graphnet: error: {option} needs JAX, which is not installed here: " \
                                "pip install -e '.[compile]'\n"
        assert result.stdout == "" and sorted(p.name for p in tmp_path.iterdir()) == ["jax"]  # nothing written


def test_a_node_type_calling_numpy_is_refused_in_one_line_before_training(tmp_path):
    (tmp_path / "numpy_sigmoid.py").write_text(NUMPY_SIGMOID)
    args = ["train", TASK, "--plugin", "numpy_sigmoid.py", "--set", "network.activation=numpy_sigmoid",
            "--set", "training.iterations=20", "--save", "w.npz"]
    assert run_cli(*args, "--quiet", cwd=tmp_path).returncode == 0  # numpy mode trains with it
    (tmp_path / "w.npz").unlink()
    result = run_cli(*args, "--compile", cwd=tmp_path)
    assert result.returncode == 2
    assert re.fullmatch(r"graphnet: error: plugin numpy_sigmoid.py: node type 'numpy_sigmoid' \(.*\) cannot be "
                        r"compiled: its "
                        r"methods call numpy on the run's arrays; take the array functions from ctx\.xp .*\n",
                        result.stderr), result.stderr
    assert result.stdout == "" and not (tmp_path / "w.npz").exists()


def test_gradcheck_against_jax_sees_a_mistake_central_differences_cannot(tmp_path):
    (tmp_path / "almost.py").write_text(
        "from graphnet import Node, register_node\n\n\n@register_node('almost_square')\nclass AlmostSquare(Node):\n"
        "    '''x**2, its backward 1e-9 off.'''\n\n    arity = 1\n\n    def forward(self, ctx, x):\n"
        "        ctx.save(x)\n        return x * x\n\n    def backward(self, ctx, grad):\n        (x,) = ctx.saved\n"
        "        return (grad * 2 * x * (1 + 1e-9),)\n")
    differences = run_cli("--plugin", "almost.py", "gradcheck", "almost_square", "tanh", cwd=tmp_path)
    assert differences.returncode == 0, differences.stdout  # within the rounding of central differences
    exact = run_cli("--plugin", "almost.py", "gradcheck", "almost_square", "tanh", "--against", "jax", cwd=tmp_path)
    assert exact.returncode == 1, exact.stderr
    lines = exact.stdout.splitlines()
    assert re.fullmatch(r"almost_square +1\.0e-09  FAILED", lines[1]), lines
    assert re.fullmatch(r"tanh +\d\.\de-1[5-7]  ok", lines[2]), lines
    assert lines[-1].startswith("1 passed, 1 failed (each backward against JAX's derivative of its forward")


def test_sweep_compile_gives_the_sweeps_results(tmp_path):
    rows = []
    for name, compiled in (("numpy", []), ("compiled", ["--compile"])):
        csv = tmp_path / f"{name}.csv"
        result = run_cli("sweep", TASK, "--set", "network.hidden=4,16", "--seeds", "2", "--workers", "1", "--quiet",
                         "--set", "training.iterations=600", "--csv", csv, *compiled)
        assert result.returncode == 0, result.stderr
        with csv.open(newline="") as f:  # all but the seconds, which differ
            rows.append([{k: v for k, v in row.items() if k != "seconds"} for row in DictReader(f)])
    assert rows[0] == rows[1] and len(rows[0]) == 4


def test_a_compiled_run_stopped_by_sigterm_writes_its_checkpoint_and_resumes_in_numpy_mode(tmp_path):
    from conftest import start_cli, wait_for_line

    checkpoint, curve = tmp_path / "run.npz", tmp_path / "curve.csv"
    proc = start_cli("train", TASK, "--compile", "--set", "training.iterations=100000000", "--set",
                     "training.log_every=100000000", "--checkpoint", checkpoint, "--curve", curve)
    wait_for_line(proc.stdout, "------------")  # the log of iteration 0, printed once its chunk is done
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    stopped_at = int(re.search(r"graphnet: stopped by SIGTERM after iteration (\d+); checkpoint written to ", err)[1])
    assert stopped_at % 100 == 0  # a chunk ends at each of the curve's rows
    assert int(list(DictReader(curve.open()))[-1]["iteration"]) == stopped_at
    resumed = run_cli("train", TASK, "--set", f"training.iterations={stopped_at + 50}", "--resume", checkpoint,
                      "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith(f"trained 50 iterations (resumed at {stopped_at}) in ")


def test_a_compiled_run_that_diverges_says_what_numpy_mode_says_and_keeps_the_last_checkpoint(tmp_path):
    from conftest import diverging_checkpoint

    said = []
    for name, compiled in (("numpy", []), ("compiled", ["--compile"])):
        path = diverging_checkpoint(tmp_path / f"{name}.npz")
        result = run_cli("train", TASK, "--set", "training.iterations=30", "--quiet", "--resume", path, "--checkpoint",
                         path, "--checkpoint-every", "5", *compiled)
        assert result.returncode == 3
        said.append(result.stderr)
        found = re.fullmatch(r"graphnet: error: training diverged at iteration (1\d): node 'h_synapse_h\[\d+\]' is "
                             r"inf; .*\n", result.stderr)
        assert found, result.stderr
        with np.load(path) as npz:  # the last good one: at the last multiple of 5 before the iteration named
            assert int(npz["checkpoint_iteration"]) == int(found[1]) // 5 * 5
    assert said[0] == said[1]
