"""Sweeps: train one task under several settings and seeds, on all cores, and record how fast each solves it.

"Solved" means every problem of the task's length right (all 128x128 for the post's 8 bits), checked every
``check_every`` iterations; the time to solve counts training only, not the checks. A run that never solves
within the task's ``training.iterations`` is recorded with ``solved = false``.

Examples
--------
>>> grid = parse_grid(["network.hidden=2,4", "training.learning_rate=0.1"])
>>> grid
{'network.hidden': ['2', '4'], 'training.learning_rate': ['0.1']}
>>> [list(s) for s in settings(grid)]
[['network.hidden=2', 'training.learning_rate=0.1'], ['network.hidden=4', 'training.learning_rate=0.1']]
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import itertools
import json
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import statistics
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np

from ..errors import DivergedError, GraphnetError, SweepError
from .figures import have_matplotlib, new_figure, save_figure
from .files import check_readable, write_bytes
from .members import train_members
from .plugins import blame, load_entry_points, load_plugins
from .stopping import STOP_SIGNALS, Stopped, finishing
from .tasks import EVAL_BATCH, Task, check_memory, load_task, parse_override, training_bytes
from .training import correct_counts, fixed_sample, problems_to_check, train
from .weights import Params

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass
class Trial:
    """One training run of the sweep and how it went."""

    setting: str  # "network.hidden=8" (several keys joined by " ")
    seed: int
    solved: bool
    iterations: int  # iterations to solve (or all of them when not solved)
    seconds: float  # training wall time to that point, checks excluded
    accuracy: float
    diverged: bool = False  # its loss or a gradient went NaN or inf at iteration ``iterations``: it stopped there


def parse_grid(items: Iterable[str]) -> dict[str, list[str]]:
    """``SECTION.KEY=V1,V2,...`` strings as {key: [values]}.

    A key given twice, a value given twice (``8,8``, or ``0.1,1e-1``: the same number) and an empty value
    (``8,,16``) are refused: each would train a setting other than the one written, or pool two as one.
    """
    grid: dict[str, list[str]] = {}
    given: dict[str, str] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key, listed = key.strip(), [v.strip() for v in values.split(",")]
        if not sep or "." not in key or not any(listed):
            raise SweepError(f"--set {item!r}: expected SECTION.KEY=VALUE[,VALUE...], e.g. network.hidden=2,4,8")
        if not all(listed):
            raise SweepError(f"--set {item!r}: an empty value between commas; expected SECTION.KEY=VALUE[,VALUE...], "
                             "e.g. network.hidden=2,4,8")
        if key == "training.seed":
            raise SweepError(f"--set {item!r}: a sweep runs seeds 0 to N-1 of every setting, N given by --seeds; "
                             "sweep other keys")
        if key in given:
            raise SweepError(f"--set {item!r}: {key} is given twice (also --set {given[key]!r}); give its values "
                             f"once, e.g. --set {key}={','.join([*grid[key], *listed])}")
        seen: dict[object, str] = {}
        for value in listed:
            same = seen.get(_read(key, value))
            if same is not None:
                twice = f"{value!r} twice" if same == value else f"{same!r} and {value!r}, the same value"
                raise SweepError(f"--set {item!r}: gives {twice}; give each value once")
            seen[_read(key, value)] = value
        grid[key], given[key] = listed, item
    return grid


def _read(key: str, value: str) -> object:
    """A swept value as the task file reads it, so that two spellings of one number are one value."""
    try:
        read = parse_override(f"{key}={value}")[2]
    except GraphnetError:
        return value  # not a known key: refused, with the reason, when the settings are loaded
    return float(read) if isinstance(read, int) and not isinstance(read, bool) else read


def settings(grid: dict[str, list[str]]) -> Iterable[tuple[str, ...]]:
    """Every combination of the grid as a tuple of ``SECTION.KEY=VALUE`` overrides."""
    keys = list(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        yield tuple(f"{k}={v}" for k, v in zip(keys, values))


# Problems a solved-check tries first. Networks are checked every few iterations for most of their training and
# are not solved yet then: a sample finds that out at a fraction of the cost of every problem, with the same
# answer (all problems are right only if the sample is; then all are tried).
SAMPLE = 512


class Solved:
    """Whether weights get every problem of the task right: a fixed sample tried first, all problems only when
    the sample is all right, so the answer is that of trying them all, in a fraction of the time."""

    def __init__(self, task: Task) -> None:
        self.network = task.build_network()
        self.problems, _ = problems_to_check(task)
        self.sample = fixed_sample(task, SAMPLE)
        self.seconds = 0.0  # spent checking, which is not training time

    def __call__(self, params: Params) -> bool:
        start = time.perf_counter()
        try:
            if correct_counts(self.network, params, self.sample, EVAL_BATCH) < self.sample.size:
                return False
            return bool(correct_counts(self.network, params, self.problems, EVAL_BATCH) == self.problems.size)
        finally:
            self.seconds += time.perf_counter() - start

    def accuracy(self, params: Params) -> float:
        """The fraction of all the problems the weights get right."""
        return int(correct_counts(self.network, params, self.problems, EVAL_BATCH)) / self.problems.size


class Abandoned(Exception):
    """Raised by a trial's check when the sweep no longer wants it (``abandoned()`` says so)."""


