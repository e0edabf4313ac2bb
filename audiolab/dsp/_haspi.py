"""HASPI v2, the Hearing-Aid Speech Perception Index, on the ear model of :mod:`._ear_model`.

Kates, J. M. & Arehart, K. H. (2021), "The Hearing-Aid Speech Perception Index (HASPI) version 2",
Speech Communication 131:35-46. The reference passes a normal ear, the processed signal the
listener's. Each band's envelope (dB above threshold) is low-passed at 320 Hz and kept at 2.67 kHz;
the frames above 2.5 dB SL are reduced to 6 cepstral coefficients (cosine basis across the 32
bands), each split by 10 modulation filters (centres 2 to 256 Hz); the correlations between
reference and processed coefficients, averaged over coefficients 2-6, feed an ensemble of 10 neural
networks (Sec. 3; the weights in ``audiolab/data/haspi_v2_ensemble.json``).

Kates' code, and pyclarity 0.9.0 after it, low-pass the envelopes at 24 kHz and keep every 9th
sample; here the filter is evaluated at the kept samples only (the same numbers, a ninth of the
work).
"""

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft

from audiolab._errors import SignalError
from audiolab.dsp._ear_model import EAR_MODEL_FS, lowpassed_envelopes

__all__ = ["HASPI_MODULATION_CENTRES_HZ", "HaspiResult", "haspi_v2"]

HASPI_MODULATION_CENTRES_HZ = (2.0, 6.0, 10.0, 16.0, 25.0, 40.0, 64.0, 100.0, 160.0, 256.0)
"""Centre frequencies of the modulation filterbank (Kates & Arehart 2021, Sec. 2.3)."""

_ENV_CUTOFF_HZ = 320.0
_FS_SUB = 8.0 * _ENV_CUTOFF_HZ  # envelopes kept at 2560 Hz nominal (two octaves above 320 Hz)
_N_BASIS = 6
_SILENCE_DB_SL = 2.5
_DITHER_DB = 0.1  # RMS of the noise added to the dB envelopes (the auditory nerve's)


@dataclass(frozen=True)
class HaspiResult:
    """HASPI v2 and its intermediate values.

    Attributes
    ----------
    score : float
        The ensemble's output divided by its normalisation (0.9508); about 0 to 1.
    modulation_correlations : numpy.ndarray
        The 10 network inputs: per modulation band, the reference/processed correlation of
        cepstral coefficients 2-6, averaged.
    band_correlations : numpy.ndarray
        ``(6, 10)``: the correlation of each cepstral coefficient (rows) in each modulation band.
    """

    score: float
    modulation_correlations: np.ndarray
    band_correlations: np.ndarray


