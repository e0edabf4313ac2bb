"""The results store: one SQLite file per lab or study, one committed transaction per trial."""

import contextlib
import csv
import datetime
import hashlib
import json
import os
import sqlite3
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from audiolab._errors import (
    AudiolabError,
    ConfigError,
    FileFormatError,
    SignalTypeError,
    StoreError,
)
from audiolab._validate import check_choice, check_int, check_real
from audiolab.store._pseudonym import check_pseudonym
from audiolab.store._schema import check_identity, migrate

__all__ = [
    "EVENT_KINDS",
    "EXPORT_COLUMNS",
    "SESSION_STATUSES",
    "VIRTUAL_IDEAL_CALIBRATION",
    "Event",
    "LiveRun",
    "ResultsStore",
    "Session",
    "Trial",
    "default_path",
]

VIRTUAL_IDEAL_CALIBRATION = "virtual ideal calibration"
SESSION_STATUSES = ("running", "completed", "aborted")
EVENT_KINDS = ("start", "pause", "resume", "abort", "end")
# One row per trial, these columns in this order, in export_trials, write_csv and write_json.
EXPORT_COLUMNS = (
    "session_id",
    "subject",
    "experiment_name",
    "trial_index",
    "track",
    "variable",
    "presented",
    "onset_frame",
    "offset_frame",
    "response",
    "correct",
    "response_time_ms",
    "state",
    "time_utc",
)
_SQLITE_HEADER = b"SQLite format 3\x00"
_MAX_INT64 = 2**63 - 1


