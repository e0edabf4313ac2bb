"""The live monitor: meters, spectrum, engine load, lost callbacks and xruns of the running engine.

It shows whichever engine is registered last in :data:`~audiolab.gui._engine_registry.ENGINES`
(the A/B/C panel's, or the calibration tones'). A ``QTimer`` polls the engine, never a callback
from the audio thread; every plot item is created once and moved with ``setData``. The monitor
times its own redraws and shows them beside the engine's lost callbacks: a redraw runs on the GUI
thread while the C callback runs on the audio thread, so it never blocks audio.
"""

import math
import time
from typing import Any

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from audiolab._errors import AudiolabError
from audiolab.gui._app import View
from audiolab.gui._context import AppContext
from audiolab.gui._engine_registry import ENGINES, EngineRegistry, RunningEngine
from audiolab.gui._live_stats import LiveFigures, LiveStatsReader
from audiolab.gui._meters import LevelMeters

__all__ = ["MonitorView", "SpectrumAnalyzer"]

REDRAW_MS = 100
N_FFT = 8192
LOAD_HISTORY = 300  # redraws kept in the load plot (30 s)
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


class SpectrumAnalyzer:
    """Level per FFT bin in dB SPL of the output (after the ceiling), per channel.

    A Hann-windowed FFT of the last :data:`N_FFT` frames, scaled so that a sine reads its own
    level; digital -> dB SPL through the calibration's full-scale level at each frequency (the
    inverse of the output equaliser; held flat beyond the calibrated range).

    Parameters
    ----------
    calibration : Calibration
        The engine's calibration.
    fs : float
        Sample rate in Hz.
    n_outputs : int
        Output channels.
    """

    def __init__(self, calibration: Any, *, fs: float, n_outputs: int) -> None:
        self.fs = fs
        self.window = np.hanning(N_FFT).astype(np.float32)
        self.frequencies_hz = np.fft.rfftfreq(N_FFT, 1 / fs)[1:]
        self.offset_db = np.zeros((n_outputs, self.frequencies_hz.size))
        for o in range(n_outputs):
            if calibration.has_channel(o):
                ch = calibration.channel(o)
                f = np.clip(self.frequencies_hz, ch.frequencies_hz[0], ch.frequencies_hz[-1])
                self.offset_db[o] = ch.full_scale_db_spl_at(f)

    def levels_db_spl(self, x: np.ndarray) -> np.ndarray | None:
        """``(n_outputs, n_bins)`` levels of the digital block ``x`` (None: too short yet)."""
        if x.shape[1] < N_FFT:
            return None
        spec = np.fft.rfft(x[:, -N_FFT:] * self.window, axis=1)[:, 1:]
        # A sine of peak A gives |X| = A * sum(w) / 2; a full-scale sine (A = 1) is 0 dBFS.
        amp = 2.0 * np.abs(spec) / float(self.window.sum())
        dbfs = 20.0 * np.log10(np.maximum(amp, 1e-12))
        return dbfs + self.offset_db[: x.shape[0]]


