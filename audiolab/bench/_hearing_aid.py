"""Bench case: the fused hearing aid against the same chain written with SciPy/NumPy."""

import numpy as np
import scipy.signal

from audiolab.bench._runner import BenchCase
from audiolab.calibration import P_REF_PA, db_spl_to_pa_rms
from audiolab.dsp import db_to_amplitude, power_to_db
from audiolab.models._hearing_aid import HearingAid

__all__ = ["cases"]

FS = 48000


def _scipy_hearing_aid(aid: HearingAid):  # noqa: ANN202 - returns a closure
    """The chain a SciPy/NumPy user would write: same bands, curve, smoothing, limiter."""
    comp = aid.compressor(("left",))
    d = comp.design
    s = comp.settings[0]
    p = comp.band_parameters(0)
    sos = [
        np.array([[n, 0, 0, 1, -c, 0]] + [[1, 0, 0, 1, -c, 0]] * 3, dtype=np.complex64)
        for c, n in zip(d.coefficients, d.normalization, strict=True)
    ]
    # One-pole smoothing of the band power per sample (lfilter cannot switch between attack
    # and release: the user takes the attack constant); time constant per sample.
    alpha = 1 - (1 - p["attack_coef"]) ** (1.0 / comp.grid_samples)
    limit = comp.limit_pa(0)

    def run(x: np.ndarray) -> np.ndarray:
        xc = x.astype(np.complex64)
        y = np.zeros(x.size, np.complex64)
        for k in range(comp.n_bands):
            z = scipy.signal.sosfilt(sos[k], xc)
            power = (z.real**2 + z.imag**2) / (2 * P_REF_PA**2)
            smooth = scipy.signal.lfilter([alpha[k]], [1, alpha[k] - 1], power)
            level = power_to_db(np.maximum(smooth, 1.0))
            g_db = (
                s.gain_db[k]
                - (1 - 1 / s.ratio[k]) * np.maximum(level - s.knee_db_spl[k], 0)
                - (1 / s.expansion_ratio[k] - 1) * np.maximum(s.expansion_knee_db_spl[k] - level, 0)
            )
            g = db_to_amplitude(np.minimum(g_db, s.max_gain_db[k]))
            r = d.weights[k] * z * g
            dk = d.band_delays_samples[k]
            y[dk:] += r[: x.size - dk]
        env = np.abs(y)
        return (y.real * np.minimum(1.0, limit / np.maximum(env, 1e-30))).astype(np.float32)

    return run


def cases(quick: bool) -> list[BenchCase]:
    """Fused hearing aid (30 bands, 100-8000 Hz, 1/ERB) on 10 s of 48 kHz mono (2 s if quick)."""
    seconds = 2.0 if quick else 10.0
    rng = np.random.default_rng(1)
    n = int(seconds * FS)
    # Speech-like level changes (40-85 dB SPL every 10 ms) so that the compressor works.
    env = np.repeat(db_spl_to_pa_rms(rng.uniform(40, 85, n // 480 + 1)), 480)[:n]
    x = (rng.standard_normal(n) * env).astype(np.float32)[None, :]
    aid = HearingAid("N3", fs=FS, ear="left")
    reference = _scipy_hearing_aid(aid)

    return [
        BenchCase(
            name=f"hearing aid N3 WDRC ({aid.compressor(('left',)).n_bands} bands 100-8000 Hz, "
                 "1/ERB, 48 kHz mono)",
            audio_s=seconds,
            ours=lambda: aid.process(x),
            reference=lambda: reference(x[0]),
            reference_name="sosfilt per band + NumPy power/lfilter smoothing/dB gain + "
                           "delayed sum + envelope limiter",
            target_ratio=20.0,
            target_x_real_time=300.0,
        ),
    ]
