"""Options several commands share are declared once; every --json output is standard JSON."""

import argparse
import json

import numpy as np
import pytest

from audiolab.cli import main
from audiolab.cli._main import build_parser
from audiolab.cli._options import print_json

# Declared once in audiolab.cli._options: the same help text in every command that has them.
SHARED = ("--device", "--calibration", "--uncalibrated", "--max-calibration-age-days",
          "--blocksize", "--record", "--full-scale-db-spl", "--json")


def _options_by_command() -> dict[str, dict[str, argparse.Action]]:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return {name: {s: a for a in p._actions for s in a.option_strings}
            for name, p in sub.choices.items()}


def _strict_loads(text: str):
    """json.loads that refuses NaN and Infinity, which RFC 8259 does not allow."""
    def refuse(constant):
        raise ValueError(f"not standard JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("option", SHARED)
def test_a_shared_option_reads_the_same_in_every_command(option):
    found = {name: opts[option] for name, opts in _options_by_command().items() if option in opts}
    assert len(found) >= 2, f"{option} is in {sorted(found)} only"
    helps = {a.help for a in found.values()}
    defaults = {repr(a.default) for a in found.values()}
    assert len(helps) == 1 and len(defaults) == 1, (option, found)


def test_level_db_spl_has_one_meaning_and_range_everywhere():
    found = {name: opts["--level-db-spl"] for name, opts in _options_by_command().items()
             if "--level-db-spl" in opts}
    assert {"play", "live", "process", "simulate"} <= set(found)
    meanings = {a.help.split(" (default")[0] for a in found.values()}
    assert len(meanings) == 1, meanings
    (meaning,) = meanings
    assert "RMS level over all channels together" in meaning and "[-20, 160]" in meaning


@pytest.mark.parametrize("argv, words", [
    (["live", "--uncalibrated", "--level-db-spl", "170"], "--level-db-spl must be in [-20, 160]"),
    (["play", "x.wav", "--uncalibrated", "--level-db-spl", "nan"],
     "--level-db-spl must be in [-20, 160], got nan"),
    (["live", "--uncalibrated", "--blocksize", "8"], "--blocksize must be in [16, 65536], got 8"),
    (["live", "--uncalibrated", "--duration", "-1"], "--duration must be in (0, inf], got -1.0"),
    (["live", "--uncalibrated", "--max-calibration-age-days", "-5"],
     "--max-calibration-age-days must be in [0, inf], got -5.0"),
    (["play", "--tone", "1000", "--level-db-hl", "40", "--uncalibrated", "--duration", "0"],
     "--duration must be in (0, inf], got 0.0"),
    (["latency", "--repeats", "0"], "--repeats must be in [1, inf], got 0"),
    (["simulate", "x.wav", "--audiogram", "N3", "--out", "o", "--ci-channels", "23"],
     "--ci-channels must be in [1, 22], got 23"),
    (["calibrate", "--check", "c.toml", "--tolerance-db", "-1"],
     "--tolerance-db must be in [0, inf], got -1.0"),
    (["live", "--uncalibrated", "--record", "no/such/folder/x.wav"], "folder no/such/folder"),
])
def test_bad_numbers_read_the_same_before_any_device_is_opened(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err


def test_print_json_is_standard_json_with_numpy_values(capsys):
    print_json({"level_db_spl": np.float32(62.5), "silence_db_spl": -np.inf,
                "attack_ms": float("nan"), "frames": np.int64(3), "gains_db": np.array([1.5, 2])})
    out = capsys.readouterr().out
    # Two-space indentation, the same for every command; JSON has no NaN or Infinity (RFC 8259).
    assert out == (
        '{\n  "level_db_spl": 62.5,\n  "silence_db_spl": null,\n  "attack_ms": null,\n'
        '  "frames": 3,\n  "gains_db": [\n    1.5,\n    2.0\n  ]\n}\n'
    )
    assert _strict_loads(out)["frames"] == 3


def test_fit_json_is_standard_json(capsys):
    assert main(["fit", "N3", "--json", "--compression", "linear"]) == 0
    doc = _strict_loads(capsys.readouterr().out)
    assert set(doc["ears"]) == {"left", "right"}
