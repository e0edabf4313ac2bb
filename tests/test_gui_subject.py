"""The subject window, offscreen: keyboard-only answers, and nothing on it depends on the target.

The live runs through it (JACK dummy server) are in test_gui_subject_live.py.
"""

import dataclasses
import re
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from audiolab.experiments import load_experiment, make_procedure
from audiolab.gui import create_application
from audiolab.gui._session_model import Prompt, lit_interval, prompt_of
from audiolab.gui._subject_window import SubjectWindow

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def window(qtbot):
    create_application()
    w = SubjectWindow()
    qtbot.addWidget(w)
    w.show()
    return w


def widget_tree(window: QWidget) -> list[tuple]:
    """Every widget's class, name, text, visibility, enabled state and dynamic properties."""
    rows = []
    for w in [window, *window.findChildren(QWidget)]:
        text = w.text() if hasattr(w, "text") else ""
        # (a property's repr carries its object's address: drop it)
        props = tuple(sorted((bytes(n).decode(),
                              re.sub(r" at 0x[0-9a-f]+", "", str(w.property(bytes(n).decode()))))
                             for n in w.dynamicPropertyNames()))
        rows.append((type(w).__name__, w.objectName(), text, w.isVisible(), w.isEnabled(),
                     w.toolTip(), w.accessibleName(), w.styleSheet(), props))
    return rows


def test_keyboard_only_ready_then_intervals(qtbot, window):
    answers, readies = [], []
    window.answered.connect(answers.append)
    window.ready_pressed.connect(lambda: readies.append(True))
    qtbot.keyClick(window, Qt.Key.Key_Space)  # "please wait": nobody asked yet
    window.show_ready()
    qtbot.keyClick(window, Qt.Key.Key_2)  # no trial: no answer
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.keyClick(window, Qt.Key.Key_Space)  # once per ready screen
    assert readies == [True] and answers == []
    window.show_prompt(Prompt(index=0, response="afc", n_intervals=3))
    assert [b.isVisible() for b in window.interval_buttons] == [True, True, True, False]
    assert not window.yes_button.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_4)  # only 3 intervals
    qtbot.keyClick(window, Qt.Key.Key_Space)  # space is never an answer
    qtbot.keyClick(window, Qt.Key.Key_2)
    qtbot.keyClick(window, Qt.Key.Key_1)  # one answer per trial
    assert answers == [2] and readies == [True]
    assert not any(b.isEnabled() for b in window.interval_buttons)
    window.show_prompt(Prompt(index=1, response="yes_no", n_intervals=1))
    assert window.yes_button.isVisible() and not window.interval_buttons[0].isVisible()
    qtbot.keyClick(window, Qt.Key.Key_1)
    qtbot.keyClick(window, Qt.Key.Key_N)
    window.show_prompt(Prompt(index=2, response="yes_no", n_intervals=1))
    qtbot.keyClick(window, Qt.Key.Key_Y)
    assert answers == [2, False, True]
    # the buttons never take the keyboard focus (space must not click one)
    assert all(b.focusPolicy() == Qt.FocusPolicy.NoFocus
               for b in (*window.interval_buttons, window.yes_button, window.no_button))


def test_the_mouse_answers_too_and_words_take_no_key(qtbot, window):
    answers = []
    window.answered.connect(answers.append)
    window.show_prompt(Prompt(index=0, response="afc", n_intervals=2))
    qtbot.mouseClick(window.interval_buttons[1], Qt.MouseButton.LeftButton)
    window.show_prompt(Prompt(index=1, response="words", n_intervals=1))
    assert window.pages.currentIndex() == 2
    qtbot.keyClick(window, Qt.Key.Key_3)
    assert answers == [2]


def test_feedback_and_full_screen(qtbot, window):
    window.show_prompt(Prompt(index=0, response="afc", n_intervals=2))
    window.show_feedback(True)
    assert window.feedback_label.text() == "Correct"
    window.show_prompt(Prompt(index=1, response="afc", n_intervals=2))
    assert window.feedback_label.text() == ""
    window.show_feedback(None)  # no feedback where correctness has no meaning
    assert window.feedback_label.text() == ""
    qtbot.keyClick(window, Qt.Key.Key_F11)
    assert window.windowState() & Qt.WindowState.WindowFullScreen
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not window.windowState() & Qt.WindowState.WindowFullScreen


@pytest.mark.parametrize("name", ["tone_in_noise_3afc", "am_detection_weighted"])
def test_nothing_on_the_window_depends_on_the_target_interval(qtbot, window, name):
    exp = load_experiment(ROOT / "experiments" / f"{name}.toml")
    assert {f.name for f in dataclasses.fields(Prompt)} == {"index", "response", "n_intervals"}
    n = exp.procedure.task.n_intervals
    trees: dict[tuple, set[int]] = {}
    lit_trees: dict[tuple, set[int]] = {}
    for seed in range(8):  # the first trials of eight sessions: every target interval occurs
        proc = make_procedure(exp.procedure, seed=seed)
        for k in range(4):
            trial = proc.next_trial()
            window.show_prompt(prompt_of(trial))
            trees.setdefault(tuple(widget_tree(window)), set()).add(trial.target_interval)
            window.set_lit(1)  # the first interval plays, whichever holds the signal
            lit_trees.setdefault(tuple(widget_tree(window)), set()).add(trial.target_interval)
            proc.record(trial.target_interval if k % 2 else trial.target_interval % n + 1)
    # one widget tree for every trial, and the trials had every target interval
    assert list(trees.values()) == [set(range(1, n + 1))]
    assert list(lit_trees.values()) == [set(range(1, n + 1))]


def test_interval_lights_follow_the_stream_frames():
    onsets, offsets = (1000, 3000, 5000), (2000, 4000, 6000)
    frames = [None, 999, 1000, 1999, 2000, 3000, 5999, 6000]
    assert [lit_interval(f, onsets, offsets) for f in frames] == \
        [None, None, 1, 1, None, 2, 3, None]
