"""QUEST+ (Watson 2017): a Bayesian adaptive procedure over a grid of psychometric parameters.

The listener's psychometric function is the logistic

    P(positive | x; m, s, l) = g + (1 - g - l) / (1 + exp(-s (x - m)))

with threshold (midpoint) m in dB, slope s per dB and lapse rate l on grids, and the guess rate g
fixed by the task (1/n for n-AFC, the given false-alarm rate for yes/no). The posterior over the
(m, s, l) grid starts uniform and is multiplied by the likelihood of each response. Each trial's
stimulus, from a stimulus grid, minimises the expected entropy of the next posterior (Watson 2017
eqs. 9-14). Psi (Kontsevich & Tyler 1999) is the case with one lapse value (a grid of length 1);
with one slope value too it estimates the threshold alone.

Expected entropy in closed form
-------------------------------
With prior pi(theta), L1(x, theta) = P(positive | x, theta), L0 = 1 - L1 and the predictive
probabilities p_r(x) = sum_theta L_r pi, the posterior after outcome r is L_r pi / p_r, so

    E[H](x) = sum_r p_r H(L_r pi / p_r)
            = sum_r p_r log p_r - sum_theta pi (L1 log L1 + L0 log L0) - sum_theta pi log pi.

The last term does not depend on x, and C = L1 log L1 + L0 log L0 is precomputed with L1, so the
choice over every stimulus costs two matrix-vector products (L1 @ pi and C @ pi): about a
millisecond for 60 stimuli x 40 x 10 x 4 parameters.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from audiolab._errors import ConfigError, ProcedureError
from audiolab._validate import check_choice, check_int, check_real
from audiolab.experiments._trials import SingleTrack, Task

__all__ = ["QuestPlus", "QuestPlusConfig", "QuestPlusEstimate"]

MAX_TABLE_CELLS = 4_000_000  # stimuli x parameter grid: ~100 MB of float64 tables at most


def _grid(name: str, values: Any, *, low: float, high: float, low_open: bool = False
          ) -> tuple[float, ...]:
    if isinstance(values, str) or not isinstance(values, tuple | list | np.ndarray):
        raise ConfigError(f"{name} must be a list of numbers, got {values!r}")
    if isinstance(values, np.ndarray):
        values = values.tolist()  # plain floats: messages show 1.5, not np.float64(1.5)
    if len(values) < 1:
        raise ConfigError(f"{name} must hold at least one value, got {list(values)!r}")
    out = tuple(check_real(f"{name}[{i}]", v, low=low, high=high, low_open=low_open)
                for i, v in enumerate(values))
    if any(b <= a for a, b in zip(out, out[1:], strict=False)):
        raise ConfigError(f"{name} must increase strictly, got {list(out)!r}")
    return out


@dataclass(frozen=True)
class QuestPlusConfig:
    """QUEST+ over a grid of threshold, slope and lapse (Watson 2017); Psi with one lapse value.

    Parameters
    ----------
    stimuli_db : sequence of float
        The stimulus grid, dB, strictly increasing, each in [-1000, 1000].
    thresholds_db : sequence of float
        Grid of the threshold (logistic midpoint) m, dB, strictly increasing, in [-1000, 1000].
    slopes_per_db : sequence of float
        Grid of the slope s, per dB, strictly increasing, each in (0, 100].
    lapse_rates : sequence of float
        Grid of the lapse rate l, strictly increasing, each in [0, 0.2]; length 1 fixes it
        (the Psi method).
    max_trials : int
        Signal trials before the procedure stops, in [1, 10000].
    entropy_of : {'joint', 'threshold'}
        Whose expected entropy the stimulus choice minimises: ``'joint'`` (Watson 2017: the
        whole (m, s, l) posterior) or ``'threshold'`` (the threshold's marginal posterior, slope
        and lapse as nuisance parameters as in Prins 2013): trials then stay near threshold
        instead of also spreading out to learn the slope.
    task : Task
        n-AFC (guess rate 1/n) or yes/no (guess rate ``task.false_alarm_rate``).

    Examples
    --------
    >>> cfg = QuestPlusConfig(stimuli_db=np.arange(-20.0, 21.0),
    ...                       thresholds_db=np.arange(-15.0, 16.0),
    ...                       slopes_per_db=(0.25, 0.5, 1.0), lapse_rates=(0.0, 0.04),
    ...                       max_trials=40)
    >>> q = QuestPlus(cfg, seed=0)
    >>> q.posterior.shape
    (31, 3, 2)
    """

    stimuli_db: tuple[float, ...]
    thresholds_db: tuple[float, ...]
    slopes_per_db: tuple[float, ...]
    lapse_rates: tuple[float, ...] = (0.02,)
    max_trials: int = 64
    entropy_of: str = "joint"
    task: Task = field(default_factory=Task)

    def __post_init__(self) -> None:
        if not isinstance(self.task, Task):
            raise ConfigError(f"task must be a Task, got {type(self.task).__name__}")
        object.__setattr__(self, "stimuli_db",
                           _grid("stimuli_db", self.stimuli_db, low=-1000, high=1000))
        object.__setattr__(self, "thresholds_db",
                           _grid("thresholds_db", self.thresholds_db, low=-1000, high=1000))
        object.__setattr__(self, "slopes_per_db",
                           _grid("slopes_per_db", self.slopes_per_db, low=0, high=100,
                                 low_open=True))
        object.__setattr__(self, "lapse_rates",
                           _grid("lapse_rates", self.lapse_rates, low=0, high=0.2))
        check_int("max_trials", self.max_trials, low=1, high=10_000)
        check_choice("entropy_of", self.entropy_of, ("joint", "threshold"))
        cells = (len(self.stimuli_db) * len(self.thresholds_db) * len(self.slopes_per_db)
                 * len(self.lapse_rates))
        if cells > MAX_TABLE_CELLS:
            raise ConfigError(
                f"stimuli x thresholds x slopes x lapse rates must be at most {MAX_TABLE_CELLS}, "
                f"got {cells}"
            )

    @property
    def grid_shape(self) -> tuple[int, int, int]:
        """Shape of the posterior: (thresholds, slopes, lapse rates)."""
        return (len(self.thresholds_db), len(self.slopes_per_db), len(self.lapse_rates))


@functools.lru_cache(maxsize=4)
def _tables(stimuli: tuple[float, ...], thresholds: tuple[float, ...], slopes: tuple[float, ...],
            lapses: tuple[float, ...], guess: float) -> tuple[np.ndarray, np.ndarray]:
    """L1 (P(positive)) and C = L1 log L1 + L0 log L0, shape (n_stimuli, n_parameters)."""
    x = np.asarray(stimuli)[:, None, None, None]
    m = np.asarray(thresholds)[None, :, None, None]
    s = np.asarray(slopes)[None, None, :, None]
    lapse = np.asarray(lapses)[None, None, None, :]
    # Watson (2017) eq. 2 with a logistic F; expit form avoids overflow of exp.
    f = 0.5 * (1.0 + np.tanh(0.5 * s * (x - m)))
    p1 = (guess + (1.0 - guess - lapse) * f).reshape(len(stimuli), -1)
    p0 = 1.0 - p1
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(p1 > 0, p1 * np.log(p1), 0.0) + np.where(p0 > 0, p0 * np.log(p0), 0.0)
    p1.setflags(write=False)
    c.setflags(write=False)
    return p1, c


@dataclass(frozen=True)
class QuestPlusEstimate:
    """Posterior estimates of QUEST+: means, modes and marginal SDs of each parameter.

    Attributes
    ----------
    threshold_db_mean, threshold_db_mode, threshold_db_sd : float
        Posterior mean, joint-posterior mode and marginal SD of the threshold, dB.
    slope_per_db_mean, slope_per_db_mode, slope_per_db_sd : float
        The same for the slope, per dB.
    lapse_rate_mean, lapse_rate_mode, lapse_rate_sd : float
        The same for the lapse rate.
    n_trials : int
        Signal trials the posterior has seen.
    """

    threshold_db_mean: float
    threshold_db_mode: float
    threshold_db_sd: float
    slope_per_db_mean: float
    slope_per_db_mode: float
    slope_per_db_sd: float
    lapse_rate_mean: float
    lapse_rate_mode: float
    lapse_rate_sd: float
    n_trials: int


class QuestPlus(SingleTrack):
    """The QUEST+ procedure (Watson 2017); see the module docstring for the method.

    Parameters
    ----------
    config : QuestPlusConfig
        Grids, trial count and task.
    seed : int
        Seed of the target intervals and catch trials (the stimulus choice is deterministic:
        ties go to the lowest stimulus).

    Examples
    --------
    >>> cfg = QuestPlusConfig(stimuli_db=np.arange(-10.0, 11.0), thresholds_db=np.arange(-8.0, 9.0),
    ...                       slopes_per_db=(0.5,), lapse_rates=(0.02,), max_trials=5)
    >>> q = QuestPlus(cfg, seed=2)
    >>> while not q.finished:
    ...     _ = q.record(q.next_trial().target_interval)  # always correct
    >>> q.estimate().threshold_db_mean < -3.0
    True
    """

    def __init__(self, config: QuestPlusConfig, *, seed: int) -> None:
        if not isinstance(config, QuestPlusConfig):
            raise ConfigError(f"config must be a QuestPlusConfig, got {type(config).__name__}")
        super().__init__(config.task, seed)
        self._config = config
        guess = config.task.guess_rate
        if guess + config.lapse_rates[-1] >= 1.0:
            raise ConfigError(
                f"lapse_rates must stay below 1 - guess rate ({1.0 - guess:g}), "
                f"got {config.lapse_rates[-1]!r}"
            )
        self._p1, self._c = _tables(config.stimuli_db, config.thresholds_db,
                                    config.slopes_per_db, config.lapse_rates, guess)
        n = self._p1.shape[1]
        self._posterior = np.full(n, 1.0 / n)
        self._x_index: int | None = None

    @property
    def config(self) -> QuestPlusConfig:
        """The configuration."""
        return self._config

    @property
    def posterior(self) -> np.ndarray:
        """The posterior over (thresholds, slopes, lapse rates), a read-only copy."""
        out = self._posterior.reshape(self._config.grid_shape).copy()
        out.setflags(write=False)
        return out

    @property
    def stop_reason(self) -> str | None:
        """'trials' after ``max_trials`` signal trials, else None."""
        return "trials" if self._done() else None

    def expected_entropy(self) -> np.ndarray:
        """Expected posterior entropy (nats) after a trial at each stimulus, shape (n_stimuli,).

        The entropy of the joint posterior, or of the threshold's marginal posterior when
        ``entropy_of`` is ``'threshold'``.
        """
        if self._config.entropy_of == "threshold":
            return self._expected_threshold_entropy()
        pi = self._posterior
        p1 = self._p1 @ pi
        p0 = 1.0 - p1
        with np.errstate(divide="ignore", invalid="ignore"):
            h = np.where(p1 > 0, p1 * np.log(p1), 0.0) + np.where(p0 > 0, p0 * np.log(p0), 0.0)
            h_prior = float(np.sum(np.where(pi > 0, pi * np.log(pi), 0.0)))
        # Closed form of the module docstring.
        return h - self._c @ pi - h_prior

    def _expected_threshold_entropy(self) -> np.ndarray:
        # Marginal over the threshold of each outcome's unnormalised posterior: m1 for a
        # positive answer; m0 = marginal prior - m1 since L0 = 1 - L1.
        n_m = len(self._config.thresholds_db)
        pi = self._posterior
        m1 = (self._p1 * pi).reshape(len(self._config.stimuli_db), n_m, -1).sum(axis=2)
        m0 = pi.reshape(n_m, -1).sum(axis=1)[None, :] - m1
        out = np.zeros(m1.shape[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            for joint in (m1, np.maximum(m0, 0.0)):
                p = joint.sum(axis=1)
                # p H(joint / p) = p log p - sum joint log joint
                out += np.where(p > 0, p * np.log(p), 0.0)
                out -= np.sum(np.where(joint > 0, joint * np.log(joint), 0.0), axis=1)
        return out

    def _current_x_db(self) -> float:
        self._x_index = int(np.argmin(self.expected_entropy()))
        return self._config.stimuli_db[self._x_index]

    def _update(self, x_db: float, positive: bool) -> None:
        i = self._config.stimuli_db.index(x_db)
        like = self._p1[i] if positive else 1.0 - self._p1[i]
        post = self._posterior * like  # Watson (2017) eq. 7
        total = post.sum()
        if not total > 0:  # only if every grid point gave the answer probability 0
            raise ProcedureError(
                f"response at {x_db!r} dB has probability 0 under every grid point: widen "
                "lapse_rates above 0"
            )
        self._posterior = post / total

    def _done(self) -> bool:
        return self._n_signal_trials >= self._config.max_trials

    def _own_state(self) -> dict[str, Any]:
        return {"posterior": self._posterior.tolist()}

    def _own_compact_state(self) -> dict[str, Any]:
        # The posterior's moments, not the grid (which can hold thousands of cells).
        return {key: float(v) for key, v in vars(self.estimate()).items()}

    def estimate(self) -> QuestPlusEstimate:
        """Posterior mean, mode and marginal SD of threshold, slope and lapse rate."""
        cfg = self._config
        post = self._posterior.reshape(cfg.grid_shape)
        mode = np.unravel_index(int(np.argmax(post)), cfg.grid_shape)
        out: dict[str, float] = {}
        for axis, (name, grid) in enumerate((("threshold_db", cfg.thresholds_db),
                                             ("slope_per_db", cfg.slopes_per_db),
                                             ("lapse_rate", cfg.lapse_rates))):
            g = np.asarray(grid)
            marginal = post.sum(axis=tuple(a for a in range(3) if a != axis))
            mean = float(marginal @ g)
            out[f"{name}_mean"] = mean
            out[f"{name}_mode"] = float(g[mode[axis]])
            out[f"{name}_sd"] = math.sqrt(max(float(marginal @ (g - mean) ** 2), 0.0))
        return QuestPlusEstimate(**out, n_trials=self._n_signal_trials)
