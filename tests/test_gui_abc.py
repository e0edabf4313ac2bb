"""A/B/C listening: three paths that all run on, switched without a glitch, under the ceiling.

Offline tests run the engine's C graph block by block (the same callback as live); the live
tests drive the panel against the JACK dummy server (`bash tests/with_jack.sh ...`).
"""

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from audiolab.calibration import Calibration, load_calibration, scale_to_db_spl
from audiolab.engine import Engine
from audiolab.gui import create_application
from audiolab.gui._abc import AbcPanel
from audiolab.gui._abc_model import build_abc_paths, speech_loop_pa
from audiolab.gui._engine_registry import ENGINES
from audiolab.models import fit_hearing_aid

FS = 48000
BLOCK = 256
ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path("/tmp/shots-gui2")

create_application()  # light plots, as in the application


def _engine(calibration):
    return Engine(fs=FS, n_inputs=0, n_outputs=2, calibration=calibration)


def _fade(paths):
    k = np.arange(paths.fade_frames)
    w = np.sin(np.pi / 2 * k / paths.fade_frames)
    return (w * w).astype(np.float32)


def test_every_path_runs_on_across_switches_offline():
    """After a switch the output is exactly the heard path as if it had been heard all along.

    Each path's reference is a run with that path heard throughout; the switching run must
    equal the reference of the heard path outside the 10 ms fades (so no path was paused or
    restarted by a switch), and inside a fade the raised-cosine mix of the two references.
    """
    fit = fit_hearing_aid("N3", rule="nal-r")
    cal = Calibration.uncalibrated_mode(2)
    src = speech_loop_pa(fs=FS, level_db_spl=55.0)[: 3 * FS]
    n_blocks = 120
    refs = []
    for k in range(3):
        paths = build_abc_paths(fit, fs=FS, n_channels=2)
        eng = _engine(cal)
        eng.configure(**paths.graph(heard=k, previous=k, source_pa=src))
        refs.append(eng.process_offline(n_frames=n_blocks * BLOCK, block_frames=BLOCK))
    paths = build_abc_paths(fit, fs=FS, n_channels=2)
    eng = _engine(cal)
    schedule = [(0, 0), (20, 2), (45, 1), (70, 0), (95, 2)]  # (block, path heard from there)
    parts = []
    for i, ((b0, heard), (b1, _)) in enumerate(
            zip(schedule, [*schedule[1:], (n_blocks, None)], strict=True)):
        previous = schedule[i - 1][1] if i else heard
        eng.configure(**paths.graph(heard=heard, previous=previous, source_pa=src))
        parts.append(eng.process_offline(n_frames=(b1 - b0) * BLOCK, block_frames=BLOCK))
    y = np.concatenate(parts, axis=1)
    w = _fade(paths)
    nf = paths.fade_frames
    assert nf == 480
    for i, (b0, heard) in enumerate(schedule):
        s = b0 * BLOCK
        e = (schedule[i + 1][0] if i + 1 < len(schedule) else n_blocks) * BLOCK
        prev = schedule[i - 1][1] if i else heard
        steady = s + nf if i else s
        assert np.array_equal(y[:, steady:e], refs[heard][:, steady:e]), (i, heard)
        if i:
            mix = (np.float32(1) - w) * refs[prev][:, s:s + nf] + w * refs[heard][:, s:s + nf]
            np.testing.assert_allclose(y[:, s:s + nf], mix, atol=1e-6)
    # The three conditions differ (the loss and the aid act), so the comparison meant something.
    assert not np.allclose(refs[0], refs[1], atol=1e-3)
    assert not np.allclose(refs[1], refs[2], atol=1e-3)


def test_the_aided_path_never_exceeds_the_ceiling_with_a_loud_input():
    """Speech at 105 dB SPL into the aided path (N3, NAL-R, up to ~25 dB of gain): the C ceiling
    after the output calibration (calibration/example.toml, ceiling 100 dB SPL) holds the
    digital peak of every output at or under the ceiling, and it had work to do."""
    cal = load_calibration(ROOT / "calibration" / "example.toml", max_age_days=1e9)
    fit = fit_hearing_aid("N3", rule="nal-r")
    paths = build_abc_paths(fit, fs=FS, n_channels=2)
    eng = _engine(cal)
    loud = speech_loop_pa(fs=FS, level_db_spl=105.0)[: 2 * FS]
    eng.configure(**paths.graph(heard=2, previous=2, source_pa=loud))
    y = eng.process_offline(n_frames=2 * FS, block_frames=BLOCK)
    peak = np.abs(y).max(axis=1)
    assert np.all(peak <= eng.ceiling.digital_peak[:2] * (1 + 1e-6)), (peak,
                                                                      eng.ceiling.digital_peak)
    summary = eng.summary()
    assert summary["limited_samples"] > 0  # the ceiling clamped: without it the peak was higher
    for measured, ceiling in zip(summary["max_output_db_spl"], summary["ceiling_db_spl"],
                                 strict=True):
        assert measured <= ceiling + 0.01


