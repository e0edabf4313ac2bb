"""The one resampler: exact ratios, lengths, dtype; a tone keeps its frequency and level."""

import numpy as np
import pytest

from audiolab import ConfigError
from audiolab.dsp import resample, resample_ratio


@pytest.mark.parametrize(
    ("fs_in", "fs_out", "ratio"),
    [(44100, 48000, (160, 147)), (48000, 16000, (1, 3)), (22050, 44100, (2, 1)),
     (16000, 24000, (3, 2))],
)
def test_ratio_is_exact_and_in_lowest_terms(fs_in, fs_out, ratio):
    assert resample_ratio(fs_in, fs_out) == ratio


def test_rates_without_a_simple_ratio_are_refused():
    with pytest.raises(ConfigError, match="no simple ratio"):
        resample_ratio(44100, 44123.7)
    with pytest.raises(ConfigError, match="> 0"):
        resample_ratio(0, 48000)


def test_tone_keeps_its_frequency_and_level():
    fs_in, fs_out, f_hz = 44100, 48000, 997.0
    x = np.sin(2 * np.pi * f_hz * np.arange(fs_in) / fs_in).astype(np.float32)
    y = resample(x, fs_in=fs_in, fs_out=fs_out)
    assert y.dtype == np.float32 and y.shape == (fs_out,)
    expected = np.sin(2 * np.pi * f_hz * np.arange(fs_out) / fs_out)
    middle = slice(1000, fs_out - 1000)  # away from the filter's edge transients
    assert np.max(np.abs(y[middle] - expected[middle])) < 2e-3


def test_channels_lengths_and_identity():
    x = np.ones((2, 441))
    assert resample(x, fs_in=44100, fs_out=48000).shape == (2, 480)
    assert resample(x, fs_in=44100, fs_out=48000, n_out=500).shape == (2, 500)
    assert resample(x, fs_in=44100, fs_out=48000, n_out=470).shape == (2, 470)
    same = resample(x, fs_in=48000, fs_out=48000)
    assert same.dtype == np.float64 and np.array_equal(same, x)
