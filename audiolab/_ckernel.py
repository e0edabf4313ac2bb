"""The bridge to the C kernels: status checks, safe buffer hand-over and the CPU path.

Every buffer passed to C goes through :func:`float_buffer` (or its siblings), which checks dtype,
contiguity and writability before ``ffi.from_buffer``: cffi itself does not check dtypes.

The hot kernels are built for several instruction sets (``csrc/isa/``); at import the fastest
path the CPU runs is selected (AVX-512, else AVX2, else the baseline; see ``_AUTOMATIC``),
or the path the environment variable ``AUDIOLAB_CPU_PATH`` names (``baseline``, ``avx2`` or
``avx512``): ``baseline`` gives the same bits on every x86-64 machine, e.g. across a cluster of
different CPUs.
"""

import os
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

__all__ = [
    "ABI_VERSION",
    "CPU_PATHS",
    "check",
    "check_abi",
    "complex_buffer",
    "double_buffer",
    "ffi",
    "float_buffer",
    "int_buffer",
    "lib",
    "select_cpu_path",
    "supported_cpu_paths",
]

ABI_VERSION = 4
"""The C interface this Python code is written against: ``al_abi_version()`` in csrc/common.c.

Both are bumped together whenever a struct layout or a signature in csrc/audiolab.h changes.
"""


def check_abi() -> None:
    """Raise :class:`KernelError` if the compiled kernels do not match this Python code.

    An editable install does not recompile csrc/ when it changes: a stale extension would
    otherwise be handed structs of another layout and crash or compute garbage.
    """
    # A build older than al_abi_version itself has no such function: version 0.
    version_fn = getattr(lib, "al_abi_version", None)
    found = int(version_fn()) if version_fn is not None else 0
    if found != ABI_VERSION:
        raise KernelError(
            f"audiolab's C extension is stale: it was built for C interface version {found}, "
            f"this Python code needs version {ABI_VERSION}. Rebuild it from the source tree "
            "with `make setup` or `pip install -e .`"
        )

_MESSAGES = {
    1: "a required pointer was NULL",
    2: "a count or size is out of range",
    3: "a parameter value is out of range",
    4: "NaN or inf where it is not allowed",
    5: "the state does not match the call",
}


check_abi()

CPU_PATHS = {"baseline": 0, "avx2": 1, "avx512": 2}
"""Names of the kernels' CPU paths and their ``al_cpu`` values, by instruction set."""

# The path chosen when none is named: the first of these that the machine runs. Every hot
# kernel's vectors are one native register wide (al_vfn / al_vd in csrc/al_simd.h), so each
# path is at least as fast as the one after it (`audiolab bench` on each path, README).
_AUTOMATIC = ("avx512", "avx2", "baseline")


def supported_cpu_paths() -> list[str]:
    """The CPU paths built into the extension that this machine runs, slowest first."""
    return [name for name, value in CPU_PATHS.items() if lib.al_cpu_supported(value)]


def select_cpu_path(name: str | None = None) -> str:
    """Run the kernels' ``name`` path from now on (``None``: the automatic choice).

    Returns the name of the path that ran before. Meant for import time and for tests that run
    a kernel on every path: kernels already running keep the path they started with.

    Raises
    ------
    KernelError
        ``name`` is not a path, or this build or CPU does not support it.
    """
    before = next(k for k, v in CPU_PATHS.items() if v == _selected())
    if name is None:
        name = next(p for p in _AUTOMATIC if p in supported_cpu_paths())
    if name not in CPU_PATHS or lib.al_cpu_select(CPU_PATHS[name]) != 0:
        raise KernelError(
            f"CPU path {name!r} is not available here; use one of "
            f"{', '.join(supported_cpu_paths())} (AUDIOLAB_CPU_PATH)"
        )
    return before


def _selected() -> int:
    path = ffi.string(lib.al_cpu_path()).decode()
    return {"avx512": 2, "avx2+fma": 1}.get(path, 0)


select_cpu_path(os.environ.get("AUDIOLAB_CPU_PATH") or None)


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
