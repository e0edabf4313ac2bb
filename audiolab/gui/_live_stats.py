"""The figures a live view shows, read from an engine's statistics (no Qt).

The counts come from the running totals the statistics keep over the whole stream, the load and
meters from their recent window, so a view that runs for hours costs the same per redraw as in
its first second. Lost callbacks and overruns are ours; xruns are the audio driver's (counted by
JACK where it runs) and are reported apart (DESIGN.md, pitfalls).
"""

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["LiveFigures", "LiveStatsReader", "format_db"]


@dataclass
class LiveFigures:
    """What a live view shows after one poll.

    Attributes
    ----------
    callbacks, expected_callbacks, lost_callbacks : int
        Callbacks seen, those the elapsed time should hold, and the difference (>= 0).
    overruns : int
        Callbacks that took longer than their block's period.
    limited_samples : int
        Output samples the safety ceiling clamped.
    stage_errors : int
        Blocks muted because a stage failed.
    xruns : int or None
        Driver xruns since the engine started (None: not counted on this host API).
    load_mean, load_max : float
        Callback time over the block period (1.0 = the whole period), over the last second.
    rms_db_spl, peak_db_spl : ndarray
        Per output channel, over the meter window, dB SPL (-inf: silence).
    ceiling_db_spl : list of float or None
        Per output channel.
    """

    callbacks: int = 0
    expected_callbacks: int = 0
    lost_callbacks: int = 0
    overruns: int = 0
    limited_samples: int = 0
    stage_errors: int = 0
    xruns: int | None = None
    load_mean: float = 0.0
    load_max: float = 0.0
    rms_db_spl: np.ndarray = field(default_factory=lambda: np.zeros(0))
    peak_db_spl: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ceiling_db_spl: list[float | None] = field(default_factory=list)


class LiveStatsReader:
    """Reads an engine's statistics since the last read.

    Parameters
    ----------
    engine : Engine
        The engine (its owner polls it; this only reads ``engine.stats``).
    meter_s : float
        Meter window in seconds.
    """

    def __init__(self, engine: Any, *, meter_s: float = 0.3) -> None:
        self.engine = engine
        self.meter_s = meter_s
        self.figures = LiveFigures(ceiling_db_spl=engine.ceiling_db_spl())

    def read(self, *, xruns: int | None = None) -> LiveFigures:
        """Update the figures from the records the engine's last poll drained."""
        stats = self.engine.stats
        block = self.engine.block_frames or 256
        s = stats.summary(block_frames=block)
        f = self.figures
        f.callbacks = s["callbacks"]
        f.expected_callbacks = s["expected_callbacks"]
        f.lost_callbacks = s["lost_callbacks"]
        f.overruns = s["overruns"]
        f.limited_samples = s["limited_samples"]
        f.stage_errors = s["stage_errors"]
        f.xruns = xruns
        period_us = 1e6 * block / self.engine.fs
        r = stats.records
        last = r[-max(1, int(round(self.engine.fs / block))):] if r.size else r
        d = last["duration_us"].astype(float) if last.size else np.zeros(1)
        f.load_mean = float(d.mean()) / period_us
        f.load_max = float(d.max()) / period_us
        f.rms_db_spl, f.peak_db_spl = stats.meters(last_s=self.meter_s)
        return f


def format_db(value: float) -> str:
    """A level for a label: one decimal, or "-" for silence."""
    return f"{value:.1f}" if math.isfinite(value) else "-"
