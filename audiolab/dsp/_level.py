"""Sound level meter: time-weighted RMS level in dB re a reference (C kernel csrc/level.c).

IEC 61672-1:2013 defines the exponential time weightings F ("fast", tau = 0.125 s) and S
("slow", tau = 1 s) on the squared signal: L(t) = 10 log10((1/tau) integral p^2(xi)
exp(-(t - xi)/tau) dxi / p0^2). Sampled, that is the one-pole smoother
ms[n] = ms[n-1] + alpha (x[n]^2 - ms[n-1]) with alpha = 1 - exp(-1 / (tau fs)). The
equivalent continuous level Leq is the plain mean of x^2 since the start.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from audiolab._ckernel import check, ffi, float_buffer, lib
from audiolab._cstruct import CStruct
from audiolab._validate import check_choice, check_int, check_real
from audiolab.dsp._processor import Processor
from audiolab.dsp._units import P_REF_PA, power_to_db

__all__ = ["TIME_CONSTANTS_S", "LevelMeter", "LevelMeterConfig"]

TIME_CONSTANTS_S = {"fast": 0.125, "slow": 1.0}
"""Exponential time constants of IEC 61672-1 time weightings F and S, in seconds."""

_MODES = {"fast": 0, "slow": 0, "leq": 1}  # al_level_mode


@dataclass(frozen=True)
class LevelMeterConfig:
    """Validated parameters of a :class:`LevelMeter`.

    Parameters
    ----------
    fs : float
        Sample rate in Hz, in (0, 768000].
    time_weighting : {"fast", "slow", "leq"}
        "fast" (tau = 125 ms) or "slow" (tau = 1 s) exponential time weighting of the mean
        square (IEC 61672-1), or "leq": the mean square since the start (equivalent level).
    reference : float
        Reference RMS value in the signal's unit, > 0: 20e-6 for a signal in Pa gives dB SPL,
        ``1 / sqrt(2)`` for digital full scale gives dBFS (0 dBFS = a full-scale sine).
    """

    fs: float = 48000.0
    time_weighting: str = "fast"
    reference: float = P_REF_PA

    def __post_init__(self) -> None:
        check_real("fs", self.fs, low=0, high=768000, low_open=True)
        check_choice("time_weighting", self.time_weighting, tuple(_MODES))
        # 1 / reference^2 must be a finite, normal double.
        check_real("reference", self.reference, low=1e-150, high=1e150)

    @property
    def alpha(self) -> float:
        """Smoothing coefficient 1 - exp(-1 / (tau fs)) of the exponential weighting (1 for Leq)."""
        tau = TIME_CONSTANTS_S.get(self.time_weighting)
        return 1.0 if tau is None else -math.expm1(-1.0 / (tau * float(self.fs)))


class LevelMeter(Processor):
    """Time-weighted level meter: per-sample level in dB re ``reference``, per channel.

    Parameters
    ----------
    fs : float
        Sample rate in Hz.
    time_weighting : {"fast", "slow", "leq"}
        Exponential time weighting F (125 ms) or S (1 s) of IEC 61672-1, or "leq" for the
        equivalent level since the start (or the last ``reset()``).
    reference : float
        Reference RMS value in the signal's unit (default 20e-6: Pa -> dB SPL).

    Notes
    -----
    ``process(block)`` returns the level after each sample, in dB, with the shape of the block
    (float32; ``-inf`` while the mean square is zero, e.g. before any sound). The meter starts
    at rest (mean square 0), as a meter switched on in silence. Samples smaller than the
    smallest normal float32 (1.2e-38) count as 0 (the kernel flushes denormals).
    ``current_level_db()`` gives the level now, per channel, in float64.

    Examples
    --------
    >>> import numpy as np
    >>> from audiolab.dsp import LevelMeter
    >>> t = np.arange(48000) / 48000
    >>> tone = (np.sqrt(2) * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)  # 1 Pa RMS
    >>> meter = LevelMeter(fs=48000, time_weighting="fast")
    >>> levels = meter.process(tone)
    >>> round(float(levels[-1]), 1)
    94.0
    """

    def __init__(
        self,
        *,
        fs: float = 48000.0,
        time_weighting: str = "fast",
        reference: float = P_REF_PA,
    ) -> None:
        super().__init__()
        self.config = LevelMeterConfig(fs=fs, time_weighting=time_weighting, reference=reference)
        self.fs = float(fs)
        self._mean_square = np.zeros(0)
        self._count = np.zeros(0, np.int64)
        self._c: Any = None

    @property
    def latency_samples(self) -> int:
        """A meter reads the signal as it comes: 0."""
        return 0

    def _allocate(self, n_channels: int) -> None:
        s = CStruct(
            "al_level", n_channels=n_channels, mode=_MODES[self.config.time_weighting],
            alpha=self.config.alpha, inv_reference_sq=1.0 / float(self.config.reference) ** 2,
        )
        self._mean_square = s.zeros("mean_square", n_channels)
        self._count = s.zeros("count", n_channels)
        self._struct = s
        self._c = s.c

    def _process(self, x: np.ndarray) -> np.ndarray:
        buf = float_buffer(x, "block")
        check(lib.al_level_levels(self._c, buf, buf, x.shape[1]), "al_level_levels")
        return x

    def current_level_db(self) -> np.ndarray:
        """Level now, per channel, in dB re ``reference`` (float64, ``-inf`` for silence).

        Returns an empty array before the first block (the channel count is not known yet).
        """
        if self._n_channels is None:
            return np.zeros(0)
        ms = self._mean_square.copy()
        if self.config.time_weighting == "leq":
            ms = np.divide(ms, self._count, out=np.zeros_like(ms), where=self._count > 0)
        return power_to_db(ms / float(self.config.reference) ** 2)

    def c_stage(self, n_channels: int) -> tuple[Any, Any]:
        """The meter as a C stage for the real-time engine (INTERFACES.md).

        Restarts the meter at rest for ``n_channels`` and returns ``(function, state)``: the
        ``al_level_process`` kernel cast to ``al_stage_fn`` and its state cast to ``void *``.
        The stage leaves the audio unchanged; ``current_level_db()`` reads what it measured.
        """
        n = check_int("n_channels", n_channels, low=1, high=1024)
        self.reset()
        self._allocate(n)
        self._n_channels = n
        fn = ffi.cast("al_stage_fn", ffi.addressof(lib, "al_level_process"))
        return fn, ffi.cast("void *", self._c)
