"""The real-time engine: Python control around the C audio path (csrc/engine.c).

Python builds and validates graph configurations, publishes them by atomic pointer swap, queues
stimuli, and drains the lock-free rings the callback fills (per-block statistics and meters,
recordings). The audio thread runs only C. Offline processing calls the very same C callback
block by block, so offline output equals live output sample for sample.

:class:`Engine` composes pieces that each read alone: the output calibration and ceiling
(``_output_calibration.py``), the graph (``_graph.py``), the stream (``_transport.py``), the
player slots (``_player.py``), the statistics (``_stats.py``) and the recordings
(``_recorder.py``). Which Python object keeps each buffer C points into alive is said once, in
``_held.py``.
"""

import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from audiolab._ckernel import check, ffi, float_buffer, lib
from audiolab._errors import AudioDeviceError, ConfigError
from audiolab._validate import as_block, check_int, check_real
from audiolab.calibration._calibration import UNCALIBRATED_FULL_SCALE_DB_SPL, Calibration
from audiolab.calibration._units import digital_to_pa_scale
from audiolab.engine._graph import (
    Graph,
    chain_latency_samples,
    graph_stages,
    input_routing,
    looping_source,
    output_routing,
)
from audiolab.engine._held import HeldByC
from audiolab.engine._output_calibration import OutputCalibration
from audiolab.engine._player import Playback, Player
from audiolab.engine._recorder import Recorder
from audiolab.engine._stats import MAX_CHANNELS, STATS_DTYPE, EngineStats, StatsRing
from audiolab.engine._tones import DEFAULT_RAMP_MS, Tone, plan_tone
from audiolab.engine._transport import Transport

__all__ = ["STATS_DTYPE", "Engine", "EngineStats", "Playback"]

# The engine struct holds C11 atomics and is opaque to Python (sized by C): start it on a
# cache-line boundary.
_C_ALIGN_BYTES = 64


