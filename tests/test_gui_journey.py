"""Issue 12, "done when": a new user, from the main window alone, calibrates a headphone (the JACK
dummy server and a virtual sound level meter), fits N3, switches A/B/C while listening, and
exports the fitting that `audiolab process` then runs.

Run with ``bash tests/with_jack.sh .venv/bin/python -m pytest tests/test_gui_journey.py``.
"""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt
from test_gui_calibration import _virtual_meter_reading

from audiolab.audiology import STANDARD_AUDIOGRAMS
from audiolab.calibration import DEFAULT_CALIBRATION_FREQUENCIES_HZ, load_calibration
from audiolab.gui import MainWindow, create_application

pytestmark = [pytest.mark.jack, pytest.mark.slow, pytest.mark.timeout(300)]


def test_calibrate_fit_listen_and_export_from_the_main_window(qtbot, app_context, tmp_path):
    create_application()
    window = MainWindow(app_context)
    qtbot.addWidget(window)
    window.show()
    titles = [v.title for v in window.views]
    assert titles == ["Fitting", "Calibration", "Monitor", "Runner", "Results"]
    fitting, calibration = window.views[0], window.views[1]

    # 1. calibrate: the wizard, readings from the virtual meter, saved and made current
    window.tabs.setCurrentWidget(calibration)
    calibration.operator_edit.setText("New User")
    calibration.folder_edit.setText(str(tmp_path))
    calibration.file_edit.setText("headphone.toml")
    qtbot.mouseClick(calibration.start_button, Qt.MouseButton.LeftButton)
    for _pass in ("measure", "verify"):
        for _ in DEFAULT_CALIBRATION_FREQUENCIES_HZ:
            qtbot.keyClicks(calibration.reading_edit, f"{_virtual_meter_reading(calibration):.1f}")
            qtbot.keyClick(calibration.reading_edit, Qt.Key.Key_Return)
        if _pass == "measure":
            qtbot.mouseClick(calibration.verify_button, Qt.MouseButton.LeftButton)
    assert calibration.wizard.verified, calibration.message_label.text()
    qtbot.mouseClick(calibration.save_button, Qt.MouseButton.LeftButton)
    cal = load_calibration(tmp_path / "headphone.toml")
    assert app_context.calibration.sha256 == cal.sha256
    assert "headphone.toml" in window.calibration_label.text()  # shown in the status bar

    # 2. fit N3 with NAL-R
    window.tabs.setCurrentWidget(fitting)
    fitting.editor.use_preset("N3")
    fitting.set_rule("nal-r")
    qtbot.waitUntil(lambda: not fitting.busy, timeout=60_000)
    qtbot.waitUntil(lambda: fitting.abc_panel.fitting is fitting.model.fitting, timeout=30_000)
    assert fitting.model.audiogram == STANDARD_AUDIOGRAMS["N3"]

    # 3. listen: A/B/C on the dummy server, switched by keys while it plays
    panel = fitting.abc_panel
    panel.level_spin.setValue(55.0)
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.model is not None and panel.model.running, timeout=20_000)
    for key in "231231":
        qtbot.keyClick(panel, key)
        assert panel.model.condition == int(key) - 1
        qtbot.wait(100)
    panel.refresh()
    figures, model = panel.figures, panel.model
    panel.stop()
    assert model.switches == 6
    assert figures.callbacks > 0 and figures.stage_errors == 0
    assert (figures.lost_callbacks, figures.overruns) == (0, 0) or figures.xruns > 0

    # 4. export the fitting; `audiolab process` runs it
    chain = tmp_path / "n3.toml"
    assert fitting.export_chain(chain)
    fs = 16000
    wav = tmp_path / "in.wav"
    x = 0.05 * np.random.default_rng(3).standard_normal(fs // 2)
    sf.write(str(wav), x.astype(np.float32), fs, subtype="FLOAT")
    done = subprocess.run([sys.executable, "-m", "audiolab", "process", str(wav), "--chain",
                           str(chain), "--out", str(tmp_path / "out"), "--jobs", "1"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    y, _ = sf.read(str(tmp_path / "out" / "in.wav"), always_2d=True)
    assert y.shape == (x.size, 2) and np.isfinite(y).all()
    window.close()
