"""Hearing-loss simulation after the Cambridge MSBG model, streaming, in C.

The model (Moore, Stone, Baer & Glasberg; as in the MSBG simulator that pyclarity ports) has two
stages, run per ear on sound pressure in Pa:

1. **Spectral smearing** for broadened auditory filters (Baer & Moore 1993, 1994). Frames of
   about 5.8 ms (256 samples at 44.1 kHz, a power of two at every rate), Hann window, hop of a
   quarter frame, FFT of twice the frame. The power spectrum of each frame, taken from free
   field (frontal, MSBG ``src_pos="ff"``) to the cochlea with MSBG's free-field-to-eardrum
   (Shaw 1974) and middle-ear corrections, is multiplied by a smearing matrix chosen so that
   *normal* auditory filters (roex, Patterson 1976) applied to the smeared spectrum give the
   excitation that *broadened* filters (lower/upper slopes widened by the given factors) give
   for the original; each bin keeps its phase and is taken back to free field, and the frames
   are overlap-added. Overlap-add loses the spread part of a frame where it is not
   phase-coherent from frame to frame (a steady 1 kHz tone loses 1.4 dB, a 4 kHz one 4.2 dB
   with severe smearing, white noise 0.5 dB; MSBG loses as much), so the output is scaled by
   ``sqrt(P_specified / P_realised)``: the smeared spectra's power against the power the
   overlap-add realises at the cochlea, both smoothed over 20 ms (limited to +-10 dB).
2. **Threshold elevation and loudness recruitment** (Moore & Glasberg 1993). MSBG's gammatone
   filterbank with broadened bands splits the smeared signal: each band is four sections
   ``Re{1 / (1 - p z^-1)}`` (impulse-invariant real gammatone sections; MSBG's, designed here
   at any rate) and, for bands whose lower skirt would reach low frequencies, MSBG's 2nd-order
   high-pass. In each band the envelope ``e`` (the rectified band signal, low-passed with
   MSBG's noise bandwidth; taken to the cochlea by the band's outer/middle-ear gain) is
   expanded: ``gain = (e / e_catch_up) ** (ER - 1)`` with ``ER = L_cu / (L_cu - HL)``, ``HL``
   the threshold (dB HL) and ``L_cu`` the catch-up level (105 dB SPL at the cochlea, MSBG's
   value). A sound at the impaired threshold is mapped to the normal threshold; levels at or
   above the catch-up level pass unchanged. The bands are summed as MSBG sums them: each
   delayed so that the envelopes line up (by its group delay at its centre frequency), no
   phase rotation; the output is ``sum_b gain_b H_b X`` at free field, as in MSBG, which runs
   its bank at the cochlea and filters the sum back. How neighbouring bands' skirts add decides
   what comes out where a steep loss crushes the bands centred there, so the filter shapes
   and the summation are MSBG's.

Severity classes (MSBG, from the mean threshold at the audiogram frequencies within 2-8 kHz):
above 15 / 35 / 56 dB HL is mild / moderate / severe, with smearing factors (lower, upper) of
(1.6, 1.1), (2.4, 1.6), (4.0, 2.0) and recruitment bands 1.5 / 2 / 3 ERB wide spaced
1.125 / 1.5 / 2.25 ERB apart on MSBG's grid (down from 19183.5 Hz); below 15 dB HL there is no
smearing and the bank is the mild one.

Differences from MSBG, by design (see docs/hearing-loss.md for measured agreement):

- causal and streaming: MSBG's zero-phase envelope filter (an elliptic low-pass run forwards and
  backwards) is replaced by two one-pole low-passes with the same noise bandwidth, whose lag
  (2.2 ms) is taken out by delaying the band signals that much before the gains multiply them
  (so the gains are centred on their envelopes, as MSBG's are); MSBG advances each band by its
  group delay, we delay the others instead. The delay is not compensated but reported as
  ``latency_samples`` (smearing frame, the bank's delay, envelope lag: 12 ms for the severe
  class at 44.1 kHz, 15 ms moderate, 18 ms mild);
- the bank is unity-gain without loss: band weights make the sum 1 at every centre frequency
  and fit its magnitude to 1 from 200 Hz up (ripple +-0.3 dB above 250 Hz). MSBG scales its sum
  by one constant, which leaves its severe bank 0.8-2.7 dB loud below 2 kHz, its moderate bank
  0.2-0.8 dB;
- the smearing's power correction (above): MSBG's smearing attenuates steady tones by 1.4-4.2 dB
  (severe); ours keeps their power;
- a band carrying a tone outside its own passband takes the threshold at the tone's frequency
  (from the band's mean frequency: its power-weighted mean of ``cos(w)``, from the lag-1
  product over the power, smoothed over 5 ms); within a quarter of the band's broadened ERB
  of its centre it takes the centre's, as MSBG does everywhere. MSBG lets a tone 5 dB below
  the threshold through on steep slopes (S1 at 4 kHz 0.5 dB above the normal threshold, S2 at
  2 kHz 5 dB and at 4 kHz 11.5 dB above): bands centred lower, with lower thresholds, carry it
  on their shallow upper skirts;
- gains are recomputed every ``gain_interval`` samples (about 0.35 ms) and ramped linearly in
  between: the envelope is smoothed below 75 Hz, so nothing is lost, and ``powf`` per band and
  sample is avoided;
- the outer- and middle-ear transfer is applied per FFT bin inside the smearing frame (there
  and back) and as a gain per band on the envelope; MSBG uses 1015-tap FIR filters before and
  after the model (23 ms each) and a final 18 kHz low-pass. Above 12.5 kHz, where the
  middle-ear transfer falls by up to 40 dB, the frame holds it at its 12.5 kHz value, so that
  energy smeared up there is not raised by the inverse slope on the way back;
- any sample rate in [16, 96] kHz (MSBG: 44.1 kHz only); no level renormalisation of the input
  and no NaN for quiet input (MSBG returns NaN below about 40 dB SPL);
- thresholds are interpolated linearly in frequency and held beyond the audiogram's ends, as
  MSBG does, floored at 0 dB HL (better than normal hearing is not simulated) and capped at
  ``catch_up_db_spl - 10`` dB HL (MSBG warns that results above 80-90 dB HL become unrealistic;
  above the catch-up level the model has no meaning).

Limits of the model itself: it simulates the audibility and loudness of a cochlear loss for a
normal-hearing listener; it does not simulate temporal-processing deficits, dead regions,
binaural or central effects, and a listener's own residual hearing adds to the simulated
thresholds (the simulation is meant for normal-hearing listeners).

References: Moore & Glasberg (1993) J. Acoust. Soc. Am. 94:2050-2062; Baer & Moore (1993)
J. Acoust. Soc. Am. 94:1229-1241 and (1994) 95:2277-2280; Nejime & Moore (1997) J. Acoust.
Soc. Am. 102:603-615; Hohmann (2002) Acta Acustica 88:433-442 (the weights' iteration).
"""

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.signal

from audiolab._ckernel import check, ffi, float_buffer, lib
from audiolab._cstruct import CStruct
from audiolab._errors import ConfigError, SignalError
from audiolab._params import Param, check_table, validate, without
from audiolab._validate import check_choice, check_real
from audiolab.audiology._audiogram import (
    EARS,
    STANDARD_AUDIOGRAMS,
    Audiogram,
    AudiogramLike,
    EarAudiogram,
    _from_json_doc,
    load_audiogram,
)
from audiolab.calibration import P_REF_PA
from audiolab.dsp._auditory import erb_bandwidth_hz, erb_space_hz
from audiolab.dsp._processor import Processor
from audiolab.dsp._units import db_to_amplitude, db_to_power

