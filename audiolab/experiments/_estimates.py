"""Threshold estimates: mean of the last reversals, and a maximum-likelihood logistic fit.

Maximum-likelihood fit
----------------------
The model is P(x) = g + (1 - g - l) / (1 + exp(-s (x - m))) with the guess rate g fixed by the
task (1/n for n-AFC, the false-alarm rate for yes/no), midpoint m (dB), slope s (per dB) and the
lapse rate l either fixed or fitted within [0, ``max_lapse_rate``] (Wichmann & Hill 2001 bound it
near 0.06). The binomial log-likelihood of all signal trials is maximised over (m, log s[, l]):
a coarse grid search picks the start, Nelder-Mead (bounded) refines it.

The 95 % intervals are **profile-likelihood** intervals: the set of m (or s) whose profile
log-likelihood (maximised over the other parameters) is within chi2_1(0.95) / 2 = 1.921 of the
maximum (Wilks' theorem; e.g. Venzon & Moolgavkar 1988). They are deterministic (no resampling)
and follow the asymmetry of the likelihood. An end the search cannot close within the parameter
bounds (m within the tested range widened by its span on each side, s in [0.001, 50] per dB) is
reported at the bound and flagged with ``interval_clipped``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from audiolab._errors import ConfigError
from audiolab._validate import check_int, check_real
from audiolab.experiments._audiometry import PureToneAudiometry
from audiolab.experiments._matrix import MatrixSrt, fit_matrix_srt
from audiolab.experiments._procedures import ConstantStimuli, Interleaved, UpDown
from audiolab.experiments._quest import QuestPlus
from audiolab.experiments._trials import Procedure, SingleTrack

__all__ = [
    "LogisticFit",
    "ReversalEstimate",
    "fit_logistic",
    "fit_procedure",
    "reversal_threshold",
    "summarize",
]

CHI2_1_95 = 3.841458820694124  # chi-square quantile, 1 degree of freedom, 0.95
SLOPE_BOUNDS_PER_DB = (1e-3, 50.0)
_P_CLIP = 1e-12


@dataclass(frozen=True)
class ReversalEstimate:
    """Threshold as the mean of the last reversals at the smallest step (Levitt 1971).

    Attributes
    ----------
    threshold_db : float
        Mean of the reversal levels used, dB.
    sd_db : float
        Their sample SD (ddof = 1), dB; NaN when only one reversal is used.
    levels_db : tuple of float
        The reversal levels used, in order.
    n_reversals : int
        How many were used (``n_last`` or fewer when the track has fewer).
    """

    threshold_db: float
    sd_db: float
    levels_db: tuple[float, ...]
    n_reversals: int


def reversal_threshold(track: UpDown, *, n_last: int = 6) -> ReversalEstimate:
    """Mean and SD of the last ``n_last`` reversals made at the smallest step size.

    Parameters
    ----------
    track : UpDown
        A transformed or weighted up-down track (for interleaved tracks pass each of
        ``Interleaved.tracks``).
    n_last : int
        Reversals to average, in [1, 1000]; an even number cancels the peak/valley alternation.
        Fewer are used when the track has fewer at the smallest step.

    Returns
    -------
    ReversalEstimate
        The estimate.

    Raises
    ------
    ConfigError
        If the track has no reversal at the smallest step.

    Examples
    --------
    >>> from audiolab.experiments import UpDownConfig, make_procedure, replay
    >>> cfg = UpDownConfig(start_db=0.0, n_down=1, step_sizes_db=(1.0,),
    ...                    step_change_reversals=(), max_reversals=4)
    >>> t = replay(cfg, seed=0, responses=[])
    >>> for ok in (True, False, True, False):
    ...     trial = t.next_trial()
    ...     _ = t.record(trial.target_interval if ok else 3 - trial.target_interval)
    >>> reversal_threshold(t, n_last=2).threshold_db
    -0.5
    """
    if not isinstance(track, UpDown):
        raise ConfigError(f"track must be an UpDown track, got {type(track).__name__}")
    check_int("n_last", n_last, low=1, high=1000)
    last_stage = track.n_stages - 1
    levels = [r.x_db for r in track.reversals if r.stage == last_stage]
    if not levels:
        raise ConfigError(
            f"the track has no reversal at the smallest step (stage {last_stage}); it has "
            f"{len(track.reversals)} reversals in all and stopped by {track.stop_reason!r}"
        )
    used = tuple(levels[-n_last:])
    sd = float(np.std(used, ddof=1)) if len(used) > 1 else math.nan
    return ReversalEstimate(float(np.mean(used)), sd, used, len(used))


@dataclass(frozen=True)
class LogisticFit:
    """Maximum-likelihood logistic fit with 95 % profile-likelihood intervals.

    Attributes
    ----------
    midpoint_db : float
        Fitted m, dB (P = g + (1 - g - l) / 2 there).
    slope_per_db : float
        Fitted s, per dB.
    lapse_rate : float
        Fitted (or fixed) l.
    guess_rate : float
        The fixed g.
    midpoint_ci_db : tuple of float
        95 % profile-likelihood interval of m, dB.
    slope_ci_per_db : tuple of float
        95 % profile-likelihood interval of s, per dB.
    interval_clipped : bool
        True when an interval end reached the search bounds instead of the 1.921 drop.
    n_trials : int
        Trials fitted.
    log_likelihood : float
        Maximum log-likelihood.
    ci_method : str
        ``'profile likelihood'``.
    """

    midpoint_db: float
    slope_per_db: float
    lapse_rate: float
    guess_rate: float
    midpoint_ci_db: tuple[float, float]
    slope_ci_per_db: tuple[float, float]
    interval_clipped: bool
    n_trials: int
    log_likelihood: float
    ci_method: str = "profile likelihood"

    def p_positive(self, x_db: Any) -> np.ndarray:
        """The fitted function at ``x_db`` (dB)."""
        return _model(np.asarray(x_db, dtype=float), self.midpoint_db, self.slope_per_db,
                      self.lapse_rate, self.guess_rate)


def _model(x: np.ndarray, m: Any, s: Any, lapse: Any, g: float) -> np.ndarray:
    f = 0.5 * (1.0 + np.tanh(0.5 * s * (x - m)))  # the logistic, without overflow
    return g + (1.0 - g - lapse) * f


class _Problem:
    """Binomial negative log-likelihood of aggregated trials over (m, log s, l)."""

    def __init__(self, x: np.ndarray, k: np.ndarray, n: np.ndarray, g: float,
                 lapse: float | None, max_lapse: float) -> None:
        self.x, self.k, self.n, self.g = x, k, n, g
        self.n_minus_k = n - k
        self.fixed_lapse = lapse
        span = max(float(x.max() - x.min()), 1.0)
        self.bounds = [
            (float(x.min()) - span, float(x.max()) + span),
            (math.log(SLOPE_BOUNDS_PER_DB[0]), math.log(SLOPE_BOUNDS_PER_DB[1])),
            (0.0, max_lapse),
        ]

    def nll(self, theta: np.ndarray) -> float:
        m, log_s = float(theta[0]), float(theta[1])
        lapse = self.fixed_lapse if self.fixed_lapse is not None else float(theta[2])
        # Few distinct levels: keep the number of NumPy calls small, it dominates the cost.
        f = np.tanh((0.5 * math.exp(log_s)) * (self.x - m))
        p = np.minimum(np.maximum((self.g + 0.5 * (1.0 - self.g - lapse)) + (0.5 * (1.0 - self.g
                                  - lapse)) * f, _P_CLIP), 1.0 - _P_CLIP)
        return -float(self.k @ np.log(p) + self.n_minus_k @ np.log1p(-p))

    @property
    def n_params(self) -> int:
        return 2 if self.fixed_lapse is not None else 3

    def grid_start(self) -> np.ndarray:
        lo, hi = self.bounds[0]
        m = np.linspace(lo, hi, 61)[:, None, None]
        log_s = np.linspace(*self.bounds[1], 31)[None, :, None]
        lapses = (np.array([self.fixed_lapse]) if self.fixed_lapse is not None
                  else np.linspace(0.0, self.bounds[2][1], 4))[None, None, :]
        x = self.x[:, None, None, None]
        p = np.clip(_model(x, m, np.exp(log_s), lapses, self.g), _P_CLIP, 1 - _P_CLIP)
        k, n = self.k[:, None, None, None], self.n[:, None, None, None]
        nll = -np.sum(k * np.log(p) + (n - k) * np.log1p(-p), axis=0)
        i, j, q = np.unravel_index(int(np.argmin(nll)), nll.shape)
        start = [float(m[i, 0, 0]), float(log_s[0, j, 0]), float(lapses[0, 0, q])]
        return np.array(start[: self.n_params])

    def minimize(self, start: np.ndarray, fixed: dict[int, float]) -> tuple[float, np.ndarray]:
        """Minimise over the parameters not in ``fixed`` (index -> value)."""
        from scipy.optimize import minimize

        free = [i for i in range(self.n_params) if i not in fixed]
        theta = start.copy()
        for i, v in fixed.items():
            theta[i] = v

        def f(sub: np.ndarray) -> float:
            theta[free] = sub
            return self.nll(theta)

        if len(free) == 1:  # one nuisance parameter: bounded Brent search, no gradients needed
            from scipy.optimize import minimize_scalar

            res1 = minimize_scalar(lambda v: f(np.array([v])), bounds=self.bounds[free[0]],
                                   method="bounded", options={"xatol": 1e-5})
            theta[free] = res1.x
            return float(res1.fun), theta.copy()
        res = minimize(f, np.clip(start[free], *np.array([self.bounds[i] for i in free]).T),
                       method="Nelder-Mead", bounds=[self.bounds[i] for i in free],
                       options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 2000})
        theta[free] = res.x
        return float(res.fun), theta.copy()


def _profile_interval(prob: _Problem, best: np.ndarray, nll_best: float, index: int
                      ) -> tuple[float, float, bool]:
    """Where the profile NLL of parameter ``index`` rises by chi2_1(0.95) / 2 on each side."""
    from scipy.optimize import brentq

    lo_b, hi_b = prob.bounds[index]
    centre = float(best[index])
    cache: dict[float, np.ndarray] = {}

    def excess(v: float) -> float:
        nll, theta = prob.minimize(best, {index: v})
        cache[v] = theta
        return 2.0 * (nll - nll_best) - CHI2_1_95

    ends = []
    clipped = False
    f_centre = excess(centre)  # ~ -3.84; higher only where the profile optimiser falls short
    for direction, bound in ((-1.0, lo_b), (+1.0, hi_b)):
        # First guess of the crossing from the local curvature: a quadratic profile rises by
        # (d / se)^2 / 2 at a distance d, and crosses at 1.96 se.
        d = 0.05 if index == 1 else 0.1
        rise = excess(min(max(centre + direction * d, lo_b), hi_b)) + CHI2_1_95
        se = d / math.sqrt(rise) if rise > 1e-12 else 10.0 * d
        step = 2.2 * se
        inner, f_inner = centre, f_centre
        while True:
            outer = centre + direction * step
            if (outer - bound) * direction >= 0:
                outer = bound
            f_outer = excess(outer)
            if f_outer > 0:
                # A flat or degenerate likelihood (separated data) can leave the profile
                # optimiser short of the 1.921 drop at ``inner``: then ``inner`` is the end.
                ends.append(brentq(excess, min(inner, outer), max(inner, outer), xtol=1e-3)
                            if f_inner < 0 and outer != inner else inner)
                break
            if outer == bound:
                ends.append(bound)
                clipped = True
                break
            inner, f_inner, step = outer, f_outer, step * 2.0
    return ends[0], ends[1], clipped


def fit_logistic(x_db: Any, positive: Any, *, guess_rate: float, lapse_rate: float | None = 0.0,
                 max_lapse_rate: float = 0.06) -> LogisticFit:
    """Fit P(x) = g + (1 - g - l) / (1 + exp(-s (x - m))) to trials by maximum likelihood.

    Parameters
    ----------
    x_db : array_like, shape (n_trials,)
        The variable on each trial, dB, finite.
    positive : array_like of bool, shape (n_trials,)
        Whether each trial was answered positively (correct / yes).
    guess_rate : float
        g, in [0, 0.5] (1/n for n-AFC).
    lapse_rate : float or None
        l fixed in [0, 0.2], or None to fit it within [0, ``max_lapse_rate``].
    max_lapse_rate : float
        Upper bound of a fitted lapse rate, in (0, 0.2].

    Returns
    -------
    LogisticFit
        Estimates with 95 % profile-likelihood intervals for m and s (module docstring).

    Raises
    ------
    ConfigError
        For mismatched lengths, non-finite levels, fewer than two distinct levels or bad rates.

    Examples
    --------
    >>> x = np.repeat([-4.0, -2.0, 0.0, 2.0, 4.0], 40)
    >>> p = 0.5 + 0.5 / (1 + np.exp(-(x - 0.0)))
    >>> hits = np.random.default_rng(1).random(x.size) < p
    >>> fit = fit_logistic(x, hits, guess_rate=0.5)
    >>> fit.midpoint_ci_db[0] < 0.0 < fit.midpoint_ci_db[1]
    True
    """
    g = check_real("guess_rate", guess_rate, low=0.0, high=0.5)
    check_real("max_lapse_rate", max_lapse_rate, low=0.0, high=0.2, low_open=True)
    fixed = None if lapse_rate is None else check_real("lapse_rate", lapse_rate, low=0.0, high=0.2)
    try:
        x = np.asarray(x_db, dtype=float)
    except (TypeError, ValueError):
        raise ConfigError(f"x_db must be numbers, got {x_db!r}") from None
    y = np.asarray(positive)
    if x.ndim != 1 or y.shape != x.shape:
        raise ConfigError(f"x_db and positive must be 1-D of one length, got shapes {x.shape} "
                          f"and {y.shape}")
    if y.size and y.dtype != bool and not np.isin(y, (0, 1)).all():
        raise ConfigError(f"positive must hold booleans (or 0/1), got dtype {y.dtype}")
    if not np.isfinite(x).all():
        raise ConfigError("x_db must be finite, got NaN or inf")
    ux, inv = np.unique(x, return_inverse=True)
    if ux.size < 2:
        raise ConfigError(f"x_db must hold at least two distinct levels to fit a slope, got "
                          f"{ux.tolist()}")
    n = np.bincount(inv).astype(float)
    k = np.bincount(inv, weights=y.astype(float))
    prob = _Problem(ux, k, n, g, fixed, max_lapse_rate)
    nll_best, best = prob.minimize(prob.grid_start(), {})
    m_lo, m_hi, c1 = _profile_interval(prob, best, nll_best, 0)
    s_lo, s_hi, c2 = _profile_interval(prob, best, nll_best, 1)
    return LogisticFit(
        midpoint_db=float(best[0]),
        slope_per_db=math.exp(best[1]),
        lapse_rate=float(best[2]) if fixed is None else fixed,
        guess_rate=g,
        midpoint_ci_db=(float(m_lo), float(m_hi)),
        slope_ci_per_db=(math.exp(s_lo), math.exp(s_hi)),
        interval_clipped=c1 or c2,
        n_trials=int(x.size),
        log_likelihood=-nll_best,
    )


def fit_procedure(procedure: Procedure, *, lapse_rate: float | None = 0.0,
                  max_lapse_rate: float = 0.06) -> LogisticFit:
    """:func:`fit_logistic` over every signal trial of a one-track procedure.

    Catch trials are left out (they carry no signal); the guess rate comes from the task.

    Parameters
    ----------
    procedure : Procedure
        An up-down track, constant stimuli or QUEST+ (for interleaved tracks fit each of
        ``Interleaved.tracks``).
    lapse_rate, max_lapse_rate
        As in :func:`fit_logistic`.

    Returns
    -------
    LogisticFit
        The fit.
    """
    if isinstance(procedure, Interleaved) or not isinstance(procedure, SingleTrack):
        raise ConfigError(
            f"procedure must be one track (fit each of Interleaved.tracks), got "
            f"{type(procedure).__name__}"
        )
    if procedure.task.response == "words":
        raise ConfigError("procedure scores words: fit it with fit_matrix_srt, got MatrixSrt")
    trials = [r for r in procedure.history if not r.trial.catch]
    return fit_logistic(
        [r.trial.x_db for r in trials],
        np.array([r.positive for r in trials], dtype=bool),
        guess_rate=procedure.task.guess_rate,
        lapse_rate=lapse_rate,
        max_lapse_rate=max_lapse_rate,
    )


def _plain(value: Any) -> Any:
    """JSON-ready: tuples to lists, NaN to None."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _fit_summary(procedure: SingleTrack) -> dict[str, Any]:
    try:
        fit = fit_procedure(procedure)
    except ConfigError as exc:
        return {"fit": None, "fit_error": str(exc)}
    return {"fit": _plain(dict(vars(fit)))}


