"""Real-time engine, offline: the C graph against NumPy references, the player, graph swaps,
the channels back to Python, and the safety ceiling under >= 10,000 fuzzed cases.

The live path (PortAudio against the JACK dummy server) is in tests/test_engine_live.py; it runs
the very same C callback.
"""

import gc
import math
import weakref

import numpy as np
import pytest
import scipy.signal

from audiolab import CalibrationError, ConfigError, SafetyError, SignalError, SignalTypeError
from audiolab._ckernel import ffi, lib
from audiolab.calibration import Calibration, digital_to_pa_scale, parse_calibration
from audiolab.dsp import GammatoneFilterbank
from audiolab.engine import Engine, GammatoneStage, SharedStage
from audiolab.models import GainStage, build_chain

FS = 48000
IN_GAIN = np.float32(digital_to_pa_scale(100.0))  # default input calibration: 100 dB SPL FS


def _cal(ceiling_db_spl=100.0, full_scale=(107.0, 103.0), n=2):
    doc = {
        "device": "test", "host_api": "none", "transducer": "TDH-39", "date": "2026-01-01",
        "operator": "pytest", "ceiling_db_spl": ceiling_db_spl,
        "channel": [
            {"index": i, "ear": ("left", "right", "none")[min(i, 2)],
             "full_scale_db_spl": {"1000": full_scale[0], "4000": full_scale[1]}}
            for i in range(n)
        ],
    }
    return parse_calibration(doc, max_age_days=10000)


def _engine(n_inputs=2, n_outputs=2, cal=None, **kw):
    cal = cal if cal is not None else Calibration.uncalibrated_mode(n_outputs)
    kw.setdefault("record_capacity_frames", 1 << 16)
    return Engine(fs=FS, n_inputs=n_inputs, n_outputs=n_outputs, calibration=cal, **kw)


def _clamp_reference(y_pa, eng):
    """NumPy reference of output calibration + ceiling, with the C code's float32 operations.

    Per channel: NaN/inf -> 0, the output equaliser (scipy.signal.sosfilt, the same transposed
    direct form II in double), the broadband factor, the clamp.
    """
    y = np.array(y_pa, np.float32, ndmin=2)
    out = np.empty_like(y)
    for o in range(y.shape[0]):
        eq = eng.ceiling.equalizers[o] if eng.ceiling.equalizers else None
        row = y[o]
        if eq is not None and eq.n_sections:
            row = np.where(np.isfinite(row), row, np.float32(0))
            row = scipy.signal.sosfilt(eq.sos.copy(), row.astype(np.float64)).astype(np.float32)
        g = np.float32(1.0 / eng.ceiling.pa_per_digital[o])
        c = eng.ceiling.digital_peak[o]
        with np.errstate(over="ignore", invalid="ignore"):
            v = np.where(np.isnan(row) | (np.isinf(row) & (eq is None or not eq.n_sections)),
                         np.float32(0), row * g)
        out[o] = np.clip(v, -c, c)
    return out


# -- the graph against NumPy references ----------------------------------------------------------
def test_gain_graph_matches_numpy_exactly(rng):
    eng = _engine(cal=_cal())
    eng.configure(build_chain({"stage": [{"type": "gain", "gain_db": -12.0}]}, fs=FS))
    x = (0.05 * rng.standard_normal((2, 3000))).astype(np.float32)
    y = eng.process_offline(x, block_frames=256)
    gain = np.float32(10 ** (-12 / 20))
    ref = _clamp_reference((x * IN_GAIN) * gain, eng)
    np.testing.assert_array_equal(y, ref)


def test_gammatone_graph_matches_the_filterbank(rng):
    eng = _engine(cal=_cal())
    eng.configure([GammatoneStage(fs=FS)])
    x = (0.01 * rng.standard_normal((2, 4000))).astype(np.float32)
    y = eng.process_offline(x, block_frames=64)
    ref_pa = GammatoneFilterbank(fs=FS).process(x * IN_GAIN)
    np.testing.assert_array_equal(y, _clamp_reference(ref_pa, eng))


