"""Frequency-dependent output calibration (the engine's output equaliser) and tones in dB HL.

Offline: the equaliser against the calibration table and an independent frequency response
(scipy.signal.sosfreqz), a sweep of sines through the engine's C path, tones at 40 dB HL against
the ISO 389-1 RETSPL values, refusals, the meters, the C checks on equaliser coefficients, and
the ceiling under fuzzed equalisers. On the JACK dummy server (marked ``jack``): `audiolab play
--tone ... --record`, refusals from the command line, and `audiolab live` meters in dB SPL.
"""

import json
import math

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from audiolab import CalibrationError, ConfigError, SafetyError
from audiolab._ckernel import ffi, lib
from audiolab.calibration import (
    Calibration,
    ChannelCalibration,
    design_output_equalizer,
    parse_calibration,
    write_calibration,
)
from audiolab.cli import main
from audiolab.engine import Engine, rise_time_ms
from audiolab.models import GainStage

FS = 48000
FREQS = [125, 250, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000, 8000]
# A test transducer whose sensitivity falls off towards both ends (dB SPL of a full-scale sine).
TABLE = {
    0: [96.0, 101.5, 104.0, 105.5, 106.0, 104.5, 103.0, 101.0, 98.5, 94.0, 90.0],
    1: [97.0, 100.0, 103.5, 105.0, 107.0, 106.0, 102.0, 99.5, 99.0, 96.0, 91.5],
}
# RETSPL of the TDH-39 in dB re 20 uPa, ISO 389-1 (REFERENCE.md), at 250, 1000 and 4000 Hz.
TDH39_RETSPL = {250: 25.5, 1000: 7.0, 4000: 9.5}


def _cal(table=TABLE, ceiling_db_spl=100.0, transducer="TDH-39"):
    doc = {
        "device": "test", "host_api": "none", "transducer": transducer, "date": "2026-01-01",
        "operator": "pytest", "ceiling_db_spl": ceiling_db_spl,
        "channel": [
            {"index": i, "ear": ("left", "right")[i],
             "full_scale_db_spl": {str(f): v for f, v in zip(FREQS, levels, strict=True)}}
            for i, levels in table.items()
        ],
    }
    return parse_calibration(doc, max_age_days=1e6)


def _dbfs(x):
    """Digital RMS level re a full-scale sine (0 dBFS = RMS 1/sqrt 2)."""
    x = np.asarray(x, float)
    return 20 * np.log10(np.sqrt(np.mean(x * x, axis=-1)) * math.sqrt(2))


