"""The fitting view: edit an audiogram, choose rule and compression, see what the aid does.

Left: the audiogram editor, the hearing-aid settings, export buttons and the live A/B/C panel.
Right: four plots that follow every edit (recomputed off the GUI thread, 150 ms after the last
change): prescribed target against the insertion gain the fitted hearing aid realises, the static
input/output curves of some of its bands, output spectra of speech at 55/65/80 dB SPL against the
thresholds, and the SII unaided and aided per ear.
"""

from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from audiolab._errors import AudiolabError
from audiolab.audiology import RULE_SOURCES, RULES, sii_bands
from audiolab.audiology._audiogram import EARS
from audiolab.gui._abc import AbcPanel
from audiolab.gui._app import View
from audiolab.gui._audiogram_editor import (
    EAR_COLOURS,
    EAR_SYMBOLS,
    AudiogramEditor,
    octaves,
    set_frequency_ticks,
)
from audiolab.gui._context import AppContext
from audiolab.gui._fitting_model import (
    COMPRESSIONS,
    SPEECH_LEVELS_DB_SPL,
    FittingCurves,
    FittingModel,
    compute_curves,
    hearing_aid_for,
    is_chain_file,
    looks_like_audiogram,
    render_report,
)
from audiolab.gui._tasks import Task, run_task
from audiolab.models import Fitting
from audiolab.models._fitting import ATTACK_MS, RELEASE_MS

__all__ = ["FittingView"]

DEBOUNCE_MS = 150
IO_BANDS_HZ = (250.0, 500.0, 1000.0, 2000.0, 4000.0, 6000.0)
_LEVEL_COLOURS = {55.0: (116, 196, 118), 65.0: (35, 139, 69), 80.0: (0, 68, 27)}
_SII_BARS = (("unaided", "unaided", (255, 127, 14)),
             ("aided_target", "aided (target gain)", (166, 216, 84)),
             ("aided_realised", "aided (realised gain)", (44, 160, 44)))