def run_trial(task: Task, overrides: tuple[str, ...], seed: int, check_every: int,
              abandoned: Callable[[], bool] | None = None) -> Trial:
    """Train ``task`` once with ``overrides`` and ``seed``, stopping at the first check that finds it solved (or
    that finds ``abandoned()`` true: :class:`Abandoned`)."""
    task = task.with_settings(_trial_overrides(overrides, seed))
    solved = Solved(task)
    won = False
    stopped_at: dict = {}  # the last iteration done and its weights, for a trial that diverges after it

    def check(done: int, params, _random_state) -> bool:
        nonlocal won
        stopped_at.update(iteration=done, params=params)
        if done % check_every == 0 and abandoned is not None and abandoned():
            raise Abandoned
        won = done % check_every == 0 and solved(params)
        return won

    start = time.perf_counter()
    try:
        result = train(task, after_update=check)
    except DivergedError:  # this trial stops here, with the weights of the last iteration done; the sweep goes on
        seconds = time.perf_counter() - start - solved.seconds
        params = stopped_at.get("params") or task.build_network().init_parameters(np.random.RandomState(seed))
        return Trial(" ".join(overrides), seed, False, stopped_at.get("iteration", 0), seconds,
                     solved.accuracy(params), diverged=True)
    seconds = time.perf_counter() - start - solved.seconds
    accuracy = 1.0 if won else solved.accuracy(result.params)
    return Trial(" ".join(overrides), seed, accuracy == 1.0, result.iterations, seconds, accuracy)


class SweepInterrupted(Stopped):
    """A sweep stopped by a signal (Ctrl-C, SIGTERM, SIGHUP): the workers are stopped; ``trials`` are those that
    finished, of ``total``."""

    def __init__(self, trials: list[Trial], total: int, signum: int) -> None:
        super().__init__(signum)
        self.trials, self.total = trials, total


