"""The command line under hostile use: every bad command is one line on stderr and exit code 2,
a batch with bad files processes the good ones and exits with 1, and nothing hangs.

Found by a user-level review of `demo`, `fit`, `verify`, `process`, `simulate` and `bench`; each
test pins one behaviour that was wrong before it.
"""

import io
import json
import math
import os
import signal
import socket
import threading

import numpy as np
import pytest
import soundfile as sf
from cli_run import one_line as _one_line
from cli_run import run_cli as _run

from audiolab.cli import main

FS = 48000




def _tone(n=4800, amp=0.25):
    return (amp * np.sin(2 * np.pi * 1000 * np.arange(n) / FS)).astype(np.float32)


def _gain_chain(tmp_path):
    chain = tmp_path / "gain.toml"
    chain.write_text('[[stage]]\ntype = "gain"\ngain_db = 0.0\n')
    return chain


# -- argparse's own errors
@pytest.mark.parametrize(
    "argv, words",
    [
        (["process", "x.wav", "--chain", "c.toml", "--out", "o", "--jobs", "two"],
         "argument --jobs: invalid int value: 'two'"),
        (["simulate", "x.wav", "--audiogram", "N3", "--out", "o", "--ci-channels", "2.5"],
         "invalid int value: '2.5'"),
        (["demo", "--rule", "nal-x"], "argument --rule: invalid choice"),
        (["bench", "--json", "--markdown"], "not allowed with argument --json"),
        (["verify"], "the following arguments are required: CHAIN"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_argparse_errors_are_one_line_with_where_to_look(capsys, argv, words):
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == "" and _one_line(err)
    assert words in err and "--help`" in err and "usage:" not in err


# -- process: every kind of bad file in one batch
def _hostile_folder(folder):
    """Good files of every sample format and channel count, and bad ones with their message."""
    folder.mkdir()
    x = _tone()
    good = {
        "pcm16": (x, "PCM_16"), "u8": (x, "PCM_U8"), "pcm24": (x, "PCM_24"),
        "double": (x, "DOUBLE"), "stereo": (np.stack([x, -x], axis=1), "FLOAT"),
        "one_sample": (np.array([0.5], np.float32), "FLOAT"),
    }
    for name, (data, subtype) in good.items():
        sf.write(folder / f"{name}.wav", data, FS, subtype=subtype)
    bad = {
        "five": "has 5 channels; give mono or stereo",
        "nan": "contains NaN or inf samples (first at channel 0, frame 7)",
        "empty": "is empty (0 bytes)",
        "text": "is not a sound file that libsndfile can read",
        "truncated": "is truncated",
    }
    sf.write(folder / "five.wav", np.stack([x] * 5, axis=1), FS, subtype="FLOAT")
    y = x.copy()
    y[7] = np.nan
    sf.write(folder / "nan.wav", y, FS, subtype="FLOAT")
    (folder / "empty.wav").write_bytes(b"")
    (folder / "text.wav").write_text("not a recording\n" * 20)
    whole = (folder / "pcm16.wav").read_bytes()
    (folder / "truncated.wav").write_bytes(whole[: len(whole) // 2])
    return good, bad


def test_batch_of_hostile_files_processes_every_good_one_and_exits_1(tmp_path, capsys):
    good, bad = _hostile_folder(tmp_path / "in")
    out = tmp_path / "out"
    code, stdout, err = _run(capsys, "process", tmp_path / "in", "--chain", _gain_chain(tmp_path),
                             "--out", out, "--jobs", "1")
    assert code == 1 and "Traceback" not in err
    assert f"{len(good)} processed, 0 up to date (skipped), {len(bad)} failed" in stdout
    for name in good:
        y, fs = sf.read(out / f"{name}.wav", always_2d=True)
        n_in = sf.info(str(tmp_path / "in" / f"{name}.wav")).frames
        assert fs == FS and y.shape == (n_in, 2) and np.isfinite(y).all()
    failures = [line for line in err.splitlines() if line.startswith("process: failed: ")]
    assert len(failures) == len(bad)
    for name, words in bad.items():
        assert any(f"{name}.wav: {words}" in line for line in failures), (name, failures)


@pytest.mark.parametrize("fmt, subtype", [("AIFF", "PCM_16"), ("AIFF", "FLOAT")])
def test_truncated_aiff_is_a_failed_file_not_a_short_output(tmp_path, fmt, subtype):
    """libsndfile reads a cut-short AIFF(-C) without complaint; only WAV was checked before."""
    from audiolab import FileFormatError
    from audiolab._audio_io import read_audio

    whole = tmp_path / "whole.aiff"
    sf.write(whole, _tone(), FS, format=fmt, subtype=subtype)
    cut = tmp_path / "cut.aiff"
    cut.write_bytes(whole.read_bytes()[:-1000])
    assert read_audio(whole).n_frames == 4800
    with pytest.raises(FileFormatError, match=r"cut.aiff: is truncated: its header declares"):
        read_audio(cut)


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--level-db-spl", "200"], "--level-db-spl must be in [-20, 160], got 200.0"),
        (["--level-db-spl=-inf"], "--level-db-spl must be in [-20, 160], got -inf"),
        (["--full-scale-db-spl", "inf"], "--full-scale-db-spl must be in [0, 200], got inf"),
        (["--jobs", "-1"], "--jobs must be at least 1, got -1"),
    ],
)
def test_bad_numbers_are_one_line_and_nothing_runs(tmp_path, capsys, extra, words):
    sf.write(tmp_path / "x.wav", _tone(), FS)
    code, out, err = _run(capsys, "process", tmp_path / "x.wav", "--chain",
                          _gain_chain(tmp_path), "--out", tmp_path / "out", *extra)
    assert code == 2 and out == "" and _one_line(err) and words in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "argv, words",
    [
        (["process", "", "--chain", "{chain}", "--out", "{tmp}/o"], "an input is an empty string"),
        (["process", "{wav}", "--chain", "{chain}", "--out", ""], "--out is empty"),
        (["process", "{wav}", "--chain", "", "--out", "{tmp}/o"], "chain file name is empty"),
        (["simulate", "{wav}", "--audiogram", "", "--out", "{tmp}/o"], "audiogram is empty"),
        (["fit", ""], "audiogram is empty"),
        (["fit", "N3", "--plot", ""], "--plot is empty"),
        (["verify", ""], "chain file name is empty"),
        (["demo", "--out", ""], "--out is empty"),
    ],
)
def test_empty_paths_are_refused_not_taken_as_the_current_folder(tmp_path, capsys, monkeypatch,
                                                                  argv, words):
    """An unset shell variable (`audiolab process "$IN" ...`) walked or wrote the current folder."""
    monkeypatch.chdir(tmp_path)
    sf.write(tmp_path / "x.wav", _tone(), FS)
    fill = {"tmp": tmp_path, "wav": tmp_path / "x.wav", "chain": _gain_chain(tmp_path)}
    before = sorted(tmp_path.iterdir())
    code, out, err = _run(capsys, *[a.format(**fill) for a in argv])
    assert code == 2 and out == "" and _one_line(err) and words in err
    assert sorted(tmp_path.iterdir()) == before


# -- --scheduler: fail fast, never hang
def _process_with_scheduler(tmp_path, capsys, scheduler):
    sf.write(tmp_path / "x.wav", _tone(), FS)
    return _run(capsys, "process", tmp_path / "x.wav", "--chain", _gain_chain(tmp_path),
                "--out", tmp_path / "out", "--scheduler", scheduler)


def test_scheduler_on_a_closed_port_fails_at_once(tmp_path, capsys):
    pytest.importorskip("distributed")
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = _process_with_scheduler(tmp_path, capsys, f"tcp://127.0.0.1:{port}")
    assert code == 2 and _one_line(err) and "nothing listens there" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("reply", [b"", b"HTTP/1.0 400 Bad Request\r\n\r\n"])
def test_scheduler_port_with_another_service_is_refused_not_waited_on(
    tmp_path, capsys, monkeypatch, reply
):
    """A silent service, or one answering HTTP (the dashboard's port), made distributed hang."""
    pytest.importorskip("distributed")
    import audiolab.batch._batch as batch

    monkeypatch.setattr(batch, "_PROBE_TIMEOUT_S", 0.5)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    done = threading.Event()

    def serve():
        conn, _ = server.accept()
        with conn:
            conn.sendall(reply)
            done.wait(10)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        code, _, err = _process_with_scheduler(tmp_path, capsys, f"tcp://127.0.0.1:{port}")
    finally:
        done.set()
        thread.join(10)
        server.close()
    assert code == 2 and _one_line(err) and "does not answer like a Dask scheduler" in err


def test_json_that_is_not_a_scheduler_file_is_one_line(tmp_path, capsys):
    pytest.importorskip("distributed")
    other = tmp_path / "audiogram.json"
    other.write_text('{"left": {}}')
    code, _, err = _process_with_scheduler(tmp_path, capsys, other)
    assert code == 2 and _one_line(err) and "is not a Dask scheduler file" in err


# -- fit and verify: output paths are checked before any work
@pytest.mark.parametrize(
    "extra, words",
    [
        (["--plot", "{tmp}"], "is a folder; give a file name"),
        (["--plot", "{tmp}/fit"], "give a file name ending in .png, .pdf, .svg"),
        (["--plot", "{tmp}/fit.txt"], "give a file name ending in .png"),
        (["--plot", "{tmp}/missing/fit.png"], "does not exist; create it first"),
        (["--write-chain", "{tmp}"], "--write-chain"),
    ],
)
def test_fit_refuses_unwritable_outputs_before_writing_anything(tmp_path, capsys, extra, words):
    chain = tmp_path / "n3.toml"
    extra = [e.format(tmp=tmp_path) for e in extra]
    args = ["fit", "N3", *extra] + ([] if "--write-chain" in extra else ["--write-chain", chain])
    code, out, err = _run(capsys, *args)
    assert code == 2 and out == "" and _one_line(err) and words in err
    assert not chain.exists()


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--attack-ms", "-3"], "--attack-ms must be in (0, 500], got -3.0"),
        (["--release-ms", "nan"], "--release-ms must be in (0, 5000], got nan"),
        (["--rule", "NAL-R"], "--rule must be one of"),
        (["--compression", "linear", "--release-ms", "80"],
         "--attack-ms and --release-ms apply to compressive fits only"),
    ],
)
def test_fit_messages_name_the_option(capsys, extra, words):
    code, out, err = _run(capsys, "fit", "N3", *extra)
    assert code == 2 and out == "" and _one_line(err) and words in err


