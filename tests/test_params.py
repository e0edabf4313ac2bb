"""Declared parameters: one declaration gives the checks, `audiolab stages` and the docs."""

import math
from pathlib import Path

import pytest

from audiolab import ConfigError
from audiolab._params import (
    REQUIRED,
    Param,
    check_table,
    default_text,
    range_text,
    validate,
    without,
)
from audiolab.cli import main
from audiolab.models import load_chain, stage_types
from audiolab.models._chain import CHAIN_FILE_PARAMETERS, stage_parameters

DOCS = Path(__file__).resolve().parents[1] / "docs" / "parameters.md"
ATTACK = Param("attack_ms", "attack time", unit="ms", default=5.0, low=0, high=500,
               low_open=True)
F_LOW = Param("f_low_hz", "lower edge", unit="Hz", default=200.0, low=50, high=(0.5, "fs"),
              high_open=True)
SIDE = Param("ear", "ear", kind="choice", default="left", choices=("left", "right"))
COUNT = Param("n_bands", "bands", kind="int", default=8, low=1, high=22, key="n_channels")


# -- one Param ---------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [1e-9, 5, 499.5, 500])
def test_real_inside_a_half_open_interval_is_accepted_as_float(value):
    got = ATTACK.check(value)
    assert got == value and isinstance(got, float)


@pytest.mark.parametrize("value, shown", [(0, "0"), (-3.0, "-3.0"), (500.5, "500.5"),
                                          (math.nan, "nan"), (math.inf, "inf")])
def test_real_outside_names_key_range_and_value(value, shown):
    with pytest.raises(ConfigError, match=rf"^attack_ms must be in \(0, 500\], got {shown}$"):
        ATTACK.check(value)


@pytest.mark.parametrize("value", ["5", True, None, [5]])
def test_real_of_the_wrong_type_says_so(value):
    with pytest.raises(ConfigError, match="attack_ms must be a real number"):
        ATTACK.check(value)


def test_a_bound_relative_to_another_parameter_uses_its_value():
    # f_low_hz must lie below fs/2: 8000 Hz at 16 kHz.
    assert F_LOW.check(7999.5, context={"fs": 16000}) == 7999.5
    with pytest.raises(ConfigError, match=r"f_low_hz must be in \[50, 8000\), got 8000"):
        F_LOW.check(8000, context={"fs": 16000})


def test_int_and_choice_and_the_table_key():
    assert COUNT.check(22) == 22 and COUNT.table_key == "n_channels"
    with pytest.raises(ConfigError, match=r"n_bands must be in \[1, 22\], got 23"):
        COUNT.check(23)
    with pytest.raises(ConfigError, match="n_channels must be an integer, got 8.0"):
        COUNT.check(8.0, name="n_channels")
    with pytest.raises(ConfigError, match="ear must be one of 'left', 'right', got 'both'"):
        SIDE.check("both")


def test_unset_is_allowed_only_where_the_default_is_unset():
    mpo = Param("mpo_db_spl", "limit", default=None, low=60, high=140)
    assert mpo.check(None) is None
    with pytest.raises(ConfigError, match="attack_ms must be a real number, got None"):
        ATTACK.check(None)


def test_hint_is_appended_to_the_message():
    fs = Param("fs", "rate", low=16000, high=96000, hint="resample the signal first")
    with pytest.raises(ConfigError, match=r"fs must be in \[16000, 96000\], got 8000; resample"):
        fs.check(8000)


def test_texts_for_help_and_docs():
    assert range_text(ATTACK) == "(0, 500]"
    assert range_text(F_LOW) == "[50, 0.5 fs)"
    assert range_text(SIDE) == "'left', 'right'"
    assert default_text(ATTACK) == "5" and default_text(SIDE) == "'left'"
    assert default_text(Param("a", "a", default=None)) == "unset"
    assert default_text(Param("a", "a")) == "required"


def test_declaration_mistakes_are_caught():
    with pytest.raises(ConfigError, match="kind must be one of"):
        Param("x", "x", kind="float")
    with pytest.raises(ConfigError, match="declares no choices"):
        Param("x", "x", kind="choice")


# -- tables and configs ------------------------------------------------------------------------
def test_check_table_returns_the_given_values_under_their_names():
    table = {"n_channels": 4, "attack_ms": 10}
    assert check_table(table, (COUNT, ATTACK), stage_type="demo") == {"n_bands": 4,
                                                                      "attack_ms": 10}


@pytest.mark.parametrize(
    "table, words",
    [
        ({"n_bands": 4}, "unknown key 'n_bands' in a 'demo' stage; allowed keys: 'n_channels', "
                         "'attack_ms', 'f_low_hz'"),
        ({"attack_ms": 0}, r"attack_ms must be in \(0, 500\], got 0"),
        ({"f_low_hz": 30000}, r"f_low_hz must be in \[50, 24000\), got 30000"),
        ([1, 2], "a 'demo' stage must be a table, got list"),
    ],
)
def test_check_table_errors(table, words):
    with pytest.raises(ConfigError, match=words):
        check_table(table, (COUNT, ATTACK, F_LOW), stage_type="demo", context={"fs": 48000})


