"""The results store (audiolab.store): files, schema and migrations, sessions, trials, events,
pseudonyms, erasure and export. Crash safety and concurrent writers: test_store_crash.py."""

import csv
import datetime
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas
import pytest
from hypothesis import given
from hypothesis import strategies as st

from audiolab import AudiolabError, ConfigError, FileFormatError, SignalTypeError
from audiolab.store import (
    EXPORT_COLUMNS,
    SCHEMA_VERSION,
    VIRTUAL_IDEAL_CALIBRATION,
    LiveRun,
    ResultsStore,
    check_pseudonym,
)

EXPERIMENT = '[experiment]\nname = "tone_in_noise_3afc"\n[procedure]\ntype = "updown"\n'


def _start(store, subject="P01", **overrides):
    kwargs = dict(
        subject=subject, experiment_name="tone_in_noise_3afc", experiment_toml=EXPERIMENT,
        calibration=VIRTUAL_IDEAL_CALIBRATION, software_version="0.1.0", seed=11,
        listener="psychometric:midpoint=0,slope=1,lapse=0.02",
    )
    kwargs.update(overrides)
    return store.start_session(**kwargs)


def _trial(store, sid, index, *, response="2", **overrides):
    kwargs = dict(
        index=index, track="A", variable=60.0 - 2 * index,
        presented={"level_db_spl": 60.0 - 2 * index, "target_interval": 2},
        response=response, correct=True, state={"n_reversals": 0, "step_db": 4.0},
    )
    kwargs.update(overrides)
    return store.record_trial(sid, **kwargs)


def _listing(folder):
    return sorted(p.name for p in Path(folder).iterdir())


# -- the file
def test_new_file_and_folders_are_owner_only_whatever_the_umask(tmp_path):
    db = tmp_path / "a" / "b" / "results.sqlite"
    old = os.umask(0)
    try:
        with ResultsStore(db) as store:
            _trial(store, _start(store), 0)
            modes = {p.name: p.stat().st_mode & 0o777 for p in db.parent.iterdir()}
    finally:
        os.umask(old)
    # SQLite gives its -wal and -shm files the database file's mode.
    assert modes == {"results.sqlite": 0o600, "results.sqlite-wal": 0o600,
                     "results.sqlite-shm": 0o600}
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "a" / "b").stat().st_mode & 0o777 == 0o700


