"""The main window: one tab per view, the device and calibration toolbar, the status bar.

Views are ``QWidget`` subclasses following :class:`View`; :data:`VIEW_CLASSES` names them in tab
order. The window owns the :class:`~audiolab.gui.AppContext` and hands it to every view.
"""

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QToolBar,
    QWidget,
)

from audiolab._errors import AudiolabError
from audiolab.gui._context import AppContext

__all__ = ["VIEW_CLASSES", "MainWindow", "View", "create_application", "run_gui",
           "save_screenshots"]


class View(QWidget):
    """Base of the main window's views.

    A view gets the shared :class:`~audiolab.gui.AppContext` and overrides what applies:

    - ``title``: the tab's name; ``shortcut``: the key that shows it (``"Ctrl+1"``...);
    - :meth:`fill_example`: load the example shown by ``audiolab gui --screenshot`` (N3, NAL-R);
    - :meth:`open_file`: take a file from ``File > Open`` if it is the view's kind;
    - :meth:`shutdown`: stop timers, tasks and streams before the window closes;
    - ``extra_screenshots()`` (optional): ``{name: widget}`` of further windows that
      :func:`save_screenshots` writes as ``DIR/<name>.png``.
    """

    title = "view"
    #: File-dialog filter of the files :meth:`open_file` takes ("" for none).
    file_filter = ""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context

    def fill_example(self) -> None:
        """Show the standard example (used for screenshots)."""

    def open_file(self, path: Path) -> bool:
        """Open ``path`` if this view handles its kind; True when it did."""
        return False

    def shutdown(self) -> None:
        """Release timers, workers and audio streams."""


def _view_classes() -> list[type[View]]:
    """The views in tab order (imported here so that each view module stays independent)."""
    classes: list[type[View]] = []
    for module_name, class_name in VIEW_CLASSES:
        module = __import__(f"audiolab.gui.{module_name}", fromlist=[class_name])
        classes.append(getattr(module, class_name))
    return classes


#: (module in audiolab.gui, class) of each view, in tab order.
VIEW_CLASSES: tuple[tuple[str, str], ...] = (
    ("_fitting_view", "FittingView"),
    ("_calibration_view", "CalibrationView"),
    ("_monitor_view", "MonitorView"),
    ("_runner_view", "RunnerView"),
    ("_results_view", "ResultsView"),
)


def show_error(parent: QWidget, message: str, *, title: str = "audiolab") -> QMessageBox:
    """Show ``message`` in a window-modal box that does not block the event loop."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok,
                      parent)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.open()
    return box


class MainWindow(QMainWindow):
    """The audiolab application window.

    Parameters
    ----------
    context : AppContext
        Device, calibration and settings shared by the views.
    views : sequence of View subclasses, optional
        The tabs (default: :data:`VIEW_CLASSES`).
    """

    def __init__(self, context: AppContext, *,
                 views: Sequence[type[View]] | None = None) -> None:
        super().__init__()
        self.context = context
        self.setWindowTitle("audiolab")
        self.resize(1280, 820)
        self.tabs = QTabWidget(self)
        self.setCentralWidget(self.tabs)
        self.views: list[View] = []
        self.view_actions: list[QAction] = []
        for cls in (views if views is not None else _view_classes()):
            self.add_view(cls(context, self))
        self._build_toolbar()
        self._build_menu()
        self._build_status_bar()
        context.subscribe(self._context_changed)
        self.tabs.setCurrentIndex(min(context.settings.current_view, max(len(self.views) - 1, 0)))

    # -- construction ----------------------------------------------------------------------------
    def add_view(self, view: View) -> None:
        """Add a tab (with its Ctrl+N shortcut)."""
        self.views.append(view)
        index = self.tabs.addTab(view, view.title)
        # One action per view, shared by the window and the View menu: two actions with the
        # same shortcut would make Qt call it ambiguous and run neither.
        action = QAction(view.title, self)
        if index < 9:
            action.setShortcut(QKeySequence(f"Ctrl+{index + 1}"))
        action.triggered.connect(lambda _=False, i=index: self.tabs.setCurrentIndex(i))
        self.addAction(action)
        self.view_actions.append(action)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Setup", self)
        bar.setObjectName("setup-toolbar")
        bar.setMovable(False)
        self.addToolBar(bar)
        bar.addWidget(QLabel(" Device "))
        self.device_combo = QComboBox(bar)
        self.device_combo.setObjectName("device-combo")
        self.device_combo.setMinimumWidth(260)
        self.device_combo.setToolTip("Audio output device (PortAudio); remembered between runs")
        bar.addWidget(self.device_combo)
        self.refresh_devices()
        self.device_combo.currentIndexChanged.connect(self._device_chosen)
        bar.addSeparator()
        self.calibration_action = QAction("Calibration…", self)
        self.calibration_action.setToolTip("Choose the calibration file of this setup (Ctrl+L)")
        self.calibration_action.setShortcut(QKeySequence("Ctrl+L"))
        self.calibration_action.triggered.connect(self.choose_calibration)
        bar.addAction(self.calibration_action)

    def _build_menu(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open…", self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self.choose_file_to_open)
        file_menu.addAction(open_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        view_menu = self.menuBar().addMenu("&View")
        for action in self.view_actions:
            view_menu.addAction(action)

    def _build_status_bar(self) -> None:
        self.device_label = QLabel(self)
        self.calibration_label = QLabel(self)
        self.statusBar().addPermanentWidget(self.device_label)
        self.statusBar().addPermanentWidget(self.calibration_label)
        self._update_status()

    # -- device and calibration ----------------------------------------------------------------
    def refresh_devices(self) -> None:
        """List the output devices PortAudio sees (a message in the list if there are none)."""
        from audiolab.engine import list_devices

        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        self.device_combo.addItem("default output", None)
        try:
            devices = [d for d in list_devices() if d["max_output_channels"] > 0]
        except (AudiolabError, OSError) as exc:
            devices = []
            self.statusBar().showMessage(f"no audio devices: {exc}", 10000)
        for d in devices:
            self.device_combo.addItem(f"{d['name']} ({d['host_api']})", d["name"])
        wanted = self.context.device
        index = self.device_combo.findData(wanted) if wanted else 0
        self.device_combo.setCurrentIndex(max(index, 0))
        self.device_combo.blockSignals(False)

    def _device_chosen(self, index: int) -> None:
        self.context.set_device(self.device_combo.itemData(index))

    def choose_calibration(self) -> None:
        """Ask for a calibration file and load it."""
        start = self.context.settings.last_directory or str(Path.cwd() / "calibration")
        path, _ = QFileDialog.getOpenFileName(self, "Calibration file", start,
                                              "Calibration (*.toml)")
        if path:
            self.load_calibration(Path(path))

    def load_calibration(self, path: Path) -> bool:
        """Load the calibration at ``path``; on error keep the current one and say why."""
        try:
            self.context.set_calibration(path)
        except (AudiolabError, OSError) as exc:
            show_error(self, str(exc), title="Calibration not loaded")
            return False
        self.context.settings.last_directory = str(Path(path).parent)
        return True

    def _context_changed(self, what: str) -> None:
        self._update_status()

    def _update_status(self) -> None:
        self.device_label.setText(self.context.describe_device())
        self.calibration_label.setText(self.context.describe_calibration())

    # -- files -----------------------------------------------------------------------------------
    def choose_file_to_open(self) -> None:
        """``File > Open``: audiograms, fittings, calibrations, experiments."""
        filters = [v.file_filter for v in self.views if v.file_filter]
        filters.append("Calibration (*.toml)")
        filters.append("All files (*)")
        path, _ = QFileDialog.getOpenFileName(self, "Open", self.context.settings.last_directory,
                                              ";;".join(filters))
        if path:
            self.open_path(Path(path))

    def open_path(self, path: Path) -> bool:
        """Hand ``path`` to the first view that takes it (a calibration otherwise for TOML)."""
        self.context.settings.last_directory = str(path.parent)
        try:
            for i, view in enumerate(self.views):
                if view.open_file(path):
                    self.tabs.setCurrentIndex(i)
                    return True
        except (AudiolabError, OSError) as exc:
            show_error(self, f"{path.name}: {exc}", title="File not opened")
            return False
        if path.suffix.lower() == ".toml":
            return self.load_calibration(path)
        show_error(self, f"{path.name}: not an audiogram, fitting, calibration or experiment file "
                         "audiolab knows", title="File not opened")
        return False

    # -- closing ---------------------------------------------------------------------------------
    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        """Stop every view's work and remember the settings."""
        for view in self.views:
            view.shutdown()
        self.context.settings.current_view = self.tabs.currentIndex()
        try:
            self.context.save_settings()
        except OSError as exc:  # a read-only home must not stop the window from closing
            print(f"audiolab: settings not saved: {exc}")
        super().closeEvent(event)


