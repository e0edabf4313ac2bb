"""Octave and one-third-octave filterbanks: IEC 61260-1:2014 class 1 mask as measured on the C
kernel, kernel vs NumPy reference, zero-phase option, streaming and hostile input."""

import numpy as np
import pytest
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from audiolab import ConfigError, SignalError, SignalTypeError
from audiolab.dsp import OctaveFilterbank

G = 10.0 ** (3.0 / 10.0)  # IEC 61260-1:2014 base-10 octave ratio (REFERENCE.md)

# IEC 61260-1:2014 Table 1, class 1: acceptance limits on the relative attenuation (dB) of an
# octave filter (b = 1) at normalised frequency Omega = f / f_m = G^e, e = 0, 1/8, 1/4, 3/8,
# 1/2, 1, 2, 3, 4 (symmetric for -e). Values as quoted by leonardojacomussi/PySLM
# (pyslm/_octfilter.py, "IEC 61260-1:2014 Standard Acceptance limits") and, for the pass band
# and the stop band, by thefirecode/Acoustics.jl (bands.jl); REFERENCE.md: +-0.4 dB at
# mid-band, >= 16.6 dB one octave away, >= 70 dB far out. The limits jump at the band edge
# G^(1/2): just inside it the attenuation may be -0.4 .. 5.3 dB, at and beyond it it must be
# >= 1.2 dB (and has no upper limit). Between breakpoints the limits are interpolated linearly
# on a logarithmic frequency axis: our reading, the stricter one for the stop band.
BREAK_EXP = np.array([0, 1 / 8, 1 / 4, 3 / 8, 1 / 2, 1, 2, 3, 4])
MIN_DB = np.array([-0.4, -0.4, -0.4, -0.4, 1.2, 16.6, 40.5, 60.0, 70.0])
MAX_DB = np.array([0.4, 0.5, 0.7, 1.4, 5.3, np.inf, np.inf, np.inf, np.inf])


def breakpoints(b):
    """Breakpoints Omega_b >= 1 of a 1/b-octave filter (IEC 61260-1:2014, via REFERENCE.md):
    Omega_b = 1 + (G^(1/(2b)) - 1) / (G^(1/2) - 1) * (Omega - 1); below 1 by reciprocity."""
    k = (G ** (1 / (2 * b)) - 1) / (G**0.5 - 1)
    return 1 + k * (G**BREAK_EXP - 1)


def class1_mask(omega, b):
    """(min, max) relative attenuation in dB allowed at normalised frequencies omega."""
    log_bp = np.log(breakpoints(b))
    a = np.abs(np.log(np.asarray(omega, float)))
    edge = log_bp[4]
    inside = a < edge * (1 - 1e-12)
    lo = np.where(inside, -0.4, np.interp(a, log_bp[4:], MIN_DB[4:], right=70.0))
    hi = np.where(a <= edge * (1 + 1e-12), np.interp(a, log_bp[:5], MAX_DB[:5]), np.inf)
    return lo, hi