class MonitorView(View):
    """Meters, spectrum, load and counters of the running engine."""

    title = "Monitor"

    def __init__(self, context: AppContext, parent: QWidget | None = None, *,
                 registry: EngineRegistry = ENGINES) -> None:
        super().__init__(context, parent)
        self.registry = registry
        self.entry: RunningEngine | None = None
        self.figures = LiveFigures()
        self.redraw_ms_last = 0.0
        self.redraw_ms_max = 0.0
        self.redraws = 0
        self._reader: LiveStatsReader | None = None
        self._spectrum: SpectrumAnalyzer | None = None
        self._load = np.zeros(LOAD_HISTORY)
        self._live = True
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.refresh)
        registry.subscribe(self._engines_changed)
        self._engines_changed()

    # -- construction ----------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.source_label = QLabel(self)
        self.source_label.setObjectName("monitor-source")
        self.source_label.setStyleSheet("font-weight: bold;")
        layout.addWidget(self.source_label)
        grid = QGridLayout()
        self.meters = LevelMeters(2, self)
        grid.addWidget(self.meters, 0, 0)
        self.counters_label = QLabel(self)
        self.counters_label.setObjectName("monitor-counters")
        self.counters_label.setWordWrap(True)
        grid.addWidget(self.counters_label, 0, 1)
        self.spectrum_plot = pg.PlotWidget(self)
        sp = self.spectrum_plot.getPlotItem()
        sp.setLogMode(x=True, y=False)
        sp.setLabel("bottom", "frequency (Hz)")
        sp.setLabel("left", "level per FFT bin (dB SPL)")
        sp.setTitle("output spectrum (after the ceiling; Hann, 8192 points)")
        sp.showGrid(x=True, y=True, alpha=0.3)
        sp.setXRange(math.log10(50), math.log10(20000), padding=0)
        ticks = [(math.log10(f), f"{f:g}" if f < 1000 else f"{f / 1000:g}k")
                 for f in (63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000)]
        sp.getAxis("bottom").setTicks([ticks, []])
        sp.setYRange(-20, 100, padding=0)
        sp.addLegend(offset=(-10, 10))
        self.spectrum_curves = [
            sp.plot([], [], pen=pg.mkPen(_COLOURS[o % len(_COLOURS)], width=1.5),
                    name=f"out {o}") for o in range(2)]
        grid.addWidget(self.spectrum_plot, 1, 0)
        self.load_plot = pg.PlotWidget(self)
        lp = self.load_plot.getPlotItem()
        lp.setLabel("left", "callback time / period (%)")
        lp.setLabel("bottom", "seconds ago")
        lp.setTitle("engine load (largest callback per redraw)")
        lp.showGrid(x=True, y=True, alpha=0.3)
        lp.setYRange(0, 100, padding=0)
        lp.setXRange(-LOAD_HISTORY * REDRAW_MS / 1000, 0, padding=0)
        lp.addItem(pg.InfiniteLine(pos=100, angle=0, pen=pg.mkPen("r", width=1)))
        self._load_x = (np.arange(LOAD_HISTORY) - LOAD_HISTORY + 1) * REDRAW_MS / 1000
        self.load_curve = lp.plot(self._load_x, self._load, pen=pg.mkPen("#ff7f0e", width=1.5),
                                  fillLevel=0, brush=pg.mkBrush(255, 127, 14, 60))
        grid.addWidget(self.load_plot, 1, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        grid.setRowStretch(1, 1)
        layout.addLayout(grid, 1)

    # -- the engine ----------------------------------------------------------------------------
    def _engines_changed(self) -> None:
        if not shiboken6.isValid(self.load_plot):  # the view was deleted without shutdown()
            self.registry.unsubscribe(self._engines_changed)
            return
        entry = self.registry.current()
        if entry is not None and entry is self.entry:
            return
        self._bind(entry)

    def _bind(self, entry: RunningEngine | None, *, live: bool = True) -> None:
        self._release_tap()
        self.entry = entry
        self._live = live
        lp = self.load_plot.getPlotItem()
        lp.setTitle("engine load (largest callback per redraw)" if live else
                    "engine load (the last blocks of the offline run)")
        lp.setLabel("bottom", "seconds ago" if live else "blocks ago")
        scale = REDRAW_MS / 1000 if live else 1.0
        self._load_x = (np.arange(LOAD_HISTORY, dtype=np.float64) - LOAD_HISTORY + 1) * scale
        lp.setXRange(float(self._load_x[0]), 0, padding=0)
        self._load[:] = 0
        if entry is None:
            self._reader = self._spectrum = None
            self.timer.stop()
            self.source_label.setText("No engine is running: start A/B/C listening (Fitting) "
                                      "or the calibration tones to monitor them.")
            self._clear()
            return
        engine = entry.engine
        self._reader = LiveStatsReader(engine)
        self._spectrum = SpectrumAnalyzer(engine.calibration, fs=engine.fs,
                                          n_outputs=engine.n_outputs)
        engine.record(output=True)  # the spectrum's tap (recent_output keeps only the tail)
        n = engine.n_outputs
        self.meters.set_channels(n)
        ceilings = [c for c in engine.ceiling_db_spl() if c is not None]
        self.meters.set_ceiling(min(ceilings) if ceilings else None)
        self.source_label.setText(
            f"Monitoring: {entry.owner} · {engine.fs:g} Hz, {engine.block_frames} frames per "
            f"block · {n} outputs · calibration {engine.calibration.source}")
        if live:
            self.timer.start()

    def _clear(self) -> None:
        for c in self.spectrum_curves:
            c.setData([], [])
        self.load_curve.setData(self._load_x, self._load)
        self.counters_label.setText("")

    def refresh(self) -> None:
        """Poll the engine and redraw (the QTimer calls this); times itself."""
        entry, reader = self.entry, self._reader
        if entry is None or reader is None:
            return
        t0 = time.perf_counter()
        try:
            entry.engine.poll()
        except AudiolabError as exc:
            self.source_label.setText(f"the monitored stream stopped: {exc}")
            self.timer.stop()
            return
        self.figures = f = reader.read(xruns=entry.xruns())
        self.meters.show_levels(f.rms_db_spl, f.peak_db_spl)
        self._load = np.roll(self._load, -1)
        self._load[-1] = 100.0 * f.load_max
        self.load_curve.setData(self._load_x, self._load)
        self._draw_spectrum()
        self.redraw_ms_last = 1e3 * (time.perf_counter() - t0)
        self.redraw_ms_max = max(self.redraw_ms_max, self.redraw_ms_last)
        self.redraws += 1
        self._show_counters(f)

    def _draw_spectrum(self) -> None:
        assert self.entry is not None and self._spectrum is not None
        x = self.entry.engine.recent_output(N_FFT)
        levels = self._spectrum.levels_db_spl(x)
        if levels is None:
            return
        for o, curve in enumerate(self.spectrum_curves):
            if o < levels.shape[0]:
                curve.setData(self._spectrum.frequencies_hz, levels[o])

    def _show_counters(self, f: LiveFigures) -> None:
        xruns = "not counted (not JACK)" if f.xruns is None else str(f.xruns)
        levels = "<br>".join(
            f"out {o}: {_db(r)} dB SPL RMS, peak {_db(p)}"
            for o, (r, p) in enumerate(zip(f.rms_db_spl, f.peak_db_spl, strict=True)))
        lost_style = "color:#b00020;" if f.lost_callbacks or f.overruns else ""
        if not self._live:
            self.counters_label.setText(
                f"{levels}<br><br>offline run: {f.callbacks} blocks, load "
                f"{100 * f.load_mean:.1f} % mean (a block's time against its period)<br>"
                f"ceiling limited {f.limited_samples} samples<br>lost callbacks, overruns and "
                f"xruns are counted while a stream runs")
            return
        self.counters_label.setText(
            f"{levels}<br><br>"
            f"load {100 * f.load_mean:.1f} % mean, {100 * f.load_max:.1f} % max (last second)<br>"
            f"callbacks {f.callbacks} of {f.expected_callbacks} expected<br>"
            f"<span style='{lost_style}'>lost callbacks {f.lost_callbacks} · overruns "
            f"{f.overruns}</span><br>driver xruns {xruns}<br>"
            f"ceiling limited {f.limited_samples} samples<br>"
            f"redraw {self.redraw_ms_last:.1f} ms (max {self.redraw_ms_max:.1f} ms, "
            f"{self.redraws} redraws)")

    # -- View ------------------------------------------------------------------------------------
    def fill_example(self) -> None:
        """Show 2 s of the A/B/C engine (N3, NAL-R, aided + simulated loss) run offline.

        Offline runs the same C callback block by block; nothing plays. A running engine, if
        any, keeps the monitor instead.
        """
        if self.registry.current() is not None:
            return
        from audiolab.engine import Engine
        from audiolab.gui._abc_model import build_abc_paths, speech_loop_pa
        from audiolab.models import fit_hearing_aid

        fs = 48000.0
        engine = Engine(fs=fs, n_inputs=0, n_outputs=2,
                        calibration=self.context.calibration_or_uncalibrated(2))
        paths = build_abc_paths(fit_hearing_aid("N3", rule="nal-r"), fs=fs, n_channels=2)
        speech = speech_loop_pa(fs=fs, level_db_spl=55.0)
        engine.configure(**paths.graph(heard=2, previous=2, source_pa=speech))
        engine.record(output=True)
        engine.process_offline(n_frames=int(2 * fs), block_frames=256)
        self._bind(RunningEngine(engine, "example: 2 s of A/B/C (N3, NAL-R, aided + simulated "
                                         "loss) run offline"), live=False)
        self.refresh()
        durations = engine.stats.records["duration_us"][-LOAD_HISTORY:].astype(float)
        self._load[-durations.size:] = 100.0 * durations / (1e6 * 256 / fs)
        self.load_curve.setData(self._load_x, self._load)

    def _release_tap(self) -> None:
        """Switch off the output recording the spectrum used (its owner would keep it all)."""
        if self.entry is not None:
            self.entry.engine.record(output=False)

    def shutdown(self) -> None:
        """Stop redrawing and let the engine go."""
        self.timer.stop()
        self.registry.unsubscribe(self._engines_changed)
        self._release_tap()
        self.entry = self._reader = self._spectrum = None


def _db(value: float) -> str:
    return f"{value:.1f}" if math.isfinite(value) else "-"
