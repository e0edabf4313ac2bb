"""The processor protocol every stateful block follows (DESIGN.md, "Processors").

A processor is built from a frozen, validated config; ``process(block)`` keeps state across
calls; ``reset()`` returns to rest; ``latency_samples`` is the algorithmic delay. The offline
function of a processor is a fresh processor run over the whole signal, so block-split and
whole-signal processing agree by construction and by test.
"""

import abc
from typing import Any

import numpy as np

from audiolab._errors import SignalError
from audiolab._validate import as_block

__all__ = ["Processor"]


class Processor(abc.ABC):
    """Base class: channel-count bookkeeping around a ``_process`` on float32 blocks.

    Subclasses implement ``_allocate(n_channels)`` (create zeroed state for that many channels)
    and ``_process(block)`` (float32, C-contiguous, ``(n_channels, n_samples)``, may work in place
    and return it). The channel count is fixed by the first block after construction or
    ``reset()``; ``reset()`` drops the state, and the next block allocates it afresh at rest.
    """

    fs: float

    def __init__(self) -> None:
        self._n_channels: int | None = None

    @property
    @abc.abstractmethod
    def latency_samples(self) -> int:
        """Algorithmic delay of the processor in samples."""

    @property
    def n_channels(self) -> int | None:
        """Channel count fixed by the first processed block, or None before it."""
        return self._n_channels

    def process(self, block: Any) -> np.ndarray:
        """Process one block of shape ``(n_channels, n_samples)`` (1-D = one channel).

        Returns a new float32 array of the same shape as ``block`` (2-D for a 1-D input is
        not used: a 1-D block gives a 1-D result).
        """
        one_d = isinstance(block, np.ndarray) and block.ndim == 1
        x = as_block(block)
        n_channels = x.shape[0]
        if self._n_channels is None:
            self._allocate(n_channels)
            self._n_channels = n_channels
        elif n_channels != self._n_channels:
            raise SignalError(
                f"block has {n_channels} channels but this processor was started with "
                f"{self._n_channels}; call reset() before changing the channel count"
            )
        y = self._process(x) if x.shape[1] else x
        return y[0] if one_d else y

    def reset(self) -> None:
        """Return to rest: clear all state (and the channel count)."""
        self._n_channels = None

    @abc.abstractmethod
    def _allocate(self, n_channels: int) -> None: ...

    @abc.abstractmethod
    def _process(self, x: np.ndarray) -> np.ndarray: ...
