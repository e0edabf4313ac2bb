"""Adaptive and fixed procedures: transformed and weighted up-down, constant stimuli, interleaving.

Transformed up-down (Levitt 1971)
---------------------------------
After ``n_down`` consecutive positive answers (correct in n-AFC, "yes" in yes/no) the variable
goes down one step; after ``n_up`` consecutive negative answers it goes up one step; any other
answer only advances the run counters (a positive answer clears the negative run and vice versa).
The track converges on the point where P(positive)^n_down = 1/2 for 1-up rules, i.e. 70.7 % for
1-up-2-down and 79.4 % for 1-up-3-down (and 29.3 % for 2-up-1-down). Catch trials never move it.

Step sizes: ``step_sizes_db[k]`` applies once ``step_change_reversals[k - 1]`` reversals have
occurred, counting the reversal that the move itself makes (``(8, 4, 2)`` with ``(2, 4)``: 8 dB
until the 2nd reversal, 4 dB from the move that makes it until the 4th, then 2 dB). A reversal is
a move in the direction opposite to the previous move; its level is the level of the trial whose
answer caused it (the peak or valley of the track), and its stage is the step-size stage the track
arrived there with, so "reversals at the smallest step" are those of the last stage.

Floor and ceiling: a move that would leave ``[floor_db, ceiling_db]`` is clamped to the bound
(the direction still counts as requested, so reversals are unchanged by clamping). A trial at the
ceiling answered negatively, or at the floor answered positively, counts as a bound trial; any
other signal trial resets the count. After ``max_trials_at_bound`` consecutive bound trials the
track stops with ``stop_reason`` ``'ceiling'`` (the listener does not reach the target at the
highest allowed level) or ``'floor'``. Otherwise it stops after ``max_reversals`` reversals or
``max_trials`` signal trials, whichever comes first (``stop_reason`` ``'reversals'`` or
``'trials'``).

Weighted up-down (Kaernbach 1991)
---------------------------------
One down step after each positive and one up step after each negative answer, with
S_up / S_down = p / (1 - p): at equilibrium p S_down = (1 - p) S_up, so the track converges on the
point where P(positive) = p for any target p (3 for 75 %).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from audiolab._errors import ConfigError, ProcedureError
from audiolab._validate import check_choice, check_int, check_real
from audiolab.experiments._audiometry import AudiometryConfig, PureToneAudiometry
from audiolab.experiments._matrix import MatrixSrt, MatrixSrtConfig
from audiolab.experiments._quest import QuestPlus, QuestPlusConfig
from audiolab.experiments._trials import (
    Procedure,
    Response,
    SingleTrack,
    Task,
    Trial,
    TrialRecord,
    check_seed,
)

__all__ = [
    "ConstantStimuli",
    "ConstantStimuliConfig",
    "Interleaved",
    "InterleavedConfig",
    "ProcedureConfig",
    "Reversal",
    "UpDown",
    "UpDownConfig",
    "WeightedUpDownConfig",
    "make_procedure",
    "replay",
]

_LIMIT_DB = 1000.0  # any variable in dB: a sanity range, not a safety ceiling


def _check_task(task: Any) -> Task:
    if not isinstance(task, Task):
        raise ConfigError(f"task must be a Task, got {type(task).__name__}")
    return task


def _check_steps(name: str, values: Any, *, low: float, high: float) -> tuple[float, ...]:
    if isinstance(values, str) or not isinstance(values, tuple | list):
        raise ConfigError(f"{name} must be a list of numbers, got {values!r}")
    if len(values) < 1:
        raise ConfigError(f"{name} must hold at least one value, got {values!r}")
    return tuple(check_real(f"{name}[{i}]", v, low=low, high=high, low_open=True)
                 for i, v in enumerate(values))


def _check_stop(max_reversals: Any, max_trials: Any) -> None:
    if max_reversals is None and max_trials is None:
        raise ConfigError(
            "max_reversals and max_trials must not both be None: the track would never stop"
        )
    if max_reversals is not None:
        check_int("max_reversals", max_reversals, low=1, high=1000)
    if max_trials is not None:
        check_int("max_trials", max_trials, low=1, high=100_000)


def _check_bounds(obj: Any) -> None:
    for name in ("floor_db", "ceiling_db"):
        v = getattr(obj, name)
        if v is not None:
            object.__setattr__(obj, name, check_real(name, v, low=-_LIMIT_DB, high=_LIMIT_DB))
    lo = -_LIMIT_DB if obj.floor_db is None else obj.floor_db
    hi = _LIMIT_DB if obj.ceiling_db is None else obj.ceiling_db
    if lo >= hi:
        raise ConfigError(f"floor_db must be below ceiling_db, got {obj.floor_db!r} and "
                          f"{obj.ceiling_db!r}")
    object.__setattr__(obj, "start_db", check_real("start_db", obj.start_db, low=lo, high=hi))
    check_int("max_trials_at_bound", obj.max_trials_at_bound, low=1, high=100)


def _check_changes(changes: Any, n_steps: int) -> tuple[int, ...]:
    if isinstance(changes, str) or not isinstance(changes, tuple | list):
        raise ConfigError(f"step_change_reversals must be a list of integers, got {changes!r}")
    if len(changes) != n_steps - 1:
        raise ConfigError(
            f"step_change_reversals must hold one reversal count per step change "
            f"({n_steps - 1} for {n_steps} step sizes), got {list(changes)!r}"
        )
    out = tuple(check_int(f"step_change_reversals[{i}]", c, low=1, high=1000)
                for i, c in enumerate(changes))
    if any(b <= a for a, b in zip(out, out[1:], strict=False)):
        raise ConfigError(f"step_change_reversals must increase strictly, got {list(out)!r}")
    return out


@dataclass(frozen=True)
class UpDownConfig:
    """A transformed up-down track (Levitt 1971): n-down / m-up with changing steps.

    Parameters
    ----------
    start_db : float
        Starting value of the variable, dB, within the floor and ceiling.
    n_down : int
        Consecutive positive answers that move the variable down, in [1, 8].
    n_up : int
        Consecutive negative answers that move it up, in [1, 8].
    step_sizes_db : tuple of float
        Step sizes, dB, each in (0, 100]; the last one is "the smallest step" of the estimate.
    step_change_reversals : tuple of int
        Reversal counts (strictly increasing, one fewer than the step sizes) at which the next
        step size takes over.
    max_reversals, max_trials : int or None
        Stop rule: after this many reversals ([1, 1000]) or signal trials ([1, 100000]), whichever
        first; at least one must be given.
    floor_db, ceiling_db : float or None
        Bounds of the variable (None: unbounded), in [-1000, 1000] dB; see the module docstring
        for the rule at a bound.
    max_trials_at_bound : int
        Consecutive bound trials after which the track stops, in [1, 100].
    task : Task
        n-AFC or yes/no (with catch trials).

    Examples
    --------
    >>> cfg = UpDownConfig(start_db=60.0, n_down=2, step_sizes_db=(8.0, 4.0, 2.0),
    ...                    step_change_reversals=(2, 4), max_reversals=10)
    >>> track = UpDown(cfg, seed=1)
    >>> trial = track.next_trial()
    >>> trial.x_db, trial.n_intervals
    (60.0, 2)
    >>> _ = track.record(trial.target_interval)  # a correct answer
    >>> _ = track.record(track.next_trial().target_interval)  # two correct: one step down
    >>> track.next_trial().x_db
    52.0
    """

    start_db: float
    n_down: int = 2
    n_up: int = 1
    step_sizes_db: tuple[float, ...] = (4.0, 2.0)
    step_change_reversals: tuple[int, ...] = (2,)
    max_reversals: int | None = 12
    max_trials: int | None = None
    floor_db: float | None = None
    ceiling_db: float | None = None
    max_trials_at_bound: int = 3
    task: Task = field(default_factory=Task)

    def __post_init__(self) -> None:
        _check_task(self.task)
        check_int("n_down", self.n_down, low=1, high=8)
        check_int("n_up", self.n_up, low=1, high=8)
        steps = _check_steps("step_sizes_db", self.step_sizes_db, low=0.0, high=100.0)
        object.__setattr__(self, "step_sizes_db", steps)
        object.__setattr__(self, "step_change_reversals",
                           _check_changes(self.step_change_reversals, len(steps)))
        _check_stop(self.max_reversals, self.max_trials)
        _check_bounds(self)

    @property
    def target_probability(self) -> float:
        """P(positive) the track converges on (Levitt 1971): 70.7 % for 1-up-2-down.

        The track moves down or up with equal probability at this point. From a fresh run the
        chance that ``n_down`` positives in a row come before ``n_up`` negatives in a row is
        p^(a-1) (1 - q^b) / (p^(a-1) + q^(b-1) - p^(a-1) q^(b-1)) with a = n_down, b = n_up,
        q = 1 - p (the classical race of success and failure runs); for 1-up rules it reduces to
        p^n_down, so p = 0.5^(1/n_down).
        """
        from scipy.optimize import brentq

        a, b = self.n_down, self.n_up

        def down_first(p: float) -> float:
            q = 1.0 - p
            pa, qb = p ** (a - 1), q ** (b - 1)
            return pa * (1 - q**b) / (pa + qb - pa * qb)

        return float(brentq(lambda p: down_first(p) - 0.5, 1e-12, 1 - 1e-12, xtol=1e-14))


@dataclass(frozen=True)
class WeightedUpDownConfig:
    """A weighted up-down track (Kaernbach 1991) converging on any target probability.

    Parameters
    ----------
    start_db : float
        Starting value, dB, within the floor and ceiling.
    target : float
        Target P(positive), in (g, 1) with g the task's guess rate (e.g. 0.75 in 2-AFC).
    step_down_sizes_db : tuple of float
        Down-step sizes, dB, each in (0, 100]; each up step is the down step times
        ``target / (1 - target)``.
    step_change_reversals, max_reversals, max_trials, floor_db, ceiling_db, max_trials_at_bound,
    task
        As in :class:`UpDownConfig`.

    Examples
    --------
    >>> cfg = WeightedUpDownConfig(start_db=0.0, target=0.75, step_down_sizes_db=(1.0,),
    ...                            step_change_reversals=(), max_trials=50)
    >>> cfg.step_up_sizes_db
    (3.0,)
    """

    start_db: float
    target: float = 0.75
    step_down_sizes_db: tuple[float, ...] = (2.0, 1.0)
    step_change_reversals: tuple[int, ...] = (2,)
    max_reversals: int | None = 14
    max_trials: int | None = None
    floor_db: float | None = None
    ceiling_db: float | None = None
    max_trials_at_bound: int = 3
    task: Task = field(default_factory=Task)

    def __post_init__(self) -> None:
        _check_task(self.task)
        g = self.task.guess_rate
        object.__setattr__(self, "target", check_real("target", self.target, low=g, high=1.0,
                                                      low_open=True, high_open=True))
        steps = _check_steps("step_down_sizes_db", self.step_down_sizes_db, low=0.0, high=100.0)
        object.__setattr__(self, "step_down_sizes_db", steps)
        object.__setattr__(self, "step_change_reversals",
                           _check_changes(self.step_change_reversals, len(steps)))
        _check_stop(self.max_reversals, self.max_trials)
        _check_bounds(self)

    @property
    def step_up_sizes_db(self) -> tuple[float, ...]:
        """Up steps: S_up = S_down p / (1 - p), Kaernbach (1991)."""
        ratio = self.target / (1.0 - self.target)
        return tuple(s * ratio for s in self.step_down_sizes_db)


@dataclass(frozen=True)
class Reversal:
    """A reversal of an up-down track: trial index, level (dB) and step-size stage."""

    trial_index: int
    x_db: float
    stage: int


class UpDown(SingleTrack):
    """A transformed (Levitt 1971) or weighted (Kaernbach 1991) up-down track.

    Parameters
    ----------
    config : UpDownConfig or WeightedUpDownConfig
        The rule, steps, stop rule and bounds (see the module docstring).
    seed : int
        Seed of the generator that draws target intervals and catch trials.

    Examples
    --------
    >>> track = UpDown(UpDownConfig(start_db=10.0, n_down=1, step_sizes_db=(2.0,),
    ...                             step_change_reversals=(), max_trials=3), seed=0)
    >>> for _ in range(3):
    ...     t = track.next_trial()
    ...     _ = track.record(t.target_interval)
    >>> [r.trial.x_db for r in track.history], track.stop_reason
    ([10.0, 8.0, 6.0], 'trials')
    """

    def __init__(self, config: UpDownConfig | WeightedUpDownConfig, *, seed: int) -> None:
        if isinstance(config, UpDownConfig):
            self._n_down, self._n_up = config.n_down, config.n_up
            self._down = config.step_sizes_db
            self._up = config.step_sizes_db
        elif isinstance(config, WeightedUpDownConfig):
            self._n_down = self._n_up = 1
            self._down = config.step_down_sizes_db
            self._up = config.step_up_sizes_db
        else:
            raise ConfigError(
                f"config must be an UpDownConfig or WeightedUpDownConfig, got "
                f"{type(config).__name__}"
            )
        super().__init__(config.task, seed)
        self._config = config
        self._x_db = float(config.start_db)
        self._direction = 0  # last move: +1 up, -1 down, 0 none yet
        self._run_positive = 0
        self._run_negative = 0
        self._n_at_bound = 0
        self._reversals: list[Reversal] = []
        self._stop_reason: str | None = None

    @property
    def config(self) -> UpDownConfig | WeightedUpDownConfig:
        """The track's configuration."""
        return self._config

    @property
    def reversals(self) -> tuple[Reversal, ...]:
        """Every reversal so far, in order."""
        return tuple(self._reversals)

    @property
    def n_stages(self) -> int:
        """Number of step-size stages (the last is the smallest step)."""
        return len(self._down)

    @property
    def x_db(self) -> float:
        """The variable's current value (the next signal trial's level), dB."""
        return self._x_db

    @property
    def stop_reason(self) -> str | None:
        """None while running; else 'reversals', 'trials', 'ceiling' or 'floor'."""
        return self._stop_reason

    def _stage(self, n_reversals: int) -> int:
        return sum(n_reversals >= c for c in self._config.step_change_reversals)

    def _current_x_db(self) -> float:
        return self._x_db

    def _done(self) -> bool:
        return self._stop_reason is not None

    def _update(self, x_db: float, positive: bool) -> None:
        cfg = self._config
        at_ceiling = cfg.ceiling_db is not None and x_db >= cfg.ceiling_db and not positive
        at_floor = cfg.floor_db is not None and x_db <= cfg.floor_db and positive
        self._n_at_bound = self._n_at_bound + 1 if (at_ceiling or at_floor) else 0
        move = 0
        if positive:
            self._run_positive += 1
            self._run_negative = 0
            if self._run_positive >= self._n_down:
                move, self._run_positive = -1, 0
        else:
            self._run_negative += 1
            self._run_positive = 0
            if self._run_negative >= self._n_up:
                move, self._run_negative = +1, 0
        if move:
            arrived_stage = self._stage(len(self._reversals))
            if self._direction and move != self._direction:
                self._reversals.append(Reversal(len(self._history) - 1, x_db, arrived_stage))
            self._direction = move
            stage = self._stage(len(self._reversals))
            step = self._down[stage] if move < 0 else self._up[stage]
            new = x_db + move * step
            if cfg.floor_db is not None:
                new = max(new, cfg.floor_db)
            if cfg.ceiling_db is not None:
                new = min(new, cfg.ceiling_db)
            self._x_db = float(new)
        if self._n_at_bound >= cfg.max_trials_at_bound:
            self._stop_reason = "ceiling" if at_ceiling else "floor"
        elif cfg.max_reversals is not None and len(self._reversals) >= cfg.max_reversals:
            self._stop_reason = "reversals"
        elif cfg.max_trials is not None and self._n_signal_trials >= cfg.max_trials:
            self._stop_reason = "trials"

    def _own_state(self) -> dict[str, Any]:
        return {
            "x_db": self._x_db,
            "direction": self._direction,
            "run_positive": self._run_positive,
            "run_negative": self._run_negative,
            "n_at_bound": self._n_at_bound,
            "reversals": [(r.trial_index, r.x_db, r.stage) for r in self._reversals],
            "stop_reason": self._stop_reason,
        }

    def _own_compact_state(self) -> dict[str, Any]:
        state = self._own_state()
        del state["reversals"]
        last = self._reversals[-1] if self._reversals else None
        state.update(
            stage=self._stage(len(self._reversals)),
            n_reversals=len(self._reversals),
            # The reversal the last answer revealed (at that trial of this track), else None.
            reversal=(None if last is None or last.trial_index != len(self._history) - 1
                      else [last.trial_index, last.x_db, last.stage]),
        )
        return state


