"""Sweeps: the grid, a tiny real sweep through the pool, the CSV, the table, and clear errors."""

import csv

import pytest

from graphnet.cli import main
from graphnet.errors import SweepError
from graphnet.app.sweep import Trial, parse_grid, settings, sweep, table, write_csv

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


def test_the_csv_is_written_whole_and_the_table_summarises_it(tmp_path):
    trials = [Trial("network.hidden=4", 0, True, 700, 0.2, 1.0), Trial("network.hidden=4", 1, False, 900, 0.3, 0.5)]
    path = tmp_path / "out.csv"
    write_csv(path, trials)
    rows = list(csv.DictReader(path.open()))
    assert rows[0]["iterations"] == "700" and rows[1]["solved"] == "False"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left behind
    assert "1/2" in table(trials) and "700" in table(trials)


def test_the_command_refuses_bad_arguments_in_one_line(capsys, tmp_path):
    assert main(["sweep", TASK, "--seeds", "2"]) == 2
    assert "--set" in capsys.readouterr().err
    assert main(["sweep", TASK, "--set", "network.hidden=2", "--csv", str(tmp_path / "no" / "x.csv")]) == 2
    assert "--csv" in capsys.readouterr().err
    assert main(["sweep", TASK, "--set", "network.nope=2", "--csv", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and err.count("\n") == 1
