"""Which engine is running: the one place where a view that plays announces its engine.

The A/B/C panel (and any later view that opens a stream) registers its
:class:`~audiolab.engine.Engine` here while it runs; the live monitor shows whichever engine is
registered last. That is all the registry does: it never starts, stops or polls an engine.
Only the GUI thread touches it, so it needs no lock.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ENGINES", "EngineRegistry", "RunningEngine"]


@dataclass
class RunningEngine:
    """A registered engine and what a monitor needs to read it.

    Attributes
    ----------
    engine : Engine
        The running engine (polled by its owner and by monitors, on the GUI thread).
    owner : str
        Who runs it (shown by the monitor), e.g. ``"A/B/C listening"``.
    jack : JackMonitor or None
        The JACK xrun counter of its device, when the host API is JACK.
    xruns_at_start : int
        The JACK xrun count when the engine started (xruns are counted from there).
    """

    engine: Any
    owner: str
    jack: Any = None
    xruns_at_start: int = 0

    def xruns(self) -> int | None:
        """Driver xruns since the engine started (None where the host API is not JACK)."""
        return None if self.jack is None else self.jack.count() - self.xruns_at_start


class EngineRegistry:
    """The running engines, newest last; listeners hear of every change."""

    def __init__(self) -> None:
        self._entries: list[RunningEngine] = []
        self._listeners: list[Callable[[], None]] = []

    def register(self, engine: Any, *, owner: str, jack: Any = None) -> RunningEngine:
        """Announce a running engine (again: it moves to the front)."""
        self._entries = [e for e in self._entries if e.engine is not engine]
        entry = RunningEngine(engine, owner, jack, 0 if jack is None else jack.count())
        self._entries.append(entry)
        self._changed()
        return entry

    def unregister(self, engine: Any) -> None:
        """Forget ``engine`` (it stopped); harmless if it was never registered."""
        before = len(self._entries)
        self._entries = [e for e in self._entries if e.engine is not engine]
        if len(self._entries) != before:
            self._changed()

    def current(self) -> RunningEngine | None:
        """The engine registered last, or None."""
        return self._entries[-1] if self._entries else None

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever an engine is registered or unregistered."""
        self._listeners.append(callback)

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        """Stop calling ``callback``."""
        self._listeners = [c for c in self._listeners if c != callback]  # bound methods: ==

    def _changed(self) -> None:
        for callback in list(self._listeners):
            callback()


#: The application's registry (one per process).
ENGINES = EngineRegistry()
