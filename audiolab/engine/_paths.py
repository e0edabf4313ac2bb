"""Parallel processing paths in one graph, one of them heard: the engine side of A/B/C listening.

Each path (a sequence of stages for ``n_channels`` channels) runs on its own rows of a wider
graph, through the C ``al_channel_range`` stage; every row gets the same source or device input.
A final ``al_select`` stage writes the heard path to rows ``0..n_channels-1``, which go to the
outputs. The path stages are :class:`~audiolab.engine.SharedStage` objects, so every graph of a
:class:`ParallelPaths` shares their running state: switching the heard path publishes a new
graph that differs only in its selector, and no path is restarted or paused by a switch. The
selector fades from the previous path to the new one (raised cosine), so a switch has no click.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from audiolab._ckernel import ffi, lib
from audiolab._errors import ConfigError
from audiolab._validate import check_int
from audiolab.engine._graph import MAX_STAGES
from audiolab.engine._stages import SharedStage
from audiolab.engine._stats import MAX_CHANNELS

__all__ = ["DEFAULT_FADE_MS", "ChannelRangeStage", "ParallelPaths", "PathSelector"]

DEFAULT_FADE_MS = 10.0
"""Crossfade of a path switch: short enough to feel instant, long enough not to click."""


class ChannelRangeStage:
    """A stage run on rows ``first_channel .. first_channel + n_channels - 1`` of a graph.

    Parameters
    ----------
    stage : object with ``c_stage(n_channels)``
        The inner stage (given ``n_channels`` channels).
    first_channel, n_channels : int
        The rows it runs on.
    """

    def __init__(self, stage: Any, *, first_channel: int, n_channels: int) -> None:
        if getattr(stage, "c_stage", None) is None:
            raise ConfigError(f"{type(stage).__name__} has no C implementation (c_stage)")
        self.stage = stage
        self.first_channel = check_int("first_channel", first_channel, low=0)
        self.n_channels = check_int("n_channels", n_channels, low=1)
        self.latency_samples = int(getattr(stage, "latency_samples", 0))
        self._keep: list[Any] = []

    def c_stage(self, n_graph_channels: int) -> tuple[Any, Any]:
        """``(al_stage_fn, void *)`` running the inner stage, at rest, on its rows."""
        if self.first_channel + self.n_channels > n_graph_channels:
            raise ConfigError(
                f"channels {self.first_channel}-{self.first_channel + self.n_channels - 1} do "
                f"not fit a graph of {n_graph_channels} channels"
            )
        fn, state = self.stage.c_stage(self.n_channels)
        c = ffi.new("al_channel_range *")
        c.first_channel = self.first_channel
        c.n_channels = self.n_channels
        c.fn = ffi.cast("al_stage_fn", fn)
        c.state = ffi.cast("void *", state)
        self._keep.append(c)
        return ffi.cast("al_stage_fn", ffi.addressof(lib, "al_channel_range_process")), c


class PathSelector:
    """The stage that writes the heard path to rows ``0..n_channels-1`` (a new one per switch).

    Parameters
    ----------
    n_channels : int
        Channels of one path.
    to_path, from_path : int
        The path heard from now on, and the one faded out (the same: no fade).
    fade_frames : int
        Length of the raised-cosine crossfade in frames (0: switch at once).
    """

    latency_samples = 0

    def __init__(self, *, n_channels: int, to_path: int, from_path: int,
                 fade_frames: int) -> None:
        self.n_channels = check_int("n_channels", n_channels, low=1)
        self.to_path = check_int("to_path", to_path, low=0)
        self.from_path = check_int("from_path", from_path, low=0)
        self.fade_frames = check_int("fade_frames", fade_frames, low=0)
        self._c: Any = None

    def c_stage(self, n_graph_channels: int) -> tuple[Any, Any]:
        """``(al_stage_fn, void *)`` of the selector, starting its fade at its first block."""
        n = self.n_channels
        if (max(self.to_path, self.from_path) + 1) * n > n_graph_channels:
            raise ConfigError(f"path {max(self.to_path, self.from_path)} is not in this graph")
        c = ffi.new("al_select *")
        c.n_channels = n
        c.from_channel = self.from_path * n
        c.to_channel = self.to_path * n
        c.fade_frames = self.fade_frames if self.from_path != self.to_path else 0
        c.position = 0
        self._c = c
        return ffi.cast("al_stage_fn", ffi.addressof(lib, "al_select_process")), c


class ParallelPaths:
    """Processing paths that run side by side in one engine graph, one of them heard.

    Parameters
    ----------
    paths : sequence of sequences of stages
        Each path's stages (objects with ``c_stage(n_channels)``), run in order on its own
        ``n_channels`` rows; an empty path passes its input through. Their C state is created
        here, once, at rest.
    n_channels : int
        Channels of each path (the device outputs it feeds).
    fs : float
        Sample rate in Hz (for the crossfade length).
    fade_ms : float
        Crossfade of a switch in ms.

    Examples
    --------
    >>> import numpy as np
    >>> from audiolab.calibration import Calibration
    >>> from audiolab.engine import Engine
    >>> from audiolab.engine._paths import ParallelPaths
    >>> from audiolab.models import GainStage
    >>> paths = ParallelPaths([[], [GainStage(gain_db=-6.0, fs=48000)]], n_channels=1, fs=48000)
    >>> eng = Engine(fs=48000, n_inputs=0, n_outputs=1,
    ...              calibration=Calibration.uncalibrated_mode(1))
    >>> _ = eng.configure(**paths.graph(heard=1, previous=1, source_pa=np.full((1, 8), 0.02)))
    >>> # 0.02 Pa, -6 dB; a full-scale sine peaks at 2.83 Pa in the uncalibrated mode
    >>> round(float(eng.process_offline(n_frames=64)[0, -1]), 4)
    0.0035
    """

    def __init__(self, paths: Sequence[Sequence[Any]], *, n_channels: int, fs: float,
                 fade_ms: float = DEFAULT_FADE_MS) -> None:
        self.n_channels = check_int("n_channels", n_channels, low=1)
        self.n_paths = len(paths)
        if self.n_paths < 1 or self.n_paths * self.n_channels > MAX_CHANNELS:
            raise ConfigError(
                f"{self.n_paths} paths of {self.n_channels} channels do not fit the engine's "
                f"{MAX_CHANNELS} processing channels"
            )
        n_graph = self.n_paths * self.n_channels
        self.stages: list[SharedStage] = []
        self.latency_samples: list[int] = []
        for k, path in enumerate(paths):
            latency = 0
            for stage in path:
                ranged = ChannelRangeStage(stage, first_channel=k * self.n_channels,
                                           n_channels=self.n_channels)
                self.stages.append(SharedStage(ranged, n_graph))
                latency += ranged.latency_samples
            self.latency_samples.append(latency)
        if len(self.stages) + 1 > MAX_STAGES:
            raise ConfigError(f"the paths hold {len(self.stages)} stages; a graph holds "
                              f"{MAX_STAGES - 1} besides the selector")
        self.n_graph_channels = n_graph
        self.fade_frames = int(round(fade_ms * 1e-3 * fs))

    def graph(self, *, heard: int, previous: int, source_pa: Any = None,
              input_channels: Sequence[int] | None = None,
              n_outputs: int | None = None) -> dict[str, Any]:
        """Keyword arguments of :meth:`Engine.configure` for a graph where ``heard`` is heard.

        Parameters
        ----------
        heard, previous : int
            The path heard from the switch on, and the one it fades from.
        source_pa : array_like, shape (n_channels, n) or (n,), optional
            A looping source in Pa, the same for every path.
        input_channels : sequence of int, optional
            Device input feeding each channel of a path (default: input c for channel c).
        n_outputs : int, optional
            Device outputs (default ``n_channels``); outputs beyond the path's are silent.
        """
        n = self.n_channels
        for name, k in (("heard", heard), ("previous", previous)):
            check_int(name, k, low=0, high=self.n_paths - 1)
        selector = PathSelector(n_channels=n, to_path=heard, from_path=previous,
                                fade_frames=self.fade_frames)
        n_out = n if n_outputs is None else n_outputs
        kwargs: dict[str, Any] = {
            "chain": [*self.stages, selector],
            "n_channels": self.n_graph_channels,
            "output_map": [o if o < n else -1 for o in range(n_out)],
        }
        if source_pa is not None:
            src = np.atleast_2d(np.asarray(source_pa, np.float32))
            if src.shape[0] == 1:
                src = np.repeat(src, n, axis=0)
            kwargs["source_pa"] = np.ascontiguousarray(np.tile(src, (self.n_paths, 1)))
        else:
            per_path = list(range(n)) if input_channels is None else list(input_channels)
            kwargs["input_channels"] = per_path * self.n_paths
        return kwargs
