"""The fitting view's model (Qt-free): edits, refusals, curves, files and the exported chain."""

import json

import numpy as np
import pytest
import soundfile as sf
from cli_run import run_cli

from audiolab._errors import ConfigError
from audiolab.audiology import STANDARD_AUDIOGRAMS, read_audiogram
from audiolab.gui._fitting_model import (
    GRID_FREQUENCIES_HZ,
    FittingModel,
    audiogram_format_of,
    compute_curves,
    is_chain_file,
    looks_like_audiogram,
)
from audiolab.models import fit_ear_settings, fit_hearing_aid, load_chain


def _at(curves, side, f_hz):
    """Value of a dense curve of ``side`` nearest ``f_hz``."""
    i = int(np.argmin(np.abs(np.log(curves.frequencies_hz / f_hz))))
    return curves.target_gain_db[side][i], curves.realised_gain_db[side][i]


def test_the_model_fits_what_the_library_fits():
    m = FittingModel("N3", rule="nal-r", compression="wdrc")
    ref = fit_hearing_aid("N3", rule="nal-r", compression="wdrc", attack_ms=5.0, release_ms=50.0)
    np.testing.assert_array_equal(m.fitting.right.insertion_gain_db, ref.right.insertion_gain_db)
    assert m.fitting.chain_table() == ref.chain_table()
    # Byrne & Dillon (1986): G(2 kHz) = 0.05 (35 + 40 + 50) + 0.31 * 50 - 1 = 20.75 dB for N3.
    i = list(m.fitting.right.frequencies_hz).index(2000.0)
    assert m.fitting.right.insertion_gain_db[i] == pytest.approx(20.75)


def test_editing_a_threshold_changes_target_realised_gain_and_sii():
    m = FittingModel("N3", rule="nal-r", compression="linear")
    before = compute_curves(m.fitting)
    m.set_threshold("right", 2000.0, 70.0)
    after = compute_curves(m.fitting)
    assert m.audiogram.name == "N3-edited"
    # NAL-R (Byrne & Dillon 1986): +20 dB at 2 kHz raises G(2 kHz) by 0.31*20 + 0.05*20 = 7.2 dB.
    t0, r0 = _at(before, "right", 2000.0)
    t1, r1 = _at(after, "right", 2000.0)
    assert t1 - t0 == pytest.approx(7.2, abs=1e-9)
    # The realised gain follows (the fit matches the target's power over each band's cell).
    assert r1 - r0 == pytest.approx(7.2, abs=1.0)
    # The left ear is untouched.
    np.testing.assert_array_equal(before.realised_gain_db["left"], after.realised_gain_db["left"])
    # More loss at 2 kHz: less audible speech unaided and, as NAL-R restores only 0.31 of a
    # threshold shift (Byrne & Dillon 1986), less aided too.
    assert after.sii["right"]["unaided"] < before.sii["right"]["unaided"] - 0.02
    assert after.sii["right"]["aided_realised"] < before.sii["right"]["aided_realised"] - 0.01
    assert after.sii["left"] == before.sii["left"]


def test_realised_sii_is_close_to_the_target_sii():
    curves = compute_curves(FittingModel("N3", rule="nal-r", compression="wdrc").fitting)
    for side in ("left", "right"):
        s = curves.sii[side]
        assert s["aided_target"] > s["unaided"] + 0.2
        assert s["aided_realised"] == pytest.approx(s["aided_target"], abs=0.03)


def test_io_curves_are_the_static_compression_curves():
    m = FittingModel("N3", rule="nal-r", compression="wdrc")
    curves = compute_curves(m.fitting)
    settings = fit_ear_settings(m.audiogram.right, rule="nal-r", compression="wdrc")
    lv = curves.io_input_db_spl
    for band in (5, 15, 25):
        out = curves.io_output_db_spl["right"][band]
        above = lv > settings.knee_db_spl[band] + 2
        slope = np.diff(out[above]) / np.diff(lv[above])
        # Above the knee the output grows 1/CR dB per input dB (static WDRC curve).
        np.testing.assert_allclose(slope, 1 / settings.ratio[band], atol=1e-9)
    lin = compute_curves(FittingModel("N3", compression="linear").fitting)
    slope = np.diff(lin.io_output_db_spl["left"], axis=1) / np.diff(lin.io_input_db_spl)
    np.testing.assert_allclose(slope, 1.0, atol=1e-9)  # linear: no compression, no expansion