@dataclass(frozen=True)
class ConstantStimuliConfig:
    """The method of constant stimuli: each level ``n_repetitions`` times, in a seeded order.

    Parameters
    ----------
    levels_db : tuple of float
        The levels, dB, each in [-1000, 1000]; at least one, no duplicates.
    n_repetitions : int
        Presentations of each level, in [1, 1000].
    task : Task
        n-AFC or yes/no (catch trials come on top of the signal trials).

    Examples
    --------
    >>> proc = ConstantStimuli(ConstantStimuliConfig(levels_db=(0.0, 5.0), n_repetitions=2),
    ...                        seed=3)
    >>> sorted(proc.order_db)
    [0.0, 0.0, 5.0, 5.0]
    """

    levels_db: tuple[float, ...]
    n_repetitions: int = 20
    task: Task = field(default_factory=Task)

    def __post_init__(self) -> None:
        _check_task(self.task)
        if isinstance(self.levels_db, str) or not isinstance(self.levels_db, tuple | list):
            raise ConfigError(f"levels_db must be a list of numbers, got {self.levels_db!r}")
        if not self.levels_db:
            raise ConfigError("levels_db must hold at least one level, got []")
        levels = tuple(check_real(f"levels_db[{i}]", v, low=-_LIMIT_DB, high=_LIMIT_DB)
                       for i, v in enumerate(self.levels_db))
        if len(set(levels)) != len(levels):
            raise ConfigError(f"levels_db must not repeat a level, got {list(levels)!r}")
        object.__setattr__(self, "levels_db", levels)
        check_int("n_repetitions", self.n_repetitions, low=1, high=1000)