def test_speech_too_loud_for_the_ceiling_is_refused_before_anything_plays():
    # The uncalibrated mode's ceiling is 80 dB SPL (-20 dBFS): speech at 85 dB SPL RMS peaks
    # far above it. Checked before a device is opened for the stream (SafetyError).
    from audiolab import SafetyError
    from audiolab.engine import Engine as _Engine

    eng = _Engine(fs=FS, n_inputs=0, n_outputs=2, calibration=Calibration.uncalibrated_mode(2))
    speech = np.tile(speech_loop_pa(fs=FS, level_db_spl=85.0), (2, 1))
    with pytest.raises(SafetyError):
        eng.ceiling.check_signal_pa(speech, [0, 1], what="the speech at this level")


def test_the_speech_loop_sets_each_sentence_to_the_level():
    x = speech_loop_pa(fs=FS, level_db_spl=65.0)
    assert x.dtype == np.float32 and x.ndim == 1 and x.size > 5 * FS
    # 65 dB SPL RMS re 20 uPa is 0.0356 Pa; the gaps between sentences lower the overall RMS.
    rms = float(np.sqrt(np.mean(x.astype(float) ** 2)))
    assert rms < 0.0356
    loud = scale_to_db_spl(x.astype(float), 65.0)
    assert np.isclose(np.sqrt(np.mean(loud**2)), 0.0356, rtol=1e-2)


def test_the_panel_refuses_to_start_without_a_fitting(qtbot, app_context):
    panel = AbcPanel(app_context)
    qtbot.addWidget(panel)
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.model is None
    assert "no fitting" in panel.error_label.text()


# -- live ------------------------------------------------------------------------------------------
def _offline_like(model, fit, records, n_frames):
    """The live run rendered offline: the same graphs, published at the same blocks."""
    cal = Calibration.uncalibrated_mode(model.plan.n_outputs)
    paths = build_abc_paths(fit, fs=FS, n_channels=model.plan.n_channels, ear=model.plan.ear)
    ref = Engine(fs=FS, n_inputs=0, n_outputs=model.plan.n_outputs, calibration=cal)
    graphs = {g: (heard, prev) for g, heard, prev in model.graph_log}
    ids = records["graph_id"].astype(int)
    edges = np.concatenate([[0], np.flatnonzero(np.diff(ids)) + 1, [ids.size]])
    parts = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        heard, prev = graphs[ids[a]]
        kwargs = paths.graph(heard=heard, previous=prev, source_pa=model._source_pa,
                             n_outputs=model.plan.n_outputs)
        kwargs["output_map"] = list(model.plan.output_map)
        ref.configure(**kwargs)
        parts.append(ref.process_offline(n_frames=int(records["n_frames"][a:b].sum()),
                                         block_frames=BLOCK))
    return np.concatenate(parts, axis=1)[:, :n_frames], len(edges) - 1


@pytest.mark.jack
@pytest.mark.timeout(240)
def test_switching_twenty_times_live_loses_nothing_and_glitches_nowhere(qtbot, app_context):
    """The panel on the JACK dummy server: 20 switches by keys and clicks while speech plays.

    No callback lost, none overran; the recorded output equals, to float32 rounding, the offline
    rendering of the same graphs published at the same blocks, so no switch dropped, repeated
    or restarted anything. Driver xruns are the dummy driver's and are counted apart; a run
    they disturbed is repeated.
    """
    fit = fit_hearing_aid("N3", rule="nal-r")
    for attempt in range(3):
        panel = AbcPanel(app_context)
        qtbot.addWidget(panel)
        panel.resize(760, 320)
        panel.show()
        panel.level_spin.setValue(55.0)
        panel.set_fitting(fit)
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda p=panel: p.model is not None and p.model.running, timeout=10000)
        assert ENGINES.current().engine is panel.model.engine
        panel.model.engine.record(output=True)
        for i in range(20):
            target = (panel.model.condition + 1 + i % 2) % 3
            if i % 2:
                qtbot.keyClick(panel, str(target + 1))
            else:
                qtbot.mouseClick(panel.condition_buttons[target], Qt.MouseButton.LeftButton)
            assert panel.model.condition == target
            assert panel.condition_buttons[target].isChecked()
            qtbot.wait(150)
        panel.refresh()
        figures, model = panel.figures, panel.model
        rec, first = model.engine.recording("output", clear=False)
        records = model.engine.stats.records.copy()
        if attempt == 0:
            window = panel.grab()
            SHOTS.mkdir(parents=True, exist_ok=True)
            window.save(str(SHOTS / "abc_panel_live.png"))
        panel.stop()
        assert ENGINES.current() is None
        assert model.switches == 20
        assert figures.callbacks > 0 and figures.stage_errors == 0
        print(f"A/B/C live: {figures.callbacks} callbacks, lost {figures.lost_callbacks}, "
              f"overruns {figures.overruns}, driver xruns {figures.xruns}, "
              f"load max {figures.load_max:.2f}")
        n = first + rec.shape[1]
        offline, n_graphs = _offline_like(model, fit, records, n)
        assert n_graphs == 21
        # Equal to float32 rounding: the audio thread may flush denormals (FTZ/DAZ) where the
        # offline run does not; a dropped, repeated or restarted block differs by the signal.
        diff = np.abs(rec - offline[:, first:n])
        equal = float(diff.max(initial=0.0)) <= 1e-6 * float(np.abs(offline).max())
        if equal and figures.lost_callbacks == 0 and figures.overruns == 0:
            return
        assert figures.xruns, (
            f"a glitch without a driver xrun: output equal to offline {equal}, lost "
            f"{figures.lost_callbacks}, overruns {figures.overruns}")
    pytest.fail("every run was disturbed by driver xruns")