def _sine_dbfs(y, f):
    """Level in dBFS of the sine at ``f`` in each row (least-squares fit: any window length)."""
    t = np.arange(y.shape[-1]) / FS
    basis = np.stack([np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, np.atleast_2d(y).T.astype(float), rcond=None)
    return 20 * np.log10(np.hypot(coef[0], coef[1]))


def _play_offline(eng, stim_pa, channels):
    """Queue a stimulus at frame 0 of a fresh engine and return the digital output."""
    eng.configure(None)
    pb = eng.play(stim_pa, channels=channels, start_frame=eng.frame)
    y = eng.process_offline(n_frames=stim_pa.shape[-1] + 256, block_frames=256)
    eng.poll()
    assert pb.done
    return y


# -- the design ----------------------------------------------------------------------------------
@pytest.mark.parametrize("channel", [0, 1])
def test_equalizer_passes_through_every_measured_point(channel):
    """Gain = full_scale(1 kHz) - full_scale(f) at every measured f, checked with sosfreqz."""
    ch = _cal().channel(channel)
    eq = design_output_equalizer(ch, fs=FS)
    _, h = scipy.signal.sosfreqz(eq.sos, worN=np.array(FREQS, float), fs=FS)
    wanted = ch.full_scale_db_spl_at(1000) - np.array(TABLE[channel])
    np.testing.assert_allclose(20 * np.log10(np.abs(h)), wanted, atol=1e-6)
    assert eq.error_at_points_db < 1e-6
    assert 0 < eq.n_sections <= int(lib.AL_ENGINE_MAX_EQ_SECTIONS)


def test_equalizer_error_between_and_outside_is_what_it_reports():
    """The stated accuracy between measured points and beyond them, recomputed independently."""
    ch = _cal().channel(0)
    eq = design_output_equalizer(ch, fs=FS)
    f = np.geomspace(125, 8000, 3000)
    _, h = scipy.signal.sosfreqz(eq.sos, worN=f, fs=FS)
    realised_fs_db = ch.full_scale_db_spl_at(1000) - 20 * np.log10(np.abs(h))
    dev = np.abs(realised_fs_db - ch.full_scale_db_spl_at(f))
    assert dev.max() <= eq.error_between_db + 1e-3
    assert eq.error_between_db < 0.5  # the bar for a smooth table like this one
    # Held flat beyond the range: within an octave of each end, and far out.
    lo, hi = np.geomspace(62.5, 125, 50), np.geomspace(8000, 16000, 50)
    for fr, end in ((lo, 96.0), (hi, 90.0)):
        _, h = scipy.signal.sosfreqz(eq.sos, worN=fr, fs=FS)
        held = 106.0 - 20 * np.log10(np.abs(h))
        assert np.abs(held - end).max() <= eq.error_outside_db + 1e-3
    assert eq.error_outside_db < 1.0
    d = eq.describe()
    assert d["held_flat_below_hz"] == 125 and d["held_flat_above_hz"] == 8000
    json.dumps(d)


def test_equalizer_is_minimum_phase_so_the_meter_model_is_stable():
    eq = design_output_equalizer(_cal().channel(1), fs=FS)
    for b0, b1, b2, _a0, a1, a2 in eq.sos:
        assert np.all(np.abs(np.roots([1, a1, a2])) < 1)
        assert np.all(np.abs(np.roots([b0, b1, b2])) < 1)


def test_flat_calibrations_need_no_equaliser():
    uncalibrated = Calibration.uncalibrated_mode(1).channel(0)
    assert design_output_equalizer(uncalibrated, fs=FS).n_sections == 0
    one_point = ChannelCalibration(0, "left", np.array([1000.0]), np.array([100.0]))
    assert design_output_equalizer(one_point, fs=FS).n_sections == 0


def test_frequencies_near_nyquist_are_left_out_and_recorded():
    ch = _cal().channel(0)
    eq = design_output_equalizer(ch, fs=16000)  # 0.45 fs = 7200 Hz: 8000 Hz is left out
    assert eq.ignored_frequencies_hz == (8000.0,)
    assert eq.frequencies_hz[-1] == 6000.0 and eq.error_at_points_db < 1e-6


def test_a_table_too_steep_to_follow_is_refused_naming_the_slope():
    ch = ChannelCalibration(0, "left", np.array([1000.0, 2000.0]), np.array([60.0, 120.0]))
    with pytest.raises(CalibrationError, match=r"60.0 dB per octave between 1000 and 2000 Hz"):
        design_output_equalizer(ch, fs=FS)


# -- the engine's C path: sweep, tones, meters ----------------------------------------------------
def test_sine_sweep_leaves_the_engine_at_the_calibrated_digital_level():
    """A 70 dB SPL sine at f leaves at 70 - full_scale(f) dBFS (issue 5: 0.1 dB at measured f)."""
    cal = _cal()
    eng = Engine(fs=FS, n_inputs=0, n_outputs=2, calibration=cal)
    between_db = np.array([eng.ceiling.equalizers[c].error_between_db for c in (0, 1)])
    between = [float(np.sqrt(a * b)) for a, b in zip(FREQS[:-1], FREQS[1:], strict=True)]
    n = FS // 5
    t = np.arange(n) / FS
    for f in FREQS + between:
        amp = math.sqrt(2) * 20e-6 * 10 ** (70 / 20)
        stim = (amp * np.sin(2 * np.pi * f * t)).astype(np.float32)
        y = _play_offline(eng, np.vstack([stim, stim]), [0, 1])
        got = _sine_dbfs(y[:, FS // 20: n], f)  # after the equaliser's onset transient
        want = 70.0 - np.array([cal.channel(c).full_scale_db_spl_at(f) for c in (0, 1)])
        tol = 1e-3 if f in FREQS else between_db + 0.01
        assert np.all(np.abs(got - want) <= tol), (f, got, want)


@pytest.mark.parametrize("f", [250, 1000, 4000])
def test_tone_at_40_db_hl_has_the_iso_389_digital_level(f):
    """level_dbfs = HL + RETSPL(f) - cal_db_spl(f), RETSPL from ISO 389-1 (TDH-39)."""
    eng = Engine(fs=FS, n_inputs=0, n_outputs=2, calibration=_cal())
    tone = eng.tone(frequency_hz=f, level_db_hl=40.0, duration_s=0.4, channels=[0, 1])
    want = np.array([40.0 + TDH39_RETSPL[f] - TABLE[c][FREQS.index(f)] for c in (0, 1)])
    assert tone.level_db_spl == pytest.approx(40.0 + TDH39_RETSPL[f])
    np.testing.assert_allclose(tone.level_dbfs, want, atol=1e-6)
    y = _play_offline(eng, tone.stimulus_pa, list(tone.channels))
    ramp = int(tone.ramp_ms * 1e-3 * FS)
    steady = y[:, ramp + 480: tone.n_frames - ramp]
    np.testing.assert_allclose(_sine_dbfs(steady, f), want, atol=0.01)
    np.testing.assert_allclose(_dbfs(steady), want, atol=0.05)  # RMS over a non-integer window


def test_tone_shape_raised_cosine_ramps_and_iec_rise_time():
    eng = Engine(fs=FS, n_inputs=0, n_outputs=1, calibration=_cal({0: TABLE[0]}))
    tone = eng.tone(frequency_hz=1000, level_db_spl=60.0, duration_s=0.5, channels=[0],
                    ramp_ms=50.0)
    x = tone.stimulus_pa[0].astype(float)
    assert tone.n_frames == 24000 and x.shape == (24000,)
    peak = math.sqrt(2) * 20e-6 * 10 ** (60 / 20)
    env = np.abs(scipy.signal.hilbert(x)) / peak
    assert np.abs(env[3000:21000] - 1).max() < 1e-3  # steady part at 60 dB SPL
    # IEC 60645-1 rise time: envelope from -20 dB to -1 dB; a cos^2 ramp of T has 0.581 T.
    t20 = np.argmax(env > 10 ** (-20 / 20)) / FS
    t1 = np.argmax(env > 10 ** (-1 / 20)) / FS
    assert (t1 - t20) * 1e3 == pytest.approx(rise_time_ms(50.0), abs=0.5)
    assert 20 <= rise_time_ms(50.0) <= 50  # the default lies in IEC 60645-1's 20-50 ms
    assert abs(x[0]) < 1e-3 * peak and abs(x[-1]) < 1e-3 * peak


def test_meters_read_the_pressure_at_any_frequency():
    """Meters run the clamped output through the inverse equaliser: a 4 kHz sine reads its SPL."""
    eng = Engine(fs=FS, n_inputs=0, n_outputs=2, calibration=_cal())
    tone = eng.tone(frequency_hz=4000, level_db_spl=75.0, duration_s=0.5, channels=[0, 1],
                    ramp_ms=5.0)
    _play_offline(eng, tone.stimulus_pa, [0, 1])
    rms, peak = eng.stats.meters(last_s=0.25)
    s = eng.summary()
    np.testing.assert_allclose(peak, 75.0, atol=0.01)
    np.testing.assert_allclose(s["max_output_db_spl"], 75.0, atol=0.01)
    assert rms[0] < 75.0  # the meter window holds the offset ramp and silence too
    eq = s["output_equalizer"][0]
    assert eq["n_sections"] > 0 and eq["max_error_at_measured_db"] < 1e-6
    assert s["ceiling_db_spl"] == pytest.approx([100.0, 100.0], abs=1e-4)
    json.dumps(s)


def test_limited_output_through_a_gain_clamps_at_the_ceiling(rng):
    """A huge gain before a non-flat equaliser: the digital output stays at the ceiling."""
    eng = Engine(fs=FS, n_inputs=2, n_outputs=2, calibration=_cal())
    eng.configure([GainStage(gain_db=60.0, fs=FS)])
    y = eng.process_offline((0.1 * rng.standard_normal((2, 4000))).astype(np.float32))
    assert np.all(np.abs(y) <= eng.ceiling.digital_peak[:, None])
    assert eng.summary()["limited_samples"] > 0


# -- refusals before playback ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        ({"frequency_hz": 4000, "level_db_hl": 95.0}, SafetyError,
         r"4000 Hz tone at 95 dB HL \(104.5 dB SPL\) would exceed the output ceiling on channel 0 "
         r"by 12.0 dB"),
        ({"frequency_hz": 100, "level_db_hl": 40.0}, CalibrationError,
         "outside the range of the TDH-39 RETSPL table"),
        ({"frequency_hz": 10000, "level_db_spl": 60.0}, CalibrationError,
         "outside the range of output channel 0's calibration"),
        ({"frequency_hz": 24000, "level_db_spl": 60.0}, ConfigError, "frequency_hz"),
        ({"frequency_hz": 1000}, ConfigError, "exactly one of level_db_hl and level_db_spl"),
        ({"frequency_hz": 1000, "level_db_hl": 40, "level_db_spl": 40}, ConfigError, "exactly one"),
        ({"frequency_hz": 1000, "level_db_hl": math.nan}, ConfigError, "level_db_hl"),
        ({"frequency_hz": 1000, "level_db_hl": 40, "ramp_ms": 300}, ConfigError, "ramp_ms"),
        ({"frequency_hz": 1000, "level_db_hl": 40, "channels": [0, 0]}, ConfigError, "distinct"),
    ],
)
def test_tone_refusals_are_one_clear_error(kwargs, exc, words):
    eng = Engine(fs=FS, n_inputs=0, n_outputs=2, calibration=_cal())
    kw = {"duration_s": 0.5, "channels": [0], **kwargs}
    with pytest.raises(exc, match=words):
        eng.tone(**kw)


