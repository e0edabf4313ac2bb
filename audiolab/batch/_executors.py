"""Executors: run the per-file job over tasks on local worker processes or a Dask cluster.

Both call :func:`~audiolab.batch._job.process_file` on each task and hand every result to an
``emit`` callback as it arrives; a file whose worker dies fails on its own, never the batch.
"""

import json
import multiprocessing
import os
import re
import signal
import socket
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from audiolab._errors import ConfigError
from audiolab.batch._job import FileResult, FileTask, process_file

__all__ = ["connect_dask", "ctrl_c_held", "hear_ctrl_c", "run_dask", "run_local"]

Emit = Callable[[FileResult], None]

_BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# The largest plausible handshake message of a Dask scheduler (see _probe_scheduler).
_MAX_HANDSHAKE_BYTES = 1 << 20
_SCHEDULER_ADDRESS = re.compile(
    r"^(?:(?:tcp|tls|ws|wss|ucx)://)?(?:\[[0-9a-fA-F:.]+\]|[\w.\-]+):\d+$"
)


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Workers inherit the environment: one BLAS/OpenMP thread each (DESIGN.md, determinism)."""
    saved = {k: os.environ.get(k) for k in _BLAS_VARS}
    os.environ.update({k: "1" for k in _BLAS_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _crashed(task: FileTask, exc: BaseException) -> FileResult:
    """The result of a file whose worker process died under it."""
    return FileResult(
        input=task.input, output=task.output, status="failed",
        error=f"the worker process died while processing it ({type(exc).__name__})",
    )


@contextmanager
def ctrl_c_held() -> Iterator[None]:
    """Hold Ctrl-C while the worker processes start; act on it once they have.

    Ctrl-C reaches the whole process group. Taken while the fork server imports its preload
    modules, or while a worker is half launched, it leaves a traceback from that process on the
    terminal; so the fork server starts with SIGINT ignored (it ignores it itself once running)
    and a Ctrl-C meanwhile is raised here afterwards. Workers get Python's handler back from
    :func:`hear_ctrl_c`, so later a Ctrl-C stops the files in flight at once.
    """
    from multiprocessing import forkserver

    if threading.current_thread() is not threading.main_thread():
        forkserver.ensure_running()  # signal handlers can only be changed in the main thread
        yield
        return
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited by the fork server
    try:
        forkserver.ensure_running()
        signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt


def hear_ctrl_c() -> None:
    """Worker initializer: Ctrl-C raises KeyboardInterrupt again (see :func:`ctrl_c_held`)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _ready() -> None:
    """A task that does nothing: submitted once per worker to start them all."""


def run_local(
    tasks: Sequence[FileTask], *, jobs: int, emit: Emit, worker_init: Callable[[], None]
) -> None:
    """Run the tasks on local worker processes, or in this process if one process will do.

    Parameters
    ----------
    tasks : sequence of FileTask
        The files to process, in the order to start them.
    jobs : int
        Most worker processes to start (at least 1).
    emit : callable
        Called in this process with each :class:`FileResult` as it arrives.
    worker_init : callable
        Run in each worker process as it starts (:func:`hear_ctrl_c` gives it Ctrl-C back).
    """
    if jobs == 1 or len(tasks) <= 1:  # nothing to do or one file: no pool worth starting
        for t in tasks:
            emit(process_file(t))
        return
    # forkserver: workers fork from a clean server that preloads this module (numpy, scipy and the
    # C extension imported once), never from a parent that may hold threads or locks.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    with _single_threaded_blas():
        crashed = _run_pool(
            tasks, ctx, n_workers=min(jobs, len(tasks)), emit=emit, worker_init=worker_init
        )
        # A crash (e.g. the OOM killer) takes the pool down with every file in flight: give
        # each of those files a process of its own, so only the culprit fails.
        for t in crashed:
            with ProcessPoolExecutor(1, mp_context=ctx, initializer=worker_init) as solo:
                try:
                    emit(solo.submit(process_file, t).result())
                except BrokenProcessPool as exc:
                    emit(_crashed(t, exc))


def _run_pool(
    tasks: Sequence[FileTask],
    ctx: Any,
    *,
    n_workers: int,
    emit: Emit,
    worker_init: Callable[[], None],
) -> list[FileTask]:
    """Run the tasks on one pool of ``n_workers``; return those lost when a worker died."""
    crashed: list[FileTask] = []
    pool = None
    try:
        with ctrl_c_held():
            pool = ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=worker_init)
            try:
                wait([pool.submit(_ready) for _ in range(n_workers)])
            except BrokenProcessPool:
                pass  # met again just below, where it is handled
        futures: dict[Any, FileTask] = {}
        try:
            for t in tasks:
                futures[pool.submit(process_file, t)] = t
        except BrokenProcessPool:  # a worker died before its first file
            crashed.extend(tasks[len(futures):])
        for fut in as_completed(futures):
            try:
                emit(fut.result())
            except BrokenProcessPool:
                crashed.append(futures[fut])
    finally:
        # Interrupted: drop the queued files instead of waiting for the whole batch.
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return crashed


