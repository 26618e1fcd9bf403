"""graphnet compare: cells trained over settings of a task, each measured for accuracy and reach; its table, CSV
and picture. A small comparison here; the README's is a documented command, not a test."""

import csv
import io
import os
import re
import signal

import numpy as np
import pytest

from conftest import ROOT, run_cli, start_cli, wait_for_line
from graphnet import load_task
from graphnet.app.stopping import stopped_by
from graphnet.app.compare import (
    COLUMNS, Entry, chosen, compare, csv_text, parse_axis, parse_contestant, read_csv, summary, table, write_csv,
)
from graphnet.app.training import evaluate
from graphnet.errors import UsageError
from graphnet.rnn.reach import split_by_lag, stretch

ECHO = ROOT / "tasks" / "delayed_echo.toml"
QUICK = ["training.iterations=60", "training.log_every=0"]


def test_contestants_are_cells_with_an_activation():
    assert parse_contestant("gru").overrides() == ["network.cell=gru"]
    assert parse_contestant("sigmoid-rnn").overrides() == ["network.cell=rnn", "network.activation=sigmoid"]
    with pytest.raises(UsageError, match="--cells tahn-rnn: expected a cell"):
        parse_contestant("tahn-rnn")


def test_the_keys_compared_go_together():
    fixed, axis = parse_axis(["task.delay=1,2", "training.iterations=10", "task.bits=5,6"])
    assert fixed == ["training.iterations=10"] and axis == [("task.delay=1", "task.bits=5"), ("task.delay=2", "task.bits=6")]
    assert parse_axis(["task.delay=1,2", "task.bits=9,9"])[1] == [("task.delay=1", "task.bits=9"),
                                                                  ("task.delay=2", "task.bits=9")]  # a value may repeat
    for items, says in [(["task.delay=1,2", "task.bits=5,6,7"], "as many values each; got task.delay 2, task.bits 3"),
                        (["task.delay=2"], "give the key to compare over with several values"),
                        (["training.seed=1,2"], "compare sets training.seed itself"),
                        (["delay=1,2"], "expected SECTION.KEY=VALUE"),
                        (["task.delay=1,,2"], "an empty value between commas"),
                        (["task.delay=1,2", "task.delay=4,8"], "task.delay is given twice (also --set task.delay=1,2)"),
                        (["task.delay=1,2,1", "task.bits=9,10,9"], "the setting task.delay=1 task.bits=9 is given twice")]:
        with pytest.raises(UsageError, match=re.escape(says)):
            parse_axis(items)


@pytest.fixture(scope="module")
def entries():
    contestants = [parse_contestant("sigmoid-rnn"), parse_contestant("gru")]
    done = []
    result = compare(ECHO, contestants, QUICK, [("task.delay=1", "task.bits=4"), ("task.delay=2", "task.bits=5")],
                     seeds=2, learning_rates=[0.5, 2.0], on_entries=done.append)
    assert [group[0].contestant for group in done] == ["sigmoid-rnn", "gru", "sigmoid-rnn", "gru"]
    return result


def test_every_network_is_trained_and_measured(entries):
    assert len(entries) == 2 * 2 * 2 * 2  # cells x settings x seeds x learning rates
    first = entries[0]
    assert (first.contestant, first.setting, first.learning_rate, first.seed) == ("sigmoid-rnn",
                                                                                  "task.delay=1 task.bits=4", 0.5, 0)
    # remeasured here: a member's numbers are those of the run of its seed alone
    from graphnet import train

    task = load_task(ECHO, [*QUICK, "network.activation=sigmoid", "task.delay=1", "task.bits=4",
                            "training.learning_rate=0.5", "training.seed=0"])
    alone = train(task).params
    assert first.accuracy == evaluate(task, alone).fraction
    network = task.build_network()
    problems = task.generator.sample(np.random.RandomState(0), 32, 32)
    assert first.reach_end == split_by_lag(network, alone, problems).reach() and first.measured == 31
    start = network.init_parameters(np.random.RandomState(0))
    assert first.reach_start == split_by_lag(network, start, problems).reach()
    assert np.isclose(first.stretch_end, stretch(network, alone, problems.x[:, :8]))


def test_a_setting_keeps_its_best_learning_rate(entries):
    groups = chosen(entries)
    assert len(groups) == 4 and all(len(runs) == 2 for runs in groups)
    for runs in groups:
        others = [e for e in entries if (e.contestant, e.setting) == (runs[0].contestant, runs[0].setting)
                  and e.learning_rate != runs[0].learning_rate]
        assert np.mean([r.accuracy for r in runs]) >= np.mean([o.accuracy for o in others])