def test_db_hl_needs_a_transducer_with_a_retspl_table():
    for cal in (Calibration.uncalibrated_mode(1), _cal({0: TABLE[0]}, transducer="free-field")):
        eng = Engine(fs=FS, n_inputs=0, n_outputs=1, calibration=cal)
        with pytest.raises(CalibrationError, match="RETSPL"):
            eng.tone(frequency_hz=1000, level_db_hl=20.0, duration_s=0.5, channels=[0])
        eng.tone(frequency_hz=1000, level_db_spl=60.0, duration_s=0.5, channels=[0])


def test_planned_level_of_a_signal_goes_through_the_equaliser():
    """4 kHz is 7.5 dB less sensitive than 1 kHz on channel 0: a pressure 6 dB under the ceiling
    at 1 kHz needs 1.5 dB more digital level than the ceiling allows at 4 kHz."""
    eng = Engine(fs=FS, n_inputs=0, n_outputs=2, calibration=_cal())
    t = np.arange(FS // 5) / FS
    ramp = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02)
    amp = 0.5 * eng.ceiling.peak_pa(0)  # 6.02 dB under the ceiling at the most sensitive f
    eng.play((amp * ramp * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), channels=[0])
    with pytest.raises(SafetyError, match="channel 0 by") as err:
        eng.play((amp * ramp * np.sin(2 * np.pi * 4000 * t)).astype(np.float32), channels=[0])
    over_db = float(str(err.value).split(" by ")[1].split(" dB")[0])
    # The planned peak is a sample peak: a 4 kHz sine at 48 kHz (12 samples per period) may
    # peak up to 20 log10(cos(pi / 12)) = -0.3 dB below its true peak.
    assert 7.5 - 6.02 - 0.35 <= over_db <= 7.5 - 6.02 + 0.05


