"""The calibration wizard view: set-up, one reading per frequency, verification, saving.

Widgets show, :class:`~audiolab.gui._calibration_model.CalibrationWizard` decides. Return
enters the reading typed; the table fills in as the tones go by.
"""

import datetime as _dt
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from audiolab._errors import AudiolabError
from audiolab.gui._app import View
from audiolab.gui._calibration_model import TRANSDUCERS, CalibrationWizard, Step
from audiolab.gui._context import AppContext
from audiolab.gui._engine_registry import ENGINES

__all__ = ["CalibrationView"]

_COLUMNS = ("frequency (Hz)", "tone (dBFS)", "reading (dB SPL)", "full scale (dB SPL)",
            "verify: expected", "verify: reading", "deviation (dB)")


class CalibrationView(View):
    """Calibrate a headphone or loudspeaker with a sound level meter, step by step."""

    title = "Calibration"
    file_filter = ""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.wizard = CalibrationWizard(operator=context.settings.operator)
        #: Answers "overwrite FILE?"; the view asks with a message box (tests may answer).
        self.confirm_overwrite = self._ask_overwrite
        self._build()
        context.subscribe(self._context_changed)
        self._show_current()
        self._show_phase()

    # -- construction ----------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.current_label = QLabel(self)
        self.current_label.setObjectName("calibration-current")
        self.current_label.setWordWrap(True)
        layout.addWidget(self.current_label)
        row = QHBoxLayout()
        row.addWidget(self._setup_box(), 0)
        row.addWidget(self._measure_box(), 1)
        layout.addLayout(row, 1)
        self.message_label = QLabel("", self)
        self.message_label.setObjectName("calibration-message")
        self.message_label.setWordWrap(True)
        layout.addWidget(self.message_label)

    def _setup_box(self) -> QGroupBox:
        box = QGroupBox("1  Set-up", self)
        box.setMinimumWidth(360)
        form = QFormLayout(box)
        self.device_combo = QComboBox(box)
        self._fill_devices()
        form.addRow("device", self.device_combo)
        self.channel_spin = QSpinBox(box)
        self.channel_spin.setRange(0, 15)
        form.addRow("output channel", self.channel_spin)
        self.ear_combo = QComboBox(box)
        self.ear_combo.addItems(["left", "right", "none"])
        self.channel_spin.valueChanged.connect(
            lambda c: self.ear_combo.setCurrentIndex(min(c, 2)))
        form.addRow("ear", self.ear_combo)
        self.transducer_combo = QComboBox(box)
        self.transducer_combo.addItems(list(TRANSDUCERS))
        self.transducer_combo.setToolTip("RETSPL table of the transducer (ISO 389), or "
                                         "free-field for loudspeakers")
        form.addRow("transducer", self.transducer_combo)
        self.level_spin = QDoubleSpinBox(box)
        self.level_spin.setRange(-80.0, -20.0)
        self.level_spin.setDecimals(1)
        self.level_spin.setValue(self.wizard.level_dbfs)
        self.level_spin.setSuffix(" dBFS")
        self.level_spin.setToolTip("digital level of the tones: at most -20 dBFS (the "
                                   "uncalibrated ceiling); start low")
        form.addRow("tone level", self.level_spin)
        self.ceiling_spin = QDoubleSpinBox(box)
        self.ceiling_spin.setRange(40.0, 140.0)
        self.ceiling_spin.setValue(self.wizard.ceiling_db_spl)
        self.ceiling_spin.setSuffix(" dB SPL")
        form.addRow("output ceiling", self.ceiling_spin)
        self.operator_edit = QLineEdit(self.wizard.operator, box)
        self.operator_edit.setPlaceholderText("who measures")
        form.addRow("operator", self.operator_edit)
        folder_row = QHBoxLayout()
        self.folder_edit = QLineEdit(str(Path.cwd() / "calibration"), box)
        browse = QPushButton("…", box)
        browse.setMaximumWidth(30)
        browse.clicked.connect(self._choose_folder)
        folder_row.addWidget(self.folder_edit)
        folder_row.addWidget(browse)
        form.addRow("folder", folder_row)
        self.file_edit = QLineEdit(box)
        self.file_edit.setPlaceholderText("named after device, transducer and date")
        form.addRow("file name", self.file_edit)
        self.start_button = QPushButton("2  Start measuring", box)
        self.start_button.setObjectName("calibration-start")
        self.start_button.clicked.connect(self.start_measurement)
        form.addRow(self.start_button)
        return box

    def _measure_box(self) -> QGroupBox:
        box = QGroupBox("Readings", self)
        v = QVBoxLayout(box)
        self.prompt_label = QLabel("", box)
        self.prompt_label.setObjectName("calibration-prompt")
        self.prompt_label.setWordWrap(True)
        self.prompt_label.setStyleSheet("font-size: 14px; font-weight: bold;")
        v.addWidget(self.prompt_label)
        entry = QHBoxLayout()
        self.reading_edit = QLineEdit(box)
        self.reading_edit.setPlaceholderText("sound level meter reading, dB SPL")
        self.reading_edit.returnPressed.connect(self.enter_reading)
        entry.addWidget(self.reading_edit)
        self.enter_button = QPushButton("Enter ⏎", box)
        self.enter_button.clicked.connect(self.enter_reading)
        entry.addWidget(self.enter_button)
        self.skip_button = QPushButton("Skip", box)
        self.skip_button.clicked.connect(self.skip)
        entry.addWidget(self.skip_button)
        v.addLayout(entry)
        self.table = QTableWidget(0, len(_COLUMNS), box)
        self.table.setHorizontalHeaderLabels(list(_COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        v.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.verify_button = QPushButton("3  Verify", box)
        self.verify_button.setObjectName("calibration-verify")
        self.verify_button.clicked.connect(self.start_verification)
        self.save_button = QPushButton("4  Save calibration", box)
        self.save_button.setObjectName("calibration-save")
        self.save_button.clicked.connect(self.save)
        self.cancel_button = QPushButton("Stop tones", box)
        self.cancel_button.clicked.connect(self.stop_tones)
        for b in (self.verify_button, self.save_button, self.cancel_button):
            buttons.addWidget(b)
        v.addLayout(buttons)
        esc = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        esc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        esc.activated.connect(self.stop_tones)
        return box

    def _fill_devices(self) -> None:
        from audiolab.engine import list_devices

        self.device_combo.addItem("as in the toolbar", "__context__")
        try:
            devices = [d for d in list_devices() if d["max_output_channels"] > 0]
        except (AudiolabError, OSError):
            devices = []
        for d in devices:
            self.device_combo.addItem(f"{d['name']} ({d['host_api']})", d["name"])

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Calibration folder",
                                                  self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    # -- actions ---------------------------------------------------------------------------------
    def _read_setup(self) -> None:
        w = self.wizard
        chosen = self.device_combo.currentData()
        w.device = self.context.device if chosen == "__context__" else chosen
        w.channel = self.channel_spin.value()
        w.ear = self.ear_combo.currentText()
        w.transducer = self.transducer_combo.currentText()
        w.level_dbfs = self.level_spin.value()
        w.ceiling_db_spl = self.ceiling_spin.value()
        w.operator = self.operator_edit.text()
        w.folder = Path(self.folder_edit.text() or "calibration")

    def start_measurement(self) -> bool:
        """Open the device and play the first tone; False (with the reason shown) on an error."""
        self._read_setup()
        try:
            step = self.wizard.start_measurement()
        except AudiolabError as exc:
            self._say(str(exc), error=True)
            self._show_phase()
            return False
        self.context.settings.operator = self.wizard.operator.strip()
        player = self.wizard._player
        if player is not None and hasattr(player, "engine"):
            ENGINES.register(player.engine, owner="calibration tones", jack=player.setup.jack)
        self._say("")
        self._fill_table()
        self._prompt(step)
        return True

    def enter_reading(self) -> None:
        """Take the reading typed for the tone playing."""
        try:
            step = self.wizard.enter(self.reading_edit.text())
        except AudiolabError as exc:
            self._say(str(exc), error=True)
            return
        self.reading_edit.clear()
        self._after_step(step)

    def skip(self) -> None:
        """Leave the frequency playing out."""
        try:
            step = self.wizard.skip()
        except AudiolabError as exc:
            self._say(str(exc), error=True)
            return
        self._after_step(step)

    def _after_step(self, step: Step | None) -> None:
        self._fill_table()
        if step is not None:
            self._prompt(step)
            return
        w = self.wizard
        self.prompt_label.setText("")
        if w.phase == "measured":
            self._say("measured: verify it (3), or save it (4)")
        elif w.phase == "done":
            worst = w.worst_deviation_db
            if w.verified:
                self._say(f"verified: largest deviation {worst:.1f} dB, within "
                          f"{w.tolerance_db:g} dB; save it (4)")
            else:
                self._say(f"verification FAILED: largest deviation {worst:.1f} dB is more than "
                          f"{w.tolerance_db:g} dB; check the set-up and measure again", error=True)
        self._show_phase()

    def start_verification(self) -> None:
        """Replay each tone at the level meant to give 70 dB SPL; ask the readings again."""
        try:
            step = self.wizard.start_verification()
        except AudiolabError as exc:
            self._say(str(exc), error=True)
            return
        self._say("")
        self._fill_table()
        self._prompt(step)

    def save(self) -> bool:
        """Write the calibration (asking before replacing a file) and make it the current one."""
        w = self.wizard
        try:
            path = w.target_path(self.file_edit.text().strip() or None)
            overwrite = False
            if path.exists():
                if not self.confirm_overwrite(path):
                    self._say(f"not saved: {path} exists and was kept", error=True)
                    return False
                overwrite = True
            w.save(path.name, overwrite=overwrite)
            self.context.set_calibration(path)
        except (AudiolabError, OSError) as exc:
            self._say(str(exc), error=True)
            return False
        self.stop_tones()
        self._say(f"saved {path}; it is now the current calibration")
        return True

    def _ask_overwrite(self, path: Path) -> bool:
        answer = QMessageBox.question(
            self, "Overwrite calibration?",
            f"{path} exists. Replace it with the new calibration?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def stop_tones(self) -> None:
        """Silence the tones and release the device."""
        player = self.wizard._player
        if player is not None and hasattr(player, "engine"):
            ENGINES.unregister(player.engine)
        try:
            self.wizard.close()
        except AudiolabError as exc:
            self._say(str(exc), error=True)
        self.prompt_label.setText("")
        self._show_phase()

    # -- display ---------------------------------------------------------------------------------
    def _say(self, text: str, *, error: bool = False) -> None:
        self.message_label.setStyleSheet("color: #b00020;" if error else "color: #1b5e20;")
        self.message_label.setText(text)

    def _prompt(self, step: Step) -> None:
        w = self.wizard
        what = "Verify" if w.phase == "verify" else "Measure"
        n = len(w.verify_steps if w.phase == "verify" else w.steps)
        self.prompt_label.setText(
            f"{what} {w.index + 1}/{n}: {step.frequency_hz:g} Hz at {step.level_dbfs:.1f} dBFS on "
            f"channel {w.channel} — type the meter reading (dB SPL) and press Return")
        self.reading_edit.setFocus()
        self._show_phase()

    def _fill_table(self) -> None:
        w = self.wizard
        self.table.setRowCount(len(w.steps))
        verify = {s.frequency_hz: s for s in w.verify_steps}
        full_scale = {}
        if w.measured is not None:
            ch = w.measured.channels[0]
            full_scale = dict(zip(ch.frequencies_hz.tolist(), ch.full_scale_db_spl.tolist(),
                                  strict=True))
        for r, s in enumerate(w.steps):
            v = verify.get(s.frequency_hz)
            dev = None if v is None else v.deviation_db
            cells = [f"{s.frequency_hz:g}", f"{s.level_dbfs:.1f}", _num(s.reading_db_spl),
                     _num(full_scale.get(s.frequency_hz)),
                     _num(None if v is None else v.expected_db_spl),
                     _num(None if v is None else v.reading_db_spl), _num(dev, signed=True)]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if c == 6 and dev is not None and abs(dev) > w.tolerance_db:
                    item.setBackground(QColor("#f8c9c9"))
                self.table.setItem(r, c, item)
            if w.current is not None and w.current.frequency_hz == s.frequency_hz:
                self.table.selectRow(r)
        self.table.resizeColumnsToContents()

    def _show_phase(self) -> None:
        phase = self.wizard.phase
        playing = phase in ("measure", "verify")
        self.reading_edit.setEnabled(playing)
        self.enter_button.setEnabled(playing)
        self.skip_button.setEnabled(playing)
        self.verify_button.setEnabled(phase in ("measured", "done"))
        self.save_button.setEnabled(self.wizard.measured is not None)
        self.cancel_button.setEnabled(self.wizard._player is not None)

    def _context_changed(self, what: str) -> None:
        if shiboken6.isValid(self.current_label):  # the context outlives deleted views
            self._show_current()

    def _show_current(self) -> None:
        cal = self.context.calibration
        if cal is None:
            text = "Current calibration: none (the uncalibrated mode, ceiling -20 dBFS)."
        else:
            age = int(cal.age_days(_dt.date.today()))
            old = " — older than a year: calibrate again" if age > 365 else ""
            text = (f"Current calibration: {Path(cal.source).name} · {cal.transducer} · channels "
                    f"{', '.join(str(c.index) for c in cal.channels)} · measured "
                    f"{cal.date.isoformat()} by {cal.operator} ({age} days ago){old} · ceiling "
                    f"{cal.ceiling_db_spl:.0f} dB SPL")
        self.current_label.setText(text)

    # -- View --------------------------------------------------------------------------------------
    def fill_example(self) -> None:
        """Show a finished example: readings of calibration/example.toml's channel 0, verified."""
        from audiolab.gui._calibration_model import example_wizard

        self.wizard = example_wizard(self.wizard.folder)
        self.operator_edit.setText(self.wizard.operator)
        self.file_edit.setText(self.wizard.target_path().name)
        self._fill_table()
        self._after_step(None)

    def shutdown(self) -> None:
        """Silence the tones and release the device."""
        self.stop_tones()


def _num(value: Any, *, signed: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:+.1f}" if signed else f"{value:.1f}"
