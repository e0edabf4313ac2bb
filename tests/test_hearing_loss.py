"""Hearing-loss simulator (MSBG model): C kernel vs NumPy reference, streaming, the model's
reference behaviour (thresholds, recruitment, catch-up), agreement with MSBG, hostile input."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from audiolab import AudiolabError, ConfigError, SignalError
from audiolab._ckernel import ffi, float_buffer, lib
from audiolab.audiology import Audiogram, load_audiogram
from audiolab.bench._hearing_loss import reference_hearing_loss
from audiolab.calibration import db_spl_to_pa_rms, rms_db_spl
from audiolab.models import HearingLossSimulator
from audiolab.models._hearing_loss import (
    new_rfft_plan,
    severity_class,
    smearing_matrix,
)

DATA = Path(__file__).parent / "data"
MSBG_FIXTURE = DATA / "msbg_pyclarity_0.9.0_band_attenuation.json"
BISGAARD_HZ = [250, 375, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000]

# ISO 389-7:2005, Table 1: reference threshold of hearing, free field, frontal incidence,
# binaural (dB SPL): the normal-hearing threshold of the free-field levels the simulator uses.
ISO_389_7_FREE_FIELD_DB_SPL = {500: 4.4, 1000: 2.4, 2000: -1.3, 4000: -5.4}


def _load_reference_module():
    spec = importlib.util.spec_from_file_location(
        "make_msbg_reference", DATA / "make_msbg_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tone(f_hz, level_db_spl, fs, seconds=1.0):
    t = np.arange(int(seconds * fs)) / fs
    peak_pa = np.sqrt(2) * float(db_spl_to_pa_rms(level_db_spl))
    return (peak_pa * np.sin(2 * np.pi * f_hz * t)).astype(np.float32)


def _steady_level(y, fs):
    return rms_db_spl(y[..., int(0.4 * fs):])


def _flat(db_hl):
    return Audiogram.symmetric(BISGAARD_HZ, [db_hl] * len(BISGAARD_HZ), name=f"flat{db_hl}")


# -- own FFT -------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [8, 16, 64, 256, 512, 1024])
@pytest.mark.usefixtures("cpu_path")
def test_real_fft_matches_numpy(rng, n):
    plan = new_rfft_plan(n)
    x = rng.standard_normal(n).astype(np.float32)
    re = np.zeros(n // 2 + 1, np.float32)
    im = np.zeros(n // 2 + 1, np.float32)
    c = plan.c
    lib.al_rfft_forward(c, float_buffer(x, "x"), float_buffer(re, "re"), float_buffer(im, "im"))
    spec = np.fft.rfft(x.astype(np.float64))
    np.testing.assert_allclose(re + 1j * im, spec, atol=2e-6 * np.abs(spec).max() * np.log2(n))
    y = np.zeros(n, np.float32)
    lib.al_rfft_inverse(c, float_buffer(re, "re"), float_buffer(im, "im"), float_buffer(y, "y"))
    np.testing.assert_allclose(y, x, atol=2e-6 * np.log2(n) * np.abs(x).max())


# -- model design ------------------------------------------------------------------------------


def test_normal_filters_give_identity_smearing():
    # Baer & Moore (1993): smearing with broadening factors 1 leaves the spectrum unchanged.
    s = smearing_matrix(256, 44100 / 512, 1.0, 1.0)
    np.testing.assert_allclose(s[8:200, 8:200], np.eye(192), atol=1e-6)


def test_severe_bank_has_msbgs_centre_frequencies():
    # MSBG's severe-class bank (pyclarity 0.9.0, msbg_hparams/GT4FBank_Brd3.0E_Spaced2.3E_44100Fs
    # .json, GTn_CentFrq): 2.25 ERB apart down from 19183.5 Hz (irregular below 800 Hz). The
    # thresholds are sampled there, at every rate up to 0.45 fs.
    msbg_hz = [833.83, 1124.91, 1495.72, 1968.10, 2569.87, 3336.47, 4313.06, 5557.15, 7142.01,
               9160.98, 11732.99, 15009.50, 19183.50]
    for fs, n_top in ((44100, 13), (16000, 9)):
        cf = HearingLossSimulator("N3", fs=fs).designs["left"].center_frequencies_hz
        np.testing.assert_allclose(cf[cf > 800], msbg_hz[:n_top], atol=0.05)


def test_bands_are_msbgs_gammatone_sections_with_unit_gain_at_their_centre():
    # MSBG's bands: four sections Re{1 / (1 - p z^-1)}, p = exp((-2 pi B + 2 pi i cf) / fs),
    # B = 3 ERB_N(cf) for the severe class, ERB_N(f) = 24.7 (4.37 f / 1000 + 1) Hz (Glasberg
    # & Moore 1990); as a real filter a section is (1 - r cos(theta) z^-1) /
    # (1 - 2 r cos(theta) z^-1 + r^2 z^-2). Each band, with its high-pass, has gain 1 at cf.
    fs = 44100
    d = HearingLossSimulator("N3", fs=fs).designs["left"]
    cf = d.center_frequencies_hz
    erb_hz = 24.7 * (4.37 * cf / 1000.0 + 1.0)
    np.testing.assert_allclose(
        d.poles, np.exp((-2 * np.pi * 3.0 * erb_hz + 2j * np.pi * cf) / fs), rtol=1e-12
    )
    zinv = np.exp(-2j * np.pi * cf / fs)
    section = (1 - d.poles.real * zinv) / (1 - 2 * d.poles.real * zinv + np.abs(d.poles) ** 2
                                           * zinv**2)
    b0, b1, b2, a1, a2 = d.highpass.T
    highpass = (b0 + b1 * zinv + b2 * zinv**2) / (1 + a1 * zinv + a2 * zinv**2)
    np.testing.assert_allclose(np.abs(d.input_gains * section**4 * highpass), 1.0, rtol=1e-9)
    assert np.count_nonzero(b0 != 1.0) >= 1  # the lowest bands do have a high-pass


@pytest.mark.parametrize(
    "name, expected",
    # MSBG's classes from the mean threshold at 2-8 kHz; Bisgaard et al. (2010) presets
    # (REFERENCE.md): N1 26.25, N2 42.5, N3 57.5, S1 42.5 dB HL.
    [("N1", "mild"), ("N2", "moderate"), ("N3", "severe"), ("S1", "moderate")],
)
def test_severity_classes_of_the_standard_audiograms(name, expected):
    assert severity_class(load_audiogram(name).left) == expected


# -- C kernel against the NumPy reference ----------------------------------------------------


@pytest.mark.parametrize(
    "audiogram, fs, smearing",
    [
        ("N3", 44100, "auto"),
        ("N1", 16000, "auto"),
        ("N2", 22050, "auto"),
        ("S1", 48000, "none"),
        ("N2", 44100, (3.0, 1.2)),
    ],
)
@pytest.mark.usefixtures("cpu_path")
def test_c_matches_numpy_reference(rng, audiogram, fs, smearing):
    sim = HearingLossSimulator(audiogram, fs=fs, smearing=smearing)
    n = int(0.3 * fs)
    x = rng.standard_normal((2, n)).astype(np.float32) * 0.1
    x[:, n // 2:] *= 100.0  # 60 -> 100 dB SPL: gains from deep expansion to catch-up
    y = sim.process(x)
    ref = reference_hearing_loss(sim, x)
    np.testing.assert_allclose(y, ref, atol=1e-5 * np.abs(ref).max())


def test_ears_with_and_without_smearing_stay_aligned(rng):
    # Left ear normal (no smearing), right ear severe: the left ear runs the frame's delay only.
    ag = Audiogram(load_audiogram("N1").left, load_audiogram("N4").right, "mixed")
    sim = HearingLossSimulator(ag, fs=44100)
    assert sim.designs["left"].smear is not None and sim.any_smearing
    ag2 = Audiogram(_flat(5).left, load_audiogram("N4").right, "mixed2")
    sim2 = HearingLossSimulator(ag2, fs=44100)
    assert sim2.designs["left"].smear is None and sim2.any_smearing
    x = rng.standard_normal((2, 8000)).astype(np.float32)
    np.testing.assert_allclose(sim2.process(x), reference_hearing_loss(sim2, x), atol=1e-5 * 5)


# -- streaming ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("cpu_path")
def test_block_split_equals_whole(rng):
    sim = HearingLossSimulator("N3", fs=22050)
    x = (rng.standard_normal((2, 6000)) * 0.5).astype(np.float32)
    whole = sim.process(x)
    sim.reset()
    edges = np.cumsum(rng.integers(0, 200, size=80))
    edges = np.unique(np.concatenate([[0, 1, 2, 3], edges[edges < x.shape[1]], [x.shape[1]]]))
    parts = [sim.process(x[:, a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


def test_one_sample_blocks_equal_whole(rng):
    sim = HearingLossSimulator("N2", fs=16000, ear="right")
    x = rng.standard_normal(700).astype(np.float32)
    whole = sim.process(x)
    sim.reset()
    parts = [sim.process(x[i: i + 1]) for i in range(x.size)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_reset_returns_to_rest(rng):
    sim = HearingLossSimulator("N3", fs=16000)
    x = rng.standard_normal((1, 3000)).astype(np.float32)
    first = sim.process(x)
    sim.process(x)
    sim.reset()
    np.testing.assert_array_equal(sim.process(x), first)


def test_same_length_out_and_latency_is_where_the_impulse_lands():
    # 0 dB HL and no smearing: a linear system; latency_samples is where its impulse response
    # peaks.
    sim = HearingLossSimulator(_flat(0), fs=48000, smearing="none")
    x = np.zeros((1, 4000), np.float32)
    x[0, 100] = 1.0
    y = sim.process(x)
    assert y.shape == x.shape
    assert int(np.argmax(np.abs(y[0]))) == 100 + sim.latency_samples


def test_latency_with_smearing_by_cross_correlation(rng):
    # With smearing, noise in and out line up at latency_samples. The bank's impulse response
    # is a carrier under an envelope (taps next to its peak reach 0.6-0.9 of it), so the peak
    # of the cross-correlation, which smearing makes noisy, may fall on a neighbouring carrier
    # peak: within a quarter of a millisecond.
    sim = HearingLossSimulator(_flat(0), fs=16000, smearing="mild")
    x = rng.standard_normal(16000).astype(np.float32)
    y = sim.process(x)
    lags = np.arange(0, 1000)
    xc = [float(np.dot(x[: x.size - k], y[k:])) for k in lags]
    assert abs(int(lags[np.argmax(xc)]) - sim.latency_samples) <= 4


# -- the model's reference behaviour ------------------------------------------------------------


@pytest.mark.parametrize("profile", ["N2", "N3", "N4", "S1", "S2"])
@pytest.mark.parametrize("f_hz", [500, 1000, 2000, 4000])
@pytest.mark.slow
def test_tone_below_the_impaired_threshold_falls_below_normal_threshold(profile, f_hz):
    # Moore & Glasberg (1993): a sound at the impaired threshold maps to the normal threshold, so
    # a tone 5 dB below the simulated threshold must end up below the normal one (ISO 389-7).
    # On the steep slopes of S1 (4 kHz) and S2 (2 and 4 kHz) this needs the expansion ratio of
    # the frequency each band carries: a band centred lower, with a lower threshold, also
    # carries the tone (MSBG, which takes the ratio at the centre, lets those tones through).
    fs = 44100
    ear = load_audiogram(profile).left
    normal = ISO_389_7_FREE_FIELD_DB_SPL[f_hz]
    level = normal + float(ear.threshold_db_hl_at(f_hz)) - 5.0
    y = HearingLossSimulator(profile, fs=fs).process(_tone(f_hz, level, fs))
    assert _steady_level(y, fs) < normal


@pytest.mark.parametrize("profile", ["N1", "N2", "N3", "N4", "S1", "S2"])
def test_loud_tone_passes_unchanged(profile):
    # Above the catch-up level loudness is normal (Moore & Glasberg 1993): a 1 kHz tone at
    # 120 dB SPL passes within +-1 dB, smeared or not (MSBG: 119.7-120.1 dB SPL).
    fs = 44100
    y = HearingLossSimulator(profile, fs=fs).process(_tone(1000, 120.0, fs))
    assert abs(_steady_level(y, fs) - 120.0) <= 1.0


@pytest.mark.parametrize("smearing", ["mild", "moderate", "severe"])
@pytest.mark.parametrize("f_hz", [500, 1000, 2000, 4000])
@pytest.mark.slow
def test_smearing_keeps_the_power_of_a_steady_tone(smearing, f_hz):
    # Baer & Moore (1993): the smearing matrix moves power across frequency (its columns sum
    # to 0.9-1.15 here) but does not remove it. Overlap-add of frames whose spread part is not
    # phase-coherent from frame to frame would lose 1.4-4.2 dB of a steady tone (severe class;
    # MSBG loses that much), which the power correction restores. 0 dB HL: no expansion.
    fs = 44100
    sim = HearingLossSimulator(_flat(0), fs=fs, smearing=smearing)
    y = sim.process(_tone(f_hz, 60.0, fs))
    assert abs(_steady_level(y, fs) - 60.0) <= 0.75


def test_growth_is_recruitment_like():
    # Between threshold and catch-up the output grows faster than the input (slope ~ ER);
    # once the tone is above catch-up (105 dB SPL) in the bands that carry it (1 kHz lies
    # between two bands, which see it 0.1 and 2.3 dB lower, and their neighbours carry it
    # 5-15 dB lower), it grows 1:1.
    fs = 44100
    sim = HearingLossSimulator(_flat(50), fs=fs, smearing="none")
    levels = np.arange(60.0, 136.0, 5.0)
    out = []
    for level in levels:
        sim.reset()
        out.append(_steady_level(sim.process(_tone(1000, level, fs)), fs))
    slopes = np.diff(out) / 5.0
    expansion_ratio = 105.0 / (105.0 - 50.0)
    below = levels[1:] <= 95.0
    assert np.all(np.diff(out) > 0)
    np.testing.assert_allclose(slopes[below], expansion_ratio, atol=0.25)
    np.testing.assert_allclose(slopes[levels[:-1] >= 125.0], 1.0, atol=0.1)


def test_normal_hearing_passes_unchanged(rng):
    # 0 dB HL: no expansion, no smearing; what is left is the filterbank's ripple (+-0.3 dB).
    mk = _load_reference_module()
    fs = mk.FS
    x = (rng.standard_normal(4 * fs) * float(db_spl_to_pa_rms(60.0))).astype(np.float32)
    y = HearingLossSimulator(_flat(0), fs=fs).process(x)
    change = mk.third_octave_levels_db(y.astype(float), fs) - mk.third_octave_levels_db(
        x.astype(float), fs
    )
    above_200_hz = np.array(mk.BAND_CENTRES_HZ) > 190
    np.testing.assert_array_less(np.abs(change[above_200_hz]), 0.5)


# -- agreement with MSBG ------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["N1", "N2", "N3", "N4", "S1", "S2"])
def test_band_attenuation_agrees_with_msbg(rng, profile):
    # Stationary noise at 70 and 85 dB SPL; one-third-octave attenuation at 500-4000 Hz within
    # 3 dB of MSBG's attenuation as reported, and of MSBG's model (its attenuation plus the
    # pass-through gain of its own filterbank, which is not unity). Reference numbers from
    # pyclarity 0.9.0 (tests/data/make_msbg_reference.py). Measured: within 2.0 dB as
    # reported and 1.5 dB of the model for every audiogram here.
    mk = _load_reference_module()
    ref = json.loads(MSBG_FIXTURE.read_text())
    centres = np.array(ref["band_centres_hz"])
    sel = (centres > 490) & (centres < 4120)
    n = int(4.0 * mk.FS)
    sim = HearingLossSimulator(profile, fs=mk.FS)
    severity = ref["severity"][profile]
    assert severity == sim.designs["left"].severity
    for noise in mk.NOISES:
        x = mk.stationary_noise(noise, n, rng)
        passthrough = np.array(ref["passthrough_gain_db"][severity][noise])
        for level in mk.LEVELS_DB_SPL:
            xp = (x * float(db_spl_to_pa_rms(level))).astype(np.float32)
            sim.reset()
            y = sim.process(xp)
            ours = mk.third_octave_levels_db(xp.astype(float), mk.FS) - mk.third_octave_levels_db(
                y.astype(float), mk.FS
            )
            reported = np.array(ref["attenuation_db"][profile][noise][f"{level:g}"])
            np.testing.assert_array_less(np.abs(ours - reported)[sel], 3.0)
            np.testing.assert_array_less(np.abs(ours - reported - passthrough)[sel], 3.0)


@pytest.mark.parametrize("profile", ["N3", "S2"])
def test_the_same_model_at_every_rate(profile):
    # MSBG runs at 44.1 kHz only; ours designs the same bands, smearing and thresholds at any
    # rate. Pink noise at 70 dB SPL: one-third-octave attenuation at 0.5-4 kHz at 16, 22.05 and
    # 48 kHz within 2 dB of 44.1 kHz (measured: 1.6 dB at most, for S2 at 16 kHz, whose
    # smearing frame is 8 ms instead of 5.8).
    mk = _load_reference_module()
    sel = (np.array(mk.BAND_CENTRES_HZ) > 490) & (np.array(mk.BAND_CENTRES_HZ) < 4120)

    def attenuation(fs):
        x = mk.stationary_noise("pink", 4 * fs, np.random.default_rng(3), fs)
        x = (x * float(db_spl_to_pa_rms(70.0))).astype(np.float32)
        y = HearingLossSimulator(profile, fs=fs).process(x)
        return mk.third_octave_levels_db(x.astype(float), fs) - mk.third_octave_levels_db(
            y.astype(float), fs
        )

    at_44k = attenuation(44100)
    for fs in (16000, 22050, 48000):
        np.testing.assert_array_less(np.abs(attenuation(fs) - at_44k)[sel], 2.0)


# -- robustness ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fs", [16000, 22050, 44100, 48000])
def test_silence_and_full_scale_square_waves_stay_finite(fs):
    sim = HearingLossSimulator("N4", fs=fs)
    silence = sim.process(np.zeros((2, 3000), np.float32))
    assert np.all(silence == 0.0)
    t = np.arange(fs // 4)
    square = np.where((t // 37) % 2 == 0, 1.0, -1.0).astype(np.float32)
    for peak_pa in (2.0, 200.0, 2e4):  # full scale at 97, 137 and 177 dB SPL
        sim.reset()
        y = sim.process(np.stack([square, -square]) * peak_pa)
        assert np.isfinite(y).all() and np.abs(y).max() < 10 * peak_pa


@given(
    x=hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 2), st.integers(1, 300)),
        elements=st.floats(-1e5, 1e5, width=32, allow_subnormal=True),
    )
)
@pytest.mark.slow
def test_hypothesis_finite_input_gives_finite_output(x):
    y = HearingLossSimulator("N3", fs=16000).process(x)
    assert y.shape == x.shape and np.isfinite(y).all()


def test_non_contiguous_and_float64_input(rng):
    x = rng.standard_normal((2, 2000))
    sim = HearingLossSimulator("N2", fs=16000)
    y = sim.process(x[:, ::2])
    sim.reset()
    np.testing.assert_array_equal(y, sim.process(np.ascontiguousarray(x[:, ::2], np.float32)))


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"audiogram": "N9", "fs": 44100}, "N9"),
        ({"audiogram": "N3", "fs": 8000}, "fs must be in"),
        ({"audiogram": "N3", "fs": 44100, "ear": "both"}, "ear"),
        ({"audiogram": "N3", "fs": 44100, "smearing": "extreme"}, "smearing"),
        ({"audiogram": "N3", "fs": 44100, "smearing": (0.5, 2.0)}, "smearing lower"),
        ({"audiogram": "N3", "fs": 44100, "catch_up_db_spl": 60}, "catch_up_db_spl"),
    ],
)
def test_bad_config_names_the_problem(kwargs, words):
    audiogram = kwargs.pop("audiogram")
    with pytest.raises(ConfigError, match=words):
        HearingLossSimulator(audiogram, **kwargs)


def test_invalid_audiogram_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("frequency_hz,left_db_hl,right_db_hl\n1000,nan,20\n")
    with pytest.raises(AudiolabError, match="bad.csv"):
        HearingLossSimulator(bad, fs=44100)


@pytest.mark.parametrize(
    "block, words",
    [
        (np.array([[0.0, np.nan]], np.float32), "NaN"),
        (np.zeros((3, 10), np.float32), "1 channel .* or 2 channels"),
        (np.zeros((2, 3, 4), np.float32), "shape"),
    ],
)
def test_bad_audio_names_the_problem(block, words):
    with pytest.raises(SignalError, match=words):
        HearingLossSimulator("N3", fs=16000).process(block)


# -- chain stage and engine stage --------------------------------------------------------------


def test_chain_table_round_trip(rng):
    sim = HearingLossSimulator("N3", fs=22050, ear="right", smearing=(2.0, 1.5))
    table = sim.to_chain_table()
    assert table == {
        "audiogram": "N3", "ear": "right", "smearing": [2.0, 1.5], "catch_up_db_spl": 105.0,
    }
    again = HearingLossSimulator.from_chain_table(table, fs=22050)
    assert again.to_chain_table() == table
    x = rng.standard_normal((1, 2000)).astype(np.float32)
    np.testing.assert_array_equal(again.process(x), sim.process(x))


def test_chain_file_runs_the_stage(tmp_path, rng):
    from audiolab.models import build_chain, load_chain

    path = tmp_path / "sim.toml"
    path.write_text('fs = 16000\n[[stage]]\ntype = "hearing-loss"\naudiogram = "N2"\n')
    chain = build_chain(load_chain(path), fs=16000)
    x = rng.standard_normal((2, 1600)).astype(np.float32)
    np.testing.assert_array_equal(chain.process(x), HearingLossSimulator("N2", fs=16000).process(x))


def test_chain_table_with_inline_audiogram():
    ag = Audiogram.symmetric([500, 1000, 2000, 4000], [20, 30, 40, 50], name="mine")
    table = HearingLossSimulator(ag, fs=16000).to_chain_table()
    again = HearingLossSimulator.from_chain_table(table, fs=16000)
    assert again.audiogram == ag


@pytest.mark.parametrize(
    "table, words",
    [
        ({"audiogram": "N3", "gain_db": 3}, "unknown key 'gain_db' in a 'hearing-loss' stage"),
        ({"ear": "left"}, "needs 'audiogram'"),
        ({"audiogram": 3}, "audiogram"),
        ({"audiogram": "N3", "smearing": "lots"}, "smearing"),
    ],
)
def test_chain_table_errors_name_the_key(table, words):
    with pytest.raises(ConfigError, match=words):
        HearingLossSimulator.from_chain_table(table, fs=16000)


def test_c_stage_is_the_same_processing(rng):
    sim = HearingLossSimulator("N3", fs=16000)
    fn, state = sim.c_stage(2)
    x = rng.standard_normal((2, 1500)).astype(np.float32)
    expected = sim.process(x)
    buf = x.copy()
    status = fn(state, float_buffer(buf, "x"), 2, buf.shape[1])
    assert status == 0
    np.testing.assert_array_equal(buf, expected)
    assert ffi.typeof(fn) == ffi.typeof("al_stage_fn")


_MAPPED_SCRIPT = """
import json, sys
from residency import fix_mmap_threshold, resident_pages
fix_mmap_threshold(1 << 16)
from audiolab.models import HearingLossSimulator
sim = HearingLossSimulator("N1", fs=96000)
sim.c_stage(2)
ears = [k for k in sim._c_stages[-1] if hasattr(k, "fft")]
report = {}
for c, ear in enumerate(ears):
    arrays = {**ear.arrays, **ear.fft.arrays}
    for name, arr in arrays.items():
        report[f"{c}.{name}"] = [arr.nbytes, *resident_pages(arr)]
