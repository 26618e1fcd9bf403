"""Sweeps: the grid, a tiny real sweep through the pool, the CSV, the table, and clear errors."""

import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import gated
import pytest
from conftest import ROOT, children, run_cli, wait_for_line, wait_until_gone

from graphnet.cli import main
from graphnet import load_task, train
from graphnet.errors import SweepError
from graphnet.app.sweep import Trial, parse_grid, plot, read_csv, settings, stamp, sweep, sweep_figure, table, write_csv

TASK = "tasks/binary_addition.toml"


def test_the_grid_is_every_combination():
    grid = parse_grid(["network.hidden=2,4", "training.learning_rate=0.1,0.5,1"])
    assert len(list(settings(grid))) == 6


@pytest.mark.parametrize("bad", ["hidden=2", "network.hidden", "network.hidden="])
def test_a_malformed_setting_is_refused(bad):
    with pytest.raises(SweepError, match="SECTION.KEY"):
        parse_grid([bad])


def test_a_sweep_in_two_processes_stops_each_run_when_it_solves(tmp_path):
    # The fast task solves 8-bit addition in a few hundred iterations; 3 bits solves sooner still.
    trials = sweep("tasks/binary_addition_fast.toml", parse_grid(["network.hidden=8,16"]), 2, check_every=50, workers=2)
    assert [(t.setting, t.seed) for t in trials] == [
        ("network.hidden=8", 0), ("network.hidden=8", 1), ("network.hidden=16", 0), ("network.hidden=16", 1)
    ]
    for t in trials:
        assert t.solved == (t.accuracy == 1.0)
        if t.solved:
            assert t.iterations % 50 == 0 and t.iterations < 500
    assert any(t.solved for t in trials)


DOUBLED = '''
from graphnet import Node, Stacking, register_node


@register_node("doubled_sigmoid")
class DoubledSigmoid(Node):
    """The sigmoid of 2x."""

    stacking = Stacking()

    def forward(self, ctx, x):
        y = 1 / (1 + ctx.xp.exp(-2 * x))
        ctx.save(y)
        return y

    def backward(self, ctx, grad):
        (y,) = ctx.saved
        return (2 * grad * y * (1 - y),)
'''


def test_a_sweep_reads_its_task_file_once_and_hands_its_workers_the_task(tmp_path):
    # A task with a node type of a plugin it names: the file is gone before the sweep, the plugin is not (the
    # workers load it from the task's folder, as the file said).
    (tmp_path / "doubled_nodes.py").write_text(DOUBLED)
    text = (ROOT / "tasks" / "binary_addition_fast.toml").read_text()
    (tmp_path / "task.toml").write_text('plugins = ["doubled_nodes"]\n' + text)
    task = load_task(tmp_path / "task.toml", ["network.activation=doubled_sigmoid", "training.iterations=100"])
    (tmp_path / "task.toml").unlink()
    trials = sweep(task, parse_grid(["network.hidden=4,8"]), 2, check_every=50, workers=2)
    assert [(t.setting, t.seed) for t in trials] == [
        ("network.hidden=4", 0), ("network.hidden=4", 1), ("network.hidden=8", 0), ("network.hidden=8", 1)]
    alone = train(task.with_settings(["network.hidden=8", "training.seed=1", "training.log_every=0"]))
    assert trials[3].iterations == alone.iterations or trials[3].solved


DIVERGING = ["--set", "training.learning_rate=0.01,1e3", "--set", "network.activation=relu", "--set",
             "network.loss=bce_with_logits", "--set", "training.iterations=200", "--seeds", "2"]


@pytest.mark.parametrize("how", [["--workers", "2"], ["--workers", "1", "--separately"]],
                         ids=["together, on two workers", "one by one, in the process"])