def test_verify_refuses_a_plot_it_cannot_write_before_measuring(tmp_path, capsys, monkeypatch):
    import audiolab.reports._verify as verify

    def must_not_run(*args, **kwargs):
        raise AssertionError("measured before checking --plot")

    monkeypatch.setattr(verify, "verify_chain", must_not_run)
    code, _, err = _run(capsys, "verify", _gain_chain(tmp_path), "--plot", tmp_path / "r.txt")
    assert code == 2 and _one_line(err) and "give a file name ending in .png" in err


def test_attack_and_release_of_an_unsettling_output_are_not_measurable():
    """A noise-carrier vocoder's envelope never settles: verify printed 12800 ms before."""
    from audiolab.models import CochlearImplantSimulator
    from audiolab.reports._verify import measure_attack_release_ms

    attack, release = measure_attack_release_ms(
        lambda: CochlearImplantSimulator(n_bands=4, fs=16000), fs=16000, latency_samples=0,
        hold_s=0.5,
    )
    assert math.isnan(attack) and math.isnan(release)


def test_verify_reports_unmeasurable_times_as_such(tmp_path, capsys, monkeypatch):
    import audiolab.reports._verify as verify

    monkeypatch.setattr(verify, "measure_attack_release_ms", lambda *a, **k: (math.nan, math.nan))
    chain = _gain_chain(tmp_path)
    code, out, _ = _run(capsys, "verify", chain)
    assert code == 0 and "attack and release: not measurable" in out and "nan" not in out
    code, out, _ = _run(capsys, "verify", chain, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["attack_ms"] is None and doc["release_ms"] is None


# -- demo, simulate, bench
def test_demo_with_a_bad_audiogram_creates_no_folder(tmp_path, capsys):
    out = tmp_path / "demo"
    code, _, err = _run(capsys, "demo", "--audiogram", "N9", "--out", out)
    assert code == 2 and _one_line(err) and "neither a preset" in err
    assert not out.exists()


def test_demo_out_that_is_a_file_is_one_line(tmp_path, capsys):
    out = tmp_path / "demo"
    out.write_text("")
    code, _, err = _run(capsys, "demo", "--out", out)
    assert code == 2 and _one_line(err) and f"--out {out} exists and is not a folder" in err


@pytest.mark.parametrize(
    "extra, words, not_words",
    [
        (["--audiogram", "N9"], "audiogram 'N9' is neither a preset", "chain:"),
        (["--audiogram", "N3", "--ci-channels", "30"], "--ci-channels must be in [1, 22], got 30",
         "stage 2"),
    ],
)
def test_simulate_messages_name_the_options_not_a_hidden_chain(tmp_path, capsys, extra, words,
                                                               not_words):
    sf.write(tmp_path / "x.wav", _tone(), FS)
    code, _, err = _run(capsys, "simulate", tmp_path / "x.wav", "--out", tmp_path / "o", *extra)
    assert code == 2 and _one_line(err) and words in err and not_words not in err


def test_bench_only_matching_nothing_is_a_bad_command(capsys):
    code, out, err = _run(capsys, "bench", "--quick", "--only", "no such case")
    assert code == 2 and out == "" and _one_line(err)
    assert "--only 'no such case' matches no case; the cases are: gammatone" in err


# -- output streams
def test_progress_is_a_few_lines_when_stderr_is_not_a_terminal():
    from audiolab.batch import FileResult
    from audiolab.batch._progress import Progress

    log = io.StringIO()  # a CI log: not a terminal
    bar = Progress(5000, stream=log, label="process")
    for _ in range(5000):
        bar.update(FileResult(input="i", output="o", status="processed"))
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 10
    assert lines[-1].startswith("process [" + "#" * 30 + "] 5000/5000 files")


def test_progress_on_a_terminal_shows_the_batch_before_the_first_file_ends():
    from audiolab.batch._progress import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    Progress(4, stream=stream, label="simulate")
    assert stream.getvalue() == "simulate [" + "." * 30 + "] 0/4 files"


def test_closed_stdout_pipe_ends_quietly(capsys, monkeypatch):
    """`audiolab verify n3.toml | head -1` printed 'error: Broken pipe' and exited 2."""

    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("sys.stdout", ClosedPipe())
    code = main(["fit", "N3", "--compression", "linear"])
    assert code == 141 and capsys.readouterr().err == ""


def test_ctrl_c_while_workers_start_is_acted_on_once_they_have(monkeypatch):
    """Ctrl-C during start-up left a traceback from the fork server or a half-started worker."""
    from audiolab.batch._executors import ctrl_c_held

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with ctrl_c_held():
            os.kill(os.getpid(), signal.SIGINT)  # held, not raised here
            held = True
    assert held and signal.getsignal(signal.SIGINT) is before


# -- help texts
IN_SCOPE = ("demo", "process", "simulate", "bench", "fit", "verify")
ENGINE_COMMANDS = ("devices", "live", "play", "latency", "calibrate", "results", "stages")


def test_help_gives_each_command_one_line_at_80_columns(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = _run(capsys, "--help")
    lines = out.splitlines()
    for name in IN_SCOPE:
        (i,) = [k for k, line in enumerate(lines) if line.startswith(f"    {name} ")]
        assert not lines[i + 1].startswith(" " * 14), lines[i : i + 2]


@pytest.mark.parametrize("name", IN_SCOPE + ENGINE_COMMANDS)
def test_help_has_examples_and_every_option_explained(capsys, name):
    import argparse

    from audiolab.cli._main import build_parser

    code, out, _ = _run(capsys, name, "--help")
    assert code == 0 and "\nexample" in out
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    for action in sub.choices[name]._actions:
        assert action.help, f"{name}: {action.option_strings or action.dest} has no help"


def test_verify_declares_no_attack_release_for_a_linear_aid():
    """A linear aid's unused 5/50 ms defaults were shown beside the limiter's measured times."""
    from audiolab.models import HearingAid
    from audiolab.reports._verify import _declared

    linear = _declared(HearingAid("N3", fs=16000, compression="linear"))
    assert linear["attack_ms"] is None and linear["release_ms"] is None
    wdrc = _declared(HearingAid("N3", fs=16000, attack_ms=8.0, release_ms=80.0))
    assert (wdrc["attack_ms"], wdrc["release_ms"]) == (8.0, 80.0)


def _die():
    os._exit(3)


@pytest.mark.slow
def test_workers_that_cannot_start_fail_each_file_not_the_batch(tmp_path, monkeypatch):
    """Since the workers are started before the files are handed out, a pool broken at start-up
    surfaced in submit() as a traceback; each file must fail on its own, as any worker crash."""
    import audiolab.batch._batch as batch

    monkeypatch.setattr(batch, "_hear_ctrl_c", _die)  # the worker initializer
    for name in ("a", "b"):
        sf.write(tmp_path / f"{name}.wav", _tone(), FS)
    report = batch.run_batch([tmp_path / "a.wav", tmp_path / "b.wav"],
                             chain=_gain_chain(tmp_path), out_dir=tmp_path / "out", jobs=2)
    assert [r.status for r in report.results] == ["failed", "failed"]
    assert all("worker process died" in r.error for r in report.results)