def _largest_steps(fade_ms):
    """Largest sample-to-sample step at 20 switches and elsewhere, for a given crossfade."""
    fit = fit_hearing_aid("N3", rule="nal-r")
    src = speech_loop_pa(fs=FS, level_db_spl=55.0)
    paths = build_abc_paths(fit, fs=FS, n_channels=2)
    paths.fade_frames = int(round(fade_ms * 1e-3 * FS))
    eng = _engine(Calibration.uncalibrated_mode(2))
    eng.configure(**paths.graph(heard=0, previous=0, source_pa=src))
    rng = np.random.default_rng(20261207)
    current, frame, parts, switches = 0, 0, [], []
    for i in range(21):
        n = int(rng.integers(20, 60)) * BLOCK
        parts.append(eng.process_offline(n_frames=n, block_frames=BLOCK))
        frame += n
        heard = (current + 1 + i % 2) % 3
        eng.configure(**paths.graph(heard=heard, previous=current, source_pa=src))
        current = heard
        switches.append(frame)
    step = np.abs(np.diff(np.concatenate(parts, axis=1)[0].astype(float)))
    at = step[np.array(switches[:-1]) - 1]
    elsewhere = np.ones(step.size, bool)
    for s in switches:
        elsewhere[s - 2: s + 2] = False
    return at.max(), step[elsewhere].max()


def test_the_crossfade_makes_a_switch_click_free_where_a_hard_cut_clicks():
    """Measured on speech: a hard cut at a block boundary makes steps larger than any the signal
    makes by itself (a click); with the 10 ms raised-cosine crossfade no switch does."""
    hard_at, hard_elsewhere = _largest_steps(0.0)
    faded_at, faded_elsewhere = _largest_steps(10.0)
    assert hard_at > hard_elsewhere
    assert faded_at < 0.25 * faded_elsewhere


@pytest.mark.jack
@pytest.mark.timeout(180)
def test_a_new_fitting_is_built_off_the_gui_thread_and_swapped_in_live(qtbot, app_context):
    """On the device input (the dummy server's capture ports): a new fitting's paths are built
    by a background task while the stream runs on, then swapped in by one graph publication."""
    panel = AbcPanel(app_context)
    qtbot.addWidget(panel)
    panel.show()
    panel.source_combo.setCurrentIndex(panel.source_combo.findData("input"))
    panel.set_fitting(fit_hearing_aid("N3", rule="nal-r"))
    assert panel.start(), panel.error_label.text()
    qtbot.waitUntil(lambda: panel.model is not None and panel.model.running, timeout=10000)
    model, first = panel.model, panel.model.paths
    assert model.plan.n_inputs >= 1 and model._source_pa is None
    qtbot.keyClick(panel, "3")
    engine = model.engine
    callbacks_before = engine.counters()["callbacks"]
    panel.set_fitting(fit_hearing_aid("S2", rule="pogo"))
    assert panel.busy  # building on a worker thread; the GUI thread is free meanwhile
    qtbot.waitUntil(lambda: model.paths is not first, timeout=20000)
    qtbot.wait(300)
    panel.refresh()
    f = panel.figures
    assert model.engine is engine and engine.running  # the same stream, never restarted
    assert engine.counters()["callbacks"] > callbacks_before
    assert [h for _, h, _ in model.graph_log][-1] == 2  # still hearing condition 3
    assert f.overruns == 0 and f.stage_errors == 0
    assert f.lost_callbacks == 0 or f.xruns, "a lost callback without a driver xrun"
    panel.stop()
