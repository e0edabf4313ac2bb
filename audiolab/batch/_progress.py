"""The progress bar of a batch: one line on a terminal, a line per tenth of the batch otherwise."""

import time
from typing import IO

from audiolab.batch._job import FileResult

__all__ = ["Progress"]

# Characters in the bar between its brackets.
_BAR_WIDTH = 30


class Progress:
    """A one-line progress bar on a terminal; a line per tenth of the batch otherwise.

    Parameters
    ----------
    total : int
        Number of files the batch will process.
    stream : file-like or None
        Where the bar goes (e.g. ``sys.stderr``); None for no output.
    label : str
        What the bar is of (the command name).
    """

    def __init__(self, total: int, *, stream: IO[str] | None, label: str) -> None:
        self.total = total
        self.stream = stream
        self.label = label
        self.done = 0
        self.failed = 0
        self.t0 = time.monotonic()
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self._last_tenth = 0
        if self.tty and total and stream is not None:  # something to see while the first file runs
            stream.write(self._line())
            stream.flush()

    def update(self, result: FileResult) -> None:
        """Count one more finished file and redraw the bar if it moved."""
        self.done += 1
        self.failed += result.status == "failed"
        if self.stream is None or self.total == 0:
            return
        if self.tty:
            self.stream.write("\r" + self._line())
            if self.done == self.total:
                self.stream.write("\n")
        else:
            tenth = 10 * self.done // self.total
            if tenth > self._last_tenth:
                self._last_tenth = tenth
                self.stream.write(self._line() + "\n")
        self.stream.flush()

    def _line(self) -> str:
        filled = _BAR_WIDTH * self.done // self.total
        bar = "#" * filled + "." * (_BAR_WIDTH - filled)
        fail = f", {self.failed} failed" if self.failed else ""
        if not self.done:
            return f"{self.label} [{bar}] 0/{self.total} files"
        left = (time.monotonic() - self.t0) / self.done * (self.total - self.done)
        return f"{self.label} [{bar}] {self.done}/{self.total} files{fail}, {left:4.0f} s left"
