"""Simulated listeners that answer a procedure's trials, and the loop that runs them.

``psychometric:midpoint=M,slope=S,lapse=L`` answers from the procedure's variable alone:

    P(positive | x) = g + (1 - g - L) / (1 + exp(-S (x - M)))

with g = 1/n for n-AFC (a correct answer names the target interval; a wrong one names one of the
other intervals, uniformly), g = 0 for yes/no (P("yes") on a signal trial) and g = 0 for matrix
words, each word of a sentence recognised independently (the answer is the count). An optional
``false_alarm=F`` key sets g = F for yes/no, which is also P("yes") on a catch trial (0 without
it). Every draw comes from a generator seeded by the listener's seed and the trial's index
(:class:`~audiolab.experiments.TrialDraws`), so a resumed session answers as an uninterrupted one.

``simulated:AUDIOGRAM`` (:class:`~audiolab.experiments.SimulatedListener`, in ``_simulated``)
hears the rendered stimulus instead. Both follow the :class:`Listener` protocol.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from audiolab._errors import ConfigError
from audiolab._validate import check_real
from audiolab.experiments._trials import Procedure, Response, Trial, TrialDraws, check_seed

if TYPE_CHECKING:
    from audiolab.experiments._simulated import SimulatedListener
    from audiolab.experiments._stimuli import RenderedTrial, StimulusSpec

__all__ = ["Listener", "PsychometricListener", "parse_listener", "run_listener"]


class Listener(Protocol):
    """What answers trials: a person at the runner's keyboard, or a model.

    ``respond(trial, stimulus)`` returns the answer to ``trial`` (an interval number, True/False,
    or a word count); ``stimulus`` is the rendered trial (None when the listener does not need
    it). ``describe()`` is the listener's spec, stored with the session.
    """

    def respond(self, trial: Trial, stimulus: RenderedTrial | None = None) -> Response:
        """Answer one trial."""
        ...

    def describe(self) -> str:
        """The listener as a spec string (for the store)."""
        ...

_KEYS = ("midpoint", "slope", "lapse", "false_alarm")


@dataclass(frozen=True)
class _Params:
    midpoint_db: float
    slope_per_db: float
    lapse_rate: float
    false_alarm_rate: float


class PsychometricListener:
    """A listener with a logistic psychometric function of the procedure's variable.

    Parameters
    ----------
    midpoint_db : float
        Midpoint M of the logistic, dB, in [-1000, 1000].
    slope_per_db : float
        Slope S, per dB, in (0, 100].
    lapse_rate : float
        Lapse rate L, in [0, 0.5].
    false_alarm_rate : float
        Yes/no guess rate, in [0, 0.5] (P("yes") on catch trials); unused for n-AFC.
    seed : int
        Seed of the listener's generator.

    Examples
    --------
    >>> listener = PsychometricListener(midpoint_db=0.0, slope_per_db=1.0, lapse_rate=0.0, seed=1)
    >>> round(listener.p_positive(0.0, n_intervals=2), 3)
    0.75
    """

    def __init__(self, *, midpoint_db: float, slope_per_db: float, lapse_rate: float = 0.0,
                 false_alarm_rate: float = 0.0, seed: int) -> None:
        self._params = _Params(
            check_real("midpoint", midpoint_db, low=-1000, high=1000),
            check_real("slope", slope_per_db, low=0, high=100, low_open=True),
            check_real("lapse", lapse_rate, low=0, high=0.5),
            check_real("false_alarm", false_alarm_rate, low=0, high=0.5),
        )
        if self._params.lapse_rate + self._params.false_alarm_rate > 1.0:
            raise ConfigError("lapse + false_alarm must be at most 1, got "
                              f"{lapse_rate!r} + {false_alarm_rate!r}")
        self._draws = TrialDraws(check_seed(seed))

    @property
    def midpoint_db(self) -> float:
        """Midpoint M, dB."""
        return self._params.midpoint_db

    @property
    def slope_per_db(self) -> float:
        """Slope S, per dB."""
        return self._params.slope_per_db

    @property
    def lapse_rate(self) -> float:
        """Lapse rate L."""
        return self._params.lapse_rate

    @property
    def false_alarm_rate(self) -> float:
        """Yes/no guess rate."""
        return self._params.false_alarm_rate

    def guess_rate(self, n_intervals: int) -> float:
        """g: 1/n for n-AFC (n >= 2), the false-alarm rate for yes/no (n = 1)."""
        return 1.0 / n_intervals if n_intervals > 1 else self._params.false_alarm_rate

    def p_positive(self, x_db: float, *, n_intervals: int) -> float:
        """P(correct) for n-AFC, P("yes") on a yes/no signal trial, at ``x_db``."""
        g = self.guess_rate(n_intervals)
        return g + (1.0 - g - self._params.lapse_rate) * self._logistic(x_db)

    def _logistic(self, x_db: float) -> float:
        p = self._params
        return 0.5 * (1.0 + math.tanh(0.5 * p.slope_per_db * (x_db - p.midpoint_db)))

    def x_db_at(self, p: float, *, n_intervals: int) -> float:
        """The level (dB) where P(positive) = ``p`` (the inverse of :meth:`p_positive`)."""
        par = self._params
        g = self.guess_rate(n_intervals)
        check_real("p", p, low=g, high=1.0 - par.lapse_rate, low_open=True, high_open=True)
        f = (p - g) / (1.0 - g - par.lapse_rate)
        return par.midpoint_db + math.log(f / (1.0 - f)) / par.slope_per_db

    def describe(self) -> str:
        """The listener's spec string, ``psychometric:midpoint=M,slope=S,lapse=L,false_alarm=F``."""
        p = self._params
        return (f"psychometric:midpoint={p.midpoint_db:g},slope={p.slope_per_db:g},"
                f"lapse={p.lapse_rate:g},false_alarm={p.false_alarm_rate:g}")

    def respond(self, trial: Trial, stimulus: RenderedTrial | None = None) -> Response:
        """Answer one trial: an interval number (n-AFC), True/False (yes/no) or a word count.

        The rendered ``stimulus`` is ignored: this listener answers from ``trial.x_db``.
        Exactly one uniform draw decides the outcome, and an n-AFC error draws the wrong interval;
        the draws come from :class:`~audiolab.experiments.TrialDraws` (seed, trial index).
        """
        rng = self._draws.generator(trial.index)
        if trial.n_words is not None:
            # Word scoring: each word is recognised independently with P(x), guess rate 0.
            p = (1.0 - self._params.lapse_rate) * self._logistic(trial.x_db)
            return int(np.sum(rng.random(trial.n_words) < p))
        u = float(rng.random())
        if trial.target_interval is None:
            if trial.catch:
                return u < self._params.false_alarm_rate
            return u < self.p_positive(trial.x_db, n_intervals=1)
        if u < self.p_positive(trial.x_db, n_intervals=trial.n_intervals):
            return trial.target_interval
        wrong = [i for i in range(1, trial.n_intervals + 1) if i != trial.target_interval]
        return wrong[int(rng.integers(len(wrong)))]


