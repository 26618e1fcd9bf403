"""The ``graphnet`` command: train, eval and add.

Every problem a user can fix ends in one line on stderr and exit code 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import __version__
from .app.checkpoint import Checkpointer, load_checkpoint, save_checkpoint
from .app.compiled import require_jax
from .app.curve import EVERY as CURVE_EVERY
from .app.curve import Curve, check_curve_path, write_curve
from .app.example import read_example, run_example
from .app.plugins import blame, load_entry_points, load_plugins
from .app.probe import PROBLEMS as PROBE_PROBLEMS
from .app.compare import CONTESTANTS as COMPARE_CELLS
from .app.doctor import PROBLEMS as DOCTOR_PROBLEMS
from .app.reach import PROBLEMS as REACH_PROBLEMS
from .app.reach import check_reach
from .app.quoting import printable
from .app.stopping import exit_code, finishing, stopped_by, stopping
from .app.tasks import Task, check_memory, evaluation_bytes, load_task, unknown_hint
from .app.training import LogEntry, add_integers, evaluate, train
from .app.files import check_writable
from .app.weights import load_weights, save_weights
from .engine.compiling import INSTALL
from .engine.gradcheck import RULE, GradientCheck, check_node
from .engine.node import get_node, registered_nodes
from .engine.stacking import stacked
from .errors import DivergedError, GraphError, GraphnetError, SweepError, UsageError
from .rnn.cells import get_cell, registered_cells
from .rnn.data import Batch, registered_generators
from .rnn.network import Network, check_network

# Problems the accuracy check after training reads when there are too many to try them all (as eval's default).
EVALUATION_SAMPLES = 10_000
# A sweep's worker processes: more than this is no faster on any machine this is for, and each costs memory.
MAX_WORKERS = 256
SWEEP_CSV = "sweep.csv"  # where a sweep writes its results unless told

EXAMPLES = {
    "train": """examples:
  graphnet train tasks/binary_addition.toml                       # the post's run, its numbers
  graphnet train tasks/binary_addition.toml --save weights.npz --quiet
  graphnet train tasks/binary_addition.toml --set network.hidden=8 --set training.seed=3
  graphnet train tasks/binary_addition.toml --checkpoint run.npz --checkpoint-every 500
  graphnet train tasks/binary_addition.toml --resume run.npz --checkpoint run.npz   # after it was stopped
  graphnet train tasks/binary_addition.toml --curve curve.csv --quiet     # error and accuracy every 100
  graphnet train tasks/binary_addition.toml --curve curve.svg --curve-every 250   # drawn (the 'plot' extra)
  graphnet train tasks/binary_addition.toml --compile     # the same run compiled with JAX (the 'compile' extra)

--curve columns: iteration (iterations done since the start of the run), error (the mean over the problems
trained on since the previous row of the post's error, the sum over bits of |y - y_hat|), loss (the mean loss
of those iterations), accuracy (the fraction of 512 fixed problems with every bit right)

Ctrl-C, SIGTERM (kill, timeout, systemd) and SIGHUP (a closed terminal) stop a run alike: after the current
update, the checkpoint and the curve are written (when given), then one line.

