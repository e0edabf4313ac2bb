"""Trial structure shared by every procedure: the task, one trial, one answered trial, the protocol.

A procedure is a pure state machine (STYLE.md rule 13): it offers :meth:`Procedure.next_trial`,
takes :meth:`Procedure.record` and never plays sound, reads keys, sleeps or writes files. Every
random choice (target interval, catch trial, order of levels, which track comes next) is drawn
from one ``numpy.random.Generator`` seeded by the procedure's seed, in a fixed order, so the
config, the seed and the list of responses determine the whole state.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from audiolab._errors import ConfigError, ProcedureError
from audiolab._validate import check_choice, check_int, check_real

__all__ = ["Procedure", "Response", "Task", "Trial", "TrialDraws", "TrialRecord", "check_seed"]

Response = int | bool
"""An answer: the chosen interval (1..n) for n-AFC, ``True`` (yes) / ``False`` (no) for yes/no,
the number of words repeated correctly (0..n_words) for word scoring."""

MAX_SEED = 2**63 - 1


def check_seed(seed: Any) -> int:
    """Return ``seed`` as int if it is an integer in [0, 2**63 - 1], else raise ConfigError."""
    return check_int("seed", seed, low=0, high=MAX_SEED)


class TrialDraws:
    """A listener's random numbers as a function of (seed, trial index, repeat).

    Each answer draws from a generator seeded by the listener's seed, the trial's index and
    how many times in a row that index has been answered before (0 the first time). A resumed
    session's listener therefore answers trial i exactly as the uninterrupted session's did,
    whatever came before; asking the same trial again gives a fresh, reproducible draw.

    Examples
    --------
    >>> draws = TrialDraws(7)
    >>> a = draws.generator(3).random()
    >>> b = draws.generator(3).random()  # the same trial again: a new draw
    >>> a != b, a == TrialDraws(7).generator(3).random()
    (True, True)
    """

    def __init__(self, seed: int) -> None:
        self._seed = check_seed(seed)
        self._last_index = -1
        self._repeat = 0

    @property
    def seed(self) -> int:
        """The listener's seed."""
        return self._seed

    def generator(self, index: int) -> np.random.Generator:
        """The generator for one answer to the trial with this index."""
        index = check_int("trial index", index, low=0, high=MAX_SEED)
        self._repeat = self._repeat + 1 if index == self._last_index else 0
        self._last_index = index
        return np.random.default_rng([self._seed, index, self._repeat])


@dataclass(frozen=True)
class Task:
    """What the listener is asked on each trial.

    Parameters
    ----------
    response : {'afc', 'yes_no', 'words'}
        ``'afc'``: n-alternative forced choice, the signal is in one of ``n_intervals``
        intervals and the listener names it. ``'yes_no'``: one interval, the listener says
        whether they heard the signal. ``'words'``: a sentence of ``n_words`` words, the answer
        is the number repeated correctly (matrix test).
    n_intervals : int
        Number of intervals of an n-AFC trial, in [2, 4]. Must be 1 for yes/no and words.
    catch_fraction : float
        Yes/no only: probability, in [0, 0.5], that a trial is a catch trial (no signal). Catch
        trials are drawn from the seeded generator, recorded, give the false-alarm rate and never
        move a track or count towards a stop rule. Must be 0 for n-AFC.
    false_alarm_rate : float
        Yes/no only: the guess rate assumed by model-based procedures and fits (QUEST+, the
        logistic fit), in [0, 0.5]. For n-AFC the guess rate is ``1 / n_intervals`` and this must
        be 0.
    n_words : int
        Words scored per sentence for ``'words'``, in [1, 10] (5 in matrix tests); ignored
        otherwise.

    Examples
    --------
    >>> Task(response="afc", n_intervals=3).guess_rate
    0.3333333333333333
    >>> Task(response="yes_no", n_intervals=1, catch_fraction=0.2).guess_rate
    0.0
    """

    response: str = "afc"
    n_intervals: int = 2
    catch_fraction: float = 0.0
    false_alarm_rate: float = 0.0
    n_words: int = 5

    def __post_init__(self) -> None:
        check_choice("response", self.response, ("afc", "yes_no", "words"))
        check_int("n_words", self.n_words, low=1, high=10)
        if self.response == "afc":
            object.__setattr__(self, "n_intervals", check_int("n_intervals", self.n_intervals,
                                                              low=2, high=4))
            check_real("catch_fraction", self.catch_fraction, low=0.0, high=0.0)
            check_real("false_alarm_rate", self.false_alarm_rate, low=0.0, high=0.0)
        else:
            object.__setattr__(self, "n_intervals", check_int("n_intervals", self.n_intervals,
                                                              low=1, high=1))
        if self.response == "words":  # every sentence carries speech; guessing a word: ~0
            check_real("catch_fraction", self.catch_fraction, low=0.0, high=0.0)
            check_real("false_alarm_rate", self.false_alarm_rate, low=0.0, high=0.0)
        object.__setattr__(self, "catch_fraction",
                           check_real("catch_fraction", self.catch_fraction, low=0.0, high=0.5))
        object.__setattr__(self, "false_alarm_rate",
                           check_real("false_alarm_rate", self.false_alarm_rate,
                                      low=0.0, high=0.5))

    @property
    def guess_rate(self) -> float:
        """P(positive response) far below threshold: 1/n for n-AFC, the false-alarm rate else."""
        if self.response == "afc":
            return 1.0 / self.n_intervals
        return self.false_alarm_rate


