"""The audiogram editor widget: mouse and keyboard edits, refusals shown in place, files."""

import json

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import QApplication, QInputDialog

from audiolab.audiology import STANDARD_AUDIOGRAMS
from audiolab.gui import create_application
from audiolab.gui._audiogram_editor import AudiogramEditor, octaves
from audiolab.gui._fitting_model import FittingModel


@pytest.fixture
def editor(qtbot):
    create_application()
    widget = AudiogramEditor(FittingModel("N3"))
    widget.resize(640, 480)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _drawn(editor, side):
    x, y = editor.curves[side].getData()
    return 1000.0 * 2.0 ** np.asarray(x), np.asarray(y)


def test_grid_axes_symbols_and_colours(editor):
    plot = editor.plot_widget.getPlotItem()
    (lo, hi), (top, bottom) = plot.viewRange()
    assert 1000 * 2**lo < 125 and 1000 * 2**hi > 8000
    assert top <= -10 and bottom >= 120 and plot.getViewBox().yInverted()
    labels = [t[1] for t in plot.getAxis("bottom")._tickLevels[0]]
    assert labels == ["125", "250", "500", "1k", "2k", "4k", "8k"]
    right, left = editor.curves["right"], editor.curves["left"]
    assert right.opts["symbol"] == "o" and left.opts["symbol"] == "x"
    assert right.opts["symbolPen"].color().red() > 200
    assert left.opts["symbolPen"].color().blue() > 150


def test_mouse_click_sets_a_point_at_the_nearest_test_frequency(editor, qtbot):
    qtbot.mouseClick(editor.plot_widget.viewport(), Qt.MouseButton.LeftButton,
                     pos=editor.point_position(2000.0, 71.0))
    assert editor.model.threshold_db_hl("right", 2000.0) == 70.0
    f, y = _drawn(editor, "right")
    assert y[np.argmin(np.abs(f - 2000))] == pytest.approx(70.0)
    assert editor.model.audiogram.left == STANDARD_AUDIOGRAMS["N3"].left
    assert "2000 Hz, 70 dB HL" in editor.readout.text()


def test_mouse_drag_moves_a_point_of_the_ear_under_the_mouse(editor, qtbot):
    editor.model.select("right")
    editor.model.set_threshold("left", 4000.0, 80.0)  # apart from the right ear's 60 dB HL
    editor.refresh()
    viewport = editor.plot_widget.viewport()
    start = editor.point_position(4000.0, 80.0)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    for level in (85.0, 90.0, 95.0):
        qtbot.mouseMove(viewport, editor.point_position(4000.0, level))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton,
                       pos=editor.point_position(4000.0, 95.0))
    assert editor.model.ear == "left"
    assert editor.model.threshold_db_hl("left", 4000.0) == 95.0
    assert editor.model.threshold_db_hl("right", 4000.0) == 60.0


def test_keyboard_moves_the_selected_point_and_chooses_ear_and_frequency(editor, qtbot):
    editor.setFocus()
    editor.model.select("right", 1000.0)
    qtbot.keyClick(editor, Qt.Key.Key_L)
    assert editor.model.ear == "left"
    assert editor.findChild(type(editor.ear_buttons.buttons()[0]), "ear-left").isChecked()
    qtbot.keyClick(editor, Qt.Key.Key_Right)
    assert editor.model.selected_hz == 1500.0
    for _ in range(3):
        qtbot.keyClick(editor, Qt.Key.Key_Down)  # down the chart: 5 dB more loss each
    assert editor.model.threshold_db_hl("left", 1500.0) == 45.0 + 15.0
    qtbot.keyClick(editor, Qt.Key.Key_Up)
    assert editor.model.threshold_db_hl("left", 1500.0) == 55.0
    qtbot.keyClick(editor, Qt.Key.Key_R)
    qtbot.keyClick(editor, Qt.Key.Key_Left)
    assert (editor.model.ear, editor.model.selected_hz) == ("right", 1000.0)
    f, y = _drawn(editor, "left")
    assert y[list(f.round()).index(1500.0)] == 55.0
    sel_x, sel_y = editor.selection.getData()
    assert 1000 * 2 ** sel_x[0] == pytest.approx(1000.0) and sel_y[0] == 40.0


