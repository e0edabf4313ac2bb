"""Batch processing of sound files through a chain, on local processes or a Dask cluster.

The work on one file is the pure function :func:`process_file` (task in, result out, the output
file written atomically), so the local process pool and Dask run exactly the same code and give
bit-identical outputs: every file starts from a freshly built chain, nothing depends on the
order or the process it runs in, and BLAS is single-threaded in every worker.
"""

import json
import math
import multiprocessing
import os
import re
import signal
import socket
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from audiolab._audio_io import AUDIO_EXTENSIONS, read_audio, write_audio
from audiolab._errors import AudiolabError, ConfigError, SignalError
from audiolab._validate import check_int, check_real
from audiolab.calibration import digital_to_pa_scale, rms_db_spl, scale_to_db_spl
from audiolab.dsp import resample
from audiolab.models._chain import Chain, ChainSpec, build_chain, load_chain

__all__ = [
    "BatchReport",
    "FileResult",
    "FileTask",
    "LevelOptions",
    "MANIFEST_NAME",
    "collect_inputs",
    "process_file",
    "run_batch",
    "simulation_chain",
]

MANIFEST_NAME = "manifest.json"
# Block size for running the chain: bounds the stages' working memory on long files (block-split
# processing equals whole-signal processing, so it does not change the output).
BLOCK_FRAMES = 1 << 16
_BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_OK_STATUSES = ("processed", "up-to-date")
# Probe of a tcp:// scheduler: how long to wait, and the largest plausible handshake message.
_PROBE_TIMEOUT_S = 5.0
_MAX_HANDSHAKE_BYTES = 1 << 20
_SCHEDULER_ADDRESS = re.compile(
    r"^(?:(?:tcp|tls|ws|wss|ucx)://)?(?:\[[0-9a-fA-F:.]+\]|[\w.\-]+):\d+$"
)

CONVENTION = (
    "Samples in the input and output files are digital full scale 1.0; a full-scale sine "
    "(peak 1.0) stands for levels.full_scale_db_spl dB SPL on input (unless levels.level_db_spl "
    "sets each file's RMS over all channels) and for levels.output_full_scale_db_spl dB SPL in "
    "the outputs. Outputs are float32 WAV, never clipped, stereo (left, right), with the input's "
    "sample rate and frame count; the chain's delay (latency_samples) is not compensated."
)


@dataclass(frozen=True)
class LevelOptions:
    """How digital samples map to sound pressure, on input and output.

    Parameters
    ----------
    full_scale_db_spl : float
        dB SPL of a full-scale sine in the files (input, and always output), in [0, 200].
    level_db_spl : float or None
        If given, each input is scaled so that its RMS over all channels is this many dB SPL
        (in [-20, 160]); ``full_scale_db_spl`` then applies to the outputs only.
    """

    full_scale_db_spl: float = 100.0
    level_db_spl: float | None = None

    def __post_init__(self) -> None:
        check_real("full_scale_db_spl", self.full_scale_db_spl, low=0, high=200)
        if self.level_db_spl is not None:
            check_real("level_db_spl", self.level_db_spl, low=-20, high=160)

    def as_dict(self) -> dict[str, Any]:
        """The manifest's ``levels`` record."""
        rms = self.level_db_spl is not None
        return {
            "mode": "rms" if rms else "full-scale",
            "full_scale_db_spl": None if rms else float(self.full_scale_db_spl),
            "level_db_spl": None if not rms else float(self.level_db_spl),  # type: ignore[arg-type]
            "output_full_scale_db_spl": float(self.full_scale_db_spl),
        }


@dataclass(frozen=True)
class FileTask:
    """Everything needed to process one file, with no reference to the process running it."""

    input: str
    output: str
    chain: ChainSpec
    levels: LevelOptions


