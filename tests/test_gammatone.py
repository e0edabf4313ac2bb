"""Hohmann (2002) gammatone filterbank: C kernels vs a NumPy reference, and the published
reconstruction behaviour (REFERENCE.md: IR peak at the target delay; ripple over 1-6 kHz
~0.9 dB at 1 band/ERB and ~0.04 dB at 2 bands/ERB on an independent implementation)."""

import numpy as np
import pytest
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from audiolab import ConfigError, SignalError, SignalTypeError
from audiolab.dsp import GammatoneFilterbank, erb_bandwidth_hz, erb_number, erb_space_hz

FS = 48000


def reference_analysis(fb, x):
    """Slow float64 reference: each band is 4 cascaded complex one-pole filters (Hohmann 2002)."""
    d = fb.design
    out = np.empty((fb.n_bands, x.size), np.complex128)
    for b, (coef, norm) in enumerate(zip(d.coefficients, d.normalization, strict=True)):
        y = x.astype(np.complex128) * norm
        for _ in range(4):
            y = scipy.signal.lfilter([1.0], [1.0, -coef], y)
        out[b] = y
    return out


def reference_synthesis(fb, bands):
    """Delay each band, take Re(weight * band) and sum (Section 4 of Hohmann 2002)."""
    d = fb.design
    y = np.zeros(bands.shape[1])
    for b in range(fb.n_bands):
        r = (d.weights[b] * bands[b]).real
        k = int(d.band_delays_samples[b])
        y[k:] += r[: bands.shape[1] - k]
    return y


def test_erb_scale_published_values():
    # Glasberg & Moore (1990): ERB_N(1 kHz) = 24.7 * 5.37 = 132.639 Hz; E(1 kHz) = 21.4 log10(5.37).
    assert erb_bandwidth_hz(1000.0) == pytest.approx(132.639)
    assert erb_number(1000.0) == pytest.approx(15.6214, abs=1e-4)


def test_thirty_bands_from_100_to_8000_hz_anchored_at_1_khz():
    fc = erb_space_hz(100, 8000, bands_per_erb=1.0)
    assert fc.size == 30
    assert np.any(np.isclose(fc, 1000.0))
    assert fc[0] >= 100 and fc[-1] <= 8000
    np.testing.assert_allclose(np.diff(erb_number(fc)), 1.0)


def test_equivalent_rectangular_bandwidth_equals_erb():
    # Hohmann (2002) Eq. (14): b = ERB / a_gamma (= 1.019 ERB for order 4) makes the filter's
    # equivalent rectangular bandwidth equal to ERB_N(fc) of Glasberg & Moore (1990).
    fb = GammatoneFilterbank(fs=FS, f_low_hz=900, f_high_hz=1100)
    k = int(np.argmin(np.abs(fb.center_frequencies_hz - 1000)))
    x = np.zeros(1 << 15, np.float32)
    x[0] = 1
    h = fb.analyze(x)[k].astype(np.complex128)
    power = np.abs(np.fft.fft(h)) ** 2
    erb_measured = power.sum() * (FS / h.size) / power.max()
    assert erb_measured == pytest.approx(erb_bandwidth_hz(1000.0), rel=0.005)


@pytest.mark.usefixtures("cpu_path")
def test_analysis_matches_numpy_reference(rng):
    fb = GammatoneFilterbank(fs=FS, f_low_hz=70, f_high_hz=6700)
    x = rng.standard_normal(3000).astype(np.float32)
    bands = fb.analyze(x)
    ref = reference_analysis(fb, x)
    assert bands.dtype == np.complex64 and bands.shape == ref.shape
    np.testing.assert_allclose(bands, ref, atol=2e-5 * np.abs(ref).max())


@pytest.mark.usefixtures("cpu_path")
def test_synthesis_matches_numpy_reference(rng):
    fb = GammatoneFilterbank(fs=FS, f_low_hz=70, f_high_hz=6700)
    x = rng.standard_normal(2000).astype(np.float32)
    bands = reference_analysis(fb, x)
    y = fb.synthesize(bands.astype(np.complex64))
    ref = reference_synthesis(fb, bands)
    np.testing.assert_allclose(y, ref, atol=2e-5 * np.abs(ref).max())


