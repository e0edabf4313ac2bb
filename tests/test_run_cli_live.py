"""`audiolab run` with a person at the device: a live 3-AFC run on the JACK dummy server, answers
scripted on stdin, every trial stored with the stream frames of its intervals."""

import io
import json
import sys
from pathlib import Path

import pytest

from audiolab.cli._main import main
from audiolab.store import ResultsStore

pytestmark = [pytest.mark.jack, pytest.mark.slow, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parent.parent
FS = 48000  # the dummy server's rate (tests/with_jack.sh)


def _short_3afc(tmp_path, *, duration_ms, isi_ms):
    """The shipped 3-AFC file with short intervals (10 ms ramps), so a live run takes seconds."""
    text = (ROOT / "experiments" / "tone_in_noise_3afc.toml").read_text()
    text = (text.replace("duration_ms = 300", f"duration_ms = {duration_ms}")
            .replace("ramp_ms = 20", "ramp_ms = 10").replace("isi_ms = 400", f"isi_ms = {isi_ms}"))
    exp = tmp_path / "e.toml"
    exp.write_text(text)
    return exp


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("AUDIOLAB_CALIBRATION_MAX_AGE_DAYS", "100000")


def test_live_3afc_stores_every_trial_with_onsets_matching_the_interval_timing(
        server, tmp_path, monkeypatch, capsys):
    # The shipped 3-AFC file with short intervals (100 ms sound, 50 ms silence between them)
    # so the live run takes seconds.
    exp = _short_3afc(tmp_path, duration_ms=100, isi_ms=50)
    db = tmp_path / "r.sqlite"
    cal = str(ROOT / "calibration" / "example.toml")
    answers = ["1", "2", "3", "oops", "2", "1"]  # one invalid answer, asked again
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(answers) + "\n"))
    args = ["run", str(exp), "--subject", "P01", "--calibration", cal, "--db", str(db),
            "--max-trials", "5", "--log-trials"]
    assert main(args) == 0, capsys.readouterr().err
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [t["index"] for t in logged] == [0, 1, 2, 3, 4]
    # resume live: the next answers continue the session at index 5
    monkeypatch.setattr(sys, "stdin", io.StringIO("3\n3\n"))
    assert main([*args[:-3], "--max-trials", "2", "--resume"]) == 0
    with ResultsStore(db, create=False) as store:
        session = store.session(1)
        trials = store.trials(1)
    assert session.live is not None and session.live.fs == FS and session.listener == "person"
    assert [t.index for t in trials] == list(range(7))
    assert [t.response for t in trials] == ["1", "2", "3", "2", "1", "3", "3"]
    sound = round(0.100 * FS)  # 4800 samples of sound per interval
    period = round((0.100 + 0.050) * FS)  # 7200 samples from one onset to the next
    last_offset = -1
    for t in trials:
        if t.index == 5:  # the resumed run opened a new stream: its frames start again
            last_offset = -1
        onsets = t.presented["interval_onset_frames"]
        offsets = t.presented["interval_offset_frames"]
        assert [b - a for a, b in zip(onsets, onsets[1:], strict=False)] == [period, period]
        assert [b - a for a, b in zip(onsets, offsets, strict=True)] == [sound] * 3
        assert t.onset_frame == onsets[0] and t.offset_frame == offsets[-1]
        assert t.onset_frame > last_offset  # trials follow one another on one stream
        last_offset = t.offset_frame
        assert t.response_time_ms is not None and t.response_time_ms >= 0
        assert t.correct == (int(t.response) == t.presented["target_interval"])


def test_a_live_session_run_to_its_stop_rule_stores_the_engine_counts(
        server, tmp_path, monkeypatch, capsys):
    # Always answering "1" is right on a third of the trials: the 1-up-2-down track climbs to
    # its 85 dB SPL ceiling and stops after 3 trials there (max_trials_at_bound).
    exp = _short_3afc(tmp_path, duration_ms=60, isi_ms=20)
    db = tmp_path / "r.sqlite"
    monkeypatch.setattr(sys, "stdin", io.StringIO("1\n" * 200))
    assert main(["run", str(exp), "--subject", "P02", "--db", str(db), "--json",
                 "--calibration", str(ROOT / "calibration" / "example.toml")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["finished"] and doc["summary"]["stop_reason"] is not None
    with ResultsStore(db, create=False) as store:
        session = store.session(doc["session_id"])
        trials = store.trials(doc["session_id"])
    assert session.status == "completed" and len(trials) == doc["n_trials"]
    # Both counts are stored. A callback lost without a JACK xrun would be ours; with xruns
    # (the dummy driver's own, which a loaded 2-core machine causes) JACK skips cycles.
    assert session.lost_callbacks is not None and session.xruns is not None
    assert session.xruns > 0 or session.lost_callbacks == 0
    assert all(t.response == "1" for t in trials)
