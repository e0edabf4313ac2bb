"""The stimulus player: slots in the C engine that play queued stimuli sample-accurately.

Python queues a stimulus (sound pressure in Pa) in a free slot; the callback plays it from the
requested stream frame, mixes it after the chain, and marks the slot done; Python then learns
the exact first and last frames and releases the slot. The slot states are C's
(``AL_SLOT_*`` in csrc/al_engine.h).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from audiolab._ckernel import check, ffi, lib
from audiolab._errors import ConfigError
from audiolab._validate import as_block
from audiolab.calibration._safety import OutputCeiling
from audiolab.engine._held import HeldByC

__all__ = ["N_SLOTS", "Playback", "Player", "check_output_channels"]

N_SLOTS = int(lib.AL_ENGINE_PLAYER_SLOTS)
_PLAYING, _DONE = int(lib.AL_SLOT_PLAYING), int(lib.AL_SLOT_DONE)


def check_output_channels(channels: Sequence[int], n_outputs: int) -> tuple[int, ...]:
    """``channels`` as a tuple if they are distinct device outputs (at least one), else raise."""
    chans = tuple(int(c) for c in channels)
    if not chans or len(set(chans)) != len(chans) or any(not 0 <= c < n_outputs for c in chans):
        raise ConfigError(
            f"channels must be distinct outputs in [0, {n_outputs - 1}], got {list(chans)}"
        )
    return chans


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


class Player:
    """Python's side of the engine's player slots.

    Parameters
    ----------
    n_outputs : int
        Device output channels.
    ceiling : OutputCeiling
        The engine's ceiling: every stimulus is checked against it before it is queued.
    """

    def __init__(self, *, n_outputs: int, ceiling: OutputCeiling) -> None:
        self.n_outputs = n_outputs
        self.ceiling = ceiling
        self.playbacks: dict[int, Playback] = {}
        self._held: dict[int, HeldByC] = {}  # a queued stimulus, until C releases its slot
        self._e: Any = None

    def attach(self, engine_ptr: Any) -> None:
        """Queue on the initialised engine ``engine_ptr`` (``al_engine *``)."""
        self._e = engine_ptr

    def checked_stimulus(
        self, stimulus_pa: Any, channels: Sequence[int]
    ) -> tuple[np.ndarray, tuple[int, ...]]:
        """The stimulus as a float32 block and its channels, refused if the ceiling forbids it."""
        x = as_block(stimulus_pa, name="stimulus_pa")
        chans = tuple(int(c) for c in channels)
        if x.shape[0] != len(chans):
            raise ConfigError(
                f"stimulus_pa has {x.shape[0]} channels but channels lists {len(chans)}"
            )
        if x.shape[1] < 1:
            raise ConfigError("stimulus_pa is empty")
        check_output_channels(chans, self.n_outputs)
        self.ceiling.check_signal_pa(x, chans, what="stimulus")
        return x, chans

    def queue(
        self, x: np.ndarray, chans: tuple[int, ...], start_frame: int | None
    ) -> Playback:
        """Queue a checked stimulus in a free slot (call with the slots freshly updated)."""
        free = [s for s in range(N_SLOTS) if s not in self.playbacks]
        if not free:
            raise ConfigError(f"all {N_SLOTS} player slots are busy; wait for one to finish")
        slot = free[0]
        chan_arr = np.asarray(chans, np.int32)
        held = HeldByC()
        pb = Playback(slot=slot, n_frames=x.shape[1], channels=chans,
                      requested_frame=start_frame, _data=x, _chans=chan_arr)
        status = lib.al_engine_queue(
            self._e, slot, held.floats(x, "stimulus_pa", writable=False), len(chans),
            held.ints(chan_arr, "channels", writable=False), x.shape[1],
            -1 if start_frame is None else int(start_frame),
        )
        check(status, "al_engine_queue")
        self.playbacks[slot] = pb
        self._held[slot] = held
        return pb

    def cancel(self, playback: Playback) -> None:
        """Stop a queued or playing stimulus at the next block."""
        lib.al_engine_slot_cancel(self._e, playback.slot)
        playback.cancelled = True

    def update(self) -> None:
        """Fill in start and end frames; release the slots C has finished with."""
        start = ffi.new("int64_t *")
        end = ffi.new("int64_t *")
        for slot, pb in list(self.playbacks.items()):
            state = int(lib.al_engine_slot_state(self._e, slot, start, end))
            if state >= _PLAYING and int(start[0]) >= 0:
                pb.start_frame = int(start[0])
            if state == _DONE:
                pb.end_frame = int(end[0])
                check(lib.al_engine_slot_release(self._e, slot), "al_engine_slot_release")
                del self.playbacks[slot]
                del self._held[slot]  # C no longer reads the stimulus