@pytest.mark.usefixtures("cpu_path")
def test_process_equals_analyze_then_synthesize(rng):
    x = rng.standard_normal(3000).astype(np.float32)
    a = GammatoneFilterbank(fs=FS)
    b = GammatoneFilterbank(fs=FS)
    np.testing.assert_allclose(a.process(x), b.synthesize(b.analyze(x)), atol=1e-6)


@pytest.mark.parametrize("bands_per_erb, max_ripple_db", [(1.0, 1.0), (2.0, 0.15)])
def test_reconstruction_ripple_and_delay(bands_per_erb, max_ripple_db):
    fb = GammatoneFilterbank(
        fs=FS, f_low_hz=70, f_high_hz=6700, bands_per_erb=bands_per_erb, delay_ms=4.0
    )
    x = np.zeros(1 << 14, np.float32)
    x[0] = 1.0
    y = fb.process(x)
    assert fb.latency_samples == 192
    assert abs(int(np.argmax(np.abs(y))) - 192) <= 1
    spec_db = 20 * np.log10(np.abs(np.fft.rfft(y.astype(np.float64), 1 << 16)))
    f = np.fft.rfftfreq(1 << 16, 1 / FS)
    band = (f >= 1000) & (f <= 6000)
    ripple = spec_db[band].max() - spec_db[band].min()
    assert ripple <= max_ripple_db
    assert abs(np.mean(spec_db[band])) < 0.5  # unity gain in the pass band


@pytest.mark.parametrize("fs", [16000, 22050, 44100, 48000, 96000])
def test_works_at_common_rates(fs):
    fb = GammatoneFilterbank(fs=fs, f_low_hz=100, f_high_hz=min(8000, 0.4 * fs), delay_ms=4)
    x = np.zeros(fs // 4, np.float32)
    x[0] = 1
    y = fb.process(x)
    assert abs(int(np.argmax(np.abs(y))) - fb.latency_samples) <= 1


@pytest.mark.usefixtures("cpu_path")
def test_block_split_equals_whole(rng):
    x = rng.standard_normal((2, 4000)).astype(np.float32)
    whole = GammatoneFilterbank(fs=FS).process(x)
    fb = GammatoneFilterbank(fs=FS)
    sizes = np.concatenate([[1, 1, 2], rng.integers(0, 200, size=60)])
    edges = np.unique(np.clip(np.concatenate([[0], np.cumsum(sizes), [x.shape[1]]]), 0, x.shape[1]))
    parts = [fb.process(x[:, a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)
    # The one-channel analysis path too.
    fa = GammatoneFilterbank(fs=FS)
    whole_bands = GammatoneFilterbank(fs=FS).analyze(x[0])
    pairs = zip(edges[:-1], edges[1:], strict=True)
    split = np.concatenate([fa.analyze(x[0, a:b]) for a, b in pairs], axis=1)
    np.testing.assert_array_equal(split, whole_bands)


def test_reset_and_out_argument(rng):
    fb = GammatoneFilterbank(fs=FS)
    x = rng.standard_normal(500).astype(np.float32)
    first = fb.analyze(x)
    fb.reset()
    out = np.empty_like(first)
    assert fb.analyze(x, out=out) is out
    np.testing.assert_array_equal(out, first)


def test_silent_tail_has_no_denormals():
    # After an impulse the states decay towards zero; with flush-to-zero they reach exactly 0
    # instead of lingering in the (slow) denormal range.
    fb = GammatoneFilterbank(fs=FS)
    x = np.zeros(48000 * 5, np.float32)
    x[0] = 1.0
    bands = fb.analyze(x)
    tail = bands[:, -1000:]
    tiny = np.abs(tail.view(np.float32))
    assert not np.any((tiny > 0) & (tiny < np.finfo(np.float32).tiny))


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"fs": 1000}, "fs"),
        ({"f_low_hz": -5}, "f_low_hz"),
        ({"f_high_hz": 30000}, "f_high_hz"),
        ({"f_low_hz": 5000, "f_high_hz": 1000}, "f_high_hz"),
        ({"bands_per_erb": 0}, "bands_per_erb"),
        ({"delay_ms": float("nan")}, "delay_ms"),
        ({"delay_ms": "4"}, "delay_ms"),
    ],
)
def test_bad_config_names_the_parameter(kwargs, words):
    with pytest.raises(ConfigError, match=words):
        GammatoneFilterbank(**kwargs)


