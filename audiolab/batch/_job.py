"""The work on one file: a task in, a result out, the output file written atomically.

:func:`process_file` is a pure function of its :class:`FileTask`, so the local process pool and
Dask run exactly the same code and give bit-identical outputs: every file starts from a chain at
rest, nothing depends on the order or the process it runs in, and BLAS is single-threaded in
every worker.
"""

import json
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from audiolab._audio_io import read_audio, write_audio
from audiolab._errors import AudiolabError, ConfigError, SignalError
from audiolab._validate import check_real
from audiolab.calibration import digital_to_pa_scale, rms_db_spl, scale_to_db_spl
from audiolab.dsp import resample
from audiolab.models._chain import Chain, ChainSpec, build_chain

__all__ = ["BLOCK_FRAMES", "FileResult", "FileTask", "LevelOptions", "process_file"]

# Block size for running the chain: bounds the stages' working memory on long files (block-split
# processing equals whole-signal processing, so it does not change the output).
BLOCK_FRAMES = 1 << 16


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


class Runnable(Protocol):
    """A task that scores or otherwise works on its own files (see :func:`process_file`)."""

    input: str
    output: str

    def run(self) -> FileResult:
        """Do the work; never raise for a bad file."""
        ...


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
    """The chain's output for ``x`` (Pa, at ``fs``) run from rest in blocks, and its delay."""
    try:
        chain = _chain_at(spec, fs)
    except ConfigError as exc:  # e.g. a stage that does not support this rate
        raise ConfigError(f"the chain cannot run at {fs:g} Hz: {exc}") from None
    y = np.empty_like(x)
    for start in range(0, x.shape[1], BLOCK_FRAMES):
        stop = min(start + BLOCK_FRAMES, x.shape[1])
        y[:, start:stop] = chain.process(x[:, start:stop])
    return y, chain.latency_samples


def process_file(task: "FileTask | Runnable") -> FileResult:
    """Process one file through the chain and write its output; never raises for a bad file.

    Reads ``task.input``, converts it to Pa by ``task.levels``, presents a mono file to both
    ears, resamples to the chain's ``fs`` and back if they differ, runs the chain from rest in
    blocks, and writes ``task.output`` (float32 WAV, input rate and frame count, unclipped).
    The result depends on the task only, not on the process or the files processed before.

    A task of another kind (``audiolab.batch._score.ScoreTask``) brings its own ``run()``:
    the executors run it here the same way, locally or on Dask.

    Returns
    -------
    FileResult
        ``status`` "processed", or "failed" with ``error`` one line saying why.
    """
    if not isinstance(task, FileTask):
        return task.run()
    t0 = time.perf_counter()
    info: dict[str, Any] = {}
    try:
        _render(task, info)
        status, error = "processed", None
    except AudiolabError as exc:
        status, error = "failed", _strip_path(str(exc), task.input)
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        status, error = "failed", f"{exc.strerror or exc}{where}"
    except MemoryError:
        status, error = "failed", "out of memory"
    except Exception as exc:  # a bug must not stop the other files; report it in full
        status, error = "failed", f"internal error ({type(exc).__name__}: {exc})"
    return FileResult(
        input=task.input, output=task.output, status=status, error=error,
        seconds=time.perf_counter() - t0, **info,
    )


def _render(task: FileTask, info: dict[str, Any]) -> None:
    """Read, level, resample, run and write one file; what is known so far goes into ``info``.

    ``info`` is filled as the work goes, so a file that fails half-way still reports what was
    learnt about it (its rate, frame count and channels).
    """
    audio = read_audio(task.input)
    info.update(fs=audio.fs, n_frames=audio.n_frames, input_channels=audio.n_channels)
    if audio.n_channels > 2:
        raise SignalError(
            f"has {audio.n_channels} channels; give mono or stereo (left, right) files"
        )
    x_pa = _input_pa(audio.data, task.levels)
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
        y.astype(np.float64) / digital_to_pa_scale(task.levels.full_scale_db_spl), np.float32
    )
    write_audio(task.output, out, fs=audio.fs)


def _input_pa(data: np.ndarray, levels: LevelOptions) -> np.ndarray:
    """A file's samples in Pa: by its full-scale level, or set to ``levels.level_db_spl``."""
    x = data.astype(np.float64)
    if levels.level_db_spl is None:
        scale = digital_to_pa_scale(levels.full_scale_db_spl)
        return np.ascontiguousarray(x * scale, np.float32)
    return scale_to_db_spl(x, levels.level_db_spl, what="the file")


def _strip_path(message: str, path: str) -> str:
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message