json.dump(report, sys.stdout)
"""


def test_c_stage_buffers_are_mapped_before_the_first_callback():
    # The engine's audio callback must take no first-touch page faults: every buffer the C
    # state points into is written when it is built. Run in a fresh process whose malloc
    # gives every block of 64 KiB or more fresh pages (the OS maps them on first touch): the
    # band history of the mild bank at 96 kHz (0.52 MB per ear) and the smearing buffers would
    # stay unmapped if they were only allocated, or "written" by a NumPy self-assignment.
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    done = subprocess.run(
        [sys.executable, "-c", _MAPPED_SCRIPT], capture_output=True, text=True, env=env,
        check=True,
    )
    report = json.loads(done.stdout)
    assert report["0.hist"][0] > 1 << 18 and "1.frame" in report and "0.work_re" in report
    unmapped = {k: v for k, v in report.items() if v[1] != v[2]}
    assert not unmapped, f"buffers with unmapped pages (bytes, resident, total): {unmapped}"


def test_c_stage_points_only_into_buffers_it_keeps():
    # Every pointer the ear's C state holds is one of the buffers bound (and written) by its
    # CStruct, or the FFT plan: none is bound behind its back.
    sim = HearingLossSimulator("N3", fs=16000)
    sim.c_stage(2)
    ears = [k for k in sim._c_stages[-1] if hasattr(k, "fft")]
    for ear in ears:
        c = ear.struct.c
        kept = {int(ffi.cast("size_t", ffi.from_buffer(a))) for a in ear.arrays.values()}
        for name, field in ffi.typeof(c).fields:
            if field.type.kind != "pointer" or name == "fft":
                continue
            address = int(ffi.cast("size_t", getattr(c, name)))
            assert address in kept, f"{name} points outside the kept buffers"
        assert c.fft == ear.fft.c


def test_c_stage_takes_non_finite_samples_as_silence(rng):
    sim = HearingLossSimulator("N2", fs=16000)
    fn, state = sim.c_stage(1)
    x = rng.standard_normal((1, 800)).astype(np.float32)
    buf = x.copy()
    buf[0, 100] = np.nan
    buf[0, 200] = np.inf
    assert fn(state, float_buffer(buf, "x"), 1, buf.shape[1]) == 0
    x[0, [100, 200]] = 0.0
    np.testing.assert_array_equal(buf, sim.process(x))


def test_c_stage_rejects_a_channel_count_it_was_not_built_for():
    sim = HearingLossSimulator("N3", fs=16000)
    fn, state = sim.c_stage(1)
    buf = np.zeros((2, 10), np.float32)
    assert fn(state, float_buffer(buf, "x"), 2, 10) == lib.AL_ERR_STATE
    with pytest.raises(SignalError, match="channels"):
        sim.c_stage(3)
