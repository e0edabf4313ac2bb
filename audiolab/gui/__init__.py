"""audiolab.gui: the Qt application (PySide6 + pyqtgraph).

The only package that imports Qt. Views bind to plain Python models (the application context,
fittings, sessions, engine stats) and hold no audio or procedure logic: every action a button
does is a function the tests call too. The GUI never runs in the audio path; views poll the
engine's stats and ring buffers from a ``QTimer`` and update plot items created once. A view
that runs an engine announces it in ``audiolab.gui._engine_registry.ENGINES``, where the live
monitor finds it.

May import: every other ``audiolab`` layer except ``audiolab.cli``.
"""

from audiolab.gui._app import MainWindow, View, create_application, run_gui, save_screenshots
from audiolab.gui._context import AppContext, AppSettings
from audiolab.gui._tasks import Task, run_task

__all__ = [
    "AppContext",
    "AppSettings",
    "MainWindow",
    "Task",
    "View",
    "create_application",
    "run_gui",
    "run_task",
    "save_screenshots",
]