def summarize(procedure: Procedure, *, n_last: int = 6) -> dict[str, Any]:
    """The result of any procedure as plain, JSON-ready data (what ``--json`` prints).

    Parameters
    ----------
    procedure : Procedure
        Any procedure, finished or not.
    n_last : int
        Reversals averaged by :func:`reversal_threshold` for up-down tracks.

    Returns
    -------
    dict
        ``procedure`` (its kind), ``n_trials``, ``finished`` and, by kind: up-down
        ``threshold_db``/``threshold_sd_db``/``reversals_db`` (mean of the last reversals at the
        smallest step, None without any) and ``stop_reason``; QUEST+ ``estimate`` (posterior
        means, modes, SDs); audiometry ``audiogram`` (one entry per ear and frequency); matrix
        ``srt_db``/``slope_per_db`` with intervals; interleaved ``tracks`` (one summary each);
        and for one-track procedures with two or more levels the logistic ``fit`` (or
        ``fit_error``) and the catch-trial ``false_alarm_rate``.

    Examples
    --------
    >>> from audiolab.experiments import ConstantStimuliConfig, make_procedure
    >>> proc = make_procedure(ConstantStimuliConfig(levels_db=(0.0,), n_repetitions=1), seed=0)
    >>> summarize(proc)["procedure"], summarize(proc)["fit"]
    ('constant_stimuli', None)
    """
    out: dict[str, Any] = {"n_trials": len(procedure.history), "finished": procedure.finished}
    if isinstance(procedure, Interleaved):
        out["procedure"] = "interleaved"
        out["tracks"] = [summarize(t, n_last=n_last) for t in procedure.tracks]
        return out
    if not isinstance(procedure, SingleTrack):
        raise ConfigError(f"procedure must be an audiolab procedure, got "
                          f"{type(procedure).__name__}")
    out["false_alarm_rate"] = _plain(procedure.false_alarm_rate())
    if isinstance(procedure, PureToneAudiometry):
        out["procedure"] = "audiometry"
        out["audiogram"] = [_plain(dict(vars(p))) for p in procedure.audiogram()]
        return out
    if isinstance(procedure, MatrixSrt):
        out["procedure"] = "matrix_srt"
        try:
            out.update(_plain(dict(vars(fit_matrix_srt(procedure)))))
        except ConfigError as exc:
            out.update({"srt_db": None, "fit_error": str(exc)})
        return out
    if isinstance(procedure, UpDown):
        out["procedure"] = "up_down"
        out["stop_reason"] = procedure.stop_reason
        try:
            est = reversal_threshold(procedure, n_last=n_last)
            out.update({"threshold_db": est.threshold_db, "threshold_sd_db": _plain(est.sd_db),
                        "reversals_db": list(est.levels_db)})
        except ConfigError:
            out.update({"threshold_db": None, "threshold_sd_db": None, "reversals_db": []})
    elif isinstance(procedure, QuestPlus):
        out["procedure"] = "quest_plus"
        out["estimate"] = _plain(dict(vars(procedure.estimate())))
    elif isinstance(procedure, ConstantStimuli):
        out["procedure"] = "constant_stimuli"
    out.update(_fit_summary(procedure))
    return out
