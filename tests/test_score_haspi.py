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


# A Clarity listeners.json (the layout of the CEC/CPC metadata): two listeners by id.
_LISTENERS = {
    "L0001": {"name": "L0001", "audiogram_cfs": [250, 500, 1000, 2000, 3000, 4000, 6000, 8000],
              "audiogram_levels_l": [10, 10, 20, 30, 40, 50, 55, 60],
              "audiogram_levels_r": [10, 15, 20, 35, 45, 50, 60, 65]},
    "L0002": {"name": "L0002", "audiogram_cfs": [250, 500, 1000, 2000, 3000, 4000, 6000, 8000],
              "audiogram_levels_l": [30, 35, 40, 50, 55, 60, 70, 75],
              "audiogram_levels_r": [25, 30, 40, 45, 55, 65, 70, 80]},
}
# Cell of each row, and what the row's pair should give: an audiogram to score with, or the
# words of its one-line failure.
_PER_PAIR = [
    ("a", "S2", "S2"),
    ("b", "meta/listeners.json#L0002", "meta/listeners.json#L0002"),
    ("c", "", "N3"),  # an empty cell: --audiogram
    ("d", "meta/nowhere.json", "is neither a preset"),
    ("e", "meta/impossible.csv", "thresholds must be in [-10, 120] dB HL, got 150 dB HL"),
    ("f", "meta/listeners.json#L9999", "has no listener 'L9999'"),
]


def _per_pair_corpus(tmp):
    """A pairs CSV with an audiogram column, the pairs 1.5 s of speech in noise."""
    rng = np.random.default_rng(7)
    (tmp / "meta").mkdir()
    (tmp / "meta" / "listeners.json").write_text(json.dumps(_LISTENERS))
    (tmp / "meta" / "impossible.csv").write_text(
        "frequency_hz,left_db_hl,right_db_hl\n500,20,20\n1000,150,30\n2000,40,40\n4000,50,50\n")
    lines = ["reference,processed,audiogram"]
    signals = {}
    for i, (name, cell, _) in enumerate(_PER_PAIR):
        clean = _speech(i % 3)[:24000]
        noisy = clean + 0.7 * clean.std() * rng.standard_normal(clean.size)
        _write(tmp / "ref" / f"{name}.wav", clean)
        _write(tmp / "noisy" / f"{name}.wav", noisy)
        signals[name] = (clean.astype(np.float32).astype(np.float64),
                         noisy.astype(np.float32).astype(np.float64))
        lines.append(f"ref/{name}.wav,noisy/{name}.wav,{cell}")
    (tmp / "pairs.csv").write_text("\n".join(lines) + "\n")
    return signals


def _check_per_pair_rows(tmp, rows, signals, err):
    by_name = {r["reference"].rsplit("/", 1)[-1][:-4]: r for r in rows}
    for name, _, expect in _PER_PAIR:
        row = by_name[name]
        if expect in ("S2", "N3") or expect.startswith("meta/"):
            clean, noisy = signals[name]
            audiogram = expect if expect in ("S2", "N3") else str(tmp / expect)
            assert row["status"] == "scored", row["error"]
            assert float(row["haspi"]) == haspi(clean, noisy, FS, audiogram=audiogram,
                                                level_db_spl=65.0)
        else:
            assert row["status"] == "failed" and expect in row["error"]
            assert sum(f"{name}.wav" in line and expect in line for line in err) == 1
    # The cells were used: the same pair scores differently for two listeners.
    assert by_name["a"]["haspi"] != by_name["c"]["haspi"] != by_name["b"]["haspi"]


def test_pairs_csv_audiogram_column_per_pair_bad_cells_fail_their_pair(tmp_path, capsys):
    signals = _per_pair_corpus(tmp_path)
    args = ["score", "--pairs", str(tmp_path / "pairs.csv"), "--metric", "haspi",
            "--level-db-spl", "65", "--jobs", "1"]
    out = tmp_path / "s.csv"
    assert main([*args, "--audiogram", "N3", "--out", str(out)]) == 1
    _check_per_pair_rows(tmp_path, _rows(out), signals, capsys.readouterr().err.splitlines())
    # Without --audiogram the row with an empty cell has no listener: that pair fails alone.
    assert main([*args, "--out", str(out)]) == 1
    rows = {r["reference"].rsplit("/", 1)[-1]: r for r in _rows(out)}
    assert rows["c.wav"]["status"] == "failed"
    assert "no audiogram for this pair" in rows["c.wav"]["error"]
    assert rows["a.wav"]["status"] == rows["b.wav"]["status"] == "scored"
    err = capsys.readouterr().err.splitlines()
    assert sum("c.wav" in line and "no audiogram for this pair" in line for line in err) == 1


def test_pairs_csv_audiogram_column_leaves_a_bad_global_audiogram_a_bad_command(
        tmp_path, capsys):
    _per_pair_corpus(tmp_path)
    assert main(["score", "--pairs", str(tmp_path / "pairs.csv"), "--metric", "haspi",
                 "--audiogram", "meta/absent.json", "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert "absent.json" in err and err.count("\n") == 1


@pytest.mark.slow
def test_pairs_csv_audiogram_column_on_dask_equals_local(tmp_path, capsys):
    pytest.importorskip("distributed")  # installed by both make targets
    signals = _per_pair_corpus(tmp_path)
    args = ["score", "--pairs", str(tmp_path / "pairs.csv"), "--metric", "haspi",
            "--level-db-spl", "65", "--audiogram", "N3"]
    with local_dask_cluster(tmp_path) as address:
        code = main([*args, "--scheduler", address, "--out", str(tmp_path / "dask.csv")])
    assert code == 1, (tmp_path / "cluster.log").read_text()[-2000:]
    _check_per_pair_rows(tmp_path, _rows(tmp_path / "dask.csv"), signals,
                         capsys.readouterr().err.splitlines())
