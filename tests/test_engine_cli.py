"""The engine's commands: devices, live, play, latency, calibrate (JACK dummy server for audio)."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiolab.calibration import load_calibration
from audiolab.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "calibration" / "example.toml"
ISSUE_KEYS = {"callbacks", "expected_callbacks", "xruns", "overruns", "block_frames",
              "period_us", "callback_us", "nonfinite_samples", "max_output_db_spl"}

jack = pytest.mark.jack


@pytest.fixture(autouse=True)
def _no_age_warning(monkeypatch):
    monkeypatch.setenv("AUDIOLAB_CALIBRATION_MAX_AGE_DAYS", "100000")


def _one_error_line(capsys, words):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("audiolab ") and words in err[0], err
    return err[0]


@pytest.fixture
def chain_file(tmp_path):
    p = tmp_path / "chain.toml"
    p.write_text('# audiolab chain\n[[stage]]\ntype = "gain"\ngain_db = -6.0\n')
    return p


# -- no audio needed ----------------------------------------------------------------------------
def test_check_a_good_file(capsys):
    assert main(["calibrate", "--check", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "channel 0 (left)" in out and "-7.0 dBFS" in out


def test_check_a_bad_file_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE.read_text().replace("ceiling_db_spl = 100.0", "ceiling_db_spl = 300"))
    assert main(["calibrate", "--check", str(bad)]) == 2
    _one_error_line(capsys, "ceiling_db_spl must be in")


def test_nothing_plays_without_a_calibration(capsys, tmp_path):
    assert main(["live", "--source", "noise", "--duration", "1"]) == 2
    _one_error_line(capsys, "nothing is played without a calibration")
    wav = tmp_path / "x.wav"
    sf.write(wav, np.zeros(10), 48000)
    assert main(["play", str(wav), "--level-db-spl", "60"]) == 2
    _one_error_line(capsys, "nothing is played without a calibration")


@pytest.mark.parametrize("argv, words", [
    (["live", "--uncalibrated", "--source", "drums"], "--source must be"),
    (["live", "--uncalibrated", "--source", "tone:abc"], "tone:FREQ needs a frequency"),
    (["calibrate", "--out", "x.toml", "--level-dbfs", "-10"], "at most -20 dBFS"),
    (["calibrate", "--out", "x.toml", "--transducer", "TDH-99"], "transducer must be one of"),
    (["live", "--calibration", "missing.toml"], "cannot read calibration file"),
])
def test_bad_commands_are_one_line_and_exit_2(argv, words, capsys):
    assert main(argv) == 2
    _one_error_line(capsys, words)


# -- on the JACK dummy server -------------------------------------------------------------------
@jack
def test_devices_lists_the_jack_device(capsys):
    assert main(["devices"]) == 0
    assert "JACK" in capsys.readouterr().out
    assert main(["devices", "--json"]) == 0
    devs = json.loads(capsys.readouterr().out)
    assert any("JACK" in d["host_api"] and d["max_output_channels"] >= 2 for d in devs)


@jack
def test_live_writes_stats_and_recording(tmp_path, chain_file, capsys):
    stats = tmp_path / "stats.json"
    rec = tmp_path / "out.wav"
    code = main(["live", "--chain", str(chain_file), "--calibration", str(EXAMPLE),
                 "--source", "tone:1000", "--level-db-spl", "70", "--duration", "2",
                 "--stats-json", str(stats), "--record", str(rec), "--quiet"])
    assert code == 0, capsys.readouterr().err
    s = json.loads(stats.read_text())
    assert ISSUE_KEYS <= set(s) and set(s["callback_us"]) >= {"max", "p99", "p999"}
    assert s["block_frames"] == 256 and s["xrun_source"] == "jack"
    assert s["callbacks"] > 300 and s["overruns"] == 0
    # 70 dB SPL tone, -6 dB chain: a sine at 64 dB SPL (sine-peak measure of the pressure the
    # calibration says the output produces)
    assert s["max_output_db_spl"][0] == pytest.approx(64.0, abs=0.05)
    y, fs = sf.read(rec, dtype="float32")
    assert fs == 48000 and y.shape[1] == 2 and sf.info(rec).subtype == "FLOAT"
    assert y.shape[0] == s["frames"]
    # After the output equaliser's onset transient (the looping tone starts abruptly at frame
    # 0), a 64 dB SPL sine at 1 kHz: 64 - full_scale_db_spl(1 kHz) dBFS on each channel.
    peak = np.abs(y[4800:]).max(axis=0)
    np.testing.assert_allclose(peak, 10 ** ((64.0 - np.array([107.0, 107.2])) / 20), rtol=1e-3)
    manifest = json.loads((tmp_path / "out.wav.json").read_text())
    assert manifest["calibration"]["sha256"] == load_calibration(EXAMPLE).sha256


@jack
def test_live_from_the_device_input(tmp_path, capsys):
    stats = tmp_path / "s.json"
    assert main(["live", "--uncalibrated", "--source", "input", "--duration", "1", "--quiet",
                 "--stats-json", str(stats)]) == 0
    s = json.loads(stats.read_text())
    assert s["source"] == "input" and s["device"]["n_inputs"] == 2 and s["callbacks"] > 100


@jack
def test_live_refuses_a_source_above_the_ceiling(capsys):
    assert main(["live", "--calibration", str(EXAMPLE), "--source", "noise",
                 "--level-db-spl", "99", "--duration", "1", "--quiet"]) == 2
    _one_error_line(capsys, "would exceed the output ceiling")


@jack
def test_unknown_device_is_one_line(capsys):
    assert main(["live", "--uncalibrated", "--device", "no such card", "--duration", "1"]) == 2
    _one_error_line(capsys, "no such card")


@jack
def test_the_executable_ends_a_device_error_with_one_line_and_exit_2():
    # The `audiolab` executable (audiolab.cli.run) ends a device error without Python's exit
    # handlers, so that PortAudio cannot abort at exit; the error line must still come out.
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "audiolab", "play", "--tone", "1000", "--level-db-spl", "40",
         "--device", "no such card", "--uncalibrated"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("audiolab play: error:"), done.stderr
    assert "no such card" in lines[0]


@jack
def test_play_reports_frames_and_refuses_too_loud(tmp_path, capsys):
    wav = tmp_path / "tone.wav"
    sf.write(wav, 0.5 * np.sin(2 * np.pi * 500 * np.arange(4800) / 48000), 48000)
    assert main(["play", str(wav), "--level-db-spl", "60", "--calibration", str(EXAMPLE),
                 "--channels", "0,1", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["end_frame"] - r["start_frame"] == 4800 and r["limited_samples"] == 0
    assert main(["play", str(wav), "--level-db-spl", "105", "--calibration", str(EXAMPLE)]) == 2
    _one_error_line(capsys, "lower it by at least")


@jack
def test_latency_is_two_periods_plus_the_chain(tmp_path, capsys):
    chain = tmp_path / "gt.toml"
    chain.write_text('# audiolab chain\n[[stage]]\ntype = "hearing-aid"\naudiogram = "N3"\n')
    assert main(["latency", "--json", "--repeats", "3", "--chain", str(chain)]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["method"] == "jack-loopback"
    assert r["repeats_frames"] == [512, 512, 512]  # PortAudio + JACK: two periods of 256
    assert r["chain_latency_samples"] == 192 and r["total_latency_frames"] == 704


@jack
def test_calibrate_walks_through_and_check_measures(tmp_path, monkeypatch, capsys):
    out = tmp_path / "lab.toml"
    readings = "77.5\nnot a number\n78.0\ns\n79.5\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(readings))
    assert main(["calibrate", "--out", str(out), "--channels", "0,1", "--frequencies",
                 "500,1000", "--level-dbfs", "-30", "--operator", "pytest",
                 "--transducer", "HDA-200", "--ceiling-db-spl", "95"]) == 0
    cal = load_calibration(out)
    assert cal.transducer == "HDA-200" and cal.operator == "pytest" and cal.ceiling_db_spl == 95
    assert cal.channel(0).full_scale_db_spl.tolist() == [107.5, 108.0]
    assert cal.channel(1).frequencies_hz.tolist() == [1000.0]  # 500 Hz skipped
    assert cal.channel(1).full_scale_db_spl.tolist() == [109.5]
    assert [c.ear for c in cal.channels] == ["left", "right"]
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("77.0\n78.2\n79.5\n"))
    assert main(["calibrate", "--check", str(out), "--measure"]) == 0
    assert "largest deviation 0.5 dB" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("70\n"))
    assert main(["calibrate", "--check", str(out), "--measure"]) == 2  # input ended early
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "audiolab calibrate: error: input ended before every reading was given"
    assert not (tmp_path / "lab.toml.part").exists()


def _channel_db_spl(y, full_scale_db_spl=100.0):
    """Each column's RMS level when a full-scale sine (RMS 1/sqrt(2)) is ``full_scale_db_spl``."""
    rms = np.sqrt(np.mean(np.asarray(y, np.float64) ** 2, axis=0))
    return full_scale_db_spl + 20 * np.log10(rms * np.sqrt(2))