__all__ = [
    "SEVERITY_CLASSES",
    "HearingLossConfig",
    "HearingLossEarDesign",
    "HearingLossSimulator",
    "design_hearing_loss_ear",
    "outer_middle_ear_db",
    "severity_class",
    "smearing_matrix",
]

FS_MIN_HZ = 16000.0
FS_MAX_HZ = 96000.0

# MSBG severity classes: (smearing lower, upper factor, bank bandwidth / ERB, spacing / ERB).
# Mean threshold at 2-8 kHz above 15 / 35 / 56 dB HL (Nejime & Moore 1997; pyclarity MSBG).
SEVERITY_CLASSES: dict[str, tuple[float, float, float, float]] = {
    "none": (1.0, 1.0, 1.5, 1.125),
    "mild": (1.6, 1.1, 1.5, 1.125),
    "moderate": (2.4, 1.6, 2.0, 1.5),
    "severe": (4.0, 2.0, 3.0, 2.25),
}
_SEVERITY_LIMITS_DB_HL = ((56.0, "severe"), (35.0, "moderate"), (15.0, "mild"))
SMEARING_CHOICES = ("auto", "none", "mild", "moderate", "severe")

# Outer and middle ear as in MSBG (src_pos "ff"), in dB at these frequencies (Hz): free-field
# (frontal) to eardrum, Shaw (1974), relative to 1 kHz; middle-ear transfer (its inverse shape).
# The free-field-to-cochlea correction is FF_ED - MIDEAR, 0 dB at 1 kHz.
_OME_HZ = (
    0.0, 20.0, 25.0, 31.5, 40.0, 50.0, 63.0, 80.0, 100.0, 125.0, 160.0, 200.0, 250.0, 315.0,
    400.0, 500.0, 630.0, 750.0, 800.0, 1000.0, 1250.0, 1500.0, 1600.0, 2000.0, 2500.0, 3000.0,
    3150.0, 4000.0, 5000.0, 6000.0, 6300.0, 8000.0, 9000.0, 10000.0, 11200.0, 12500.0, 14000.0,
    15000.0, 16000.0, 20000.0, 48000.0,
)
_FF_ED_DB = (
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.3, 0.5, 0.9, 1.4, 1.6, 1.7, 2.5, 2.7,
    2.6, 2.6, 3.2, 5.2, 6.6, 12.0, 16.8, 15.3, 15.2, 14.2, 10.7, 7.1, 6.4, 1.8, -0.9, -1.6, 1.9,
    4.9, 2.0, -2.0, 2.5, 2.5, 2.5,
)
_MIDEAR_DB = (
    50.0, 39.6, 32.0, 25.85, 21.4, 18.5, 15.9, 14.1, 12.4, 11.0, 9.6, 8.3, 7.4, 6.2, 4.8, 3.8,
    3.3, 2.9, 2.6, 2.6, 4.5, 5.4, 6.1, 8.5, 10.4, 7.3, 7.0, 6.6, 7.0, 9.2, 10.2, 12.2, 10.8,
    10.1, 12.7, 15.0, 18.2, 23.8, 32.3, 50.0, 50.0,
)

CATCH_UP_DB_SPL = 105.0  # MSBG's loudness catch-up level
_MAX_HL_BELOW_CATCH_UP_DB = 10.0
_ENV_FLOOR_DB_SPL = -60.0  # MSBG floors the envelope at 1e-9 of a 120 dB SPL full scale
_FRAME_S = 256 / 44100.0  # MSBG's smearing frame
_GAIN_UPDATE_S = 16 / 44100.0
_GT_DELAY_MS = 4.0
_GT_F_LOW_HZ = 40.0
_GT_F_HIGH_HZ = 19200.0
# MSBG's bands are spaced down the ERB-number scale from its top band at 19183.5 Hz; the same
# grid at every rate samples the audiogram where MSBG does.
_GT_BASE_HZ = 19183.5
# Above this frequency the middle-ear transfer falls by up to 40 dB; the smearing frame holds
# it at its value here so that energy smeared up there is not raised that much on the way back.
_OME_FLAT_ABOVE_HZ = 12500.0
_POWER_CORRECTION_S = 0.02  # smoothing of the smearing's power correction
# Expansion ratio by frequency: a table per band over f / cf in [1/2, 2], 16 points per octave;
# the band's mean frequency is smoothed over 5 ms and read at every 4th gain update.
_RATIO_POINTS_PER_OCTAVE = 16
_FREQ_SMOOTHING_S = 0.005
_FREQ_EVERY = 4
_POWER_CORRECTION_MAX_DB = 10.0
_SMEAR_PRUNE = 1e-3  # matrix entries below this fraction of their row's largest are dropped
_HIST_ROWS = 1024  # rows of band history between moves of its tail to the front
_HP_CORNER_ERB = 7.5  # a band's high-pass corner lies this many ERB_N below its centre
_HP_MIN_CORNER_RATIO = 0.07  # ... and is used where it is at least this fraction of cf
_FLAT_FROM_HZ = 200.0  # the bank's sum is fitted to 1 from here to 0.43 fs
_OWN_THRESHOLD_ERB = 0.25  # within this share of its ERB of cf a band takes cf's threshold


def outer_middle_ear_db(f_hz: Any) -> np.ndarray:
    """Free-field (frontal) to cochlea transfer in dB, 0 dB at 1 kHz (MSBG's ``FF_ED - MIDEAR``).

    Linear interpolation in frequency between the tabulated points, as in MSBG.

    Parameters
    ----------
    f_hz : array_like
        Frequencies in Hz, in [0, 48000].

    Returns
    -------
    numpy.ndarray
        Gain in dB (float64, shape of ``f_hz``).
    """
    corr = np.asarray(_FF_ED_DB) - np.asarray(_MIDEAR_DB)
    return np.asarray(np.interp(np.asarray(f_hz, float), _OME_HZ, corr), dtype=np.float64)


def severity_class(ear: EarAudiogram) -> str:
    """MSBG severity class of one ear: ``"none"``, ``"mild"``, ``"moderate"`` or ``"severe"``.

    The mean threshold at the audiogram's frequencies within 2-8 kHz (at 2, 4 kHz interpolated
    if none was measured there) above 56 / 35 / 15 dB HL is severe / moderate / mild.
    """
    f = ear.frequencies_hz
    sel = (f >= 2000.0) & (f <= 8000.0)
    levels = ear.thresholds_db_hl[sel] if sel.any() else ear.threshold_db_hl_at([2000, 4000])
    mean = float(np.mean(levels))
    for limit, name in _SEVERITY_LIMITS_DB_HL:
        if mean > limit:
            return name
    return "none"


def _threshold_db_hl(ear: EarAudiogram, f_hz: np.ndarray) -> np.ndarray:
    """Threshold at ``f_hz`` as MSBG takes it: linear in frequency, flat beyond the ends."""
    return np.interp(f_hz, ear.frequencies_hz, ear.thresholds_db_hl)


