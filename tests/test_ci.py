"""Cochlear-implant vocoder: Greenwood map, band layout, C vs NumPy reference, streaming,
determinism, level tracking, sine-carrier spectra, current spread, chain tables, hostile input."""

import hashlib
import math
import subprocess
import sys
import tomllib

import numpy as np
import pytest
import scipy.signal
import tomli_w
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from audiolab import ConfigError, SignalError, SignalTypeError
from audiolab._ckernel import ffi, float_buffer
from audiolab.models import CochlearImplantSimulator, greenwood_frequency_hz, greenwood_place

FS = 16000

# --- NumPy reference of csrc/ci.c ------------------------------------------------------------

_U = np.uint64
# A full-wave rectified sine of amplitude A has mean 2 A / pi and the sine has RMS A / sqrt(2):
# this factor turns the low-passed rectified band into the band's RMS (Shannon et al. 1995
# extract the envelope by rectification and low-pass filtering).
ENVELOPE_GAIN = math.pi / (2.0 * math.sqrt(2.0))


def _mix(z: np.ndarray) -> np.ndarray:
    # splitmix64 output mix (Steele, Lea & Flood 2014), wrapping uint64 arithmetic.
    z = (z ^ (z >> _U(30))) * _U(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U(27))) * _U(0x94D049BB133111EB)
    return z ^ (z >> _U(31))


def _reference_noise(seed: int, channel: int, band: int, n: int) -> np.ndarray:
    stream = np.array([channel * 64 + band + 1], np.uint64)
    key = _mix(np.array([seed], np.uint64) + stream * _U(0xD1B54A32D192ED03))
    h = _mix(key + np.arange(n, dtype=np.uint64) * _U(0x9E3779B97F4A7C15))
    return (((h >> _U(40)).astype(np.float64) + 0.5) / 2.0**24 - 0.5) * math.sqrt(12.0)


def _reference(ci: CochlearImplantSimulator, x: np.ndarray) -> np.ndarray:
    """The vocoder in float64 with scipy filters, per channel and band, no streaming."""
    d, cfg = ci.design, ci.config
    x = np.where(np.isfinite(x), x, 0.0).astype(np.float64)
    out = np.zeros_like(x)
    n = x.shape[1]
    for c in range(x.shape[0]):
        env = np.array([scipy.signal.sosfilt(d.envelope_sos,
                                             np.abs(scipy.signal.sosfilt(sos, x[c])))
                        for sos in d.analysis_sos])
        env = np.maximum(env, 0.0) * ENVELOPE_GAIN
        if d.spread is not None:
            env = d.spread @ env
        for b in range(cfg.n_bands):
            if cfg.carrier == "noise":
                carrier = scipy.signal.sosfilt(
                    d.synthesis_sos[b], env[b] * _reference_noise(cfg.seed, c, b, n))
            else:
                carrier = env[b] * np.sin(2 * np.pi * d.carrier_frequencies_hz[b] / ci.fs
                                          * np.arange(n))
            out[c] += d.carrier_gain[b] * carrier
    return out


