"""Speech Intelligibility Index, ANSI S3.5-1997 (R2017), and the standard speech spectrum.

Octave (6 bands), one-third-octave (18) and critical-band (21) procedures with the standard's
average-speech band-importance functions, reference internal noise, self-speech masking, upward
spread of masking and level distortion factor (Section 4, Tables 1, 3 and 4). The tables ship in
``audiolab/data/ansi_s3_5_1997_sii.json`` with their source.

Choices where implementations differ, all following the standard's text:

- octave procedure: the equivalent masking spectrum is the equivalent noise spectrum,
  Z_i = N'_i (no self-speech masking or spread of masking), as in the ANSI reference program;
- critical-band procedure: Eq. (6) C_i = -80 + 0.6 [B_i + 10 log10(h_i - l_i)] and Eq. (8)
  Z_i = 10 log10[10^(0.1 N'_i) + sum_{k<i} 10^(0.1 [B_k + 3.32 C_k log10(F_i / h_k)])] with
  the tabulated centre F_i and upper band limit h_k. mosqito 1.2.1 instead sums over k < i - 1
  and uses log10(F_i / F_k); the ANSI C program uses sqrt(l_i h_i) for F_i.
"""

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import scipy.signal
from numpy.typing import ArrayLike

from audiolab._errors import ConfigError
from audiolab._validate import as_mono, check_choice, check_real
from audiolab.audiology._audiogram import EarAudiogram
from audiolab.calibration import P_REF_PA
from audiolab.dsp._units import db_to_power, power_to_db

__all__ = [
    "NO_NOISE_SPECTRUM_LEVEL_DB_SPL",
    "SII_PROCEDURES",
    "VOCAL_EFFORTS",
    "SIIBands",
    "band_spectrum_levels_db_spl",
    "sii_bands",
    "sii_from_signals",
    "speech_band_levels_db_spl",
    "speech_intelligibility_index",
    "standard_speech_spectrum_level_db_spl",
]

SII_PROCEDURES: tuple[str, ...] = ("octave", "one-third-octave", "critical-band")
VOCAL_EFFORTS: tuple[str, ...] = ("normal", "raised", "loud", "shout")

NO_NOISE_SPECTRUM_LEVEL_DB_SPL = -50.0
"""Equivalent noise spectrum level standing for "no noise" (ANSI S3.5-1997 Section 4.2, note)."""

_SELF_SPEECH_MASKING_DB = 24.0  # Eq. (5): V_i = E'_i - 24
_THIRD_OCTAVE_LOG_BW_DB = 6.353  # -10 log10(0.2316): a 1/3-octave band is 0.2316 F wide, Eq. (7)


@dataclass(frozen=True, eq=False)
class SIIBands:
    """The bands of one SII procedure and the standard's per-band constants.

    Attributes
    ----------
    procedure : str
        "octave", "one-third-octave" or "critical-band".
    centre_frequencies_hz, lower_edges_hz, upper_edges_hz, bandwidths_hz : numpy.ndarray
        Band centres and limits in Hz (the one-third-octave limits are those of IEC 61260-1
        base-10 bands around the exact mid-band frequency), and upper - lower.
    band_importance : numpy.ndarray
        Average-speech band-importance function I_i (sums to 1).
    internal_noise_spectrum_level_db : numpy.ndarray
        Reference internal noise spectrum level X_i in dB.
    speech_spectrum_level_db_spl : dict[str, numpy.ndarray]
        Standard speech spectrum level U_i (dB SPL per Hz) for each vocal effort.
    """

    procedure: str
    centre_frequencies_hz: np.ndarray
    lower_edges_hz: np.ndarray
    upper_edges_hz: np.ndarray
    bandwidths_hz: np.ndarray
    band_importance: np.ndarray
    internal_noise_spectrum_level_db: np.ndarray
    speech_spectrum_level_db_spl: dict[str, np.ndarray]

    @property
    def n_bands(self) -> int:
        """Number of bands of the procedure."""
        return int(self.centre_frequencies_hz.size)


