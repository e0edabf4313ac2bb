"""A/B/C listening, without Qt: normal, simulated loss, aided + simulated loss, switched live.

The three conditions are three processing paths that run side by side in one engine graph
(:class:`audiolab.engine.ParallelPaths`): (A) the source as it is, (B) the hearing-loss
simulator of the fitting's audiogram, (C) the fitting's hearing aid, then a second simulator.
All three run on every block, with their state, whichever is heard; a switch publishes a graph
that only changes the selector, which crossfades over 10 ms at a block boundary. The stream is
never restarted. The engine's output calibration and C safety ceiling follow the selector, so
no condition can exceed the ceiling. A new fitting builds new paths (off the GUI thread: see
:meth:`AbcModel.build_paths`) that are swapped in by one graph publication.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from audiolab._errors import ConfigError
from audiolab.calibration import Calibration
from audiolab.engine import Engine, ParallelPaths, device_setup
from audiolab.gui._engine_registry import ENGINES, EngineRegistry
from audiolab.gui._live_stats import LiveFigures, LiveStatsReader

__all__ = [
    "CONDITIONS",
    "SOURCES",
    "AbcModel",
    "AbcPlan",
    "build_abc_paths",
    "speech_loop_pa",
]

CONDITIONS = ("Normal", "Simulated loss", "Aided + simulated loss")
"""The conditions, in the order of their keys 1, 2, 3."""

SOURCES = ("speech", "input")
"""``speech``: the bundled sentences, looping; ``input``: the device's inputs."""

_GAP_S = 0.4  # silence between sentences of the speech loop


def speech_loop_pa(*, fs: float, level_db_spl: float) -> np.ndarray:
    """The bundled sentences one after the other, each at ``level_db_spl`` RMS, in Pa, ``(n,)``.

    Each sentence is set to the level on its own (speech level is the level while speaking,
    not of the pauses), with 0.4 s of silence after it; the result loops without a click.
    """
    from audiolab.audiology import load_speech_corpus

    sentences = load_speech_corpus().sentences
    if not sentences:
        raise ConfigError("the bundled speech corpus has no sentences")
    gap = np.zeros(int(round(_GAP_S * fs)), np.float32)
    parts: list[np.ndarray] = []
    for item in sentences:
        parts += [item.load(fs=fs, level_db_spl=level_db_spl).astype(np.float32), gap]
    return np.concatenate(parts)


def build_abc_paths(fitting: Any, *, fs: float, n_channels: int, ear: str = "left"
                    ) -> ParallelPaths:
    """The three paths for ``fitting`` (:class:`audiolab.models.Fitting`), at rest.

    Parameters
    ----------
    fitting : Fitting
        Its audiogram drives both simulators; its chain table the hearing aid.
    fs : float
        Sample rate in Hz.
    n_channels : int
        2: (left, right); 1: the ``ear``.
    ear : {"left", "right"}
        The ear of a one-channel set-up.
    """
    from audiolab.models import HearingAid, HearingLossSimulator

    table = {k: v for k, v in fitting.chain_table().items() if k != "type"}
    table["ear"] = ear
    aid = HearingAid.from_chain_table(table, fs=fs)
    loss = HearingLossSimulator(fitting.audiogram, fs=fs, ear=ear)
    aided_loss = HearingLossSimulator(fitting.audiogram, fs=fs, ear=ear)
    return ParallelPaths([[], [loss], [aid, aided_loss]], n_channels=n_channels, fs=fs)


@dataclass(frozen=True)
class AbcPlan:
    """How the engine is laid out for the chosen device and calibration."""

    fs: float
    n_outputs: int
    n_inputs: int
    n_channels: int  # channels of each path
    ear: str  # the ear of a one-channel set-up
    output_map: tuple[int, ...]  # path channel sent to each output (-1: none)


def _plan(calibration: Calibration, setup: Any, source: str) -> AbcPlan:
    """Channels and routing: (left, right) paths on the outputs calibrated for those ears."""
    ears = {c.index: c.ear for c in calibration.channels}
    n_out = setup.n_outputs
    if calibration.uncalibrated:
        n_out = min(n_out, 2)
        ears = {0: "left", 1: "right"} if n_out == 2 else {0: "left"}
    n_channels = 2 if n_out >= 2 else 1
    ear = ears.get(0, "left") if ears.get(0) in ("left", "right") else "left"
    if n_channels == 2:
        order = {"left": 0, "right": 1}
        out_map = [order.get(ears.get(o, "none"), o if o < 2 else -1) for o in range(n_out)]
    else:
        out_map = [0] + [-1] * (n_out - 1)
    n_in = min(setup.n_inputs, n_channels) if source == "input" else 0
    return AbcPlan(fs=setup.fs, n_outputs=n_out, n_inputs=n_in, n_channels=n_channels,
                   ear=ear, output_map=tuple(out_map))