def parse_listener(spec: str, *, seed: int) -> PsychometricListener | SimulatedListener:
    """Build a listener from its command-line spec.

    Parameters
    ----------
    spec : str
        ``psychometric:midpoint=M,slope=S,lapse=L`` (M in dB, S per dB, L a rate; ``lapse``
        defaults to 0) with an optional ``false_alarm=F`` for yes/no, keys in any order, each
        once; or ``simulated:AUDIOGRAM`` (a preset N1..N7, S1..S3 or an audiogram file, see
        :func:`~audiolab.experiments.parse_simulated`).
    seed : int
        Seed of the listener's generator.

    Returns
    -------
    PsychometricListener or SimulatedListener
        The listener.

    Raises
    ------
    ConfigError
        Naming the key, its range and the value for a bad spec.

    Examples
    --------
    >>> lst = parse_listener("psychometric:midpoint=-3,slope=0.5,lapse=0.02", seed=7)
    >>> lst.midpoint_db, lst.slope_per_db, lst.lapse_rate
    (-3.0, 0.5, 0.02)
    """
    if not isinstance(spec, str):
        raise ConfigError("listener must be a string like "
                          f"'psychometric:midpoint=M,slope=S,lapse=L', got {spec!r}")
    kind, sep, rest = spec.partition(":")
    if kind == "simulated" and sep:
        from audiolab.experiments._simulated import parse_simulated

        return parse_simulated(rest, seed=seed)
    if kind != "psychometric" or not sep:
        raise ConfigError(
            "listener must be 'psychometric:midpoint=M,slope=S,lapse=L' or "
            f"'simulated:AUDIOGRAM', got {spec!r}"
        )
    values: dict[str, float] = {}
    for part in rest.split(","):
        key, eq, text = part.strip().partition("=")
        key = key.strip()
        if not eq or key not in _KEYS:
            raise ConfigError(
                f"listener key must be one of {', '.join(_KEYS)} as key=value, got {part!r} in "
                f"{spec!r}"
            )
        if key in values:
            raise ConfigError(f"listener key {key} must be given once, got it twice in {spec!r}")
        try:
            number = float(text)
        except ValueError:
            raise ConfigError(f"listener {key} must be a number, got {text!r}") from None
        values[key] = number
    for key in ("midpoint", "slope"):
        if key not in values:
            raise ConfigError(f"listener spec must give {key}=..., got {spec!r}")
    return PsychometricListener(
        midpoint_db=values["midpoint"],
        slope_per_db=values["slope"],
        lapse_rate=values.get("lapse", 0.0),
        false_alarm_rate=values.get("false_alarm", 0.0),
        seed=seed,
    )


def run_listener(procedure: Procedure, listener: Listener, *,
                 max_trials: int | None = None, stimulus: StimulusSpec | None = None,
                 fs: float = 48000.0, seed: int = 0) -> Procedure:
    """Answer the procedure's trials with the listener until it finishes (or ``max_trials``).

    Parameters
    ----------
    procedure : Procedure
        Any procedure; it is advanced in place.
    listener : Listener
        The answering listener.
    max_trials : int or None
        Stop after this many more trials even if the procedure is not finished.
    stimulus : StimulusSpec or None
        When given, each trial is rendered (:func:`~audiolab.experiments.render_trial`, virtual
        ideal calibration) at ``fs`` Hz with a generator seeded by ``seed`` and handed to the
        listener (a simulated listener needs it).
    fs : float
        Sample rate of the rendered trials in Hz.
    seed : int
        Seed of the rendering generator.

    Returns
    -------
    Procedure
        The same procedure, for chaining.

    Examples
    --------
    >>> from audiolab.experiments import UpDownConfig, make_procedure
    >>> proc = make_procedure(UpDownConfig(start_db=10.0, max_reversals=8), seed=1)
    >>> lst = parse_listener("psychometric:midpoint=0,slope=0.5,lapse=0", seed=2)
    >>> run_listener(proc, lst).finished
    True
    """
    rng = np.random.default_rng(check_seed(seed)) if stimulus is not None else None
    n = 0
    while not procedure.finished and (max_trials is None or n < max_trials):
        trial = procedure.next_trial()
        rendered = None
        if stimulus is not None and rng is not None:
            from audiolab.experiments._stimuli import render_trial

            rendered = render_trial(stimulus, trial, fs=fs, rng=rng)
        procedure.record(listener.respond(trial, rendered))
        n += 1
    return procedure
