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

__all__ = [
    "DURATION_EDGES_US", "MAX_CHANNELS", "RECENT_RECORDS", "STATS_DTYPE", "EngineStats",
    "StatsRing", "db_spl_of_peak",
]

MAX_CHANNELS = int(lib.AL_ENGINE_MAX_CHANNELS)
# paInputUnderflow | paInputOverflow | paOutputUnderflow | paOutputOverflow (portaudio.h)
PA_XRUN_FLAGS = 0x1 | 0x2 | 0x4 | 0x8
RECENT_RECORDS = 1 << 16
"""Callbacks :attr:`EngineStats.records` keeps: about 6 min at 256 frames and 48 kHz, 17.8 MB."""


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


def _duration_edges_us() -> np.ndarray:
    # 1 us bins below 1024 us, then 512 bins per octave up to 2**24 us (16.8 s), then one open
    # bin: a bin's midpoint is within 0.5 us or 0.068 % (2**(1/512) - 1, halved) of any value in
    # it. A callback's duration is a few us to a few ms (a period is 5333 us at 256 frames).
    linear = np.arange(_LINEAR_TOP_US + 1, dtype=np.float64)
    octaves = math.log2(_LOG_TOP_US / _LINEAR_TOP_US)
    k = np.arange(1, int(octaves * _BINS_PER_OCTAVE) + 1)
    log = _LINEAR_TOP_US * 2.0 ** (k / _BINS_PER_OCTAVE)
    return np.concatenate([linear, log, [math.inf]])


_LINEAR_TOP_US = 1024.0
_LOG_TOP_US = float(2**24)
_BINS_PER_OCTAVE = 512
DURATION_EDGES_US = _duration_edges_us()
"""Edges of the callback-duration histogram in us (the last bin is open above)."""


class _Totals:
    """Running totals over every record added, and the histogram of callback durations."""

    def __init__(self) -> None:
        self.n = self.xruns = self.overruns = self.nonfinite = 0
        self.limited = self.stage_errors = self.frames = 0
        self.first_start_ns = self.last_start_ns = 0
        self.peak_pa = np.zeros(MAX_CHANNELS)
        self.sum_sq_pa = np.zeros(MAX_CHANNELS)
        self.duration_min_us = math.inf
        self.duration_max_us = -math.inf
        self.duration_sum_us = 0.0
        self.histogram = np.zeros(DURATION_EDGES_US.size - 1, np.int64)

    def add(self, r: np.ndarray) -> None:
        if not self.n:
            self.first_start_ns = int(r["start_ns"][0])
        self.last_start_ns = int(r["start_ns"][-1])
        self.n += int(r.size)
        self.xruns += int(np.count_nonzero(r["status_flags"] & PA_XRUN_FLAGS))
        self.overruns += int(r["overrun"].sum())
        self.nonfinite += int(r["nonfinite_in"].sum() + r["nonfinite_out"].sum())
        self.limited += int(r["limited"].sum())
        self.stage_errors += int(r["stage_errors"].sum())
        self.frames += int(r["n_frames"].sum())
        self.peak_pa = np.maximum(self.peak_pa, r["peak_pa"].max(axis=0))
        self.sum_sq_pa = self.sum_sq_pa + r["sum_sq_pa"].sum(axis=0)
        d = r["duration_us"].astype(np.float64)
        self.duration_min_us = min(self.duration_min_us, float(d.min()))
        self.duration_max_us = max(self.duration_max_us, float(d.max()))
        self.duration_sum_us += float(d.sum())
        b = np.searchsorted(DURATION_EDGES_US, d, side="right") - 1
        self.histogram += np.bincount(np.clip(b, 0, self.histogram.size - 1),
                                      minlength=self.histogram.size)

    def callback_us(self) -> dict[str, float]:
        """Max, mean and the 99th and 99.9th percentiles of the callback durations in us."""
        if not self.n:
            return {"max": 0.0, "p99": 0.0, "p999": 0.0, "mean": 0.0}
        return {
            "max": self.duration_max_us,
            "p99": self._percentile(99.0),
            "p999": self._percentile(99.9),
            "mean": self.duration_sum_us / self.n,
        }

    def _percentile(self, q: float) -> float:
        # np.percentile's default ("linear", Hyndman & Fan 1996 type 7): interpolate between the
        # order statistics k and k + 1 at rank (n - 1) q / 100; each is its bin's midpoint,
        # clipped to the range seen, and the extremes are known exactly.
        rank = (self.n - 1) * q / 100.0
        k = math.floor(rank)
        lo, hi = self._order_statistic(k), self._order_statistic(min(k + 1, self.n - 1))
        return lo + (rank - k) * (hi - lo)

    def _order_statistic(self, k: int) -> float:
        if k == 0:
            return self.duration_min_us
        if k == self.n - 1:
            return self.duration_max_us
        b = int(np.searchsorted(np.cumsum(self.histogram), k, side="right"))
        mid = 0.5 * (DURATION_EDGES_US[b] + DURATION_EDGES_US[b + 1])
        return float(min(max(mid, self.duration_min_us), self.duration_max_us))


