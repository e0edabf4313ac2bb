"""Stimuli: levels, notches, gaps, modulation depth and intervals measured from the Pa signal."""

from __future__ import annotations

import doctest
import importlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.signal

from audiolab import CalibrationError, ConfigError, SafetyError
from audiolab.calibration import Calibration, OutputCeiling, load_calibration, rms_db_spl
from audiolab.dsp import amplitude_to_db
from audiolab.experiments import (
    RenderedTrial,
    Trial,
    check_ceiling,
    render_trial,
    stimulus_spec,
)

FS = 48000.0
EXAMPLE_CAL = Path(__file__).resolve().parents[1] / "calibration" / "example.toml"
# ISO 389-1 RETSPL of the TDH-39 (the default transducer) at 1 kHz and 4 kHz, dB SPL.
TDH39_RETSPL_1K, TDH39_RETSPL_4K = 7.0, 9.5


def afc(x_db: float, *, n: int = 3, target: int = 2, **kw: object) -> Trial:
    return Trial(index=0, x_db=x_db, n_intervals=n, target_interval=target, catch=False,
                 **kw)  # type: ignore[arg-type]


def yes_no(x_db: float, **kw: object) -> Trial:
    return Trial(index=0, x_db=x_db, n_intervals=1, target_interval=None, catch=False,
                 **kw)  # type: ignore[arg-type]


def steady(x: np.ndarray, r: RenderedTrial, k: int, ramp_ms: float) -> np.ndarray:
    n_ramp = int(round(ramp_ms * 1e-3 * r.fs))
    return x[r.interval_onsets_samples[k] + n_ramp:r.interval_offsets_samples[k] - n_ramp]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261207)


@pytest.mark.parametrize("level_db_hl", [-10.0, 0.0, 37.5, 90.0])
def test_tone_in_db_hl_is_retspl_above_in_db_spl(level_db_hl: float,
                                                   rng: np.random.Generator) -> None:
    spec = stimulus_spec({"kind": "tone", "frequency_hz": 4000, "duration_ms": 400,
                          "ramp_ms": 25})
    r = render_trial(spec, yes_no(level_db_hl, ear="right", frequency_hz=4000.0), fs=FS, rng=rng)
    assert r.pa.dtype == np.float32 and r.pa.shape == (2, int(0.4 * FS))
    assert not np.any(r.pa[0])  # left ear silent: the trial's ear is the right one
    planned = level_db_hl + TDH39_RETSPL_4K
    assert r.description["level_db_spl"] == pytest.approx(planned)
    assert rms_db_spl(steady(r.pa[1], r, 0, 25)) == pytest.approx(planned, abs=0.01)


@pytest.mark.parametrize("noise", ["white", "pink", "speech"])
def test_noise_levels_measured_from_the_signal(noise: str, rng: np.random.Generator) -> None:
    spec = stimulus_spec({"kind": "noise", "noise": noise, "duration_ms": 500, "ramp_ms": 10})
    r = render_trial(spec, yes_no(62.5), fs=FS, rng=rng)
    for row in (0, 1):  # diotic by default
        assert rms_db_spl(steady(r.pa[row], r, 0, 10)) == pytest.approx(62.5, abs=0.01)


def test_pink_noise_falls_3_db_per_octave(rng: np.random.Generator) -> None:
    spec = stimulus_spec({"kind": "noise", "noise": "pink", "duration_ms": 4000, "ramp_ms": 10})
    r = render_trial(spec, yes_no(70.0), fs=FS, rng=rng)
    f, psd = scipy.signal.welch(r.pa[0], fs=FS, nperseg=8192)
    # Octave bands at 500 and 2 kHz: power density 1/f, so -3.01 dB per octave twice; Welch
    # averages ~47 segments x ~85 bins per band, so the band estimate scatters by ~0.1 dB.
    band = [float(np.mean(psd[(f > fc / math.sqrt(2)) & (f < fc * math.sqrt(2))]))
            for fc in (500.0, 2000.0)]
    assert 10 * math.log10(band[1] / band[0]) == pytest.approx(-6.02, abs=0.3)


