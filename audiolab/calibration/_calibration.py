"""Device calibration files (TOML): loading, strict validation, writing, level conversions.

A calibration file describes one setup (sound card + transducer). Its values say which sound
pressure level a *full-scale sine* (peak 1.0, 0 dBFS) produces at each measured frequency on each
output channel. Between measured frequencies the value is interpolated linearly on log frequency;
outside the measured range audiolab refuses to convert rather than extrapolate.

Inside the engine a sample is sound pressure in pascal. On output channel c the engine turns it
into digital values with one broadband factor, the full-scale level at the *reference frequency*
(1 kHz, or the nearest measured frequency when 1 kHz is outside the measured range), and an
output equaliser whose gain at f is :meth:`Calibration.frequency_correction_db`
(:mod:`audiolab.calibration._equalizer`), so a sine in pascal at any calibrated frequency leaves
the sound card at exactly the digital level that produces it.
"""

import datetime as _dt
import hashlib
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from audiolab._errors import CalibrationError
from audiolab.calibration._retspl import (
    FREE_FIELD,
    RETSPL_TABLES,
    interp_log_frequency,
    retspl_table,
)
from audiolab.calibration._units import digital_to_pa_scale

__all__ = [
    "DEFAULT_MAX_AGE_DAYS",
    "REFERENCE_FREQUENCY_HZ",
    "UNCALIBRATED_CEILING_DBFS",
    "UNCALIBRATED_FULL_SCALE_DB_SPL",
    "Calibration",
    "CalibrationAgeWarning",
    "ChannelCalibration",
    "calibration_to_toml",
    "db_hl_to_dbfs",
    "db_spl_to_dbfs",
    "dbfs_to_db_hl",
    "dbfs_to_db_spl",
    "load_calibration",
    "parse_calibration",
    "write_calibration",
]

REFERENCE_FREQUENCY_HZ = 1000.0
"""Frequency whose full-scale level is the broadband output factor (the equaliser's 0 dB)."""

DEFAULT_MAX_AGE_DAYS = 365.0
"""Older calibrations warn (override: argument, or AUDIOLAB_CALIBRATION_MAX_AGE_DAYS)."""

UNCALIBRATED_CEILING_DBFS = -20.0
"""Digital output ceiling of the explicit uncalibrated mode (a sine peak of 0.1)."""

UNCALIBRATED_FULL_SCALE_DB_SPL = 100.0
"""Nominal full-scale level assumed in uncalibrated mode (the same default as for files)."""

EARS = ("left", "right", "none")
_TOP_KEYS = ("device", "host_api", "transducer", "date", "operator", "ceiling_db_spl", "channel")
_CHANNEL_KEYS = ("index", "ear", "full_scale_db_spl")
_MAX_CEILING_DB_SPL = 140.0  # threshold of pain; no listening setup needs more
_FULL_SCALE_RANGE_DB_SPL = (0.0, 200.0)
_FREQUENCY_RANGE_HZ = (1.0, 100000.0)


class CalibrationAgeWarning(UserWarning):
    """The calibration is older than the allowed age: measure the setup again."""


@dataclass(frozen=True)
class ChannelCalibration:
    """Calibration of one output channel.

    Attributes
    ----------
    index : int
        0-based output channel of the device.
    ear : str
        ``"left"``, ``"right"`` or ``"none"`` (a loudspeaker).
    frequencies_hz : ndarray
        Measured frequencies in Hz, ascending.
    full_scale_db_spl : ndarray
        dB SPL a full-scale sine produces at those frequencies.
    """

    index: int
    ear: str
    frequencies_hz: np.ndarray
    full_scale_db_spl: np.ndarray

    def full_scale_db_spl_at(self, frequency_hz: ArrayLike) -> np.ndarray:
        """Level in dB SPL of a full-scale sine at ``frequency_hz`` (log-frequency interp.)."""
        return interp_log_frequency(
            frequency_hz, self.frequencies_hz, self.full_scale_db_spl,
            what=f"output channel {self.index}'s calibration",
        )

    @property
    def max_full_scale_db_spl(self) -> float:
        """Full-scale level at the most sensitive measured frequency (sets the ceiling)."""
        return float(self.full_scale_db_spl.max())

    @property
    def reference_full_scale_db_spl(self) -> float:
        """Full-scale level at the reference frequency (nearest measured one if outside)."""
        f = float(np.clip(REFERENCE_FREQUENCY_HZ, self.frequencies_hz[0], self.frequencies_hz[-1]))
        return float(self.full_scale_db_spl_at(f))

    @property
    def pa_per_digital(self) -> float:
        """Pascal per digital unit at the reference frequency (the engine's broadband factor)."""
        return digital_to_pa_scale(self.reference_full_scale_db_spl)


