"""Validation helpers shared by every layer: one wording for every error message."""

import math
from numbers import Real
from typing import Any

import numpy as np

from audiolab._errors import ConfigError, SignalError, SignalTypeError

__all__ = [
    "as_block",
    "as_mono",
    "check_choice",
    "check_int",
    "check_out",
    "check_real",
]


def check_real(
    name: str,
    value: Any,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as float if it lies in the given interval, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Real | np.floating | np.integer):
        raise ConfigError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    lo_ok = v > low if low_open else v >= low
    hi_ok = v < high if high_open else v <= high
    if not (math.isfinite(v) and lo_ok and hi_ok):
        lb = "(" if low_open else "["
        hb = ")" if high_open else "]"
        raise ConfigError(f"{name} must be in {lb}{low:g}, {high:g}{hb}, got {value!r}")
    return v


def check_int(
    name: str, value: Any, *, low: int | None = None, high: int | None = None
) -> int:
    """Return ``value`` as int if it is an integer in ``[low, high]``, else raise."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        raise ConfigError(f"{name} must be in [{lo}, {hi}], got {value!r}")
    return v


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise listing them."""
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return str(value)


def as_block(x: Any, *, name: str = "block", allow_nonfinite: bool = False) -> np.ndarray:
    """Return ``x`` as a float32 C-contiguous ``(n_channels, n_samples)`` array.

    A 1-D input is one channel. Real floating and integer-free input only: integer PCM has no
    defined scale here and complex input has no meaning as a sound pressure.
    """
    if not isinstance(x, np.ndarray):
        if isinstance(x, list | tuple):
            x = np.asarray(x)
        else:
            raise SignalTypeError(f"{name} must be a numpy array, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise SignalTypeError(
            f"{name} must hold real floating-point samples (float32 or float64), "
            f"got dtype {x.dtype}"
        )
    if x.ndim == 1:
        x = x[np.newaxis, :]
    elif x.ndim != 2:
        raise SignalError(
            f"{name} must be 1-D (n_samples,) or 2-D (n_channels, n_samples), got shape {x.shape}"
        )
    if x.shape[0] < 1:
        raise SignalError(f"{name} must have at least one channel, got shape {x.shape}")
    out = np.ascontiguousarray(x, dtype=np.float32)
    if not allow_nonfinite and out.size and not np.isfinite(out).all():
        ch, idx = np.argwhere(~np.isfinite(out))[0]
        raise SignalError(
            f"{name} contains NaN or inf (first at channel {ch}, sample {idx}); "
            "clean the signal before processing"
        )
    if out is x:
        out = out.copy()
    return out


def as_mono(x: Any, *, name: str = "x", allow_nonfinite: bool = False) -> np.ndarray:
    """Return ``x`` as a float32 1-D array (one channel)."""
    if isinstance(x, np.ndarray) and x.ndim != 1:
        raise SignalError(f"{name} must be 1-D (one channel), got shape {x.shape}")
    return as_block(x, name=name, allow_nonfinite=allow_nonfinite)[0]


def check_out(out: Any, shape: tuple[int, ...], dtype: type, *, name: str = "out") -> np.ndarray:
    """Return a preallocated output array after checking it, or a new one when ``out`` is None.

    ``out`` must be a writable C-contiguous numpy array of exactly ``shape`` and ``dtype``:
    kernels write into it directly.
    """
    if out is None:
        return np.empty(shape, dtype)
    if not isinstance(out, np.ndarray) or out.dtype != dtype:
        got = getattr(out, "dtype", type(out).__name__)
        raise SignalTypeError(f"{name} must be a {np.dtype(dtype).name} numpy array, got {got}")
    if out.shape != shape:
        raise SignalError(f"{name} must have shape {shape}, got {out.shape}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise SignalError(f"{name} must be a writable C-contiguous array")
    return out
