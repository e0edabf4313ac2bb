"""`audiolab score` and `process --score` with HASPI and HASQI: the library's numbers, levels,
ears, bad pairs and bad commands, local processes and Dask."""

import json
import math

import numpy as np
import pytest
import soundfile as sf
from dask_cluster import local_dask_cluster
from test_score import FS, _rows, _speech, _write

from audiolab.audiology import haspi, hasqi
from audiolab.cli._main import main


def _pairs(tmp, rng, n=2):
    out = []
    for i in range(n):
        clean = _speech(i)
        noisy = clean + 0.5 * clean.std() * rng.standard_normal(clean.size)
        _write(tmp / "ref" / f"s{i}.wav", clean)
        _write(tmp / "noisy" / f"s{i}.wav", noisy)
        out.append((clean.astype(np.float32).astype(np.float64),
                    noisy.astype(np.float32).astype(np.float64)))
    return out


def test_all_four_metrics_per_pair_equal_the_library(tmp_path, rng, capsys):
    pairs = _pairs(tmp_path, rng)
    out = tmp_path / "scores.csv"
    code = main(["score", "--reference", str(tmp_path / "ref"), "--processed",
                 str(tmp_path / "noisy"), "--metric", "stoi,estoi,haspi,hasqi",
                 "--audiogram", "N3", "--level-db-spl", "65", "--out", str(out), "--jobs", "1"])
    assert code == 0
    for row, (clean, noisy) in zip(_rows(out), pairs, strict=True):
        assert row["status"] == "scored" and row["stoi"] and row["estoi"]
        assert float(row["level_db_spl"]) == pytest.approx(65.0, abs=1e-9)
        # A mono pair: the better ear of N3 (left, equal ears), its column filled.
        assert float(row["haspi"]) == haspi(clean, noisy, FS, audiogram="N3", level_db_spl=65.0)
        assert float(row["hasqi"]) == hasqi(clean, noisy, FS, audiogram="N3", level_db_spl=65.0)
        assert row["haspi_left"] == row["haspi"] and row["haspi_right"] == ""
    assert "haspi" in capsys.readouterr().out


def test_stereo_pairs_score_each_ear_and_keep_the_better(tmp_path, rng):
    clean = _speech(0)
    noisy = np.stack([clean + 0.3 * clean.std() * rng.standard_normal(clean.size),
                      clean + 2.0 * clean.std() * rng.standard_normal(clean.size)])
    _write(tmp_path / "ref" / "s.wav", clean)
    _write(tmp_path / "out" / "s.wav", noisy)
    out = tmp_path / "s.csv"
    assert main(["score", "--reference", str(tmp_path / "ref"), "--processed",
                 str(tmp_path / "out"), "--metric", "haspi", "--audiogram", "N2",
                 "--level-db-spl", "70", "--out", str(out), "--jobs", "1"]) == 0
    row = _rows(out)[0]
    left, right = float(row["haspi_left"]), float(row["haspi_right"])
    assert left > right and float(row["haspi"]) == max(left, right)
    # --ear right reports the right ear of the same pair.
    assert main(["score", "--reference", str(tmp_path / "ref"), "--processed",
                 str(tmp_path / "out"), "--metric", "haspi", "--audiogram", "N2", "--ear",
                 "right", "--level-db-spl", "70", "--out", str(out), "--jobs", "1"]) == 0
    assert float(_rows(out)[0]["haspi"]) == right


def test_full_scale_sets_the_level_from_the_files(tmp_path, rng):
    (clean, noisy), = _pairs(tmp_path, rng, n=1)
    out = tmp_path / "s.csv"
    assert main(["score", "--reference", str(tmp_path / "ref"), "--processed",
                 str(tmp_path / "noisy"), "--metric", "haspi", "--audiogram", "N3",
                 "--full-scale-db-spl", "110", "--out", str(out), "--jobs", "1"]) == 0
    # A full-scale sine (RMS 1/sqrt 2) is 110 dB SPL: RMS r is 110 + 20 log10(sqrt(2) r).
    level = 110 + 20 * math.log10(math.sqrt(2) * np.sqrt(np.mean(clean**2)))
    row = _rows(out)[0]
    assert float(row["level_db_spl"]) == pytest.approx(level, abs=1e-9)
    assert float(row["haspi"]) == haspi(clean, noisy, FS, audiogram="N3",
                                        level_db_spl=float(row["level_db_spl"]))


