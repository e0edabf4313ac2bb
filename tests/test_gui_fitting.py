"""The fitting view in the main window: edits drive the plots; files, chain and report export."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel

from audiolab.audiology import STANDARD_AUDIOGRAMS, read_audiogram
from audiolab.gui import MainWindow, View, create_application
from audiolab.gui._fitting_view import FittingView

ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path("/tmp/shots-gui1")


@pytest.fixture
def window(qtbot, app_context):
    create_application()
    w = MainWindow(app_context)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


@pytest.fixture
def view(window, qtbot):
    v = window.views[0]
    assert isinstance(v, FittingView)
    _settled(qtbot, v)
    return v


def _settled(qtbot, view):
    """Wait until the curves of the current fitting are shown."""
    qtbot.waitUntil(lambda: not view.busy and view.curves is not None
                    and view.curves.fitting is view.model.fitting, timeout=15000)


def _shown_at(curve, f_hz):
    x, y = curve.getData()
    return float(y[np.argmin(np.abs(1000.0 * 2.0 ** x - f_hz))])


def _target_point(view, side, f_hz):
    """The target drawn at an audiogram frequency (exact, not interpolated)."""
    x, y = view.target_points[side].getData()
    return float(y[np.argmin(np.abs(1000.0 * 2.0 ** x - f_hz))])


def _sii_shown(view, key, side):
    heights = view.sii_bars[key].opts["height"]
    return float(heights[0 if side == "right" else 1])


class _OtherView(View):
    """A second tab, so that Ctrl+1 has somewhere to come back from."""

    title = "Other"


def test_the_view_is_the_first_tab_and_ctrl_1_shows_it(qtbot, app_context):
    create_application()
    w = MainWindow(app_context, views=[FittingView, _OtherView])
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    view = w.views[0]
    assert w.tabs.tabText(0) == "Fitting" and view.title == "Fitting"
    assert view.isAncestorOf(view.abc_panel)  # the live A/B/C panel sits in the fitting view
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w)  # shortcuts need it
    w.tabs.setCurrentIndex(1)
    qtbot.keyClick(w, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert w.tabs.currentIndex() == 0
    qtbot.keyClick(w, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert w.tabs.currentIndex() == 1
    _settled(qtbot, view)


def test_clicking_a_point_changes_target_realised_gain_and_sii(view, qtbot):
    target0 = _target_point(view, "right", 2000.0)
    dense0 = _shown_at(view.target_curves["right"], 2000.0)
    realised0 = _shown_at(view.realised_curves["right"], 2000.0)
    sii0 = _sii_shown(view, "aided_realised", "right")
    unaided0 = _sii_shown(view, "unaided", "right")
    editor = view.editor
    qtbot.mouseClick(editor.plot_widget.viewport(), Qt.MouseButton.LeftButton,
                     pos=editor.point_position(2000.0, 70.0))
    assert view.busy
    _settled(qtbot, view)
    # NAL-R (Byrne & Dillon 1986): 50 -> 70 dB HL at 2 kHz adds 0.31*20 + 0.05*20 = 7.2 dB.
    assert _target_point(view, "right", 2000.0) - target0 == pytest.approx(7.2, abs=1e-9)
    # The realised gain follows the target within the filterbank's ripple.
    d_target = _shown_at(view.target_curves["right"], 2000.0) - dense0
    d_realised = _shown_at(view.realised_curves["right"], 2000.0) - realised0
    assert d_target > 5.0 and d_realised == pytest.approx(d_target, abs=1.0)
    assert _sii_shown(view, "unaided", "right") < unaided0 - 0.02
    assert _sii_shown(view, "aided_realised", "right") < sii0
    assert view.sii_texts[("unaided", "right")].textItem.toPlainText() == \
        f"{view.curves.sii['right']['unaided']:.2f}"
    # The left ear was not edited.
    assert _sii_shown(view, "unaided", "left") == pytest.approx(unaided0)


def test_keyboard_edits_change_the_plots_too(view, qtbot):
    editor = view.editor
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key.Key_L)
    assert view.model.ear == "left"
    _settled(qtbot, view)
    assert "left ear" in view.io_plot.titleLabel.text
    target0 = _target_point(view, "left", 1000.0)
    dense0 = _shown_at(view.target_curves["left"], 1000.0)
    realised0 = _shown_at(view.realised_curves["left"], 1000.0)
    sii0 = view.curves.sii["left"]["unaided"]
    for _ in range(4):
        qtbot.keyClick(editor, Qt.Key.Key_Down)  # 40 -> 60 dB HL at 1 kHz
    _settled(qtbot, view)
    assert view.model.threshold_db_hl("left", 1000.0) == 60.0
    # NAL-R: 0.31*20 + 0.05*20 = 7.2 dB more at 1 kHz.
    assert _target_point(view, "left", 1000.0) - target0 == pytest.approx(7.2, abs=1e-9)
    d_target = _shown_at(view.target_curves["left"], 1000.0) - dense0
    d_realised = _shown_at(view.realised_curves["left"], 1000.0) - realised0
    assert d_target > 5.0 and d_realised == pytest.approx(d_target, abs=1.0)
    assert view.curves.sii["left"]["unaided"] < sii0
    thresholds = view.threshold_curve.getData()[1]
    np.testing.assert_allclose(thresholds, view.curves.threshold_spectrum_db_spl["left"])


def test_rule_and_compression_through_the_widgets_and_refusals_in_place(view, qtbot):
    combo = view.rule_combo
    combo.activated.emit(combo.findData("half-gain"))
    _settled(qtbot, view)
    # Half-gain rule (Lybarger 1944): 0.5 * 50 dB HL at 2 kHz for N3.
    assert _shown_at(view.target_curves["right"], 2000.0) == pytest.approx(25.0, abs=0.3)
    comp = view.compression_combo
    comp.activated.emit(comp.findData("linear"))
    _settled(qtbot, view)
    assert not view.attack_spin.isEnabled()
    slopes = np.diff(view.io_curves[2].getData()[1]) / np.diff(view.io_curves[2].getData()[0])
    np.testing.assert_allclose(slopes, 1.0, atol=1e-9)  # linear: output follows input 1:1
    comp.activated.emit(comp.findData("wdrc"))
    view.attack_spin.setValue(0.0)  # the library wants (0, 500] ms
    assert "attack_ms must be in (0, 500], got 0" in view.settings_problem.text()
    assert view.model.attack_ms == 5.0 and view.attack_spin.value() == 5.0
    view.release_spin.setValue(300.0)
    assert view.settings_problem.text() == "" and view.model.release_ms == 300.0
    _settled(qtbot, view)
    assert view.curves.fitting.release_ms == 300.0


@pytest.mark.parametrize("fmt, name", [("json", "mine.json"), ("clarity", "clarity.json"),
                                       ("csv", "mine.csv")])
def test_each_audiogram_format_saves_and_opens_through_the_view(window, view, qtbot, tmp_path,
                                                                fmt, name):
    view.model.set_threshold("right", 3000.0, 75.0)
    view.editor.refresh()
    path = tmp_path / name
    assert view.editor.save_file(path, format=fmt)
    assert read_audiogram(path).right.threshold_db_hl_at(3000.0) == 75.0
    view.editor.use_preset("N1")
    _settled(qtbot, view)
    assert window.open_path(path)  # File > Open
    _settled(qtbot, view)
    assert view.model.threshold_db_hl("right", 3000.0) == 75.0
    assert view.curves.fitting.audiogram.right.threshold_db_hl_at(3000.0) == 75.0


def test_an_invalid_audiogram_file_is_refused_in_place(window, view, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("frequency_hz,left_db_hl,right_db_hl\n500,20,20\n1000,30,130\n4000,40,40\n")
    before = view.model.audiogram
    assert window.open_path(bad)
    assert view.model.audiogram is before
    assert "got 130 dB HL at 1000 Hz" in view.editor.problem
    other = tmp_path / "results.json"
    other.write_text(json.dumps({"trials": []}))
    assert not view.open_file(other)  # not an audiogram: left to the other views


def test_exported_chain_runs_in_audiolab_process_and_opens_again(window, view, qtbot, tmp_path):
    view.editor.use_preset("S2")
    view.set_rule("pogo")
    chain = tmp_path / "s2.toml"
    assert view.export_chain(chain)
    assert f"wrote {chain}" in view.status.text()
    fs = 16000
    wav = tmp_path / "speechlike.wav"
    noise = np.random.default_rng(1).standard_normal(fs // 2) * 0.05
    sf.write(str(wav), noise.astype(np.float32), fs, subtype="FLOAT")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "audiolab", "process", str(wav), "--chain",
                           str(chain), "--out", str(out), "--jobs", "1"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    y, fs_out = sf.read(str(out / "speechlike.wav"), always_2d=True)
    assert fs_out == fs and y.shape == (noise.size, 2) and np.all(np.isfinite(y))
    # Opening the chain restores the fitting (after something else was shown).
    view.editor.use_preset("N1")
    view.set_rule("nal-r")
    assert window.open_path(chain)
    assert view.model.audiogram == STANDARD_AUDIOGRAMS["S2"]
    assert view.model.rule == "pogo" and view.rule_combo.currentData() == "pogo"
    _settled(qtbot, view)


def test_a_calibration_toml_is_not_taken_as_a_fitting(window, view):
    cal = ROOT / "calibration" / "example.toml"
    assert not view.open_file(cal)


def test_report_is_rendered_off_the_gui_thread_with_progress(view, qtbot, tmp_path):
    out = tmp_path / "report.pdf"
    task = view.export_report(out)
    fractions = []
    task.progress.connect(lambda f, _text: fractions.append(f))
    assert view.progress.isVisible()
    with qtbot.waitSignal(task.done, timeout=60000):
        pass
    assert out.read_bytes()[:4] == b"%PDF"
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert not view.progress.isVisible() and f"wrote {out}" in view.status.text()
    cancelled = view.export_report(tmp_path / "never.png")
    view.cancel_report()
    with qtbot.waitSignal(cancelled.cancelled, timeout=10000):
        pass
    assert not (tmp_path / "never.png").exists() and view.status.text() == "report cancelled"


def test_screenshot_of_the_n3_nal_r_example(window, view, qtbot):
    view.fill_example()
    assert view.busy
    _settled(qtbot, view)
    assert view.model.audiogram.name == "N3" and view.model.rule == "nal-r"
    for curve in (*view.target_curves.values(), *view.realised_curves.values(),
                  *view.io_curves, *view.aided_spectra.values(), view.threshold_curve):
        assert np.isfinite(curve.getData()[1]).all() and len(curve.getData()[1]) > 5
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / "fitting_view.png"
    assert window.grab().save(str(path))
    assert path.stat().st_size > 20000


def test_qt_bindings_keep_none_alive():
    """PySide6 6.12.0 drops a reference to None on every void C++ call; on Python 3.11 (None is
    not immortal) the GUI then aborts with "deallocating None" after enough redraws."""
    create_application()
    label = QLabel()
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")
    assert sys.getrefcount(None) - before > -100


def test_the_fitting_is_handed_on_once_the_edits_pause(view, qtbot, monkeypatch):
    handed = []
    original = view._fitting_changed
    monkeypatch.setattr(view, "_fitting_changed", lambda f: (handed.append(f), original(f)))
    view.editor.setFocus()
    for _ in range(3):
        qtbot.keyClick(view.editor, Qt.Key.Key_Down)  # no event loop runs between the keys
    assert handed == []  # nothing handed on while editing
    _settled(qtbot, view)
    assert len(handed) == 1 and handed[0] is view.model.fitting
    assert view.abc_panel.fitting is view.model.fitting  # the A/B/C panel plays this fitting
    assert view.model.threshold_db_hl("right", 1000.0) == 55.0


def test_the_audiogram_has_the_keyboard_when_the_view_is_shown(window, view, qtbot):
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    view.hide()
    view.show()
    qtbot.waitUntil(view.editor.hasFocus)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Up)
    assert view.model.threshold_db_hl("right", 1000.0) == 35.0