def test_a_setting_that_diverges_keeps_its_rows_and_the_sweep_goes_on(tmp_path, how):
    # relu and a step of 1000 overflow within a few iterations; a step of 0.01 trains on.
    result = subprocess.run([sys.executable, "-m", "graphnet", "sweep", str(ROOT / TASK), *DIVERGING, *how, "--csv",
                             str(tmp_path / "s.csv")], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((tmp_path / "s.csv").open()))
    assert [(r["setting"].split()[0], r["seed"], r["diverged"]) for r in rows] == [
        ("training.learning_rate=0.01", "0", "False"), ("training.learning_rate=0.01", "1", "False"),
        ("training.learning_rate=1e3", "0", "True"), ("training.learning_rate=1e3", "1", "True")]
    assert all(int(r["iterations"]) == 200 for r in rows if r["diverged"] == "False")
    assert all(0 <= int(r["iterations"]) < 200 and r["solved"] == "False" for r in rows if r["diverged"] == "True")
    said = result.stderr.splitlines()
    assert "Warning" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert said[-1] == ("graphnet: diverged (a NaN or inf in the loss or a gradient; their rows say diverged): "
                        "training.learning_rate=1e3 network.activation=relu network.loss=bce_with_logits "
                        "training.iterations=200 in 2 of 2 seeds; a lower training.learning_rate may train them")
    assert any(re.search(r"learning_rate=1e3 .* seed 0: diverged at iteration \d+ \(NaN or inf\)", line)
               for line in said)
    assert re.search(r"learning_rate=1e3 .*0/2 .*-\s+-\s+2/2$", result.stdout, re.M), result.stdout


def test_the_csv_is_written_whole_and_the_table_summarises_it(tmp_path):
    trials = [Trial("network.hidden=4", 0, True, 700, 0.2, 1.0), Trial("network.hidden=4", 1, False, 900, 0.3, 0.5)]
    path = tmp_path / "out.csv"
    stamped = stamp(load_task(TASK), 100)
    write_csv(path, trials, stamped)
    rows = list(csv.DictReader(path.open()))
    assert rows[0]["iterations"] == "700" and rows[1]["solved"] == "False"
    assert rows[0]["check_every"] == "100" and re.fullmatch("[0-9a-f]{12}", rows[0]["task"])
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left behind
    assert "1/2" in table(trials) and "700" in table(trials)
    assert read_csv(path, stamped, parse_grid(["network.hidden=4"]), 2) == trials  # every value as it was


def test_the_task_of_a_csv_is_its_settings_but_the_seed_and_the_log():
    task = load_task(TASK)
    assert stamp(task.with_settings(["training.seed=7", "training.log_every=5"]), 100) == stamp(task, 100)
    assert stamp(task.with_settings(["training.iterations=7"]), 100)["task"] != stamp(task, 100)["task"]
    assert stamp(load_task("tasks/binary_addition_fast.toml"), 100)["task"] != stamp(task, 100)["task"]


@pytest.mark.parametrize("signum, workers", [(signal.SIGINT, "2"), (signal.SIGTERM, "1"), (signal.SIGKILL, "2")],
                         ids=["SIGINT, two workers", "SIGTERM, in the process", "SIGKILL, two workers"])
