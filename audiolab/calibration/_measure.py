"""Measuring a calibration with a sound level meter: the arithmetic of ``audiolab calibrate``.

A tone plays at a stated digital level ``level_dbfs`` (re a full-scale sine) and the operator
reads the sound level meter, in the coupler of the transducer's RETSPL standard. The file then
records what a full-scale sine would produce: ``reading - level_dbfs`` (DESIGN.md, "Signals and
units"). A verification plays the tones again and compares each new reading with what the
calibration predicts, ``full_scale_db_spl(f) + level_dbfs``. The command line and the GUI's
wizard share these functions; playing the tones is :class:`audiolab.engine.TonePlayer`'s job.
"""

import datetime as _dt
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from audiolab._errors import CalibrationError, ConfigError
from audiolab.calibration._calibration import (
    UNCALIBRATED_CEILING_DBFS,
    Calibration,
    ChannelCalibration,
    calibration_to_toml,
    load_calibration,
)

__all__ = [
    "DEFAULT_CALIBRATION_FREQUENCIES_HZ",
    "DEFAULT_CALIBRATION_LEVEL_DBFS",
    "DEFAULT_VERIFY_TOLERANCE_DB",
    "channel_from_readings",
    "check_reading_db_spl",
    "check_tone_level_dbfs",
    "expected_reading_db_spl",
    "new_calibration",
    "save_calibration_file",
]

DEFAULT_CALIBRATION_FREQUENCIES_HZ = (
    125.0, 250.0, 500.0, 750.0, 1000.0, 1500.0, 2000.0, 3000.0, 4000.0, 6000.0, 8000.0,
)
"""The audiometric frequencies (ISO 8253-1 range, 125-8000 Hz) measured by default."""

DEFAULT_CALIBRATION_LEVEL_DBFS = -30.0
"""Digital level of the calibration tones: 10 dB under the uncalibrated ceiling."""

DEFAULT_VERIFY_TOLERANCE_DB = 1.0
"""Largest accepted difference between a verification reading and the calibration."""

_READING_RANGE_DB_SPL = (0.0, 200.0)


def check_tone_level_dbfs(level_dbfs: float) -> float:
    """The digital level of a calibration tone, refused above the uncalibrated ceiling.

    Raises
    ------
    ConfigError
        Not a finite number at most -20 dBFS (the tones play in the uncalibrated mode).
    """
    v = float(level_dbfs)
    if not math.isfinite(v) or v > UNCALIBRATED_CEILING_DBFS:
        raise ConfigError(
            f"level_dbfs must be at most {UNCALIBRATED_CEILING_DBFS:g} dBFS (the uncalibrated "
            f"ceiling), got {level_dbfs!r}"
        )
    return v


def check_reading_db_spl(reading_db_spl: Any) -> float:
    """A sound level meter reading in dB SPL, in (0, 200); raises ConfigError otherwise."""
    try:
        v = float(reading_db_spl)
    except (TypeError, ValueError):
        v = math.nan
    lo, hi = _READING_RANGE_DB_SPL
    if not (math.isfinite(v) and lo < v < hi):
        raise ConfigError(
            f"a sound level meter reading must be a level in dB SPL in ({lo:g}, {hi:g}), "
            f"got {reading_db_spl!r}"
        )
    return v


def channel_from_readings(
    index: int, ear: str, readings_db_spl: Mapping[float, float], *, level_dbfs: float
) -> ChannelCalibration:
    """The calibration of one channel from its readings (frequency in Hz -> dB SPL).

    Each value is ``reading - level_dbfs``: the dB SPL a full-scale sine would produce.

    Raises
    ------
    CalibrationError
        No reading was given.
    """
    if not readings_db_spl:
        raise CalibrationError(f"no reading was given for channel {index}; nothing written")
    level = check_tone_level_dbfs(level_dbfs)
    freqs = np.array(sorted(float(f) for f in readings_db_spl))
    values = np.array([check_reading_db_spl(readings_db_spl[f]) - level for f in freqs])
    return ChannelCalibration(int(index), ear, freqs, values)


def expected_reading_db_spl(
    calibration: Calibration, channel: int, frequency_hz: float, *, level_dbfs: float
) -> float:
    """What the meter should read for a tone at ``level_dbfs``: ``full_scale(f) + level_dbfs``."""
    full_scale = calibration.channel(channel).full_scale_db_spl_at(frequency_hz)
    return float(full_scale) + check_tone_level_dbfs(level_dbfs)


def new_calibration(
    channels: tuple[ChannelCalibration, ...],
    *,
    device: str,
    host_api: str,
    transducer: str,
    operator: str,
    ceiling_db_spl: float,
    date: _dt.date | None = None,
    source: str = "<memory>",
) -> Calibration:
    """A calibration measured today, validated as a loaded file would be.

    Raises
    ------
    CalibrationError
        A value a calibration file may not hold (the message names it).
    """
    from audiolab.calibration._calibration import parse_calibration

    cal = Calibration(
        device=device, host_api=host_api, transducer=transducer,
        date=date or _dt.date.today(), operator=operator, ceiling_db_spl=float(ceiling_db_spl),
        channels=channels, source=source,
    )
    import tomllib

    # Validated by the very parser that will read the file back.
    return parse_calibration(tomllib.loads(calibration_to_toml(cal)), source=source,
                             max_age_days=float("inf"))


def save_calibration_file(
    calibration: Calibration, path: str | os.PathLike[str], *, overwrite: bool = False
) -> Calibration:
    """Write ``calibration`` atomically and return it as loaded back from the file.

    The text goes to a temporary file in the same folder, which then replaces ``path`` in one
    step: a crash leaves the old file or the new one, never half of one.

    Raises
    ------
    CalibrationError
        ``path`` exists and ``overwrite`` is False (ask the user first), or it cannot be
        written.
    """
    p = Path(path)
    if p.exists() and not overwrite:
        raise CalibrationError(
            f"{p} exists: a calibration file is never overwritten without asking (choose "
            "another name, or confirm overwriting it)"
        )
    text = calibration_to_toml(calibration)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CalibrationError(f"cannot write {p}: {exc.strerror or exc}") from None
    return load_calibration(p, max_age_days=float("inf"))