@lru_cache(maxsize=1)
def _ensemble() -> tuple[np.ndarray, np.ndarray, float]:
    path = resources.files("audiolab").joinpath("data/haspi_v2_ensemble.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    hidden = np.array(doc["hidden_weights"], dtype=np.float64)  # (10, 11, 4)
    output = np.array(doc["output_weights"], dtype=np.float64)  # (10, 5)
    return hidden, output, float(doc["normalisation"])


def _logistic(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def neural_network_ensemble(features: np.ndarray) -> float:
    """Mean output of HASPI v2's 10 networks for the 10 features, over its normalisation."""
    hidden_w, output_w, norm = _ensemble()
    x = np.concatenate(([1.0], features))
    hidden = _logistic(np.einsum("i,kij->kj", x, hidden_w))  # (10 networks, 4 units)
    hidden = np.concatenate((np.ones((hidden.shape[0], 1)), hidden), axis=1)
    out = _logistic(np.sum(hidden * output_w, axis=1))
    return float(np.mean(out) / norm)


def _envelope_fir() -> tuple[np.ndarray, int]:
    """``ebm_EnvFilt``'s 320 Hz low-pass and the decimation step to 2.67 kHz.

    A raised-cosine FIR of 0.7 / 320 s at 24 kHz (52 taps), unit sum; Kates' code takes the full
    convolution from the filter's centre (26 samples) on and keeps every 9th sample
    (24000 / 2560 rounded down).
    """
    t_ms = 0.7 * (1000 * (1 / _ENV_CUTOFF_HZ))
    half = int(np.floor(round(0.001 * t_ms * EAR_MODEL_FS) / 2))
    w = 0.5 * (1 - np.cos(2 * np.pi * np.arange(1, half + 1) / (2 * half + 1)))
    taps = np.concatenate((w, w[::-1]))
    return taps / taps.sum(), int(np.floor(EAR_MODEL_FS / _FS_SUB))


def envelope_lowpass(env_db: np.ndarray) -> np.ndarray:
    """The 320 Hz envelope low-pass at every 9th sample of 24 kHz (``ebm_EnvFilt``), NumPy.

    The reference of the C pass that HASPI runs (``al_ear_ihc_lowpass`` in
    :func:`~audiolab.dsp._ear_model.lowpassed_envelopes`), which evaluates the FIR at the kept
    samples only.
    """
    taps, step = _envelope_fir()
    half = taps.size // 2
    n = env_db.shape[1]
    return np.array([np.convolve(row, taps)[half: half + n: step] for row in env_db])


def cepstral_coefficients(
    ref_db: np.ndarray, proc_db: np.ndarray, rng: np.random.Generator | np.random.RandomState,
) -> tuple[np.ndarray, np.ndarray]:
    """Cepstral coefficients 1-6 of the frames above 2.5 dB SL, dithered (``ebm_CepCoef``).

    Returns two ``(6, n_frames)`` arrays with each coefficient's mean removed.
    """
    n_bands = ref_db.shape[0]
    k = np.arange(n_bands)[:, None]
    basis = np.cos(np.arange(_N_BASIS)[None, :] * np.pi * k / (n_bands - 1))
    basis = basis / np.sqrt(np.sum(basis**2, axis=0))
    # exp rather than 10 ** (a power of a float base): a third of the time, and the level only
    # picks the frames above threshold.
    level = 20 * np.log10(np.sum(np.exp(ref_db * (np.log(10.0) / 20)), axis=0) / n_bands)
    keep = np.flatnonzero(level > _SILENCE_DB_SL)
    if keep.size <= 1:
        raise SignalError(
            "the reference is below the hearing threshold of the model's normal ear "
            "throughout: HASPI is undefined (raise level_db_spl)"
        )
    out = []
    for env in (ref_db, proc_db):
        # pyclarity draws (frames, bands): the same order keeps its deviates usable in tests.
        # The basis is linear: envelopes and dither are projected apart, every frame's
        # envelope at once and its kept columns taken from the small result.
        dither = rng.standard_normal((keep.size, n_bands)) @ basis
        cep = (basis.T @ env)[:, keep] + _DITHER_DB * dither.T
        out.append(cep - cep.mean(axis=1, keepdims=True))
    return out[0], out[1]


def _modulation_filters(fs_sub: float) -> tuple[list[np.ndarray], np.ndarray]:
    """HASPI v2's 10 modulation filters (``ebm_ModFilt``).

    The 10 modulation filters (``ebm_ModFilt``): Hann FIRs of 0.24 s for the three lowest
    bands and 0.24 * 10 / fc above, the band-pass ones applied by complex demodulation.
    """
    centres = np.array(HASPI_MODULATION_CENTRES_HZ)
    edges = [0.0, 4.0, 8.0]
    for k in range(3, centres.size + 1):
        edges.append(centres[k - 1] ** 2 / edges[k - 1])
    nyq = 0.5 * fs_sub
    n_mod = int(np.sum(np.array(edges) < nyq)) - 1
    centres = centres[:n_mod]
    dur_s = np.full(n_mod, 0.24)
    dur_s[2:] = 0.24 * centres[2] / centres[2:]
    n_fir = 2 * np.floor(dur_s * fs_sub / 2)
    taps = [np.hanning(int(m) + 1) / np.sum(np.hanning(int(m) + 1)) for m in n_fir]
    return taps, centres


def modulation_correlations(
    ref_cep: np.ndarray, proc_cep: np.ndarray, *, fs_sub: float,
) -> np.ndarray:
    """Correlations of the cepstral coefficients per modulation band.

    ``(6, n_mod)``: ``ebm_ModFilt`` then ``ebm_ModCorr``. Kates' complex demodulation (times
    sqrt(2) e^{-j w k}, the low-pass ``h``, times sqrt(2) e^{j w k}, real part) is the real FIR
    ``g[t] = 2 h[t] cos(w (t - t0))`` about the low-pass's centre ``t0``, and each band's
    correlation is taken over the centred ``n`` samples of the full convolution.

    No band is filtered: a correlation needs only the window's sums of ``x``, ``x^2``, ``y^2``
    and ``x y``. Over the whole convolution they follow from one FFT of the coefficients
    (Parseval: ``sum_t (g*x)[t] (g*y)[t] = sum_k |G_k|^2 Re(X_k conj Y_k) / N``; the plain sums
    from ``G_0 X_0``), for all bands at once; the parts outside the window, ``len(g) // 2``
    samples at each end, are computed directly from the first and last samples.
    """
    bands = _band_filters(fs_sub)
    n_rows, n = ref_cep.shape
    both = np.stack((ref_cep, proc_cep))  # (2, rows, n)
    n_fft = int(fft.next_fast_len(n + max(g.size for g, _, _ in bands) - 1, real=True))
    spectrum = fft.rfft(both, n_fft, axis=2)
    # One-sided Parseval weights: the bins between 0 and Nyquist stand for two.
    weight = np.full(spectrum.shape[2], 2.0 / n_fft)
    weight[0] = 1.0 / n_fft
    if n_fft % 2 == 0:
        weight[-1] = 1.0 / n_fft
    x_spec, y_spec = spectrum[0], spectrum[1]
    products = np.stack((np.abs(x_spec) ** 2, np.abs(y_spec) ** 2,
                         (x_spec * np.conj(y_spec)).real))  # (3, rows, bins)
    gains = np.abs(fft.rfft(np.array([np.pad(g, (0, n_fft - g.size)) for g, _, _ in bands]),
                            axis=1)) ** 2
    full = products @ (gains * weight).T  # (3, rows, bands): xx, yy, xy over the convolution
    plain = both.sum(axis=2)[..., None] * np.array([g.sum() for g, _, _ in bands])
    corr = np.zeros((n_rows, len(bands)))
    for m, (_, head, tail) in enumerate(bands):
        half = head.shape[0]
        first = np.zeros((2, n_rows, half))  # the first and last samples, zero-padded
        last = np.zeros_like(first)
        k = min(n, half)
        first[..., :k] = both[..., :k]
        last[..., half - k:] = both[..., n - k:]
        edges = np.concatenate((first @ head, last @ tail), axis=2)  # (2, rows, 2 half)
        s = plain[..., m] - edges.sum(axis=2)
        sxx = full[0, :, m] - np.sum(edges[0] ** 2, axis=1) - s[0] ** 2 / n
        syy = full[1, :, m] - np.sum(edges[1] ** 2, axis=1) - s[1] ** 2 / n
        sxy = full[2, :, m] - np.sum(edges[0] * edges[1], axis=1) - s[0] * s[1] / n
        ok = (sxx >= 1e-30) & (syy >= 1e-30)
        corr[ok, m] = np.abs(sxy[ok]) / np.sqrt(sxx[ok] * syy[ok])
    return corr


@lru_cache(maxsize=4)
def _band_filters(fs_sub: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per modulation band: the real FIR ``g`` and the matrices of its convolution's ends.

    ``g`` has ``2 half + 1`` taps. The first ``half`` samples of ``convolve(x, g)`` are
    ``x[:half] @ head`` (``head[i, t] = g[t - i]``, zero for ``i > t``), the last ``half`` are
    ``x[-half:] @ tail`` (``tail[i, u] = g[2 half + u - i]``, zero for ``i < u``).
    """
    taps, centres = _modulation_filters(fs_sub)
    out = []
    for m, (h, fc) in enumerate(zip(taps, centres, strict=True)):
        half = (h.size - 1) // 2
        w = np.pi * fc / (0.5 * fs_sub)
        g = h if m == 0 else 2 * h * np.cos(w * (np.arange(h.size) - half))
        # Both are Toeplitz: rows of a sliding window, reversed, over g zero-padded.
        head = sliding_window_view(np.concatenate((np.zeros(half - 1), g[:half])), half)[::-1]
        tail = sliding_window_view(np.concatenate((g[half + 1:], np.zeros(half - 1))), half)[::-1]
        arrays = (g, np.ascontiguousarray(head), np.ascontiguousarray(tail))
        for a in arrays:
            a.setflags(write=False)  # shared by every call (cached)
        out.append(arrays)
    return out


def haspi_v2(
    reference: np.ndarray,
    processed: np.ndarray,
    *,
    fs: float,
    hearing_loss_db_hl: np.ndarray,
    level_db_spl: float,
    rng: np.random.Generator | np.random.RandomState,
    pyclarity_stream: bool = False,
) -> HaspiResult:
    """HASPI v2 of a processed signal against its reference for one ear (module docstring).

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
    rng : numpy.random.Generator or numpy.random.RandomState
        Source of the model's internal noise.
    pyclarity_stream : bool
        Draw every deviate pyclarity draws, in its order (see :func:`ear_model`).

    Returns
    -------
    HaspiResult
    """
    taps, step = _envelope_fir()
    ref_lp, proc_lp = lowpassed_envelopes(
        reference, processed, fs=fs, hearing_loss_db_hl=hearing_loss_db_hl,
        level_db_spl=level_db_spl, rng=rng, taps=taps, step=step,
        pyclarity_stream=pyclarity_stream,
    )
    ref_cep, proc_cep = cepstral_coefficients(ref_lp, proc_lp, rng)
    per_band = modulation_correlations(ref_cep, proc_cep, fs_sub=_FS_SUB)
    features = per_band[1:6].mean(axis=0)
    return HaspiResult(
        score=neural_network_ensemble(features), modulation_correlations=features,
        band_correlations=per_band,
    )
