"""The bridge to the C kernels: status checks and safe buffer hand-over.

Every buffer passed to C goes through :func:`float_buffer` (or its siblings), which checks dtype,
contiguity and writability before ``ffi.from_buffer``: cffi itself does not check dtypes.
"""

from typing import Any

import numpy as np

from audiolab._errors import KernelError

try:
    from audiolab._kernels import ffi, lib
except ImportError as exc:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        "audiolab's C extension audiolab._kernels is missing: reinstall with "
        "`pip install .` (or `make demo`), which compiles csrc/ with cffi"
    ) from exc

__all__ = ["check", "double_buffer", "ffi", "float_buffer", "int_buffer", "lib", "complex_buffer"]

_MESSAGES = {
    1: "a required pointer was NULL",
    2: "a count or size is out of range",
    3: "a parameter value is out of range",
    4: "NaN or inf where it is not allowed",
    5: "the state does not match the call",
}


def check(status: int, kernel: str) -> None:
    """Raise :class:`KernelError` if a kernel returned a non-zero status."""
    if status != 0:
        detail = _MESSAGES.get(status, f"unknown status {status}")
        raise KernelError(f"C kernel {kernel} failed: {detail} (status {status})")


def _buffer(arr: np.ndarray, dtype: type, ctype: str, name: str, writable: bool) -> Any:
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(arr).__name__}")
    if arr.dtype != dtype:
        raise TypeError(f"{name} must have dtype {np.dtype(dtype).name}, got {arr.dtype}")
    if not arr.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if writable and not arr.flags.writeable:
        raise ValueError(f"{name} must be writable")
    return ffi.from_buffer(ctype, arr, require_writable=writable)


def float_buffer(arr: np.ndarray, name: str, *, writable: bool = True) -> Any:
    """``float *`` view of a float32 C-contiguous array."""
    return _buffer(arr, np.float32, "float[]", name, writable)


def complex_buffer(arr: np.ndarray, name: str, *, writable: bool = True) -> Any:
    """``float *`` view (interleaved re, im) of a complex64 C-contiguous array."""
    return _buffer(arr, np.complex64, "float[]", name, writable)


def double_buffer(arr: np.ndarray, name: str, *, writable: bool = True) -> Any:
    """``double *`` view of a float64 C-contiguous array."""
    return _buffer(arr, np.float64, "double[]", name, writable)


def int_buffer(arr: np.ndarray, name: str, *, writable: bool = True) -> Any:
    """``int32_t *`` view of an int32 C-contiguous array."""
    return _buffer(arr, np.int32, "int32_t[]", name, writable)
