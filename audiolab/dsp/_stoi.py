"""STOI and ESTOI: short-time objective intelligibility of a processed signal against its clean one.

STOI is Taal, Hendriks, Heusdens & Jensen (2011), "An algorithm for intelligibility prediction of
time-frequency weighted noisy speech", IEEE TASLP 19(7):2125-2136. ESTOI is Jensen & Taal (2016),
"An algorithm for predicting the intelligibility of speech masked by modulated noise maskers",
IEEE TASLP 24(11):2009-2022. Both run at 10 kHz on 256-sample Hann frames (50 % overlap), drop the
frames of the clean signal more than 40 dB below its loudest, take a 512-point FFT, group the
bins into 15 one-third-octave bands from 150 Hz and compare 30-frame (384 ms) segments.

pystoi spends its time in Python loops over frames and segments. Here the resampling, the framing
with silence removal, the FFTs (eight frames at a time, one per vector lane), the band sums and
the segment statistics are C kernels (``csrc/stoi.c``); the NumPy forms of those steps stay in
this module as the tests' reference.

The resampler is part of the metric's definition: Taal's MATLAB code calls MATLAB's
``resample``, pystoi ports Octave's ``resample`` (a Kaiser-windowed sinc of 60 dB rejection and a
roll-off of a tenth of the cut-off, applied as a polyphase filter). :func:`stoi` designs that
same filter (:func:`stoi_resampling_filter`) rather than the library's general
:func:`audiolab.dsp.resample` (a shorter Kaiser design), so that scores equal pystoi's to 1e-8.
Measured with the general resampler instead (``docs/metrics.md``): within 8.2e-5 of pystoi from
16, 22.05, 44.1 and 48 kHz, but 2.6e-3 from 8 kHz (up-sampling), more than the 0.002 bar.
"""

import math
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike

from audiolab._ckernel import check, double_buffer, ffi, int_buffer, lib
from audiolab._errors import SignalError
from audiolab._validate import as_mono, check_real
from audiolab.dsp._resample import resample_ratio

__all__ = ["STOI_FS", "stoi", "stoi_resampling_filter", "third_octave_matrix"]

STOI_FS = 10000
"""Internal sample rate of STOI and ESTOI in Hz (Taal et al. 2011, Sec. II)."""

_N_FRAME = 256  # 25.6 ms frames at 10 kHz (Taal et al. 2011, Sec. II-A)
_HOP = _N_FRAME // 2  # 50 % overlap
_N_FFT = 512  # frames zero-padded to 512 points
_N_BANDS = 15  # one-third-octave bands ...
_F_LOWEST_CENTRE_HZ = 150.0  # ... the lowest centred on 150 Hz
_N_SEGMENT = 30  # 30 frames = 384 ms per short-time segment (Taal et al. 2011, Sec. II-B)
_BETA_DB = -15.0  # lower SDR bound of the clipping (Taal et al. 2011, Eq. (3))
_DYN_RANGE_DB = 40.0  # frames this far below the loudest clean frame are silent
_EPS = float(np.finfo(np.float64).eps)  # the guard pystoi and Taal's code add to norms
# The shortest signal that can give one segment: 31 frames (30 after the overlap-add, see
# _band_envelopes), and the frame loop needs one sample beyond the last frame.
_MIN_SAMPLES_10K = _N_SEGMENT * _HOP + _N_FRAME + 1


def _hann(n: int) -> np.ndarray:
    """MATLAB's ``hanning(n)``: the symmetric Hann window without its zero end points."""
    return np.hanning(n + 2)[1:-1]


_WINDOW = _hann(_N_FRAME)


