"""SOS cascade: C kernel vs scipy's sosfilt (float64 reference), streaming, hostile input."""

import numpy as np
import pytest
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from audiolab import ConfigError, SignalError, SignalTypeError
from audiolab.dsp import SOSConfig, SOSFilter, sosfilt

FS = 48000


def _reference(sos, x):
    return scipy.signal.sosfilt(sos, x.astype(np.float64), axis=-1)


@pytest.mark.parametrize("order,fc", [(2, 100.0), (4, 1000.0), (8, 8000.0)])
@pytest.mark.usefixtures("cpu_path")
def test_matches_scipy(rng, order, fc):
    sos = scipy.signal.butter(order, fc, fs=FS, output="sos")
    x = rng.standard_normal((3, 4800)).astype(np.float32)
    y = sosfilt(sos, x, fs=FS)
    ref = _reference(sos, x)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, ref, atol=2e-5 * np.abs(ref).max())


@pytest.mark.usefixtures("cpu_path")
def test_block_split_equals_whole(rng):
    sos = scipy.signal.cheby1(6, 0.5, [300, 3000], btype="band", fs=FS, output="sos")
    x = rng.standard_normal((2, 5000)).astype(np.float32)
    whole = sosfilt(sos, x, fs=FS)
    f = SOSFilter(SOSConfig(sos=sos, fs=FS))
    edges = np.cumsum(rng.integers(0, 300, size=100))
    edges = np.unique(np.concatenate([[0, 1, 2], edges[edges < x.shape[1]], [x.shape[1]]]))
    parts = [f.process(x[:, a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


def test_reset_returns_to_rest(rng):
    sos = scipy.signal.butter(4, 500, fs=FS, output="sos")
    x = rng.standard_normal(2000).astype(np.float32)
    f = SOSFilter(SOSConfig(sos=sos, fs=FS))
    first = f.process(x)
    f.reset()
    np.testing.assert_array_equal(f.process(x), first)


def test_one_d_in_one_d_out():
    sos = scipy.signal.butter(2, 500, fs=FS, output="sos")
    y = SOSFilter(SOSConfig(sos=sos, fs=FS)).process(np.zeros(10, np.float32))
    assert y.shape == (10,)


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
    f = SOSFilter(SOSConfig(sos=scipy.signal.butter(2, 500, fs=FS, output="sos"), fs=FS))
    with pytest.raises(exc, match=words):
        f.process(bad)


def test_empty_and_non_contiguous_are_handled(rng):
    sos = scipy.signal.butter(2, 500, fs=FS, output="sos")
    f = SOSFilter(SOSConfig(sos=sos, fs=FS))
    assert f.process(np.zeros((1, 0), np.float32)).shape == (1, 0)
    x = rng.standard_normal((2, 400)).astype(np.float32)
    y = SOSFilter(SOSConfig(sos=sos, fs=FS)).process(x[:, ::2])
    np.testing.assert_allclose(y, _reference(sos, x[:, ::2]), atol=1e-5)


def test_channel_count_change_needs_reset():
    f = SOSFilter(SOSConfig(sos=scipy.signal.butter(2, 500, fs=FS, output="sos"), fs=FS))
    f.process(np.zeros((2, 4), np.float32))
    with pytest.raises(SignalError, match="reset"):
        f.process(np.zeros((1, 4), np.float32))


@pytest.mark.parametrize(
    "sos, words",
    [
        (np.zeros((2, 5)), "shape"),
        ([[1, 0, 0, 0, 0, 0]], "a0"),
        ([[np.nan, 0, 0, 1, 0, 0]], "finite"),
    ],
)
def test_bad_config(sos, words):
    with pytest.raises(ConfigError, match=words):
        SOSConfig(sos=sos, fs=FS)


@given(
    x=hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=64),
        elements=st.floats(-(2.0**60), 2.0**60, width=32, allow_subnormal=True),
    )
)
def test_hypothesis_finite_input_gives_finite_or_clear_error(x):
    sos = scipy.signal.butter(2, 1000, fs=FS, output="sos")
    y = SOSFilter(SOSConfig(sos=sos, fs=FS)).process(x)
    ref = _reference(sos, x)
    # float32 output saturates to inf only where the float64 reference exceeds float32's range
    finite = np.abs(ref) < 3e38
    atol = 1e-30 + 1e-5 * np.abs(ref[finite]).max(initial=0)
    np.testing.assert_allclose(y[finite], ref[finite], rtol=1e-4, atol=atol)


@pytest.mark.parametrize("n_channels", [1, 2, 5])
@pytest.mark.usefixtures("cpu_path")
def test_long_cascade_many_channels_matches_scipy(rng, n_channels):
    # 11 sections: more than one vector of lanes (2, 4 or 8 by CPU path), with idle lanes in the
    # last group; odd channel counts leave one channel outside the pairs the kernel interleaves.
    sos = scipy.signal.butter(11, [200.0, 4000.0], btype="band", fs=FS, output="sos")
    x = rng.standard_normal((n_channels, 3000)).astype(np.float32)
    ref = _reference(sos, x)
    y = sosfilt(sos, x, fs=FS)
    np.testing.assert_allclose(y, ref, atol=2e-5 * np.abs(ref).max())


def test_each_channel_is_filtered_as_if_alone(rng):
    # Channels run two at a time through the skewed pipeline; a channel's samples must not
    # depend on its neighbour, bit for bit.
    sos = scipy.signal.cheby1(8, 0.5, [300, 3000], btype="band", fs=FS, output="sos")
    x = rng.standard_normal((3, 1500)).astype(np.float32)
    together = sosfilt(sos, x, fs=FS)
    for c in range(3):
        np.testing.assert_array_equal(sosfilt(sos, x[c : c + 1], fs=FS)[0], together[c])


@pytest.mark.usefixtures("cpu_path")
def test_blocks_shorter_than_the_pipeline_equal_whole(rng):
    # Blocks of 1..9 samples are shorter than the pipeline's fill (lanes - 1 steps).
    sos = scipy.signal.butter(9, [100.0, 9000.0], btype="band", fs=FS, output="sos")
    x = rng.standard_normal((2, 700)).astype(np.float32)
    whole = sosfilt(sos, x, fs=FS)
    f = SOSFilter(SOSConfig(sos=sos, fs=FS))
    sizes = np.tile(np.arange(1, 10), 20)
    edges = np.concatenate([[0], np.cumsum(sizes)])
    edges = np.concatenate([edges[edges < x.shape[1]], [x.shape[1]]])
    parts = [f.process(x[:, a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)
