"""The audio stream that calls the engine: device, open/start/stop/close, and whether it lives.

The stream's callback is the C engine (:class:`~audiolab.engine._stream.EngineStream`); this
piece only opens and closes it and notices when it stops calling back (killed stream, audio
server gone), so that a poll raises instead of waiting forever.
"""

import time
from typing import Any

from audiolab._errors import AudioDeviceError
from audiolab._validate import check_int

__all__ = ["Transport"]

_DEFAULT_BLOCK_FRAMES = 256  # for timings asked before any stream or offline run


class Transport:
    """Opens and closes the engine's stream and watches its callbacks.

    Parameters
    ----------
    engine_ptr : cdata ``al_engine *``
        The initialised engine the callback runs.
    fs : float
        Sample rate in Hz.
    n_inputs, n_outputs : int
        Device channels.
    max_block_frames : int
        Largest block the engine takes.
    """

    def __init__(
        self,
        engine_ptr: Any,
        *,
        fs: float,
        n_inputs: int,
        n_outputs: int,
        max_block_frames: int,
    ) -> None:
        self._e = engine_ptr
        self.fs = fs
        self.n_inputs = n_inputs
        self.n_outputs = n_outputs
        self.max_block_frames = max_block_frames
        self.stream: Any = None
        self.block_frames = 0
        self.latency_s: Any = None
        self._last_callbacks = 0
        self._last_progress = time.monotonic()
        self._error: str | None = None

    def start(
        self, *, device: Any, input_device: Any, block_frames: int, latency: Any, keepalive: Any
    ) -> None:
        """Open the stream on the resolved devices and start it (see :meth:`Engine.start`).

        ``keepalive`` owns the engine's memory (the Engine): the stream holds it for as long as
        its callback may run, and not longer (no reference cycle through this object).
        """
        from audiolab.engine._stream import EngineStream, resolve_device

        block_frames = check_int("block_frames", block_frames, low=16, high=self.max_block_frames)
        out_dev = resolve_device(device, kind="output")
        in_dev = None
        if self.n_inputs:
            in_dev = resolve_device(device if input_device is None else input_device, kind="input")
        stream = EngineStream(
            self._e, fs=self.fs, n_inputs=self.n_inputs, n_outputs=self.n_outputs,
            input_device=in_dev, output_device=out_dev, block_frames=block_frames,
            latency=latency, keepalive=keepalive,
        )
        self.block_frames = block_frames
        self.stream = stream
        self.latency_s = stream.latency
        self._last_progress = time.monotonic()
        self._error = None
        try:
            stream.start()
        except AudioDeviceError:
            self.stream = None
            stream.close()
            raise

    def close(self) -> None:
        """Stop and close the stream, if any (never hangs on a dead server)."""
        stream, self.stream = self.stream, None
        if stream is not None:
            stream.close()

    def period_frames(self) -> int:
        """Frames per callback of the running (or last) stream or offline run, else 256."""
        return self.block_frames or _DEFAULT_BLOCK_FRAMES

    def stall_timeout_s(self) -> float:
        """After this long without a callback, a running stream counts as dead."""
        period_s = self.period_frames() / self.fs
        return max(1.0, 50 * period_s)

    def failure(self, callbacks: int) -> str | None:
        """Why the running stream counts as dead, given the callback count now; None if alive."""
        if self.stream is None:
            return None
        now = time.monotonic()
        if callbacks != self._last_callbacks:
            self._last_callbacks = callbacks
            self._last_progress = now
        elif not self.stream.active:
            self._error = (
                "the audio stream stopped by itself (stream aborted, or the audio server "
                "went away)"
            )
        elif now - self._last_progress > self.stall_timeout_s():
            self._error = (
                f"the audio stream stopped calling back ({now - self._last_progress:.1f} s "
                "without a callback: the audio server hangs or went away)"
            )
        return self._error
