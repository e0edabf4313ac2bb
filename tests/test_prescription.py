"""Linear prescriptions: NAL-R worked example, NAL-R formula for any audiogram, half-gain, POGO."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from audiolab import ConfigError, SignalTypeError
from audiolab.audiology import RULES, EarAudiogram, load_audiogram, prescribe

STANDARD_F = [125, 250, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000, 8000]

# Byrne & Dillon (1986) k(f), written out here independently of the module's table.
NAL_R_K = {250: -17, 500: -8, 750: -3, 1000: 1, 1500: 1, 2000: -1, 3000: -2, 4000: -2, 6000: -2}


def test_nal_r_worked_example_from_reference():
    # REFERENCE.md (Byrne & Dillon 1986): H = [20,25,30,40,55,60] at [250,500,1k,2k,4k,6k]
    # gives [0, 4.5, 15.05, 16.15, 19.8, 21.35] (250 Hz: -6.05 dB clipped to 0).
    f = [250, 500, 1000, 2000, 4000, 6000]
    ear = EarAudiogram(f, [20, 25, 30, 40, 55, 60])
    np.testing.assert_allclose(prescribe(ear, "nal-r", f), [0, 4.5, 15.05, 16.15, 19.8, 21.35],
                               atol=1e-9)


@given(st.lists(st.integers(-2, 24).map(lambda v: 5.0 * v), min_size=11, max_size=11))
def test_nal_r_equals_the_formula_for_any_valid_audiogram(steps):
    # Audiometers step in 5 dB; thresholds -10..120 dB HL at the standard frequencies.
    ear = EarAudiogram(STANDARD_F, steps)
    h = dict(zip(STANDARD_F, steps, strict=True))
    x = 0.05 * (h[500] + h[1000] + h[2000])
    f = sorted(NAL_R_K)
    expected = [max(0.0, x + 0.31 * h[fi] + NAL_R_K[fi]) for fi in f]
    np.testing.assert_allclose(prescribe(ear, "nal-r", f), expected, atol=0.05)


@given(st.lists(st.floats(-10, 120, allow_nan=False), min_size=6, max_size=6))
def test_nal_r_formula_with_interpolated_thresholds(thresholds):
    # Any real-valued audiogram, also one lacking 750/1500/3000 Hz: H(f) is the log-frequency
    # interpolation of the audiogram.
    f_ag = [250, 500, 1000, 2000, 4000, 6000]
    ear = EarAudiogram(f_ag, thresholds)
    h = dict(zip(f_ag, thresholds, strict=True))
    x = 0.05 * (h[500] + h[1000] + h[2000])
    h1500 = h[1000] + (h[2000] - h[1000]) * np.log2(1.5)  # linear in log frequency
    expected = max(0.0, x + 0.31 * h1500 + NAL_R_K[1500])
    assert prescribe(ear, "nal-r", [1500])[0] == pytest.approx(expected, abs=0.05)


def test_half_gain_and_pogo():
    ear = EarAudiogram([250, 500, 1000, 2000, 4000], [40, 40, 50, 60, 70])
    f = [250, 500, 1000, 2000, 4000]
    np.testing.assert_allclose(prescribe(ear, "half-gain", f), [20, 20, 25, 30, 35])
    # McCandless & Lyregaard (1983): half gain, -10 dB at 250 Hz and -5 dB at 500 Hz.
    np.testing.assert_allclose(prescribe(ear, "pogo", f), [10, 15, 25, 30, 35])


def test_outside_the_tables_the_documented_extrapolation_applies():
    ear = EarAudiogram(STANDARD_F, [30] * 11)
    x = 0.05 * 90
    # NAL-R holds k(250) = -17 below and k(6000) = -2 above its table; threshold is the
    # audiogram's own value there.
    got = prescribe(ear, "nal-r", [125, 8000, 10000])
    np.testing.assert_allclose(got, [max(0, x + 0.31 * 30 - 17), x + 0.31 * 30 - 2,
                                     x + 0.31 * 30 - 2])
    np.testing.assert_allclose(prescribe(ear, "pogo", [125, 8000]), [5, 15])
    # Between table frequencies k(f) is interpolated on log frequency: 1225 Hz lies between
    # 1000 (+1) and 1500 (+1); 2449 Hz halfway (geometrically) between 2000 (-1) and 3000 (-2).
    np.testing.assert_allclose(prescribe(ear, "nal-r", [2449.49]), [x + 9.3 - 1.5], atol=1e-3)


def test_gains_are_never_negative():
    ear = EarAudiogram(STANDARD_F, [-10] * 11)
    for rule in RULES:
        assert (prescribe(ear, rule, STANDARD_F) == 0).all()


@pytest.mark.parametrize("rule", RULES)
def test_presets_prescribe_sensible_gains(rule):
    n3 = load_audiogram("N3").left
    g = prescribe(n3, rule, [250, 1000, 4000])
    assert g.shape == (3,) and g.dtype == np.float64
    assert g[2] > g[0]  # sloping loss, more gain at high frequencies


def test_bad_arguments_name_the_problem():
    ear = load_audiogram("N2").right
    with pytest.raises(ConfigError, match="rule must be one of 'nal-r', 'half-gain', 'pogo'"):
        prescribe(ear, "nal-nl2", [1000])
    with pytest.raises(SignalTypeError, match="ear must be an EarAudiogram"):
        prescribe(load_audiogram("N2"), "nal-r", [1000])  # type: ignore[arg-type]
    for bad in ([0.0], [np.nan], [[1000.0]], ["1 kHz"]):
        with pytest.raises(ConfigError, match="frequencies_hz"):
            prescribe(ear, "nal-r", bad)