@pytest.mark.parametrize("variable, x_db, tone_db, noise_db",
                         [("level_db_spl", 58.0, 58.0, 65.0), ("snr_db", -12.0, 53.0, 65.0)])
def test_tone_in_noise_levels_and_reference_intervals(
    variable: str, x_db: float, tone_db: float, noise_db: float, rng: np.random.Generator
) -> None:
    spec = stimulus_spec({"kind": "tone_in_noise", "variable": variable, "duration_ms": 300,
                          "ramp_ms": 20, "isi_ms": 400})
    r = render_trial(spec, afc(x_db, n=3, target=2), fs=FS, rng=rng)
    assert r.signal_pa is not None and r.masker_pa is not None
    # pa is the float32 sum of the two parts: equal to float32 rounding (~1e-8 Pa here).
    np.testing.assert_allclose(r.pa, r.signal_pa.astype(float) + r.masker_pa, rtol=0, atol=1e-7)
    for k in range(3):
        tone = steady(r.signal_pa[0], r, k, 20)
        noise = steady(r.masker_pa[0], r, k, 20)
        assert rms_db_spl(noise) == pytest.approx(noise_db, abs=0.01)
        if k == 1:
            assert rms_db_spl(tone) == pytest.approx(tone_db, abs=0.01)
        else:
            assert not np.any(tone)  # the reference intervals: noise alone
    # Each interval has its own noise.
    first, third = (steady(r.masker_pa[0], r, k, 20) for k in (0, 2))
    assert abs(np.corrcoef(first, third)[0, 1]) < 0.05


@pytest.mark.parametrize(("n", "isi_ms", "fs"), [(2, 500.0, 48000.0), (4, 333.3, 44100.0),
                                                 (3, 0.0, 16000.0)])
def test_intervals_and_isi_to_the_sample(n: int, isi_ms: float, fs: float,
                                          rng: np.random.Generator) -> None:
    spec = stimulus_spec({"kind": "tone", "variable": "level_db_spl", "duration_ms": 250,
                          "ramp_ms": 10, "isi_ms": isi_ms})
    for target in range(1, n + 1):
        r = render_trial(spec, afc(60.0, n=n, target=target), fs=fs, rng=rng)
        length, isi = round(0.25 * fs), round(isi_ms * 1e-3 * fs)
        assert r.interval_onsets_samples == tuple(k * (length + isi) for k in range(n))
        assert r.interval_offsets_samples == tuple(k * (length + isi) + length for k in range(n))
        assert r.n_samples == n * length + (n - 1) * isi
        assert r.target_interval == target
        nonzero = np.flatnonzero(np.any(r.pa != 0, axis=0))
        # The tone fills its interval and nothing else (its first sample is sin(0) = 0).
        on, off = r.interval_onsets_samples[target - 1], r.interval_offsets_samples[target - 1]
        assert on <= nonzero[0] <= on + 1 and nonzero[-1] == off - 1


def test_notched_noise_has_its_notch(rng: np.random.Generator) -> None:
    spec = stimulus_spec({"kind": "notched_noise", "frequency_hz": 2000, "notch_width_hz": 800,
                          "band_low_hz": 500, "band_high_hz": 5000, "duration_ms": 2000,
                          "ramp_ms": 10})
    r = render_trial(spec, yes_no(40.0), fs=FS, rng=rng)
    assert r.masker_pa is not None and r.signal_pa is not None
    assert rms_db_spl(steady(r.masker_pa[0], r, 0, 10)) == pytest.approx(65.0, abs=0.01)
    f, psd = scipy.signal.welch(r.masker_pa[0], fs=FS, nperseg=4096)
    in_band = np.mean(psd[((f > 700) & (f < 1400)) | ((f > 2600) & (f < 4800))])
    notch = np.max(psd[(f > 1750) & (f < 2250)])
    outside = np.max(psd[(f > 6000) & (f < 20000)])
    # Hann-window leakage from a 12 Hz resolution into a bin >= 150 Hz from an edge is below
    # -60 dB: the notch and the stop bands must be at least 40 dB down.
    assert 10 * math.log10(notch / in_band) < -40
    assert 10 * math.log10(outside / in_band) < -40


