"""Pure-tone audiometry, ISO 8253-1 ascending method (Hughson-Westlake), air conduction.

The procedure is a state machine like every other: each trial is one tone (yes/no) at a level in
dB HL, for an ear and a frequency carried by the trial; the runner turns dB HL into pascal through
the calibration's RETSPL. Per ear, the frequencies come in the order given (ISO 8253-1: 1 k, 2 k,
4 k, 8 k, 1 k retest, 500, 250 Hz); the second occurrence of a frequency in an ear is its retest.

For each ear and frequency (ISO 8253-1 §6.2, as summarised in ../shared/REFERENCE.md):

1. Familiarisation: the first tone is at ``start_db_hl``; while it is not heard the level rises
   by ``familiarisation_step_db``.
2. After each response the level goes down ``step_down_db`` (10 dB), after each miss up
   ``step_up_db`` (5 dB). A presentation reached by an up step is *ascending*; so is a
   presentation at the lowest allowed level (the track cannot descend further).
3. Threshold: the lowest level heard on at least half of its ascending presentations and at
   least ``n_heard_required`` times (2 of 3, or 3 of 5 ...). The search ends as soon as a level
   meets it.
4. No response: ``ceiling_misses`` misses in a row at the highest allowed level; the threshold is
   None and flagged ``'no response'`` (never a number).
5. A frequency that needs more than ``max_trials_per_frequency`` tones is ended with the lowest
   level heard twice on ascents (else the last level heard) and flagged ``'inconsistent'``.

The audiogram takes the better (lower) of test and retest and flags a difference above
``retest_tolerance_db`` (``'retest differs'``); frequencies where the two ears differ by at
least the transducer's interaural attenuation (40 dB supra-aural and circumaural, 55 dB insert
phones) are flagged ``'masking needed'`` on the worse ear. Masking itself is not done here.
With 5 dB steps the method reports on average about 2.5 dB above the listener's 50 % point
(REFERENCE.md); tests/test_procedures_audiometry.py checks that on a psychometric listener.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from audiolab._errors import ConfigError
from audiolab._validate import check_choice, check_int, check_real
from audiolab.experiments._trials import SingleTrack, Task, Trial

__all__ = ["AudiogramPoint", "AudiometryConfig", "PureToneAudiometry"]

INTERAURAL_ATTENUATION_DB = {"supra_aural": 40.0, "circumaural": 40.0, "insert": 55.0}
ISO_8253_ORDER_HZ = (1000.0, 2000.0, 4000.0, 8000.0, 1000.0, 500.0, 250.0)


@dataclass(frozen=True)
class AudiometryConfig:
    """Pure-tone audiometry by the ISO 8253-1 ascending method (module docstring).

    Parameters
    ----------
    order_hz : tuple of float
        Frequencies in test order, each in [125, 16000] Hz; a frequency's second occurrence is
        its retest (at most two). Default: 1 k, 2 k, 4 k, 8 k, 1 k, 500, 250 Hz.
    ears : tuple of str
        ``'right'`` and/or ``'left'``, in test order (no repeats).
    start_db_hl : float
        Familiarisation level, dB HL, within the allowed range.
    familiarisation_step_db : float
        Rise while the familiarisation tone is not heard, in (0, 40] dB.
    step_down_db, step_up_db : float
        Steps after a response and after a miss, in (0, 20] dB (10 and 5 in ISO 8253-1).
    min_db_hl, max_db_hl : float
        Lowest and highest level presented, dB HL, in [-20, 130]. ``max_db_hl`` is the
        ceiling of every frequency unless ``max_db_hl_by_frequency`` lowers it.
    max_db_hl_by_frequency : mapping of float to float
        Per-frequency ceilings, dB HL (e.g. ``{8000: 100, 250: 90}``).
    n_heard_required : int
        Responses needed at the threshold level, in [2, 5] (2 of 3 in ISO 8253-1).
    ceiling_misses : int
        Misses in a row at the ceiling that make a "no response", in [1, 5].
    max_trials_per_frequency : int
        Tones per ear and frequency before the search ends as inconsistent, in [5, 200].
    retest_tolerance_db : float
        Largest accepted test-retest difference, in [0, 20] dB (5 in ISO 8253-1).
    transducer : {'supra_aural', 'circumaural', 'insert'}
        Sets the interaural attenuation of the masking flag (40, 40, 55 dB).
    catch_fraction : float
        Fraction of catch trials (no tone), in [0, 0.5]; 0 by default.

    Examples
    --------
    >>> cfg = AudiometryConfig(order_hz=(1000.0, 500.0), ears=("right",))
    >>> proc = PureToneAudiometry(cfg, seed=0)
    >>> t = proc.next_trial()
    >>> (t.ear, t.frequency_hz, t.x_db)
    ('right', 1000.0, 40.0)
    """

    order_hz: tuple[float, ...] = ISO_8253_ORDER_HZ
    ears: tuple[str, ...] = ("right", "left")
    start_db_hl: float = 40.0
    familiarisation_step_db: float = 20.0
    step_down_db: float = 10.0
    step_up_db: float = 5.0
    min_db_hl: float = -10.0
    max_db_hl: float = 100.0
    max_db_hl_by_frequency: Mapping[float, float] = field(default_factory=dict)
    n_heard_required: int = 2
    ceiling_misses: int = 2
    max_trials_per_frequency: int = 60
    retest_tolerance_db: float = 5.0
    transducer: str = "supra_aural"
    catch_fraction: float = 0.0

    def __post_init__(self) -> None:
        for name in ("order_hz", "ears"):
            v = getattr(self, name)
            if isinstance(v, str) or not isinstance(v, tuple | list) or not v:
                raise ConfigError(f"{name} must be a non-empty list, got {v!r}")
        order = tuple(check_real(f"order_hz[{i}]", f, low=125.0, high=16000.0)
                      for i, f in enumerate(self.order_hz))
        for f in set(order):
            if order.count(f) > 2:
                raise ConfigError(f"order_hz may hold a frequency at most twice (test and "
                                  f"retest), got {f:g} Hz {order.count(f)} times")
        object.__setattr__(self, "order_hz", order)
        ears = tuple(check_choice(f"ears[{i}]", e, ("right", "left"))
                     for i, e in enumerate(self.ears))
        if len(set(ears)) != len(ears):
            raise ConfigError(f"ears must not repeat an ear, got {list(ears)!r}")
        object.__setattr__(self, "ears", ears)
        check_real("familiarisation_step_db", self.familiarisation_step_db, low=0, high=40,
                   low_open=True)
        check_real("step_down_db", self.step_down_db, low=0, high=20, low_open=True)
        check_real("step_up_db", self.step_up_db, low=0, high=20, low_open=True)
        lo = check_real("min_db_hl", self.min_db_hl, low=-20, high=130)
        hi = check_real("max_db_hl", self.max_db_hl, low=-20, high=130)
        if lo >= hi:
            raise ConfigError(f"min_db_hl must be below max_db_hl, got {lo!r} and {hi!r}")
        if not isinstance(self.max_db_hl_by_frequency, Mapping):
            raise ConfigError("max_db_hl_by_frequency must be a mapping of frequency (Hz) to "
                              f"dB HL, got {self.max_db_hl_by_frequency!r}")
        caps = {}
        for f, v in self.max_db_hl_by_frequency.items():
            fr = check_real("max_db_hl_by_frequency key", f, low=125.0, high=16000.0)
            caps[fr] = check_real(f"max_db_hl_by_frequency[{fr:g}]", v, low=lo, high=hi,
                                  low_open=True)
        object.__setattr__(self, "max_db_hl_by_frequency", caps)
        check_real("start_db_hl", self.start_db_hl, low=lo, high=hi)
        check_int("n_heard_required", self.n_heard_required, low=2, high=5)
        check_int("ceiling_misses", self.ceiling_misses, low=1, high=5)
        check_int("max_trials_per_frequency", self.max_trials_per_frequency, low=5, high=200)
        check_real("retest_tolerance_db", self.retest_tolerance_db, low=0, high=20)
        check_choice("transducer", self.transducer, tuple(INTERAURAL_ATTENUATION_DB))
        check_real("catch_fraction", self.catch_fraction, low=0, high=0.5)

    def ceiling_db_hl(self, frequency_hz: float) -> float:
        """The highest level presented at ``frequency_hz``, dB HL."""
        return float(self.max_db_hl_by_frequency.get(frequency_hz, self.max_db_hl))

    @property
    def steps(self) -> tuple[tuple[str, float], ...]:
        """(ear, frequency) of every threshold search, in test order."""
        return tuple((ear, f) for ear in self.ears for f in self.order_hz)


@dataclass(frozen=True)
class AudiogramPoint:
    """One threshold of one ear at one frequency.

    Attributes
    ----------
    ear : str
        ``'right'`` or ``'left'``.
    frequency_hz : float
        Tone frequency.
    threshold_db_hl : float or None
        The threshold, dB HL; None for a "no response".
    flags : tuple of str
        Any of ``'no response'``, ``'inconsistent'``, ``'at lower limit'``,
        ``'retest differs'``, ``'masking needed'``.
    retest_db_hl : float or None
        For an audiogram point with a retest: the other measurement (the better one is
        ``threshold_db_hl``); None otherwise.
    n_trials : int
        Tones presented for this point (test and retest together in the audiogram).
    """

    ear: str
    frequency_hz: float
    threshold_db_hl: float | None
    flags: tuple[str, ...] = ()
    retest_db_hl: float | None = None
    n_trials: int = 0


class PureToneAudiometry(SingleTrack):
    """ISO 8253-1 ascending pure-tone audiometry as a state machine (module docstring).

    Parameters
    ----------
    config : AudiometryConfig
        Order, levels, steps and rules.
    seed : int
        Seed of the catch-trial draws (the level sequence itself is deterministic).

    Examples
    --------
    >>> proc = PureToneAudiometry(AudiometryConfig(order_hz=(1000.0,), ears=("left",)), seed=0)
    >>> while not proc.finished:  # a listener who hears 30 dB HL and above, always
    ...     _ = proc.record(proc.next_trial().x_db >= 30.0)
    >>> [r.trial.x_db for r in proc.history]
    [40.0, 30.0, 20.0, 25.0, 30.0, 20.0, 25.0, 30.0]
    >>> proc.audiogram()[0].threshold_db_hl  # heard on 2 of 2 ascents at 30 dB HL
    30.0
    """

    def __init__(self, config: AudiometryConfig, *, seed: int) -> None:
        if not isinstance(config, AudiometryConfig):
            raise ConfigError(f"config must be an AudiometryConfig, got {type(config).__name__}")
        task = Task(response="yes_no", n_intervals=1, catch_fraction=config.catch_fraction)
        super().__init__(task, seed)
        self._config = config
        self._step = 0
        self._results: list[AudiogramPoint] = []
        self._start_step()

    def _start_step(self) -> None:
        self._level = float(self._config.start_db_hl)
        self._familiarising = True
        self._ascending = False
        self._n_ceiling_misses = 0
        self._n_step_trials = 0
        self._ascents: dict[float, list[int]] = {}  # level -> [ascending presentations, heard]

    @property
    def config(self) -> AudiometryConfig:
        """The configuration."""
        return self._config

    @property
    def results(self) -> tuple[AudiogramPoint, ...]:
        """Every finished threshold search, in test order (retests as separate points)."""
        return tuple(self._results)

    @property
    def stop_reason(self) -> str | None:
        """'done' once every ear and frequency has a result, else None."""
        return "done" if self._done() else None

    def next_trial(self) -> Trial:  # noqa: D102
        if self._pending is not None:
            return self._pending
        trial = super().next_trial()
        ear, f = self._config.steps[self._step]
        self._pending = replace(trial, ear=ear, frequency_hz=f)
        return self._pending

    def _current_x_db(self) -> float:
        return self._level

    def _done(self) -> bool:
        return self._step >= len(self._config.steps)

    def _finish(self, threshold: float | None, flags: tuple[str, ...]) -> None:
        ear, f = self._config.steps[self._step]
        self._results.append(AudiogramPoint(ear, f, threshold, flags,
                                            n_trials=self._n_step_trials))
        self._step += 1
        if not self._done():
            self._start_step()

    def _update(self, x_db: float, positive: bool) -> None:
        cfg = self._config
        _, f = cfg.steps[self._step]
        ceiling = cfg.ceiling_db_hl(f)
        self._n_step_trials += 1
        if not positive and x_db >= ceiling:
            self._n_ceiling_misses += 1
            if self._n_ceiling_misses >= cfg.ceiling_misses:
                self._finish(None, ("no response",))
                return
        else:
            self._n_ceiling_misses = 0
        if self._familiarising:
            if positive:
                self._familiarising = False
                self._descend(x_db)
            else:
                self._level = min(x_db + cfg.familiarisation_step_db, ceiling)
            return
        if self._ascending or x_db <= cfg.min_db_hl:
            counts = self._ascents.setdefault(x_db, [0, 0])
            counts[0] += 1
            counts[1] += int(positive)
            met = [lv for lv, (n, k) in self._ascents.items()
                   if k >= cfg.n_heard_required and 2 * k >= n]
            if met:
                level = min(met)
                self._finish(level, ("at lower limit",) if level <= cfg.min_db_hl else ())
                return
        if self._n_step_trials >= cfg.max_trials_per_frequency:
            twice = [lv for lv, (_, k) in self._ascents.items() if k >= 2]
            self._finish(min(twice) if twice else (x_db if positive else self._last_heard()),
                         ("inconsistent",))
            return
        if positive:
            self._descend(x_db)
        else:
            self._ascending = True
            self._level = min(x_db + cfg.step_up_db, ceiling)

    def _descend(self, x_db: float) -> None:
        self._ascending = False
        self._level = max(x_db - self._config.step_down_db, self._config.min_db_hl)

    def _last_heard(self) -> float | None:
        ear, f = self._config.steps[self._step]
        for r in reversed(self._history):
            if r.trial.ear == ear and r.trial.frequency_hz == f and r.positive:
                return r.trial.x_db
        return None

    def _own_state(self) -> dict[str, Any]:
        return {
            "step": self._step,
            "level_db_hl": self._level,
            "familiarising": self._familiarising,
            "ascending": self._ascending,
            "n_ceiling_misses": self._n_ceiling_misses,
            "n_step_trials": self._n_step_trials,
            "ascents": sorted((lv, n, k) for lv, (n, k) in self._ascents.items()),
            "results": [vars(r).copy() for r in self._results],
        }

    def _own_compact_state(self) -> dict[str, Any]:
        state = self._own_state()
        del state["results"]
        state.update(n_results=len(self._results),
                     last_result=vars(self._results[-1]).copy() if self._results else None)
        return state

    def audiogram(self) -> tuple[AudiogramPoint, ...]:
        """One point per ear and frequency: the better of test and retest, with all flags.

        Returns
        -------
        tuple of AudiogramPoint
            Sorted by ear (in test order) and frequency.
        """
        cfg = self._config
        merged: dict[tuple[str, float], AudiogramPoint] = {}
        for p in self._results:
            key = (p.ear, p.frequency_hz)
            first = merged.get(key)
            if first is None:
                merged[key] = p
                continue
            values = [v for v in (first.threshold_db_hl, p.threshold_db_hl) if v is not None]
            better = min(values) if values else None
            other = max(values) if len(values) == 2 else None
            flags = set(first.flags) | set(p.flags)
            if (first.threshold_db_hl is None) != (p.threshold_db_hl is None) or (
                    other is not None and better is not None
                    and other - better > cfg.retest_tolerance_db):
                flags.add("retest differs")
            if better is not None:
                flags.discard("no response")
            merged[key] = AudiogramPoint(p.ear, p.frequency_hz, better, tuple(sorted(flags)),
                                         retest_db_hl=other, n_trials=first.n_trials + p.n_trials)
        ia = INTERAURAL_ATTENUATION_DB[cfg.transducer]
        for (ear, f), point in list(merged.items()):
            other_ear = merged.get(("left" if ear == "right" else "right", f))
            if other_ear is None or other_ear.threshold_db_hl is None:
                continue
            mine = (point.threshold_db_hl if point.threshold_db_hl is not None
                    else cfg.ceiling_db_hl(f))
            if mine - other_ear.threshold_db_hl >= ia:  # the worse ear may hear via the other
                merged[(ear, f)] = replace(point, flags=tuple(sorted({*point.flags,
                                                                      "masking needed"})))
        order = {e: i for i, e in enumerate(cfg.ears)}
        return tuple(sorted(merged.values(), key=lambda p: (order[p.ear], p.frequency_hz)))

