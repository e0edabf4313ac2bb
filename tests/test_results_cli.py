"""`audiolab results`: export to CSV and JSON, erasure, and one line with exit code 2 for bad
input."""

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from cli_run import one_line as _one_line
from cli_run import run_cli as _run

from audiolab.store import EXPORT_COLUMNS, VIRTUAL_IDEAL_CALIBRATION, ResultsStore


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "results.sqlite"
    with ResultsStore(path) as store:
        for seed, (subject, n_trials) in enumerate((("P01", 4), ("P02", 3), ("P01", 2))):
            sid = store.start_session(
                subject=subject, experiment_name="tone_in_noise_3afc", experiment_toml="",
                calibration=VIRTUAL_IDEAL_CALIBRATION, software_version="0.1.0", seed=seed,
                listener="simulated:N3")
            for i in range(n_trials):
                store.record_trial(
                    sid, index=i, track="A", variable=50.0 - i, presented={"interval": 1 + i % 3},
                    response=f"{subject}-answer-{i}", correct=i % 2 == 0, state={"i": i})
            store.end_session(sid)
    return path


def _csv_rows(text):
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == EXPORT_COLUMNS
    return list(reader)


def test_csv_to_stdout_is_every_trial(capsys, db):
    code, out, err = _run(capsys, "results", "--db", db)
    assert code == 0 and err == ""
    rows = _csv_rows(out)
    assert [(r["session_id"], r["subject"], r["trial_index"]) for r in rows] == (
        [("1", "P01", str(i)) for i in range(4)] + [("2", "P02", str(i)) for i in range(3)]
        + [("3", "P01", str(i)) for i in range(2)])


def test_selection_by_session_and_subject(capsys, db):
    code, out, _ = _run(capsys, "results", "--db", db, "--session", "2")
    assert code == 0 and {r["subject"] for r in _csv_rows(out)} == {"P02"}
    code, out, _ = _run(capsys, "results", "--db", db, "--subject", "P01")
    assert code == 0 and [r["session_id"] for r in _csv_rows(out)] == ["1"] * 4 + ["3"] * 2


def test_json_to_a_file_by_suffix_and_by_format(capsys, db, tmp_path):
    out_file = tmp_path / "trials.json"
    code, out, _ = _run(capsys, "results", "--db", db, "--out", out_file)
    assert code == 0 and out == f"wrote 9 trials to {out_file}\n"
    rows = json.loads(out_file.read_text())
    assert len(rows) == 9 and list(rows[0]) == list(EXPORT_COLUMNS)
    assert out_file.stat().st_mode & 0o777 == 0o600
    code, out, _ = _run(capsys, "results", "--db", db, "--format", "json", "--session", "3")
    assert code == 0 and [r["response"] for r in json.loads(out)] == [
        "P01-answer-0", "P01-answer-1"]


def test_delete_subject_erases_them_from_the_file(capsys, db):
    code, out, err = _run(capsys, "results", "--db", db, "--delete-subject", "P02")
    assert code == 0 and err == ""
    assert out == f"erased subject P02 (1 sessions) from {db}\n"
    raw = b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))
    assert b"P02" not in raw and b"P01-answer-3" in raw
    code, out, _ = _run(capsys, "results", "--db", db)
    assert {r["subject"] for r in _csv_rows(out)} == {"P01"}


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--session", "two"], "--session must be an integer, got 'two'"),
        (["--session", "0"], r"--session must be in [1, inf], got 0"),
        (["--session", "9"], "session_id 9: no such session"),
        (["--format", "xlsx"], "--format must be one of 'csv', 'json', got 'xlsx'"),
        (["--subject", "jane@example.dk"], "looks like an e-mail address"),
        (["--delete-subject", "010190-1234"], "looks like a Danish CPR number"),
        (["--delete-subject", "P09"], "subject 'P09': no such subject"),
        (["--delete-subject", "P01", "--out", "x.csv"],
         "--delete-subject cannot be combined with --out"),
        (["--out", "/nonexistent-folder/x.csv"], "folder /nonexistent-folder does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(capsys, db, extra, words):
    before = db.read_bytes()
    code, out, err = _run(capsys, "results", "--db", db, *extra)
    assert code == 2 and out == ""
    assert _one_line(err) and words in err, err
    assert err.startswith("audiolab results: error: ")
    assert db.read_bytes() == before


def test_a_missing_or_foreign_database_is_one_line_and_nothing_is_created(capsys, tmp_path):
    missing = tmp_path / "nope.sqlite"
    code, _, err = _run(capsys, "results", "--db", missing)
    assert code == 2 and _one_line(err) and "does not exist" in err
    code, _, err = _run(capsys, "results", "--db", missing, "--delete-subject", "P01")
    assert code == 2 and _one_line(err) and "does not exist" in err
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 10)
    code, _, err = _run(capsys, "results", "--db", text)
    assert code == 2 and _one_line(err) and "is not an SQLite database" in err
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    code, _, err = _run(capsys, "results", "--db", other)
    assert code == 2 and _one_line(err) and "not an audiolab results store" in err
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["notes.txt", "other.sqlite"]