exit codes: 0 done, 2 bad input, 3 training diverged (NaN or inf; the last checkpoint is kept, the curve
until then written), 128 + the signal when stopped (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP)""",
    "eval": """examples:
  graphnet eval tasks/binary_addition.toml --weights weights.npz             # all 128x128 problems
  graphnet eval tasks/binary_addition.toml --weights weights.npz --bits 64   # 10000 random 64-bit sums
  graphnet eval tasks/binary_addition.toml --weights weights.npz --compile   # the forward passes compiled""",
    "render": """examples:
  graphnet render tasks/binary_addition.toml --steps 4 -o graph.svg      # the unrolled graph, 4 steps
  graphnet render tasks/binary_addition.toml -o graph.dot                # DOT source, needs no Graphviz
  graphnet render tasks/binary_addition.toml -o graph.json               # networkx node-link data
  graphnet render tasks/binary_addition.toml -o values.svg --weights weights.npz --example 9+60
  graphnet render tasks/binary_addition.toml -o grads.svg --weights weights.npz --example 9+60 --show grads
  graphnet render tasks/running_parity.toml -o parity.svg --weights parity.npz --example 1011
  graphnet render tasks/binary_addition_lstm.toml --steps 3 --fold -o lstm.svg    # one node per step's cell
  graphnet render tasks/binary_addition.toml --steps 3 --stacked -o stacked.svg   # what training runs""",
    "animate": """examples:
  graphnet animate tasks/binary_addition.toml --weights weights.npz --example 9+60 -o bptt.gif
  graphnet animate tasks/binary_addition.toml --weights weights.npz --example 9+60 -o bptt.html   # to explore
  graphnet animate tasks/binary_addition.toml --weights weights.npz --example 9+60 --show memory -o memory.gif
  graphnet animate tasks/binary_addition.toml --weights weights.npz --example 5+6 --steps 4 --show grads -o back.gif""",
    "nodes": """examples:
  graphnet nodes
  graphnet nodes --plugin my_nodes        # with your own node types""",
    "gradcheck": """examples:
  graphnet gradcheck                      # every registered node type
  graphnet gradcheck sigmoid matmul
  graphnet gradcheck softplus --plugin my_nodes
  graphnet gradcheck sigmoid --against jax       # held to JAX's derivative of its forward (the 'compile' extra)
  graphnet gradcheck --task tasks/binary_addition_lstm.toml    # the whole unrolled LSTM, every weight (BPTT)
  graphnet gradcheck --task tasks/binary_addition.toml --weights weights.npz --steps 12""",
    "probe": """examples:
  graphnet probe tasks/binary_addition.toml --weights weights.npz       # is the carry in h[t]?
  graphnet probe tasks/binary_addition.toml --weights weights.npz --plot probe.svg --problems 1000 --seed 3
  graphnet probe tasks/running_parity.toml --weights parity.npz         # the parity so far

The task's generator names the fact (carry, borrow, parity, ...) and its value after every step. Linear
readouts of it are fitted on 75% of the random problems, every step pooled: one from the state each step passes
on (h[t]; h[t] and c[t] for an LSTM), one from that step's inputs x[t] alone; both are measured on the steps of
the other 25%.""",
    "reach": """examples:
  graphnet reach tasks/binary_addition.toml --weights weights.npz               # 64 random problems
  graphnet reach tasks/binary_addition.toml                                     # the weights training starts from
  graphnet reach tasks/binary_addition.toml --weights weights.npz --example 9+60 --plot reach.svg
  graphnet reach tasks/delayed_echo.toml --weights echo.npz --problems 256 --csv reach.csv
  graphnet reach tasks/binary_addition.toml --weights weights.npz --split synapse_0   # any weight read each step

A weight read at every step gets a share of its gradient from every pair of steps: step t's error through the
read at step s. The lag is t - s. Each lag's part is the sum over t of those shares; the parts add up to the
gradient training applies. The reach is the first lag from which on every part is below 1e-3 of the lag-0 part.
Beside each lag, the mean over the problems and the steps t of |dh[t]/dh[t-k]| (how much a state moves with the
state k steps before; an LSTM's state is h and c) and |dy_hat[t]/dx[t-k]| (how much a prediction moves with the
input k steps before), spectral norms of the Jacobians.""",
    "compare": """examples:
  graphnet compare tasks/delayed_echo.toml --set task.delay=1,2,4 --set task.bits=9,10,12 --csv echo.csv
  graphnet compare tasks/delayed_echo.toml --set task.delay=1,2,4,8,16 --set task.bits=9,10,12,16,24 \\
      --set network.loss=bce_with_logits --set training.iterations=8000 --learning-rates 0.1,0.3 --seeds 3 \\
      --csv docs/reach-cells.csv --plot docs/reach-cells.svg      # the README's figure and table: 16 min
  graphnet compare tasks/running_parity.toml --set task.bits=4,8,16 --cells tanh-rnn,gru --seeds 2

A key given several values is compared over; keys given several values go together, position by position (the
delay and the length of the problems above). Every cell is trained with seeds 0..N-1 at every learning rate; a
setting's numbers are those of the learning rate whose seeds score best on average. The reach is measured on 32
random problems of the setting, 32 steps long (or its own length, if longer), at the weights a network starts
from and at those it ends with. Stopped (Ctrl-C, SIGTERM, SIGHUP), it prints and writes what finished.""",
    "doctor": """examples:
  graphnet doctor tasks/binary_addition.toml --weights weights.npz
  graphnet doctor tasks/binary_addition.toml --set training.learning_rate=50     # trains it first, as set
  graphnet doctor tasks/binary_addition.toml --set network.init=zeros
  graphnet doctor tasks/delayed_echo.toml --set task.delay=8 --set task.bits=16

Each measure is set beside the same at the weights the task's training starts from, and on the post's network
after its 10,000 iterations (trained here, about 2 s), a network that learned: the accuracy and the loss; the
share of hidden activations within 1e-3 of their limits (saturated) and of output bits pinned at the wrong value;
how many hidden units are not copies of another; the largest weight; the gradient's size and reach (graphnet
reach); by what factor a change of the state shrinks or grows a step forward; what 500 more iterations of the
task's own training do to the loss (a plateau); the task's fact read from the state (graphnet probe). The last
lines name the likely cause.""",
    "exercise": """examples:
  graphnet exercise list                       # the six exercises, and which you have started
  graphnet exercise start 1                    # writes exercises/01_sigmoid.py: edit its backward
  graphnet exercise check 1                    # what is wrong and where; when right, the post's log
  graphnet exercise check exercises/01_sigmoid.py --picture grads.png --no-train
  graphnet exercise hint 1                     # the first hint; hint 1 2 for the second
  graphnet exercise solution 1                 # a worked solution, only when you ask

check exits with 0 when the exercise is right, 1 when it is not yet.""",
    "add": """examples:
  graphnet add 9 60 --weights weights.npz
  graphnet add 123456789123456789 987654321987654321 --weights weights.npz""",
    "sweep": """examples:
  graphnet sweep tasks/binary_addition.toml --set network.hidden=2,4,8,16,32 --seeds 5
  graphnet sweep tasks/binary_addition.toml --set network.hidden=8,16 --set training.learning_rate=0.1,0.5 \\
      --seeds 3 --csv sweep.csv --plot sweep.svg
  graphnet sweep tasks/binary_addition.toml --set network.hidden=8,16 --seeds 16 --compile    # with JAX
  graphnet sweep tasks/binary_addition.toml --set network.hidden=2,4,8,16,32 --seeds 5 --resume  # after a stop
  graphnet sweep tasks/binary_addition.toml --set network.hidden=2,4,8,16,32 --seeds 20 --scheduler tcp://HOST:8786
      # on the workers of a `dask scheduler` (the 'distributed' extra); --scheduler local: a cluster on this machine

A trial that diverges (NaN or inf) stops there and the sweep goes on: its row says diverged. Rows are written
to the CSV as trials finish. Stopped by Ctrl-C, SIGTERM or SIGHUP, a sweep writes the rows of the trials that
finished, ends its workers and exits with 128 + the signal; --resume, with the same task, --set, --seeds and
--check-every, runs the others and ends with the CSV an unstopped sweep writes (but for the seconds).""",
}


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (raised, so ``main`` reports them like any other)."""

    def error(self, message: str):
        if message.endswith("expected one argument"):
            # argparse takes a value that starts with '-' (e.g. --example -9+60) for an option of its own.
            message += "; a value that starts with '-' is written --option=VALUE"
        # Name the subcommand ("graphnet add: ..."); the top level needs no name, main prefixes "graphnet:".
        where = "" if self.prog == "graphnet" else f"{self.prog}: "
        raise UsageError(f"{where}{message} (see {self.prog} --help)")


def _common(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """--debug and --plugin, which work before the command or after it (``graphnet --plugin x nodes``)."""
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    # Before the command they go to a name of their own: a subcommand's own default would overwrite them.
    parser.add_argument(
        "--plugin", dest="plugins_first" if top else "plugins", action="append", default=[], metavar="MODULE",
        help="import node types, cells or generators from a module or a .py file first (repeatable)",
    )


def _task_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", metavar="TASK", help="a task file, e.g. tasks/binary_addition.toml")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a key of the task file (repeatable), e.g. --set network.hidden=8",
    )


def _compile_arg(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--compile", action="store_true",
                        help=f"compile {what} with JAX (the 'compile' extra: {INSTALL}): the same numbers, "
                        "the node types' own methods traced; compiling takes seconds, once (cached on disk)")


# graphnet.animate's, here so that parsing the command line does not import Graphviz (tests hold them equal)
ANIMATE_SHOWS, ANIMATE_MAX_STEPS = ("both", "values", "grads", "memory"), 16


def build_parser() -> Parser:
    parser = Parser(
        prog="graphnet",
        description="A tiny computation-graph engine that unrolls the post's RNN and learns binary addition.",
        epilog="Run 'graphnet COMMAND --help' for the options and examples of each command.",
    )
    parser.add_argument("--version", action="version", version=f"graphnet {__version__}")
    _common(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True

    def command(name: str, help: str, run: Callable) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help,
            description=help,
            epilog=EXAMPLES.get(name),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _common(sub)
        sub.set_defaults(run=run)
        return sub

    p = command("train", "Train the task's network by SGD through the unrolled graph.", cmd_train)
    _task_args(p)
    p.add_argument("--save", metavar="W.npz", help="write the trained weights here (.npz)")
    p.add_argument("--quiet", action="store_true", help="no log and no progress bar, only the final line")
    p.add_argument("--checkpoint", metavar="C.npz",
                   help="write a checkpoint here (weights, iteration, random state) at the end, every "
                   "--checkpoint-every iterations and when the run is stopped (Ctrl-C, SIGTERM, SIGHUP); it is also "
                   "a weights file")
    p.add_argument("--checkpoint-every", type=int, default=0, metavar="N",
                   help="also checkpoint every N iterations (default: 0, only at the end and when stopped)")
    p.add_argument("--resume", metavar="C.npz",
                   help="continue the run saved in this checkpoint; training.iterations counts from the start")
    p.add_argument("--curve", metavar="FILE",
                   help="write a learning curve here (also when stopped): a row of iteration, error, loss, accuracy "
                   "every --curve-every iterations and at the last; .csv, or .svg/.png drawn with matplotlib "
                   "(the 'plot' extra)")
    p.add_argument("--curve-every", type=int, metavar="N",
                   help=f"iterations between the curve's rows (default: {CURVE_EVERY})")
    _compile_arg(p, "the training loop")

    p = command("eval", "Exact-match accuracy of trained weights (every output bit right).", cmd_eval)
    _task_args(p)
    p.add_argument("--weights", required=True, metavar="W.npz", help="trained weights (.npz)")
    p.add_argument("--bits", type=int, metavar="N", help="problem length in bits (default: the task's)")
    p.add_argument(
        "--samples", type=int, default=10000, metavar="K",
        help="random problems to try when there are too many to try all (default: 10000)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random problems (default: 0)")
    _compile_arg(p, "the forward passes")

    p = command("add", "Add two non-negative integers of any size with a trained network.", cmd_add)
    p.add_argument("a", metavar="A", help="a non-negative integer (decimal, or 0x.../0b... )")
    p.add_argument("b", metavar="B", help="a non-negative integer (decimal, or 0x.../0b... )")
    p.add_argument("--weights", required=True, metavar="W.npz", help="trained weights (.npz)")
    p.add_argument(
        "--task", metavar="TASK", help="the task the weights were trained on (default: the post's network)"
    )
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a key of --task (repeatable)")
    p = command("render", "Draw the unrolled graph (with a run's values or gradients) with Graphviz.", cmd_render)
    _task_args(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="the picture; its extension picks the format: .dot .svg .png .pdf .json")
    p.add_argument("--steps", type=int, metavar="T", help="time steps to draw (default: the task's bits)")
    p.add_argument("--weights", metavar="W.npz", help="trained weights, to draw a run's values (with --example)")
    p.add_argument("--example", metavar="A+B", help="the problem to run, written as the task's log writes it: "
                   "9+60 (addition), 60-9 (subtraction), 1011 (bit streams, last step first); with --weights")
    p.add_argument("--fold", action="store_true",
                   help="draw each step's cell as one node (for gated cells such as lstm and gru, far fewer nodes)")
    p.add_argument("--show", choices=("values", "grads"), default="values",
                   help="colour the cells by the values of the run or by the gradients of its loss (default: values)")
    p.add_argument("--stacked", action="store_true",
                   help="draw the graph as the speed layer rewrites it (graphnet.stacked): each group of independent "
                        "ops of one node type as one op on stacked operands, what training runs")
    p = command("animate", "Animate a run: the forward and reverse pass step by step, or the hidden layer's memory.",
                cmd_animate)
    _task_args(p)
    p.add_argument("--weights", required=True, metavar="W.npz", help="trained weights (graphnet train --save)")
    p.add_argument("--example", required=True, metavar="A+B", help="the problem to run, written as the task's "
                   "log writes it: 9+60 (addition), 60-9 (subtraction), 1011 (bit streams, last step first)")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="the animation: .gif (needs the 'animate' extra) or .html (a page to explore: zoom and "
                   "pan, follow the step, click a node for its numbers, formula and inputs)")
    p.add_argument("--show", choices=ANIMATE_SHOWS, default="both",
                   help="both: the forward pass, then the reverse pass (default); values: the forward pass; grads: "
                   "the reverse pass; memory: each hidden cell coloured by the input steps it depends on")
    p.add_argument("--steps", type=int, metavar="T",
                   help=f"time steps to run (default: the task's bits; at most {ANIMATE_MAX_STEPS})")
    p.add_argument("--fold", action="store_true", help="draw each step's cell as one node, as render --fold does")
    p = command("nodes", "List the registered node types, cells and data generators.", cmd_nodes)

    # -- exercise (graphnet.app.exercises): the learner writes the backward, graphnet says where it is wrong
    p = command("exercise", "Exercises: write the backward yourself; graphnet says where it is wrong.", cmd_exercise)
    p.add_argument("action", choices=("list", "start", "check", "hint", "solution"),
                   help="list the exercises; start one (writes its file); check your file; a hint; the solution")
    p.add_argument("which", nargs="?", metavar="N|FILE",
                   help="the exercise, 1 to 6 (or, for check, your file's path)")
    p.add_argument("number", nargs="?", type=int, metavar="K", help="with hint: which hint (default: the first)")
    p.add_argument("--folder", default="exercises", metavar="DIR",
                   help="where start writes the files and check finds them (default: exercises)")
    p.add_argument("--picture", metavar="FILE.png",
                   help="with check: also draw the gradients, the wrong cells marked (.png or .svg; the 'plot' extra)")
    p.add_argument("--no-train", action="store_true",
                   help="with check: do not train the post's network when the exercise is right")

    p = command("gradcheck", "Check node types' backward against central differences in float64.", cmd_gradcheck)
    p.add_argument("names", nargs="*", metavar="NAME", help="node types to check (default: all, unless --task)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default: 0)")
    p.add_argument("--task", metavar="TASK",
                   help="check the task's whole unrolled network instead: every weight's gradient by BPTT")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a key of --task (repeatable)")
    p.add_argument("--steps", type=int, metavar="T", help="with --task: steps to unroll (default: the task's bits)")
    p.add_argument("--batch", type=int, default=3, metavar="B", help="with --task: problems at once (default: 3)")
    p.add_argument("--weights", metavar="W.npz", help="with --task: check at these weights (default: random ones)")
    p.add_argument("--against", choices=("differences", "jax"), default="differences",
                   help="what a backward is held to: central differences (default), or jax: JAX's exact derivative "
                   "of the node type's own forward, which sees mistakes smaller than differences can (the "
                   "'compile' extra)")

    # -- probe (graphnet.app.probe): is the task's hidden fact (the carry) linearly in the trained state?
    p = command("probe", "Read the task's hidden fact (the carry) from the trained hidden state, linearly.", cmd_probe)
    _task_args(p)
    p.add_argument("--weights", required=True, metavar="W.npz", help="trained weights (.npz)")
    p.add_argument("--plot", metavar="FILE.svg",
                   help="also draw the held-out states by their principal components, coloured by the fact "
                   "(.svg/.png; needs the 'plot' extra)")
    p.add_argument("--problems", type=int, default=PROBE_PROBLEMS, metavar="N",
                   help=f"random problems to draw, a quarter held out (default: {PROBE_PROBLEMS})")
    p.add_argument("--seed", type=int, default=0, help="seed of the random problems (default: 0)")

    # -- reach (graphnet.app.reach): the gradient split by lag, and how far back it reaches
    p = command("reach", "How far back the gradient reaches: the recurrent weight's gradient split by lag.", cmd_reach)
    _task_args(p)
    p.add_argument("--weights", metavar="W.npz",
                   help="trained weights (default: the weights training starts from, drawn with training.seed)")
    p.add_argument("--example", metavar="A+B", help="measure this problem alone, written as the task's log writes it "
                   "(9+60, 60-9, 1011); default: --problems random ones")
    p.add_argument("--problems", type=int, default=REACH_PROBLEMS, metavar="N",
                   help=f"random problems to measure (default: {REACH_PROBLEMS})")
    p.add_argument("--seed", type=int, default=0, help="seed of the random problems (default: 0)")
    p.add_argument("--steps", type=int, metavar="T", help="steps a problem has (default: the task's bits)")
    p.add_argument("--split", action="append", metavar="WEIGHT",
                   help="the weight whose gradient to split, by name (repeatable; default: the recurrent ones)")
    p.add_argument("--plot", metavar="FILE.svg", help="also draw it (.svg/.png; needs the 'plot' extra)")
    p.add_argument("--csv", metavar="FILE.csv", help="also write the table, a row a lag")

    # -- doctor (graphnet.app.doctor): why does my RNN not learn?
    p = command("doctor", "Why does my RNN not learn? Its measures beside the post's trained network, and the likely "
                "cause.", cmd_doctor)
    _task_args(p)
    p.add_argument("--weights", metavar="W.npz",
                   help="the weights to examine (default: train the task as its file says, then examine them)")
    p.add_argument("--problems", type=int, default=DOCTOR_PROBLEMS, metavar="N",
                   help=f"random problems to measure on (default: {DOCTOR_PROBLEMS})")
    p.add_argument("--seed", type=int, default=0, help="seed of the random problems (default: 0)")
    p.add_argument("--quiet", action="store_true", help="no line and no progress bar on stderr while it trains")

    # -- compare (graphnet.app.compare): cells over tasks of growing reach: accuracy and reach
    p = command("compare", "Train several cells on tasks of growing reach: does each learn, how far back does its "
                "gradient reach?", cmd_compare)
    p.add_argument("task", metavar="TASK", help="a task file, e.g. tasks/delayed_echo.toml")
    p.add_argument("--set", dest="grid", action="append", default=[], metavar="SECTION.KEY=V1,V2,...",
                   help="the values to compare over (several values), or a key every run gets (one value); repeatable")
    p.add_argument("--cells", default=",".join(COMPARE_CELLS), metavar="C1,C2,...",
                   help=f"the cells: a cell, or ACTIVATION-CELL (default: {','.join(COMPARE_CELLS)})")
    p.add_argument("--seeds", type=int, default=3, metavar="N", help="seeds 0..N-1 per cell and setting (default: 3)")
    p.add_argument("--learning-rates", metavar="R1,R2,...",
                   help="learning rates to try, the best kept per cell and setting (default: the task's)")
    p.add_argument("--csv", metavar="FILE.csv", help="write every trained network's numbers here")
    p.add_argument("--plot", metavar="FILE.svg", help="draw accuracy and reach (.svg/.png; needs the 'plot' extra)")
    p.add_argument("--quiet", action="store_true", help="no line on stderr as each cell and setting finishes")

    # -- sweep (graphnet.app.sweep): settings x seeds on a process pool, CSV, table, optional plot
    p = command("sweep", "Train under several settings and seeds (all cores); iterations and seconds to solve.",
                cmd_sweep)
    p.add_argument("task", metavar="TASK", help="a task file, e.g. tasks/binary_addition.toml")
    p.add_argument("--set", dest="grid", action="append", default=[], metavar="SECTION.KEY=V1,V2,...",
                   help="values to sweep for a key (repeatable: every combination is run)")
    p.add_argument("--seeds", type=int, default=5, metavar="N", help="seeds 0..N-1 per setting (default: 5)")
    p.add_argument("--check-every", type=int, default=100, metavar="K",
                   help="iterations between checks of 'solved' (default: 100)")
    p.add_argument("--workers", type=int, metavar="W", help="processes (default: one per core)")
    p.add_argument("--csv", metavar="FILE",
                   help=f"where to write the results (default: {SWEEP_CSV}, if there is no such file yet)")
    p.add_argument("--plot", metavar="FILE.svg", help="also draw them (.svg/.png; needs the 'plot' extra)")
    p.add_argument("--quiet", action="store_true", help="no line on stderr as each trial finishes")
    p.add_argument("--separately", action="store_true",
                   help="train every trial on its own, not the seeds of a setting as one program (same results, "
                   "slower: to compare)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the trials on a dask.distributed cluster: 'local' (a worker a core, on this machine) "
                   "or a `dask scheduler`'s tcp://HOST:PORT (the 'distributed' extra); default: a process pool")
    p.add_argument("--resume", action="store_true",
                   help="go on with the sweep whose rows are in the CSV (--csv, or sweep.csv): its trials are kept, "
                   "the others run; refused if it is another task's or of other settings")
    _compile_arg(p, "each program's training")
    return parser


# -- output -----------------------------------------------------------------------------------------------------
# Why stdout stopped taking the command's lines, when it did for a reason other than its reader leaving.
_stdout_failed: list[OSError] = []


def say(text: str) -> None:
    """Print a line on stdout. Once stdout takes no more, go on without it: the run's files still matter. Its
    reader leaving (``| head -3``) is no mistake; anything else (``> /dev/full``) ends the command in one line
    (:func:`main`)."""
    try:
        print(text, flush=True)
    except OSError as exc:
        _lose_stdout(exc)


def _lose_stdout(exc: OSError) -> None:
    if not isinstance(exc, BrokenPipeError):
        _stdout_failed.append(exc)
    # Point stdout at /dev/null, so that neither the next line nor Python's last flush at exit fails.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def tell(text: str) -> None:
    """Print a line on stderr, where a command says why it stopped; if stderr is gone too (a closed terminal:
    SIGHUP), there is nobody to tell."""
    try:
        _line_start(sys.stderr)
        print(printable(text), file=sys.stderr, flush=True)
    except OSError:
        pass


def _line_start(stream) -> None:
    """On a terminal, the line cleared and the cursor at its start: the ``^C`` a terminal echoes when Ctrl-C is
    pressed would otherwise stay at the end of the line, or begin the next line the command prints."""
    if stream.isatty():
        stream.write("\r\x1b[K")


# -- commands ---------------------------------------------------------------------------------------------------
def print_entry(entry: LogEntry) -> None:
    say("\n".join(entry.lines()))


def cmd_train(args: argparse.Namespace) -> int:
    if args.compile:
        require_jax()
    task = load_task(args.task, args.overrides)
    _positive("--checkpoint-every", args.checkpoint_every, minimum=0)
    if args.checkpoint_every and not args.checkpoint:
        raise UsageError("--checkpoint-every: give --checkpoint PATH too, the file to write")
    if args.curve_every is not None and not args.curve:
        raise UsageError("--curve-every: give --curve FILE too, the file to write")
    _positive("--curve-every", args.curve_every)
    # Every output checked before any work: an unwritable one found after training would lose the run.
    if args.save:
        check_writable(args.save, "--save", reading=[args.task, args.resume], writing=[args.checkpoint])
    if args.checkpoint:  # it may be the checkpoint it resumes from: it is read first, then rewritten
        check_writable(args.checkpoint, "--checkpoint", reading=[args.task])
    if args.curve:  # a picture without matplotlib is refused here, not after the run
        check_curve_path(args.curve, "--curve")
        check_writable(args.curve, "--curve", reading=[args.task, args.resume], writing=[args.save, args.checkpoint])
    check_memory(f"{args.task}: the accuracy check after training ({task.problem.bits}-bit problems)",
                 evaluation_bytes(task, task.problem.bits, EVALUATION_SAMPLES))
    resume = dict(params=None, start=0, rng_state=None)
    if args.resume:
        state = load_checkpoint(args.resume, task)
        resume = dict(params=state.params, start=state.iteration, rng_state=state.rng_state)
    checkpointer = Checkpointer(args.checkpoint, task, args.checkpoint_every)
    curve = Curve(task, args.curve_every or CURVE_EVERY) if args.curve else None
    curve_title = f"learning curve: {' '.join([Path(args.task).name, *args.overrides])}"
    started = time.perf_counter()
    # Ctrl-C, SIGTERM and SIGHUP only ask the loop to stop after the current update, so that the checkpoint holds a
    # whole iteration; until the run's files are written, another signal changes nothing.
    with stopping(on_signal=checkpointer.request_stop):
        try:
            if args.compile:  # its hooks are called after each chunk of iterations, which ends where they are due
                from .app.compiled import train_compiled

                result = train_compiled(task, on_log=None if args.quiet else print_entry, progress=not args.quiet,
                                        after_chunk=checkpointer, every=[args.checkpoint_every], curve=curve,
                                        on_compiled=None if args.quiet else _say_compiled, **resume)
            else:
                result = train(task, on_log=None if args.quiet else print_entry, progress=not args.quiet,
                               after_update=checkpointer, on_update=curve, **resume)
        except DivergedError as exc:
            if curve is None:
                raise
            write_curve(args.curve, curve.finish(), title=curve_title)  # how it went until then: it may show why
            raise DivergedError(f"{exc}; the curve until then is written to {args.curve}") from None
        seconds = time.perf_counter() - started
        written = []
        if args.checkpoint:
            save_checkpoint(args.checkpoint, task, result.params, result.iterations, result.rng_state)
            written.append(f"checkpoint written to {args.checkpoint}")
        if curve is not None:
            write_curve(args.curve, curve.finish(), title=curve_title)
            written.append(f"curve written to {args.curve}")
        if args.save and not checkpointer.stop_requested:
            save_weights(args.save, result.params)
            written.append(f"weights saved to {args.save}")
    if checkpointer.stop_requested:
        signum = checkpointer.stop_signal
        said = "; ".join(written) if written else "nothing written (no --checkpoint given)"
        tell(f"graphnet: {stopped_by(signum)} after iteration {result.iterations}; {said}")
        return 128 + signum
    # Iterations of this run: a resumed run counts from the checkpoint's, and says so.
    done = result.iterations - resume["start"]
    trained = f"trained {done} iterations" + (f" (resumed at {resume['start']})" if resume["start"] else "")
    try:
        accuracy = evaluate(task, result.params, samples=EVALUATION_SAMPLES)
    except KeyboardInterrupt as stop:  # the run's files are written: say so
        tell(f"graphnet: {str(stop) or stopped_by(signal.SIGINT)} while checking the accuracy after training; "
             f"{'; '.join(written) or 'nothing written (no --save given)'}")
        return exit_code(stop)
    say("; ".join([f"{trained} in {seconds:.2f} s", accuracy.line(), *written[::-1]]))
    return 0


def _say_compiled(compiling) -> None:
    tell(f"graphnet: {compiling.line()}")


def cmd_eval(args: argparse.Namespace) -> int:
    if args.compile:
        require_jax()
    task = load_task(args.task, args.overrides)
    _positive("--bits", args.bits, minimum=2)
    _positive("--samples", args.samples)
    _positive("--seed", args.seed, minimum=0, maximum=2**32 - 1)
    check_memory(f"--bits {args.bits or task.problem.bits} --samples {args.samples}",
                 evaluation_bytes(task, args.bits or task.problem.bits, args.samples))
    params = load_weights(args.weights, task.build_network())
    measure = evaluate
    if args.compile:
        from .app.compiled import evaluate_compiled as measure
    say(measure(task, params, bits=args.bits, samples=args.samples, seed=args.seed).line())
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    a, b = _operand("A", args.a), _operand("B", args.b)
    if args.overrides and not args.task:
        raise UsageError("--set goes with --task TASK, the task file it changes")
    if args.task:
        task = load_task(args.task, args.overrides)
        if task.problem.generator != "binary_addition":
            raise UsageError(f"--task {args.task}: a {task.problem.generator} task; add needs one of "
                             "binary_addition, whose network adds")
        network = task.build_network()
        params = load_weights(args.weights, network)
    else:
        raw = load_weights(args.weights)
        if "synapse_h" not in raw or raw["synapse_h"].ndim != 2:
            raise GraphnetError(f"{args.weights}: has no 2-D 'synapse_h'; for other cells give --task")
        network = Network(get_cell("rnn"), inputs=2, hidden=raw["synapse_h"].shape[0], outputs=1)
        params = load_weights(args.weights, network)
    total = add_integers(network, params, a, b)
    if total != a + b:
        tell(f"graphnet: the network is wrong here: {_wrong_bits(total, a + b)}")
    say(str(total))
    return 0


def _wrong_bits(total: int, right: int) -> str:
    """Where a wrong sum differs from the right one, short even for sums of 100,000 bits."""
    wrong = total ^ right
    lowest = (wrong & -wrong).bit_length() - 1
    if right.bit_length() <= 64:
        return f"the sum is {right}, bits wrong: {wrong.bit_count()}, the lowest at bit {lowest}"
    return f"bits wrong: {wrong.bit_count()} of {right.bit_length()}, the lowest at bit {lowest}"


def cmd_render(args: argparse.Namespace) -> int:
    from . import render

    task = load_task(args.task, args.overrides)
    output = Path(args.output)
    if output.suffix.lower() not in render.FORMATS:
        raise UsageError(f"-o {output}: unknown output format {output.suffix or '(none)'!r}; "
                         f"expected one of {', '.join(render.FORMATS)}")
    check_writable(output, "-o", reading=[args.task, args.weights])
    if (args.weights is None) != (args.example is None):
        raise UsageError("--weights and --example go together: the values drawn are those of that example")
    if args.show == "grads" and args.weights is None:
        raise UsageError("--show grads needs --weights and --example")
    if args.stacked and args.fold:
        raise UsageError("--stacked and --fold: a stacked op holds every step, so there is no step's cell to fold; "
                         "give one of them")
    steps, _ = _steps_to_draw(task, args, render.MAX_STEPS, "will not be legible; draw fewer", 16)
    network = task.build_network()
    graph = network.graph(steps)
    values = grads = caption = None
    title = f"{task.network.cell} unrolled over {steps} steps ({Path(args.task).name})"
    if args.example is not None:
        params = load_weights(args.weights, network)
        example = run_example(task, params, args.example, steps)  # a run that overflows is refused there
        graph, values = example.graph, example.run.values
        grads = example.gradients() if args.show == "grads" else None
        caption = example.says() + ("; the colours: the gradient of the loss" if grads is not None else "")
    if args.stacked:
        graph, title = stacked(graph), title + ", stacked"
        if args.example is not None:  # the stacked graph's own run: its stacks have values and gradients too
            run = graph.compile().forward(network.feeds(example.problem.x, example.problem.y), params)
            values = run.values
            grads = run.backward(every_node=True) if args.show == "grads" else None
    if args.fold:
        _check_foldable(network, graph)
    drawn = render.fold_steps(graph, task.network.cell) if args.fold else graph
    dot = render.to_digraph(drawn, values=values, grads=grads, title=title, caption=caption)
    render.write(dot, graph, output)  # .json is always the whole graph, folded or not
    folded = f", drawn as {len(drawn)}" if args.fold else ""
    say(f"wrote {output} ({_steps_said(task, args, steps)}, {len(graph)} nodes{folded})")
    return 0


def cmd_animate(args: argparse.Namespace) -> int:
    from . import animate

    task = load_task(args.task, args.overrides)
    animate.check_output(args.output)
    check_writable(args.output, "-o", reading=[args.task, args.weights])
    steps, _ = _steps_to_draw(task, args, animate.MAX_STEPS, "make too many frames to follow; animate fewer", 8)
    network = task.build_network()
    if args.fold:
        _check_foldable(network, network.graph(steps))
    params = load_weights(args.weights, network)
    try:
        frames = animate.frames(task, params, args.example, args.show, steps, fold=args.fold)
        animate.write(frames, args.output)  # at once, at the end: a stopped animation leaves the file as it was
    except KeyboardInterrupt as stop:
        tell(f"graphnet: {str(stop) or stopped_by(signal.SIGINT)} while drawing the frames; nothing is written to "
             f"{args.output}")
        return exit_code(stop)
    say(f"wrote {args.output} ({len(frames)} frames, {_steps_said(task, args, steps)}, "
          f"{sum(f.seconds for f in frames):.0f} s a loop)")
    return 0


def _steps_to_draw(task: Task, args: argparse.Namespace, most: int, too_many: str, fewer: int) -> tuple[int, Batch | None]:
    """The steps ``render`` or ``animate`` draws, and the ``--example`` problem (or None): ``--steps``, or else the
    task's bits or, if it needs more, as many as the example needs; at most ``most``, refused in one line that
    names what asked for more (``too_many`` says why, ``fewer`` what to try)."""
    if args.steps is not None:  # checked before the example is made over them: 10**20 steps would be made
        _positive("--steps", args.steps)
        if args.steps > most:
            raise UsageError(f"--steps {args.steps}: more than {most} steps {too_many}, e.g. --steps {fewer}")
    problem = read_example(task, args.example, args.steps) if args.example is not None else None
    needed = len(problem.x) if problem is not None else 0
    steps = args.steps or max(task.problem.bits, needed)
    if steps > most:
        if needed > task.problem.bits:
            raise UsageError(f"--example {args.example}: needs {needed} steps, more than {most} {too_many} (a "
                             "shorter example)")
        given = [f"--set {o.strip()}" for o in args.overrides if o.partition("=")[0].strip() == "task.bits"]
        bits = given[-1] if given else f"{task.source}: [task] bits = {task.problem.bits}"
        raise UsageError(f"{bits}, the steps drawn without --steps: more than {most} {too_many}, e.g. --steps {fewer}")
    return steps, problem


def _steps_said(task: Task, args: argparse.Namespace, steps: int) -> str:
    """``9 steps``, and why when no --steps asked for them and they are more than the task's bits."""
    if args.steps is None and steps > task.problem.bits:
        return f"{steps} steps, as many as --example {args.example} needs (the task's bits: {task.problem.bits})"
    return f"{steps} steps"