def _splits(rng, n):
    edges = np.cumsum(rng.integers(0, 400, size=n // 50 + 10))
    return np.unique(np.concatenate([[0, 1, 2, 3], edges[edges < n], [n]]))


# --- Greenwood map and band layout -----------------------------------------------------------

def test_greenwood_map_reference_values():
    # Greenwood (1990), J. Acoust. Soc. Am. 87:2592, human: F = 165.4 (10^(2.1 x) - 0.88).
    # Apex: 165.4 * 0.12 = 19.85 Hz; base: 165.4 * (10^2.1 - 0.88) = 20 677 Hz; middle:
    # 165.4 * (10^1.05 - 0.88) = 1710.2 Hz.
    f = greenwood_frequency_hz([0.0, 0.5, 1.0])
    np.testing.assert_allclose(f, [19.848, 1710.2, 20677.0], rtol=2e-4)
    x = np.linspace(0, 1, 11)
    np.testing.assert_allclose(greenwood_place(greenwood_frequency_hz(x)), x, atol=1e-12)


@pytest.mark.parametrize("n_bands", [1, 4, 8, 16, 22])
def test_band_edges_equal_steps_in_place(n_bands):
    ci = CochlearImplantSimulator(fs=FS, n_bands=n_bands, f_low_hz=250, f_high_hz=6000)
    d = ci.design
    assert d.analysis_edges_hz.shape == (n_bands + 1,)
    assert d.analysis_edges_hz[0] == 250 and d.analysis_edges_hz[-1] == 6000
    steps = np.diff(greenwood_place(d.analysis_edges_hz))
    np.testing.assert_allclose(steps, steps[0], rtol=1e-9)
    np.testing.assert_array_equal(d.synthesis_edges_hz, d.analysis_edges_hz)
    assert np.all((d.carrier_frequencies_hz > d.synthesis_edges_hz[:-1])
                  & (d.carrier_frequencies_hz < d.synthesis_edges_hz[1:]))
    assert d.analysis_sos.shape[:1] == (n_bands,)


def test_default_upper_edge_follows_the_rate():
    assert CochlearImplantSimulator(fs=16000).design.analysis_edges_hz[-1] == 7000
    assert CochlearImplantSimulator(fs=8000).design.analysis_edges_hz[-1] == 3600
    assert "f_high_hz" not in CochlearImplantSimulator(fs=8000).to_chain_table()


def test_insertion_depth_shifts_bands_basally():
    length = 35.0
    matched_depth = length * (1 - greenwood_place(200.0))  # depth of the 200 Hz place: 29.7 mm
    ci = CochlearImplantSimulator(fs=48000, n_bands=8, f_low_hz=200, f_high_hz=7000,
                                  insertion_depth_mm=float(matched_depth) - 4.0)
    d = ci.design
    shift = greenwood_place(d.synthesis_edges_hz) - greenwood_place(d.analysis_edges_hz)
    np.testing.assert_allclose(shift * length, 4.0, atol=1e-9)
    assert np.all(d.synthesis_edges_hz > d.analysis_edges_hz)
    # Electrode depths step evenly from the insertion depth towards the base.
    np.testing.assert_allclose(np.diff(d.electrode_depths_mm),
                               d.electrode_depths_mm[1] - d.electrode_depths_mm[0])
    assert d.electrode_depths_mm[0] < matched_depth - 4.0
    # The matched depth reproduces the analysis bands.
    same = CochlearImplantSimulator(fs=48000, insertion_depth_mm=float(matched_depth)).design
    np.testing.assert_allclose(same.synthesis_edges_hz, same.analysis_edges_hz, rtol=1e-9)


def test_electrode_span_compresses_the_array():
    d = CochlearImplantSimulator(fs=48000, n_bands=6, insertion_depth_mm=24.0,
                                 electrode_span_mm=15.0).design
    places_mm = 35.0 * greenwood_place(d.synthesis_edges_hz)
    np.testing.assert_allclose([places_mm[0], places_mm[-1]], [35.0 - 24.0, 35.0 - 9.0])


# --- C kernel against the NumPy reference ----------------------------------------------------

@pytest.mark.parametrize(
    "kwargs",
    [
        {"carrier": "noise", "n_bands": 8, "seed": 7},
        {"carrier": "sine", "n_bands": 12},
        {"carrier": "noise", "n_bands": 4, "spread_db_per_mm": 1.5, "envelope_cutoff_hz": 50},
        {"carrier": "sine", "n_bands": 22, "spread_db_per_mm": 4.0, "envelope_cutoff_hz": 300},
        {"carrier": "noise", "n_bands": 6, "insertion_depth_mm": 25.0, "electrode_span_mm": 14.0},
    ],
)
@pytest.mark.usefixtures("cpu_path")
def test_matches_numpy_reference(rng, kwargs):
    ci = CochlearImplantSimulator(fs=FS, **kwargs)
    x = (0.3 * rng.standard_normal((2, 6000))).astype(np.float32)
    y = ci.process(x)
    ref = _reference(ci, x)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, ref, atol=2e-5 * np.abs(ref).max())


@pytest.mark.parametrize("carrier", ["noise", "sine"])
@pytest.mark.usefixtures("cpu_path")
def test_block_split_equals_whole(rng, carrier):
    kwargs = {"fs": FS, "n_bands": 8, "carrier": carrier, "spread_db_per_mm": 2.0, "seed": 3}
    x = rng.standard_normal((2, 9000)).astype(np.float32)
    whole = CochlearImplantSimulator(**kwargs).process(x)
    ci = CochlearImplantSimulator(**kwargs)
    edges = _splits(rng, x.shape[1])
    parts = [ci.process(x[:, a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


def test_sine_rotator_stays_on_the_unit_circle_over_long_runs(rng):
    # Past many renormalisation points (every 4096 samples) the C rotator still matches sin().
    ci = CochlearImplantSimulator(fs=FS, n_bands=4, carrier="sine")
    x = (0.1 * rng.standard_normal((1, 5 * FS))).astype(np.float32)
    ref = _reference(ci, x)
    np.testing.assert_allclose(ci.process(x), ref, atol=2e-5 * np.abs(ref).max())


def test_c_stage_runs_the_same_kernel(rng):
    kwargs = {"fs": FS, "n_bands": 6, "carrier": "noise", "seed": 11}
    x = rng.standard_normal((2, 3000)).astype(np.float32)
    expected = CochlearImplantSimulator(**kwargs).process(x)
    ci = CochlearImplantSimulator(**kwargs)
    fn, state = ci.c_stage(2)
    y = x.copy()
    for a, b in ((0, 1), (1, 700), (700, 3000)):
        block = np.ascontiguousarray(y[:, a:b])
        assert fn(state, float_buffer(block, "block"), 2, b - a) == 0
        y[:, a:b] = block
    np.testing.assert_array_equal(y, expected)
    # A state for 2 channels refuses a 3-channel call (AL_ERR_STATE).
    z = np.zeros((3, 10), np.float32)
    assert fn(state, float_buffer(z, "block"), 3, 10) == 5
    assert fn(state, ffi.NULL, 2, 10) == 1


def test_c_stage_takes_nonfinite_samples_as_zero(rng):
    ci = CochlearImplantSimulator(fs=FS, n_bands=4, carrier="sine")
    fn, state = ci.c_stage(1)
    x = (0.1 * rng.standard_normal((1, 500))).astype(np.float32)
    x[0, [10, 200, 201]] = [np.nan, np.inf, -np.inf]
    y = x.copy()
    assert fn(state, float_buffer(y, "block"), 1, 500) == 0
    assert np.isfinite(y).all()
    clean = np.where(np.isfinite(x), x, 0).astype(np.float32)
    np.testing.assert_array_equal(y, CochlearImplantSimulator(fs=FS, n_bands=4,
                                                              carrier="sine").process(clean))


# --- determinism -----------------------------------------------------------------------------

def test_noise_is_fixed_by_the_seed(rng):
    x = rng.standard_normal((2, 4000)).astype(np.float32)
    a = CochlearImplantSimulator(fs=FS, seed=5).process(x)
    np.testing.assert_array_equal(a, CochlearImplantSimulator(fs=FS, seed=5).process(x))
    b = CochlearImplantSimulator(fs=FS, seed=6).process(x)
    assert np.abs(a - b).max() > 0.1 * np.abs(a).max()
    # Each ear has its own carriers: identical input channels give different outputs.
    same = np.repeat(x[:1], 2, axis=0)
    y = CochlearImplantSimulator(fs=FS, seed=5).process(same)
    assert np.abs(np.corrcoef(y)[0, 1]) < 0.3
    # Sine carriers do not use the seed.
    np.testing.assert_array_equal(
        CochlearImplantSimulator(fs=FS, carrier="sine", seed=1).process(x),
        CochlearImplantSimulator(fs=FS, carrier="sine", seed=2).process(x))


@pytest.mark.slow
def test_output_is_the_same_in_another_process(rng):
    # No hidden global state: a fresh interpreter (as a Dask worker would be) gives the same bytes.
    code = (
        "import numpy as np, hashlib\n"
        "from audiolab.models import CochlearImplantSimulator\n"
        "x = np.random.default_rng(1).standard_normal((2, 5000)).astype(np.float32)\n"
        "y = CochlearImplantSimulator(fs=16000, n_bands=12, seed=42,"
        " spread_db_per_mm=3.0).process(x)\n"
        "print(hashlib.sha256(y.tobytes()).hexdigest())\n"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()
    x = np.random.default_rng(1).standard_normal((2, 5000)).astype(np.float32)
    y = CochlearImplantSimulator(fs=16000, n_bands=12, seed=42, spread_db_per_mm=3.0).process(x)
    assert hashlib.sha256(y.tobytes()).hexdigest() == other


def test_reset_returns_to_rest(rng):
    x = rng.standard_normal(3000).astype(np.float32)
    ci = CochlearImplantSimulator(fs=FS, seed=2, spread_db_per_mm=3.0)
    first = ci.process(x)
    ci.process(x)
    ci.reset()
    np.testing.assert_array_equal(ci.process(x), first)


# --- behaviour -------------------------------------------------------------------------------

def _band_levels_db(x: np.ndarray, sos_bands: np.ndarray) -> np.ndarray:
    return np.array([10 * np.log10(np.mean(scipy.signal.sosfilt(s, x) ** 2)) for s in sos_bands])


@pytest.mark.parametrize("carrier", ["noise", "sine"])
def test_output_band_levels_follow_input_band_levels(rng, carrier):
    # Noise with a spectrum falling 6 dB/octave: each vocoder band should put out what it took
    # in. The rectified-mean envelope is scaled for sine-like band signals; for Gaussian band
    # noise it would read up to sqrt(pi/2) / (pi / (2 sqrt 2)) = 1.05 dB low.
    fs = 32000
    ci = CochlearImplantSimulator(fs=fs, n_bands=8, carrier=carrier, f_low_hz=200,
                                  f_high_hz=7000, seed=4)
    white = rng.standard_normal(4 * fs)
    tilt = scipy.signal.butter(1, 300, fs=fs, output="sos")  # -6 dB/octave above 300 Hz
    x = (0.5 * scipy.signal.sosfilt(tilt, white)).astype(np.float32)[None]
    y = ci.process(x)[0, fs // 2:].astype(np.float64)
    bands = ci.design.analysis_sos
    level_in = _band_levels_db(x[0, fs // 2:].astype(np.float64), bands)
    level_out = _band_levels_db(y, bands)
    assert level_in[0] - level_in[-1] > 10
    np.testing.assert_allclose(level_out - level_in, 0.0, atol=1.2)


def test_tone_levels_carry_to_sine_carriers():
    # One tone per band, 5 dB apart: the carrier at each band's place has the tone's level.
    fs = 48000
    ci = CochlearImplantSimulator(fs=fs, n_bands=8, carrier="sine")
    d = ci.design
    t = np.arange(fs) / fs
    levels_db = -5.0 * np.arange(8)
    centres = np.sqrt(d.analysis_edges_hz[:-1] * d.analysis_edges_hz[1:])
    x = sum(10 ** (lv / 20) * math.sqrt(2) * np.sin(2 * np.pi * f * t + k)
            for k, (lv, f) in enumerate(zip(levels_db, centres, strict=True)))
    y = ci.process(x.astype(np.float32))[fs // 4:]
    spectrum = np.abs(np.fft.rfft(y)) / (y.size / 2) / math.sqrt(2)
    f = np.fft.rfftfreq(y.size, 1 / fs)
    out_db = [10 * np.log10(np.sum(spectrum[np.abs(f - fc) < 3] ** 2))
              for fc in d.carrier_frequencies_hz]
    np.testing.assert_allclose(out_db, levels_db, atol=0.6)


def test_sine_carrier_output_is_a_sum_of_tones_at_the_carriers(rng):
    fs = 32000
    ci = CochlearImplantSimulator(fs=fs, n_bands=6, carrier="sine", envelope_cutoff_hz=50,
                                  insertion_depth_mm=24.0, electrode_span_mm=16.0)
    carriers = ci.design.carrier_frequencies_hz
    x = rng.standard_normal((1, 2 * fs)).astype(np.float32)
    y = ci.process(x)[0, fs // 4:].astype(np.float64)
    power = np.abs(np.fft.rfft(y * np.hanning(y.size))) ** 2
    f = np.fft.rfftfreq(y.size, 1 / fs)
    near = np.min(np.abs(f[:, None] - carriers[None, :]), axis=1) < 120
    assert power[near].sum() > 0.99 * power.sum()
    # The six strongest separated peaks sit on the carriers.
    peaks, _ = scipy.signal.find_peaks(power, distance=int(200 * y.size / fs))
    top = np.sort(f[peaks[np.argsort(power[peaks])[-6:]]])
    np.testing.assert_allclose(top, carriers, atol=2 * fs / y.size)


def test_current_spread_reduces_channel_independence(rng):
    # White noise gives independent band envelopes; spreading current mixes them, so the
    # envelopes of neighbouring output bands become correlated, more so the broader the spread.
    fs = 16000
    x = rng.standard_normal((1, 4 * fs)).astype(np.float32)

    def neighbour_correlation(spread):
        ci = CochlearImplantSimulator(fs=fs, n_bands=8, carrier="sine",
                                      spread_db_per_mm=spread, envelope_cutoff_hz=50)
        y = ci.process(x)[0].astype(np.float64)
        envs = [np.abs(scipy.signal.hilbert(scipy.signal.sosfilt(s, y)))[fs // 2:]
                for s in ci.design.synthesis_sos]
        return np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(envs[:-1], envs[1:],
                                                                 strict=True)])

    independent = neighbour_correlation(None)
    narrow = neighbour_correlation(8.0)
    broad = neighbour_correlation(0.5)
    assert independent < 0.25
    assert independent < narrow < broad
    assert broad - independent > 0.3


def test_spread_weights_fall_off_exponentially_with_distance():
    d = CochlearImplantSimulator(fs=FS, n_bands=8, spread_db_per_mm=2.0).design
    w = d.spread
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    distance = np.abs(d.electrode_depths_mm[:, None] - d.electrode_depths_mm[None, :])
    np.testing.assert_allclose(20 * np.log10(w / np.diag(w)[:, None]), -2.0 * distance,
                               atol=1e-9)


def test_silence_stays_silent_and_loud_input_stays_finite():
    ci = CochlearImplantSimulator(fs=FS, n_bands=8, seed=1)
    assert not ci.process(np.zeros((2, 2000), np.float32)).any()
    square = np.sign(np.sin(2 * np.pi * 440 * np.arange(4000) / FS)).astype(np.float32)
    y = CochlearImplantSimulator(fs=FS, carrier="sine").process(square * 1e4)
    assert np.isfinite(y).all() and np.abs(y).max() > 1e3


# --- chains ----------------------------------------------------------------------------------

def test_chain_table_round_trips_through_toml():
    ci = CochlearImplantSimulator(fs=FS, n_bands=12, carrier="sine", insertion_depth_mm=28.0,
                                  spread_db_per_mm=3.0, seed=9, f_high_hz=6000)
    table = ci.to_chain_table()
    assert table["n_channels"] == 12 and "electrode_span_mm" not in table
    back = tomllib.loads(tomli_w.dumps({"stage": [{"type": "ci-vocoder", **table}]}))
    params = {k: v for k, v in back["stage"][0].items() if k != "type"}
    again = CochlearImplantSimulator.from_chain_table(params, fs=FS)
    assert again.config == ci.config
    assert CochlearImplantSimulator.from_chain_table({}, fs=FS).config.n_bands == 8


@pytest.mark.parametrize(
    "table, words",
    [
        ({"n_bands": 8}, "unknown key 'n_bands'.*'n_channels'"),
        ({"n_channels": 30}, "n_channels must be in"),
        ({"n_channels": "8"}, "n_channels must be an integer"),
        ({"carrier": "pulse"}, "carrier must be one of 'noise', 'sine'"),
        ({"seed": -1}, "seed"),
        ({"spread_db_per_mm": 0}, "spread_db_per_mm"),
    ],
)
def test_chain_table_errors_name_the_key(table, words):
    with pytest.raises(ConfigError, match=words):
        CochlearImplantSimulator.from_chain_table(table, fs=FS)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"n_bands": 0}, "n_bands"),
        ({"n_bands": 23}, "n_bands"),
        ({"f_high_hz": 9000}, "f_high_hz"),
        ({"f_low_hz": 7500}, "f_high_hz must be above"),
        ({"f_low_hz": 3000, "f_high_hz": 2000}, "f_high_hz must be above"),
        ({"envelope_cutoff_hz": 600}, "envelope_cutoff_hz"),
        ({"insertion_depth_mm": 40}, "insertion_depth_mm"),
        ({"insertion_depth_mm": 12}, "electrode span"),
        ({"insertion_depth_mm": 20.0, "electrode_span_mm": 18.0}, "outside 20 Hz - fs/2"),
        ({"cochlear_length_mm": 10}, "cochlear_length_mm"),
        ({"fs": 4000}, "fs"),
    ],
)
def test_bad_config_names_the_parameter(kwargs, words):
    with pytest.raises(ConfigError, match=words):
        CochlearImplantSimulator(**{"fs": FS, **kwargs})


# --- hostile input ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "bad, exc, words",
    [
        (np.zeros((2, 3, 4), np.float32), SignalError, "shape"),
        (np.zeros(8, np.int16), SignalTypeError, "dtype"),
        (np.array([0.0, np.nan], np.float32), SignalError, "NaN"),
        (np.array([[np.inf]], np.float32), SignalError, "NaN"),
        ("audio", SignalTypeError, "numpy array"),
    ],
)
def test_hostile_input_names_the_problem(bad, exc, words):
    with pytest.raises(exc, match=words):
        CochlearImplantSimulator(fs=FS).process(bad)


def test_empty_one_sample_non_contiguous_and_channel_change(rng):
    ci = CochlearImplantSimulator(fs=FS, n_bands=4)
    assert ci.process(np.zeros((2, 0), np.float32)).shape == (2, 0)
    assert ci.process(np.ones((2, 1), np.float32)).shape == (2, 1)
    with pytest.raises(SignalError, match="reset"):
        ci.process(np.zeros((3, 5), np.float32))
    x = rng.standard_normal((2, 800))
    y = CochlearImplantSimulator(fs=FS, n_bands=4).process(x[:, ::2])
    np.testing.assert_array_equal(
        y, CochlearImplantSimulator(fs=FS, n_bands=4).process(
            np.ascontiguousarray(x[:, ::2], np.float32)))
    assert CochlearImplantSimulator(fs=FS).process(np.zeros(7, np.float32)).shape == (7,)


@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 2), st.integers(0, 300)),
                  elements=st.floats(-1e6, 1e6, width=32)),
       st.sampled_from(["noise", "sine"]))
def test_any_finite_input_gives_finite_output(x, carrier):
    ci = _HOSTILE[carrier]
    ci.reset()
    y = ci.process(x)
    assert y.shape == x.shape and np.isfinite(y).all()


_HOSTILE = {c: CochlearImplantSimulator(fs=FS, n_bands=5, carrier=c, spread_db_per_mm=1.0)
            for c in ("noise", "sine")}
