"""The real-time engine: Python control around the C audio path (csrc/engine.c).

Python builds and validates graph configurations, publishes them by atomic pointer swap, queues
stimuli, and drains the lock-free rings the callback fills (per-block statistics and meters,
recordings). The audio thread runs only C. Offline processing calls the very same C callback
block by block, so offline output equals live output sample for sample.
"""

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from audiolab._ckernel import check, double_buffer, ffi, float_buffer, int_buffer, lib
from audiolab._errors import AudioDeviceError, CalibrationError, ConfigError
from audiolab._validate import as_block, check_int, check_real
from audiolab.calibration._calibration import UNCALIBRATED_FULL_SCALE_DB_SPL, Calibration
from audiolab.calibration._safety import OutputCeiling
from audiolab.calibration._units import P_REF_PA, digital_to_pa_scale
from audiolab.engine._stages import stage_pairs
from audiolab.engine._tones import DEFAULT_RAMP_MS, Tone, plan_tone

__all__ = ["Engine", "EngineStats", "Playback", "STATS_DTYPE"]

MAX_CHANNELS = int(lib.AL_ENGINE_MAX_CHANNELS)
N_SLOTS = int(lib.AL_ENGINE_PLAYER_SLOTS)
# paInputUnderflow | paInputOverflow | paOutputUnderflow | paOutputOverflow (portaudio.h)
PA_XRUN_FLAGS = 0x1 | 0x2 | 0x4 | 0x8
_SLOT_NAMES = {0: "free", 1: "queued", 2: "playing", 3: "done"}


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


def _db_spl_of_peak(peak_pa: Any) -> np.ndarray:
    """Level of the sine whose peak is ``peak_pa`` (the ceiling's own measure)."""
    with np.errstate(divide="ignore"):
        return 20 * np.log10(np.asarray(peak_pa, float) / (math.sqrt(2) * P_REF_PA))