class ConstantStimuli(SingleTrack):
    """Constant stimuli: the repeated levels shuffled once by the seed, then presented in order.

    Parameters
    ----------
    config : ConstantStimuliConfig
        Levels, repetitions and task.
    seed : int
        Seed of the shuffle, the target intervals and the catch trials.
    """

    def __init__(self, config: ConstantStimuliConfig, *, seed: int) -> None:
        if not isinstance(config, ConstantStimuliConfig):
            raise ConfigError(
                f"config must be a ConstantStimuliConfig, got {type(config).__name__}"
            )
        super().__init__(config.task, seed)
        self._config = config
        order = np.repeat(np.asarray(config.levels_db), config.n_repetitions)
        self._order = tuple(float(v) for v in self._rng.permutation(order))

    @property
    def config(self) -> ConstantStimuliConfig:
        """The configuration."""
        return self._config

    @property
    def order_db(self) -> tuple[float, ...]:
        """The presentation order of the signal trials, dB."""
        return self._order

    @property
    def stop_reason(self) -> str | None:
        """'trials' once every level has been presented its repetitions, else None."""
        return "trials" if self._done() else None

    def _current_x_db(self) -> float:
        return self._order[self._n_signal_trials]

    def _update(self, x_db: float, positive: bool) -> None:
        pass  # the order is fixed; answers only go to the history

    def _done(self) -> bool:
        return self._n_signal_trials >= len(self._order)

    def _own_state(self) -> dict[str, Any]:
        return {"order_db": list(self._order)}

    def _own_compact_state(self) -> dict[str, Any]:
        n = self._n_signal_trials
        return {"next_x_db": self._order[n] if n < len(self._order) else None}


