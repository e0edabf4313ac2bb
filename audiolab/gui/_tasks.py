"""Long work off the GUI thread, with progress and cancellation.

Designing a chain or rendering a report can take seconds; the window must keep repainting and the
engine's meters keep moving meanwhile. :func:`run_task` runs a function on a worker thread and
reports back through Qt signals, which Qt delivers on the GUI thread.
"""

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from audiolab._errors import AudiolabError

__all__ = ["Task", "TaskCancelled", "run_task"]


class TaskCancelled(Exception):
    """Raised inside a task's function by ``report`` once the task was cancelled."""


Report = Callable[[float, str], None]


class Task(QObject):
    """One piece of work on a worker thread.

    Signals
    -------
    progress(fraction, text)
        From the function's ``report`` calls; fraction in [0, 1].
    done(result)
        The function returned ``result``.
    failed(message)
        The function raised; ``message`` is one line naming what to fix (an audiolab error's
        own message; for anything else, the exception type and message, which is a bug).
    cancelled()
        The task was cancelled and the function stopped at its next ``report``.
    """

    progress = Signal(float, str)
    done = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, fn: Callable[[Report], Any], *, name: str = "task") -> None:
        super().__init__()
        self._fn = fn
        self.name = name
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"audiolab-{name}", daemon=True)

    def start(self) -> "Task":
        """Start the worker thread."""
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the function to stop at its next progress report."""
        self._cancel.set()

    @property
    def is_cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._cancel.is_set()

    @property
    def is_finished(self) -> bool:
        """True once the function returned, raised or stopped."""
        return self._finished.is_set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the worker finished (for tests and shutdown); True if it did."""
        return self._finished.wait(timeout_s)

    def _report(self, fraction: float, text: str = "") -> None:
        if self._cancel.is_set():
            raise TaskCancelled
        self.progress.emit(float(min(max(fraction, 0.0), 1.0)), text)

    def _main(self) -> None:
        try:
            result = self._fn(self._report)
        except TaskCancelled:
            self._finished.set()
            self.cancelled.emit()
        except AudiolabError as exc:
            self._finished.set()
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a silent death
            self._finished.set()
            self.failed.emit(f"internal error ({type(exc).__name__}: {exc}); please report it")
        else:
            self._finished.set()
            self.done.emit(result)


def run_task(fn: Callable[[Report], Any], *, name: str = "task") -> Task:
    """Run ``fn(report)`` on a worker thread; connect to the returned task's signals.

    ``fn`` calls ``report(fraction, text)`` now and then; after :meth:`Task.cancel` that call
    raises and the task ends with ``cancelled``. The worker starts when the GUI thread next
    returns to its event loop, so connections made right after this call see every signal.
    """
    task = Task(fn, name=name)
    QTimer.singleShot(0, task.start)
    return task
