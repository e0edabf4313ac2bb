"""Slow NumPy/SciPy reference of the fused WDRC kernel (csrc/wdrc.c), in float64.

Written from the algorithm's description in audiolab/models/_wdrc.py, not from the C: complex
gammatone bands by scipy.signal.lfilter on the input delayed per band, grid-wise level
smoothing and gain curve in a Python loop over grid steps, linear gain ramps, weighted sum,
sample-by-sample limiter on the modulus of the analytic output.
"""

import math

import numpy as np
import scipy.signal

from audiolab.calibration import P_REF_PA
from audiolab.models._wdrc import LEVEL_FLOOR_DB_SPL, LIMITER_RELEASE_MS, MultibandWdrc


def _f32(a):
    # The kernel receives its parameters as float32: the reference starts from the same values.
    return np.asarray(a, np.float32).astype(np.float64)


def reference_wdrc(aid: MultibandWdrc, x: np.ndarray) -> np.ndarray:
    """Run ``aid``'s algorithm on ``x`` (n_channels, n) from rest, float64."""
    d = aid.design
    grid = aid.grid_samples
    nb = aid.n_bands
    coef = _f32(d.coefficients.real) + 1j * _f32(d.coefficients.imag)
    norm = _f32(d.normalization)
    w = _f32(d.weights.real) + 1j * _f32(d.weights.imag)
    delays = d.band_delays_samples
    power_scale = float(np.float32(1.0 / (grid * 2.0 * P_REF_PA**2)))
    floor = float(np.float32(10.0 ** (LEVEL_FLOOR_DB_SPL / 10.0)))
    rel = float(np.float32(math.exp(-1.0 / (LIMITER_RELEASE_MS * 1e-3 * aid.fs))))
    out = np.zeros(x.shape, np.float64)
    for c in range(x.shape[0]):
        p = {k: _f32(v) for k, v in aid.band_parameters(c).items()}
        xc = x[c].astype(np.float64)
        n = xc.size
        z = np.empty((nb, n), complex)
        for b in range(nb):
            # Four identical complex one-pole stages: norm / (1 - c z^-1)^4 (Hohmann 2002), on
            # the input delayed by the band's resynthesis delay (the kernel delays each band's
            # input rather than its output; the gains then follow the delayed band).
            xd = np.concatenate([np.zeros(delays[b]), xc[: n - delays[b]]])
            z[b] = scipy.signal.lfilter([norm[b]], np.poly([coef[b]] * 4), xd)
        power = np.abs(z) ** 2

        def curve(level, p=p):
            g = (
                p["gain_db"]
                + p["comp_slope"] * np.maximum(level - p["knee_db_spl"], 0)
                - p["exp_slope"] * np.maximum(p["exp_knee_db_spl"] - level, 0)
            )
            return 10 ** (np.minimum(g, p["max_gain_db"]) / 20)

        level = np.full(nb, LEVEL_FLOOR_DB_SPL)
        target = _f32(curve(level))
        gain, step = target.copy(), np.zeros(nb)
        g = np.empty((nb, n))
        for start in range(0, n, grid):
            m = min(grid, n - start)
            g[:, start : start + m] = gain[:, None] + step[:, None] * np.arange(m)
            if m < grid:
                break
            acc = power[:, start : start + grid].sum(axis=1)
            inst = 10 * np.log10(np.maximum(acc * power_scale, floor))
            coef_s = np.where(inst > level, p["attack_coef"], p["release_coef"])
            level = level + coef_s * (inst - level)
            new_target = curve(level)
            gain = target
            step = (new_target - gain) / grid
            target = new_target
        r = w[:, None] * z * g
        ya = r.sum(axis=0)
        y = ya.real.copy()
        limit = float(np.float32(aid.limit_pa(c)))
        env = 0.0
        for j in range(n):
            # Limiter on the modulus of the analytic output (the complex band sum).
            env = max(abs(ya[j]), env * rel)
            if env > limit:
                y[j] *= limit / env
        out[c] = y
    return out