def run_together(task: Task, members: list[tuple[tuple[str, ...], int]], check_every: int,
                 compile: bool = False, abandoned: Callable[[], bool] | None = None) -> list[Trial]:
    """The trials of ``members`` (each its setting and seed; settings that differ at most in the learning rate)
    trained as one program (:mod:`graphnet.app.members`), each stopped at the check a trial of its own would stop
    at, with the same iterations and accuracy. A graph with a node type that declares no ``stacking`` rule
    cannot run so: its trials run one by one (:func:`run_trial`). ``compile``: trained compiled with JAX
    (:func:`~graphnet.app.compiled.train_members_compiled`), which runs any graph so, even of one member.
    ``abandoned()``, asked at every check: true when the sweep no longer wants these trials (it was stopped; a
    cluster's worker cannot be told otherwise), which raises :class:`Abandoned` there."""
    task.load_plugins()  # in a worker, which starts with none of them
    tasks = [task.with_settings(_trial_overrides(combo, seed)) for combo, seed in members]
    first = tasks[0]
    program = first.build_network().program(first.problem.bits, batch=first.training.batch_size)
    if not compile and (len(members) == 1 or any(op.node.stacking is None for op in program.ops)):
        return [run_trial(task, combo, seed, check_every, abandoned) for combo, seed in members]
    solved = Solved(first)

    def until(done: int, params: Params) -> np.ndarray:
        if abandoned is not None and abandoned():
            raise Abandoned
        rows = len(next(iter(params.values())))
        return np.array([solved({k: v[row] for k, v in params.items()}) for row in range(rows)])

    group = train_members
    if compile:
        from .compiled import train_members_compiled as group
    trained = group(first, [seed for _, seed in members], learning_rates=[t.training.learning_rate for t in tasks],
                    until=until, every=check_every, diverged="stop")
    trials = []
    for (combo, seed), member in zip(members, trained):
        accuracy = 1.0 if member.stopped else solved.accuracy(member.params)
        trials.append(Trial(" ".join(combo), seed, accuracy == 1.0 and not member.diverged, member.iterations,
                            member.seconds, accuracy, diverged=member.diverged))
    return trials


def _trial_overrides(combo: Sequence[str], seed: int) -> list[str]:
    """A trial's settings: its combination, its seed, and no log (which a combination may not bring back)."""
    return [*(o for o in combo if not o.startswith("training.log_every=")), f"training.seed={seed}",
            "training.log_every=0"]


def sweep(
    task: Task | str, grid: dict[str, list[str]], seeds: int, *, check_every: int = 100, workers: int | None = None,
    plugins: Sequence[str] = (), on_trial: Callable[[Trial, int, int], None] | None = None, together: bool = True,
    compile: bool = False, earlier: Sequence[Trial] = (), record: Callable[[list[Trial]], None] | None = None,
    scheduler: str | None = None,
) -> list[Trial]:
    """Every setting of ``grid`` for seeds 0..seeds-1 of ``task`` (a :class:`Task`, or its file's path), in a
    process pool of ``workers`` (default: all cores).

    ``together`` (the default): the seeds of a setting, and settings that differ only in the learning rate, are
    trained as the members of one program (:func:`run_together`), many times faster than one by one, with
    the same results; the pool runs such groups side by side. Otherwise every trial trains on its own.
    Each worker loads ``plugins`` (the command's ``--plugin``) and the installed ones first, as the command did.
    ``earlier``: trials of this sweep that an earlier run finished (:func:`read_csv`): kept, not run again.
    ``record(trials)`` is called with every trial finished so far, in the sweep's order, as each group finishes
    (to write them), then ``on_trial(trial, done, total)`` for each trial of the group.
    A trial that diverges is a row that says so (``Trial.diverged``); the others go on. Ctrl-C, SIGTERM or SIGHUP
    (within :func:`~graphnet.app.stopping.stopping`) raises :class:`SweepInterrupted` with the trials that
    finished, after ending every worker: whether the signal reached the whole process group (a terminal's Ctrl-C
    or its closing) or this process alone. ``compile``: each group trained compiled with JAX
    (:mod:`graphnet.app.compiled`). ``scheduler``: the groups run on a dask.distributed cluster instead
    (:mod:`graphnet.app.cluster`; ``local``, or a scheduler's ``tcp://HOST:PORT``), as many side by side as it
    has worker threads; the same trials, the same results.
    """
    task = load_task(task) if isinstance(task, (str, os.PathLike)) else task
    # a bad key or value fails here, in this process, with a clear line
    biggest = max(training_bytes(task.with_settings(combo)) for combo in settings(grid))
    trials = [(combo, seed) for combo in settings(grid) for seed in range(seeds)]
    finished = _earlier(trials, earlier)
    todo = [i for i in range(len(trials)) if i not in finished]

    def done(job: int, results: list[Trial]) -> None:
        before = len(finished)
        finished.update(zip(groups[job], results))
        if record is not None:  # first, so that what on_trial says is in the file already
            record([finished[i] for i in sorted(finished)])
        if on_trial is not None:
            for count, trial in enumerate(results, start=before + 1):
                on_trial(trial, count, len(trials))

    with contextlib.ExitStack() as cluster:
        client = None
        if scheduler is not None:  # connected, and its workers found fit, before any work
            from .cluster import connected, plugin_files, run_on_cluster

            client = cluster.enter_context(connected(scheduler, workers))
            workers = sum(client.nthreads().values())
        workers = workers or os.cpu_count() or 1
        here = 1 if client is not None else workers  # the workers that share this machine's memory
        check_memory(f"{task.source}: the sweep's trials", _sweep_bytes(biggest, len(todo), workers, together, here))
        groups = [[todo[k] for k in group] for group in _groups([trials[i] for i in todo], workers)] if together \
            else [[i] for i in todo]
        jobs = [(task, [trials[i] for i in group], check_every, compile) for group in groups]
        try:
            if client is not None:
                run_on_cluster(client, jobs, plugin_files(task, plugins), done, _work_on)
            elif workers == 1:
                for j, job in enumerate(jobs):
                    done(j, run_together(*job))
            else:
                _in_pool(jobs, workers, tuple(plugins), done)
        except KeyboardInterrupt as stop:
            raise SweepInterrupted([finished[i] for i in sorted(finished)], len(trials),
                                   getattr(stop, "signum", signal.SIGINT)) from None
    return [finished[i] for i in range(len(trials))]


