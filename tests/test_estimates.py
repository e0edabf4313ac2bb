"""Estimates: mean of the last reversals at the smallest step, and the maximum-likelihood
logistic fit with its 95 % profile-likelihood intervals (recovery and coverage over seeded runs)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from audiolab._errors import ConfigError
from audiolab.experiments import (
    ConstantStimuliConfig,
    InterleavedConfig,
    PsychometricListener,
    Task,
    UpDown,
    UpDownConfig,
    fit_logistic,
    fit_procedure,
    make_procedure,
    reversal_threshold,
    run_listener,
)


def answer(proc, positive):
    t = proc.next_trial()
    if t.target_interval is None:
        proc.record(bool(positive))
    else:
        proc.record(t.target_interval if positive else t.target_interval % t.n_intervals + 1)


# --- mean of the last reversals ------------------------------------------------------------

def test_reversal_mean_uses_the_last_n_at_the_smallest_step_only():
    cfg = UpDownConfig(start_db=20.0, n_down=1, step_sizes_db=(4.0, 1.0),
                       step_change_reversals=(2,), max_reversals=8)
    track = UpDown(cfg, seed=0)
    # 1-up-1-down: down 4 dB three times, reversals at 8 and 12 dB (4 dB steps), then 1 dB.
    for c in "+++-+-+-+--+":
        if track.finished:
            break
        answer(track, c == "+")
    revs = track.reversals
    assert [r.stage for r in revs] == [0, 0, 1, 1, 1, 1, 1, 1]
    small = [r.x_db for r in revs if r.stage == 1]
    est = reversal_threshold(track, n_last=4)
    assert est.levels_db == tuple(small[-4:]) and est.n_reversals == 4
    assert est.threshold_db == pytest.approx(np.mean(small[-4:]))
    assert est.sd_db == pytest.approx(np.std(small[-4:], ddof=1))
    everything = reversal_threshold(track, n_last=100)
    assert everything.n_reversals == 6  # only the smallest-step reversals, however many asked


def test_reversal_mean_without_a_smallest_step_reversal_is_an_error():
    track = UpDown(UpDownConfig(start_db=0.0, step_sizes_db=(4.0, 2.0),
                                step_change_reversals=(2,), max_trials=3), seed=0)
    for _ in range(3):
        answer(track, True)
    with pytest.raises(ConfigError, match="no reversal at the smallest step"):
        reversal_threshold(track)
    with pytest.raises(ConfigError, match=r"n_last must be in \[1, 1000\], got 0"):
        reversal_threshold(track, n_last=0)
    cs = make_procedure(ConstantStimuliConfig(levels_db=(0.0,), n_repetitions=2), seed=0)
    with pytest.raises(ConfigError, match="track must be an UpDown track, got ConstantStimuli"):
        reversal_threshold(cs)


# --- the logistic fit ------------------------------------------------------------------------

def test_fit_of_noise_free_proportions_returns_the_generating_function():
    # Expected counts (fractional "trials" are not allowed, so use many trials per level with
    # proportions rounded to the nearest count): the MLE is then within rounding of the truth.
    x = np.arange(-6.0, 7.0, 1.0)
    p = 0.5 + 0.48 / (1 + np.exp(-0.7 * (x - 1.0)))
    n = 2000
    xs = np.repeat(x, n)
    hits = np.concatenate([np.arange(n) < round(pi * n) for pi in p])
    fit = fit_logistic(xs, hits, guess_rate=0.5, lapse_rate=0.02)
    assert fit.midpoint_db == pytest.approx(1.0, abs=0.02)
    assert fit.slope_per_db == pytest.approx(0.7, rel=0.02)
    lo, hi = fit.midpoint_ci_db
    assert lo < fit.midpoint_db < hi and hi - lo < 0.3
    assert fit.p_positive(1.0) == pytest.approx(0.74, abs=1e-3)
    assert fit.ci_method == "profile likelihood" and fit.n_trials == xs.size


def test_profile_interval_ends_are_where_the_likelihood_drops_by_chi2_over_2():
    rng = np.random.default_rng(1)
    x = np.repeat(np.arange(-4.0, 5.0, 2.0), 30)
    hits = rng.random(x.size) < 0.5 + 0.5 / (1 + np.exp(-0.8 * x))
    fit = fit_logistic(x, hits, guess_rate=0.5)

    def loglik(m, s):
        p = np.clip(0.5 + 0.5 / (1 + np.exp(-s * (x - m))), 1e-12, 1 - 1e-12)
        return np.sum(np.where(hits, np.log(p), np.log1p(-p)))

    for end in fit.midpoint_ci_db:
        # maximise over the slope (within the fit's bounds) at the interval end, densely
        best = max(loglik(end, s) for s in np.geomspace(1e-3, 50, 20000))
        assert fit.log_likelihood - best == pytest.approx(stats.chi2.ppf(0.95, 1) / 2, abs=0.01)


N_RUNS = 200
TRUE_M, TRUE_S = 0.0, 0.5
DESIGN = ConstantStimuliConfig(levels_db=tuple(np.arange(-6.0, 7.0, 2.0)), n_repetitions=20)


def _simulated_fits():
    fits = []
    for seed in range(N_RUNS):
        lst = PsychometricListener(midpoint_db=TRUE_M, slope_per_db=TRUE_S, lapse_rate=0.0,
                                   seed=5000 + seed)
        proc = run_listener(make_procedure(DESIGN, seed=seed), lst)
        fits.append(fit_procedure(proc, lapse_rate=0.0))
    return fits


def test_ml_fit_recovers_m_and_s_and_its_interval_covers_m_in_95_percent_of_runs():
    fits = _simulated_fits()
    m = np.array([f.midpoint_db for f in fits])
    s = np.array([f.slope_per_db for f in fits])
    # m: the ML midpoint is asymptotically unbiased; with 140 2-AFC trials one run's SD is
    # ~0.95 dB, so the mean of 200 runs has SE ~0.067 dB. Bound: 3.3 SE (two-sided 0.1 %).
    se_m = m.std(ddof=1) / math.sqrt(N_RUNS)
    assert abs(m.mean() - TRUE_M) < 3.3 * se_m, (m.mean(), se_m)
    # s: ML slopes are biased upwards in small samples (Wichmann & Hill 2001), and a run whose
    # data look like a step drives s to its bound, so the median is the robust summary. One
    # run's log s scatters by ~0.3, so the median of 200 has SE ~1.25 * 0.3 / sqrt(200) =
    # 0.027 (2.7 %); the known small-sample bias is under 10 % at 140 trials: allow 20 %.
    assert np.median(s) == pytest.approx(TRUE_S, rel=0.2)
    # Coverage: each run's interval covers the truth with probability ~0.95, so the count is
    # Binomial(200, 0.95); accept its central 99.9 % range [181, 197] (a wrong interval method,
    # e.g. one SE wide (68 %) or 3 SE (99.7 %), falls outside).
    lo, hi = stats.binom.ppf(0.0005, N_RUNS, 0.95), stats.binom.isf(0.0005, N_RUNS, 0.95)
    cover_m = sum(f.midpoint_ci_db[0] <= TRUE_M <= f.midpoint_ci_db[1] for f in fits)
    cover_s = sum(f.slope_ci_per_db[0] <= TRUE_S <= f.slope_ci_per_db[1] for f in fits)
    assert lo <= cover_m <= hi, cover_m
    assert lo <= cover_s <= hi, cover_s
    for f in fits:
        assert f.midpoint_ci_db[0] <= f.midpoint_db <= f.midpoint_ci_db[1]
        assert f.slope_ci_per_db[0] <= f.slope_per_db <= f.slope_ci_per_db[1]


def test_fitted_lapse_stays_in_its_bound_and_m_is_still_recovered():
    design = ConstantStimuliConfig(levels_db=tuple(np.arange(-8.0, 9.0, 2.0)), n_repetitions=40,
                                   task=Task(response="yes_no", n_intervals=1))
    ms = []
    for seed in range(6):
        lst = PsychometricListener(midpoint_db=2.0, slope_per_db=0.5, lapse_rate=0.04,
                                   seed=seed)
        fit = fit_procedure(run_listener(make_procedure(design, seed=seed), lst),
                            lapse_rate=None, max_lapse_rate=0.06)
        assert 0.0 <= fit.lapse_rate <= 0.06 and fit.guess_rate == 0.0
        ms.append(fit.midpoint_db)
    # yes/no, 360 trials: one run's midpoint SD is ~0.35 dB; 6 runs: SE ~0.14 dB; ~3.5 SE.
    assert abs(np.mean(ms) - 2.0) < 0.5, ms


def test_fit_procedure_leaves_catch_trials_out_and_takes_the_guess_rate_from_the_task():
    task = Task(response="yes_no", n_intervals=1, catch_fraction=0.3, false_alarm_rate=0.05)
    proc = make_procedure(ConstantStimuliConfig(levels_db=(-4.0, 0.0, 4.0), n_repetitions=30,
                                                task=task), seed=2)
    lst = PsychometricListener(midpoint_db=0.0, slope_per_db=0.6, false_alarm_rate=0.05, seed=3)
    run_listener(proc, lst)
    signal = [r for r in proc.history if not r.trial.catch]
    assert len(signal) == 90 < len(proc.history)
    direct = fit_logistic([r.trial.x_db for r in signal], [r.positive for r in signal],
                          guess_rate=0.05)
    assert fit_procedure(proc) == direct
    inter = make_procedure(InterleavedConfig(tracks=(UpDownConfig(start_db=0.0),) * 2), seed=0)
    with pytest.raises(ConfigError, match="fit each of Interleaved.tracks"):
        fit_procedure(inter)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (([0.0, 1.0], [True]), {}, "must be 1-D of one length"),
        (([0.0, math.nan], [True, False]), {}, "x_db must be finite"),
        (([1.0, 1.0, 1.0], [True, False, True]), {}, "at least two distinct levels"),
        (([], []), {}, "at least two distinct levels"),
        (([0.0, 1.0], [0.5, 1.0]), {}, "positive must hold booleans"),
        ((["a", "b"], [True, False]), {}, "x_db must be numbers"),
        (([0.0, 1.0], [True, False]), {"guess_rate": 0.7}, r"guess_rate must be in \[0, 0.5\]"),
        (([0.0, 1.0], [True, False]), {"lapse_rate": -0.1}, r"lapse_rate must be in \[0, 0.2\]"),
        (([0.0, 1.0], [True, False]), {"lapse_rate": None, "max_lapse_rate": 0.0},
         r"max_lapse_rate must be in \(0, 0.2\]"),
    ],
)
def test_fit_rejects_hostile_input_with_a_named_error(args, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        fit_logistic(*args, **{"guess_rate": 0.5, **kwargs})


@given(
    x=st.lists(st.sampled_from([-10.0, -3.0, 0.0, 0.5, 7.0, 300.0]), min_size=2, max_size=40),
    data=st.data(),
)
def test_any_data_set_gives_a_finite_fit_with_the_estimate_inside_its_intervals(x, data):
    y = data.draw(st.lists(st.booleans(), min_size=len(x), max_size=len(x)))
    try:
        fit = fit_logistic(x, y, guess_rate=1 / 3)
    except ConfigError as exc:
        assert "distinct levels" in str(exc)
        return
    values = [fit.midpoint_db, fit.slope_per_db, *fit.midpoint_ci_db, *fit.slope_ci_per_db]
    assert all(math.isfinite(v) for v in values)
    assert fit.midpoint_ci_db[0] <= fit.midpoint_db <= fit.midpoint_ci_db[1]
    assert fit.slope_ci_per_db[0] <= fit.slope_per_db <= fit.slope_ci_per_db[1]


# --- summaries: one JSON-ready result for every procedure ------------------------------------

def _summary_configs():
    from audiolab.experiments import (
        AudiometryConfig,
        MatrixSrtConfig,
        QuestPlusConfig,
        WeightedUpDownConfig,
    )

    quest = QuestPlusConfig(stimuli_db=np.arange(-10.0, 11.0), thresholds_db=np.arange(-8.0, 9.0),
                            slopes_per_db=(0.3, 0.6), lapse_rates=(0.02,), max_trials=20)
    return {
        "up_down": UpDownConfig(start_db=10.0, max_reversals=8),
        "up_down_ceiling": UpDownConfig(start_db=10.0, ceiling_db=12.0, max_reversals=8,
                                        task=Task(response="yes_no", n_intervals=1)),
        "weighted": WeightedUpDownConfig(start_db=10.0, max_reversals=8),
        "constant_stimuli": ConstantStimuliConfig(levels_db=(-3.0, 0.0, 3.0), n_repetitions=5),
        "quest_plus": quest,
        "audiometry": AudiometryConfig(order_hz=(1000.0, 2000.0)),
        "matrix_srt": MatrixSrtConfig(n_sentences=10),
        "interleaved": InterleavedConfig(tracks=(UpDownConfig(start_db=5.0, max_trials=10),
                                                 quest)),
    }


@pytest.mark.parametrize("name", sorted(_summary_configs()))
def test_summarize_gives_json_ready_results_for_every_procedure(name):
    import json

    from audiolab.experiments import summarize

    cfg = _summary_configs()[name]
    listener = PsychometricListener(midpoint_db=20.0 if "ceiling" in name else 0.0,
                                    slope_per_db=0.5, lapse_rate=0.0, seed=1)
    proc = run_listener(make_procedure(cfg, seed=2), listener)
    out = summarize(proc)
    json.dumps(out, allow_nan=False)  # plain data, no NaN
    assert out["finished"] and out["n_trials"] == len(proc.history)
    kind = out["procedure"]
    if kind == "interleaved":
        assert [t["procedure"] for t in out["tracks"]] == ["up_down", "quest_plus"]
    elif kind == "up_down":
        if name == "up_down_ceiling":
            assert out["stop_reason"] == "ceiling"
        else:
            est = reversal_threshold(proc)
            assert out["threshold_db"] == est.threshold_db and out["fit"]["n_trials"] > 0
    elif kind == "quest_plus":
        assert out["estimate"]["threshold_db_mean"] == proc.estimate().threshold_db_mean
    elif kind == "audiometry":
        assert len(out["audiogram"]) == 4 and all("flags" in p for p in out["audiogram"])
    elif kind == "matrix_srt":
        assert out["srt_db"] is not None and len(out["srt_ci_db"]) == 2
    else:
        assert kind == "constant_stimuli" and out["fit"]["midpoint_ci_db"]
