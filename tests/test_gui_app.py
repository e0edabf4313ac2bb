"""The application shell: main window, toolbar, status bar, settings, File > Open, tasks."""

import json
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel

from audiolab.gui import AppContext, AppSettings, MainWindow, View, run_task
from audiolab.gui._app import VIEW_CLASSES

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CAL = ROOT / "calibration" / "example.toml"


class _TextView(View):
    """A view that takes .txt files (stands for any view in the shell's tests)."""

    title = "Text"
    file_filter = "Text (*.txt)"

    def __init__(self, context, parent=None):
        super().__init__(context, parent)
        self.label = QLabel("nothing open", self)
        self.shut_down = False

    def fill_example(self):
        self.label.setText("example")

    def open_file(self, path):
        if path.suffix != ".txt":
            return False
        self.label.setText(path.read_text())
        return True

    def shutdown(self):
        self.shut_down = True


def test_settings_round_trip_owner_only(tmp_path):
    path = tmp_path / "cfg" / "gui.json"
    AppSettings(device="jack", operator="LB", current_view=2).save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    back = AppSettings.load(path)
    assert (back.device, back.operator, back.current_view) == ("jack", "LB", 2)


def test_settings_from_another_version_or_broken_file_fall_back(tmp_path):
    path = tmp_path / "gui.json"
    path.write_text(json.dumps({"device": "x", "unknown_key": 1}))
    assert AppSettings.load(path).device == "x"
    path.write_text("{not json")
    assert AppSettings.load(path) == AppSettings()


def test_calibration_is_chosen_described_and_remembered(app_context, tmp_path):
    seen = []
    app_context.subscribe(seen.append)
    cal = app_context.set_calibration(EXAMPLE_CAL)
    assert seen == ["calibration"]
    assert f"ceiling {cal.ceiling_db_spl:.0f} dB SPL" in app_context.describe_calibration()
    app_context.save_settings()
    again = AppContext()
    assert again.calibration is not None and again.calibration.sha256 == cal.sha256


def test_a_broken_remembered_calibration_does_not_stop_the_application(app_context, tmp_path):
    bad = tmp_path / "cal.toml"
    shutil.copy(EXAMPLE_CAL, bad)
    app_context.set_calibration(bad)
    app_context.save_settings()
    bad.write_text("ceiling_db_spl = 'loud'\n")
    again = AppContext()
    assert again.calibration is None
    assert "remembered calibration not loaded" in again.describe_calibration()


def test_main_window_status_bar_files_and_shortcuts(qtbot, app_context, tmp_path):
    window = MainWindow(app_context, views=[_TextView])
    qtbot.addWidget(window)
    view = window.views[0]
    assert "no calibration" in window.calibration_label.text()
    assert window.open_path(EXAMPLE_CAL)
    assert "example.toml" in window.calibration_label.text()
    note = tmp_path / "a.txt"
    note.write_text("hello")
    assert window.open_path(note) and view.label.text() == "hello"
    # A file no view takes is refused with a message, and nothing changes.
    assert not window.open_path(tmp_path / "x.wav")
    assert view.label.text() == "hello"
    window.close()
    assert view.shut_down
    assert json.loads((tmp_path / "config" / "audiolab" / "gui.json").read_text())[
        "calibration_path"].endswith("example.toml")


def test_a_bad_calibration_file_is_refused_and_the_old_one_kept(qtbot, app_context, tmp_path):
    window = MainWindow(app_context, views=[_TextView])
    qtbot.addWidget(window)
    window.load_calibration(EXAMPLE_CAL)
    bad = tmp_path / "bad.toml"
    bad.write_text("device = 3\n")
    assert not window.load_calibration(bad)
    assert app_context.calibration.source.endswith("example.toml")


def test_task_reports_progress_result_and_cancellation(qtbot):
    progress = []

    def work(report):
        for i in range(5):
            report(i / 4, f"step {i}")
        return 42

    gui_thread = threading.get_ident()
    threads = set()
    task = run_task(work)
    task.progress.connect(lambda f, _t: (progress.append(f), threads.add(threading.get_ident())))
    with qtbot.waitSignal(task.done, timeout=5000) as blocker:
        pass
    assert blocker.args == [42]
    assert progress == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert threads == {gui_thread}, "progress must be delivered on the GUI thread"

    release = threading.Event()

    def endless(report):
        while True:
            release.wait(0.01)
            report(0.5, "working")

    task = run_task(endless)
    with qtbot.waitSignal(task.cancelled, timeout=5000):
        task.cancel()
    assert task.is_finished


def test_task_failure_is_one_line_naming_what_to_fix(qtbot):
    from audiolab._errors import ConfigError

    def bad(report):
        raise ConfigError("attack_ms must be in (0, 500], got -3.0")

    task = run_task(bad)
    with qtbot.waitSignal(task.failed, timeout=5000) as blocker:
        pass
    assert blocker.args == ["attack_ms must be in (0, 500], got -3.0"]


@pytest.mark.slow
def test_gui_screenshot_command_writes_one_png_per_view(tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "QT_QPA_PLATFORM": "offscreen",
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "audiolab", "gui", "--screenshot",
                          str(tmp_path / "shots")], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    names = sorted(p.name for p in (tmp_path / "shots").glob("*.png"))
    assert len(names) == len(VIEW_CLASSES) + 1  # + the runner's subject window
    assert "subject_window.png" in names
    assert "window opened in" in out.stdout
