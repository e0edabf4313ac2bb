"""The calibration wizard, without Qt: set-up, measurement, verification, saving.

The steps of ``audiolab calibrate`` (:mod:`audiolab.calibration._measure` does the arithmetic,
:class:`audiolab.engine.TonePlayer` plays the tones): a tone plays on one output channel at a
safe digital level (default -30 dBFS, never above the uncalibrated ceiling of -20 dBFS) at each
frequency from 125 to 8000 Hz while the operator types the sound level meter's reading. Then
every tone is replayed at the level the new calibration says gives a target level (70 dB SPL)
and the new reading is compared with it: more than 1 dB off is flagged. The file is written
atomically into ``calibration/`` (or a chosen folder), never over an existing file unless the
caller confirms.
"""

import datetime as _dt
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audiolab._errors import ConfigError
from audiolab.calibration import (
    DEFAULT_CALIBRATION_FREQUENCIES_HZ,
    DEFAULT_CALIBRATION_LEVEL_DBFS,
    DEFAULT_VERIFY_TOLERANCE_DB,
    FREE_FIELD,
    RETSPL_TABLES,
    UNCALIBRATED_CEILING_DBFS,
    Calibration,
    channel_from_readings,
    check_reading_db_spl,
    check_tone_level_dbfs,
    expected_reading_db_spl,
    new_calibration,
    save_calibration_file,
)

__all__ = [
    "TRANSDUCERS",
    "VERIFY_TARGET_DB_SPL",
    "CalibrationWizard",
    "Step",
    "default_file_name",
    "example_wizard",
]

TRANSDUCERS = (*RETSPL_TABLES, FREE_FIELD)
"""The RETSPL table names a calibration may name, and free-field (loudspeakers)."""

VERIFY_TARGET_DB_SPL = 70.0
"""Level the verification asks each tone to produce (well above room noise, comfortable)."""

_VERIFY_MAX_DBFS = UNCALIBRATED_CEILING_DBFS - 1.0