@pytest.mark.parametrize(
    "call, bad, exc, words",
    [
        ("analyze", np.zeros((2, 5), np.float32), SignalError, "1-D"),
        ("analyze", np.zeros(5, np.int32), SignalTypeError, "dtype"),
        ("analyze", np.array([np.nan], np.float32), SignalError, "NaN"),
        ("process", np.zeros((1, 2, 3), np.float32), SignalError, "shape"),
        ("process", np.array([[np.inf, 0]], np.float32), SignalError, "NaN"),
        ("synthesize", np.zeros((3, 5), np.complex64), SignalError, "shape"),
        ("synthesize", np.zeros((30, 5), np.float32), TypeError, "complex"),
    ],
)
def test_hostile_input(call, bad, exc, words):
    fb = GammatoneFilterbank(fs=FS, f_low_hz=100, f_high_hz=8000)
    with pytest.raises(exc, match=words):
        getattr(fb, call)(bad)


def test_out_must_match():
    fb = GammatoneFilterbank(fs=FS)
    x = np.zeros(10, np.float32)
    with pytest.raises(TypeError, match="complex64"):
        fb.analyze(x, out=np.zeros((fb.n_bands, 10), np.complex128))
    with pytest.raises(SignalError, match="shape"):
        fb.analyze(x, out=np.zeros((fb.n_bands, 11), np.complex64))
    with pytest.raises(SignalError, match="contiguous"):
        fb.analyze(x, out=np.zeros((fb.n_bands, 20), np.complex64)[:, ::2])


def test_empty_and_single_sample():
    fb = GammatoneFilterbank(fs=FS)
    assert fb.analyze(np.zeros(0, np.float32)).shape == (fb.n_bands, 0)
    assert fb.process(np.zeros((2, 0), np.float32)).shape == (2, 0)
    assert GammatoneFilterbank(fs=FS).process(np.ones(1, np.float32)).shape == (1,)


@given(
    x=hnp.arrays(
        np.float32,
        st.integers(0, 300),
        elements=st.floats(-(2.0**40), 2.0**40, width=32, allow_subnormal=True),
    )
)
def test_hypothesis_kernel_matches_reference(x):
    fb = GammatoneFilterbank(fs=FS, f_low_hz=200, f_high_hz=4000)
    bands = fb.analyze(x)
    ref = reference_analysis(fb, x)
    scale = max(np.abs(ref).max(initial=0.0), 1e-30)
    # Plus an absolute floor: the kernel flushes denormal states to zero (FTZ), so inputs near
    # float32's smallest normals lose what the float64 reference keeps (~1e-35).
    np.testing.assert_allclose(bands, ref, atol=2e-5 * scale + 1e-30)
    assert np.isfinite(fb.synthesize(bands)).all()


@pytest.mark.usefixtures("cpu_path")
def test_process_block_path_equals_sample_by_sample(rng):
    # The kernel runs blocks of up to 64 samples; one-sample calls take the same path with
    # blocks of one, whose ring sums follow the per-sample order. Both must agree bit for bit,
    # over a block boundary and a ring wrap (ring of 256 samples).
    x = rng.standard_normal((2, 700)).astype(np.float32)
    a = GammatoneFilterbank(fs=48000, f_low_hz=100, f_high_hz=8000)
    b = GammatoneFilterbank(fs=48000, f_low_hz=100, f_high_hz=8000)
    whole = a.process(x)
    per_sample = np.concatenate([b.process(x[:, j : j + 1]) for j in range(x.shape[1])], axis=1)
    np.testing.assert_array_equal(per_sample, whole)