@dataclass(frozen=True)
class Trial:
    """One trial as the procedure asks for it.

    Attributes
    ----------
    index : int
        Trial number in the procedure, from 0 (catch trials included).
    x_db : float
        The procedure's variable on this trial, dB (a level, an SNR, a modulation depth...).
        On a catch trial it is the track's current value, but no signal is presented.
    n_intervals : int
        Intervals of the trial: n for n-AFC, 1 for yes/no.
    target_interval : int or None
        n-AFC: the interval (1..n) holding the signal, drawn from the seeded generator.
        None for yes/no.
    catch : bool
        Yes/no: True when no signal is presented. Always False for n-AFC.
    track : int
        Index of the track the trial belongs to (0 unless tracks are interleaved).
    ear : str or None
        Pure-tone audiometry: ``'right'`` or ``'left'``; None for other procedures.
    frequency_hz : float or None
        Pure-tone audiometry: the tone frequency; None for other procedures.
    n_words : int or None
        Word scoring: words in the sentence; None for other tasks.
    """

    index: int
    x_db: float
    n_intervals: int
    target_interval: int | None
    catch: bool
    track: int = 0
    ear: str | None = None
    frequency_hz: float | None = None
    n_words: int | None = None

    def check_response(self, response: Any) -> Response:
        """Return ``response`` if it is a valid answer to this trial, else raise ProcedureError."""
        if self.n_words is not None:
            if (isinstance(response, bool | np.bool_) or not isinstance(response, int | np.integer)
                    or not 0 <= response <= self.n_words):
                raise ProcedureError(f"response must be the number of words correct in "
                                  f"[0, {self.n_words}], got {response!r}")
            return int(response)
        if self.target_interval is not None:
            if (isinstance(response, bool | np.bool_) or not isinstance(response, int | np.integer)
                    or not 1 <= response <= self.n_intervals):
                raise ProcedureError(
                    f"response must be an interval number in [1, {self.n_intervals}] for "
                    f"{self.n_intervals}-AFC, got {response!r}"
                )
            return int(response)
        if not isinstance(response, bool | np.bool_):
            raise ProcedureError(f"response must be True (yes) or False (no), got {response!r}")
        return bool(response)

    def is_positive(self, response: Response) -> bool:
        """True for a correct n-AFC answer, a "yes" in yes/no, half the words or more correct."""
        if self.n_words is not None:
            return 2 * int(response) >= self.n_words
        if self.target_interval is not None:
            return int(response) == self.target_interval
        return bool(response)


@dataclass(frozen=True)
class TrialRecord:
    """An answered trial: the trial, the response and whether it was positive.

    ``positive`` is "correct" for n-AFC and "yes" for yes/no (on a catch trial a "yes" is a
    false alarm).
    """

    trial: Trial
    response: Response
    positive: bool

    def as_dict(self) -> dict[str, Any]:
        """Plain-Python form (for state snapshots, stores and JSON)."""
        return {**asdict(self.trial), "response": self.response, "positive": self.positive}