def test_bad_pairs_one_line_each_others_scored_exit_1(tmp_path, rng, capsys):
    _pairs(tmp_path, rng, n=1)
    clean = _speech(2)
    _write(tmp_path / "ref" / "rate.wav", clean)
    _write(tmp_path / "noisy" / "rate.wav", clean, fs=8000)
    _write(tmp_path / "ref" / "short.wav", clean[:2000])
    _write(tmp_path / "noisy" / "short.wav", clean[:2000])
    _write(tmp_path / "ref" / "silent.wav", np.zeros(20000))
    _write(tmp_path / "noisy" / "silent.wav", clean[:20000])
    code = main(["score", "--reference", str(tmp_path / "ref"), "--processed",
                 str(tmp_path / "noisy"), "--metric", "haspi,hasqi", "--audiogram", "S2",
                 "--out", str(tmp_path / "s.csv"), "--jobs", "1"])
    assert code == 1
    rows = {r["reference"].rsplit("/", 1)[-1]: r for r in _rows(tmp_path / "s.csv")}
    assert rows["s0.wav"]["status"] == "scored" and float(rows["s0.wav"]["hasqi"]) > 0
    err = capsys.readouterr().err.splitlines()
    for name, words in (("rate", "sample rates differ"), ("short", "needs at least 200 ms"),
                        ("silent", "silent")):
        assert rows[f"{name}.wav"]["status"] == "failed"
        assert words in rows[f"{name}.wav"]["error"]
        assert sum(f"{name}.wav" in line and words in line for line in err) == 1


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--metric", "haspi"], "need the listener's audiogram: give --audiogram"),
        (["--metric", "hasqi", "--audiogram", "N9"], "N9"),
        (["--metric", "haspi", "--audiogram", "nowhere.csv"], "nowhere.csv"),
        (["--metric", "haspi", "--audiogram", "N3", "--seed", "-2"], "--seed must be >= 0"),
    ],
)
def test_bad_listener_options_exit_2_with_one_line(tmp_path, monkeypatch, capsys, extra, words):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "R" / "a.wav", np.zeros(100))
    _write(tmp_path / "P" / "a.wav", np.zeros(100))
    assert main(["score", "--reference", "R", "--processed", "P", *extra]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_level_and_full_scale_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as info:
        main(["score", "--reference", "R", "--processed", "P", "--level-db-spl", "65",
              "--full-scale-db-spl", "100"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "not allowed with" in err and err.count("\n") == 1


def test_process_score_uses_the_chain_audiogram_and_the_run_levels(tmp_path, capsys):
    clean = _speech(4)
    _write(tmp_path / "in" / "s4.wav", clean)
    chain = tmp_path / "aided.toml"
    chain.write_text('[[stage]]\ntype = "hearing-aid"\naudiogram = "N3"\nrule = "nal-r"\n')
    code = main(["process", str(tmp_path / "in"), "--chain", str(chain), "--out",
                 str(tmp_path / "out"), "--jobs", "1", "--level-db-spl", "60", "--score",
                 "--metric", "stoi,haspi"])
    assert code == 0, capsys.readouterr().err
    f = json.loads((tmp_path / "out" / "manifest.json").read_text())["files"][0]
    d = f["latency_samples"]
    out, _ = sf.read(tmp_path / "out" / "s4.wav", dtype="float32", always_2d=True)
    x = np.repeat(clean.astype(np.float32).astype(np.float64)[None, : clean.size - d], 2, 0)
    y = out.T[:, d:].astype(np.float64)
    # The input was presented at 60 dB SPL and the output written at its own level: the
    # processed side carries the aid's gain (output level - input level) into the model.
    rms_in = np.sqrt(np.mean(clean.astype(np.float32).astype(np.float64) ** 2))
    rms_out = np.sqrt(np.mean(out.astype(np.float64) ** 2))
    gain = 10 ** ((f["output_level_db_spl"] - f["input_level_db_spl"]) / 20) * rms_in / rms_out
    level = f["input_level_db_spl"] + 20 * np.log10(np.sqrt(np.mean(x**2)) / rms_in)
    expected = haspi(x, y * gain, FS, audiogram="N3", level_db_spl=level)
    assert f["input_level_db_spl"] == pytest.approx(60.0, abs=1e-6)
    assert f["scores"]["haspi"] == pytest.approx(expected, abs=1e-12)


@pytest.mark.slow
def test_dask_scores_equal_local_scores(tmp_path, rng):
    pytest.importorskip("distributed")  # installed by both make targets
    _pairs(tmp_path, rng, n=2)
    args = ["score", "--reference", str(tmp_path / "ref"), "--processed", str(tmp_path / "noisy"),
            "--metric", "stoi,estoi,haspi,hasqi", "--audiogram", "N3", "--level-db-spl", "65"]
    assert main([*args, "--jobs", "2", "--out", str(tmp_path / "local.csv")]) == 0
    with local_dask_cluster(tmp_path) as address:
        code = main([*args, "--scheduler", address, "--out", str(tmp_path / "dask.csv")])
    assert code == 0, (tmp_path / "cluster.log").read_text()[-2000:]
    local, remote = _rows(tmp_path / "local.csv"), _rows(tmp_path / "dask.csv")
    for a, b in zip(local, remote, strict=True):
        assert (a["processed"], a["status"]) == (b["processed"], b["status"]) == (
            a["processed"], "scored")
        for m in ("stoi", "estoi", "haspi", "hasqi", "haspi_left", "hasqi_left"):
            assert a[m] == b[m]  # the same text: bit-identical floats
