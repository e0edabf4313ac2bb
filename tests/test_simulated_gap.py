"""The simulated listener's gap detection: a temporal-window model of a gap in noise.

Reference figures: normal-hearing gap thresholds in broadband noise at moderate levels are
2-3 ms (Plomp 1964; Moore 2003, An Introduction to the Psychology of Hearing, ch. 5); they rise
at low sensation levels and in impaired ears (Fitzgibbons & Wightman 1982, J Acoust Soc Am
72:761-765; Florentine & Buus 1984, J Speech Hear Res 27:449-455).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from audiolab.experiments import SimulatedListener, Trial, render_trial, stimulus_spec

FS = 16000.0
N_TRIALS = 90
P_707 = 0.5 ** 0.5  # 1-up-2-down target: a gap at threshold is found 70.7 % of the time


def _n_correct(audiogram: str, *, level_db_spl: float, gap_ms: float, seed: int) -> int:
    spec = stimulus_spec({"kind": "gap_in_noise", "variable": "gap_ms",
                          "level_db_spl": level_db_spl, "duration_ms": 300, "ramp_ms": 10})
    listener = SimulatedListener(audiogram, seed=seed)
    rng = np.random.default_rng(seed)
    correct = 0
    for i in range(N_TRIALS):
        trial = Trial(index=i, x_db=gap_ms, n_intervals=3, target_interval=1 + i % 3,
                      catch=False)
        correct += listener.respond(trial, render_trial(spec, trial, fs=FS, rng=rng)) == \
            trial.target_interval
    return correct


def _above(k: int, p: float) -> bool:
    """k of N_TRIALS is above p at the 0.1 % level (exact binomial)."""
    return bool(stats.binom.sf(k - 1, N_TRIALS, p) < 1e-3)


def _below(k: int, p: float) -> bool:
    return bool(stats.binom.cdf(k, N_TRIALS, p) < 1e-3)


@pytest.mark.slow
def test_normal_hearing_gap_threshold_is_2_to_3_ms_at_moderate_levels() -> None:
    # The 3-AFC 70.7 % point lies between 1 and 3 ms (the published 2-3 ms; the model, an
    # ideal observer of its temporal window with no decision noise, sits near 2 ms, so the
    # lower bound allows a millisecond below).
    assert _below(_n_correct("N1", level_db_spl=70, gap_ms=1.0, seed=1), P_707)
    assert _above(_n_correct("N1", level_db_spl=70, gap_ms=3.0, seed=2), P_707)


@pytest.mark.slow
def test_gap_threshold_rises_at_low_sensation_level_and_with_a_sloping_loss() -> None:
    # A 3 ms gap: found well above 70.7 % by a normal ear at 70 and 80 dB SPL, below it by the
    # same ear at 40 dB SPL (white noise: about 5-15 dB SL per auditory band) and by S2 (only
    # the narrow low-frequency bands audible, whose slow fluctuations hide a short gap).
    assert _above(_n_correct("N1", level_db_spl=80, gap_ms=3.0, seed=3), P_707)
    assert _below(_n_correct("N1", level_db_spl=40, gap_ms=3.0, seed=4), P_707)
    assert _below(_n_correct("S2", level_db_spl=80, gap_ms=3.0, seed=5), P_707)


def test_yes_no_gap_answers_follow_the_dip_criterion() -> None:
    # Yes/no: a 20 ms gap (a 20 dB dip and more) is "yes", no gap at 70 dB SPL rarely is.
    spec = stimulus_spec({"kind": "gap_in_noise", "variable": "gap_ms", "level_db_spl": 70,
                          "duration_ms": 300, "ramp_ms": 10})
    listener = SimulatedListener("N1", seed=8, false_alarm_rate=0.0)
    rng = np.random.default_rng(8)
    yes = {0.0: 0, 20.0: 0}
    for gap in yes:
        for i in range(20):
            trial = Trial(index=i, x_db=gap, n_intervals=1, target_interval=None, catch=False)
            yes[gap] += listener.respond(trial, render_trial(spec, trial, fs=FS, rng=rng))
    assert yes[20.0] == 20 and yes[0.0] <= 3
