"""The `audiolab` command itself: help, version, exit codes."""

import subprocess
import sys

import pytest

from audiolab import __version__
from audiolab.cli import main
from audiolab.cli._main import COMMANDS


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"    {name} " in out or f"    {name}\n" in out


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert __version__ in capsys.readouterr().out


def test_no_command_is_a_bad_command(capsys):
    assert main([]) == 2


def test_unknown_command_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    assert "usage: audiolab " + name in capsys.readouterr().out


@pytest.mark.slow
def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "audiolab", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"audiolab {__version__}"


@pytest.mark.slow
def test_bench_quick_json_reports_ratios(capsys):
    import json

    assert main(["bench", "--quick", "--json", "--only", "gammatone analyze"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (result,) = doc["results"]
    assert result["ours_x_real_time"] > 0 and result["ratio"] > 0
    assert result["target_ratio"] == 3.0
