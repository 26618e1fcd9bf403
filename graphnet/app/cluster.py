"""A sweep's trials on a dask.distributed cluster: ``graphnet sweep ... --scheduler ADDRESS`` (the ``distributed``
extra).

graphnet does not grow an engine of its own for many machines: it hands its groups of trials (a setting's seeds
trained as one program, as on the process pool) to dask.distributed, which places them on workers, moves them
off a worker that dies and streams their results back. ``ADDRESS`` is ``local`` (a ``LocalCluster`` on this
machine, a worker a core, closed when the sweep ends) or ``tcp://HOST:PORT``, a ``dask scheduler`` that
``dask worker`` processes on other machines joined (left running when the sweep ends).

What a job needs reaches the worker with it: the task (plain data), the trials, and the text of the plugin files
(``--plugin`` ones and those the task file names), which the worker writes to a folder of its own and loads once.
Every worker must have graphnet installed, the same code as this machine's: a worker without it, or with
another version (or another checkout), is named in one line before any work (and a worker that joins later
refuses its first job the same way).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import os
import re
import signal
import sys
import tempfile
import threading
import uuid
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from ..errors import GraphnetError, SweepError, UsageError
from .plugins import _loaded_from, load_entry_points, load_plugins
from .stopping import finishing
from .tasks import Task

if TYPE_CHECKING:
    from distributed import Client

DISTRIBUTION = "graphnet-rnn"  # graphnet's name on the package index (pyproject.toml)
INSTALL = "pip install -e '.[distributed]' in the checkout (dask.distributed)"
LOCAL = "local"


class WorkerMismatch(SweepError):
    """A worker that cannot run this machine's trials: no graphnet, or another version of it."""


@functools.cache
def code_identity() -> tuple[str, str]:
    """graphnet's version and 12 hex digits of a digest of its code (every ``.py`` file of the package): two
    checkouts of one version that differ (a learner's edited node type) differ here. Read once a process, as
    near as can be to when it imported graphnet: a file edited since is not the code it runs."""
    try:
        version = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # a checkout on the path, not installed
        version = "(not installed)"
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return version, digest.hexdigest()[:12]


def require_distributed(option: str = "--scheduler") -> None:
    """Refuse, in one line, ``option`` without dask.distributed installed."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError(f"{option}: needs the 'distributed' extra: {INSTALL}") from None


@contextmanager
def connected(address: str, workers: int | None = None) -> Iterator[Client]:
    """A client of the cluster at ``address`` (``local``: a ``LocalCluster`` of ``workers`` processes, default a
    core each, started here and closed after), once every worker has been found to run this graphnet. A
    scheduler that cannot be reached, that has no worker, or a worker that cannot run graphnet's trials is one
    line (:class:`~graphnet.errors.SweepError`) before any work. However it ends, the client is closed and a
    cluster started here is too; a remote cluster is left running, as it was found."""
    require_distributed()
    import distributed

    # dask logs a worker's death, a job given up, a lost connection: the sweep says those itself, in one line
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    cluster = None
    try:
        if address == LOCAL:
            with _deaf_children():
                cluster = distributed.LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                                   processes=True, dashboard_address=":0", silence_logs=logging.CRITICAL,
                                                   preload=[__name__])  # each worker runs dask_setup below
                client = distributed.Client(cluster)
        else:
            if not re.fullmatch(r"(tcp|tls)://[^\s/]+:\d+", address):
                raise UsageError(f"--scheduler {address!r}: expected 'local' or a scheduler's address, "
                                 "tcp://HOST:PORT (as `dask scheduler` prints it)")
            try:
                client = distributed.Client(address)
            except (OSError, TimeoutError) as exc:
                raise SweepError(f"--scheduler {address}: cannot reach it ({exc}); is `dask scheduler` running "
                                 "there, and the port open?") from None
        try:
            _check_workers(client, address)
            yield client
        finally:
            with finishing():  # a second Ctrl-C must not leave the client or a local cluster behind
                client.close()
    finally:
        if cluster is not None:
            with finishing():
                cluster.close()


@contextmanager
def _deaf_children() -> Iterator[None]:
    """Within it, SIGINT and SIGHUP wait (blocked, not lost) in this thread, and every thread and process started
    meanwhile is born with them blocked: a LocalCluster's event loop, its workers, multiprocessing's resource
    tracker. A terminal's Ctrl-C, or its closing, reaches the whole process group, and the sweep's own process is
    the one that answers it, by closing the cluster (which ends the workers with SIGTERM); the workers would
    otherwise each die of it with a traceback. A signal that came meanwhile is delivered when it ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGHUP})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def dask_setup(worker) -> None:
    """Run by each worker of a LocalCluster the sweep starts, as it starts (a dask preload): it ignores SIGINT.
    A terminal's Ctrl-C reaches the whole process group; the sweep's own process answers it, by closing the
    cluster. (SIGINT is not among the signals :func:`_deaf_children` keeps from the workers: Python unblocks it
    as it starts.)"""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _check_workers(client: Client, address: str) -> None:
    """Refuse a cluster without workers, and name a worker that cannot run this graphnet's trials."""
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT)
    except (TimeoutError, OSError):
        raise SweepError(f"--scheduler {address}: no worker has joined it (in {WORKER_WAIT} s); start some with "
                         f"`dask worker {address} --nthreads 1`") from None
    mine = code_identity()
    for worker, answer in sorted(client.run(_about_worker, mine, on_error="return").items()):
        if isinstance(answer, BaseException):
            raise _mismatch(worker, answer) from None