def test_db_is_required(capsys):
    code, _, err = _run(capsys, "results")
    assert code == 2 and _one_line(err) and "--db" in err


# -- --plot --------------------------------------------------------------------------------------
EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """One session each of the audiogram, a 3-AFC track and the matrix test (simulated)."""
    from audiolab.experiments import load_experiment, parse_listener, run_session

    path = tmp_path_factory.mktemp("plots") / "r.sqlite"
    with ResultsStore(path) as store:
        for name in ("audiogram", "tone_in_noise_3afc", "srt_matrix"):
            run_session(load_experiment(EXPERIMENTS / f"{name}.toml"), store=store,
                        subject="P01", seed=4, fs=24000,
                        listener=parse_listener("simulated:N3", seed=4))
    return path


@pytest.mark.parametrize(("session", "kind"), [(1, "audiogram"), (2, "track"), (3, "matrix")])
def test_plot_draws_each_kind_of_session(capsys, sessions, tmp_path, session, kind):
    out = tmp_path / f"s{session}.png"
    code, text, err = _run(capsys, "results", "--db", sessions, "--session", session,
                           "--plot", out)
    assert code == 0, err
    assert f"drew the {kind} of session {session}" in text
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_audiogram_uses_the_standard_symbols_and_hl_grows_downwards(sessions):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from audiolab.reports._experiment_plots import _audiogram, _summary

    with ResultsStore(sessions, create=False) as store:
        summary = _summary(store.session(1), store.trials(1))
    fig, ax = plt.subplots()
    _audiogram(ax, summary)
    lines = {line.get_label(): line for line in ax.get_lines()}
    right, left = lines["right ear (O)"], lines["left ear (X)"]
    assert right.get_marker() == "o" and right.get_color() == "tab:red"
    assert left.get_marker() == "x" and left.get_color() == "tab:blue"
    bottom, top = ax.get_ylim()
    assert bottom > top  # dB HL increases downwards
    thresholds = {(p["ear"], p["frequency_hz"]): p["threshold_db_hl"]
                  for p in summary["audiogram"] if p["threshold_db_hl"] is not None}
    plotted = dict(zip(right.get_xdata(), right.get_ydata(), strict=True))
    assert plotted == {f: hl for (ear, f), hl in thresholds.items() if ear == "right"}
    plt.close(fig)


@pytest.mark.parametrize(("extra", "words"), [
    (["--plot", "x.txt", "--session", "1"], "ending in"),
    (["--plot", "x.png"], "--plot needs --session ID"),
    (["--plot", "x.png", "--session", "1", "--out", "y.csv"], "cannot be combined"),
    (["--plot", "x.png", "--session", "99"], "no such session"),
])
def test_bad_plot_requests_are_one_line_and_exit_2(capsys, sessions, tmp_path, monkeypatch,
                                                    extra, words):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, "results", "--db", sessions, *extra)
    assert code == 2 and _one_line(err) and words in err, err
    assert not (tmp_path / "x.png").exists()