def test_the_table_and_the_csv(entries):
    lines = table(entries).splitlines()
    assert lines[0].split()[:4] == ["cell", "task.delay", "learning", "rate"] and len(lines) == 5
    numbers = summary(chosen(entries)[0])
    assert lines[1].split()[:4] == ["sigmoid-rnn", "1", f"{chosen(entries)[0][0].learning_rate:g}",
                                    f"{numbers['accuracy']:.3f}"]
    rows = list(csv.reader(io.StringIO(csv_text(entries))))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 17


def test_a_csv_reads_back_as_the_entries_it_holds(entries, tmp_path):
    diverged = Entry("tanh-rnn", "task.delay=8 task.bits=16", 10.0, 0, None, 5, None, 15, 1.2, None)
    path = write_csv(tmp_path / "c.csv", [*entries, diverged])
    assert read_csv(path) == [*entries, diverged]


def test_a_diverged_run_is_a_row_that_says_so():
    entry = Entry("tanh-rnn", "task.delay=8 task.bits=16", 10.0, 0, None, 5, None, 15, 1.2, None)
    assert summary([entry])["diverged"] == 1 and summary([entry])["reach_end"] is None
    assert "diverged" in table([entry]).splitlines()[1]
    assert csv_text([entry]).splitlines()[1] == "tanh-rnn,task.delay=8 task.bits=16,10.0,0,,5,,15,1.2,"


def test_the_figure_is_drawn(entries, tmp_path):
    from graphnet.app.reach_figures import compare_figure, write_compare_plot

    figure = compare_figure(entries, title="echo")
    accuracy, reach, stretched = figure.axes[:3]
    assert [t.get_text() for t in accuracy.get_xticklabels()] == ["1", "2"]
    assert len(accuracy.get_lines()) == 2 and reach.get_yscale() == "log"
    assert write_compare_plot(tmp_path / "c.svg", entries).read_text().startswith("<?xml")


def test_the_command_writes_table_csv_and_plot(tmp_path):
    out, picture = tmp_path / "cells.csv", tmp_path / "cells.svg"
    result = run_cli("compare", ECHO, "--set", "task.delay=1,2", "--set", "task.bits=4,5", "--set",
                     "training.iterations=30", "--cells", "lstm", "--seeds", "1", "--csv", out, "--plot", picture)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split()[:2] == ["cell", "task.delay"]
    assert result.stdout.splitlines()[-2:] == [f"results written to {out}", f"plot written to {picture}"]
    progress = result.stderr.splitlines()
    assert len(progress) == 2 and progress[0].startswith("compare: 1/2 lstm task.delay=1 task.bits=4: accuracy ")
    assert progress[1].startswith("compare: 2/2 lstm task.delay=2 task.bits=5: accuracy ")
    assert progress[1].endswith(" at learning rate 0.5")  # the task's
    assert len(out.read_text().splitlines()) == 3


@pytest.mark.parametrize("args, says", [
    (["--set", "task.delay=1,2", "--cells", "lstm,tahn-rnn"], "--cells tahn-rnn: expected a cell"),
    (["--set", "task.delay=1,2", "--learning-rates", "0.1,x"], "--learning-rates 0.1,x: expected positive numbers"),
    (["--set", "task.delay=1,99"], "--set task.delay=99: expected an integer from 1 to 64 (how many steps back to echo), got 99"),
    (["--set", "task.delay=1,2", "--seeds", "0"], "--seeds: expected an integer of at least 1"),
    (["--set", "task.delay=1,2", "--plot", "c.gif"], "--plot c.gif: unknown format '.gif'"),
])
def test_mistakes_are_one_line_before_any_training(args, says):
    result = run_cli("compare", ECHO, *args)
    assert result.returncode == 2, result.stdout
    assert says in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: signal.Signals(s).name)
def test_a_stopped_comparison_keeps_what_finished(tmp_path, signum):
    # A setting of 30 iterations, then one that would train for ever: stopped once the first has reported, the
    # comparison prints and writes its entries, says so in one line and exits with 128 + the signal.
    out = tmp_path / "cells.csv"
    proc = start_cli("compare", ECHO, "--set", "training.iterations=30,100000000", "--set", "task.bits=6",
                     "--cells", "gru", "--seeds", "2", "--csv", out)
    wait_for_line(proc.stderr, "compare: 1/2 gru training.iterations=30")
    os.kill(proc.pid, signum)
    printed, said = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, said
    assert said == f"graphnet: {stopped_by(signum)} after 1 of 2 cells and settings; results written to {out}\n"
    assert [line.split()[:2] for line in printed.splitlines()] == [["cell", "training.iterations"], ["gru", "30"]]
    assert [e.setting for e in read_csv(out)] == ["training.iterations=30"] * 2
