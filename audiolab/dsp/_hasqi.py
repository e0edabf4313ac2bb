"""HASQI v2, the Hearing-Aid Speech Quality Index, on the ear model of :mod:`._ear_model`.

Kates, J. M. & Arehart, K. H. (2014), "The Hearing-Aid Speech Quality Index (HASQI) version 2",
J. Audio Eng. Soc. 62(3):99-117. Both signals pass the listener's ear (the reference after NAL-R
equalisation with ``equalisation=1``). The score is a nonlinear term times a linear one:

- nonlinear: the squared cepstral correlation (coefficients 2-6 of the band envelopes smoothed
  over 16 ms segments, Sec. 3.1) times the basilar-membrane vibration coherence (normalised
  cross-correlation within +-1 ms in 16 ms segments, weighted by the inner-hair-cell synchrony
  of the 5th low-pass of Sec. 3.2, 3.5 kHz order 5);
- linear: 0.579 (1 - SD of the normalised spectrum difference / 2.5) + 0.421 (1 - SD of the
  spectral-slope difference) over the bands' average levels (Sec. 3.3).

The segment statistics, written as loops over bands and segments in pyclarity 0.9.0, are
computed for all segments at once (FFT cross-correlations of the windowed segments).
"""

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from audiolab._ckernel import check, double_buffer, lib
from audiolab._errors import SignalError
from audiolab.dsp._ear_model import EAR_MODEL_FS, ear_centre_frequencies_hz, ear_model

__all__ = ["HasqiResult", "hasqi_v2"]

_SEGMENT_MS = 16.0
_SILENCE_DB_SL = 2.5
_N_BASIS = 6
_MAX_LAG_MS = 1.0


@dataclass(frozen=True)
class HasqiResult:
    """HASQI v2 and its intermediate values (Kates & Arehart 2014, Eq. (9)-(12)).

    Attributes
    ----------
    score : float
        ``nonlinear * linear``, in [0, 1].
    nonlinear : float
        ``cepstral_correlation ** 2 * bm_coherence``.
    linear : float
        ``0.579 spectrum_term + 0.421 slope_term``.
    cepstral_correlation : float
        Mean correlation of cepstral coefficients 2-6.
    bm_coherence : float
        Basilar-membrane vibration coherence, synchrony-weighted (3.5 kHz, order 5).
    spectrum_term, slope_term : float
        The two linear terms, each clipped to [0, 1].
    """

    score: float
    nonlinear: float
    linear: float
    cepstral_correlation: float
    bm_coherence: float
    spectrum_term: float
    slope_term: float


def _segment_window() -> tuple[np.ndarray, int]:
    n = int(np.around(_SEGMENT_MS * (0.001 * EAR_MODEL_FS)))
    n += n % 2
    return np.hanning(n), n // 2


def _segments(x: np.ndarray, window: np.ndarray, half: int) -> np.ndarray:
    """16 ms segments at 50 % overlap, windowed.

    ``(bands, n_seg, len(window))`` segments at 50 % overlap, windowed as Kates'
    ``eb_EnvSmooth`` / ``eb_BMcovary`` do: the first and last are half segments (the window's
    falling and rising halves), stored zero-padded to the full length.
    """
    n_win = window.size
    n = x.shape[1]
    n_seg = int(1 + np.floor(n / n_win) + np.floor((n - n_win / 2) / n_win))
    segs = np.zeros((x.shape[0], n_seg, n_win))
    mid = sliding_window_view(x, n_win, axis=1)[:, half: half * (n_seg - 1): half]
    segs[:, 1: n_seg - 1] = mid * window
    segs[:, 0, :half] = x[:, :half] * window[half:]
    last = half * (n_seg - 1)
    segs[:, n_seg - 1, :half] = x[:, last: last + half] * window[:half]
    return segs


def envelope_smooth(env_db: np.ndarray) -> np.ndarray:
    """Mean envelope of each 16 ms segment (``eb_EnvSmooth``), ``(bands, n_seg)``.

    The segments advance by half their length, so each is two consecutive half-blocks of the
    signal: the window's halves applied to the half-blocks by two matrix products, without
    copying the segments.
    """
    window, half = _segment_window()
    n_win = window.size
    bands, n = env_db.shape
    n_seg = int(1 + np.floor(n / n_win) + np.floor((n - n_win / 2) / n_win))
    blocks = env_db[:, : n_seg * half].reshape(bands, n_seg, half)
    rising = blocks @ window[:half]  # a half-block under the window's first half
    falling = blocks @ window[half:]  # ... under its second half
    out = np.empty((bands, n_seg))
    out[:, 1:-1] = (rising[:, 1:-1] + falling[:, 2:]) / window.sum()
    out[:, 0] = falling[:, 0] / window[half:].sum()
    out[:, -1] = rising[:, -1] / window[half:].sum()
    return out


