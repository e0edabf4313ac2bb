"""The audiogram editor: thresholds of both ears on the standard audiogram grid.

Log frequency 125-8000 Hz (octave ticks labelled, half-octave grid lines), dB HL from -10 at the
top increasing downward to 120 (ASHA 1990 guidelines for audiometric symbols: right ear red O,
left ear blue X, so the symbols tell the ears apart without colour). Click to set the selected
ear's point at the nearest test frequency, drag a point to move it, or use the keyboard: Up/Down
move the selected point by 5 dB, Left/Right select the next test frequency, R/L choose the ear,
Delete removes the point. Every edit goes through :class:`FittingModel`; one the library refuses
leaves the audiogram unchanged and its reason is shown under the plot. Bone-conduction
thresholds from a file are shown (right "<", left ">") and kept, but not edited here.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from audiolab._errors import AudiolabError
from audiolab.audiology import STANDARD_AUDIOGRAMS
from audiolab.audiology._audiogram import EARS, MAX_DB_HL, MIN_DB_HL
from audiolab.gui._fitting_model import GRID_FREQUENCIES_HZ, FittingModel, clarity_listener_ids

__all__ = ["AUDIOGRAM_FILTERS", "EAR_COLOURS", "EAR_SYMBOLS", "AudiogramEditor",
           "octaves", "set_frequency_ticks"]

EAR_COLOURS = {"right": (214, 39, 40), "left": (31, 119, 180)}  # red / blue (ASHA 1990)
EAR_SYMBOLS = {"right": "o", "left": "x"}
#: Save-dialog filters and the write_audiogram format each one means.
AUDIOGRAM_FILTERS = {
    "audiolab audiogram (*.json)": "json",
    "Clarity listener (*.json)": "clarity",
    "CSV audiogram (*.csv)": "csv",
}
_PICK_RADIUS_PX = 14.0


def octaves(f_hz: Any) -> Any:
    """Plot x coordinate of a frequency: octaves re 1 kHz (the grid is even in octaves)."""
    return np.log2(np.asarray(f_hz, float) / 1000.0)


def set_frequency_ticks(plot: pg.PlotItem) -> None:
    """Octave ticks labelled 125 ... 8k, half-octave ticks as minor grid lines."""
    labels = {125: "125", 250: "250", 500: "500", 1000: "1k", 2000: "2k", 4000: "4k", 8000: "8k"}
    major = [(float(octaves(f)), text) for f, text in labels.items()]
    minor = [(float(octaves(f)), "") for f in (750, 1500, 3000, 6000)]
    plot.getAxis("bottom").setTicks([major, minor])
    plot.setXRange(float(octaves(110)), float(octaves(9000)), padding=0)
    plot.setLabel("bottom", "frequency (Hz)")


class _GridViewBox(pg.ViewBox):
    """A view box whose mouse edits the audiogram instead of panning and zooming."""

    def __init__(self, editor: "AudiogramEditor") -> None:
        super().__init__(enableMenu=False)
        self.setMouseEnabled(False, False)
        self._editor = editor

    def mouseClickEvent(self, ev: Any) -> None:  # noqa: N802 - pyqtgraph's name
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        p = self.mapToView(ev.pos())
        self._editor.click_at(p.x(), p.y())

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:  # noqa: N802
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        if ev.isStart():
            self._editor.drag_start(ev.buttonDownPos())
        p = self.mapToView(ev.pos())
        self._editor.drag_to(p.y())
        if ev.isFinish():
            self._editor.drag_end()

    def wheelEvent(self, ev: Any, axis: Any = None) -> None:  # noqa: N802
        ev.ignore()


class AudiogramEditor(QWidget):
    """Edit both ears' thresholds of a :class:`FittingModel`.

    Signals
    -------
    edited()
        After every change the model accepted (point, preset, file).
    shown()
        After every redraw (also when only the selected ear or point changed).
    """

    edited = Signal()
    shown = Signal()

    def __init__(self, model: FittingModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._dragging = False
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolTip("Click: set a threshold · drag: move it · ↑/↓: 5 dB · ←/→: frequency · "
                        "R/L: ear · Delete: remove the point")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._build_controls())
        self.view_box = _GridViewBox(self)
        self.plot_widget = pg.PlotWidget(viewBox=self.view_box)
        self.plot_widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.plot_widget.setMinimumHeight(260)
        layout.addWidget(self.plot_widget, 1)
        self.readout = QLabel(self)
        self.readout.setObjectName("audiogram-readout")
        layout.addWidget(self.readout)
        self.problem_label = QLabel(self)
        self.problem_label.setObjectName("audiogram-problem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #b00020;")
        layout.addWidget(self.problem_label)
        self._build_plot()
        self.refresh()

    # -- construction ----------------------------------------------------------------------------
    def _build_controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.ear_buttons = QButtonGroup(self)
        for side, text in (("right", "Right ear (R)"), ("left", "Left ear (L)")):
            button = QRadioButton(text, self)
            button.setObjectName(f"ear-{side}")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.toggled.connect(lambda on, s=side: self._ear_toggled(on, s))
            self.ear_buttons.addButton(button)
            row.addWidget(button)
        row.addStretch(1)
        self.preset_combo = QComboBox(self)
        self.preset_combo.setObjectName("preset-combo")
        self.preset_combo.addItem("preset…", None)
        for name in STANDARD_AUDIOGRAMS:
            self.preset_combo.addItem(name, name)
        self.preset_combo.setToolTip("Standard audiograms N1-N7, S1-S3 (Bisgaard et al. 2010)")
        self.preset_combo.activated.connect(self._preset_chosen)
        row.addWidget(self.preset_combo)
        load = QPushButton("Load…", self)
        load.setToolTip("Read an audiolab JSON, Clarity listener JSON or CSV audiogram")
        load.clicked.connect(self.choose_file_to_load)
        save = QPushButton("Save…", self)
        save.setToolTip("Write the audiogram as audiolab JSON, Clarity listener JSON or CSV")
        save.clicked.connect(self.choose_file_to_save)
        row.addWidget(load)
        row.addWidget(save)
        return row

    def _build_plot(self) -> None:
        plot = self.plot_widget.getPlotItem()
        plot.setTitle("Audiogram")
        plot.showGrid(x=True, y=True, alpha=0.35)
        set_frequency_ticks(plot)
        plot.invertY(True)
        plot.getAxis("left").setTicks([[(float(v), f"{v}") for v in range(-10, 121, 10)]])
        plot.setLabel("left", "hearing level (dB HL)")
        legend = plot.addLegend(offset=(-8, -8))
        legend.setAcceptedMouseButtons(Qt.MouseButton.NoButton)  # clicks there edit the grid
        for f in GRID_FREQUENCIES_HZ:  # faint vertical guides at every test frequency
            plot.addItem(pg.InfiniteLine(float(octaves(f)), angle=90,
                                         pen=pg.mkPen((0, 0, 0, 25))))
        self.curves: dict[str, pg.PlotDataItem] = {}
        for side in EARS:
            colour = EAR_COLOURS[side]
            self.curves[side] = plot.plot(
                [], [], pen=pg.mkPen(colour, width=2), symbol=EAR_SYMBOLS[side], symbolSize=13,
                symbolPen=pg.mkPen(colour, width=2),
                symbolBrush=None if side == "right" else pg.mkBrush(colour),
                name=f"{side} ear ({EAR_SYMBOLS[side].upper()})")
        # Bone conduction, kept from files but not edited: right "<", left ">" (ASHA 1990).
        self.bone: dict[str, pg.ScatterPlotItem] = {}
        for side, symbol in (("right", "t3"), ("left", "t2")):
            self.bone[side] = pg.ScatterPlotItem(size=11, symbol=symbol, brush=None,
                                                 pen=pg.mkPen(EAR_COLOURS[side], width=1.5))
            plot.addItem(self.bone[side])
        self.selection = pg.ScatterPlotItem(size=24, symbol="s", pen=pg.mkPen((90, 90, 90),
                                            width=1.5, style=Qt.PenStyle.DashLine), brush=None)
        plot.addItem(self.selection)
        self.view_box.disableAutoRange()
        plot.setYRange(MIN_DB_HL - 4, MAX_DB_HL + 4, padding=0)

    # -- showing the model ----------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw points, selection and readout from the model."""
        m = self.model
        for side in EARS:
            ear = m.audiogram.ear(side)
            self.curves[side].setData(octaves(ear.frequencies_hz), ear.thresholds_db_hl)
            if ear.bone_frequencies_hz is not None:
                self.bone[side].setData(octaves(ear.bone_frequencies_hz),
                                        ear.bone_thresholds_db_hl)
            else:
                self.bone[side].setData([], [])
        for button in self.ear_buttons.buttons():
            if button.objectName() == f"ear-{m.ear}" and not button.isChecked():
                button.blockSignals(True)
                button.setChecked(True)
                button.blockSignals(False)
        if m.selected_hz is not None:
            level = m.threshold_db_hl(m.ear, m.selected_hz)
            self.selection.setData([float(octaves(m.selected_hz))], [level])
            self.readout.setText(f"{m.audiogram.name} · selected: {m.ear} ear, "
                                 f"{m.selected_hz:g} Hz, {level:g} dB HL")
        else:
            self.selection.setData([], [])
            self.readout.setText(m.audiogram.name)
        self.shown.emit()

    @property
    def problem(self) -> str:
        """The reason the last edit was refused ('' after an accepted one)."""
        return self.problem_label.text()

    def apply(self, action: Callable[[], Any], *, announce: bool = True) -> bool:
        """Run a model action; show the library's reason if it refuses, else redraw.

        Returns True when the model accepted the change.
        """
        try:
            action()
        except (AudiolabError, OSError) as exc:
            self.problem_label.setText(f"refused: {exc}")
            self.refresh()
            return False
        self.problem_label.setText("")
        self.refresh()
        if announce:
            self.edited.emit()
        return True

    # -- mouse ---------------------------------------------------------------------------------
    def point_position(self, f_hz: float, level_db_hl: float) -> QPoint:
        """Where (f_hz, level_db_hl) is drawn, in the plot widget's viewport pixels."""
        scene = self.view_box.mapViewToScene(QPointF(float(octaves(f_hz)), level_db_hl))
        return self.plot_widget.mapFromScene(scene)

    def click_at(self, x_octaves: float, level_db_hl: float) -> bool:
        """A click at plot coordinates: set the selected ear's point there."""
        self.setFocus()
        f_hz = 1000.0 * 2.0 ** x_octaves
        return self.apply(lambda: self.model.click(f_hz, level_db_hl))

    def _nearest_point(self, scene_pos: QPointF) -> tuple[str, float] | None:
        """(ear, frequency) of the point drawn within reach of ``scene_pos``, current ear first."""
        best: tuple[float, str, float] | None = None
        for side in (self.model.ear, *[s for s in EARS if s != self.model.ear]):
            ear = self.model.audiogram.ear(side)
            for f, t in zip(ear.frequencies_hz, ear.thresholds_db_hl, strict=True):
                p = self.view_box.mapViewToScene(QPointF(float(octaves(f)), float(t)))
                d = float(np.hypot(p.x() - scene_pos.x(), p.y() - scene_pos.y()))
                if d <= _PICK_RADIUS_PX and (best is None or d < best[0] - 0.5):
                    best = (d, side, float(f))
        return None if best is None else (best[1], best[2])

    def drag_start(self, item_pos: QPointF) -> None:
        """Start moving the point under the mouse (or the selected ear's point at its frequency)."""
        self.setFocus()
        scene_pos = self.view_box.mapToScene(item_pos)
        hit = self._nearest_point(scene_pos)
        if hit is not None:
            self.model.select(hit[0], hit[1])
        else:
            x = self.view_box.mapToView(item_pos).x()
            self.model.selected_hz = self.model.snap_hz(self.model.ear, 1000.0 * 2.0 ** x)
        self._dragging = True

    def drag_to(self, level_db_hl: float) -> None:
        """Move the point being dragged to ``level_db_hl`` (5 dB steps); refused outside range."""
        if not self._dragging or self.model.selected_hz is None:
            return
        f = self.model.selected_hz
        level = self.model.snap_db(level_db_hl)
        if self.model.threshold_db_hl(self.model.ear, f) == level:
            return
        self.apply(lambda: self.model.set_threshold(self.model.ear, f, level))

    def drag_end(self) -> None:
        """Finish the drag."""
        self._dragging = False

    # -- keyboard ------------------------------------------------------------------------------
    def _ear_toggled(self, on: bool, side: str) -> None:
        if on:
            self.choose_ear(side)

    def choose_ear(self, side: str) -> None:
        """Edit the ``side`` ear (keeps the frequency selected)."""
        self.apply(lambda: self.model.select(side), announce=False)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """↑/↓: 5 dB, ←/→: next frequency, R/L: ear, Delete: remove the point."""
        key = event.key()
        m = self.model
        actions: dict[int, tuple[Callable[[], Any], bool]] = {
            Qt.Key.Key_Up: (lambda: m.step_level(-1), True),
            Qt.Key.Key_Down: (lambda: m.step_level(+1), True),
            Qt.Key.Key_Left: (lambda: m.step_frequency(-1), False),
            Qt.Key.Key_Right: (lambda: m.step_frequency(+1), False),
            Qt.Key.Key_R: (lambda: m.select("right"), False),
            Qt.Key.Key_L: (lambda: m.select("left"), False),
            Qt.Key.Key_Delete: (self._remove_selected, True),
            Qt.Key.Key_Backspace: (self._remove_selected, True),
        }
        if key not in actions:
            super().keyPressEvent(event)
            return
        action, changes = actions[key]
        self.apply(action, announce=changes)
        event.accept()

    def _remove_selected(self) -> None:
        m = self.model
        if m.selected_hz is not None:
            m.remove_threshold(m.ear, m.selected_hz)

    # -- presets and files ---------------------------------------------------------------------
    def _preset_chosen(self, index: int) -> None:
        name = self.preset_combo.itemData(index)
        self.preset_combo.setCurrentIndex(0)
        if name:
            self.use_preset(name)

    def use_preset(self, name: str) -> bool:
        """Show a standard audiogram."""
        return self.apply(lambda: self.model.use_preset(name))

    def load_file(self, path: str | Path, *, listener: str | None = None) -> bool:
        """Read an audiogram file (audiolab JSON, Clarity listener JSON, CSV).

        A Clarity ``listeners.json`` with several listeners needs ``listener`` (asked for in a
        list when not given).
        """
        ids = clarity_listener_ids(Path(path))
        if listener is None and len(ids) > 1:
            listener = self.ask_listener(ids)
            if listener is None:
                return False
        target = f"{path}#{listener}" if listener is not None else path
        return self.apply(lambda: self.model.load_audiogram_file(target))

    def ask_listener(self, ids: list[str]) -> str | None:
        """Let the user pick one listener of a Clarity listeners file (None: cancelled)."""
        chosen, ok = QInputDialog.getItem(self, "Clarity listeners",
                                          f"{len(ids)} listeners in the file; open:", ids, 0,
                                          False)
        return chosen if ok else None

    def save_file(self, path: str | Path, *, format: str | None = None) -> bool:
        """Write the audiogram; ``format`` defaults to the suffix (.csv) or audiolab JSON."""
        fmt = format or ("csv" if Path(path).suffix.lower() == ".csv" else "json")
        return self.apply(lambda: self.model.save_audiogram_file(path, format=fmt),
                          announce=False)

    def _start_folder(self) -> str:
        window = self.window()
        context = getattr(window, "context", None)
        return context.settings.last_directory if context is not None else ""

    def choose_file_to_load(self) -> None:
        """Ask for an audiogram file and read it."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Load audiogram", self._start_folder(),
            "Audiograms (*.json *.csv);;All files (*)")
        if path:
            self.load_file(path)

    def choose_file_to_save(self) -> None:
        """Ask where and in which format to write the audiogram."""
        path, chosen = QFileDialog.getSaveFileName(
            self, "Save audiogram", self._start_folder(), ";;".join(AUDIOGRAM_FILTERS))
        if path:
            self.save_file(path, format=AUDIOGRAM_FILTERS.get(chosen))