def default_file_name(device: str, transducer: str, date: _dt.date) -> str:
    """``<device>-<transducer>-<date>.toml`` with anything but letters and digits as ``-``."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{device}-{transducer}").strip("-").lower()
    return f"{slug or 'setup'}-{date.isoformat()}.toml"


@dataclass
class Step:
    """One tone of the measurement or the verification, and what was read for it."""

    frequency_hz: float
    level_dbfs: float
    reading_db_spl: float | None = None
    expected_db_spl: float | None = None  # verification only

    @property
    def deviation_db(self) -> float | None:
        """Verification reading minus what the calibration predicts (None: not read)."""
        if self.reading_db_spl is None or self.expected_db_spl is None:
            return None
        return self.reading_db_spl - self.expected_db_spl


@dataclass
class CalibrationWizard:
    """State and actions of the wizard (the view binds to it; tests drive it directly too).

    Parameters
    ----------
    device : int or str or None
        Output device.
    channel : int
        Output channel measured.
    ear : {"left", "right", "none"}
        Its ear.
    transducer : str
        One of :data:`TRANSDUCERS`.
    level_dbfs : float
        Digital level of the measurement tones, at most -20 dBFS.
    ceiling_db_spl : float
        Output ceiling written to the file, in (0, 140].
    operator : str
        Who measures.
    folder : pathlib.Path
        Where the file goes.
    frequencies_hz : tuple of float
        Tone frequencies.
    tolerance_db : float
        Largest accepted verification deviation.
    player_factory : callable
        ``(device, n_outputs) -> player`` with ``tone``, ``silence``, ``close`` and ``setup``
        (default :class:`audiolab.engine.TonePlayer`).
    """

    device: Any = None
    channel: int = 0
    ear: str = "left"
    transducer: str = "TDH-39"
    level_dbfs: float = DEFAULT_CALIBRATION_LEVEL_DBFS
    ceiling_db_spl: float = 100.0
    operator: str = ""
    folder: Path = field(default_factory=lambda: Path("calibration"))
    frequencies_hz: tuple[float, ...] = DEFAULT_CALIBRATION_FREQUENCIES_HZ
    tolerance_db: float = DEFAULT_VERIFY_TOLERANCE_DB
    player_factory: Any = None
    phase: str = "setup"  # setup -> measure -> verify -> done
    steps: list[Step] = field(default_factory=list)
    verify_steps: list[Step] = field(default_factory=list)
    index: int = 0
    measured: Calibration | None = None
    saved_path: Path | None = None
    _player: Any = None

    # -- set-up ----------------------------------------------------------------------------------
    def check_setup(self) -> None:
        """Refuse a set-up that cannot be measured (ConfigError naming the field)."""
        if self.transducer not in TRANSDUCERS:
            raise ConfigError(f"transducer must be one of {', '.join(TRANSDUCERS)}, "
                              f"got {self.transducer!r}")
        if self.ear not in ("left", "right", "none"):
            raise ConfigError(f"ear must be left, right or none, got {self.ear!r}")
        if not 0 <= int(self.channel) < 16:
            raise ConfigError(f"channel must be in [0, 15], got {self.channel}")
        check_tone_level_dbfs(self.level_dbfs)
        if not (math.isfinite(self.ceiling_db_spl) and 0 < self.ceiling_db_spl <= 140):
            raise ConfigError(f"the ceiling must be in (0, 140] dB SPL, got {self.ceiling_db_spl}")
        if not self.operator.strip():
            raise ConfigError("operator is empty: type who measures (it is written to the file)")

    @property
    def current(self) -> Step | None:
        """The tone playing now (None outside the measurement and the verification)."""
        steps = self.steps if self.phase == "measure" else \
            self.verify_steps if self.phase == "verify" else []
        return steps[self.index] if 0 <= self.index < len(steps) else None

    def start_measurement(self) -> Step:
        """Open the device and play the first tone at the safe starting level."""
        self.check_setup()
        self.close()
        factory = self.player_factory
        if factory is None:
            from audiolab.engine import TonePlayer as factory
        self._player = factory(self.device, int(self.channel) + 1)
        self.steps = [Step(float(f), float(self.level_dbfs)) for f in self.frequencies_hz]
        self.verify_steps, self.measured, self.saved_path = [], None, None
        self.phase, self.index = "measure", 0
        return self._play()

    def _play(self) -> Step:
        step = self.current
        assert step is not None and self._player is not None
        self._player.tone(int(self.channel), step.frequency_hz, step.level_dbfs)
        return step

    # -- readings --------------------------------------------------------------------------------
    def enter(self, reading_db_spl: Any) -> Step | None:
        """Record the meter reading of the tone playing; play the next. None: phase over."""
        step = self.current
        if step is None:
            raise ConfigError("no tone is playing: start the measurement first")
        step.reading_db_spl = check_reading_db_spl(reading_db_spl)
        return self._next()

    def skip(self) -> Step | None:
        """Leave this frequency out (the calibration interpolates over it; never beyond)."""
        if self.current is None:
            raise ConfigError("no tone is playing")
        return self._next()

    def _next(self) -> Step | None:
        self.index += 1
        if self.current is not None:
            return self._play()
        assert self._player is not None
        self._player.silence()
        if self.phase == "measure":
            self.measured = self._calibration()
            self.phase = "measured"
        else:
            self.phase = "done"
        return None

    def _calibration(self) -> Calibration:
        readings = {s.frequency_hz: s.reading_db_spl for s in self.steps
                    if s.reading_db_spl is not None}
        channel = channel_from_readings(int(self.channel), self.ear, readings,
                                        level_dbfs=self.level_dbfs)
        setup = self._player.setup
        return new_calibration(
            (channel,), device=setup.name, host_api=setup.host_api, transducer=self.transducer,
            operator=self.operator.strip(), ceiling_db_spl=self.ceiling_db_spl,
        )

    # -- verification ----------------------------------------------------------------------------
    def start_verification(self, target_db_spl: float = VERIFY_TARGET_DB_SPL) -> Step:
        """Replay each measured tone at the level the new calibration says gives the target."""
        if self.measured is None or self._player is None:
            raise ConfigError("measure first: the verification checks a new calibration")
        steps = []
        for s in self.steps:
            if s.reading_db_spl is None:
                continue
            full_scale = float(self.measured.channel(int(self.channel))
                               .full_scale_db_spl_at(s.frequency_hz))
            level = min(target_db_spl - full_scale, _VERIFY_MAX_DBFS)
            expected = expected_reading_db_spl(self.measured, int(self.channel), s.frequency_hz,
                                               level_dbfs=level)
            steps.append(Step(s.frequency_hz, level, expected_db_spl=expected))
        self.verify_steps = steps
        self.phase, self.index = "verify", 0
        return self._play()

    @property
    def worst_deviation_db(self) -> float | None:
        """Largest |deviation| of the verification so far (None: nothing verified)."""
        devs = [abs(d) for s in self.verify_steps if (d := s.deviation_db) is not None]
        return max(devs) if devs else None

    @property
    def verified(self) -> bool:
        """True once every verification reading is within the tolerance."""
        worst = self.worst_deviation_db
        return (self.phase == "done" and worst is not None and worst <= self.tolerance_db
                and all(s.reading_db_spl is not None for s in self.verify_steps))

    # -- saving ----------------------------------------------------------------------------------
    def target_path(self, file_name: str | None = None) -> Path:
        """Where :meth:`save` writes: ``folder / file_name`` (default :func:`default_file_name`)."""
        if self.measured is None:
            raise ConfigError("nothing measured yet")
        name = file_name or default_file_name(self.measured.device, self.transducer,
                                              self.measured.date)
        if not name.endswith(".toml"):
            name += ".toml"
        return Path(self.folder) / name

    def save(self, file_name: str | None = None, *, overwrite: bool = False) -> Calibration:
        """Write the calibration atomically; CalibrationError if the file exists (ask first)."""
        if self.measured is None:
            raise ConfigError("nothing measured yet: nothing to save")
        path = self.target_path(file_name)
        cal = save_calibration_file(self.measured, path, overwrite=overwrite)
        self.saved_path = path
        return cal

    def close(self) -> None:
        """Stop the tones and release the device."""
        player, self._player = self._player, None
        if player is not None:
            player.close()


def example_wizard(folder: Path) -> CalibrationWizard:
    """A finished, verified wizard for the screenshots (no sound, no device).

    A TDH-39 on a sound card giving about 107 dB SPL at full scale (like
    calibration/example.toml), measured at -30 dBFS and verified within 0.3 dB.
    """
    w = CalibrationWizard(operator="J. Doe", folder=folder)
    example = {125.0: 101.2, 250.0: 104.0, 500.0: 106.1, 750.0: 106.6, 1000.0: 107.0,
               1500.0: 106.4, 2000.0: 105.3, 3000.0: 103.9, 4000.0: 103.0, 6000.0: 99.0,
               8000.0: 96.5}
    w.steps = [Step(f, w.level_dbfs, v + w.level_dbfs) for f, v in example.items()]
    channel = channel_from_readings(0, "left", {f: v + w.level_dbfs for f, v in example.items()},
                                    level_dbfs=w.level_dbfs)
    w.measured = new_calibration((channel,), device="Example sound card", host_api="JACK",
                                 transducer=w.transducer, operator=w.operator,
                                 ceiling_db_spl=w.ceiling_db_spl)
    offsets = (0.1, -0.2, 0.0, 0.3, -0.1, 0.2, 0.0, -0.3, 0.1, 0.2, -0.1)
    for s, off in zip(w.steps, offsets, strict=True):
        assert s.reading_db_spl is not None
        level = VERIFY_TARGET_DB_SPL - (s.reading_db_spl - w.level_dbfs)
        w.verify_steps.append(Step(s.frequency_hz, level, VERIFY_TARGET_DB_SPL + off,
                                   VERIFY_TARGET_DB_SPL))
    w.phase, w.index = "done", len(w.verify_steps)
    return w