class EngineStats:
    """Per-callback records drained from the engine, and what they add up to.

    Everything :meth:`summary`, :attr:`callbacks`, :meth:`expected_callbacks` report covers the
    whole stream: :meth:`add` keeps running totals and a histogram of callback durations, so
    memory stays bounded however long a stream runs (the GUI keeps one running for hours).
    ``records`` holds only the most recent ``recent_records`` callbacks.

    Parameters
    ----------
    n_outputs : int
        Output channels (the meters' channels).
    fs : float
        Sample rate in Hz.
    recent_records : int
        Callbacks :attr:`records` keeps (default :data:`RECENT_RECORDS`, about 6 min at 256
        frames and 48 kHz); the buffer holds at most 1.125 times as many.
    """

    def __init__(self, n_outputs: int, fs: float, *, recent_records: int = RECENT_RECORDS) -> None:
        self.n_outputs = n_outputs
        self.fs = fs
        self.recent_records = int(recent_records)
        # Grows by doubling up to `_capacity`; when full, the last `recent_records` move to a new
        # buffer. Adding is amortised O(1), reading is a view, and a view handed out earlier
        # never changes under its holder.
        self._capacity = self.recent_records + max(1, self.recent_records // 8)
        self._buf = np.zeros(min(1024, self._capacity), STATS_DTYPE)
        self._n = 0
        self._totals = _Totals()

    def add(self, records: np.ndarray) -> None:
        """Take drained records (structured array, :data:`STATS_DTYPE`) into totals and window."""
        if not records.size:
            return
        self._totals.add(records)
        records = records[-self.recent_records :]
        n = int(records.size)
        need = self._n + n
        if need > self._buf.size:
            keep = min(self._n, self.recent_records - n)
            size = min(max(need, 2 * self._buf.size), self._capacity)
            grown = np.zeros(size, STATS_DTYPE)
            grown[:keep] = self._buf[self._n - keep : self._n]
            self._buf, self._n, need = grown, keep, keep + n
        self._buf[self._n : need] = records
        self._n = need

    @property
    def records(self) -> np.ndarray:
        """The most recent callbacks, at most ``recent_records`` (a read-only view, oldest first).

        A structured array (:data:`STATS_DTYPE`); it holds every callback until the stream has
        run ``recent_records`` of them, then the last ``recent_records``.
        """
        view = self._buf[max(0, self._n - self.recent_records) : self._n]
        view.flags.writeable = False
        return view

    @property
    def buffer_nbytes(self) -> int:
        """Bytes the window's buffer takes (at most 1.125 ``recent_records`` records)."""
        return int(self._buf.nbytes)

    @property
    def callbacks(self) -> int:
        """Callbacks seen since the stream started."""
        return self._totals.n

    def expected_callbacks(self, block_frames: int) -> int:
        """Callbacks the elapsed time (first to last callback, monotonic clock) should hold."""
        t = self._totals
        if t.n < 2:
            return t.n
        elapsed_s = (t.last_start_ns - t.first_start_ns) * 1e-9
        return int(round(elapsed_s * self.fs / block_frames)) + 1

    def summary(self, *, block_frames: int) -> dict[str, Any]:
        """The figures `audiolab live --stats-json` reports (issue 5's keys and a few more)."""
        t = self._totals
        expected = self.expected_callbacks(block_frames)
        return {
            "callbacks": t.n,
            "expected_callbacks": expected,
            "lost_callbacks": max(0, expected - t.n),
            "xruns": t.xruns,
            "xrun_source": "portaudio-status-flags",
            "overruns": t.overruns,
            "block_frames": int(block_frames),
            "period_us": 1e6 * block_frames / self.fs,
            "callback_us": t.callback_us(),
            "nonfinite_samples": t.nonfinite,
            "limited_samples": t.limited,
            "stage_errors": t.stage_errors,
            **self._output_levels(t.frames),
            "frames": t.frames,
        }

    def _output_levels(self, frames: int) -> dict[str, list[float | None]]:
        no = self.n_outputs
        peak = self._totals.peak_pa[:no]
        ms = self._totals.sum_sq_pa[:no] / max(frames, 1)
        return {
            "max_output_db_spl": [_finite_or_none(v) for v in db_spl_of_peak(peak)],
            "rms_output_db_spl": [_finite_or_none(v) for v in _db_spl_of_mean_square(ms)],
        }

    def meters(self, *, last_s: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
        """Per-output-channel RMS and peak level (dB SPL) over the last ``last_s`` seconds.

        ``last_s`` beyond the recent window (:attr:`records`) reads the whole window.
        """
        r = self.records
        if not r.size:
            empty = np.full(self.n_outputs, -math.inf)
            return empty, empty.copy()
        # Look back only as far as the window needs: a poll costs the same with a full window.
        need, look = last_s * self.fs, 64
        while True:
            frames = np.cumsum(r["n_frames"][-look:][::-1])
            if frames[-1] >= need or look >= r.size:
                break
            look *= 4
        tail = r[-(int(np.searchsorted(frames, need)) + 1) :]
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
