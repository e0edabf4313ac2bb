"""Level meter: C kernel vs scipy.signal.lfilter on x^2, IEC 61672-1 time constants, dB SPL
reference values, streaming, the engine stage and hostile input."""

import math

import numpy as np
import pytest
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from audiolab import ConfigError, SignalError, SignalTypeError
from audiolab._ckernel import ffi, float_buffer
from audiolab.dsp import LevelMeter

FS = 48000
# IEC 61672-1:2013, 5.8: time constants of the exponential time weightings F and S.
TAU_S = {"fast": 0.125, "slow": 1.0}
# dB SPL is re 20 uPa (IEC 61672-1; ISO 1683): 1 Pa RMS is 20 log10(1 / 20e-6) = 93.979 dB.
DB_SPL_OF_1_PA = 20 * math.log10(1 / 20e-6)


def reference_levels(x, time_weighting, reference=20e-6, fs=FS):
    """The NumPy/SciPy a user would write: one-pole lfilter (or running mean) on x^2."""
    sq = np.asarray(x, np.float64) ** 2
    if time_weighting == "leq":
        ms = np.cumsum(sq, axis=-1) / np.arange(1, sq.shape[-1] + 1)
    else:
        alpha = 1 - math.exp(-1 / (TAU_S[time_weighting] * fs))
        ms = scipy.signal.lfilter([alpha], [1, alpha - 1], sq, axis=-1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(ms / reference**2)


def sine(f_hz, seconds, rms=1.0, fs=FS):
    t = np.arange(int(round(seconds * fs))) / fs
    return (rms * math.sqrt(2) * np.sin(2 * np.pi * f_hz * t)).astype(np.float32)


@pytest.mark.parametrize("time_weighting", ["fast", "slow", "leq"])
@pytest.mark.usefixtures("cpu_path")
def test_kernel_matches_lfilter_on_x_squared(rng, time_weighting):
    x = (rng.standard_normal((2, 20000)) * np.logspace(-3, 2, 20000)).astype(np.float32)
    y = LevelMeter(fs=FS, time_weighting=time_weighting).process(x)
    ref = reference_levels(x, time_weighting)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, ref, atol=2e-5)


