"""Matrix-test SRT track (Brand & Kollmeier 2002): the step rule, word answers, replay, and the
SRT of a psychometric listener over seeded runs."""

import math

import numpy as np
import pytest
from scipy import stats

from audiolab._errors import ConfigError
from audiolab.experiments import (
    MatrixSrt,
    MatrixSrtConfig,
    PsychometricListener,
    Trial,
    fit_matrix_srt,
    fit_procedure,
    make_procedure,
    replay,
    run_listener,
)


def test_first_sentence_moves_5_db_and_steps_follow_brand_and_kollmeier():
    for words, expected in ((0, 5.0), (5, -5.0), (2, 1.0), (3, -1.0)):
        srt = MatrixSrt(MatrixSrtConfig(start_db=0.0), seed=0)
        srt.next_trial()
        srt.record(words)
        # dL = -f(0) (s - 0.5) / 0.15 with f(0) = 1.5: 0/5 -> +5, 5/5 -> -5, 2/5 -> +1 dB
        assert srt.next_trial().x_db == pytest.approx(expected)


def test_step_factor_shrinks_by_1_41_per_reversal_down_to_its_floor():
    cfg = MatrixSrtConfig(start_db=0.0, n_sentences=10, f_min=0.3)
    srt = MatrixSrt(cfg, seed=0)
    x, i, direction = 0.0, 0, 0
    for words in (5, 0, 5, 0, 5, 0, 5, 0):
        assert srt.next_trial().x_db == pytest.approx(x)
        srt.record(words)
        # f from the reversals before this sentence; this step may then add one
        step = -max(1.5 * 1.41 ** (-i), 0.3) * (words / 5 - 0.5) / 0.15
        if direction and np.sign(step) != direction:
            i += 1
        direction = np.sign(step)
        x += step
    # alternating 5/5 and 0/5: every sentence after the first is a reversal
    assert srt.n_reversals == 7
    assert srt.next_trial().x_db == pytest.approx(x)


def test_word_answers_are_validated():
    srt = MatrixSrt(MatrixSrtConfig(), seed=0)
    t = srt.next_trial()
    assert t.n_words == 5 and t.target_interval is None and not t.catch
    for bad in (6, -1, True, 2.0, "3", None):
        with pytest.raises(ConfigError, match=r"number of words correct in \[0, 5\]"):
            srt.record(bad)
    srt.record(np.int64(3))
    assert srt.history[0].response == 3 and srt.history[0].positive