def _read_only(values: Any) -> np.ndarray:
    a = np.array(values, dtype=np.float64)
    a.flags.writeable = False
    return a


@cache
def _tables() -> dict[str, Any]:
    text = (
        resources.files("audiolab")
        .joinpath("data/ansi_s3_5_1997_sii.json")
        .read_text(encoding="utf-8")
    )
    return dict(json.loads(text))


@cache
def sii_bands(procedure: str) -> SIIBands:
    """The bands and tables (ANSI S3.5-1997 Tables 1, 3, 4) of an SII procedure.

    Parameters
    ----------
    procedure : {"octave", "one-third-octave", "critical-band"}

    Returns
    -------
    SIIBands
    """
    check_choice("procedure", procedure, SII_PROCEDURES)
    t = _tables()["procedures"][procedure]
    centres = _read_only(t["centre_frequencies_hz"])
    if procedure == "one-third-octave":
        # Exact base-10 mid-band frequencies 1000 G^(k/3), G = 10^(3/10) (IEC 61260-1) behind
        # the nominal ones, band limits at G^(+-1/6): 10 log10 of the bandwidth is then within
        # 0.02 dB of Table 3's bandwidth adjustment.
        k = np.round(10 * np.log10(centres / 1000.0))
        exact = 1000.0 * 10.0 ** (k / 10)
        lower, upper = exact * 10 ** -0.05, exact * 10**0.05
    else:
        edges = np.array(t["band_edges_hz"], dtype=np.float64)
        lower, upper = edges[:-1], edges[1:]
    return SIIBands(
        procedure=procedure,
        centre_frequencies_hz=centres,
        lower_edges_hz=_read_only(lower),
        upper_edges_hz=_read_only(upper),
        bandwidths_hz=_read_only(upper - lower),
        band_importance=_read_only(t["band_importance"]),
        internal_noise_spectrum_level_db=_read_only(t["internal_noise_spectrum_level_db"]),
        speech_spectrum_level_db_spl={
            e: _read_only(v) for e, v in t["speech_spectrum_level_db_spl"].items()
        },
    )


def standard_speech_spectrum_level_db_spl(
    vocal_effort: str = "normal", *, procedure: str = "octave"
) -> np.ndarray:
    """Standard speech spectrum level U_i (dB SPL per Hz) of ANSI S3.5-1997 for one procedure.

    Parameters
    ----------
    vocal_effort : {"normal", "raised", "loud", "shout"}
        Overall levels 62.35, 68.34, 74.85 and 82.30 dB SPL (talker at 1 m, free field).
    procedure : {"octave", "one-third-octave", "critical-band"}

    Returns
    -------
    numpy.ndarray
        One spectrum level per band of the procedure (a copy).
    """
    check_choice("vocal_effort", vocal_effort, VOCAL_EFFORTS)
    return sii_bands(procedure).speech_spectrum_level_db_spl[vocal_effort].copy()