@lru_cache(maxsize=16)
def stoi_resampling_filter(up: int, down: int) -> np.ndarray:
    """Anti-aliasing FIR of Octave's ``resample(x, up, down)``, as STOI's reference code uses it.

    A Kaiser-windowed ideal low-pass: cut-off ``1 / (2 max(up, down))`` cycles per sample at the
    up-sampled rate, roll-off width a tenth of it, 60 dB rejection. The length follows Kaiser's
    formula ``L = ceil((A - 8) / (28.714 * width))`` on each side, beta from the same paper
    (Kaiser 1974; Oppenheim & Schafer, Eq. (7.62)-(7.63)), normalised to unit DC gain.

    Parameters
    ----------
    up, down : int
        The resampling ratio in lowest terms, both >= 1.

    Returns
    -------
    numpy.ndarray
        ``2 L + 1`` taps (float64, read-only), summing to 1.

    Examples
    --------
    >>> from audiolab.dsp import stoi_resampling_filter
    >>> h = stoi_resampling_filter(5, 8)
    >>> h.size, round(float(h.sum()), 12)
    (581, 1.0)
    """
    rejection_db = 60.0
    cutoff = 1.0 / (2 * max(up, down))
    roll_off = cutoff / 10.0
    half_len = math.ceil((rejection_db - 8.0) / (28.714 * roll_off))
    t = np.arange(-half_len, half_len + 1, dtype=np.float64)
    ideal = 2 * up * cutoff * np.sinc(2 * cutoff * t)
    beta = 0.1102 * (rejection_db - 8.7)  # Kaiser's beta for a rejection above 50 dB
    h = np.kaiser(2 * half_len + 1, beta) * ideal
    h = h / h.sum()
    h.setflags(write=False)
    return h