@dataclass(frozen=True)
class InterleavedConfig:
    """Several tracks interleaved trial by trial, each with its own state, stop rule and result.

    Parameters
    ----------
    tracks : tuple of configs
        Two or more (up to 16) track configs: :class:`UpDownConfig`,
        :class:`WeightedUpDownConfig`, :class:`ConstantStimuliConfig`,
        :class:`~audiolab.experiments.QuestPlusConfig` or
        :class:`~audiolab.experiments.MatrixSrtConfig` (e.g. two matrix tracks at different
        targets).
    order : {'random', 'in_turn'}
        ``'random'``: each trial's track is drawn uniformly (seeded) from the unfinished tracks;
        ``'in_turn'``: the unfinished tracks take turns in their listed order. A finished track
        drops out; the whole procedure is finished when every track is.

    Examples
    --------
    >>> a = UpDownConfig(start_db=40.0, max_trials=2)
    >>> b = UpDownConfig(start_db=60.0, max_trials=2)
    >>> proc = Interleaved(InterleavedConfig(tracks=(a, b), order="in_turn"), seed=5)
    >>> [proc.next_trial().track, proc.record(1).trial.track, proc.next_trial().track]
    [0, 0, 1]
    """

    tracks: tuple[Any, ...]
    order: str = "random"

    def __post_init__(self) -> None:
        if isinstance(self.tracks, str) or not isinstance(self.tracks, tuple | list):
            raise ConfigError(f"tracks must be a list of track configs, got {self.tracks!r}")
        object.__setattr__(self, "tracks", tuple(self.tracks))
        check_int("number of tracks", len(self.tracks), low=2, high=16)
        for i, t in enumerate(self.tracks):
            if not isinstance(t, _TRACK_CONFIGS):
                raise ConfigError(
                    f"tracks[{i}] must be one of "
                    f"{', '.join(c.__name__ for c in _TRACK_CONFIGS)}, got {type(t).__name__}"
                )
        check_choice("order", self.order, ("random", "in_turn"))