@dataclass(frozen=True)
class FileResult:
    """What happened to one file (one entry of the manifest's ``files``)."""

    input: str
    output: str
    status: str  # "processed", "up-to-date" or "failed"
    error: str | None = None
    fs: int | None = None
    processing_fs: float | None = None
    resampled: bool = False
    n_frames: int | None = None
    input_channels: int | None = None
    output_channels: int | None = None
    input_level_db_spl: float | None = None
    output_level_db_spl: float | None = None
    latency_samples: int | None = None
    seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``extra`` merged in)."""
        d = asdict(self)
        d.update(d.pop("extra"))
        return d


@dataclass(frozen=True)
class BatchReport:
    """Outcome of :func:`run_batch`: one result per input, in input order."""

    results: tuple[FileResult, ...]
    manifest_path: Path
    out_dir: Path

    def _with(self, status: str) -> list[FileResult]:
        return [r for r in self.results if r.status == status]

    @property
    def processed(self) -> list[FileResult]:
        """Files processed in this run."""
        return self._with("processed")

    @property
    def skipped(self) -> list[FileResult]:
        """Files whose output was already up to date."""
        return self._with("up-to-date")

    @property
    def failed(self) -> list[FileResult]:
        """Files that could not be processed (``error`` says why)."""
        return self._with("failed")

    @property
    def exit_code(self) -> int:
        """1 if any file failed, else 0 (the CLI's exit code)."""
        return 1 if self.failed else 0


# -- the per-file work
_CACHE = threading.local()
_CACHE_SIZE = 4


def _chain_at(spec: ChainSpec, fs: float) -> Chain:
    """A chain at rest for ``spec`` at ``fs``: built once per worker thread, then reset.

    Building a fitted hearing aid costs about a third of processing a 30 s file with it, so a
    worker keeps the chains it built (per thread: Dask runs several tasks at once in one
    process). ``reset()`` returns a processor exactly to rest (the processor protocol, tested
    for every stage), so a reused chain gives the same samples as a fresh one.
    """
    cache: OrderedDict[tuple[str, float], Chain] = getattr(_CACHE, "chains", None) or OrderedDict()
    _CACHE.chains = cache
    key = (json.dumps([spec.to_dict(), [s.target for s in spec.stages]], sort_keys=True), fs)
    chain = cache.pop(key, None)
    if chain is None:
        chain = build_chain(spec, fs=fs)
    else:
        chain.reset()
    cache[key] = chain
    while len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)
    return chain


def _run_chain(spec: ChainSpec, x: np.ndarray, fs: float) -> tuple[np.ndarray, int]:
    try:
        chain = _chain_at(spec, fs)
    except ConfigError as exc:  # e.g. a stage that does not support this rate
        raise ConfigError(f"the chain cannot run at {fs:g} Hz: {exc}") from None
    y = np.empty_like(x)
    for start in range(0, x.shape[1], BLOCK_FRAMES):
        stop = min(start + BLOCK_FRAMES, x.shape[1])
        y[:, start:stop] = chain.process(x[:, start:stop])
    return y, chain.latency_samples


def process_file(task: FileTask) -> FileResult:
    """Process one file through the chain and write its output; never raises for a bad file.

    Reads ``task.input``, converts it to Pa by ``task.levels``, presents a mono file to both
    ears, resamples to the chain's ``fs`` and back if they differ, runs the chain from rest in
    blocks, and writes ``task.output`` (float32 WAV, input rate and frame count, unclipped).
    The result depends on the task only, not on the process or the files processed before.

    Returns
    -------
    FileResult
        ``status`` "processed", or "failed" with ``error`` one line saying why.
    """
    t0 = time.perf_counter()
    path = task.input
    info: dict[str, Any] = {}
    try:
        audio = read_audio(path)
        info.update(fs=audio.fs, n_frames=audio.n_frames, input_channels=audio.n_channels)
        if audio.n_channels > 2:
            raise SignalError(
                f"has {audio.n_channels} channels; give mono or stereo (left, right) files"
            )
        x = audio.data.astype(np.float64)
        levels = task.levels
        if levels.level_db_spl is None:
            scale = digital_to_pa_scale(levels.full_scale_db_spl)
            x_pa = np.ascontiguousarray(x * scale, np.float32)
        else:
            x_pa = scale_to_db_spl(x, levels.level_db_spl, what="the file")
        if audio.n_channels == 1:
            x_pa = np.repeat(x_pa, 2, axis=0)  # one signal presented to both ears
        rate = task.chain.fs if task.chain.fs is not None else float(audio.fs)
        resampled = rate != audio.fs
        info.update(processing_fs=rate, resampled=resampled, output_channels=2)
        info["input_level_db_spl"] = rms_db_spl(x_pa)
        if resampled:
            x_pa = resample(x_pa, fs_in=audio.fs, fs_out=rate)
        y, latency = _run_chain(task.chain, x_pa, rate)
        if resampled:
            y = resample(y, fs_in=rate, fs_out=audio.fs, n_out=audio.n_frames)
        if not np.isfinite(y).all():
            raise SignalError("the chain produced NaN or inf samples")
        info["latency_samples"] = latency
        info["output_level_db_spl"] = rms_db_spl(y)
        out = np.ascontiguousarray(
            y.astype(np.float64) / digital_to_pa_scale(levels.full_scale_db_spl), np.float32
        )
        write_audio(task.output, out, fs=audio.fs)
        status, error = "processed", None
    except AudiolabError as exc:
        status, error = "failed", _strip_path(str(exc), path)
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        status, error = "failed", f"{exc.strerror or exc}{where}"
    except MemoryError:
        status, error = "failed", "out of memory"
    except Exception as exc:  # a bug must not stop the other files; report it in full
        status, error = "failed", f"internal error ({type(exc).__name__}: {exc})"
    return FileResult(
        input=path, output=task.output, status=status, error=error,
        seconds=time.perf_counter() - t0, **info,
    )