@lru_cache(maxsize=8)
def third_octave_matrix(
    *, fs: int = STOI_FS, n_fft: int = _N_FFT, n_bands: int = _N_BANDS,
    f_lowest_centre_hz: float = _F_LOWEST_CENTRE_HZ,
) -> np.ndarray:
    """The 0/1 matrix that sums FFT bins into one-third-octave bands (Taal et al. 2011, Eq. (1)).

    Band ``k`` has its centre at ``f_lowest_centre_hz * 2**(k/3)`` and its edges at
    ``2**(+-1/6)`` times that, each edge moved to the nearest FFT bin; the band holds the bins
    from its lower edge up to, not including, its upper edge (as in Taal's ``thirdoct.m``).

    Parameters
    ----------
    fs : int
        Sample rate in Hz (STOI: 10000).
    n_fft : int
        FFT length (STOI: 512); the matrix has ``n_fft // 2 + 1`` columns.
    n_bands : int
        Number of bands (STOI: 15).
    f_lowest_centre_hz : float
        Centre of the lowest band in Hz (STOI: 150).

    Returns
    -------
    numpy.ndarray
        ``(n_bands, n_fft // 2 + 1)`` float64, read-only.

    Examples
    --------
    >>> from audiolab.dsp import third_octave_matrix
    >>> m = third_octave_matrix()
    >>> m.shape, int(m[0].sum()), int(m[-1].sum())
    ((15, 257), 2, 45)
    """
    f_bins_hz = np.linspace(0.0, fs, n_fft + 1)[: n_fft // 2 + 1]
    k = np.arange(n_bands, dtype=np.float64)
    f_low_hz = f_lowest_centre_hz * 2.0 ** ((2 * k - 1) / 6)
    f_high_hz = f_lowest_centre_hz * 2.0 ** ((2 * k + 1) / 6)
    lo = np.argmin(np.abs(f_bins_hz[None, :] - f_low_hz[:, None]), axis=1)
    hi = np.argmin(np.abs(f_bins_hz[None, :] - f_high_hz[:, None]), axis=1)
    bins = np.arange(f_bins_hz.size)
    m = ((bins[None, :] >= lo[:, None]) & (bins[None, :] < hi[:, None])).astype(np.float64)
    m.setflags(write=False)
    return m


@lru_cache(maxsize=16)
def _polyphase(up: int, down: int) -> tuple[np.ndarray, int]:
    """The filter of :func:`stoi_resampling_filter` as the C kernel takes it, and its half length.

    Row ``p`` holds the taps ``up * h[p + up * j]`` of phase ``p`` reversed and zero-padded at
    the front (see ``csrc/al_stoi.h``) to a multiple of 8 taps, so that the kernel's dot
    products run in whole vectors; the gain ``up`` restores the level that inserting
    ``up - 1`` zeros between samples takes away.
    """
    h = stoi_resampling_filter(up, down) * up
    n_taps = -(-h.size // up)
    n_taps += -n_taps % 8
    phases = np.zeros((up, n_taps))
    for p in range(up):
        taps = h[p::up]
        phases[p, n_taps - taps.size:] = taps[::-1]
    phases.setflags(write=False)
    return phases, (h.size - 1) // 2


def _to_10k(x: np.ndarray, y: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Both signals resampled to 10 kHz with the reference code's filter (identity at 10 kHz).

    The samples of ``scipy.signal.resample_poly(x, up, down, window=h)`` (the centred
    polyphase filter pystoi runs), computed by a C kernel that filters both signals in one
    pass.
    """
    if fs == STOI_FS:
        return x, y
    up, down = resample_ratio(fs, STOI_FS)
    phases, half_len = _polyphase(up, down)
    x = np.ascontiguousarray(x, np.float64)
    y = np.ascontiguousarray(y, np.float64)
    n_out = -(-x.size * up // down)
    out = np.empty((2, n_out))
    check(
        lib.al_stoi_resample(
            double_buffer(x, "x", writable=False), double_buffer(y, "y", writable=False),
            x.size, double_buffer(out[0], "x_out"), double_buffer(out[1], "y_out"), n_out,
            double_buffer(phases, "phases", writable=False), up, down, phases.shape[1],
            half_len,
        ),
        "al_stoi_resample",
    )
    return out[0], out[1]


def _frames(x: np.ndarray) -> np.ndarray:
    """Hann-windowed frames starting at 0, 128, ... while a full frame *and one more sample* fit.

    Taal's MATLAB loop (``1:N/2:length(x)-N``) and pystoi both stop one hop early when the
    length minus the frame is a multiple of the hop; kept so that scores agree.
    """
    n_frames = max(0, -(-(x.size - _N_FRAME) // _HOP))
    if n_frames == 0:
        return np.empty((0, _N_FRAME))
    view = sliding_window_view(x[: (n_frames - 1) * _HOP + _N_FRAME], _N_FRAME)[::_HOP]
    return view * _WINDOW


def _reframe_kept(frames: np.ndarray) -> np.ndarray:
    """Frames of the overlap-add of ``frames`` (``(..., n, 256)`` -> ``(..., n - 1, 256)``).

    The reference code overlap-adds the kept frames into a new signal and frames that again.
    Frame ``i`` of the new signal is the windowed pair of half-frame blocks ``i`` and ``i + 1``
    of the overlap-add, so it is built from the blocks without forming the signal.
    """
    blocks = frames[..., :_HOP].copy()
    blocks[..., 1:, :] += frames[..., :-1, _HOP:]
    return np.concatenate([blocks[..., :-1, :], blocks[..., 1:, :]], axis=-1) * _WINDOW


def _band_envelopes(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Silent-frame removal, then one-third-octave magnitudes ``(n_bands, n_frames)`` of both.

    One C kernel (``al_stoi_envelopes``): framing, silence removal, a 512-point FFT of eight
    frames at a time and the band sums; :func:`_band_envelopes_numpy` is the NumPy form the
    tests hold it to.
    """
    n_frames = max(1, -(-(x.size - _N_FRAME) // _HOP))
    env = np.empty(2 * _N_BANDS * n_frames)
    kept = np.empty(n_frames, np.int32)
    n_out = ffi.new("int64_t *")
    lo, hi = _band_bins()
    check(
        lib.al_stoi_envelopes(
            double_buffer(x, "x", writable=False), double_buffer(y, "y", writable=False),
            x.size, double_buffer(_WINDOW, "window", writable=False), _N_FRAME,
            double_buffer(_twiddle(), "twiddle", writable=False), _N_FFT, _DYN_RANGE_DB,
            int_buffer(lo, "lo", writable=False), int_buffer(hi, "hi", writable=False),
            _N_BANDS, double_buffer(env, "env"), int_buffer(kept, "kept"), n_out,
        ),
        "al_stoi_envelopes",
    )
    n = int(n_out[0])
    _check_active_frames(n)
    both = env[: 2 * _N_BANDS * n].reshape(2, _N_BANDS, n)
    return both[0], both[1]


@lru_cache(maxsize=1)
def _twiddle() -> np.ndarray:
    """``exp(-2 pi i k / 512)`` for ``k < 256`` as interleaved (re, im) float64."""
    w = np.exp(-2j * np.pi * np.arange(_N_FFT // 2) / _N_FFT)
    out = np.ascontiguousarray(w).view(np.float64)
    out.setflags(write=False)
    return out


def _check_active_frames(n: int) -> None:
    if n < _N_SEGMENT:
        raise SignalError(
            f"clean signal has {n} active frames after removing silence, "
            f"STOI needs at least {_N_SEGMENT} (384 ms of speech at 10 kHz)"
        )


@lru_cache(maxsize=1)
def _band_bins() -> tuple[np.ndarray, np.ndarray]:
    """First and one-past-last FFT bin of each band of :func:`third_octave_matrix`."""
    m = third_octave_matrix()
    lo = np.argmax(m > 0, axis=1).astype(np.int32)
    hi = (lo + m.sum(axis=1)).astype(np.int32)
    lo.setflags(write=False)
    hi.setflags(write=False)
    return lo, hi


def _band_envelopes_numpy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NumPy form of :func:`_band_envelopes` (the tests' reference for the C kernels)."""
    frames = np.stack([_frames(x), _frames(y)])
    energy_db = 20 * np.log10(np.sqrt(np.einsum("fn,fn->f", frames[0], frames[0])) + _EPS)
    keep = energy_db > energy_db.max() - _DYN_RANGE_DB
    kept = _reframe_kept(frames[:, keep])
    n = kept.shape[1]
    _check_active_frames(n)
    spectra = np.fft.rfft(kept.reshape(2 * n, _N_FRAME), n=_N_FFT, axis=-1)
    power = spectra.real**2 + spectra.imag**2
    # One 2-D product: a stacked 3-D matmul is ~25x slower here.
    envelopes = np.sqrt(power @ _obm_transposed()).T  # Eq. (1) of Taal et al. (2011)
    return np.ascontiguousarray(envelopes[:, :n]), np.ascontiguousarray(envelopes[:, n:])


@lru_cache(maxsize=1)
def _obm_transposed() -> np.ndarray:
    return np.ascontiguousarray(third_octave_matrix().T)


def _segments(env: np.ndarray) -> np.ndarray:
    """All 30-frame segments ``(n_segments, n_bands, 30)`` ending at frames 30, 31, ..."""
    return sliding_window_view(env, _N_SEGMENT, axis=1).transpose(1, 0, 2)


def _stoi_from_envelopes(x_env: np.ndarray, y_env: np.ndarray) -> float:
    """Mean clipped correlation over bands and segments, Eqs. (2)-(5) of Taal et al. (2011)."""
    x_seg = _segments(x_env)
    y_seg = _segments(y_env)
    x_norm = np.sqrt(np.einsum("sjn,sjn->sj", x_seg, x_seg))[..., None]
    y_norm = np.sqrt(np.einsum("sjn,sjn->sj", y_seg, y_seg))[..., None]
    y_c = y_seg * (x_norm / (y_norm + _EPS))  # Eq. (3): alpha normalisation
    np.minimum(y_c, x_seg * (1 + 10 ** (-_BETA_DB / 20)), out=y_c)  # Eq. (3): clip
    y_c -= y_c.mean(axis=2, keepdims=True)
    x_c = x_seg - x_seg.mean(axis=2, keepdims=True)
    y_c /= np.sqrt(np.einsum("sjn,sjn->sj", y_c, y_c))[..., None] + _EPS
    x_c /= np.sqrt(np.einsum("sjn,sjn->sj", x_c, x_c))[..., None] + _EPS
    return float(np.einsum("sjn,sjn->", x_c, y_c) / (x_c.shape[0] * x_c.shape[1]))  # Eq. (5)


def _row_col_normalise(seg: np.ndarray) -> np.ndarray:
    """Zero mean, unit norm along time (rows), then along bands (columns): Jensen & Taal (2016)."""
    r = seg - seg.mean(axis=2, keepdims=True)
    r /= np.sqrt(np.einsum("sjn,sjn->sj", r, r))[..., None] + _EPS
    r -= r.mean(axis=1, keepdims=True)
    r /= np.sqrt(np.einsum("sjn,sjn->sn", r, r))[:, None, :] + _EPS
    return r


def _estoi_from_envelopes(x_env: np.ndarray, y_env: np.ndarray) -> float:
    """Mean over segments of the spectral correlation, Eqs. (6)-(8) of Jensen & Taal (2016)."""
    x_n = _row_col_normalise(_segments(x_env))
    y_n = _row_col_normalise(_segments(y_env))
    return float(np.einsum("sjn,sjn->", x_n, y_n) / (_N_SEGMENT * x_n.shape[0]))


def _as_signal(x: ArrayLike, name: str) -> np.ndarray:
    """``x`` as a C-contiguous float64 1-D array, checked as :func:`as_mono` checks.

    Not :func:`as_mono` itself: it returns float32, and STOI is computed in float64 as the
    reference code does (float64 input would otherwise be rounded first).
    """
    arr = np.asarray(x)
    if arr.ndim == 1 and np.issubdtype(arr.dtype, np.floating):
        out = np.ascontiguousarray(arr, np.float64)
        if not np.isfinite(out).all():
            idx = int(np.argmax(~np.isfinite(out)))
            raise SignalError(
                f"{name} contains NaN or inf (first at channel 0, sample {idx}); "
                "clean the signal before processing"
            )
        return out
    as_mono(x, name=name)  # raises the library's error for this input
    raise SignalError(f"{name} must be a 1-D float array, got shape {arr.shape}")


def stoi(clean: ArrayLike, processed: ArrayLike, fs: float, *, extended: bool = False) -> float:
    """STOI (Taal et al. 2011) or ESTOI (Jensen & Taal 2016) of ``processed`` against ``clean``.

    The published algorithm, numerically as pystoi 0.4.1 computes it (within 1e-6 in the
    tests, same resampling filter). Differences from pystoi, on purpose: an input too short for
    one 384 ms segment, or a silent clean signal, raises instead of returning 1e-5 with a
    warning; ESTOI's row and column normalisation guards a zero norm with ``eps`` instead of
    adding ``eps``-sized random noise, so the score is deterministic (the two differ only on
    constant rows, by less than 1e-9 on speech).

    Parameters
    ----------
    clean : array_like
        The clean reference, 1-D float samples (any scale: the metric is level-independent).
    processed : array_like
        The processed or degraded signal, time-aligned with ``clean``, same length.
    fs : float
        Sample rate of both in Hz, > 0; any rate with a simple ratio to 10 kHz (8, 16, 22.05,
        44.1, 48 kHz...). Both are resampled to 10 kHz first.
    extended : bool, optional
        False (default) for STOI, True for ESTOI.

    Returns
    -------
    float
        STOI in [-1, 1] (typically 0.4-1 for speech: 1 for ``processed == clean``); ESTOI in
        [-1, 1] (typically 0-1). Never NaN.

    Raises
    ------
    SignalError
        Different lengths, NaN or inf samples, a silent clean signal, or fewer than 30 active
        frames (about 0.4 s of speech at 10 kHz) after silence removal.
    SignalTypeError
        Non-float input.

    Examples
    --------
    >>> import numpy as np
    >>> from audiolab.dsp import stoi
    >>> rng = np.random.default_rng(0)
    >>> clean = rng.standard_normal(16000) * np.sin(np.linspace(0, 40, 16000)) ** 2
    >>> round(stoi(clean, clean, 16000), 6)
    1.0
    >>> noisy = clean + rng.standard_normal(16000)
    >>> 0.0 < stoi(clean, noisy, 16000, extended=True) < 1.0
    True
    """
    fs = check_real("fs", fs, low=0.0, low_open=True)
    x = _as_signal(clean, "clean")
    y = _as_signal(processed, "processed")
    if x.size != y.size:
        raise SignalError(
            f"clean and processed must have the same length, got {x.size} and {y.size} samples"
        )
    n_min = math.ceil(_MIN_SAMPLES_10K * fs / STOI_FS)
    if x.size < n_min:
        raise SignalError(
            f"signals must be at least {n_min} samples ({_MIN_SAMPLES_10K / STOI_FS:.3f} s) "
            f"for one 384 ms STOI segment, got {x.size}"
        )
    if not np.any(x):
        raise SignalError("clean signal is silent (all zeros): STOI is undefined")
    x10, y10 = _to_10k(x, y, fs)
    x_env, y_env = _band_envelopes(x10, y10)
    return _score_c(x_env, y_env, extended=extended)


def _score_c(x_env: np.ndarray, y_env: np.ndarray, *, extended: bool) -> float:
    """The segment statistics in C (``al_stoi_score``).

    :func:`_stoi_from_envelopes` and :func:`_estoi_from_envelopes` are the NumPy forms the
    tests hold it to.
    """
    out = np.zeros(1)
    check(
        lib.al_stoi_score(
            double_buffer(x_env, "x_env", writable=False),
            double_buffer(y_env, "y_env", writable=False), x_env.shape[0], x_env.shape[1],
            _N_SEGMENT, 10 ** (-_BETA_DB / 20), int(extended), double_buffer(out, "score"),
        ),
        "al_stoi_score",
    )
    return float(out[0])
