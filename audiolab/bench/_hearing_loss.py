"""Bench case and NumPy reference of the hearing-loss simulator (MSBG model).

:func:`reference_hearing_loss` is the straightforward NumPy/SciPy implementation of exactly the
model the C kernel runs (same design, float64): whole-signal frames with pyfftw's FFT for the
smearing, ``scipy.signal.lfilter`` per band for the gammatone filters and envelopes. The tests
check the C kernel against it; the bench times both. It takes the designed coefficients
(poles, weights, tables) from :class:`HearingLossEarDesign` but runs them with its own code,
written from the model's description in :mod:`audiolab.models._hearing_loss`: nothing of the
simulator's signal path is called.
"""

from dataclasses import replace
from typing import Any

import numpy as np
import pyfftw.interfaces.numpy_fft as fftw
import scipy.signal
from numpy.lib.stride_tricks import sliding_window_view

from audiolab.bench._runner import BenchCase
from audiolab.calibration import db_spl_to_pa_rms
from audiolab.models._hearing_loss import HearingLossEarDesign, HearingLossSimulator

__all__ = ["cases", "reference_bands", "reference_hearing_loss", "reference_smear"]

FS = 44100
_FFTW = {"planner_effort": "FFTW_ESTIMATE", "threads": 1}
_POWER_FLOOR = 1e-30  # below this summed band power the band's own centre frequency is used
# The kernel drops smearing-matrix entries below this fraction of their row's largest (the
# storage described at al_hlsim_ear in csrc/al_hlsim.h); the reference drops the same.
_SMEAR_PRUNE = 1e-3


def _pruned(m: np.ndarray) -> np.ndarray:
    """The smearing matrix without its entries below _SMEAR_PRUNE of their row's largest."""
    keep = np.abs(m) >= _SMEAR_PRUNE * np.abs(m).max(axis=1, keepdims=True)
    return np.where(keep, m, 0.0)


def _recruitment_band(
    pole: complex, input_gain: float, highpass: np.ndarray, x: np.ndarray
) -> np.ndarray:
    """One band of MSBG's gammatone bank for ``x``: four real sections, then the high-pass.

    A section ``Re{1 / (1 - p z^-1)}`` with ``p = r e^(i theta)`` is, over a common
    denominator, the real filter ``(1 - r cos(theta) z^-1) / (1 - 2 r cos(theta) z^-1 +
    r^2 z^-2)``; the high-pass is ``(b0 + b1 z^-1 + b2 z^-2) / (1 + a1 z^-1 + a2 z^-2)``.
    """
    r_cos = pole.real  # r cos(theta)
    num = [1.0, -r_cos]
    den = [1.0, -2.0 * r_cos, abs(pole) ** 2]
    v = input_gain * np.asarray(x, np.float64)
    for _ in range(4):
        v = scipy.signal.lfilter(num, den, v)
    b0, b1, b2, a1, a2 = highpass
    return np.asarray(scipy.signal.lfilter([b0, b1, b2], [1.0, a1, a2], v))


