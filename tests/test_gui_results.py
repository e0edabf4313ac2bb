"""The results view, offscreen, on a real results database filled by the session runner."""

import csv
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from audiolab.experiments import load_experiment, parse_listener, run_session
from audiolab.gui import create_application
from audiolab.gui._results_view import ResultsView
from audiolab.store import EXPORT_COLUMNS, ResultsStore

ROOT = Path(__file__).resolve().parents[1]
PSYCHOMETRIC = "psychometric:midpoint=55,slope=0.5,lapse=0.02"
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """P01 and P02 tone in noise (completed), P01 AM detection (5 trials, unfinished)."""
    db = tmp_path_factory.mktemp("results") / "results.sqlite"
    tone = load_experiment(ROOT / "experiments" / "tone_in_noise_3afc.toml")
    am = load_experiment(ROOT / "experiments" / "am_detection_weighted.toml")
    summaries = {}
    with ResultsStore(db) as store:
        for subject, exp, seed, max_trials in (("P01", tone, 1, None), ("P02", tone, 2, None),
                                               ("P01", am, 3, 5)):
            res = run_session(exp, store=store, subject=subject, seed=seed,
                              max_trials=max_trials,
                              listener=parse_listener(PSYCHOMETRIC.replace("55", "-12")
                                                      if exp is am else PSYCHOMETRIC,
                                                      seed=seed))
            summaries[res.session_id] = res
    return db, summaries


@pytest.fixture
def view(qtbot, app_context, database):
    create_application()
    v = ResultsView(app_context)
    qtbot.addWidget(v)
    v.resize(1280, 800)
    v.show()
    v.set_database(database[0])
    yield v
    v.shutdown()


def _shown_ids(view):
    return [int(view.sessions_table.item(r, 0).text())
            for r in range(view.sessions_table.rowCount())]


def test_sessions_filtered_by_subject_and_experiment(qtbot, view):
    assert _shown_ids(view) == [3, 2, 1]  # newest first
    assert [view.subject_combo.itemText(i) for i in range(view.subject_combo.count())] == \
        ["(all)", "P01", "P02"]
    view.subject_combo.setCurrentText("P01")
    assert _shown_ids(view) == [3, 1]
    view.experiment_combo.setCurrentText("tone in noise 3-AFC")
    assert _shown_ids(view) == [1]
    view.subject_combo.setCurrentText("(all)")
    assert _shown_ids(view) == [2, 1]
    assert view.sessions_table.item(0, 3).text() == "completed"
    view.set_filter()
    assert _shown_ids(view) == [3, 2, 1]
    assert view.sessions_table.item(0, 3).text() == "running"  # stopped at its trial limit
    assert view.sessions_table.item(0, 5).text() == "5"


def test_opening_a_session_shows_its_result_trials_and_plot(qtbot, view, database):
    _, summaries = database
    row = _shown_ids(view).index(2)
    rect = view.sessions_table.visualRect(view.sessions_table.model().index(row, 1))
    qtbot.mouseClick(view.sessions_table.viewport(), Qt.MouseButton.LeftButton,
                     pos=rect.center())
    assert view.session_id == 2
    res = summaries[2]
    assert view.trials_table.rowCount() == res.n_trials
    assert f"threshold {res.summary['threshold_db']:.2f} dB" in view.result_label.text()
    assert view.busy
    qtbot.waitUntil(lambda: not view.busy, timeout=60_000)
    pixmap = view.plot_label.pixmap()
    assert pixmap is not None and not pixmap.isNull() and pixmap.width() > 200


def test_export_csv_of_the_open_session_and_of_a_subject(qtbot, view, database, tmp_path):
    db, summaries = database
    view.open_session(1)
    qtbot.waitUntil(lambda: not view.busy, timeout=60_000)
    out = tmp_path / "s1.csv"
    assert view.export_csv(out) == summaries[1].n_trials
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    with ResultsStore(db, create=False) as store:
        stored = store.export_trials(session_id=1)
    assert [r["response"] for r in rows] == [r["response"] for r in stored]
    assert f"wrote {len(rows)} trials" in view.status_label.text()
    # no session open: the filtered subject's trials
    view.session_id = None
    view.set_filter(subject="P01")
    out = tmp_path / "p01.csv"
    assert view.export_csv(out) == summaries[1].n_trials + 5


def test_a_missing_database_is_said_in_place_and_not_created(qtbot, view, tmp_path):
    missing = tmp_path / "none" / "results.sqlite"
    view.set_database(missing)
    assert "no results database at" in view.status_label.text()
    assert view.sessions_table.rowCount() == 0
    assert not missing.exists()
    assert view.open_file(tmp_path / "x.csv") is False


def test_a_session_without_trials_has_no_plot(qtbot, view, tmp_path):
    db = tmp_path / "empty.sqlite"
    with ResultsStore(db) as store:
        store.start_session(subject="P09", experiment_name="x", experiment_toml=(
            ROOT / "experiments" / "tone_in_noise_3afc.toml").read_text(),
            calibration="virtual ideal calibration", software_version="0", seed=1,
            listener=PSYCHOMETRIC)
    assert view.open_file(db)
    view.open_session(1)
    assert view.plot_label.text() == "no trials to plot yet"
    assert "0 trials" in view.result_label.text()
    assert not view.busy
