"""The results view's model, without Qt: sessions, one session's trials and plot, CSV export.

Each call opens the database for its own short read (a store object belongs to the thread that
opened it, and the runner may be writing the same file meanwhile: WAL lets both go on).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audiolab._errors import ConfigError
from audiolab.experiments import parse_experiment, replay, stored_response, summarize
from audiolab.store import ResultsStore, default_path

__all__ = ["TRIAL_COLUMNS", "ResultsModel", "SessionRow", "result_text"]

#: Columns of the trial table (a subset of the CSV export's, in its order).
TRIAL_COLUMNS = ("trial_index", "track", "variable", "response", "correct",
                 "response_time_ms", "time_utc")


@dataclass(frozen=True)
class SessionRow:
    """One line of the sessions table."""

    id: int
    subject: str
    experiment: str
    status: str
    listener: str
    n_trials: int
    started_utc: str


def result_text(summary: dict[str, Any]) -> str:
    """The session's result in one line, as ``audiolab run`` reports it."""
    for key, name in (("threshold_db", "threshold"), ("srt_db", "SRT")):
        if summary.get(key) is not None:
            return f"{name} {summary[key]:.2f} dB"
    if summary.get("estimate"):
        return f"threshold {summary['estimate']['threshold_db_mean']:.2f} dB (QUEST+ mean)"
    if summary.get("audiogram"):
        return "audiogram " + " ".join(
            f"{p['ear'][0].upper()}{p['frequency_hz']:g}:{p['threshold_db_hl']}"
            for p in summary["audiogram"])
    return "no estimate yet"


class ResultsModel:
    """Sessions of one results database.

    Parameters
    ----------
    path : path-like, optional
        The database (default: audiolab's, :func:`~audiolab.store.default_path`).
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()

    def _store(self) -> ResultsStore:
        if not self.path.is_file():
            raise ConfigError(f"no results database at {self.path} yet: run a session, or "
                              "choose another file")
        return ResultsStore(self.path, create=False)

    def sessions(self, *, subject: str | None = None,
                 experiment: str | None = None) -> list[SessionRow]:
        """The sessions, newest first, of ``subject`` and ``experiment`` (None: all)."""
        with self._store() as store:
            rows = []
            for s in reversed(store.sessions(subject=subject)):
                if experiment is not None and s.experiment_name != experiment:
                    continue
                rows.append(SessionRow(s.id, s.subject, s.experiment_name, s.status,
                                       s.listener, len(store.trials(s.id)), s.started_utc))
        return rows

    def subjects(self) -> list[str]:
        """Subjects with sessions, sorted."""
        with self._store() as store:
            return store.subjects()

    def experiments(self) -> list[str]:
        """Experiment names with sessions, sorted."""
        with self._store() as store:
            return sorted({s.experiment_name for s in store.sessions()})

    def trial_rows(self, session_id: int) -> list[tuple[Any, ...]]:
        """The session's trials as :data:`TRIAL_COLUMNS` tuples."""
        with self._store() as store:
            rows = store.export_trials(session_id=session_id)
        return [tuple(r[c] for c in TRIAL_COLUMNS) for r in rows]

    def summary(self, session_id: int) -> dict[str, Any]:
        """The session's result (:func:`~audiolab.experiments.summarize` of its replay)."""
        with self._store() as store:
            session = store.session(session_id)
            trials = store.trials(session_id)
        exp = parse_experiment(session.experiment_toml, source=f"session {session_id}")
        proc = replay(exp.procedure, seed=session.seed,
                      responses=[stored_response(t) for t in trials])
        return summarize(proc)

    def plot(self, session_id: int, path: str | Path) -> str:
        """Draw the session (:func:`~audiolab.reports.plot_session`) to ``path``."""
        from audiolab.reports import plot_session

        with self._store() as store:
            return plot_session(store, session_id, path)

    def export_csv(self, path: str | Path, *, session_id: int | None = None,
                   subject: str | None = None) -> int:
        """Write the trials (one row each) as CSV; returns the number of rows."""
        with self._store() as store:
            return store.write_csv(path, session_id=session_id, subject=subject)