def test_wal_full_sync_busy_timeout_and_schema_version_on_every_connection(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite", busy_timeout_s=12.5) as store:
        conn = store._db()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 12500
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store.schema_version == SCHEMA_VERSION == 2
        assert store.migrated_from == 0
    with ResultsStore(tmp_path / "r.sqlite") as store:
        assert store.migrated_from == SCHEMA_VERSION


def test_missing_file_is_refused_when_not_creating(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        ResultsStore(tmp_path / "nope.sqlite", create=False)
    assert _listing(tmp_path) == []


def test_a_file_that_is_not_a_database_is_refused_untouched(tmp_path):
    db = tmp_path / "notes.sqlite"
    content = b"subject P01 said hello\n" * 50
    db.write_bytes(content)
    with pytest.raises(FileFormatError, match="is not an SQLite database"):
        ResultsStore(db)
    assert db.read_bytes() == content
    assert _listing(tmp_path) == ["notes.sqlite"]


def test_another_applications_database_is_refused_untouched(tmp_path):
    db = tmp_path / "other.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE inventory (item TEXT)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    with pytest.raises(FileFormatError, match="not an audiolab results store"):
        ResultsStore(db)
    assert db.read_bytes() == before
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    conn.close()


@pytest.mark.parametrize("bad", ["", ":memory:"])
def test_a_path_that_names_no_file_is_refused(tmp_path, bad):
    with pytest.raises(ConfigError, match="must name a database file"):
        ResultsStore(bad)


def test_a_folder_and_a_path_through_a_file_are_refused_and_nothing_is_left(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        ResultsStore(tmp_path)
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        ResultsStore(plain / "sub" / "r.sqlite")
    assert _listing(tmp_path) == ["plain.txt"]
    with pytest.raises(SignalTypeError, match="path must be a str"):
        ResultsStore(42)  # type: ignore[arg-type]


_NO_PERMISSION_CHILD = """
import sys
from audiolab import AudiolabError
from audiolab.store import ResultsStore
try:
    ResultsStore(sys.argv[1])
except AudiolabError as exc:
    print(type(exc).__name__, exc)
"""


def test_a_folder_without_write_permission_gives_one_clear_error_and_leaves_nothing(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    # Root ignores permission bits; without the DAC-override capabilities it obeys them.
    prefix = []
    if os.geteuid() == 0:
        assert shutil.which("setpriv"), "setpriv (util-linux) is needed to test this as root"
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    try:
        for target in (locked / "r.sqlite", locked / "new" / "deeper" / "r.sqlite"):
            out = subprocess.run(
                [*prefix, sys.executable, "-c", _NO_PERMISSION_CHILD, str(target)],
                capture_output=True, text=True, timeout=60,
            )
            assert out.returncode == 0, out.stderr
            assert out.stdout.startswith("StoreError cannot create or open results database")
            assert "permission denied" in out.stdout
            assert out.stdout.count("\n") == 1
            assert _listing(locked) == []
        # An existing database in a folder where SQLite cannot create its -wal and -shm files.
        locked.chmod(0o700)
        ResultsStore(locked / "old.sqlite").close()
        before = (locked / "old.sqlite").read_bytes()
        locked.chmod(0o500)
        out = subprocess.run(
            [*prefix, sys.executable, "-c", _NO_PERMISSION_CHILD, str(locked / "old.sqlite")],
            capture_output=True, text=True, timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("StoreError cannot write results database")
        assert "or its folder" in out.stdout and out.stdout.count("\n") == 1
        assert _listing(locked) == ["old.sqlite"]
        assert (locked / "old.sqlite").read_bytes() == before
    finally:
        locked.chmod(0o700)


# -- schema versions
# Version 1 as an audiolab of that version wrote it: written out here by hand, not taken from
# the migration code, so that a change to migration 1 cannot go unnoticed.
_V1_BY_HAND = """
PRAGMA application_id = 1095524706;
CREATE TABLE subjects (id INTEGER PRIMARY KEY AUTOINCREMENT, pseudonym TEXT NOT NULL UNIQUE,
    created_utc TEXT NOT NULL);
CREATE TABLE sessions (id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_id INTEGER NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
    experiment_name TEXT NOT NULL, experiment_toml TEXT NOT NULL, experiment_sha256 TEXT NOT NULL,
    calibration TEXT NOT NULL, calibration_sha256 TEXT NOT NULL, software_version TEXT NOT NULL,
    seed INTEGER NOT NULL, listener TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'aborted')),
    started_utc TEXT NOT NULL, ended_utc TEXT);
CREATE INDEX sessions_subject ON sessions(subject_id);
CREATE TABLE trials (session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    trial_index INTEGER NOT NULL CHECK (trial_index >= 0), track TEXT NOT NULL, variable REAL,
    presented_json TEXT NOT NULL, onset_frame INTEGER, offset_frame INTEGER,
    response TEXT NOT NULL, correct INTEGER CHECK (correct IN (0, 1)), response_time_ms REAL,
    state_json TEXT NOT NULL, time_utc TEXT NOT NULL, PRIMARY KEY (session_id, trial_index));
CREATE TRIGGER trials_never_updated BEFORE UPDATE ON trials
BEGIN SELECT RAISE(ABORT, 'trials are never updated'); END;
CREATE TRIGGER trials_deleted_only_by_erasure BEFORE DELETE ON trials
WHEN EXISTS (SELECT 1 FROM sessions WHERE id = OLD.session_id)
BEGIN SELECT RAISE(ABORT, 'trials are deleted only by erasing their subject'); END;
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    time_utc TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('start', 'pause', 'resume', 'abort', 'end')),
    detail TEXT NOT NULL);
CREATE INDEX events_session ON events(session_id);
INSERT INTO subjects VALUES (1, 'OLD7', '2026-01-02T03:04:05.000000+00:00');
INSERT INTO sessions VALUES (1, 1, 'audiogram', 'x = 1', 'e4', 'virtual ideal calibration', 'c1',
    '0.0.9', 5, 'simulated:N1', 'completed', '2026-01-02T03:04:05.000000+00:00',
    '2026-01-02T03:14:05.000000+00:00');
INSERT INTO trials VALUES (1, 0, '1000 Hz right', 40.0, '{"frequency_hz": 1000}', NULL, NULL,
    'yes', NULL, 812.5, '{"phase": "familiarise"}', '2026-01-02T03:05:00.000000+00:00');
INSERT INTO events VALUES (1, 1, '2026-01-02T03:04:05.000000+00:00', 'start', '');
PRAGMA user_version = 1;
"""


def test_a_version_1_file_is_migrated_and_keeps_its_data(tmp_path):
    db = tmp_path / "v1.sqlite"
    conn = sqlite3.connect(db)
    conn.executescript(_V1_BY_HAND)
    conn.close()
    with ResultsStore(db) as store:
        assert store.migrated_from == 1
        assert store.schema_version == 2
        old = store.session(1)
        assert (old.subject, old.experiment_name, old.status, old.seed) == (
            "OLD7", "audiogram", "completed", 5)
        assert old.live is None and old.lost_callbacks is None and old.xruns is None
        [trial] = store.trials(1)
        assert trial.presented == {"frequency_hz": 1000} and trial.response == "yes"
        assert trial.correct is None and trial.response_time_ms == 812.5
        live = LiveRun(device="dummy", host_api="JACK Audio Connection Kit", fs=48000,
                       block_size_samples=256)
        sid = _start(store, subject="OLD7", live=live)
        assert sid == 2
        _trial(store, sid, 0, onset_frame=48000, offset_frame=57600)
        store.end_session(sid, lost_callbacks=0, xruns=3)
        new = store.session(sid)
        assert new.live == live and (new.lost_callbacks, new.xruns) == (0, 3)
        assert new.status == "completed"
        assert [r["trial_index"] for r in store.export_trials(subject="OLD7")] == [0, 0]
        integrity = store._db().execute("PRAGMA integrity_check").fetchone()[0]
        assert integrity == "ok"


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path):
    db = tmp_path / "future.sqlite"
    ResultsStore(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(FileFormatError, match=r"schema version 7, newer than this audiolab "
                                              r"knows \(2\); open it with a newer audiolab"):
        ResultsStore(db)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 5
    conn.close()


# -- sessions, trials, events
def test_session_holds_everything_it_was_started_with(tmp_path):
    calibration = 'device = "RME"\n[left]\npa_per_fs = 2.1\n'
    with ResultsStore(tmp_path / "r.sqlite") as store:
        sid = _start(store, calibration=calibration, seed=2**63 - 1)
        s = store.session(sid)
    assert s.id == sid and s.subject == "P01"
    assert s.experiment_toml == EXPERIMENT
    assert s.experiment_sha256 == (
        __import__("hashlib").sha256(EXPERIMENT.encode()).hexdigest()
    )
    assert s.calibration == calibration and len(s.calibration_sha256) == 64
    assert (s.software_version, s.seed, s.status, s.ended_utc) == ("0.1.0", 2**63 - 1,
                                                                    "running", None)
    started = datetime.datetime.fromisoformat(s.started_utc)
    assert started.tzinfo is not None and started.utcoffset() == datetime.timedelta(0)


def test_trials_come_back_in_order_as_recorded_for_replay(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        sid = _start(store)
        recorded = [
            _trial(store, sid, i, track="AB"[i % 2], response=str(1 + i % 3),
                   correct=[True, False, None][i % 3], onset_frame=1000 * i,
                   offset_frame=1000 * i + 480, response_time_ms=250.0 + i,
                   state={"reversals": [1.5] * i, "nested": {"k": i}})
            for i in range(7)
        ]
        assert store.trials(sid) == recorded
        assert [t.index for t in recorded] == list(range(7))
        assert recorded[4].state == {"reversals": [1.5] * 4, "nested": {"k": 4}}
        assert recorded[2].correct is None and recorded[1].correct is False


def test_duplicate_and_gapped_trial_indices_are_refused(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        sid = _start(store)
        _trial(store, sid, 0, response="1")
        _trial(store, sid, 1, response="1")
        with pytest.raises(ConfigError, match="trial index 1 of session 1 is already stored"):
            _trial(store, sid, 1, response="3")
        with pytest.raises(ConfigError, match="would leave a gap: 2 trials are stored"):
            _trial(store, sid, 3)
        assert [t.response for t in store.trials(sid)] == ["1", "1"]


def test_trials_are_never_updated_or_deleted_outside_erasure(tmp_path):
    db = tmp_path / "r.sqlite"
    with ResultsStore(db) as store:
        _trial(store, _start(store), 0)
    conn = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError, match="never updated"):
        conn.execute("UPDATE trials SET response = '3'")
    with pytest.raises(sqlite3.IntegrityError, match="only by erasing their subject"):
        conn.execute("DELETE FROM trials")
    conn.close()


def test_session_life_cycle_and_its_events(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        sid = _start(store)
        _trial(store, sid, 0)
        store.record_event(sid, kind="pause", detail="subject asked for a break")
        store.record_event(sid, kind="resume")
        store.end_session(sid, status="aborted", detail="fire alarm")
        assert store.session(sid).status == "aborted"
        with pytest.raises(ConfigError, match="session 1 is aborted; open_session"):
            _trial(store, sid, 1)
        resumed = store.open_session(sid)
        assert resumed.status == "running" and resumed.ended_utc is None
        _trial(store, sid, 1)
        store.end_session(sid)
        with pytest.raises(ConfigError, match="session 1 is completed; start a new session"):
            store.open_session(sid)
        with pytest.raises(ConfigError, match="is completed, not running"):
            store.end_session(sid)
        kinds = [(e.kind, e.detail) for e in store.events(sid)]
        assert kinds == [("start", ""), ("pause", "subject asked for a break"), ("resume", ""),
                         ("abort", "fire alarm"), ("resume", "was aborted"), ("end", "")]
        assert store.session(sid).ended_utc is not None


def test_a_killed_session_stays_running_and_resumes_where_it_stopped(tmp_path):
    db = tmp_path / "r.sqlite"
    store = ResultsStore(db)
    sid = _start(store)
    for i in range(4):
        _trial(store, sid, i)
    del store  # no end_session: what a killed process leaves
    with ResultsStore(db) as again:
        assert again.session(sid).status == "running"
        again.open_session(sid)
        done = again.trials(sid)
        _trial(again, sid, len(done))
        assert [t.index for t in again.trials(sid)] == [0, 1, 2, 3, 4]


def test_live_counts_only_for_live_sessions(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        sid = _start(store)
        with pytest.raises(ConfigError, match="lost_callbacks and xruns are for live runs"):
            store.end_session(sid, xruns=1)
        assert store.session(sid).status == "running"


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"device": "", "host_api": "ALSA", "fs": 48000, "block_size_samples": 256},
         ConfigError, "device must not be empty"),
        ({"device": "d", "host_api": "ALSA", "fs": 100, "block_size_samples": 256},
         ConfigError, r"fs must be in \[1000, 768000\], got 100"),
        ({"device": "d", "host_api": "ALSA", "fs": 48000, "block_size_samples": 0},
         ConfigError, r"block_size_samples must be in \[1, 65536\], got 0"),
        ({"device": "d", "host_api": 3, "fs": 48000, "block_size_samples": 64},
         SignalTypeError, "host_api must be a string, got int"),
    ],
)
def test_live_run_is_validated(kwargs, error, words):
    with pytest.raises(error, match=words):
        LiveRun(**kwargs)


@pytest.mark.parametrize(
    "overrides, error, words",
    [
        ({"index": -1}, ConfigError, r"index must be in \[0, "),
        ({"index": 0.0}, ConfigError, "index must be an integer, got 0.0"),
        ({"variable": float("nan")}, ConfigError, "variable must be in"),
        ({"variable": "40"}, ConfigError, "variable must be a real number, got '40'"),
        ({"presented": {"x": float("inf")}}, ConfigError, "presented must hold only JSON"),
        ({"presented": {"x": object()}}, ConfigError, "presented must hold only JSON"),
        ({"presented": [1, 2]}, SignalTypeError, "presented must be a dict, got list"),
        ({"state": None}, SignalTypeError, "state must be a dict, got NoneType"),
        ({"response": True}, SignalTypeError, "response must be a str or int, got bool"),
        ({"response": ""}, ConfigError, "response must not be empty"),
        ({"correct": 1}, SignalTypeError, "correct must be a bool or None, got int"),
        ({"track": ""}, ConfigError, "track must not be empty"),
        ({"onset_frame": -5}, ConfigError, r"onset_frame must be in \[0, "),
        ({"onset_frame": 100, "offset_frame": 99}, ConfigError,
         r"offset_frame must be >= onset_frame \(100\), got 99"),
        ({"response_time_ms": -1.0}, ConfigError, r"response_time_ms must be in \[0, 8.64e\+07\]"),
    ],
)
def test_hostile_trial_values_are_refused_and_nothing_is_stored(tmp_path, overrides, error,
                                                                 words):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        sid = _start(store)
        with pytest.raises(error, match=words):
            args = dict(overrides)
            _trial(store, sid, args.pop("index", 0), **args)
        assert store.trials(sid) == []


def test_unknown_sessions_and_hostile_session_values_are_refused(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        with pytest.raises(ConfigError, match="session_id 9: no such session"):
            store.trials(9)
        with pytest.raises(ConfigError, match="session_id 9: no such session"):
            _trial(store, 9, 0)
        with pytest.raises(ConfigError, match=r"session_id must be in \[1, "):
            store.session(0)
        with pytest.raises(ConfigError, match=r"seed must be in \[0, "):
            _start(store, seed=-1)
        with pytest.raises(ConfigError, match="experiment_name must not be empty"):
            _start(store, experiment_name=" ")
        with pytest.raises(SignalTypeError, match="live must be a LiveRun or None, got dict"):
            _start(store, live={"device": "x"})
        with pytest.raises(ConfigError, match="kind must be one of 'pause', 'resume'"):
            store.record_event(1, kind="end")
        with pytest.raises(ConfigError, match="status must be one of 'completed', 'aborted'"):
            store.end_session(1, status="running")
        assert store.sessions() == [] and store.subjects() == []
    with pytest.raises(ConfigError, match="is closed"):
        store.sessions()


def test_numpy_values_in_presented_and_state_are_stored_as_numbers(tmp_path):
    import numpy as np

    with ResultsStore(tmp_path / "r.sqlite") as store:
        sid = _start(store)
        t = _trial(store, sid, 0, presented={"level": np.float32(1.5), "n": np.int64(3)},
                   state={"posterior": np.array([0.25, 0.75])})
        assert t.presented == {"level": 1.5, "n": 3}
        assert store.trials(sid)[0].state == {"posterior": [0.25, 0.75]}


@given(
    payload=st.dictionaries(
        st.text(max_size=8),
        st.recursive(
            st.none() | st.booleans() | st.integers(-(2**53), 2**53)
            | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=4)
            | st.dictionaries(st.text(max_size=5), inner, max_size=4),
            max_leaves=12,
        ),
        max_size=5,
    ),
    response=st.text(min_size=1, max_size=30).filter(lambda s: s.strip() and "\x00" not in s),
)
def test_presented_state_and_response_round_trip_exactly(payload, response):
    with tempfile.TemporaryDirectory() as folder, ResultsStore(Path(folder) / "r.sqlite") as s:
        sid = _start(s)
        _trial(s, sid, 0, presented=payload, state=payload, response=response)
        [t] = s.trials(sid)
        assert t.presented == payload and t.state == payload and t.response == response


# -- pseudonyms
@pytest.mark.parametrize(
    "ok", ["P01", "S-3_a.b", "a" * 64, "3102901234", "310290-123", "123456789", "2902011234x"]
)
def test_pseudonyms_accepted(ok):
    # 31 Feb is no date; 9 digits is no CPR; 29 Feb 1901 (and 1801, 2001) is no date.
    assert check_pseudonym(ok) == ok


@pytest.mark.parametrize(
    "bad, reason",
    [
        ("", "must have 1 to 64 characters, got 0"),
        ("a" * 65, "must have 1 to 64 characters, got 65"),
        ("jane@example.dk", "looks like an e-mail address"),
        ("jane.doe(at)example.com", "looks like an e-mail address"),
        ("010190-1234", "looks like a Danish CPR number"),
        ("0101901234", "looks like a Danish CPR number"),
        ("290200-1234", "looks like a Danish CPR number"),  # 29 Feb 2000 was a date
        ("P-010190-1234", "looks like a Danish CPR number"),
        ("x0101901234y", "looks like a Danish CPR number"),
        ("P 01", "has the character ' '"),
        ("Ø1", "has the character 'Ø'"),
        ("../x", "has the character '/'"),
        ("P01\n", "has the character '\\n'"),
    ],
)
def test_pseudonyms_refused_with_a_one_line_reason(bad, reason):
    with pytest.raises(ConfigError) as info:
        check_pseudonym(bad)
    assert reason in str(info.value) and "\n" not in str(info.value)


def test_a_refused_pseudonym_writes_nothing(tmp_path):
    db = tmp_path / "r.sqlite"
    with ResultsStore(db) as store:
        with pytest.raises(ConfigError, match="CPR"):
            _start(store, subject="120345-6789")
        with pytest.raises(SignalTypeError, match="must be a string, got int"):
            _start(store, subject=7)
        assert store.sessions() == [] and store.subjects() == []
    assert b"120345-6789" not in _raw(db)


@given(
    day=st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2099, 12, 31)),
    serial=st.integers(0, 9999),
    dash=st.booleans(),
    prefix=st.sampled_from(["", "P", "id-", "x."]),
)
def test_every_cpr_shaped_birth_date_is_refused(day, serial, dash, prefix):
    cpr = f"{day:%d%m%y}{'-' if dash else ''}{serial:04d}"
    with pytest.raises(ConfigError, match="CPR"):
        check_pseudonym(prefix + cpr)


@given(st.text(max_size=80))
def test_any_text_is_accepted_unchanged_or_refused_with_config_error(text):
    try:
        out = check_pseudonym(text)
    except ConfigError as exc:
        assert str(exc).startswith("subject pseudonym")
    else:
        assert out == text and "@" not in text and 1 <= len(text) <= 64
        assert all(c.isascii() and (c.isalnum() or c in "-_.") for c in text)


# -- erasure
def _raw(db):
    parts = [Path(str(db) + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
    return b"".join(p.read_bytes() for p in parts if p.exists())


def test_delete_subject_erases_every_byte_of_them_and_keeps_the_others(tmp_path):
    db = tmp_path / "r.sqlite"
    gone, kept = b"ZZ-ERASE-ME-77", b"KEEP-RESPONSE-4242"
    with ResultsStore(db) as store:
        for subject, response in ((b"P01", kept), (gone, b"ZEBRA-RESPONSE-31337")):
            for _ in range(2):
                sid = _start(store, subject=subject.decode())
                for i in range(30):
                    _trial(store, sid, i, response=response.decode(),
                           presented={"note": response.decode() * 3})
                store.record_event(sid, kind="pause", detail=response.decode())
                store.end_session(sid)
        before = _raw(db)
        # Positive control: the search finds what is there before erasure.
        assert gone in before and b"ZEBRA-RESPONSE-31337" in before and kept in before
        assert store.delete_subject(gone.decode()) == 2
        after = _raw(db)
        assert store.subjects() == ["P01"]
        assert len(store.export_trials()) == 60
        assert [s.subject for s in store.sessions()] == ["P01", "P01"]
        with pytest.raises(ConfigError, match="no such subject"):
            store.delete_subject(gone.decode())
        assert store._db().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert gone not in after and b"ZEBRA-RESPONSE-31337" not in after
    assert kept in after
    final = _raw(db)
    assert gone not in final and b"ZEBRA-RESPONSE-31337" not in final


def test_erasure_while_another_process_reads_says_so_and_completes_later(tmp_path):
    db = tmp_path / "r.sqlite"
    secret = b"QQ-SECRET-RESPONSE-99"
    with ResultsStore(db, busy_timeout_s=0.2) as store:
        sid = _start(store, subject="S9")
        for i in range(5):
            _trial(store, sid, i, response=secret.decode())
        reader = sqlite3.connect(db, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM trials").fetchone()  # holds a snapshot of the log
        with pytest.raises(AudiolabError, match="open in another process"):
            store.delete_subject("S9")
        assert store.subjects() == []
        reader.execute("COMMIT")
        reader.close()
        store.compact()
        assert secret not in _raw(db)


# -- export
def test_csv_export_is_one_row_per_trial_that_a_csv_reader_reads_back(tmp_path):
    tricky = 'a,"b"\nc'
    with ResultsStore(tmp_path / "r.sqlite") as store:
        s1 = _start(store, subject="P01")
        for i in range(3):
            _trial(store, s1, i, response=tricky if i == 1 else "2",
                   correct=None if i == 2 else True)
        s2 = _start(store, subject="P02", experiment_name="srt_matrix")
        _trial(store, s2, 0, variable=None, response=4, correct=None, onset_frame=960,
               offset_frame=1920, response_time_ms=1234.5)
        assert store.write_csv(tmp_path / "all.csv") == 4
        assert store.write_csv(tmp_path / "p02.csv", subject="P02") == 1
        assert store.write_csv(tmp_path / "s1.csv", session_id=s1) == 3
        assert store.write_csv(tmp_path / "none.csv", subject="P03") == 0
        expected = store.export_trials()
    with open(tmp_path / "all.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == EXPORT_COLUMNS
        rows = list(reader)
    assert [(r["session_id"], r["subject"], r["trial_index"]) for r in rows] == [
        ("1", "P01", "0"), ("1", "P01", "1"), ("1", "P01", "2"), ("2", "P02", "0")]
    assert rows[1]["response"] == tricky
    assert [r["correct"] for r in rows] == ["1", "1", "", ""]
    assert rows[3]["variable"] == "" and rows[3]["response"] == "4"
    assert float(rows[3]["response_time_ms"]) == 1234.5 and int(rows[3]["onset_frame"]) == 960
    assert [float(r["variable"]) for r in rows[:3]] == [60.0, 58.0, 56.0]
    assert json.loads(rows[0]["presented"]) == {"level_db_spl": 60.0, "target_interval": 2}
    assert rows[0]["state"] == expected[0]["state"]  # the same JSON text as export_trials
    assert json.loads(rows[0]["state"]) == {"n_reversals": 0, "step_db": 4.0}
    with open(tmp_path / "none.csv", encoding="utf-8") as f:
        assert f.read() == ",".join(EXPORT_COLUMNS) + "\n"
    assert (tmp_path / "all.csv").stat().st_mode & 0o777 == 0o600
    frame = pandas.read_csv(tmp_path / "all.csv")  # the reader the issue names
    assert frame.shape == (4, len(EXPORT_COLUMNS))
    assert list(frame["trial_index"]) == [0, 1, 2, 0]


def test_json_export_holds_the_same_rows(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        sid = _start(store)
        for i in range(3):
            _trial(store, sid, i, correct=bool(i % 2))
        assert store.write_json(tmp_path / "t.json", session_id=sid) == 3
        rows = store.export_trials(session_id=sid)
    assert json.loads((tmp_path / "t.json").read_text()) == rows
    assert [r["correct"] for r in rows] == [0, 1, 0]
    assert list(rows[0]) == list(EXPORT_COLUMNS)


def test_export_to_a_bad_place_is_refused_and_leaves_nothing(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        _trial(store, _start(store), 0)
        with pytest.raises(ConfigError, match="does not exist; create it first"):
            store.write_csv(tmp_path / "missing" / "x.csv")
        with pytest.raises(ConfigError, match="must be a file name, not a folder"):
            store.write_json(tmp_path)
        with pytest.raises(ConfigError, match="no such session"):
            store.write_csv(tmp_path / "x.csv", session_id=5)
    assert _listing(tmp_path) == ["r.sqlite"]


def test_a_damaged_database_is_refused_untouched(tmp_path, rng):
    db = tmp_path / "damaged.sqlite"
    with ResultsStore(db) as store:
        sid = _start(store)
        for i in range(20):
            _trial(store, sid, i, presented={"pad": "x" * 500})
    good = bytearray(db.read_bytes())
    # Keep the 100-byte file header (so the file still claims to be SQLite), scramble the rest
    # of the first page, where the schema lives.
    good[100:4096] = rng.integers(0, 256, 3996, dtype=np.uint8).tobytes()
    db.write_bytes(bytes(good))
    with pytest.raises(FileFormatError, match="is not a usable results database"):
        ResultsStore(db)
    assert db.read_bytes() == bytes(good)
    assert _listing(tmp_path) == ["damaged.sqlite"]


def test_a_nul_in_the_path_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="cannot create or open results database"):
        ResultsStore(str(tmp_path / "a\x00b.sqlite"))
    assert _listing(tmp_path) == []


def test_default_path_follows_xdg_data_home(monkeypatch, tmp_path):
    from audiolab.store import default_path

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_path() == tmp_path / "xdg" / "audiolab" / "results.sqlite"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")  # the XDG rule: absolute only
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / ".local" / "share" / "audiolab" / "results.sqlite"
    monkeypatch.delenv("XDG_DATA_HOME")
    with ResultsStore(default_path()) as store:
        _start(store)
    assert (tmp_path / "home" / ".local" / "share" / "audiolab").stat().st_mode & 0o777 == 0o700


def test_a_recorded_trial_is_committed_when_record_trial_returns(tmp_path):
    db = tmp_path / "r.sqlite"
    with ResultsStore(db) as store:
        sid = _start(store)
        other = sqlite3.connect(db)
        try:
            for i in range(3):
                _trial(store, sid, i)
                # Another connection sees it at once: no transaction is left open.
                assert other.execute("SELECT count(*) FROM trials").fetchone()[0] == i + 1
                assert not store._db().in_transaction
        finally:
            other.close()