@pytest.mark.parametrize("gap_ms", [0.0, 2.0, 5.5, 20.0])
def test_gap_in_noise_is_measured_to_the_sample(gap_ms: float, rng: np.random.Generator) -> None:
    spec = stimulus_spec({"kind": "gap_in_noise", "duration_ms": 400, "ramp_ms": 10,
                          "gap_ramp_ms": 1})
    r = render_trial(spec, afc(gap_ms, n=2, target=1), fs=FS, rng=rng)
    zero_runs = []
    for k in range(2):
        seg = r.pa[0, r.interval_onsets_samples[k]:r.interval_offsets_samples[k]]
        run, longest = 0, 0
        for z in seg == 0:
            run = run + 1 if z else 0
            longest = max(longest, run)
        zero_runs.append(longest)
    assert zero_runs[0] == round(gap_ms * 1e-3 * FS)
    assert zero_runs[1] == 0
    assert r.description["gap_samples"] == zero_runs[0]


def test_gap_longer_than_the_noise_is_refused(rng: np.random.Generator) -> None:
    spec = stimulus_spec({"kind": "gap_in_noise", "duration_ms": 100, "ramp_ms": 10})
    with pytest.raises(ConfigError, match="gap_ms must be in"):
        render_trial(spec, afc(90.0, n=2, target=1), fs=FS, rng=rng)


@pytest.mark.parametrize("depth_db", [0.0, -6.0, -20.0, -32.5])
def test_sam_depth_measured_from_the_envelope(depth_db: float, rng: np.random.Generator) -> None:
    spec = stimulus_spec({"kind": "sam", "carrier": "tone", "frequency_hz": 2000,
                          "modulation_hz": 10, "duration_ms": 1000, "ramp_ms": 20,
                          "level_db_spl": 70})
    r = render_trial(spec, afc(depth_db, n=2, target=2), fs=FS, rng=rng)
    depths = []
    for k in range(2):
        seg = steady(r.pa[0], r, k, 20).astype(np.float64)
        assert rms_db_spl(seg) == pytest.approx(70.0, abs=0.01)  # no level cue
        env = np.abs(scipy.signal.hilbert(seg))[2000:-2000]  # clear of Hilbert edge effects
        t = (np.arange(env.size) + 2000) / FS
        basis = np.column_stack([np.ones_like(t), np.sin(2 * np.pi * 10 * t),
                                 np.cos(2 * np.pi * 10 * t)])
        a, b, c = np.linalg.lstsq(basis, env, rcond=None)[0]
        depths.append(math.hypot(b, c) / a)
    assert float(amplitude_to_db(depths[1])) == pytest.approx(depth_db, abs=0.01)
    assert depths[0] < 1e-3


def test_sam_depth_above_0_db_is_refused(rng: np.random.Generator) -> None:
    spec = stimulus_spec({"kind": "sam"})
    with pytest.raises(ConfigError, match="depth_db must be at most 0"):
        render_trial(spec, afc(1.0, n=2, target=1), fs=FS, rng=rng)


def test_speech_in_noise_snr_and_words(rng: np.random.Generator) -> None:
    spec = stimulus_spec({"kind": "speech_in_noise", "noise_lead_ms": 200, "ramp_ms": 20})
    trial = Trial(index=0, x_db=-4.5, n_intervals=1, target_interval=None, catch=False,
                  n_words=5)
    r = render_trial(spec, trial, fs=16000.0, rng=rng)
    assert r.words is not None and len(r.words) == 5
    assert r.description["sentence"] == " ".join(r.words)
    on, off = r.description["speech_onset_samples"], r.description["speech_offset_samples"]
    assert on == round(0.2 * 16000) and r.n_samples - off == on
    assert r.signal_pa is not None and r.masker_pa is not None
    assert rms_db_spl(r.signal_pa[0, on:off]) == pytest.approx(65.0 - 4.5, abs=0.01)
    assert rms_db_spl(steady(r.masker_pa[0], r, 0, 20)) == pytest.approx(65.0, abs=0.01)
    assert not np.any(r.signal_pa[:, :on]) and not np.any(r.signal_pa[:, off:])


