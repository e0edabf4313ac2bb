"""Kates' auditory model of the normal and impaired ear, as HASPI v2 and HASQI v2 use it.

Kates, J. M. (2013), "An auditory model for intelligibility and quality predictions", Proc. Mtgs.
Acoust. 19, 050184; the impaired-ear parameters are those of Kates & Arehart (2014), "The
Hearing-Aid Speech Quality Index (HASQI) version 2", J. Audio Eng. Soc. 62(3):99-117, Sec. 2, and
Kates & Arehart (2021), "The Hearing-Aid Speech Perception Index (HASPI) version 2", Speech
Communication 131:35-46, Sec. 2. The constants and the order of the steps follow Kates' MATLAB
``eb_EarModel`` as pyclarity 0.9.0 ports it (``clarity/evaluator/haspi/eb.py``), so that the
scores are pyclarity's.

Both signals are resampled to 24 kHz, aligned, passed through the middle ear and split into 32
gammatone bands (80 Hz to 8 kHz, ERB spacing). Each band's bandwidth is set by a control path at
the widest (100 dB loss) bandwidth: between 50 and 100 dB SPL in the control band the bandwidth
widens from the ear's own (wider with outer-hair-cell loss) to the widest. The outer-hair-cell
loss sets a level-dependent compression gain; the inner-hair-cell loss is an attenuation; the
envelope is converted to dB above threshold and passes Kates' two-time-constant rapid and
short-term adaptation. The processed signal is aligned to the reference in each band, and the
bands are brought to a common group delay.

pyclarity departs from this description in two places that this module departs from in turn:
it rounds sample rates to whole kHz before resampling (22.05 kHz is taken as 22 kHz, which
resamples a 22.05 kHz file to 24.05 kHz and calls it 24 kHz); here the ratio is exact. It draws
the internal noise from NumPy's unseeded global generator; here it comes from ``rng``. At rates
that are whole kHz, with the same normal deviates, the two give the same numbers (tests).

The per-band recursions (gammatone, compression, adaptation) are C kernels (``csrc/ear_model.c``);
their NumPy forms stay here as the tests' reference.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.signal import butter, cheby2, lfilter, ss2tf

from audiolab._ckernel import check, double_buffer, ffi, int_buffer, lib
from audiolab._errors import SignalError
from audiolab.dsp._resample import resample

__all__ = [
    "AUDIOMETRIC_FREQUENCIES_HZ",
    "EAR_MODEL_FS",
    "EarModelOutput",
    "ear_centre_frequencies_hz",
    "ear_model",
    "hair_cell_loss",
    "nal_r_fir",
]

EAR_MODEL_FS = 24000
"""Internal sample rate of the ear model in Hz (Kates 2013)."""

AUDIOMETRIC_FREQUENCIES_HZ = np.array([250.0, 500.0, 1000.0, 2000.0, 4000.0, 6000.0])
"""The six audiogram frequencies the model takes its hearing loss at."""
AUDIOMETRIC_FREQUENCIES_HZ.setflags(write=False)

N_BANDS = 32
_EAR_Q = 9.26449  # Glasberg & Moore (1990) ERB: 24.7 + f / 9.26449
_MIN_BW_HZ = 24.7
_F_LOW_HZ = 80.0
_F_HIGH_HZ = 8000.0
_SMALL = 1e-30
_UPPER_KNEE_DB_SPL = 100.0  # compression stops above 100 dB SPL
_IHC_THRESHOLD_DB = -10.0  # internal noise of the basilar-membrane output, dB re threshold
_NAL_R_TAPS = 141  # Kates' eb_NALR: a 140th-order linear-phase FIR at 24 kHz
_ENV_ALIGN_LAGS = int(0.1 * EAR_MODEL_FS)  # per-band alignment searches +-100 ms (eb_EnvAlign)
# The shortest signal after the alignment trims it: twice the per-band alignment's search range,
# so that every lag it tries overlaps the signal (Kates' code assumes as much).
MIN_SAMPLES = 2 * _ENV_ALIGN_LAGS


def ear_centre_frequencies_hz(n_bands: int = N_BANDS) -> np.ndarray:
    """Centre frequencies of the model's bands, 80 Hz to 8 kHz equally spaced on the ERB scale.

    Kates (2013), Sec. II; the cochlear map of Glasberg & Moore (1990), as in Slaney's
    ``ERBSpace``. Band 0 is the lowest.

    Examples
    --------
    >>> from audiolab.dsp import ear_centre_frequencies_hz
    >>> cf = ear_centre_frequencies_hz()
    >>> round(float(cf[0]), 1), round(float(cf[-1]), 1), cf.size
    (80.0, 8000.0, 32)
    """
    q = _EAR_Q * _MIN_BW_HZ
    step = (np.log(_F_LOW_HZ + q) - np.log(_F_HIGH_HZ + q)) / (n_bands - 1)
    cf = -q + np.exp(np.arange(1, n_bands) * step) * (_F_HIGH_HZ + q)
    return np.concatenate(([_F_HIGH_HZ], cf))[::-1].copy()


@dataclass(frozen=True)
class HairCellLoss:
    """The model's per-band parameters for one ear (Kates & Arehart 2014, Sec. 2.2)."""

    attn_ohc_db: np.ndarray
    bandwidth_factor: np.ndarray  # the ear's own bandwidth, in multiples of the normal ERB
    low_knee_db_spl: np.ndarray
    compression_ratio: np.ndarray
    attn_ihc_db: np.ndarray


