"""Batch processing (`audiolab process` / `simulate`): files, failures, levels, manifest, Dask."""

import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from dask_cluster import local_dask_cluster

import audiolab
from audiolab import ConfigError, FileFormatError
from audiolab._audio_io import read_audio, write_audio
from audiolab.batch import LevelOptions, collect_inputs, run_batch
from audiolab.calibration import digital_to_pa_scale, rms_db_spl
from audiolab.cli import main
from audiolab.dsp import Processor
from audiolab.models._chain import check_chain_table

GAIN_DB = 6.0


def _tone(f_hz, fs, n, amp=0.5, phase=0.0):
    t = np.arange(n) / fs
    return (amp * np.sin(2 * np.pi * f_hz * t + phase)).astype(np.float32)


def _chain(tmp_path, gain_db=GAIN_DB, fs=None, name="chain.toml"):
    p = tmp_path / name
    head = "" if fs is None else f"fs = {fs}\n"
    p.write_text(f"# audiolab chain\n{head}[[stage]]\ntype = \"gain\"\ngain_db = {gain_db}\n")
    return p


def _good_files(folder: Path, rng) -> dict[str, Path]:
    """Mono and stereo, 44.1 and 48 kHz, WAV (float and PCM) and FLAC, one in a sub-folder."""
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    files = {
        "mono44": folder / "mono44.wav",
        "stereo48": folder / "stereo48.wav",
        "stereo44": folder / "sub" / "stereo44.flac",
        "mono48": folder / "sub" / "mono48.wav",
    }
    sf.write(files["mono44"], _tone(1000, 44100, 4410), 44100, subtype="FLOAT")
    st = np.stack([_tone(500, 48000, 5000), 0.1 * rng.standard_normal(5000).astype(np.float32)])
    sf.write(files["stereo48"], st.T, 48000, subtype="FLOAT")
    sf.write(files["stereo44"], np.stack([_tone(300, 44100, 3000)] * 2).T, 44100, subtype="PCM_24")
    sf.write(files["mono48"], _tone(2000, 48000, 4800, amp=0.9), 48000, subtype="PCM_16")
    return files


