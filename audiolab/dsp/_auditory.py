"""Auditory frequency scales."""

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["erb_bandwidth_hz", "erb_number", "erb_number_to_hz", "erb_space_hz"]


def erb_bandwidth_hz(f_hz: ArrayLike) -> np.ndarray:
    """Equivalent rectangular bandwidth of the normal auditory filter.

    ERB_N(f) = 24.7 (4.37 f / 1000 + 1) Hz, Eq. (3) in Glasberg & Moore (1990).
    """
    return 24.7 * (4.37 * np.asarray(f_hz, dtype=float) / 1000.0 + 1.0)


def erb_number(f_hz: ArrayLike) -> np.ndarray:
    """ERB-number ("Cams") of ``f_hz``: 21.4 log10(1 + 0.00437 f), Glasberg & Moore (1990)."""
    return 21.4 * np.log10(1.0 + 0.00437 * np.asarray(f_hz, dtype=float))


def erb_number_to_hz(e: ArrayLike) -> np.ndarray:
    """Inverse of :func:`erb_number`."""
    return (10.0 ** (np.asarray(e, dtype=float) / 21.4) - 1.0) / 0.00437


def erb_space_hz(
    f_low_hz: float, f_high_hz: float, *, bands_per_erb: float = 1.0, base_hz: float = 1000.0
) -> np.ndarray:
    """Centre frequencies evenly spaced on the ERB-number scale within ``[f_low_hz, f_high_hz]``.

    As in Hohmann (2002), the grid is anchored so that ``base_hz`` (1 kHz) is one of the
    (possibly extended) grid points, which makes banks with different edges share bands.
    """
    e_low, e_high, e_base = erb_number([f_low_hz, f_high_hz, base_hz])
    step = 1.0 / bands_per_erb
    e_start = e_base - np.floor((e_base - e_low) / step + 1e-9) * step
    n = int(np.floor((e_high - e_start) / step + 1e-9)) + 1
    return erb_number_to_hz(e_start + step * np.arange(n))