def test_same_rng_same_trial_and_seeds_recorded() -> None:
    spec = stimulus_spec({"kind": "tone_in_noise"})
    a = render_trial(spec, afc(50.0), fs=FS, rng=np.random.default_rng(3))
    b = render_trial(spec, afc(50.0), fs=FS, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a.pa, b.pa)
    assert a.description == b.description and "noise_seed" in a.description


def test_catch_trial_has_no_signal(rng: np.random.Generator) -> None:
    spec = stimulus_spec({"kind": "tone_in_noise"})
    trial = Trial(index=0, x_db=70.0, n_intervals=1, target_interval=None, catch=True)
    r = render_trial(spec, trial, fs=FS, rng=rng)
    assert r.signal_pa is not None and not np.any(r.signal_pa)
    assert r.masker_pa is not None and np.any(r.masker_pa)


def test_custom_module_beside_the_file(tmp_path: Path, rng: np.random.Generator) -> None:
    (tmp_path / "click.py").write_text(
        "import numpy as np\n"
        "def render(x_db, *, fs, rng, width):\n"
        "    x = np.zeros(int(0.1 * fs))\n"
        "    x[:width] = 10 ** (x_db / 20) * 2e-5\n"
        "    return x\n"
    )
    spec = stimulus_spec({"kind": "custom", "variable": "level_db_spl", "module": "click.py",
                          "params": {"width": 3}}, base_dir=tmp_path)
    r = render_trial(spec, afc(94.0, n=2, target=2), fs=FS, rng=rng)
    start = r.interval_onsets_samples[1]
    np.testing.assert_allclose(r.pa[:, start:start + 3], 2e-5 * 10 ** (94 / 20), rtol=1e-6)
    assert not np.any(r.pa[:, :r.interval_offsets_samples[0]])


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"kind": "tone", "loudness": 3}, r"stimulus.loudness is not a known key"),
        ({"frequency_hz": 1000}, r"stimulus.kind must be given"),
        ({"kind": "chirp"}, r"stimulus.kind must be one of 'tone'.*got 'chirp'"),
        ({"kind": "tone", "frequency_hz": "1k"},
         r"stimulus.frequency_hz must be a real number, got '1k'"),
        ({"kind": "tone", "frequency_hz": 50000},
         r"stimulus.frequency_hz must be in \[20, 20000\], got 50000"),
        ({"kind": "tone", "isi_ms": -1}, r"stimulus.isi_ms must be in \[0, 5000\], got -1"),
        ({"kind": "tone", "duration_ms": 100, "ramp_ms": 60},
         r"stimulus.ramp_ms must be in \[0, duration_ms / 2 = 50\], got 60"),
        ({"kind": "tone", "isi_ms": True}, r"stimulus.isi_ms must be a real number, got True"),
        ({"kind": "tone", "ramp_ms": float("nan")}, r"stimulus.ramp_ms must be in"),
        ({"kind": "sam", "variable": "snr_db"},
         r"stimulus.variable must be one of 'depth_db', 'level_db_spl', got 'snr_db'"),
        ({"kind": "noise", "noise": "brown"}, r"stimulus.noise must be one of"),
        ({"kind": "custom", "variable": "level_db_spl"}, r"stimulus.module must name"),
        ({"kind": "custom"}, r"stimulus.variable must be given for kind = 'custom'"),
        ({"kind": "custom", "variable": "snr_db", "module": "nowhere.py"},
         r"stimulus.module must be an existing file"),
        ({"kind": "notched_noise", "band_low_hz": 4000, "band_high_hz": 2000},
         r"stimulus.band_high_hz must be above band_low_hz"),
    ],
)
def test_bad_tables_name_the_key(table: dict[str, object], message: str,
                                 tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        stimulus_spec(table, base_dir=tmp_path)


def test_bad_render_arguments(rng: np.random.Generator) -> None:
    spec = stimulus_spec({"kind": "tone"})
    with pytest.raises(ConfigError, match=r"fs must be in \[8000, 384000\], got 10"):
        render_trial(spec, yes_no(10.0), fs=10, rng=rng)
    with pytest.raises(ConfigError, match="rng must be a numpy.random.Generator"):
        render_trial(spec, yes_no(10.0), fs=FS, rng=1)  # type: ignore[arg-type]
    with pytest.raises(CalibrationError, match="dB HL needs a calibration"):
        render_trial(spec, yes_no(10.0), fs=FS, rng=rng,
                     calibration=Calibration.uncalibrated_mode(2))


def _tone_limit_db_spl(ceiling: OutputCeiling, f_hz: float) -> float:
    """Highest tone level at f_hz on both channels that the ceiling lets through."""
    return min(float(ceiling.full_scale_db_spl_at(f_hz, c))
               + float(amplitude_to_db(ceiling.digital_peak[c])) for c in (0, 1))


def test_check_ceiling_refuses_a_reachable_tone_and_accepts_one_just_below() -> None:
    cal = load_calibration(EXAMPLE_CAL, max_age_days=1e6)
    ceiling = OutputCeiling.for_outputs(cal, 2)
    limit_hl = _tone_limit_db_spl(ceiling, 1000.0) - TDH39_RETSPL_1K
    spec = stimulus_spec({"kind": "tone", "frequency_hz": 1000})
    check_ceiling(spec, x_min_db=-10, x_max_db=limit_hl - 0.01, ceiling=ceiling, fs=FS)
    with pytest.raises(SafetyError, match="exceed the output ceiling"):
        check_ceiling(spec, x_min_db=-10, x_max_db=limit_hl + 0.01, ceiling=ceiling, fs=FS)
    # Over a set of frequencies the worst one decides.
    freqs = (250.0, 1000.0, 4000.0)
    worst = min(_tone_limit_db_spl(ceiling, f) - float(r)
                for f, r in zip(freqs, (25.5, TDH39_RETSPL_1K, TDH39_RETSPL_4K), strict=True))
    check_ceiling(spec, x_min_db=0, x_max_db=worst - 0.01, ceiling=ceiling, fs=FS,
                  frequencies_hz=freqs)
    with pytest.raises(SafetyError):
        check_ceiling(spec, x_min_db=0, x_max_db=worst + 0.01, ceiling=ceiling, fs=FS,
                      frequencies_hz=freqs)


def test_check_ceiling_of_tone_in_noise_and_bad_ranges() -> None:
    fs = 16000.0
    ceiling = OutputCeiling.for_outputs(Calibration.uncalibrated_mode(2), 2, fs=fs)
    # Uncalibrated: full scale = 100 dB SPL, ceiling -20 dBFS, i.e. a sine peak of 80 dB SPL.
    spec = stimulus_spec({"kind": "tone_in_noise", "variable": "snr_db",
                          "noise_level_db_spl": 50})
    check_ceiling(spec, x_min_db=-30, x_max_db=0, ceiling=ceiling, fs=fs)
    with pytest.raises(SafetyError, match="above the uncalibrated ceiling"):
        check_ceiling(spec, x_min_db=-30, x_max_db=35, ceiling=ceiling, fs=fs)
    with pytest.raises(ConfigError, match="x_min_db must be at most x_max_db"):
        check_ceiling(spec, x_min_db=5, x_max_db=0, ceiling=ceiling, fs=fs)
    with pytest.raises(ConfigError, match="a modulation depth must be at most 0 dB"):
        check_ceiling(stimulus_spec({"kind": "sam"}), x_min_db=-30, x_max_db=3,
                      ceiling=ceiling, fs=fs)


@pytest.mark.parametrize("kind", ["tone", "noise", "tone_in_noise", "notched_noise",
                                  "gap_in_noise", "sam", "speech_in_noise"])
def test_descriptions_are_json(kind: str, rng: np.random.Generator) -> None:
    spec = stimulus_spec({"kind": kind})
    if kind == "speech_in_noise":
        trial = Trial(index=0, x_db=0.0, n_intervals=1, target_interval=None, catch=False,
                      n_words=5)
    else:
        trial = afc({"gap_in_noise": 5.0, "sam": -6.0}.get(kind, 40.0), n=3, target=3)
    r = render_trial(spec, trial, fs=16000.0, rng=rng)
    assert json.loads(json.dumps(r.description)) == r.description
    assert json.loads(json.dumps(spec.describe())) == spec.describe()
    if kind not in ("tone", "noise", "speech_in_noise"):
        assert len(r.description["reference_noise_seeds"]) == 2  # one per reference interval


@pytest.mark.parametrize("name", ["audiolab.experiments._stimuli",
                                  "audiolab.experiments._simulated"])
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(("table", "x_db", "message"), [
    ({"kind": "tone"}, float("nan"), r"trial.x_db must be in \[-1000, 1000\], got nan"),
    ({"kind": "tone", "variable": "level_db_spl"}, 250.0,
     r"the tone's level_db_spl must be in \[-50, 200\], got 250"),
    ({"kind": "tone_in_noise", "variable": "snr_db"}, 150.0,
     r"the tone's level_db_spl must be in \[-50, 200\], got 215"),
    ({"kind": "noise"}, -80.0, r"the noise's level_db_spl must be in \[-50, 200\], got -80"),
    ({"kind": "gap_in_noise"}, -3.0, r"gap_ms must be in \[0, "),
    ({"kind": "speech_in_noise"}, 90.0, r"level_db_spl must be in \[-50, 140\], got 155"),
])
def test_hostile_variables_are_refused(table: dict[str, object], x_db: float, message: str,
                                       rng: np.random.Generator) -> None:
    spec = stimulus_spec(table)
    words = 5 if table["kind"] == "speech_in_noise" else None
    trial = Trial(index=0, x_db=x_db, n_intervals=1, target_interval=None, catch=False,
                  n_words=words)
    with pytest.raises(ConfigError, match=message):
        render_trial(spec, trial, fs=16000.0, rng=rng)


def test_custom_module_without_render_and_bad_output(tmp_path: Path,
                                                    rng: np.random.Generator) -> None:
    (tmp_path / "empty.py").write_text("x = 1\n")
    spec = stimulus_spec({"kind": "custom", "variable": "snr_db", "module": "empty.py"},
                         base_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"must define render\(x_db, \*, fs, rng, \*\*params\)"):
        render_trial(spec, yes_no(0.0), fs=FS, rng=rng)
    (tmp_path / "bad.py").write_text(
        "import numpy as np\n"
        "def render(x_db, *, fs, rng):\n"
        "    return np.full(10, np.nan)\n"
    )
    spec = stimulus_spec({"kind": "custom", "variable": "snr_db", "module": "bad.py"},
                         base_dir=tmp_path)
    with pytest.raises(ConfigError, match="bad.py: render must return a finite 1-D array"):
        render_trial(spec, yes_no(0.0), fs=FS, rng=rng)


def test_a_tone_at_or_above_half_the_rate_is_refused():
    # An 8 kHz tone at 16 kHz sampled at its zero crossings came out silent.
    from audiolab.experiments import Trial, render_trial, stimulus_spec

    spec = stimulus_spec({"kind": "tone", "frequency_hz": 8000, "duration_ms": 300})
    trial = Trial(index=0, x_db=60.0, n_intervals=1, target_interval=None, catch=False)
    with pytest.raises(ConfigError, match="below fs/2 = 8000 Hz"):
        render_trial(spec, trial, fs=16000, rng=np.random.default_rng(0))
    assert render_trial(spec, trial, fs=48000, rng=np.random.default_rng(0)).pa.any()