def _check_foldable(network: Network, graph) -> None:
    """--fold draws each step's cell as one node: the nodes its cell marks ``kind="hidden"`` (its state), and
    what leads to them. A cell that marks none has nothing to fold, which is its omission to name."""
    if not graph.keys(kind="hidden"):
        cell = network.cell
        raise GraphError(f"cell {cell.name!r}: --fold draws a step's cell as the nodes of its state and what leads "
                         "to them, and this cell marks none: give the nodes of its state kind='hidden' "
                         "(g.apply(..., kind='hidden'))", culprit=cell)


def cmd_nodes(args: argparse.Namespace) -> int:
    # Names and descriptions come from plugins too: shown escaped, so that none can change the terminal.
    types, cells, generators = ({printable(name): item for name, item in registry().items()}
                                for registry in (registered_nodes, registered_cells, registered_generators))
    width = max(map(len, [*types, *cells, *generators])) + 2
    say("node types:")
    for name, node in types.items():
        arity = "leaf" if node.leaf else ("n-ary" if node.arity is None else f"{node.arity} in")
        say(f"  {name:<{width}}{arity:<7}{printable(node.description)}")
    say("cells:")
    for name, cell in cells.items():
        say(f"  {name:<{width}}{'':<7}{printable(cell.description)}")
    say("generators:")
    for name, generator in generators.items():
        say(f"  {name:<{width}}{f'{generator.inputs}->{generator.outputs}':<7}{printable(generator.description)}")
        for key, option in generator.options.items():  # what its task files may give in [task]
            say(f"  {'':<{width}}{'':<7}  [task] {printable(key)}: {printable(option.expected)}, "
                f"default {option.default!r}")
    return 0


