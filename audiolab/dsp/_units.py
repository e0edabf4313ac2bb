"""Decibel conversions: the one place where ``10 ** (x / 20)`` and ``20 log10`` are written.

Amplitude ratios (pressure, sample values, filter magnitudes) use 20 dB per decade, power
ratios (energy, intensity, power spectra) 10 dB per decade. Each function takes a scalar or an
array and returns float64 (an array for array input, a NumPy scalar for scalar input); the
logarithms return -inf for zero without a warning.
"""

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["P_REF_PA", "amplitude_to_db", "db_to_amplitude", "db_to_power", "power_to_db"]

P_REF_PA = 20e-6
"""Reference sound pressure of dB SPL, 20 uPa (re-exported as ``audiolab.calibration.P_REF_PA``)."""


def db_to_amplitude(gain_db: ArrayLike) -> np.ndarray:
    """Amplitude ratio of a gain in dB: ``10 ** (gain_db / 20)``."""
    return np.power(10.0, np.asarray(gain_db, np.float64) / 20.0)


def amplitude_to_db(ratio: ArrayLike) -> np.ndarray:
    """Gain in dB of an amplitude ratio: ``20 log10(ratio)`` (-inf for 0)."""
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(np.asarray(ratio, np.float64))


def db_to_power(gain_db: ArrayLike) -> np.ndarray:
    """Power ratio of a gain in dB: ``10 ** (gain_db / 10)``."""
    return np.power(10.0, np.asarray(gain_db, np.float64) / 10.0)


def power_to_db(ratio: ArrayLike) -> np.ndarray:
    """Gain in dB of a power ratio: ``10 log10(ratio)`` (-inf for 0)."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(np.asarray(ratio, np.float64))