def _roex_matrix(
    n_bins: int, n_cols: int, bin_hz: float, lower: float, upper: float
) -> np.ndarray:
    """Rows: roex(p) auditory filters centred on bins 0..n_bins-1, over bins 0..n_cols-1.

    W(g) = (1 + p g) exp(-p g), g = |f - fc| / fc, p = 4 fc / (ERB(fc) r) with r the
    broadening factor of that side (Patterson 1976; Baer & Moore 1993). Rows are divided by the
    filter's ERB (in units of ERB(0)) so that the excitation pattern has no spectral tilt.
    """
    a = np.zeros((n_bins, n_cols))
    a[0, 0] = 2.0 / (lower + upper)
    i = np.arange(1, n_bins)[:, None].astype(float)
    j = np.arange(n_cols)[None, :].astype(float)
    fc = i * bin_hz
    erb = erb_bandwidth_hz(fc)
    g = np.abs(j - i) / i
    p = np.where(j < i, 4.0 * fc / (erb * lower), 4.0 * fc / (erb * upper))
    a[1:] = (1.0 + p * g) * np.exp(-p * g) / (erb * (lower + upper) / (2.0 * 24.7))
    return a


def smearing_matrix(n_bins: int, bin_hz: float, lower: float, upper: float) -> np.ndarray:
    """Power-spectrum smearing matrix S (n_bins, n_bins) of Baer & Moore (1993).

    S solves ``A_normal S = A_wide`` in the least-squares sense, so that normal filters applied
    to the smeared spectrum ``S @ P`` see what broadened filters see in ``P``. As in MSBG, the
    normal filters are extended up to 1.5 x Nyquist (their upper skirts, for filters whose
    skirt reaches past Nyquist) so that the solution is not distorted near Nyquist; the rows for
    those extra bins are then dropped.

    Parameters
    ----------
    n_bins : int
        Number of FFT bins below Nyquist (half the FFT size).
    bin_hz : float
        Bin spacing in Hz.
    lower, upper : float
        Broadening factors of the lower and upper filter slopes (1 = normal).
    """
    n_ext = n_bins + n_bins // 2
    normal = _roex_matrix(n_bins, n_ext, bin_hz, 1.0, 1.0)
    # Keep the extension only where the mirrored filter is still defined (below 2 fc).
    j = np.arange(n_ext)[None, :]
    i = np.arange(n_bins)[:, None]
    normal[(j >= n_bins) & (j >= 2 * i - 1)] = 0.0
    wide = _roex_matrix(n_bins, n_bins, bin_hz, lower, upper)
    s = np.linalg.lstsq(normal, wide, rcond=None)[0]
    return np.asarray(s[:n_bins], dtype=np.float64)


def _envelope_smoother(fs: float, erb_n_hz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-pole coefficients and DC gains matching MSBG's envelope low-pass per band.

    MSBG low-passes the rectified band signal with a 2nd-order elliptic filter (0.25 dB ripple,
    35 dB stop band) at 0.75 min(100 Hz, ERB_N(cf)), run forwards and backwards. Ours is two
    cascaded causal one-pole low-passes with the same equivalent noise bandwidth (so the
    envelope fluctuates alike and the expansion gives the same mean gain for noise). The
    elliptic filter's DC gain (-0.25 dB, twice) also sets MSBG's envelope level; it is returned
    so that our envelope matches it.
    """
    coefs = np.empty(erb_n_hz.size)
    dc = np.empty(erb_n_hz.size)
    cutoffs = 0.75 * np.minimum(100.0, erb_n_hz)
    for fc in np.unique(cutoffs):
        b, a = scipy.signal.ellip(2, 0.25, 35, fc / (fs / 2))
        # Forward-backward: power response |H|^4. Its mean over [0, pi) is the sum of squares
        # of the impulse response (Parseval), the noise bandwidth re DC in units of fs / 2.
        _, h = scipy.signal.freqz(b, a, worN=1 << 16)
        dc_gain = float(np.sum(b) / np.sum(a)) ** 2
        target = float(np.mean(np.abs(h) ** 4)) / dc_gain**2
        # Two one-poles y += a (x - y), pole c = 1 - a: sum h^2 = a^4 (1 + c^2) / (1 - c^2)^3.
        lo, hi = 1e-9, 1.0
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            c = 1.0 - mid
            val = mid**4 * (1 + c * c) / (1 - c * c) ** 3
            lo, hi = (mid, hi) if val < target else (lo, mid)
        coefs[cutoffs == fc] = 0.5 * (lo + hi)
        dc[cutoffs == fc] = dc_gain
    return coefs, dc


def band_responses(
    poles: np.ndarray, input_gains: np.ndarray, highpass: np.ndarray, f_hz: Any, fs: float
) -> np.ndarray:
    """Complex frequency responses (n_freq, n_bands) of the recruitment bands.

    Each band is ``g R(z)^4 HP(z)``: four sections ``R = Re{1 / (1 - p z^-1)}`` (the real part
    of a complex one-pole; as a real filter ``(1 - r cos(theta) z^-1) / (1 - 2 r cos(theta)
    z^-1 + r^2 z^-2)`` with ``p = r exp(i theta)``), MSBG's gammatone sections, then the
    band's high-pass section.
    """
    zinv = np.exp(-2j * np.pi * np.asarray(f_hz, float)[:, None] / fs)
    r = 0.5 * (1.0 / (1.0 - poles * zinv) + 1.0 / (1.0 - np.conj(poles) * zinv))
    b0, b1, b2, a1, a2 = np.asarray(highpass, float).T
    hp = (b0 + b1 * zinv + b2 * zinv**2) / (1.0 + a1 * zinv + a2 * zinv**2)
    return np.asarray(input_gains * r**4 * hp)


def band_signal(
    pole: complex, input_gain: float, highpass: np.ndarray, x: np.ndarray
) -> np.ndarray:
    """One recruitment band's signal for input ``x`` (float64), as the design needs it.

    Four sections ``Re{1 / (1 - p z^-1)}``, then the high-pass ``(b0, b1, b2, a1, a2)``. The
    design takes the bank's impulse response from it; the tests' reference
    (:mod:`audiolab.bench._hearing_loss`) runs the bands with its own code.
    """
    v = np.asarray(x, float) * input_gain
    for _ in range(4):
        v = scipy.signal.lfilter([1.0], [1.0, -pole], v.astype(complex)).real
    return np.asarray(scipy.signal.lfilter(highpass[:3], np.r_[1.0, highpass[3:]], v))


@dataclass(frozen=True)
class RecruitmentBands:
    """The designed recruitment bank of one ear (see :func:`design_recruitment_bands`)."""

    center_frequencies_hz: np.ndarray
    poles: np.ndarray
    input_gains: np.ndarray
    highpass: np.ndarray
    weights: np.ndarray
    band_delays_samples: np.ndarray
    delay_samples: int  # where the bank's impulse response peaks


def design_recruitment_bands(
    fs: float, bandwidth_factor: float, spacing_erb: float
) -> RecruitmentBands:
    """The recruitment bank: MSBG's gammatone bands, resynthesised by delay and gain.

    As MSBG's bank: centre frequencies spaced ``spacing_erb`` ERB down from 19183.5 Hz (from
    40 Hz up to 19.2 kHz or 0.45 fs); each band four sections ``Re{1 / (1 - p z^-1)}`` with
    ``p = exp((-2 pi B + 2 pi i cf) / fs)``, ``B = bandwidth_factor ERB_N(cf)`` (impulse-invariant
    real 4th-order gammatone sections); bands whose lower skirt would reach low frequencies
    get MSBG's 2nd-order high-pass (``s^2 / (s^2 + 3 wc s + 3 wc^2)``) at ``cf - 7.5 ERB_N(cf)``
    (MSBG's corners lie 7.3-7.7 ERB_N below cf), where that corner is at least 0.07 cf. Each
    band has gain 1 at cf.

    Resynthesis, as MSBG: each band is delayed by the bank's delay minus its own group delay at
    cf, so that the bands' envelopes line up (MSBG advances each band by its group delay;
    a streaming bank delays the others instead); no phase rotation. The bank's delay is the
    largest group delay of its bands, at least 4 ms. Band weights follow Hohmann's (2002)
    iteration so that the sum is 1 at every centre frequency, then a least-squares fit of its
    magnitude to 1 from 200 Hz up (MSBG: one recombination constant, which leaves its severe
    bank 1-2.7 dB loud). Without phase rotation the bands' skirts add as MSBG's do: where a
    steep loss crushes the bands at a frequency, what comes out there is what the bands below
    carry, and that depends on how their skirts add.
    """
    cf = erb_space_hz(
        _GT_F_LOW_HZ, min(_GT_F_HIGH_HZ, 0.45 * fs), bands_per_erb=1.0 / spacing_erb,
        base_hz=_GT_BASE_HZ,
    )
    erb = erb_bandwidth_hz(cf)
    poles = np.exp((-2.0 * np.pi * bandwidth_factor * erb + 2j * np.pi * cf) / fs)
    highpass = _highpass_sections(cf, erb, fs)
    idx = np.arange(cf.size)
    input_gains = 1.0 / np.abs(band_responses(poles, np.ones(cf.size), highpass, cf, fs)[idx, idx])
    delay, delays = _alignment_delays(poles, highpass, cf, erb, fs)
    weights = _band_weights(poles, input_gains, highpass, delays, cf, fs)
    return RecruitmentBands(
        center_frequencies_hz=cf, poles=poles, input_gains=input_gains, highpass=highpass,
        weights=weights, band_delays_samples=delays,
        delay_samples=_impulse_peak_samples(poles, input_gains, highpass, weights, delays, delay),
    )


def _highpass_sections(cf: np.ndarray, erb: np.ndarray, fs: float) -> np.ndarray:
    """(n_bands, 5) b0 b1 b2 a1 a2 of each band's high-pass (a pass-through where none)."""
    highpass = np.zeros((cf.size, 5))
    highpass[:, 0] = 1.0
    corner = cf - _HP_CORNER_ERB * erb
    for b in map(int, np.flatnonzero(corner >= _HP_MIN_CORNER_RATIO * cf)):
        # s^2 / (s^2 + 3 wc s + 3 wc^2), poles at wc (-1.5 +- 0.87i) (a Bessel pair, Q 0.58),
        # by the bilinear transform prewarped at wc: MSBG's high-pass sections.
        wc = 2.0 * fs * math.tan(math.pi * corner[b] / fs)
        num, den = scipy.signal.bilinear([1.0, 0.0, 0.0], [1.0, 3.0 * wc, 3.0 * wc * wc], fs)
        highpass[b] = [num[0], num[1], num[2], den[1], den[2]]
    return highpass


