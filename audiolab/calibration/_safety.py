"""The output ceiling: planned-level checks in Python, the numbers the C limiter enforces.

The ceiling bounds the instantaneous sound pressure on every output channel by the peak of a
sine at ``ceiling_db_spl``: |p| <= sqrt(2) * 20 uPa * 10^(ceiling_db_spl / 20). In digital
values it is converted with the channel's *most sensitive* calibrated frequency (the highest
full-scale level), so that no frequency can exceed it. A stimulus whose planned peak exceeds the
ceiling is refused before playback (:class:`~audiolab.SafetyError`); the C hard limiter in the
engine (csrc/engine.c, ``al_ceiling_apply``) clamps whatever reaches it regardless.
"""

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from audiolab._errors import SafetyError
from audiolab.calibration._calibration import Calibration
from audiolab.calibration._units import P_REF_PA

__all__ = ["OutputCeiling", "sine_peak_pa"]


def sine_peak_pa(level_db_spl: float) -> float:
    """Peak pressure in Pa of a sine whose RMS level is ``level_db_spl``."""
    return math.sqrt(2.0) * P_REF_PA * 10.0 ** (level_db_spl / 20.0)


@dataclass(frozen=True)
class OutputCeiling:
    """Per-output-channel ceiling and calibration factors for ``n_outputs`` device channels.

    Attributes
    ----------
    calibration : Calibration
        Where the numbers come from.
    digital_peak : ndarray, float32, (n_outputs,)
        Largest absolute digital sample allowed per channel: 0 on an uncalibrated channel
        (muted), never above 1.0 (full scale). Rounded down to float32.
    pa_per_digital : ndarray, float64, (n_outputs,)
        The engine's output calibration factor (1 kHz convention) per channel.
    """

    calibration: Calibration
    digital_peak: np.ndarray
    pa_per_digital: np.ndarray

    @classmethod
    def for_outputs(cls, calibration: Calibration, n_outputs: int) -> "OutputCeiling":
        """Build the ceiling of a device with ``n_outputs`` channels under ``calibration``."""
        peak = np.zeros(n_outputs, np.float64)
        scale = np.ones(n_outputs, np.float64)
        for c in range(n_outputs):
            if not calibration.has_channel(c):
                continue
            ch = calibration.channel(c)
            # A full-scale sine at the most sensitive frequency gives max_full_scale dB SPL.
            headroom_db = calibration.ceiling_db_spl - ch.max_full_scale_db_spl
            peak[c] = min(1.0, 10.0 ** (headroom_db / 20))
            scale[c] = ch.pa_per_digital
        p32 = peak.astype(np.float32)
        # Round down so that the float32 bound the C code compares against never exceeds it.
        p32 = np.where(p32.astype(np.float64) > peak, np.nextafter(p32, np.float32(0)), p32)
        p32.flags.writeable = False
        scale.flags.writeable = False
        return cls(calibration=calibration, digital_peak=p32, pa_per_digital=scale)

    @property
    def n_outputs(self) -> int:
        """Number of device output channels."""
        return int(self.digital_peak.size)

    def peak_pa(self, channel: int) -> float:
        """The ceiling as an engine-pascal peak on ``channel`` (1 kHz convention)."""
        return float(self.digital_peak[channel]) * float(self.pa_per_digital[channel])

    def _refuse(self, what: str, channel: int, peak_digital: float) -> SafetyError:
        cal = self.calibration
        if self.digital_peak[channel] <= 0:
            return SafetyError(
                f"{what} would play on output channel {channel}, which {cal.source} does not "
                "calibrate: the channel is muted"
            )
        over_db = 20 * math.log10(peak_digital / float(self.digital_peak[channel]))
        if cal.uncalibrated:
            ceil_dbfs = 20 * math.log10(float(self.digital_peak[channel]))
            return SafetyError(
                f"{what} peaks at {20 * math.log10(peak_digital):.1f} dBFS on output channel "
                f"{channel}, above the uncalibrated ceiling of {ceil_dbfs:.1f} dBFS; "
                f"lower it by at least {over_db:.1f} dB"
            )
        ch = cal.channel(channel)
        f_max = float(ch.frequencies_hz[int(np.argmax(ch.full_scale_db_spl))])
        ceil_dbfs = 20 * math.log10(float(self.digital_peak[channel]))
        return SafetyError(
            f"{what} would exceed the output ceiling on channel {channel} by {over_db:.1f} dB: "
            f"the ceiling of {cal.ceiling_db_spl:g} dB SPL set by {cal.source} is "
            f"{ceil_dbfs:.1f} dBFS there (a sine at the channel's most sensitive frequency, "
            f"{f_max:g} Hz); lower it by at least {over_db:.1f} dB"
        )

    def check_peak_digital(
        self, peak_digital: ArrayLike, channels: ArrayLike, *, what: str
    ) -> None:
        """Refuse if any planned digital peak exceeds its channel's ceiling.

        Parameters
        ----------
        peak_digital : array_like
            Planned largest absolute digital sample per entry of ``channels``.
        channels : array_like of int
            Output channel of each peak.
        what : str
            What is being checked, for the message ("stimulus", "chain output").

        Raises
        ------
        SafetyError
            Naming the channel, the planned level, the ceiling and by how much to lower it.
        """
        peaks = np.atleast_1d(np.asarray(peak_digital, float))
        chans = np.atleast_1d(np.asarray(channels, int))
        for p, c in zip(peaks, chans, strict=True):
            if not 0 <= c < self.n_outputs:
                raise SafetyError(
                    f"{what} targets output channel {c}, but the device has {self.n_outputs}"
                )
            if not math.isfinite(p):
                raise SafetyError(f"{what} contains NaN or inf on output channel {c}")
            if p > float(self.digital_peak[c]):
                raise self._refuse(what, int(c), float(p))

    def check_signal_pa(
        self, x_pa: ArrayLike, channels: ArrayLike, *, what: str = "stimulus"
    ) -> None:
        """Refuse a planned signal in engine pascal, ``(len(channels), n)``, above the ceiling."""
        x = np.atleast_2d(np.asarray(x_pa, float))
        chans = np.atleast_1d(np.asarray(channels, int))
        if x.shape[0] != chans.size:
            raise SafetyError(
                f"{what} has {x.shape[0]} channels but {chans.size} output channels were given"
            )
        with np.errstate(invalid="ignore"):
            peaks = np.abs(x).max(axis=1, initial=0.0) if x.shape[1] else np.zeros(chans.size)
        if not np.isfinite(x).all():
            peaks = np.full(chans.size, math.nan)
        scale = np.array([self.pa_per_digital[c] if 0 <= c < self.n_outputs else 1.0
                          for c in chans])
        self.check_peak_digital(peaks / scale, chans, what=what)

    def check_tone(self, level_db_spl: float, frequency_hz: float, channel: int) -> None:
        """Refuse a pure tone at ``level_db_spl`` and ``frequency_hz`` above the ceiling."""
        fs_db = float(self.calibration.channel(channel).full_scale_db_spl_at(frequency_hz))
        peak = 10.0 ** ((level_db_spl - fs_db) / 20.0)
        self.check_peak_digital(
            [peak], [channel], what=f"a {frequency_hz:g} Hz tone at {level_db_spl:g} dB SPL"
        )
