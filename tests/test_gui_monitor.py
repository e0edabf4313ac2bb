"""The live monitor: spectrum levels, the engine registry, and redraws that never block audio."""

from pathlib import Path

import numpy as np
import pytest

from audiolab.calibration import Calibration, load_calibration, sine_peak_pa
from audiolab.engine import Engine
from audiolab.gui import create_application
from audiolab.gui._engine_registry import ENGINES, EngineRegistry
from audiolab.gui._monitor_view import N_FFT, MonitorView, SpectrumAnalyzer

FS = 48000
ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path("/tmp/shots-gui2")
REDRAWS = 100
create_application()


def _example_calibration():
    return load_calibration(ROOT / "calibration" / "example.toml", max_age_days=1e9)


def test_a_sine_on_a_bin_reads_its_own_level_in_db_spl():
    """A sine exactly on an FFT bin reads its level: a Hann window's scalloping loss is 0 dB
    there (Harris 1978, Table 1: 1.42 dB at half a bin, 0 at the centre); dBFS -> dB SPL by
    the calibration's full-scale level at that frequency (example.toml: 107.0 at 1 kHz)."""
    cal = _example_calibration()
    an = SpectrumAnalyzer(cal, fs=FS, n_outputs=2)
    f = 170 * FS / N_FFT  # 996.1 Hz, bin 170
    t = np.arange(N_FFT) / FS
    x = np.stack([10 ** (-30 / 20) * np.sin(2 * np.pi * f * t),
                  10 ** (-50 / 20) * np.sin(2 * np.pi * f * t)]).astype(np.float32)
    levels = an.levels_db_spl(x)
    k = int(np.argmax(levels[0]))
    assert an.frequencies_hz[k] == pytest.approx(f)
    full_scale = [float(cal.channel(o).full_scale_db_spl_at(f)) for o in (0, 1)]
    assert levels[0, k] == pytest.approx(full_scale[0] - 30, abs=0.01)
    assert levels[1, k] == pytest.approx(full_scale[1] - 50, abs=0.01)
    assert an.levels_db_spl(x[:, :100]) is None  # not enough samples yet


def test_the_registry_shows_the_newest_engine_and_tells_listeners():
    reg = EngineRegistry()
    heard = []
    reg.subscribe(lambda: heard.append(reg.current()))
    a, b = object(), object()
    reg.register(a, owner="A")
    reg.register(b, owner="B")
    assert reg.current().owner == "B"
    reg.unregister(b)
    assert reg.current().engine is a
    reg.unregister(b)  # harmless
    reg.unregister(a)
    assert reg.current() is None
    assert [e.owner if e else None for e in heard] == ["A", "B", "A", None]


def test_the_monitor_shows_an_engine_offline(qtbot, app_context):
    """An engine run offline (the same callback) shows its tone in meters and spectrum."""
    reg = EngineRegistry()
    view = MonitorView(app_context, registry=reg)
    qtbot.addWidget(view)
    assert "No engine is running" in view.source_label.text()
    cal = _example_calibration()
    eng = Engine(fs=FS, n_inputs=0, n_outputs=2, calibration=cal)
    f = 170 * FS / N_FFT
    n = 4 * N_FFT
    # A 70 dB SPL sine in Pa: the output equaliser makes it 70 dB SPL at the transducer.
    tone = (sine_peak_pa(70.0) * np.sin(2 * np.pi * f * np.arange(n) / FS)).astype(np.float32)
    eng.configure(None, source_pa=np.stack([tone, tone]))
    reg.register(eng, owner="test engine")
    assert "test engine" in view.source_label.text()
    eng.process_offline(n_frames=n, block_frames=256)
    view.refresh()
    rms, _ = view.figures.rms_db_spl, view.figures.peak_db_spl
    np.testing.assert_allclose(rms, 70.0, atol=0.1)
    x, y = view.spectrum_curves[0].getData()
    assert y[int(np.argmax(y))] == pytest.approx(70.0, abs=0.1)
    assert 10 ** x[int(np.argmax(y))] == pytest.approx(f)  # the plot holds log10(f)
    reg.unregister(eng)
    assert view.entry is None and not view.timer.isActive()


@pytest.mark.jack
@pytest.mark.timeout(180)
def test_redraws_never_block_audio(qtbot, app_context):
    """The A/B/C engine runs on the JACK dummy server while the monitor redraws 100 times, 10 ms
    apart (ten times its normal rate): the monitor's own figures show no lost callback and no
    overrun, and its redraw times beside them. On this shared 2-core VM the hypervisor now and
    then stalls the audio thread itself (an overrun with no redraw to blame): such a run is
    repeated, as the engine's live tests do, and every one of three disturbed fails."""
    from audiolab.gui._abc_model import AbcModel
    from audiolab.models import fit_hearing_aid

    view = MonitorView(app_context)
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    runs = []
    for _attempt in range(3):
        model = AbcModel(Calibration.uncalibrated_mode(2), level_db_spl=55.0)
        model.open()
        model.start(model.build_paths(fit_hearing_aid("N3")))
        try:
            assert view.entry is not None and view.entry.engine is model.engine
            model.switch(2)
            for _ in range(REDRAWS):
                view.refresh()
                qtbot.wait(10)
            f = view.figures
            x, y = view.spectrum_curves[0].getData()
            view.grab().save(str(SHOTS / "monitor_live.png"))
        finally:
            model.close()
        assert view.entry is None
        print(f"monitor: {view.redraws} redraws, last {view.redraw_ms_last:.1f} ms, max "
              f"{view.redraw_ms_max:.1f} ms; engine: {f.callbacks} callbacks, lost "
              f"{f.lost_callbacks}, overruns {f.overruns}, driver xruns {f.xruns}, load max "
              f"{100 * f.load_max:.0f} %")
        assert view.redraws >= REDRAWS  # ours and the timer's
        assert f.callbacks > 0
        runs.append((f.overruns, f.lost_callbacks, f.xruns))
        if f.overruns == 0 and (f.lost_callbacks == 0 or f.xruns):
            break
    else:
        pytest.fail(f"every run overran or lost callbacks (overruns, lost, xruns): {runs}")
    assert x is not None and x.size == N_FFT // 2 and np.isfinite(y).all()
    assert ENGINES.current() is None