def test_the_psychometric_listener_scores_each_word_independently():
    lst = PsychometricListener(midpoint_db=-7.0, slope_per_db=0.6, lapse_rate=0.0, seed=1)
    trial = Trial(index=0, x_db=-6.0, n_intervals=1, target_interval=None, catch=False,
                  n_words=5)
    counts = np.bincount([lst.respond(trial) for _ in range(4000)], minlength=6)
    p = 1 / (1 + math.exp(-0.6 * 1.0))  # g = 0 for words
    expected = 4000 * stats.binom.pmf(np.arange(6), 5, p)
    assert stats.chisquare(counts, expected).pvalue > 1e-3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_sentences": 4}, r"n_sentences must be in \[5, 100\], got 4"),
        ({"target": 1.0}, r"target must be in \(0, 1\), got 1.0"),
        ({"slope_per_db": 0.0}, r"slope_per_db must be in \(0, 1\], got 0.0"),
        ({"f_min": 2.0}, r"f_min must be in \(0, 1.5\], got 2.0"),
        ({"start_db": 50.0}, r"start_db must be in \[-40, 40\], got 50.0"),
        ({"floor_db": 10.0, "ceiling_db": -10.0}, "floor_db must be below ceiling_db"),
        ({"n_words": 0}, r"n_words must be in \[1, 10\], got 0"),
    ],
)
def test_config_errors_name_parameter_range_and_value(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        MatrixSrtConfig(**kwargs)


def test_replay_and_the_fit_entry_points():
    cfg = MatrixSrtConfig(n_sentences=20)
    srt = run_listener(make_procedure(cfg, seed=3),
                       PsychometricListener(midpoint_db=-7.0, slope_per_db=0.6, seed=4))
    again = replay(cfg, seed=3, responses=srt.responses)
    assert again.state() == srt.state() and again.finished
    with pytest.raises(ConfigError, match="fit it with fit_matrix_srt"):
        fit_procedure(srt)
    with pytest.raises(ConfigError, match="track must be a MatrixSrt"):
        fit_matrix_srt(again.history)


N_RUNS = 200


def test_srt_of_a_psychometric_listener_is_its_midpoint_with_binomial_precision():
    # Matrix-test listener: SRT -7 dB SNR, word slope 0.15/dB at the SRT (logistic s = 0.6/dB).
    srts, half_widths, covered = [], [], 0
    for seed in range(N_RUNS):
        lst = PsychometricListener(midpoint_db=-7.0, slope_per_db=0.6, seed=900 + seed)
        est = fit_matrix_srt(run_listener(make_procedure(MatrixSrtConfig(), seed=seed), lst))
        srts.append(est.srt_db)
        half_widths.append((est.srt_ci_db[1] - est.srt_ci_db[0]) / 2)
        covered += est.srt_ci_db[0] <= -7.0 <= est.srt_ci_db[1]
    srt = np.array(srts)
    sd = srt.std(ddof=1)
    # Issue 11: mean within +-1 dB of the midpoint. The ML SRT is asymptotically unbiased and
    # the mean of 200 runs has SE sd / sqrt(200) ~ 0.03 dB: also hold it to 3.3 SE.
    assert abs(srt.mean() + 7.0) < 1.0
    assert abs(srt.mean() + 7.0) < 3.3 * sd / math.sqrt(N_RUNS)
    # Precision: 20 sentences = 100 Bernoulli words near p = 0.5 give a Fisher-information SD
    # of 1 / (0.6 sqrt(100 * 0.25)) = 0.33 dB; each run's 95 % interval is +-1.96 of its own
    # SE. The run-to-run SD must agree with the mean interval half-width / 1.96 within 25 %
    # (the SD of 200 runs is itself uncertain by 5 %; the likelihood is not exactly quadratic).
    assert sd == pytest.approx(np.mean(half_widths) / 1.96, rel=0.25), sd
    # An ideal listener's test-retest SD (sd) is below the published ~1 dB of real listeners,
    # whose lists, attention and learning add variance that no psychometric listener has.
    assert 0.2 < sd < 1.0
    lo, hi = stats.binom.ppf(0.0005, N_RUNS, 0.95), stats.binom.isf(0.0005, N_RUNS, 0.95)
    assert lo <= covered <= hi


N_RETEST = 150


def test_test_retest_sd_of_a_20_sentence_list_at_the_published_slope():
    # Like with like: each simulated subject (SRT drawn around -7 dB, SD 1 dB) does two
    # 20-sentence lists with the published OLSA word slope, 17 %/dB at the SRT (logistic
    # s = 4 * 0.17 = 0.68 /dB, REFERENCE.md). The within-subject SD is SD(retest difference)
    # / sqrt(2).
    rng = np.random.default_rng(20261207)
    s = 4 * 0.17
    diffs, variances = [], []
    for k in range(N_RETEST):
        srt = -7.0 + rng.standard_normal()
        runs = []
        for j in range(2):
            lst = PsychometricListener(midpoint_db=srt, slope_per_db=s, seed=10_000 + 2 * k + j)
            track = run_listener(make_procedure(MatrixSrtConfig(n_sentences=20),
                                                seed=5_000 + 2 * k + j), lst)
            runs.append(fit_matrix_srt(track).srt_db)
            # Theory: the Cramer-Rao variance of the SRT (SRT and slope fitted together) from
            # the Fisher information of this run's 100 binomial words at the true function.
            x = np.array([r.trial.x_db for r in track.history])
            p = 1 / (1 + np.exp(-s * (x - srt)))
            w = 5 * p * (1 - p)
            info = np.array([[np.sum(w) * s * s, -s * np.sum(w * (x - srt))],
                             [-s * np.sum(w * (x - srt)), np.sum(w * (x - srt) ** 2)]])
            variances.append(np.linalg.inv(info)[0, 0])
        diffs.append(runs[1] - runs[0])
    within_sd = float(np.std(diffs, ddof=1)) / math.sqrt(2)
    expected = math.sqrt(float(np.mean(variances)))
    # An SD from n = 150 differences has a relative SE of 1 / sqrt(2 (n - 1)) = 5.8 %: 3.3 SE
    # (19 %) plus 10 % for a 100-word likelihood that is not yet asymptotic.
    tol = 3.3 / math.sqrt(2 * (N_RETEST - 1)) + 0.10
    assert within_sd == pytest.approx(expected, rel=tol), (within_sd, expected)
    # The figure is about 0.35 dB, well below the ~1 dB quoted for real listeners: this
    # listener scores the five words of a sentence independently (real listeners' word errors
    # within a sentence are correlated, fewer independent observations per list) and has no
    # list-to-list, learning or attention variance. Were the five words scored as one
    # (all right or all wrong), 20 observations would give 1 / (0.68 sqrt(20 / 4)) = 0.66 dB
    # within and 0.93 dB for the difference: the ~1 dB lies between those bounds, so the
    # simulated value is not tuned to it.
    assert within_sd < 0.66
