"""Which pages of an array the OS has mapped: mincore(2) on the array's pages (Linux).

Used to check that buffers C holds are written before the audio callback first touches them.
"""

import ctypes
import os

import numpy as np

_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_ubyte)]
_LIBC.mincore.restype = ctypes.c_int
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def resident_pages(arr: np.ndarray) -> tuple[int, int]:
    """(resident, total) pages that hold ``arr``'s data (mincore's bit 0 per page)."""
    start = arr.ctypes.data - arr.ctypes.data % PAGE_BYTES
    length = arr.ctypes.data + arr.nbytes - start
    n_pages = -(-length // PAGE_BYTES)
    vec = (ctypes.c_ubyte * n_pages)()
    if _LIBC.mincore(start, length, vec) != 0:
        raise OSError(ctypes.get_errno(), "mincore failed")
    return sum(v & 1 for v in vec), n_pages


M_MMAP_THRESHOLD = -3  # glibc <malloc.h>


def fix_mmap_threshold(n_bytes: int) -> None:
    """Make glibc malloc serve every block of ``n_bytes`` or more with fresh pages (mmap).

    By default the threshold rises (up to 32 MiB) as large blocks are freed, after which a
    calloc may reuse heap pages it has to clear: those are mapped whether or not the code under
    test writes them. A fixed threshold makes an unwritten buffer show up as unmapped.
    """
    if _LIBC.mallopt(M_MMAP_THRESHOLD, n_bytes) != 1:
        raise OSError("mallopt(M_MMAP_THRESHOLD) failed")
