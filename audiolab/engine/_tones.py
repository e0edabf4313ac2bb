"""Pure tones at a stated level in dB HL or dB SPL, planned against the calibration and ceiling.

dB HL -> dB SPL through the calibration's transducer RETSPL table (ISO 389), dB SPL -> pascal;
the engine's output equaliser then turns the pascal into the digital level that produces it,
``level_dbfs = HL + RETSPL(f) - full_scale_db_spl(f)``. A tone is refused before playback when it
lies outside the RETSPL table or the calibration, or when its level exceeds the ceiling.

Ramps: raised-cosine (cos^2) onset and offset, as audiometers switch tones to avoid clicks.
IEC 60645-1 measures an audiometer's rise (fall) time between the envelope's -20 dB and -1 dB
points and asks for 20-50 ms; a cos^2 ramp of duration T has that rise time 0.581 T, so the
default 50 ms ramp has a 29 ms IEC rise time.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from audiolab._errors import CalibrationError, ConfigError
from audiolab._validate import check_real
from audiolab.calibration._calibration import Calibration
from audiolab.calibration._retspl import retspl_table
from audiolab.calibration._safety import OutputCeiling
from audiolab.calibration._units import db_spl_to_pa_rms
from audiolab.dsp._units import db_to_amplitude
from audiolab.engine._player import check_output_channels

__all__ = ["DEFAULT_RAMP_MS", "Tone", "plan_tone", "ramped_sine_pa", "rise_time_ms"]

DEFAULT_RAMP_MS = 50.0
"""Raised-cosine ramp duration (its IEC 60645-1 rise time is 29 ms, within 20-50 ms)."""

# Envelope points of the IEC 60645-1 rise time: -20 dB and -1 dB re the steady amplitude.
_RISE_LOW, _RISE_HIGH = float(db_to_amplitude(-20.0)), float(db_to_amplitude(-1.0))


def rise_time_ms(ramp_ms: float) -> float:
    """IEC 60645-1 rise time (envelope -20 dB to -1 dB) of a cos^2 ramp lasting ``ramp_ms``.

    The envelope is sin^2(pi t / (2 T)), so it reaches amplitude a at
    t = (2 T / pi) asin(sqrt(a)).
    """
    k = 2.0 / math.pi * (math.asin(math.sqrt(_RISE_HIGH)) - math.asin(math.sqrt(_RISE_LOW)))
    return k * float(ramp_ms)


@dataclass(frozen=True)
class Tone:
    """A planned pure tone: the stimulus in pascal and every level it is planned at.

    Attributes
    ----------
    frequency_hz : float
        Tone frequency.
    level_db_hl : float or None
        Hearing level (None for a tone given in dB SPL).
    retspl_db_spl : float or None
        RETSPL of the calibration's transducer at the frequency (None for dB SPL tones).
    level_db_spl : float
        Sound pressure level (RMS of the steady part).
    level_dbfs : tuple of float
        Digital RMS level per channel in dBFS (0 dBFS = a full-scale sine) as the engine's output
        equaliser realises it.
    level_dbfs_table : tuple of float
        The same from the calibration table: ``level_db_spl - full_scale_db_spl(f)``; equal to
        ``level_dbfs`` within the equaliser's stated error (to 1e-6 dB at measured frequencies).
    channels : tuple of int
        Output channels, each playing the same pressure.
    duration_s, ramp_ms, rise_time_ms : float
        Total duration (ramps included), raised-cosine ramp duration, and its IEC 60645-1 rise
        time.
    n_frames : int
        Length in samples at ``fs``.
    fs : float
        Sample rate in Hz.
    transducer : str
        The calibration's transducer.
    stimulus_pa : ndarray, float32, (len(channels), n_frames)
        The tone in pascal, ready for :meth:`Engine.play`.
    """

    frequency_hz: float
    level_db_hl: float | None
    retspl_db_spl: float | None
    level_db_spl: float
    level_dbfs: tuple[float, ...]
    level_dbfs_table: tuple[float, ...]
    channels: tuple[int, ...]
    duration_s: float
    ramp_ms: float
    rise_time_ms: float
    n_frames: int
    fs: float
    transducer: str
    stimulus_pa: np.ndarray = field(repr=False)

    def describe(self) -> dict[str, Any]:
        """The planned levels (no samples), for printing and manifests."""
        return {
            "frequency_hz": self.frequency_hz,
            "level_db_hl": self.level_db_hl,
            "retspl_db_spl": self.retspl_db_spl,
            "transducer": self.transducer,
            "level_db_spl": self.level_db_spl,
            "level_dbfs": list(self.level_dbfs),
            "level_dbfs_table": list(self.level_dbfs_table),
            "channels": list(self.channels),
            "duration_s": self.duration_s,
            "ramp_ms": self.ramp_ms,
            "ramp": "raised cosine",
            "rise_time_ms_iec_60645_1": self.rise_time_ms,
            "n_frames": self.n_frames,
            "fs": self.fs,
        }


def _level(value: Any, name: str) -> float:
    return check_real(name, value, low=-50.0, high=200.0)


def plan_tone(
    ceiling: OutputCeiling,
    *,
    frequency_hz: float,
    duration_s: float,
    channels: Sequence[int],
    level_db_hl: float | None = None,
    level_db_spl: float | None = None,
    ramp_ms: float = DEFAULT_RAMP_MS,
) -> Tone:
    """Plan a pure tone at ``level_db_hl`` or ``level_db_spl``; refuse what cannot be played.

    Parameters
    ----------
    ceiling : OutputCeiling
        The engine's ceiling, built with ``fs`` (it holds the output equalisers).
    frequency_hz : float
        Tone frequency in Hz, below fs/2 and inside the calibration (and, for dB HL, inside the
        transducer's RETSPL table).
    duration_s : float
        Total duration in seconds, ramps included (at most 600).
    channels : sequence of int
        Output channels; each plays the same sound pressure.
    level_db_hl, level_db_spl : float
        Exactly one: hearing level, or sound pressure level (RMS of the steady part).
    ramp_ms : float
        Raised-cosine onset and offset duration in ms, each (0: none), at most half the tone.

    Returns
    -------
    Tone

    Raises
    ------
    CalibrationError
        dB HL without a RETSPL table (free-field or uncalibrated), or a frequency outside the
        RETSPL table or the calibration.
    SafetyError
        The tone would exceed the ceiling on one of the channels.
    ConfigError
        Bad duration, ramp, channels or levels.
    """
    fs = ceiling.fs
    if fs is None:
        raise ConfigError("plan_tone needs an OutputCeiling built with fs (the engine's)")
    if (level_db_hl is None) == (level_db_spl is None):
        raise ConfigError("give exactly one of level_db_hl and level_db_spl")
    f = check_real("frequency_hz", frequency_hz, low=0, high=fs / 2, low_open=True,
                   high_open=True)
    duration = check_real("duration_s", duration_s, low=0, high=600, low_open=True)
    ramp = check_real("ramp_ms", ramp_ms, low=0, high=1000 * duration / 2)
    chans = check_output_channels(channels, ceiling.n_outputs)
    cal = ceiling.calibration
    hl, retspl, spl, what = _sound_pressure_level(cal, f, level_db_hl, level_db_spl)
    level_dbfs, table_dbfs = _digital_levels(ceiling, f, spl, chans, what=what)
    stim = ramped_sine_pa(f, spl, duration_s=duration, fs=fs, ramp_ms=ramp, n_channels=len(chans))
    n = stim.shape[1]
    return Tone(
        frequency_hz=f, level_db_hl=hl, retspl_db_spl=retspl, level_db_spl=spl,
        level_dbfs=tuple(level_dbfs), level_dbfs_table=tuple(table_dbfs), channels=chans,
        duration_s=n / fs, ramp_ms=ramp, rise_time_ms=rise_time_ms(ramp), n_frames=n, fs=fs,
        transducer=cal.transducer, stimulus_pa=stim,
    )


def _sound_pressure_level(
    cal: Calibration, f: float, level_db_hl: float | None, level_db_spl: float | None
) -> tuple[float | None, float | None, float, str]:
    """``(level_db_hl, retspl_db_spl, level_db_spl, description)`` of the requested level.

    dB HL -> dB SPL adds the transducer's reference equivalent threshold (ISO 389-1/-2/-8).
    """
    if level_db_hl is None:
        spl = _level(level_db_spl, "level_db_spl")
        return None, None, spl, f"a {f:g} Hz tone at {spl:g} dB SPL"
    hl = _level(level_db_hl, "level_db_hl")
    if cal.uncalibrated:
        raise CalibrationError(
            "a level in dB HL needs a calibration whose transducer has a RETSPL table "
            "(--calibration CAL.toml); the uncalibrated mode has none"
        )
    retspl = float(retspl_table(cal.transducer).at(f))
    spl = hl + retspl
    return hl, retspl, spl, f"a {f:g} Hz tone at {hl:g} dB HL ({spl:.1f} dB SPL)"


def _digital_levels(
    ceiling: OutputCeiling, f: float, spl: float, chans: tuple[int, ...], *, what: str
) -> tuple[list[float], list[float]]:
    """Per channel, the dBFS the equaliser realises and the table's; refused above the ceiling."""
    level_dbfs, table_dbfs = [], []
    for c in chans:
        table = float(ceiling.calibration.channel(c).full_scale_db_spl_at(f))  # refuses outside
        real = float(ceiling.full_scale_db_spl_at(f, c))
        level_dbfs.append(spl - real)
        table_dbfs.append(spl - table)
    # A sine's peak is 1.0 at 0 dBFS (a full-scale sine), so its digital peak is the dBFS level
    # as an amplitude ratio.
    peaks = [float(p) for p in db_to_amplitude(level_dbfs)]
    ceiling.check_peak_digital(peaks, chans, what=what)
    return level_dbfs, table_dbfs


def ramped_sine_pa(
    frequency_hz: float, level_db_spl: float, *, duration_s: float, fs: float, ramp_ms: float,
    n_channels: int
) -> np.ndarray:
    """A sine in Pa at an RMS level in dB SPL with raised-cosine ramps, one row per channel.

    The level is the steady part's RMS (re 20 uPa); the ramps (sin^2 rise and fall, each
    ``ramp_ms`` long, at most half the tone) are inside ``duration_s``. No ceiling is checked
    here: plan the tone with :func:`plan_tone` or let :meth:`Engine.play` check it.

    Parameters
    ----------
    frequency_hz : float
        Frequency of the sine, Hz.
    level_db_spl : float
        RMS level of the steady part, dB SPL.
    duration_s : float
        Duration including the ramps, s (at least one sample).
    fs : float
        Sample rate, Hz.
    ramp_ms : float
        Duration of each raised-cosine ramp, ms.
    n_channels : int
        Number of identical rows.

    Returns
    -------
    numpy.ndarray
        Read-only float32 array, shape ``(n_channels, round(duration_s * fs))``, Pa.

    Examples
    --------
    >>> x = ramped_sine_pa(1000.0, 94.0, duration_s=0.5, fs=48000, ramp_ms=10, n_channels=2)
    >>> x.shape, round(float(np.sqrt(np.mean(x[0, 4800:-4800] ** 2))), 2)  # 94 dB SPL = 1 Pa
    ((2, 24000), 1.0)
    """
    f, spl = frequency_hz, level_db_spl
    n_frames = int(round(duration_s * fs))
    if n_frames < 1:
        raise ConfigError(f"duration_s {duration_s:g} is shorter than one sample at {fs:g} Hz")
    t = np.arange(n_frames) / fs
    x = math.sqrt(2.0) * float(db_spl_to_pa_rms(spl)) * np.sin(2 * np.pi * f * t)
    n_ramp = min(int(round(ramp_ms * 1e-3 * fs)), n_frames // 2)
    if n_ramp:
        env = np.sin(0.5 * np.pi * (np.arange(n_ramp) + 0.5) / n_ramp) ** 2
        x[:n_ramp] *= env
        x[n_frames - n_ramp:] *= env[::-1]
    stim = np.ascontiguousarray(np.tile(x.astype(np.float32), (n_channels, 1)))
    stim.flags.writeable = False
    return stim
