"""Level units and the one digital reference used everywhere in audiolab.

0 dBFS is a full-scale sine (peak 1.0, RMS 1/sqrt(2)). A calibration value is "the dB SPL that
a full-scale sine produces". Inside the engine a sample is sound pressure in pascal.
"""

import math

import numpy as np
from numpy.typing import ArrayLike

from audiolab._errors import SignalError
from audiolab.dsp._units import P_REF_PA, amplitude_to_db, db_to_amplitude

__all__ = [
    "FULL_SCALE_SINE_RMS",
    "P_REF_PA",
    "db_spl_to_pa_rms",
    "digital_to_pa_scale",
    "pa_rms_to_db_spl",
    "rms_db_spl",
    "scale_to_db_spl",
    "sine_peak_pa",
]


FULL_SCALE_SINE_RMS = 1.0 / math.sqrt(2.0)
"""RMS of the digital reference signal (a sine of peak 1.0): 0 dBFS."""


def db_spl_to_pa_rms(level_db_spl: ArrayLike) -> np.ndarray:
    """RMS sound pressure in Pa of a level in dB SPL (re 20 uPa)."""
    return P_REF_PA * db_to_amplitude(level_db_spl)


def pa_rms_to_db_spl(p_rms_pa: ArrayLike) -> np.ndarray:
    """Level in dB SPL of an RMS pressure in Pa (-inf for silence)."""
    return amplitude_to_db(np.asarray(p_rms_pa, float) / P_REF_PA)


def sine_peak_pa(level_db_spl: float) -> float:
    """Peak pressure in Pa of a sine of RMS level ``level_db_spl``: sqrt(2) 20 uPa 10^(X/20)."""
    return math.sqrt(2.0) * float(db_spl_to_pa_rms(level_db_spl))


def digital_to_pa_scale(full_scale_db_spl: float) -> float:
    """Factor from digital sample values to Pa when a full-scale sine is ``full_scale_db_spl``.

    A full-scale sine has peak 1.0, so the factor is the peak pressure of a sine of
    ``full_scale_db_spl`` (:func:`sine_peak_pa`).
    """
    return sine_peak_pa(full_scale_db_spl)


def rms_db_spl(x_pa: ArrayLike) -> float:
    """Overall RMS level in dB SPL of a signal in Pa (all channels and samples)."""
    x = np.asarray(x_pa, float)
    if x.size == 0:
        return -math.inf
    return float(pa_rms_to_db_spl(math.sqrt(float(np.mean(x * x)))))


def scale_to_db_spl(x: ArrayLike, level_db_spl: float, *, what: str = "the signal") -> np.ndarray:
    """``x`` scaled so that its RMS over all channels and samples is ``level_db_spl``, in Pa.

    This is the one meaning of "set to X dB SPL" in audiolab (``--level-db-spl`` of every
    command): the mean power over every channel and sample is that of a sine of X dB SPL, so
    the channels keep their level differences (a stereo recording keeps its interaural
    level differences; a diotic signal gets X dB SPL in each ear).

    Parameters
    ----------
    x : array_like
        Signal in any unit, ``(n_samples,)`` or ``(n_channels, n_samples)``.
    level_db_spl : float
        Target RMS level in dB SPL (re 20 uPa).
    what : str
        What ``x`` is, for the error message (a file name, say).

    Returns
    -------
    numpy.ndarray
        float32 sound pressure in Pa, the shape of ``x``.

    Raises
    ------
    SignalError
        If ``x`` is empty or silent (no scale gives it a level).
    """
    arr = np.asarray(x, np.float64)
    rms = math.sqrt(float(np.mean(arr * arr))) if arr.size else 0.0
    if rms == 0.0:
        raise SignalError(f"{what} is silent, so it cannot be scaled to {level_db_spl:g} dB SPL")
    return (arr * (float(db_spl_to_pa_rms(level_db_spl)) / rms)).astype(np.float32)
