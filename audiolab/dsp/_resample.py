"""The one sample-rate converter: polyphase FIR (``scipy.signal.resample_poly``) at an exact ratio.

Every caller (batch files, speech material, played files, live sources) goes through
:func:`resample`, so a file resampled by ``process`` and by ``play`` gives the same samples.
The anti-aliasing filter is SciPy's default design: a Kaiser window (beta 5.0) of
``20 * max(up, down) + 1`` taps with its cut-off at the lower Nyquist frequency.
"""

from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike

from audiolab._errors import ConfigError

__all__ = ["resample", "resample_ratio"]

_MAX_DENOMINATOR = 2000


def resample_ratio(fs_in: float, fs_out: float) -> tuple[int, int]:
    """``(up, down)`` in lowest terms with ``fs_out / fs_in == up / down`` (relative 1e-9).

    Raises
    ------
    ConfigError
        When the two rates have no ratio with a denominator up to 2000 (such as 44100 and an
        arbitrary 44123.7): say which standard rate to use.
    """
    if not (fs_in > 0 and fs_out > 0):
        raise ConfigError(f"sample rates must be > 0 Hz, got {fs_in:g} and {fs_out:g}")
    ratio = Fraction(fs_out / fs_in).limit_denominator(_MAX_DENOMINATOR)
    if abs(float(ratio) - fs_out / fs_in) > 1e-9 * fs_out / fs_in:
        raise ConfigError(
            f"{fs_in:g} Hz and {fs_out:g} Hz have no simple ratio; "
            "use a standard rate such as 16000, 22050, 44100 or 48000"
        )
    return ratio.numerator, ratio.denominator


def resample(
    x: ArrayLike, *, fs_in: float, fs_out: float, n_out: int | None = None
) -> np.ndarray:
    """Resample ``x`` along its last axis from ``fs_in`` to ``fs_out`` Hz.

    Parameters
    ----------
    x : array_like
        Signal, ``(n_samples,)`` or ``(n_channels, n_samples)``.
    fs_in, fs_out : float
        Sample rates in Hz; their ratio must be simple (see :func:`resample_ratio`).
    n_out : int, optional
        Length of the result: cut or zero-padded to it. Default
        ``ceil(n_samples * fs_out / fs_in)``.

    Returns
    -------
    numpy.ndarray
        C-contiguous, float32 for float32 input and float64 otherwise. ``x`` itself (as that
        dtype) when the rates are equal and ``n_out`` does not change the length.

    Examples
    --------
    >>> import numpy as np
    >>> from audiolab.dsp import resample
    >>> resample(np.ones(441), fs_in=44100, fs_out=48000).shape
    (480,)
    """
    arr = np.asarray(x)
    dtype = np.float32 if arr.dtype == np.float32 else np.float64
    arr = arr.astype(dtype, copy=False)
    if fs_in == fs_out:
        y = arr
    else:
        from scipy.signal import resample_poly

        up, down = resample_ratio(fs_in, fs_out)
        y = resample_poly(arr, up, down, axis=-1)
    if n_out is not None:
        n_have = y.shape[-1]
        if n_have > n_out:
            y = y[..., :n_out]
        elif n_have < n_out:
            pad = [(0, 0)] * (y.ndim - 1) + [(0, n_out - n_have)]
            y = np.pad(y, pad)
    return np.ascontiguousarray(y, dtype)
