"""Resume determinism: a session interrupted and resumed stores exactly what an uninterrupted
session with the same seed stores, responses included (the listener's draws are a function of
seed and trial index), from Python and from the command line."""

from pathlib import Path

import pytest
from cli_run import run_cli

from audiolab._errors import ConfigError
from audiolab.experiments import TrialDraws, load_experiment, parse_listener, run_session
from audiolab.store import ResultsStore

EXP = Path(__file__).resolve().parent.parent / "experiments"
FS = 24000.0


def _trials(store, session_id):
    return [(t.index, t.track, t.variable, t.response, t.presented)
            for t in store.trials(session_id)]


@pytest.mark.parametrize(("name", "spec"), [
    ("audiogram.toml", "simulated:N3"),
    ("tone_in_noise_3afc.toml", "simulated:N2"),
    ("am_detection_weighted.toml", "psychometric:midpoint=-15,slope=0.4,lapse=0.02"),
])
def test_resumed_session_equals_the_uninterrupted_one(tmp_path, name, spec):
    exp = load_experiment(EXP / name)
    with ResultsStore(tmp_path / "r.sqlite") as store:
        whole = run_session(exp, store=store, subject="A1", seed=11, fs=FS,
                            listener=parse_listener(spec, seed=11))
        # Interrupted twice, each part answered by a new listener object with the same seed.
        first = run_session(exp, store=store, subject="B1", seed=11, fs=FS, max_trials=7,
                            listener=parse_listener(spec, seed=11))
        run_session(exp, store=store, subject="B1", resume=True, fs=FS, max_trials=5,
                    listener=parse_listener(spec, seed=11))
        last = run_session(exp, store=store, subject="B1", resume=True, fs=FS,
                           listener=parse_listener(spec, seed=11))
        assert whole.finished and last.finished and first.session_id == last.session_id
        assert _trials(store, first.session_id) == _trials(store, whole.session_id)
        assert last.summary == whole.summary


def test_resume_with_another_listener_is_refused_before_anything_is_written(tmp_path):
    exp = load_experiment(EXP / "tone_in_noise_3afc.toml")
    with ResultsStore(tmp_path / "r.sqlite") as store:
        res = run_session(exp, store=store, subject="C1", seed=3, fs=FS, max_trials=4,
                          listener=parse_listener("simulated:N1", seed=3))
        events = store.events(res.session_id)
        with pytest.raises(ConfigError, match="resume it with the same listener"):
            run_session(exp, store=store, subject="C1", resume=True, fs=FS,
                        listener=parse_listener("simulated:N4", seed=3))
        assert store.events(res.session_id) == events and len(store.trials(res.session_id)) == 4


def test_cli_resume_uses_the_stored_seed_for_the_listener(tmp_path, capsys):
    # The resumed command gives no --seed (default 0): the listener still draws from the
    # session's seed 5, so the stored session equals an uninterrupted run with --seed 5.
    exp = EXP / "tone_in_noise_3afc.toml"
    db = tmp_path / "r.sqlite"
    base = [exp, "--listener", "simulated:N2", "--db", db, "--fs", "16000"]
    assert run_cli(capsys, "run", *base, "--subject", "D1", "--seed", 5)[0] == 0
    assert run_cli(capsys, "run", *base, "--subject", "D2", "--seed", 5,
                   "--max-trials", 9)[0] == 0
    assert run_cli(capsys, "run", *base, "--subject", "D2", "--resume")[0] == 0
    with ResultsStore(db, create=False) as store:
        assert _trials(store, 2) == _trials(store, 1)


def test_trial_draws_depend_on_seed_index_and_repeat_only():
    a, b = TrialDraws(1), TrialDraws(1)
    first = [a.generator(i).random() for i in range(5)]
    assert [b.generator(i).random() for i in (4, 2, 0, 1, 3)] == [first[i] for i in (4, 2, 0, 1, 3)]
    assert a.generator(4).random() != first[4]  # asked again: a new draw
    assert TrialDraws(2).generator(0).random() != first[0]
