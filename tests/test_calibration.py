"""Calibration: RETSPL tables against ISO 389, conversions, strict file validation, the ceiling."""

import copy
import datetime as dt
import math
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest

from audiolab import CalibrationError, ConfigError, SafetyError, SignalError
from audiolab.calibration import (
    RETSPL_TABLES,
    Calibration,
    CalibrationAgeWarning,
    OutputCeiling,
    db_hl_to_db_spl,
    db_hl_to_dbfs,
    db_spl_to_db_hl,
    db_spl_to_dbfs,
    dbfs_to_db_hl,
    dbfs_to_db_spl,
    load_calibration,
    parse_calibration,
    retspl_table,
    sine_peak_pa,
    write_calibration,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "calibration" / "example.toml"
TODAY = dt.date(2026, 2, 1)
FREQS = [125, 250, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000, 8000]

# RETSPL in dB re 20 uPa as published (REFERENCE.md):
# ISO 389-1 (TDH-39), ISO 389-8 (HDA 200), ISO 389-2 (ER-3A, HA-2 coupler and IEC 711 simulator).
PUBLISHED = {
    "TDH-39": [45.0, 25.5, 11.5, 7.5, 7.0, 6.5, 9.0, 10.0, 9.5, 15.5, 13.0],
    "HDA-200": [30.5, 18.0, 11.0, 6.0, 5.5, 5.5, 4.5, 2.5, 9.5, 17.0, 17.5],
    "ER-3A/HA-2": [26.0, 14.0, 5.5, 2.0, 0.0, 2.0, 3.0, 3.5, 5.5, 2.0, 0.0],
    "ER-3A/IEC-711": [28.0, 17.5, 9.5, 6.0, 5.5, 9.5, 11.5, 13.0, 15.0, 16.0, 15.5],
}
STANDARD = {"TDH-39": "ISO 389-1", "HDA-200": "ISO 389-8", "ER-3A/HA-2": "ISO 389-2",
            "ER-3A/IEC-711": "ISO 389-2"}


def _doc() -> dict:
    return tomllib.loads(EXAMPLE.read_text())


# -- RETSPL ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_retspl_tables_match_published_values(name):
    table = retspl_table(name)
    assert table.standard == STANDARD[name]
    assert table.coupler
    np.testing.assert_array_equal(table.frequencies_hz, FREQS)
    # exact to 0.01 dB, at the table entries and through the public conversion
    np.testing.assert_allclose(table.at(FREQS), PUBLISHED[name], atol=0.01, rtol=0)
    spl = db_hl_to_db_spl(np.zeros(len(FREQS)), frequency_hz=FREQS, transducer=name)
    np.testing.assert_allclose(spl, PUBLISHED[name], atol=0.01, rtol=0)


def test_all_four_tables_ship():
    assert set(RETSPL_TABLES) == set(PUBLISHED)


def test_retspl_name_is_case_insensitive_and_unknown_is_refused():
    assert retspl_table("tdh-39").name == "TDH-39"
    with pytest.raises(CalibrationError, match="TDH-39"):
        retspl_table("TDH-49")
    with pytest.raises(CalibrationError, match="free-field"):
        retspl_table("free-field")


def test_retspl_interpolates_on_log_frequency_and_refuses_outside():
    t = retspl_table("TDH-39")
    # Geometric mean of 1 and 2 kHz is halfway on log frequency: mean of 7.0 and 9.0... minus 1.5k
    # is tabulated, so use 2k-3k: sqrt(6e6) lies halfway between 2000 and 3000 on a log axis.
    assert float(t.at(math.sqrt(2000 * 3000))) == pytest.approx((9.0 + 10.0) / 2, abs=1e-9)
    with pytest.raises(CalibrationError, match="outside"):
        t.at(100.0)
    with pytest.raises(CalibrationError, match="outside"):
        t.at(10000.0)


def test_hl_spl_round_trip(rng):
    f = rng.uniform(125, 8000, 50)
    hl = rng.uniform(-10, 120, 50)
    spl = db_hl_to_db_spl(hl, frequency_hz=f, transducer="HDA-200")
    np.testing.assert_allclose(db_spl_to_db_hl(spl, frequency_hz=f, transducer="HDA-200"), hl)


# -- conversions with a calibration ---------------------------------------------------------------
def test_hl_to_dbfs_worked_example():
    # level_dbfs = HL + RETSPL(f) - cal_db_spl(f) (REFERENCE.md): TDH-39 at 1 kHz has RETSPL
    # 7.0 dB; the example file gives 107.0 dB SPL at full scale on channel 0.
    cal = load_calibration(EXAMPLE, today=TODAY)
    kw = {"calibration": cal, "channel": 0}
    assert float(db_hl_to_dbfs(40.0, frequency_hz=1000, **kw)) == pytest.approx(-60.0)
    # 4 kHz: 40 + 9.5 - 103.0
    assert float(db_hl_to_dbfs(40.0, frequency_hz=4000, **kw)) == pytest.approx(-53.5)
    assert float(dbfs_to_db_hl(-53.5, frequency_hz=4000, **kw)) == pytest.approx(40.0)
    kw = {"calibration": cal, "channel": 1}
    assert float(db_spl_to_dbfs(97.2, frequency_hz=1000, **kw)) == pytest.approx(-10.0)
    assert float(dbfs_to_db_spl(-10.0, frequency_hz=1000, **kw)) == pytest.approx(97.2)


def test_calibration_interpolates_on_log_frequency_and_says_where_it_stops():
    cal = load_calibration(EXAMPLE, today=TODAY)
    ch = cal.channel(0)
    # halfway between 4 and 6 kHz on a log axis: the mean of 103.0 and 99.4
    assert float(ch.full_scale_db_spl_at(math.sqrt(4000 * 6000))) == pytest.approx(101.2)
    with pytest.raises(CalibrationError, match="outside.*extrapolate"):
        ch.full_scale_db_spl_at(10000)


def test_frequency_correction_is_the_output_equalisers_target():
    cal = load_calibration(EXAMPLE, today=TODAY)
    # channel 0: 107.0 dB at 1 kHz (the reference), 103.0 at 4 kHz -> +4 dB needed at 4 kHz
    assert float(cal.frequency_correction_db(0, 4000)) == pytest.approx(4.0)
    assert float(cal.frequency_correction_db(0, 1000)) == pytest.approx(0.0)


def test_free_field_converts_spl_but_not_hl():
    doc = _doc()
    doc["transducer"] = "free-field"
    cal = parse_calibration(doc, today=TODAY)
    level_dbfs = db_spl_to_dbfs(87.0, frequency_hz=1000, calibration=cal, channel=0)
    assert float(level_dbfs) == pytest.approx(-20.0)
    with pytest.raises(CalibrationError, match="free-field"):
        db_hl_to_dbfs(40.0, frequency_hz=1000, calibration=cal, channel=0)


def test_uncalibrated_channel_is_refused():
    cal = load_calibration(EXAMPLE, today=TODAY)
    with pytest.raises(CalibrationError, match="channel 5 is not calibrated"):
        cal.channel(5)


# -- the file -------------------------------------------------------------------------------------
def test_example_file_loads_completely():
    cal = load_calibration(EXAMPLE, today=TODAY)
    assert cal.transducer == "TDH-39"
    assert cal.ceiling_db_spl == 100.0
    assert [c.index for c in cal.channels] == [0, 1]
    assert [c.ear for c in cal.channels] == ["left", "right"]
    assert cal.channel(0).frequencies_hz.tolist() == FREQS
    assert len(cal.sha256) == 64
    assert cal.summary()["date"] == "2026-01-15"


def test_write_and_load_round_trip(tmp_path):
    cal = load_calibration(EXAMPLE, today=TODAY)
    out = tmp_path / "cal.toml"
    write_calibration(cal, out)
    back = load_calibration(out, today=TODAY)
    for a, b in zip(cal.channels, back.channels, strict=True):
        assert a.index == b.index and a.ear == b.ear
        np.testing.assert_array_equal(a.frequencies_hz, b.frequencies_hz)
        np.testing.assert_allclose(a.full_scale_db_spl, b.full_scale_db_spl)
    assert (back.device, back.transducer, back.date, back.ceiling_db_spl) == (
        cal.device, cal.transducer, cal.date, cal.ceiling_db_spl)


def _mutate(path, value):
    doc = _doc()
    target = doc
    for k in path[:-1]:
        target = target[k]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


_DELETE = object()
_FS = ("channel", 0, "full_scale_db_spl")


@pytest.mark.parametrize(
    "path, value, words",
    [
        (("colour",), "red", "unknown key colour"),
        (("channel", 0, "gain"), 3, r"unknown key channel\[0\].gain"),
        (("device",), _DELETE, "missing key device"),
        (("operator",), _DELETE, "missing key operator"),
        (("channel", 1, "ear"), _DELETE, r"missing key channel\[1\].ear"),
        (("channel",), _DELETE, "missing key channel"),
        (("device",), "", "device must be a non-empty string"),
        (("host_api",), 3, "host_api must be a non-empty string"),
        (("transducer",), "TDH-50", "transducer must be one of"),
        (("date",), "yesterday", "date must be a date"),
        (("date",), dt.date(2099, 1, 1), "in the future"),
        (("ceiling_db_spl",), 200.0, r"ceiling_db_spl must be in \(0, 140\]"),
        (("ceiling_db_spl",), "loud", "ceiling_db_spl must be in"),
        (("ceiling_db_spl",), math.nan, "ceiling_db_spl must be in"),
        (("channel",), [], "channel must be a non-empty array"),
        (("channel", 0, "ear"), "both", r"channel\[0\].ear must be one of"),
        (("channel", 0, "index"), -1, r"channel\[0\].index must be an integer"),
        (("channel", 0, "index"), 1.5, r"channel\[0\].index must be an integer"),
        (("channel", 1, "index"), 0, "channel index 0 appears twice"),
        ((*_FS,), {}, r"channel\[0\].full_scale_db_spl must be a non-empty"),
        ((*_FS, "1k"), 100.0, "has key '1k'"),
        ((*_FS, "0"), 100.0, "has key '0'"),
        ((*_FS, "1000"), "x", r'full_scale_db_spl\["1000"\] must be a number'),
        ((*_FS, "1000"), 500.0, r'full_scale_db_spl\["1000"\] must be in'),
        ((*_FS, "1000"), math.inf, r'full_scale_db_spl\["1000"\] must be in'),
    ],
)
def test_bad_files_name_the_key(path, value, words):
    doc = _mutate(path, value)
    with pytest.raises(CalibrationError, match=words):
        parse_calibration(copy.deepcopy(doc), source="bad.toml", today=TODAY)


def test_error_names_the_file(tmp_path):
    p = tmp_path / "lab.toml"
    p.write_text(EXAMPLE.read_text().replace('ear = "left"', 'ear = "lft"'))
    with pytest.raises(CalibrationError, match=r"lab.toml: channel\[0\].ear"):
        load_calibration(p, today=TODAY)


def test_missing_and_non_toml_files(tmp_path):
    with pytest.raises(CalibrationError, match="cannot read calibration file"):
        load_calibration(tmp_path / "none.toml")
    p = tmp_path / "x.toml"
    p.write_text("device = \n")
    with pytest.raises(CalibrationError, match="not a valid TOML"):
        load_calibration(p)


def test_old_calibration_warns_with_configurable_age(monkeypatch):
    with pytest.warns(CalibrationAgeWarning, match="days old"):
        load_calibration(EXAMPLE, today=dt.date(2027, 6, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_calibration(EXAMPLE, today=dt.date(2027, 6, 1), max_age_days=1000)
        load_calibration(EXAMPLE, today=TODAY)
    monkeypatch.setenv("AUDIOLAB_CALIBRATION_MAX_AGE_DAYS", "7")
    with pytest.warns(CalibrationAgeWarning, match="allowed 7 days"):
        load_calibration(EXAMPLE, today=TODAY)


# -- the ceiling ----------------------------------------------------------------------------------
def test_ceiling_formula_uses_most_sensitive_frequency():
    cal = load_calibration(EXAMPLE, today=TODAY)
    ceil = OutputCeiling.for_outputs(cal, 3)
    # channel 0 is most sensitive at 1 kHz (107.0), channel 1 too (107.2); ceiling 100 dB SPL
    assert float(ceil.digital_peak[0]) == pytest.approx(10 ** ((100 - 107.0) / 20), rel=1e-6)
    assert float(ceil.digital_peak[1]) == pytest.approx(10 ** ((100 - 107.2) / 20), rel=1e-6)
    assert float(ceil.digital_peak[2]) == 0.0  # not calibrated: muted
    assert float(ceil.digital_peak[0]) <= 10 ** ((100 - 107.0) / 20)  # rounded down in float32
    # |p| <= sqrt(2) * 20 uPa * 10^(ceiling/20) at the most sensitive frequency (issue 5)
    bound = math.sqrt(2) * 20e-6 * 10 ** (100 / 20)
    assert sine_peak_pa(100.0) == pytest.approx(bound)
    assert ceil.peak_pa(0) == pytest.approx(bound, rel=1e-6)


def test_uncalibrated_mode_ceiling_is_minus_20_dbfs():
    ceil = OutputCeiling.for_outputs(Calibration.uncalibrated_mode(2), 2)
    np.testing.assert_allclose(20 * np.log10(ceil.digital_peak.astype(float)), -20.0, atol=1e-5)


def test_planned_level_check_refuses_before_playback():
    cal = load_calibration(EXAMPLE, today=TODAY)
    ceil = OutputCeiling.for_outputs(cal, 2)
    ceil.check_tone(99.9, 1000, 0)
    # The digital ceiling holds at the most sensitive frequency (1 kHz, 107 dB SPL at full
    # scale), so at 4 kHz (103 dB SPL at full scale) a tone may reach only 100 - 4 dB SPL.
    ceil.check_tone(95.9, 4000, 0)
    with pytest.raises(SafetyError, match=r"by 0.1 dB.*-7.0 dBFS.*1000 Hz"):
        ceil.check_tone(96.1, 4000, 0)
    with pytest.raises(SafetyError, match=r"by 0.5 dB: the ceiling of 100 dB SPL.*at least 0.5 dB"):
        ceil.check_tone(100.5, 1000, 0)
    # A signal's planned digital level is the signal through the output equaliser, which
    # needs the sample rate.
    t = np.arange(4800) / 48000
    ok = 0.99 * ceil.peak_pa(0) * np.sin(2 * np.pi * 1000 * t)
    with pytest.raises(ConfigError, match="fs="):
        ceil.check_signal_pa(ok[None, :], [0])
    ceil = OutputCeiling.for_outputs(cal, 2, fs=48000)
    ramp = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)  # no onset click for the EQ to boost
    ceil.check_signal_pa((ok * ramp)[None, :], [0])
    with pytest.raises(SafetyError, match="ceiling on channel 1 by 1.5 dB"):
        ceil.check_signal_pa(np.vstack([ok, 1.2 * ok]) * ramp, [0, 1])
    with pytest.raises(SafetyError, match="NaN"):
        ceil.check_signal_pa(np.array([[0.0, np.nan]]), [0])
    with pytest.raises(SafetyError, match="does not calibrate"):
        OutputCeiling.for_outputs(cal, 3, fs=48000).check_signal_pa(np.ones((1, 4)) * 1e-6, [2])


def test_level_setting_is_the_rms_over_all_channels_together():
    # One meaning of "X dB SPL" for every command: a stereo signal whose right channel is
    # 10 dB below its left keeps that difference, and its mean power is that of X dB SPL.
    from audiolab.calibration import P_REF_PA, scale_to_db_spl

    t = np.arange(4800) / 48000
    left = np.sin(2 * np.pi * 1000 * t)
    x = np.stack([left, left * 10 ** (-10 / 20)])
    y = scale_to_db_spl(x, 65.0).astype(np.float64)
    ms = np.mean(y * y, axis=1)
    overall_db = 10 * np.log10(np.mean(ms) / P_REF_PA**2)
    assert abs(overall_db - 65.0) < 1e-3
    assert abs(10 * np.log10(ms[0] / ms[1]) - 10.0) < 1e-3
    with pytest.raises(SignalError, match="x.wav is silent"):
        scale_to_db_spl(np.zeros((2, 10)), 65.0, what="x.wav")
