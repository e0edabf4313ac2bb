"""Hearing-loss profile rows of ``audiolab bench``: the simulator with and without smearing."""

import json

import pytest

from audiolab.bench._hearing_loss import cases
from audiolab.cli import main


def test_profile_rows_differ_only_in_the_smearing():
    rows = [c for c in cases(quick=True) if c.name.startswith("hearing-loss profile N3")]
    assert [r.name.split(", ")[1] for r in rows] == ["whole (smearing + bands)", "bands only"]
    assert all(r.reference is None for r in rows)  # a profile: our own stages, no reference
    # Each row runs its own simulator; the bands-only one has no smearing stage, so its output
    # differs from the whole simulator's.
    whole, bands = (r.ours() for r in rows)
    assert whole.shape == bands.shape and not (whole == bands).all()
    # Both run N3's severe bank (18 bands per ear); only the whole one smears.
    sims = [r.ours.__defaults__[0] for r in rows]  # type: ignore[attr-defined]
    assert [s.designs["left"].center_frequencies_hz.size for s in sims] == [18, 18]
    assert [s.any_smearing for s in sims] == [True, False]


@pytest.mark.slow
def test_bench_prints_the_profile(capsys):
    assert main(["bench", "--quick", "--json", "--only", "hearing-loss profile"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["results"]) == 2
    assert all(r["ours_x_real_time"] > 0 and r["ratio"] is None for r in doc["results"])