class Interleaved(Procedure):
    """Interleaved tracks: one procedure whose trials come from several independent tracks.

    Each track gets its own generator (spawned from the seed), so its target intervals and catch
    trials depend only on its own trials; a separate generator picks the track in random order.
    ``Trial.track`` says which track a trial belongs to; ``Trial.index`` is the trial number of
    the whole procedure.

    Parameters
    ----------
    config : InterleavedConfig
        The tracks and the order.
    seed : int
        Seed of the whole procedure.
    """

    def __init__(self, config: InterleavedConfig, *, seed: int) -> None:
        if not isinstance(config, InterleavedConfig):
            raise ConfigError(f"config must be an InterleavedConfig, got {type(config).__name__}")
        self._config = config
        self._seed = check_seed(seed)
        seeds = np.random.SeedSequence(self._seed).generate_state(len(config.tracks) + 1, np.uint64)
        self._rng = np.random.default_rng(int(seeds[0]))
        self._tracks = tuple(
            make_procedure(c, seed=int(s) & (2**63 - 1)) for c, s in zip(config.tracks, seeds[1:],
                                                                        strict=True)
        )
        self._turn = 0
        self._history: list[TrialRecord] = []
        self._pending: Trial | None = None

    @property
    def config(self) -> InterleavedConfig:
        """The configuration."""
        return self._config

    @property
    def seed(self) -> int:
        """The seed of the procedure."""
        return self._seed

    @property
    def tracks(self) -> tuple[Procedure, ...]:
        """The tracks, each a procedure with its own state and history."""
        return self._tracks

    @property
    def history(self) -> tuple[TrialRecord, ...]:  # noqa: D102
        return tuple(self._history)

    @property
    def finished(self) -> bool:  # noqa: D102
        return all(t.finished for t in self._tracks)

    def next_trial(self) -> Trial:  # noqa: D102
        if self._pending is not None:
            return self._pending
        live = [i for i, t in enumerate(self._tracks) if not t.finished]
        if not live:
            raise ProcedureError(
                f"next_trial() called on a finished procedure (after {len(self._history)} "
                "trials): check .finished first"
            )
        if self._config.order == "random":
            k = live[int(self._rng.integers(len(live)))]
        else:
            k = next(i for i in live if i >= self._turn) if max(live) >= self._turn else live[0]
            self._turn = k + 1
        inner = self._tracks[k].next_trial()
        self._pending = replace(inner, index=len(self._history), track=k)
        return self._pending

    def record(self, response: Response) -> TrialRecord:  # noqa: D102
        trial = self._pending
        if trial is None:
            raise ProcedureError("record() called with no trial pending: call next_trial() first")
        inner = self._tracks[trial.track].record(response)
        rec = TrialRecord(trial=trial, response=inner.response, positive=inner.positive)
        self._history.append(rec)
        self._pending = None
        return rec

    def state(self) -> dict[str, Any]:  # noqa: D102
        return {
            "seed": self._seed,
            "rng": self._rng.bit_generator.state,
            "turn": self._turn,
            "pending": None if self._pending is None else asdict(self._pending),
            "history": [r.as_dict() for r in self._history],
            "finished": self.finished,
            "tracks": [t.state() for t in self._tracks],
        }

    def compact_state(self) -> dict[str, Any]:  # noqa: D102
        return {
            "n_trials": len(self._history),
            "finished": self.finished,
            "track": self._history[-1].trial.track if self._history else None,
            "tracks": [t.compact_state() for t in self._tracks],
        }