def _strip_path(message: str, path: str) -> str:
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


# -- inputs
def _walk(folder: Path, exclude: Path | None) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        here = Path(root)
        if exclude is not None and (here.resolve() == exclude or exclude in here.resolve().parents):
            dirs[:] = []
            continue
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in AUDIO_EXTENSIONS:
                found.append(here / name)
    return found


def collect_inputs(
    inputs: Sequence[str | os.PathLike[str]], *, exclude: Path | None = None
) -> list[Path]:
    """Expand files, folders (recursively, sound files by extension) and globs, in order.

    Parameters
    ----------
    inputs : sequence of str or path-like
        Each a file (taken as given, whatever its extension), a folder, or a glob pattern
        (``**`` recurses).
    exclude : Path, optional
        A folder whose contents folder walks skip (the output folder).

    Raises
    ------
    ConfigError
        An input that does not exist, a glob matching nothing, or a folder with no sound files.
    """
    import glob

    exclude = exclude.resolve() if exclude is not None else None
    out: list[Path] = []
    for item in inputs:
        text = os.fspath(item)
        if not text:  # Path("") is the current folder: an unset shell variable, not "walk here"
            raise ConfigError("an input is an empty string; give a file, folder or glob")
        path = Path(text)
        if path.is_dir():
            found = _walk(path, exclude)
            if not found:
                exts = ", ".join(sorted(AUDIO_EXTENSIONS))
                raise ConfigError(f"folder {text} holds no sound files (looked for {exts})")
            out.extend(found)
        elif path.exists():
            out.append(path)
        elif any(c in text for c in "*?["):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise ConfigError(f"{text!r} matches no file")
            for m in matches:
                out.extend(_walk(Path(m), exclude) if Path(m).is_dir() else [Path(m)])
        else:
            raise ConfigError(f"{text}: no such file or folder")
    seen: set[Path] = set()
    unique = []
    for p in out:
        r = p.resolve()
        if r not in seen:
            seen.add(r)
            # Absolute but not resolved: a symbolic link keeps its own name (and output stem).
            unique.append(Path(os.path.abspath(p)))
    return unique


def _output_paths(files: Sequence[Path], out_dir: Path) -> list[Path]:
    by_stem: dict[str, list[Path]] = {}
    for f in files:
        by_stem.setdefault(f.stem, []).append(f)
    clashes = {s: fs for s, fs in by_stem.items() if len(fs) > 1}
    if clashes:
        stem, paths = next(iter(clashes.items()))
        more = f" (and {len(clashes) - 1} more such stems)" if len(clashes) > 1 else ""
        raise ConfigError(
            f"inputs {', '.join(map(str, paths))} would all be written to "
            f"{out_dir / (stem + '.wav')}{more}; rename them or process them into separate "
            "folders"
        )
    outputs = [out_dir / f"{f.stem}.wav" for f in files]
    for f, o in zip(files, outputs, strict=True):
        if f.resolve() == o.resolve():
            raise ConfigError(
                f"input {f} would be overwritten by its own output; choose another --out"
            )
    return outputs


