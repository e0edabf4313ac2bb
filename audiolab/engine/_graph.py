"""One processing graph of the engine: stages, routing and source, in the C ``al_graph`` form.

A graph is built and validated in Python off the audio thread, then published by atomic pointer
swap; the callback adopts it at a block boundary (DESIGN.md, "Real-time engine"). Everything
the ``al_graph`` points to is held by the graph's :class:`~audiolab.engine._held.HeldByC`.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from audiolab._ckernel import ffi, lib
from audiolab._errors import ConfigError
from audiolab._validate import as_block
from audiolab.engine._held import HeldByC
from audiolab.engine._stages import stage_pairs

__all__ = [
    "Graph",
    "chain_latency_samples",
    "graph_stages",
    "input_routing",
    "looping_source",
    "output_routing",
]

MAX_STAGES = int(lib.AL_ENGINE_MAX_STAGES)


def _routing_table(given: Sequence[int] | None, default: list[int]) -> np.ndarray:
    return np.array(default if given is None else list(given), dtype=np.int64)


def _routes_to(table: np.ndarray, *, n_entries: int, n_sources: int) -> bool:
    """True if ``table`` has ``n_entries`` entries, each -1 (none) or a source index."""
    return table.shape == (n_entries,) and not np.any((table < -1) | (table >= n_sources))


def input_routing(
    input_channels: Sequence[int] | None, *, n_channels: int, n_inputs: int
) -> np.ndarray:
    """Device input feeding each processing channel (-1: silence); default: input c -> c."""
    default = [c if c < n_inputs else -1 for c in range(n_channels)]
    in_map = _routing_table(input_channels, default)
    if not _routes_to(in_map, n_entries=n_channels, n_sources=n_inputs):
        raise ConfigError(
            f"input_channels must list {n_channels} device inputs in [-1, {n_inputs - 1}], "
            f"got {list(in_map)}"
        )
    return in_map


def output_routing(
    output_map: Sequence[int] | None, *, n_channels: int, n_outputs: int
) -> np.ndarray:
    """Processing channel sent to each device output (-1: none); default: channel o -> o."""
    default = [o if o < n_channels else -1 for o in range(n_outputs)]
    out_map = _routing_table(output_map, default)
    if not _routes_to(out_map, n_entries=n_outputs, n_sources=n_channels):
        raise ConfigError(
            f"output_map must list a processing channel in [-1, {n_channels - 1}] for each of "
            f"the {n_outputs} outputs, got {list(out_map)}"
        )
    return out_map


def looping_source(source_pa: Any, *, n_channels: int) -> np.ndarray | None:
    """The looping source as ``(n_channels, n)`` float32 (one row is repeated); None: none."""
    if source_pa is None:
        return None
    src = as_block(source_pa, name="source_pa")
    if src.shape[0] == 1 and n_channels > 1:
        src = np.ascontiguousarray(np.repeat(src, n_channels, axis=0))
    if src.shape[0] != n_channels or src.shape[1] < 1:
        raise ConfigError(
            f"source_pa must have shape ({n_channels}, n_frames >= 1), got {src.shape}"
        )
    return src


def graph_stages(chain: Any, n_channels: int) -> tuple[list[tuple[Any, Any]], list[Any]]:
    """The chain's ``(al_stage_fn, void *)`` pairs, each stage started at rest, and their owners.

    Raises :class:`ConfigError` for a stage without a C implementation or too many stages.
    """
    pairs, owners = stage_pairs(chain, n_channels)
    if len(pairs) > MAX_STAGES:
        raise ConfigError(f"a graph holds at most {MAX_STAGES} stages")
    return pairs, owners


def chain_latency_samples(chain: Any) -> int:
    """Algorithmic latency of a chain (a Chain, or a sequence of stages), in samples."""
    if chain is None:
        return 0
    if hasattr(chain, "latency_samples"):
        return int(chain.latency_samples)
    return sum(int(getattr(s, "latency_samples", 0)) for s in chain)


class Graph:
    """Owner of one ``al_graph`` and of everything it points to.

    Parameters
    ----------
    graph_id : int
        The id the callback reports in its statistics.
    stages : tuple
        ``(pairs, owners)`` from :func:`graph_stages`.
    n_channels : int
        Processing channels.
    max_frames : int
        Largest block (sizes the work buffer).
    in_map, in_gain, out_map : ndarray
        Routing from :func:`input_routing`, the digital -> Pa gain of each channel's input,
        and routing from :func:`output_routing`.
    source : ndarray or None
        Looping source from :func:`looping_source`.
    """

    def __init__(
        self,
        *,
        graph_id: int,
        stages: tuple[list[tuple[Any, Any]], list[Any]],
        n_channels: int,
        max_frames: int,
        in_map: np.ndarray,
        in_gain: np.ndarray,
        out_map: np.ndarray,
        source: np.ndarray | None,
    ) -> None:
        pairs, owners = stages
        self.id = graph_id
        self.held = HeldByC()
        self.held.keep(pairs, owners)  # the stages own the state their C functions run on
        c = ffi.new("al_graph *")
        c.id = graph_id
        c.n_channels = n_channels
        self._bind_stages(c, pairs)
        h = self.held
        c.in_map = h.ints(np.ascontiguousarray(in_map, np.int32), "in_map", writable=False)
        c.in_gain = h.floats(np.ascontiguousarray(in_gain, np.float32), "in_gain", writable=False)
        c.out_map = h.ints(np.ascontiguousarray(out_map, np.int32), "out_map", writable=False)
        c.work = h.floats(np.zeros(n_channels * max_frames, np.float32), "work")
        if source is not None:
            c.source = h.floats(source, "source", writable=False)
            c.source_frames = source.shape[1]
        self.c = c

    def _bind_stages(self, c: Any, pairs: list[tuple[Any, Any]]) -> None:
        """Fill the graph's stage function and state tables (at least one entry each for C)."""
        fns = ffi.new("al_stage_fn[]", max(len(pairs), 1))
        states = ffi.new("void *[]", max(len(pairs), 1))
        for i, (fn, state) in enumerate(pairs):
            fns[i] = ffi.cast("al_stage_fn", fn)
            states[i] = ffi.cast("void *", state)
        self.held.keep(fns, states)
        c.n_stages = len(pairs)
        c.stage_fn = fns
        c.stage_state = states