class AbcModel:
    """The A/B/C engine: open, start on a fitting's paths, switch, swap fittings, stop.

    Parameters
    ----------
    calibration : Calibration
        The set-up's calibration (``Calibration.uncalibrated_mode(2)`` for none: low ceiling).
    device : int or str or None
        Output device (None: the default).
    source : {"speech", "input"}
        The bundled speech loop or the device's inputs.
    level_db_spl : float
        RMS level of each sentence of the speech loop.
    registry : EngineRegistry
        Where the running engine is announced (for the monitor).
    """

    def __init__(self, calibration: Calibration, *, device: Any = None, source: str = "speech",
                 level_db_spl: float = 65.0, registry: EngineRegistry = ENGINES) -> None:
        if source not in SOURCES:
            raise ConfigError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
        self.calibration = calibration
        self.device = device
        self.source = source
        self.level_db_spl = float(level_db_spl)
        self.registry = registry
        self.condition = 0
        self.engine: Engine | None = None
        self.plan: AbcPlan | None = None
        self.paths: ParallelPaths | None = None
        self.switches = 0
        #: (graph id, heard, previous) of every graph published, in order (for measurements).
        self.graph_log: list[tuple[int, int, int]] = []
        self._setup: Any = None
        self._source_pa: np.ndarray | None = None
        self._reader: LiveStatsReader | None = None
        self._entry: Any = None

    @property
    def running(self) -> bool:
        """True while the stream runs."""
        return self.engine is not None and self.engine.running

    # -- set-up (GUI thread) ----------------------------------------------------------------------
    def open(self) -> AbcPlan:
        """Open the device and build the engine (not started); checks the source's level.

        Raises
        ------
        AudioDeviceError, CalibrationError, SafetyError
            No device; a calibration the device cannot take; speech too loud for the ceiling.
        """
        self.close()
        n_cal = None if self.calibration.uncalibrated else \
            max(c.index for c in self.calibration.channels) + 1
        setup = device_setup(self.device, want_inputs=self.source == "input", max_outputs=n_cal,
                             block_frames=None)
        try:
            plan = _plan(self.calibration, setup, self.source)
            if self.source == "input" and plan.n_inputs < 1:
                raise ConfigError(f"device {setup.name!r} has no inputs: choose the speech source")
            calibration = (Calibration.uncalibrated_mode(plan.n_outputs)
                           if self.calibration.uncalibrated else self.calibration)
            engine = Engine(fs=plan.fs, n_inputs=plan.n_inputs, n_outputs=plan.n_outputs,
                            calibration=calibration,
                            max_block_frames=max(4096, setup.block_frames))
            self._source_pa = None
            if self.source == "speech":
                speech = speech_loop_pa(fs=plan.fs, level_db_spl=self.level_db_spl)
                src = np.tile(speech, (plan.n_channels, 1))
                outputs = [o for o, m in enumerate(plan.output_map) if m >= 0]
                # Planned level, refused above the ceiling before anything plays (the aided
                # path is held under it by the C ceiling; the monitor counts what it limits).
                engine.ceiling.check_signal_pa(src[[plan.output_map[o] for o in outputs]],
                                               outputs, what="the speech at this level")
                self._source_pa = src
        except BaseException:
            setup.close()
            raise
        self._setup, self.plan, self.engine = setup, plan, engine
        return plan

    def build_paths(self, fitting: Any) -> ParallelPaths:
        """The paths for ``fitting`` (safe on a worker thread: touches no engine state)."""
        if self.plan is None:
            raise ConfigError("open() the A/B/C engine before building its paths")
        return build_abc_paths(fitting, fs=self.plan.fs, n_channels=self.plan.n_channels,
                               ear=self.plan.ear)

    def _graph(self, paths: ParallelPaths, heard: int, previous: int) -> dict[str, Any]:
        assert self.plan is not None
        kwargs = paths.graph(heard=heard, previous=previous, source_pa=self._source_pa,
                             n_outputs=self.plan.n_outputs)
        kwargs["output_map"] = list(self.plan.output_map)
        return kwargs

    def _publish(self, paths: ParallelPaths, heard: int, previous: int) -> None:
        assert self.engine is not None
        graph_id = self.engine.configure(**self._graph(paths, heard, previous))
        self.graph_log.append((graph_id, heard, previous))

    def start(self, paths: ParallelPaths) -> None:
        """Publish ``paths`` (heard: the current condition) and start the stream."""
        if self.engine is None or self._setup is None:
            raise ConfigError("open() the A/B/C engine before starting it")
        self._publish(paths, self.condition, self.condition)
        self.paths = paths
        self.engine.start(device=self._setup.output_device,
                          input_device=self._setup.input_device,
                          block_frames=self._setup.block_frames)
        self._reader = LiveStatsReader(self.engine)
        self._entry = self.registry.register(self.engine, owner="A/B/C listening",
                                             jack=self._setup.jack)

    def swap_paths(self, paths: ParallelPaths) -> None:
        """Swap in the paths of a new fitting (they start at rest; the stream runs on)."""
        if self.engine is None:
            self.paths = paths
            return
        self._publish(paths, self.condition, self.condition)
        self.paths = paths

    def switch(self, condition: int) -> None:
        """Hear ``condition`` (0, 1, 2): one graph publication, a 10 ms crossfade."""
        if condition not in range(len(CONDITIONS)):
            raise ConfigError(f"condition must be 0, 1 or 2, got {condition!r}")
        if condition == self.condition:
            return
        previous, self.condition = self.condition, condition
        if self.engine is not None and self.paths is not None:
            self._publish(self.paths, condition, previous)
            self.switches += 1

    def poll(self) -> LiveFigures:
        """Drain the engine and return the meters and counters (AudioDeviceError if it died)."""
        if self.engine is None or self._reader is None:
            return LiveFigures()
        self.engine.poll()
        return self._reader.read(xruns=None if self._entry is None else self._entry.xruns())

    def close(self) -> None:
        """Stop the stream and release the device (again is harmless)."""
        engine, setup = self.engine, self._setup
        self.engine = self._setup = self._reader = self._entry = None
        if engine is not None:
            self.registry.unregister(engine)
            try:
                engine.stop()
            finally:
                if setup is not None:
                    setup.close()
        elif setup is not None:
            setup.close()