@pytest.mark.parametrize(
    "stage",
    [
        {"type": "hearing-loss", "audiogram": "N3"},
        {"type": "hearing-loss", "audiogram": "S2", "smearing": "none"},
        {"type": "ci-vocoder", "n_channels": 8, "seed": 7},
    ],
    ids=["hearing-loss-N3", "hearing-loss-S2-unsmeared", "ci-8"],
)
def test_simulator_stages_run_in_the_engine_as_offline(rng, stage):
    # The simulators' C stages, as `audiolab live` runs them: the engine's output (64-frame
    # blocks, stereo = left and right ear) equals the processor's over the whole signal,
    # through the same calibration and ceiling.
    eng = _engine(cal=_cal(ceiling_db_spl=130.0, full_scale=(130.0, 130.0)))
    chain = build_chain({"stage": [stage]}, fs=FS)
    eng.configure(chain)
    x = (0.1 * rng.standard_normal((2, 6000))).astype(np.float32)  # 80 dB SPL
    y = eng.process_offline(x, block_frames=64)
    ref_pa = build_chain({"stage": [stage]}, fs=FS).process(x * IN_GAIN)
    assert np.sqrt(np.mean(ref_pa**2)) > 2e-3  # above 40 dB SPL: the stage did pass sound
    np.testing.assert_array_equal(y, _clamp_reference(ref_pa, eng))


@pytest.mark.parametrize("block_frames", [1, 7, 64, 256, 1000])
def test_block_size_does_not_change_the_output(rng, block_frames):
    x = (0.01 * rng.standard_normal((2, 2500))).astype(np.float32)
    ref = _engine(cal=_cal())
    ref.configure([GainStage(gain_db=6.0, fs=FS), GammatoneStage(fs=FS)])
    whole = ref.process_offline(x, block_frames=2500)
    eng = _engine(cal=_cal(), max_block_frames=512)  # blocks > 512 are split inside the callback
    eng.configure([GainStage(gain_db=6.0, fs=FS), GammatoneStage(fs=FS)])
    np.testing.assert_array_equal(eng.process_offline(x, block_frames=block_frames), whole)


def test_looping_source_and_routing(rng):
    eng = _engine(n_inputs=0, n_outputs=3, cal=Calibration.uncalibrated_mode(3))
    src = (0.01 * rng.standard_normal((2, 300))).astype(np.float32)
    eng.configure(None, n_channels=2, source_pa=src, output_map=[1, -1, 0])
    y = eng.process_offline(n_frames=1000, block_frames=128)
    looped = np.tile(src, (1, 4))[:, :1000]
    ref = _clamp_reference(np.stack([looped[1], np.zeros(1000, np.float32), looped[0]]), eng)
    np.testing.assert_array_equal(y, ref)


def test_input_routing_and_missing_inputs():
    eng = _engine(n_inputs=1, n_outputs=2)
    eng.configure(None, input_channels=[0, 0])
    x = np.full((1, 10), 0.01, np.float32)
    y = eng.process_offline(x, block_frames=4)
    np.testing.assert_array_equal(y[0], y[1])
    assert y[0, 0] == pytest.approx(0.01, rel=1e-6)