ProcedureConfig = (
    UpDownConfig
    | WeightedUpDownConfig
    | ConstantStimuliConfig
    | QuestPlusConfig
    | InterleavedConfig
    | AudiometryConfig
    | MatrixSrtConfig
)
"""Any procedure configuration :func:`make_procedure` accepts."""

_TRACK_CONFIGS = (UpDownConfig, WeightedUpDownConfig, ConstantStimuliConfig, QuestPlusConfig,
                  MatrixSrtConfig)


def make_procedure(config: ProcedureConfig, *, seed: int) -> Procedure:
    """Build the procedure a config describes, in its initial state.

    Parameters
    ----------
    config : UpDownConfig, WeightedUpDownConfig, ConstantStimuliConfig, QuestPlusConfig,
        InterleavedConfig, AudiometryConfig or MatrixSrtConfig
        What to run.
    seed : int
        Seed, in [0, 2**63 - 1]: every random choice of the procedure follows from it.

    Returns
    -------
    Procedure
        :class:`UpDown`, :class:`ConstantStimuli`, :class:`~audiolab.experiments.QuestPlus`,
        :class:`Interleaved`, :class:`~audiolab.experiments.PureToneAudiometry` or
        :class:`~audiolab.experiments.MatrixSrt`.

    Examples
    --------
    >>> make_procedure(UpDownConfig(start_db=30.0), seed=0).next_trial().x_db
    30.0
    """
    if isinstance(config, UpDownConfig | WeightedUpDownConfig):
        return UpDown(config, seed=seed)
    if isinstance(config, ConstantStimuliConfig):
        return ConstantStimuli(config, seed=seed)
    if isinstance(config, QuestPlusConfig):
        return QuestPlus(config, seed=seed)
    if isinstance(config, InterleavedConfig):
        return Interleaved(config, seed=seed)
    if isinstance(config, AudiometryConfig):
        return PureToneAudiometry(config, seed=seed)
    if isinstance(config, MatrixSrtConfig):
        return MatrixSrt(config, seed=seed)
    raise ConfigError(
        "config must be an UpDownConfig, WeightedUpDownConfig, ConstantStimuliConfig, "
        "QuestPlusConfig, InterleavedConfig, AudiometryConfig or MatrixSrtConfig, got "
        f"{type(config).__name__}"
    )


