"""What the callback reports: per-block statistics and meters, counters, and their summary.

The callback writes one ``al_block_stats`` record per block into a lock-free single-producer
single-consumer ring; :class:`StatsRing` drains it into :class:`EngineStats`, which adds the
records up (callbacks, xruns, callback timing, levels) and reads the meters.
"""

import math
from typing import Any

import numpy as np

from audiolab._ckernel import ffi, lib
from audiolab.calibration._units import P_REF_PA
from audiolab.dsp._units import amplitude_to_db, power_to_db
from audiolab.engine._held import HeldByC

__all__ = ["MAX_CHANNELS", "STATS_DTYPE", "EngineStats", "StatsRing", "db_spl_of_peak"]

MAX_CHANNELS = int(lib.AL_ENGINE_MAX_CHANNELS)
# paInputUnderflow | paInputOverflow | paOutputUnderflow | paOutputOverflow (portaudio.h)
PA_XRUN_FLAGS = 0x1 | 0x2 | 0x4 | 0x8


def _stats_dtype() -> np.dtype:
    fields = [
        ("index", np.uint64), ("frame", np.int64), ("start_ns", np.int64),
        ("pa_current_time", np.float64), ("pa_dac_time", np.float64), ("graph_id", np.uint64),
        ("duration_us", np.float32), ("n_frames", np.uint32), ("status_flags", np.uint32),
        ("overrun", np.uint32), ("nonfinite_in", np.uint32), ("nonfinite_out", np.uint32),
        ("limited", np.uint32), ("stage_errors", np.uint32),
        ("peak_pa", (np.float32, MAX_CHANNELS)), ("sum_sq_pa", (np.float64, MAX_CHANNELS)),
    ]
    return np.dtype({
        "names": [f[0] for f in fields],
        "formats": [f[1] for f in fields],
        "offsets": [ffi.offsetof("al_block_stats", f[0]) for f in fields],
        "itemsize": ffi.sizeof("al_block_stats"),
    })


STATS_DTYPE = _stats_dtype()
"""NumPy view of the C ``al_block_stats`` record (one per callback)."""


def db_spl_of_peak(peak_pa: Any) -> np.ndarray:
    """Level of the sine whose peak is ``peak_pa`` (the ceiling's own measure), dB SPL."""
    return amplitude_to_db(np.asarray(peak_pa, float) / (math.sqrt(2) * P_REF_PA))


def _db_spl_of_mean_square(ms_pa2: np.ndarray) -> np.ndarray:
    return power_to_db(np.asarray(ms_pa2, float) / P_REF_PA**2)