def cmd_exercise(args: argparse.Namespace) -> int:
    from .app.exercises import EXERCISES, check, get_exercise, hint, solution, start

    if args.number is not None and args.action != "hint":
        raise UsageError(f"exercise {args.action}: takes one exercise, got {args.which} {args.number}")
    for option, value in (("--picture", args.picture), ("--no-train", args.no_train)):
        if value and args.action != "check":
            raise UsageError(f"exercise {args.action}: {option} goes with check")
    if args.action == "list":
        for exercise in EXERCISES:
            started = (Path(args.folder) / exercise.file).is_file()
            say(f"{exercise.number}  {exercise.title:<48}{exercise.file:<24}{'started' if started else ''}")
        say(f"start one: graphnet exercise start N (writes its file into {args.folder}/)")
        return 0
    if args.which is None:
        raise UsageError(f"exercise {args.action}: which exercise? give its number, 1 to {len(EXERCISES)}")
    if args.action == "start":
        path = start(args.which, args.folder)
        exercise = get_exercise(args.which)
        say(f"wrote {path}: {exercise.task}")
        say(f"check it with: graphnet exercise check {exercise.number}" +
            (f" --folder {args.folder}" if args.folder != "exercises" else ""))
        return 0
    if args.action == "hint":
        say(hint(args.which, args.number or 1))
        return 0
    if args.action == "solution":
        say(solution(args.which).rstrip("\n"))
        return 0
    if args.picture:
        if Path(args.picture).suffix.lower() not in (".png", ".svg"):
            raise UsageError(f"--picture {args.picture}: expected a .png or .svg file")
        check_writable(args.picture, "--picture")
    diagnosis = check(args.which, folder=args.folder, train=not args.no_train, on_line=say)
    if args.picture:
        if diagnosis.write_picture(args.picture):
            say(f"picture of the gradients written to {args.picture}")
        else:
            say(f"no picture: exercise {diagnosis.exercise.number} has no gradients to draw")
    return 0 if diagnosis.right else 1


