"""What a person sees in a terminal: the command run on a pseudo-terminal, its screen read back by a terminal
emulator (pyte), held to what the same command prints into a pipe."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
from typing import Callable

import pyte
import pytest

from conftest import ROOT, TASK, run_cli


def on_a_terminal(*args: str, columns: int = 100, rows: int = 300, at: tuple[bytes, Callable] | None = None,
                  controlling: bool = False) -> tuple[list[str], str, int]:
    """Run ``graphnet ARGS`` on a pseudo-terminal: the lines left on its screen, all it wrote, its exit code.

    ``at = (pattern, act)``: once what it wrote matches ``pattern`` (a line it prints once at work), call
    ``act(process, terminal)``, say to send a signal or type Ctrl-C. ``controlling``: the terminal is the
    command's controlling terminal, as a person's is (Ctrl-C typed at it reaches every process of the run).
    """
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

    def controlled_by_the_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([sys.executable, "-m", "graphnet", *args], stdin=follower, stdout=follower,
                            stderr=follower, cwd=ROOT, close_fds=True,
                            preexec_fn=controlled_by_the_terminal if controlling else None)
    os.close(follower)
    written = b""
    while True:  # read until the command has exited and its output is drained
        ready, _, _ = select.select([leader], [], [], 0.2)
        chunk = b""
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the follower side closed: nothing more will come
                pass
        written += chunk
        if at is not None and re.search(at[0], written, re.S):
            at[1](proc, leader)
            at = None
        if not chunk and proc.poll() is not None:
            break
    os.close(leader)
    screen = pyte.Screen(columns, rows)
    pyte.ByteStream(screen).feed(written)
    return ([line.rstrip() for line in screen.display if line.strip()], written.decode(errors="replace"),
            proc.returncode)


def without_timing(lines: list[str]) -> list[str]:
    return [re.sub(r"in [\d.]+ s", "in - s", line) for line in lines]


def test_training_on_a_terminal_shows_the_same_log_as_a_pipe_and_the_bar():
    args = ("train", str(TASK), "--set", "training.iterations=4001")
    screen, written, _ = on_a_terminal(*args)
    piped = run_cli(*args)
    assert "training:" in written and "it/s" in written  # the progress bar was drawn
    assert without_timing(screen) == without_timing(piped.stdout.splitlines())  # and never into the log's lines


def test_a_run_stopped_on_a_terminal_leaves_its_log_and_one_clean_line(tmp_path):
    # What a person sees after SIGTERM mid-run: the bar gone, the log as it was, the one line whole.
    checkpoint = tmp_path / "run.npz"
    lines, _, code = on_a_terminal("train", str(TASK), "--set", "training.iterations=1000000", "--set",
                                   "training.log_every=1000000", "--checkpoint", str(checkpoint), columns=300, rows=50,
                                   at=(rb"it/s", lambda proc, _: proc.send_signal(signal.SIGTERM)))
    assert code == 143
    assert re.fullmatch(rf"graphnet: stopped by SIGTERM after iteration \d+; checkpoint written to {checkpoint}",
                        lines[-1]), lines
    assert lines[:5] == run_cli("train", str(TASK), "--set", "training.iterations=1").stdout.splitlines()[:5]
    assert not any("it/s" in line for line in lines)  # no bar left behind


def test_a_name_that_would_reverse_the_terminal_line_is_shown_escaped():
    screen, written, _ = on_a_terminal("train", str(TASK), "--set", "network.cell=ls\u202etm", columns=300)
    assert "\u202e" not in written  # the character itself never reaches the terminal: its name does
    assert screen == [f"graphnet: error: {TASK}: unknown cell 'ls\\u202etm'; known cells: gru, lstm, rnn; did you "
                      "mean 'lstm'? it has an invisible U+202E RIGHT-TO-LEFT OVERRIDE"], screen


@pytest.mark.parametrize("command, marker, last", [
    (["train", str(TASK), "--set", "training.iterations=1000000", "--checkpoint", "{tmp}/run.npz"], rb"-{12}\r\n.*it/s",
     r"graphnet: interrupted after iteration \d+; checkpoint written to {tmp}/run.npz"),
    (["sweep", str(TASK), "--set", "training.iterations=50,100000000", "--set", "network.hidden=2", "--seeds", "2",
      "--workers", "2", "--csv", "{tmp}/s.csv"], rb"sweep: 2/4",
     r"graphnet: interrupted after 2 of 4 trials; their results are written to {tmp}/s.csv"),
], ids=["train", "sweep"])
def test_ctrl_c_typed_at_the_terminal_leaves_clean_lines(tmp_path, command, marker, last):
    """Ctrl-C as a person types it: the terminal sends SIGINT to every process of the run (its workers too) and
    echoes ^C where the cursor is; the command's last lines start clean and the progress bar is gone."""
    lines, _, code = on_a_terminal(*(a.replace("{tmp}", str(tmp_path)) for a in command), columns=160, rows=50,
                                   at=(marker, lambda _, terminal: os.write(terminal, b"\x03")), controlling=True)
    assert code == 130
    assert re.fullmatch(last.replace("{tmp}", re.escape(str(tmp_path))), lines[-1]), lines
    assert not any("^C" in line or "it/s" in line for line in lines), lines
