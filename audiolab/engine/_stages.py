"""Stages the engine can run that no chain module provides yet: the gammatone resynthesis.

A stage for the engine is any object with ``c_stage(n_channels) -> (al_stage_fn, void *)``
(INTERFACES.md). :class:`GammatoneStage` is the gammatone filterbank that offers the fused
Hohmann (2002) analysis -> resynthesis kernel (``al_gt_process``) in that shape; as a Processor
it runs the same C state.
"""

from typing import Any

import numpy as np

from audiolab._ckernel import check, ffi, float_buffer, lib
from audiolab._errors import ConfigError
from audiolab._validate import check_int
from audiolab.dsp._gammatone import GammatoneFilterbank

__all__ = ["GammatoneStage", "SharedStage", "stage_pairs"]


class GammatoneStage(GammatoneFilterbank):
    """Gammatone analysis and resynthesis (Hohmann 2002) as a real-time engine stage.

    A :class:`audiolab.dsp.GammatoneFilterbank` (same parameters and design) that the engine
    can run: :meth:`c_stage` hands the fused analysis -> resynthesis kernel and the bank's C
    state (:meth:`~audiolab.dsp.GammatoneFilterbank.c_states`) to a graph.

    Parameters
    ----------
    fs : float
        Sample rate in Hz.
    f_low_hz, f_high_hz, bands_per_erb, delay_ms, bandwidth_factor
        As for :class:`audiolab.dsp.GammatoneFilterbank`.

    Notes
    -----
    ``process`` and the engine share one state: a stage object belongs to one engine graph
    (or to offline use) at a time. Build a new stage for a new graph.

    Examples
    --------
    >>> import numpy as np
    >>> from audiolab.engine import GammatoneStage
    >>> st = GammatoneStage(fs=48000)
    >>> st.process(np.zeros((2, 64), np.float32)).shape, st.latency_samples
    ((2, 64), 192)
    """

    _stage: Any = None
    _stage_keep: tuple[Any, ...] = ()

    def _allocate(self, n_channels: int) -> None:
        analyzer, synth, keep = self.c_states(n_channels)
        stage = ffi.new("al_gt_stage *")
        stage.analyzer = analyzer
        stage.synth = synth
        self._stage_keep = keep  # the buffers the stage's C state points into
        self._stage = stage

    def _process(self, x: np.ndarray) -> np.ndarray:
        status = lib.al_gt_stage_process(
            self._stage, float_buffer(x, "block"), x.shape[0], x.shape[1]
        )
        check(status, "al_gt_stage_process")
        return x

    def c_stage(self, n_channels: int) -> tuple[Any, Any]:
        """``(al_stage_fn, void *state)`` for ``n_channels`` channels, starting at rest."""
        n_channels = check_int("n_channels", n_channels, low=1)
        self.reset()
        self._allocate(n_channels)
        self._n_channels = n_channels
        fn = ffi.cast("al_stage_fn", ffi.addressof(lib, "al_gt_stage_process"))
        return fn, ffi.cast("void *", self._stage)


class SharedStage:
    """A stage whose running state several graphs share, so that a swap does not restart it.

    ``configure`` normally (re)starts every stage at rest; a graph swap that should only change
    another stage (a gain, a fitting) lists the same SharedStage in the old and the new graph,
    and its state runs on seamlessly. Only one graph runs at a time, so the state is never used
    by two callbacks at once. The wrapper keeps the stage, and so its C buffers, alive.

    Parameters
    ----------
    stage : object with ``c_stage(n_channels)``
        The stage (its state is started at rest here, once).
    n_channels : int
        Channels of the graphs it will be part of.
    """

    def __init__(self, stage: Any, n_channels: int) -> None:
        c_stage = getattr(stage, "c_stage", None)
        if c_stage is None:
            raise ConfigError(f"{type(stage).__name__} has no C implementation (c_stage)")
        self.stage = stage
        self.n_channels = check_int("n_channels", n_channels, low=1)
        self.pair = c_stage(self.n_channels)
        self.latency_samples = int(getattr(stage, "latency_samples", 0))


def stage_pairs(chain: Any, n_channels: int) -> tuple[list[tuple[Any, Any]], list[Any]]:
    """The ``(al_stage_fn, void *)`` pairs of a chain, and the objects that must stay alive.

    ``chain`` is None (no stages), an object with ``c_stages(n_channels)`` (a
    :class:`audiolab.models.Chain`), or a sequence whose items are stages with
    ``c_stage(n_channels)`` or :class:`SharedStage` objects.
    """
    if chain is None:
        return [], []
    if hasattr(chain, "c_stages"):
        return list(chain.c_stages(n_channels)), [chain]
    try:
        stages = list(chain)
    except TypeError:
        raise ConfigError(
            f"chain must be a Chain or a sequence of stages with c_stage(), got "
            f"{type(chain).__name__}"
        ) from None
    pairs = []
    for i, s in enumerate(stages, 1):
        if isinstance(s, SharedStage):
            if s.n_channels != n_channels:
                raise ConfigError(
                    f"stage {i} is shared for {s.n_channels} channels, the graph has {n_channels}"
                )
            pairs.append(s.pair)
            continue
        c_stage = getattr(s, "c_stage", None)
        if c_stage is None:
            raise ConfigError(
                f"stage {i} ({type(s).__name__}) has no C implementation (c_stage) and cannot "
                "run in the real-time engine"
            )
        pairs.append(c_stage(n_channels))
    return pairs, stages