def speech_band_levels_db_spl(
    frequencies_hz: ArrayLike,
    overall_db_spl: float = 65.0,
    *,
    vocal_effort: str = "normal",
    bandwidths_hz: ArrayLike | None = None,
) -> np.ndarray:
    """Band levels of the standard speech spectrum (ANSI S3.5-1997 Table 3) at any frequencies.

    The one-third-octave spectrum levels of the standard speech spectrum are interpolated on log
    frequency (held at the 160 Hz / 8 kHz values beyond the table) and scaled so that the whole
    spectrum has ``overall_db_spl``; a band's level is its spectrum level plus
    10 log10(bandwidth). Without ``bandwidths_hz`` each band is one third of an octave wide
    (0.2316 f), so at the table's centres the result is Table 3's band level.

    Parameters
    ----------
    frequencies_hz : array_like
        Band centre frequencies in Hz (positive, finite).
    overall_db_spl : float
        Overall level of the speech in dB SPL, in [0, 140]; 62.35 dB SPL is the standard's
        normal vocal effort, 65 dB SPL the usual fitting level.
    vocal_effort : {"normal", "raised", "loud", "shout"}
        Which standard spectrum shape to use.
    bandwidths_hz : array_like, optional
        Bandwidth of each band in Hz (e.g. the ERB of a gammatone band), same shape as
        ``frequencies_hz``.

    Returns
    -------
    numpy.ndarray
        float64 band levels in dB SPL, same shape as ``frequencies_hz`` (1-D at least).

    Examples
    --------
    >>> speech_band_levels_db_spl([1000.0], 62.35).round(2).tolist()
    [48.66]
    """
    level = check_real("overall_db_spl", overall_db_spl, low=0, high=140)
    check_choice("vocal_effort", vocal_effort, VOCAL_EFFORTS)
    f = _positive_frequencies("frequencies_hz", frequencies_hz)
    bands = sii_bands("one-third-octave")
    spectrum = bands.speech_spectrum_level_db_spl[vocal_effort]
    overall = _tables()["overall_speech_level_db_spl"][vocal_effort]
    interp = np.interp(np.log(f), np.log(bands.centre_frequencies_hz), spectrum)
    if bandwidths_hz is None:
        # Table 3's bandwidth adjustment is 10 log10 of the exact 1/3-octave width.
        bw = f * (2 ** (1 / 6) - 2 ** (-1 / 6))
    else:
        bw = _positive_frequencies("bandwidths_hz", bandwidths_hz)
        if bw.shape != f.shape:
            raise ConfigError(
                f"bandwidths_hz must have one value per frequency ({f.size}), got {bw.size}"
            )
    return np.asarray(interp + power_to_db(bw) + (level - overall), dtype=np.float64)