def cmd_gradcheck(args: argparse.Namespace) -> int:
    _positive("--seed", args.seed, minimum=0, maximum=2**32 - 1)
    if args.against == "jax":
        require_jax("--against jax")
        if args.task:
            raise UsageError("gradcheck: --against jax checks node types; give their names, not --task")
    if args.task:
        return _gradcheck_network(args)
    for option in ("steps", "weights", "overrides"):
        if getattr(args, option) not in (None, []):
            raise UsageError(f"gradcheck: --{option.replace('overrides', 'set')} goes with --task TASK")
    names = args.names or [n for n, t in registered_nodes().items() if not t.leaf]
    node_types = [_node_type(n) for n in names]
    leaves = [n.name for n in node_types if n.leaf]
    if leaves:
        raise UsageError(f"gradcheck: {', '.join(leaves)}: leaf node types have no backward to check")
    if args.against == "jax":
        return _gradcheck_against_jax(node_types, args.seed)
    say(f"{'node type':<20}{CHECK_COLUMNS}")
    failed = 0
    for node in node_types:
        try:
            line = _check_line(check_node(node, seed=args.seed))
        except Exception as exc:  # noqa: BLE001 - a user's node type may raise anything; report it, go on
            said = blame(exc) or f"{exc.__class__.__name__}: {exc}"
            line = f"{'-':>8}{'':>18}{'':>17}  FAILED ({printable(str(said))})"
        failed += not line.endswith("ok")
        say(f"{node.name:<20}{line}")
    say(f"{len(node_types) - failed} passed, {failed} failed ({RULE}: score at most 1)")
    return 1 if failed else 0