def _finite_or_none(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


class EngineStats:
    """Per-callback records drained from the engine, and what they add up to.

    ``records`` is a structured array (:data:`STATS_DTYPE`) of every callback so far.
    """

    def __init__(self, n_outputs: int, fs: float) -> None:
        self.n_outputs = n_outputs
        self.fs = fs
        # A buffer that doubles when full: adding is amortised O(1) and reading is a view, so
        # a monitor polling a stream for hours costs the same per poll as in its first second.
        self._buf = np.zeros(1024, STATS_DTYPE)
        self._n = 0

    def add(self, records: np.ndarray) -> None:
        """Append drained records."""
        n = int(records.size)
        if not n:
            return
        need = self._n + n
        if need > self._buf.size:
            grown = np.zeros(max(need, 2 * self._buf.size), STATS_DTYPE)
            grown[: self._n] = self._buf[: self._n]
            self._buf = grown
        self._buf[self._n : need] = records
        self._n = need

    @property
    def records(self) -> np.ndarray:
        """All records so far (structured array, :data:`STATS_DTYPE`; a read-only view)."""
        view = self._buf[: self._n]
        view.flags.writeable = False
        return view

    @property
    def callbacks(self) -> int:
        """Callbacks seen."""
        return int(self.records.size)

    def expected_callbacks(self, block_frames: int) -> int:
        """Callbacks the elapsed time (first to last callback, monotonic clock) should hold."""
        r = self.records
        if r.size < 2:
            return int(r.size)
        elapsed_s = (int(r["start_ns"][-1]) - int(r["start_ns"][0])) * 1e-9
        return int(round(elapsed_s * self.fs / block_frames)) + 1

    def summary(self, *, block_frames: int) -> dict[str, Any]:
        """The figures `audiolab live --stats-json` reports (issue 5's keys and a few more)."""
        r = self.records
        frames = int(r["n_frames"].sum())
        expected = self.expected_callbacks(block_frames)
        return {
            "callbacks": self.callbacks,
            "expected_callbacks": expected,
            "lost_callbacks": max(0, expected - self.callbacks),
            "xruns": int(np.count_nonzero(r["status_flags"] & PA_XRUN_FLAGS)),
            "xrun_source": "portaudio-status-flags",
            "overruns": int(r["overrun"].sum()),
            "block_frames": int(block_frames),
            "period_us": 1e6 * block_frames / self.fs,
            "callback_us": self._callback_us(),
            "nonfinite_samples": int(r["nonfinite_in"].sum() + r["nonfinite_out"].sum()),
            "limited_samples": int(r["limited"].sum()),
            "stage_errors": int(r["stage_errors"].sum()),
            **self._output_levels(frames),
            "frames": frames,
        }

    def _callback_us(self) -> dict[str, float]:
        r = self.records
        d = r["duration_us"].astype(float) if r.size else np.zeros(1)
        return {
            "max": float(d.max()),
            "p99": float(np.percentile(d, 99)),
            "p999": float(np.percentile(d, 99.9)),
            "mean": float(d.mean()),
        }

    def _output_levels(self, frames: int) -> dict[str, list[float | None]]:
        r = self.records
        no = self.n_outputs
        peak = r["peak_pa"][:, :no].max(axis=0) if r.size else np.zeros(no)
        sum_sq = r["sum_sq_pa"][:, :no].sum(axis=0) if r.size else np.zeros(no)
        ms = sum_sq / max(frames, 1)
        return {
            "max_output_db_spl": [_finite_or_none(v) for v in db_spl_of_peak(peak)],
            "rms_output_db_spl": [_finite_or_none(v) for v in _db_spl_of_mean_square(ms)],
        }

    def meters(self, *, last_s: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
        """Per-output-channel RMS and peak level (dB SPL) over the last ``last_s`` seconds."""
        r = self.records
        if not r.size:
            empty = np.full(self.n_outputs, -math.inf)
            return empty, empty.copy()
        frames = np.cumsum(r["n_frames"][::-1])
        k = int(np.searchsorted(frames, last_s * self.fs)) + 1
        tail = r[-k:]
        n = max(int(tail["n_frames"].sum()), 1)
        rms = _db_spl_of_mean_square(tail["sum_sq_pa"][:, : self.n_outputs].sum(axis=0) / n)
        peak = db_spl_of_peak(tail["peak_pa"][:, : self.n_outputs].max(axis=0))
        return rms, peak


class StatsRing:
    """Python's end of the stats ring, and the engine's counters.

    Parameters
    ----------
    n_outputs : int
        Output channels (the meters' channels).
    fs : float
        Sample rate in Hz.
    capacity : int
        Records the ring holds (a power of two); drain it more often than it fills.
    held : HeldByC
        The engine's holder: the ring's storage lives as long as the engine.
    """

    def __init__(self, *, n_outputs: int, fs: float, capacity: int, held: HeldByC) -> None:
        self.capacity = capacity
        self.ring = ffi.new("al_block_stats[]", capacity)  # the storage C writes into
        self._out = ffi.new("al_block_stats[]", capacity)  # where Python drains to
        held.keep(self.ring, self._out)
        self.stats = EngineStats(n_outputs, fs)
        self._e: Any = None

    def attach(self, engine_ptr: Any) -> None:
        """Read from the initialised engine ``engine_ptr`` (``al_engine *``)."""
        self._e = engine_ptr

    def drain(self) -> None:
        """Move every record the callback has written into :attr:`stats`."""
        while True:
            n = int(lib.al_engine_read_stats(self._e, self._out, self.capacity))
            if n <= 0:
                break
            raw = np.frombuffer(ffi.buffer(self._out, n * STATS_DTYPE.itemsize), STATS_DTYPE)
            self.stats.add(raw)
            if n < self.capacity:
                break

    def counters(self) -> dict[str, int]:
        """Callback count, next frame, and what was lost because the rings overflowed."""
        c = ffi.new("al_engine_counters *")
        lib.al_engine_get_counters(self._e, c)
        return {
            "callbacks": int(c.callbacks),
            "frame": int(c.frame),
            "dropped_stats": int(c.dropped_stats),
            "dropped_input_frames": int(c.dropped_input_frames),
            "dropped_output_frames": int(c.dropped_output_frames),
            "input_first_frame": int(c.input_first_frame),
            "output_first_frame": int(c.output_first_frame),
        }