def _earlier(trials: list[tuple[tuple[str, ...], int]], earlier: Sequence[Trial]) -> dict[int, Trial]:
    """The trials of an earlier run, by their place in ``trials``; one that is not among them is refused."""
    place = {(" ".join(combo), seed): i for i, (combo, seed) in enumerate(trials)}
    found: dict[int, Trial] = {}
    for trial in earlier:
        i = place.get((trial.setting, trial.seed))
        if i is None:
            raise SweepError(f"a trial of an earlier run, {trial.setting} seed {trial.seed}, is not one of this "
                             "sweep's; resume with the --set and --seeds it was made with")
        if i in found:
            raise SweepError(f"{trial.setting} seed {trial.seed} is there twice among the earlier run's trials")
        found[i] = trial
    return found


def _groups(trials: list[tuple[tuple[str, ...], int]], workers: int) -> list[list[int]]:
    """Trials that can train as one program: the same settings but for the learning rate. Split so that there
    are at least as many groups as workers, when there are trials enough."""
    by_shape: dict[tuple[str, ...], list[int]] = {}
    for i, (combo, _) in enumerate(trials):
        by_shape.setdefault(tuple(o for o in combo if not o.startswith("training.learning_rate=")), []).append(i)
    groups = list(by_shape.values())
    if not groups:  # every trial was done by an earlier run
        return []
    parts = -(-workers // len(groups))  # each group in this many parts, so every worker has one
    return [group[k::parts] for group in groups for k in range(parts) if group[k::parts]]


def _sweep_bytes(biggest: int, trials: int, workers: int, together: bool, here: int | None = None) -> int:
    """The memory the sweep's biggest moment needs on this machine: the ``biggest`` trial's training (or a
    group's members'), times the workers ``here`` (default: all of them)."""
    at_once = -(-trials // workers) if together else 1
    return biggest * at_once * min(workers if here is None else here, trials)


def _in_pool(jobs: list[tuple], workers: int, plugins: tuple[str, ...], done: Callable[[int, list[Trial]], None]) -> None:
    """Run ``jobs`` on ``workers`` spawned processes, calling ``done(i, trials)`` as each finishes.

    Each worker has a pipe of its own, and takes a job at a time through it: no lock is shared among them, so a
    worker that a signal ends at any moment (SIGTERM or SIGHUP sent to the whole process group) can hold up
    nothing. However this returns (done, stopped by a signal, a trial's error), every worker has ended.
    """
    procs = _start_workers(min(workers, len(jobs)), plugins)
    busy: dict = {}  # a worker's end of the pipe -> the job it is doing
    todo = list(enumerate(jobs))

    def hand_out(conn) -> None:
        if todo:
            busy[conn] = todo.pop(0)
            try:
                conn.send(busy[conn][1])
            except OSError:  # the worker has ended already: waiting on its pipe says how (_result)
                pass

    try:
        for _, conn in procs:
            hand_out(conn)
        while busy:
            for conn in multiprocessing.connection.wait(list(busy)):
                i, _ = busy.pop(conn)
                done(i, _result(conn, procs))  # a trial's error ends the sweep, here
                hand_out(conn)
    finally:
        with finishing():  # a second signal must not leave a worker behind
            for proc, conn in procs:
                if proc.is_alive():
                    proc.kill()
                proc.join()
                conn.close()


def _start_workers(count: int, plugins: tuple[str, ...]) -> list[tuple]:
    """``count`` spawned workers (:func:`_work`), each with its end of a pipe: [(process, connection)]."""
    context = multiprocessing.get_context("spawn")
    # One BLAS thread per worker: the pool already uses every core, and OpenBLAS threads left spinning after
    # each accuracy check otherwise take the core from training (measured: 3.1 s instead of 1.7 s a run).
    # Workers are spawned, so they read these variables when they import numpy; the parent's are restored.
    saved = {k: os.environ.get(k) for k in _BLAS_THREADS}
    os.environ.update({k: "1" for k in _BLAS_THREADS})
    # The workers start with SIGINT ignored (an ignored signal stays ignored across exec): a Ctrl-C that reaches
    # the whole process group while one is still importing must not interrupt it with a traceback.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if _main_thread() else None
    procs = []
    try:
        for _ in range(count):
            ours, theirs = context.Pipe()
            proc = context.Process(target=_work, args=(theirs, plugins, os.getpid()), name="graphnet sweep worker",
                                   daemon=True)
            proc.start()
            theirs.close()
            procs.append((proc, ours))
    except BaseException:
        for proc, conn in procs:
            proc.kill()
            proc.join()
            conn.close()
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return procs


def _result(conn, procs: list[tuple]) -> list[Trial]:
    """The trials a worker sends back for its job, or the error it met, raised here."""
    try:
        kind, payload = conn.recv()
    except (EOFError, OSError):  # the worker ended before it answered
        proc = next(proc for proc, c in procs if c is conn)
        proc.join()
        signum = -proc.exitcode if proc.exitcode is not None and proc.exitcode < 0 else None
        if signum in STOP_SIGNALS:  # SIGTERM or SIGHUP sent to the process group: the sweep is stopped by it too
            raise Stopped(signum) from None
        ended = f"was killed by {signal.Signals(signum).name}" if signum else f"ended with exit code {proc.exitcode}"
        raise SweepError(f"a worker of the sweep {ended} before it finished its trials (out of memory?); the "
                         "sweep cannot go on without them") from None
    if kind == "error":
        raise payload
    return payload


def _work(conn, plugins: tuple[str, ...], sweep: int) -> None:
    """A worker of the sweep in process ``sweep``: jobs from the pipe, each trained by :func:`run_together`, its
    trials (or its error) sent back."""
    try:
        _start_worker(plugins, sweep)
        while True:
            try:
                job = conn.recv()
            except EOFError:  # the sweep's process is gone or done
                return
            conn.send(("trials", run_together(*job)))
    except Exception as exc:  # noqa: BLE001 - reported by the sweep's process, which raises it
        conn.send(("error", _sendable(exc)))


def _work_on(job: tuple, abandoned: Callable[[], bool]) -> tuple[str, object]:
    """A job of the sweep on a cluster's worker (:mod:`graphnet.app.cluster`): its trials, or its error as the
    pool's workers send it."""
    try:
        return "trials", run_together(*job, abandoned=abandoned)
    except Exception as exc:  # noqa: BLE001 - reported by the sweep's process, which raises it
        return "error", _sendable(exc)


def _sendable(exc: Exception) -> Exception:
    """``exc`` as the sweep's process can take it: a plugin's mistake named as the plugin's here, where the plugin
    is known (an error sent on loses its culprit and its traceback); one that cannot be pickled, as words."""
    exc = blame(exc) or exc
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{exc.__class__.__name__}: {exc} (in a sweep's worker)")
    return exc


_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _start_worker(plugins: tuple[str, ...], sweep: int) -> None:
    """A spawned worker starts with nothing the command loaded: the installed plugins and ``--plugin`` ones.

    It ignores SIGINT: a terminal's Ctrl-C reaches the whole process group, and the sweep's own process is the
    one that answers it, by stopping the workers and keeping the trials that finished. SIGTERM and SIGHUP end it
    at once, quietly. If the sweep's process (``sweep``, its parent) ends without stopping it (killed by SIGKILL,
    which nothing can answer), the worker ends too, within a second, rather than train on for nobody: even if
    that happened while the worker was still starting.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == sweep:
            time.sleep(WATCH_SECONDS)
        os._exit(1)  # nothing of its own to write: its trials are reported by the process that is gone

    threading.Thread(target=watch, name="graphnet sweep watch", daemon=True).start()
    load_entry_points()
    load_plugins(plugins)


WATCH_SECONDS = 0.5  # how often a worker checks that the sweep's process is still there


# Every row of a sweep's CSV ends with what its numbers depend on besides its setting and seed, so that
# --resume can tell a CSV of this sweep from one of another: how often "solved" was checked, and the task.
STAMP = ("check_every", "task")
COLUMNS = (*Trial.__dataclass_fields__, *STAMP)


def stamp(task: Task, check_every: int) -> dict[str, str]:
    """The columns every row of a sweep of ``task`` carries: ``check_every``, and ``task``, 12 hex digits of a
    digest of the task's settings (all but ``training.seed`` and ``training.log_every``, which each trial sets)
    and of the plugins it names."""
    settings = task.as_dict()
    for key in ("seed", "log_every"):
        settings["training"].pop(key)
    text = json.dumps({"settings": settings, "plugins": list(task.plugins)}, sort_keys=True)
    return {"check_every": str(check_every), "task": hashlib.sha256(text.encode()).hexdigest()[:12]}


def write_csv(path: str | Path, trials: Sequence[Trial], stamped: dict[str, str]) -> None:
    """Write the trials as CSV, each row ``stamped`` (:func:`stamp`), atomically (temporary file in the same
    folder, flushed, renamed)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS)
    writer.writeheader()
    for trial in trials:
        writer.writerow({**asdict(trial), **stamped})
    write_bytes(path, text.getvalue().encode())


def read_csv(path: str | Path, stamped: dict[str, str], grid: dict[str, list[str]] | None = None,
             seeds: int | None = None) -> list[Trial]:
    """The trials of a sweep's CSV at ``path``, written with ``stamped`` (:func:`stamp`); a file that is not a
    sweep's CSV, is damaged, or holds trials of another task, checked at other intervals or (given ``grid`` and
    ``seeds``) not among that sweep's is refused in one line (:class:`~graphnet.errors.SweepError`) naming it."""
    path = Path(path)
    wanted = None if grid is None or seeds is None else \
        {(" ".join(combo), seed) for combo in settings(grid) for seed in range(seeds)}
    seen: set[tuple[str, int]] = set()
    check_readable(path, "sweep's CSV", ".csv", SweepError, max_bytes=MAX_CSV_BYTES)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SweepError(f"{path}: cannot read it as a CSV ({exc.__class__.__name__}: {exc})") from None
    if not rows or tuple(rows[0]) != COLUMNS:
        found = ",".join(rows[0]) if rows else "nothing"
        older = " (a CSV of an older graphnet, which did not record its task)" if rows and \
            tuple(rows[0]) == COLUMNS[:-len(STAMP)] else ""
        raise SweepError(f"{path}: not a sweep's CSV{older}: its first line is {found[:120]!r}, expected "
                         f"{','.join(COLUMNS)!r}")
    trials = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(COLUMNS):
            raise SweepError(f"{path}: line {number}: {len(row)} values, expected {len(COLUMNS)}; a damaged CSV")
        values = dict(zip(COLUMNS, row))
        if values["check_every"] != stamped["check_every"]:
            raise SweepError(f"{path}: line {number}: its trial was checked every {values['check_every']} "
                             f"iterations, this sweep every {stamped['check_every']}; give --check-every "
                             f"{values['check_every']} to resume it")
        if values["task"] != stamped["task"]:
            raise SweepError(f"{path}: line {number}: its trial is of another task (digest {values['task']}, this "
                             f"task's is {stamped['task']}): the task file or its settings changed since; resume "
                             "with the task it was made with, or give another --csv")
        try:
            trials.append(Trial(values["setting"], int(values["seed"]), _bool(values["solved"]),
                                int(values["iterations"]), float(values["seconds"]), float(values["accuracy"]),
                                _bool(values["diverged"])))
        except ValueError as exc:
            raise SweepError(f"{path}: line {number}: {exc}; a damaged CSV") from None
        trial = (trials[-1].setting, trials[-1].seed)
        if trial in seen:
            raise SweepError(f"{path}: line {number}: {trial[0]} seed {trial[1]} a second time; a damaged CSV")
        seen.add(trial)
        if wanted is not None and trial not in wanted:
            raise SweepError(f"{path}: line {number}: {trial[0]} seed {trial[1]} is not a trial of this sweep; "
                             "resume with the --set and --seeds it was made with, or give another --csv")
    return trials


MAX_CSV_BYTES = 1 << 30  # far more than the rows of the largest sweep (10,000 seeds of many settings)


def _bool(text: str) -> bool:
    if text not in ("True", "False"):
        raise ValueError(f"expected True or False, got {text!r}")
    return text == "True"


def table(trials: Sequence[Trial]) -> str:
    """Per setting: runs solved, and median iterations and seconds to solve (over the solved runs); and, when a
    run diverged, how many of each setting's did."""
    width = max([len("setting"), *(len(t.setting) for t in trials)]) + 2  # the longest setting, as a column
    diverged = any(t.diverged for t in trials)
    lines = [f"{'setting':<{width}}{'solved':>8}{'median iterations':>19}{'median seconds':>16}"
             + (f"{'diverged':>10}" if diverged else "")]
    for setting in dict.fromkeys(t.setting for t in trials):
        runs = [t for t in trials if t.setting == setting]
        won = [t for t in runs if t.solved]
        its = f"{statistics.median(t.iterations for t in won):,.0f}" if won else "-"
        secs = f"{statistics.median(t.seconds for t in won):.2f}" if won else "-"
        lost = f"{sum(t.diverged for t in runs)}/{len(runs)}" if diverged else ""
        lines.append(f"{setting:<{width}}{f'{len(won)}/{len(runs)}':>8}{its:>19}{secs:>16}{lost:>{len(lost) and 10}}")
    return "\n".join(lines)


def diverged_note(trials: Sequence[Trial]) -> str:
    """One line naming the settings whose runs diverged, if any did: ``diverged (a NaN or inf): S in 2 of 2 seeds;
    ...``; ``""`` if none did."""
    settings = list(dict.fromkeys(t.setting for t in trials if t.diverged))
    if not settings:
        return ""
    counts = [f"{s} in {sum(t.diverged for t in trials if t.setting == s)} of "
              f"{sum(t.setting == s for t in trials)} seeds" for s in settings]
    return (f"diverged (a NaN or inf in the loss or a gradient; their rows say diverged): {'; '.join(counts)}; "
            "a lower training.learning_rate may train them")


def plot(path: str | Path, trials: Sequence[Trial], *, title: str | None = None) -> bool:
    """Draw :func:`sweep_figure` to ``path`` (``.svg``, ``.png``) atomically, if matplotlib is there.

    Returns False (and writes nothing) without matplotlib: install the ``plot`` extra.
    """
    if not have_matplotlib():
        return False
    save_figure(sweep_figure(trials, title=title), path)
    return True


def sweep_figure(trials: Sequence[Trial], *, title: str | None = None) -> Figure:
    """Iterations and seconds to solve per setting, a panel each: every solved seed a dot, the median of a
    setting's solved runs a bar (joined by a line when one key is swept and two settings or more solved); under
    each setting its values, one line a key, and how many of its seeds solved. Needs matplotlib.
    """
    names = list(dict.fromkeys(t.setting for t in trials))
    runs = [[t for t in trials if t.setting == name] for name in names]
    keys = [override.split("=", 1)[0] for override in names[0].split(" ")] if names else []
    ticks = ["\n".join([*(o.split("=", 1)[-1] for o in name.split(" ")),
                         f"{sum(t.solved for t in group)}/{len(group)} solved",
                         *([f"{lost} diverged"] if (lost := sum(t.diverged for t in group)) else [])])
             for name, group in zip(names, runs)]
    # Room for the widest line under a setting (about 0.07 inch a character at 8 points), so no two touch; the
    # figure widens with the settings, and past what two panels side by side can take, they are stacked.
    slot = 0.25 + 0.07 * max((len(line) for tick in ticks for line in tick.splitlines()), default=1)
    panel = max(3.2, slot * len(names))
    side_by_side = 2 * panel + 1.8 <= 13
    lines = max((tick.count("\n") + 1 for tick in ticks), default=1)
    if side_by_side:
        figure = new_figure(2 * panel + 1.8, 2.9 + 0.15 * lines)
        axes = figure.subplots(1, 2)
    else:
        figure = new_figure(panel + 1.8, 5.0 + 0.15 * lines)
        axes = figure.subplots(2, 1, sharex=True)
    # A line through the medians says the settings are steps along one key; it needs two medians to join.
    joined = len(keys) == 1 and sum(any(t.solved for t in group) for group in runs) >= 2
    for ax, field, what in ((axes[0], "iterations", "iterations to solve"), (axes[1], "seconds", "seconds to solve")):
        medians = []
        for i, group in enumerate(runs):
            won = [t for t in group if t.solved]
            spread = np.linspace(-0.12, 0.12, len(won)) if len(won) > 1 else np.zeros(len(won))  # seeds side by side
            first = bool(won) and all(np.isnan(medians))  # the legend names the dots once, if there are any
            ax.scatter(i + spread, [getattr(t, field) for t in won], s=14, color="tab:blue", alpha=0.6, zorder=3,
                       label="a solved seed" if first else None)
            medians.append(statistics.median(getattr(t, field) for t in won) if won else np.nan)
        if not all(np.isnan(medians)):
            ax.plot(range(len(names)), medians, color="tab:orange", marker="_", markersize=18, markeredgewidth=2.5,
                    linestyle="-" if joined else "none", label="median of solved runs")
            ax.set_ylim(bottom=0)
        else:
            ax.text(0.5, 0.5, "no run solved", transform=ax.transAxes, ha="center", va="center", color="0.4")
            ax.set_yticks([])
        ax.set_xticks(range(len(names)), ticks, fontsize=8)
        ax.set_xlim(-0.6, len(names) - 0.4)
        ax.set_title(what)
        ax.grid(True, axis="y", alpha=0.3)
    shown = axes if side_by_side else axes[1:]  # stacked panels share the settings drawn under the lower one
    for ax in shown:
        if len(keys) == 1:
            ax.set_xlabel(keys[0])
        else:  # name each line of the labels under the settings at its left, as a table names its rows
            short = [k.split(".", 1)[-1] for k in keys]
            names_of_rows = short if len(set(short)) == len(short) else keys
            ax.annotate("\n".join(names_of_rows), xy=(0, 0), xycoords="axes fraction", xytext=(-6, -7),
                        textcoords="offset points", ha="right", va="top", fontsize=8, color="0.3")
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[0].legend(handles, labels, fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure
