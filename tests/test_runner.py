"""The session runner: every shipped file headless, the ceiling check first, resume by replay."""

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from audiolab._errors import CalibrationError, ConfigError, SafetyError
from audiolab.calibration import Calibration, load_calibration
from audiolab.experiments import (
    TerminalListener,
    load_experiment,
    parse_experiment,
    parse_listener,
    replay,
    run_session,
)
from audiolab.experiments._runner import stored_response
from audiolab.store import VIRTUAL_IDEAL_CALIBRATION, ResultsStore

ROOT = Path(__file__).resolve().parent.parent
EXP = ROOT / "experiments"
EXAMPLE_CAL = ROOT / "calibration" / "example.toml"
FS = 24000.0  # above twice the audiogram's 8 kHz; a lower rate than 48 kHz keeps tests quick

LISTENERS = {
    "audiogram": "simulated:N3",
    "srt_matrix": "simulated:N1",
    "tone_in_noise_3afc": "psychometric:midpoint=55,slope=0.5,lapse=0.02",
    "am_detection_weighted": "psychometric:midpoint=-20,slope=0.4,lapse=0.02",
    "tone_detection_questplus": "psychometric:midpoint=20,slope=0.4,lapse=0.02",
}


@pytest.fixture
def store(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as s:
        yield s


@pytest.mark.parametrize("name", sorted(LISTENERS))
def test_each_shipped_file_runs_headless_and_stores_every_trial(name, store):
    exp = load_experiment(EXP / f"{name}.toml")
    logged = []
    res = run_session(exp, store=store, subject="P01", seed=5, fs=FS,
                      listener=parse_listener(LISTENERS[name], seed=1), on_trial=logged.append)
    assert res.finished and res.n_new_trials == res.n_trials > 0
    trials = store.trials(res.session_id)
    assert [t.index for t in trials] == list(range(res.n_trials))
    assert [t.index for t in logged] == list(range(res.n_trials))
    session = store.session(res.session_id)
    assert session.status == "completed" and session.calibration == VIRTUAL_IDEAL_CALIBRATION
    assert session.experiment_toml == exp.text
    assert session.listener.split(":")[0] == LISTENERS[name].split(":")[0]
    # the stored responses rebuild the procedure exactly (what --resume relies on)
    again = replay(exp.procedure, seed=5, responses=[stored_response(t) for t in trials])
    assert again.finished
    assert json.loads(json.dumps(again.compact_state(), default=float)) == trials[-1].state
    assert all(exp.x_min_db <= t.variable <= exp.x_max_db for t in trials)


def test_up_down_3afc_converges_on_the_707_percent_point(store):
    # Levitt (1971): 1-up-2-down tracks p = 0.707. With the listener's logistic
    # psi(x) = 1/3 + (2/3 - lapse) / (1 + exp(-slope (x - m))), that is x_707 below.
    # One track's mean of 6 reversals at the 2 dB step has an SD of about 2 dB for slope 0.5
    # (spread of the reversal points ~ 1/slope dB, 6 of them, correlated); over 16 seeded
    # sessions the mean's SE is ~0.5 dB; the tolerance, 1.5 dB, is 3 SE.
    exp = load_experiment(EXP / "tone_in_noise_3afc.toml")
    estimates = []
    for seed in range(16):
        lst = parse_listener("psychometric:midpoint=55,slope=0.5,lapse=0", seed=100 + seed)
        res = run_session(exp, store=store, subject="P02", listener=lst, seed=seed, fs=FS)
        estimates.append(res.summary["threshold_db"])
    x_707 = lst.x_db_at(0.5 ** 0.5, n_intervals=3)
    assert np.mean(estimates) == pytest.approx(x_707, abs=1.5)


def test_resume_continues_with_no_duplicate_or_missing_trial(store):
    exp = load_experiment(EXP / "audiogram.toml")
    lst = parse_listener("simulated:N3", seed=2)
    first = run_session(exp, store=store, subject="P03", listener=lst, seed=9, max_trials=17,
                        fs=FS)
    assert not first.finished and first.n_trials == 17
    assert store.session(first.session_id).status == "running"
    second = run_session(exp, store=store, subject="P03", listener=lst, seed=1234, resume=True,
                         max_trials=30, fs=FS)
    assert second.session_id == first.session_id and second.n_new_trials == 30
    third = run_session(exp, store=store, subject="P03", listener=lst, seed=0, resume=True,
                        fs=FS)
    assert third.finished and third.n_trials == 47 + third.n_new_trials
    trials = store.trials(first.session_id)
    assert [t.index for t in trials] == list(range(third.n_trials))
    # the resumed session keeps its stored seed: the first 17 trials' levels and frequencies
    # are what an uninterrupted session with seed 9 presents
    ref = run_session(exp, store=store, subject="P04", listener=lst, seed=9, max_trials=17,
                      fs=FS)
    assert [t.presented for t in store.trials(ref.session_id)] == \
        [t.presented for t in trials[:17]]
    kinds = [e.kind for e in store.events(first.session_id)]
    assert kinds == ["start", "resume", "resume", "end"]
    with pytest.raises(ConfigError, match="no unfinished session"):
        run_session(exp, store=store, subject="P03", listener=lst, resume=True, fs=FS)


def test_a_level_above_the_ceiling_is_refused_before_anything_is_stored(store):
    text = (EXP / "tone_in_noise_3afc.toml").read_text().replace("ceiling_db = 85",
                                                                  "ceiling_db = 125")
    exp = parse_experiment(text)
    lst = parse_listener("psychometric:midpoint=55,slope=0.5", seed=1)
    cal = load_calibration(EXAMPLE_CAL, max_age_days=1e6)  # ceiling 100 dB SPL
    with pytest.raises(SafetyError):
        run_session(exp, store=store, subject="P05", listener=lst, calibration=cal, fs=FS)
    assert store.sessions() == []


def test_a_person_is_never_presented_sound_without_a_calibration_file(store):
    import io

    exp = load_experiment(EXP / "tone_in_noise_3afc.toml")
    person = TerminalListener(io.StringIO("1\n"), io.StringIO())
    for cal in (None, Calibration.uncalibrated_mode(2)):
        with pytest.raises(CalibrationError, match="without a calibration file"):
            run_session(exp, store=store, subject="P06", listener=person, calibration=cal)
    assert store.sessions() == []


@pytest.mark.parametrize("subject", ["jane.doe@example.org", "born 1984-03-02", "", "x" * 200])
def test_a_refused_pseudonym_writes_nothing(store, subject):
    exp = load_experiment(EXP / "tone_in_noise_3afc.toml")
    with pytest.raises(ConfigError):
        run_session(exp, store=store, subject=subject,
                    listener=parse_listener("psychometric:midpoint=55,slope=0.5", seed=1))
    assert store.sessions() == [] and store.subjects() == []


def test_terminal_answers_are_asked_again_until_valid():
    import io

    from audiolab.experiments import Trial

    prompts = io.StringIO()
    person = TerminalListener(io.StringIO("maybe\ny\n4\n7\n3\n"), prompts)
    yes_no = Trial(index=0, x_db=30.0, n_intervals=1, target_interval=None, catch=False)
    assert person.respond(yes_no) is True
    words = Trial(index=1, x_db=0.0, n_intervals=1, target_interval=None, catch=False,
                  n_words=5)
    assert person.respond(words) == 4
    afc = Trial(index=2, x_db=30.0, n_intervals=3, target_interval=1, catch=False)
    assert person.respond(afc) == 3
    assert "must be an interval number in [1, 3] for 3-AFC, got 7" in prompts.getvalue()
    with pytest.raises(ConfigError, match="--resume"):
        person.respond(afc)


def test_the_database_is_intact_after_a_session(tmp_path):
    path = tmp_path / "r.sqlite"
    with ResultsStore(path) as store:
        run_session(load_experiment(EXP / "tone_in_noise_3afc.toml"), store=store,
                    subject="P07", listener=parse_listener("simulated:N1", seed=1), fs=FS)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_rate_that_cannot_carry_the_highest_tone_is_refused(store):
    # 8 kHz (the audiogram's top frequency) needs fs > 16 kHz (Nyquist)
    exp = load_experiment(EXP / "audiogram.toml")
    with pytest.raises(ConfigError, match="fs must be above twice the highest tone frequency "
                                          r"\(8000 Hz\) to render it, got 16000 Hz"):
        run_session(exp, store=store, subject="P08", listener=parse_listener("simulated:N1",
                                                                              seed=1), fs=16000)
    assert store.sessions() == []


def test_a_person_at_a_terminal_answers_with_one_key_press():
    # Through a real pseudo-terminal: "x" is refused and asked again, then "2" alone (no
    # Enter) answers; the terminal's settings are restored afterwards.
    import io
    import os
    import termios
    import tty

    from audiolab.experiments import Trial
    from audiolab.experiments._runner import TerminalListener

    leader, follower = os.openpty()
    try:
        # Keys written to a terminal still in line mode wait for a newline (and a Ctrl-D there
        # is an end-of-line, not a byte): put it in key mode first, as a person's terminal is
        # while the listener waits.
        tty.setcbreak(follower)
        before = termios.tcgetattr(follower)
        with open(follower, closefd=False) as answers:
            os.write(leader, b"x2")
            prompts = io.StringIO()
            trial = Trial(index=0, x_db=50.0, n_intervals=3, target_interval=2, catch=False)
            assert TerminalListener(answers, prompts).respond(trial) == 2
        assert prompts.getvalue().count("which interval") == 2
        assert termios.tcgetattr(follower) == before
        os.write(leader, b"\x04")  # Ctrl-D ends the answers
        with open(follower, closefd=False) as answers, pytest.raises(ConfigError,
                                                                          match="--resume"):
            TerminalListener(answers, io.StringIO()).respond(trial)
    finally:
        os.close(leader)
        os.close(follower)


def test_each_audiogram_frequency_is_checked_at_its_own_highest_level():
    # The example calibration (ceiling 100 dB SPL, -7 dBFS at its most sensitive 1 kHz) allows
    # 70 dB HL at 250 Hz through TDH-39 (104 - 7 - 25.5 = 71.5) but not 90. With
    # max_db_hl_by_frequency lowering 250 Hz to 70 and 8 kHz to 75 (96 - 7 - 13 = 76), the
    # other frequencies may keep 85 (worst: 4 kHz, 103 - 7 - 9.5 = 86.5).
    from audiolab.experiments._runner import check_session_levels

    cal = load_calibration(EXAMPLE_CAL, max_age_days=1e6)
    text = (EXP / "audiogram.toml").read_text().replace("max_db_hl = 90", "max_db_hl = 85")
    capped = text.replace("step_down_db", 'max_db_hl_by_frequency = { "250" = 70, "8000" = 75 }'
                                          "\nstep_down_db")
    check_session_levels(parse_experiment(capped), calibration=cal, fs=FS)
    for too_high in ('"250" = 75, "8000" = 75', '"250" = 70, "8000" = 80'):
        bad = text.replace("step_down_db", f"max_db_hl_by_frequency = {{ {too_high} }}"
                                           "\nstep_down_db")
        with pytest.raises(SafetyError, match="would exceed the output ceiling"):
            check_session_levels(parse_experiment(bad), calibration=cal, fs=FS)