# The largest relative difference from JAX's derivative a backward may have: a right one is within rounding
# (every built-in node type within 2e-15), and a mistake of 1e-9, which central differences cannot see, is far out.
AGAINST_JAX = 1e-12


def _gradcheck_against_jax(node_types: list, seed: int) -> int:
    from .engine.compiling import check_node_against_jax

    say(f"{'node type':<20}{'relative difference to JAX':>28}")
    failed = 0
    for node in node_types:
        try:
            worst = check_node_against_jax(node, seed=seed)
            line = f"{worst:>28.1e}  {'ok' if worst <= AGAINST_JAX else 'FAILED'}"
        except Exception as exc:  # noqa: BLE001 - a user's node type may raise anything; report it, go on
            said = blame(exc) or f"{exc.__class__.__name__}: {exc}"
            line = f"{'-':>28}  FAILED ({printable(str(said))})"
        failed += not line.endswith("ok")
        say(f"{node.name:<20}{line}")
    say(f"{len(node_types) - failed} passed, {failed} failed (each backward against JAX's derivative of its forward, "
        f"on random float64 inputs: relative difference at most {AGAINST_JAX:.0e})")
    return 1 if failed else 0


def _node_type(name: str):
    """The node type ``gradcheck NAME`` names, or one line saying what was meant or how to load one's own."""
    try:
        return get_node(name)
    except GraphnetError as exc:
        raise UsageError(f"gradcheck: {exc}{unknown_hint(name, registered_nodes(), 'a node type')}") from None


# Forward passes a network check may cost: two per weight element, each over every step.
MAX_CHECK_WORK = 1_000_000  # weight elements x steps: hidden 256 over 2 steps takes seconds, 16 steps minutes


def _gradcheck_network(args: argparse.Namespace) -> int:
    if args.names:
        raise UsageError(f"gradcheck: give node type names or --task, not both (got {' '.join(args.names)})")
    task = load_task(args.task, args.overrides)
    steps = task.problem.bits if args.steps is None else args.steps
    _positive("--steps", steps, maximum=64)  # two forward passes per weight element: past 64 steps, minutes
    _positive("--batch", args.batch, maximum=64)
    network = task.build_network()
    shapes = network.parameter_shapes()
    elements = sum(int(np.prod(shape)) for shape in shapes.values())
    if elements * steps > MAX_CHECK_WORK:
        raise UsageError(f"gradcheck --task: {elements:,} weights over {steps} steps need {2 * elements:,} forward "
                         f"passes of {steps} steps, too many to wait for; check a smaller network "
                         f"(--set network.hidden=...) or fewer --steps")
    params = load_weights(args.weights, network) if args.weights else None
    checks = check_network(network, task.generator, steps, batch=args.batch, seed=args.seed, params=params)
    say(f"{task.network.cell} network of {args.task}, unrolled over {steps} steps, batch {args.batch}, "
          f"{'weights from ' + args.weights if args.weights else 'random weights'}")
    say(f"{'weight':<20}{'shape':<12}{CHECK_COLUMNS}")
    for key, check in checks.items():
        say(f"{key:<20}{str(shapes[key]):<12}{_check_line(check)}")
    failed = sum(not check.passed for check in checks.values())
    say(f"{len(checks) - failed} passed, {failed} failed ({RULE} through the unrolled graph: score at most 1)")
    return 1 if failed else 0