def reference_smear(d: HearingLossEarDesign, x: np.ndarray, *, delay_only: bool) -> np.ndarray:
    """Smearing stage of one ear (delay frame_len - 1), with its power correction.

    Frames q = 1, 2, .. cover x[q hop - frame_len, q hop) and are overlap-added from output
    sample q hop - 1 on. The power spectrum is smeared at the cochlea; each frame is
    overlap-added at free field (the output) and at the cochlea, where the realised power is
    compared with the specified (smeared) power to correct the output.
    """
    nf, hop, n = d.frame_len, d.hop, x.size
    n_frames = n // hop
    xp = np.concatenate([np.zeros(nf), x])
    frames = sliding_window_view(xp, nf)[hop::hop][:n_frames]
    if delay_only:
        return _overlap_add(frames * d.window**2, n, hop)
    assert d.smear is not None and d.ome_pow is not None
    m = _pruned(d.smear).astype(np.float32).astype(np.float64)
    ome_pow = d.ome_pow.astype(np.float32).astype(np.float64)
    ome_amp = np.sqrt(d.ome_pow).astype(np.float32).astype(np.float64)
    spec = fftw.rfft(frames * d.window, n=2 * nf, axis=1, **_FFTW)
    p = np.abs(spec[:, :nf]) ** 2 * ome_pow
    s = p @ m.T
    on = (s > 0) & (p > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(on, np.sqrt(s / p), 0.0)
    specified = np.where(on, s, 0.0).sum(axis=1) / nf
    spec[:, :nf] *= g
    spec[:, nf] = 0.0
    y = _overlap_add(fftw.irfft(spec, n=2 * nf, axis=1, **_FFTW)[:, :nf] * d.window, n, hop)
    spec[:, :nf] *= ome_amp
    yc = _overlap_add(fftw.irfft(spec, n=2 * nf, axis=1, **_FFTW)[:, :nf] * d.window, n, hop)
    # Specified power per sample: frame q's energy / hop, from the event of frame q + 2 on.
    spec_pow = np.zeros(n)
    for q in range(n_frames):
        start = (q + 3) * hop - 1
        spec_pow[start: start + hop] = specified[q] / hop
    a = d.power_coef
    t_avg = scipy.signal.lfilter([a], [1.0, -(1.0 - a)], spec_pow)
    r_avg = scipy.signal.lfilter([a], [1.0, -(1.0 - a)], yc * yc)
    known = (t_avg > 0) & (r_avg > 1e-30)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(known, np.sqrt(t_avg / r_avg), 1.0)
    lim = d.power_max_gain
    gain = np.where(known, np.clip(gain, 1.0 / lim, lim), 1.0)
    return y * gain


def _overlap_add(out_frames: np.ndarray, n: int, hop: int) -> np.ndarray:
    nf = out_frames.shape[1]
    y = np.zeros(n + nf)
    for q in range(out_frames.shape[0]):
        start = (q + 1) * hop - 1
        y[start: start + nf] += out_frames[q]
    return y[:n]


def reference_bands(d: HearingLossEarDesign, x: np.ndarray) -> np.ndarray:
    """Recruitment stage of one ear: MSBG's gammatone bands, envelope expansion, resynthesis."""
    n = x.size
    big_d = d.gain_interval
    every = big_d * d.freq_every
    y = np.zeros(n)
    k = np.arange(n)
    updates = np.arange(0, n, every)
    n_ratio = d.exponent_table.shape[1]
    points = np.arange(n_ratio)
    a_f = d.freq_coef
    for b in range(d.center_frequencies_hz.size):
        cf = d.center_frequencies_hz[b]
        band = _recruitment_band(d.poles[b], d.input_gains[b], d.highpass[b], x)
        a = d.env_coef[b]
        env = np.abs(band)
        for _ in range(2):
            env = scipy.signal.lfilter([a], [1.0, -(1.0 - a)], env)
        # Mean frequency at every freq_every-th gain update: the band's power and lag-1
        # product summed over the samples since the previous such update (this one included),
        # each smoothed twice at that rate; cos(w) = their ratio.
        sums = []
        for lag in (0, 1):
            prod = band * np.concatenate([np.zeros(lag), band[: n - lag]])
            c = np.concatenate([[0.0], np.cumsum(prod)])
            s = c[updates + 1] - c[np.maximum(updates + 1 - every, 0)]
            for _ in range(2):
                s = scipy.signal.lfilter([a_f], [1.0, -(1.0 - a_f)], s)
            sums.append(s)
        with np.errstate(divide="ignore", invalid="ignore"):
            cos_w = np.where(
                sums[0] > _POWER_FLOOR, np.clip(sums[1] / sums[0], -1.0, 1.0),
                np.cos(2 * np.pi * cf / d.fs),
            )
        ratio = np.clip(np.arccos(cos_w) * d.fs / (2 * np.pi * cf), 0.5, 2.0)
        u = np.log2(ratio) * d.ratio_points_per_octave + (n_ratio - 1) / 2
        exponent = np.repeat(np.interp(u, points, d.exponent_table[b]), d.freq_every)
        # Gains recomputed at every gain_interval-th sample, ramped linearly to the new value.
        v = np.clip(env[::big_d] * d.env_scale[b], d.env_floor, 1.0)
        targets = v ** exponent[: v.size]
        prev = np.concatenate([[0.0], targets[:-1]])
        frac = (k % big_d + 1) / big_d
        gain = prev[k // big_d] + (targets[k // big_d] - prev[k // big_d]) * frac
        # y[t] += r[t - d - lag] gain[t - d]: the gain is centred on its envelope.
        r = np.concatenate([np.zeros(d.lag_samples), d.weights[b] * band])[:n]
        delay = int(d.band_delays_samples[b])
        y[delay:] += (r * gain)[: n - delay]
    return y


def reference_hearing_loss(sim: HearingLossSimulator, x: Any) -> np.ndarray:
    """The simulator's output computed in NumPy/SciPy (float64), for (n_channels, n) input."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    out = np.empty_like(x)
    for c, side in enumerate(sim.ears_for(x.shape[0])):
        d = sim.designs[side]
        xc = x[c]
        if d.smear is not None or sim.any_smearing:
            xc = reference_smear(d, xc, delay_only=d.smear is None)
        out[c] = reference_bands(d, xc)
    return out


def cases(quick: bool) -> list[BenchCase]:
    """N3 (both ears), 10 s of 44.1 kHz stereo speech-level noise (2 s if quick)."""
    seconds = 2.0 if quick else 10.0
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, int(seconds * FS)))
    x = (x * float(db_spl_to_pa_rms(70.0))).astype(np.float32)
    cases = []
    for profile in ("N3", "N1"):
        sim = HearingLossSimulator(profile, fs=FS)
        d = sim.designs["left"]

        def ours(sim: HearingLossSimulator = sim) -> np.ndarray:
            sim.reset()
            return sim.process(x)

        def reference(sim: HearingLossSimulator = sim) -> np.ndarray:
            return reference_hearing_loss(sim, x)

        cases.append(
            BenchCase(
                name=(
                    f"hearing-loss simulation {profile} ({d.severity}: "
                    f"{d.center_frequencies_hz.size} bands, smearing), 44.1 kHz stereo"
                ),
                audio_s=seconds,
                ours=ours,
                reference=reference,
                reference_name="NumPy/SciPy: lfilter per band, pyfftw frames (same model)",
                target_x_real_time=50.0,
                note="MSBG (pyclarity, Python): about 2x real time here",
                long_runs=1,  # the reference takes seconds: one run of it is enough
            )
        )
    return cases + _profile_cases(x, seconds)


def _profile_cases(x: np.ndarray, seconds: float) -> list[BenchCase]:
    """N3's cost per stage: the whole simulator, then without its spectral smearing.

    The simulator runs at the signal's rate (nothing is resampled inside), so its stages are the
    smearing (framed FFT, Baer & Moore 1993) and the bands (gammatone filters, envelopes and
    recruitment gains, Moore & Glasberg 1993). The smearing's share is the difference of the two
    rows' times: share = 1 - (whole x real time) / (bands-only x real time).
    """
    rows = []
    for label, smears in (("whole (smearing + bands)", True), ("bands only", False)):
        sim = HearingLossSimulator("N3", fs=FS)
        if not smears:
            # The same severe bank without its smearing frame: smearing="none" would also
            # switch to the "none" class's 36-band bank and misstate the smearing's share.
            sim.designs = {
                side: replace(d, smear=None, smear_factors=None, ome_pow=None)
                for side, d in sim.designs.items()
            }

        def ours(sim: HearingLossSimulator = sim) -> np.ndarray:
            sim.reset()
            return sim.process(x)

        rows.append(
            BenchCase(
                name=f"hearing-loss profile N3, {label}, 44.1 kHz stereo",
                audio_s=seconds,
                ours=ours,
                note="per-stage profile; smearing = the difference of the two profile rows",
            )
        )
    return rows
