"""Memory that C points into, and who keeps it alive: the engine's one rule, in one place.

``ffi.from_buffer`` hands C a bare pointer into a NumPy array; nothing in cffi keeps the array
alive for as long as C uses that pointer (DESIGN.md, "Processors"). The engine therefore passes
every buffer that C keeps beyond one call through a :class:`HeldByC`, which holds the array, and
each HeldByC lives exactly as long as C may read what it holds:

- the engine's own memory (engine struct, output calibration, stats and recording rings):
  the Engine's HeldByC, for the Engine's lifetime; a running stream holds the Engine, and a
  stream that hangs on close is leaked with it (:mod:`audiolab.engine._stream`);
- a graph (stage tables, routing, work buffer, looping source, the stages themselves): the
  graph's HeldByC, kept in ``Engine._alive`` until the callback has adopted a newer graph;
- a queued stimulus: its HeldByC, kept by the player until C has released the slot.

Buffers C reads only during one call (offline blocks, the drain of a ring) need no holder.
"""

from typing import Any

import numpy as np

from audiolab._ckernel import double_buffer, float_buffer, int_buffer

__all__ = ["HeldByC"]


class HeldByC:
    """Owner of arrays (and cffi objects) that C holds pointers to.

    Each method checks the array (dtype, contiguity, writability), keeps a reference to it, and
    returns the C pointer. Drop the HeldByC only once C can no longer use any of them.
    """

    def __init__(self) -> None:
        self._held: list[Any] = []

    def keep(self, *objects: Any) -> None:
        """Hold ``objects`` (cffi allocations, stages owning their own C state) as well."""
        self._held.extend(objects)

    def floats(self, arr: np.ndarray, name: str, *, writable: bool = True) -> Any:
        """``float *`` into ``arr`` (float32), held."""
        ptr = float_buffer(arr, name, writable=writable)
        self._held.append(arr)
        return ptr

    def doubles(self, arr: np.ndarray, name: str, *, writable: bool = True) -> Any:
        """``double *`` into ``arr`` (float64), held."""
        ptr = double_buffer(arr, name, writable=writable)
        self._held.append(arr)
        return ptr

    def ints(self, arr: np.ndarray, name: str, *, writable: bool = True) -> Any:
        """``int32_t *`` into ``arr`` (int32), held."""
        ptr = int_buffer(arr, name, writable=writable)
        self._held.append(arr)
        return ptr
