"""The calibration wizard: measure, verify and save a calibration (against the JACK dummy server).

The sound level meter is simulated from what really plays: the tone player's own meters give
the digital level of each tone (the uncalibrated mode's meters read 100 dB SPL at full scale),
and a virtual transducer with a known frequency response turns it into the reading an
operator would type. The saved file must then hold that response.
"""

import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from audiolab.calibration import (
    DEFAULT_CALIBRATION_FREQUENCIES_HZ,
    UNCALIBRATED_FULL_SCALE_DB_SPL,
    load_calibration,
)
from audiolab.gui import create_application
from audiolab.gui._calibration_model import CalibrationWizard, Step, default_file_name
from audiolab.gui._calibration_view import CalibrationView
from audiolab.gui._engine_registry import ENGINES

SHOTS = Path("/tmp/shots-gui2")
create_application()


def true_full_scale_db_spl(f_hz: float) -> float:
    """The virtual transducer: 104 dB SPL at 1 kHz, -3 dB per octave above 2 kHz."""
    return 104.0 - 3.0 * max(0.0, math.log2(f_hz / 2000.0))


class _Recorder:
    """A tone player that only notes what it was asked to play (for the model's unit tests)."""

    def __init__(self, device, n_outputs):
        from audiolab.engine import DeviceSetup

        self.setup = DeviceSetup(output_device=0, input_device=None, name="card", host_api="x",
                                 fs=48000.0, n_outputs=n_outputs, n_inputs=0, block_frames=256,
                                 jack=None)
        self.played: list[tuple[int, float, float]] = []
        self.closed = False

    def tone(self, channel, frequency_hz, level_dbfs):
        self.played.append((channel, frequency_hz, level_dbfs))

    def silence(self):
        self.played.append((-1, 0.0, 0.0))

    def close(self):
        self.closed = True


def test_the_wizard_computes_full_scale_levels_and_flags_a_deviation(tmp_path):
    """reading - level_dbfs is the full-scale level (DESIGN.md, "Signals and units"); the
    verification replays at target - full_scale and flags a reading more than 1 dB off."""
    w = CalibrationWizard(operator="LB", folder=tmp_path, frequencies_hz=(500.0, 1000.0),
                          level_dbfs=-30.0, player_factory=_Recorder)
    w.start_measurement()
    assert w._player.played == [(0, 500.0, -30.0)]
    w.enter("75.5")
    w.enter(77)
    assert w.phase == "measured"
    ch = w.measured.channels[0]
    assert list(ch.full_scale_db_spl) == [105.5, 107.0]
    step = w.start_verification()
    assert step.level_dbfs == pytest.approx(70.0 - 105.5)
    assert step.expected_db_spl == pytest.approx(70.0)
    w.enter(70.4)
    w.enter(71.6)  # 1.6 dB too loud: the set-up changed
    assert w.phase == "done" and not w.verified
    assert w.worst_deviation_db == pytest.approx(1.6)


def test_bad_readings_and_set_ups_are_refused_in_place(tmp_path):
    w = CalibrationWizard(operator="", folder=tmp_path, player_factory=_Recorder)
    with pytest.raises(ValueError, match="operator"):
        w.start_measurement()
    w.operator = "LB"
    w.level_dbfs = -10.0
    with pytest.raises(ValueError, match="-20 dBFS"):
        w.start_measurement()
    w.level_dbfs = -30.0
    w.start_measurement()
    for bad in ("", "loud", "nan", "-3", "250"):
        with pytest.raises(ValueError, match="dB SPL"):
            w.enter(bad)
    assert w.index == 0


def test_a_calibration_file_is_never_overwritten_without_asking(tmp_path):
    w = CalibrationWizard(operator="LB", folder=tmp_path, frequencies_hz=(1000.0,),
                          player_factory=_Recorder)
    w.start_measurement()
    w.enter(77.0)
    first = w.save("lab.toml")
    before = (tmp_path / "lab.toml").read_bytes()
    w.steps[0] = Step(1000.0, -30.0, 80.0)
    w.measured = w._calibration()
    with pytest.raises(ValueError, match="never overwritten without asking"):
        w.save("lab.toml")
    assert (tmp_path / "lab.toml").read_bytes() == before
    second = w.save("lab.toml", overwrite=True)
    assert first.channels[0].full_scale_db_spl[0] == 107.0
    assert second.channels[0].full_scale_db_spl[0] == 110.0
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left nothing behind


