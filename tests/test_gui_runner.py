"""The runner view, offscreen: model listeners run shipped experiment files from the widgets into a
real results database; pause, abort with a reason, resume; a killed application resumed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_run import run_cli
from PySide6.QtCore import Qt

from audiolab.gui import create_application
from audiolab.gui._results_view import ResultsView
from audiolab.gui._runner_view import RunnerView, WordMatrix
from audiolab.gui._session_model import PACES_S, LiveSession, estimate_remaining, snapshot
from audiolab.store import ResultsStore

ROOT = Path(__file__).resolve().parents[1]
PSYCHOMETRIC = "psychometric:midpoint=55,slope=0.5,lapse=0.02"
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def runner(qtbot, app_context, tmp_path):
    create_application()
    view = RunnerView(app_context)
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    view.db_edit.setText(str(tmp_path / "results.sqlite"))
    yield view
    _dispose(qtbot, view)


def _dispose(qtbot, widget):
    """Delete a view now: Qt objects left to the interpreter's last collection can crash it."""
    widget.shutdown()
    widget.close()
    widget.deleteLater()
    qtbot.wait(1)  # an event loop runs the deferred deletion


def _fill(qtbot, view, *, experiment, subject="P01", listener=1, detail=None, seed=5,
          fast=True):
    view.select_experiment(experiment)
    view.subject_edit.clear()
    qtbot.keyClicks(view.subject_edit, subject)
    view.listener_combo.setCurrentIndex(listener)
    if detail is not None:
        view.listener_edit.setText(detail)
    view.pace_combo.setCurrentIndex(1 if fast else 0)
    view.seed_spin.setValue(seed)


def _cli_json(capsys, tmp_path, experiment, *, seed, listener=PSYCHOMETRIC):
    code, out, err = run_cli(capsys, "run", ROOT / "experiments" / experiment, "--subject",
                             "P01", "--listener", listener, "--db", tmp_path / "cli.sqlite",
                             "--seed", seed, "--json")
    assert code == 0, err
    return json.loads(out)


def test_a_psychometric_run_from_the_runner_gives_the_cli_threshold(qtbot, runner, tmp_path,
                                                                    capsys):
    _fill(qtbot, runner, experiment="tone_in_noise_3afc", seed=5)
    assert "UpDownConfig" in runner.plan_text.toPlainText()
    assert "every level within the ceiling" in runner.plan_text.toPlainText()
    qtbot.mouseClick(runner.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: runner.last_finished is not None, timeout=120_000)
    assert runner.last_finished.status == "completed", runner.last_finished.message
    cli = _cli_json(capsys, tmp_path, "tone_in_noise_3afc.toml", seed=5)
    gui = runner.last_finished.summary
    assert gui["threshold_db"] == cli["summary"]["threshold_db"]
    assert gui["n_trials"] == cli["n_trials"]
    # what is shown: every trial logged and plotted, the estimate line at the threshold
    n = cli["n_trials"]
    assert runner.log_table.rowCount() == n
    x, _ = runner.track_curve.getData()
    assert len(x) == n
    assert runner.estimate_line.isVisible()
    assert runner.estimate_line.value() == pytest.approx(cli["summary"]["threshold_db"])
    assert runner.progress_label.text() == (f"{n} trials, finished  ·  mean of last reversals: "
                                            f"{cli['summary']['threshold_db']:.1f} dB")
    assert len(runner.rev_scatter.getData()[0]) == 12  # the file's max_reversals
    # ... and the results view finds the session with the same threshold
    results = ResultsView(runner.context)
    qtbot.addWidget(results)
    results.set_database(runner.db_edit.text())
    results.set_filter(subject="P01", experiment="tone in noise 3-AFC")
    assert [r.n_trials for r in results.rows] == [n]
    results.open_session(results.rows[0].id)
    assert f"threshold {cli['summary']['threshold_db']:.2f} dB" in results.result_label.text()
    qtbot.waitUntil(lambda: not results.busy, timeout=30_000)


def test_a_refused_pseudonym_is_shown_in_place_and_nothing_is_written(qtbot, runner, tmp_path):
    _fill(qtbot, runner, experiment="tone_in_noise_3afc", subject="jane.doe@example.org")
    assert runner.subject_problem.isVisible()
    assert "pseudonym" in runner.subject_problem.text() or "e-mail" in \
        runner.subject_problem.text()
    assert runner.start() is False
    assert runner.subject_problem.text() in runner.status_label.text()
    assert not (tmp_path / "results.sqlite").exists()


def test_a_person_needs_a_calibration_file(qtbot, runner, tmp_path):
    _fill(qtbot, runner, experiment="tone_in_noise_3afc", listener=0)
    assert not runner.listener_edit.isEnabled()
    assert runner.start()
    qtbot.waitUntil(lambda: runner.last_finished is not None, timeout=30_000)
    assert runner.last_finished.status == "failed"
    assert "calibration" in runner.status_label.text()
    runner.subject_window.close()


