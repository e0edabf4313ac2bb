"""`audiolab score` and `audiolab process --score`: pairing, delay compensation, bad pairs, Dask."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from dask_cluster import local_dask_cluster

from audiolab.audiology import load_speech_corpus
from audiolab.batch import ScoreTask, pair_files, run_scoring
from audiolab.cli._main import main
from audiolab.dsp import stoi

FS = 16000


def _speech(i: int) -> np.ndarray:
    """A bundled sentence at FS, RMS 0.05 (-23 dBFS): room for the noise in float files."""
    x = load_speech_corpus().sentences[i].load(fs=FS).astype(np.float64)
    return 0.05 * x / np.sqrt(np.mean(x**2))


def _write(path: Path, x: np.ndarray, fs: int = FS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.asarray(x, np.float32).T, fs, subtype="FLOAT")


def _corpus(tmp: Path, rng: np.random.Generator, n: int = 3) -> list[tuple[np.ndarray, np.ndarray]]:
    """ref/sI.wav and noisy/sI.wav: speech and speech in white noise at 0 dB SNR."""
    pairs = []
    for i in range(n):
        clean = _speech(i)
        noisy = clean + clean.std() * rng.standard_normal(clean.size)
        _write(tmp / "ref" / f"s{i}.wav", clean)
        _write(tmp / "noisy" / f"s{i}.wav", noisy)
        pairs.append((clean.astype(np.float32), noisy.astype(np.float32)))
    return pairs


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_score_pairs_by_name_and_matches_the_library(tmp_path, rng, capsys):
    pairs = _corpus(tmp_path, rng)
    out = tmp_path / "scores.csv"
    code = main(["score", "--reference", str(tmp_path / "ref"), "--processed",
                 str(tmp_path / "noisy"), "--out", str(out), "--jobs", "1"])
    assert code == 0
    rows = _rows(out)
    assert [Path(r["processed"]).name for r in rows] == ["s0.wav", "s1.wav", "s2.wav"]
    for r, (clean, noisy) in zip(rows, pairs, strict=True):
        assert r["status"] == "scored" and r["error"] == "" and r["sii"] == ""
        # The files hold float32 samples: the same arrays give the same score.
        assert float(r["stoi"]) == pytest.approx(stoi(clean, noisy, FS), abs=1e-12)
        assert float(r["estoi"]) == pytest.approx(stoi(clean, noisy, FS, extended=True), abs=1e-12)
    printed = capsys.readouterr().out
    mean = np.mean([float(r["stoi"]) for r in rows])
    sd = np.std([float(r["stoi"]) for r in rows], ddof=1)
    assert "3 pairs scored, 0 failed" in printed and f"stoi {mean:.3f} SD {sd:.3f}" in printed


def test_bad_pairs_one_line_each_others_scored_exit_1(tmp_path, rng, capsys):
    _corpus(tmp_path, rng, n=2)
    clean = _speech(2)
    _write(tmp_path / "ref" / "rate.wav", clean)
    _write(tmp_path / "noisy" / "rate.wav", clean, fs=8000)
    _write(tmp_path / "ref" / "length.wav", clean)
    _write(tmp_path / "noisy" / "length.wav", clean[:-10])
    _write(tmp_path / "ref" / "short.wav", clean[:3000])
    _write(tmp_path / "noisy" / "short.wav", clean[:3000])
    _write(tmp_path / "ref" / "silent.wav", np.zeros(20000))
    _write(tmp_path / "noisy" / "silent.wav", clean[:20000])
    (tmp_path / "noisy" / "corrupt.wav").write_bytes(b"RIFF\x00\x00not a wave file")
    _write(tmp_path / "ref" / "corrupt.wav", clean)
    _write(tmp_path / "noisy" / "orphan.wav", clean)
    out = tmp_path / "scores.csv"
    code = main(["score", "--reference", str(tmp_path / "ref"), "--processed",
                 str(tmp_path / "noisy"), "--out", str(out), "--jobs", "2"])
    assert code == 1
    err = [line for line in capsys.readouterr().err.splitlines() if "failed:" in line]
    expected = {
        "rate.wav": "sample rates differ: reference 16000 Hz, processed 8000 Hz",
        "length.wav": "lengths differ",
        "short.wav": "for one 384 ms STOI segment",
        "silent.wav": "silent",
        "corrupt.wav": "corrupt.wav",
        "orphan.wav": "no reference named orphan",
    }
    assert len(err) == len(expected)
    for name, words in expected.items():
        assert any(name in line and words in line for line in err), (name, err)
    rows = _rows(out)
    assert sorted(r["status"] for r in rows) == ["failed"] * 6 + ["scored"] * 2
    assert all(0.3 < float(r["stoi"]) < 1 for r in rows if r["status"] == "scored")


def test_pairs_csv_with_conditions_and_plot(tmp_path, rng, capsys):
    _corpus(tmp_path, rng, n=2)
    _write(tmp_path / "quiet" / "s0.wav", _speech(0))
    _write(tmp_path / "quiet" / "s1.wav", _speech(1))
    (tmp_path / "pairs.csv").write_text(
        "reference,processed,condition\n"
        "ref/s0.wav,noisy/s0.wav,0 dB\nref/s1.wav,noisy/s1.wav,0 dB\n"
        "ref/s0.wav,quiet/s0.wav,quiet\nref/s1.wav,quiet/s1.wav,quiet\n"
    )
    plot = tmp_path / "scores.png"
    code = main(["score", "--pairs", str(tmp_path / "pairs.csv"), "--metric", "stoi,sii",
                 "--plot", str(plot), "--out", str(tmp_path / "s.csv"), "--jobs", "1"])
    assert code == 0
    text = capsys.readouterr().out
    assert "0 dB (n=2): stoi" in text and "quiet (n=2): stoi 1.000" in text
    rows = _rows(tmp_path / "s.csv")
    quiet = [r for r in rows if r["condition"] == "quiet"]
    # Identical signals: STOI 1, and no residual noise, so SII at its maximum for the speech.
    assert all(float(r["stoi"]) == pytest.approx(1.0, abs=1e-9) for r in quiet)
    noisy = [r for r in rows if r["condition"] == "0 dB"]
    assert max(float(r["sii"]) for r in noisy) < min(float(r["sii"]) for r in quiet)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--reference", "R", "--processed", "P", "--metric", "pesq"], "--metric must be one of"),
        (["--reference", "R"], "give --reference and --processed"),
        (["--pairs", "x.csv", "--reference", "R"], "not both"),
        (["--reference", "R", "--processed", "P", "--jobs", "0"], "--jobs must be at least 1"),
        (["--reference", "R", "--processed", "P", "--out", "s.txt"], "ending in .csv"),
        (["--pairs", "missing.csv"], "--pairs"),
        (["--reference", "nothing_here", "--processed", "P"], "no such file or folder"),
    ],
)
def test_bad_commands_exit_2_with_one_line(tmp_path, monkeypatch, capsys, argv, words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "R").mkdir()
    _write(tmp_path / "R" / "a.wav", np.zeros(100))
    (tmp_path / "P").mkdir()
    _write(tmp_path / "P" / "a.wav", np.zeros(100))
    assert main(["score", *argv]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_process_score_compensates_the_chain_delay_and_fills_the_manifest(tmp_path, capsys):
    clean = _speech(3)
    _write(tmp_path / "in" / "s3.wav", clean)
    chain = tmp_path / "aided.toml"
    chain.write_text('[[stage]]\ntype = "hearing-aid"\naudiogram = "N3"\nrule = "nal-r"\n')
    code = main(["process", str(tmp_path / "in"), "--chain", str(chain), "--out",
                 str(tmp_path / "out"), "--jobs", "1", "--score"])
    assert code == 0
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    f = m["files"][0]
    d = f["latency_samples"]
    assert d > 0 and f["score_delay_samples"] == d
    out, _ = sf.read(tmp_path / "out" / "s3.wav", dtype="float32", always_2d=True)
    x = clean.astype(np.float32)[: clean.size - d]
    expected = np.mean([stoi(x, out[d:, ch], FS) for ch in range(2)])
    assert f["scores"]["stoi"] == pytest.approx(expected, abs=1e-12)
    unaligned = np.mean([stoi(clean, out[:, ch], FS) for ch in range(2)])
    assert f["scores"]["stoi"] > unaligned  # the delay compensation matters
    # `audiolab score` on the same folders reads the delay from the manifest: same number.
    assert main(["score", "--reference", str(tmp_path / "in"), "--processed",
                 str(tmp_path / "out"), "--out", str(tmp_path / "s.csv"), "--jobs", "1"]) == 0
    row = _rows(tmp_path / "s.csv")[0]
    assert row["condition"] == "aided" and int(row["delay_samples"]) == d
    assert float(row["stoi"]) == f["scores"]["stoi"]


def test_score_task_never_raises_and_pairing_reports_the_unpaired(tmp_path, rng):
    _corpus(tmp_path, rng, n=1)
    _write(tmp_path / "ref" / "extra.wav", _speech(1))
    tasks, unpaired = pair_files(str(tmp_path / "ref"), str(tmp_path / "noisy"))
    assert [Path(t.output).name for t in tasks] == ["s0.wav"]
    assert [u.error for u in unpaired] == ["no processed file named extra.*"]
    r = ScoreTask(input=str(tmp_path / "nope.wav"), output=str(tmp_path / "ref/s0.wav")).run()
    assert r.status == "failed" and "no such file" in (r.error or "")
    report = run_scoring(tasks, unpaired=unpaired, jobs=1)
    assert report.exit_code == 1 and [r.status for r in report.results] == ["scored", "failed"]


@pytest.mark.slow
def test_dask_scores_equal_local_scores(tmp_path, rng):
    pytest.importorskip("distributed")  # installed by both make targets
    _corpus(tmp_path, rng, n=3)
    args = ["score", "--reference", str(tmp_path / "ref"), "--processed", str(tmp_path / "noisy"),
            "--metric", "stoi,estoi,sii"]
    assert main([*args, "--jobs", "2", "--out", str(tmp_path / "local.csv")]) == 0
    with local_dask_cluster(tmp_path) as address:
        code = main([*args, "--scheduler", address, "--out", str(tmp_path / "dask.csv")])
    assert code == 0, (tmp_path / "cluster.log").read_text()[-2000:]
    local, remote = _rows(tmp_path / "local.csv"), _rows(tmp_path / "dask.csv")
    for a, b in zip(local, remote, strict=True):
        assert (a["processed"], a["status"]) == (b["processed"], b["status"])
        for m in ("stoi", "estoi", "sii"):
            assert a[m] == b[m]  # the same text: bit-identical floats
