"""Recordings of the device input and of the output (after the ceiling), from the callback's rings.

The callback copies each block into a lock-free single-producer single-consumer ring per
direction; :class:`Recorder` drains them and locates the samples in stream frames by counting
from the first recorded frame, which the engine's counters report.
"""

from typing import Any

import numpy as np

from audiolab._ckernel import ffi, float_buffer, lib
from audiolab._errors import AudioDeviceError, ConfigError
from audiolab._validate import check_choice
from audiolab.engine._held import HeldByC

__all__ = ["Recorder"]

_INPUT, _OUTPUT = 0, 1


class Recorder:
    """Python's end of the two recording rings.

    Parameters
    ----------
    n_inputs, n_outputs : int
        Device input channels (0: no input ring) and output channels.
    capacity_frames : int
        Frames each ring holds (a power of two); drain it more often than it fills.
    held : HeldByC
        The engine's holder: the rings' storage lives as long as the engine.
    """

    def __init__(
        self, *, n_inputs: int, n_outputs: int, capacity_frames: int, held: HeldByC
    ) -> None:
        self.capacity_frames = capacity_frames
        self._n_channels = {_INPUT: n_inputs, _OUTPUT: n_outputs}
        rec_in = np.zeros(capacity_frames * max(n_inputs, 1), np.float32)
        rec_out = np.zeros(capacity_frames * n_outputs, np.float32)
        self.input_ring = held.floats(rec_in, "rec_in") if n_inputs else ffi.NULL
        self.output_ring = held.floats(rec_out, "rec_out")
        self._tmp = {
            _INPUT: np.empty((capacity_frames, max(n_inputs, 1)), np.float32),
            _OUTPUT: np.empty((capacity_frames, n_outputs), np.float32),
        }
        self._parts: dict[int, list[np.ndarray]] = {_INPUT: [], _OUTPUT: []}
        self._returned = {_INPUT: 0, _OUTPUT: 0}  # frames already handed out by take()
        self._e: Any = None

    def attach(self, engine_ptr: Any) -> None:
        """Read from the initialised engine ``engine_ptr`` (``al_engine *``)."""
        self._e = engine_ptr

    def switch(self, *, input: bool | None, output: bool | None) -> None:
        """Switch recording of the input and/or output on or off (None: leave as is)."""
        for which, on in ((_INPUT, input), (_OUTPUT, output)):
            if on is not None:
                if which == _INPUT and self._n_channels[_INPUT] == 0:
                    raise ConfigError("this engine has no inputs to record")
                lib.al_engine_set_recording(self._e, which, 1 if on else 0)

    def drain(self) -> None:
        """Move what the callback has recorded out of the rings."""
        for which, n_ch in self._n_channels.items():
            if n_ch == 0:
                continue
            tmp = self._tmp[which]
            while True:
                got = int(lib.al_engine_read_recording(
                    self._e, which, float_buffer(tmp, "recording"), self.capacity_frames
                ))
                if got <= 0:
                    break
                self._parts[which].append(tmp[:got].copy())

    def take(
        self, which: str, counters: dict[str, int], *, clear: bool
    ) -> tuple[np.ndarray, int]:
        """Drained samples ``(n, n_channels)`` of ``"input"`` or ``"output"``, first frame.

        ``counters`` are the engine's counters read after the last drain; ``clear`` hands the
        samples out for good (the next call starts after them).
        """
        idx = _INPUT if check_choice("which", which, ("input", "output")) == "input" else _OUTPUT
        parts = self._parts[idx]
        data = (
            np.concatenate(parts) if parts
            else np.zeros((0, self._n_channels[idx]), np.float32)
        )
        start = counters["input_first_frame" if idx == _INPUT else "output_first_frame"]
        first = start + self._returned[idx] if start >= 0 else -1
        if clear:
            self._parts[idx] = []
            self._returned[idx] += data.shape[0]
        return data, first

    def tail(self, which: str, n_frames: int) -> np.ndarray:
        """The last ``n_frames`` drained frames ``(n, n_channels)``; older ones are let go.

        For monitors (a spectrum of what is playing): memory stays bounded however long the
        stream runs. Frames let go count as handed out, so :meth:`take` stays aligned.
        """
        idx = _INPUT if check_choice("which", which, ("input", "output")) == "input" else _OUTPUT
        parts = self._parts[idx]
        if not parts:
            return np.zeros((0, max(self._n_channels[idx], 1)), np.float32)
        data = np.concatenate(parts) if len(parts) > 1 else parts[0]
        kept = data[-n_frames:] if n_frames > 0 else data[:0]
        self._returned[idx] += data.shape[0] - kept.shape[0]
        self._parts[idx] = [kept]
        return kept

    @staticmethod
    def check_complete(which: str, counters: dict[str, int]) -> None:
        """Raise if the ``which`` ring overflowed (frames were lost before a drain)."""
        dropped = counters["dropped_input_frames" if which == "input" else "dropped_output_frames"]
        if dropped:
            raise AudioDeviceError(
                f"the {which} recording lost {dropped} frames (poll() was not called often "
                "enough for the ring size)"
            )
