"""audiolab verify (ANSI S3.22-style test box) and audiolab fit --compression wdrc."""

import json

import numpy as np
import pytest

from audiolab.cli._main import main
from audiolab.reports._verify import verify_chain_file


@pytest.fixture(scope="module")
def n3_report():
    return verify_chain_file({"stage": [{"type": "hearing-aid", "audiogram": "N3",
                                         "attack_ms": 5.0, "release_ms": 100.0}]})


def test_verify_reproduces_the_declared_settings(n3_report):
    r = n3_report
    d = r.declared
    assert d["compression"] == "wdrc" and d["audiogram"] == "N3"
    # ANSI S3.22 times: bar +-25 % or 2 ms (issue 3).
    assert abs(r.attack_ms - d["attack_ms"]) <= max(0.25 * d["attack_ms"], 2.0)
    assert abs(r.release_ms - d["release_ms"]) <= 0.25 * d["release_ms"]
    # Static I/O at 2 kHz within 1 dB of the declared curve.
    np.testing.assert_allclose(r.io_output_db_spl, d["io_output_db_spl"], atol=1.0)
    # The output never exceeds the MPO; a noiseless digital chain has no EIN.
    assert r.max_ospl90_db_spl <= d["mpo_db_spl"] + 0.1
    assert r.equivalent_input_noise_db_spl is None
    assert max(r.thd_percent.values()) < 1.0
    assert r.sii["aided"] > r.sii["unaided"]
    # Compression: 40 dB more input at 2 kHz gives much less than 40 dB more output.
    assert r.io_output_db_spl[-1] - r.io_output_db_spl[0] < 30.0


def test_verify_linear_chain_has_level_independent_gain():
    r = verify_chain_file({"stage": [{"type": "hearing-aid", "audiogram": "N3",
                                      "compression": "linear", "mpo_db_spl": 120.0}]})
    slope = np.diff(r.io_output_db_spl)
    np.testing.assert_allclose(slope, 5.0, atol=0.05)
    np.testing.assert_allclose(r.full_on_gain_db, r.frequency_response_db, atol=0.05)


def test_verify_cli_json_and_plot(tmp_path, capsys):
    chain = tmp_path / "n3.toml"
    assert main(["fit", "N3", "--write-chain", str(chain), "--json"]) == 0
    capsys.readouterr()
    plot = tmp_path / "v.png"
    assert main(["verify", str(chain), "--json", "--plot", str(plot)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["declared"]["compression"] == "wdrc"
    assert len(doc["ospl90_db_spl"]) == len(doc["frequencies_hz"]) == 17
    assert plot.stat().st_size > 10_000


def test_verify_cli_bad_chain_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[stage]]\ntype = "hearing-aid"\naudiogram = "N3"\nratio = 3\n')
    assert main(["verify", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ratio" in err[0]
    assert main(["verify", str(tmp_path / "missing.toml")]) == 2


def test_fit_json_defaults_to_wdrc_with_band_tone_gains(capsys):
    assert main(["fit", "N3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    left = doc["ears"]["left"]
    comp = left["compression"]
    bands = comp["bands"]
    assert len(bands["gain_50_db_spl_db"]) == len(bands["center_frequencies_hz"]) == 30
    assert len(comp["tone_gain_db"]["65"]) == len(left["frequencies_hz"])
    k = int(np.argmin(np.abs(np.array(bands["center_frequencies_hz"]) - 2000)))
    assert bands["ratio"][k] > 1.5  # a fit for N3 compresses at 2 kHz
    assert main(["fit", "N3", "--json", "--compression", "linear"]) == 0
    assert "compression" not in json.loads(capsys.readouterr().out)["ears"]["left"]
