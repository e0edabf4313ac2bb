"""Fused multiband WDRC kernel: C against the NumPy reference, streaming, steady state, limits."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from wdrc_reference import reference_wdrc

from audiolab import ConfigError, SignalError, SignalTypeError
from audiolab._ckernel import ffi, float_buffer
from audiolab.calibration import db_spl_to_pa_rms
from audiolab.dsp import GammatoneFilterbank
from audiolab.models import MultibandWdrc, WdrcSettings, ansi_time_constants_ms, static_gain_db

FS = 48000
FC = MultibandWdrc.band_frequencies_hz(fs=FS)
NB = FC.size


def _settings(**kw):
    base = dict(
        gain_db=np.linspace(5, 30, NB), knee_db_spl=45.0, ratio=np.linspace(1.0, 3.0, NB),
        expansion_knee_db_spl=25.0, expansion_ratio=0.7, max_gain_db=80.0,
        attack_ms=5.0, release_ms=50.0, mpo_db_spl=105.0,
    )
    base.update(kw)
    return WdrcSettings(**base)


def _tone(f_hz, level_db_spl, n, fs=FS):
    t = np.arange(n) / fs
    return (math.sqrt(2) * db_spl_to_pa_rms(level_db_spl) * np.sin(2 * np.pi * f_hz * t)).astype(
        np.float32
    )


def _bursty_noise(rng, n_channels, n):
    # Noise whose level jumps between 30 and 95 dB SPL: exercises expansion, compression,
    # attack, release and (at 95 dB with up to 30 dB gain) the MPO limiter.
    x = rng.standard_normal((n_channels, n))
    levels = rng.choice([30.0, 55.0, 75.0, 95.0], size=(n_channels, n // 600 + 1))
    env = np.repeat(db_spl_to_pa_rms(levels), 600, axis=1)[:, :n]
    return (x * env).astype(np.float32)


@pytest.mark.usefixtures("cpu_path")
def test_c_matches_numpy_reference(rng):
    left = _settings()
    right = _settings(gain_db=np.linspace(20, 0, NB), ratio=2.5, mpo_db_spl=95.0, attack_ms=2.0)
    aid = MultibandWdrc((left, right), fs=FS)
    x = _bursty_noise(rng, 2, 6000)
    y = aid.process(x)
    ref = reference_wdrc(aid, x)
    assert np.abs(ref).max() > 0.5  # the limiter engaged (95 dB SPL ~ 1.1 Pa peak)
    np.testing.assert_allclose(y, ref, rtol=0, atol=2e-5 * np.abs(ref).max())


@pytest.mark.usefixtures("cpu_path")
def test_c_matches_reference_at_16_khz_with_odd_grid(rng):
    fc = MultibandWdrc.band_frequencies_hz(fs=16000, f_high_hz=7000, bands_per_erb=2.0)
    s = WdrcSettings(
        gain_db=np.full(fc.size, 15.0), knee_db_spl=40.0, ratio=2.0, expansion_knee_db_spl=30.0,
        expansion_ratio=0.5, max_gain_db=25.0, mpo_db_spl=100.0,
    )
    aid = MultibandWdrc(s, fs=16000, f_high_hz=7000, bands_per_erb=2.0, grid_samples=5)
    x = _bursty_noise(rng, 1, 3001)
    np.testing.assert_allclose(
        aid.process(x), reference_wdrc(aid, x), rtol=0, atol=2e-5 * np.abs(x).max() * 10
    )


@pytest.mark.usefixtures("cpu_path")
def test_block_split_equals_whole(rng):
    aid = MultibandWdrc((_settings(), _settings(ratio=3.0)), fs=FS)
    x = _bursty_noise(rng, 2, 9000)
    whole = aid.process(x)
    aid.reset()
    edges = np.cumsum(rng.integers(0, 200, size=200))
    edges = np.unique(np.concatenate([[0, 1, 2, 3], edges[edges < x.shape[1]], [x.shape[1]]]))
    parts = [aid.process(x[:, a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


def test_linear_unity_settings_equal_the_gammatone_bank(rng):
    s = _settings(gain_db=np.zeros(NB), ratio=1.0, expansion_ratio=1.0, mpo_db_spl=140.0)
    x = rng.standard_normal((1, 5000)).astype(np.float32)
    y = MultibandWdrc(s, fs=FS).process(x)
    ref = GammatoneFilterbank(fs=FS, f_low_hz=100, f_high_hz=8000).process(x)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-6 * np.abs(ref).max())


@pytest.mark.parametrize("f_hz", [500.0, 2000.0, 3150.0])
@pytest.mark.parametrize("level", [30.0, 50.0, 65.0, 80.0])
def test_steady_tone_gain_matches_the_static_model(f_hz, level):
    aid = MultibandWdrc(_settings(mpo_db_spl=140.0), fs=FS)
    n = FS // 2
    y = aid.process(_tone(f_hz, level, n))
    tail = y[n // 2 :].astype(float)
    measured = 20 * np.log10(np.sqrt(np.mean(tail**2)) / db_spl_to_pa_rms(level))
    assert measured == pytest.approx(float(aid.tone_gain_db(f_hz, level)), abs=0.05)


def _sine_peak_pa(level_db_spl):
    # The MPO is the level of a sine whose peak the limiter allows: peak = sqrt(2) p_ref
    # 10^(L / 20), p_ref = 20 uPa (ISO 1683:2015).
    return math.sqrt(2.0) * 20e-6 * 10.0 ** (level_db_spl / 20.0)


def test_limiter_caps_the_output_peak(rng):
    aid = MultibandWdrc(_settings(mpo_db_spl=90.0), fs=FS)
    y = aid.process(_tone(1000.0, 100.0, 9600))
    assert aid.limit_pa(0) == pytest.approx(_sine_peak_pa(90.0), rel=1e-12)
    assert np.abs(y).max() <= _sine_peak_pa(90.0) * (1 + 1e-6)
    assert np.abs(y).max() >= 0.99 * _sine_peak_pa(90.0)


def test_static_curve_reference_points():
    # Knee 45, ratio 2 above it, expansion ratio 0.5 below 25: worked by hand.
    s = WdrcSettings(
        gain_db=[20.0], knee_db_spl=45.0, ratio=2.0, expansion_knee_db_spl=25.0,
        expansion_ratio=0.5, max_gain_db=22.0,
    )
    g = static_gain_db(s, np.array([[5.0], [25.0], [45.0], [65.0], [85.0]]))[:, 0]
    np.testing.assert_allclose(g, [0.0, 20.0, 20.0, 10.0, 0.0])
    s2 = WdrcSettings(
        gain_db=[30.0], knee_db_spl=45.0, ratio=1.0, expansion_knee_db_spl=45.0,
        expansion_ratio=1.0, max_gain_db=22.0,
    )
    assert float(static_gain_db(s2, [[60.0]])[0, 0]) == 22.0  # maximum gain


@pytest.mark.parametrize("ratio", [1.2, 1.5, 2.0, 3.0, 5.0])
def test_time_constants_follow_the_closed_form(ratio):
    # Module docstring of audiolab.models._wdrc: with both ANSI levels above the knee and no
    # gain limit, tau = t / ln(35 (1 - 1/CR) / D), D = 3 dB (attack), 4 dB (release).
    s = WdrcSettings(
        gain_db=[30.0], knee_db_spl=40.0, ratio=ratio, expansion_knee_db_spl=20.0,
        expansion_ratio=1.0, max_gain_db=80.0, attack_ms=5.0, release_ms=100.0,
    )
    tau_a, tau_r = ansi_time_constants_ms(s)
    over = 35 * (1 - 1 / ratio)
    assert tau_a[0] == pytest.approx(5.0 / math.log(over / 3.0), rel=2e-3)
    assert tau_r[0] == pytest.approx(100.0 / math.log(over / 4.0), rel=2e-3)


def test_c_stage_runs_the_same_kernel(rng):
    aid = MultibandWdrc(_settings(), fs=FS)
    x = _bursty_noise(rng, 2, 3000)
    expected = MultibandWdrc(_settings(), fs=FS).process(x)
    fn, state = aid.c_stage(2)
    buf = x.copy()
    assert fn(state, float_buffer(buf, "x"), 2, buf.shape[1]) == 0
    np.testing.assert_array_equal(buf, expected)
    assert fn(state, ffi.NULL, 2, 0) == 0  # empty block
    assert fn(state, float_buffer(buf, "x"), 3, 10) != 0  # wrong channel count: status


@pytest.mark.parametrize(
    "bad, exc, words",
    [
        (np.zeros((1, 3, 4), np.float32), SignalError, "shape"),
        (np.zeros(8, np.int16), SignalTypeError, "dtype"),
        (np.array([0.0, np.nan], np.float32), SignalError, "NaN"),
        (np.array([np.inf, 0.0], np.float32), SignalError, "NaN"),
        ("not audio", SignalTypeError, "numpy array"),
    ],
)
def test_hostile_blocks_name_the_problem(bad, exc, words):
    with pytest.raises(exc, match=words):
        MultibandWdrc(_settings(), fs=FS).process(bad)


def test_empty_one_sample_and_non_contiguous(rng):
    aid = MultibandWdrc(_settings(), fs=FS)
    assert aid.process(np.zeros((1, 0), np.float32)).shape == (1, 0)
    assert aid.process(np.ones((1, 1), np.float32)).shape == (1, 1)
    x = rng.standard_normal((1, 800)).astype(np.float32)
    a = MultibandWdrc(_settings(), fs=FS).process(x[:, ::2])
    b = MultibandWdrc(_settings(), fs=FS).process(np.ascontiguousarray(x[:, ::2]))
    np.testing.assert_array_equal(a, b)


def test_settings_for_two_ears_refuse_three_channels():
    aid = MultibandWdrc((_settings(), _settings()), fs=FS)
    with pytest.raises(SignalError, match="settings for 2 channels"):
        aid.process(np.zeros((3, 10), np.float32))


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("ratio", 0.5, "ratio"),
        ("attack_ms", -3.0, "attack_ms"),
        ("mpo_db_spl", 200.0, "mpo_db_spl"),
        ("gain_db", [1.0, 2.0], "one value per band"),
        ("expansion_ratio", 2.0, "expansion_ratio"),
        ("knee_db_spl", float("nan"), "knee_db_spl"),
    ],
)
def test_bad_settings_name_the_parameter(key, value, words):
    with pytest.raises(ConfigError, match=words):
        _settings(**{key: value})


def test_band_count_mismatch_is_explained():
    s = WdrcSettings(gain_db=np.zeros(5), knee_db_spl=40, ratio=1, expansion_knee_db_spl=20,
                     expansion_ratio=1, max_gain_db=80)
    with pytest.raises(ConfigError, match="5 bands but the filterbank has"):
        MultibandWdrc(s, fs=FS)


@given(
    st.lists(st.floats(-1e3, 1e3, allow_nan=False, width=32), min_size=1, max_size=300),
)
@pytest.mark.slow
def test_any_finite_input_gives_finite_output_within_the_limit(samples):
    aid = MultibandWdrc(_settings(mpo_db_spl=100.0), fs=FS)
    y = aid.process(np.array(samples, np.float32))
    assert np.isfinite(y).all()
    assert np.abs(y).max() <= _sine_peak_pa(100.0) * (1 + 1e-6)


def test_engine_path_survives_non_finite_samples(rng):
    # The engine calls the C stage directly (no Python NaN check): a NaN or inf sample must not
    # poison the state; it counts as silence.
    aid = MultibandWdrc(_settings(), fs=FS)
    fn, state = aid.c_stage(1)
    x = _bursty_noise(rng, 1, 2000)
    clean = x.copy()
    clean[0, [100, 700]] = 0.0
    x[0, 100], x[0, 700] = np.nan, np.inf
    assert fn(state, float_buffer(x, "x"), 1, x.shape[1]) == 0
    np.testing.assert_array_equal(x, MultibandWdrc(_settings(), fs=FS).process(clean))