class Procedure(ABC):
    """The protocol of every procedure: ``next_trial() -> record(response) -> next_trial()``.

    ``next_trial`` returns the pending trial (calling it again before ``record`` returns the same
    trial); ``record`` answers it. ``state()`` is a plain-Python snapshot of everything that
    determines future trials (generator state included), so two procedures with equal states
    behave identically from then on.
    """

    @property
    @abstractmethod
    def finished(self) -> bool:
        """True when the stop rule is met; ``next_trial`` then raises."""

    @property
    @abstractmethod
    def history(self) -> tuple[TrialRecord, ...]:
        """Every answered trial, in order."""

    @abstractmethod
    def next_trial(self) -> Trial:
        """The trial to present next (the same one until it is recorded)."""

    @abstractmethod
    def record(self, response: Response) -> TrialRecord:
        """Answer the pending trial; returns the record that was appended to the history."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """A plain-Python snapshot of the whole state (JSON-serialisable)."""

    def compact_state(self) -> dict[str, Any]:
        """A bounded summary of the state after the last answer (JSON-serialisable).

        What the store keeps with each trial: the current variable, stage and counters and
        what the last answer changed (a reversal, a finished frequency), never the history,
        so a trial row does not grow with the trial count. The whole state follows from the
        config, the seed and the stored responses (:func:`~audiolab.experiments.replay`).
        Procedures without a summary of their own return :meth:`state`.
        """
        return self.state()

    @property
    def responses(self) -> list[Response]:
        """The responses so far, in order: with the config and seed they rebuild the state."""
        return [r.response for r in self.history]

    def false_alarm_rate(self) -> float:
        """Fraction of catch trials answered "yes" (NaN when there has been no catch trial)."""
        catch = [r.positive for r in self.history if r.trial.catch]
        return float(np.mean(catch)) if catch else math.nan


class SingleTrack(Procedure):
    """Shared machinery of one-track procedures: the pending trial, target interval, catch trials.

    Subclasses give the level of the next signal trial (``_current_x_db``), take each signal
    trial's outcome (``_update``) and say when they are done (``_done``).
    """

    def __init__(self, task: Task, seed: int) -> None:
        self._task = task
        self._seed = check_seed(seed)
        self._rng = np.random.default_rng(self._seed)
        self._history: list[TrialRecord] = []
        self._pending: Trial | None = None
        self._n_signal_trials = 0

    @property
    def task(self) -> Task:
        """The trial structure."""
        return self._task

    @property
    def seed(self) -> int:
        """The seed of the procedure's generator."""
        return self._seed

    @property
    def history(self) -> tuple[TrialRecord, ...]:  # noqa: D102
        return tuple(self._history)

    @property
    def n_signal_trials(self) -> int:
        """Answered trials that were not catch trials (what stop rules count)."""
        return self._n_signal_trials

    @property
    def finished(self) -> bool:  # noqa: D102
        return self._done()

    @abstractmethod
    def _current_x_db(self) -> float: ...

    @abstractmethod
    def _update(self, x_db: float, positive: bool) -> None: ...

    def _update_response(self, record: TrialRecord) -> None:
        """Take one signal trial's answer (word-scoring procedures override this)."""
        self._update(record.trial.x_db, record.positive)

    @abstractmethod
    def _done(self) -> bool: ...

    @abstractmethod
    def _own_state(self) -> dict[str, Any]: ...

    def _own_compact_state(self) -> dict[str, Any]:
        """The bounded part of ``_own_state`` (default: all of it)."""
        return self._own_state()

    def compact_state(self) -> dict[str, Any]:  # noqa: D102
        return {
            "n_trials": len(self._history),
            "n_signal_trials": self._n_signal_trials,
            "finished": self.finished,
            **self._own_compact_state(),
        }

    def next_trial(self) -> Trial:  # noqa: D102
        if self._pending is not None:
            return self._pending
        if self.finished:
            raise ProcedureError(
                f"next_trial() called on a finished procedure (after {len(self._history)} "
                "trials): check .finished first"
            )
        # Draw order is fixed (catch first, then target): replaying the responses redraws both.
        fraction = self._task.catch_fraction
        catch = bool(fraction > 0 and self._rng.random() < fraction)
        target = (
            int(self._rng.integers(1, self._task.n_intervals + 1))
            if self._task.response == "afc"
            else None
        )
        self._pending = Trial(
            index=len(self._history),
            x_db=float(self._current_x_db()),
            n_intervals=self._task.n_intervals,
            target_interval=target,
            catch=catch,
            n_words=self._task.n_words if self._task.response == "words" else None,
        )
        return self._pending

    def record(self, response: Response) -> TrialRecord:  # noqa: D102
        trial = self._pending
        if trial is None:
            raise ProcedureError("record() called with no trial pending: call next_trial() first")
        response = trial.check_response(response)
        rec = TrialRecord(trial=trial, response=response, positive=trial.is_positive(response))
        self._history.append(rec)
        self._pending = None
        if not trial.catch:
            self._n_signal_trials += 1
            try:
                self._update_response(rec)
            except ConfigError:  # a refused answer leaves the state as it was
                self._history.pop()
                self._pending = trial
                self._n_signal_trials -= 1
                raise
        return rec

    def state(self) -> dict[str, Any]:  # noqa: D102
        return {
            "seed": self._seed,
            "rng": self._rng.bit_generator.state,
            "pending": None if self._pending is None else asdict(self._pending),
            "n_signal_trials": self._n_signal_trials,
            "history": [r.as_dict() for r in self._history],
            "finished": self.finished,
            **self._own_state(),
        }
