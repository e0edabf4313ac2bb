"""The subject window: what the listener sees on the second screen, and nothing more.

Large buttons for the answer (1..n for n-AFC, yes/no), interval lights while the stimulus plays,
optional feedback after an answer, and a ready screen between blocks. Everything works from the
keyboard: 1..n, y/n, space (ready), F11 (full screen), Esc (leave full screen).

The window is told a :class:`~audiolab.gui._session_model.Prompt` (trial number, kind of answer,
number of intervals), never the trial itself, so no widget can depend on the target interval.
It reports answers through :attr:`SubjectWindow.answered`; the runner stamps each with the
engine's stream frame, not with the widget event's time.
"""

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from audiolab.gui._session_model import READY_TEXT, Prompt

__all__ = ["MAX_INTERVALS", "SubjectWindow"]

MAX_INTERVALS = 4
_STYLE = """
QWidget#subject-window { background: #20242a; }
QLabel { color: #f0f0f0; }
QLabel#subject-message { font-size: 34px; }
QLabel#subject-feedback { font-size: 30px; min-height: 44px; }
QPushButton { font-size: 40px; min-width: 190px; min-height: 150px; border-radius: 16px;
              background: #3b4450; color: #ffffff; border: 3px solid #59626e; }
QPushButton:disabled { background: #2c3138; color: #7d848c; border-color: #3b4047; }
QFrame[role="light"] { min-width: 190px; min-height: 34px; border-radius: 17px;
                       background: #363b42; border: 2px solid #4a5058; }
QFrame[role="light"][lit="true"] { background: #ffd24a; border-color: #fff0b0; }
"""