def test_speech_spectra_scale_with_level_through_a_linear_aid_and_less_through_wdrc():
    lin = compute_curves(FittingModel("N3", compression="linear").fitting)
    diff = lin.aided_spectrum_db_spl["left"][65.0] - lin.aided_spectrum_db_spl["left"][55.0]
    np.testing.assert_allclose(diff, 10.0, atol=0.3)  # a linear system: +10 dB in, +10 dB out
    # The unaided speech at 65 dB SPL has that overall level (bands 141 Hz-8.9 kHz hold nearly
    # all of the speech power).
    c = lin
    bands_hz = c.spectrum_centres_hz * (2 ** (1 / 6) - 2 ** (-1 / 6))
    overall = 10 * np.log10(np.sum(10 ** (c.unaided_spectrum_db_spl[65.0] / 10) * bands_hz))
    assert overall == pytest.approx(65.0, abs=1.0)
    wdrc = compute_curves(FittingModel("N3", compression="wdrc").fitting)
    mid = (c.spectrum_centres_hz >= 1000) & (c.spectrum_centres_hz <= 4000)
    growth = wdrc.aided_spectrum_db_spl["left"][80.0] - wdrc.aided_spectrum_db_spl["left"][55.0]
    assert np.all(growth[mid] < 25.0 - 3.0)  # compression: 25 dB more speech, less output growth


def test_thresholds_are_x_plus_t_in_db_spl():
    from audiolab.audiology import sii_bands

    c = compute_curves(FittingModel("N3").fitting)
    bands = sii_bands("one-third-octave")
    t = STANDARD_AUDIOGRAMS["N3"].right.threshold_db_hl_at(bands.centre_frequencies_hz)
    # ANSI S3.5-1997 Eq. (10): X'_i = X_i + T'_i.
    np.testing.assert_allclose(c.threshold_spectrum_db_spl["right"],
                               bands.internal_noise_spectrum_level_db + t)


def test_out_of_range_levels_and_bad_settings_are_refused_and_nothing_changes():
    m = FittingModel("N3")
    before = m.audiogram
    with pytest.raises(ConfigError, match=r"\[-10, 120\] dB HL, got 125 dB HL at 1000 Hz"):
        m.set_threshold("right", 1000.0, 125.0)
    with pytest.raises(ConfigError, match=r"got -15 dB HL"):
        m.click(1000.0, -15.0)
    with pytest.raises(ConfigError, match="attack_ms must be in"):
        m.set_compression("wdrc", attack_ms=0.0)
    with pytest.raises(ConfigError, match="rule must be one of"):
        m.set_rule("fig6")
    assert m.audiogram is before and m.attack_ms == 5.0 and m.rule == "nal-r"
    for f in (250.0, 375.0, 500.0):  # 375 Hz and 250 Hz may go; 500 Hz is the last low point
        if f == 500.0:
            with pytest.raises(ConfigError, match="must cover 500-4000 Hz"):
                m.remove_threshold("left", f)
        else:
            m.remove_threshold("left", f)
    assert list(m.audiogram.left.frequencies_hz[:2]) == [500.0, 750.0]