class FittingView(View):
    """Audiogram, prescription and the fitted hearing aid's gains, levels and SII."""

    title = "Fitting"
    file_filter = "Audiograms and fittings (*.json *.csv *.toml)"

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.model = FittingModel("N3", rule="nal-r", compression="wdrc")
        self.curves: FittingCurves | None = None
        self.busy = False
        self._task: Task | None = None
        self._report_task: Task | None = None
        # Every started task is held here until its last signal reached the GUI thread: a Task
        # whose only reference is its worker thread would be destroyed on that thread.
        self._live_tasks: set[Task] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._start_computing)
        self.editor = AudiogramEditor(self.model, self)
        self.editor.edited.connect(self._edited)
        self.editor.shown.connect(self._show_curves)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self._build_left())
        splitter.addWidget(self._build_plots())
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([500, 780])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        self._build_shortcuts()
        self._sync_controls()
        self._edited()

    # -- construction --------------------------------------------------------------------------
    def _build_left(self) -> QWidget:
        left = QWidget(self)
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.editor, 3)
        column.addWidget(self._build_settings())
        column.addLayout(self._build_exports())
        self.abc_panel = AbcPanel(self.context, self)
        column.addWidget(self.abc_panel, 1)
        return left

    def _build_settings(self) -> QGroupBox:
        box = QGroupBox("Hearing aid (both ears)", self)
        grid = QGridLayout(box)
        self.rule_combo = QComboBox(box)
        self.rule_combo.setObjectName("rule-combo")
        for rule in RULES:
            self.rule_combo.addItem(rule, rule)
            self.rule_combo.setItemData(self.rule_combo.count() - 1, RULE_SOURCES[rule],
                                        Qt.ItemDataRole.ToolTipRole)
        self.rule_combo.activated.connect(
            lambda i: self._set(lambda: self.model.set_rule(self.rule_combo.itemData(i))))
        self.compression_combo = QComboBox(box)
        self.compression_combo.setObjectName("compression-combo")
        for c in COMPRESSIONS:
            self.compression_combo.addItem(c, c)
        self.compression_combo.activated.connect(
            lambda i: self._set(lambda: self.model.set_compression(
                self.compression_combo.itemData(i))))
        self.attack_spin = self._time_spin(box, ATTACK_MS.high, "attack_ms")
        self.release_spin = self._time_spin(box, RELEASE_MS.high, "release_ms")
        for row, pairs in enumerate(((("Rule", self.rule_combo),
                                       ("Compression", self.compression_combo)),
                                      (("Attack (ms)", self.attack_spin),
                                       ("Release (ms)", self.release_spin)))):
            for col, (text, widget) in enumerate(pairs):
                grid.addWidget(QLabel(text, box), row, 2 * col)
                grid.addWidget(widget, row, 2 * col + 1)
        note = QLabel("One rule and one compression for both ears: audiolab's fit "
                      "(fit_hearing_aid, the hearing-aid chain stage) has no per-ear rules.", box)
        note.setWordWrap(True)
        note.setStyleSheet("color: #555;")
        grid.addWidget(note, 2, 0, 1, 4)
        self.settings_problem = QLabel(box)
        self.settings_problem.setObjectName("settings-problem")
        self.settings_problem.setWordWrap(True)
        self.settings_problem.setStyleSheet("color: #b00020;")
        grid.addWidget(self.settings_problem, 3, 0, 1, 4)
        return box

    def _time_spin(self, parent: QWidget, high: Any, name: str) -> QDoubleSpinBox:
        spin = QDoubleSpinBox(parent)
        spin.setObjectName(name)
        # 0 is allowed in the box so that the library's own check refuses it with its reason.
        spin.setRange(0.0, float(high))
        spin.setDecimals(1)
        spin.setKeyboardTracking(False)
        spin.setToolTip(f"ANSI S3.22 {name.split('_')[0]} time of the wdrc compression, "
                        f"(0, {float(high):g}] ms")
        spin.valueChanged.connect(lambda v: self._set(
            lambda: self.model.set_compression(self.model.compression, **{name: v})))
        return spin

    def _build_exports(self) -> QHBoxLayout:
        row = QHBoxLayout()
        chain = QPushButton("Export chain… (Ctrl+E)", self)
        chain.setToolTip("Write a chain TOML with this fitting for `audiolab process --chain`")
        chain.clicked.connect(self.choose_chain_file)
        report = QPushButton("Export report… (Ctrl+R)", self)
        report.setToolTip("Draw the one-page report (PNG or PDF)")
        report.clicked.connect(self.choose_report_file)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_report)
        self.status = QLabel(self)
        self.status.setObjectName("export-status")
        for w in (chain, report, self.progress, self.cancel_button):
            row.addWidget(w)
        row.addWidget(self.status, 1)
        return row

    def _build_shortcuts(self) -> None:
        for keys, slot in (("Ctrl+E", self.choose_chain_file), ("Ctrl+R", self.choose_report_file)):
            action = QAction(self)
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(slot)
            self.addAction(action)

    def _build_plots(self) -> QWidget:
        self.plots = pg.GraphicsLayoutWidget(self)
        self.plots.ci.layout.setColumnStretchFactor(0, 1)
        self.plots.ci.layout.setColumnStretchFactor(1, 1)
        self.gain_plot = self.plots.addPlot(row=0, col=0, title="Insertion gain")
        self.io_plot = self.plots.addPlot(row=0, col=1, title="Input/output per band")
        self.spectrum_plot = self.plots.addPlot(row=1, col=0, title="Aided speech spectra")
        self.sii_plot = self.plots.addPlot(row=1, col=1, title="SII, speech at 65 dB SPL")
        for plot in (self.gain_plot, self.io_plot, self.spectrum_plot, self.sii_plot):
            plot.setTitle(plot.titleLabel.text, size="10pt")
            plot.showGrid(x=True, y=True, alpha=0.3)
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=False, y=False)
        self._build_gain_plot()
        self._build_io_plot()
        self._build_spectrum_plot()
        self._build_sii_plot()
        return self.plots

    def _build_gain_plot(self) -> None:
        p = self.gain_plot
        set_frequency_ticks(p)
        p.setLabel("left", "insertion gain (dB)")
        p.addLegend(offset=(5, 5), labelTextSize="8pt")
        self.target_curves, self.realised_curves, self.target_points = {}, {}, {}
        for side in EARS:
            c = EAR_COLOURS[side]
            self.target_curves[side] = p.plot([], [], pen=pg.mkPen(c, width=1.5,
                                              style=Qt.PenStyle.DashLine), name=f"{side} target")
            self.target_points[side] = p.plot(
                [], [], pen=None, symbol=EAR_SYMBOLS[side], symbolSize=8,
                symbolPen=pg.mkPen(c), symbolBrush=None if side == "right" else pg.mkBrush(c))
            self.realised_curves[side] = p.plot([], [], pen=pg.mkPen(c, width=2.5),
                                                name=f"{side} realised")

    def _build_io_plot(self) -> None:
        p = self.io_plot
        p.setLabel("bottom", "band input level (dB SPL)")
        p.setLabel("left", "band output level (dB SPL)")
        p.setXRange(0, 120, padding=0.02)
        p.setYRange(0, 140, padding=0.02)
        p.addLegend(offset=(5, 5), labelTextSize="8pt")
        p.plot([0, 120], [0, 120], pen=pg.mkPen((150, 150, 150), style=Qt.PenStyle.DotLine),
               name="0 dB gain")
        centres = hearing_aid_for(self.model.fitting).center_frequencies_hz
        self.io_bands = [int(np.argmin(np.abs(np.log(centres / f)))) for f in IO_BANDS_HZ]
        self.io_curves = []
        for i, band in enumerate(self.io_bands):
            colour = pg.intColor(i, hues=len(self.io_bands), values=1, maxValue=200)
            self.io_curves.append(p.plot([], [], pen=pg.mkPen(colour, width=2),
                                         name=f"{centres[band]:.0f} Hz"))
        self.mpo_line = pg.InfiniteLine(100, angle=0, label="MPO {value:.0f} dB SPL",
                                        labelOpts={"position": 0.6, "color": (80, 80, 80),
                                                   "anchors": [(0.5, 1), (0.5, 1)]},
                                        pen=pg.mkPen((80, 80, 80), style=Qt.PenStyle.DashLine))
        p.addItem(self.mpo_line)

    def _build_spectrum_plot(self) -> None:
        p = self.spectrum_plot
        set_frequency_ticks(p)
        p.setLabel("left", "spectrum level (dB SPL/Hz)")
        p.addLegend(offset=(5, -5), labelTextSize="8pt")
        self.aided_spectra = {}
        for level in SPEECH_LEVELS_DB_SPL:
            self.aided_spectra[level] = p.plot(
                [], [], pen=pg.mkPen(_LEVEL_COLOURS[level], width=2), symbol="t", symbolSize=6,
                symbolBrush=pg.mkBrush(_LEVEL_COLOURS[level]), symbolPen=None,
                name=f"aided, speech {level:g} dB SPL")
        self.unaided_spectrum = p.plot([], [], pen=pg.mkPen((130, 130, 130), width=1.5),
                                       name="unaided, speech 65 dB SPL")
        self.threshold_curve = p.plot([], [], pen=pg.mkPen((0, 0, 0), width=2,
                                      style=Qt.PenStyle.DashLine), name="threshold X' + T'")
        bands = sii_bands("one-third-octave")
        p.plot(octaves(bands.centre_frequencies_hz), bands.internal_noise_spectrum_level_db,
               pen=pg.mkPen((60, 60, 60), style=Qt.PenStyle.DotLine),
               name="normal threshold X'")

    def _build_sii_plot(self) -> None:
        p = self.sii_plot
        p.setYRange(0, 1.08, padding=0)
        p.setXRange(-0.7, 2.7, padding=0)
        p.setLabel("left", "SII (ANSI S3.5-1997)")
        p.getAxis("bottom").setTicks([[(0.0, "right ear"), (2.0, "left ear")]])
        p.addLegend(offset=(5, 5), labelTextSize="8pt")
        self.sii_bars, self.sii_texts = {}, {}
        for k, (key, name, colour) in enumerate(_SII_BARS):
            bars = pg.BarGraphItem(x=[0.0, 2.0], height=[0.0, 0.0], width=0.5,
                                   brush=pg.mkBrush(colour), pen=pg.mkPen((60, 60, 60)))
            bars.setOpts(x=np.array([0.0, 2.0]) + 0.5 * (k - 1))
            p.addItem(bars)
            p.legend.addItem(bars, name)
            self.sii_bars[key] = bars
            for side in EARS:
                text = pg.TextItem("", anchor=(0.5, 1.0), color=(0, 0, 0))
                p.addItem(text)
                self.sii_texts[(key, side)] = text

    # -- edits ---------------------------------------------------------------------------------
    def _set(self, action: Any) -> bool:
        """Apply a rule/compression change; show the library's reason if it refuses."""
        try:
            action()
        except AudiolabError as exc:
            self.settings_problem.setText(f"refused: {exc}")
            self._sync_controls()
            return False
        self.settings_problem.setText("")
        self._sync_controls()
        self._edited()
        return True

    def set_rule(self, rule: str) -> bool:
        """Prescribe with ``rule`` (what the rule box does)."""
        return self._set(lambda: self.model.set_rule(rule))

    def set_compression(self, compression: str, *, attack_ms: float | None = None,
                        release_ms: float | None = None) -> bool:
        """Choose compression and times (what the compression box and time fields do)."""
        return self._set(lambda: self.model.set_compression(
            compression, attack_ms=attack_ms, release_ms=release_ms))

    def _sync_controls(self) -> None:
        m = self.model
        widgets = (self.rule_combo, self.compression_combo, self.attack_spin, self.release_spin)
        for w in widgets:
            w.blockSignals(True)
        self.rule_combo.setCurrentIndex(self.rule_combo.findData(m.rule))
        self.compression_combo.setCurrentIndex(self.compression_combo.findData(m.compression))
        self.attack_spin.setValue(m.attack_ms)
        self.release_spin.setValue(m.release_ms)
        for w in widgets:
            w.blockSignals(False)
        compressive = m.compression != "linear"
        self.attack_spin.setEnabled(compressive)
        self.release_spin.setEnabled(compressive)

    def _edited(self) -> None:
        """The fitting changed: recompute and hand it on once the edits pause (150 ms)."""
        self.busy = True
        self._timer.start()

    def _fitting_changed(self, fitting: Fitting) -> None:
        """The one place the new fitting is handed to the live A/B/C panel.

        Called once the edits pause (a drag gives one call, not one per pixel), so the
        engine's graph is not rebuilt for every intermediate point.
        """
        self.abc_panel.set_fitting(fitting)

    # -- background computation ----------------------------------------------------------------
    def _start_computing(self) -> None:
        if self._task is not None and not self._task.is_finished:
            self._task.cancel()  # it stops at its next progress report; its result is stale
        fitting = self.model.fitting
        self._fitting_changed(fitting)
        task = self._keep(run_task(lambda report: compute_curves(fitting, report),
                                   name="fitting-curves"))
        task.done.connect(self._computed)
        task.failed.connect(self._compute_failed)
        self._task = task

    def _keep(self, task: Task) -> Task:
        self._live_tasks.add(task)
        for signal in (task.done, task.failed, task.cancelled):
            signal.connect(self._release_finished_tasks)
        return task

    def _release_finished_tasks(self, *_: Any) -> None:
        self._live_tasks = {t for t in self._live_tasks if not t.is_finished}

    def _computed(self, curves: FittingCurves) -> None:
        if curves.fitting is not self.model.fitting:
            return  # an older fitting's curves; the newer one is on its way
        self.curves = curves
        self._show_curves()
        self.busy = self._timer.isActive()

    def _compute_failed(self, message: str) -> None:
        self.settings_problem.setText(message)
        self.busy = self._timer.isActive()

    def _show_curves(self) -> None:
        """Put the latest curves into the plot items (selected ear for I/O and spectra)."""
        c = self.curves
        if c is None:
            return
        side = self.model.ear
        x = octaves(c.frequencies_hz)
        for s in EARS:
            self.target_curves[s].setData(x, c.target_gain_db[s])
            self.realised_curves[s].setData(x, c.realised_gain_db[s])
            e = c.fitting.ear(s)
            self.target_points[s].setData(octaves(e.frequencies_hz), e.insertion_gain_db)
        for curve, band in zip(self.io_curves, self.io_bands, strict=True):
            curve.setData(c.io_input_db_spl, c.io_output_db_spl[side][band])
        self.mpo_line.setValue(c.mpo_db_spl[side])
        self.io_plot.setTitle(f"Input/output, {side} ear ({c.fitting.compression})", size="10pt")
        xs = octaves(c.spectrum_centres_hz)
        for level, curve in self.aided_spectra.items():
            curve.setData(xs, c.aided_spectrum_db_spl[side][level])
        self.unaided_spectrum.setData(xs, c.unaided_spectrum_db_spl[65.0])
        self.threshold_curve.setData(xs, c.threshold_spectrum_db_spl[side])
        self.threshold_curve.setPen(pg.mkPen(EAR_COLOURS[side], width=2,
                                             style=Qt.PenStyle.DashLine))
        self.spectrum_plot.setTitle(f"Speech at the aid's output, {side} ear", size="10pt")
        self._show_sii(c)
        self.gain_plot.setTitle(f"Insertion gain, {c.fitting.rule}: target vs realised",
                                size="10pt")

    def _show_sii(self, c: FittingCurves) -> None:
        for k, (key, _, _) in enumerate(_SII_BARS):
            heights = [c.sii[s][key] for s in ("right", "left")]
            self.sii_bars[key].setOpts(height=heights)
            for i, s in enumerate(("right", "left")):
                text = self.sii_texts[(key, s)]
                text.setText(f"{c.sii[s][key]:.2f}")
                text.setPos(2.0 * i + 0.5 * (k - 1), c.sii[s][key] + 0.01)

    # -- export --------------------------------------------------------------------------------
    def export_chain(self, path: str | Path) -> bool:
        """Write the fitting as a chain TOML (what Export chain does after asking where)."""
        try:
            out = self.model.export_chain(path)
        except (AudiolabError, OSError) as exc:
            self.status.setText(f"chain not written: {exc}")
            return False
        self.status.setText(f"wrote {out}")
        return True

    def choose_chain_file(self) -> None:
        """Ask where to write the chain TOML, then write it."""
        path, _ = QFileDialog.getSaveFileName(self, "Export fitting as chain",
                                              self.context.settings.last_directory,
                                              "Chain (*.toml)")
        if path:
            self.export_chain(path if path.endswith(".toml") else path + ".toml")

    def export_report(self, path: str | Path) -> Task:
        """Render the report to ``path`` (.png or .pdf) off the GUI thread, with progress."""
        fitting = self.model.fitting
        task = self._keep(run_task(lambda report: render_report(fitting, path, report),
                                   name="report"))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.status.setText("drawing the report…")
        task.progress.connect(self._report_progress)
        task.done.connect(lambda out: self._report_finished(f"wrote {out}"))
        task.failed.connect(lambda msg: self._report_finished(f"report not written: {msg}"))
        task.cancelled.connect(lambda: self._report_finished("report cancelled"))
        self._report_task = task
        return task

    def _report_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(100 * fraction))
        self.status.setText(text)

    def _report_finished(self, message: str) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.status.setText(message)

    def cancel_report(self) -> None:
        """Stop the report being drawn (at its next step)."""
        if self._report_task is not None:
            self._report_task.cancel()

    def choose_report_file(self) -> None:
        """Ask where to write the report, then draw it."""
        path, _ = QFileDialog.getSaveFileName(self, "Export report",
                                              self.context.settings.last_directory,
                                              "PNG image (*.png);;PDF document (*.pdf)")
        if path:
            self.export_report(path)

    # -- View ----------------------------------------------------------------------------------
    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        """Give the audiogram the keyboard, so the arrow keys edit it at once."""
        super().showEvent(event)
        self.editor.setFocus()

    def fill_example(self) -> None:
        """N3 with NAL-R (wdrc), right ear at 1 kHz selected."""
        self.model.use_preset("N3")
        self.model.set_rule("nal-r")
        self.model.select("right", 1000.0)
        self._sync_controls()
        self.editor.refresh()
        self._edited()

    def open_file(self, path: Path) -> bool:
        """Audiogram files (.json, .csv, Clarity) and chain TOMLs with a hearing-aid stage."""
        if is_chain_file(path):
            # A refusal (invalid chain or audiogram) shows its reason in place.
            self.editor.apply(lambda: self.model.load_chain_file(path))
            self._sync_controls()
            return True
        if looks_like_audiogram(path):
            self.editor.load_file(path)
            return True
        return False

    def shutdown(self) -> None:
        """Stop the timer, the background work and the A/B/C panel."""
        self._timer.stop()
        for task in list(self._live_tasks):
            task.cancel()
            task.wait(10.0)
        self.abc_panel.shutdown()