# -- graph swap ---------------------------------------------------------------------------------
def test_swap_takes_effect_at_the_block_boundary_and_keeps_shared_state(rng):
    """A swap between graphs that share a stage's state is seamless: only the gain changes."""
    x = (0.01 * rng.standard_normal((1, 4096))).astype(np.float32)
    shared = SharedStage(GammatoneStage(fs=FS), 1)
    gains = [GainStage(gain_db=g, fs=FS) for g in (0.0, -6.0, 3.0)]
    eng = _engine(n_inputs=1, n_outputs=1)
    out = []
    edges = [0, 1024, 2560, 4096]
    for k in range(3):
        eng.configure([shared, gains[k]], timeout_s=1.0)
        out.append(eng.process_offline(x[:, edges[k]:edges[k + 1]], block_frames=256))
    y = np.concatenate(out, axis=1)
    band = GammatoneFilterbank(fs=FS).process(x * IN_GAIN)
    scale = np.repeat(np.float32(10) ** (np.array([0.0, -6.0, 3.0], np.float32) / 20),
                      np.diff(edges))
    ref = _clamp_reference((band * scale).astype(np.float32), eng)
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-9)
    ids = eng.stats.records["graph_id"]
    assert list(np.unique(ids)) == [1, 2, 3]
    assert list(np.flatnonzero(np.diff(ids.astype(int))) + 1) == [4, 10]  # block indices


def test_old_graph_is_released_only_after_adoption():
    eng = _engine(n_inputs=1, n_outputs=1)
    eng.configure(None)
    first = eng._graph
    eng.configure(None)
    assert lib.al_engine_active(eng._e) == eng._graph.c
    assert first not in eng._alive and eng._alive == [eng._graph]


# -- player ---------------------------------------------------------------------------------------
def test_player_is_sample_accurate():
    eng = _engine(n_inputs=0, n_outputs=2)
    eng.configure(None)
    stim = np.zeros((1, 300), np.float32)
    stim[0, 0] = 0.1
    stim[0, -1] = -0.1
    pb = eng.play(stim, channels=[1], start_frame=1000)
    y = eng.process_offline(n_frames=2048, block_frames=256)
    eng.poll()
    assert (pb.start_frame, pb.end_frame, pb.done) == (1000, 1300, True)
    k = float(1 / eng.ceiling.pa_per_digital[1])
    assert y[1, 1000] == pytest.approx(0.1 * k, rel=1e-6)
    assert y[1, 1299] == pytest.approx(-0.1 * k, rel=1e-6)
    assert np.count_nonzero(y[1]) == 2 and np.count_nonzero(y[0]) == 0


def test_player_without_start_frame_starts_at_next_block_and_late_start_is_reported():
    eng = _engine(n_inputs=0, n_outputs=1)
    eng.configure(None)
    eng.process_offline(n_frames=300, block_frames=100)
    a = eng.play(np.full((1, 50), 0.01, np.float32), channels=[0])
    b = eng.play(np.full((1, 50), 0.01, np.float32), channels=[0], start_frame=10)  # late
    eng.process_offline(n_frames=200, block_frames=100)
    eng.poll()
    assert (a.start_frame, a.end_frame) == (300, 350)
    assert b.start_frame == 300 and b.requested_frame == 10


def test_player_cancel_and_slot_reuse():
    eng = _engine(n_inputs=0, n_outputs=1)
    eng.configure(None)
    pbs = [eng.play(np.full((1, 10_000), 0.01, np.float32), channels=[0]) for _ in range(16)]
    with pytest.raises(ConfigError, match="slots are busy"):
        eng.play(np.zeros((1, 4), np.float32), channels=[0])
    for pb in pbs:
        eng.cancel(pb)
    eng.process_offline(n_frames=64, block_frames=64)
    eng.poll()
    assert all(pb.done and pb.end_frame == 0 for pb in pbs)
    eng.play(np.zeros((1, 4), np.float32), channels=[0])