def test_a_bad_listener_spec_is_refused_in_place(qtbot, runner):
    _fill(qtbot, runner, experiment="tone_in_noise_3afc", detail="midpoint=55")
    assert runner.start() is False
    assert "slope" in runner.status_label.text()


def test_pause_resume_abort_with_a_reason_then_resume_from_the_store(qtbot, runner, tmp_path):
    _fill(qtbot, runner, experiment="tone_in_noise_3afc", seed=9, fast=False)
    assert PACES_S["visible"] > 0
    runner.start()
    qtbot.waitUntil(lambda: runner.live.progress()[0] >= 3, timeout=60_000)
    qtbot.keyClick(runner, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: runner.status_label.text() == "paused", timeout=30_000)
    assert runner.pause_button.text().startswith("Resume")
    n_paused = runner.live.progress()[0]
    qtbot.wait(600)  # two trials' worth of visible pace: nothing moves while paused
    runner.poll()
    assert runner.live.progress()[0] == n_paused
    qtbot.mouseClick(runner.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: runner.live.progress()[0] >= n_paused + 2, timeout=60_000)
    runner.abort_reason.setText("listener tired")
    qtbot.mouseClick(runner.abort_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: runner.last_finished is not None, timeout=30_000)
    assert runner.last_finished.status == "aborted"
    n_before = runner.live.progress()[0]
    db = tmp_path / "results.sqlite"
    with ResultsStore(db, create=False) as store:
        session = store.session(1)
        events = [(e.kind, e.detail) for e in store.events(1)]
        assert len(store.trials(1)) == n_before
    assert session.status == "aborted"
    assert events == [("start", ""), ("pause", ""), ("resume", ""),
                      ("abort", "listener tired")]
    # the unfinished session is offered for resuming and runs to its stop rule
    assert runner.resume_combo.count() == 1 and runner.resume_combo.currentData() == 1
    runner.pace_combo.setCurrentIndex(1)
    qtbot.mouseClick(runner.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: runner.last_finished is not None, timeout=120_000)
    assert runner.last_finished.status == "completed"
    with ResultsStore(db, create=False) as store:
        trials = store.trials(1)
        assert store.session(1).status == "completed"
        assert [e.kind for e in store.events(1)][-2:] == ["resume", "end"]
    assert [t.index for t in trials] == list(range(len(trials)))
    assert runner.log_table.rowCount() == len(trials)  # the stored ones shown again, then more
    assert runner.resume_combo.count() == 0


_CHILD = r"""
import sys, time
from pathlib import Path
from audiolab.gui import AppContext, create_application
from audiolab.gui._runner_view import RunnerView
app = create_application()
view = RunnerView(AppContext())
view.show()
view.select_experiment("tone_in_noise_3afc")
view.subject_edit.setText("P01")
view.listener_combo.setCurrentIndex(1)
view.pace_combo.setCurrentIndex(0)
view.seed_spin.setValue(5)
view.db_edit.setText(sys.argv[1])
assert view.start()
while True:  # the event loop, by hand: pause after 8 trials, then wait to be killed
    app.processEvents()
    if view.live.progress()[0] >= 8 and not view.driver.paused:
        view.toggle_pause()
    time.sleep(0.01)
"""


@pytest.mark.slow
def test_a_killed_application_resumes_with_no_trial_lost_or_doubled(qtbot, runner, tmp_path,
                                                                    capsys):
    db = tmp_path / "results.sqlite"
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "QT_QPA_PLATFORM": "offscreen"}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(db)], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        kinds: list[str] = []
        while "pause" not in kinds:
            assert child.poll() is None, child.communicate()[1].decode()
            assert time.monotonic() < deadline, "the child never paused"
            time.sleep(0.1)
            if db.exists():
                with ResultsStore(db, create=False) as store:
                    kinds = [e.kind for e in store.events(1)] if store.sessions() else []
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    with ResultsStore(db, create=False) as store:
        before = store.trials(1)
        assert store.session(1).status == "running"  # killed: nobody ended it
    assert len(before) >= 8
    # reopen: the runner offers the session, resumes it and runs it to the end
    _fill(qtbot, runner, experiment="tone_in_noise_3afc", seed=5)
    assert runner.resume_combo.currentData() == 1
    runner.resume_stored()
    qtbot.waitUntil(lambda: runner.last_finished is not None, timeout=120_000)
    assert runner.last_finished.status == "completed", runner.last_finished.message
    with ResultsStore(db, create=False) as store:
        after = store.trials(1)
        events = [(e.kind, e.detail) for e in store.events(1)]
    assert [t.index for t in after] == list(range(len(after)))
    assert after[:len(before)] == before
    assert events[-2:] == [("resume", "was running"), ("end", "")]
    # the listener's generator was brought forward too: the same session as one never killed
    cli = _cli_json(capsys, tmp_path, "tone_in_noise_3afc.toml", seed=5)
    with ResultsStore(tmp_path / "cli.sqlite", create=False) as store:
        uninterrupted = store.trials(cli["session_id"])
    assert [(t.variable, t.response) for t in after] == \
        [(t.variable, t.response) for t in uninterrupted]


