"""Every bad input a user can give, run through the CLI as they would: exit code 2, one line, no traceback.

The table names each case, the command line (``{task}``, ``{weights}`` ... are files made below) and a part
of the message that says what is wrong and what was expected.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TASK, run_cli

from graphnet import load_task
from graphnet.app.checkpoint import save_checkpoint
from graphnet import save_weights, train

SHIPPED = TASK.read_text()


def _task_text(old: str, new: str) -> str:
    assert old in SHIPPED, old
    return SHIPPED.replace(old, new)


TASK_FILES = {
    "empty.toml": "",
    "syntax.toml": SHIPPED + "\n[training\n",
    "unknown_key.toml": _task_text("bits = 8", "bits = 8\nbitz = 3"),
    "unknown_section.toml": SHIPPED + "\n[optimizer]\nname = 'adam'\n",
    "missing_key.toml": _task_text("hidden = 16", ""),
    "missing_section.toml": SHIPPED.split("[training]")[0],
    "wrong_type.toml": _task_text("hidden = 16", 'hidden = "sixteen"'),
    "bool.toml": _task_text("hidden = 16", "hidden = true"),
    "zero.toml": _task_text("batch_size = 1", "batch_size = 0"),
    "negative.toml": _task_text("learning_rate = 0.1", "learning_rate = -0.1"),
    "nan.toml": _task_text("learning_rate = 0.1", "learning_rate = nan"),
    "inf.toml": _task_text("learning_rate = 0.1", "learning_rate = inf"),
    "billion.toml": _task_text("hidden = 16", "hidden = 1_000_000_000"),
    "huge_run.toml": _task_text("bits = 8", "bits = 100000").replace("batch_size = 1", "batch_size = 65536"),
    "wrong_inputs.toml": _task_text("inputs = 2", "inputs = 3"),
    "unknown_cell.toml": _task_text('cell = "rnn"', 'cell = "gru9"'),
    "section_value.toml": 'task = 3\n' + SHIPPED.split("[network]")[1].join(["[network]", ""]),
    "latin1.toml": None,  # bytes, written below
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The bad (and a few good) files of the table, in one folder."""
    folder = tmp_path_factory.mktemp("bad")
    for name, text in TASK_FILES.items():
        if text is not None:
            (folder / name).write_text(text)
    (folder / "latin1.toml").write_bytes("# caf\xe9\n".encode("latin-1") + SHIPPED.encode())
    task = load_task(TASK, ["training.iterations=5", "training.log_every=0"])
    params = task.build_network().init_parameters(np.random.RandomState(0))
    save_weights(folder / "weights.npz", params)
    good = (folder / "weights.npz").read_bytes()
    (folder / "truncated.npz").write_bytes(good[: len(good) // 2])
    (folder / "not_npz.npz").write_text("these are not weights\n")
    (folder / "broken_plugin.py").write_text("raise RuntimeError('boom')\n")
    (folder / "empty.npz").write_bytes(b"")
    np.savez(folder / "object.npz", synapse_0=np.array([{"a": 1}], dtype=object), synapse_h=params["synapse_h"],
             synapse_1=params["synapse_1"])
    np.savez(folder / "missing_key.npz", synapse_0=params["synapse_0"], synapse_h=params["synapse_h"])
    np.savez(folder / "wrong_shape.npz", synapse_0=np.zeros((2, 8)), synapse_h=np.zeros((8, 8)),
             synapse_1=np.zeros((8, 1)))
    np.savez(folder / "ints.npz", **{k: v.astype(np.int64) for k, v in params.items()})
    np.savez(folder / "nan_weights.npz", **{k: np.full_like(v, np.nan) for k, v in params.items()})
    np.savez(folder / "no_recurrence.npz", synapse_0=params["synapse_0"], synapse_1=params["synapse_1"])
    result = train(task)
    save_checkpoint(folder / "checkpoint.npz", task, result.params, result.iterations, result.rng_state)
    # A checkpoint whose random state was damaged (the wrong number of keys).
    with np.load(folder / "checkpoint.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["checkpoint_rng_keys"] = arrays["checkpoint_rng_keys"][:10]
    np.savez(folder / "damaged_checkpoint.npz", **arrays)
    return folder


T = str(TASK)
CASES = [
    # name, command line, part of the message
    ("unknown command", ["fly"], "invalid choice: 'fly'"),
    ("no command", [], "graphnet: error: the following arguments are required: COMMAND"),
    ("unknown option", ["train", T, "--fast"], "unrecognized arguments: --fast"),
    # task files
    ("task missing", ["train", "{f}/nope.toml"], "nope.toml: no such task file"),
    ("task is a folder", ["train", "{f}"], "is a folder, expected a task file"),
    ("task empty", ["train", "{f}/empty.toml"], "empty.toml: is empty"),
    ("task TOML syntax", ["train", "{f}/syntax.toml"], "syntax.toml: not valid TOML"),
    ("task not UTF-8", ["train", "{f}/latin1.toml"], "cannot read it as UTF-8"),
    ("task unknown key", ["train", "{f}/unknown_key.toml"], "[task] bitz: unknown key; keys: generator, bits"),
    ("task unknown section", ["train", "{f}/unknown_section.toml"], "unknown section [optimizer]"),
    ("task missing key", ["train", "{f}/missing_key.toml"], "[network] hidden: missing, expected an integer"),
    ("task missing section", ["train", "{f}/missing_section.toml"], "missing section [training]"),
    ("task section is a value", ["train", "{f}/section_value.toml"], "task must be a [task] section"),
    ("task wrong type", ["train", "{f}/wrong_type.toml"], "[network] hidden: expected an integer from 1"),
    ("task bool for int", ["train", "{f}/bool.toml"], "[network] hidden: expected an integer from 1"),
    ("task zero", ["train", "{f}/zero.toml"], "[training] batch_size: expected an integer from 1"),
    ("task negative", ["train", "{f}/negative.toml"], "learning_rate: expected a finite number above 0, got -0.1"),
    ("task NaN", ["train", "{f}/nan.toml"], "learning_rate: expected a finite number above 0, got nan"),
    ("task inf", ["train", "{f}/inf.toml"], "learning_rate: expected a finite number above 0, got inf"),
    ("task absurd hidden", ["train", "{f}/billion.toml"], "would need about 22,351,742,334.7 GiB"),
    ("task absurd run", ["train", "{f}/huge_run.toml"], "x 16) would need about 6543.0 GiB of memory"),
    ("task inputs vs generator", ["train", "{f}/wrong_inputs.toml"], "inputs: the binary_addition task has 2"),
    ("task unknown cell", ["train", "{f}/unknown_cell.toml"], "unknown cell 'gru9'"),
    ("eval with a bad task", ["eval", "{f}/zero.toml", "--weights", "{f}/weights.npz"], "batch_size"),
    ("add with a bad task", ["add", "1", "2", "--weights", "{f}/weights.npz", "--task", "{f}/nan.toml"], "nan"),
    # --set
    ("--set without =", ["train", T, "--set", "network.hidden"], "expected SECTION.KEY=VALUE"),
    ("--set without a section", ["train", T, "--set", "hidden=8"], "expected SECTION.KEY=VALUE"),
    ("--set unknown section", ["train", T, "--set", "net.hidden=8"], "unknown section 'net'"),
    ("--set unknown key", ["train", T, "--set", "network.hiden=8"], "unknown key 'hiden' in [network]"),
    ("--set wrong type", ["train", T, "--set", "training.iterations=many"], "iterations: expected an integer"),
    ("--set float for int", ["train", T, "--set", "training.iterations=1.5"], "iterations: expected an integer"),
    ("--set NaN", ["train", T, "--set", "training.learning_rate=nan"], "expected a finite number above 0"),
    ("--set negative", ["train", T, "--set", "training.iterations=-1"], "iterations: expected an integer from 0"),
    ("--set absurd", ["train", T, "--set", "task.bits=1e30"], "[task] bits: expected an integer from 2"),
    ("--set zero bits", ["train", T, "--set", "task.bits=0"], "[task] bits: expected an integer from 2"),
    # weights files
    ("weights missing", ["eval", T, "--weights", "{f}/none.npz"], "none.npz: no such weights file"),
    ("weights a folder", ["add", "1", "2", "--weights", "{f}"], "is a folder, expected a weights file"),
    ("weights not npz", ["eval", T, "--weights", "{f}/not_npz.npz"], "not a readable .npz weights file"),
    ("weights empty", ["add", "1", "2", "--weights", "{f}/empty.npz"], "not a readable .npz weights file"),
    ("weights truncated", ["eval", T, "--weights", "{f}/truncated.npz"], "not a readable .npz weights file"),
    ("weights truncated, add", ["add", "1", "2", "--weights", "{f}/truncated.npz"], "not a readable .npz"),
    ("weights object arrays", ["eval", T, "--weights", "{f}/object.npz"], "Object arrays cannot be loaded"),
    ("weights object, add", ["add", "1", "2", "--weights", "{f}/object.npz"], "Object arrays cannot be loaded"),
    ("weights missing key", ["eval", T, "--weights", "{f}/missing_key.npz"], "has no 'synapse_1'; expected keys"),
    ("weights wrong shape", ["eval", T, "--weights", "{f}/wrong_shape.npz"], "the task needs float (2, 16)"),
    ("weights integers", ["eval", T, "--weights", "{f}/ints.npz"], "the task needs float (2, 16)"),
    ("weights NaN", ["eval", T, "--weights", "{f}/nan_weights.npz"], "'synapse_0' holds NaN or inf"),
    ("weights NaN, add", ["add", "1", "2", "--weights", "{f}/nan_weights.npz"], "is not an array of finite floats"),
    ("weights no synapse_h", ["add", "1", "2", "--weights", "{f}/no_recurrence.npz"], "has no 2-D 'synapse_h'"),
    ("weights for another task", ["eval", T, "--set", "network.hidden=8", "--weights", "{f}/weights.npz"],
     "the task needs float (2, 8)"),
    # command arguments
    ("add negative", ["add", "-5", "3", "--weights", "{f}/weights.npz"], "A: expected a non-negative integer"),
    ("add fraction", ["add", "5", "2.5", "--weights", "{f}/weights.npz"], "B: expected a non-negative integer"),
    ("add word", ["add", "five", "3", "--weights", "{f}/weights.npz"], "A: expected a non-negative integer"),
    ("add empty", ["add", "", "3", "--weights", "{f}/weights.npz"], "A: expected a non-negative integer"),
    ("add bad hex", ["add", "0xg", "3", "--weights", "{f}/weights.npz"], "A: expected a non-negative integer"),
    ("add one operand", ["add", "5", "--weights", "{f}/weights.npz"], "required: B"),
    ("add three operands", ["add", "1", "2", "3", "--weights", "{f}/weights.npz"], "unrecognized arguments: 3"),
    ("add no weights", ["add", "1", "2"], "required: --weights"),
    ("eval zero bits", ["eval", T, "--weights", "{f}/weights.npz", "--bits", "0"], "--bits: expected an integer"),
    ("eval bits not int", ["eval", T, "--weights", "{f}/weights.npz", "--bits", "8.5"], "invalid int value"),
    ("eval zero samples", ["eval", T, "--weights", "{f}/weights.npz", "--samples", "0"], "--samples: expected"),
    ("eval negative seed", ["eval", T, "--weights", "{f}/weights.npz", "--seed", "-1"], "--seed: expected"),
    ("eval absurd bits", ["eval", T, "--weights", "{f}/weights.npz", "--bits", "1000000000"],
     "would need about 447035.1 GiB of memory"),
    ("eval absurd samples", ["eval", T, "--weights", "{f}/weights.npz", "--bits", "64", "--samples", "10**9"],
     "invalid int value"),
    ("eval absurd samples", ["eval", T, "--weights", "{f}/weights.npz", "--bits", "64", "--samples", "1000000000"],
     "would need about 2861.1 GiB of memory"),
    ("train --save to no folder", ["train", T, "--save", "{f}/no/w.npz"], "does not exist"),
    ("train --save a folder", ["train", T, "--save", "{f}"], "is a folder, expected a file name"),
    # render
    ("render unknown format", ["render", T, "-o", "{f}/g.gif"], "unknown output format '.gif'; expected one of"),
    ("render no format", ["render", T, "-o", "{f}/graph"], "unknown output format '(none)'"),
    ("render no output", ["render", T], "required: -o"),
    ("render to no folder", ["render", T, "-o", "{f}/no/g.dot"], "does not exist"),
    ("render zero steps", ["render", T, "-o", "{f}/g.dot", "--steps", "0"], "--steps: expected an integer"),
    ("render absurd steps", ["render", T, "-o", "{f}/g.dot", "--steps", "1000000"], "will not be legible"),
    ("render malformed example", ["render", T, "-o", "{f}/g.dot", "--weights", "{f}/weights.npz", "--example",
                                  "9-60"], "--example 9-60: expected A+B with non-negative integers"),
    ("render negative example", ["render", T, "-o", "{f}/g.dot", "--weights", "{f}/weights.npz",
                                 "--example=-9+60"], "expected A+B with non-negative integers"),
    ("render negative example, spaced", ["render", T, "-o", "{f}/g.dot", "--weights", "{f}/weights.npz",
                                         "--example", "-9+60"],
     "argument --example: expected one argument; a value that starts with '-' is written --option=VALUE"),
    ("render example too long", ["render", T, "-o", "{f}/g.dot", "--weights", "{f}/weights.npz", "--example",
                                 "9+" + "9" * 100], "will not be legible"),
    ("render example, no weights", ["render", T, "-o", "{f}/g.dot", "--example", "9+60"], "go together"),
    ("render truncated weights", ["render", T, "-o", "{f}/g.dot", "--weights", "{f}/truncated.npz", "--example",
                                  "9+60"], "not a readable .npz"),
    ("render unknown --show", ["render", T, "-o", "{f}/g.dot", "--show", "both"], "invalid choice: 'both'"),
    ("render bad task", ["render", "{f}/syntax.toml", "-o", "{f}/g.dot"], "not valid TOML"),
    # nodes, gradcheck, sweep
    ("nodes extra argument", ["nodes", "extra"], "unrecognized arguments: extra"),
    ("nodes missing plugin", ["nodes", "--plugin", "no_such_module_here"], "--plugin no_such_module_here: cannot"),
    ("nodes broken plugin", ["nodes", "--plugin", "{f}/broken_plugin.py"], "cannot import it (RuntimeError: boom)"),
    ("gradcheck unknown type", ["gradcheck", "frobnicate"], "unknown node type 'frobnicate'; known node types"),
    ("gradcheck a leaf", ["gradcheck", "input"], "leaf node types have no backward"),
    ("gradcheck negative seed", ["gradcheck", "--seed", "-1"], "--seed: expected an integer of at least 0"),
    ("gradcheck seed not int", ["gradcheck", "--seed", "x"], "invalid int value: 'x'"),
    ("gradcheck names and a task", ["gradcheck", "sigmoid", "--task", T], "give node type names or --task, not both"),
    ("gradcheck steps without task", ["gradcheck", "--steps", "3"], "--steps goes with --task TASK"),
    ("gradcheck too many steps", ["gradcheck", "--task", T, "--steps", "1000"], "--steps: expected an integer from 1 to 64"),
    ("gradcheck zero batch", ["gradcheck", "--task", T, "--batch", "0"], "--batch: expected an integer of at least 1"),
    ("gradcheck missing task", ["gradcheck", "--task", "{f}/nope.toml"], "nope.toml: no such task file"),
    ("gradcheck weights of another shape", ["gradcheck", "--task", T, "--set", "network.hidden=4", "--weights",
                                            "{f}/weights.npz"], "the task needs"),
    ("sweep nothing to sweep", ["sweep", T], "give at least one --set"),
    ("sweep empty values", ["sweep", T, "--set", "network.hidden="], "expected SECTION.KEY=VALUE[,VALUE...]"),
    ("sweep a bad value", ["sweep", T, "--set", "network.hidden=2,x"], "[network] hidden: expected an integer"),
    ("sweep unknown key", ["sweep", T, "--set", "network.hiden=2"], "unknown key 'hiden' in [network]"),
    ("sweep absurd size", ["sweep", T, "--set", "network.hidden=1000000000"], "would need about"),
    ("sweep zero seeds", ["sweep", T, "--set", "network.hidden=2", "--seeds", "0"], "--seeds: expected"),
    ("sweep absurd seeds", ["sweep", T, "--set", "network.hidden=2", "--seeds", "1000000000"],
     "--seeds: expected an integer from 1 to 10,000"),
    ("sweep zero workers", ["sweep", T, "--set", "network.hidden=2", "--workers", "0"], "--workers: expected"),
    ("sweep zero check-every", ["sweep", T, "--set", "network.hidden=2", "--check-every", "0"], "--check-every"),
    ("sweep csv to a folder", ["sweep", T, "--set", "network.hidden=2", "--csv", "{f}"], "is a folder"),
    ("sweep missing task", ["sweep", "{f}/nope.toml", "--set", "network.hidden=2"], "no such task file"),
    # checkpoints
    ("--checkpoint-every alone", ["train", T, "--checkpoint-every", "5"], "give --checkpoint PATH too"),
    ("--checkpoint-every negative", ["train", T, "--checkpoint", "{f}/c.npz", "--checkpoint-every", "-1"],
     "--checkpoint-every: expected an integer of at least 0"),
    ("--checkpoint a folder", ["train", T, "--checkpoint", "{f}"], "is a folder, expected a file name"),
    ("--checkpoint to no folder", ["train", T, "--checkpoint", "{f}/no/c.npz"], "does not exist"),
    ("--resume missing", ["train", T, "--resume", "{f}/none.npz"], "none.npz: no such weights file"),
    ("--resume truncated", ["train", T, "--resume", "{f}/truncated.npz"], "not a readable .npz"),
    ("--resume a weights file", ["train", T, "--resume", "{f}/weights.npz"], "a weights file, not a checkpoint"),
    ("--resume another task", ["train", T, "--set", "training.seed=1", "--resume", "{f}/checkpoint.npz"],
     "made with [training] seed = 0, this task has 1"),
    ("--resume past the end", ["train", T, "--set", "training.iterations=3", "--resume", "{f}/checkpoint.npz"],
     "at iteration 5, past training.iterations = 3"),
    ("--resume damaged", ["train", T, "--resume", "{f}/damaged_checkpoint.npz"], "a damaged checkpoint"),
]


@pytest.mark.parametrize("name, args, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_code_2(files, name, args, message):
    result = run_cli(*[a.replace("{f}", str(files)) for a in args], cwd=files)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("graphnet: error: "), result.stderr
    assert message in result.stderr


def test_debug_shows_the_traceback_of_a_bad_input(files):
    result = run_cli("eval", T, "--weights", files / "truncated.npz", "--debug")
    assert result.returncode != 0 and "Traceback" in result.stderr and "WeightsError" in result.stderr


def test_the_bad_input_table_covers_every_command():
    from graphnet.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    covered = {args[0] for _, args, _ in CASES if args}
    assert set(commands) <= covered, f"no bad-input case for {set(commands) - covered}"