def default_path() -> Path:
    """The default results database: ``audiolab/results.sqlite`` in the user's data folder.

    The data folder is ``$XDG_DATA_HOME`` when it is set to an absolute path, else
    ``~/.local/share`` (the XDG base-directory rule). Nothing is created here;
    :class:`ResultsStore` creates the file and missing folders owner-only.

    Returns
    -------
    pathlib.Path
        The path.

    Examples
    --------
    >>> default_path().name
    'results.sqlite'
    """
    base = os.environ.get("XDG_DATA_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / "audiolab" / "results.sqlite"


def _now_utc() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_text(name: str, value: Any, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise SignalTypeError(f"{name} must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise ConfigError(f"{name} must not be empty, got {value!r}")
    if "\x00" in value:
        raise ConfigError(f"{name} must not contain NUL characters")
    return value


def _to_json(name: str, value: Any) -> str:
    """``value`` as canonical JSON text (sorted keys, no NaN), naming ``name`` when it cannot be."""
    if not isinstance(value, Mapping):
        raise SignalTypeError(f"{name} must be a dict, got {type(value).__name__}")

    def plain(obj: Any) -> Any:
        # NumPy scalars and arrays (what procedures hold) become numbers and lists.
        if hasattr(obj, "tolist"):
            return obj.tolist()
        raise TypeError(type(obj).__name__)

    try:
        return json.dumps(value, sort_keys=True, allow_nan=False, default=plain)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{name} must hold only JSON values (str, finite numbers, bool, None, lists, dicts "
            f"with str keys), got {exc}"
        ) from None


@dataclass(frozen=True)
class LiveRun:
    """The audio set-up of a session presented on a device (absent for simulated runs).

    Parameters
    ----------
    device : str
        The device's name as the engine reports it.
    host_api : str
        The host API (e.g. ``"JACK Audio Connection Kit"``, ``"ALSA"``).
    fs : int
        Sample rate in Hz, [1000, 768000].
    block_size_samples : int
        Frames per audio callback, [1, 65536].

    Examples
    --------
    >>> LiveRun(device="dummy", host_api="JACK Audio Connection Kit", fs=48000,
    ...         block_size_samples=256).fs
    48000
    """

    device: str
    host_api: str
    fs: int
    block_size_samples: int

    def __post_init__(self) -> None:
        _check_text("device", self.device)
        _check_text("host_api", self.host_api)
        check_int("fs", self.fs, low=1000, high=768000)
        check_int("block_size_samples", self.block_size_samples, low=1, high=65536)


@dataclass(frozen=True)
class Session:
    """One stored session: who, what, with which calibration and software, and how it ended.

    Attributes
    ----------
    id : int
        The session's number in its database (never reused, also after erasure).
    subject : str
        The subject's pseudonym.
    experiment_name : str
        The experiment's name (``[experiment] name`` of its file).
    experiment_toml : str
        The experiment file's full text.
    experiment_sha256 : str
        SHA-256 of ``experiment_toml`` (UTF-8), hex.
    calibration : str
        The calibration file's full text, or :data:`VIRTUAL_IDEAL_CALIBRATION`.
    calibration_sha256 : str
        SHA-256 of ``calibration`` (UTF-8), hex.
    software_version : str
        The audiolab version that ran the session.
    seed : int
        The seed of the procedure and listener; with the trials it reconstructs the session.
    listener : str
        How the listener was described (``"person"``, ``"simulated:N3"``, ...).
    status : str
        ``"running"``, ``"completed"`` or ``"aborted"``. A session whose process was killed stays
        ``"running"`` until it is resumed and ended.
    started_utc, ended_utc : str or None
        ISO 8601 times in UTC; ``ended_utc`` is None while running.
    live : LiveRun or None
        The audio set-up of a live run; None for simulated runs.
    lost_callbacks, xruns : int or None
        The engine's counts over a live session, set when it ends; None otherwise.
    """

    id: int
    subject: str
    experiment_name: str
    experiment_toml: str
    experiment_sha256: str
    calibration: str
    calibration_sha256: str
    software_version: str
    seed: int
    listener: str
    status: str
    started_utc: str
    ended_utc: str | None
    live: LiveRun | None
    lost_callbacks: int | None
    xruns: int | None


@dataclass(frozen=True)
class Trial:
    """One stored trial, as the procedure and the runner recorded it.

    Attributes
    ----------
    session_id : int
        The session it belongs to.
    index : int
        Its place in the session, from 0, over all tracks.
    track : str
        The track (of interleaved tracks) it belongs to.
    variable : float or None
        The procedure's variable on this trial (e.g. a level in dB), None if it has none.
    presented : dict
        What was presented (stimulus parameters, interval of the target...).
    onset_frame, offset_frame : int or None
        Stream frames of the stimulus onset and offset from the player; None when simulated.
    response : str
        The listener's response as text (``"2"``, ``"yes"``, ``"4"`` words...).
    correct : bool or None
        Whether the response was correct, None where that has no meaning.
    response_time_ms : float or None
        Response time in ms from the end of the stimulus, None when not measured.
    state : dict
        The procedure's compact state after the response (bounded,
        ``audiolab.experiments.Procedure.compact_state``; the full state is rebuilt from the
        seed and the responses).
    time_utc : str
        ISO 8601 time in UTC when the trial was stored.
    """

    session_id: int
    index: int
    track: str
    variable: float | None
    presented: dict[str, Any]
    onset_frame: int | None
    offset_frame: int | None
    response: str
    correct: bool | None
    response_time_ms: float | None
    state: dict[str, Any]
    time_utc: str


@dataclass(frozen=True)
class Event:
    """One session event: ``kind`` in :data:`EVENT_KINDS`, a UTC time and a free-text detail."""

    session_id: int
    time_utc: str
    kind: str
    detail: str


_SESSION_SELECT = """
SELECT s.id, p.pseudonym, s.experiment_name, s.experiment_toml, s.experiment_sha256,
       s.calibration, s.calibration_sha256, s.software_version, s.seed, s.listener, s.status,
       s.started_utc, s.ended_utc, s.device, s.host_api, s.fs, s.block_size_samples,
       s.lost_callbacks, s.xruns
FROM sessions AS s JOIN subjects AS p ON p.id = s.subject_id
"""


def _session_from_row(row: tuple[Any, ...]) -> Session:
    live = None
    if row[13] is not None:
        live = LiveRun(device=row[13], host_api=row[14], fs=row[15], block_size_samples=row[16])
    return Session(
        id=row[0], subject=row[1], experiment_name=row[2], experiment_toml=row[3],
        experiment_sha256=row[4], calibration=row[5], calibration_sha256=row[6],
        software_version=row[7], seed=row[8], listener=row[9], status=row[10],
        started_utc=row[11], ended_utc=row[12], live=live, lost_callbacks=row[17], xruns=row[18],
    )


def _translate(exc: sqlite3.Error, name: str) -> AudiolabError:
    """An sqlite3 error as the one-line audiolab error it means."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return StoreError(
            f"{name} stayed locked by another process beyond the busy timeout ({text})"
        )
    if isinstance(exc, sqlite3.OperationalError) and "unable to open" in text:
        return StoreError(
            f"cannot open {name}: SQLite cannot open it or create its -wal and -shm files "
            f"beside it (is the folder writable?) ({text})"
        )
    if isinstance(exc, sqlite3.OperationalError) and ("readonly" in text or "read-only" in text):
        return StoreError(
            f"cannot write {name}: the file, or its folder where SQLite keeps its -wal and -shm "
            f"files, is read-only for this user ({text})"
        )
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.IntegrityError):
        return FileFormatError(f"{name} is not a usable results database: {text}")
    return StoreError(f"{name}: {text}")


class ResultsStore:
    """An audiolab results database: subjects, sessions, trials and session events.

    Opening a path that does not exist creates the file, readable and writable by its owner only
    (mode 0600, created before SQLite opens it, whatever the umask) and its missing parent folders
    (mode 0700). The database runs in WAL mode with ``synchronous=FULL``: :meth:`record_trial`
    returns only after its transaction is committed and on disk, so a crash or ``kill -9`` loses
    no trial it reported. Several processes may write one database at once; a writer waits up to
    ``busy_timeout_s`` for another's transaction rather than failing. The schema is versioned
    (``PRAGMA user_version``) and migrated forward on opening; a newer schema is refused.

    Trials are never updated; they are deleted only by :meth:`delete_subject`, which erases a
    subject's every session, trial and event and compacts the file so the data leaves it.

    One store object is one SQLite connection: use it from the thread that opened it.

    Parameters
    ----------
    path : str or os.PathLike
        The database file (by convention ``*.sqlite``).
    create : bool
        Create the file when it is missing (default). With False a missing file is an error,
        which is what a reader (export, plots) wants.
    busy_timeout_s : float
        How long a write waits for another process's transaction, in s, (0, 3600] (default 30).

    Raises
    ------
    StoreError
        If the file or its folder cannot be created or opened (permissions, a file where a folder
        should be), or it is missing and ``create`` is False. Nothing is left behind.
    FileFormatError
        If the file is not an SQLite database, belongs to another application or has a newer
        schema than this audiolab knows.

    Examples
    --------
    >>> import tempfile, os
    >>> db = os.path.join(tempfile.mkdtemp(), "results.sqlite")
    >>> with ResultsStore(db) as store:
    ...     sid = store.start_session(
    ...         subject="P01", experiment_name="demo", experiment_toml="[experiment]",
    ...         calibration=VIRTUAL_IDEAL_CALIBRATION, software_version="0.1.0", seed=1,
    ...         listener="psychometric:midpoint=0,slope=1,lapse=0")
    ...     _ = store.record_trial(sid, index=0, track="A", variable=10.0,
    ...                            presented={"level_db_spl": 10.0}, response="2", correct=True,
    ...                            state={"step_db": 4.0})
    ...     store.end_session(sid)
    ...     [row["response"] for row in store.export_trials(session_id=sid)]
    ['2']
    >>> oct(os.stat(db).st_mode & 0o777)
    '0o600'
    """

    def __init__(
        self, path: str | os.PathLike[str], *, create: bool = True, busy_timeout_s: float = 30.0
    ) -> None:
        if not isinstance(path, str | os.PathLike):
            raise SignalTypeError(f"path must be a str or path, got {type(path).__name__}")
        self._path = Path(path)
        if not str(path) or str(path) == ":memory:":
            raise ConfigError(f"path must name a database file, got {str(path)!r}")
        self._name = f"results database {self._path}"
        timeout_s = check_real("busy_timeout_s", busy_timeout_s, low=0, high=3600, low_open=True)
        created: list[Path] = []  # what this call made, removed again if opening fails
        try:
            self._prepare_file(create, created)
            self._conn = self._connect(timeout_s)
        except BaseException:
            for made in reversed(created):
                with contextlib.suppress(OSError):
                    if made.is_dir():
                        made.rmdir()
                    else:
                        for suffix in ("-wal", "-shm", "-journal"):
                            Path(str(made) + suffix).unlink(missing_ok=True)
                        made.unlink()
            raise

    # -- opening
    def _prepare_file(self, create: bool, created: list[Path]) -> None:
        path = self._path
        try:
            if path.is_dir():
                raise StoreError(f"{self._name} is a folder; give a file name")
            if not path.exists():
                if not create:
                    raise StoreError(f"{self._name} does not exist")
                missing = []
                parent = path.parent
                while not parent.exists():
                    missing.append(parent)
                    parent = parent.parent
                for folder in reversed(missing):
                    try:
                        folder.mkdir(mode=0o700)
                    except FileExistsError:
                        if folder.is_dir():
                            continue  # another process made it just now
                        raise
                    created.append(folder)
                try:
                    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                except FileExistsError:
                    pass  # another process created it just now: open it like any existing file
                else:
                    created.append(path)
                    os.close(fd)
                    return
            if not stat.S_ISREG(path.stat().st_mode):
                raise StoreError(f"{self._name} is not a regular file")
            with open(path, "rb") as f:
                header = f.read(len(_SQLITE_HEADER))
        except PermissionError as exc:
            raise StoreError(
                f"cannot create or open {self._name}: permission denied on {exc.filename}"
            ) from None
        except (NotADirectoryError, FileExistsError) as exc:
            raise StoreError(
                f"cannot create {self._name}: {exc.filename} is a file, not a folder"
            ) from None
        except OSError as exc:
            raise StoreError(f"cannot create or open {self._name}: {exc.strerror}") from None
        except ValueError as exc:  # e.g. a NUL character in the path
            raise StoreError(f"cannot create or open {self._name}: {exc}") from None
        # An empty file is what a creator leaves between os.open and its first transaction.
        if header and header != _SQLITE_HEADER:
            raise FileFormatError(f"{self._name} is not an SQLite database (its header is not "
                                  "SQLite's); not an audiolab results store")

    def _connect(self, timeout_s: float) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self._path, timeout=timeout_s, isolation_level=None)
        except sqlite3.Error as exc:
            raise _translate(exc, self._name) from None
        try:
            # Per connection; journal_mode=WAL persists in the file (DESIGN.md, pitfalls).
            conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")
            # Refuse a foreign or newer file before anything below writes to it.
            check_identity(conn, name=self._name)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise FileFormatError(f"{self._name} cannot be put in WAL mode (got {mode!r})")
            conn.execute("PRAGMA synchronous = FULL")
            self._found_version = migrate(conn, name=self._name)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise _translate(exc, self._name) from None
            raise
        return conn

    def close(self) -> None:
        """Close the connection (committed data is already on disk). Closing twice is harmless."""
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()
            self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> "ResultsStore":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def schema_version(self) -> int:
        """The schema version of the open file (always :data:`SCHEMA_VERSION` once open)."""
        return int(self._db().execute("PRAGMA user_version").fetchone()[0])

    @property
    def migrated_from(self) -> int:
        """The schema version the file had when this store opened it (0 for a new file)."""
        return self._found_version

    # -- plumbing
    def _db(self) -> sqlite3.Connection:
        if getattr(self, "_conn", None) is None:
            raise StoreError(f"{self._name} is closed")
        return self._conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: taken at once (BEGIN IMMEDIATE), committed or rolled back."""
        conn = self._db()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _translate(exc, self._name) from None
        try:
            yield conn
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise _translate(exc, self._name) from None
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise _translate(exc, self._name) from None

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _translate(exc, self._name) from None

    def _check_session_id(self, session_id: Any) -> int:
        return check_int("session_id", session_id, low=1, high=_MAX_INT64)

    def _status(self, conn: sqlite3.Connection, session_id: int) -> str:
        row = conn.execute("SELECT status FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise StoreError(f"session_id {session_id}: no such session in {self._name}")
        return str(row[0])

    # -- sessions
    def start_session(
        self,
        *,
        subject: str,
        experiment_name: str,
        experiment_toml: str,
        calibration: str,
        software_version: str,
        seed: int,
        listener: str,
        live: LiveRun | None = None,
    ) -> int:
        """Store a new running session (and its subject if new) with a ``start`` event.

        Parameters
        ----------
        subject : str
            The subject's pseudonym; see :func:`check_pseudonym` for what is refused.
        experiment_name : str
            The experiment's name.
        experiment_toml : str
            The experiment file's full text; its SHA-256 is computed and stored beside it.
        calibration : str
            The calibration file's full text, or :data:`VIRTUAL_IDEAL_CALIBRATION` for a
            simulated run without one.
        software_version : str
            The audiolab version running the session.
        seed : int
            The session's seed, [0, 2**63 - 1].
        listener : str
            The listener's description (``"person"``, ``"simulated:N3"``, ...).
        live : LiveRun, optional
            The audio set-up of a live run; None (default) for a simulated run.

        Returns
        -------
        int
            The new session's id.

        Examples
        --------
        >>> import tempfile, os
        >>> with ResultsStore(os.path.join(tempfile.mkdtemp(), "r.sqlite")) as store:
        ...     sid = store.start_session(
        ...         subject="P02", experiment_name="x", experiment_toml="",
        ...         calibration=VIRTUAL_IDEAL_CALIBRATION, software_version="0.1.0", seed=7,
        ...         listener="simulated:N3")
        ...     store.session(sid).status
        'running'
        """
        check_pseudonym(subject)
        _check_text("experiment_name", experiment_name)
        _check_text("experiment_toml", experiment_toml, allow_empty=True)
        _check_text("calibration", calibration)
        _check_text("software_version", software_version)
        seed = check_int("seed", seed, low=0, high=_MAX_INT64)
        _check_text("listener", listener)
        if live is not None and not isinstance(live, LiveRun):
            raise SignalTypeError(f"live must be a LiveRun or None, got {type(live).__name__}")
        now = _now_utc()
        with self._write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO subjects (pseudonym, created_utc) VALUES (?, ?)",
                (subject, now),
            )
            cur = conn.execute(
                "INSERT INTO sessions (subject_id, experiment_name, experiment_toml, "
                "experiment_sha256, calibration, calibration_sha256, software_version, seed, "
                "listener, status, started_utc, device, host_api, fs, block_size_samples) "
                "VALUES ((SELECT id FROM subjects WHERE pseudonym = ?), ?, ?, ?, ?, ?, ?, ?, ?, "
                "'running', ?, ?, ?, ?, ?)",
                (
                    subject, experiment_name, experiment_toml, _sha256(experiment_toml),
                    calibration, _sha256(calibration), software_version, seed, listener, now,
                    live.device if live else None, live.host_api if live else None,
                    live.fs if live else None, live.block_size_samples if live else None,
                ),
            )
            session_id = int(cur.lastrowid or 0)
            conn.execute(
                "INSERT INTO events (session_id, time_utc, kind, detail) "
                "VALUES (?, ?, 'start', '')",
                (session_id, now),
            )
        return session_id

    def session(self, session_id: int) -> Session:
        """The stored session ``session_id`` (read only; see :meth:`open_session` to resume)."""
        session_id = self._check_session_id(session_id)
        rows = self._read(_SESSION_SELECT + " WHERE s.id = ?", (session_id,))
        if not rows:
            raise StoreError(f"session_id {session_id}: no such session in {self._name}")
        return _session_from_row(rows[0])

    def sessions(self, *, subject: str | None = None) -> list[Session]:
        """All stored sessions in order of id, or those of one subject."""
        if subject is None:
            rows = self._read(_SESSION_SELECT + " ORDER BY s.id")
        else:
            check_pseudonym(subject)
            rows = self._read(_SESSION_SELECT + " WHERE p.pseudonym = ? ORDER BY s.id", (subject,))
        return [_session_from_row(r) for r in rows]

    def subjects(self) -> list[str]:
        """The stored subjects' pseudonyms, sorted."""
        return [r[0] for r in self._read("SELECT pseudonym FROM subjects ORDER BY pseudonym")]

    def open_session(self, session_id: int) -> Session:
        """Reopen a session to continue it: it is running again, with a ``resume`` event.

        A session left ``running`` by a killed process, or ``aborted``, can be continued; a
        ``completed`` one cannot. Replay :meth:`trials` through the procedure (built from the
        session's seed) to restore its state, then record from ``len(trials)`` on.

        Raises
        ------
        StoreError
            If there is no such session, or it is completed.
        """
        session_id = self._check_session_id(session_id)
        with self._write() as conn:
            status = self._status(conn, session_id)
            if status == "completed":
                raise StoreError(
                    f"session {session_id} is completed; start a new session instead of resuming"
                )
            conn.execute(
                "UPDATE sessions SET status = 'running', ended_utc = NULL WHERE id = ?",
                (session_id,),
            )
            conn.execute(
                "INSERT INTO events (session_id, time_utc, kind, detail) "
                "VALUES (?, ?, 'resume', ?)",
                (session_id, _now_utc(), f"was {status}"),
            )
        return self.session(session_id)

    def end_session(
        self,
        session_id: int,
        *,
        status: str = "completed",
        detail: str = "",
        lost_callbacks: int | None = None,
        xruns: int | None = None,
    ) -> None:
        """End a running session as ``"completed"`` or ``"aborted"``, with its event.

        Parameters
        ----------
        session_id : int
            The session.
        status : {"completed", "aborted"}
            How it ended; stored with an ``end`` or ``abort`` event.
        detail : str
            Free text for the event (e.g. why it was aborted).
        lost_callbacks, xruns : int, optional
            The engine's counts over a live session, >= 0; only for sessions with a
            :class:`LiveRun`.
        """
        session_id = self._check_session_id(session_id)
        check_choice("status", status, ("completed", "aborted"))
        _check_text("detail", detail, allow_empty=True)
        counts = {}
        for name, value in (("lost_callbacks", lost_callbacks), ("xruns", xruns)):
            if value is not None:
                counts[name] = check_int(name, value, low=0, high=_MAX_INT64)
        now = _now_utc()
        with self._write() as conn:
            current = self._status(conn, session_id)
            if current != "running":
                raise StoreError(f"session {session_id} is {current}, not running; cannot end it")
            if counts:
                live = conn.execute(
                    "SELECT device FROM sessions WHERE id = ?", (session_id,)
                ).fetchone()[0]
                if live is None:
                    raise StoreError(
                        f"lost_callbacks and xruns are for live runs; session {session_id} "
                        "was not started with a LiveRun"
                    )
            conn.execute(
                "UPDATE sessions SET status = ?, ended_utc = ?, "
                "lost_callbacks = coalesce(?, lost_callbacks), xruns = coalesce(?, xruns) "
                "WHERE id = ?",
                (status, now, counts.get("lost_callbacks"), counts.get("xruns"), session_id),
            )
            kind = "end" if status == "completed" else "abort"
            conn.execute(
                "INSERT INTO events (session_id, time_utc, kind, detail) VALUES (?, ?, ?, ?)",
                (session_id, now, kind, detail),
            )

    def record_event(self, session_id: int, *, kind: str, detail: str = "") -> None:
        """Store a ``pause`` or ``resume`` event of a running session (one transaction).

        ``start``, ``end`` and ``abort`` are stored by :meth:`start_session`,
        :meth:`end_session` and :meth:`open_session`, with the session's status.
        """
        session_id = self._check_session_id(session_id)
        check_choice("kind", kind, ("pause", "resume"))
        _check_text("detail", detail, allow_empty=True)
        with self._write() as conn:
            current = self._status(conn, session_id)
            if current != "running":
                raise StoreError(f"session {session_id} is {current}; events need a running one")
            conn.execute(
                "INSERT INTO events (session_id, time_utc, kind, detail) VALUES (?, ?, ?, ?)",
                (session_id, _now_utc(), kind, detail),
            )

    def events(self, session_id: int) -> list[Event]:
        """The session's events in the order they were stored."""
        session_id = self._check_session_id(session_id)
        self.session(session_id)
        rows = self._read(
            "SELECT session_id, time_utc, kind, detail FROM events WHERE session_id = ? "
            "ORDER BY id",
            (session_id,),
        )
        return [Event(*r) for r in rows]

    # -- trials
    def record_trial(
        self,
        session_id: int,
        *,
        index: int,
        track: str,
        variable: float | None,
        presented: Mapping[str, Any],
        response: str | int,
        correct: bool | None,
        state: Mapping[str, Any],
        onset_frame: int | None = None,
        offset_frame: int | None = None,
        response_time_ms: float | None = None,
    ) -> Trial:
        """Store one answered trial in its own transaction; return after it is committed.

        With ``synchronous=FULL`` the commit is on disk when this returns, so a crash or
        ``kill -9`` after it loses nothing of the trial.

        Parameters
        ----------
        session_id : int
            A running session.
        index : int
            The trial's place in the session, from 0, over all tracks. It must be the next one:
            an index already stored is refused (a duplicate), and so is one that leaves a gap.
        track : str
            The track the trial belongs to (any non-empty name, e.g. ``"A"``).
        variable : float or None
            The procedure's variable (e.g. the level in dB); None if the procedure has none.
        presented : dict
            What was presented, JSON-serialisable (NumPy values become numbers and lists).
        response : str or int
            The response (interval number, ``"yes"``/``"no"``, words correct); stored as text.
        correct : bool or None
            Whether the response was correct; None where that has no meaning.
        state : dict
            The procedure's state after the response, JSON-serialisable; keep it bounded
            (the runner stores ``Procedure.compact_state()``), it is stored with every trial.
        onset_frame, offset_frame : int, optional
            Stream frames of the stimulus onset and offset, >= 0, offset >= onset.
        response_time_ms : float, optional
            Response time in ms, [0, 86400000].

        Returns
        -------
        Trial
            The trial as stored.

        Raises
        ------
        ConfigError
            For a value out of range.
        StoreError
            For a session that is not running, or an index that is already stored or leaves a
            gap.
        """
        session_id = self._check_session_id(session_id)
        index = check_int("index", index, low=0, high=_MAX_INT64)
        _check_text("track", track)
        if variable is not None:
            variable = check_real("variable", variable)
        presented_json = _to_json("presented", presented)
        state_json = _to_json("state", state)
        response_text = _check_answer(response, correct)
        frames = _check_frames(onset_frame, offset_frame)
        if response_time_ms is not None:
            response_time_ms = check_real(
                "response_time_ms", response_time_ms, low=0, high=86_400_000
            )
        now = _now_utc()
        row = (
            session_id, index, track, variable, presented_json, frames["onset_frame"],
            frames["offset_frame"], response_text, None if correct is None else int(correct),
            response_time_ms, state_json, now,
        )
        with self._write() as conn:
            self._insert_trial(conn, row)
        return Trial(
            session_id=session_id, index=index, track=track, variable=variable,
            presented=json.loads(presented_json), onset_frame=frames["onset_frame"],
            offset_frame=frames["offset_frame"], response=response_text, correct=correct,
            response_time_ms=response_time_ms, state=json.loads(state_json), time_utc=now,
        )

    def _insert_trial(self, conn: sqlite3.Connection, row: tuple[Any, ...]) -> None:
        """Insert one trial row inside the caller's transaction, as the session's next index."""
        session_id, index = row[0], row[1]
        status = self._status(conn, session_id)
        if status != "running":
            raise StoreError(
                f"session {session_id} is {status}; open_session() it to record trials"
            )
        n_stored = conn.execute(
            "SELECT count(*) FROM trials WHERE session_id = ?", (session_id,)
        ).fetchone()[0]
        if index > n_stored:
            raise StoreError(
                f"trial index {index} of session {session_id} would leave a gap: "
                f"{n_stored} trials are stored, so the next index is {n_stored}"
            )
        try:
            conn.execute(
                "INSERT INTO trials (session_id, trial_index, track, variable, "
                "presented_json, onset_frame, offset_frame, response, correct, "
                "response_time_ms, state_json, time_utc) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        except sqlite3.IntegrityError:
            raise StoreError(
                f"trial index {index} of session {session_id} is already stored; trials "
                f"are never overwritten (the next index is {n_stored})"
            ) from None

    def trials(self, session_id: int) -> list[Trial]:
        """The session's trials in index order, for replaying a procedure on resume."""
        session_id = self._check_session_id(session_id)
        self.session(session_id)
        rows = self._read(
            "SELECT session_id, trial_index, track, variable, presented_json, onset_frame, "
            "offset_frame, response, correct, response_time_ms, state_json, time_utc "
            "FROM trials WHERE session_id = ? ORDER BY trial_index",
            (session_id,),
        )
        return [
            Trial(
                session_id=r[0], index=r[1], track=r[2], variable=r[3],
                presented=json.loads(r[4]), onset_frame=r[5], offset_frame=r[6], response=r[7],
                correct=None if r[8] is None else bool(r[8]), response_time_ms=r[9],
                state=json.loads(r[10]), time_utc=r[11],
            )
            for r in rows
        ]

    # -- erasure
    def delete_subject(self, pseudonym: str) -> int:
        """Erase a subject: every session, trial and event, then compact the file.

        The rows are deleted in one transaction (with ``secure_delete``), the file is rebuilt
        with ``VACUUM`` and the write-ahead log is checkpointed and truncated, so the erased
        data no longer appears anywhere in the database file or its WAL.

        Parameters
        ----------
        pseudonym : str
            The subject to erase.

        Returns
        -------
        int
            The number of sessions erased.

        Raises
        ------
        StoreError
            If there is no such subject, or another process holds the database open so that
            the log cannot be truncated; the subject is erased from the tables, and its bytes
            leave the log at the next checkpoint. Close the other process and erase again to
            be sure.
        """
        check_pseudonym(pseudonym)
        with self._write() as conn:
            row = conn.execute(
                "SELECT id FROM subjects WHERE pseudonym = ?", (pseudonym,)
            ).fetchone()
            if row is None:
                raise StoreError(f"subject {pseudonym!r}: no such subject in {self._name}")
            n_sessions = conn.execute(
                "SELECT count(*) FROM sessions WHERE subject_id = ?", (row[0],)
            ).fetchone()[0]
            # Sessions, then (by ON DELETE CASCADE) their trials and events.
            conn.execute("DELETE FROM subjects WHERE id = ?", (row[0],))
        self.compact()
        return int(n_sessions)

    def compact(self) -> None:
        """Rebuild the file (``VACUUM``) and truncate its write-ahead log.

        Raises
        ------
        StoreError
            If another connection keeps the log from being truncated.
        """
        conn = self._db()
        try:
            conn.execute("VACUUM")
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            raise _translate(exc, self._name) from None
        if busy:
            raise StoreError(
                f"{self._name} is open in another process, so its write-ahead log could not be "
                "truncated; erased data may remain in the log until that process closes it"
            )

    # -- export
    def export_trials(
        self, *, session_id: int | None = None, subject: str | None = None
    ) -> list[dict[str, Any]]:
        """One flat row per trial, with its session and subject, for pandas, R or a CSV file.

        Rows are ordered by session, then trial index. Columns are :data:`EXPORT_COLUMNS`;
        ``presented`` and ``state`` are JSON text and ``correct`` is 1, 0 or None, so every cell
        is a scalar.

        Parameters
        ----------
        session_id : int, optional
            Only this session.
        subject : str, optional
            Only this subject's sessions.

        Returns
        -------
        list of dict
            The rows (empty when nothing matches).

        Examples
        --------
        >>> import tempfile, os
        >>> with ResultsStore(os.path.join(tempfile.mkdtemp(), "r.sqlite")) as store:
        ...     store.export_trials()
        []
        """
        where: list[str] = []
        params: list[Any] = []
        if session_id is not None:
            session_id = self._check_session_id(session_id)
            self.session(session_id)
            where.append("t.session_id = ?")
            params.append(session_id)
        if subject is not None:
            check_pseudonym(subject)
            where.append("p.pseudonym = ?")
            params.append(subject)
        sql = (
            "SELECT t.session_id, p.pseudonym, s.experiment_name, t.trial_index, t.track, "
            "t.variable, t.presented_json, t.onset_frame, t.offset_frame, t.response, "
            "t.correct, t.response_time_ms, t.state_json, t.time_utc "
            "FROM trials AS t JOIN sessions AS s ON s.id = t.session_id "
            "JOIN subjects AS p ON p.id = s.subject_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY t.session_id, t.trial_index"
        )
        return [dict(zip(EXPORT_COLUMNS, r, strict=True)) for r in self._read(sql, tuple(params))]

    def write_csv(
        self,
        path: str | os.PathLike[str] | TextIO,
        *,
        session_id: int | None = None,
        subject: str | None = None,
    ) -> int:
        """Write :meth:`export_trials` as CSV: a header row, then one row per trial.

        UTF-8, Unix line ends, an empty cell for None. ``pandas.read_csv(path)`` reads it as
        one row per trial without reshaping.

        Parameters
        ----------
        path : str, os.PathLike or text stream
            The output file, written in full or not at all and readable by its owner only (it
            holds what the database holds); or an open text stream such as ``sys.stdout``.
        session_id, subject : optional
            As :meth:`export_trials`.

        Returns
        -------
        int
            The number of trial rows written.

        Examples
        --------
        >>> import io, os, tempfile
        >>> with ResultsStore(os.path.join(tempfile.mkdtemp(), "r.sqlite")) as store:
        ...     out = io.StringIO()
        ...     store.write_csv(out)
        ...     out.getvalue().split(",")[:3]
        0
        ['session_id', 'subject', 'experiment_name']
        """
        rows = self.export_trials(session_id=session_id, subject=subject)
        with _output(path) as f:
            writer = csv.DictWriter(f, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        return len(rows)

    def write_json(
        self,
        path: str | os.PathLike[str] | TextIO,
        *,
        session_id: int | None = None,
        subject: str | None = None,
    ) -> int:
        """Write :meth:`export_trials` as a JSON array of row objects.

        Parameters and return value as :meth:`write_csv`.

        Examples
        --------
        >>> import io, os, tempfile
        >>> with ResultsStore(os.path.join(tempfile.mkdtemp(), "r.sqlite")) as store:
        ...     out = io.StringIO()
        ...     store.write_json(out)
        ...     out.getvalue().strip()
        0
        '[]'
        """
        rows = self.export_trials(session_id=session_id, subject=subject)
        with _output(path) as f:
            json.dump(rows, f, indent=1, allow_nan=False)
            f.write("\n")
        return len(rows)


@contextlib.contextmanager
def _output(path: str | os.PathLike[str] | TextIO) -> Iterator[TextIO]:
    """A text file written in full or not at all (a temporary file renamed into place)."""
    if not isinstance(path, str | os.PathLike):
        if not callable(getattr(path, "write", None)):
            raise SignalTypeError(
                f"path must be a str, path or text stream, got {type(path).__name__}"
            )
        yield path
        return
    out = Path(path)
    if not str(path) or out.is_dir():
        raise StoreError(f"export file {str(path)!r} must be a file name, not a folder")
    if not out.parent.is_dir():
        raise StoreError(f"export file {out}: folder {out.parent} does not exist; create it first")
    tmp: Path | None = None
    try:
        # mkstemp creates the file 0600: the export holds the same personal data as the database.
        fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
        tmp = Path(name)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            yield f
        os.replace(tmp, out)
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise StoreError(f"cannot write export file {out}: {exc.strerror or exc}") from None
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise


def _check_answer(response: Any, correct: Any) -> str:
    """The response as stored text, after checking its type and that of ``correct``."""
    if isinstance(response, bool) or not isinstance(response, str | int):
        raise SignalTypeError(f"response must be a str or int, got {type(response).__name__}")
    if correct is not None and not isinstance(correct, bool):
        raise SignalTypeError(f"correct must be a bool or None, got {type(correct).__name__}")
    return _check_text("response", str(response))


def _check_frames(onset_frame: Any, offset_frame: Any) -> dict[str, int | None]:
    """Checked stream frames of a stimulus' onset and offset (either may be None)."""
    frames: dict[str, int | None] = {}
    for name, value in (("onset_frame", onset_frame), ("offset_frame", offset_frame)):
        frames[name] = None if value is None else check_int(name, value, low=0, high=_MAX_INT64)
    onset, offset = frames["onset_frame"], frames["offset_frame"]
    if onset is not None and offset is not None and offset < onset:
        raise ConfigError(
            f"offset_frame must be >= onset_frame ({onset_frame}), got {offset_frame}"
        )
    return frames