def _check_ring_capacity(name: str, value: int) -> int:
    check_int(name, value, low=16, high=1 << 26)
    if value & (value - 1):
        raise ConfigError(f"{name} must be a power of two, got {value}")
    return value


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
        self._held = HeldByC()  # the engine's own C memory: see _held.py
        self._output = OutputCalibration(
            calibration, n_outputs=self.n_outputs, fs=self.fs, held=self._held
        )
        self.calibration = calibration
        self.ceiling = self._output.ceiling
        self.input_full_scale_db_spl = check_real(
            "input_full_scale_db_spl", input_full_scale_db_spl, low=0, high=200
        )
        self.max_block_frames = check_int("max_block_frames", max_block_frames, low=1, high=1 << 16)
        self._stats_ring = StatsRing(
            n_outputs=self.n_outputs, fs=self.fs,
            capacity=_check_ring_capacity("stats_capacity", stats_capacity), held=self._held,
        )
        self._recorder = Recorder(
            n_inputs=self.n_inputs, n_outputs=self.n_outputs,
            capacity_frames=_check_ring_capacity("record_capacity_frames", record_capacity_frames),
            held=self._held,
        )
        self._player = Player(n_outputs=self.n_outputs, ceiling=self.ceiling)
        self._e = self._init_c_engine()
        for piece in (self._stats_ring, self._recorder, self._player):
            piece.attach(self._e)
        self._transport = Transport(
            self._e, fs=self.fs, n_inputs=self.n_inputs, n_outputs=self.n_outputs,
            max_block_frames=self.max_block_frames,
        )
        self.stats = self._stats_ring.stats
        self._lock = threading.RLock()
        self._graph: Graph | None = None
        self._alive: list[Graph] = []  # graphs C may still run: see _held.py
        self._next_id = 1
        self.latency_samples = 0

    def _init_c_engine(self) -> Any:
        """Allocate and initialise the C engine on the pieces' buffers; its ``al_engine *``."""
        size = int(lib.al_engine_sizeof())
        mem = ffi.new("char[]", size + _C_ALIGN_BYTES)
        self._held.keep(mem)
        addr = int(ffi.cast("uintptr_t", mem))
        e = ffi.cast("al_engine *", (addr + _C_ALIGN_BYTES - 1) & ~(_C_ALIGN_BYTES - 1))
        out_work = np.zeros(self.n_outputs * self.max_block_frames, np.float32)
        rec = self._recorder
        status = lib.al_engine_init(
            e, self.n_inputs, self.n_outputs, self.max_block_frames, self.fs,
            *self._output.c_args,
            self._held.floats(out_work, "out_work"),
            self._stats_ring.ring, self._stats_ring.capacity,
            rec.input_ring, rec.capacity_frames, rec.output_ring, rec.capacity_frames,
        )
        check(status, "al_engine_init")
        return e

    # -- configuration --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while a stream is calling the engine."""
        return self._transport.stream is not None

    @property
    def block_frames(self) -> int:
        """Frames per callback of the running (or last) stream; 0 before any."""
        return self._transport.block_frames

    @property
    def stream_latency_s(self) -> Any:
        """PortAudio's reported latency of the last stream in seconds (None before any)."""
        return self._transport.latency_s

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
        in_map = input_routing(input_channels, n_channels=n_ch, n_inputs=self.n_inputs)
        out_map = output_routing(output_map, n_channels=n_ch, n_outputs=self.n_outputs)
        source = looping_source(source_pa, n_channels=n_ch)
        stages = graph_stages(chain, n_ch)
        in_gain = np.full(n_ch, digital_to_pa_scale(self.input_full_scale_db_spl), np.float32)
        with self._lock:
            graph = Graph(
                graph_id=self._next_id, stages=stages, n_channels=n_ch,
                max_frames=self.max_block_frames, in_map=in_map, in_gain=in_gain,
                out_map=out_map, source=source,
            )
            self._next_id += 1
            self._publish(graph, timeout_s)
            self.latency_samples = chain_latency_samples(chain)
            return graph.id

    def _publish(self, graph: Graph, timeout_s: float) -> None:
        """Hand ``graph`` to the callback; once it runs there, let every older graph go."""
        check(lib.al_engine_publish(self._e, graph.c), "al_engine_publish")
        self._alive.append(graph)
        if self._transport.stream is None:
            lib.al_engine_adopt(self._e)
        else:
            self._wait_adopted(graph, timeout_s)
        self._graph = graph
        # The callback now runs `graph`; every older graph is unreachable from C.
        self._alive = [graph]

    def _wait_adopted(self, graph: Graph, timeout_s: float) -> None:
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
        if self._transport.stream is not None:
            raise ConfigError("process_offline needs the stream stopped: this engine is live")
        block_frames = check_int("block_frames", block_frames, low=1, high=1 << 20)
        xin = self._offline_input(x, n_frames)
        n = xin.shape[0]
        out = np.zeros((n, self.n_outputs), np.float32)
        # Process in chunks so that the stats ring is drained before it overflows.
        chunk = block_frames * max(1, (self._stats_ring.capacity // 2))
        with self._lock:
            for start in range(0, n, chunk):
                stop = min(n, start + chunk)
                status = lib.al_engine_run_offline(
                    self._e, float_buffer(xin[start:stop], "x"),
                    float_buffer(out[start:stop], "out"), stop - start, block_frames,
                )
                check(status, "al_engine_run_offline")
                self._drain()
        self._transport.block_frames = self._transport.block_frames or block_frames
        return np.ascontiguousarray(out.T)

    def _offline_input(self, x: Any, n_frames: int | None) -> np.ndarray:
        """The device input for an offline run, frame-major ``(n, n_inputs)`` as C reads it."""
        if x is None:
            n = check_int("n_frames", n_frames, low=0)
            return np.zeros((n, max(self.n_inputs, 1)), np.float32)
        xb = as_block(x, name="x", allow_nonfinite=True)
        if xb.shape[0] != self.n_inputs:
            raise ConfigError(
                f"x must have {self.n_inputs} channels (the engine's inputs), got {xb.shape[0]}"
            )
        return np.ascontiguousarray(xb.T)

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
        if self._transport.stream is not None:
            raise ConfigError("the engine is already running; stop() it first")
        if self._graph is None:
            self.configure(None)
        self._transport.start(
            device=device, input_device=input_device, block_frames=block_frames,
            latency=latency, keepalive=self,
        )

    @property
    def stream(self) -> Any:
        """The running :class:`~audiolab.engine._stream.EngineStream` (None when stopped)."""
        return self._transport.stream

    def stop(self) -> None:
        """Stop and close the stream (never hangs on a dead server), then drain the rings."""
        self._transport.close()
        self._drain()

    def close(self) -> None:
        """Stop the stream; the engine keeps its statistics and recordings."""
        self.stop()

    def __del__(self) -> None:
        # A running stream holds a reference to the engine, so this runs only once stopped;
        # kept as a guard should that ever change.
        transport = getattr(self, "_transport", None)
        if transport is not None and transport.stream is not None:
            try:
                transport.close()
            except Exception:  # noqa: BLE001 - nothing useful to do at collection time
                pass

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- statistics -------------------------------------------------------------------------------
    @property
    def frame(self) -> int:
        """The next stream frame the callback will produce."""
        return self._stats_ring.counters()["frame"]

    def counters(self) -> dict[str, int]:
        """Callback count, next frame, and what was lost because the rings overflowed."""
        return self._stats_ring.counters()

    def stall_timeout_s(self) -> float:
        """After this long without a callback, a running stream counts as dead."""
        return self._transport.stall_timeout_s()

    def poll(self) -> EngineStats:
        """Drain the rings (stats, recordings, player) and check that the stream is alive.

        Raises
        ------
        AudioDeviceError
            The running stream has stopped calling back (stream killed, server gone).
        """
        self._drain()
        if self._transport.stream is not None:
            error = self._transport.failure(self.counters()["callbacks"])
            if error is not None:
                try:
                    self.stop()
                except AudioDeviceError:
                    pass
                raise AudioDeviceError(error)
        return self.stats

    def _drain(self) -> None:
        with self._lock:
            self._stats_ring.drain()
            self._recorder.drain()
            self._player.update()

    # -- recordings ----------------------------------------------------------------------------
    def record(self, *, input: bool | None = None, output: bool | None = None) -> None:
        """Switch recording of the device input and/or of the output (after the ceiling).

        Recording starts at the next block; :meth:`recording` returns the samples and the
        stream frame of the first one. Switch it on once (before :meth:`start` for a recording
        from frame 0) and keep it on: frames are located by counting from the first one.
        """
        self._recorder.switch(input=input, output=output)

    def recording(self, which: str, *, clear: bool = True) -> tuple[np.ndarray, int]:
        """Recorded samples ``(n_channels, n)`` of ``"input"`` or ``"output"``, first frame.

        The second value is the stream frame of the first sample (-1 if nothing was recorded).
        """
        self._drain()
        with self._lock:
            counters = self.counters()
            data, first = self._recorder.take(which, counters, clear=clear)
        self._recorder.check_complete(which, counters)
        return np.ascontiguousarray(data.T), first

    def recent_output(self, n_frames: int) -> np.ndarray:
        """The last ``n_frames`` of the output after the ceiling, ``(n_outputs, n <= n_frames)``.

        Digital values (full-scale sine = 0 dBFS), for monitors such as a live spectrum. Needs
        the output recording on (:meth:`record`); older recorded frames are let go, so memory
        stays bounded. Frames a full ring dropped are skipped (a monitor needs no continuity):
        use either this or :meth:`recording` for the output, not both.
        """
        n = check_int("n_frames", n_frames, low=1, high=self._recorder.capacity_frames)
        self._drain()
        with self._lock:
            data = self._recorder.tail("output", n)
        return np.ascontiguousarray(data.T)

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
        x, chans = self._player.checked_stimulus(stimulus_pa, channels)
        with self._lock:
            self._drain()
            return self._player.queue(x, chans, start_frame)

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
        self._player.cancel(playback)

    def wait(self, playback: Playback, *, timeout_s: float | None = None) -> Playback:
        """Poll until ``playback`` has finished (raises if the stream dies meanwhile)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not playback.done:
            if self._transport.stream is None:
                raise AudioDeviceError("the engine is not running: the stimulus cannot finish")
            self.poll()
            if deadline is not None and time.monotonic() > deadline:
                raise AudioDeviceError(f"the stimulus did not finish within {timeout_s:g} s")
            time.sleep(0.005)
        return playback

    # -- reporting ------------------------------------------------------------------------------
    def ceiling_db_spl(self) -> list[float | None]:
        """Each output's ceiling in dB SPL (None for an output whose ceiling is 0)."""
        return self._output.ceiling_db_spl()

    def summary(self) -> dict[str, Any]:
        """Statistics so far (see :meth:`EngineStats.summary`) plus the ceiling in dB SPL."""
        s = self.stats.summary(block_frames=self._transport.period_frames())
        s["ceiling_db_spl"] = self.ceiling_db_spl()
        s["calibration"] = self.calibration.summary()
        s["output_equalizer"] = self._output.describe_equalizers()
        s["fs"] = self.fs
        s.update({k: v for k, v in self.counters().items() if k.startswith("dropped")})
        return s