# -- up-to-date check
def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _normalised(value: Any) -> Any:
    """``value`` as it reads back from JSON; non-finite numbers (silence is -inf dB) as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _normalised(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalised(v) for v in value]
    return json.loads(json.dumps(value))


def _up_to_date(
    entry: Mapping[str, Any] | None, task: FileTask, chain_file: Path | None
) -> bool:
    """Whether a previous run's output can stand (see docs/readme/batch.md, "Up to date")."""
    if not entry or entry.get("status") not in _OK_STATUSES or entry.get("input") != task.input:
        return False
    try:
        src = os.stat(task.input)
        dst = os.stat(task.output)
    except OSError:
        return False
    if entry.get("input_size") != src.st_size or entry.get("input_mtime_ns") != src.st_mtime_ns:
        return False
    newest_source = src.st_mtime_ns
    if chain_file is not None:
        try:
            newest_source = max(newest_source, os.stat(chain_file).st_mtime_ns)
        except OSError:
            return False
    return dst.st_mtime_ns >= newest_source and entry.get("output_size") == dst.st_size


# -- executors
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
    return FileResult(
        input=task.input, output=task.output, status="failed",
        error=f"the worker process died while processing it ({type(exc).__name__})",
    )


@contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """Hold Ctrl-C while the worker processes start; act on it once they have.

    Ctrl-C reaches the whole process group. Taken while the fork server imports its preload
    modules, or while a worker is half launched, it leaves a traceback from that process on the
    terminal; so the fork server starts with SIGINT ignored (it ignores it itself once running)
    and a Ctrl-C meanwhile is raised here afterwards. Workers get Python's handler back from
    :func:`_hear_ctrl_c`, so later a Ctrl-C stops the files in flight at once.
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


def _hear_ctrl_c() -> None:
    """Worker initializer: Ctrl-C raises KeyboardInterrupt again (see :func:`_ctrl_c_held`)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _ready() -> None:
    """A task that does nothing: submitted once per worker to start them all."""


def _run_local(tasks: Sequence[FileTask], jobs: int, emit: Callable[[FileResult], None]) -> None:
    if jobs == 1 or len(tasks) == 1:
        for t in tasks:
            emit(process_file(t))
        return
    # forkserver: workers fork from a clean server that preloads this module (numpy, scipy and the
    # C extension imported once), never from a parent that may hold threads or locks.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    crashed: list[FileTask] = []
    n_workers = min(jobs, len(tasks))
    with _single_threaded_blas():
        pool = None
        try:
            with _ctrl_c_held():
                pool = ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=_hear_ctrl_c)
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
        # A crash (e.g. the OOM killer) takes the pool down with every file in flight: give
        # each of those files a process of its own, so only the culprit fails.
        for t in crashed:
            with ProcessPoolExecutor(1, mp_context=ctx, initializer=_hear_ctrl_c) as solo:
                try:
                    emit(solo.submit(process_file, t).result())
                except BrokenProcessPool as exc:
                    emit(_crashed(t, exc))


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


def _probe_scheduler(address: str, shown: str) -> None:
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
        with socket.create_connection((host.strip("[]"), int(port)), _PROBE_TIMEOUT_S) as sock:
            sock.settimeout(_PROBE_TIMEOUT_S)
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


def _connect_dask(scheduler: str) -> Any:
    """A Dask client for ``scheduler`` (address or scheduler file); ConfigError if unreachable."""
    try:
        import distributed
    except ImportError:
        raise ConfigError(
            "--scheduler needs Dask's distributed package: pip install 'audiolab[cluster]'"
        ) from None
    address = _scheduler_address(scheduler)
    _probe_scheduler(address, scheduler)
    try:
        return distributed.Client(address, timeout="10s", set_as_default=False)
    except Exception as exc:  # OSError, TimeoutError
        raise ConfigError(
            f"cannot connect to the Dask scheduler {scheduler} ({type(exc).__name__}: {exc}); "
            "give its address as tcp://HOST:PORT or a scheduler file"
        ) from None


def _run_dask(client: Any, tasks: Sequence[FileTask], emit: Callable[[FileResult], None]) -> None:
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