def test_clicks_snap_to_test_frequencies_and_5_db_steps_and_keys_move_the_selection():
    m = FittingModel("N3")
    m.select("left")
    m.click(2900.0, 62.4)  # nearest test frequency 3 kHz, nearest 5 dB step 60
    assert (m.ear, m.selected_hz, m.threshold_db_hl("left", 3000.0)) == ("left", 3000.0, 60.0)
    m.click(7000.0, 81.0)  # 8 kHz is not in N3: the click adds it
    assert m.threshold_db_hl("left", 8000.0) == 80.0 and 8000.0 in GRID_FREQUENCIES_HZ
    m.step_level(-2)
    assert m.threshold_db_hl("left", 8000.0) == 70.0
    m.step_frequency(-1)
    assert m.selected_hz == 6000.0
    m.step_frequency(+5)
    assert m.selected_hz == 8000.0  # held at the highest point
    m.select("right")
    assert m.selected_hz == 6000.0  # nearest right-ear point (N3 stops at 6 kHz)


@pytest.mark.parametrize("fmt, name", [("json", "ag.json"), ("clarity", "listener.json"),
                                       ("csv", "ag.csv")])
def test_audiogram_files_round_trip(tmp_path, fmt, name):
    m = FittingModel("S2")
    m.set_threshold("left", 4000.0, 85.0)
    path = m.save_audiogram_file(tmp_path / name, format=fmt)
    assert audiogram_format_of(path) == fmt and looks_like_audiogram(path)
    other = FittingModel("N1")
    other.load_audiogram_file(path)
    for side in ("left", "right"):
        np.testing.assert_array_equal(other.audiogram.ear(side).threshold_db_hl_at(
            GRID_FREQUENCIES_HZ), m.audiogram.ear(side).threshold_db_hl_at(GRID_FREQUENCIES_HZ))
    assert read_audiogram(path).left.threshold_db_hl_at(4000.0) == 85.0


def test_not_an_audiogram_is_left_alone(tmp_path):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"session": 1}))
    cal = tmp_path / "cal.toml"
    cal.write_text('device = "x"\n')
    assert not looks_like_audiogram(results) and not is_chain_file(cal)


def test_exported_chain_reads_back_and_the_cli_processes_with_it(tmp_path, capsys):
    m = FittingModel("N3")
    m.set_threshold("right", 1000.0, 55.0)
    m.set_compression("wdrc", attack_ms=10.0, release_ms=200.0)
    chain = m.export_chain(tmp_path / "fit.toml")
    assert is_chain_file(chain)
    spec = load_chain(chain)
    assert spec.stages[0].params["rule"] == "nal-r"
    assert spec.stages[0].params["attack_ms"] == 10.0
    back = FittingModel("N1", rule="pogo", compression="linear")
    back.load_chain_file(chain)
    assert (back.rule, back.compression, back.attack_ms, back.release_ms) == (
        "nal-r", "wdrc", 10.0, 200.0)
    assert back.audiogram == m.audiogram
    fs = 16000
    t = np.arange(fs // 2) / fs
    wav = tmp_path / "in" / "tone.wav"
    wav.parent.mkdir()
    sf.write(str(wav), (0.05 * np.sin(2 * np.pi * 2000 * t)).astype(np.float32), fs,
             subtype="FLOAT")
    code, _, err = run_cli(capsys, "process", str(wav), "--chain", str(chain), "--out",
                           str(tmp_path / "out"), "--jobs", "1", "--level-db-spl", "65")
    assert code == 0, err
    y, fs_out = sf.read(str(tmp_path / "out" / "tone.wav"), always_2d=True)
    assert fs_out == fs and y.shape == (t.size, 2)
    # The aid amplifies the 2 kHz tone (the right ear, with more loss at 1 kHz, more so).
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest and np.sqrt(np.mean(y[:, 1] ** 2)) > np.sqrt(np.mean(y[:, 0] ** 2)) > 0


def test_a_chain_without_a_hearing_aid_is_refused(tmp_path):
    chain = tmp_path / "gain.toml"
    chain.write_text('[[stage]]\ntype = "gain"\ngain_db = -6.0\n')
    with pytest.raises(ConfigError, match="no hearing-aid stage"):
        FittingModel().load_chain_file(chain)
