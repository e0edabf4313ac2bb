"""Parallel paths in one engine graph (csrc/route.c): each path on its own channels, one heard.

The C stages are checked against NumPy written from their definitions: a channel range runs its
stage on exactly its rows; the selector writes (1 - w) a + w b with w = sin^2(pi/2 k / K) over
the first K frames, then b.
"""

import numpy as np
import pytest

from audiolab import ConfigError
from audiolab._ckernel import ffi, lib
from audiolab.calibration import Calibration
from audiolab.engine import Engine, ParallelPaths
from audiolab.engine._paths import ChannelRangeStage, PathSelector
from audiolab.models import GainStage

FS = 48000


def _run_stage(stage, x):
    fn, state = stage.c_stage(x.shape[0])
    y = np.ascontiguousarray(x, np.float32).copy()
    status = ffi.cast("al_stage_fn", fn)(state, ffi.from_buffer("float[]", y), y.shape[0],
                                         y.shape[1])
    return int(status), y


def test_a_channel_range_runs_its_stage_on_its_rows_only(rng):
    x = rng.standard_normal((6, 300)).astype(np.float32)
    status, y = _run_stage(ChannelRangeStage(GainStage(gain_db=-20.0, fs=FS), first_channel=2,
                                             n_channels=2), x)
    assert status == lib.AL_OK
    ref = x.copy()
    ref[2:4] *= np.float32(10 ** (-20 / 20))
    np.testing.assert_allclose(y, ref, rtol=1e-6)
    assert np.array_equal(y[[0, 1, 4, 5]], x[[0, 1, 4, 5]])


@pytest.mark.parametrize("fade_frames", [0, 1, 100, 1000])
def test_the_selector_crossfades_as_defined(rng, fade_frames):
    x = rng.standard_normal((6, 700)).astype(np.float32)
    sel = PathSelector(n_channels=2, to_path=2, from_path=1, fade_frames=fade_frames)
    fn, state = sel.c_stage(6)
    y = x.copy()
    # Two calls: the fade continues across blocks.
    for a, b in ((0, 300), (300, 700)):
        block = np.ascontiguousarray(y[:, a:b])
        assert ffi.cast("al_stage_fn", fn)(state, ffi.from_buffer("float[]", block), 6,
                                           b - a) == lib.AL_OK
        y[:, a:b] = block
    k = np.arange(700)
    w = np.where(k < fade_frames, np.sin(np.pi / 2 * k / max(fade_frames, 1)) ** 2, 1.0)
    ref = (1 - w) * x[2:4].astype(float) + w * x[4:6].astype(float)
    np.testing.assert_allclose(y[0:2], ref, atol=1e-6)
    assert np.array_equal(y[2:], x[2:])  # the paths' own rows are left as they were


def test_a_range_beyond_the_graph_fails_in_c_and_is_refused_in_python():
    stage = ChannelRangeStage(GainStage(gain_db=0.0, fs=FS), first_channel=4, n_channels=2)
    with pytest.raises(ConfigError, match="do not fit"):
        stage.c_stage(4)
    c = ffi.new("al_channel_range *")
    c.first_channel, c.n_channels = 3, 2
    fn, inner = GainStage(gain_db=0.0, fs=FS).c_stage(2)
    c.fn, c.state = ffi.cast("al_stage_fn", fn), ffi.cast("void *", inner)
    x = np.zeros(4 * 8, np.float32)
    assert lib.al_channel_range_process(c, ffi.from_buffer("float[]", x), 4, 8) == \
        lib.AL_ERR_SIZE
    with pytest.raises(ConfigError):
        ParallelPaths([[]] * 9, n_channels=2, fs=FS)  # 18 channels: more than the engine has


def test_a_switch_changes_only_the_selector_and_the_paths_run_on():
    """Every graph a ParallelPaths publishes holds the very same (shared) path stages, so their
    state runs on; after the fade the output is the newly heard path's."""
    paths = ParallelPaths([[], [GainStage(gain_db=-6.0, fs=FS)]], n_channels=1, fs=FS)
    a = paths.graph(heard=0, previous=0, source_pa=np.full(16, 0.01))
    b = paths.graph(heard=1, previous=0, source_pa=np.full(16, 0.01))
    assert a["chain"][:-1] == b["chain"][:-1]
    assert a["source_pa"].shape == (2, 16) and a["n_channels"] == 2
    eng = Engine(fs=FS, n_inputs=0, n_outputs=1, calibration=Calibration.uncalibrated_mode(1))
    eng.configure(**a)
    y0 = eng.process_offline(n_frames=2048)
    eng.configure(**b)
    y1 = eng.process_offline(n_frames=2048)
    fade = paths.fade_frames
    assert np.allclose(y1[0, fade:], y0[0, -1] * 10 ** (-6 / 20), rtol=1e-5)