WORKER_WAIT = 30  # seconds a sweep waits for a first worker to join its scheduler


def _about_worker(expected: tuple[str, str]) -> tuple[str, str]:
    """Run on a worker: this worker's graphnet, refused unless it is ``expected``."""
    mine = code_identity()
    if mine != expected:
        raise WorkerMismatch(f"runs graphnet {mine[0]} (code {mine[1]}), this machine graphnet {expected[0]} (code "
                             f"{expected[1]}); install the same graphnet on every machine")
    return mine


def _mismatch(worker: str, error: BaseException) -> SweepError:
    """The one line that says why ``worker`` cannot run the trials."""
    if isinstance(error, WorkerMismatch):
        return SweepError(f"--scheduler: worker {worker} {error}")
    text = f"{error.__class__.__name__}: {error}"
    missing = re.search(r"No module named '(graphnet[\w.]*)'", text)  # the worker could not read our function
    if missing:
        return SweepError(f"--scheduler: worker {worker} has no graphnet (No module named {missing.group(1)!r}); "
                          "install graphnet there, the same as this machine's, in the Python that runs `dask worker`")
    return SweepError(f"--scheduler: worker {worker} cannot run graphnet's trials ({text})")


def plugin_files(task: Task, plugins: Sequence[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """What a worker must load: the plugin files, as (file name, text), and the plugins that are modules of
    installed packages (names, to be installed on the workers as graphnet is): of ``plugins`` (the command's
    ``--plugin``) and of those the task file names, each found as this machine found it."""
    files, modules = [], []
    named = [(spec, Path.cwd()) for spec in plugins] + [(spec, Path(task.source).parent) for spec in task.plugins]
    for spec, folder in named:
        path = _plugin_file(spec.strip(), folder)
        if path is None:
            modules.append(spec.strip())
        else:
            files.append((path.name, path.read_text(encoding="utf-8")))
    return files, modules


def _plugin_file(spec: str, folder: Path) -> Path | None:
    if spec.endswith(".py"):
        return (Path(spec) if Path(spec).is_absolute() else folder / spec).resolve()
    for place in (folder, Path.cwd()):  # a module name: a file beside the task or in the current folder
        if (place / f"{spec}.py").is_file():
            return (place / f"{spec}.py").resolve()
    return None


def run_on_cluster(client: Client, jobs: list[tuple], plugins: tuple[list[tuple[str, str]], list[str]],
                   done: Callable[[int, list], None], work: Callable) -> None:
    """Run ``jobs`` on the cluster, each as ``work(job, abandoned)`` on a worker (it returns ``("trials",
    trials)`` or ``("error", exc)``), after the ``plugins`` (:func:`plugin_files`), calling ``done(i,
    trials)`` as each finishes, in the order they finish. A job whose workers died is run again elsewhere (dask
    does, up to ``distributed.scheduler.allowed-failures`` times); one that still did not finish, or that
    raised, ends the sweep in one line. However this returns (done, a signal, an error), nothing of its jobs is
    left on the cluster: those not finished are cancelled."""
    import distributed

    sweep = uuid.uuid4().hex[:8]  # jobs' keys of their own, so that two sweeps on one cluster never share one
    identity = code_identity()
    futures = {client.submit(_job, work, job, plugins, identity, key=f"graphnet-sweep-{sweep}-{i}", pure=False): i
               for i, job in enumerate(jobs)}
    try:
        for future in distributed.as_completed(list(futures)):
            i = futures[future]
            try:
                kind, payload = future.result()
            except distributed.client.FutureCancelledError:  # noqa: PERF203
                raise SweepError("the sweep's jobs were cancelled on the cluster (the scheduler was restarted?)"
                                 ) from None
            except Exception as exc:  # noqa: BLE001 - KilledWorker, the scheduler lost, a worker unfit
                if isinstance(exc, WorkerMismatch) or re.search(r"No module named 'graphnet", str(exc)):
                    raise _mismatch("that joined during the sweep", exc) from None
                raise SweepError(_lost(jobs[i], exc)) from None
            if kind == "error":
                raise payload
            done(i, payload)
    finally:
        with finishing():
            client.cancel(list(futures), force=True)


def _lost(job: tuple, exc: Exception) -> str:
    trials = ", ".join(f"{' '.join(combo)} seed {seed}" for combo, seed in job[1])
    if exc.__class__.__name__ == "KilledWorker":
        return (f"the workers that ran {trials} died each time ({exc.__class__.__name__}: out of memory, or killed?);"
                " the trials that finished are written, --resume runs the others")
    return f"{trials} could not be run on the cluster ({exc.__class__.__name__}: {exc})"


def _job(work: Callable, job: tuple, plugins: tuple[list[tuple[str, str]], list[str]], expected: tuple[str, str]
         ) -> tuple[str, object]:
    """Run on a worker: one job of the sweep, after the plugins it needs: ``work(job, abandoned)`` (the sweep's),
    which returns its trials or its error, as the pool's workers send them."""
    _about_worker(expected)
    files, modules = plugins
    try:
        load_entry_points()
        for name, text in files:
            _load_file(name, text)
        load_plugins(modules)
    except GraphnetError as exc:  # a plugin's mistake, named so
        return "error", exc
    task, *rest = job
    return work((replace(task, plugins=()), *rest), _abandoned)  # the task's plugins are loaded already


# On a worker: each plugin file loaded, by its name, and where the text loaded was written. A worker outlives a
# sweep, and a learner edits a plugin between two sweeps: the next sweep's text replaces the earlier one's.
_FILES: dict[str, Path] = {}


def _load_file(name: str, text: str) -> None:
    """Load the plugin file ``name`` with ``text`` on this worker, in place of another text of it loaded for an
    earlier sweep: what that one registered is forgotten first, and the networks built with it."""
    path = _written(name, text)
    earlier = _FILES.get(name)
    if earlier is not None and earlier != path:
        _forget(earlier)
    load_plugins([str(path)])
    _FILES[name] = path


def _forget(path: Path) -> None:
    """Forget the plugin loaded from ``path``: the node types, cells and generators it registered, its module, and
    every network built (which hold its node types)."""
    from ..engine.node import registered_nodes, unregister_node
    from ..rnn.cells import registered_cells, unregister_cell
    from ..rnn.data import registered_generators, unregister_generator
    from .tasks import _network

    module = _loaded_from(path.resolve())
    if module is None:
        return
    for registered, unregister in ((registered_nodes, unregister_node), (registered_cells, unregister_cell),
                                   (registered_generators, unregister_generator)):
        for name, thing in registered().items():
            if type(thing).__module__ == module.__name__:
                unregister(name)
    sys.modules.pop(module.__name__, None)
    _network.cache_clear()


def _written(name: str, text: str) -> Path:
    """A plugin's text as a file on this worker, in a folder named by its digest: one text is one file, loaded
    once per process however many jobs bring it."""
    folder = Path(tempfile.gettempdir()) / f"graphnet-plugins-{os.getuid()}" / hashlib.sha256(text.encode()).hexdigest()[:16]
    path = folder / name
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        part = folder / f".{name}.{os.getpid()}.tmp"
        part.write_text(text, encoding="utf-8")
        os.replace(part, path)  # whole or not at all: another worker of this machine may be writing it too
    return path


def _abandoned() -> bool:
    """Run on a worker, in a job: whether the sweep gave the job up (cancelled it: the sweep was stopped, or
    ended in an error). dask cannot stop a job that is running, so the job asks at each check, and stops."""
    from distributed import get_worker
    from distributed.worker import thread_state

    state = get_worker().state.tasks.get(getattr(thread_state, "key", None))
    return state is None or state.state in ("cancelled", "released", "forgotten")
