"""Stored state stays bounded: each trial row keeps the procedure's compact state (never its
history), so a 500-trial session stores rows of constant size, and the whole state is still
rebuilt exactly from the seed and the stored responses."""

import json
import re
import sqlite3
from pathlib import Path

import pytest

from audiolab.experiments import (
    InterleavedConfig,
    PsychometricListener,
    UpDownConfig,
    WeightedUpDownConfig,
    load_experiment,
    make_procedure,
    parse_experiment,
    parse_listener,
    replay,
    run_listener,
    run_session,
)
from audiolab.experiments._runner import stored_response
from audiolab.store import ResultsStore

EXP = Path(__file__).resolve().parent.parent / "experiments"
N = 500


def _long(name: str) -> str:
    """A shipped file made to run 500 trials."""
    text = (EXP / name).read_text()
    text = re.sub(r"max_reversals = \d+", "max_reversals = 1000", text)
    text = re.sub(r"max_trials = \d+", f"max_trials = {N}", text)
    if "max_trials" not in text:
        text = text.replace("max_reversals = 1000", f"max_reversals = 1000\nmax_trials = {N}")
    return text


CASES = {
    "up_down": (_long("tone_in_noise_3afc.toml"), "psychometric:midpoint=55,slope=0.5"),
    "weighted": (_long("am_detection_weighted.toml"), "psychometric:midpoint=-15,slope=0.4"),
    "quest_plus": (_long("tone_detection_questplus.toml"), "psychometric:midpoint=20,slope=0.4"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_row_size_is_bounded_over_500_trials(tmp_path, name):
    text, spec = CASES[name]
    exp = parse_experiment(text)
    db = tmp_path / "r.sqlite"
    with ResultsStore(db) as store:
        res = run_session(exp, store=store, subject="S1", seed=4, fs=16000.0,
                          listener=parse_listener(spec, seed=4))
        assert res.n_trials == N
        stored = store.trials(res.session_id)
    with sqlite3.connect(db) as conn:
        sizes = [r[0] for r in conn.execute(
            "SELECT length(state_json) + length(presented_json) FROM trials ORDER BY trial_index")]
    # The last hundred rows are no larger than the largest of the first fifty plus a few
    # bytes for longer numbers (a row holding the history would grow by ~100 bytes a trial).
    assert max(sizes[-100:]) <= max(sizes[:50]) + 16, (sizes[:3], sizes[-3:])
    # Resume needs only the seed and the responses: replay gives the full state back.
    again = replay(exp.procedure, seed=4, responses=[stored_response(t) for t in stored])
    assert again.compact_state() == stored[-1].state


def test_interleaved_and_audiometry_compact_states_are_bounded():
    cfg = InterleavedConfig(tracks=(
        UpDownConfig(start_db=10.0, max_reversals=None, max_trials=N // 2),
        WeightedUpDownConfig(start_db=10.0, target=0.75, max_reversals=None,
                             max_trials=N // 2)))
    proc = make_procedure(cfg, seed=1)
    lst = PsychometricListener(midpoint_db=0.0, slope_per_db=0.5, seed=2)
    sizes = []
    while not proc.finished:
        run_listener(proc, lst, max_trials=1)
        sizes.append(len(json.dumps(proc.compact_state())))
    assert len(sizes) == N and max(sizes[-100:]) <= max(sizes[:50]) + 16
    assert len(json.dumps(proc.state())) > 50 * max(sizes)  # the full state holds the history
    audiogram = load_experiment(EXP / "audiogram.toml").procedure
    proc = make_procedure(audiogram, seed=1)
    lst = PsychometricListener(midpoint_db=20.0, slope_per_db=1.0, seed=2)
    sizes = []
    while not proc.finished:
        run_listener(proc, lst, max_trials=1)
        sizes.append(len(json.dumps(proc.compact_state())))
    assert max(sizes) < 1000