def test_default_file_name():
    import datetime as dt

    assert default_file_name("Focusrite Scarlett 2i2 (USB)", "ER-3A/HA-2",
                             dt.date(2026, 12, 7)) == \
        "focusrite-scarlett-2i2-usb-er-3a-ha-2-2026-12-07.toml"


# -- the view, live ----------------------------------------------------------------------------
def _virtual_meter_reading(view) -> float:
    """What a sound level meter on the virtual transducer reads for the tone playing now."""
    player = view.wizard._player
    step = view.wizard.current
    QApplication.processEvents()
    import time

    time.sleep(0.25)
    player.engine.poll()
    rms_db, _ = player.engine.stats.meters(last_s=0.1)
    level_dbfs = float(rms_db[view.wizard.channel]) - UNCALIBRATED_FULL_SCALE_DB_SPL
    assert level_dbfs == pytest.approx(step.level_dbfs, abs=0.05)  # it plays what it says
    return level_dbfs + true_full_scale_db_spl(step.frequency_hz)


def _answer_next_message_box(button):
    def answer():
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            box.button(button).click()
        else:
            QTimer.singleShot(50, answer)

    QTimer.singleShot(50, answer)


@pytest.mark.jack
@pytest.mark.timeout(240)
def test_complete_the_wizard_against_the_dummy_server(qtbot, app_context, tmp_path):
    app_context.settings.operator = "J. Doe"
    view = CalibrationView(app_context)
    qtbot.addWidget(view)
    view.resize(1200, 720)
    view.show()
    assert view.operator_edit.text() == "J. Doe"  # remembered
    view.transducer_combo.setCurrentText("HDA-200")
    view.folder_edit.setText(str(tmp_path))
    view.file_edit.setText("hda200-lab.toml")
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    assert view.wizard.phase == "measure", view.message_label.text()
    assert ENGINES.current().owner == "calibration tones"
    for _ in DEFAULT_CALIBRATION_FREQUENCIES_HZ:
        reading = _virtual_meter_reading(view)
        qtbot.keyClicks(view.reading_edit, f"{reading:.1f}")
        qtbot.keyClick(view.reading_edit, Qt.Key.Key_Return)
    assert view.wizard.phase == "measured"
    qtbot.mouseClick(view.verify_button, Qt.MouseButton.LeftButton)
    for _ in DEFAULT_CALIBRATION_FREQUENCIES_HZ:
        reading = _virtual_meter_reading(view)
        qtbot.keyClicks(view.reading_edit, f"{reading:.1f}")
        qtbot.keyClick(view.reading_edit, Qt.Key.Key_Return)
    assert view.wizard.verified, view.message_label.text()
    assert "verified" in view.message_label.text()
    view.grab().save(str(SHOTS / "calibration_live.png"))
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    path = tmp_path / "hda200-lab.toml"
    cal = load_calibration(path)
    assert cal.transducer == "HDA-200" and cal.operator == "J. Doe"
    assert cal.host_api.startswith("JACK") and cal.channels[0].index == 0
    expected = [true_full_scale_db_spl(f) for f in DEFAULT_CALIBRATION_FREQUENCIES_HZ]
    np.testing.assert_allclose(cal.channels[0].full_scale_db_spl, expected, atol=0.1)
    assert app_context.calibration.sha256 == cal.sha256  # the new one is now current
    assert "hda200-lab.toml" in view.current_label.text()
    assert ENGINES.current() is None  # the tones stopped with the save
    # Saving again asks; "No" keeps the file as it was, "Yes" replaces it.
    before = path.read_bytes()
    _answer_next_message_box(QMessageBox.StandardButton.No)
    assert not view.save()
    assert path.read_bytes() == before and "exists and was kept" in view.message_label.text()
    _answer_next_message_box(QMessageBox.StandardButton.Yes)
    assert view.save()
    assert tomllib.loads(path.read_text())["operator"] == "J. Doe"
