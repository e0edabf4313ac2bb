"""Bundled speech material: manifest integrity, loading, matrix grid, speech-shaped noise LTASS."""

import csv

import numpy as np
import pytest
import soundfile as sf

from audiolab import ConfigError, FileFormatError
from audiolab.audiology import (
    BUNDLED_SPEECH_DIR,
    MATRIX_WORD_CLASSES,
    load_speech_corpus,
    matrix_sentence,
    speech_ltass,
    speech_shaped_noise,
)
from audiolab.calibration import rms_db_spl

FS_MATERIAL = 22050


def _third_octave_levels_db(x: np.ndarray, fs: float) -> np.ndarray:
    """Relative one-third-octave band levels (dB re total), 100 Hz - 8 kHz, by FFT binning.

    Base-10 mid-band frequencies f_m = 1000 * G^(x/3), G = 10^(3/10), band edges f_m * G^(+-1/6)
    (IEC 61260-1:2014).
    """
    power = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1 / fs)
    g = 10 ** 0.3
    fm = 1000 * g ** (np.arange(-10, 10) / 3)
    bands = np.array([power[(f >= m * g ** (-1 / 6)) & (f < m * g ** (1 / 6))].sum() for m in fm])
    return 10 * np.log10(bands / bands.sum())


def test_manifest_lists_every_file_once():
    with (BUNDLED_SPEECH_DIR / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["file", "words", "kind", "word_class"]
    files = [r["file"] for r in rows]
    assert len(files) == len(set(files))
    on_disk = {p.relative_to(BUNDLED_SPEECH_DIR).as_posix()
               for p in BUNDLED_SPEECH_DIR.glob("*/*.flac")}
    assert set(files) == on_disk
    assert all(r["words"] for r in rows)


def test_every_item_loads_as_stored():
    corpus = load_speech_corpus()
    assert len(corpus.sentences) >= 10
    for item in corpus:
        info = sf.info(str(item.file))
        assert (info.format, info.subtype, info.samplerate, info.channels) == (
            "FLAC", "PCM_24", FS_MATERIAL, 1)
        x, fs = item.read()
        assert fs == FS_MATERIAL and 0.2 < x.size / fs < 4.0
        # make_speech.py stores every item at -26 dB re RMS 1.0.
        assert 20 * np.log10(np.sqrt(np.mean(x**2))) == pytest.approx(-26.0, abs=0.05)
        assert np.abs(x).max() < 1.0


def test_bundled_material_is_small():
    total = sum(p.stat().st_size for p in BUNDLED_SPEECH_DIR.rglob("*.flac"))
    assert total < 2.5e6


def test_load_sets_level_and_rate():
    item = load_speech_corpus().sentences[0]
    x = item.load(fs=48000, level_db_spl=70.0)
    n_file = item.read()[0].size
    assert x.dtype == np.float32 and x.ndim == 1
    assert x.size == pytest.approx(n_file * 48000 / FS_MATERIAL, abs=2)
    assert rms_db_spl(x) == pytest.approx(70.0, abs=0.01)


def test_matrix_grid_is_five_by_ten():
    grid = load_speech_corpus().matrix_grid()
    assert tuple(grid) == MATRIX_WORD_CLASSES
    assert [len(words) for words in grid.values()] == [10] * 5
    for words in grid.values():
        assert len({w.words for w in words}) == 10


def test_matrix_sentence_composes_words_in_order():
    s = matrix_sentence([0, 0, 1, 0, 0], fs=FS_MATERIAL, gap_ms=50.0, level_db_spl=60.0)
    assert s.text == "Peter bought three large desks"
    grid = load_speech_corpus().matrix_grid()
    n_words = sum(grid[c][i].read()[0].size
                  for c, i in zip(MATRIX_WORD_CLASSES, s.indices, strict=True))
    assert s.audio.size == n_words + 4 * round(0.05 * FS_MATERIAL)
    assert rms_db_spl(s.audio) == pytest.approx(60.0, abs=0.01)


def test_matrix_sentence_random_draw_is_seeded():
    a = matrix_sentence(fs=16000, seed=5)
    b = matrix_sentence(fs=16000, seed=5)
    assert a.indices == b.indices
    np.testing.assert_array_equal(a.audio, b.audio)
    assert {matrix_sentence(fs=16000, seed=k).indices for k in range(6)} != {a.indices}


@pytest.mark.parametrize("bad", [[0, 0, 0], [0, 0, 0, 0, 10], [0, 0, 0, 0, -1], "01234"])
def test_matrix_sentence_rejects_bad_indices(bad):
    with pytest.raises(ConfigError, match="indices"):
        matrix_sentence(bad, fs=16000)


def test_speech_shaped_noise_follows_the_ltass():
    corpus = load_speech_corpus()
    speech = np.concatenate([item.read()[0] for item in corpus])
    reference = _third_octave_levels_db(speech, FS_MATERIAL)
    noise = speech_shaped_noise(20 * FS_MATERIAL, fs=FS_MATERIAL, seed=3)
    np.testing.assert_allclose(
        _third_octave_levels_db(noise.astype(np.float64), FS_MATERIAL), reference, atol=1.0)
    shipped, fs = sf.read(str(BUNDLED_SPEECH_DIR / "speech_shaped_noise.flac"))
    assert fs == FS_MATERIAL
    np.testing.assert_allclose(_third_octave_levels_db(shipped, fs), reference, atol=1.5)


def test_speech_shaped_noise_level_seed_and_rate():
    a = speech_shaped_noise(48000, fs=48000, seed=1, level_db_spl=55.0)
    assert a.dtype == np.float32 and a.shape == (48000,)
    assert rms_db_spl(a) == pytest.approx(55.0, abs=0.01)
    np.testing.assert_array_equal(a, speech_shaped_noise(48000, fs=48000, seed=1,
                                                         level_db_spl=55.0))
    assert not np.array_equal(a, speech_shaped_noise(48000, fs=48000, seed=2, level_db_spl=55.0))
    # Above the material's Nyquist frequency (11025 Hz) there is no speech, so no noise.
    spectrum = np.abs(np.fft.rfft(a)) ** 2
    f = np.fft.rfftfreq(a.size, 1 / 48000)
    assert spectrum[f > 11100].sum() < 1e-9 * spectrum.sum()


def test_ltass_is_a_spectrum():
    f, psd = speech_ltass()
    assert f[0] == 0 and f[-1] == pytest.approx(FS_MATERIAL / 2)
    assert psd.shape == f.shape and (psd >= 0).all()
    # Speech has most of its power below 1 kHz.
    assert psd[f < 1000].sum() > psd[f >= 1000].sum()


def test_user_corpus_from_manifest(tmp_path, rng):
    x = 0.1 * rng.standard_normal(16000)
    sf.write(str(tmp_path / "a.wav"), x, 16000)
    (tmp_path / "list.csv").write_text("file,words\na.wav,hello there\n")
    corpus = load_speech_corpus(tmp_path / "list.csv")
    assert [i.words for i in corpus] == ["hello there"] and corpus.items[0].kind == "sentence"
    assert corpus.items[0].load(fs=16000).size == 16000
    assert speech_shaped_noise(1000, fs=16000, seed=0, corpus=corpus).shape == (1000,)
    with pytest.raises(ConfigError, match="matrix words"):
        corpus.matrix_grid()


@pytest.mark.parametrize(
    "text, words",
    [
        ("name,words\na.wav,x\n", "lacks column"),
        ("file,words\nmissing.wav,x\n", "does not exist"),
        ("file,words,kind\na.wav,x,poem\n", "kind must be"),
        ("file,words,kind,word_class\na.wav,x,matrix,colour\n", "word_class"),
        ("file,words\n", "no rows"),
    ],
)
def test_bad_manifest_names_the_problem(tmp_path, text, words):
    sf.write(str(tmp_path / "a.wav"), np.zeros(100), 16000)
    (tmp_path / "manifest.csv").write_text(text)
    with pytest.raises(FileFormatError, match=words):
        load_speech_corpus(tmp_path)


def test_missing_corpus_and_bad_arguments(tmp_path):
    with pytest.raises(FileFormatError, match="not found"):
        load_speech_corpus(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="n_samples"):
        speech_shaped_noise(0, fs=16000)
    with pytest.raises(ConfigError, match="fs"):
        speech_shaped_noise(10, fs=-1)
    with pytest.raises(ConfigError, match="ratio"):
        load_speech_corpus().sentences[0].load(fs=16000.123456)
