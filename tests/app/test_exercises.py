"""The exercises: every catalogued mistake gets its own diagnosis, and a right answer is never reported wrong.

Each mistake is a solution with one edit, the kind learners make (a forgotten transpose, x where sigmoid(x) is
meant, an overwritten gradient). The checker measures the numbers the edited code gives; the test holds its
diagnosis to the words that name that mistake.
"""

from __future__ import annotations

import numpy as np
import pytest

from graphnet.app.exercises import EXERCISES, check, hint, solution, start
from graphnet.errors import UsageError

FILES = {e.number: e.file for e in EXERCISES}

# (exercise, what the solution says, what the mistake says instead, words the diagnosis must hold)
MISTAKES = [
    # 1. sigmoid
    ("missing derivative", 1, "return (grad * (y * (1.0 - y)),)", "return (grad,)", "off by a factor y(1 - y)"),
    ("x for sigmoid(x)", 1, "return (grad * (y * (1.0 - y)),)", "return (grad * x * (1.0 - x),)",
     "x is used where sigmoid(x) is meant"),
    ("sigmoid sign", 1, "return (grad * (y * (1.0 - y)),)", "return (-grad * y * (1.0 - y),)", "the sign is flipped"),
    ("ignores grad", 1, "return (grad * (y * (1.0 - y)),)", "return (y * (1.0 - y),)", "ignores grad"),
    ("half a derivative", 1, "return (grad * (y * (1.0 - y)),)", "return (grad * y,)", "off by a factor (1 - y)"),
    ("not a tuple", 1, "return (grad * (y * (1.0 - y)),)", "return grad * (y * (1.0 - y))", "not a tuple"),
    ("forgotten ctx.save", 1, "ctx.save(x, y)", "pass", "forward saves nothing"),
    # 2. matmul
    ("forgotten transpose", 2, "grad @ b.mT if", "grad @ b if", "forgotten transpose"),
    ("transposed weight gradient", 2, "a.mT @ grad if", "grad.mT @ a if", "the weight's gradient is transposed"),
    ("swapped inputs", 2, "return grad_a, grad_b", "return grad_b, grad_a", "for the wrong input"),
    ("mean where a sum is meant", 2, "a.mT @ grad if", "a.mT @ grad / a.shape[-2] if", "a mean where a sum"),
    (".T on a stack", 2, "a.mT @ grad if", "a.T @ grad if", ".mT swaps the last two"),
    ("needs_input_grad ignored", 2, "if ctx.needs_input_grad[0] else None", "if not ctx.needs_input_grad[0] else None",
     "ctx.needs_input_grad"),
    # 3. add and the reverse pass
    ("add splits the gradient", 3, "return (grad, grad)", "return (grad / 2, grad / 2)", "split between a and b"),
    ("add forgets b", 3, "return (grad, grad)", "return (grad, None)", "it is None"),
    ("overwritten instead of summed", 3, "grads[key] = g if key not in grads else grads[key] + g", "grads[key] = g",
     "gets the gradient of only one of its"),
    ("added in place", 3, "grads[key] = g if key not in grads else grads[key] + g",
     "grads[key] = g if key not in grads else grads[key].__iadd__(g)", "in place"),
    ("walks forward", 3, "for op in reversed(ops):", "for op in ops:", "walks the ops first to last"),
    # 4. squared error
    ("loss sign", 4, "return (d, -d)", "return (-d, d)", "the sign is flipped"),
    ("not divided by the batch", 4, "* diff / diff.shape[-2]", "* diff", "not divided by the batch size"),
    ("missing 0.5 in backward", 4, "d = grad[..., None, None] * diff", "d = 2 * grad[..., None, None] * diff",
     "twice the right gradient"),
    ("shape[0] for the batch", 4, "* diff / diff.shape[-2]", "* diff / diff.shape[0]",
     "the number of members"),
    ("wrong shape", 4, "return (d, -d)", "return (d.sum(axis=-2), -d.sum(axis=-2))", "shape"),
    ("forward mean over everything", 4, "0.5 * (diff * diff).sum(axis=(-2, -1)) / diff.shape[-2]",
     "0.5 * (diff * diff).mean(axis=(-2, -1))", "forward"),
    # 5. BPTT
    ("no future gradient", 5, "step.backward(\"h\", d_h + future)", "step.backward(\"h\", d_h)",
     "gets the gradient of only one of its two consumers"),
    ("weight overwritten", 5, "grads[\"synapse_h\"] = grads[\"synapse_h\"] + d_synapse_h",
     "grads[\"synapse_h\"] = d_synapse_h", "or only step 0's, the last step your loop visits"),
    ("only the last step", 5, "grads[\"synapse_h\"] = grads[\"synapse_h\"] + d_synapse_h",
     "grads[\"synapse_h\"] = grads[\"synapse_h\"] + (d_synapse_h if step.t == len(steps) - 1 else 0)",
     "counts only step 7 (the last step"),
    ("future skips the matmul", 5, "step.backward(\"h\", d_h + future)", "step.backward(\"h\", d_h + future_in)",
     "has not been through h_synapse_h"),
    ("transposed weight in bptt", 5, "grads[\"synapse_h\"] = grads[\"synapse_h\"] + d_synapse_h",
     "grads[\"synapse_h\"] = grads[\"synapse_h\"] + d_synapse_h.T", "synapse_h"),
    # 6. LSTM
    ("gates swapped", 6, "f, c_prev, t=t)\n        written = g.apply(\"mul\", at(\"i*g\", t), i, candidate",
     "i, c_prev, t=t)\n        written = g.apply(\"mul\", at(\"i*g\", t), f, candidate",
     "c[0], step 0: the input and forget gates are swapped"),
    ("no tanh on the memory", 6, "read = g.apply(activation, at(\"tanh_c\", t), c, t=t)",
     "read = g.apply(\"add\", at(\"tanh_c\", t), c, c, t=t)", "differs"),
    ("h = o * c", 6, "g.apply(\"mul\", at(\"h\", t), o, read", "g.apply(\"mul\", at(\"h\", t), o, c",
     "the tanh of the memory is missing"),
    ("sigmoid candidate", 6, "candidate = gate(\"g\", activation)", "candidate = gate(\"g\", \"sigmoid\")",
     "squashed with sigmoid"),
]