@dataclass(frozen=True)
class Calibration:
    """A validated calibration of one setup (see :func:`load_calibration`).

    Attributes
    ----------
    device, host_api : str
        The sound card and the host API it was measured through.
    transducer : str
        RETSPL table name (``"TDH-39"``, ``"HDA-200"``, ``"ER-3A/HA-2"``, ``"ER-3A/IEC-711"``) or
        ``"free-field"``.
    date : datetime.date
        Day of the measurement.
    operator : str
        Who measured it.
    ceiling_db_spl : float
        Output ceiling: the instantaneous pressure never exceeds the peak of a sine at this level.
    channels : tuple of ChannelCalibration
        One per calibrated output channel, by index.
    source : str
        File the calibration came from (``"uncalibrated"`` in uncalibrated mode).
    sha256 : str
        Hash of the file's bytes, recorded with results.
    uncalibrated : bool
        True for the explicit uncalibrated mode (digital ceiling -20 dBFS).
    """

    device: str
    host_api: str
    transducer: str
    date: _dt.date
    operator: str
    ceiling_db_spl: float
    channels: tuple[ChannelCalibration, ...]
    source: str = "<memory>"
    sha256: str = ""
    uncalibrated: bool = False
    _by_index: dict[int, ChannelCalibration] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._by_index.update({c.index: c for c in self.channels})

    @classmethod
    def uncalibrated_mode(cls, n_channels: int) -> "Calibration":
        """The explicit uncalibrated mode for ``n_channels`` outputs: digital ceiling -20 dBFS.

        Levels are nominal (a full-scale sine is taken as 100 dB SPL at every frequency), so
        the meters read "dB SPL if full scale were 100 dB SPL".
        """
        if isinstance(n_channels, bool) or not isinstance(n_channels, int) or n_channels < 1:
            raise CalibrationError(f"n_channels must be a positive integer, got {n_channels!r}")
        f = np.array([1.0, 100000.0])
        v = np.full(2, UNCALIBRATED_FULL_SCALE_DB_SPL)
        chans = tuple(ChannelCalibration(i, "none", f, v) for i in range(n_channels))
        return cls(
            device="any", host_api="any", transducer=FREE_FIELD, date=_dt.date.today(),
            operator="nobody",
            ceiling_db_spl=UNCALIBRATED_FULL_SCALE_DB_SPL + UNCALIBRATED_CEILING_DBFS,
            channels=chans, source="uncalibrated", uncalibrated=True,
        )

    def channel(self, index: int) -> ChannelCalibration:
        """The calibration of output channel ``index``; CalibrationError if it has none."""
        try:
            return self._by_index[int(index)]
        except (KeyError, TypeError, ValueError):
            have = ", ".join(str(i) for i in sorted(self._by_index)) or "none"
            raise CalibrationError(
                f"output channel {index!r} is not calibrated in {self.source} "
                f"(calibrated channels: {have})"
            ) from None

    def has_channel(self, index: int) -> bool:
        """True if output channel ``index`` is calibrated."""
        return int(index) in self._by_index

    def age_days(self, today: _dt.date | None = None) -> float:
        """Days since the measurement."""
        return float(((today or _dt.date.today()) - self.date).days)

    def frequency_correction_db(self, channel: int, frequency_hz: ArrayLike) -> np.ndarray:
        """Gain in dB the output equaliser applies at ``frequency_hz``, re the reference frequency.

        ``full_scale(ref) - full_scale(f)``: more gain where the transducer is less sensitive.
        The engine's equaliser realises it exactly at the measured frequencies (and within its
        stated error in between), so callers no longer correct pure tones themselves.
        """
        ch = self.channel(channel)
        return ch.reference_full_scale_db_spl - ch.full_scale_db_spl_at(frequency_hz)

    def summary(self) -> dict[str, Any]:
        """What results and processed files record about the calibration used."""
        return {
            "source": self.source,
            "sha256": self.sha256,
            "uncalibrated": self.uncalibrated,
            "device": self.device,
            "host_api": self.host_api,
            "transducer": self.transducer,
            "date": self.date.isoformat(),
            "operator": self.operator,
            "ceiling_db_spl": self.ceiling_db_spl,
            "channels": [c.index for c in self.channels],
        }