def test_out_of_range_values_are_refused_with_the_reason_next_to_the_plot(editor, qtbot):
    editor.setFocus()
    editor.model.select("right", 250.0)
    editor.model.set_threshold("right", 250.0, -10.0)
    editor.refresh()
    before = editor.model.audiogram
    with qtbot.assertNotEmitted(editor.edited):
        qtbot.keyClick(editor, Qt.Key.Key_Up)
    assert editor.model.audiogram is before
    assert editor.problem_label.isVisible()
    assert "[-10, 120] dB HL, got -15 dB HL at 250 Hz" in editor.problem
    # A click below 120 dB HL (the plot shows a margin there) is refused the same way.
    qtbot.mouseClick(editor.plot_widget.viewport(), Qt.MouseButton.LeftButton,
                     pos=editor.point_position(1000.0, 123.5))
    assert "got 125 dB HL at 1000 Hz" in editor.problem
    # The next accepted edit clears the reason.
    with qtbot.waitSignal(editor.edited):
        qtbot.keyClick(editor, Qt.Key.Key_Down)
    assert editor.problem == ""


def test_presets_and_deleting_points(editor, qtbot):
    combo = editor.preset_combo
    combo.activated.emit(combo.findData("S2"))
    assert editor.model.audiogram == STANDARD_AUDIOGRAMS["S2"]
    assert combo.currentIndex() == 0
    editor.setFocus()
    editor.model.select("right", 375.0)
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    assert 375.0 not in editor.model.audiogram.right.frequencies_hz
    editor.model.select("right", 250.0)
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    editor.model.select("right", 500.0)
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    assert "must cover 500-4000 Hz" in editor.problem
    assert 500.0 in editor.model.audiogram.right.frequencies_hz


def test_point_position_maps_plot_coordinates(editor):
    a = editor.point_position(500.0, 0.0)
    b = editor.point_position(1000.0, 0.0)
    c = editor.point_position(1000.0, 60.0)
    assert isinstance(a, QPoint) and b.x() > a.x() and c.y() > b.y()  # dB HL grows downward
    assert float(octaves(2000.0)) == 1.0


def _listeners_file(tmp_path):
    """A Clarity listeners.json with two listeners (the layout of the Clarity challenges)."""
    path = tmp_path / "listeners.json"
    cfs = [250, 500, 1000, 2000, 3000, 4000, 6000, 8000]
    path.write_text(json.dumps({
        "L0001": {"name": "L0001", "audiogram_cfs": cfs,
                  "audiogram_levels_l": [10, 15, 20, 30, 40, 50, 60, 65],
                  "audiogram_levels_r": [10, 15, 20, 30, 45, 55, 60, 70]},
        "L0002": {"name": "L0002", "audiogram_cfs": cfs,
                  "audiogram_levels_l": [30, 30, 35, 45, 55, 60, 70, 75],
                  "audiogram_levels_r": [25, 30, 35, 50, 55, 65, 70, 80]},
    }))
    return path


def test_a_clarity_listeners_file_asks_which_listener(editor, qtbot, tmp_path):
    path = _listeners_file(tmp_path)
    assert editor.load_file(path, listener="L0001")
    assert editor.model.audiogram.name == "L0001"

    def pick():
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, QInputDialog)
        assert dialog.comboBoxItems() == ["L0001", "L0002"]
        dialog.setTextValue("L0002")
        dialog.accept()

    QTimer.singleShot(200, pick)
    assert editor.load_file(path)
    assert editor.model.audiogram.name == "L0002"
    assert editor.model.threshold_db_hl("right", 8000.0) == 80.0


def test_bone_conduction_from_a_file_is_shown_and_kept(editor, tmp_path):
    path = tmp_path / "with_bone.csv"
    path.write_text("frequency_hz,left_db_hl,right_db_hl,left_bone_db_hl,right_bone_db_hl\n"
                    "500,40,45,10,15\n1000,50,50,20,20\n2000,55,60,,25\n4000,60,65,,\n")
    assert editor.load_file(path)
    x, y = editor.bone["right"].getData()
    assert list(np.round(1000 * 2.0 ** x)) == [500, 1000, 2000] and list(y) == [15, 20, 25]
    editor.model.set_threshold("right", 1000.0, 70.0)
    assert list(editor.model.audiogram.right.bone_thresholds_db_hl) == [15, 20, 25]