def test_player_refuses_a_stimulus_above_the_ceiling_before_playback():
    eng = _engine(n_inputs=0, n_outputs=2, cal=_cal())
    eng.configure(None)
    t = np.arange(4800) / FS
    # 1 kHz, the most sensitive frequency; 10 ms ramps keep the onset's click (which the
    # equaliser's treble boost would raise) out of the planned peak.
    ramp = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)
    loud = (1.02 * eng.ceiling.peak_pa(0) * ramp * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    with pytest.raises(SafetyError, match="exceed the output ceiling on channel 0"):
        eng.play(loud, channels=[0])
    with pytest.raises(SignalError, match="NaN"):
        eng.play(np.array([0.0, np.nan], np.float32), channels=[0])
    eng.play(0.98 * loud, channels=[1])
    queued = eng._player.playbacks.values()
    assert queued and 0 not in [pb.channels[0] for pb in queued]


# -- statistics and recordings --------------------------------------------------------------------
def test_stats_count_nonfinite_limited_and_meters():
    eng = _engine(n_inputs=1, n_outputs=1)
    eng.configure(None)
    x = np.zeros((1, 512), np.float32)
    x[0, 3] = np.nan
    x[0, 300] = np.inf
    x[0, 10:20] = 1.0  # 1.0 digital in: well above the -20 dBFS uncalibrated ceiling
    y = eng.process_offline(x, block_frames=256)
    r = eng.stats.records
    assert r.size == 2 and list(r["frame"]) == [0, 256] and list(r["n_frames"]) == [256, 256]
    assert int(r["nonfinite_in"].sum()) == 2 and y[0, 3] == 0 and y[0, 300] == 0
    assert int(r["limited"].sum()) == 10
    s = eng.summary()
    assert s["nonfinite_samples"] == 2 and s["limited_samples"] == 10
    assert s["max_output_db_spl"][0] == pytest.approx(80.0, abs=1e-4)  # the ceiling, 80 dB SPL
    assert s["ceiling_db_spl"][0] == pytest.approx(80.0, abs=1e-4)
    expected_ms = 10 * (0.1 * eng.ceiling.pa_per_digital[0]) ** 2 / 512
    expected_db_spl = 10 * math.log10(expected_ms / 4e-10)
    assert s["rms_output_db_spl"][0] == pytest.approx(expected_db_spl, abs=1e-3)
    assert set(s) >= {"callbacks", "expected_callbacks", "xruns", "overruns", "block_frames",
                      "period_us", "callback_us", "nonfinite_samples", "max_output_db_spl"}


def test_recordings_hold_exactly_what_left_the_ceiling(rng):
    eng = _engine(n_inputs=2, n_outputs=2)
    eng.configure([GainStage(gain_db=30.0, fs=FS)])
    eng.record(input=True, output=True)
    x = (0.01 * rng.standard_normal((2, 1500))).astype(np.float32)
    y = eng.process_offline(x, block_frames=128)
    rec_out, first_out = eng.recording("output")
    rec_in, first_in = eng.recording("input")
    np.testing.assert_array_equal(rec_out, y)
    np.testing.assert_array_equal(rec_in, x)
    assert first_in == first_out == 0


def test_stats_ring_overflow_is_counted_not_fatal():
    eng = _engine(n_inputs=0, n_outputs=1, stats_capacity=16)
    eng.configure(None)
    assert lib.al_engine_run_offline(eng._e, ffi.NULL, ffi.new("float[]", 64 * 40), 64 * 40,
                                     64) == 0
    eng.poll()
    assert eng.counters()["dropped_stats"] == 40 - 16 and eng.stats.callbacks == 16


# -- bad configurations ---------------------------------------------------------------------------
def test_configuration_errors_name_the_problem():
    eng = _engine(n_inputs=1, n_outputs=2)
    with pytest.raises(ConfigError, match="input_channels"):
        eng.configure(None, input_channels=[1, 0])
    with pytest.raises(ConfigError, match="output_map"):
        eng.configure(None, output_map=[0, 2])
    with pytest.raises(ConfigError, match="no C implementation"):
        eng.configure([object()])
    with pytest.raises(ConfigError, match="source_pa"):
        eng.configure(None, source_pa=np.zeros((3, 10), np.float32))
    with pytest.raises(ConfigError, match="1 channels"):
        eng.process_offline(np.zeros((2, 10), np.float32))
    with pytest.raises(CalibrationError, match="uncalibrated_mode"):
        Engine(fs=FS, n_inputs=0, n_outputs=1, calibration=None)
    with pytest.raises(ConfigError, match="n_outputs"):
        Engine(fs=FS, n_inputs=0, n_outputs=17, calibration=Calibration.uncalibrated_mode(17))


def test_c_init_refuses_a_ceiling_above_full_scale_or_nan():
    size = int(lib.al_engine_sizeof())
    mem = ffi.new("char[]", size + 64)
    e = ffi.cast("al_engine *", (int(ffi.cast("uintptr_t", mem)) + 63) & ~63)
    ones = ffi.new("float[]", [1.0])
    work = ffi.new("float[]", 64)
    stats = ffi.new("al_block_stats[]", 16)
    for bad in (1.5, -0.1, math.nan):
        status = lib.al_engine_init(e, 0, 1, 64, 48000.0, ffi.new("float[]", [bad]), ones, ones,
                                    ffi.NULL, ffi.NULL, work, stats, 16, ffi.NULL, 16, ffi.NULL,
                                    16)
        assert status == lib.AL_ERR_VALUE


def test_uncalibrated_output_channels_are_muted():
    eng = _engine(n_inputs=1, n_outputs=3, cal=_cal(n=2))
    eng.configure(None, n_channels=1, output_map=[0, 0, 0])
    y = eng.process_offline(np.full((1, 100), 0.001, np.float32), block_frames=50)
    assert np.all(y[2] == 0) and np.all(y[0] != 0)


# -- the safety ceiling under fuzz -------------------------------------------------------------
_HOSTILE = np.array([np.nan, np.inf, -np.inf, 3e38, -3e38, 1e-42, -1e-42, 1e30, 0.0],
                    np.float32)


class _HostileStage:
    """A C-callable stage (a cffi callback) that writes NaN, inf, huge and denormal values."""

    def __init__(self, rng):
        picks = rng.integers(0, _HOSTILE.size, 64)
        where = rng.random(64)

        @ffi.callback("al_status(void *, float *, int32_t, int64_t)")
        def stage(state, x, n_channels, n_frames):
            n = int(n_channels) * int(n_frames)
            arr = np.frombuffer(ffi.buffer(x, 4 * n), np.float32)
            if n:
                idx = (where * n).astype(int) % n
                arr[idx] = _HOSTILE[picks]
            return 0

        self._fn = stage  # the graph keeps this object, and so the callback, alive

    def c_stage(self, n_channels):
        return self._fn, ffi.NULL


@pytest.mark.slow
def test_ceiling_holds_over_ten_thousand_fuzzed_cases(rng):
    """No output sample above the ceiling (+0.1 dB), NaN/inf always silence and counted.

    10,000+ cases: random calibrations (ceiling 40-130 dB SPL, full scale 70-130 dB SPL per
    frequency), random chains of gains (-120..+120 dB), gammatone banks and a hostile stage that
    writes NaN/inf/huge/denormal values, random inputs (including NaN, inf, huge, denormal),
    random block sizes (1..600) and lengths, the player adding stimuli on top.
    """
    n_cases = 0
    n_nonfinite_seen = 0
    for _ in range(100):
        n_out = int(rng.integers(1, 4))
        ceiling = float(rng.uniform(40, 130))
        fs_levels = rng.uniform(70, 130, 2)
        cal = _cal(ceiling_db_spl=ceiling, full_scale=tuple(fs_levels), n=n_out)
        eng = _engine(n_inputs=n_out, n_outputs=n_out, cal=cal, max_block_frames=256,
                      stats_capacity=1 << 10, record_capacity_frames=16)
        bound = eng.ceiling.digital_peak.astype(np.float64) * 10 ** (0.1 / 20)
        for _ in range(100):
            stages = []
            for _ in range(int(rng.integers(0, 4))):
                kind = rng.integers(0, 3)
                if kind == 0:
                    stages.append(GainStage(gain_db=float(rng.uniform(-120, 120)), fs=FS))
                elif kind == 1 and rng.random() < 0.2:
                    stages.append(GammatoneStage(fs=FS, bands_per_erb=0.5))
                else:
                    stages.append(_HostileStage(rng))
            eng.configure(stages)
            n = int(rng.integers(1, 1200))
            x = (rng.standard_normal((n_out, n)) * 10 ** rng.uniform(-6, 3)).astype(np.float32)
            mask = rng.random(x.shape) < 0.02
            x[mask] = rng.choice(_HOSTILE, int(mask.sum()))
            if rng.random() < 0.3:
                stim = (rng.standard_normal((1, int(rng.integers(1, 500)))) * 1e-3)
                try:
                    eng.play(stim.astype(np.float32), channels=[int(rng.integers(0, n_out))])
                except SafetyError:
                    pass  # refused before playback: also a correct outcome
            before = eng.stats.callbacks
            y = eng.process_offline(x, block_frames=int(rng.integers(1, 600)))
            assert np.isfinite(y).all()
            assert np.all(np.abs(y) <= bound[:, None]), "an output sample exceeded the ceiling"
            recs = eng.stats.records[before:]
            nonfinite_in = int(recs["nonfinite_in"].sum())
            with np.errstate(over="ignore", invalid="ignore"):
                x_pa = x * IN_GAIN  # the input calibration overflows huge values to inf
            assert nonfinite_in == int((~np.isfinite(x_pa)).sum())
            n_nonfinite_seen += int(recs["nonfinite_out"].sum())
            n_cases += 1
    assert n_cases >= 10_000
    assert n_nonfinite_seen > 0  # the hostile stages did produce NaN/inf, and it became silence


# -- hostile arguments to the public API ----------------------------------------------------------
@pytest.mark.parametrize(
    "bad, exc, words",
    [
        (np.zeros((1, 8), np.int16), SignalTypeError, "dtype"),
        (np.zeros((1, 2, 8), np.float32), SignalError, "shape"),
        ("audio", SignalTypeError, "numpy array"),
        (np.zeros((2, 8), np.float32), ConfigError, "1 channels"),
    ],
)
def test_process_offline_hostile_input(bad, exc, words):
    eng = _engine(n_inputs=1, n_outputs=1)
    eng.configure(None)
    with pytest.raises(exc, match=words):
        eng.process_offline(bad)


def test_offline_edge_cases(rng):
    eng = _engine(n_inputs=1, n_outputs=1)
    eng.configure([GammatoneStage(fs=FS)])
    assert eng.process_offline(np.zeros((1, 0), np.float32)).shape == (1, 0)
    x = (0.01 * rng.standard_normal((1, 200))).astype(np.float64)[:, ::2]  # float64, strided
    y = eng.process_offline(x, block_frames=1)
    ref = _engine(n_inputs=1, n_outputs=1)
    ref.configure([GammatoneStage(fs=FS)])
    np.testing.assert_array_equal(y, ref.process_offline(x.astype(np.float32), block_frames=100))
    with pytest.raises(ConfigError, match="block_frames"):
        eng.process_offline(x, block_frames=0)
    assert eng.latency_samples == 192


@pytest.mark.parametrize(
    "stim, channels, exc, words",
    [
        (np.zeros((2, 8), np.float32), [0], ConfigError, "2 channels but channels lists 1"),
        (np.zeros((1, 8), np.float32), [5], ConfigError, "distinct outputs"),
        (np.zeros((1, 0), np.float32), [0], ConfigError, "empty"),
        (np.zeros((1, 8), np.complex64), [0], SignalTypeError, "dtype"),
    ],
)
def test_play_hostile_arguments(stim, channels, exc, words):
    eng = _engine(n_inputs=0, n_outputs=2)
    eng.configure(None)
    with pytest.raises(exc, match=words):
        eng.play(stim, channels=channels)


def test_meters_report_recent_levels():
    eng = _engine(n_inputs=1, n_outputs=1)
    eng.configure(None)
    x = np.zeros((1, 48000), np.float32)
    x[0, -4800:] = 0.01 * np.sqrt(2) * np.sin(2 * np.pi * 1000 * np.arange(4800) / FS)
    eng.process_offline(x, block_frames=480)
    rms, peak = eng.stats.meters(last_s=0.1)
    # 0.01 digital RMS at the input, 100 dB SPL full scale: 100 + 20 log10(0.01 sqrt 2) dB SPL
    assert rms[0] == pytest.approx(100 + 20 * math.log10(0.01 * math.sqrt(2)), abs=0.01)
    assert peak[0] == pytest.approx(rms[0], abs=0.01)


# -- who keeps the memory C points into alive (audiolab/engine/_held.py) -------------------------
def test_a_graph_and_its_stages_live_until_a_newer_graph_is_adopted(rng):
    eng = _engine(n_inputs=1, n_outputs=1)
    stage = GainStage(gain_db=-6.0, fs=FS)
    stage_ref = weakref.ref(stage)
    eng.configure([stage])
    del stage
    gc.collect()
    assert stage_ref() is not None  # C runs the stage's state: the graph holds the stage
    x = (0.01 * rng.standard_normal((1, 1000))).astype(np.float32)
    y = eng.process_offline(x, block_frames=100)
    ref = _clamp_reference((x * IN_GAIN) * np.float32(10 ** (-6 / 20)), eng)
    np.testing.assert_array_equal(y, ref)
    eng.configure(None)
    gc.collect()
    assert stage_ref() is None  # the callback runs the new graph: the old one is let go


def test_a_queued_stimulus_lives_until_its_slot_is_released():
    eng = _engine(n_inputs=0, n_outputs=1)
    eng.configure(None)
    pb = eng.play(np.full((1, 300), 0.01, np.float32), channels=[0], start_frame=100)
    data_ref = weakref.ref(pb._data)  # the copy C reads from
    del pb
    gc.collect()
    assert data_ref() is not None
    y = eng.process_offline(n_frames=512, block_frames=128)
    k = np.float32(1 / eng.ceiling.pa_per_digital[0])
    np.testing.assert_array_equal(y[0, 100:400], np.float32(0.01) * k)
    eng.poll()
    gc.collect()
    assert data_ref() is None


def test_tone_and_play_refuse_bad_channels_alike():
    eng = _engine(n_inputs=0, n_outputs=2, cal=_cal())
    for channels in ([0, 0], [2]):
        with pytest.raises(ConfigError, match=r"channels must be distinct outputs in \[0, 1\]"):
            eng.tone(frequency_hz=1000, duration_s=0.1, channels=channels, level_db_spl=60)
        with pytest.raises(ConfigError, match=r"channels must be distinct outputs in \[0, 1\]"):
            eng.play(np.zeros((len(channels), 8), np.float32), channels=channels)


def test_gammatone_stage_takes_every_filterbank_parameter(rng):
    # GammatoneStage is the filterbank: a wider bandwidth reaches the engine's C stage too.
    eng = _engine(cal=_cal())
    eng.configure([GammatoneStage(fs=FS, bandwidth_factor=1.5, bands_per_erb=2.0)])
    x = (0.01 * rng.standard_normal((2, 3000))).astype(np.float32)
    y = eng.process_offline(x, block_frames=64)
    ref_pa = GammatoneFilterbank(fs=FS, bandwidth_factor=1.5, bands_per_erb=2.0).process(
        x * IN_GAIN
    )
    np.testing.assert_array_equal(y, _clamp_reference(ref_pa, eng))
    narrow_pa = GammatoneFilterbank(fs=FS, bands_per_erb=2.0).process(x * IN_GAIN)
    assert not np.array_equal(y, _clamp_reference(narrow_pa, eng))