def _alignment_delays(
    poles: np.ndarray, highpass: np.ndarray, cf: np.ndarray, erb: np.ndarray, fs: float
) -> tuple[int, np.ndarray]:
    """The bank's alignment delay and each band's delay, so that the envelopes line up.

    Each band is delayed by the bank's delay minus its own group delay at cf; the bank's
    delay is the largest group delay of its bands, at least 4 ms.
    """
    idx = np.arange(cf.size)
    ones = np.ones(cf.size)
    # Group delay at cf (samples), from the phase slope over +-0.1 % of an ERB.
    df = 1e-3 * erb
    above = band_responses(poles, ones, highpass, cf + df, fs)[idx, idx]
    below = band_responses(poles, ones, highpass, cf - df, fs)[idx, idx]
    group = -np.angle(above / below) / (2.0 * np.pi * 2.0 * df / fs)
    delay = max(int(round(_GT_DELAY_MS * 1e-3 * fs)), int(np.ceil(group.max())))
    delays = np.clip(delay - np.round(group), 0, delay).astype(np.int64)
    return delay, delays


def _band_weights(
    poles: np.ndarray, input_gains: np.ndarray, highpass: np.ndarray, delays: np.ndarray,
    cf: np.ndarray, fs: float,
) -> np.ndarray:
    """Resynthesis weights: the delayed bands' sum is 1 at every cf, and flat from 200 Hz up."""
    at_cf = band_responses(poles, input_gains, highpass, cf, fs) * np.exp(
        -2j * np.pi * cf[:, None] * delays[None, :] / fs
    )
    # Hohmann (2002), Section 4: the iteration that makes the sum 1 at every centre frequency.
    weights = np.ones(cf.size)
    for _ in range(100):
        weights = weights / np.abs(at_cf @ weights)
    # Then the weights of the bands from 200 Hz up are refined (Gauss-Newton) so that the sum's
    # magnitude is 1 between centre frequencies as well: ripple +-0.2 dB at 0.25-1 kHz.
    f_fit = np.geomspace(_FLAT_FROM_HZ, 0.43 * fs, 600)
    resp = band_responses(poles, input_gains, highpass, f_fit, fs) * np.exp(
        -2j * np.pi * f_fit[:, None] * delays[None, :] / fs
    )
    free = cf >= _FLAT_FROM_HZ
    for _ in range(20):
        total = resp @ weights
        mag = np.abs(total)
        jac = np.real(np.conj(total / mag)[:, None] * resp[:, free])
        step = np.linalg.lstsq(jac, 1.0 - mag, rcond=1e-6)[0]
        weights[free] = np.maximum(weights[free] + step, 0.05 * weights[free])
    return weights


def _impulse_peak_samples(
    poles: np.ndarray, input_gains: np.ndarray, highpass: np.ndarray, weights: np.ndarray,
    delays: np.ndarray, delay: int,
) -> int:
    """The bank's delay as reported: where its impulse response peaks.

    It lies within a sample or two of the alignment delay.
    """
    n = 2 * delay + 256
    impulse = np.zeros(n)
    unit = np.zeros(n)
    unit[0] = 1.0
    for b in range(poles.size):
        v = band_signal(poles[b], input_gains[b], highpass[b], unit)
        d = int(delays[b])
        impulse[d:] += weights[b] * v[: n - d]
    return int(np.argmax(np.abs(impulse)))


@dataclass(frozen=True, eq=False)
class HearingLossEarDesign:
    """Everything the C kernel and the NumPy reference run for one ear (float64 arrays)."""

    fs: float
    severity: str
    smear_factors: tuple[float, float] | None  # None: no smearing for this ear
    frame_len: int
    hop: int
    window: np.ndarray
    smear: np.ndarray | None  # (frame_len, frame_len) smearing matrix, at the cochlea
    ome_pow: np.ndarray | None  # (frame_len) free field -> cochlea power gain per bin
    power_coef: float  # one-pole coefficient of the smearing's power correction
    power_max_gain: float  # its largest gain (amplitude)
    center_frequencies_hz: np.ndarray
    bandwidth_factor: float
    poles: np.ndarray  # complex pole of each band's four sections
    input_gains: np.ndarray  # makes each band's response 1 at its centre frequency
    highpass: np.ndarray  # (n_bands, 5) b0, b1, b2, a1, a2 of each band's last section
    weights: np.ndarray  # real resynthesis gain of each band
    band_delays_samples: np.ndarray  # resynthesis delay of each band
    gt_delay_samples: int  # the bank's delay: band delay + group delay at the centre
    lag_samples: int  # band signals are delayed this much before their gains multiply them
    thresholds_db_hl: np.ndarray
    exponents: np.ndarray  # expansion ratio - 1 at the centre frequencies
    exponent_table: np.ndarray  # (n_bands, n_ratio) expansion ratio - 1 at cf 2^(k / points)
    ratio_points_per_octave: int  # of the exponent tables, centred on cf
    freq_coef: float  # one-pole coefficient (per exponent update) of the mean-frequency estimate
    freq_every: int  # the exponents are updated at every freq_every-th gain update
    env_coef: np.ndarray
    env_scale: np.ndarray  # |z| (Pa) -> envelope relative to the catch-up level
    env_floor: float
    gain_interval: int


