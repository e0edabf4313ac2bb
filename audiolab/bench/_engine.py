"""Bench case: the engine's C callback (hearing aid, 64-frame blocks) against a Python callback.

Ours: the real-time engine run offline, block by block through its C callback (input
calibration -> fitted hearing aid -> output calibration -> ceiling -> meters), exactly as the
audio thread runs it. Reference: what a sounddevice user writes, a Python callback per block
doing the same work with the Processor API and NumPy (the same C hearing aid inside, so the
ratio is the cost of the Python audio path itself). Live figures (callback p99.9, xruns) come
from ``audiolab live --stats-json``; see docs/readme/engine.md.
"""

import numpy as np

from audiolab.bench._runner import BenchCase
from audiolab.calibration import Calibration, digital_to_pa_scale
from audiolab.engine import Engine, EngineStats
from audiolab.models._hearing_aid import HearingAid

__all__ = ["cases"]

FS = 48000
BLOCK = 64


def _python_callback_run(  # noqa: ANN202 - returns a closure
    x: np.ndarray, ceiling: np.ndarray, pa_per_digital: np.ndarray
):
    aid = HearingAid("N3", fs=FS)
    k_in = np.float32(digital_to_pa_scale(100.0))
    g_out = (1.0 / pa_per_digital).astype(np.float32)[:, None]
    c = ceiling[:, None]

    def run() -> np.ndarray:
        aid.reset()
        out = np.empty_like(x)
        for start in range(0, x.shape[1], BLOCK):
            block = x[:, start:start + BLOCK] * k_in
            y = aid.process(block) * g_out
            y[~np.isfinite(y)] = 0.0
            out[:, start:start + BLOCK] = np.clip(y, -c, c)
        return out

    return run


def cases(quick: bool) -> list[BenchCase]:
    """Stereo hearing aid (N3, 30 bands) in 64-frame blocks, 5 s of 48 kHz (1 s if quick)."""
    seconds = 1.0 if quick else 5.0
    rng = np.random.default_rng(3)
    x = (0.01 * rng.standard_normal((2, int(seconds * FS)))).astype(np.float32)
    eng = Engine(fs=FS, n_inputs=2, n_outputs=2, calibration=Calibration.uncalibrated_mode(2),
                 stats_capacity=1 << 14)

    aid = HearingAid("N3", fs=FS)

    def ours() -> np.ndarray:
        eng.configure([aid])  # restarts the aid at rest, as the reference does
        eng.stats = EngineStats(eng.n_outputs, eng.fs)
        return eng.process_offline(x, block_frames=BLOCK)

    return [
        *_equalizer_cases(x, seconds),
        BenchCase(
            name="engine C callback, hearing aid N3 stereo, 64-frame blocks",
            audio_s=seconds,
            ours=ours,
            reference=_python_callback_run(
                x, eng.ceiling.digital_peak, eng.ceiling.pa_per_digital
            ),
            reference_name="Python per-block callback: HearingAid.process + NumPy calibration/clip",
            note="offline run of the live callback; live timing: audiolab live --stats-json",
        )
    ]


def _equalizer_cases(x: np.ndarray, seconds: float) -> list[BenchCase]:
    """The output equaliser and its inverse (meters) of calibration/example.toml, no chain."""
    import scipy.signal

    from audiolab.calibration import parse_calibration

    levels = [101.2, 104.0, 106.1, 106.8, 107.0, 106.5, 105.3, 104.1, 103.0, 99.4, 96.0]
    freqs = [125, 250, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000, 8000]
    cal = parse_calibration({
        "device": "bench", "host_api": "none", "transducer": "TDH-39", "date": "2026-01-01",
        "operator": "bench", "ceiling_db_spl": 100.0,
        "channel": [{"index": i, "ear": e, "full_scale_db_spl": dict(
            zip(map(str, freqs), levels, strict=True))} for i, e in enumerate(("left", "right"))],
    }, max_age_days=1e9)
    eng = Engine(fs=FS, n_inputs=2, n_outputs=2, calibration=cal, stats_capacity=1 << 14)
    eqs = [eq for eq in eng.ceiling.equalizers if eq is not None]
    k_in = np.float32(digital_to_pa_scale(100.0))
    g_out = (1.0 / eng.ceiling.pa_per_digital).astype(np.float32)
    c = eng.ceiling.digital_peak

    def ours() -> np.ndarray:
        eng.configure(None)
        eng.stats = EngineStats(eng.n_outputs, eng.fs)
        return eng.process_offline(x, block_frames=BLOCK)

    def reference() -> np.ndarray:
        from audiolab.calibration._equalizer import inverse_sos

        sos = [eq.sos.copy() for eq in eqs]
        inv = [inverse_sos(eq.sos) for eq in eqs]
        zi = [np.zeros((s.shape[0], 2)) for s in sos]
        zm = [np.zeros((s.shape[0], 2)) for s in inv]
        out = np.empty_like(x)
        for start in range(0, x.shape[1], BLOCK):
            block = x[:, start:start + BLOCK] * k_in
            for o in range(2):
                y, zi[o] = scipy.signal.sosfilt(sos[o], block[o], zi=zi[o])
                y = np.clip(y * g_out[o], -c[o], c[o])
                p, zm[o] = scipy.signal.sosfilt(inv[o], y, zi=zm[o])  # meter model
                out[o, start:start + BLOCK] = y
        return out

    return [
        BenchCase(
            name="engine output equaliser + inverse (11-point calibration), stereo, 64-frame "
                 "blocks",
            audio_s=seconds,
            ours=ours,
            reference=reference,
            reference_name="Python per-block callback: scipy.signal.sosfilt with state, clip, "
                           "sosfilt of the inverse for the meters",
            note="22 biquads per channel each way",
        )
    ]