@pytest.mark.parametrize("time_weighting", ["fast", "slow", "leq"])
@pytest.mark.usefixtures("cpu_path")
def test_block_split_equals_whole(rng, time_weighting):
    x = rng.standard_normal((2, 6000)).astype(np.float32)
    whole = LevelMeter(fs=FS, time_weighting=time_weighting).process(x)
    meter = LevelMeter(fs=FS, time_weighting=time_weighting)
    edges = np.cumsum(rng.integers(0, 400, size=40))
    edges = np.unique(np.concatenate([[0, 1, 2], edges[edges < 6000], [6000]]))
    parts = [meter.process(x[:, a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


@pytest.mark.parametrize("time_weighting, settle_s", [("fast", 1.5), ("slow", 12.0)])
def test_1_khz_tone_of_1_pa_reads_93_98_db_spl(time_weighting, settle_s):
    meter = LevelMeter(fs=FS, time_weighting=time_weighting)
    levels = meter.process(sine(1000, settle_s))
    steady = levels[-FS // 2:]
    # The 2 kHz ripple of x^2 through the one-pole is < 0.01 dB for F at 48 kHz.
    assert np.abs(steady - DB_SPL_OF_1_PA).max() < 0.01
    assert abs(meter.current_level_db()[0] - DB_SPL_OF_1_PA) < 0.01


def test_full_scale_sine_reads_0_dbfs_with_the_dbfs_reference():
    meter = LevelMeter(fs=FS, time_weighting="leq", reference=1 / math.sqrt(2))
    x = sine(997, 1.0, rms=1 / math.sqrt(2))  # peak 1.0
    assert abs(meter.process(x)[-1]) < 1e-3


@pytest.mark.parametrize("time_weighting", ["fast", "slow"])
def test_step_response_follows_the_time_constant(time_weighting):
    # A constant x^2 = 1 Pa^2 switched on at t = 0: the mean square rises as
    # 1 - exp(-t / tau) (IEC 61672-1 exponential averaging), exactly at the sample instants.
    tau = TAU_S[time_weighting]
    n = int(3 * tau * FS)
    levels = LevelMeter(fs=FS, time_weighting=time_weighting).process(np.ones(n, np.float32))
    t = np.arange(1, n + 1) / FS
    expected = DB_SPL_OF_1_PA + 10 * np.log10(1 - np.exp(-t / tau))
    np.testing.assert_allclose(levels, expected, atol=1e-4)
    # One time constant after onset: 10 log10(1 - 1/e) = -1.992 dB below the final level.
    k = int(round(tau * FS)) - 1
    assert abs(levels[k] - (DB_SPL_OF_1_PA - 1.992)) < 1e-3


@pytest.mark.parametrize("time_weighting", ["fast", "slow"])
def test_tone_burst_rise_and_decay_rate(time_weighting):
    tau = TAU_S[time_weighting]
    burst = sine(1000, 2 * tau)
    x = np.concatenate([burst, np.zeros(int(2 * tau * FS), np.float32)])
    levels = LevelMeter(fs=FS, time_weighting=time_weighting).process(x)
    for frac in (0.25, 0.5, 1.0, 2.0):
        k = int(frac * tau * FS) - 1
        expected = DB_SPL_OF_1_PA + 10 * math.log10(1 - math.exp(-frac * tau / tau))
        assert abs(levels[k] - expected) < 0.05, (frac, levels[k], expected)
    # After the burst the mean square decays as exp(-t / tau): 10 log10(e) / tau dB/s,
    # 34.7 dB/s for F (IEC 61672-1 asks F to decay at >= 25 dB/s) and 4.3 dB/s for S.
    a, b = burst.size + int(0.2 * tau * FS), burst.size + int(1.2 * tau * FS)
    rate = (levels[a] - levels[b]) / ((b - a) / FS)
    assert abs(rate - 10 * math.log10(math.e) / tau) < 0.01 * rate


def test_leq_is_the_mean_square_since_the_start(rng):
    x = rng.standard_normal(10000).astype(np.float32) * 0.1
    meter = LevelMeter(fs=FS, time_weighting="leq")
    levels = meter.process(x)
    expected = 10 * math.log10(np.mean(x.astype(np.float64) ** 2) / 20e-6**2)
    assert abs(levels[-1] - expected) < 1e-4
    assert abs(meter.current_level_db()[0] - expected) < 1e-9
    meter.reset()
    np.testing.assert_array_equal(meter.process(x), levels)


def test_channels_are_metered_independently(rng):
    x = np.stack([sine(1000, 0.5), sine(500, 0.5, rms=0.01)])
    levels = LevelMeter(fs=FS, time_weighting="fast").process(x)
    np.testing.assert_array_equal(levels[1], LevelMeter(fs=FS).process(x[1]))
    assert levels[0, -1] - levels[1, -1] == pytest.approx(40.0, abs=0.05)


def test_silence_reads_minus_inf_and_current_level_before_any_block():
    meter = LevelMeter(fs=FS)
    assert meter.current_level_db().shape == (0,)
    assert np.all(meter.process(np.zeros((2, 10), np.float32)) == -np.inf)
    assert np.all(meter.current_level_db() == -np.inf)
    assert meter.latency_samples == 0
    assert meter.process(np.zeros((2, 0), np.float32)).shape == (2, 0)


def test_c_stage_meters_without_touching_the_audio(rng):
    x = rng.standard_normal((2, 3000)).astype(np.float32)
    meter = LevelMeter(fs=FS, time_weighting="slow")
    fn, state = meter.c_stage(2)
    y = x.copy()
    assert fn(state, float_buffer(y, "x"), 2, y.shape[1]) == 0
    np.testing.assert_array_equal(y, x)
    expected = LevelMeter(fs=FS, time_weighting="slow").process(x)[:, -1]
    np.testing.assert_allclose(meter.current_level_db(), expected, atol=1e-4)
    # A wrong channel count is refused by the kernel, not run past the state.
    assert fn(state, float_buffer(y, "x"), 3, 1000) != 0
    assert ffi.typeof(fn).cname.startswith("al_status(*)")


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"time_weighting": "medium"}, "time_weighting"),
        ({"reference": 0.0}, "reference"),
        ({"reference": -1.0}, "reference"),
        ({"reference": float("nan")}, "reference"),
        ({"fs": 0}, "fs"),
        ({"fs": "48k"}, "fs"),
    ],
)
def test_bad_config_names_the_parameter(kwargs, words):
    with pytest.raises(ConfigError, match=words):
        LevelMeter(**kwargs)


@pytest.mark.parametrize(
    "bad, exc, words",
    [
        (np.zeros((2, 3, 4), np.float32), SignalError, "shape"),
        (np.zeros(8, np.int16), SignalTypeError, "dtype"),
        (np.zeros(8, np.complex64), SignalTypeError, "dtype"),
        (np.array([0.0, np.nan], np.float32), SignalError, "NaN"),
        (np.array([np.inf], np.float32), SignalError, "NaN"),
        ("not audio", SignalTypeError, "numpy array"),
    ],
)
def test_hostile_input_names_the_problem(bad, exc, words):
    with pytest.raises(exc, match=words):
        LevelMeter(fs=FS).process(bad)


def test_non_contiguous_input_is_accepted(rng):
    x = rng.standard_normal((2, 800)).astype(np.float32)
    y = LevelMeter(fs=FS).process(x[:, ::2])
    np.testing.assert_allclose(y, reference_levels(x[:, ::2], "fast"), atol=2e-5)


@given(
    x=hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=80),
        elements=st.floats(-(2.0**127), 2.0**127, width=32, allow_subnormal=True),
    ),
    time_weighting=st.sampled_from(["fast", "slow", "leq"]),
)
def test_hypothesis_finite_input_matches_reference(x, time_weighting):
    y = LevelMeter(fs=FS, time_weighting=time_weighting).process(x)
    # The kernel runs with denormals-are-zero: subnormal float32 samples (< 1.2e-38) count as 0.
    ref = reference_levels(np.where(np.abs(x) < np.finfo(np.float32).tiny, 0, x), time_weighting)
    assert y.shape == x.shape
    assert not np.isnan(y).any() and not (y == np.inf).any()
    # Mean squares below the smallest normal double read -inf (the kernel flushes denormals).
    audible = ref > -3000
    np.testing.assert_allclose(y[audible], ref[audible], atol=1e-3)
    assert np.all(y[~audible] <= -3000)
