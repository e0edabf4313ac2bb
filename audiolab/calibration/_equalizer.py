"""Frequency-dependent output calibration: the engine's output equaliser per channel.

Inside the engine a sample is sound pressure in pascal. On output channel c the engine turns it
into a digital value with one broadband factor (the full-scale level at the reference frequency,
1 kHz) *and* an equaliser whose gain at frequency f is ``full_scale(ref) - full_scale(f)`` dB, so
that a sine of any calibrated frequency leaves the sound card at exactly the digital level that
produces its pressure: ``level_dbfs = level_db_spl - full_scale_db_spl(f)``.

The target between measured frequencies is the calibration's own interpolation, linear on log
frequency; outside the measured range it is **held flat** at the value of the nearest measured
frequency (the calibration says nothing there; the conversion functions refuse such tones, the
equaliser has to do something with broadband sound). Measured frequencies at or above
``0.45 fs`` cannot be equalised and are left out (the equaliser holds flat from the highest one
below).

Design: a cascade of second-order high-shelving sections (Bristow-Johnson, "Cookbook formulae
for audio equalizer biquad filter coefficients"), two per pair of neighbouring measured
frequencies (a quarter and three quarters of the way on log frequency, sharing one gain, so a
segment can rise up to ~24 dB per octave) plus one "closing" shelf beyond each end of the
range, and a broadband gain. The gains (and the shelves' common Q, the best of a few
candidates) are found by least squares on a log-frequency grid (24 points per octave, one octave
beyond each end), then the broadband and segment gains are solved again (Newton) so that the
response passes through every measured point (to 1e-7 dB). Shelving biquads are minimum phase,
so the inverse cascade (the model of the transducer behind the meters) is stable too. The
cascade runs in C inside the engine (``al_sos_process``), live and offline alike.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from audiolab._errors import CalibrationError
from audiolab._validate import check_real
from audiolab.calibration._calibration import REFERENCE_FREQUENCY_HZ, ChannelCalibration
from audiolab.dsp._units import amplitude_to_db, db_to_amplitude

__all__ = [
    "MAX_EQ_SECTIONS",
    "NYQUIST_FRACTION",
    "OutputEqualizer",
    "design_output_equalizer",
    "inverse_sos",
]

MAX_EQ_SECTIONS = 64
"""Largest cascade the engine accepts per channel (csrc/al_engine.h, AL_ENGINE_MAX_EQ_SECTIONS)."""

NYQUIST_FRACTION = 0.45
"""Measured frequencies at or above this fraction of fs are not equalised (shelves warp there)."""

POINT_TOLERANCE_DB = 0.01
"""The design must pass this close to every measured point (issue 5 allows 0.1 dB)."""

_Q_CANDIDATES = (0.9, 1.2, 1.6, 2.0)
_POSITIONS = (0.25, 0.75)
_CLOSE_RATIO = 1.5     # closing shelves sit this factor beyond the ends of the measured range
_GRID_PER_OCTAVE = 24
_FAR_WEIGHT = 0.3
_CHECK_PER_OCTAVE = 96


def _high_shelf(f0_hz: np.ndarray, gain_db: np.ndarray, q: float, fs: float) -> np.ndarray:
    """High-shelf biquads, ``(n, 6)``, a0 = 1 (Audio EQ Cookbook, R. Bristow-Johnson)."""
    a = db_to_amplitude(np.asarray(gain_db, float) / 2.0)  # the cookbook's A = 10^(gain/40)
    w0 = 2.0 * np.pi * np.asarray(f0_hz, float) / fs
    cw = np.cos(w0)
    alpha = np.sin(w0) / (2.0 * q)
    sa = 2.0 * np.sqrt(a) * alpha
    b0 = a * ((a + 1) + (a - 1) * cw + sa)
    b1 = -2 * a * ((a - 1) + (a + 1) * cw)
    b2 = a * ((a + 1) + (a - 1) * cw - sa)
    a0 = (a + 1) - (a - 1) * cw + sa
    a1 = 2 * ((a - 1) - (a + 1) * cw)
    a2 = (a + 1) - (a - 1) * cw - sa
    return np.stack([b0, b1, b2, a0, a1, a2], axis=-1) / a0[..., None]


def _sections_db(sos: np.ndarray, frequency_hz: np.ndarray, fs: float) -> np.ndarray:
    """Magnitude in dB of each section, ``(n_sections, n_frequencies)``."""
    z = np.exp(-1j * 2 * np.pi * np.asarray(frequency_hz, float) / fs)
    s = np.atleast_2d(sos)[:, :, None]
    num = s[:, 0] + s[:, 1] * z + s[:, 2] * z * z
    den = s[:, 3] + s[:, 4] * z + s[:, 5] * z * z
    return amplitude_to_db(np.abs(num) / np.abs(den))


def inverse_sos(sos: np.ndarray) -> np.ndarray:
    """The exact inverse cascade (zeros and poles swapped), normalised to a0 = 1.

    Used for the transducer model behind the meters; stable when ``sos`` is minimum phase.
    """
    s = np.atleast_2d(np.asarray(sos, float))
    inv = np.concatenate([s[:, 3:6], s[:, 0:3]], axis=1)
    return inv / inv[:, 3:4]


def _log_interp_flat(f_hz: np.ndarray, fp: np.ndarray, vp: np.ndarray) -> np.ndarray:
    """Linear on log frequency between the points, held flat beyond them."""
    return np.interp(np.log(np.clip(f_hz, fp[0], fp[-1])), np.log(fp), vp)


@dataclass(frozen=True)
class OutputEqualizer:
    """The designed output equaliser of one channel (see the module docstring).

    Attributes
    ----------
    channel : int
        Output channel.
    fs : float
        Sample rate in Hz it was designed for.
    reference_frequency_hz, reference_full_scale_db_spl : float
        Where the equaliser's gain is 0 dB, and the full-scale level there (the broadband
        factor of the engine's output calibration).
    frequencies_hz, target_gain_db : ndarray
        Measured frequencies it was designed for and the gain wanted there,
        ``full_scale(ref) - full_scale(f)`` dB.
    sos : ndarray, (n_sections, 6), float64
        The cascade (a0 = 1). No sections: the channel's calibration is flat.
    q : float
        Common Q of the shelving sections.
    error_at_points_db : float
        Largest |realised - wanted| at the measured frequencies.
    error_between_db : float
        Largest deviation from the log-frequency interpolation of the table between the lowest
        and the highest equalised frequency (96 points per octave).
    error_outside_db : float
        Largest deviation from the held-flat value within one octave beyond each end (below
        ``NYQUIST_FRACTION * fs``).
    ignored_frequencies_hz : tuple of float
        Measured frequencies at or above ``NYQUIST_FRACTION * fs``, left out of the design.
    """

    channel: int
    fs: float
    reference_frequency_hz: float
    reference_full_scale_db_spl: float
    frequencies_hz: np.ndarray
    target_gain_db: np.ndarray
    sos: np.ndarray
    q: float
    error_at_points_db: float
    error_between_db: float
    error_outside_db: float
    ignored_frequencies_hz: tuple[float, ...]

    @property
    def n_sections(self) -> int:
        """Biquads in the cascade (0 for a flat calibration)."""
        return int(self.sos.shape[0])

    def gain_db(self, frequency_hz: ArrayLike) -> np.ndarray:
        """Realised gain in dB at ``frequency_hz`` (0 at the reference frequency)."""
        f = np.asarray(frequency_hz, float)
        if self.n_sections == 0:
            return np.zeros(f.shape)
        return _sections_db(self.sos, f.ravel(), self.fs).sum(axis=0).reshape(f.shape)

    def full_scale_db_spl_at(self, frequency_hz: ArrayLike) -> np.ndarray:
        """DB SPL a full-scale sine at ``frequency_hz`` stands for in the engine (realised)."""
        return self.reference_full_scale_db_spl - self.gain_db(frequency_hz)

    def describe(self) -> dict[str, Any]:
        """The design, for stats files and recording manifests."""
        lo, hi = float(self.frequencies_hz[0]), float(self.frequencies_hz[-1])
        return {
            "channel": self.channel,
            "fs": self.fs,
            "method": "shelving biquad cascade, least squares on log frequency, exact at the "
                      "measured frequencies",
            "reference_frequency_hz": self.reference_frequency_hz,
            "reference_full_scale_db_spl": self.reference_full_scale_db_spl,
            "frequencies_hz": [float(f) for f in self.frequencies_hz],
            "target_gain_db": [round(float(g), 6) for g in self.target_gain_db],
            "n_sections": self.n_sections,
            "q": self.q,
            "sos": self.sos.tolist(),
            "max_error_at_measured_db": self.error_at_points_db,
            "max_error_between_db": self.error_between_db,
            "max_error_outside_db": self.error_outside_db,
            "held_flat_below_hz": lo,
            "held_flat_above_hz": hi,
            "ignored_frequencies_hz": list(self.ignored_frequencies_hz),
        }


def _solve(fp: np.ndarray, vp: np.ndarray, q: float, fs: float) -> np.ndarray:
    """Fit the broadband gain and the shelf gains for one Q; returns the cascade."""
    from scipy.optimize import least_squares

    f_max = NYQUIST_FRACTION * fs
    n_seg = fp.size - 1
    # Two shelves per segment (a quarter and three quarters of the way on log frequency) share
    # its gain: twice the slope one second-order shelf can make (12 dB/octave), and a smoother
    # ramp. With many points one shelf per segment, so that the cascade stays within bounds.
    positions = _POSITIONS if 2 * (n_seg + 2) <= MAX_EQ_SECTIONS else (0.5,)
    lf = np.log(fp)
    seg = [np.exp(lf[:-1] + (lf[1:] - lf[:-1]) * t) for t in positions]
    centres = [fp[0] / _CLOSE_RATIO, *[s[j] for j in range(n_seg) for s in seg]]
    closing_high = fp[-1] * _CLOSE_RATIO < f_max
    if closing_high:
        centres.append(fp[-1] * _CLOSE_RATIO)
    c = np.asarray(centres)
    # Parameters: broadband gain, low closing shelf, one gain per segment, high closing shelf.
    n_par = 1 + n_seg + int(closing_high)
    share = np.zeros((c.size, n_par))
    share[0, 0] = 1.0
    for j in range(n_seg):
        share[1 + j * len(positions): 1 + (j + 1) * len(positions), 1 + j] = 1.0 / len(positions)
    if closing_high:
        share[-1, -1] = 1.0
    # The grid reaches 3 octaves below the range and up to f_max: flat far out matters too,
    # but less than the octave next to the range.
    lo = fp[0] / 8
    n_octaves = math.log2(f_max / lo)
    grid = np.geomspace(lo, f_max, int(n_octaves * _GRID_PER_OCTAVE) + 2)
    f_all = np.concatenate([grid, fp])
    want = np.concatenate([_log_interp_flat(grid, fp, vp), vp])
    near = (grid >= fp[0] / 2) & (grid <= 2 * fp[-1])
    weight = np.concatenate([np.where(near, 1.0, _FAR_WEIGHT), np.full(fp.size, 10.0)])
    h = 1e-4

    def build(p: np.ndarray) -> np.ndarray:
        sos = _high_shelf(c, share @ p[1:], q, fs)
        sos[0, :3] *= db_to_amplitude(p[0])
        return sos

    def columns(p: np.ndarray, f: np.ndarray) -> np.ndarray:
        # d(total dB)/d(parameter): the broadband gain adds 1; a shelf only moves its own term.
        g = share @ p[1:]
        base = _sections_db(_high_shelf(c, g, q, fs), f, fs)
        moved = _sections_db(_high_shelf(c, g + h, q, fs), f, fs)
        return np.concatenate([np.ones((1, f.size)), share.T @ ((moved - base) / h)]).T

    def residual(p: np.ndarray) -> np.ndarray:
        return (_sections_db(build(p), f_all, fs).sum(axis=0) - want) * weight

    p0 = np.concatenate([[vp[0], 0.0], np.diff(vp), [0.0] * int(closing_high)])
    with np.errstate(all="ignore"):
        fit = least_squares(residual, p0, jac=lambda p: columns(p, f_all) * weight[:, None],
                            method="lm", max_nfev=400)
        p = fit.x
        # Newton on the broadband and the segment gains: exact at every measured point.
        free = np.delete(np.arange(2 + n_seg), 1)  # the closing shelves stay as fitted
        for _ in range(50):
            err = _sections_db(build(p), fp, fs).sum(axis=0) - vp
            if not np.isfinite(err).all() or np.max(np.abs(err)) < 1e-7:
                break
            step = np.linalg.lstsq(columns(p, fp)[:, free], err, rcond=None)[0]
            p[free] -= step * min(1.0, 6.0 / max(float(np.max(np.abs(step))), 1e-12))
        return build(p)


def design_output_equalizer(channel: ChannelCalibration, *, fs: float) -> OutputEqualizer:
    """Design the output equaliser of one calibrated channel at sample rate ``fs``.

    Parameters
    ----------
    channel : ChannelCalibration
        The channel's calibration table.
    fs : float
        Sample rate in Hz.

    Returns
    -------
    OutputEqualizer

    Raises
    ------
    CalibrationError
        The table is too steep for the equaliser to pass within 0.01 dB of every measured point.

    Examples
    --------
    >>> import numpy as np
    >>> from audiolab.calibration import ChannelCalibration, design_output_equalizer
    >>> ch = ChannelCalibration(0, "left", np.array([250.0, 1000.0, 4000.0]),
    ...                         np.array([104.0, 107.0, 103.0]))
    >>> eq = design_output_equalizer(ch, fs=48000)
    >>> np.round(eq.gain_db([250, 1000, 4000]), 3) + 0.0  # full_scale(1 kHz) - full_scale(f)
    array([3., 0., 4.])
    """
    fs = check_real("fs", fs, low=1000, high=768000)
    f_all = np.asarray(channel.frequencies_hz, float)
    ref_hz = float(np.clip(REFERENCE_FREQUENCY_HZ, f_all[0], f_all[-1]))
    ref_db = float(channel.full_scale_db_spl_at(ref_hz))
    usable = f_all < NYQUIST_FRACTION * fs
    fp = f_all[usable]
    vp = ref_db - np.asarray(channel.full_scale_db_spl, float)[usable]
    ignored = tuple(float(f) for f in f_all[~usable])

    def result(sos: np.ndarray, q: float, errors: tuple[float, float, float]) -> OutputEqualizer:
        fz, vz = fp.copy(), vp.copy()
        sos = np.ascontiguousarray(sos, np.float64)
        for a in (fz, vz, sos):
            a.flags.writeable = False
        return OutputEqualizer(
            channel=channel.index, fs=fs, reference_frequency_hz=ref_hz,
            reference_full_scale_db_spl=ref_db, frequencies_hz=fz, target_gain_db=vz, sos=sos,
            q=q, error_at_points_db=errors[0], error_between_db=errors[1],
            error_outside_db=errors[2], ignored_frequencies_hz=ignored,
        )

    if fp.size == 0:
        raise CalibrationError(
            f"output channel {channel.index}'s calibration has no frequency below "
            f"{NYQUIST_FRACTION:g} x fs = {NYQUIST_FRACTION * fs:g} Hz: it cannot be used at "
            f"fs = {fs:g} Hz"
        )
    if fp.size + 1 > MAX_EQ_SECTIONS:
        raise CalibrationError(
            f"output channel {channel.index}'s calibration lists {fp.size} frequencies below "
            f"{NYQUIST_FRACTION * fs:g} Hz; the output equaliser takes at most "
            f"{MAX_EQ_SECTIONS - 1}"
        )
    if np.all(np.abs(vp - vp[0]) < 1e-9):
        # Flat table: one broadband gain (none at all when it is 0 dB, as in uncalibrated mode).
        sos = np.zeros((0, 6)) if abs(vp[0]) < 1e-12 else np.array(
            [[float(db_to_amplitude(vp[0])), 0.0, 0.0, 1.0, 0.0, 0.0]])
        return result(sos, 0.0, (0.0, 0.0, 0.0))
    best: tuple[float, np.ndarray, float, tuple[float, float, float]] | None = None
    for q in _Q_CANDIDATES:
        try:
            sos = _solve(fp, vp, q, fs)
        except (ValueError, np.linalg.LinAlgError):
            continue
        if not np.isfinite(sos).all():
            continue
        errors = _errors(sos, fp, vp, fs)
        score = max(errors[1], errors[2]) if errors[0] <= POINT_TOLERANCE_DB else math.inf
        if best is None or score < best[0]:
            best = (score, sos, q, errors)
    if best is None or not math.isfinite(best[0]):
        slopes = np.abs(np.diff(vp) / np.diff(np.log2(fp)))
        k = int(np.argmax(slopes))
        raise CalibrationError(
            f"output channel {channel.index}'s calibration changes by {slopes[k]:.1f} dB per "
            f"octave between {fp[k]:g} and {fp[k + 1]:g} Hz: too steep for the output "
            "equaliser to follow within 0.01 dB; check the measurement"
        )
    return result(best[1], best[2], best[3])


def _errors(
    sos: np.ndarray, fp: np.ndarray, vp: np.ndarray, fs: float
) -> tuple[float, float, float]:
    """(at the points, between them, within an octave outside) in dB."""
    with np.errstate(all="ignore"):
        return _errors_unchecked(sos, fp, vp, fs)


def _errors_unchecked(
    sos: np.ndarray, fp: np.ndarray, vp: np.ndarray, fs: float
) -> tuple[float, float, float]:
    at_points = float(np.max(np.abs(_sections_db(sos, fp, fs).sum(axis=0) - vp)))
    n = max(int(math.log2(fp[-1] / fp[0]) * _CHECK_PER_OCTAVE), 2)
    inside = np.geomspace(fp[0], fp[-1], n)
    between = float(np.max(np.abs(
        _sections_db(sos, inside, fs).sum(axis=0) - _log_interp_flat(inside, fp, vp)
    )))
    hi = min(2 * fp[-1], NYQUIST_FRACTION * fs)
    outside = np.concatenate([
        np.geomspace(fp[0] / 2, fp[0], _CHECK_PER_OCTAVE),
        np.geomspace(fp[-1], hi, _CHECK_PER_OCTAVE) if hi > fp[-1] else np.zeros(0),
    ])
    out = float(np.max(np.abs(
        _sections_db(sos, outside, fs).sum(axis=0) - _log_interp_flat(outside, fp, vp)
    )))
    return at_points, between, out
