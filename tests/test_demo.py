"""`audiolab demo`, the main job: files, SII ordering and levels for the N3 profile."""

import json

import numpy as np
import pytest
import soundfile as sf

from audiolab.calibration import digital_to_pa_scale, rms_db_spl
from audiolab.cli import main


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_writes_every_file(demo_out):
    for name in ("normal.wav", "unaided.wav", "aided.wav", "report.png", "summary.json"):
        assert (demo_out / name).stat().st_size > 1000, name
    assert (demo_out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_summary_sii_aided_above_unaided_for_n3(demo_out):
    s = json.loads((demo_out / "summary.json").read_text())
    sii = s["sii"]
    assert set(sii) == {"normal", "unaided", "aided"}
    # Normal-effort speech at 65 dB SPL in quiet for normal hearing: SII close to 1 (ANSI S3.5);
    # N3 (moderate loss) lowers it; the fitted aid gives much of it back.
    assert sii["normal"] > 0.95
    assert 0.1 < sii["unaided"] < 0.6
    assert sii["aided"] > sii["unaided"] + 0.15
    assert s["audiogram"]["name"] == "N3"


@pytest.mark.slow
def test_wavs_are_float32_stereo_at_stated_levels(demo_out):
    s = json.loads((demo_out / "summary.json").read_text())
    scale = digital_to_pa_scale(s["full_scale_db_spl"])
    levels = {}
    for cond in ("normal", "unaided", "aided"):
        x, fs = sf.read(demo_out / f"{cond}.wav", dtype="float32", always_2d=True)
        assert sf.info(str(demo_out / f"{cond}.wav")).subtype == "FLOAT"
        assert x.shape[1] == 2 and fs == s["fs_hz"]
        assert np.isfinite(x).all()
        levels[cond] = rms_db_spl(x[:, 0] * scale)
    assert levels["normal"] == pytest.approx(65.0, abs=0.05)
    # The simulated loss makes speech quieter; the aid restores part of it.
    assert levels["unaided"] < levels["normal"] - 10
    assert levels["unaided"] < levels["aided"] < levels["normal"] + 15


def test_bad_audiogram_is_one_line_exit_2(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--audiogram", "N99"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "N99" in err[0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        # The range of --level-db-spl in every command (LevelOptions of audiolab.batch).
        ({"level_db_spl": 200.0}, "level_db_spl must be in [-20, 160], got 200.0"),
        ({"n_sentences": 0}, "n_sentences must be in [1, "),
        ({"n_sentences": 1000}, "got 1000"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, kwargs, message):
    from audiolab import ConfigError
    from audiolab.reports import run_demo

    with pytest.raises(ConfigError) as exc:
        run_demo(tmp_path / "out", **kwargs)
    assert message in str(exc.value)
    assert not (tmp_path / "out").exists()
