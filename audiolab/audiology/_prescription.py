"""Linear prescription rules: insertion gain from the audiogram of one ear.

- NAL-R: Byrne D, Dillon H (1986). The National Acoustic Laboratories' (NAL) new procedure for
  selecting the gain and frequency response of a hearing aid. Ear and Hearing 7(4):257-265.
- Half-gain rule: insertion gain = half the hearing loss (Lybarger 1944, the classic rule).
- POGO: McCandless GA, Lyregaard PE (1983). Prescription of gain/output (POGO) for hearing aids.
  Hearing Instruments 34(1):16-21.

Every rule is evaluated at any frequency: the threshold comes from the audiogram interpolated on
log frequency (constant beyond its ends), and a rule's frequency-dependent constant is
interpolated on log frequency between the frequencies of its published table and held at the
end values beyond them (so NAL-R uses -17 dB below 250 Hz and -2 dB above 6 kHz; POGO uses
-10 dB below 250 Hz and 0 dB from 1 kHz up). Insertion gains below 0 dB are set to 0 dB: a
prescription never asks a hearing aid to attenuate (Byrne & Dillon 1986 do so for NAL-R).
"""

import numpy as np
from numpy.typing import ArrayLike

from audiolab._errors import ConfigError, SignalTypeError
from audiolab.audiology._audiogram import EarAudiogram

__all__ = ["RULES", "RULE_SOURCES", "prescribe"]

RULES: tuple[str, ...] = ("nal-r", "half-gain", "pogo")

RULE_SOURCES: dict[str, str] = {
    "nal-r": "Byrne & Dillon (1986), Ear and Hearing 7(4):257-265",
    "half-gain": "half-gain rule (Lybarger 1944): G = 0.5 H",
    "pogo": "McCandless & Lyregaard (1983), Hearing Instruments 34(1):16-21",
}

# Byrne & Dillon (1986): k(f) in dB at the audiometric frequencies.
_NAL_R_F_HZ = np.array([250.0, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000])
_NAL_R_K_DB = np.array([-17.0, -8, -3, 1, 1, -1, -2, -2, -2])
# McCandless & Lyregaard (1983): half gain less 10 dB at 250 Hz and 5 dB at 500 Hz.
_POGO_F_HZ = np.array([250.0, 500, 1000])
_POGO_C_DB = np.array([-10.0, -5, 0])


def _table_at(f_hz: np.ndarray, table_f_hz: np.ndarray, table_db: np.ndarray) -> np.ndarray:
    # Log-frequency interpolation, end values held beyond the table (module docstring).
    return np.interp(np.log(f_hz), np.log(table_f_hz), table_db)


def prescribe(ear: EarAudiogram, rule: str, frequencies_hz: ArrayLike) -> np.ndarray:
    """Insertion gain in dB that a linear rule prescribes for one ear.

    Parameters
    ----------
    ear : EarAudiogram
        Thresholds (dB HL) of the ear being fitted; only air conduction is used.
    rule : {"nal-r", "half-gain", "pogo"}
        NAL-R: G(f) = X + 0.31 H(f) + k(f), X = 0.05 (H500 + H1000 + H2000) (Byrne & Dillon
        1986); half-gain: G(f) = 0.5 H(f); POGO: G(f) = 0.5 H(f) + c(f), c = -10 dB at 250 Hz,
        -5 dB at 500 Hz, 0 from 1 kHz (McCandless & Lyregaard 1983).
    frequencies_hz : array_like
        Frequencies in Hz (positive, finite) at which to prescribe; any frequency is allowed
        (see the module docstring for the extrapolation).

    Returns
    -------
    numpy.ndarray
        float64 insertion gains in dB, >= 0, one per frequency (1-D).

    Examples
    --------
    >>> from audiolab.audiology import EarAudiogram
    >>> ear = EarAudiogram([250, 500, 1000, 2000, 4000, 6000], [20, 25, 30, 40, 55, 60])
    >>> prescribe(ear, "nal-r", [250, 500, 1000, 2000, 4000, 6000]).round(2).tolist()
    [0.0, 4.5, 15.05, 16.15, 19.8, 21.35]
    """
    if not isinstance(ear, EarAudiogram):
        raise SignalTypeError(
            f"ear must be an EarAudiogram (e.g. load_audiogram('N3').left), "
            f"got {type(ear).__name__}"
        )
    if rule not in RULES:
        raise ConfigError(f"rule must be one of {', '.join(map(repr, RULES))}, got {rule!r}")
    try:
        f = np.atleast_1d(np.asarray(frequencies_hz, dtype=np.float64))
    except (TypeError, ValueError):
        raise ConfigError(f"frequencies_hz must be numbers, got {frequencies_hz!r}") from None
    if f.ndim != 1 or not np.isfinite(f).all() or (f <= 0).any():
        raise ConfigError(
            f"frequencies_hz must be a 1-D list of finite positive numbers, got {frequencies_hz!r}"
        )
    h = ear.threshold_db_hl_at(f)
    if rule == "nal-r":
        x = 0.05 * float(np.sum(ear.threshold_db_hl_at([500.0, 1000.0, 2000.0])))
        gain = x + 0.31 * h + _table_at(f, _NAL_R_F_HZ, _NAL_R_K_DB)
    elif rule == "half-gain":
        gain = 0.5 * h
    else:
        gain = 0.5 * h + _table_at(f, _POGO_F_HZ, _POGO_C_DB)
    return np.maximum(gain, 0.0)
