"""Every bad input a user can give, run through the CLI as they would: exit code 2, one line, no traceback.

The table names each case, the command line (``{task}``, ``{weights}`` ... are files made below) and a part
of the message that says what is wrong and what was expected.
"""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from conftest import ROOT, TASK, diverging_checkpoint, run_cli

from graphnet import load_task, load_weights
from graphnet.app.checkpoint import load_checkpoint
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
    "minimal.toml": "[task]\nbits = 8\n",
    "invisible_key.toml": _task_text("hidden = 16", '"hid\u200bden" = 16'),  # a zero-width space, pasted along
    "invisible_bare_key.toml": _task_text("hidden = 16", "hid\u200bden = 16"),  # not TOML: says why
    "cyrillic_activation.toml": _task_text('cell = "rnn"', 'cell = "rnn"\nactivation = "sigm\u043eid"'),  # Cyrillic o
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
    damaged = {**arrays, "checkpoint_rng_keys": arrays["checkpoint_rng_keys"][:10]}
    np.savez(folder / "damaged_checkpoint.npz", **damaged)
    for name, change in [("negative_iteration", {"checkpoint_iteration": np.array(-3)}),
                         ("fractional_iteration", {"checkpoint_iteration": np.array(2.5)}),
                         ("zero_state", {"checkpoint_rng_keys": np.zeros(624, dtype=np.uint32)}),
                         ("float_keys", {"checkpoint_rng_keys": np.full(624, 1e20)}),
                         ("absurd_key", {"checkpoint_rng_keys": np.ones(1_000_000, dtype=np.uint32)})]:
        np.savez(folder / f"{name}.npz", **{**arrays, **change})
    np.savez(folder / "resumable.npz", **arrays)
    # Files no task or weights reader should take.
    os.mkfifo(folder / "pipe")
    (folder / "copy.toml").write_text(SHIPPED)
    (folder / "copy.json").write_text(SHIPPED)
    (folder / "copy.csv").write_text(SHIPPED)
    (folder / "huge.toml").write_text(SHIPPED + "# " + "x" * (2 << 20) + "\n")
    (folder / "digits.toml").write_text(_task_text("bits = 8", "bits = " + "9" * 400))
    (folder / "float_digits.toml").write_text(_task_text("learning_rate = 0.1", "learning_rate = " + "9" * 400))
    (folder / "deep.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n" + SHIPPED)
    np.save(folder / "array.npy", params["synapse_0"])
    with zipfile.ZipFile(folder / "text_member.npz", "w") as archive:
        archive.writestr("synapse_0.txt", "hello")
    one = io.BytesIO()
    np.save(one, np.zeros(3))
    with zipfile.ZipFile(folder / "huge_header.npz", "w") as archive:
        archive.writestr("synapse_0.npy", one.getvalue().replace(b"(3,)", b"(1000000000000000000,)"))
    for name, method in (("unknown_compression", 99), ("encrypted", None)):
        with zipfile.ZipFile(folder / f"{name}.npz", "w") as archive:
            archive.writestr("synapse_0.npy", one.getvalue())
        raw = bytearray((folder / f"{name}.npz").read_bytes())
        for header in (b"PK\x03\x04", b"PK\x01\x02"):  # the local and the central header of the one member
            at = raw.index(header)
            if method is None:  # the "encrypted" flag, bit 0 of the general purpose flags
                flags = at + (6 if header == b"PK\x03\x04" else 8)
                raw[flags] |= 1
            else:  # a compression method zip does not know
                field = at + (8 if header == b"PK\x03\x04" else 10)
                raw[field:field + 2] = method.to_bytes(2, "little")
        (folder / f"{name}.npz").write_bytes(bytes(raw))
    (folder / "coin_flips.py").write_text("from graphnet import Generator, register_generator\n\n\n"
                                          "@register_generator('coin_flips')\nclass CoinFlips(Generator):\n"
                                          "    'Random bits in, the same bits out: nothing to remember.'\n")
    (folder / "coin_flips.toml").write_text(_task_text('"binary_addition"', '"coin_flips"').replace("inputs = 2",
                                                                                                  "inputs = 1"))
    (folder / "exit7.py").write_text("import sys\nsys.exit(7)\n")
    (folder / "exit_bare.py").write_text("raise SystemExit\n")
    return folder