CHECK_COLUMNS = f"{'score':>8}{'largest |a - n|':>18}{'relative error':>17}"


def _check_line(check: GradientCheck) -> str:
    """One verdict's columns: the score (at most 1 passes), the largest difference, the relative error."""
    return f"{check.score:>8.2f}{check.difference:>18.1e}{check.relative:>17.1e}  {check}"


def cmd_probe(args: argparse.Namespace) -> int:
    from .app.probe import check_plot_path, check_probe, probe, write_probe_plot

    task = load_task(args.task, args.overrides)
    _positive("--seed", args.seed, minimum=0, maximum=2**32 - 1)
    check_probe(task, args.problems, option="--problems")  # a fact to look for, and a size that fits
    if args.plot:  # a picture that cannot be drawn is refused here, not after the probe
        check_plot_path(args.plot)
        check_writable(args.plot, "--plot", reading=[args.task, args.weights])
    params = load_weights(args.weights, task.build_network())
    result = probe(task, params, problems=args.problems, seed=args.seed)
    say("\n".join(result.lines()))
    if args.plot:
        write_probe_plot(args.plot, result, title=Path(args.task).name)
        say(f"plot written to {args.plot}")
    return 0


def cmd_reach(args: argparse.Namespace) -> int:
    from .app.figures import check_figure_path
    from .app.reach import measure, problems_for, write_csv
    from .app.reach_figures import write_reach_plot

    task = load_task(args.task, args.overrides)
    _positive("--seed", args.seed, minimum=0, maximum=2**32 - 1)
    _positive("--steps", args.steps, minimum=2)
    if args.example is not None and args.problems != REACH_PROBLEMS:
        raise UsageError("--example and --problems: give one, the problem to measure or how many random ones")
    problems, about = problems_for(task, example=args.example, problems=args.problems, seed=args.seed,
                                   steps=args.steps)
    check_reach(task, len(problems.x), problems.size)
    if args.plot:  # refused here, not after the measure
        check_figure_path(args.plot, "--plot", instead="leave out --plot (the table needs nothing)")
        check_writable(args.plot, "--plot", reading=[args.task, args.weights], writing=[args.csv])
    if args.csv:
        check_writable(args.csv, "--csv", reading=[args.task, args.weights], writing=[args.plot])
    network = task.build_network()
    if args.weights:
        params, whose = load_weights(args.weights, network), f"weights from {args.weights}"
    else:
        params = network.init_parameters(np.random.RandomState(task.training.seed))
        whose = f"the weights training starts from (seed {task.training.seed}), not trained"
    unknown = [w for w in args.split or () if w not in network.parameter_shapes()]
    if unknown:
        raise UsageError(f"--split {unknown[0]}: the {task.network.cell} network has no such weight; its weights: "
                         f"{', '.join(network.parameter_shapes())}")
    reach = measure(task, params, problems, weights=args.split, about=about)
    say(f"{task.network.cell} network of {args.task}, {whose}")
    say("\n".join(reach.lines()))
    if args.csv:
        write_csv(args.csv, reach)
        say(f"table written to {args.csv}")
    if args.plot:
        write_reach_plot(args.plot, reach, title=Path(args.task).name)
        say(f"plot written to {args.plot}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from .app.doctor import diagnose

    task = load_task(args.task, args.overrides)
    _positive("--problems", args.problems, minimum=16, maximum=4096)
    _positive("--seed", args.seed, minimum=0, maximum=2**32 - 1)
    check_reach(task, task.problem.bits, args.problems)
    check_memory(f"{args.task}: the accuracy check ({task.problem.bits}-bit problems)",
                 evaluation_bytes(task, task.problem.bits, EVALUATION_SAMPLES))
    network = task.build_network()
    if args.weights:
        params, whose = load_weights(args.weights, network), f"weights from {args.weights}"
    else:
        started = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            try:
                if not args.quiet:  # on a terminal, a progress bar follows
                    tell(f"doctor: training the network as the task says ({task.training.iterations:,} iterations), "
                         "then examining it")
                params = train(task, progress=not args.quiet).params
            except DivergedError as exc:  # a diagnosis in itself: the start is examined instead
                say(f"graphnet: {exc}")
                params = network.init_parameters(np.random.RandomState(task.training.seed))
                whose = "the weights it starts from (training diverged)"
            except KeyboardInterrupt as stop:  # Ctrl-C, SIGTERM, SIGHUP: nothing examined yet, nothing to keep
                with finishing():
                    tell(f"graphnet: {str(stop) or stopped_by(signal.SIGINT)} while training the network, before "
                         "examining it")
                return exit_code(stop)
            else:
                whose = (f"trained here as the task says ({task.training.iterations:,} iterations, "
                         f"{time.perf_counter() - started:.1f} s)")
    try:
        say(f"{task.network.cell} network of {' '.join([args.task, *(f'--set {o}' for o in args.overrides)])}, "
            f"{whose}")
        report = diagnose(task, params, problems=args.problems, seed=args.seed)
    except KeyboardInterrupt as stop:  # the report is printed whole or not at all
        with finishing():
            tell(f"graphnet: {str(stop) or stopped_by(signal.SIGINT)} while examining the network; no report")
        return exit_code(stop)
    say("\n".join(report.lines()))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .app.compare import check_size, chosen, compare, parse_axis, parse_contestant, summary, table, write_csv
    from .app.figures import check_figure_path
    from .app.reach_figures import write_compare_plot

    contestants = [parse_contestant(name) for name in args.cells.split(",") if name.strip()]
    if not contestants:
        raise UsageError("--cells: name at least one cell, e.g. --cells lstm,gru")
    fixed, axis = parse_axis(args.grid)
    _positive("--seeds", args.seeds, maximum=100)
    rates = _numbers("--learning-rates", args.learning_rates) if args.learning_rates else []
    check_size(contestants, axis, args.seeds, rates)
    # every task the comparison will train, checked before any training
    tasks = [load_task(args.task, [*fixed, *contestant.overrides(), *setting]) for setting in axis
             for contestant in contestants]
    if args.csv:
        check_writable(args.csv, "--csv", reading=[args.task], writing=[args.plot])
    if args.plot:
        check_figure_path(args.plot, "--plot", instead="leave out --plot (the table and the CSV need nothing)")
        check_writable(args.plot, "--plot", reading=[args.task], writing=[args.csv])
    finished: list[list] = []  # the entries of each contestant and setting done, in order
    total = len(axis) * len(contestants)

    def progress(entries: list) -> None:
        finished.append(entries)
        if not args.quiet:
            best = chosen(entries)[0]
            numbers = summary(best)
            print(f"compare: {len(finished)}/{total} {best[0].contestant} {best[0].setting}: "
                  f"accuracy {numbers['accuracy']:.3f} at learning rate {best[0].learning_rate:g}",
                  file=sys.stderr, flush=True)

    def write(entries: list) -> list[tuple[str, str]]:
        """The table on stdout, the CSV and the plot asked for; what was written where."""
        say(table(entries))
        written = []
        if args.csv:
            write_csv(args.csv, entries)
            written.append(("results", args.csv))
        if args.plot:
            iterations = {t.training.iterations for t in tasks}
            title = (f"{Path(args.task).name}: cells compared, {args.seeds} seeds each"
                     + (f", {iterations.pop():,} iterations" if len(iterations) == 1 else ""))
            write_compare_plot(args.plot, entries, title=title)
            written.append(("plot", args.plot))
        return written

    try:
        entries = compare(args.task, contestants, fixed, axis, seeds=args.seeds, learning_rates=rates,
                          on_entries=progress)
    except KeyboardInterrupt as stop:  # Ctrl-C, SIGTERM, SIGHUP: what finished is kept; a second signal waits
        with finishing():
            written = write([e for entries in finished for e in entries]) if finished else []
            tell(f"graphnet: {str(stop) or stopped_by(signal.SIGINT)} after {len(finished)} of {total} cells and "
                 "settings" + "".join(f"; {what} written to {path}" for what, path in written))
        return exit_code(stop)
    with finishing():  # the comparison is done: a signal now waits until its files are written
        for what, path in write(entries):
            say(f"{what} written to {path}")
    return 0


def _numbers(option: str, text: str) -> list[float]:
    """A comma-separated list of positive numbers, e.g. ``0.1,0.3``."""
    try:
        numbers = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        numbers = []
    if not numbers or not all(np.isfinite(n) and n > 0 for n in numbers):
        raise UsageError(f"{option} {text}: expected positive numbers separated by commas, e.g. 0.1,0.3")
    return numbers


# -- argument checks --------------------------------------------------------------------------------------------
def _operand(name: str, text: str) -> int:
    cleaned = text.strip().replace("_", "")
    try:
        base = 0 if cleaned[:2].lower() in ("0x", "0b", "0o") else 10
        value = int(cleaned, base)
    except (ValueError, IndexError):
        raise UsageError(f"graphnet add: {name}: expected a non-negative integer, got {text[:40]!r}") from None
    if value < 0:
        raise UsageError(f"graphnet add: {name}: expected a non-negative integer, got {value}")
    return value


def _positive(option: str, value: int | None, minimum: int = 1, maximum: int | None = None) -> None:
    if value is not None and value < minimum:
        raise UsageError(f"{option}: expected an integer of at least {minimum}, got {value}")
    if value is not None and maximum is not None and value > maximum:
        raise UsageError(f"{option}: expected an integer from {minimum} to {maximum:,}, got {value}")


def cmd_sweep(args: argparse.Namespace) -> int:
    from .app.cluster import require_distributed
    from .app.figures import check_figure_path
    from .app.sweep import SweepInterrupted, diverged_note, parse_grid, plot, stamp, sweep, table, write_csv

    if args.compile:
        require_jax()
    if not args.grid:
        raise UsageError("graphnet sweep: give at least one --set SECTION.KEY=V1,V2,... to sweep")
    _positive("--seeds", args.seeds, maximum=10_000)  # past that the list of runs alone fills memory
    _positive("--check-every", args.check_every)
    _positive("--workers", args.workers, maximum=MAX_WORKERS)
    if args.scheduler is not None:
        require_distributed()
        if args.workers is not None and args.scheduler != "local":
            raise UsageError(f"--workers: a sweep on --scheduler {args.scheduler} runs on the workers that joined it; "
                             "leave --workers out (it sets the processes of --scheduler local)")
    grid = parse_grid(args.grid)
    csv = args.csv or SWEEP_CSV
    # The default file is not one the user named: an existing one is theirs, from an earlier sweep, and is kept
    # (unless --resume names it: it goes on with that sweep).
    check_writable(csv, "--csv", reading=[args.task], writing=[args.plot], named=args.csv is not None or args.resume)
    if args.plot:  # a picture that cannot be drawn is refused here, not after the sweep
        check_figure_path(args.plot, "--plot", instead="leave out --plot (the CSV and the table need nothing)")
        check_writable(args.plot, "--plot", reading=[args.task], writing=[csv])
    task = load_task(args.task)
    stamped = stamp(task, args.check_every)
    earlier = _resumed(csv, stamped, grid, args.seeds) if args.resume else []

    def progress(trial, done: int, total: int) -> None:
        outcome = (f"diverged at iteration {trial.iterations:,} (NaN or inf)" if trial.diverged else
                   f"solved in {trial.iterations:,} iterations" if trial.solved else "not solved")
        tell(f"sweep: {done}/{total} {trial.setting} seed {trial.seed}: {outcome}")

    if earlier and not args.quiet:
        tell(f"sweep: resuming {csv}: {len(earlier)} trials done, kept")
    try:
        trials = sweep(task, grid, args.seeds, check_every=args.check_every, workers=args.workers,
                       plugins=args.plugins, on_trial=None if args.quiet else progress, together=not args.separately,
                       compile=args.compile, earlier=earlier, record=lambda done: write_csv(csv, done, stamped),
                       scheduler=args.scheduler)
    except SweepInterrupted as stop:  # keep what finished: its rows, then exit as the signal says
        with finishing():
            write_csv(csv, stop.trials, stamped)
            if stop.trials:
                _line_start(sys.stdout)
                say(table(stop.trials))
            tell(f"graphnet: {stop} after {len(stop.trials)} of {stop.total} trials; their results are written to "
                 f"{csv}")
        return stop.exit_code
    write_csv(csv, trials, stamped)
    say(table(trials))
    say(f"results written to {csv}")
    note = diverged_note(trials)
    if note:
        tell(f"graphnet: {note}")
    if args.plot:
        plot(args.plot, trials, title=Path(args.task).name)  # matplotlib is there: checked before the sweep
        say(f"plot written to {args.plot}")
    return 0


def _resumed(csv: str, stamped: dict[str, str], grid: dict[str, list[str]], seeds: int) -> list:
    """The trials of the sweep ``--resume`` goes on with, read from ``csv``; a CSV of another sweep refused."""
    from .app.sweep import read_csv

    if not os.path.lexists(csv):
        raise UsageError(f"--resume: {csv}: no such file; a sweep that has not started yet starts without --resume")
    try:
        return read_csv(csv, stamped, grid, seeds)
    except SweepError as exc:
        raise SweepError(f"--resume {exc}") from None


# -- entry point ------------------------------------------------------------------------------------------------
def _check_working_folder() -> None:
    try:
        os.getcwd()
    except FileNotFoundError:
        raise UsageError("the current folder no longer exists (it was deleted or moved); cd to one that does") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``graphnet`` command; return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    sys.set_int_max_str_digits(0)  # the numbers of a 20,000-bit task, or operands of 100,000 bits, are printed
    # Ctrl-C, SIGTERM and SIGHUP stop every command alike: Stopped is raised where it is (train asks its loop
    # to stop instead), what the command has is written, and it ends in one line with 128 + the signal.
    with stopping():
        try:
            _check_working_folder()
            args = build_parser().parse_args(argv)
            args.plugins = args.plugins_first + args.plugins  # --plugin before the command, then after it
            load_entry_points()
            load_plugins(args.plugins)
            code = args.run(args)
            try:
                sys.stdout.flush()  # here, not at exit, where a failure could no longer be reported
            except OSError as exc:
                _lose_stdout(exc)
        except BrokenPipeError:  # stderr's reader is gone (stdout's is handled by say): nobody to tell
            return 0
        except KeyboardInterrupt as stop:
            with finishing():
                tell(f"graphnet: {str(stop) or stopped_by(signal.SIGINT)}")
            return exit_code(stop)
        except Exception as exc:  # noqa: BLE001 - every error ends in one line
            with finishing():
                return _report(exc, debug)
    if _stdout_failed:
        tell(f"graphnet: error: cannot write the output to stdout ({_stdout_failed[0].strerror or _stdout_failed[0]})"
             "; files the command writes are written")
        return code or UsageError.exit_code
    return code


def _report(exc: Exception, debug: bool) -> int:
    """One line on stderr for an error, the traceback before it with ``--debug``; the exit code it ends with."""
    if debug:
        traceback.print_exception(exc)
    error = blame(exc) or exc  # a mistake in a plugin's code is the plugin's, named so
    if isinstance(error, GraphnetError):
        tell(f"graphnet: error: {error}")
        return error.exit_code
    tell(f"graphnet: internal error: {exc.__class__.__name__}: {exc}{'' if debug else ' (run again with --debug)'}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