def _db_spl_of_mean_square(ms_pa2: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return 10 * np.log10(np.asarray(ms_pa2, float) / P_REF_PA**2)


class EngineStats:
    """Per-callback records drained from the engine, and what they add up to.

    ``records`` is a structured array (:data:`STATS_DTYPE`) of every callback so far.
    """

    def __init__(self, n_outputs: int, fs: float) -> None:
        self.n_outputs = n_outputs
        self.fs = fs
        self._chunks: list[np.ndarray] = []
        self._records: np.ndarray | None = np.zeros(0, STATS_DTYPE)

    def add(self, records: np.ndarray) -> None:
        """Append drained records."""
        if records.size:
            self._chunks.append(records.copy())
            self._records = None

    @property
    def records(self) -> np.ndarray:
        """All records so far (structured array, :data:`STATS_DTYPE`)."""
        if self._records is None:
            self._records = (
                np.concatenate(self._chunks) if self._chunks else np.zeros(0, STATS_DTYPE)
            )
            self._chunks = [self._records]
        return self._records

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
        d = r["duration_us"].astype(float) if r.size else np.zeros(1)
        frames = int(r["n_frames"].sum())
        no = self.n_outputs
        peak = r["peak_pa"][:, :no].max(axis=0) if r.size else np.zeros(no)
        sum_sq = r["sum_sq_pa"][:, :no].sum(axis=0) if r.size else np.zeros(no)
        ms = sum_sq / max(frames, 1)
        expected = self.expected_callbacks(block_frames)

        def _num(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        return {
            "callbacks": self.callbacks,
            "expected_callbacks": expected,
            "lost_callbacks": max(0, expected - self.callbacks),
            "xruns": int(np.count_nonzero(r["status_flags"] & PA_XRUN_FLAGS)),
            "xrun_source": "portaudio-status-flags",
            "overruns": int(r["overrun"].sum()),
            "block_frames": int(block_frames),
            "period_us": 1e6 * block_frames / self.fs,
            "callback_us": {
                "max": float(d.max()),
                "p99": float(np.percentile(d, 99)),
                "p999": float(np.percentile(d, 99.9)),
                "mean": float(d.mean()),
            },
            "nonfinite_samples": int(r["nonfinite_in"].sum() + r["nonfinite_out"].sum()),
            "limited_samples": int(r["limited"].sum()),
            "stage_errors": int(r["stage_errors"].sum()),
            "max_output_db_spl": [_num(v) for v in _db_spl_of_peak(peak)],
            "rms_output_db_spl": [_num(v) for v in _db_spl_of_mean_square(ms)],
            "frames": frames,
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
        peak = _db_spl_of_peak(tail["peak_pa"][:, : self.n_outputs].max(axis=0))
        return rms, peak


@dataclass
class Playback:
    """A stimulus queued on the player: when it started and finished, in stream frames.

    ``start_frame`` is the exact stream frame of the stimulus' first sample (sample-accurate);
    ``end_frame`` is the frame after its last one. Both are None until known.
    """

    slot: int
    n_frames: int
    channels: tuple[int, ...]
    requested_frame: int | None
    start_frame: int | None = None
    end_frame: int | None = None
    cancelled: bool = False
    _data: Any = None
    _chans: Any = None

    @property
    def done(self) -> bool:
        """True once the whole stimulus has been played (or it was cancelled)."""
        return self.end_frame is not None


def _latency_of(chain: Any) -> int:
    """Algorithmic latency of a chain (a Chain, or a sequence of stages), in samples."""
    if chain is None:
        return 0
    if hasattr(chain, "latency_samples"):
        return int(chain.latency_samples)
    return sum(int(getattr(s, "latency_samples", 0)) for s in chain)


class _Graph:
    """Owner of one ``al_graph`` and every buffer it points to."""

    def __init__(
        self,
        *,
        graph_id: int,
        pairs: list[tuple[Any, Any]],
        keep: list[Any],
        n_channels: int,
        max_frames: int,
        in_map: np.ndarray,
        in_gain: np.ndarray,
        out_map: np.ndarray,
        source: np.ndarray | None,
    ) -> None:
        c = ffi.new("al_graph *")
        c.id = graph_id
        c.n_channels = n_channels
        c.n_stages = len(pairs)
        self.fns = ffi.new("al_stage_fn[]", max(len(pairs), 1))
        self.states = ffi.new("void *[]", max(len(pairs), 1))
        for i, (fn, state) in enumerate(pairs):
            self.fns[i] = ffi.cast("al_stage_fn", fn)
            self.states[i] = ffi.cast("void *", state)
        c.stage_fn = self.fns
        c.stage_state = self.states
        self.in_map = np.ascontiguousarray(in_map, np.int32)
        self.in_gain = np.ascontiguousarray(in_gain, np.float32)
        self.out_map = np.ascontiguousarray(out_map, np.int32)
        self.work = np.zeros(n_channels * max_frames, np.float32)
        self.source = source
        c.in_map = int_buffer(self.in_map, "in_map", writable=False)
        c.in_gain = float_buffer(self.in_gain, "in_gain", writable=False)
        c.out_map = int_buffer(self.out_map, "out_map", writable=False)
        c.work = float_buffer(self.work, "work")
        if source is not None:
            c.source = float_buffer(source, "source", writable=False)
            c.source_frames = source.shape[1]
        self.c = c
        self.id = graph_id
        self.keep = (pairs, keep)


class Engine:
    """Calibrated real-time processing: chain + player -> calibration -> ceiling -> meters.

    Parameters
    ----------
    fs : float
        Sample rate in Hz.
    n_inputs, n_outputs : int
        Device input channels (0 for output only) and output channels, at most 16 each.
    calibration : Calibration
        Output calibration and ceiling. Use ``Calibration.uncalibrated_mode(n_outputs)`` for the
        explicit uncalibrated mode (digital ceiling -20 dBFS).
    input_full_scale_db_spl : float
        dB SPL that a full-scale sine at the input stands for (input calibration), default 100.
    max_block_frames : int
        Largest block the C path processes in one go (longer callbacks are split).
    record_capacity_frames : int
        Size of each recording ring in frames (power of two); drain it with :meth:`poll` more
        often than it fills.

    Notes
    -----
    A graph (:meth:`configure`) holds the chain's stages, the routing and an optional looping
    source. The ceiling and the output calibration (each channel's equaliser, designed from the
    calibration table for ``fs``, and its broadband factor) belong to the engine, set once from
    the calibration: no graph, stage or gain can change or bypass them. A sine in pascal at any
    calibrated frequency leaves at the digital level that produces it (see
    :mod:`audiolab.calibration._equalizer`); the meters read the output back through the
    inverse equaliser, in dB SPL.

    Examples
    --------
    >>> import numpy as np
    >>> from audiolab.calibration import Calibration
    >>> from audiolab.engine import Engine
    >>> eng = Engine(fs=48000, n_inputs=1, n_outputs=1,
    ...              calibration=Calibration.uncalibrated_mode(1))
    >>> eng.configure(None)
    1
    >>> y = eng.process_offline(np.full((1, 512), 0.5, np.float32), block_frames=256)
    >>> round(float(y.max()), 6)  # clamped at the uncalibrated ceiling, -20 dBFS
    0.1
    """

    def __init__(
        self,
        *,
        fs: float,
        n_inputs: int,
        n_outputs: int,
        calibration: Calibration,
        input_full_scale_db_spl: float = UNCALIBRATED_FULL_SCALE_DB_SPL,
        max_block_frames: int = 4096,
        stats_capacity: int = 1 << 14,
        record_capacity_frames: int = 1 << 18,
    ) -> None:
        self.fs = check_real("fs", fs, low=8000, high=384000)
        self.n_inputs = check_int("n_inputs", n_inputs, low=0, high=MAX_CHANNELS)
        self.n_outputs = check_int("n_outputs", n_outputs, low=1, high=MAX_CHANNELS)
        if not isinstance(calibration, Calibration):
            raise CalibrationError(
                "calibration must be a Calibration (load_calibration(path), or "
                "Calibration.uncalibrated_mode(n_outputs) for the explicit uncalibrated mode), "
                f"got {type(calibration).__name__}"
            )
        self.calibration = calibration
        self.input_full_scale_db_spl = check_real(
            "input_full_scale_db_spl", input_full_scale_db_spl, low=0, high=200
        )
        self.max_block_frames = check_int("max_block_frames", max_block_frames, low=1, high=1 << 16)
        for name, v in (("stats_capacity", stats_capacity),
                        ("record_capacity_frames", record_capacity_frames)):
            check_int(name, v, low=16, high=1 << 26)
            if v & (v - 1):
                raise ConfigError(f"{name} must be a power of two, got {v}")
        self.ceiling = OutputCeiling.for_outputs(calibration, self.n_outputs, fs=self.fs)
        self._digital_per_pa = (1.0 / self.ceiling.pa_per_digital).astype(np.float32)
        self._pa_per_digital = self.ceiling.pa_per_digital.astype(np.float32)
        eqs = [eq.sos for eq in self.ceiling.equalizers if eq is not None]
        self._eq_sos = np.ascontiguousarray(
            np.concatenate(eqs) if eqs else np.zeros((1, 6)), np.float64
        )
        self._eq_n_sections = np.array(
            [0 if eq is None else eq.n_sections for eq in self.ceiling.equalizers], np.int32
        )
        self._ceiling = np.ascontiguousarray(self.ceiling.digital_peak, np.float32)
        self._out_work = np.zeros(self.n_outputs * self.max_block_frames, np.float32)
        self._stats_buf = ffi.new("al_block_stats[]", stats_capacity)  # the ring's storage
        self._stats_out = ffi.new("al_block_stats[]", stats_capacity)  # where Python drains to
        self._stats_capacity = stats_capacity
        self._rec_frames = record_capacity_frames
        self._rec_in = np.zeros(record_capacity_frames * max(self.n_inputs, 1), np.float32)
        self._rec_out = np.zeros(record_capacity_frames * self.n_outputs, np.float32)
        self._rec_tmp = {
            0: np.empty((record_capacity_frames, max(self.n_inputs, 1)), np.float32),
            1: np.empty((record_capacity_frames, self.n_outputs), np.float32),
        }
        # The engine struct holds C11 atomics: aligned, opaque, sized by C.
        size = int(lib.al_engine_sizeof())
        self._mem = ffi.new("char[]", size + 64)
        addr = int(ffi.cast("uintptr_t", self._mem))
        self._e = ffi.cast("al_engine *", (addr + 63) & ~63)
        status = lib.al_engine_init(
            self._e, self.n_inputs, self.n_outputs, self.max_block_frames, self.fs,
            float_buffer(self._ceiling, "ceiling", writable=False),
            float_buffer(self._digital_per_pa, "digital_per_pa", writable=False),
            float_buffer(self._pa_per_digital, "pa_per_digital", writable=False),
            double_buffer(self._eq_sos, "eq_sos", writable=False),
            int_buffer(self._eq_n_sections, "eq_n_sections", writable=False),
            float_buffer(self._out_work, "out_work"),
            self._stats_buf, stats_capacity,
            float_buffer(self._rec_in, "rec_in") if self.n_inputs else ffi.NULL,
            record_capacity_frames,
            float_buffer(self._rec_out, "rec_out"), record_capacity_frames,
        )
        check(status, "al_engine_init")
        self.stats = EngineStats(self.n_outputs, self.fs)
        self._lock = threading.RLock()
        self._graph: _Graph | None = None
        self._alive: list[_Graph] = []
        self._next_id = 1
        self._stream: Any = None
        self._block_frames = 0
        self._playbacks: dict[int, Playback] = {}
        self._recording: dict[int, list[np.ndarray]] = {0: [], 1: []}
        self._rec_returned = {0: 0, 1: 0}  # frames already handed out by recording()
        self.stream_latency_s: Any = None
        self._last_callbacks = 0
        self._last_progress = time.monotonic()
        self._error: str | None = None
        self.latency_samples = 0

    # -- configuration --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while a stream is calling the engine."""
        return self._stream is not None

    @property
    def block_frames(self) -> int:
        """Frames per callback of the running (or last) stream; 0 before any."""
        return self._block_frames

    def configure(
        self,
        chain: Any = None,
        *,
        n_channels: int | None = None,
        source_pa: Any = None,
        input_channels: Sequence[int] | None = None,
        output_map: Sequence[int] | None = None,
        timeout_s: float = 2.0,
    ) -> int:
        """Build, validate and publish a new graph; returns its id.

        While the stream runs, the callback adopts the graph at its next block boundary; this
        call returns once it has (the previous graph is then released, never by the callback).

        Parameters
        ----------
        chain : Chain, sequence of stages, or None
            Stages with C implementations (``c_stage``), run in order in the callback. Each is
            (re)started at rest for ``n_channels`` channels: pass new stage objects for a new
            graph rather than ones another graph still runs.
        n_channels : int, optional
            Processing channels (default: the number of output channels).
        source_pa : array_like, shape (n_channels, n) or (n,), optional
            A looping source in Pa fed to the chain instead of the device input. Stream frame t
            plays sample ``t % n``: graphs swapped with the same source continue seamlessly.
        input_channels : sequence of int, optional
            Device input feeding each processing channel (-1: silence). Default: channel c from
            input c where it exists.
        output_map : sequence of int, optional
            Processing channel sent to each device output (-1: none). Default: output o from
            channel o where it exists.
        timeout_s : float
            How long to wait for a running callback to adopt the graph.

        Raises
        ------
        ConfigError
            Bad routing, channel counts or a stage without a C implementation.
        AudioDeviceError
            The running stream did not adopt the graph in time (it has stopped).
        """
        n_ch = self.n_outputs if n_channels is None else check_int(
            "n_channels", n_channels, low=1, high=MAX_CHANNELS
        )
        in_map = np.array(
            [c if c < self.n_inputs else -1 for c in range(n_ch)] if input_channels is None
            else list(input_channels), dtype=np.int64,
        )
        if in_map.shape != (n_ch,) or np.any((in_map < -1) | (in_map >= max(self.n_inputs, 0))):
            raise ConfigError(
                f"input_channels must list {n_ch} device inputs in [-1, {self.n_inputs - 1}], "
                f"got {list(in_map)}"
            )
        out_map = np.array(
            [o if o < n_ch else -1 for o in range(self.n_outputs)] if output_map is None
            else list(output_map), dtype=np.int64,
        )
        if out_map.shape != (self.n_outputs,) or np.any((out_map < -1) | (out_map >= n_ch)):
            raise ConfigError(
                f"output_map must list a processing channel in [-1, {n_ch - 1}] for each of the "
                f"{self.n_outputs} outputs, got {list(out_map)}"
            )
        source = None
        if source_pa is not None:
            src = as_block(source_pa, name="source_pa")
            if src.shape[0] == 1 and n_ch > 1:
                src = np.ascontiguousarray(np.repeat(src, n_ch, axis=0))
            if src.shape[0] != n_ch or src.shape[1] < 1:
                raise ConfigError(
                    f"source_pa must have shape ({n_ch}, n_frames >= 1), got {src.shape}"
                )
            source = src
        pairs, keep = stage_pairs(chain, n_ch)
        if len(pairs) > int(lib.AL_ENGINE_MAX_STAGES):
            raise ConfigError(f"a graph holds at most {int(lib.AL_ENGINE_MAX_STAGES)} stages")
        in_gain = np.full(n_ch, digital_to_pa_scale(self.input_full_scale_db_spl), np.float32)
        with self._lock:
            graph = _Graph(
                graph_id=self._next_id, pairs=pairs, keep=keep, n_channels=n_ch,
                max_frames=self.max_block_frames, in_map=in_map, in_gain=in_gain,
                out_map=out_map, source=source,
            )
            self._next_id += 1
            check(lib.al_engine_publish(self._e, graph.c), "al_engine_publish")
            self._alive.append(graph)
            if self._stream is None:
                lib.al_engine_adopt(self._e)
            else:
                self._wait_adopted(graph, timeout_s)
            self._graph = graph
            # The callback now runs `graph`; every older graph is unreachable from C.
            self._alive = [graph]
            self.latency_samples = _latency_of(chain)
            return graph.id

    def _wait_adopted(self, graph: _Graph, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while lib.al_engine_active(self._e) != graph.c:
            if time.monotonic() > deadline:
                raise AudioDeviceError(
                    f"the audio callback did not adopt the new configuration within "
                    f"{timeout_s:g} s: the stream has stopped (is the audio server running?)"
                )
            time.sleep(0.0005)

    # -- offline ----------------------------------------------------------------------------------
    def process_offline(
        self, x: Any = None, *, n_frames: int | None = None, block_frames: int = 256
    ) -> np.ndarray:
        """Run the C callback over a whole signal, block by block, as a stream would.

        Parameters
        ----------
        x : array_like, shape (n_inputs, n), optional
            Digital device input (what the sound card would deliver). None: silence for
            ``n_frames`` frames (e.g. when the graph plays a source).
        n_frames : int, optional
            Length when ``x`` is None.
        block_frames : int
            Frames per callback (use the live stream's block size for identical output).

        Returns
        -------
        ndarray, shape (n_outputs, n), float32
            The digital device output (after the ceiling), as the DAC would receive it.
        """
        if self._stream is not None:
            raise ConfigError("process_offline needs the stream stopped: this engine is live")
        block_frames = check_int("block_frames", block_frames, low=1, high=1 << 20)
        if x is None:
            n = check_int("n_frames", n_frames, low=0)
            xin = np.zeros((n, max(self.n_inputs, 1)), np.float32)
        else:
            xb = as_block(x, name="x", allow_nonfinite=True)
            if xb.shape[0] != self.n_inputs:
                raise ConfigError(
                    f"x must have {self.n_inputs} channels (the engine's inputs), got {xb.shape[0]}"
                )
            n = xb.shape[1]
            xin = np.ascontiguousarray(xb.T)
        out = np.zeros((n, self.n_outputs), np.float32)
        # Process in chunks so that the stats ring is drained before it overflows.
        chunk = block_frames * max(1, (self._stats_capacity // 2))
        with self._lock:
            for start in range(0, n, chunk):
                stop = min(n, start + chunk)
                status = lib.al_engine_run_offline(
                    self._e, float_buffer(xin[start:stop], "x"),
                    float_buffer(out[start:stop], "out"), stop - start, block_frames,
                )
                check(status, "al_engine_run_offline")
                self._drain()
        self._block_frames = self._block_frames or block_frames
        return np.ascontiguousarray(out.T)

    # -- live -------------------------------------------------------------------------------------
    def start(
        self,
        *,
        device: Any = None,
        input_device: Any = None,
        block_frames: int = 256,
        latency: Any = "low",
    ) -> None:
        """Open and start the audio stream (its callback is the C engine).

        Parameters
        ----------
        device : int or str, optional
            Output device (index or part of its name; default device if None).
        input_device : int or str, optional
            Input device (default: the same as ``device``).
        block_frames : int
            Frames per callback. Under JACK use the server's period.
        latency : str or float
            PortAudio's suggested latency ("low", "high" or seconds).

        Raises
        ------
        AudioDeviceError
            No such device, no server, or the stream cannot be opened.
        """
        from audiolab.engine._stream import EngineStream, resolve_device

        if self._stream is not None:
            raise ConfigError("the engine is already running; stop() it first")
        if self._graph is None:
            self.configure(None)
        block_frames = check_int("block_frames", block_frames, low=16, high=self.max_block_frames)
        out_dev = resolve_device(device, kind="output")
        in_dev = None
        if self.n_inputs:
            in_dev = resolve_device(device if input_device is None else input_device, kind="input")
        stream = EngineStream(
            self._e, fs=self.fs, n_inputs=self.n_inputs, n_outputs=self.n_outputs,
            input_device=in_dev, output_device=out_dev, block_frames=block_frames,
            latency=latency, keepalive=self,
        )
        self._block_frames = block_frames
        self._stream = stream
        self.stream_latency_s = stream.latency
        self._last_progress = time.monotonic()
        self._error = None
        try:
            stream.start()
        except AudioDeviceError:
            self._stream = None
            stream.close()
            raise

    @property
    def stream(self) -> Any:
        """The running :class:`~audiolab.engine._stream.EngineStream` (None when stopped)."""
        return self._stream

    def stop(self) -> None:
        """Stop and close the stream (never hangs on a dead server), then drain the rings."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()
        self._drain()

    def close(self) -> None:
        """Stop the stream; the engine keeps its statistics and recordings."""
        self.stop()

    def __del__(self) -> None:
        # A running stream holds a reference to the engine, so this runs only once stopped;
        # kept as a guard should that ever change.
        stream = getattr(self, "_stream", None)
        if stream is not None:
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - nothing useful to do at collection time
                pass

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def frame(self) -> int:
        """The next stream frame the callback will produce."""
        c = ffi.new("al_engine_counters *")
        lib.al_engine_get_counters(self._e, c)
        return int(c.frame)

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

    def stall_timeout_s(self) -> float:
        """After this long without a callback, a running stream counts as dead."""
        period = (self._block_frames or 256) / self.fs
        return max(1.0, 50 * period)

    def poll(self) -> EngineStats:
        """Drain the rings (stats, recordings, player) and check that the stream is alive.

        Raises
        ------
        AudioDeviceError
            The running stream has stopped calling back (stream killed, server gone).
        """
        self._drain()
        stream = self._stream
        if stream is not None:
            callbacks = self.counters()["callbacks"]
            now = time.monotonic()
            if callbacks != self._last_callbacks:
                self._last_callbacks = callbacks
                self._last_progress = now
            elif not stream.active:
                self._error = (
                    "the audio stream stopped by itself (stream aborted, or the audio server "
                    "went away)"
                )
            elif now - self._last_progress > self.stall_timeout_s():
                self._error = (
                    f"the audio stream stopped calling back ({now - self._last_progress:.1f} s "
                    "without a callback: the audio server hangs or went away)"
                )
            if self._error is not None:
                try:
                    self.stop()
                except AudioDeviceError:
                    pass
                raise AudioDeviceError(self._error)
        return self.stats

    def _drain(self) -> None:
        with self._lock:
            buf = self._stats_out
            while True:
                n = int(lib.al_engine_read_stats(self._e, buf, self._stats_capacity))
                if n <= 0:
                    break
                raw = np.frombuffer(ffi.buffer(buf, n * STATS_DTYPE.itemsize), STATS_DTYPE)
                self.stats.add(raw)
                if n < self._stats_capacity:
                    break
            for which, n_ch in ((0, self.n_inputs), (1, self.n_outputs)):
                if n_ch == 0:
                    continue
                tmp = self._rec_tmp[which]
                while True:
                    got = int(lib.al_engine_read_recording(
                        self._e, which, float_buffer(tmp, "recording"), self._rec_frames
                    ))
                    if got <= 0:
                        break
                    self._recording[which].append(tmp[:got].copy())
            self._update_playbacks()

    # -- recordings ----------------------------------------------------------------------------
    def record(self, *, input: bool | None = None, output: bool | None = None) -> None:
        """Switch recording of the device input and/or of the output (after the ceiling).

        Recording starts at the next block; :meth:`recording` returns the samples and the
        stream frame of the first one. Switch it on once (before :meth:`start` for a recording
        from frame 0) and keep it on: frames are located by counting from the first one.
        """
        for which, on in ((0, input), (1, output)):
            if on is not None:
                if which == 0 and self.n_inputs == 0:
                    raise ConfigError("this engine has no inputs to record")
                lib.al_engine_set_recording(self._e, which, 1 if on else 0)

    def recording(self, which: str, *, clear: bool = True) -> tuple[np.ndarray, int]:
        """Recorded samples ``(n_channels, n)`` of ``"input"`` or ``"output"``, first frame.

        The second value is the stream frame of the first sample (-1 if nothing was recorded).
        """
        idx = {"input": 0, "output": 1}.get(which)
        if idx is None:
            raise ConfigError(f"which must be 'input' or 'output', got {which!r}")
        self._drain()
        with self._lock:
            parts = self._recording[idx]
            n_ch = self.n_inputs if idx == 0 else self.n_outputs
            data = np.concatenate(parts) if parts else np.zeros((0, n_ch), np.float32)
            counters = self.counters()
            start = counters["input_first_frame" if idx == 0 else "output_first_frame"]
            first = start + self._rec_returned[idx] if start >= 0 else -1
            if clear:
                self._recording[idx] = []
                self._rec_returned[idx] += data.shape[0]
        dropped = counters["dropped_input_frames" if idx == 0 else "dropped_output_frames"]
        if dropped:
            raise AudioDeviceError(
                f"the {which} recording lost {dropped} frames (poll() was not called often "
                "enough for the ring size)"
            )
        return np.ascontiguousarray(data.T), first

    # -- player ------------------------------------------------------------------------------------
    def play(
        self,
        stimulus_pa: Any,
        *,
        channels: Sequence[int],
        start_frame: int | None = None,
    ) -> Playback:
        """Queue a stimulus (sound pressure in Pa) on output ``channels``.

        The planned level is checked against the ceiling first (the stimulus run through the
        channel's output equaliser): a stimulus that would exceed it is refused
        (:class:`~audiolab.SafetyError`) and never reaches the callback.

        Parameters
        ----------
        stimulus_pa : array_like, shape (len(channels), n) or (n,)
            The stimulus in Pa: the output equaliser makes every calibrated frequency exact
            (:meth:`tone` plans pure tones in dB HL or dB SPL).
        channels : sequence of int
            Device output channel for each row.
        start_frame : int, optional
            Stream frame of the first sample (sample-accurate); None: the next block.

        Returns
        -------
        Playback
            Filled in with ``start_frame`` and ``end_frame`` by :meth:`poll`.
        """
        x = as_block(stimulus_pa, name="stimulus_pa")
        chans = tuple(int(c) for c in channels)
        if x.shape[0] != len(chans):
            raise ConfigError(
                f"stimulus_pa has {x.shape[0]} channels but channels lists {len(chans)}"
            )
        if x.shape[1] < 1:
            raise ConfigError("stimulus_pa is empty")
        if len(set(chans)) != len(chans) or any(not 0 <= c < self.n_outputs for c in chans):
            raise ConfigError(
                f"channels must be distinct outputs in [0, {self.n_outputs - 1}], got {list(chans)}"
            )
        self.ceiling.check_signal_pa(x, chans, what="stimulus")
        chan_arr = np.asarray(chans, np.int32)
        with self._lock:
            self._drain()
            busy = set(self._playbacks)
            free = [s for s in range(N_SLOTS) if s not in busy]
            if not free:
                raise ConfigError(f"all {N_SLOTS} player slots are busy; wait for one to finish")
            slot = free[0]
            pb = Playback(slot=slot, n_frames=x.shape[1], channels=chans,
                          requested_frame=start_frame, _data=x, _chans=chan_arr)
            status = lib.al_engine_queue(
                self._e, slot, float_buffer(x, "stimulus_pa", writable=False), len(chans),
                int_buffer(chan_arr, "channels", writable=False), x.shape[1],
                -1 if start_frame is None else int(start_frame),
            )
            check(status, "al_engine_queue")
            self._playbacks[slot] = pb
        return pb

    def tone(
        self,
        *,
        frequency_hz: float,
        duration_s: float,
        channels: Sequence[int],
        level_db_hl: float | None = None,
        level_db_spl: float | None = None,
        ramp_ms: float = DEFAULT_RAMP_MS,
    ) -> Tone:
        """Plan a pure tone at a level in dB HL or dB SPL (refused if it cannot be played).

        dB HL -> dB SPL through the calibration's transducer RETSPL table, -> pascal; the
        output equaliser then gives ``HL + RETSPL(f) - full_scale_db_spl(f)`` dBFS. Play it with
        ``engine.play(tone.stimulus_pa, channels=tone.channels)``. Parameters and errors: see
        :func:`audiolab.engine.plan_tone`.

        Examples
        --------
        >>> from audiolab.calibration import load_calibration
        >>> from audiolab.engine import Engine
        >>> eng = Engine(fs=48000, n_inputs=0, n_outputs=2,
        ...              calibration=load_calibration("calibration/example.toml",
        ...                                           max_age_days=1e6))
        >>> t = eng.tone(frequency_hz=1000, level_db_hl=40, duration_s=1.0, channels=[0])
        >>> t.level_db_spl, round(t.level_dbfs[0], 6)  # TDH-39: RETSPL 7 dB; 107 dB SPL FS
        (47.0, -60.0)
        """
        return plan_tone(
            self.ceiling, frequency_hz=frequency_hz, duration_s=duration_s, channels=channels,
            level_db_hl=level_db_hl, level_db_spl=level_db_spl, ramp_ms=ramp_ms,
        )

    def cancel(self, playback: Playback) -> None:
        """Stop a queued or playing stimulus at the next block."""
        lib.al_engine_slot_cancel(self._e, playback.slot)
        playback.cancelled = True

    def _update_playbacks(self) -> None:
        start = ffi.new("int64_t *")
        end = ffi.new("int64_t *")
        for slot, pb in list(self._playbacks.items()):
            state = int(lib.al_engine_slot_state(self._e, slot, start, end))
            if state >= 2 and int(start[0]) >= 0:
                pb.start_frame = int(start[0])
            if state == 3:
                pb.end_frame = int(end[0])
                check(lib.al_engine_slot_release(self._e, slot), "al_engine_slot_release")
                del self._playbacks[slot]  # the C side no longer reads pb's data

    def wait(self, playback: Playback, *, timeout_s: float | None = None) -> Playback:
        """Poll until ``playback`` has finished (raises if the stream dies meanwhile)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not playback.done:
            if self._stream is None:
                raise AudioDeviceError("the engine is not running: the stimulus cannot finish")
            self.poll()
            if deadline is not None and time.monotonic() > deadline:
                raise AudioDeviceError(f"the stimulus did not finish within {timeout_s:g} s")
            time.sleep(0.005)
        return playback

    # -- reporting ------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Statistics so far (see :meth:`EngineStats.summary`) plus the ceiling in dB SPL."""
        block = self._block_frames or 256
        s = self.stats.summary(block_frames=block)
        s["ceiling_db_spl"] = [
            float(_db_spl_of_peak(self.ceiling.peak_pa(o))) if self.ceiling.digital_peak[o] > 0
            else None for o in range(self.n_outputs)
        ]
        s["calibration"] = self.calibration.summary()
        s["output_equalizer"] = [
            None if eq is None else eq.describe() for eq in self.ceiling.equalizers
        ]
        s["fs"] = self.fs
        s.update({k: v for k, v in self.counters().items() if k.startswith("dropped")})
        return s