# -- progress
class _Progress:
    """A one-line progress bar on a terminal; a line per tenth of the batch otherwise."""

    def __init__(self, total: int, *, stream: IO[str] | None, label: str) -> None:
        self.total = total
        self.stream = stream
        self.label = label
        self.done = 0
        self.failed = 0
        self.t0 = time.monotonic()
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self._last_tenth = 0
        if self.tty and total and stream is not None:  # something to see while the first file runs
            stream.write(self._line())
            stream.flush()

    def update(self, result: FileResult) -> None:
        self.done += 1
        self.failed += result.status == "failed"
        if self.stream is None or self.total == 0:
            return
        if self.tty:
            self.stream.write("\r" + self._line())
            if self.done == self.total:
                self.stream.write("\n")
        else:
            tenth = 10 * self.done // self.total
            if tenth > self._last_tenth:
                self._last_tenth = tenth
                self.stream.write(self._line() + "\n")
        self.stream.flush()

    def _line(self) -> str:
        width = 30
        filled = width * self.done // self.total
        bar = "#" * filled + "." * (width - filled)
        fail = f", {self.failed} failed" if self.failed else ""
        if not self.done:
            return f"{self.label} [{bar}] 0/{self.total} files"
        left = (time.monotonic() - self.t0) / self.done * (self.total - self.done)
        return f"{self.label} [{bar}] {self.done}/{self.total} files{fail}, {left:4.0f} s left"


def simulation_chain(
    audiogram: str | os.PathLike[str], *, ci_channels: int | None = None
) -> ChainSpec:
    """The chain ``audiolab simulate`` runs: hearing-loss simulation, optionally a CI vocoder.

    Parameters
    ----------
    audiogram : str or path-like
        Preset name (``"N1"``..``"N7"``, ``"S1"``..``"S3"``) or audiogram file; a file path is
        made absolute so that workers in other folders (or on a cluster) find it.
    ci_channels : int, optional
        If given, an ``n_channels``-channel cochlear-implant vocoder (seed 1) follows the
        hearing-loss stage.

    Returns
    -------
    ChainSpec
        Validated like a chain file (an unknown preset or a bad file is a ConfigError).
    """
    text = os.fspath(audiogram)
    if Path(text).is_file():
        text = str(Path(text).resolve())
    stages: list[dict[str, Any]] = [{"type": "hearing-loss", "audiogram": text}]
    if ci_channels is not None:
        n = check_int("ci_channels", ci_channels, low=1)
        stages.append({"type": "ci-vocoder", "n_channels": n, "seed": 1})
    return load_chain({"stage": stages})


# -- the batch
def run_batch(
    inputs: Sequence[str | os.PathLike[str]],
    *,
    chain: "ChainSpec | str | os.PathLike[str] | Mapping[str, Any]",
    out_dir: str | os.PathLike[str],
    levels: LevelOptions | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    command: str = "process",
    progress: IO[str] | None = None,
) -> BatchReport:
    """Run a chain over files, folders or globs; write ``out_dir/<stem>.wav`` and a manifest.

    Parameters
    ----------
    inputs : sequence of str or path-like
        Files, folders (searched recursively for sound files) or glob patterns.
    chain : ChainSpec, path or dict
        The chain (see :func:`audiolab.models.load_chain`).
    out_dir : str or path-like
        Output folder (created if missing); files inside it are never taken as inputs.
    levels : LevelOptions, optional
        Input and output level convention (default: a full-scale sine is 100 dB SPL).
    jobs : int, optional
        Local worker processes (default: all cores); 1 processes in this process.
    scheduler : str, optional
        Dask scheduler address (``tcp://HOST:PORT``) or scheduler-file path: run on that
        cluster instead of local processes. Workers must see the input and output paths.
    force : bool
        Process every file even if its output is up to date.
    command : str
        Name recorded in the manifest (``"process"`` or ``"simulate"``).
    progress : file-like, optional
        Stream for the progress bar (e.g. ``sys.stderr``); None for no progress output.

    Returns
    -------
    BatchReport
        One result per input; ``exit_code`` is 1 if any file failed.

    Raises
    ------
    ConfigError
        Before anything runs: a bad chain, a missing input, two inputs with the same stem, bad
        options, or an unreachable scheduler.
    """
    levels = LevelOptions() if levels is None else levels
    if not isinstance(levels, LevelOptions):
        raise ConfigError(f"levels must be a LevelOptions, got {type(levels).__name__}")
    if jobs is None:
        jobs = os.cpu_count() or 1
    jobs = check_int("jobs", jobs, low=1)
    chain_file = None
    if not isinstance(chain, ChainSpec | Mapping):
        chain_file = Path(chain).resolve()
    spec = load_chain(chain)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    files = collect_inputs(inputs, exclude=out)
    out = out.resolve()
    outputs = _output_paths(files, out)
    tasks = [
        FileTask(input=str(f), output=str(o), chain=spec, levels=levels)
        for f, o in zip(files, outputs, strict=True)
    ]
    client = None if scheduler is None else _connect_dask(scheduler)
    try:
        out.mkdir(parents=True, exist_ok=True)
        return _run_tasks(
            tasks, out=out, spec=spec, levels=levels, client=client, scheduler=scheduler,
            jobs=jobs, chain_file=chain_file, force=force, command=command, progress=progress,
        )
    finally:
        if client is not None:
            client.close()