def _scheduler_address(scheduler: str) -> str:
    """The address that ``--scheduler`` names: itself, or the ``address`` in a scheduler file."""
    if scheduler.endswith(".json") and Path(scheduler).is_file():
        # Read here rather than by distributed: its error for a file that is not a scheduler
        # file is a bare AssertionError, and the client it leaves behind blocks for 20 s at exit.
        try:
            doc = json.loads(Path(scheduler).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"--scheduler {scheduler} is not a readable JSON file ({exc})"
            ) from None
        address = doc.get("address") if isinstance(doc, dict) else None
        if not isinstance(address, str) or not _SCHEDULER_ADDRESS.match(address):
            raise ConfigError(
                f"--scheduler {scheduler} is not a Dask scheduler file (no \"address\": "
                "\"tcp://HOST:PORT\"); give the file written by `dask scheduler --scheduler-file`"
            )
        return address
    if _SCHEDULER_ADDRESS.match(scheduler):
        return scheduler
    # Checked here: distributed's own error for a malformed address leaves a client behind
    # that blocks for 20 s at exit.
    raise ConfigError(
        f"--scheduler must be a Dask scheduler address tcp://HOST:PORT (or tls://, ws://, "
        f"wss://, ucx://) or an existing scheduler file (.json), got {scheduler!r}"
    )


def _probe_scheduler(address: str, shown: str, *, timeout_s: float) -> None:
    """Fail fast unless a Dask scheduler answers at a ``tcp://`` address.

    distributed retries a refused connection until its timeout, and waits forever on a port where
    something else listens (the dashboard's HTTP port is an easy mistake), so a TCP scheduler is
    probed first: it speaks first, with the length of its handshake message (8 bytes, the frame
    header of distributed.comm.tcp).
    """
    scheme, _, rest = address.rpartition("://")
    if scheme not in ("", "tcp"):
        return  # TLS, websockets, UCX: left to distributed's own timeout
    host, _, port = rest.rpartition(":")
    where = f"the Dask scheduler {shown}" + (f" ({address})" if shown != address else "")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout_s) as sock:
            sock.settimeout(timeout_s)
            head = b""
            while len(head) < 8:
                chunk = sock.recv(8 - len(head))
                if not chunk:
                    break
                head += chunk
    except ConnectionRefusedError:
        raise ConfigError(
            f"cannot connect to {where}: nothing listens there; start it (`dask scheduler`) "
            "or give the address it prints"
        ) from None
    except TimeoutError:
        head = b""
    except OSError as exc:
        raise ConfigError(f"cannot connect to {where}: {exc.strerror or exc}") from None
    size = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
    if not 0 < size <= _MAX_HANDSHAKE_BYTES:
        raise ConfigError(
            f"--scheduler {shown}: what listens there does not answer like a Dask scheduler (a "
            "dashboard? schedulers listen on 8786 by default); give the address `dask scheduler` "
            "prints"
        )


def connect_dask(scheduler: str, *, probe_timeout_s: float) -> Any:
    """A Dask client for ``scheduler``; ConfigError if no scheduler answers there.

    Parameters
    ----------
    scheduler : str
        Scheduler address (``tcp://HOST:PORT``, or tls://, ws://, wss://, ucx://) or the path
        of a scheduler file (.json).
    probe_timeout_s : float
        How long a ``tcp://`` scheduler has to answer the probe, in seconds.

    Returns
    -------
    distributed.Client
        Not set as the default client; the caller closes it.
    """
    try:
        import distributed
    except ImportError:
        raise ConfigError(
            "--scheduler needs Dask's distributed package: pip install 'audiolab[cluster]'"
        ) from None
    address = _scheduler_address(scheduler)
    _probe_scheduler(address, scheduler, timeout_s=probe_timeout_s)
    try:
        return distributed.Client(address, timeout="10s", set_as_default=False)
    except Exception as exc:  # OSError, TimeoutError
        raise ConfigError(
            f"cannot connect to the Dask scheduler {scheduler} ({type(exc).__name__}: {exc}); "
            "give its address as tcp://HOST:PORT or a scheduler file"
        ) from None


def run_dask(client: Any, tasks: Sequence[FileTask], *, emit: Emit) -> None:
    """Run the tasks on the Dask cluster of ``client``; ``emit`` gets each result as it arrives.

    A task the cluster cannot run (its worker died) gives a "failed" result; interrupted, the
    tasks still queued are cancelled so the cluster is not left busy with this batch.
    """
    import distributed

    futures = client.map(process_file, list(tasks), pure=False)
    by_key = {f.key: t for f, t in zip(futures, tasks, strict=True)}
    try:
        for fut in distributed.as_completed(futures, loop=client.loop):
            try:
                emit(fut.result())
            except Exception as exc:  # the worker died or could not run the function
                t = by_key[fut.key]
                emit(FileResult(
                    input=t.input, output=t.output, status="failed",
                    error=f"the Dask cluster could not process it ({type(exc).__name__}: {exc})",
                ))
    finally:
        client.cancel(futures)  # interrupted: do not leave the cluster busy with this batch