T = str(TASK)
ANIMATE = ["animate", T, "--weights", "{f}/weights.npz", "--example", "9+60"]  # a good animation, but for -o
PROBE = ["probe", T, "--weights", "{f}/weights.npz"]  # the post's task and weights, probed
PROBLEMS_RANGE = "--problems: expected an integer from 16 to 1,000,000 (a quarter of them held out)"
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
    ("task unknown key", ["train", "{f}/unknown_key.toml"], "[task] bitz: unknown key; did you mean bits? keys: generator, bits"),
    ("task unknown section", ["train", "{f}/unknown_section.toml"], "unknown section [optimizer]"),
    ("task missing key", ["train", "{f}/missing_key.toml"], "missing_key.toml: missing [network] hidden (tasks/"),
    ("task missing section", ["train", "{f}/missing_section.toml"],
     "missing [training] learning_rate, iterations, batch_size, seed, log_every (tasks/binary_addition.toml"),
    ("task minimal", ["train", "{f}/minimal.toml"], "minimal.toml: missing [network] inputs, hidden, outputs; "
     "[training] learning_rate, iterations, batch_size, seed, log_every"),
    ("task path mistyped", ["train", str(TASK.parent / "binary_additon.toml")],
     "binary_additon.toml: no such task file; did you mean "),
    ("task section is a value", ["train", "{f}/section_value.toml"], "task must be a [task] section"),
    ("task wrong type", ["train", "{f}/wrong_type.toml"], "[network] hidden: expected an integer from 1"),
    ("task bool for int", ["train", "{f}/bool.toml"], "[network] hidden: expected an integer from 1"),
    ("task zero", ["train", "{f}/zero.toml"], "[training] batch_size: expected an integer from 1"),
    ("task negative", ["train", "{f}/negative.toml"], "learning_rate: expected a finite number above 0 and at most 1,000,000, got -0.1"),
    ("task NaN", ["train", "{f}/nan.toml"], "learning_rate: expected a finite number above 0 and at most 1,000,000, got nan"),
    ("task inf", ["train", "{f}/inf.toml"], "learning_rate: expected a finite number above 0 and at most 1,000,000, got inf"),
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
    ("--set wrong type", ["train", T, "--set", "training.iterations=many"],
     "--set training.iterations=many: expected an integer"),
    ("--set float for int", ["train", T, "--set", "training.iterations=1.5"], "--set training.iterations=1.5: expected"),
    ("--set NaN", ["train", T, "--set", "training.learning_rate=nan"], "expected a finite number above 0"),
    ("--set negative", ["train", T, "--set", "training.iterations=-1"], "iterations=-1: expected an integer from 0"),
    ("--set absurd", ["train", T, "--set", "task.bits=1e30"], "--set task.bits=1e30: expected an integer from 2"),
    ("--set zero bits", ["train", T, "--set", "task.bits=0"], "--set task.bits=0: expected an integer from 2"),
    ("--set one bit, no estimate", ["train", T, "--set", "task.bits=1"],
     "--set task.bits=1: expected an integer from 2 to 1,048,576, got 1\n"),
    # weights files
    ("weights missing", ["eval", T, "--weights", "{f}/none.npz"], "none.npz: no such weights file"),
    ("weights a folder", ["add", "1", "2", "--weights", "{f}"], "is a folder, expected a weights file"),
    ("weights not npz", ["eval", T, "--weights", "{f}/not_npz.npz"], "not an .npz weights file (a zip of .npy arrays); it starts like text"),
    ("weights empty", ["add", "1", "2", "--weights", "{f}/empty.npz"], "empty.npz: not an .npz weights file (a zip of .npy arrays)"),
    ("weights truncated", ["eval", T, "--weights", "{f}/truncated.npz"], "not a readable .npz weights file"),
    ("weights truncated, add", ["add", "1", "2", "--weights", "{f}/truncated.npz"], "not a readable .npz"),
    ("weights object arrays", ["eval", T, "--weights", "{f}/object.npz"], "'synapse_0' holds Python objects (pickled data), not numbers"),
    ("weights object, add", ["add", "1", "2", "--weights", "{f}/object.npz"], "'synapse_0' holds Python objects (pickled data), not numbers"),
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
    ("animate unknown format", ANIMATE + ["-o", "{f}/run.mp4"], "-o {f}/run.mp4: unknown animation format '.mp4'"),
    ("animate no example", ["animate", T, "--weights", "{f}/weights.npz", "-o", "{f}/a.gif"],
     "required: --example"),
    ("animate malformed example", ["animate", T, "--weights", "{f}/weights.npz", "--example", "9-60", "-o",
                                   "{f}/a.gif"], "--example 9-60: expected A+B with non-negative integers"),
    ("animate too many steps", ANIMATE + ["-o", "{f}/a.gif", "--steps", "17"], "too many frames to follow"),
    ("animate an example too long", ["animate", T, "--weights", "{f}/weights.npz", "--example", "9+" + "9" * 30,
                                     "-o", "{f}/a.gif"], "too many frames to follow"),
    ("animate weights of another net", ANIMATE + ["-o", "{f}/a.gif", "--set", "network.hidden=8"],
     "'synapse_0' is float64 (2, 16), the task needs float (2, 8)"),
    ("animate to no folder", ANIMATE + ["-o", "{f}/no/a.gif"], "does not exist"),
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
    ("sweep a scheduler that is no address", ["sweep", T, "--set", "network.hidden=2", "--csv", "{f}/s.csv",
                                              "--scheduler", "8786"],
     "--scheduler '8786': expected 'local' or a scheduler's address, tcp://HOST:PORT"),
    ("sweep --workers on a scheduler's cluster", ["sweep", T, "--set", "network.hidden=2", "--scheduler",
                                                  "tcp://127.0.0.1:8786", "--workers", "2"],
     "--workers: a sweep on --scheduler tcp://127.0.0.1:8786 runs on the workers that joined it"),
    ("sweep empty values", ["sweep", T, "--set", "network.hidden="], "expected SECTION.KEY=VALUE[,VALUE...]"),
    ("sweep a bad value", ["sweep", T, "--set", "network.hidden=2,x"], "--set network.hidden=x: expected an integer"),
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
    # learning curves
    ("--curve unknown format", ["train", T, "--curve", "{f}/curve.txt"],
     "curve.txt: unknown format '.txt'; expected one of .csv, .svg, .png"),
    ("--curve no format", ["train", T, "--curve", "{f}/curve"], "unknown format '(none)'; expected one of .csv"),
    ("--curve to no folder", ["train", T, "--curve", "{f}/no/curve.csv"], "does not exist"),
    ("--curve-every alone", ["train", T, "--curve-every", "5"], "--curve-every: give --curve FILE too"),
    ("--curve-every zero", ["train", T, "--curve", "{f}/curve.csv", "--curve-every", "0"],
     "--curve-every: expected an integer of at least 1, got 0"),
    ("--curve-every not int", ["train", T, "--curve", "{f}/curve.csv", "--curve-every", "1e3"], "invalid int value"),
    ("--plot unknown format", ["sweep", T, "--set", "network.hidden=2", "--plot", "{f}/sweep.pdf"],
     "sweep.pdf: unknown format '.pdf'; expected one of .svg, .png"),
    # graphnet probe
    ("probe a task with no hidden fact", ["probe", "{f}/coin_flips.toml", "--weights", "{f}/weights.npz", "--plugin",
                                          "{f}/coin_flips.py"], "coin_flips.toml: the coin_flips generator names no "
     "hidden fact to probe for (a generator declares one with `fact` and `fact_values`, see docs/extending.md)"),
    ("probe weights of another network", [*PROBE, "--set", "network.hidden=8"], "the task needs float (2, 8)"),
    ("probe too few problems", [*PROBE, "--problems", "3"], f"{PROBLEMS_RANGE}, got 3"),
    ("probe too many problems", [*PROBE, "--problems", "2000000"], f"{PROBLEMS_RANGE}, got 2000000"),
    ("probe past the memory limit", [*PROBE, "--set", "task.bits=100000", "--problems", "100000"],
     f"--problems 100,000 of {T}'s 100000-bit problems (state width 16) would need about"),
    ("probe a state too wide to fit", [*PROBE, "--set", "network.hidden=1024"],
     "fitting a readout to 24,576 states of 1024 numbers is too much work to wait for; give fewer problems"),
    ("probe --plot unknown format", [*PROBE, "--plot", "{f}/probe.pdf"],
     "probe.pdf: unknown format '.pdf'; expected one of .svg, .png"),
    ("probe --plot to no folder", [*PROBE, "--plot", "{f}/no/p.svg"],
     "--plot {f}/no/p.svg: folder {f}/no does not exist"),
    ("probe negative seed", [*PROBE, "--seed", "-1"], "--seed: expected an integer of at least 0, got -1"),
    # graphnet reach, doctor and compare
    ("reach weights of another network", ["reach", T, "--weights", "{f}/weights.npz", "--set", "network.hidden=8"],
     "the task needs float (2, 8)"),
    ("reach a weight it lacks", ["reach", T, "--split", "synapse_x"], "--split synapse_x: the rnn network has no such"),
    ("reach --csv onto --plot", ["reach", T, "--csv", "{f}/r.svg", "--plot", "{f}/r.svg"],
     "is also written by this command"),
    ("reach too many steps", ["reach", T, "--steps", "65"], "65 steps: the gradient is split by a reverse pass"),
    ("doctor too many problems", ["doctor", T, "--problems", "5000"], "--problems: expected an integer from 16 to"),
    ("doctor a start that is not one", ["doctor", T, "--set", "network.init=ones"],
     "--set network.init=ones: expected one of 'uniform', 'zeros', got 'ones'"),
    ("compare nothing to compare", ["compare", T, "--set", "network.hidden=8"], "give the key to compare over"),
    ("compare an unknown cell", ["compare", T, "--set", "network.hidden=4,8", "--cells", "rnn,transformer"],
     "--cells transformer: expected a cell"),
    ("compare too many runs", ["compare", T, "--set", "network.hidden=4,8", "--seeds", "100", "--learning-rates",
                               ",".join(["0.1"] * 20)], "compare: 16,000 networks to train"),
    # outputs that would lose something: checked before any work (issue 13)
    ("--save onto a pipe", ["train", T, "--save", "{f}/pipe"], "/pipe: is not a regular file (a pipe or a device)"),
    ("--save onto the task file", ["train", "{f}/copy.toml", "--save", "{f}/copy.toml"],
     "is also read by this command"),
    ("--save onto --resume", ["train", T, "--resume", "{f}/resumable.npz", "--save", "{f}/resumable.npz"],
     "is also read by this command"),
    ("--save onto --checkpoint", ["train", T, "--checkpoint", "{f}/c2.npz", "--save", "{f}/c2.npz"],
     "is also written by this command"),
    ("--checkpoint onto the task file", ["train", "{f}/copy.toml", "--checkpoint", "{f}/copy.toml"],
     "is also read by this command"),
    ("--curve onto the task file", ["train", "{f}/copy.csv", "--curve", "{f}/copy.csv"], "is also read by this command"),
    ("--curve onto --resume", ["train", T, "--resume", "{f}/run.csv", "--curve", "{f}/run.csv"],
     "is also read by this command"),
    ("--curve onto --save", ["train", T, "--save", "{f}/out.csv", "--curve", "{f}/out.csv"],
     "--curve {f}/out.csv: is also written by this command"),
    ("--curve onto --checkpoint", ["train", T, "--checkpoint", "{f}/c3.csv", "--curve", "{f}/c3.csv"],
     "is also written by this command"),
    ("--save where nothing can be written", ["train", T, "--save", "/proc/w.npz"], "--save /proc/w.npz: cannot write"),
    ("--save name over 255 bytes", ["train", T, "--save", "{f}/" + "a" * 300 + ".npz"], "longer than 255 bytes"),
    ("-o onto the task file", ["render", "{f}/copy.json", "-o", "{f}/copy.json"], "is also read by this command"),
    ("--csv where nothing can be written", ["sweep", T, "--set", "network.hidden=2", "--csv", "/proc/s.csv"],
     "--csv /proc/s.csv: cannot write"),
    ("--csv and --plot one file", ["sweep", T, "--set", "network.hidden=2", "--csv", "{f}/s.svg", "--plot",
                                   "{f}/s.svg"], "is also written by this command"),
    ("sweep the seed", ["sweep", T, "--set", "training.seed=5,6"], "a sweep runs seeds 0 to N-1"),
    ("sweep absurd workers", ["sweep", T, "--set", "network.hidden=2", "--workers", "100000"],
     "--workers: expected an integer from 1 to 256"),
    # inputs that would block, never end or fill memory
    ("task a pipe", ["train", "{f}/pipe"], "pipe: is not a regular file (a pipe or a device), expected a task file"),
    ("task /dev/zero", ["train", "/dev/zero"], "is not a regular file (a pipe or a device)"),
    ("weights a pipe", ["eval", T, "--weights", "{f}/pipe"], "expected a weights file (.npz)"),
    ("task of 2 MB", ["train", "{f}/huge.toml"], "bytes, more than any task file"),
    ("task name over 255 bytes", ["train", "{f}/" + "a" * 300 + ".toml"], "cannot read it (File name too long)"),
    ("bits past the accuracy check's memory", ["train", T, "--set", "task.bits=20000"],
     "the accuracy check after training (20000-bit problems) would need about"),
    ("gradcheck of a huge network", ["gradcheck", "--task", T, "--set", "network.hidden=4096", "--steps", "2"],
     "too many to wait for"),
    # files and values that raised or were accepted
    ("weights an .npy", ["eval", T, "--weights", "{f}/array.npy"], "one .npy array, not an .npz of named weights"),
    ("weights a task file", ["eval", T, "--weights", T], "not an .npz weights file (a zip of .npy arrays); it starts"),
    ("weights member not .npy", ["eval", T, "--weights", "{f}/text_member.npz"], "holds 'synapse_0.txt', not an .npy"),
    ("weights header of 1e18 floats", ["eval", T, "--weights", "{f}/huge_header.npz"],
     "'synapse_0' declares 1,000,000,000,000,000,000 numbers, more than it holds"),
    ("weights header of 1e18, add", ["add", "1", "2", "--weights", "{f}/huge_header.npz"], "more than it holds"),
    ("weights compressed unknown way", ["eval", T, "--weights", "{f}/unknown_compression.npz"],
     "compression method is not supported"),
    ("weights encrypted", ["eval", T, "--weights", "{f}/encrypted.npz"], "not a readable .npz weights file"),
    ("task number of 400 digits", ["train", "{f}/digits.toml"], "got a number of about 401 digits"),
    ("task float of 400 digits", ["train", "{f}/float_digits.toml"], "[training] learning_rate: expected a finite"),
    ("task nested 5000 deep", ["train", "{f}/deep.toml"], "nested too deeply to read"),
    ("iterations 2**63", ["train", T, "--set", "training.iterations=9223372036854775808"],
     "iterations=9223372036854775808: expected an integer from 0 to 1,000,000,000,000"),
    ("plugin module in another folder", ["nodes", "--plugin", "my_own_nodes"],
     "No module named 'my_own_nodes'); give the path of its .py file (--plugin path/to/my_own_nodes.py)"),
    ("activation that is not elementwise", ["train", T, "--set", "network.activation=mean"],
     "[network] activation: 'mean' makes shape () of a hidden layer (None, 16); expected an elementwise"),
    ("add with a parity task", ["add", "3", "4", "--weights", "{f}/weights.npz", "--task",
                                str(TASK.parent / "running_parity.toml")], "a running_parity task; add needs"),
    ("add with a subtraction task", ["add", "9", "4", "--weights", "{f}/weights.npz", "--task",
                                     str(TASK.parent / "binary_subtraction.toml")], "a binary_subtraction task"),
    ("add --set without --task", ["add", "3", "4", "--weights", "{f}/weights.npz", "--set", "network.hidden=8"],
     "--set goes with --task TASK"),
    ("plugin calling sys.exit(7)", ["nodes", "--plugin", "{f}/exit7.py"], "it called sys.exit(7) while being imported"),
    ("plugin raising SystemExit", ["nodes", "--plugin", "{f}/exit_bare.py"], "it called sys.exit(None)"),
    ("--resume at iteration -3", ["train", T, "--resume", "{f}/negative_iteration.npz"],
     "a damaged checkpoint (iteration is -3, not from 0 on)"),
    ("--resume at iteration 2.5", ["train", T, "--resume", "{f}/fractional_iteration.npz"],
     "a damaged checkpoint (iteration is float64 (), not a whole number)"),
    ("--resume all-zero random state", ["train", T, "--resume", "{f}/zero_state.npz"],
     "a damaged checkpoint (the random state is not 624 32-bit keys, not all zero)"),
    ("--resume float random keys", ["train", T, "--resume", "{f}/float_keys.npz"],
     "a damaged checkpoint (the random state is not 624 32-bit keys"),
    ("--resume key of absurd size", ["train", T, "--resume", "{f}/absurd_key.npz"],
     "'checkpoint_rng_keys' holds 1,000,000 numbers; a checkpoint's own keys hold at most 10,000"),
    # issue 28: valid input silently changed, messages that misled, untrusted text printed raw
    ("--set a key twice", ["train", T, "--set", "network.hidden=8", "--set", "network.hidden=16"],
     "--set network.hidden=16: network.hidden is given twice (also --set network.hidden=8); give each key once"),
    ("sweep a value twice", ["sweep", T, "--set", "network.hidden=8,8,16"],
     "--set 'network.hidden=8,8,16': gives '8' twice; give each value once"),
    ("sweep one number written two ways", ["sweep", T, "--set", "training.learning_rate=0.1,1e-1"],
     "gives '0.1' and '1e-1', the same value"),
    ("sweep an empty value", ["sweep", T, "--set", "network.hidden=8,,16"], "an empty value between commas"),
    ("sweep a key twice", ["sweep", T, "--set", "network.hidden=8", "--set", "network.hidden=16"],
     "network.hidden is given twice (also --set 'network.hidden=8'); give its values once, e.g. --set "
     "network.hidden=8,16"),
    ("learning rate past its limit", ["train", T, "--set", "training.learning_rate=1e7"],
     "expected a finite number above 0 and at most 1,000,000, got 10000000.0"),
    ("activation of any number of inputs", ["train", T, "--set", "network.activation=sum"],
     "'sum' takes any number of inputs, expected a node type of one input"),
    ("activation nobody registered", ["train", T, "--set", "network.activation=softplus"],
     "unknown node type 'softplus'; known node types: add, "),
    ("activation nobody registered, how to load one", ["train", T, "--set", "network.activation=softplus"],
     "; a node type of your own is loaded with --plugin FILE.py, or plugins = [...] in the task file"),
    ("--set key with a look-alike letter", ["train", T, "--set", "network.h\u0456dden=8"],
     "unknown key 'h\u0456dden' in [network]; did you mean 'hidden'? its '\u0456' is U+0456 CYRILLIC SMALL LETTER "
     "BYELORUSSIAN-UKRAINIAN I, not the Latin 'i'"),
    ("task key with a zero-width space", ["train", "{f}/invisible_key.toml"],
     "[network] hid\\u200bden: unknown key; did you mean 'hidden'? it has an invisible U+200B ZERO WIDTH SPACE"),
    ("task bare key with a zero-width space", ["train", "{f}/invisible_bare_key.toml"],
     "not valid TOML: Expected '=' after a key in a key/value pair (at line 11, column 4); line 11 has an "
     "invisible U+200B ZERO WIDTH SPACE"),
    ("task activation with a Cyrillic letter", ["train", "{f}/cyrillic_activation.toml"],
     "; did you mean 'sigmoid'? its '\u043e' is U+043E CYRILLIC SMALL LETTER O, not the Latin 'o'"),
    ("a name that would reverse the terminal line", ["train", T, "--set", "network.cell=ls\u202etm"],
     "unknown cell 'ls\\u202etm'; known cells: gru, lstm, rnn; did you mean 'lstm'? it has an invisible U+202E "
     "RIGHT-TO-LEFT OVERRIDE"),
    ("a name with a terminal's escape sequence", ["train", T, "--set", "network.cell=\x1b[2Jrnn"],
     "unknown cell '\\x1b[2Jrnn'"),
    ("render --steps of 21 digits with an example", ["render", T, "--steps", str(10**20), "--weights",
                                                     "{f}/weights.npz", "--example", "5+6", "-o", "{f}/g.svg"],
     f"--steps {10**20}: more than 256 steps will not be legible; draw fewer, e.g. --steps 16"),
    ("animate an example too long, no --steps", ["animate", T, "--weights", "{f}/weights.npz", "--example",
                                                 "9+" + "9" * 30, "-o", "{f}/a.gif"],
     f"--example 9+{'9' * 30}: needs 101 steps, more than 16 make too many frames to follow; animate fewer (a "
     "shorter example)"),
    ("render a task of more steps than draw", ["render", T, "--set", "task.bits=300", "-o", "{f}/g.dot"],
     "--set task.bits=300, the steps drawn without --steps: more than 256 will not be legible; draw fewer, e.g. "
     "--steps 16"),
    ("render an example too long, no --steps", ["render", T, "--weights", "{f}/weights.npz", "--example",
                                                f"{2**300}+1", "-o", "{f}/g.svg"],
     f"--example {2**300}+1: needs 302 steps, more than 256 will not be legible; draw fewer (a shorter example)"),
    # exercise (more in tests/app/test_exercises.py)
    ("exercise unknown", ["exercise", "hint", "7"], "exercise '7': expected a number from 1 to 6"),
    ("exercise check, no file", ["exercise", "check", "1", "--folder", "{f}"], "no file"),
]


