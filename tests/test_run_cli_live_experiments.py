"""Every shipped experiment file runs live on the JACK dummy server: a person's answers are
scripted on stdin, the example calibration sets the levels, and each stored trial carries the
stream frames of its intervals, which must match the file's timing to the sample."""

import io
import json
import re
import sys
from pathlib import Path

import pytest

from audiolab._errors import SafetyError
from audiolab.calibration import OutputCeiling, db_hl_to_db_spl, load_calibration
from audiolab.cli._main import main
from audiolab.experiments import load_experiment
from audiolab.store import ResultsStore

pytestmark = [pytest.mark.jack, pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parent.parent
CAL = ROOT / "calibration" / "example.toml"
FS = 48000  # the dummy server's rate (tests/with_jack.sh)
N_TRIALS = 4

# One scripted answer per trial, in each file's response format.
ANSWERS = {
    "audiogram.toml": ["y", "n", "y", "y"],
    "tone_in_noise_3afc.toml": ["1", "3", "2", "2"],
    "am_detection_weighted.toml": ["2", "1", "2", "2"],
    "tone_detection_questplus.toml": ["1", "2", "2", "1"],
    "srt_matrix.toml": ["3", "0", "5", "2"],
}


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("AUDIOLAB_CALIBRATION_MAX_AGE_DAYS", "100000")


def _highest_db_hl_allowed(f_hz: float) -> float:
    """The highest 5 dB step the example calibration's ceiling allows at ``f_hz``, both ears."""
    cal = load_calibration(CAL, max_age_days=1e6)
    ceiling = OutputCeiling.for_outputs(cal, 2, fs=FS)
    level = 120.0
    while level > -10.0:
        spl = float(db_hl_to_db_spl(level, frequency_hz=f_hz, transducer=cal.transducer))
        try:
            for channel in (0, 1):
                ceiling.check_tone(spl, f_hz, channel)
        except SafetyError:
            level -= 5.0
            continue
        return level
    raise AssertionError(f"the example calibration allows no tone at {f_hz:g} Hz")


def _short_version(name: str, text: str) -> str:
    """The shipped file with short sounds (the run takes seconds), levels within the ceiling.

    The example calibration's ceiling (100 dB SPL) is below what the audiogram's 90 dB HL needs
    at 250 Hz (115.5 dB SPL through TDH-39) and what the matrix track's +20 dB SNR needs over
    65 dB SPL noise: those files get the lower limits such a lab would set.
    """
    text = re.sub(r"duration_ms = \d+", "duration_ms = 100", text)
    text = re.sub(r"ramp_ms = \d+", "ramp_ms = 10", text)
    text = re.sub(r"isi_ms = \d+", "isi_ms = 50", text)
    if name == "audiogram.toml":
        order = load_experiment(ROOT / "experiments" / name).frequencies_hz
        caps = ", ".join(f'"{f:g}" = {min(90.0, _highest_db_hl_allowed(f)):g}' for f in order)
        text = text.replace("step_down_db", f"max_db_hl_by_frequency = {{ {caps} }}\n"
                                            "step_down_db")
    if name == "srt_matrix.toml":
        text = text.replace("ceiling_db = 20", "ceiling_db = 15")
    return text


def _check_timing(trial, stimulus) -> None:
    """The trial's stream frames follow the file's interval timing to the sample."""
    onsets = trial.presented["interval_onset_frames"]
    offsets = trial.presented["interval_offset_frames"]
    assert trial.onset_frame == onsets[0] and trial.offset_frame == offsets[-1]
    if stimulus.kind == "speech_in_noise":
        # One interval: noise lead, the sentence, noise lag (noise_lead_ms each side).
        lead = round(stimulus.noise_lead_ms * FS / 1000)
        sentence = (trial.presented["speech_offset_samples"]
                    - trial.presented["speech_onset_samples"])
        assert trial.presented["speech_onset_samples"] == lead
        assert offsets[0] - onsets[0] == sentence + 2 * lead
        return
    sound = round(stimulus.duration_ms * FS / 1000)
    period = round((stimulus.duration_ms + stimulus.isi_ms) * FS / 1000)
    assert [b - a for a, b in zip(onsets, offsets, strict=True)] == [sound] * len(onsets)
    assert [b - a for a, b in zip(onsets, onsets[1:], strict=False)] == \
        [period] * (len(onsets) - 1)


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_each_shipped_experiment_runs_live_with_scripted_answers(
        server, name, tmp_path, monkeypatch, capsys):
    exp = tmp_path / name
    exp.write_text(_short_version(name, (ROOT / "experiments" / name).read_text()))
    stimulus = load_experiment(exp).stimulus
    db = tmp_path / "r.sqlite"
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(ANSWERS[name]) + "\n"))
    args = ["run", str(exp), "--subject", "P01", "--calibration", str(CAL), "--db", str(db),
            "--max-trials", str(N_TRIALS), "--log-trials"]
    assert main(args) == 0, capsys.readouterr().err
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()
              if line.startswith("{")]
    assert [t["index"] for t in logged] == list(range(N_TRIALS))
    with ResultsStore(db, create=False) as store:
        session = store.session(1)
        trials = store.trials(1)
    assert session.live is not None and session.live.fs == FS and session.listener == "person"
    assert session.calibration != "virtual ideal calibration"
    assert [t.index for t in trials] == list(range(N_TRIALS))
    expected = {"y": "yes", "n": "no"}
    assert [t.response for t in trials] == [expected.get(a, a) for a in ANSWERS[name]]
    n_intervals = {"tone_in_noise_3afc.toml": 3, "am_detection_weighted.toml": 2,
                   "tone_detection_questplus.toml": 2}.get(name, 1)
    last_offset = -1
    for t in trials:
        assert len(t.presented["interval_onset_frames"]) == n_intervals
        _check_timing(t, stimulus)
        assert t.onset_frame > last_offset  # trials follow one another on one stream
        last_offset = t.offset_frame
        assert t.response_time_ms is not None and t.response_time_ms >= 0


@pytest.mark.parametrize("name", ["audiogram.toml", "srt_matrix.toml"])
def test_shipped_files_above_the_example_ceiling_are_refused_in_one_line(
        server, name, tmp_path, monkeypatch, capsys):
    # Unchanged, these two reach levels the example calibration's 100 dB SPL ceiling forbids:
    # refused before the first trial, nothing stored.
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    db = tmp_path / "r.sqlite"
    assert main(["run", str(ROOT / "experiments" / name), "--subject", "P01",
                 "--calibration", str(CAL), "--db", str(db)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "exceed the output ceiling" in err[0]
    if db.exists():
        with ResultsStore(db, create=False) as store:
            assert store.sessions() == []