def create_application(argv: Sequence[str] = ()) -> QApplication:
    """The QApplication (created once; pyqtgraph configured for light, antialiased plots)."""
    import pyqtgraph as pg

    app = QApplication.instance()
    if app is None:
        app = QApplication(["audiolab", *argv])
    app.setApplicationName("audiolab")
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    assert isinstance(app, QApplication)
    return app


def save_screenshots(window: MainWindow, directory: Path) -> list[Path]:
    """Fill each view with its example and write ``DIR/<view>.png``; returns the files."""
    directory.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance()
    assert app is not None
    written = []
    window.show()
    for i, view in enumerate(window.views):
        window.tabs.setCurrentIndex(i)
        view.fill_example()
        # Let queued updates and background results land before grabbing.
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            app.processEvents()
            if not getattr(view, "busy", False):
                break
            time.sleep(0.02)
        app.processEvents()
        name = view.title.lower().replace(" ", "_").replace("/", "_")
        path = directory / f"{name}.png"
        window.grab().save(str(path))
        written.append(path)
        # A view may add windows of its own (e.g. the runner's subject window).
        extra = getattr(view, "extra_screenshots", None)
        for extra_name, widget in (extra() if extra is not None else {}).items():
            app.processEvents()
            extra_path = directory / f"{extra_name}.png"
            widget.grab().save(str(extra_path))
            written.append(extra_path)
    return written


def run_gui(*, device: str | None = None, calibration: str | None = None,
            screenshot_dir: str | None = None) -> int:
    """Open the main window (the ``audiolab gui`` command); returns the exit status.

    With ``screenshot_dir`` the window is filled with the examples, each view written as a PNG,
    and the application quits without waiting for the user.
    """
    if screenshot_dir is not None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    t0 = time.perf_counter()
    app = create_application()
    context = AppContext()
    if device is not None:
        context.set_device(device)
    if calibration is not None:
        context.set_calibration(calibration)
    window = MainWindow(context)
    window.show()
    app.processEvents()
    opened_s = time.perf_counter() - t0
    if screenshot_dir is not None:
        files = save_screenshots(window, Path(screenshot_dir))
        print(f"window opened in {opened_s:.2f} s")
        for f in files:
            print(f"wrote {f}")
        window.close()
        return 0
    QTimer.singleShot(0, lambda: window.statusBar().showMessage(
        f"ready (opened in {opened_s:.2f} s)", 5000))
    return int(app.exec())
