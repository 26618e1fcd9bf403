"""Learning curves: the rows and their columns, training unchanged by them, resuming, Ctrl-C, the pictures."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT, TASK, diverging_checkpoint, run_cli

from graphnet import load_task, load_weights, train
from graphnet.app.curve import COLUMNS, Curve, Row, csv_text, write_curve
from graphnet.cli import main

QUICK = ["training.iterations=250", "training.log_every=0"]


def _rows(path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open()))


def test_a_row_every_n_iterations_and_one_at_the_last():
    task = load_task(TASK, QUICK)
    curve = Curve(task, every=100)
    train(task, on_update=curve)
    rows = curve.finish()
    assert [row.iteration for row in rows] == [100, 200, 250]
    assert all(0 <= row.accuracy <= 1 and row.error > 0 and row.loss > 0 for row in rows)
    assert csv_text(rows).splitlines()[0] == "iteration,error,loss,accuracy" == ",".join(COLUMNS)


def test_the_error_and_loss_columns_are_what_the_log_prints():
    # One problem an iteration and a row every iteration: each row's error is the log's Error of that iteration.
    task = load_task(TASK, ["training.iterations=30", "training.log_every=1"])
    curve = Curve(task, every=1)
    result = train(task, on_update=curve)
    rows = curve.finish()
    assert [row.iteration for row in rows] == [entry.iteration + 1 for entry in result.log]
    assert [row.error for row in rows] == pytest.approx([entry.error for entry in result.log], rel=1e-12)
    assert [row.loss for row in rows] == [entry.loss for entry in result.log]


def test_a_batch_row_averages_over_its_problems_and_iterations():
    task = load_task(TASK, ["training.iterations=20", "training.log_every=0", "training.batch_size=4"])
    every_one, every_ten = Curve(task, every=1), Curve(task, every=10)
    train(task, on_update=lambda *args: (every_one(*args), every_ten(*args)))
    singles, tens = every_one.finish(), every_ten.finish()
    for row, part in zip(tens, (singles[:10], singles[10:])):
        assert row.error == pytest.approx(np.mean([r.error for r in part]), rel=1e-12)
        assert row.loss == pytest.approx(np.mean([r.loss for r in part]), rel=1e-12)
        assert row.accuracy == part[-1].accuracy  # the weights after the row's last iteration


def test_the_posts_run_with_a_curve_ends_bit_identical_and_solves_the_fixed_problems(post_run):
    task = load_task(TASK)
    curve = Curve(task, every=1000)
    result = train(task, on_update=curve)
    for key, value in post_run.params.items():
        assert np.array_equal(result.params[key], value), key
    rows = curve.finish()
    assert [row.iteration for row in rows] == list(range(1000, 10001, 1000))
    assert rows[0].accuracy < 0.1 and rows[-1].accuracy == 1.0
    assert rows[-1].error < rows[0].error / 4


def test_a_resumed_run_goes_on_with_the_rows_of_the_whole_run():
    task = load_task(TASK, ["training.iterations=300", "training.log_every=0"])
    whole = Curve(task, every=100)
    train(task, on_update=whole)
    first = train(task, after_update=lambda done, params, random_state: done == 150)
    rest = Curve(task, every=100)
    train(task, params=first.params, start=first.iterations, rng_state=first.rng_state, on_update=rest)
    assert [row.iteration for row in rest.finish()] == [200, 300]
    assert rest.rows[-1] == whole.finish()[-1]  # iterations 200 to 299: the same numbers


def test_the_command_writes_the_curve_and_trains_the_same_weights_as_without(tmp_path):
    n = ["--set", "training.iterations=300", "--quiet"]
    plain = run_cli("train", TASK, *n, "--save", tmp_path / "plain.npz")
    curved = run_cli("train", TASK, *n, "--save", tmp_path / "curved.npz", "--curve", tmp_path / "c.csv")
    assert plain.returncode == curved.returncode == 0, curved.stderr
    assert curved.stdout.rstrip().endswith(f"; weights saved to {tmp_path / 'curved.npz'}; curve written to "
                                           f"{tmp_path / 'c.csv'}")
    a, b = load_weights(tmp_path / "plain.npz"), load_weights(tmp_path / "curved.npz")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    rows = _rows(tmp_path / "c.csv")
    assert [int(r["iteration"]) for r in rows] == [100, 200, 300]
    assert list(rows[0]) == list(COLUMNS)


def test_the_command_resumes_a_curve_from_the_checkpoints_iteration(tmp_path):
    part = run_cli("train", TASK, "--set", "training.iterations=120", "--quiet", "--checkpoint", tmp_path / "c.npz")
    rest = run_cli("train", TASK, "--set", "training.iterations=300", "--quiet", "--resume", tmp_path / "c.npz",
                   "--curve", tmp_path / "rest.csv", "--curve-every", "50")
    assert part.returncode == rest.returncode == 0, rest.stderr
    assert [int(r["iteration"]) for r in _rows(tmp_path / "rest.csv")] == [150, 200, 250, 300]


def test_ctrl_c_writes_the_rows_so_far_with_the_checkpoint(tmp_path):
    checkpoint, curve = tmp_path / "run.npz", tmp_path / "curve.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphnet", "train", str(TASK), "--quiet", "--set", "training.iterations=1000000",
         "--checkpoint", str(checkpoint), "--checkpoint-every", "100", "--curve", str(curve)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while not checkpoint.exists() and time.monotonic() < deadline:  # training has begun
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.count("\n") == 1 and err.rstrip().endswith(f"; curve written to {curve}"), err
    iterations = [int(r["iteration"]) for r in _rows(curve)]
    with np.load(checkpoint) as npz:
        stopped = int(npz["checkpoint_iteration"])
    assert iterations[-1] == stopped and iterations[:-1] == list(range(100, stopped, 100))


def test_a_picture_has_the_axis_labels_and_names_the_task(tmp_path):
    rows = [Row(100, 3.9, 1.0, 0.0), Row(200, 2.5, 0.6, 0.25), Row(250, 0.4, 0.02, 1.0)]
    svg = write_curve(tmp_path / "c.svg", rows, title="learning curve: binary_addition.toml").read_text()
    for text in ("iteration", "error per problem", "accuracy", "learning curve: binary_addition.toml"):
        assert f"<!-- {text} -->" in svg, text  # matplotlib writes each text as a comment beside its glyphs
    assert write_curve(tmp_path / "c.png", rows).read_bytes().startswith(b"\x89PNG")


def test_the_command_draws_the_curve(tmp_path):
    assert main(["train", str(TASK), "--quiet", "--set", "training.iterations=200", "--curve",
                 str(tmp_path / "c.svg")]) == 0
    assert "<!-- learning curve: binary_addition.toml training.iterations=200 -->" in (tmp_path / "c.svg").read_text()


def test_without_matplotlib_a_picture_is_refused_before_training_and_csv_still_works(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with monkeypatch.context() as patch:
        patch.setattr("graphnet.cli.train", lambda *args, **kwargs: pytest.fail("trained before refusing"))
        assert main(["train", str(TASK), "--curve", str(tmp_path / "c.svg")]) == 2
    err = capsys.readouterr().err
    assert err == (f"graphnet: error: --curve {tmp_path / 'c.svg'}: drawing needs matplotlib, which is not "
                   "installed; install the plot extra (in graphnet's checkout: pip install -e '.[plot]'), or write "
                   "a .csv\n")
    assert not (tmp_path / "c.svg").exists()
    assert main(["train", str(TASK), "--quiet", "--set", "training.iterations=100", "--curve",
                 str(tmp_path / "c.csv")]) == 0
    assert [r["iteration"] for r in _rows(tmp_path / "c.csv")] == ["100"]


def test_a_diverging_run_writes_its_curve_until_then(tmp_path):
    path = diverging_checkpoint(tmp_path / "run.npz")
    result = run_cli("train", TASK, "--set", "training.iterations=30", "--quiet", "--resume", path,
                     "--curve", tmp_path / "c.csv")
    assert result.returncode == 3 and result.stderr.count("\n") == 1
    assert result.stderr.rstrip().endswith(f"; the curve until then is written to {tmp_path / 'c.csv'}")
    rows = _rows(tmp_path / "c.csv")
    assert rows and all(np.isfinite(float(r["error"])) for r in rows)
