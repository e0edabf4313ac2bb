"""A person at the subject window, against the JACK dummy server: 2-AFC answered by key presses
(one during the sound), and the matrix test scored by the experimenter on the word matrix.

Run with ``bash tests/with_jack.sh .venv/bin/python -m pytest tests/test_gui_subject_live.py``.
"""

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from test_gui_subject import widget_tree

from audiolab.gui import create_application
from audiolab.gui._runner_view import RunnerView
from audiolab.gui._session_model import READY_TEXT, Presenting
from audiolab.store import ResultsStore

pytestmark = [pytest.mark.jack, pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[1]
FS = 48000  # the dummy server's rate (tests/with_jack.sh)


@pytest.fixture
def runner(qtbot, app_context, tmp_path, monkeypatch):
    create_application()
    app_context.set_calibration(ROOT / "calibration" / "example.toml")
    view = RunnerView(app_context)
    qtbot.addWidget(view)
    view.show()
    view.db_edit.setText(str(tmp_path / "results.sqlite"))
    view.subject_edit.setText("P01")
    view.listener_combo.setCurrentIndex(0)  # a person
    yield view
    view.shutdown()
    view.deleteLater()
    qtbot.wait(1)


def _short(tmp_path, name, replace):
    text = (ROOT / "experiments" / f"{name}.toml").read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def _presenting(qtbot, view, index):
    def shown():
        assert view.last_finished is None, view.last_finished.message
        return view.presenting is not None and view.presenting.prompt.index == index

    qtbot.waitUntil(shown, timeout=30_000)
    return view.presenting


def test_a_2afc_run_answered_with_keys_on_the_subject_window(qtbot, runner, tmp_path):
    # AM detection with 100 ms intervals 50 ms apart: seconds, not minutes
    path = _short(tmp_path, "am_detection_weighted", {
        "duration_ms = 500": "duration_ms = 100", "ramp_ms = 20": "ramp_ms = 10",
        "isi_ms = 400": "isi_ms = 50"})
    assert runner.open_file(path)
    runner.max_trials_spin.setValue(5)
    runner.feedback_check.setChecked(True)
    assert runner.start(), runner.status_label.text()
    sw = runner.subject_window
    assert sw is not None and sw.isVisible()
    qtbot.waitUntil(lambda: sw.awaiting_ready, timeout=30_000)
    qtbot.keyClick(sw, Qt.Key.Key_Space)
    keys = [Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_2, Qt.Key.Key_1, Qt.Key.Key_2]
    trees = []
    for i, key in enumerate(keys):
        p: Presenting = _presenting(qtbot, runner, i)
        trees.append(tuple(widget_tree(sw)))
        if i > 0:  # the first answer comes while the sound plays
            qtbot.waitUntil(lambda p=p: runner.driver.stream_frame > p.offset_frames[-1],
                            timeout=30_000)
        qtbot.keyClick(sw, key)
        qtbot.waitUntil(lambda i=i: runner.live.progress()[0] == i + 1, timeout=30_000)
        assert sw.feedback_label.text() in ("Correct", "Wrong")
    qtbot.waitUntil(lambda: runner.last_finished is not None, timeout=30_000)
    assert runner.last_finished.status == "stopped", runner.last_finished.message
    with ResultsStore(tmp_path / "results.sqlite", create=False) as store:
        session = store.session(1)
        trials = store.trials(1)
    assert session.listener == "person" and session.live is not None and session.live.fs == FS
    assert [t.response for t in trials] == ["1", "2", "2", "1", "2"]
    period = round(0.150 * FS)
    for t in trials:
        onsets = t.presented["interval_onset_frames"]
        offsets = t.presented["interval_offset_frames"]
        assert onsets[1] - onsets[0] == period
        assert t.onset_frame == onsets[0] and t.offset_frame >= offsets[-1]
        assert t.correct == (int(t.response) == t.presented["target_interval"])
        frame = t.presented["response_frame"]
        if t.index == 0:  # during the sound: recorded as such, no response time
            assert t.presented["response_during_playback"] is True
            assert frame < t.offset_frame and t.response_time_ms is None
        else:  # from the offset frame the player reported, in stream frames
            assert t.presented["response_during_playback"] is False
            assert t.response_time_ms == pytest.approx((frame - t.offset_frame) / FS * 1000)
            assert t.response_time_ms >= 0
    # the subject window looked the same on every trial, whatever the target interval
    assert len(set(trees)) == 1
    assert {t.presented["target_interval"] for t in trials} == {1, 2}


def test_the_experimenter_scores_matrix_sentences_on_the_word_matrix(qtbot, runner, tmp_path):
    # the example calibration's ceiling (100 dB SPL) allows SNRs up to about +19 dB
    assert runner.open_file(_short(tmp_path, "srt_matrix", {"ceiling_db = 20": "ceiling_db = 10"}))
    runner.max_trials_spin.setValue(2)
    assert runner.start(), runner.status_label.text()
    sw = runner.subject_window
    qtbot.waitUntil(lambda: sw.awaiting_ready, timeout=30_000)
    qtbot.keyClick(sw, Qt.Key.Key_Space)
    for i, toggles in enumerate(([1, 2, 5], [1, 2, 3, 4, 5])):
        p = _presenting(qtbot, runner, i)
        assert sw.pages.currentIndex() == 2  # "repeat the sentence": no buttons for the listener
        assert runner.word_matrix.presented == p.word_indices
        # the experimenter's keyboard: the runner's window, on the score button
        runner.activateWindow()
        qtbot.waitUntil(runner.score_button.hasFocus, timeout=5000)
        for k in toggles:
            qtbot.keyClick(runner.score_button, getattr(Qt.Key, f"Key_{k}"))
        assert runner.word_matrix.score() == len(toggles)
        qtbot.keyClick(runner.score_button, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda i=i: runner.live.progress()[0] == i + 1, timeout=30_000)
    qtbot.waitUntil(lambda: runner.last_finished is not None, timeout=30_000)
    with ResultsStore(tmp_path / "results.sqlite", create=False) as store:
        trials = store.trials(1)
    assert [t.response for t in trials] == ["3", "5"]
    assert [t.correct for t in trials] == [True, True]  # half the words or more
    assert all(len(t.presented["words"]) == 5 for t in trials)


def test_audiometry_asks_for_ready_before_the_other_ear(qtbot, runner, tmp_path):
    # 1 kHz only, 100 ms tones; every answer "no": each ear ends as "no response" at 90 dB HL
    path = _short(tmp_path, "audiogram", {
        "order_hz = [1000, 2000, 4000, 8000, 1000, 500, 250]": "order_hz = [1000]",
        "duration_ms = 1000": "duration_ms = 100", "ramp_ms = 20": "ramp_ms = 10"})
    assert runner.open_file(path)
    assert runner.start(), runner.status_label.text()
    sw = runner.subject_window
    readies: list[str] = []
    n_answered = 0
    while runner.last_finished is None:
        qtbot.waitUntil(lambda: runner.last_finished is not None or sw._accepting
                        or sw.awaiting_ready, timeout=30_000)
        if runner.last_finished is not None:
            break
        if sw._accepting:
            qtbot.keyClick(sw, Qt.Key.Key_N)
            n_answered += 1
            qtbot.waitUntil(lambda n=n_answered: runner.live.progress()[0] == n, timeout=30_000)
        else:
            readies.append(sw.ready_label.text())
            qtbot.keyClick(sw, Qt.Key.Key_Space)
            assert not sw.awaiting_ready
    assert runner.last_finished.status == "completed", runner.last_finished.message
    assert readies == [READY_TEXT, "Now the other ear. " + READY_TEXT]
    with ResultsStore(tmp_path / "results.sqlite", create=False) as store:
        trials = store.trials(1)
    ears = [t.track.split()[0] for t in trials]
    n_right = ears.count("right")
    assert ears == ["right"] * n_right + ["left"] * (len(ears) - n_right)  # one switch
    assert all(t.response == "no" for t in trials)
    audiogram = runner.last_finished.summary["audiogram"]
    assert [(p["ear"], p["threshold_db_hl"], p["flags"]) for p in audiogram] == \
        [("right", None, ["no response"]), ("left", None, ["no response"])]


def test_a_pause_during_a_trial_presents_it_again_and_stores_it_once(qtbot, runner, tmp_path):
    path = _short(tmp_path, "am_detection_weighted", {
        "duration_ms = 500": "duration_ms = 100", "ramp_ms = 20": "ramp_ms = 10",
        "isi_ms = 400": "isi_ms = 50"})
    assert runner.open_file(path)
    runner.max_trials_spin.setValue(2)
    assert runner.start(), runner.status_label.text()
    sw = runner.subject_window
    qtbot.waitUntil(lambda: sw.awaiting_ready, timeout=30_000)
    qtbot.keyClick(sw, Qt.Key.Key_Space)
    first = _presenting(qtbot, runner, 0)
    runner.toggle_pause()  # before the listener answers
    qtbot.waitUntil(lambda: sw.ready_label.text() == "A short break.", timeout=30_000)
    qtbot.keyClick(sw, Qt.Key.Key_1)  # nothing to answer during the break
    runner.toggle_pause()
    qtbot.waitUntil(lambda: sw.awaiting_ready, timeout=30_000)
    qtbot.keyClick(sw, Qt.Key.Key_Space)
    again = _presenting(qtbot, runner, 0)
    assert again is not first and again.onset_frames[0] > first.onset_frames[0]
    for i, key in enumerate((Qt.Key.Key_2, Qt.Key.Key_1)):
        _presenting(qtbot, runner, i)
        qtbot.keyClick(sw, key)
        qtbot.waitUntil(lambda i=i: runner.live.progress()[0] == i + 1, timeout=30_000)
    qtbot.waitUntil(lambda: runner.last_finished is not None, timeout=30_000)
    with ResultsStore(tmp_path / "results.sqlite", create=False) as store:
        trials = store.trials(1)
        events = [e.kind for e in store.events(1)]
    assert [(t.index, t.response) for t in trials] == [(0, "2"), (1, "1")]
    assert trials[0].onset_frame == again.onset_frames[0]  # the presentation answered
    assert events == ["start", "pause", "resume"]


def test_a_file_that_refuses_answers_during_the_sound_ignores_them(qtbot, runner, tmp_path):
    """[response] answers_during_playback = false: a key during the sound answers nothing; the
    answer after the sound is the one stored, timed from the offset frame."""
    path = _short(tmp_path, "am_detection_weighted", {
        "duration_ms = 500": "duration_ms = 300", "ramp_ms = 20": "ramp_ms = 10",
        "isi_ms = 400": "isi_ms = 100", "intervals = 2": "intervals = 2\n"
        "answers_during_playback = false"})
    assert runner.open_file(path)
    runner.max_trials_spin.setValue(1)
    assert runner.start(), runner.status_label.text()
    sw = runner.subject_window
    qtbot.waitUntil(lambda: sw.awaiting_ready, timeout=30_000)
    qtbot.keyClick(sw, Qt.Key.Key_Space)
    p = _presenting(qtbot, runner, 0)
    qtbot.keyClick(sw, Qt.Key.Key_1)  # during the sound: ignored
    qtbot.waitUntil(lambda: runner.driver.stream_frame > p.offset_frames[-1], timeout=30_000)
    assert runner.live.progress()[0] == 0
    qtbot.keyClick(sw, Qt.Key.Key_2)
    qtbot.waitUntil(lambda: runner.last_finished is not None, timeout=30_000)
    with ResultsStore(tmp_path / "results.sqlite", create=False) as store:
        (t,) = store.trials(1)
    assert t.response == "2" and t.presented["response_during_playback"] is False
    assert t.response_time_ms >= 0
