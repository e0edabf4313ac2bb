"""`audiolab run`: dry runs of every shipped file, one-line errors with nothing written, and
kill -9 at random moments of a --log-trials run losing no reported trial."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from audiolab.cli._main import main
from audiolab.store import ResultsStore

ROOT = Path(__file__).resolve().parent.parent
EXP = ROOT / "experiments"
SHIPPED = sorted(EXP.glob("*.toml"))
TIN = str(EXP / "tone_in_noise_3afc.toml")


@pytest.fixture(autouse=True)
def _no_age_warning(monkeypatch):
    monkeypatch.setenv("AUDIOLAB_CALIBRATION_MAX_AGE_DAYS", "100000")


def _one_error_line(capsys, words):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("audiolab run: error: ") and words in err[0], err
    return err[0]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_dry_run_of_every_shipped_file_passes_and_writes_nothing(path, tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    assert main(["run", str(path), "--subject", "CHECK", "--listener", "simulated:N1",
                 "--dry-run", "--db", str(db), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["levels_checked"] is True and plan["x_min_db"] <= plan["x_max_db"]
    assert not db.exists()


def test_a_run_prints_the_database_and_the_result(tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    assert main(["run", TIN, "--subject", "P01", "--listener", "simulated:N3", "--db", str(db),
                 "--fs", "24000", "--json"]) == 0
    captured = capsys.readouterr()
    assert f"results database: {db}" in captured.err
    doc = json.loads(captured.out)
    assert doc["finished"] and doc["summary"]["procedure"] == "up_down"
    with ResultsStore(db, create=False) as store:
        assert len(store.trials(doc["session_id"])) == doc["n_trials"]


def _bad_file(tmp_path, old, new):
    text = Path(TIN).read_text()
    assert old in text
    p = tmp_path / "bad.toml"
    p.write_text(text.replace(old, new))
    return str(p)


@pytest.mark.parametrize(("args", "words"), [
    (["--listener", "simulated:N1"], None),  # the file is replaced below
    (["--listener", "telepathic:N1"], "listener must be"),
    (["--listener", "simulated:N1", "--seed", "-1"], "--seed"),
    (["--listener", "simulated:N1", "--max-trials", "0"], "--max-trials"),
    (["--listener", "simulated:N1", "--fs", "fast"], "--fs"),
    ([], "without a calibration file"),
    (["--uncalibrated"], "without a calibration file"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(args, words, tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    path = TIN
    if words is None:
        path, words = _bad_file(tmp_path, "intervals = 3", "intervals = 3\ncolour = 1"), \
            "response.colour is not a known key"
    assert main(["run", path, "--subject", "P01", "--db", str(db), *args]) == 2
    _one_error_line(capsys, words)
    assert not db.exists()


@pytest.mark.parametrize(("edit", "words"), [
    (("step_sizes_db = [8, 4, 2]", 'step_sizes_db = "big"'), "procedure.step_sizes_db"),
    (('kind = "tone_in_noise"', 'kind = "custom"\nmodule = "gone.py"'),
     "stimulus.module must be an existing file"),
    (("ceiling_db = 85", "ceiling_db = 120"), "ceiling"),
])
def test_bad_files_and_levels_above_the_ceiling(edit, words, tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    path = _bad_file(tmp_path, *edit)
    cal = str(ROOT / "calibration" / "example.toml")  # ceiling 100 dB SPL
    assert main(["run", path, "--subject", "P01", "--listener", "simulated:N1",
                 "--calibration", cal, "--db", str(db)]) == 2
    _one_error_line(capsys, words)
    assert not db.exists()


@pytest.mark.parametrize("subject", ["jane.doe@example.org", "Jane Doe"])
def test_a_refused_pseudonym_is_one_line_and_nothing_written(subject, tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    assert main(["run", TIN, "--subject", subject, "--listener", "simulated:N1",
                 "--db", str(db)]) == 2
    _one_error_line(capsys, "pseudonym")
    assert not db.exists()


def _audiolab(*args):
    return [sys.executable, "-c", "import sys; from audiolab.cli._main import main; "
            "sys.exit(main(sys.argv[1:]))", *args]


@pytest.mark.slow
def test_kill_9_loses_no_reported_trial_and_resume_completes(tmp_path):
    # The audiogram (about 150 trials) at 16 kHz: killed at random moments while it runs.
    exp = str(EXP / "audiogram.toml")
    # Killed after a random number of reported trials plus a random delay (0-20 ms, one to
    # a few trials here), so the kill falls anywhere in a trial: rendering, answering, committing.
    rng = np.random.default_rng(20261207)
    moments = list(zip(rng.integers(1, 120, size=4), rng.uniform(0.0, 0.02, size=4),
                       strict=True))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for k, (n_lines, delay_s) in enumerate(moments):
        db = tmp_path / f"r{k}.sqlite"
        base = [exp, "--subject", f"K{k}", "--listener", "simulated:N3", "--db", str(db),
                "--fs", "24000", "--seed", str(k)]
        proc = subprocess.Popen(_audiolab("run", *base, "--log-trials"),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        lines = [proc.stdout.readline() for _ in range(n_lines)]
        assert all(lines), "the run ended before the kill"
        time.sleep(delay_s)
        proc.send_signal(signal.SIGKILL)
        lines.append(proc.stdout.read())
        proc.wait()
        reported = [json.loads(line) for line in b"".join(lines).decode().splitlines()
                    if line.strip()]
        with ResultsStore(db, create=False) as store:
            stored = store.trials(1)
        # every reported trial is stored, as reported
        assert [t["index"] for t in reported] == list(range(len(reported)))
        assert len(stored) >= len(reported)
        for r in reported:
            assert stored[r["index"]].variable == r["variable"]
            assert stored[r["index"]].response == r["response"]
        done = subprocess.run(_audiolab("run", *base, "--resume", "--json"),
                              capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        assert doc["session_id"] == 1 and doc["finished"]
        assert doc["n_trials"] == len(stored) + doc["n_new_trials"]
        with ResultsStore(db, create=False) as store:
            final = store.trials(1)
            assert store.session(1).status == "completed"
        assert [t.index for t in final] == list(range(doc["n_trials"]))
        assert [t.presented for t in final[:len(stored)]] == [t.presented for t in stored]
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