@jack
def test_level_db_spl_means_the_same_for_play_live_and_process(tmp_path, capsys):
    """--level-db-spl 65 sets the RMS over both channels together, in every command.

    A stereo 1 kHz tone whose right channel is 10 dB below its left: with mean power over the
    two channels equal to that of 65 dB SPL, left is 65 + 10 log10(2 / (1 + 10^-1)) dB SPL
    and right 10 dB less. Per-channel scaling would give 65 in each, a left-only measure 65 on
    the left. Each channel is measured in what each command wrote (the uncalibrated mode and
    process's outputs both put a full-scale sine at 100 dB SPL).
    """
    left = 65 + 10 * np.log10(2 / (1 + 10 ** -1))
    want = np.array([left, left - 10])
    t = np.arange(9600) / 48000  # 200 periods: the tone loops without a seam in `live`
    x = 0.3 * np.sin(2 * np.pi * 1000 * t)
    wav = tmp_path / "ild.wav"
    sf.write(wav, np.stack([x, x * 10 ** (-10 / 20)], axis=1), 48000, subtype="FLOAT")

    chain = tmp_path / "unity.toml"
    chain.write_text('# audiolab chain\n[[stage]]\ntype = "gain"\ngain_db = 0.0\n')
    assert main(["process", str(wav), "--chain", str(chain), "--out", str(tmp_path / "out"),
                 "--level-db-spl", "65", "--jobs", "1"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    y, _ = sf.read(tmp_path / "out" / "ild.wav", dtype="float64")
    np.testing.assert_allclose(_channel_db_spl(y), want, atol=0.01)

    rec = tmp_path / "play.wav"
    assert main(["play", str(wav), "--level-db-spl", "65", "--uncalibrated", "--json",
                 "--record", str(rec)]) == 0, capsys.readouterr().err
    r = json.loads(capsys.readouterr().out)
    first = json.loads((tmp_path / "play.wav.json").read_text())["first_frame"]
    y, _ = sf.read(rec, dtype="float64")
    played = y[r["start_frame"] - first: r["end_frame"] - first, :2]
    assert played.shape[0] == 9600
    np.testing.assert_allclose(_channel_db_spl(played), want, atol=0.01)

    rec = tmp_path / "live.wav"
    stats = tmp_path / "live.json"
    assert main(["live", "--uncalibrated", "--source", f"file:{wav}", "--level-db-spl", "65",
                 "--duration", "1", "--quiet", "--record", str(rec),
                 "--stats-json", str(stats)]) == 0, capsys.readouterr().err
    y, _ = sf.read(rec, dtype="float64")
    steady = y[9600: 9600 * (len(y) // 9600)]  # whole loops after the first
    np.testing.assert_allclose(_channel_db_spl(steady), want, atol=0.01)
    # The engine's own meters (dB SPL of the pressure, before the digital conversion) agree.
    np.testing.assert_allclose(json.loads(stats.read_text())["rms_output_db_spl"], want,
                               atol=0.05)