# -- conversions ----------------------------------------------------------------------------------
def db_spl_to_dbfs(
    level_db_spl: ArrayLike, *, frequency_hz: ArrayLike, calibration: Calibration, channel: int
) -> np.ndarray:
    """Digital level (dB re a full-scale sine) that produces ``level_db_spl`` at ``frequency_hz``.

    ``level_dbfs = level_db_spl - full_scale_db_spl(f)`` on the given output channel.
    """
    ch = calibration.channel(channel)
    return np.asarray(level_db_spl, float) - ch.full_scale_db_spl_at(frequency_hz)


def dbfs_to_db_spl(
    level_dbfs: ArrayLike, *, frequency_hz: ArrayLike, calibration: Calibration, channel: int
) -> np.ndarray:
    """Sound pressure level produced by a sine at ``level_dbfs`` (inverse of db_spl_to_dbfs)."""
    ch = calibration.channel(channel)
    return np.asarray(level_dbfs, float) + ch.full_scale_db_spl_at(frequency_hz)


def _table_of(calibration: Calibration) -> Any:
    return retspl_table(calibration.transducer)


def db_hl_to_dbfs(
    level_db_hl: ArrayLike, *, frequency_hz: ArrayLike, calibration: Calibration, channel: int
) -> np.ndarray:
    """Digital level of a tone at ``level_db_hl``: ``HL + RETSPL(f) - full_scale_db_spl(f)``.

    Examples
    --------
    A TDH-39 (RETSPL 7.0 dB SPL at 1 kHz) on which a full-scale sine gives 107 dB SPL: 40 dB HL
    is 47 dB SPL, i.e. -60 dBFS.
    """
    table = _table_of(calibration)
    ch = calibration.channel(channel)
    full_scale = ch.full_scale_db_spl_at(frequency_hz)
    return np.asarray(level_db_hl, float) + table.at(frequency_hz) - full_scale


def dbfs_to_db_hl(
    level_dbfs: ArrayLike, *, frequency_hz: ArrayLike, calibration: Calibration, channel: int
) -> np.ndarray:
    """Hearing level of a tone at ``level_dbfs`` (inverse of db_hl_to_dbfs)."""
    table = _table_of(calibration)
    ch = calibration.channel(channel)
    full_scale = ch.full_scale_db_spl_at(frequency_hz)
    return np.asarray(level_dbfs, float) - table.at(frequency_hz) + full_scale


# -- reading and validating ------------------------------------------------------------------------
def _fail(source: str, message: str) -> CalibrationError:
    return CalibrationError(f"{source}: {message}")


def _check_keys(source: str, where: str, table: Any, allowed: tuple[str, ...]) -> None:
    if not isinstance(table, dict):
        raise _fail(source, f"{where or 'the file'} must be a table, got {type(table).__name__}")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        prefix = where + "." if where else ""
        raise _fail(source, f"unknown key {prefix}{unknown[0]} (allowed: {', '.join(allowed)})")
    missing = [k for k in allowed if k not in table]
    if missing:
        raise _fail(source, f"missing key {where + '.' if where else ''}{missing[0]}")


def _text(source: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, f"{key} must be a non-empty string, got {value!r}")
    return value.strip()