def cepstral_correlation(
    ref: np.ndarray, proc: np.ndarray, rng: np.random.Generator | np.random.RandomState,
    pyclarity_stream: bool,
) -> float:
    """HASQI's cepstral correlation (Kates' ``eb_melcor``).

    Mean |correlation| of cepstral coefficients 2-6 over the segments above 2.5 dB SL
    (``eb_melcor``; HASQI adds no dither, pyclarity still draws it).
    """
    n_bands = ref.shape[0]
    basis = np.cos(np.outer(np.arange(n_bands), np.arange(_N_BASIS)) * np.pi / (n_bands - 1))
    basis = basis / np.linalg.norm(basis, axis=0)
    level = 20 * np.log10(np.sum(10 ** (ref / 20), axis=0) / n_bands)
    keep = np.flatnonzero(level > _SILENCE_DB_SL)
    if keep.size <= 1:
        raise SignalError(
            "the reference is below the impaired ear's threshold throughout: HASQI is "
            "undefined (raise level_db_spl)"
        )
    x, y = ref[:, keep], proc[:, keep]
    if pyclarity_stream:
        rng.standard_normal(x.shape)
        rng.standard_normal(y.shape)
    cx, cy = basis.T @ x, basis.T @ y
    cx -= cx.mean(axis=1, keepdims=True)
    cy -= cy.mean(axis=1, keepdims=True)
    sxx, syy = np.sum(cx**2, axis=1), np.sum(cy**2, axis=1)
    ok = (sxx >= 1e-30) & (syy >= 1e-30)
    r = np.zeros(_N_BASIS)
    r[ok] = np.abs(np.sum(cx * cy, axis=1)[ok]) / np.sqrt(sxx[ok] * syy[ok])
    return float(np.sum(r[1:]) / (_N_BASIS - 1))


def spectrum_terms(ref_sl_db: np.ndarray, proc_sl_db: np.ndarray) -> tuple[float, float]:
    """HASQI's two linear terms (Kates' ``eb_SpectDiff``).

    The linear model's two terms (``eb_SpectDiff``): ``1 - n SD(diff) / 2.5`` of the
    unit-sum loudness spectra and ``1 - n SD(diff)`` of their slopes, each clipped to [0, 1].
    """
    n = ref_sl_db.size
    x = 10 ** (ref_sl_db / 20)
    y = 10 ** (proc_sl_db / 20)
    x, y = x / x.sum(), y / y.sum()
    loud = 1.0 - n * float(np.std(x - y)) / 2.5
    slope = 1.0 - n * float(np.std(np.diff(x) - np.diff(y)))
    return min(max(loud, 0.0), 1.0), min(max(slope, 0.0), 1.0)