def _frame_len(fs: float) -> int:
    return int(2 ** round(math.log2(_FRAME_S * fs)))


def _gain_interval(fs: float) -> int:
    return int(2 ** round(math.log2(_GAIN_UPDATE_S * fs)))


def design_hearing_loss_ear(
    ear: EarAudiogram,
    *,
    fs: float,
    smearing: str | tuple[float, float] = "auto",
    catch_up_db_spl: float = CATCH_UP_DB_SPL,
) -> HearingLossEarDesign:
    """Design the simulator of one ear (see the module docstring for the model).

    Parameters
    ----------
    ear : EarAudiogram
        Thresholds of the ear.
    fs : float
        Sample rate in Hz, in [16000, 96000].
    smearing : str or (float, float)
        ``"auto"`` (MSBG severity class of this ear), ``"none"``, ``"mild"``, ``"moderate"``,
        ``"severe"``, or explicit (lower, upper) broadening factors, each in [1, 8].
    catch_up_db_spl : float
        Level at the cochlea where impaired loudness catches up with normal, dB SPL.
    """
    fs = check_real("fs", fs, low=FS_MIN_HZ, high=FS_MAX_HZ)
    name, factors, bw, spacing = _severity_parameters(ear, smearing)
    nf = _frame_len(fs)
    smear, ome_pow = _smearing_at_the_cochlea(fs, nf, factors)
    bank = design_recruitment_bands(fs, bw, spacing)
    cf = bank.center_frequencies_hz
    hl, exponents, exponent_table = _expansion_exponents(ear, cf, bw, catch_up_db_spl)
    env_coef, env_dc = _envelope_smoother(fs, erb_bandwidth_hz(cf))
    # MSBG's envelope: the rectified band signal, low-passed (times its low-pass's DC gain).
    p_catch_pa = P_REF_PA * float(db_to_amplitude(catch_up_db_spl))
    env_scale = env_dc * _band_outer_middle_ear_gain(bank, fs) / p_catch_pa
    return HearingLossEarDesign(
        fs=fs,
        severity=name,
        smear_factors=factors,
        frame_len=nf,
        hop=nf // 4,
        window=_frame_window(nf),
        smear=smear,
        ome_pow=ome_pow,
        power_coef=1.0 - math.exp(-1.0 / (_POWER_CORRECTION_S * fs)),
        power_max_gain=float(db_to_amplitude(_POWER_CORRECTION_MAX_DB)),
        center_frequencies_hz=cf,
        bandwidth_factor=bw,
        poles=bank.poles,
        input_gains=bank.input_gains,
        highpass=bank.highpass,
        weights=bank.weights,
        band_delays_samples=bank.band_delays_samples,
        gt_delay_samples=bank.delay_samples,
        lag_samples=_envelope_lag_samples(env_coef),
        thresholds_db_hl=hl,
        exponents=exponents,
        exponent_table=exponent_table,
        ratio_points_per_octave=_RATIO_POINTS_PER_OCTAVE,
        freq_coef=1.0 - math.exp(-_FREQ_EVERY * _gain_interval(fs) / (_FREQ_SMOOTHING_S * fs)),
        freq_every=_FREQ_EVERY,
        env_coef=env_coef,
        env_scale=env_scale,
        env_floor=float(db_to_amplitude(_ENV_FLOOR_DB_SPL - catch_up_db_spl)),
        gain_interval=_gain_interval(fs),
    )


def _severity_parameters(
    ear: EarAudiogram, smearing: str | tuple[float, float]
) -> tuple[str, tuple[float, float] | None, float, float]:
    """(class name, smearing factors or None, bank bandwidth / ERB, band spacing / ERB)."""
    if isinstance(smearing, str):
        name = severity_class(ear) if smearing == "auto" else smearing
        lower, upper, bw, spacing = SEVERITY_CLASSES[name]
        return name, None if name == "none" else (lower, upper), bw, spacing
    lower, upper = smearing
    # The recruitment bank widens with the smearing as in MSBG's three classes
    # (mean factor 1.35 -> 1.5 ERB, 2.0 -> 2.0, 3.0 -> 3.0; spaced 3/4 of the width).
    bw = max(1.5, 0.5 * (lower + upper))
    factors = None if lower == upper == 1.0 else (lower, upper)
    return "explicit", factors, bw, 0.75 * bw


def _frame_window(nf: int) -> np.ndarray:
    """Hann window of the smearing frame, used for analysis and synthesis.

    At a hop of a quarter frame the squared windows add up to 1.5, hence the 1/sqrt(1.5) on
    each.
    """
    n = np.arange(nf)
    return (0.5 - 0.5 * np.cos(2 * np.pi * (n + 0.5) / nf)) / math.sqrt(1.5)