def _run_tasks(
    tasks: list[FileTask],
    *,
    out: Path,
    spec: ChainSpec,
    levels: LevelOptions,
    client: Any,
    scheduler: str | None,
    jobs: int,
    chain_file: Path | None,
    force: bool,
    command: str,
    progress: IO[str] | None,
) -> BatchReport:
    from audiolab import __version__

    header: dict[str, Any] = {
        "audiolab_version": __version__,
        "command": command,
        "chain": spec.to_dict(),
        "chain_file": None if chain_file is None else str(chain_file),
        "levels": levels.as_dict(),
    }
    old = None if force else _read_manifest(out / MANIFEST_NAME)
    same_setup = old is not None and all(
        _normalised(header[k]) == old.get(k) for k in ("audiolab_version", "chain", "levels")
    )
    old_entries: dict[str, Any] = {}
    if same_setup and old is not None:
        for e in old.get("files", []):
            if isinstance(e, dict) and isinstance(e.get("output"), str):
                old_entries[e["output"]] = e

    # Inputs are stat'ed before they are read: a file changed during the run is then stale.
    before = {t.input: _stat(t.input) for t in tasks}
    results: dict[str, FileResult] = {}
    todo = []
    for t in tasks:
        entry = old_entries.get(t.output)
        if entry is not None and _up_to_date(entry, t, chain_file):
            keep = {k: v for k, v in entry.items() if k in FileResult.__dataclass_fields__}
            keep.update(status="up-to-date", error=None)
            results[t.input] = FileResult(**keep)
        else:
            todo.append(t)
    # Biggest first: a long file started last would leave the other workers idle at the end.
    todo.sort(key=lambda t: -before[t.input][0])

    bar = _Progress(len(todo), stream=progress, label=command)

    def emit(result: FileResult) -> None:
        results[result.input] = result
        bar.update(result)

    if scheduler is not None:
        header["executor"] = {"kind": "dask", "scheduler": scheduler}
    else:
        header["executor"] = {"kind": "local", "jobs": jobs}
    try:
        if client is not None:
            _run_dask(client, todo, emit)
        else:
            _run_local(todo, jobs, emit)
    finally:
        # Also when interrupted: what finished is recorded, so the next run skips it.
        ordered = tuple(
            _stamped(results[t.input], before[t.input]) for t in tasks if t.input in results
        )
        report = BatchReport(results=ordered, manifest_path=out / MANIFEST_NAME, out_dir=out)
        _write_manifest(report, header, complete=len(ordered) == len(tasks))
    return report


def _stat(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (0, 0)
    return (st.st_size, st.st_mtime_ns)


def _write_manifest(report: BatchReport, header: dict[str, Any], *, complete: bool) -> None:
    manifest = {
        **header,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "convention": CONVENTION,
        "complete": complete,
        "summary": {
            "inputs": len(report.results),
            "processed": len(report.processed),
            "up_to_date": len(report.skipped),
            "failed": len(report.failed),
        },
        "files": [r.as_dict() for r in report.results],
        "failures": [{"input": r.input, "error": r.error} for r in report.failed],
    }
    path = report.manifest_path
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.write_text(json.dumps(_normalised(manifest), indent=2, allow_nan=False) + "\n")
    os.replace(tmp, path)


def _stamped(r: FileResult, before: tuple[int, int]) -> FileResult:
    """Add the input's size and time (as before the run) and the output's size."""
    if r.status == "failed":
        return r
    extra = dict(r.extra)
    extra.update(input_size=before[0], input_mtime_ns=before[1])
    try:
        extra["output_size"] = os.stat(r.output).st_size
    except OSError:
        pass
    return FileResult(**{**asdict(r), "extra": extra})