def test_c_init_refuses_unstable_or_non_minimum_phase_equalisers():
    size = int(lib.al_engine_sizeof())
    mem = ffi.new("char[]", size + 64)
    e = ffi.cast("al_engine *", (int(ffi.cast("uintptr_t", mem)) + 63) & ~63)
    ones = ffi.new("float[]", [1.0])
    work = ffi.new("float[]", 64)
    stats = ffi.new("al_block_stats[]", 16)

    def init(sos, n_sections):
        return lib.al_engine_init(e, 0, 1, 64, 48000.0, ones, ones, ones,
                                  ffi.new("double[]", sos), ffi.new("int32_t[]", [n_sections]),
                                  work, stats, 16, ffi.NULL, 16, ffi.NULL, 16)

    assert init([0.5, 0.1, 0.0, 1.0, -0.5, 0.2], 1) == lib.AL_OK
    assert init([1.0, 0.0, 0.0, 1.0, -2.1, 1.2], 1) == lib.AL_ERR_VALUE  # pole outside
    assert init([1.0, -2.5, 1.5, 1.0, 0.0, 0.0], 1) == lib.AL_ERR_VALUE  # zero outside
    assert init([1.0, 0.0, 0.0, 2.0, 0.0, 0.0], 1) == lib.AL_ERR_VALUE  # a0 != 1
    assert init([math.nan, 0.0, 0.0, 1.0, 0.0, 0.0], 1) == lib.AL_ERR_VALUE
    assert init([1.0, 0.0, 0.0, 1.0, 0.0, 0.0], 65) == lib.AL_ERR_SIZE


