"""Slow NumPy/SciPy reference of the fused WDRC kernel (csrc/wdrc.c), in float64.

Written from the algorithm's description in audiolab/models/_wdrc.py, not from the C: complex
gammatone bands by scipy.signal.lfilter on the input delayed per band, grid-wise level
smoothing and gain curve in a Python loop over grid steps, linear gain ramps, weighted sum,
sample-by-sample limiter on the modulus of the analytic output.
"""

import math

import numpy as np
import scipy.signal

from audiolab.models import MultibandWdrc, ansi_time_constants_ms

P_REF_PA = 20e-6  # the reference sound pressure of dB SPL (ISO 1683:2015)
# The level floor and the limiter's release, as audiolab/models/_wdrc.py describes the
# algorithm: "Band levels below 0 dB SPL are taken as 0 dB SPL" (silence must not drive the
# expansion towards -inf; 0 dB SPL lies below every audiometric threshold the curves serve),
# and the output limiter has "instant attack, 0.25 ms release" (faster than any gain change of
# the compressor, so it leaves no dips after onsets).
LEVEL_FLOOR_DB_SPL = 0.0
LIMITER_RELEASE_MS = 0.25


def _f32(a):
    # The kernel receives its parameters as float32: the reference starts from the same values.
    return np.asarray(a, np.float32).astype(np.float64)


def _band_parameters(aid: MultibandWdrc, channel: int) -> dict[str, np.ndarray]:
    """The static curve's terms and the smoothers' per-grid-step coefficients of each band.

    G(L) = gain - (1 - 1/ratio) max(L - knee, 0) - (1/expansion_ratio - 1) max(xknee - L, 0),
    limited to max_gain_db (the curve in the module docstring). The level smoother is a
    one-pole per grid step of ``grid / fs`` seconds: coefficient 1 - exp(-step / tau), with
    the time constants tau that give the ANSI S3.22 attack and release times (derived in the
    module docstring; ansi_time_constants_ms is tested against measured ANSI times in
    tests/test_hearing_aid.py).
    """
    s = aid.settings_for_channel(channel)
    tau_attack_ms, tau_release_ms = ansi_time_constants_ms(s)
    step_s = aid.grid_samples / aid.fs
    return {
        "gain_db": s.gain_db,
        "knee_db_spl": s.knee_db_spl,
        "comp_slope": 1.0 / s.ratio - 1.0,
        "exp_knee_db_spl": s.expansion_knee_db_spl,
        "exp_slope": 1.0 / s.expansion_ratio - 1.0,
        "max_gain_db": s.max_gain_db,
        "attack_coef": 1.0 - np.exp(-step_s / (tau_attack_ms * 1e-3)),
        "release_coef": 1.0 - np.exp(-step_s / (tau_release_ms * 1e-3)),
    }


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
        p = {k: _f32(v) for k, v in _band_parameters(aid, c).items()}
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
        # The MPO is the level of a sine whose peak the limiter allows.
        mpo_db_spl = aid.settings_for_channel(c).mpo_db_spl
        limit = float(np.float32(math.sqrt(2.0) * P_REF_PA * 10.0 ** (mpo_db_spl / 20.0)))
        env = 0.0
        for j in range(n):
            # Limiter on the modulus of the analytic output (the complex band sum).
            env = max(abs(ya[j]), env * rel)
            if env > limit:
                y[j] *= limit / env
        out[c] = y
    return out