def _bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """Each bad file with the words its failure message must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    empty = folder / "empty.wav"
    empty.write_bytes(b"")
    valid = folder / "valid_tmp.wav"
    sf.write(valid, _tone(440, 48000, 4800), 48000, subtype="PCM_16")
    truncated = folder / "truncated.wav"
    data = valid.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    valid.unlink()
    text = folder / "notes.wav"
    text.write_text("these are my notes, not a recording\n" * 10)
    nan = folder / "nan.wav"
    x = _tone(440, 48000, 480)
    x[100] = np.nan
    sf.write(nan, x, 48000, subtype="FLOAT")
    return {
        "empty": (empty, "is empty (0 bytes)"),
        "truncated": (truncated, "is truncated"),
        "notes": (text, "not a sound file"),
        "nan": (nan, "NaN or inf samples (first at channel 0, frame 100)"),
    }


def _read(path):
    data, fs = sf.read(path, dtype="float32", always_2d=True)
    return data.T, fs


def _cli(args):
    """Exit code of the CLI, also when argparse itself rejects the command (SystemExit)."""
    try:
        return main([str(a) for a in args])
    except SystemExit as exc:
        return exc.code


def _manifest(out):
    return json.loads((out / "manifest.json").read_text())


# -- reading files
def test_read_audio_gives_one_clear_line_per_bad_file(tmp_path):
    for path, words in _bad_files(tmp_path).values():
        with pytest.raises(FileFormatError, match=re.escape(words)) as info:
            read_audio(path)
        assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)
    with pytest.raises(FileFormatError, match="no such file"):
        read_audio(tmp_path / "missing.wav")
    with pytest.raises(FileFormatError, match="is a folder"):
        read_audio(tmp_path)
    header_only = tmp_path / "header.wav"
    sf.write(header_only, np.zeros(0, np.float32), 48000)
    with pytest.raises(FileFormatError, match="no audio frames"):
        read_audio(header_only)


def test_write_audio_keeps_values_above_full_scale(tmp_path):
    x = np.array([[0.5, 2.5, -3.0, 1e-8]], np.float32)
    write_audio(tmp_path / "loud.wav", x, fs=48000)
    y, fs = _read(tmp_path / "loud.wav")
    assert fs == 48000 and sf.info(tmp_path / "loud.wav").subtype == "FLOAT"
    np.testing.assert_array_equal(y, x)
    assert [p.name for p in tmp_path.iterdir()] == ["loud.wav"]  # no temporary file left


# -- the local batch
@pytest.mark.slow
def test_local_batch_processes_every_good_file_and_reports_the_bad(tmp_path, rng, capsys):
    good = _good_files(tmp_path / "in", rng)
    bad = _bad_files(tmp_path / "in" / "bad")
    chain = _chain(tmp_path)
    out = tmp_path / "out"
    code = main(["process", str(tmp_path / "in"), "--chain", str(chain), "--out", str(out),
                 "--jobs", "2"])
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err
    for path, words in bad.values():
        line = next(ln for ln in captured.err.splitlines() if str(path.resolve()) in ln)
        assert words in line, line
    assert "4 processed, 0 up to date (skipped), 4 failed" in captured.out
    factor = np.float32(10 ** (GAIN_DB / 20))
    for path in good.values():
        x, fs_in = _read(path)
        y, fs_out = _read(out / f"{path.stem}.wav")
        assert fs_out == fs_in and y.shape == (2, x.shape[1])
        assert sf.info(out / f"{path.stem}.wav").subtype == "FLOAT"
        expected = np.broadcast_to(x, y.shape) * factor  # same convention in and out
        np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-7)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{p.stem}.wav" for p in good.values()] + ["manifest.json"]
    )


def test_mono_input_is_presented_to_both_ears(tmp_path, rng):
    good = _good_files(tmp_path / "in", rng)
    report = run_batch([good["mono48"]], chain=_chain(tmp_path), out_dir=tmp_path / "out", jobs=1)
    assert report.exit_code == 0
    y, _ = _read(tmp_path / "out" / "mono48.wav")
    assert y.shape[0] == 2
    np.testing.assert_array_equal(y[0], y[1])
    r = report.results[0]
    assert (r.input_channels, r.output_channels) == (1, 2)


@pytest.mark.slow
def test_manifest_records_inputs_outputs_chain_levels_version_and_failures(tmp_path, rng):
    good = _good_files(tmp_path / "in", rng)
    bad = _bad_files(tmp_path / "in")
    chain = _chain(tmp_path)
    out = tmp_path / "out"
    report = run_batch([tmp_path / "in"], chain=chain, out_dir=out, jobs=2,
                       levels=LevelOptions(full_scale_db_spl=94.0))
    m = _manifest(out)
    assert m["audiolab_version"] == audiolab.__version__
    assert m["command"] == "process"
    assert m["chain"] == {"stage": [{"type": "gain", "gain_db": GAIN_DB}]}
    assert m["chain_file"] == str(chain.resolve())
    assert m["levels"] == {"mode": "full-scale", "full_scale_db_spl": 94.0, "level_db_spl": None,
                           "output_full_scale_db_spl": 94.0}
    assert "full-scale sine" in m["convention"] and "never clipped" in m["convention"]
    assert m["executor"] == {"kind": "local", "jobs": 2}
    assert m["summary"] == {"inputs": 8, "processed": 4, "up_to_date": 0, "failed": 4}
    by_input = {Path(f["input"]).name: f for f in m["files"]}
    for path in good.values():
        entry = by_input[path.name]
        assert entry["status"] == "processed" and entry["error"] is None
        assert entry["output"] == str((out / f"{path.stem}.wav").resolve())
        assert entry["fs"] == sf.info(path).samplerate
        assert entry["n_frames"] == sf.info(path).frames
        assert entry["output_channels"] == 2 and entry["latency_samples"] == 0
    assert sorted(Path(f["input"]).name for f in m["failures"]) == sorted(
        p.name for p, _ in bad.values()
    )
    assert all(f["error"] for f in m["failures"])
    assert [r.input for r in report.results] == [f["input"] for f in m["files"]]


def test_duplicate_stems_are_refused_before_anything_runs(tmp_path, rng, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    sf.write(tmp_path / "a" / "take.wav", _tone(500, 48000, 480), 48000)
    sf.write(tmp_path / "b" / "take.flac", _tone(500, 48000, 480), 48000)
    out = tmp_path / "out"
    code = main(["process", str(tmp_path / "a"), str(tmp_path / "b"), "--chain",
                 str(_chain(tmp_path)), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "take.wav" in err and "take.flac" in err and "would all be written to" in err
    assert not out.exists()


def test_up_to_date_outputs_are_skipped(tmp_path, rng, capsys):
    good = _good_files(tmp_path / "in", rng)
    chain = _chain(tmp_path)
    past = time.time() - 100
    for p in [*good.values(), chain]:
        os.utime(p, (past, past))
    out = tmp_path / "out"
    args = ["process", str(tmp_path / "in"), "--chain", str(chain), "--out", str(out),
            "--jobs", "1"]
    assert main(args) == 0
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.wav")}
    time.sleep(0.02)

    assert main(args) == 0
    assert "0 processed, 4 up to date" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.wav")} == stamps
    assert _manifest(out)["summary"]["up_to_date"] == 4

    # A newer input is processed again, the others stay.
    os.utime(good["stereo48"])  # now: newer than its output
    assert main(args) == 0
    assert "1 processed, 3 up to date" in capsys.readouterr().out

    # A different level option or chain content makes every output stale.
    assert main([*args, "--full-scale-db-spl", "90"]) == 0
    assert "4 processed, 0 up to date" in capsys.readouterr().out
    assert main([*args, "--full-scale-db-spl", "90"]) == 0
    assert "0 processed, 4 up to date" in capsys.readouterr().out
    _chain(tmp_path, gain_db=3.0)
    assert main([*args, "--full-scale-db-spl", "90"]) == 0
    assert "4 processed, 0 up to date" in capsys.readouterr().out

    # A deleted output, and --force.
    (out / "mono44.wav").unlink()
    assert main([*args, "--full-scale-db-spl", "90"]) == 0
    assert "1 processed, 3 up to date" in capsys.readouterr().out
    assert main([*args, "--full-scale-db-spl", "90", "--force"]) == 0
    assert "4 processed, 0 up to date" in capsys.readouterr().out


def test_full_scale_convention_and_no_clipping(tmp_path):
    # DESIGN.md: 0 dBFS is a full-scale sine (peak 1.0), which --full-scale-db-spl X makes
    # X dB SPL. A 6 dB gain on it gives peak 2.0 in the output, kept unclipped in float WAV.
    sine = _tone(1000, 48000, 48000, amp=1.0)
    sf.write(tmp_path / "fs_sine.wav", sine, 48000, subtype="FLOAT")
    report = run_batch([tmp_path / "fs_sine.wav"], chain=_chain(tmp_path), jobs=1,
                       out_dir=tmp_path / "out", levels=LevelOptions(full_scale_db_spl=94.0))
    r = report.results[0]
    assert r.input_level_db_spl == pytest.approx(94.0, abs=1e-4)
    assert r.output_level_db_spl == pytest.approx(94.0 + GAIN_DB, abs=1e-4)
    y, _ = _read(tmp_path / "out" / "fs_sine.wav")
    assert np.abs(y).max() == pytest.approx(10 ** (GAIN_DB / 20), rel=1e-5)


@pytest.mark.parametrize("target_db_spl", [40.0, 65.0, 80.0])
def test_level_db_spl_sets_each_files_rms_over_all_channels(tmp_path, rng, target_db_spl):
    good = _good_files(tmp_path / "in", rng)
    out = tmp_path / "out"
    report = run_batch([tmp_path / "in"], chain=_chain(tmp_path, gain_db=0.0), out_dir=out,
                       jobs=1, levels=LevelOptions(level_db_spl=target_db_spl))
    assert report.exit_code == 0
    pa = digital_to_pa_scale(100.0)  # outputs: a full-scale sine is 100 dB SPL
    for path in good.values():
        y, _ = _read(out / f"{path.stem}.wav")
        assert rms_db_spl(y.astype(np.float64) * pa) == pytest.approx(target_db_spl, abs=1e-3)
    assert _manifest(out)["levels"]["mode"] == "rms"


def test_silent_file_cannot_be_scaled_to_a_level(tmp_path):
    sf.write(tmp_path / "silence.wav", np.zeros(480, np.float32), 48000)
    report = run_batch([tmp_path / "silence.wav"], chain=_chain(tmp_path), jobs=1,
                       out_dir=tmp_path / "out", levels=LevelOptions(level_db_spl=65.0))
    assert report.exit_code == 1 and "is silent" in report.failed[0].error
    report = run_batch([tmp_path / "silence.wav"], chain=_chain(tmp_path), jobs=1,
                       out_dir=tmp_path / "out2")
    assert report.exit_code == 0  # silence at a full-scale convention is fine
    assert _manifest(tmp_path / "out2")["files"][0]["input_level_db_spl"] is None  # -inf dB


def test_more_than_two_channels_is_a_failed_file(tmp_path):
    sf.write(tmp_path / "surround.wav", np.zeros((100, 3), np.float32), 48000)
    report = run_batch([tmp_path / "surround.wav"], chain=_chain(tmp_path), jobs=1,
                       out_dir=tmp_path / "out")
    assert "has 3 channels; give mono or stereo" in report.failed[0].error


def test_chain_at_another_rate_resamples_in_and_out(tmp_path, capsys):
    x = _tone(1000, 44100, 4410, amp=0.5)
    sf.write(tmp_path / "cd.wav", x, 44100, subtype="FLOAT")
    chain = _chain(tmp_path, fs=48000)
    code = main(["process", str(tmp_path / "cd.wav"), "--chain", str(chain), "--out",
                 str(tmp_path / "out")])
    assert code == 0
    assert "resampled 1 file(s) from 44100 Hz to the chain's 48000 Hz and back" in (
        capsys.readouterr().out
    )
    y, fs = _read(tmp_path / "out" / "cd.wav")
    assert fs == 44100 and y.shape == (2, 4410)
    # Polyphase resampling there and back passes a 1 kHz tone unchanged away from the edges.
    mid = slice(500, -500)
    np.testing.assert_allclose(y[0, mid], x[mid] * 10 ** (GAIN_DB / 20), atol=2e-3)
    entry = _manifest(tmp_path / "out")["files"][0]
    assert entry["resampled"] is True and entry["processing_fs"] == 48000.0


def test_chain_rate_that_does_not_fit_a_file_fails_that_file_only(tmp_path):
    class Picky(Processor):
        """A stage that runs at 48 kHz only (as a simulator with fixed tables might)."""

        def __init__(self, *, fs):
            super().__init__()
            self.fs = fs

        @classmethod
        def from_chain_table(cls, table, *, fs):
            check_chain_table(table, stage_type="picky", allowed=())
            if fs != 48000:
                raise ConfigError(f"fs must be 48000, got {fs:g}")
            return cls(fs=fs)

        def to_chain_table(self):
            return {}

        latency_samples = 0

        def _allocate(self, n_channels):
            pass

        def _process(self, x):
            return x

    from audiolab.models import _chain

    globals()["Picky"] = Picky
    saved = dict(_chain._REGISTRY)
    _chain._REGISTRY["picky"] = f"{__name__}:Picky"
    try:
        sf.write(tmp_path / "a.wav", _tone(500, 44100, 441), 44100)
        sf.write(tmp_path / "b.wav", _tone(500, 48000, 480), 48000)
        report = run_batch([tmp_path], chain={"stage": [{"type": "picky"}]}, jobs=1,
                           out_dir=tmp_path / "out")
    finally:
        _chain._REGISTRY.clear()
        _chain._REGISTRY.update(saved)
    assert [r.status for r in report.results] == ["failed", "processed"]
    assert "cannot run at 44100 Hz" in report.results[0].error


def test_reused_chain_gives_the_same_samples_as_a_fresh_one(tmp_path, rng):
    from audiolab.batch import _job

    good = _good_files(tmp_path / "in", rng)
    chain = {"stage": [{"type": "hearing-aid", "audiogram": "N3", "rule": "nal-r"}]}
    b = good["stereo48"]
    a = tmp_path / "long.wav"  # bigger, so the batch runs it first (longest first)
    sf.write(a, 0.3 * rng.standard_normal((20000, 2)).astype(np.float32), 48000, subtype="FLOAT")
    _job._CACHE.chains = None
    assert a.stat().st_size > b.stat().st_size
    run_batch([b, a], chain=chain, out_dir=tmp_path / "after_a", jobs=1)
    _job._CACHE.chains = None
    run_batch([b], chain=chain, out_dir=tmp_path / "fresh", jobs=1)
    after_a, _ = _read(tmp_path / "after_a" / "stereo48.wav")
    fresh, _ = _read(tmp_path / "fresh" / "stereo48.wav")
    assert np.abs(fresh).max() > 0
    np.testing.assert_array_equal(after_a, fresh)


# -- inputs and bad commands
def test_inputs_files_folders_and_globs(tmp_path, rng):
    good = _good_files(tmp_path / "in", rng)
    (tmp_path / "in" / "README.txt").write_text("not audio, skipped by folder walks")
    odd = tmp_path / "in" / "take.dat"
    sf.write(odd, _tone(300, 48000, 480), 48000, format="WAV")
    found = collect_inputs([tmp_path / "in"])
    assert sorted(found) == sorted(p.resolve() for p in good.values())
    assert collect_inputs([str(tmp_path / "in" / "**" / "*.flac")]) == [good["stereo44"].resolve()]
    assert collect_inputs([odd, odd]) == [odd.resolve()]  # given twice, processed once
    # Outputs written inside an input folder are not read back as inputs.
    out = tmp_path / "in" / "processed"
    run_batch([tmp_path / "in"], chain=_chain(tmp_path), out_dir=out, jobs=1)
    assert sorted(collect_inputs([tmp_path / "in"], exclude=out)) == sorted(found)


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--level-db-spl", "65", "--full-scale-db-spl", "100"], "not allowed with argument"),
        (["--level-db-spl", "500"], "--level-db-spl must be in [-20, 160], got 500.0"),
        (["--full-scale-db-spl", "nan"], "--full-scale-db-spl must be in [0, 200]"),
        (["--jobs", "0"], "--jobs must be at least 1, got 0"),
        (["--jobs", "two"], "invalid int value"),
        (["--scheduler", "foo://bar:1"], "--scheduler must be a Dask scheduler address"),
        (["--scheduler", "localhost"], "--scheduler must be a Dask scheduler address"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path, capsys, extra, words):
    sf.write(tmp_path / "x.wav", _tone(500, 48000, 480), 48000)
    code = _cli(["process", tmp_path / "x.wav", "--chain", _chain(tmp_path),
                 "--out", tmp_path / "out", *extra])
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err


@pytest.mark.parametrize("which", ["missing", "glob", "empty-folder", "out-is-file", "self"])
def test_bad_inputs_exit_2_before_anything_runs(tmp_path, capsys, which):
    sf.write(tmp_path / "x.wav", _tone(500, 48000, 480), 48000)
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("")
    inputs, out, words = {
        "missing": ([tmp_path / "nope.wav"], tmp_path / "out", "nope.wav: no such file or folder"),
        "glob": ([tmp_path / "*.flac"], tmp_path / "out", "matches no file"),
        "empty-folder": ([tmp_path / "empty"], tmp_path / "out", "holds no sound files"),
        "out-is-file": ([tmp_path / "x.wav"], tmp_path / "file", "is not a folder"),
        "self": ([tmp_path / "x.wav"], tmp_path, "overwritten by its own output"),
    }[which]
    code = main(["process", *map(str, inputs), "--chain", str(_chain(tmp_path)),
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and words in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


# -- audiolab simulate
class FakeHearingLoss(Processor):
    """Stand-in for the hearing-loss stage: 20 dB attenuation, keys as agreed in INTERFACES.md."""

    def __init__(self, *, audiogram, fs):
        super().__init__()
        self.audiogram = audiogram
        self.fs = fs

    @classmethod
    def from_chain_table(cls, table, *, fs):
        check_chain_table(table, stage_type="hearing-loss", allowed=("audiogram",))
        if table["audiogram"] not in ("N1", "N3") and not Path(table["audiogram"]).is_file():
            raise ConfigError(f"audiogram must be a preset or a file, got {table['audiogram']!r}")
        return cls(audiogram=table["audiogram"], fs=fs)

    def to_chain_table(self):
        return {"audiogram": self.audiogram}

    latency_samples = 0

    def _allocate(self, n_channels):
        pass

    def _process(self, x):
        return x * np.float32(0.1)


def test_simulate_runs_the_hearing_loss_stage_as_a_batch(tmp_path, rng, capsys, monkeypatch):
    from audiolab.models import _chain

    monkeypatch.setitem(_chain._REGISTRY, "hearing-loss", f"{__name__}:FakeHearingLoss")
    good = _good_files(tmp_path / "in", rng)
    _bad_files(tmp_path / "in" / "bad")
    out = tmp_path / "out"
    code = main(["simulate", str(tmp_path / "in"), "--audiogram", "N3", "--out", str(out),
                 "--level-db-spl", "65", "--jobs", "1"])
    assert code == 1
    assert "4 processed, 0 up to date (skipped), 4 failed" in capsys.readouterr().out
    m = _manifest(out)
    assert m["command"] == "simulate"
    assert m["chain"] == {"stage": [{"type": "hearing-loss", "audiogram": "N3"}]}
    for path in good.values():
        y, _ = _read(out / f"{path.stem}.wav")
        level = rms_db_spl(y.astype(np.float64) * digital_to_pa_scale(100.0))
        assert level == pytest.approx(65.0 - 20.0, abs=1e-3)

    audiogram = tmp_path / "listener.json"
    audiogram.write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", str(good["mono48"]), "--audiogram", "listener.json", "--out",
                 str(tmp_path / "out2"), "--jobs", "1"]) == 0
    stage = _manifest(tmp_path / "out2")["chain"]["stage"][0]
    assert stage["audiogram"] == str(audiogram.resolve())  # workers elsewhere find it

    capsys.readouterr()
    code = main(["simulate", str(good["mono48"]), "--audiogram", "Z9", "--out",
                 str(tmp_path / "out3")])
    err = capsys.readouterr().err
    assert code == 2 and "audiogram must be a preset or a file" in err and err.count("\n") == 1


@pytest.mark.slow
def test_simulate_with_the_real_simulators(tmp_path, rng):
    # Moderate loss N3 (Bisgaard 2010) at 65 dB SPL: the simulated listener hears the noise
    # quieter than it is (threshold elevation, recruitment); the CI vocoder follows it.
    x = 0.1 * rng.standard_normal((2, 24000)).astype(np.float32)
    sf.write(tmp_path / "noise.wav", x.T, 48000, subtype="FLOAT")
    sf.write(tmp_path / "tone.wav", _tone(1000, 44100, 22050), 44100, subtype="FLOAT")
    out = tmp_path / "out"
    code = main(["simulate", str(tmp_path / "noise.wav"), str(tmp_path / "tone.wav"),
                 "--audiogram", "N3", "--ci-channels", "8", "--out", str(out),
                 "--level-db-spl", "65", "--jobs", "2"])
    assert code == 0
    m = _manifest(out)
    assert m["chain"] == {"stage": [{"type": "hearing-loss", "audiogram": "N3"},
                                    {"type": "ci-vocoder", "n_channels": 8, "seed": 1}]}
    for entry in m["files"]:
        assert entry["status"] == "processed" and entry["latency_samples"] > 0
        assert entry["output_level_db_spl"] < entry["input_level_db_spl"] - 10
    y, fs = _read(out / "tone.wav")
    assert fs == 44100 and y.shape == (2, 22050) and np.isfinite(y).all()


class InterruptOnSecondFile(FakeHearingLoss):
    """A stage whose second file is interrupted (Ctrl-C) while it is being processed."""

    files_started = 0

    def _allocate(self, n_channels):
        type(self).files_started += 1
        if type(self).files_started == 2:
            raise KeyboardInterrupt


def test_interrupted_batch_records_what_finished(tmp_path, rng, monkeypatch):
    from audiolab.batch import _job
    from audiolab.models import _chain

    monkeypatch.setitem(_chain._REGISTRY, "hearing-loss", f"{__name__}:InterruptOnSecondFile")
    _good_files(tmp_path / "in", rng)
    _job._CACHE.chains = None
    InterruptOnSecondFile.files_started = 0
    with pytest.raises(KeyboardInterrupt):
        run_batch([tmp_path / "in"], chain={"stage": [{"type": "hearing-loss", "audiogram": "N1"}]},
                  out_dir=tmp_path / "out", jobs=1)
    m = _manifest(tmp_path / "out")
    assert m["complete"] is False and m["summary"]["inputs"] == 1
    assert m["files"][0]["status"] == "processed"


def test_symbolic_links_keep_their_own_name(tmp_path, rng):
    good = _good_files(tmp_path / "in", rng)
    link = tmp_path / "speaker1.wav"
    link.symlink_to(good["mono48"])
    report = run_batch([link], chain=_chain(tmp_path), out_dir=tmp_path / "out", jobs=1)
    assert report.results[0].output == str(tmp_path / "out" / "speaker1.wav")


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--ci-channels", "0"], "--ci-channels must be in [1, 22], got 0"),
        (["--ci-channels", "40"], "--ci-channels must be in [1, 22], got 40"),
    ],
)
def test_simulate_bad_options_exit_2(tmp_path, capsys, extra, words):
    sf.write(tmp_path / "x.wav", _tone(500, 48000, 480), 48000)
    code = _cli(["simulate", tmp_path / "x.wav", "--audiogram", "N3", "--out", tmp_path / "out",
                 *extra])
    err = capsys.readouterr().err
    assert code == 2 and words in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_progress_bar_redraws_one_line_on_a_terminal():
    import io

    from audiolab.batch import FileResult
    from audiolab.batch._progress import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    bar = Progress(3, stream=stream, label="process")
    for status in ("processed", "failed", "processed"):
        bar.update(FileResult(input="i", output="o", status=status))
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1
    assert "3/3 files, 1 failed" in text and "[" + "#" * 30 + "]" in text


# -- a real Dask cluster

@pytest.mark.slow
def test_dask_cluster_outputs_are_bit_identical_to_local(tmp_path, rng, capsys):
    pytest.importorskip("distributed")  # installed by both make targets
    _good_files(tmp_path / "in", rng)
    _bad_files(tmp_path / "in" / "bad")
    # A fitted hearing aid (gammatone analysis, WDRC, resynthesis, limiter, all stateful) at
    # 48 kHz, so the 44.1 kHz files are resampled too.
    chain = tmp_path / "aided.toml"
    chain.write_text(
        'fs = 48000\n[[stage]]\ntype = "hearing-aid"\naudiogram = "N3"\nrule = "nal-r"\n'
        '[[stage]]\ntype = "gain"\ngain_db = -3.0\n'
    )
    local, remote = tmp_path / "local", tmp_path / "dask"
    assert main(["process", str(tmp_path / "in"), "--chain", str(chain), "--out", str(local),
                 "--jobs", "2"]) == 1

    with local_dask_cluster(tmp_path) as address:
        code = main(["process", str(tmp_path / "in"), "--chain", str(chain), "--out",
                     str(remote), "--scheduler", address])
    captured = capsys.readouterr()
    assert code == 1, (tmp_path / "cluster.log").read_text()[-2000:]
    local_m, remote_m = _manifest(local), _manifest(remote)
    assert remote_m["executor"] == {"kind": "dask", "scheduler": address}
    assert [f["status"] for f in local_m["files"]] == [f["status"] for f in remote_m["files"]]
    assert [f["error"] for f in local_m["failures"]] == [f["error"] for f in remote_m["failures"]]
    wavs = sorted(p.name for p in local.glob("*.wav"))
    assert len(wavs) == 4 and wavs == sorted(p.name for p in remote.glob("*.wav"))
    for name in wavs:
        a, fs_a = _read(local / name)
        b, fs_b = _read(remote / name)
        assert fs_a == fs_b
        np.testing.assert_array_equal(a, b)  # bit-identical samples
    assert "4 failed" in captured.out
    shutil.rmtree(remote)


def test_a_rerun_with_every_output_up_to_date_and_two_jobs_starts_no_pool(tmp_path, rng, capsys):
    """With nothing left to do, --jobs 2 raised 'max_workers must be greater than 0'."""
    good = _good_files(tmp_path / "in", rng)
    chain = _chain(tmp_path)
    past = time.time() - 100
    for p in [*good.values(), chain]:
        os.utime(p, (past, past))
    out = tmp_path / "out"
    args = ["process", str(tmp_path / "in"), "--chain", str(chain), "--out", str(out)]
    assert main([*args, "--jobs", "1"]) == 0
    capsys.readouterr()
    assert main([*args, "--jobs", "2"]) == 0
    assert "0 processed, 4 up to date" in capsys.readouterr().out
