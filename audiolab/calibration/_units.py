"""Level units and the one digital reference used everywhere in audiolab.

0 dBFS is a full-scale sine (peak 1.0, RMS 1/sqrt(2)). A calibration value is "the dB SPL that
a full-scale sine produces". Inside the engine a sample is sound pressure in pascal.
"""

import math

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "P_REF_PA",
    "FULL_SCALE_SINE_RMS",
    "db_spl_to_pa_rms",
    "digital_to_pa_scale",
    "pa_rms_to_db_spl",
    "rms_db_spl",
]

P_REF_PA = 20e-6
"""Reference sound pressure for dB SPL, 20 uPa."""

FULL_SCALE_SINE_RMS = 1.0 / math.sqrt(2.0)
"""RMS of the digital reference signal (a sine of peak 1.0): 0 dBFS."""


def db_spl_to_pa_rms(level_db_spl: ArrayLike) -> np.ndarray:
    """RMS sound pressure in Pa of a level in dB SPL (re 20 uPa)."""
    return P_REF_PA * 10.0 ** (np.asarray(level_db_spl, float) / 20.0)


def pa_rms_to_db_spl(p_rms_pa: ArrayLike) -> np.ndarray:
    """Level in dB SPL of an RMS pressure in Pa (-inf for silence)."""
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(np.asarray(p_rms_pa, float) / P_REF_PA)


def digital_to_pa_scale(full_scale_db_spl: float) -> float:
    """Factor from digital sample values to Pa when a full-scale sine is ``full_scale_db_spl``.

    A full-scale sine has peak 1.0 and RMS 1/sqrt(2); it must have the RMS pressure of
    ``full_scale_db_spl``, so the factor is sqrt(2) * 20 uPa * 10^(X/20).
    """
    return float(math.sqrt(2.0) * P_REF_PA * 10.0 ** (full_scale_db_spl / 20.0))


def rms_db_spl(x_pa: ArrayLike) -> float:
    """Overall RMS level in dB SPL of a signal in Pa (all channels and samples)."""
    x = np.asarray(x_pa, float)
    if x.size == 0:
        return -math.inf
    return float(pa_rms_to_db_spl(math.sqrt(float(np.mean(x * x)))))
