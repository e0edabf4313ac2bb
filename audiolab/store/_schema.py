"""The results store's schema: numbered migrations, applied in order inside one transaction.

``PRAGMA user_version`` holds the number of the last migration applied. A migration is never edited
once released; a change to the schema is a new migration at the end of :data:`MIGRATIONS`.
"""

import sqlite3

from audiolab._errors import FileFormatError

__all__ = ["APPLICATION_ID", "MIGRATIONS", "SCHEMA_VERSION", "check_identity", "migrate"]

# Written to the header so that an audiolab results file is recognisable as one ("ALab").
APPLICATION_ID = 0x414C6162

# 1: subjects, sessions, trials, events. Trials are never updated, and deleted only when their
#    session has gone (erasure of a subject); triggers hold that for any client of the file.
_V1 = f"""
PRAGMA application_id = {APPLICATION_ID};
CREATE TABLE subjects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pseudonym TEXT NOT NULL UNIQUE,
    created_utc TEXT NOT NULL
);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_id INTEGER NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
    experiment_name TEXT NOT NULL,
    experiment_toml TEXT NOT NULL,
    experiment_sha256 TEXT NOT NULL,
    calibration TEXT NOT NULL,
    calibration_sha256 TEXT NOT NULL,
    software_version TEXT NOT NULL,
    seed INTEGER NOT NULL,
    listener TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'aborted')),
    started_utc TEXT NOT NULL,
    ended_utc TEXT
);
CREATE INDEX sessions_subject ON sessions(subject_id);
CREATE TABLE trials (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    trial_index INTEGER NOT NULL CHECK (trial_index >= 0),
    track TEXT NOT NULL,
    variable REAL,
    presented_json TEXT NOT NULL,
    onset_frame INTEGER,
    offset_frame INTEGER,
    response TEXT NOT NULL,
    correct INTEGER CHECK (correct IN (0, 1)),
    response_time_ms REAL,
    state_json TEXT NOT NULL,
    time_utc TEXT NOT NULL,
    PRIMARY KEY (session_id, trial_index)
);
CREATE TRIGGER trials_never_updated BEFORE UPDATE ON trials
BEGIN
    SELECT RAISE(ABORT, 'trials are never updated');
END;
CREATE TRIGGER trials_deleted_only_by_erasure BEFORE DELETE ON trials
WHEN EXISTS (SELECT 1 FROM sessions WHERE id = OLD.session_id)
BEGIN
    SELECT RAISE(ABORT, 'trials are deleted only by erasing their subject');
END;
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    time_utc TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('start', 'pause', 'resume', 'abort', 'end')),
    detail TEXT NOT NULL
);
CREATE INDEX events_session ON events(session_id);
"""

# 2: live runs: the audio device, its host API, sample rate and block size, and the engine's lost
#    callbacks and xruns over the session. NULL for simulated runs and for sessions written by 1.
_V2 = """
ALTER TABLE sessions ADD COLUMN device TEXT;
ALTER TABLE sessions ADD COLUMN host_api TEXT;
ALTER TABLE sessions ADD COLUMN fs INTEGER;
ALTER TABLE sessions ADD COLUMN block_size_samples INTEGER;
ALTER TABLE sessions ADD COLUMN lost_callbacks INTEGER;
ALTER TABLE sessions ADD COLUMN xruns INTEGER;
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2)
SCHEMA_VERSION = len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    # Split a migration into statements; a trigger body holds semicolons, so keep reading until
    # sqlite3 says the statement is complete.
    out, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    if pending.strip():
        raise AssertionError(f"incomplete statement in a migration: {pending!r}")
    return out


def check_identity(conn: sqlite3.Connection, *, name: str) -> int:
    """Return the schema version of the database on ``conn`` if audiolab can open it, else raise.

    Only reads, so a refused file is left exactly as it was.

    Raises
    ------
    FileFormatError
        If the file is an SQLite database of another application, or its schema is newer than
        this version of audiolab knows.
    """
    # Reading the schema parses the first page: a damaged file fails here, before its header
    # fields below are taken at their word.
    n_tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    app = int(conn.execute("PRAGMA application_id").fetchone()[0])
    if app not in (0, APPLICATION_ID):
        raise FileFormatError(
            f"{name} is an SQLite database of another application "
            f"(application_id {app:#x}), not an audiolab results store"
        )
    if found == 0 and n_tables:
        raise FileFormatError(
            f"{name} is an SQLite database with {n_tables} tables but no audiolab "
            "schema version; not an audiolab results store"
        )
    if found > SCHEMA_VERSION:
        raise FileFormatError(
            f"{name} has results schema version {found}, newer than this audiolab knows "
            f"({SCHEMA_VERSION}); open it with a newer audiolab"
        )
    return found


def migrate(conn: sqlite3.Connection, *, name: str) -> int:
    """Bring the database on ``conn`` to :data:`SCHEMA_VERSION`; return the version found.

    Runs in one ``BEGIN IMMEDIATE`` transaction, so two processes opening a new file at once
    apply each migration once, and a failure leaves the file as it was. ``conn`` must be in
    autocommit mode (``isolation_level=None``). ``name`` is the file's name for messages.

    Raises
    ------
    FileFormatError
        As :func:`check_identity`, checked again under the write lock.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = check_identity(conn, name=name)
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for statement in _statements(MIGRATIONS[version - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found