def test_ceiling_holds_with_fuzzed_equalisers(rng):
    """EQ + ceiling: random frequency-dependent calibrations, gains up to +80 dB, hostile
    samples, random block sizes; no output sample above the ceiling, NaN/inf -> silence."""
    n_cases = 0
    for _ in range(8):
        table = {c: list(rng.uniform(85, 115) + np.cumsum(rng.normal(0, 2.0, len(FREQS))))
                 for c in (0, 1)}
        eng = Engine(fs=FS, n_inputs=2, n_outputs=2, calibration=_cal(
            table, ceiling_db_spl=float(rng.uniform(60, 120))), max_block_frames=256,
            stats_capacity=1 << 10, record_capacity_frames=16)
        bound = eng.ceiling.digital_peak.astype(np.float64)[:, None]
        for _ in range(40):
            eng.configure([GainStage(gain_db=float(rng.uniform(-40, 80)), fs=FS)])
            x = (rng.standard_normal((2, int(rng.integers(1, 3000))))
                 * 10 ** rng.uniform(-5, 1)).astype(np.float32)
            mask = rng.random(x.shape) < 0.01
            x[mask] = rng.choice(np.array([np.nan, np.inf, -np.inf, 3e38], np.float32),
                                 int(mask.sum()))
            y = eng.process_offline(x, block_frames=int(rng.integers(1, 600)))
            assert np.isfinite(y).all() and np.all(np.abs(y) <= bound)
            n_cases += 1
    assert n_cases == 320


# -- on the JACK dummy server ---------------------------------------------------------------------
jack = pytest.mark.jack


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("AUDIOLAB_CALIBRATION_MAX_AGE_DAYS", "100000")


@pytest.fixture
def cal_file(tmp_path):
    path = tmp_path / "lab.toml"
    write_calibration(_cal(), path)
    return path


@jack
@pytest.mark.parametrize("f", [250, 1000, 4000])
def test_play_tone_in_db_hl_records_the_iso_389_level(server, tmp_path, cal_file, capsys, f):
    """What leaves the ceiling (--record): HL + RETSPL(f) - cal_db_spl(f) dBFS, live."""
    rec = tmp_path / "tone.wav"
    code = main(["play", "--tone", str(f), "--level-db-hl", "40", "--duration", "0.4",
                 "--calibration", str(cal_file), "--channels", "0,1", "--record", str(rec),
                 "--json"])
    assert code == 0, capsys.readouterr().err
    r = json.loads(capsys.readouterr().out)
    want = np.array([40.0 + TDH39_RETSPL[f] - TABLE[c][FREQS.index(f)] for c in (0, 1)])
    assert r["level_db_hl"] == 40.0 and r["level_db_spl"] == pytest.approx(40 + TDH39_RETSPL[f])
    np.testing.assert_allclose(r["level_dbfs"], want, atol=1e-6)
    assert r["frames"] == r["n_frames"] == 19200 and r["limited_samples"] == 0
    y, fs = sf.read(rec, dtype="float32")
    manifest = json.loads((tmp_path / "tone.wav.json").read_text())
    start = r["start_frame"] - manifest["first_frame"]
    ramp = int(r["ramp_ms"] * 1e-3 * fs)
    steady = y[start + ramp + 480: start + r["n_frames"] - ramp].T
    np.testing.assert_allclose(_dbfs(steady), want, atol=0.01)
    assert manifest["output_equalizer"][0]["max_error_at_measured_db"] < 1e-6


@jack
@pytest.mark.parametrize("argv, words", [
    (["--tone", "4000", "--level-db-hl", "95"], "would exceed the output ceiling on channel 0"),
    (["--tone", "100", "--level-db-hl", "40"], "outside the range of the TDH-39 RETSPL table"),
    (["--tone", "1000", "--level-db-hl", "40", "--uncalibrated"], "RETSPL"),
])
def test_play_tone_refusals_are_one_line_and_exit_2(server, cal_file, capsys, argv, words):
    if "--uncalibrated" not in argv:
        argv = [*argv, "--calibration", str(cal_file)]
    assert main(["play", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("audiolab play: error: ") and words in err[0], err


@jack
def test_live_meters_read_db_spl_away_from_1_khz(server, tmp_path, cal_file, capsys):
    stats = tmp_path / "stats.json"
    assert main(["live", "--calibration", str(cal_file), "--source", "tone:4000",
                 "--level-db-spl", "70", "--duration", "1", "--quiet",
                 "--stats-json", str(stats)]) == 0
    s = json.loads(stats.read_text())
    # The looping tone starts abruptly; the meters see the pressure itself (the inverse of the
    # equaliser undoes it), so even the onset peak reads the sine's 70 dB SPL.
    np.testing.assert_allclose(s["max_output_db_spl"], 70.0, atol=0.02)
    np.testing.assert_allclose(s["rms_output_db_spl"], 70.0, atol=0.05)
    assert [e["channel"] for e in s["output_equalizer"]] == [0, 1]


def test_a_finite_signal_too_loud_for_float32_is_refused_as_too_loud():
    eng = Engine(fs=FS, n_inputs=0, n_outputs=2, calibration=_cal())
    with pytest.raises(SafetyError, match="would exceed the output ceiling on channel 1"):
        eng.play(np.full((1, 64), 3e38, np.float32), channels=[1])