def replay(config: ProcedureConfig, *, seed: int, responses: Any) -> Procedure:
    """Rebuild a procedure from its config, seed and the responses it has recorded (``--resume``).

    Each response answers the next trial in turn, so the procedure redraws the same target
    intervals, catch trials and track choices and ends in the state it was in after the last
    stored response.

    Parameters
    ----------
    config : ProcedureConfig
        The procedure's configuration.
    seed : int
        Its seed.
    responses : sequence of int or bool
        The stored responses, in order.

    Returns
    -------
    Procedure
        The procedure after the responses; its ``state()`` equals the original's.

    Raises
    ------
    ConfigError
        If a response is not a valid answer to its trial, or there are more responses than
        the procedure has trials.

    Examples
    --------
    >>> cfg = UpDownConfig(start_db=30.0, max_trials=5)
    >>> a = make_procedure(cfg, seed=9)
    >>> for r in (1, 2, 2):
    ...     _ = a.next_trial()
    ...     _ = a.record(r)
    >>> replay(cfg, seed=9, responses=a.responses).state() == a.state()
    True
    """
    proc = make_procedure(config, seed=seed)
    if isinstance(responses, str | bytes) or not hasattr(responses, "__iter__"):
        raise ConfigError(f"responses must be a sequence of answers, got {responses!r}")
    for i, r in enumerate(responses):
        if proc.finished:
            raise ProcedureError(
                f"responses has more answers than the procedure has trials: it finished after "
                f"{i}, got {len(list(responses))}"
            )
        proc.next_trial()
        try:
            proc.record(r)
        except ConfigError as exc:
            raise ProcedureError(f"responses[{i}]: {exc}") from None
    return proc