def measured_response(fb, n):
    """Frequency response of every band as run by the C kernel: FFT of its impulse response."""
    imp = np.zeros(n, np.float32)
    if fb.config.zero_phase:  # non-causal: put the impulse in the middle, rotate back
        imp[n // 2] = 1.0
        h = np.roll(fb.analyze(imp).astype(np.float64), -(n // 2), axis=1)
    else:
        imp[0] = 1.0
        h = fb.analyze(imp).astype(np.float64)
    return np.fft.rfftfreq(n, 1 / fb.fs), np.fft.rfft(h, axis=1)


def design_attenuation_db(fb, band, f_hz):
    _, h = scipy.signal.sosfreqz(fb.sos[band], worN=f_hz, fs=fb.fs)
    passes = 2 if fb.config.zero_phase else 1
    with np.errstate(divide="ignore"):
        return -passes * 20 * np.log10(np.abs(h))


CASES = [(fs, b, zp) for fs in (44100, 48000) for b in (1, 3) for zp in (False, True)]


@pytest.mark.parametrize("fs, fraction, zero_phase", CASES)
@pytest.mark.slow
def test_measured_response_inside_class1_mask(fs, fraction, zero_phase):
    # The whole usable range: 10 Hz up to the highest band below Nyquist.
    fb = OctaveFilterbank(fs=fs, fraction=fraction, f_low_hz=10, zero_phase=zero_phase)
    f, h = measured_response(fb, 1 << 19)  # 10.9 s at 48 kHz: the 10 Hz band has decayed
    for i, fm in enumerate(fb.center_frequencies_hz):
        sel = (f > fm / G**4.5) & (f < fm * G**4.5) & (f > 0)
        att = -20 * np.log10(np.abs(h[i, sel]))
        # Relative attenuation: re the attenuation at the exact mid-band frequency.
        ref = design_attenuation_db(fb, i, [fm])[0]
        assert abs(ref) < 0.02, (fm, ref)
        lo, hi = class1_mask(f[sel] / fm, fraction)
        rel = att - ref
        bad = (rel < lo) | (rel > hi)
        assert not bad.any(), (
            f"band {fm:.1f} Hz outside the class 1 mask at {f[sel][bad][:5]} Hz: "
            f"{rel[bad][:5]} dB, limits {lo[bad][:5]}..{hi[bad][:5]}"
        )
        # The kernel runs the designed filter: measured == designed wherever the response is
        # above the float32 noise floor (every 16th bin keeps the test fast).
        sub = np.flatnonzero(sel)[::16]
        design = design_attenuation_db(fb, i, f[sub])
        meas = -20 * np.log10(np.abs(h[i, sub]))
        keep = design < 90
        np.testing.assert_allclose(meas[keep], design[keep], atol=0.05)


@pytest.mark.parametrize("fs, fraction, zero_phase", CASES)
def test_designed_response_at_the_exact_breakpoints(fs, fraction, zero_phase):
    fb = OctaveFilterbank(fs=fs, fraction=fraction, f_low_hz=10, zero_phase=zero_phase)
    bp = breakpoints(fraction)
    omega = np.concatenate([bp, 1 / bp[1:]])
    for i, fm in enumerate(fb.center_frequencies_hz):
        f = fm * omega
        f = f[f < fs / 2]
        rel = design_attenuation_db(fb, i, f) - design_attenuation_db(fb, i, [fm])[0]
        lo, hi = class1_mask(f / fm, fraction)
        assert np.all((rel >= lo) & (rel <= hi)), (fm, f, rel, lo, hi)


@pytest.mark.parametrize("fs, fraction, zero_phase", CASES)
def test_band_edges_are_3_db_down(fs, fraction, zero_phase):
    fb = OctaveFilterbank(fs=fs, fraction=fraction, zero_phase=zero_phase)
    lo, hi = fb.band_edges_hz
    for i in range(fb.n_bands):
        att = design_attenuation_db(fb, i, [lo[i], hi[i]])
        np.testing.assert_allclose(att, 10 * np.log10(2), atol=0.02)


def test_mid_band_frequencies_are_base_10_and_nominal_labels_follow_the_standard():
    fb = OctaveFilterbank(fs=48000, fraction=3, f_low_hz=25, f_high_hz=20000)
    # The nominal one-third-octave mid-band frequencies 25 Hz .. 20 kHz of IEC 61260-1:2014.
    nominal = [25, 31.5, 40, 50, 63, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630, 800,
               1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000, 6300, 8000, 10000, 12500,
               16000, 20000]
    np.testing.assert_array_equal(fb.nominal_frequencies_hz, nominal)
    x = np.arange(-16, 14)
    np.testing.assert_allclose(fb.center_frequencies_hz, 1000 * G ** (x / 3), rtol=1e-14)
    # Base 10: one-third-octave mid-bands are exactly 1000 * 10^(x/10).
    np.testing.assert_allclose(fb.center_frequencies_hz, 1000 * 10.0 ** (x / 10), rtol=1e-13)
    octave = OctaveFilterbank(fs=48000, fraction=1, f_low_hz=31.5, f_high_hz=16000)
    np.testing.assert_array_equal(
        octave.nominal_frequencies_hz, [31.5, 63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000]
    )


def test_default_top_band_follows_the_sample_rate():
    assert OctaveFilterbank(fs=48000, fraction=3).nominal_frequencies_hz[-1] == 20000
    assert OctaveFilterbank(fs=44100, fraction=3).nominal_frequencies_hz[-1] == 16000
    assert OctaveFilterbank(fs=44100, fraction=1).nominal_frequencies_hz[-1] == 8000
    assert OctaveFilterbank(fs=16000, fraction=3).nominal_frequencies_hz[-1] == 6300


@pytest.mark.parametrize("fs, fraction, zero_phase", CASES)
def test_band_powers_of_white_noise_sum_to_the_total(rng, fs, fraction, zero_phase):
    fb = OctaveFilterbank(fs=fs, fraction=fraction, zero_phase=zero_phase)
    x = rng.standard_normal(4 * fs).astype(np.float32)
    levels = fb.band_levels_db(x, reference=1.0)
    lo, hi = fb.band_edges_hz
    # White noise: the power between the outer band edges is its share of 0..fs/2.
    expected = np.mean(x.astype(np.float64) ** 2) * (hi[-1] - lo[0]) / (fs / 2)
    total = 10 * np.log10(np.sum(10 ** (levels / 10)) / expected)
    assert abs(total) < 0.3, total


def test_band_level_of_a_1_khz_tone_of_1_pa_is_94_db_spl():
    fs = 48000
    t = np.arange(2 * fs) / fs
    x = (np.sqrt(2) * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    for zp in (False, True):
        fb = OctaveFilterbank(fs=fs, fraction=3, zero_phase=zp)
        levels = fb.band_levels_db(x[fs // 2:] if zp else x)
        k = int(np.flatnonzero(fb.nominal_frequencies_hz == 1000)[0])
        # 20 log10(1 / 20e-6) = 93.98 dB SPL; the start-up transient costs < 0.02 dB here.
        assert abs(levels[k] - 93.979) < 0.03
        assert levels[k - 2] < 93.979 - 30 and levels[k + 2] < 93.979 - 30


def _numpy_bank(sos, x, zero_phase):
    x64 = np.asarray(x, np.float64)
    if not zero_phase:
        return np.stack([scipy.signal.sosfilt(s, x64) for s in sos])
    fwd = [scipy.signal.sosfilt(s, x64) for s in sos]
    return np.stack([scipy.signal.sosfilt(s, y[::-1])[::-1] for s, y in zip(sos, fwd, strict=True)])


@pytest.mark.parametrize("fraction, zero_phase", [(1, False), (3, False), (1, True), (3, True)])
def test_kernel_matches_numpy_reference(rng, fraction, zero_phase):
    fb = OctaveFilterbank(fs=48000, fraction=fraction, f_low_hz=20, zero_phase=zero_phase)
    x = rng.standard_normal(6000).astype(np.float32)
    y = fb.analyze(x)
    ref = _numpy_bank(fb.sos, x, zero_phase)
    assert y.dtype == np.float32 and y.shape == (fb.n_bands, x.size)
    np.testing.assert_allclose(y, ref, atol=2e-6 * np.abs(ref).max())


def test_zero_phase_bands_are_in_phase_with_a_tone_at_mid_band():
    fs = 48000
    fb = OctaveFilterbank(fs=fs, fraction=3, f_low_hz=100, f_high_hz=8000, zero_phase=True)
    t = np.arange(fs) / fs
    for i, fm in enumerate(fb.center_frequencies_hz[::4]):
        x = np.sin(2 * np.pi * fm * t).astype(np.float32)
        y = fb.analyze(x)[4 * i]
        mid = slice(fs // 4, 3 * fs // 4)
        # Zero phase and 0 dB at the exact mid-band frequency: the band IS the tone there.
        np.testing.assert_allclose(y[mid], x[mid], atol=3e-3)


def test_causal_analyze_block_split_equals_whole(rng):
    fb = OctaveFilterbank(fs=48000, fraction=3, f_low_hz=20)
    x = rng.standard_normal(5000).astype(np.float32)
    whole = fb.analyze(x)
    fb.reset()
    edges = np.cumsum(rng.integers(0, 200, size=60))
    edges = np.unique(np.concatenate([[0, 1, 2, 3], edges[edges < x.size], [x.size]]))
    parts = [fb.analyze(x[a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


def test_process_block_split_equals_whole_and_matches_analyze(rng):
    fb = OctaveFilterbank(fs=44100, fraction=1)
    x = rng.standard_normal((3, 4000)).astype(np.float32)
    whole = fb.process(x)
    assert whole.shape == (3, fb.n_bands, 4000)
    for c in range(3):
        one = OctaveFilterbank(fs=44100, fraction=1).analyze(x[c])
        np.testing.assert_array_equal(whole[c], one)
    fb.reset()
    edges = np.cumsum(rng.integers(0, 150, size=60))
    edges = np.unique(np.concatenate([[0, 1, 2], edges[edges < 4000], [4000]]))
    parts = [fb.process(x[:, a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    np.testing.assert_array_equal(np.concatenate(parts, axis=2), whole)


def test_one_d_block_and_empty_blocks():
    fb = OctaveFilterbank(fs=48000, fraction=1)
    assert fb.process(np.zeros(10, np.float32)).shape == (fb.n_bands, 10)
    fb.reset()
    assert fb.process(np.zeros((2, 0), np.float32)).shape == (2, fb.n_bands, 0)
    assert fb.analyze(np.zeros(0, np.float32)).shape == (fb.n_bands, 0)
    assert fb.analyze(np.ones(1, np.float32)).shape == (fb.n_bands, 1)
    assert fb.latency_samples == 0


def test_band_levels_leave_the_analyze_state_alone(rng):
    fb = OctaveFilterbank(fs=48000, fraction=1)
    x = rng.standard_normal(3000).astype(np.float32)
    first = fb.analyze(x[:1000])
    levels = fb.band_levels_db(x)
    np.testing.assert_array_equal(fb.band_levels_db(x), levels)
    rest = fb.analyze(x[1000:])
    np.testing.assert_array_equal(
        np.concatenate([first, rest], axis=1), OctaveFilterbank(fs=48000, fraction=1).analyze(x)
    )


def test_long_signal_levels_are_chunked_the_same(rng):
    fb = OctaveFilterbank(fs=48000, fraction=1)
    x = rng.standard_normal(100_000).astype(np.float32)  # > one 32768-sample chunk
    bands = OctaveFilterbank(fs=48000, fraction=1).analyze(x).astype(np.float64)
    expected = 10 * np.log10(np.mean(bands**2, axis=1) / 20e-6**2)
    np.testing.assert_allclose(fb.band_levels_db(x), expected, atol=1e-6)


def test_silence_has_minus_inf_level():
    fb = OctaveFilterbank(fs=48000, fraction=1)
    assert np.all(fb.band_levels_db(np.zeros(100, np.float32)) == -np.inf)


def test_zero_phase_refuses_streaming():
    fb = OctaveFilterbank(fs=48000, fraction=3, zero_phase=True)
    with pytest.raises(ConfigError, match="zero_phase"):
        fb.process(np.zeros((1, 10), np.float32))


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"fraction": 2}, "fraction"),
        ({"fraction": True}, "fraction"),
        ({"fraction": 3.0}, "fraction"),
        ({"f_low_hz": 5}, "f_low_hz"),
        ({"f_low_hz": 1000, "f_high_hz": 500}, "f_high_hz"),
        ({"f_high_hz": 25000}, "f_high_hz"),
        ({"fs": 44100, "f_high_hz": 20000}, "highest usable band at this fs is 16000 Hz"),
        ({"fs": 1000}, "fs"),
        ({"f_low_hz": 1100, "f_high_hz": 1200}, "no one-third-octave band"),
        ({"zero_phase": "yes"}, "zero_phase"),
        ({"f_low_hz": float("nan")}, "f_low_hz"),
    ],
)
def test_bad_config_names_the_parameter(kwargs, words):
    with pytest.raises(ConfigError, match=words):
        OctaveFilterbank(**kwargs)


@pytest.mark.parametrize(
    "bad, exc, words",
    [
        (np.zeros((2, 8), np.float32), SignalError, "1-D"),
        (np.zeros((2, 3, 4), np.float32), SignalError, "1-D"),
        (np.zeros(8, np.int16), SignalTypeError, "dtype"),
        (np.zeros(8, np.complex64), SignalTypeError, "dtype"),
        (np.array([0.0, np.nan], np.float32), SignalError, "NaN"),
        (np.array([np.inf], np.float32), SignalError, "NaN"),
        ("not audio", SignalTypeError, "numpy array"),
    ],
)
def test_hostile_analyze_input_names_the_problem(bad, exc, words):
    for zp in (False, True):
        with pytest.raises(exc, match=words):
            OctaveFilterbank(fs=48000, fraction=1, zero_phase=zp).analyze(bad)


@pytest.mark.parametrize(
    "bad, exc, words",
    [
        (np.zeros((2, 3, 4), np.float32), SignalError, "shape"),
        (np.zeros((1, 8), np.int32), SignalTypeError, "dtype"),
        (np.full((1, 4), np.nan, np.float32), SignalError, "NaN"),
    ],
)
def test_hostile_process_input_names_the_problem(bad, exc, words):
    with pytest.raises(exc, match=words):
        OctaveFilterbank(fs=48000, fraction=1).process(bad)


def test_bad_out_and_reference_are_refused():
    fb = OctaveFilterbank(fs=48000, fraction=1)
    x = np.zeros(16, np.float32)
    with pytest.raises(TypeError, match="float32"):
        fb.analyze(x, out=np.zeros((fb.n_bands, 16)))
    with pytest.raises(SignalError, match="shape"):
        fb.analyze(x, out=np.zeros((fb.n_bands, 15), np.float32))
    with pytest.raises(SignalError, match="contiguous"):
        fb.analyze(x, out=np.zeros((fb.n_bands, 32), np.float32)[:, ::2])
    with pytest.raises(ConfigError, match="reference"):
        fb.band_levels_db(x, reference=0.0)
    with pytest.raises(SignalError, match="at least one sample"):
        fb.band_levels_db(np.zeros(0, np.float32))


def test_non_contiguous_and_float64_input_is_accepted(rng):
    x = rng.standard_normal(2000)
    fb = OctaveFilterbank(fs=48000, fraction=1)
    y = fb.analyze(x[::2])
    ref = _numpy_bank(fb.sos, x[::2].astype(np.float32), False)
    np.testing.assert_allclose(y, ref, atol=2e-6 * np.abs(ref).max())


@given(
    x=hnp.arrays(
        np.float32,
        st.integers(1, 300),
        elements=st.floats(-(2.0**60), 2.0**60, width=32, allow_subnormal=True),
    ),
    zero_phase=st.booleans(),
)
def test_hypothesis_finite_input_matches_reference(x, zero_phase):
    fb = OctaveFilterbank(fs=48000, fraction=1, f_low_hz=1000, f_high_hz=4000,
                          zero_phase=zero_phase)
    y = fb.analyze(x)
    ref = _numpy_bank(fb.sos, x, zero_phase)
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-30 + 1e-5 * np.abs(ref).max(initial=0))