def test_a_required_key_missing_from_a_table_is_named():
    need = Param("audiogram", "the listener", kind="any")
    assert need.default is REQUIRED
    with pytest.raises(ConfigError, match="missing key 'audiogram' in a 'demo' stage"):
        check_table({}, (need,), stage_type="demo")


def test_validate_checks_in_dependency_order_and_converts():
    got = validate({"f_low_hz": 100, "fs": 8000}, (F_LOW, Param("fs", "rate", low=8000)))
    assert got == {"f_low_hz": 100.0, "fs": 8000.0} and list(got) == ["f_low_hz", "fs"]


# -- every registered stage ------------------------------------------------------------------
def _just_outside(p):
    """A value just outside a declared finite bound of a real parameter, or None."""
    for bound, step in ((p.low, -1.0), (p.high, 1.0)):
        if isinstance(bound, int | float) and math.isfinite(bound):
            return bound + step
    return None


_CASES = [(t, p) for t in ("gain", "hearing-aid", "hearing-loss", "ci-vocoder")
          for p in stage_parameters(t) or ()]


@pytest.mark.parametrize("stage_type, param", _CASES, ids=[f"{t}.{p.name}" for t, p in _CASES])
def test_a_chain_file_refuses_what_the_declaration_refuses(stage_type, param):
    """An out-of-range value in a chain file is refused with the range `audiolab stages` shows."""
    value = _just_outside(param) if param.kind == "real" else None
    if value is None:
        value = "no such value" if param.kind == "choice" else 10**30
    if param.kind == "any":
        value = 3.5
    table = {"type": stage_type, param.table_key: value}
    if param.table_key != "audiogram" and any(p.required for p in stage_parameters(stage_type)):
        table["audiogram"] = "N3"
    with pytest.raises(ConfigError) as exc:
        load_chain({"fs": 48000, "stage": [table]})
    message = str(exc.value)
    assert message.startswith(f"chain: stage 1 ({stage_type}): ")
    assert param.table_key in message and "\n" not in message
    if param.kind in ("real", "int", "choice") and not isinstance(param.high, tuple):
        assert range_text(param) in message


def test_every_builtin_stage_declares_its_keys_and_writes_only_those():
    for stage_type in ("gain", "hearing-aid", "hearing-loss", "ci-vocoder"):
        params = stage_parameters(stage_type)
        assert params, stage_type
        table = {"type": stage_type, **({"audiogram": "N3"} if stage_type.startswith("hearing")
                                        else {})}
        spec = load_chain({"fs": 48000, "stage": [table]})
        from audiolab.models import build_chain

        written = build_chain(spec).stages[0].to_chain_table()
        assert set(written) <= {p.table_key for p in params}, stage_type


def test_chain_file_top_level_is_declared():
    assert [p.name for p in CHAIN_FILE_PARAMETERS] == ["fs", "stage"]


# -- audiolab stages and docs/parameters.md ---------------------------------------------------
def test_docs_parameters_md_is_the_generated_text(capsys):
    assert main(["stages", "--markdown"]) == 0
    generated = capsys.readouterr().out
    assert DOCS.read_text(encoding="utf-8") == generated, (
        "docs/parameters.md is out of date: run `audiolab stages --markdown > "
        "docs/parameters.md`"
    )


def test_stages_lists_every_type_with_its_keys(capsys):
    assert main(["stages"]) == 0
    out = capsys.readouterr().out
    for stage_type in stage_types():
        assert f"\n{stage_type}: " in out
    assert "attack_ms" in out and "(0, 500]" in out and "n_channels" in out


def test_stages_of_one_type(capsys):
    assert main(["stages", "gain"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("gain: ") and "gain_db  dB    0        [-120, 120]" in out
    assert "hearing-aid" not in out


def test_unknown_stage_type_is_one_line_exit_2(capsys):
    assert main(["stages", "reverb"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown stage type 'reverb'; known types: " in err


def test_a_stage_registered_from_outside_shows_what_it_declares(capsys, monkeypatch):
    from audiolab.models._chain import _REGISTRY

    monkeypatch.setitem(_REGISTRY, "plain", "audiolab.models._chain:Chain")  # declares nothing
    monkeypatch.setitem(_REGISTRY, "louder", "audiolab.models._chain:GainStage")
    assert main(["stages", "plain"]) == 0
    assert "(parameters not declared)" in capsys.readouterr().out
    assert main(["stages", "louder"]) == 0
    assert "gain_db" in capsys.readouterr().out


def test_without_drops_named_parameters_and_refuses_unknown_names():
    assert without((ATTACK, SIDE, COUNT), "ear") == (ATTACK, COUNT)
    with pytest.raises(ConfigError, match="no declared parameter named fs"):
        without((ATTACK,), "fs")


def test_fit_help_states_the_declared_attack_and_release_ranges(capsys):
    # `fit --help` is built without importing the models (the CLI starts in 0.1 s); this test
    # keeps its text equal to the declarations.
    from audiolab._params import default_text, range_text
    from audiolab.cli import main
    from audiolab.models._fitting import ATTACK_MS, RELEASE_MS

    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for param in (ATTACK_MS, RELEASE_MS):
        assert f"{param.doc} of a wdrc fit in {param.unit}, {range_text(param)} " \
               f"(default {default_text(param)})" in out
