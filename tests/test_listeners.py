"""The psychometric listener: spec parsing, answer probabilities, wrong-interval choice, seeding."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from audiolab._errors import ConfigError
from audiolab.experiments import (
    PsychometricListener,
    Trial,
    UpDownConfig,
    make_procedure,
    parse_listener,
    run_listener,
)


def afc_trial(x_db, n, target, index=0):
    return Trial(index=index, x_db=x_db, n_intervals=n, target_interval=target, catch=False)


def yes_no_trial(x_db, catch=False):
    return Trial(index=0, x_db=x_db, n_intervals=1, target_interval=None, catch=catch)


def test_parse_reads_the_spec_of_issue_11():
    lst = parse_listener("psychometric:midpoint=-3.5,slope=0.4,lapse=0.03", seed=1)
    assert (lst.midpoint_db, lst.slope_per_db, lst.lapse_rate, lst.false_alarm_rate) == (
        -3.5, 0.4, 0.03, 0.0)
    other = parse_listener("psychometric: slope=1 , midpoint=2,false_alarm=0.1", seed=1)
    assert (other.midpoint_db, other.slope_per_db, other.lapse_rate, other.false_alarm_rate) == (
        2.0, 1.0, 0.0, 0.1)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("simulated:", "listener must be 'simulated:AUDIOGRAM' with AUDIOGRAM a preset"),
        ("simulated:N3,slope=x", "listener slope must be a number, got 'x'"),
        ("simulated:N3,depth=1", "listener key must be one of slope, false_alarm"),
        ("simulated:N3,slope=0", r"slope must be in \(0, 10\], got 0.0"),
        ("psychometric", "listener must be 'psychometric:midpoint=M"),
        ("psychometric:midpoint=0", "listener spec must give slope="),
        ("psychometric:midpoint=0,slope=1,lapse=0.6", r"lapse must be in \[0, 0.5\], got 0.6"),
        ("psychometric:midpoint=0,slope=0,lapse=0", r"slope must be in \(0, 100\], got 0.0"),
        ("psychometric:midpoint=0,slope=-1", r"slope must be in \(0, 100\], got -1.0"),
        ("psychometric:midpoint=nan,slope=1", r"midpoint must be in \[-1000, 1000\], got nan"),
        ("psychometric:midpoint=inf,slope=1", "midpoint must be in"),
        ("psychometric:midpoint=zero,slope=1", "listener midpoint must be a number, got 'zero'"),
        ("psychometric:midpoint=0,slope=1,slope=2", "listener key slope must be given once"),
        ("psychometric:midpoint=0,slope=1,gain=3", "listener key must be one of midpoint, slope"),
        ("psychometric:midpoint=0;slope=1", "listener midpoint must be a number, got '0;slope=1'"),
        (None, "listener must be a string"),
    ],
)
def test_bad_specs_are_one_clear_error(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_listener(spec, seed=0)


@given(spec=st.text(max_size=60))
def test_any_spec_string_parses_or_raises_a_config_error(spec):
    try:
        lst = parse_listener(spec, seed=0)
    except ConfigError:
        return
    assert spec.startswith("psychometric:") and math.isfinite(lst.midpoint_db)


@given(tail=st.lists(st.tuples(st.sampled_from(["midpoint", "slope", "lapse", "false_alarm"]),
                               st.floats(allow_nan=True, allow_infinity=True)), max_size=5))
def test_any_key_value_list_parses_or_raises_a_config_error(tail):
    spec = "psychometric:" + ",".join(f"{k}={v!r}" for k, v in tail)
    try:
        lst = parse_listener(spec, seed=0)
    except ConfigError:
        return
    assert 0 < lst.slope_per_db <= 100 and 0 <= lst.lapse_rate <= 0.5


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("x_db", [-6.0, 0.0, 3.0])
def test_afc_answers_are_correct_with_the_function_probability(n, x_db):
    lst = PsychometricListener(midpoint_db=0.0, slope_per_db=0.5, lapse_rate=0.04, seed=n)
    g = 1.0 / n
    p = g + (1 - g - 0.04) / (1 + math.exp(-0.5 * x_db))  # the function of issue 11
    assert lst.p_positive(x_db, n_intervals=n) == pytest.approx(p, rel=1e-12)
    n_trials = 4000
    answers = np.array([lst.respond(afc_trial(x_db, n, target=1 + i % n))
                        for i in range(n_trials)])
    targets = 1 + np.arange(n_trials) % n
    correct = int((answers == targets).sum())
    # count ~ Binomial(4000, p): accept its central 99.9 %
    lo, hi = stats.binom.ppf(0.0005, n_trials, p), stats.binom.isf(0.0005, n_trials, p)
    assert lo <= correct <= hi
    # a wrong answer names one of the other n - 1 intervals uniformly
    wrong = answers[(answers != targets) & (targets == 1)]
    assert set(np.unique(wrong)) <= set(range(2, n + 1))
    if n > 2 and wrong.size:
        counts = np.bincount(wrong, minlength=n + 1)[2:]
        assert stats.chisquare(counts).pvalue > 1e-3


def test_yes_no_answers_use_guess_rate_zero_and_catch_trials_the_false_alarm_rate():
    lst = PsychometricListener(midpoint_db=10.0, slope_per_db=1.0, lapse_rate=0.0, seed=3)
    assert lst.p_positive(10.0, n_intervals=1) == pytest.approx(0.5)
    far_below = [lst.respond(yes_no_trial(-50.0)) for _ in range(500)]
    assert not any(far_below)  # g = 0: P("yes") = 1 / (1 + e^60)
    catch = [lst.respond(yes_no_trial(50.0, catch=True)) for _ in range(500)]
    assert not any(catch)
    fa = PsychometricListener(midpoint_db=0.0, slope_per_db=1.0, false_alarm_rate=0.2, seed=4)
    n = 3000
    k = sum(fa.respond(yes_no_trial(0.0, catch=True)) for _ in range(n))
    assert stats.binom.ppf(0.0005, n, 0.2) <= k <= stats.binom.isf(0.0005, n, 0.2)
    assert all(isinstance(fa.respond(yes_no_trial(0.0)), bool) for _ in range(5))


def test_x_db_at_inverts_the_function():
    lst = PsychometricListener(midpoint_db=-2.0, slope_per_db=0.3, lapse_rate=0.02, seed=0)
    for n in (1, 2, 3):
        for p in (0.6, 0.707, 0.794, 0.9):
            x = lst.x_db_at(p, n_intervals=n)
            assert lst.p_positive(x, n_intervals=n) == pytest.approx(p, abs=1e-12)
    with pytest.raises(ConfigError, match=r"p must be in \(0.5, 0.98\), got 0.99"):
        lst.x_db_at(0.99, n_intervals=2)


def test_same_seed_same_answers_different_seed_different_answers():
    def answers(seed):
        proc = make_procedure(UpDownConfig(start_db=5.0, max_reversals=10), seed=1)
        run_listener(proc, parse_listener("psychometric:midpoint=0,slope=0.5,lapse=0.02",
                                          seed=seed))
        return proc.responses

    assert answers(7) == answers(7) != answers(8)


def test_run_listener_stops_at_max_trials_and_at_the_end():
    proc = make_procedure(UpDownConfig(start_db=5.0, max_trials=20), seed=1)
    lst = PsychometricListener(midpoint_db=0.0, slope_per_db=0.5, seed=1)
    run_listener(proc, lst, max_trials=7)
    assert len(proc.history) == 7 and not proc.finished
    run_listener(proc, lst)
    assert len(proc.history) == 20 and proc.finished
    with pytest.raises(ConfigError, match=r"seed must be in \[0, "):
        PsychometricListener(midpoint_db=0.0, slope_per_db=0.5, seed=-3)