def _mistake(tmp_path, number: int, old: str, new: str) -> str:
    text = solution(number)
    assert old in text, f"the solution of exercise {number} has no {old!r}"
    text = text.replace(old, new)
    if "future_in" in new:  # the gradient of h_in one step later, kept as the future
        text = text.replace("future, d_synapse_h = step.backward(\"h_synapse_h\", d_from_memory)",
                            "_, d_synapse_h = step.backward(\"h_synapse_h\", d_from_memory)\n"
                            "        future = future_in = d_h_in")
        text = text.replace("future = 0.0", "future = future_in = 0.0")
    path = tmp_path / FILES[number]
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("name, number, old, new, words", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_catalogued_mistake_gets_its_diagnosis(tmp_path, name, number, old, new, words):
    diagnosis = check(_mistake(tmp_path, number, old, new), train=False)
    assert not diagnosis.right, diagnosis.text
    assert words in diagnosis.text, diagnosis.text


def test_the_catalogue_has_twenty_mistakes_and_more():
    assert len(MISTAKES) >= 20
    assert {m[1] for m in MISTAKES} == set(FILES)


@pytest.mark.parametrize("number", sorted(FILES))
def test_a_right_answer_is_right(tmp_path, number):
    path = tmp_path / FILES[number]
    path.write_text(solution(number))
    diagnosis = check(str(path), train=False)
    assert diagnosis.right, diagnosis.text
    assert diagnosis.text.splitlines()[-1] == "right."


@pytest.mark.parametrize("number", [1, 2, 4])
def test_another_right_answer_is_right(tmp_path, number):
    """Right answers written otherwise than the solution (another order of products, np instead of ctx.xp)."""
    others = {1: ("return (grad * (y * (1.0 - y)),)", "return (y * grad - y * y * grad,)"),
              2: ("grad_b = a.mT @ grad if", "grad_b = np.einsum('...bn,...bm->...nm', a, grad) if"),
              4: ("d = grad[..., None, None] * diff / diff.shape[-2]",
                  "d = np.expand_dims(grad, (-2, -1)) * (diff / diff.shape[-2])")}
    old, new = others[number]
    text = "import numpy as np\n" + solution(number).replace(old, new)
    path = tmp_path / FILES[number]
    path.write_text(text)
    assert check(str(path), train=False).right


def test_a_reverse_pass_and_a_bptt_written_otherwise_are_right(tmp_path):
    reverse = solution(3).replace(
        "grads[key] = g if key not in grads else grads[key] + g", "grads[key] = grads.get(key, 0.0) + g")
    bptt = solution(5).replace('grads["synapse_h"] = grads["synapse_h"] + d_synapse_h', 'shares.append(d_synapse_h)')
    bptt = bptt.replace("    return grads", "    grads['synapse_h'] = sum(shares[::-1])\n    return grads")
    bptt = bptt.replace("    future = 0.0", "    shares = []\n    future = 0.0")
    for number, text in ((3, reverse), (5, bptt)):
        path = tmp_path / FILES[number]
        path.write_text(text)
        diagnosis = check(str(path), train=False)
        assert diagnosis.right, diagnosis.text


def test_the_template_is_not_written_yet(tmp_path):
    path = start(1, tmp_path)
    diagnosis = check(str(path), train=False)
    assert not diagnosis.right and "not written yet" in diagnosis.text


def test_start_never_replaces_the_learners_file(tmp_path):
    path = start(2, tmp_path)
    path.write_text("# my work")
    with pytest.raises(UsageError, match="exists already, and is kept"):
        start(2, tmp_path)
    assert path.read_text() == "# my work"


def test_hints_come_one_at_a_time_and_never_give_the_solution():
    first = hint(1)
    assert first.startswith("hint 1 of 3") and "hint 1 2" in first
    assert "solution" in hint(1, 3)
    with pytest.raises(UsageError, match="hints 1 to 3"):
        hint(1, 4)


def test_a_right_answer_is_rewarded_with_the_posts_log(tmp_path):
    path = tmp_path / FILES[1]
    path.write_text(solution(1))
    diagnosis = check(str(path))
    assert diagnosis.log[:4] == ["Error:3.45638663", "Pred:[0 0 0 0 0 0 0 1]", "True:[0 1 0 0 0 1 0 1]", "9 + 60 = 1"]
    assert diagnosis.log[-1].endswith("accuracy: 1.0000 (16384/16384) on all 16384 8-bit problems")


def test_the_picture_marks_the_wrong_cells(tmp_path):
    diagnosis = check(_mistake(tmp_path, 1, "return (grad * (y * (1.0 - y)),)", "return (grad,)"), train=False)
    grid = diagnosis.grid
    assert "h_synapse_1[7]" in grid.wrong() and "loss[7]" not in grid.wrong()
    assert diagnosis.write_picture(tmp_path / "grads.png")
    assert (tmp_path / "grads.png").read_bytes()[:4] == b"\x89PNG"
    bundle = diagnosis._repr_mimebundle_()
    assert "image/png" in bundle and "off by a factor" in bundle["text/plain"]


@pytest.mark.parametrize("args, words", [
    (["check"], "which exercise?"),
    (["hint", "1", "9"], "hints 1 to 3"),
    (["start", "1", "2"], "takes one exercise"),
    (["check", "1", "--picture", "grads.txt"], "expected a .png or .svg"),
    (["hint", "1", "--no-train"], "--no-train goes with check"),
    (["solution", "seven"], "expected a number from 1 to 6"),
    (["check", "nowhere/01_sigmoid.py"], "no such file"),
])
def test_the_command_refuses_bad_input_in_one_line(tmp_path, args, words):
    from conftest import run_cli

    result = run_cli("exercise", *args, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and words in result.stderr, result.stderr


def test_the_command_checks_a_file_and_exits_1_until_it_is_right(tmp_path):
    from conftest import run_cli

    assert run_cli("exercise", "start", "2", cwd=tmp_path).returncode == 0
    wrong = run_cli("exercise", "check", "2", "--no-train", cwd=tmp_path)
    assert wrong.returncode == 1 and "not written yet" in wrong.stdout
    (tmp_path / "exercises" / "02_matmul.py").write_text(solution(2))
    right = run_cli("exercise", "check", "exercises/02_matmul.py", "--no-train", cwd=tmp_path)
    assert right.returncode == 0 and right.stdout.splitlines()[-1] == "right."
    shown = run_cli("exercise", "solution", "2", cwd=tmp_path)
    assert shown.returncode == 0 and "a.mT @ grad" in shown.stdout
