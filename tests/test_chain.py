"""Chain files: TOML format, validation, the stage registry, the Chain processor and GainStage."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from audiolab import ConfigError, SignalError, SignalTypeError
from audiolab._ckernel import float_buffer
from audiolab.cli import main
from audiolab.models import (
    Chain,
    ChainSpec,
    GainStage,
    build_chain,
    load_chain,
    register_stage,
    stage_types,
    write_chain,
)
from audiolab.models._chain import check_chain_table

FS = 48000


def _gain_reference(x, gain_db):
    """NumPy reference of the gain kernel: float32 samples times float32(10^(g/20))."""
    return x * np.float32(10.0 ** (gain_db / 20.0))


def _write(tmp_path, text, name="chain.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


# -- GainStage: C kernel vs NumPy, processor protocol, hostile input
@pytest.mark.parametrize("gain_db", [-120.0, -6.0, 0.0, 13.5, 120.0])
def test_gain_matches_numpy_reference(rng, gain_db):
    x = rng.standard_normal((2, 1000)).astype(np.float32)
    y = GainStage(gain_db=gain_db, fs=FS).process(x)
    np.testing.assert_array_equal(y, _gain_reference(x, gain_db))


def test_gain_of_20_db_is_a_factor_of_10():
    # Definition of the decibel for amplitudes: 20 log10(10) = 20 dB.
    y = GainStage(gain_db=20.0, fs=FS).process(np.full(4, 0.5, np.float32))
    np.testing.assert_allclose(y, 5.0, rtol=1e-6)


def test_gain_block_split_equals_whole(rng):
    x = rng.standard_normal((3, 3000)).astype(np.float32)
    whole = GainStage(gain_db=-7.0, fs=FS).process(x)
    stage = GainStage(gain_db=-7.0, fs=FS)
    edges = np.cumsum(rng.integers(0, 200, size=60))
    edges = np.unique(np.concatenate([[0, 1, 2], edges[edges < x.shape[1]], [x.shape[1]]]))
    parts = [stage.process(x[:, a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


@given(
    hnp.arrays(
        np.float32,
        st.one_of(
            st.tuples(st.integers(0, 40)), st.tuples(st.integers(1, 4), st.integers(0, 40))
        ),
        elements=st.floats(-1e6, 1e6, width=32),
    ),
    st.floats(-120, 120),
)
def test_gain_any_finite_block(x, gain_db):
    y = GainStage(gain_db=gain_db, fs=FS).process(x)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_array_equal(y, _gain_reference(x, gain_db))


@pytest.mark.parametrize(
    "bad, exc, words",
    [
        (np.zeros((2, 3, 4), np.float32), SignalError, "shape"),
        (np.zeros((0, 5), np.float32), SignalError, "at least one channel"),
        (np.zeros(8, np.int16), SignalTypeError, "dtype"),
        (np.array([0.0, np.nan], np.float32), SignalError, "NaN"),
        (np.array([np.inf], np.float32), SignalError, "NaN"),
        ("not audio", SignalTypeError, "numpy array"),
    ],
)
def test_gain_hostile_input_names_the_problem(bad, exc, words):
    with pytest.raises(exc, match=words):
        GainStage(gain_db=0.0, fs=FS).process(bad)


def test_gain_non_contiguous_float64_input(rng):
    x = rng.standard_normal((2, 400))
    y = GainStage(gain_db=6.0, fs=FS).process(x[:, ::2])
    np.testing.assert_array_equal(y, _gain_reference(x[:, ::2].astype(np.float32), 6.0))


@pytest.mark.parametrize("bad", [200.0, -121.0, float("nan"), "6", True])
def test_gain_rejects_bad_gain_naming_it(bad):
    with pytest.raises(ConfigError, match="gain_db"):
        GainStage(gain_db=bad, fs=FS)


def test_gain_c_stage_runs_through_the_engine_function_pointer(rng):
    stage = GainStage(gain_db=-3.0, fs=FS)
    fn, state = stage.c_stage(2)
    x = rng.standard_normal((2, 257)).astype(np.float32)
    expected = _gain_reference(x, -3.0)
    assert fn(state, float_buffer(x, "x"), 2, 257) == 0
    np.testing.assert_array_equal(x, expected)
    assert fn(state, float_buffer(x, "x"), 2, 0) == 0  # zero frames is a valid call
    assert fn(state, float_buffer(x, "x"), 3, 10) == 5  # AL_ERR_STATE: channel count mismatch


def test_gain_reset_and_channel_count():
    stage = GainStage(gain_db=0.0, fs=FS)
    stage.process(np.zeros((2, 4), np.float32))
    with pytest.raises(SignalError, match="reset"):
        stage.process(np.zeros((1, 4), np.float32))
    stage.reset()
    assert stage.process(np.zeros((1, 4), np.float32)).shape == (1, 4)


# -- chain files
EXAMPLE = """\
# audiolab chain
fs = 44100
[[stage]]
type = "gain"
gain_db = -6.0
[[stage]]
type = "gain"
gain_db = 12
"""


def test_load_build_and_run_a_chain_file(tmp_path, rng):
    spec = load_chain(_write(tmp_path, EXAMPLE))
    assert spec.fs == 44100.0 and [s.type for s in spec.stages] == ["gain", "gain"]
    chain = build_chain(spec, fs=44100)
    assert isinstance(chain, Chain) and chain.latency_samples == 0
    x = rng.standard_normal((2, 500)).astype(np.float32)
    expected = _gain_reference(_gain_reference(x, -6.0), 12.0)
    np.testing.assert_array_equal(chain.process(x), expected)


def test_chain_latency_is_the_sum_of_its_stages():
    class Delay(GainStage):
        @property
        def latency_samples(self) -> int:
            return 7

    chain = Chain([Delay(fs=FS), GainStage(fs=FS), Delay(fs=FS)], fs=FS)
    assert chain.latency_samples == 14


def test_chain_block_split_equals_whole_and_reset(rng):
    chain = build_chain({"stage": [{"type": "gain", "gain_db": 3.0}] * 3}, fs=FS)
    x = rng.standard_normal((2, 2000)).astype(np.float32)
    whole = chain.process(x)
    chain.reset()
    edges = [0, 1, 2, 700, 701, 1999, 2000]
    parts = [chain.process(x[:, a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


def test_write_chain_round_trips(tmp_path):
    spec = load_chain(_write(tmp_path, EXAMPLE))
    out = tmp_path / "again.toml"
    write_chain(spec, out)
    assert out.read_text().startswith("# audiolab chain\n")
    assert load_chain(out) == spec
    chain = build_chain(spec)
    write_chain(chain, tmp_path / "from_chain.toml")
    assert load_chain(tmp_path / "from_chain.toml") == spec


def test_chain_spec_from_stage_objects_uses_to_chain_table():
    spec = ChainSpec.from_stages([GainStage(gain_db=-2.5, fs=FS)], fs=FS)
    assert spec.to_dict() == {"fs": 48000, "stage": [{"type": "gain", "gain_db": -2.5}]}
    assert build_chain(spec).spec == spec


def test_chain_without_fs_needs_one_to_build():
    spec = load_chain({"stage": [{"type": "gain"}]})
    with pytest.raises(ConfigError, match="needs fs"):
        build_chain(spec)
    with pytest.raises(ConfigError, match="resample"):
        build_chain({"fs": 48000, "stage": [{"type": "gain"}]}, fs=44100)
    assert build_chain(spec, fs=22050).fs == 22050.0


def test_registry_lists_the_agreed_types_and_accepts_new_ones(tmp_path):
    assert {"gain", "hearing-aid", "hearing-loss", "ci-vocoder"} <= set(stage_types())
    register_stage("gain-alias-for-test", "audiolab.models._chain:GainStage")
    try:
        spec = load_chain({"stage": [{"type": "gain-alias-for-test", "gain_db": 1.0}]})
        assert spec.stages[0].target == "audiolab.models._chain:GainStage"
    finally:
        from audiolab.models._chain import _REGISTRY

        _REGISTRY.pop("gain-alias-for-test")
    with pytest.raises(ConfigError, match="module:ClassName"):
        register_stage("x", "no_colon_here")


def test_check_chain_table_lists_allowed_keys():
    with pytest.raises(ConfigError, match="unknown key 'b'.*allowed keys: 'a', 'c'"):
        check_chain_table({"a": 1, "b": 2}, stage_type="demo", allowed=("a", "c"))


@pytest.mark.parametrize(
    "text, words",
    [
        ("fs = 48000\ncolour = 'red'\n[[stage]]\ntype = 'gain'\n",
         "unknown key 'colour' at the top level; allowed keys: 'fs', 'stage'"),
        ("[[stage]]\ntype = 'gain'\ngain = 3\n",
         r"stage 1 \(gain\): unknown key 'gain' in a 'gain' stage; allowed keys: 'gain_db'"),
        ("[[stage]]\ntype = 'gain'\n[[stage]]\ntype = 'reverb'\n",
         "stage 2 has unknown type 'reverb'; known types: 'ci-vocoder', 'gain', 'hearing-aid'"),
        ("[[stage]]\ngain_db = 3\n", "stage 1 has no 'type'; known types"),
        ("[[stage]]\ntype = 'gain'\ngain_db = 300\n", r"gain_db must be in \[-120, 120\], got 300"),
        ("[[stage]]\ntype = 'gain'\ngain_db = 'loud'\n", "gain_db must be a real number"),
        ("fs = 1000\n[[stage]]\ntype = 'gain'\n", r"fs must be in \[8000, 384000\]"),
        ("fs = 44100.5\n[[stage]]\ntype = 'gain'\n", "fs must be a whole number of Hz"),
        ("fs = 48000\n", r"at least one \[\[stage\]\]"),
        ("stage = 3\n", r"at least one \[\[stage\]\]"),
        ("stage = [1]\n", "stage 1 must be a table"),
        ("[[stage]\ntype = 'gain'\n", "not a valid TOML file"),
    ],
)
def test_chain_file_errors_name_the_key_and_allowed_values(tmp_path, text, words):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=words):
        load_chain(path)


def test_missing_and_binary_chain_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_chain(tmp_path / "nope.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not a text"):
        load_chain(tmp_path / "bin.toml")
    with pytest.raises(ConfigError, match="is a folder"):
        load_chain(tmp_path)


def test_stage_not_yet_installed_says_so(monkeypatch):
    from audiolab.models import _chain

    monkeypatch.setitem(_chain._REGISTRY, "future", "audiolab.models._not_there:Future")
    with pytest.raises(ConfigError, match="'future' is not available in this installation"):
        load_chain({"stage": [{"type": "future"}]})


@pytest.mark.parametrize(
    "text, words",
    [
        ("[[stage]]\ntype = 'gain'\nvolume = 3\n", "unknown key 'volume'"),
        ("[[stage]]\ntype = 'equaliser'\n", "unknown type 'equaliser'; known types: "),
        ("[[stage]]\ntype = 'gain'\ngain_db = -999\n", "gain_db must be in"),
    ],
)
def test_cli_chain_errors_are_one_line_exit_2(tmp_path, capsys, text, words):
    chain = _write(tmp_path, text)
    (tmp_path / "in").mkdir()
    import soundfile as sf

    sf.write(tmp_path / "in" / "x.wav", np.zeros(100, np.float32), FS)
    code = main(["process", str(tmp_path / "in"), "--chain", str(chain),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert words in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing ran
