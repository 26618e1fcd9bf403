"""Task files: the shipped one, overrides, and one clear error for each kind of mistake."""

import pytest

from graphnet.errors import GraphError, TaskError
from graphnet.app.tasks import load_task, parse_override
from conftest import TASK

SHIPPED = TASK.read_text()


def test_the_shipped_task_holds_the_posts_constants():
    task = load_task(TASK)
    assert (task.problem.bits, task.problem.generator) == (8, "binary_addition")
    assert (task.network.cell, task.network.inputs, task.network.hidden, task.network.outputs) == ("rnn", 2, 16, 1)
    t = task.training
    assert (t.learning_rate, t.iterations, t.batch_size, t.seed, t.log_every) == (0.1, 10000, 1, 0, 1000)


def test_overrides_replace_any_key_and_read_values_as_toml():
    task = load_task(
        TASK,
        ["network.hidden=8", "training.seed=3", "task.bits=6", "training.learning_rate=0.25",
         "training.iterations=500", "network.cell=rnn"],
    )
    assert (task.network.hidden, task.training.seed, task.problem.bits) == (8, 3, 6)
    assert (task.training.learning_rate, task.training.iterations, task.network.cell) == (0.25, 500, "rnn")


def test_an_integer_learning_rate_is_a_float():
    assert load_task(TASK, ["training.learning_rate=1"]).training.learning_rate == 1.0


