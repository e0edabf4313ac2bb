"""fit_hearing_aid and `audiolab fit`: JSON shape, targets, SII, plot, chain file, bad input."""

import json
import tomllib

import numpy as np
import pytest

from audiolab import ConfigError
from audiolab.audiology import STANDARD_AUDIOGRAMS, load_audiogram, prescribe, write_audiogram
from audiolab.cli._main import main
from audiolab.models._fitting import COMPRESSION_FITTERS, fit_hearing_aid


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_fit_json_has_the_agreed_shape_and_the_rule_targets(capsys):
    code, out, err = _run(capsys, "fit", "N3", "--rule", "nal-r", "--json")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert set(doc) == {"rule", "ears"} and doc["rule"] == "nal-r"
    n3 = STANDARD_AUDIOGRAMS["N3"]
    for side in ("left", "right"):
        ear = doc["ears"][side]
        assert ear["frequencies_hz"] == n3.ear(side).frequencies_hz.tolist()
        np.testing.assert_allclose(
            ear["insertion_gain_db"],
            prescribe(n3.ear(side), "nal-r", n3.ear(side).frequencies_hz), atol=1e-4)
        assert 0 <= ear["sii_unaided"] < ear["sii_aided"] <= 1


def test_fit_uses_the_audiograms_own_frequencies_outside_the_rule_table(tmp_path, capsys):
    path = tmp_path / "wide.csv"
    path.write_text("frequency_hz,left_db_hl,right_db_hl\n125,20,25\n500,30,30\n"
                    "1000,40,45\n2000,50,50\n4000,60,65\n8000,70,75\n")
    code, out, _ = _run(capsys, "fit", str(path), "--rule", "pogo", "--json")
    assert code == 0
    right = json.loads(out)["ears"]["right"]
    assert right["frequencies_hz"] == [125, 500, 1000, 2000, 4000, 8000]
    # POGO holds -10 dB below 250 Hz: 0.5 * 25 - 10; 8 kHz is plain half gain.
    assert right["insertion_gain_db"][0] == pytest.approx(2.5)
    assert right["insertion_gain_db"][-1] == pytest.approx(37.5)


def test_aided_sii_improves_for_every_preset_and_rule():
    for name in STANDARD_AUDIOGRAMS:
        for rule in ("nal-r", "half-gain", "pogo"):
            fit = fit_hearing_aid(name, rule=rule)
            assert fit.left.sii_aided >= fit.left.sii_unaided - 1e-12, (name, rule)
    # A mild loss hears 65 dB speech nearly fully; a severe one hardly at all unaided.
    assert fit_hearing_aid("N1").left.sii_unaided > 0.85
    assert fit_hearing_aid("N5").left.sii_unaided < 0.05


def test_table_output_and_plot(tmp_path, capsys):
    png = tmp_path / "fit.png"
    code, out, _ = _run(capsys, "fit", "S2", "--rule", "half-gain", "--plot", str(png))
    assert code == 0
    assert "rule half-gain" in out and "left ear" in out and "aided" in out
    assert png.stat().st_size > 10_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_chain_round_trips_through_toml(tmp_path, capsys):
    chain = tmp_path / "n3.toml"
    code, _, err = _run(capsys, "fit", "N3", "--json", "--write-chain", str(chain))
    assert code == 0 and "wrote" in err
    text = chain.read_text()
    assert text.startswith("# audiolab chain\n")
    doc = tomllib.loads(text)
    # --compression defaults to wdrc (issue 3).
    assert doc == {"stage": [{"type": "hearing-aid", "audiogram": "N3", "rule": "nal-r",
                              "compression": "wdrc"}]}


def test_write_chain_inlines_a_file_audiogram(tmp_path, capsys):
    src = write_audiogram("S1", tmp_path / "listener.json")
    chain = tmp_path / "c.toml"
    assert _run(capsys, "fit", str(src), "--write-chain", str(chain))[0] == 0
    stage = tomllib.loads(chain.read_text())["stage"][0]
    # The inline table is accepted wherever an audiogram is, and is the same audiogram.
    back = load_audiogram(stage["audiogram"])
    assert back.left == STANDARD_AUDIOGRAMS["S1"].left and back.name == "S1"


@pytest.mark.parametrize(
    "argv, words",
    [
        (["fit", "N9"], "neither a preset"),
        (["fit", "N3", "--rule", "nal-nl2"], "rule must be one of"),
        (["fit", "N3", "--compression", "adaptive"], "compression must be one of"),
        (["fit", "N3", "--compression", "linear", "--attack-ms", "5"], "compressive fits only"),
        (["fit", "N3", "--attack-ms", "fast"], "--attack-ms must be a number"),
        (["fit", "/nonexistent/ag.json"], "neither a preset"),
    ],
)
def test_bad_commands_give_one_line_and_exit_2(capsys, argv, words):
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and words in err


def test_bad_audiogram_file_gives_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"left": {"frequencies_hz": [500, 4000], "thresholds_db_hl": [10, 130]}, '
                   '"right": {"frequencies_hz": [500, 4000], "thresholds_db_hl": [10, 10]}}')
    code, _, err = _run(capsys, "fit", str(bad))
    assert code == 2 and err.count("\n") == 1 and "got 130 dB HL at 4000 Hz" in err


def test_compression_plugin_hook(monkeypatch):
    # A compression mode is a "module:function" called per ear; its dict joins the ear's JSON.
    calls = []

    def fake(ear, *, rule, frequencies_hz, attack_ms, release_ms):
        calls.append((rule, attack_ms, release_ms))
        return {"gain_at_65_db_spl_db": [1.0] * len(frequencies_hz)}

    import audiolab.models._fitting as fitting_module

    monkeypatch.setitem(COMPRESSION_FITTERS, "wdrc", "test_fit_plugin:fake")
    module = type(fitting_module)("test_fit_plugin")
    module.fake = fake  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "test_fit_plugin", module)
    fit = fit_hearing_aid("N2", compression="wdrc", attack_ms=5, release_ms=100)
    assert calls == [("nal-r", 5.0, 100.0)] * 2
    ear = fit.to_json_dict()["ears"]["left"]
    assert ear["gain_at_65_db_spl_db"] == [1.0] * 10
    assert fit.chain_table()["attack_ms"] == 5.0


def test_missing_compression_module_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(COMPRESSION_FITTERS, "wdrc", "audiolab.models._no_such_module:fit")
    with pytest.raises(ConfigError, match="not available in this build.*use compression 'linear'"):
        fit_hearing_aid("N2", compression="wdrc")