def hair_cell_loss(hearing_loss_db_hl: np.ndarray, cf_hz: np.ndarray) -> HairCellLoss:
    """Split a hearing loss into outer- and inner-hair-cell parts, band by band.

    The loss (interpolated linearly in frequency, held beyond 250 and 6000 Hz) is 80 % outer
    and 20 % inner hair-cell loss, the outer part capped at 1.25 times the compression the band
    has (70 (1 - 1/CR) dB, CR from 1.25 at the lowest band to 3.5 at the highest); the rest goes
    to the inner hair cells. The outer-hair-cell loss widens the band (1 + L/50 + 2 (L/50)^6
    times the ERB), lifts the lower compression knee (30 dB SPL + L) and lowers the ratio.
    Kates & Arehart (2014), Sec. 2.2; Kates (2013), Eq. (2)-(4).
    """
    hl = np.asarray(hearing_loss_db_hl, dtype=np.float64)
    f = np.concatenate(([cf_hz[0]], AUDIOMETRIC_FREQUENCIES_HZ, [cf_hz[-1]]))
    loss = np.maximum(np.interp(cf_hz, f, np.concatenate(([hl[0]], hl, [hl[-1]]))), 0.0)
    n = cf_hz.size
    cr = 1.25 + 2.25 * np.arange(n) / (n - 1)
    max_ohc = 1.25 * 70.0 * (1.0 - 1.0 / cr)
    over = loss >= max_ohc
    attn_ohc = np.where(over, 0.8 * max_ohc, 0.8 * loss)
    attn_ihc = np.where(over, 0.2 * max_ohc + (loss - max_ohc), 0.2 * loss)
    bandwidth = 1.0 + attn_ohc / 50.0 + 2.0 * (attn_ohc / 50.0) ** 6
    low_knee = attn_ohc + 30.0
    upper_output = 30.0 + 70.0 / cr
    ratio = (100.0 - low_knee) / (upper_output + attn_ohc - low_knee)
    return HairCellLoss(attn_ohc, bandwidth, low_knee, ratio, attn_ihc)


def _resample_24k(x: np.ndarray, fs: float) -> np.ndarray:
    """To 24 kHz at the exact ratio, then the RMS restored as Kates' ``eb_Resamp24kHz`` does.

    Up-sampled signals keep their RMS; down-sampled ones the RMS of their band below 21 kHz
    (a 7th-order Chebyshev II at 30 dB, on both sides of the conversion).
    """
    if fs == EAR_MODEL_FS:
        return x
    y = resample(x, fs_in=fs, fs_out=EAR_MODEL_FS)
    if fs < EAR_MODEL_FS:
        return y * (np.sqrt(np.mean(x**2)) / np.sqrt(np.mean(y**2)))
    b, a = cheby2(7, 30, 21000.0 / fs)
    x_band = lfilter(b, a, x)
    b, a = cheby2(7, 30, 21000.0 / EAR_MODEL_FS)
    y_band = lfilter(b, a, y)
    return y * (np.sqrt(np.mean(x_band**2)) / np.sqrt(np.mean(y_band**2)))


def _xcorr_peak_lag(a: np.ndarray, b: np.ndarray) -> int:
    """The lag k maximising ``|sum_n a[n + k] b[n]|`` over every lag (the first if tied).

    By FFT in float32, the lags within a margin far above its rounding (1e-5 of the product of
    the norms) of the peak then evaluated in float64: the float64 arg-max at half the cost.
    """
    from scipy import fft

    n = a.size
    n_fft = _fast_len(2 * n - 1)
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    c = fft.irfft(fft.rfft(a32, n_fft) * np.conj(fft.rfft(b32, n_fft)), n_fft)
    full = np.abs(np.concatenate((c[n_fft - (n - 1):], c[:n])))  # lags -(n-1) .. n-1
    margin = 1e-5 * np.sqrt(float(np.dot(a, a)) * float(np.dot(b, b)))
    candidates = np.flatnonzero(full >= full.max() - margin) - (n - 1)
    if candidates.size > 64:  # a periodic pair: many near-equal peaks, decide in float64
        c64 = np.fft.irfft(np.fft.rfft(a, n_fft) * np.conj(np.fft.rfft(b, n_fft)), n_fft)
        full64 = np.concatenate((c64[n_fft - (n - 1):], c64[:n]))
        return int(np.argmax(np.abs(full64))) - (n - 1)
    values = [abs(float(np.dot(a[k:], b[: n - k]) if k >= 0 else np.dot(a[: n + k], b[-k:])))
              for k in candidates]
    return int(candidates[int(np.argmax(values))])


def _fast_len(n: int) -> int:
    from scipy.fft import next_fast_len

    return int(next_fast_len(n, real=True))


