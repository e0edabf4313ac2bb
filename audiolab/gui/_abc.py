"""The A/B/C panel: hear normal, simulated loss and aided + simulated loss, switched live.

Widgets show, :class:`~audiolab.gui._abc_model.AbcModel` decides. The fitting view embeds this
panel and calls :meth:`AbcPanel.set_fitting` on every change; a new fitting's paths are built
off the GUI thread and swapped in while the sound goes on. Keys 1, 2, 3 switch; Space starts
and stops.
"""

from typing import Any

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from audiolab._errors import AudiolabError
from audiolab.gui._abc_model import CONDITIONS, AbcModel
from audiolab.gui._context import AppContext
from audiolab.gui._live_stats import LiveFigures
from audiolab.gui._meters import LevelMeters
from audiolab.gui._tasks import Task, run_task

__all__ = ["AbcPanel"]

POLL_MS = 50


class AbcPanel(QWidget):
    """Live A/B/C listening for the current fitting.

    Parameters
    ----------
    context : AppContext
        Device and calibration (without a calibration: the uncalibrated mode, low ceiling).
    parent : QWidget, optional
    """

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.model: AbcModel | None = None
        self.fitting: Any = None
        self.busy = False
        self.figures = LiveFigures()
        self._task: Task | None = None
        self._generation = 0
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.refresh)
        context.subscribe(self._context_changed)

    # -- construction --------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        controls = QHBoxLayout()
        self.start_button = QPushButton("▶ Start (Space)", self)
        self.start_button.setObjectName("abc-start")
        self.start_button.clicked.connect(self.toggle)
        controls.addWidget(self.start_button)
        controls.addWidget(QLabel("source"))
        self.source_combo = QComboBox(self)
        self.source_combo.addItem("speech (bundled, looping)", "speech")
        self.source_combo.addItem("device input", "input")
        controls.addWidget(self.source_combo)
        self.level_spin = QDoubleSpinBox(self)
        self.level_spin.setRange(30.0, 90.0)
        self.level_spin.setDecimals(0)
        self.level_spin.setValue(65.0)
        self.level_spin.setSuffix(" dB SPL")
        self.level_spin.setToolTip("RMS level of each sentence of the speech loop")
        controls.addWidget(self.level_spin)
        controls.addStretch(1)
        layout.addLayout(controls)
        buttons = QHBoxLayout()
        self.condition_group = QButtonGroup(self)
        self.condition_group.setExclusive(True)
        self.condition_buttons: list[QPushButton] = []
        for i, name in enumerate(CONDITIONS):
            b = QPushButton(f"{i + 1}  {name}", self)
            b.setCheckable(True)
            b.setMinimumHeight(34)
            b.setToolTip(f"hear '{name}' (key {i + 1})")
            self.condition_group.addButton(b, i)
            self.condition_buttons.append(b)
            buttons.addWidget(b)
            shortcut = QShortcut(QKeySequence(str(i + 1)), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(lambda k=i: self.switch(k))
        self.condition_buttons[0].setChecked(True)
        self.condition_group.idClicked.connect(self.switch)
        space = QShortcut(QKeySequence(Qt.Key.Key_Space), self)
        space.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        space.activated.connect(self.toggle)
        layout.addLayout(buttons)
        self.meters = LevelMeters(2, self)
        layout.addWidget(self.meters)
        self.status_label = QLabel("stopped", self)
        self.status_label.setObjectName("abc-status")
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        self.error_label = QLabel("", self)
        self.error_label.setObjectName("abc-error")
        self.error_label.setStyleSheet("color: #b00020;")
        self.error_label.setWordWrap(True)
        layout.addWidget(self.error_label)

    # -- the fitting ---------------------------------------------------------------------------
    def set_fitting(self, fitting: Any) -> None:
        """Use ``fitting`` (:class:`audiolab.models.Fitting`); if sound is on, swap it in live."""
        self.fitting = fitting
        if self.model is not None and self.model.running:
            self._build_paths(start=False)

    def _build_paths(self, *, start: bool) -> None:
        """Build the fitting's paths on a worker thread; start or swap them in when done."""
        model, fitting = self.model, self.fitting
        assert model is not None
        if self._task is not None:
            self._task.cancel()
        self._generation += 1
        generation = self._generation
        self.busy = True
        self.status_label.setText("building the hearing aid and the simulators…")

        def work(report: Any) -> Any:
            report(0.0, "designing")
            return model.build_paths(fitting)

        task = run_task(work, name="abc-paths")
        task.done.connect(lambda paths: self._paths_ready(paths, generation, start))
        task.failed.connect(self._failed)
        self._task = task

    def _paths_ready(self, paths: Any, generation: int, start: bool) -> None:
        if generation != self._generation or self.model is None:
            return  # a newer fitting is on its way, or the panel stopped
        self.busy = False
        try:
            if start:
                self.model.start(paths)
                self.timer.start()
                self.start_button.setText("■ Stop (Space)")
            else:
                self.model.swap_paths(paths)
        except AudiolabError as exc:
            self._failed(str(exc))
            return
        self.error_label.setText("")
        self.refresh()

    # -- start / stop / switch -----------------------------------------------------------------
    def toggle(self) -> None:
        """Start if stopped, stop if running."""
        if self.model is not None:
            self.stop()
        else:
            self.start()

    def start(self) -> bool:
        """Open the device and start the engine on the current fitting; False on an error."""
        if self.fitting is None:
            self.error_label.setText("no fitting yet: fit a hearing aid first")
            return False
        self.stop()
        model = AbcModel(self.context.calibration_or_uncalibrated(2), device=self.context.device,
                         source=self.source_combo.currentData(),
                         level_db_spl=self.level_spin.value())
        model.condition = max(self.condition_group.checkedId(), 0)
        try:
            plan = model.open()
        except AudiolabError as exc:
            self._failed(str(exc))
            return False
        self.model = model
        names = {0: "left", 1: "right"} if plan.n_channels == 2 else {0: plan.ear}
        self.meters.set_channels(plan.n_outputs, [
            f"out {o} ({names.get(m, '-')})" for o, m in enumerate(plan.output_map)])
        ceilings = [c for c in model.engine.ceiling_db_spl() if c is not None] \
            if model.engine is not None else []
        self.meters.set_ceiling(min(ceilings) if ceilings else None)
        self._build_paths(start=True)
        return True

    def switch(self, condition: int) -> None:
        """Hear ``condition`` (0 normal, 1 simulated loss, 2 aided + simulated loss)."""
        self.condition_buttons[condition].setChecked(True)
        if self.model is None:
            return
        try:
            self.model.switch(condition)
        except AudiolabError as exc:
            self._failed(str(exc))

    def refresh(self) -> None:
        """Poll the engine and show its meters and counters (the QTimer calls this)."""
        if self.model is None or not self.model.running:
            return
        try:
            f = self.model.poll()
        except AudiolabError as exc:
            self._failed(f"the audio stream stopped: {exc}")
            return
        self.figures = f
        self.meters.show_levels(f.rms_db_spl, f.peak_db_spl)
        xruns = "-" if f.xruns is None else str(f.xruns)
        self.status_label.setText(
            f"hearing {CONDITIONS[self.model.condition]} · {self.model.switches} switches · "
            f"callbacks {f.callbacks}, lost {f.lost_callbacks}, overruns {f.overruns}, "
            f"driver xruns {xruns} · ceiling limited {f.limited_samples} samples")

    def _failed(self, message: str) -> None:
        self.busy = False
        self.error_label.setText(message)
        self.stop(keep_message=True)

    def stop(self, *, keep_message: bool = False) -> None:
        """Stop the sound and release the device."""
        self.timer.stop()
        self._generation += 1
        if self._task is not None:
            self._task.cancel()
            self._task = None
        model, self.model = self.model, None
        if model is not None:
            try:
                model.close()
            except AudiolabError as exc:
                self.error_label.setText(str(exc))
        self.busy = False
        self.start_button.setText("▶ Start (Space)")
        if not keep_message:
            self.error_label.setText("")
        self.status_label.setText("stopped")

    def _context_changed(self, what: str) -> None:
        if not shiboken6.isValid(self.status_label):
            return  # the panel is gone (the context keeps its listeners)
        if self.model is not None:
            self.stop()
            self.status_label.setText(f"stopped: the {what} changed (press Start again)")

    def shutdown(self) -> None:
        """Stop the sound (the window is closing)."""
        self.stop()