def test_a_stopped_sweep_resumed_ends_with_the_csv_of_a_sweep_never_stopped(tmp_path, signum, workers):
    # Hidden 4 trains freely and hidden 3 waits at a gate: the sweep is stopped with the first two trials done
    # and the other two certainly running. Their rows are in the CSV as soon as the sweep says they finished (so
    # even SIGKILL, which nothing can answer, loses none); resumed, the sweep runs the two others only.
    plugin, gate = gated.gate(tmp_path)
    command = [sys.executable, "-m", "graphnet", "--plugin", str(plugin), "sweep", str(ROOT / TASK), *gated.SWEEP,
               "--workers", workers]
    proc = subprocess.Popen([*command, "--csv", "s.csv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, start_new_session=True)
    try:
        wait_for_line(proc.stderr, "sweep: 2/4")
        assert [(r["setting"].split()[0], r["seed"]) for r in gated.rows(tmp_path / "s.csv")] == [
            ("network.hidden=4", "0"), ("network.hidden=4", "1")]
        started = children(proc.pid)
        os.kill(proc.pid, signum)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == (128 + signum if signum != signal.SIGKILL else -signum)
    assert not wait_until_gone(started), "a worker outlived the sweep"
    assert len(gated.rows(tmp_path / "s.csv")) == 2
    gate.touch()
    resumed = subprocess.run([*command, "--csv", "s.csv", "--resume"], capture_output=True, text=True, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.splitlines()[0] == "sweep: resuming s.csv: 2 trials done, kept"
    assert [line.split(" network.")[0] for line in resumed.stderr.splitlines()[1:]] == ["sweep: 3/4", "sweep: 4/4"]
    whole = subprocess.run([*command[:-1], "2", "--csv", "whole.csv"], capture_output=True, text=True, cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    assert gated.rows(tmp_path / "s.csv") == gated.rows(tmp_path / "whole.csv")


RESUMING = ["sweep", TASK, "--set", "network.hidden=4,8", "--seeds", "2", "--check-every", "50", "--resume"]


@pytest.mark.parametrize("change, says", [
    ({"50": "100"}, "line 2: its trial was checked every 50 iterations, this sweep every 100; give --check-every 50 "
                    "to resume it"),
    ({TASK: "tasks/binary_addition_fast.toml"}, "line 2: its trial is of another task"),
    ({"2": "1"}, "line 3: network.hidden=4 seed 1 is not a trial of this sweep; resume with the --set and --seeds "
                 "it was made with, or give another --csv"),
    ({"network.hidden=4,8": "network.hidden=8,16"}, "line 2: network.hidden=4 seed 0 is not a trial of this sweep"),
], ids=["checked at other intervals", "another task", "fewer seeds", "other settings"])
def test_resuming_the_csv_of_another_sweep_is_refused_in_one_line(tmp_path, capsys, change, says):
    csv_path = tmp_path / "s.csv"
    write_csv(csv_path, [Trial("network.hidden=4", seed, False, 300, 0.1, 0.5) for seed in (0, 1)],
              stamp(load_task(TASK), 50))
    before = csv_path.read_bytes()
    assert main([change.get(arg, arg) for arg in RESUMING] + ["--csv", str(csv_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"graphnet: error: --resume {csv_path}: {says}") and err.count("\n") == 1, err
    assert csv_path.read_bytes() == before


@pytest.mark.parametrize("text, says", [
    (None, "no such file; a sweep that has not started yet starts without --resume"),
    ("setting,seed,solved,iterations,seconds,accuracy,diverged\r\n", "not a sweep's CSV (a CSV of an older "
                                                                       "graphnet, which did not record its task)"),
    ("a,b\n1,2\n", "not a sweep's CSV: its first line is 'a,b'"),
], ids=["no file", "an older CSV", "not a sweep's"])
def test_resuming_what_is_no_sweeps_csv_is_refused_in_one_line(tmp_path, capsys, text, says):
    csv_path = tmp_path / "s.csv"
    if text is not None:
        csv_path.write_bytes(text.encode())
    assert main([*RESUMING, "--csv", str(csv_path)]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1, err
    assert (csv_path.read_bytes().decode() if text is not None else None) == text


def test_a_resumed_sweep_with_every_trial_done_trains_nothing_and_writes_the_same_rows(tmp_path, capsys):
    csv_path = tmp_path / "s.csv"
    command = ["sweep", TASK, "--set", "network.hidden=4", "--set", "training.iterations=100", "--seeds", "2",
               "--workers", "1", "--csv", str(csv_path)]
    assert main(command) == 0
    before = csv_path.read_bytes()
    capsys.readouterr()
    assert main([*command, "--resume"]) == 0
    assert capsys.readouterr().err == f"sweep: resuming {csv_path}: 2 trials done, kept\n"
    assert csv_path.read_bytes() == before


def test_the_command_refuses_bad_arguments_in_one_line(capsys, tmp_path):
    assert main(["sweep", TASK, "--seeds", "2"]) == 2
    assert "--set" in capsys.readouterr().err
    assert main(["sweep", TASK, "--set", "network.hidden=2", "--csv", str(tmp_path / "no" / "x.csv")]) == 2
    assert "--csv" in capsys.readouterr().err
    assert main(["sweep", TASK, "--set", "network.nope=2", "--csv", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and err.count("\n") == 1


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("to", ["the process group", "the main process alone"])
def test_a_stopped_sweep_keeps_the_finished_trials_and_leaves_no_process(tmp_path, to, signum):
    # Two quick trials, then two that would run for ever (hidden 2 never solves): stopped once the quick ones have
    # reported, the sweep writes their rows, exits with 128 + the signal at once, and stops every worker. A
    # terminal's Ctrl-C, or its closing, reaches the whole process group; kill, timeout and systemd may send to
    # the main process alone.
    csv_path = tmp_path / "s.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphnet", "sweep", str(ROOT / TASK), "--set", "training.iterations=50,100000000",
         "--set", "network.hidden=2", "--seeds", "2", "--workers", "2", "--csv", str(csv_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, start_new_session=True)
    try:
        reported = [proc.stderr.readline() for _ in range(2)]  # "sweep: 1/4 ...", "sweep: 2/4 ..."
        assert reported[1].startswith("sweep: 2/4 training.iterations=50"), reported
        workers = children(proc.pid)
        assert len(workers) >= 2  # the workers (and multiprocessing's resource tracker)
        if to == "the process group":
            os.killpg(proc.pid, signum)
        else:
            os.kill(proc.pid, signum)
        out, err = proc.communicate(timeout=60)
    finally:  # a sweep that did not stop must not train on after the test, on a core others need
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signum, err
    stopped = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    # one line: no worker's traceback, no warning of multiprocessing's about what it left
    assert err == f"graphnet: {stopped} after 2 of 4 trials; their results are written to {csv_path}\n", err
    rows = csv_path.read_text().splitlines()
    assert len(rows) == 3 and all(row.startswith("training.iterations=50 network.hidden=2,") for row in rows[1:])
    assert "0/2" in out
    assert not wait_until_gone(workers), "a worker outlived the sweep"


def test_a_worker_ends_when_its_sweep_is_killed(tmp_path):
    # SIGKILL cannot be answered: the sweep's process is gone at once, and its workers notice and end.
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphnet", "sweep", str(ROOT / TASK), "--set", "training.iterations=50,100000000",
         "--set", "network.hidden=2", "--seeds", "2", "--workers", "2", "--csv", str(tmp_path / "s.csv")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path, start_new_session=True)
    wait_for_line(proc.stderr, "sweep: 2/4")
    workers = children(proc.pid)
    proc.kill()
    proc.wait(timeout=60)
    assert not wait_until_gone(workers), "a worker outlived its sweep"


def test_a_table_of_two_keys_keeps_its_columns():
    trials = [Trial("network.hidden=2 training.learning_rate=0.1", 0, True, 700, 0.5, 1.0),
              Trial("network.hidden=16 training.learning_rate=0.25", 0, False, 900, 0.7, 0.5)]
    lines = table(trials).splitlines()
    assert len({line.index("/") for line in lines[1:]}) == 1  # the solved column is one column
    assert lines[0].index("solved") + len("solved") == lines[1].index("/") + 2


# -- the plot (matplotlib, the plot extra; the test extra installs it) -------------------------------------------
def _trials(settings: dict[str, list[int]], seeds: int = 2) -> list[Trial]:
    """Trials of ``settings`` ({setting: iterations each seed solved in, 0 for a seed that did not solve})."""
    return [Trial(setting, seed, its > 0, its or 1000, its / 5000 if its else 0.2, 1.0 if its else 0.5)
            for setting, solved in settings.items() for seed, its in zip(range(seeds), solved)]


def _texts(svg: Path) -> list[str]:
    """The SVG's texts: matplotlib writes each line of text as a comment beside its glyphs."""
    return re.findall(r"<!-- (.*?) -->", svg.read_text())


def _tick_labels_apart(figure) -> bool:
    """Whether no two labels under the settings overlap, in any panel of the drawn figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(figure).get_renderer()
    for ax in figure.axes:
        boxes = sorted((label.get_window_extent(renderer) for label in ax.get_xticklabels() if label.get_text()),
                       key=lambda box: box.x0)
        if any(left.x1 > right.x0 for left, right in zip(boxes, boxes[1:])):
            return False
    return True


def test_the_plot_of_one_key_has_its_values_under_the_settings_and_the_key_below(tmp_path):
    trials = _trials({"network.hidden=2": [0, 0], "network.hidden=8": [900, 0], "network.hidden=16": [700, 500]})
    assert plot(tmp_path / "p.svg", trials, title="binary_addition.toml")
    texts = _texts(tmp_path / "p.svg")
    for text in ("2", "0/2 solved", "8", "1/2 solved", "16", "2/2 solved", "network.hidden", "iterations to solve",
                 "seconds to solve", "a solved seed", "median of solved runs", "binary_addition.toml"):
        assert text in texts, text
    median = sweep_figure(trials).axes[0].lines[0]
    assert median.get_linestyle() == "-"  # two settings solved: their medians joined


def test_the_plot_of_two_keys_puts_a_line_a_key_under_each_setting_without_overlap(tmp_path):
    grid = [f"network.hidden={h} training.learning_rate={lr}" for h in (4, 8, 16, 32, 64) for lr in (0.1, 0.25, 1.0)]
    trials = _trials({setting: [100 * (i + 1), 0] for i, setting in enumerate(grid)})
    assert plot(tmp_path / "p.svg", trials)
    texts = _texts(tmp_path / "p.svg")
    assert {"hidden", "learning_rate", "64", "0.25", "1/2 solved"} <= set(texts)
    figure = sweep_figure(trials)
    assert _tick_labels_apart(figure)
    assert figure.get_figwidth() > sweep_figure(trials[:4]).get_figwidth()  # it widens with the settings
    assert all(ax.get_position().height > 0.2 for ax in figure.axes)  # panels not squashed by the labels
    assert figure.axes[0].lines[0].get_linestyle() == "None"  # medians of unrelated settings are not joined


def test_a_plot_where_one_setting_solved_draws_its_median_as_a_mark_and_says_the_rest_did_not(tmp_path):
    trials = _trials({"network.hidden=2": [0, 0], "network.hidden=16": [0, 600]})
    assert plot(tmp_path / "p.svg", trials)
    texts = _texts(tmp_path / "p.svg")
    assert "0/2 solved" in texts and "1/2 solved" in texts and "median of solved runs" in texts
    assert sweep_figure(trials).axes[0].lines[0].get_linestyle() == "None"  # a mark, no line to a second one
    nothing = _trials({"network.hidden=2": [0, 0], "network.hidden=4": [0, 0]})
    assert plot(tmp_path / "none.svg", nothing)
    texts = _texts(tmp_path / "none.svg")
    assert texts.count("no run solved") == 2 and "median of solved runs" not in texts and "a solved seed" not in texts


def test_a_tiny_sweep_draws_its_plot_with_an_unsolved_setting(tmp_path, capsys):
    svg = tmp_path / "s.svg"
    assert main(["sweep", "tasks/binary_addition_fast.toml", "--set", "network.hidden=2,16", "--seeds", "2",
                 "--check-every", "50", "--workers", "1", "--quiet", "--csv", str(tmp_path / "s.csv"),
                 "--plot", str(svg)]) == 0
    assert f"plot written to {svg}" in capsys.readouterr().out
    texts = _texts(svg)
    assert "0/2 solved" in texts and "network.hidden" in texts and "binary_addition_fast.toml" in texts


def test_a_plot_without_matplotlib_is_refused_before_the_sweep(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    monkeypatch.setattr("graphnet.app.sweep.sweep", lambda *args, **kwargs: pytest.fail("swept before refusing"))
    assert main(["sweep", TASK, "--set", "network.hidden=2", "--csv", str(tmp_path / "s.csv"),
                 "--plot", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--plot" in err and "pip install -e '.[plot]'" in err
    assert list(tmp_path.iterdir()) == []


def test_a_scheduler_without_dask_distributed_is_refused_before_the_sweep(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now raises ImportError
    monkeypatch.setattr("graphnet.app.sweep.sweep", lambda *args, **kwargs: pytest.fail("swept before refusing"))
    assert main(["sweep", TASK, "--set", "network.hidden=2", "--csv", str(tmp_path / "s.csv"), "--scheduler",
                 "local"]) == 2
    assert capsys.readouterr().err == ("graphnet: error: --scheduler: needs the 'distributed' extra: pip install -e "
                                       "'.[distributed]' in the checkout (dask.distributed)\n")
    assert list(tmp_path.iterdir()) == []