def bm_covariance(ref_bm: np.ndarray, proc_bm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Basilar-membrane coherence per band and segment (``eb_BMcovary``).

    Per band and 16 ms segment: the peak normalised cross-correlation within +-1 ms of the
    mean-removed windowed segments, clipped to [0, 1], and twice the reference's mean square
    (``eb_BMcovary``).
    """
    window, half = _segment_window()
    max_lag = int(np.around(_MAX_LAG_MS * 0.001 * EAR_MODEL_FS))
    xs = _segments(ref_bm, window, half)
    ys = _segments(proc_bm, window, half)
    n_win = window.size
    # Mean removal over the samples each segment has (half of them at the ends).
    lengths = np.full(xs.shape[1], n_win)
    lengths[[0, -1]] = half
    valid = np.arange(n_win)[None, :] < lengths[:, None]
    for s in (xs, ys):
        s -= (s.sum(axis=2) / lengths)[..., None]
        s *= valid
    energy_scale = np.full(xs.shape[1], 1.0 / np.sum(window**2))
    energy_scale[[0, -1]] = 1.0 / np.sum(window[half:] ** 2)
    ms_x = np.sum(xs**2, axis=2) * energy_scale
    ms_y = np.sum(ys**2, axis=2) * energy_scale
    full_w = np.correlate(window, window, "full")[n_win - 1 - max_lag: n_win + max_lag]
    half_w = window[half:]
    half_c = np.correlate(half_w, half_w, "full")[half - 1 - max_lag: half + max_lag]
    unbiased = np.empty(xs.shape[1:2] + (2 * max_lag + 1,))
    unbiased[:] = 1.0 / full_w
    unbiased[[0, -1]] = 1.0 / half_c
    peak = _segment_xcorr_peaks(xs, ys, max_lag, unbiased)
    ok = (ms_x > 1e-30) & (ms_y > 1e-30)
    cov = np.zeros_like(peak)
    cov[ok] = peak[ok] / np.sqrt(ms_x[ok] * ms_y[ok])
    return np.clip(cov, 0.0, 1.0), 2.0 * ms_x


def _segment_xcorr_peaks(
    xs: np.ndarray, ys: np.ndarray, max_lag: int, weight: np.ndarray
) -> np.ndarray:
    """``max over |L| <= max_lag of |sum_j xs[..., j + L] ys[..., j]| weight[seg, L]`` (C).

    ``xs``, ``ys``: ``(bands, n_seg, n_win)``; ``weight``: ``(n_seg, 2 max_lag + 1)``. A direct
    sum over the 49 lags of a segment costs less than its FFTs (``al_ear_segment_xcorr_peak``).
    """
    bands, n_seg, n_win = xs.shape
    peak = np.empty((bands, n_seg))
    check(lib.al_ear_segment_xcorr_peak(
        double_buffer(xs, "xs", writable=False), double_buffer(ys, "ys", writable=False),
        bands * n_seg, n_win, max_lag, double_buffer(weight, "weight", writable=False), n_seg,
        double_buffer(peak, "peak")), "al_ear_segment_xcorr_peak")
    return peak


def bm_coherence(cov: np.ndarray, ref_ms: np.ndarray) -> float:
    """HASQI's basilar-membrane vibration coherence (``eb_AveCovary2``).

    Synchrony-weighted mean of the segment coherences above 2.5 dB SL (``eb_AveCovary2``,
    its 5th weighting: a 5th-order low-pass at 3.5 kHz for the inner hair cells' synchrony).
    """
    n_bands = cov.shape[0]
    cf = ear_centre_frequencies_hz(n_bands)
    order, cutoff_hz = 5, 3500.0
    sync = np.sqrt(cutoff_hz ** (2 * order) / (cutoff_hz ** (2 * order) + cf ** (2 * order)))
    rms = np.sqrt(ref_ms)
    level = 20 * np.log10(np.sum(10 ** (rms / 20), axis=0) / n_bands)
    keep = np.flatnonzero(level > _SILENCE_DB_SL)
    if keep.size <= 1:
        return 0.0
    above = rms[:, keep] > _SILENCE_DB_SL
    weight = np.where(above, sync[:, None], 0.0)
    total = weight.sum()
    return float(np.sum(weight * cov[:, keep]) / total) if total > 0 else 0.0


def hasqi_v2(
    reference: np.ndarray,
    processed: np.ndarray,
    *,
    fs: float,
    hearing_loss_db_hl: np.ndarray,
    level_db_spl: float,
    equalisation: int,
    rng: np.random.Generator | np.random.RandomState,
    pyclarity_stream: bool = False,
) -> HasqiResult:
    """HASQI v2 of a processed signal against its reference for one ear (module docstring).

    Parameters
    ----------
    reference, processed : numpy.ndarray
        1-D float64 signals at ``fs``; an RMS of 1 is ``level_db_spl``.
    fs : float
        Sample rate in Hz.
    hearing_loss_db_hl : numpy.ndarray
        The ear's loss at 250, 500, 1000, 2000, 4000 and 6000 Hz (dB HL).
    level_db_spl : float
        dB SPL of a signal of RMS 1.
    equalisation : {1, 2}
        1: NAL-R on the reference; 2: none.
    rng : numpy.random.Generator or numpy.random.RandomState
        Source of the model's internal noise.
    pyclarity_stream : bool
        Draw every deviate pyclarity draws, in its order.

    Returns
    -------
    HasqiResult
    """
    ear = ear_model(
        reference, processed, fs=fs, hearing_loss_db_hl=hearing_loss_db_hl,
        reference_impaired=True, equalise_reference=equalisation == 1,
        level_db_spl=level_db_spl, rng=rng, basilar_membrane=True,
        pyclarity_stream=pyclarity_stream,
    )
    assert ear.reference_bm is not None and ear.processed_bm is not None
    cep = cepstral_correlation(envelope_smooth(ear.reference_db),
                               envelope_smooth(ear.processed_db), rng, pyclarity_stream)
    loud, slope = spectrum_terms(ear.reference_sl_db, ear.processed_sl_db)
    cov, ref_ms = bm_covariance(ear.reference_bm, ear.processed_bm)
    coherence = bm_coherence(cov, ref_ms)
    nonlinear = cep**2 * coherence
    linear = 0.579 * loud + 0.421 * slope
    return HasqiResult(
        score=nonlinear * linear, nonlinear=nonlinear, linear=linear,
        cepstral_correlation=cep, bm_coherence=coherence, spectrum_term=loud, slope_term=slope,
    )