def _input_align(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Broadband alignment and trimming (Kates' ``eb_InputAlign``).

    Delay ``y`` to ``x`` by the broadband cross-correlation peak less 2 ms, then keep the
    stretch where ``x`` exceeds 0.001 of its peak (Kates' ``eb_InputAlign``).
    """
    n = min(x.size, y.size)
    x, y = x[:n], y[:n]
    lag = _xcorr_peak_lag(x - x.mean(), y - y.mean())  # y lags x by -lag samples
    delay = int(np.rint(-lag - 2 * EAR_MODEL_FS / 1000.0))
    y = _shift(y, delay)
    above = np.flatnonzero(np.abs(x) > 0.001 * np.max(np.abs(x)))
    return x[above[0]: above[-1] + 1], y[above[0]: above[-1] + 1]


def _shift(y: np.ndarray, delay: int) -> np.ndarray:
    """``y`` advanced by ``delay`` samples (delayed if negative), zero-filled, same length."""
    out = np.zeros_like(y)
    if delay >= 0:
        out[..., : y.shape[-1] - delay] = y[..., delay:]
    else:
        out[..., -delay:] = y[..., : y.shape[-1] + delay]
    return out


def nal_r_fir(hearing_loss_db_hl: np.ndarray, fs: float = EAR_MODEL_FS) -> np.ndarray:
    """The NAL-R equaliser HASQI v2 puts on the reference: a 141-tap linear-phase FIR.

    Gains at 250-6000 Hz: ``X + 0.31 H + k`` with ``k = -17, -8, 1, -1, -2, -2`` dB and
    ``X = 0.05 (H500 + H1000 + H2000)``, or ``9 + 0.116 (H500 + H1000 + H2000 - 180)`` above
    180 dB (Byrne & Dillon 1986; the profound-loss slope of Byrne, Parkinson & Newall 1990),
    clipped at 0 dB and held to 0 Hz and Nyquist. The FIR is MATLAB ``fir2``'s
    frequency-sampling design (512-point grid, Hamming window), as in Kates' ``eb_NALR``. A pure
    delay of 70 samples for a normal ear.
    """
    hl = np.asarray(hearing_loss_db_hl, dtype=np.float64)
    n = _NAL_R_TAPS - 1
    if np.max(hl) <= 0:
        h = np.zeros(n + 1)
        h[n // 2] = 1.0
        return h
    critical = hl[1] + hl[2] + hl[3]
    x_ave = 0.05 * critical if critical <= 180 else 9.0 + 0.116 * (critical - 180)
    gain_db = np.maximum(x_ave + 0.31 * hl + np.array([-17.0, -8, 1, -1, -2, -2]), 0.0)
    f_nyq = 0.5 * fs
    grid = np.linspace(0.0, n, n + 1) / n
    gain_db = np.interp(f_nyq * grid, np.concatenate(([0.0], AUDIOMETRIC_FREQUENCIES_HZ, [f_nyq])),
                        np.concatenate(([gain_db[0]], gain_db, [gain_db[-1]])))
    return _fir2(n, grid, 10.0 ** (gain_db / 20.0))


def _fir2(order: int, f: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """MATLAB's ``fir2`` for distinct frequencies from 0 to 1.

    MATLAB ``fir2`` (frequency sampling on 513 points, Hamming window) for distinct ``f``
    from 0 to 1; each segment of the grid is filled by its own linear ramp, as MATLAB does.
    """
    n_taps = order + 1
    n_grid = 513
    h = np.zeros(n_grid)
    h[0] = gain[0]
    nb = 0
    for i in range(f.size - 1):
        ne = int(np.fix(f[i + 1] * n_grid)) - 1
        j = np.arange(nb, ne + 1)
        inc = 0.0 if nb == ne else (j - nb) / (ne - nb)
        h[nb: ne + 1] = inc * gain[i + 1] + (1 - inc) * gain[i]
        nb = ne + 1
    half = 0.5 * (n_taps - 1)
    spectrum = h * np.exp(-half * 1j * np.pi * np.arange(n_grid) / (n_grid - 1))
    spectrum = np.concatenate((spectrum, spectrum[n_grid - 2: 0: -1].conj()))
    return np.real(np.fft.ifft(spectrum))[:n_taps] * np.hamming(n_taps)


def _middle_ear(x: np.ndarray) -> np.ndarray:
    """Kates' middle ear: 1st-order low-pass at 5 kHz, 2nd-order high-pass at 350 Hz."""
    (b_lp, a_lp), (b_hp, a_hp) = _middle_ear_filters()
    return lfilter(b_hp, a_hp, lfilter(b_lp, a_lp, x))


@lru_cache(maxsize=1)
def _middle_ear_filters() -> tuple[tuple[np.ndarray, ...], ...]:
    # Designed once: the designs cost as much as filtering a second of signal.
    return (_frozen(butter(1, 5000.0 / (0.5 * EAR_MODEL_FS))),
            _frozen(butter(2, 350.0 / (0.5 * EAR_MODEL_FS), "high")))


def _frozen(arrays: Any) -> tuple[np.ndarray, ...]:
    """The arrays made read-only, as cached designs shared by every call must be."""
    out = tuple(np.asarray(a, dtype=np.float64) for a in arrays)
    for a in out:
        a.setflags(write=False)
    return out


def _gammatone_coefficients(cf_hz: np.ndarray, bandwidth_factor: np.ndarray) -> tuple:
    """Pole radius and gain of Kates' 4th-order gammatone.

    Pole radius and gain of Kates' 4th-order gammatone for ERB multiple ``bandwidth_factor``
    (Kates 2013, Eq. (1); the 1.019 of Patterson's ERB-to-bandwidth ratio).
    """
    erb = _MIN_BW_HZ + cf_hz / _EAR_Q
    a = np.exp(-bandwidth_factor * (2 * np.pi / EAR_MODEL_FS) * erb * 1.019)
    a1, a2, a3, a4, a5 = 4.0 * a, -6.0 * a * a, 4.0 * a**3, -(a**4), 4.0 * a * a
    gain = 2.0 * (1 - a1 - a2 - a3 - a4) / (1 + a1 + a5)
    return a, gain


def gammatone_reference(
    x: np.ndarray, *, cf_hz: float, bandwidth_factor: float
) -> tuple[np.ndarray, np.ndarray]:
    """One gammatone band of ``x`` (24 kHz): ``(envelope, basilar-membrane signal)``, NumPy.

    The signal is shifted down by ``cf_hz`` (multiplied by cos and -sin), both parts low-pass
    filtered by ``(1 + 4a z^-1 + 4a^2 z^-2) / (1 - a z^-1)^4`` and shifted back. The C kernel
    ``al_ear_gammatone`` computes the same; this is its reference.
    """
    a, gain = _gammatone_coefficients(np.array([cf_hz]), np.array([bandwidth_factor]))
    a, gain = float(a[0]), float(gain[0])
    b = [1.0, 4.0 * a, 4.0 * a * a]
    den = [1.0, -4.0 * a, 6.0 * a * a, -4.0 * a**3, a**4]
    phase = (2 * np.pi / EAR_MODEL_FS) * cf_hz * np.arange(x.size)
    cos, sin = np.cos(phase), -np.sin(phase)
    u_re = lfilter(b, den, x * cos)
    u_im = lfilter(b, den, x * sin)
    return gain * np.sqrt(u_re * u_re + u_im * u_im), gain * (u_re * cos + u_im * sin)


def compress_reference(
    env: np.ndarray, bm: np.ndarray, control: np.ndarray, *, attn_ohc_db: float,
    low_knee_db_spl: float, compression_ratio: float, level_db_spl: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Outer-hair-cell compression of one band (Kates 2013, Eq. (5)), NumPy reference.

    The control envelope's level (dB SPL, clamped to [low knee, 100]) sets a gain of
    ``-attn_ohc - (L - knee)(1 - 1/CR)`` dB, smoothed by an 800 Hz 1st-order low-pass and applied
    to the band's envelope and basilar-membrane signal.
    """
    level = level_db_spl + 20 * np.log10(np.maximum(control, _SMALL))
    level = np.maximum(np.minimum(level, _UPPER_KNEE_DB_SPL), low_knee_db_spl)
    gain_db = -attn_ohc_db - (level - low_knee_db_spl) * (1 - 1 / compression_ratio)
    b, a = butter(1, 800.0 / (0.5 * EAR_MODEL_FS))
    gain = lfilter(b, a, 10 ** (gain_db / 20))
    return gain * env, gain * bm


@lru_cache(maxsize=1)
def _ihc_adaptation_filter() -> tuple[np.ndarray, np.ndarray]:
    """Kates' inner-hair-cell adaptation as a 2nd-order IIR filter.

    Transfer function from the dB input to the adapted output of Kates' rapid (2 ms) and
    short-term (60 ms) adaptation circuit with an overshoot of 2 (``eb_IHCadapt``; Kates 2013,
    Sec. II-E), discretised by backward Euler at 24 kHz. The circuit is linear in its input, so
    it is a 2nd-order IIR filter: ``out = (v0 - v1) / r1`` of the state-space recursion.
    """
    delta = 2.0
    tau1, tau2 = 0.002, 0.060
    r1 = 1 / delta
    r2 = r3 = 0.5 * (1 - r1)
    c1 = tau1 * (r1 + r2) / (r1 * r2)
    c2 = tau2 / ((r1 + r2) * r3)
    p1 = r1 * r2 * c1 * EAR_MODEL_FS
    p2 = r2 * r3 * c2 * EAR_MODEL_FS
    a11, a12, a21, a22 = r1 + r2 + p1, -r1, -r3, r2 + r3 + p2
    inv = np.linalg.inv(np.array([[a11, a12], [a21, a22]]))
    # state s = (v1, v2): s[n] = inv @ (diag(p1, p2) s[n-1] + (r2, 0) v0[n]); y = (v0 - v1) / r1
    a_mat = inv @ np.diag([p1, p2])
    b_vec = inv @ np.array([[r2], [0.0]])
    c_row = np.array([[-1.0 / r1, 0.0]]) @ a_mat
    d = np.array([[(1.0 - (inv @ np.array([r2, 0.0]))[0]) / r1]])
    num, den = ss2tf(a_mat, b_vec, c_row, d)
    frozen_num, frozen_den = _frozen((num[0], den))
    return frozen_num, frozen_den


def ihc_reference(
    env: np.ndarray, bm: np.ndarray, *, attn_ihc_db: float, level_db_spl: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Inner hair cell of one band, NumPy reference.

    Inner hair cell of one band, NumPy reference: the envelope in dB above threshold
    (``level - attn_ihc + 20 log10 env``, >= 0; ``eb_EnvSL``), then the adaptation (>= 0;
    ``eb_IHCadapt``); the basilar-membrane signal follows both gains.
    """
    db = np.maximum(level_db_spl - attn_ihc_db + 20 * np.log10(env + _SMALL), 0.0)
    bm = bm * ((db + _SMALL) / (env + _SMALL))
    num, den = _ihc_adaptation_filter()
    out = np.maximum(lfilter(num, den, db), 0.0)
    return out, bm * ((out + _SMALL) / (db + _SMALL))


def _bandwidth_factor(control_rms: float, own: float, widest: float, level_db_spl: float) -> float:
    """The band's bandwidth factor from its control level.

    The band's bandwidth from its control level: the ear's own up to 50 dB SPL, the widest
    above 100 dB SPL, linear in dB between (Kates 2013, Sec. II-C; ``eb_BWadjust``).
    """
    with np.errstate(divide="ignore"):
        level = 20 * np.log10(control_rms) + level_db_spl
    if level < 50:
        return own
    if level > 100:
        return widest
    return own + (level - 50) / 50 * (widest - own)


def _group_delay_shifts(bandwidth_factor: np.ndarray, cf_hz: np.ndarray) -> np.ndarray:
    """Samples by which each band is delayed so that all bands share the largest group delay.

    The delay of each gammatone is its group delay at 0 Hz (``sum k c_k / sum c_k`` of numerator
    less that of denominator), rounded (Kates' ``eb_GroupDelayComp``).
    """
    a, _ = _gammatone_coefficients(cf_hz, bandwidth_factor)
    num = np.stack([np.ones_like(a), 4 * a, 4 * a * a])
    den = np.stack([np.ones_like(a), -4 * a, 6 * a * a, -4 * a**3, a**4])
    k_num, k_den = np.arange(3)[:, None], np.arange(5)[:, None]
    delay = (k_num * num).sum(0) / num.sum(0) - (k_den * den).sum(0) / den.sum(0)
    delay = np.rint(delay).astype(int)
    return delay.max() - delay


def _delay_bands(bands: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Band ``k`` delayed by ``shifts[k]`` samples, zero-filled, in place."""
    n = bands.shape[1]
    for k, s in enumerate(shifts):
        if s > 0:
            bands[k, s:] = bands[k, : n - s]
            bands[k, :s] = 0.0
    return bands


def _average_sl_db(
    env_rms: np.ndarray, control_rms: np.ndarray, loss: HairCellLoss, level_db_spl: float
) -> np.ndarray:
    """Each band's average level in dB SL (Kates' ``eb_aveSL``).

    Each band's average level in dB SL from its RMS envelope, with the compression gain its
    control RMS sets (``eb_aveSL``).
    """
    control_db = level_db_spl + 20 * np.log10(np.maximum(control_rms, _SMALL))
    control_db = np.maximum(np.minimum(control_db, _UPPER_KNEE_DB_SPL), loss.low_knee_db_spl)
    gain_db = -loss.attn_ohc_db - (control_db - loss.low_knee_db_spl) * (
        1 - 1 / loss.compression_ratio)
    env_db = np.maximum(level_db_spl + 20 * np.log10(np.maximum(env_rms, _SMALL)), 0.0)
    return np.maximum(env_db + gain_db - loss.attn_ihc_db, 0.0)


@dataclass(frozen=True)
class EarModelOutput:
    """What the ear model gives the metrics: per band (rows, lowest first) at 24 kHz.

    ``*_db`` are the envelopes in dB above threshold after adaptation, ``*_bm`` the
    basilar-membrane signals scaled alike (with the internal noise; None when not asked for),
    ``*_sl_db`` each band's average level in dB SL.
    """

    reference_db: np.ndarray
    processed_db: np.ndarray
    reference_bm: np.ndarray | None
    processed_bm: np.ndarray | None
    reference_sl_db: np.ndarray
    processed_sl_db: np.ndarray


def _prepare(
    reference: np.ndarray, processed: np.ndarray, fs: float, equaliser: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Resampled, aligned, (for HASQI) equalised and middle-ear filtered signals."""
    x = _resample_24k(reference, fs)
    y = _resample_24k(processed, fs)
    x, y = _input_align(x, y)
    if x.size < MIN_SAMPLES:
        raise SignalError(
            f"the reference has {x.size / EAR_MODEL_FS * 1000:.0f} ms above its silence "
            f"threshold; the ear model needs at least {MIN_SAMPLES / EAR_MODEL_FS * 1000:.0f} ms"
        )
    if equaliser is not None:
        n = equaliser.size - 1
        x = np.convolve(x, equaliser)[n: n + x.size]
    return _middle_ear(x), _middle_ear(y)


def _xcorr_lags(
    a: np.ndarray, b: np.ndarray, max_lag: int, *, dtype: type | None = None,
    sum_sq: np.ndarray | None = None,
) -> np.ndarray:
    """``c[:, L + max_lag] = sum_n a[:, n + L] b[:, n]`` for ``|L| <= max_lag``, row by row.

    Overlap-save in blocks: ``b`` is cut into blocks of ``n_fft - 2 max_lag`` samples, each
    block's circular correlation (``n_fft`` points) with the part of ``a`` it can meet has no
    wrap-around at these lags, and the blocks' cross-spectra are summed before a single inverse
    FFT per row. Short FFTs stay in cache and cost less per sample than one of the whole signal.
    Computed in ``dtype`` (default ``a``'s: float32 or float64). ``sum_sq``, when given
    (``(2, rows)``), receives the rows' sums of squares of ``a`` and ``b`` in ``dtype``, taken
    from the converted copies while they are in cache.
    """
    from scipy import fft

    dtype = a.dtype.type if dtype is None else dtype
    rows, n = a.shape
    m = max_lag
    # At most 32768 points: four float32 transforms of 65536 at once (pocketfft's vector width)
    # overflow a 2 MB L2 cache and cost half as much again per point (measured), more than the
    # blocks' overlap saves.
    n_fft = min(1 << int(16 * m).bit_length(), 32768, _fast_len(n + 2 * m))
    blk = n_fft - 2 * m
    n_blocks = -(-n // blk)
    full = n // blk
    out: np.ndarray = np.empty((rows, 2 * m + 1), dtype=dtype)
    # A few rows at a time: the buffers stay small and are reused (converted on the copy). The
    # blocks of b are stored zero-padded to n_fft, so that the FFT needs no padded copy.
    q_max = min(rows, 4)
    a_pad = np.zeros((q_max, n_blocks * blk + 2 * m), dtype=dtype)
    b_pad = np.zeros((q_max, n_blocks, n_fft), dtype=dtype)
    for r in range(0, rows, q_max):
        q = min(q_max, rows - r)
        a_pad[:q, m: m + n] = a[r: r + q]
        b_pad[:q, :full, :blk] = b[r: r + q, : full * blk].reshape(q, full, blk)
        if full < n_blocks:  # the last block, partial: its tail stays zero
            b_pad[:q, full, : n - full * blk] = b[r: r + q, full * blk:]
        if sum_sq is not None:
            for i in range(q):
                sum_sq[0, r + i] = np.dot(a_pad[i], a_pad[i])
                sum_sq[1, r + i] = np.dot(b_pad[i].ravel(), b_pad[i].ravel())
        segments = np.lib.stride_tricks.sliding_window_view(
            a_pad[:q], n_fft, axis=1)[:, ::blk]  # (q, n_blocks, n_fft), no copy
        spectra = fft.rfft(segments, axis=2)
        b_spectra = fft.rfft(b_pad[:q], axis=2)
        spectra *= np.conjugate(b_spectra, out=b_spectra)
        # Circular lag k is a's segment start + k against the block: lag k - m.
        out[r: r + q] = fft.irfft(spectra.sum(axis=1), n_fft)[:, : 2 * m + 1]
    return out


def _band_lags(reference: np.ndarray, processed: np.ndarray) -> np.ndarray:
    """Each band's alignment lag (Kates' ``eb_EnvAlign``), where ``processed`` best meets it.

    Per row, the lag L in -99.96 ms .. +100 ms maximising ``sum_n reference[n + L] processed[n]``
    (the first of the largest). The correlation is computed in float32 (half the time of
    float64); the lags it puts within a margin of its peak far above float32's rounding (1e-5 of
    the product of the norms) are evaluated again in float64, as ``argmax`` of a float64
    correlation would decide.
    """
    m = _ENV_ALIGN_LAGS
    n = processed.shape[1]
    sum_sq = np.empty((2, reference.shape[0]))
    c = _xcorr_lags(reference, processed, m, dtype=np.float32, sum_sq=sum_sq)[:, 1:]
    # The norms in float32 too: the margin needs them to a few digits only.
    margins = 1e-5 * np.sqrt(sum_sq[0] * sum_sq[1])
    lags = np.empty(reference.shape[0], dtype=int)
    for k, margin in enumerate(margins):
        candidates = np.flatnonzero(c[k] >= c[k].max() - margin) - m + 1
        if candidates.size == 1:  # the float64 peak is within the margin: it is this lag
            lags[k] = candidates[0]
            continue
        best = -np.inf
        for lag in candidates:
            # sum_i reference[i + lag] processed[i], lags -m+1 .. m
            v = (np.dot(reference[k, lag:], processed[k, : n - lag]) if lag >= 0 else
                 np.dot(reference[k, : n + lag], processed[k, -lag:]))
            if v > best:
                best, lags[k] = v, lag
    return lags


def _align_bands(reference: np.ndarray, processed: np.ndarray) -> np.ndarray:
    """Each band of ``processed`` shifted to its :func:`_band_lags` lag, zero-filled, in place."""
    n = processed.shape[1]
    for k, lag in enumerate(_band_lags(reference, processed)):
        d = -int(lag)  # in place: NumPy copies overlapping slices safely
        if d > 0:
            processed[k, : n - d] = processed[k, d:]
            processed[k, n - d:] = 0.0
        elif d < 0:
            processed[k, -d:] = processed[k, : n + d]
            processed[k, : -d] = 0.0
    return processed


@dataclass
class _Bands:
    env: np.ndarray  # (bands, n): compressed envelopes
    bm: np.ndarray | None  # (bands, n): compressed basilar-membrane signals
    bandwidth_factor: np.ndarray
    env_rms: np.ndarray  # RMS of the uncompressed envelopes
    control_rms: np.ndarray


@dataclass
class _Ears:
    """Both signals through the cochlea (:func:`_cochleae`), before the inner hair cells."""

    x: _Bands
    y: _Bands
    reference_loss: HairCellLoss
    loss: HairCellLoss
    shifts: np.ndarray  # group-delay compensation (:func:`_group_delay_shifts`)


def _cochleae(
    reference: np.ndarray, processed: np.ndarray, *, fs: float, hearing_loss_db_hl: np.ndarray,
    reference_impaired: bool, equalise_reference: bool, level_db_spl: float, with_bm: bool,
) -> _Ears:
    cf = ear_centre_frequencies_hz()
    impaired = hair_cell_loss(hearing_loss_db_hl, cf)
    ref_loss = impaired if reference_impaired else hair_cell_loss(np.zeros(6), cf)
    eq = nal_r_fir(hearing_loss_db_hl) if equalise_reference else None
    x, y = _prepare(reference, processed, fs, eq)
    bands_x = _cochlea(x, cf, ref_loss, level_db_spl, with_bm)
    bands_y = _cochlea(y, cf, impaired, level_db_spl, with_bm)
    return _Ears(bands_x, bands_y, ref_loss, impaired,
                 _group_delay_shifts(bands_x.bandwidth_factor, cf))


def ear_model(
    reference: np.ndarray,
    processed: np.ndarray,
    *,
    fs: float,
    hearing_loss_db_hl: np.ndarray,
    reference_impaired: bool,
    equalise_reference: bool,
    level_db_spl: float,
    rng: np.random.Generator | np.random.RandomState,
    basilar_membrane: bool,
    pyclarity_stream: bool = False,
) -> EarModelOutput:
    """Run both signals through Kates' ear model (module docstring).

    Parameters
    ----------
    reference, processed : numpy.ndarray
        1-D float64 signals at ``fs``; an RMS of 1 is ``level_db_spl``.
    fs : float
        Their sample rate in Hz.
    hearing_loss_db_hl : numpy.ndarray
        Loss of the listener's ear at :data:`AUDIOMETRIC_FREQUENCIES_HZ` (6 values, dB HL); the
        processed signal always passes this ear.
    reference_impaired : bool
        The reference passes the same ear (HASQI) rather than a normal one (HASPI).
    equalise_reference : bool
        Put :func:`nal_r_fir` for the loss on the reference first (HASQI's equalisation 1).
    level_db_spl : float
        dB SPL of a signal of RMS 1.
    rng : numpy.random.Generator or numpy.random.RandomState
        Source of the internal noise of the basilar-membrane signals.
    basilar_membrane : bool
        Also return the basilar-membrane signals (HASQI needs them, HASPI does not).
    pyclarity_stream : bool
        Draw the basilar-membrane noise even when not returning them, as pyclarity does, so that
        a ``RandomState`` seeded like NumPy's global generator gives pyclarity's deviates.

    Returns
    -------
    EarModelOutput
    """
    ears = _cochleae(reference, processed, fs=fs, hearing_loss_db_hl=hearing_loss_db_hl,
                     reference_impaired=reference_impaired,
                     equalise_reference=equalise_reference, level_db_spl=level_db_spl,
                     with_bm=basilar_membrane)
    bands_x, bands_y, shifts = ears.x, ears.y, ears.shifts
    env_y = _align_bands(bands_x.env, bands_y.env)
    bm_y = None
    if bands_x.bm is not None and bands_y.bm is not None:
        bm_y = _align_bands(bands_x.bm, bands_y.bm)
    _inner_hair_cells(bands_x.env, bands_x.bm, ears.reference_loss, level_db_spl)
    _inner_hair_cells(env_y, bm_y, ears.loss, level_db_spl)
    bm = {}
    n = env_y.shape[1]
    for side, sig in (("x", bands_x.bm), ("y", bm_y)):
        if basilar_membrane or pyclarity_stream:
            noise = rng.standard_normal((N_BANDS, n))
            if sig is not None:
                bm[side] = _delay_bands(sig + noise * 10 ** (
                    (_IHC_THRESHOLD_DB - level_db_spl) / 20), shifts)
    return EarModelOutput(
        reference_db=_delay_bands(bands_x.env, shifts),
        processed_db=_delay_bands(env_y, shifts),
        reference_bm=bm.get("x"), processed_bm=bm.get("y"),
        reference_sl_db=_average_sl_db(bands_x.env_rms, bands_x.control_rms,
                                       ears.reference_loss, level_db_spl),
        processed_sl_db=_average_sl_db(bands_y.env_rms, bands_y.control_rms, ears.loss,
                                       level_db_spl),
    )


def lowpassed_envelopes(
    reference: np.ndarray,
    processed: np.ndarray,
    *,
    fs: float,
    hearing_loss_db_hl: np.ndarray,
    level_db_spl: float,
    rng: np.random.Generator | np.random.RandomState,
    taps: np.ndarray,
    step: int,
    pyclarity_stream: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """HASPI's ear: the dB envelopes of :func:`ear_model` low-passed and kept every ``step``.

    The reference passes a normal ear, the processed signal the listener's, without
    equalisation. Returns ``(reference, processed)``, each ``(bands, ceil(n / step))``: row ``k``
    is ``sum_j taps[j] env[k][step m + len(taps) // 2 - j]`` of :func:`ear_model`'s
    ``reference_db`` / ``processed_db`` (zero outside the signal), the centred part of the full
    convolution. The inner hair cells, the alignment and group-delay shifts and the FIR are one
    C pass (``al_ear_ihc_lowpass``) that evaluates the FIR at the kept samples only and never
    stores the full-rate levels. Parameters as for :func:`ear_model`.
    """
    ears = _cochleae(reference, processed, fs=fs, hearing_loss_db_hl=hearing_loss_db_hl,
                     reference_impaired=False, equalise_reference=False,
                     level_db_spl=level_db_spl, with_bm=False)
    n = ears.x.env.shape[1]
    lags = _band_lags(ears.x.env, ears.y.env)
    if pyclarity_stream:  # pyclarity's basilar-membrane noise, drawn and not used
        rng.standard_normal((N_BANDS, n))
        rng.standard_normal((N_BANDS, n))
    taps = np.ascontiguousarray(taps, dtype=np.float64)
    delay = np.ascontiguousarray(ears.shifts, dtype=np.int32)
    out = []
    for bands, advance, loss in ((ears.x, np.zeros(N_BANDS), ears.reference_loss),
                                 (ears.y, -lags, ears.loss)):
        out.append(_ihc_lowpass(bands.env, np.ascontiguousarray(advance, dtype=np.int32), delay,
                                loss, level_db_spl, taps, step))
    return out[0], out[1]


def _cochlea(
    x: np.ndarray, cf: np.ndarray, loss: HairCellLoss, level_db_spl: float, with_bm: bool
) -> _Bands:
    """Gammatone bands and outer-hair-cell compression of one signal.

    Two C passes over all bands: the control filters alone (their RMS sets each band's
    bandwidth), then control and band filters together with the compression.
    """
    widest = hair_cell_loss(np.full(6, 100.0), cf).bandwidth_factor
    control_rms = np.sqrt(gammatone_bank(x, cf, widest, None, None) / x.size)
    bw = np.array([_bandwidth_factor(float(c), float(own), float(w), level_db_spl)
                   for c, own, w in zip(control_rms, loss.bandwidth_factor, widest, strict=True)])
    out = _Bands(np.empty((N_BANDS, x.size)), np.empty((N_BANDS, x.size)) if with_bm else None,
                 bw, np.zeros(N_BANDS), control_rms)
    a_ctl, g_ctl = _gammatone_coefficients(cf, widest)
    a, g = _gammatone_coefficients(cf, bw)
    lp_b, lp_a = _gain_smoother()
    per_band = [np.ascontiguousarray(v, dtype=np.float64) for v in (
        cf, a_ctl, g_ctl, a, g)]
    per_loss = [np.ascontiguousarray(v, dtype=np.float64) for v in (
        loss.attn_ohc_db, loss.low_knee_db_spl, 1 - 1 / loss.compression_ratio)]
    sum_sq = np.zeros(N_BANDS)
    check(lib.al_ear_cochlea_bank(
        double_buffer(x, "x", writable=False), x.size, N_BANDS,
        *(double_buffer(v, "band parameter", writable=False) for v in per_band),
        float(EAR_MODEL_FS), float(level_db_spl),
        *(double_buffer(v, "loss parameter", writable=False) for v in per_loss),
        float(lp_b[0]), float(lp_a[1]), double_buffer(out.env, "env"), _optional(out.bm, "bm"),
        double_buffer(sum_sq, "sum_sq")), "al_ear_cochlea_bank")
    out.env_rms[:] = np.sqrt(sum_sq / x.size)
    return out


@lru_cache(maxsize=1)
def _gain_smoother() -> tuple[np.ndarray, ...]:
    """The compression gain's 800 Hz 1st-order low-pass (Kates 2013, Sec. II-D), designed once."""
    return _frozen(butter(1, 800.0 / (0.5 * EAR_MODEL_FS)))


def _optional(a: np.ndarray | None, name: str) -> Any:
    return ffi.NULL if a is None else double_buffer(a, name)


def gammatone_bank(
    x: np.ndarray, cf_hz: np.ndarray, bandwidth_factor: np.ndarray, env: np.ndarray | None,
    bm: np.ndarray | None,
) -> np.ndarray:
    """All bands of :func:`gammatone_reference` at once into ``env`` (and ``bm``), C kernel.

    ``x`` is 1-D float64 at 24 kHz; ``env`` and ``bm`` are ``(len(cf_hz), len(x))`` float64
    C-contiguous outputs (either may be None). Returns each band's sum of squared envelope.
    """
    sum_sq = np.zeros(len(cf_hz))
    a, gain = _gammatone_coefficients(np.asarray(cf_hz, np.float64),
                                      np.asarray(bandwidth_factor, np.float64))
    keep = [np.ascontiguousarray(v, dtype=np.float64) for v in (cf_hz, a, gain)]
    check(lib.al_ear_gammatone_bank(
        double_buffer(np.ascontiguousarray(x, dtype=np.float64), "x", writable=False), x.size,
        len(keep[0]), *(double_buffer(v, "band parameter", writable=False) for v in keep),
        float(EAR_MODEL_FS), _optional(env, "env"), _optional(bm, "bm"),
        double_buffer(sum_sq, "sum_sq")), "al_ear_gammatone_bank")
    return sum_sq


def _ihc_lowpass(
    env: np.ndarray, advance: np.ndarray, delay: np.ndarray, loss: HairCellLoss,
    level_db_spl: float, taps: np.ndarray, step: int,
) -> np.ndarray:
    """``al_ear_ihc_lowpass`` of all bands (see :func:`lowpassed_envelopes`)."""
    num, den = _ihc_adaptation_filter()
    offset = np.ascontiguousarray(level_db_spl - loss.attn_ihc_db, dtype=np.float64)
    n = env.shape[1]
    out = np.empty((env.shape[0], -(-n // step)))
    check(lib.al_ear_ihc_lowpass(
        double_buffer(env, "env", writable=False), env.shape[0], n,
        int_buffer(advance, "advance", writable=False), int_buffer(delay, "delay", writable=False),
        double_buffer(offset, "offset", writable=False),
        double_buffer(np.ascontiguousarray(num), "num", writable=False),
        double_buffer(np.ascontiguousarray(den), "den", writable=False),
        double_buffer(taps, "taps", writable=False), taps.size, step, taps.size // 2,
        double_buffer(out, "out"), out.shape[1]), "al_ear_ihc_lowpass")
    return out


def _inner_hair_cells(
    env: np.ndarray, bm: np.ndarray | None, loss: HairCellLoss, level_db_spl: float
) -> None:
    """DB above threshold and adaptation of every band, in place (C kernel)."""
    num, den = _ihc_adaptation_filter()
    offset = np.ascontiguousarray(level_db_spl - loss.attn_ihc_db, dtype=np.float64)
    check(lib.al_ear_ihc_bank(
        double_buffer(env, "env"), _optional(bm, "bm"), env.shape[0], env.shape[1],
        double_buffer(offset, "offset", writable=False),
        double_buffer(np.ascontiguousarray(num), "num", writable=False),
        double_buffer(np.ascontiguousarray(den), "den", writable=False)), "al_ear_ihc_bank")
