"""Live capacity in ``audiolab bench``: chains per core within half of a 64-frame period."""

import json

import pytest

from audiolab.bench import BenchCase, run_cases
from audiolab.bench._runner import live_capacity
from audiolab.cli import main


@pytest.mark.parametrize(
    ("x_real_time", "chains"),
    # A chain at R x real time takes 1/R of each period; n chains fit in half of it while
    # n / R <= 1/2, so n = floor(R / 2).
    [(2.0, 1), (1.99, 0), (31.0, 15), (0.1, 0), (1000.0, 500)],
)
def test_live_capacity_is_half_the_real_time_factor(x_real_time, chains):
    assert live_capacity(x_real_time) == chains


def test_live_capacity_other_load_fraction():
    assert live_capacity(10.0, load_fraction=0.8) == 8


def test_run_cases_adds_the_capacity_to_a_live_case():
    # 1 s of audio per run; a no-op is far faster than 2x real time, so at least one chain.
    case = BenchCase(name="noop", audio_s=1.0, ours=lambda: None, live_block_frames=64,
                     live_fs=48000.0)
    (r,) = run_cases([case], budget_s=0.01)
    assert r.extra["live_block_frames"] == 64
    assert r.extra["live_period_ms"] == pytest.approx(64 / 48.0)
    assert r.extra["live_chains_in_half_period"] == live_capacity(r.ours_x_real_time) >= 1
    assert "live_chains_in_half_period" in r.as_dict()


def test_run_cases_no_capacity_for_other_cases():
    (r,) = run_cases([BenchCase(name="noop", audio_s=1.0, ours=lambda: None)], budget_s=0.01)
    assert r.extra == {}


@pytest.mark.slow
def test_bench_prints_the_live_capacity_rows(capsys):
    assert main(["bench", "--quick", "--json", "--only", "live capacity"]) == 0
    doc = json.loads(capsys.readouterr().out)
    names = [r["name"] for r in doc["results"]]
    assert len(names) == 2 and "hearing-loss" in names[0] and "gammatone" in names[1]
    for r in doc["results"]:
        assert r["live_chains_in_half_period"] == live_capacity(r["ours_x_real_time"])
    assert main(["bench", "--quick", "--only", "live capacity: gammatone"]) == 0
    assert "chains per core within half of a 64-frame period (1.33 ms)" in capsys.readouterr().out