class SubjectWindow(QWidget):
    """The listener's top-level window (module docstring).

    Signals
    -------
    answered(response)
        An interval number (int), True/False for yes/no.
    ready_pressed()
        Space on the ready screen (once per :meth:`show_ready`).
    """

    answered = Signal(object)
    ready_pressed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("subject-window")
        self.setWindowTitle("audiolab: listener")
        self.setStyleSheet(_STYLE)
        self.resize(1000, 620)
        self.prompt: Prompt | None = None
        self._accepting = False
        self.pages = QStackedWidget(self)
        self.ready_label = self._message("")
        self.pages.addWidget(self._page(self.ready_label))
        self.pages.addWidget(self._trial_page())
        self.words_label = self._message("Listen, then repeat the sentence aloud.")
        self.pages.addWidget(self._page(self.words_label))
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        for key in ("F11",):
            QShortcut(QKeySequence(key), self, self.toggle_full_screen)
        QShortcut(QKeySequence("Esc"), self, self.showNormal)
        self.awaiting_ready = False
        self.show_message("Please wait.")

    # -- construction
    def _message(self, text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("subject-message")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(True)
        return label

    def _page(self, *widgets: QWidget) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.addStretch(1)
        for w in widgets:
            box.addWidget(w)
        box.addStretch(1)
        return page

    def _trial_page(self) -> QWidget:
        self.trial_label = self._message("")
        self.lights: list[QFrame] = []
        self.interval_buttons: list[QPushButton] = []
        lights_row, buttons_row = QHBoxLayout(), QHBoxLayout()
        for k in range(1, MAX_INTERVALS + 1):
            light = QFrame()
            light.setProperty("role", "light")
            light.setProperty("lit", False)
            light.setObjectName(f"light-{k}")
            self.lights.append(light)
            lights_row.addWidget(light)
            button = QPushButton(str(k))
            button.setObjectName(f"interval-{k}")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # space is "ready", never a click
            button.clicked.connect(lambda _=False, r=k: self._answer(r))
            self.interval_buttons.append(button)
            buttons_row.addWidget(button)
        self.yes_button = QPushButton("Yes  (y)")
        self.no_button = QPushButton("No  (n)")
        for name, button, value in (("yes", self.yes_button, True),
                                    ("no", self.no_button, False)):
            button.setObjectName(name)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _=False, r=value: self._answer(r))
            buttons_row.addWidget(button)
        self.feedback_label = QLabel("")
        self.feedback_label.setObjectName("subject-feedback")
        self.feedback_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        page = QWidget()
        box = QVBoxLayout(page)
        box.addStretch(1)
        box.addWidget(self.trial_label)
        box.addSpacing(24)
        box.addLayout(lights_row)
        box.addSpacing(12)
        box.addLayout(buttons_row)
        box.addSpacing(16)
        box.addWidget(self.feedback_label)
        box.addStretch(1)
        return page

    # -- what the runner shows
    def show_message(self, text: str) -> None:
        """A message and nothing to answer (before a session, a break, the end)."""
        self.prompt = None
        self._accepting = False
        self.awaiting_ready = False
        self.ready_label.setText(text)
        self.pages.setCurrentIndex(0)

    def show_ready(self, text: str = "") -> None:
        """The ready screen (start, after a pause, between blocks): space goes on."""
        self.show_message(text or READY_TEXT)
        self.awaiting_ready = True

    def show_waiting(self) -> None:
        """Between the ready screen and the first sound."""
        self.show_message("Listen…")

    def show_prompt(self, prompt: Prompt) -> None:
        """A trial is playing: show its answer buttons and dark lights."""
        self.prompt = prompt
        self.feedback_label.setText("")
        self.set_lit(None)
        if prompt.response == "words":
            self._accepting = False
            self.pages.setCurrentIndex(2)
            return
        afc = prompt.response == "afc"
        for k, (light, button) in enumerate(zip(self.lights, self.interval_buttons,
                                                strict=True), start=1):
            light.setVisible(afc and k <= prompt.n_intervals)
            button.setVisible(afc and k <= prompt.n_intervals)
            button.setEnabled(True)
        self.lights[0].setVisible(True)  # yes/no: one light for the one interval
        for button in (self.yes_button, self.no_button):
            button.setVisible(not afc)
            button.setEnabled(True)
        self.trial_label.setText("Which interval had the sound?" if afc
                                 else "Did you hear the sound?")
        self._accepting = True
        self.pages.setCurrentIndex(1)

    def set_lit(self, interval: int | None) -> None:
        """Light interval ``interval`` (1..n), or none."""
        for k, light in enumerate(self.lights, start=1):
            lit = interval == k
            if light.property("lit") != lit:
                light.setProperty("lit", lit)
                light.style().unpolish(light)
                light.style().polish(light)

    def show_feedback(self, correct: bool | None) -> None:
        """After the answer: correct or wrong (only when the experimenter turned it on)."""
        if correct is None:
            return
        self.feedback_label.setText("Correct" if correct else "Wrong")

    def toggle_full_screen(self) -> None:
        """Full screen on the window's screen, or back."""
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()

    # -- answers
    def accept_again(self) -> None:
        """Take answers again (one came too early: during the sound, where the file forbids)."""
        self._accepting = True
        for button in (*self.interval_buttons, self.yes_button, self.no_button):
            button.setEnabled(True)

    def _answer(self, response: Any) -> None:
        if not self._accepting:
            return
        self._accepting = False
        for button in (*self.interval_buttons, self.yes_button, self.no_button):
            button.setEnabled(False)
        self.answered.emit(response)

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        """1..n, y/n, space."""
        key = event.key()
        prompt = self.prompt
        if key == Qt.Key.Key_Space and self.awaiting_ready:
            self.awaiting_ready = False
            self.ready_pressed.emit()
            return
        if prompt is not None and prompt.response == "afc":
            k = key - Qt.Key.Key_0
            if 1 <= k <= prompt.n_intervals:
                self._answer(int(k))
                return
        if prompt is not None and prompt.response == "yes_no":
            if key == Qt.Key.Key_Y:
                self._answer(True)
                return
            if key == Qt.Key.Key_N:
                self._answer(False)
                return
        super().keyPressEvent(event)