def test_audiometry_fills_in_the_audiogram(qtbot, runner):
    _fill(qtbot, runner, experiment="audiogram", listener=2, detail="N3")
    runner.start()
    qtbot.waitUntil(lambda: runner.last_finished is not None, timeout=240_000)
    assert runner.last_finished.status == "completed", runner.last_finished.message
    assert runner.side.isVisible() and runner.side.currentIndex() == 1
    points = {p["ear"]: [] for p in runner.last_finished.summary["audiogram"]}
    for p in runner.last_finished.summary["audiogram"]:
        if p["threshold_db_hl"] is not None:
            points[p["ear"]].append((p["frequency_hz"], p["threshold_db_hl"]))
    for ear, curve in (("right", runner.right_curve), ("left", runner.left_curve)):
        f, hl = curve.getData()
        # pyqtgraph holds log10(f) in log mode
        shown = sorted(zip((10 ** f).round(3).tolist(), hl.tolist(), strict=True))
        assert shown == sorted(points[ear])
        assert len(shown) == 6  # 250 Hz to 8 kHz (the 1 kHz retest is one point)


def test_the_matrix_test_shows_the_word_matrix(qtbot, runner):
    _fill(qtbot, runner, experiment="srt_matrix", listener=2, detail="N1")
    runner.max_trials_spin.setValue(3)
    runner.start()
    qtbot.waitUntil(lambda: runner.last_finished is not None, timeout=120_000)
    assert runner.last_finished.status == "stopped"
    assert runner.side.isVisible() and runner.side.currentIndex() == 2
    assert runner.log_table.rowCount() == 3
    assert runner.track_plot.getAxis("left").labelText == "SNR (dB)"
    # resumable: the stopped session is offered
    assert runner.resume_combo.count() == 1


def test_word_matrix_scoring_by_mouse_and_keys(qtbot):
    create_application()
    matrix = WordMatrix()
    qtbot.addWidget(matrix)
    assert len(matrix.buttons) == 5 and all(len(c) == 10 for c in matrix.buttons)
    matrix.present((3, 0, 9, 4, 7))
    enabled = [(c, r) for c, col in enumerate(matrix.buttons) for r, b in enumerate(col)
               if b.isEnabled()]
    assert enabled == [(0, 3), (1, 0), (2, 9), (3, 4), (4, 7)]
    qtbot.mouseClick(matrix.buttons[0][3], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(matrix.buttons[2][9], Qt.MouseButton.LeftButton)
    matrix.toggle(4)
    assert matrix.score() == 3
    matrix.toggle(4)
    qtbot.mouseClick(matrix.buttons[1][5], Qt.MouseButton.LeftButton)  # not presented: inert
    assert matrix.score() == 2
    matrix.present(None)
    assert matrix.score() == 0


def test_progress_estimates_follow_the_procedure():
    from audiolab.experiments import load_experiment, make_procedure, parse_listener

    exp = load_experiment(ROOT / "experiments" / "srt_matrix.toml")
    proc = make_procedure(exp.procedure, seed=1)
    listener = parse_listener(PSYCHOMETRIC.replace("55", "-7"), seed=1)
    live = LiveSession()
    for k in range(5):
        proc.record(listener.respond(proc.next_trial()))
        assert estimate_remaining(proc) == 20 - (k + 1)  # the file's n_sentences
    live.update(snapshot(proc))
    assert live.progress_text().startswith("0 trials done, about 15 to go")



@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "experiments").glob("*.toml")))
def test_each_shipped_experiment_runs_from_the_runner_to_the_cli_result(qtbot, runner, tmp_path,
                                                                       capsys, name):
    """Issue 13, done when: every shipped file runs from the GUI to a stored result with a
    simulated listener; the stored session equals `audiolab run` with the same seed."""
    _fill(qtbot, runner, experiment=name, listener=2, detail="N3", seed=11)
    runner.start()
    qtbot.waitUntil(lambda: runner.last_finished is not None, timeout=240_000)
    assert runner.last_finished.status == "completed", runner.last_finished.message
    cli = _cli_json(capsys, tmp_path, f"{name}.toml", seed=11, listener="simulated:N3")
    gui = runner.last_finished.summary
    assert gui["n_trials"] == cli["n_trials"]
    assert json.dumps(gui, sort_keys=True) == json.dumps(cli["summary"], sort_keys=True)
    with ResultsStore(runner.db_edit.text(), create=False) as store:
        (session,) = store.sessions()
        assert len(store.trials(session.id)) == cli["n_trials"]