def _smearing_at_the_cochlea(
    fs: float, nf: int, factors: tuple[float, float] | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Smearing matrix and free-field-to-cochlea power gain per bin (None, None: no smearing).

    Smear at the cochlea, as MSBG: the frame's power spectrum is taken from free field to the
    cochlea, smeared, and the smeared frame is taken back bin by bin.
    """
    if factors is None:
        return None, None
    bin_hz = fs / (2 * nf)
    smear = smearing_matrix(nf, bin_hz, *factors)
    f_bins = np.minimum(np.arange(nf) * bin_hz, _OME_FLAT_ABOVE_HZ)
    return smear, db_to_power(outer_middle_ear_db(f_bins))


def _expansion_exponents(
    ear: EarAudiogram, cf: np.ndarray, bw: float, catch_up_db_spl: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thresholds at cf, expansion ratio - 1 at cf, and its table over f / cf in [1/2, 2].

    Moore & Glasberg (1993): ``ER = L_cu / (L_cu - HL)`` maps the threshold HL to 0 and the
    catch-up level to itself; ``ER - 1 = HL / (L_cu - HL)``.
    """
    max_hl = catch_up_db_spl - _MAX_HL_BELOW_CATCH_UP_DB
    hl = np.clip(_threshold_db_hl(ear, cf), 0.0, max_hl)
    exponents = hl / (catch_up_db_spl - hl)
    # The audiogram gives the threshold of a tone at its own frequency, and a broad band also
    # carries tones well away from its centre (MSBG's bands have shallow upper skirts): a band
    # carrying a tone that lies outside its own passband takes the threshold at the tone's
    # frequency, so that a tone below its threshold is not let through by a band centred
    # lower, with a lower threshold. Within a quarter of the band's (broadened) ERB of its
    # centre the centre's threshold applies, as in MSBG, and the two are blended over the
    # next quarter: the mean frequency of noise in a band lies 2-9 % above its centre (its
    # skirts are asymmetric), which would otherwise raise the band's expansion ratio on a
    # rising audiogram well beyond MSBG's.
    k = np.arange(-_RATIO_POINTS_PER_OCTAVE, _RATIO_POINTS_PER_OCTAVE + 1)
    octaves = k / _RATIO_POINTS_PER_OCTAVE
    f_table = cf[:, None] * 2.0 ** octaves[None, :]
    hl_table = np.clip(_threshold_db_hl(ear, f_table), 0.0, max_hl)
    own = np.log2(1.0 + _OWN_THRESHOLD_ERB * bw * erb_bandwidth_hz(cf) / cf)[:, None]
    blend = np.clip((np.abs(octaves)[None, :] - own) / own, 0.0, 1.0)
    hl_table = (1.0 - blend) * hl[:, None] + blend * hl_table
    return hl, exponents, hl_table / (catch_up_db_spl - hl_table)


def _envelope_lag_samples(env_coef: np.ndarray) -> int:
    """The delay of the band signals that centres each gain on the samples it scales.

    MSBG's envelope is zero-phase; ours lags by the centroid of the two one-poles' impulse
    response (n + 1) c^n, 2 c / (1 - c) samples. One lag for all bands (that of the bands
    above ~700 Hz, whose smoother is at its 75 Hz cap) keeps the delay a row of the band
    history; lower bands are centred to within 1-5 ms.
    """
    return max(1, int(round(float(np.min(2.0 * (1.0 - env_coef) / env_coef)))))


def _band_outer_middle_ear_gain(bank: RecruitmentBands, fs: float) -> np.ndarray:
    """Amplitude gain from free field to the cochlea of each band, for a flat spectrum.

    The outer/middle-ear gain weighted by the band's power response. The bands run on the
    free-field signal (smeared or not); only the level that drives the expansion is taken to
    the cochlea, so the output is Sum_b gain_b H_b X_free-field, as in MSBG (which runs the
    bank on the cochlear signal and filters the sum back to free field).
    """
    f_grid = np.linspace(20.0, 0.5 * fs, 4096)
    resp = np.abs(band_responses(bank.poles, bank.input_gains, bank.highpass, f_grid, fs)) ** 2
    ome_grid = db_to_power(outer_middle_ear_db(f_grid))
    return np.asarray(np.sqrt((ome_grid @ resp) / resp.sum(axis=0)))


def _check_smearing(name: str, value: Any) -> str | tuple[float, float]:
    if isinstance(value, str):
        return check_choice(name, value, SMEARING_CHOICES)
    if isinstance(value, list | tuple) and len(value) == 2:
        lower = check_real(f"{name} lower factor", value[0], low=1.0, high=8.0)
        upper = check_real(f"{name} upper factor", value[1], low=1.0, high=8.0)
        return (lower, upper)
    raise ConfigError(
        f"{name} must be one of 'auto', 'none', 'mild', 'moderate', 'severe' or a pair "
        f"(lower, upper) of broadening factors in [1, 8], got {value!r}"
    )


def _check_audiogram(name: str, value: Any) -> Audiogram:
    if not isinstance(value, Audiogram):
        raise ConfigError(f"{name} must be an Audiogram, got {type(value).__name__}")
    return value


def _check_audiogram_source(name: str, value: Any) -> Any:
    if not isinstance(value, str | dict):
        raise ConfigError(
            f"{name} must be a preset name, a file path or a table, "
            f"got {type(value).__name__}"
        )
    return value


@dataclass(frozen=True)
class HearingLossConfig:
    """Validated parameters of a :class:`HearingLossSimulator`.

    Parameters
    ----------
    audiogram : Audiogram
        Thresholds of both ears.
    fs : float
        Sample rate in Hz, in [16000, 96000] (16, 22.05, 44.1 and 48 kHz are tested).
    ear : str
        Ear simulated for one-channel input: ``"left"`` or ``"right"``.
    smearing : str or (float, float)
        ``"auto"``, ``"none"``, ``"mild"``, ``"moderate"``, ``"severe"`` or (lower, upper).
    catch_up_db_spl : float
        Loudness catch-up level at the cochlea in dB SPL, in [90, 120].
    """

    PARAMETERS: ClassVar[tuple[Param, ...]] = (
        Param("audiogram", "thresholds of both ears", kind="any", parse=_check_audiogram,
              values="Audiogram"),
        Param("fs", "sample rate (16, 22.05, 44.1 and 48 kHz are tested)", unit="Hz",
              low=FS_MIN_HZ, high=FS_MAX_HZ, hint="resample the signal first"),
        Param("ear", "ear whose audiogram a one-channel signal is simulated with; two "
              "channels are (left, right)", kind="choice", default="left", choices=EARS),
        Param("smearing", "spectral smearing: \"auto\" is the MSBG severity class of each ear "
              "(mean threshold at 2-8 kHz), or explicit broadening factors of the auditory "
              "filters", kind="any", default="auto", parse=_check_smearing,
              values="'auto', 'none', 'mild', 'moderate', 'severe' or [lower, upper] in "
              "[1, 8]"),
        Param("catch_up_db_spl", "level at the cochlea where the impaired loudness catches up "
              "with normal (MSBG: 105)", unit="dB SPL", default=CATCH_UP_DB_SPL, low=90.0,
              high=120.0),
    )

    audiogram: Audiogram
    fs: float
    ear: str = "left"
    smearing: str | tuple[float, float] = "auto"
    catch_up_db_spl: float = CATCH_UP_DB_SPL

    def __post_init__(self) -> None:
        v = validate(vars(self), self.PARAMETERS)
        object.__setattr__(self, "fs", v["fs"])
        object.__setattr__(self, "smearing", v["smearing"])


class _EarState:
    """C state of one ear (an ``al_hlsim_ear``) and every buffer it points into.

    Every buffer is written when it is bound (see :class:`audiolab._cstruct.CStruct`), so the
    engine's audio callback takes no first-touch page faults on its first blocks.
    """

    def __init__(self, d: HearingLossEarDesign, mode: int, c: Any, fft: CStruct | None):
        self.struct = CStruct(c)
        self.fft = fft
        nb = d.center_frequencies_hz.size
        lanes = int(lib.AL_HLSIM_LANES)
        self.n_lanes = -(-nb // lanes) * lanes  # per-band arrays are padded to whole vectors
        self._bind_band_design(d)
        self._bind_band_state(d)
        self.struct.set(smear_mode=mode)
        if mode != lib.AL_HLSIM_SMEAR_OFF:
            self._bind_frame(d)
        if mode == lib.AL_HLSIM_SMEAR_ON:
            assert fft is not None
            self._bind_smearing(d, fft)

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """Every array C reads or writes, by field name."""
        return self.struct.arrays

    def _padded(self, values: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Per-band values padded to ``n_lanes`` with ``fill`` (float64; bound as float32)."""
        out = np.full(self.n_lanes, fill)
        out[: values.size] = values
        return out

    def _bind_band_design(self, d: HearingLossEarDesign) -> None:
        """The recruitment bank's coefficients, weights, envelope and expansion tables."""
        s, nl, nb = self.struct, self.n_lanes, d.center_frequencies_hz.size
        hp = np.zeros((5, nl))
        hp[:, :nb] = d.highpass.T
        table = np.zeros((nl, d.exponent_table.shape[1]))
        table[:nb] = d.exponent_table
        # The kernel's centre frequencies are float32: cos(w_cf) and 1/w_cf are taken from those.
        cf = self._padded(d.center_frequencies_hz, 1000.0).astype(np.float32).astype(np.float64)
        for name, values in (
            ("pole_re", d.poles.real),
            ("pole_im", d.poles.imag),
            ("in_gain", d.input_gains),  # padding bands get no input
            ("weight", d.weights),
            ("env_coef", d.env_coef),
            ("env_scale", d.env_scale),
        ):
            s.bind(name, self._padded(values), length=nl, writable=False)
        s.bind("hp", hp, length=5 * nl, writable=False)
        s.bind("cos_cf", np.cos(2 * np.pi * cf / d.fs), length=nl, writable=False)
        s.bind("inv_omega", d.fs / (2 * np.pi * cf), length=nl, writable=False)
        s.bind("expo_table", table, length=nl * table.shape[1], writable=False)
        s.set(
            n_bands=nb, n_lanes=nl, gain_interval=d.gain_interval, env_floor=d.env_floor,
            n_ratio=d.exponent_table.shape[1], ratio_scale=d.ratio_points_per_octave,
            freq_coef=d.freq_coef, freq_every=d.freq_every, freq_count=0, count=0,
        )

    def _bind_band_state(self, d: HearingLossEarDesign) -> None:
        """The bank's filter, envelope, gain and mean-frequency state and its band history."""
        s, nl, nb = self.struct, self.n_lanes, d.center_frequencies_hz.size
        delays = d.band_delays_samples.astype(np.int64)
        max_delay = int(max(delays.max(), d.lag_samples))
        for name, n in (
            ("exponent", nl), ("yprev", nl), ("freq_acc", 2 * nl), ("freq_state", 4 * nl),
            ("state_re", 4 * nl), ("state_im", 4 * nl), ("hp_state", 2 * nl), ("env", 2 * nl),
            ("gain", nl), ("gain_step", nl),
            ("hist", (d.lag_samples + _HIST_ROWS) * nl + (max_delay + _HIST_ROWS) * nb),
            ("scratch", int(lib.AL_HLSIM_SCRATCH) * int(lib.AL_HLSIM_BLOCK) * nl),
        ):
            s.zeros(name, n)
        # Offsets from the current row, in the products (band-major runs of max_delay +
        # _HIST_ROWS samples, csrc/al_hlsim.h), of each band's product delayed by its delay.
        rows = max_delay + _HIST_ROWS
        s.bind("read_offset", np.arange(nb) * rows - delays, length=nb, writable=False)
        s.set(max_delay=max_delay, lag=d.lag_samples, hist_rows=_HIST_ROWS, row=max_delay)

    def _bind_frame(self, d: HearingLossEarDesign) -> None:
        """The smearing frame's window and overlap-add buffers (also run for its delay only)."""
        s, nf = self.struct, d.frame_len
        s.bind("window", d.window, length=nf, writable=False)
        s.bind("window_sq", d.window**2, length=nf, writable=False)
        s.zeros("in_buf", nf)
        s.zeros("acc", nf)
        s.set(frame_len=nf, hop=d.hop, phase=0)

    def _bind_smearing(self, d: HearingLossEarDesign, fft: CStruct) -> None:
        """The smearing matrix, outer/middle-ear gains, FFT work buffers, power correction."""
        assert d.smear is not None and d.ome_pow is not None
        s, nf = self.struct, d.frame_len
        values, start, length, offset = _blocked(d.smear)
        n_blocks = nf // int(lib.AL_HLSIM_ROWS)
        s.bind("smear", values, writable=False)
        s.bind("smear_start", start, length=n_blocks, writable=False)
        s.bind("smear_len", length, length=n_blocks, writable=False)
        s.bind("smear_offset", offset, length=n_blocks, writable=False)
        s.bind("ome_pow", d.ome_pow, length=nf, writable=False)
        s.bind("ome_amp", np.sqrt(d.ome_pow), length=nf, writable=False)
        batch = int(lib.AL_HLSIM_BATCH) * (int(lib.AL_HLSIM_FRAME_WORK) * nf + 4)
        frame = nf + (int(lib.AL_HLSIM_BATCH) - 1) * d.hop
        for name, n in (("acc_c", nf), ("frame", frame), ("batch", batch)):
            s.zeros(name, n)
        s.set(
            pc_coef=d.power_coef, pc_max_gain=d.power_max_gain, pc_spec=0.0, pc_e1=0.0,
            pc_e2=0.0, pc_spec_avg=0.0, pc_real_avg=0.0, fft=fft.c,
        )


def _blocked(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Storage of the smearing matrix for the C kernel (see ``al_hlsim_ear`` in al_hlsim.h).

    Rows are grouped in blocks of ``AL_HLSIM_ROWS``; each block keeps the columns from the first
    to the last holding an entry of at least _SMEAR_PRUNE of that row's largest, stored
    column by column (``(n_cols_kept, AL_HLSIM_ROWS)``). Pruned entries are zero.
    """
    rows = int(lib.AL_HLSIM_ROWS)
    keep = np.abs(m) >= _SMEAR_PRUNE * np.abs(m).max(axis=1, keepdims=True)
    values, start, length, offset = [], [], [], []
    pos = 0
    for b in range(m.shape[0] // rows):
        blk = slice(b * rows, (b + 1) * rows)
        cols = np.flatnonzero(keep[blk].any(axis=0))
        lo, hi = int(cols[0]), int(cols[-1]) + 1
        v = np.where(keep[blk, lo:hi], m[blk, lo:hi], 0.0)
        values.append(np.ascontiguousarray(v.T).ravel())
        start.append(lo)
        length.append(hi - lo)
        offset.append(pos)
        pos += v.size
    return (
        np.ascontiguousarray(np.concatenate(values), np.float32),
        np.asarray(start, np.int32),
        np.asarray(length, np.int32),
        np.asarray(offset, np.int32),
    )


def rfft_tables(n: int) -> dict[str, np.ndarray]:
    """Twiddle and bit-reversal tables of the C real FFT of size ``n`` (power of two >= 4)."""
    k = n // 2
    bits = max(int(math.log2(k)), 0)
    idx = np.arange(k)
    rev = np.zeros(k, np.int64)
    for b in range(bits):
        rev |= ((idx >> b) & 1) << (bits - 1 - b)
    tw = []
    h = 1
    while h < k:
        tw.append(np.exp(-1j * np.pi * np.arange(h) / h))
        h *= 2
    twc = np.concatenate(tw) if tw else np.zeros(0, complex)
    rtw = np.exp(-2j * np.pi * np.arange(k + 1) / n)
    return {
        "bitrev": rev.astype(np.int32),
        "tw_re": np.ascontiguousarray(twc.real, np.float32),
        "tw_im": np.ascontiguousarray(twc.imag, np.float32),
        "rtw_re": np.ascontiguousarray(rtw.real, np.float32),
        "rtw_im": np.ascontiguousarray(rtw.imag, np.float32),
        "work_re": np.zeros(k, np.float32),
        "work_im": np.zeros(k, np.float32),
    }


def new_rfft_plan(n: int) -> CStruct:
    """An ``al_rfft`` for size ``n`` (power of two >= 4) with its tables and work buffers.

    Returns
    -------
    CStruct
        ``.c`` is the ``al_rfft *`` to pass to C; the object keeps its buffers alive.
    """
    if n < 4 or n & (n - 1):
        raise ConfigError(f"n must be a power of two >= 4, got {n!r}")
    plan = CStruct("al_rfft", n=n)
    for name, values in rfft_tables(n).items():
        if name.startswith("work_"):
            plan.zeros(name, values.size)
        else:
            plan.bind(name, values, writable=False)
    return plan


class HearingLossSimulator(Processor):
    """Simulate a cochlear hearing loss (MSBG model), streaming, for normal-hearing listeners.

    Parameters
    ----------
    audiogram : Audiogram or str or pathlib.Path
        The listener's thresholds: an :class:`~audiolab.audiology.Audiogram`, a preset name
        (``"N1"``..``"N7"``, ``"S1"``..``"S3"``) or an audiogram file.
    fs : float
        Sample rate in Hz, in [16000, 96000].
    ear : {"left", "right"}
        Which ear's audiogram a one-channel block is simulated with. Two-channel blocks are
        (left, right), each with its own ear.
    smearing : str or (float, float)
        Spectral smearing: ``"auto"`` (MSBG severity class of each ear, from its mean threshold
        at 2-8 kHz), ``"none"``, ``"mild"``, ``"moderate"``, ``"severe"``, or explicit
        (lower, upper) broadening factors of the auditory filters, each in [1, 8].
    catch_up_db_spl : float
        Level (dB SPL at the cochlea) where the impaired loudness catches up with normal;
        MSBG uses 105.

    Notes
    -----
    Input and output are sound pressure in Pa, free-field frontal (levels in dB SPL as a
    free-field measurement at the listener's head position, as MSBG's ``src_pos="ff"``).
    Output has the input's length and is delayed by ``latency_samples`` (not compensated).
    See :mod:`audiolab.models._hearing_loss` for the model, its differences from MSBG and its
    limits.

    Examples
    --------
    >>> import numpy as np
    >>> from audiolab.models import HearingLossSimulator
    >>> sim = HearingLossSimulator("N3", fs=44100)
    >>> t = np.arange(44100) / 44100
    >>> x = (0.02 * np.sqrt(2) * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)  # 60 dB SPL
    >>> y = sim.process(np.stack([x, x]))
    >>> y.shape, sim.latency_samples
    ((2, 44100), 536)
    """

    def __init__(
        self,
        audiogram: AudiogramLike,
        *,
        fs: float,
        ear: str = "left",
        smearing: str | tuple[float, float] = "auto",
        catch_up_db_spl: float = CATCH_UP_DB_SPL,
    ) -> None:
        super().__init__()
        self._audiogram_source = audiogram
        ag = load_audiogram(audiogram)
        self.config = HearingLossConfig(
            audiogram=ag, fs=fs, ear=ear, smearing=smearing, catch_up_db_spl=catch_up_db_spl
        )
        self.fs = self.config.fs
        self.designs: dict[str, HearingLossEarDesign] = {
            side: design_hearing_loss_ear(
                ag.ear(side), fs=self.fs, smearing=self.config.smearing,
                catch_up_db_spl=self.config.catch_up_db_spl,
            )
            for side in EARS
        }
        self._state: Any = None
        self._c_stages: list[Any] = []

    # -- properties ---------------------------------------------------------------------------
    @property
    def audiogram(self) -> Audiogram:
        """The audiogram simulated."""
        return self.config.audiogram

    @property
    def any_smearing(self) -> bool:
        """True if either ear smears; both ears then run the smearing frame's delay."""
        return any(d.smear is not None for d in self.designs.values())

    @property
    def latency_samples(self) -> int:
        """Delay of the output in samples.

        Smearing frame - 1 (if either ear smears) + the filterbank's delay (where its impulse
        response peaks: 4.2 / 7.1 / 10.2 ms for the severe / moderate / mild bank) + the
        envelope lag (2.2 ms) that centres the gains: 536 samples (12.2 ms) for N3 at 44.1 kHz.
        """
        lag = max(d.lag_samples for d in self.designs.values())
        d = self.designs["left"]
        smear = d.frame_len - 1 if self.any_smearing else 0
        return smear + d.gt_delay_samples + lag

    def ears_for(self, n_channels: int) -> tuple[str, ...]:
        """The ear each channel is simulated with: (left, right) for 2, (``ear``,) for 1."""
        if n_channels == 2:
            return EARS
        if n_channels == 1:
            return (self.config.ear,)
        raise SignalError(
            f"hearing-loss simulation takes 1 channel (one ear, chosen by ear=) or 2 channels "
            f"(left, right), got {n_channels} channels"
        )

    # -- C state ------------------------------------------------------------------------------
    def _new_state(self, n_channels: int) -> tuple[Any, list[Any]]:
        sides = self.ears_for(n_channels)
        ears = ffi.new("al_hlsim_ear[]", n_channels)
        keep: list[Any] = [ears]
        for c, side in enumerate(sides):
            d = self.designs[side]
            if d.smear is not None:
                mode = lib.AL_HLSIM_SMEAR_ON
            elif self.any_smearing:
                mode = lib.AL_HLSIM_SMEAR_DELAY
            else:
                mode = lib.AL_HLSIM_SMEAR_OFF
            fft = new_rfft_plan(2 * d.frame_len) if mode == lib.AL_HLSIM_SMEAR_ON else None
            keep.append(_EarState(d, mode, ears[c], fft))
        s = CStruct("al_hlsim", n_channels=n_channels, ears=ears)
        keep.append(s)
        return s.c, keep

    def _allocate(self, n_channels: int) -> None:
        self._state = self._new_state(n_channels)

    def _process(self, x: np.ndarray) -> np.ndarray:
        status = lib.al_hlsim_process(
            self._state[0], float_buffer(x, "block"), x.shape[0], x.shape[1]
        )
        check(status, "al_hlsim_process")
        return x

    def c_stage(self, n_channels: int) -> tuple[Any, Any]:
        """C stage for the real-time engine: (``al_stage_fn``, ``void *`` state) at rest.

        Parameters
        ----------
        n_channels : int
            1 (the ``ear``) or 2 (left, right).

        Returns
        -------
        tuple
            The function pointer and the state pointer; this object keeps the state's buffers
            alive.
        """
        self.ears_for(n_channels)
        state, keep = self._new_state(n_channels)
        self._c_stages.append(keep)
        fn = ffi.cast("al_stage_fn", ffi.addressof(lib, "al_hlsim_process"))
        return fn, ffi.cast("void *", state)

    # -- chain stage --------------------------------------------------------------------------
    # A chain names the audiogram (the config holds it loaded) and sets fs for every stage.
    CHAIN_PARAMETERS: ClassVar[tuple[Param, ...]] = (
        Param("audiogram", "the listener: a preset name such as \"N3\", an audiogram file path "
              "or a table with left and right (audiolab's audiogram JSON)", kind="any",
              parse=_check_audiogram_source, values="preset, path or table"),
        *without(HearingLossConfig.PARAMETERS, "audiogram", "fs"),
    )

    @classmethod
    def from_chain_table(cls, table: dict[str, Any], *, fs: float) -> "HearingLossSimulator":
        """Build from a chain file's ``[[stage]]`` table (without ``type``).

        Its keys are :attr:`CHAIN_PARAMETERS`: ``audiogram`` (required), ``ear``, ``smearing``
        (a name or ``[lower, upper]``), ``catch_up_db_spl``.
        """
        kwargs = check_table(table, cls.CHAIN_PARAMETERS, stage_type="hearing-loss")
        source = kwargs.pop("audiogram")
        if isinstance(source, dict):
            source = _from_json_doc(
                source, where="hearing-loss stage 'audiogram'", name="audiogram", listener=None
            )
        if isinstance(kwargs.get("smearing"), list):
            kwargs["smearing"] = tuple(kwargs["smearing"])
        return cls(source, fs=fs, **kwargs)

    def to_chain_table(self) -> dict[str, Any]:
        """The ``[[stage]]`` table (without ``type``) that rebuilds this simulator."""
        src = self._audiogram_source
        audiogram: Any
        if isinstance(src, str | Path):
            audiogram = str(src)
        elif STANDARD_AUDIOGRAMS.get(self.audiogram.name) == self.audiogram:
            audiogram = self.audiogram.name
        else:
            audiogram = self.audiogram.to_dict()
        smearing = self.config.smearing
        return {
            "audiogram": audiogram,
            "ear": self.config.ear,
            "smearing": list(smearing) if isinstance(smearing, tuple) else smearing,
            "catch_up_db_spl": self.config.catch_up_db_spl,
        }
