"""RETSPL tables (ISO 389) and the dB HL <-> dB SPL conversion.

A hearing level of 0 dB HL at frequency f is, by definition, the reference equivalent threshold
sound pressure level RETSPL(f) of the transducer, measured in the coupler the standard names. The
tables ship with the package (``audiolab/data/retspl.toml``) together with their standard and
coupler. Between tabulated frequencies the value is interpolated linearly on log frequency (an
approximation: the standards tabulate the intermediate frequencies they define); outside the
tabulated range a conversion is refused.
"""

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from audiolab._errors import CalibrationError

__all__ = [
    "FREE_FIELD",
    "RETSPL_TABLES",
    "RetsplTable",
    "db_hl_to_db_spl",
    "db_spl_to_db_hl",
    "interp_log_frequency",
    "retspl_table",
]

FREE_FIELD = "free-field"
"""Transducer name of a loudspeaker calibration: levels are dB SPL only, there is no RETSPL."""


def interp_log_frequency(
    frequency_hz: ArrayLike,
    table_hz: np.ndarray,
    table_values: np.ndarray,
    *,
    what: str,
) -> np.ndarray:
    """Interpolate ``table_values`` linearly on log frequency; refuse outside the table's range.

    Parameters
    ----------
    frequency_hz : array_like
        Frequencies in Hz, each within ``[table_hz[0], table_hz[-1]]``.
    table_hz, table_values : ndarray
        Ascending frequencies in Hz and the values there.
    what : str
        Name of the table, used in the error message.

    Returns
    -------
    ndarray, float64
        The interpolated values, same shape as ``frequency_hz``.
    """
    f = np.asarray(frequency_hz, dtype=float)
    lo, hi = float(table_hz[0]), float(table_hz[-1])
    # A half-cent tolerance absorbs float round-off in frequencies computed by callers.
    tol = 1e-4
    outside = ~np.isfinite(f) | (f < lo * (1 - tol)) | (f > hi * (1 + tol))
    if outside.any():
        bad = f[outside].ravel()[0]
        raise CalibrationError(
            f"frequency_hz {float(bad):g} is outside the range of {what} "
            f"({lo:g}-{hi:g} Hz); audiolab does not extrapolate calibration data"
        )
    fc = np.clip(f, lo, hi)
    return np.interp(np.log(fc), np.log(table_hz), table_values)


@dataclass(frozen=True)
class RetsplTable:
    """One RETSPL table: transducer, standard, coupler and the values in dB SPL.

    Attributes
    ----------
    name : str
        Short name used in calibration files (``transducer = "TDH-39"``).
    transducer, standard, coupler : str
        What was measured, the standard that lists it, and the coupler or ear simulator.
    frequencies_hz : ndarray
        Tabulated frequencies in Hz, ascending.
    retspl_db_spl : ndarray
        RETSPL in dB re 20 uPa at those frequencies.
    """

    name: str
    transducer: str
    standard: str
    coupler: str
    frequencies_hz: np.ndarray
    retspl_db_spl: np.ndarray

    def at(self, frequency_hz: ArrayLike) -> np.ndarray:
        """RETSPL in dB SPL at ``frequency_hz`` (interpolated on log frequency between entries)."""
        return interp_log_frequency(
            frequency_hz, self.frequencies_hz, self.retspl_db_spl,
            what=f"the {self.name} RETSPL table ({self.standard})",
        )


def _load_tables() -> Mapping[str, RetsplTable]:
    text = resources.files("audiolab").joinpath("data/retspl.toml").read_text(encoding="utf-8")
    doc: dict[str, Any] = tomllib.loads(text)
    tables = {}
    for t in doc["table"]:
        f = np.asarray(t["frequencies_hz"], dtype=float)
        v = np.asarray(t["retspl_db_spl"], dtype=float)
        if f.shape != v.shape or f.size < 2 or np.any(np.diff(f) <= 0):
            raise CalibrationError(f"the shipped RETSPL table {t['name']!r} is malformed")
        f.flags.writeable = False
        v.flags.writeable = False
        tables[t["name"]] = RetsplTable(
            name=t["name"], transducer=t["transducer"], standard=t["standard"],
            coupler=t["coupler"], frequencies_hz=f, retspl_db_spl=v,
        )
    return MappingProxyType(tables)


RETSPL_TABLES: Mapping[str, RetsplTable] = _load_tables()
"""The shipped RETSPL tables by name: TDH-39, HDA-200, ER-3A/HA-2, ER-3A/IEC-711."""


def retspl_table(name: str) -> RetsplTable:
    """Return the RETSPL table called ``name`` (case-insensitive).

    Raises
    ------
    CalibrationError
        If there is no such table (``free-field`` has none: it is dB SPL only).
    """
    if isinstance(name, str):
        for key, table in RETSPL_TABLES.items():
            if key.lower() == name.lower():
                return table
    if name == FREE_FIELD:
        raise CalibrationError(
            "transducer 'free-field' has no RETSPL table: a free-field calibration converts "
            "dB SPL only, not dB HL"
        )
    raise CalibrationError(
        f"transducer must be one of {', '.join(map(repr, RETSPL_TABLES))} or {FREE_FIELD!r}, "
        f"got {name!r}"
    )


def _finite(name: str, value: ArrayLike) -> np.ndarray:
    a = np.asarray(value, dtype=float)
    if a.size and not np.isfinite(a).all():
        raise CalibrationError(f"{name} must be finite, got {value!r}")
    return a


def db_hl_to_db_spl(
    level_db_hl: ArrayLike, *, frequency_hz: ArrayLike, transducer: str
) -> np.ndarray:
    """Convert a hearing level to the sound pressure level in the transducer's coupler.

    Parameters
    ----------
    level_db_hl : array_like
        Hearing level in dB HL.
    frequency_hz : array_like
        Tone frequency in Hz (broadcast against ``level_db_hl``).
    transducer : str
        RETSPL table name, e.g. ``"TDH-39"``.

    Returns
    -------
    ndarray
        ``level_db_hl + RETSPL(frequency_hz)`` in dB SPL.

    Examples
    --------
    >>> float(db_hl_to_db_spl(40.0, frequency_hz=1000, transducer="TDH-39"))
    47.0
    """
    table = retspl_table(transducer)
    return _finite("level_db_hl", level_db_hl) + table.at(frequency_hz)


def db_spl_to_db_hl(
    level_db_spl: ArrayLike, *, frequency_hz: ArrayLike, transducer: str
) -> np.ndarray:
    """Inverse of :func:`db_hl_to_db_spl`: ``level_db_spl - RETSPL(frequency_hz)`` in dB HL."""
    table = retspl_table(transducer)
    return _finite("level_db_spl", level_db_spl) - table.at(frequency_hz)

