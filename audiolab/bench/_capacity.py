"""Bench cases: live capacity of one core at a 64-frame period, 48 kHz.

Each case runs one stereo chain through the engine's C callback offline
(:meth:`audiolab.engine.Engine.process_offline`, the code the audio thread runs, input and output
calibration, ceiling and meters included) in 64-frame blocks, and reports how many such chains
fit in half of the 1.33 ms period (:func:`audiolab.bench._runner.live_capacity`). The engine's
own per-block work is counted in every chain, so the figure errs low.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from audiolab.bench._runner import BenchCase
from audiolab.calibration import Calibration
from audiolab.engine import Engine, EngineStats, GammatoneStage
from audiolab.models import HearingLossSimulator
from audiolab.models._hearing_aid import HearingAid

__all__ = ["cases"]

FS = 48000
BLOCK = 64


def _engine_run(x: np.ndarray, chain: Sequence[Any]) -> Callable[[], Any]:
    """A run of ``x`` through a graph of ``chain`` in BLOCK-frame callbacks.

    The graph is built once, outside the timing, as a live stream builds it before it starts;
    each run continues its state, which costs the same per block as starting at rest.
    """
    eng = Engine(fs=FS, n_inputs=2, n_outputs=2, calibration=Calibration.uncalibrated_mode(2),
                 stats_capacity=1 << 14)
    eng.configure(list(chain))

    def run() -> np.ndarray:
        eng.stats = EngineStats(eng.n_outputs, eng.fs)
        return eng.process_offline(x, block_frames=BLOCK)

    return run


def cases(quick: bool) -> list[BenchCase]:
    """Hearing aid N3 + hearing-loss simulator N3, and a 30-band gammatone stage; stereo."""
    seconds = 1.0 if quick else 3.0
    rng = np.random.default_rng(5)
    x = (0.01 * rng.standard_normal((2, int(seconds * FS)))).astype(np.float32)
    note = "chains per core within half of a 64-frame period at 48 kHz (1.33 ms)"
    return [
        BenchCase(
            name="live capacity: hearing aid N3 + hearing-loss simulation N3, stereo, 64 frames",
            audio_s=seconds,
            ours=_engine_run(x, [HearingAid("N3", fs=FS), HearingLossSimulator("N3", fs=FS)]),
            note=note,
            live_block_frames=BLOCK,
            live_fs=FS,
        ),
        BenchCase(
            name="live capacity: gammatone analysis-resynthesis, 30 bands 100-8000 Hz, stereo, "
                 "64 frames",
            audio_s=seconds,
            ours=_engine_run(x, [GammatoneStage(fs=FS, f_low_hz=100.0, f_high_hz=8000.0)]),
            note=note,
            live_block_frames=BLOCK,
            live_fs=FS,
        ),
    ]