@pytest.mark.parametrize("name, args, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_code_2(files, name, args, message):
    result = run_cli(*[a.replace("{f}", str(files)) for a in args], cwd=files)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("graphnet: error: "), result.stderr
    assert message.replace("{f}", str(files)) in result.stderr


def test_debug_shows_the_traceback_of_a_bad_input_and_keeps_its_exit_code(files, tmp_path):
    result = run_cli("eval", T, "--weights", files / "truncated.npz", "--debug")
    assert result.returncode == 2 and "Traceback" in result.stderr and "WeightsError" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("graphnet: error: ")  # and the line it ends in without
    diverging = diverging_checkpoint(tmp_path / "run.npz")
    result = run_cli("train", T, "--set", "training.iterations=30", "--quiet", "--resume", diverging, "--debug")
    assert result.returncode == 3 and "DivergedError" in result.stderr  # exit 3 stays 3


def test_a_sweep_keeps_the_default_csv_of_an_earlier_sweep(tmp_path):
    (tmp_path / "sweep.csv").write_text("setting,seed\nan earlier sweep's results,0\n")  # not named this time
    result = run_cli("sweep", T, "--set", "network.hidden=2", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr == (
        "graphnet: error: --csv: the default, sweep.csv, exists already; it is kept (only a file named as the output "
        "is replaced): give --csv sweep.csv to replace it, or another name\n")
    assert (tmp_path / "sweep.csv").read_text() == "setting,seed\nan earlier sweep's results,0\n"


def test_stdout_that_takes_no_more_is_one_line(files):
    for args in (["eval", T, "--weights", files / "weights.npz"], ["nodes"]):
        with open("/dev/full", "w") as full:
            result = subprocess.run([sys.executable, "-m", "graphnet", *map(str, args)], stdout=full,
                                    stderr=subprocess.PIPE, text=True, cwd=ROOT)
        assert result.returncode == 2 and result.stderr == ("graphnet: error: cannot write the output to stdout (No "
                                                            "space left on device); files the command writes are "
                                                            "written\n"), result.stderr


def test_a_home_that_takes_no_files_prints_no_warning_of_matplotlibs(files, tmp_path):
    env = dict(os.environ, HOME="/proc")  # no folder can be made there, not even by root
    env.pop("MPLCONFIGDIR", None)
    result = subprocess.run([sys.executable, "-m", "graphnet", "probe", T, "--weights", str(files / "weights.npz"),
                             "--problems", "64", "--plot", str(tmp_path / "p.svg")], capture_output=True, text=True,
                            env=env, cwd=ROOT)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert (tmp_path / "p.svg").exists()


def test_the_bad_input_table_covers_every_command():
    from graphnet.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    covered = {args[0] for _, args, _ in CASES if args}
    assert set(commands) <= covered, f"no bad-input case for {set(commands) - covered}"


# -- what a table cannot say: pipes, two writers, a full disk, Ctrl-C while starting ----------------------------
def test_a_reader_that_stops_early_never_costs_the_saved_files(tmp_path):
    # `graphnet train ... | head -3`: the log's reader goes away; the weights and checkpoint are still written.
    save, checkpoint = tmp_path / "w.npz", tmp_path / "c.npz"
    proc = subprocess.Popen([sys.executable, "-m", "graphnet", "train", T, "--set", "training.iterations=3000",
                             "--set", "training.log_every=1", "--save", str(save), "--checkpoint", str(checkpoint)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    for _ in range(3):  # the log of 3,000 iterations is far more than a pipe holds: the run must meet the close
        proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and err == "", err
    assert load_weights(save)["synapse_h"].shape == (16, 16)
    assert load_checkpoint(checkpoint, load_task(TASK, ["training.iterations=3000"])).iteration == 3000


def test_two_runs_checkpointing_into_one_file_both_finish_and_leave_one_whole_checkpoint(tmp_path):
    path = tmp_path / "shared.npz"
    runs = [subprocess.Popen([sys.executable, "-m", "graphnet", "train", T, "--quiet", "--set",
                              "training.iterations=400", "--set", f"training.seed={seed}", "--checkpoint", str(path),
                              "--checkpoint-every", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
            for seed in (0, 1)]
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err.decode()
    with np.load(path) as npz:  # whichever run wrote last: a whole checkpoint of its own seed
        seed = json.loads(str(npz["checkpoint_task"]))["training"]["seed"]
    task = load_task(TASK, ["training.iterations=400", f"training.seed={seed}"])
    assert load_checkpoint(path, task).iteration == 400
    assert [p.name for p in tmp_path.iterdir()] == ["shared.npz"]  # no temporary file left behind


def test_a_full_disk_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch, capsys):
    from graphnet.cli import main

    save = tmp_path / "w.npz"
    save.write_bytes(b"the old weights")

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    code = main(["train", T, "--quiet", "--set", "training.iterations=5", "--save", str(save)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "No space left on device); the file is as it was" in err
    assert save.read_bytes() == b"the old weights" and sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"]


@pytest.mark.parametrize("signum, said", [(signal.SIGINT, "interrupted"), (signal.SIGTERM, "stopped by SIGTERM"),
                                          (signal.SIGHUP, "stopped by SIGHUP")])
def test_a_signal_while_the_command_is_still_starting_is_one_line_and_exit_128_plus_it(signum, said):
    # The signal arrives while the command imports numpy and the rest: sent there, deterministically.
    code = ("import builtins, os, sys\n"
            "real = builtins.__import__\n"
            "def interrupted(name, *args, **kwargs):\n"
            "    if name == 'networkx':\n"
            f"        os.kill(os.getpid(), {int(signum)})\n"
            "    return real(name, *args, **kwargs)\n"
            "builtins.__import__ = interrupted\n"
            "from graphnet._start import main\n"
            "sys.exit(main(['nodes']))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 128 + signum and result.stderr == f"graphnet: {said}\n" and result.stdout == ""


def test_a_task_file_with_a_byte_order_mark_is_read(tmp_path):
    (tmp_path / "bom.toml").write_bytes(b"\xef\xbb\xbf" + SHIPPED.encode())
    assert load_task(tmp_path / "bom.toml").problem.bits == 8


HALVING = '''
import numpy as np
from graphnet import Node, Stacking, register_node


@register_node("halving_sigmoid")
class Halving(Node):
    """sigmoid(x / 2)"""

    stacking = Stacking()

    def forward(self, ctx, x):
        y = 1 / (1 + np.exp(-x / 2))
        ctx.save(y)
        return y

    def backward(self, ctx, grad):
        (y,) = ctx.saved
        return (grad * y * (1 - y) / 2,)
'''


def test_sweep_workers_load_the_commands_plugins(tmp_path):
    (tmp_path / "halving.py").write_text(HALVING)
    result = run_cli("sweep", T, "--set", "network.activation=halving_sigmoid", "--set", "network.hidden=4,8",
                     "--set", "training.iterations=200", "--seeds", "1", "--workers", "2", "--csv",
                     tmp_path / "s.csv", "--plugin", tmp_path / "halving.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "network.activation=halving_sigmoid network.hidden=8" in (tmp_path / "s.csv").read_text()


def test_checking_an_output_leaves_nothing_behind(tmp_path):
    from graphnet.app.files import check_writable

    check_writable(tmp_path / "w.npz", "--save")
    assert list(tmp_path.iterdir()) == []


# -- extreme but valid numbers (issue 28) -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def extreme(files):
    """Weights files of extreme but valid numbers: near the largest float (each sign), subnormal, and both."""
    params = load_weights(files / "weights.npz")
    signs = {k: np.where(np.indices(v.shape).sum(axis=0) % 2, 1.0, -1.0) for k, v in params.items()}
    made = {"limit": {k: 1.7e308 * signs[k] for k in params},  # every run of them overflows
            "near": {k: v * 1e306 for k, v in params.items()},  # huge, and the run stays finite
            "subnormal": {k: v * 5e-320 for k, v in params.items()},
            "both": {k: np.where(signs[k] > 0, v * 1e300, v * 1e-310) for k, v in params.items()}}
    for name, arrays in made.items():
        np.savez(files / f"{name}.npz", **arrays)
    return files


@pytest.mark.parametrize("args, message", [
    (["render", T, "--example", "9+60", "-o", "{f}/limit.svg"],
     "the run of 9 + 60 = 69 overflows with these weights (node 'h_synapse_1[0]' is inf); a picture of it would show "
     "no numbers"),
    (["render", T, "--example", "9+60", "--show", "grads", "-o", "{f}/limit.svg"], "overflows"),
    (["animate", T, "--example", "5+6", "--steps", "4", "-o", "{f}/limit.html"],
     "the run of 5 + 6 = 11 overflows with these weights (node 'h_synapse_1[0]' is inf); a picture of it would show "
     "no numbers"),
    (["add", "9", "60"], "the network's run overflows with these weights (node '"),
    (["add", "9", "60"], "is inf, counting from bit 0): there is no sum to read from it"),
    (["gradcheck", "--task", T, "--steps", "2"], "the run overflows at these weights"),
], ids=["render", "render grads", "animate", "add", "add, what it says", "gradcheck"])
def test_weights_whose_run_overflows_are_refused_in_one_line_with_exit_3(extreme, args, message):
    result = run_cli(*[a.replace("{f}", str(extreme)) for a in args], "--weights", extreme / "limit.npz", cwd=extreme)
    assert result.returncode == 3 and result.stdout == "", result.stderr
    assert result.stderr.startswith("graphnet: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert message.replace("{f}", str(extreme)) in result.stderr
    assert not list(extreme.glob("limit.svg")) + list(extreme.glob("limit.html"))


@pytest.mark.parametrize("weights", ["near", "subnormal", "both"])
@pytest.mark.parametrize("command", [["render", T, "--example", "5+6", "--steps", "4", "-o", "{f}/{w}-values.png"],
                                     ["render", T, "--example", "5+6", "--steps", "4", "--show", "grads", "-o",
                                      "{f}/{w}-grads.svg"],
                                     ["animate", T, "--example", "5+6", "--steps", "4", "-o", "{f}/{w}.html"],
                                     ["add", "9", "60"], ["eval", T], ["probe", T, "--problems", "64"]],
                         ids=["render", "render grads", "animate", "add", "eval", "probe"])
def test_extreme_weights_whose_run_stays_finite_work_without_a_warning(extreme, weights, command):
    args = [a.replace("{f}", str(extreme)).replace("{w}", weights) for a in command]
    result = run_cli(*args, "--weights", extreme / f"{weights}.npz", cwd=extreme)
    assert result.returncode == 0, result.stderr
    said = result.stderr.splitlines()  # nothing, or add's own line: where the network's sum is wrong
    assert said == [] or len(said) == 1 and said[0].startswith("graphnet: the network is wrong here: "), said