def _real(source: str, key: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(source, f"{key} must be a number, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and low <= v <= high):
        raise _fail(source, f"{key} must be in [{low:g}, {high:g}], got {value!r}")
    return v


def _date(source: str, value: Any, today: _dt.date) -> _dt.date:
    if isinstance(value, _dt.datetime):
        value = value.date()
    elif isinstance(value, str):
        try:
            value = _dt.date.fromisoformat(value.strip())
        except ValueError:
            raise _fail(source, f"date must be a date like 2026-01-31, got {value!r}") from None
    if not isinstance(value, _dt.date):
        raise _fail(source, f"date must be a date like 2026-01-31, got {value!r}")
    if value > today:
        raise _fail(source, f"date {value.isoformat()} is in the future")
    return value


def _transducer(source: str, value: Any) -> str:
    if isinstance(value, str):
        if value.strip().lower() == FREE_FIELD:
            return FREE_FIELD
        for name in RETSPL_TABLES:
            if name.lower() == value.strip().lower():
                return name
    names = ", ".join(map(repr, [*RETSPL_TABLES, FREE_FIELD]))
    raise _fail(source, f"transducer must be one of {names}, got {value!r}")


def _channel(source: str, i: int, table: Any) -> ChannelCalibration:
    where = f"channel[{i}]"
    _check_keys(source, where, table, _CHANNEL_KEYS)
    index = table["index"]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= 1023:
        raise _fail(source, f"{where}.index must be an integer in [0, 1023], got {index!r}")
    ear = table["ear"]
    if ear not in EARS:
        raise _fail(source, f"{where}.ear must be one of {', '.join(map(repr, EARS))}, got {ear!r}")
    points = table["full_scale_db_spl"]
    key = f"{where}.full_scale_db_spl"
    if not isinstance(points, dict) or not points:
        raise _fail(source, f"{key} must be a non-empty table of \"frequency_hz\" = dB SPL")
    freqs, levels = [], []
    for fkey, level in points.items():
        try:
            f = float(fkey)
        except ValueError:
            f = math.nan
        if not (math.isfinite(f) and _FREQUENCY_RANGE_HZ[0] <= f <= _FREQUENCY_RANGE_HZ[1]):
            raise _fail(
                source,
                f"{key} has key {fkey!r}: keys must be frequencies in Hz in "
                f"[{_FREQUENCY_RANGE_HZ[0]:g}, {_FREQUENCY_RANGE_HZ[1]:g}], written as strings",
            )
        freqs.append(f)
        levels.append(_real(source, f'{key}["{fkey}"]', level, *_FULL_SCALE_RANGE_DB_SPL))
    order = np.argsort(freqs)
    f_arr = np.asarray(freqs)[order]
    if np.any(np.diff(f_arr) == 0):
        raise _fail(source, f"{key} lists a frequency twice")
    v_arr = np.asarray(levels)[order]
    f_arr.flags.writeable = False
    v_arr.flags.writeable = False
    return ChannelCalibration(index=index, ear=ear, frequencies_hz=f_arr, full_scale_db_spl=v_arr)


def _max_age_days(max_age_days: float | None) -> float:
    if max_age_days is not None:
        return float(max_age_days)
    env = os.environ.get("AUDIOLAB_CALIBRATION_MAX_AGE_DAYS")
    if env:
        try:
            return float(env)
        except ValueError:
            raise CalibrationError(
                f"AUDIOLAB_CALIBRATION_MAX_AGE_DAYS must be a number of days, got {env!r}"
            ) from None
    return DEFAULT_MAX_AGE_DAYS


def parse_calibration(
    doc: dict[str, Any],
    *,
    source: str = "<dict>",
    sha256: str = "",
    max_age_days: float | None = None,
    today: _dt.date | None = None,
) -> Calibration:
    """Validate a parsed calibration document (the TOML's tables) and build a Calibration.

    Parameters
    ----------
    doc : dict
        The parsed TOML.
    source : str
        Name used in error messages (the file path).
    sha256 : str
        Hash of the file, recorded in :meth:`Calibration.summary`.
    max_age_days : float, optional
        Warn (:class:`CalibrationAgeWarning`) when the calibration is older than this many days.
        Default :data:`DEFAULT_MAX_AGE_DAYS`, or the environment variable
        ``AUDIOLAB_CALIBRATION_MAX_AGE_DAYS``.
    today : datetime.date, optional
        The day to compare against (default: today).

    Raises
    ------
    CalibrationError
        Naming the key that is unknown, missing or has a bad value.
    """
    today = today or _dt.date.today()
    _check_keys(source, "", doc, _TOP_KEYS)
    device = _text(source, "device", doc["device"])
    host_api = _text(source, "host_api", doc["host_api"])
    operator = _text(source, "operator", doc["operator"])
    transducer = _transducer(source, doc["transducer"])
    date = _date(source, doc["date"], today)
    ceiling = doc["ceiling_db_spl"]
    if isinstance(ceiling, bool) or not isinstance(ceiling, int | float) or not (
        math.isfinite(ceiling) and 0 < ceiling <= _MAX_CEILING_DB_SPL
    ):
        raise _fail(
            source, f"ceiling_db_spl must be in (0, {_MAX_CEILING_DB_SPL:g}], got {ceiling!r}"
        )
    chans_doc = doc["channel"]
    if not isinstance(chans_doc, list) or not chans_doc:
        raise _fail(source, "channel must be a non-empty array of [[channel]] tables")
    chans = tuple(_channel(source, i, t) for i, t in enumerate(chans_doc))
    seen: set[int] = set()
    for c in chans:
        if c.index in seen:
            raise _fail(source, f"channel index {c.index} appears twice")
        seen.add(c.index)
    cal = Calibration(
        device=device, host_api=host_api, transducer=transducer, date=date, operator=operator,
        ceiling_db_spl=float(ceiling), channels=tuple(sorted(chans, key=lambda c: c.index)),
        source=source, sha256=sha256,
    )
    limit = _max_age_days(max_age_days)
    age = cal.age_days(today)
    if age > limit:
        warnings.warn(
            f"calibration {source} is {age:.0f} days old (measured {date.isoformat()}), older "
            f"than the allowed {limit:g} days: calibrate the setup again",
            CalibrationAgeWarning,
            stacklevel=2,
        )
    return cal


def load_calibration(
    path: str | os.PathLike[str],
    *,
    max_age_days: float | None = None,
    today: _dt.date | None = None,
) -> Calibration:
    """Read and validate a calibration TOML file (format: ``calibration/example.toml``).

    Parameters
    ----------
    path : str or path-like
        The file.
    max_age_days, today
        See :func:`parse_calibration`.

    Returns
    -------
    Calibration

    Raises
    ------
    CalibrationError
        The file is missing, is not TOML, or a key is unknown, missing or has a bad value.
    """
    import tomllib

    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise CalibrationError(f"cannot read calibration file {p}: {exc.strerror or exc}") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CalibrationError(f"{p}: not a valid TOML file ({exc})") from None
    return parse_calibration(
        doc, source=str(p), sha256=hashlib.sha256(raw).hexdigest(),
        max_age_days=max_age_days, today=today,
    )


def _fmt_freq(f: float) -> str:
    return f"{f:g}" if f != int(f) else str(int(f))


def calibration_to_toml(cal: Calibration) -> str:
    """The TOML text of a calibration (what :func:`write_calibration` writes)."""
    import json

    if cal.uncalibrated:
        raise CalibrationError("the uncalibrated mode cannot be written as a calibration file")
    # Written by hand in the layout of calibration/example.toml; json.dumps quotes TOML strings.
    lines = [
        "# audiolab calibration: dB SPL produced by a full-scale sine (0 dBFS) per output channel",
        "# and frequency. Written by `audiolab calibrate`; format: calibration/example.toml.",
        f"device = {json.dumps(cal.device)}",
        f"host_api = {json.dumps(cal.host_api)}",
        f"transducer = {json.dumps(cal.transducer)}",
        f"date = {cal.date.isoformat()}",
        f"operator = {json.dumps(cal.operator)}",
        f"ceiling_db_spl = {float(cal.ceiling_db_spl)!r}",
    ]
    for c in cal.channels:
        lines += ["", "[[channel]]", f"index = {c.index}", f"ear = {json.dumps(c.ear)}", "",
                  "[channel.full_scale_db_spl]"]
        lines += [
            f'"{_fmt_freq(float(f))}" = {round(float(v), 2)!r}'
            for f, v in zip(c.frequencies_hz, c.full_scale_db_spl, strict=True)
        ]
    return "\n".join(lines) + "\n"


def write_calibration(cal: Calibration, path: str | os.PathLike[str]) -> None:
    """Write ``cal`` as a calibration TOML file (round-trips through :func:`load_calibration`)."""
    Path(path).write_text(calibration_to_toml(cal), encoding="utf-8")
