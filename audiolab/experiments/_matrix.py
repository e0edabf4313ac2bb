"""Adaptive speech reception threshold of a matrix sentence test (Brand & Kollmeier 2002).

Each trial is one sentence of ``n_words`` words at a signal-to-noise ratio ``x_db`` (the noise is
fixed, the runner sets the speech level); the answer is the number of words repeated correctly.
After a sentence with word score s (fraction correct) the SNR changes by

    dL = -f(i) (s - target) / slope,      f(i) = max(f0 * 1.41^(-i), f_min)

with target 0.5, slope 0.15 per dB (the word-score slope at the SRT), f0 = 1.5 and i the number
of reversals before this sentence (Brand & Kollmeier 2002, procedure A1): a first sentence with
0/5 words raises the SNR by 5 dB, one with 5/5 lowers it by 5 dB. A reversal is a change of the
sign of dL; the SNR is clamped to [``floor_db``, ``ceiling_db``].

The SRT and slope come from a maximum-likelihood fit over all sentences of the word model
P(word correct | x) = 1 / (1 + exp(4 s50 (SRT - x))) (each word scored independently, no guessing;
s50 is the slope at the SRT in proportion per dB), via :func:`fit_logistic` with guess and lapse
rates 0 and its profile-likelihood intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from audiolab._errors import ConfigError
from audiolab._validate import check_int, check_real
from audiolab.experiments._trials import SingleTrack, Task, TrialRecord

__all__ = ["MatrixSrt", "MatrixSrtConfig", "MatrixSrtEstimate", "fit_matrix_srt"]


@dataclass(frozen=True)
class MatrixSrtConfig:
    """The adaptive matrix-test track (module docstring).

    Parameters
    ----------
    start_db : float
        First sentence's SNR, dB, in [-40, 40] (0 dB is usual).
    n_sentences : int
        Sentences in the list, in [5, 100] (20 or 30 in matrix tests).
    n_words : int
        Words per sentence, in [1, 10] (5 in matrix tests).
    target : float
        Target word score of the track, in (0, 1) (0.5: the SRT).
    slope_per_db : float
        Assumed word-score slope at the target, in (0, 1] per dB (0.15).
    f0 : float
        Initial step factor f(0), in (0, 5] (1.5).
    f_decay : float
        Step factor divisor per reversal, in [1, 3] (1.41).
    f_min : float
        Floor of the step factor, in (0, f0] (0.1-0.25 in the literature).
    floor_db, ceiling_db : float
        SNR range, dB, in [-60, 60]; the track is clamped to it.

    Examples
    --------
    >>> srt = MatrixSrt(MatrixSrtConfig(start_db=0.0, n_sentences=20), seed=0)
    >>> t = srt.next_trial()
    >>> t.x_db, t.n_words
    (0.0, 5)
    >>> _ = srt.record(0)  # no word correct: up 5 dB
    >>> srt.next_trial().x_db
    5.0
    """

    start_db: float = 0.0
    n_sentences: int = 20
    n_words: int = 5
    target: float = 0.5
    slope_per_db: float = 0.15
    f0: float = 1.5
    f_decay: float = 1.41
    f_min: float = 0.15
    floor_db: float = -40.0
    ceiling_db: float = 40.0

    def __post_init__(self) -> None:
        lo = check_real("floor_db", self.floor_db, low=-60, high=60)
        hi = check_real("ceiling_db", self.ceiling_db, low=-60, high=60)
        if lo >= hi:
            raise ConfigError(f"floor_db must be below ceiling_db, got {lo!r} and {hi!r}")
        check_real("start_db", self.start_db, low=lo, high=hi)
        check_int("n_sentences", self.n_sentences, low=5, high=100)
        check_int("n_words", self.n_words, low=1, high=10)
        check_real("target", self.target, low=0, high=1, low_open=True, high_open=True)
        check_real("slope_per_db", self.slope_per_db, low=0, high=1, low_open=True)
        f0 = check_real("f0", self.f0, low=0, high=5, low_open=True)
        check_real("f_decay", self.f_decay, low=1, high=3)
        check_real("f_min", self.f_min, low=0, high=f0, low_open=True)


class MatrixSrt(SingleTrack):
    """Brand & Kollmeier (2002) adaptive SRT track with word scoring (module docstring).

    Parameters
    ----------
    config : MatrixSrtConfig
        The rule and list length.
    seed : int
        Seed of the procedure (the track itself draws nothing; the runner picks sentences).
    """

    def __init__(self, config: MatrixSrtConfig, *, seed: int) -> None:
        if not isinstance(config, MatrixSrtConfig):
            raise ConfigError(f"config must be a MatrixSrtConfig, got {type(config).__name__}")
        super().__init__(Task(response="words", n_intervals=1, n_words=config.n_words), seed)
        self._config = config
        self._x_db = float(config.start_db)
        self._direction = 0
        self._n_reversals = 0

    @property
    def config(self) -> MatrixSrtConfig:
        """The configuration."""
        return self._config

    @property
    def n_reversals(self) -> int:
        """Reversals so far."""
        return self._n_reversals

    @property
    def stop_reason(self) -> str | None:
        """'trials' after ``n_sentences`` sentences, else None."""
        return "trials" if self._done() else None

    def _current_x_db(self) -> float:
        return self._x_db

    def _done(self) -> bool:
        return self._n_signal_trials >= self._config.n_sentences

    def _update(self, x_db: float, positive: bool) -> None:
        # The base class calls this only from its default _update_response, which this class
        # replaces: a matrix track moves by word scores, never by a correct/incorrect outcome.
        raise TypeError("a matrix track is updated from word scores, not from an outcome")

    def _update_response(self, record: TrialRecord) -> None:
        cfg = self._config
        score = int(record.response) / cfg.n_words
        f = max(cfg.f0 * cfg.f_decay ** (-self._n_reversals), cfg.f_min)
        step = -f * (score - cfg.target) / cfg.slope_per_db  # Brand & Kollmeier (2002) eq. 2
        direction = int(np.sign(step))
        if direction and self._direction and direction != self._direction:
            self._n_reversals += 1
        if direction:
            self._direction = direction
        self._x_db = float(min(max(record.trial.x_db + step, cfg.floor_db), cfg.ceiling_db))

    def _own_state(self) -> dict[str, Any]:
        return {"x_db": self._x_db, "direction": self._direction,
                "n_reversals": self._n_reversals}


@dataclass(frozen=True)
class MatrixSrtEstimate:
    """SRT and slope of a matrix track by maximum likelihood over all sentences.

    Attributes
    ----------
    srt_db : float
        SNR of 50 % words correct, dB.
    slope_per_db : float
        Word-score slope at the SRT, proportion per dB (s50; 0.15-0.17 for matrix tests).
    srt_ci_db, slope_ci_per_db : tuple of float
        95 % profile-likelihood intervals.
    n_sentences : int
        Sentences fitted.
    """

    srt_db: float
    slope_per_db: float
    srt_ci_db: tuple[float, float]
    slope_ci_per_db: tuple[float, float]
    n_sentences: int


def fit_matrix_srt(track: MatrixSrt) -> MatrixSrtEstimate:
    """Fit SRT and slope to every sentence of a matrix track (each word a Bernoulli trial).

    Parameters
    ----------
    track : MatrixSrt
        A track with at least two distinct SNRs.

    Returns
    -------
    MatrixSrtEstimate
        The estimates; the logistic slope s of :func:`fit_logistic` is 4 s50.

    Examples
    --------
    >>> srt = MatrixSrt(MatrixSrtConfig(n_sentences=5), seed=0)
    >>> for words in (2, 4, 1, 3, 2):
    ...     _ = srt.next_trial()
    ...     _ = srt.record(words)
    >>> -10.0 < fit_matrix_srt(srt).srt_db < 10.0
    True
    """
    from audiolab.experiments._estimates import fit_logistic  # _estimates imports the procedures

    if not isinstance(track, MatrixSrt):
        raise ConfigError(f"track must be a MatrixSrt, got {type(track).__name__}")
    n = track.config.n_words
    x, correct = [], []
    for r in track.history:
        x += [r.trial.x_db] * n
        correct += [True] * int(r.response) + [False] * (n - int(r.response))
    fit = fit_logistic(x, np.array(correct, dtype=bool), guess_rate=0.0, lapse_rate=0.0)
    return MatrixSrtEstimate(
        srt_db=fit.midpoint_db,
        slope_per_db=fit.slope_per_db / 4.0,
        srt_ci_db=fit.midpoint_ci_db,
        slope_ci_per_db=(fit.slope_ci_per_db[0] / 4.0, fit.slope_ci_per_db[1] / 4.0),
        n_sentences=len(track.history),
    )