def _positive_frequencies(name: str, values: ArrayLike) -> np.ndarray:
    try:
        f = np.atleast_1d(np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be numbers, got {values!r}") from None
    if f.ndim != 1 or not np.isfinite(f).all() or (f <= 0).any():
        raise ConfigError(f"{name} must be a 1-D list of finite positive numbers, got {values!r}")
    return f


def _band_vector(name: str, values: ArrayLike, n: int, procedure: str) -> np.ndarray:
    try:
        v = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be numbers, got {values!r}") from None
    if v.ndim == 0:
        v = np.full(n, float(v))
    if v.shape != (n,):
        raise ConfigError(
            f"{name} must have one value per band of the {procedure} procedure ({n}), "
            f"got shape {v.shape}"
        )
    if not np.isfinite(v).all():
        raise ConfigError(f"{name} must be finite, got {v.tolist()!r}")
    return v


def speech_intelligibility_index(
    speech_spectrum_level_db_spl: ArrayLike,
    noise_spectrum_level_db_spl: ArrayLike,
    threshold_db_hl: ArrayLike,
    *,
    procedure: str = "octave",
    band_importance: ArrayLike | None = None,
) -> float:
    """Speech Intelligibility Index by ANSI S3.5-1997 (Section 4).

    Parameters
    ----------
    speech_spectrum_level_db_spl : array_like
        Equivalent speech spectrum level E'_i, dB SPL per Hz, one per band of the procedure
        (6, 18 or 21 values at the centres of :func:`sii_bands`).
    noise_spectrum_level_db_spl : array_like
        Equivalent noise spectrum level N'_i, dB SPL per Hz, one per band (a scalar applies to
        all bands; use :data:`NO_NOISE_SPECTRUM_LEVEL_DB_SPL` for quiet).
    threshold_db_hl : array_like
        Equivalent hearing threshold level T'_i in dB HL, one per band (a scalar applies to
        all bands; subtract 1.7 dB for binaural listening, Section 5.1.5).
    procedure : {"octave", "one-third-octave", "critical-band"}
        Band procedure.
    band_importance : array_like, optional
        Another band-importance function (e.g. Annex B's); by default the standard's
        average-speech function. Normalised to sum to 1.

    Returns
    -------
    float
        SII in [0, 1].

    Examples
    --------
    >>> u = standard_speech_spectrum_level_db_spl("normal", procedure="octave")
    >>> round(speech_intelligibility_index(u, u, 0.0, procedure="octave"), 3)
    0.5
    """
    bands = sii_bands(check_choice("procedure", procedure, SII_PROCEDURES))
    n = bands.n_bands
    e = _band_vector("speech_spectrum_level_db_spl", speech_spectrum_level_db_spl, n, procedure)
    nz = _band_vector("noise_spectrum_level_db_spl", noise_spectrum_level_db_spl, n, procedure)
    t = _band_vector("threshold_db_hl", threshold_db_hl, n, procedure)
    if band_importance is None:
        importance = bands.band_importance
    else:
        importance = _band_vector("band_importance", band_importance, n, procedure)
        if (importance < 0).any() or importance.sum() <= 0:
            raise ConfigError("band_importance must be >= 0 with a positive sum")
        importance = importance / importance.sum()

    z = _equivalent_masking_spectrum_level(e, nz, bands)
    x = bands.internal_noise_spectrum_level_db + t  # Eq. (10)
    d = np.maximum(z, x)  # Section 4.5
    u = bands.speech_spectrum_level_db_spl["normal"]
    level_distortion = np.minimum(1.0 - (e - u - 10.0) / 160.0, 1.0)  # Eq. (11)
    k = np.clip((e - d + 15.0) / 30.0, 0.0, 1.0)  # Eq. (12)
    audibility = level_distortion * k  # Eq. (13)
    return float(np.clip(np.sum(importance * audibility), 0.0, 1.0))  # Eq. (14)


def _equivalent_masking_spectrum_level(
    e: np.ndarray, nz: np.ndarray, bands: SIIBands
) -> np.ndarray:
    """Z_i of ANSI S3.5-1997 Section 4.3 (and the octave procedure's Z_i = N'_i)."""
    if bands.procedure == "octave":
        return nz.copy()
    v = e - _SELF_SPEECH_MASKING_DB  # Eq. (5)
    b = np.maximum(nz, v)  # Section 4.3.2.2
    f = bands.centre_frequencies_hz
    if bands.procedure == "one-third-octave":
        c = -80.0 + 0.6 * (b + power_to_db(f) - _THIRD_OCTAVE_LOG_BW_DB)  # Eq. (7)
        # Eq. (9): band k masks band i through 3.32 C_k log10(0.89 F_i / F_k).
        reach = np.log10(0.89 * f[:, None] / f[None, :])
    else:
        c = -80.0 + 0.6 * (b + power_to_db(bands.bandwidths_hz))  # Eq. (6)
        reach = np.log10(f[:, None] / bands.upper_edges_hz[None, :])  # Eq. (8)
    below = np.tril(np.ones((f.size, f.size), dtype=bool), k=-1)  # only k < i masks band i
    spread = np.where(below, b[None, :] + 3.32 * c[None, :] * reach, -np.inf)  # [i, k]
    z = power_to_db(db_to_power(nz) + np.sum(db_to_power(spread), axis=1))
    z[0] = b[0]  # Section 4.3.2.4: no spread into the lowest band
    return z


def band_spectrum_levels_db_spl(x_pa: ArrayLike, *, fs: float, procedure: str) -> np.ndarray:
    """Spectrum levels (dB SPL per Hz) of a signal in the bands of an SII procedure.

    The long-term power spectrum (Welch, Hann window, 50 % overlap, segments of about 0.25 s
    for a 4 Hz resolution, or the whole signal if shorter) is integrated between each band's
    limits (interpolating the cumulative power at the limits, so bands narrower than a
    frequency bin still get their share) and divided by the bandwidth: E' = band level -
    10 log10(upper - lower). Power above fs / 2 is absent, so a band reaching past Nyquist
    reports the power it has over its full nominal bandwidth.

    Parameters
    ----------
    x_pa : array_like
        One channel of sound pressure in Pa (1-D, or (1, n)), at least 2 samples.
    fs : float
        Sample rate in Hz.
    procedure : {"octave", "one-third-octave", "critical-band"}

    Returns
    -------
    numpy.ndarray
        One spectrum level per band in dB SPL (floored at -200 dB, for silence).
    """
    rate = check_real("fs", fs, low=1000, high=384000)
    bands = sii_bands(check_choice("procedure", procedure, SII_PROCEDURES))
    if isinstance(x_pa, np.ndarray) and x_pa.ndim == 2 and x_pa.shape[0] == 1:
        x_pa = x_pa[0]
    x = as_mono(x_pa, name="x_pa").astype(np.float64)
    if x.size < 2:
        raise ConfigError(f"x_pa must have at least 2 samples, got {x.size}")
    nperseg = min(x.size, int(2 ** math.ceil(math.log2(rate / 4.0))))
    freqs, psd = scipy.signal.welch(
        x, fs=rate, window="hann", nperseg=nperseg, scaling="density", detrend=False
    )
    # Cumulative power from 0 Hz at each bin edge (bins centred on freqs, width df).
    df = freqs[1] - freqs[0]
    edges = np.concatenate([[0.0], freqs + df / 2])
    edges[-1] = rate / 2
    cumulative = np.concatenate([[0.0], np.cumsum(psd * np.diff(edges))])
    lo = np.interp(bands.lower_edges_hz, edges, cumulative)
    hi = np.interp(bands.upper_edges_hz, edges, cumulative)
    power_pa2 = np.maximum(hi - lo, 0.0)
    level = power_to_db(power_pa2 / bands.bandwidths_hz / P_REF_PA**2)
    return np.maximum(level, -200.0)


def sii_from_signals(
    speech_pa: ArrayLike,
    noise_pa: ArrayLike | None,
    *,
    fs: float,
    threshold_db_hl: ArrayLike | EarAudiogram = 0.0,
    procedure: str = "one-third-octave",
) -> float:
    """SII of a speech signal heard in a noise signal by a listener with given thresholds.

    Conventions: both signals are sound pressure in Pa at the listener's position as the
    standard's "equivalent" free-field quantities (Section 5.1: no eardrum transfer is applied);
    their long-term spectrum levels come from :func:`band_spectrum_levels_db_spl`. Speech and
    noise are measured separately (they need not have the same length). Without noise the
    equivalent noise spectrum level is -50 dB (Section 4.2, note).

    Parameters
    ----------
    speech_pa : array_like
        Speech alone, one channel, Pa.
    noise_pa : array_like or None
        Noise alone, one channel, Pa; ``None`` for quiet.
    fs : float
        Sample rate of both signals in Hz.
    threshold_db_hl : float or array_like or EarAudiogram
        Listener's thresholds: one value for all bands, one per band of the procedure, or an
        :class:`EarAudiogram` (interpolated on log frequency at the band centres).
    procedure : {"octave", "one-third-octave", "critical-band"}

    Returns
    -------
    float
        SII in [0, 1].
    """
    bands = sii_bands(check_choice("procedure", procedure, SII_PROCEDURES))
    e = band_spectrum_levels_db_spl(speech_pa, fs=fs, procedure=procedure)
    if noise_pa is None:
        nz = np.full(bands.n_bands, NO_NOISE_SPECTRUM_LEVEL_DB_SPL)
    else:
        nz = band_spectrum_levels_db_spl(noise_pa, fs=fs, procedure=procedure)
    if isinstance(threshold_db_hl, EarAudiogram):
        t = threshold_db_hl.threshold_db_hl_at(bands.centre_frequencies_hz)
    else:
        t = np.asarray(threshold_db_hl, dtype=np.float64)
    return speech_intelligibility_index(e, nz, t, procedure=procedure)