def write(tmp_path, text):
    path = tmp_path / "task.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "is empty"),
        ("[task\nbits = 8", "not valid TOML"),
        (SHIPPED.replace("hidden = 16", "hiden = 16"), r"\[network\] hiden: unknown key; did you mean hidden\?"),
        (SHIPPED.replace("hidden = 16", ""), r"missing \[network\] hidden \(tasks/binary_addition.toml shows"),
        (SHIPPED.replace("hidden = 16", 'hidden = "16"'), r"\[network\] hidden: expected an integer .* got '16'"),
        (SHIPPED.replace("hidden = 16", "hidden = 0"), r"\[network\] hidden: expected an integer from 1 to 4,096"),
        (SHIPPED.replace("hidden = 16", "hidden = 1000000000"), r"hidden: expected an integer from 1 to 4,096"),
        (SHIPPED.replace("learning_rate = 0.1", "learning_rate = nan"), r"learning_rate: expected a finite number"),
        (SHIPPED.replace("learning_rate = 0.1", "learning_rate = -0.1"), r"learning_rate: expected a finite"),
        (SHIPPED.replace("iterations = 10000", "iterations = true"), r"iterations: expected an integer"),
        (SHIPPED.replace("bits = 8", "bits = 1"), r"\[task\] bits: expected an integer from 2"),
        (SHIPPED.replace("inputs = 2", "inputs = 3"), r"\[network\] inputs: the binary_addition task has 2"),
        (SHIPPED.replace('cell = "rnn"', 'cell = "transformer"'), r"unknown cell 'transformer'"),
        (SHIPPED + "\n[extra]\nx = 1\n", r"unknown section \[extra\]"),
        (SHIPPED.replace("[network]", "[netwerk]"), r"unknown section \[netwerk\]"),
        (SHIPPED.replace('cell = "rnn"', 'cell = "rnn"\nactivation = "softmax"'),
         r"\[network\] activation: unknown node type 'softmax'"),
        (SHIPPED.replace('cell = "rnn"', 'cell = "rnn"\nactivation = "matmul"'),
         r"\[network\] activation: 'matmul' takes 2 inputs, expected a node type of one input"),
        (SHIPPED.replace('cell = "rnn"', 'cell = "rnn"\nloss = "hinge"'),
         r"\[network\] loss: expected one of 'squared_error', 'bce_with_logits', got 'hinge'"),
        ('plugins = "my_nodes"\n' + SHIPPED, r"plugins: expected a list of module names or .py files"),
        ('plugins = ["no_such_module_here"]\n' + SHIPPED, r"plugins no_such_module_here: cannot import it"),
        (SHIPPED.replace('generator = "binary_addition"', 'generator = "sorting"'), r"unknown generator 'sorting'"),
    ],
)
def test_each_mistake_in_a_task_file_gets_one_clear_message(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(TaskError, match=message) as caught:
        load_task(path)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_a_missing_file_and_a_folder_are_named(tmp_path):
    with pytest.raises(TaskError, match="no such task file"):
        load_task(tmp_path / "nope.toml")
    with pytest.raises(TaskError, match="is a folder"):
        load_task(tmp_path)


def test_an_absurd_size_is_refused_with_an_estimate_before_memory_is_spent():
    with pytest.raises(TaskError, match=r"would need about [\d.]+ GiB"):
        load_task(TASK, ["task.bits=1000000", "training.batch_size=4096", "network.hidden=4096"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("network.hidden", "expected SECTION.KEY=VALUE"),
        ("hidden=8", "expected SECTION.KEY=VALUE"),
        ("netwrk.hidden=8", "unknown section 'netwrk'"),
        ("network.hiden=8", r"unknown key 'hiden' in \[network\]; keys: cell, inputs, hidden, outputs"),
    ],
)
def test_bad_overrides_are_refused(override, message):
    with pytest.raises(TaskError, match=message):
        parse_override(override)


def test_a_wrongly_typed_override_is_blamed_on_the_set_not_the_file():
    with pytest.raises(TaskError, match=r"^--set network.hidden=abc: expected an integer from 1 to 4,096, got 'abc'$"):
        load_task(TASK, ["network.hidden=abc"])


def test_tasks_that_describe_one_network_share_it_and_its_built_graphs():
    # Training the same network again in one process (a sweep, the benchmark) reuses its graph and programs.
    first, again = load_task(TASK).build_network(), load_task(TASK, ["training.iterations=3"]).build_network()
    assert first is again
    assert first.graph(8) is again.graph(8) and first.program(8) is again.program(8)
    other = load_task(TASK, ["network.hidden=8"]).build_network()
    assert other is not first and other.hidden == 8 and first.hidden == 16


def test_two_loaded_tasks_cannot_change_each_others_graphs():
    first, again = load_task(TASK).build_network(), load_task(TASK).build_network()
    shared = first.graph(8)
    with pytest.raises(GraphError, match=r"graph 'rnn unrolled over 8 steps' is frozen: .* \(graph.copy\(\)\)"):
        shared.apply("sigmoid", "extra", "h[7]")
    with pytest.raises(GraphError, match="is frozen"):
        shared.input("extra", (None, 2))
    with pytest.raises(AttributeError, match="a Network cannot change"):
        first.hidden = 8
    assert "extra" not in again.graph(8) and again.hidden == 16
    # A copy is the user's own: it grows, and the shared graph does not.
    mine = shared.copy()
    mine.apply("sigmoid", "extra", "h[7]")
    assert "extra" in mine and "extra" not in shared and not mine.frozen and shared.frozen


def test_a_generator_of_your_own_declares_options_that_its_task_files_give(tmp_path):
    import numpy as np

    from graphnet import Batch, Generator, Option, register_generator, unregister_generator

    @register_generator("every_kth")
    class EveryKth(Generator):
        """1 at every k-th step."""

        options = {"k": Option(2, low=1, high=100, help="the period"), "phase": Option(0, low=0)}

        def sample(self, rng, batch, bits):
            y = (np.arange(bits) % self.k == self.phase).astype(float)[:, None, None].repeat(batch, axis=1)
            return Batch(np.zeros((bits, batch, 1)), y)

    try:
        path = write(tmp_path, SHIPPED.replace('"binary_addition"', '"every_kth"').replace("bits = 8", "bits = 8\nk = 3")
                     .replace("inputs = 2", "inputs = 1"))
        task = load_task(path)
        assert (task.problem.k, task.problem.phase) == (3, 0)  # given, and the default
        generator = task.generator
        assert (generator.k, generator.phase) == (3, 0)
        assert generator.sample(np.random.RandomState(0), 1, 6).y[:, 0, 0].tolist() == [1, 0, 0, 1, 0, 0]
        assert load_task(path, ["task.k=4"]).generator.k == 4
        assert task.as_dict()["task"] == {"generator": "every_kth", "bits": 8, "k": 3, "phase": 0}
        assert task.with_settings(["task.phase=1"]).problem.phase == 1
        with pytest.raises(TaskError, match=r"--set task.k=0: expected an integer from 1 to 100 \(the period\), "
                                            r"got 0"):
            load_task(path, ["task.k=0"])
        with pytest.raises(TaskError, match=r"\[task\] delay: unknown key; it is an option of the delayed_echo "
                                            r"generator, and this task's is every_kth; keys: generator, bits, k, phase"):
            load_task(write(tmp_path, path.read_text().replace("k = 3", "delay = 3")))
    finally:
        unregister_generator("every_kth")


def test_an_option_of_another_generator_is_refused_naming_whose_it_is():
    with pytest.raises(TaskError, match=r"--set task.delay=3: unknown key; it is an option of the delayed_echo "
                                        r"generator, and this task's is binary_addition; keys: generator, bits$"):
        load_task(TASK, ["task.delay=3"])
    assert load_task("tasks/delayed_echo.toml", ["task.delay=5"]).generator.fact == "x[t-4]"
