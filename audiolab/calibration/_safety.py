"""The output ceiling: planned-level checks in Python, the numbers the C limiter enforces.

The ceiling bounds the instantaneous sound pressure on every output channel by the peak of a
sine at ``ceiling_db_spl``: |p| <= sqrt(2) * 20 uPa * 10^(ceiling_db_spl / 20). In digital
values it is converted with the channel's *most sensitive* calibrated frequency (the highest
full-scale level), so that no frequency can exceed it. A stimulus whose planned peak exceeds the
ceiling is refused before playback (:class:`~audiolab.SafetyError`); the C hard limiter in the
engine (csrc/engine.c, ``calibrate_and_limit``) clamps whatever reaches it regardless.

With a sample rate the ceiling also holds each channel's output equaliser
(:mod:`audiolab.calibration._equalizer`): the planned digital level of a signal is then the
signal run through the very equaliser the engine runs (the C kernel, from rest), and a tone's
planned level uses the equaliser's realised response.
"""

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from audiolab._errors import ConfigError, SafetyError
from audiolab.calibration._calibration import Calibration
from audiolab.calibration._equalizer import OutputEqualizer, design_output_equalizer
from audiolab.calibration._units import digital_to_pa_scale
from audiolab.dsp._units import amplitude_to_db, db_to_amplitude

__all__ = ["OutputCeiling"]


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
        The engine's broadband output calibration factor per channel (the full-scale level at
        the reference frequency, 1 kHz); the equaliser does the rest.
    fs : float or None
        Sample rate the equalisers were designed for (None: no equalisers, tones only).
    equalizers : tuple of (OutputEqualizer or None)
        Per output channel (None for an uncalibrated channel, or without ``fs``).
    """

    calibration: Calibration
    digital_peak: np.ndarray
    pa_per_digital: np.ndarray
    fs: float | None = None
    equalizers: tuple[OutputEqualizer | None, ...] = ()

    @classmethod
    def for_outputs(
        cls, calibration: Calibration, n_outputs: int, *, fs: float | None = None
    ) -> "OutputCeiling":
        """Build the ceiling of a device with ``n_outputs`` channels under ``calibration``.

        With ``fs`` (Hz), each calibrated channel's output equaliser is designed too, which the
        engine and the planned-level check of a signal need.
        """
        peak = np.zeros(n_outputs, np.float64)
        scale = np.ones(n_outputs, np.float64)
        eqs: list[OutputEqualizer | None] = [None] * n_outputs
        for c in range(n_outputs):
            if not calibration.has_channel(c):
                continue
            ch = calibration.channel(c)
            # A full-scale sine at the most sensitive frequency gives max_full_scale dB SPL.
            headroom_db = calibration.ceiling_db_spl - ch.max_full_scale_db_spl
            peak[c] = min(1.0, float(db_to_amplitude(headroom_db)))
            scale[c] = ch.pa_per_digital
            if fs is not None:
                eqs[c] = design_output_equalizer(ch, fs=fs)
        p32 = peak.astype(np.float32)
        # Round down so that the float32 bound the C code compares against never exceeds it.
        p32 = np.where(p32.astype(np.float64) > peak, np.nextafter(p32, np.float32(0)), p32)
        p32.flags.writeable = False
        scale.flags.writeable = False
        return cls(calibration=calibration, digital_peak=p32, pa_per_digital=scale,
                   fs=None if fs is None else float(fs),
                   equalizers=tuple(eqs) if fs is not None else ())

    @property
    def n_outputs(self) -> int:
        """Number of device output channels."""
        return int(self.digital_peak.size)

    def peak_pa(self, channel: int) -> float:
        """The ceiling as a pascal peak on ``channel``: a sine at the most sensitive frequency.

        At any other frequency a sine may reach the digital ceiling at a lower pressure (the
        conservative bound); 0 on an uncalibrated (muted) channel.
        """
        if self.digital_peak[channel] <= 0:
            return 0.0
        ch = self.calibration.channel(channel)
        return float(self.digital_peak[channel]) * digital_to_pa_scale(ch.max_full_scale_db_spl)

    def equalizer(self, channel: int) -> OutputEqualizer:
        """The output equaliser of ``channel`` (ConfigError without fs, SafetyError if muted)."""
        if self.fs is None:
            raise ConfigError(
                "the output equalisers need the sample rate: build the ceiling with "
                "OutputCeiling.for_outputs(calibration, n_outputs, fs=...)"
            )
        eq = self.equalizers[channel] if 0 <= channel < len(self.equalizers) else None
        if eq is None:
            raise SafetyError(
                f"output channel {channel} is not calibrated in {self.calibration.source}: "
                "the channel is muted"
            )
        return eq

    def full_scale_db_spl_at(self, frequency_hz: ArrayLike, channel: int) -> np.ndarray:
        """DB SPL of a full-scale sine at ``frequency_hz`` on ``channel`` as the engine plays it.

        The equaliser's realised response when there is one (within its stated error of the
        calibration table), else the table itself. Refuses frequencies outside the table.
        """
        table = self.calibration.channel(channel).full_scale_db_spl_at(frequency_hz)
        if self.fs is None or self.equalizers[channel] is None:
            return table
        return self.equalizer(channel).full_scale_db_spl_at(frequency_hz)

    def _refuse(self, what: str, channel: int, peak_digital: float) -> SafetyError:
        cal = self.calibration
        if self.digital_peak[channel] <= 0:
            return SafetyError(
                f"{what} would play on output channel {channel}, which {cal.source} does not "
                "calibrate: the channel is muted"
            )
        ceil_dbfs = float(amplitude_to_db(self.digital_peak[channel]))
        peak_dbfs = float(amplitude_to_db(peak_digital))
        over_db = peak_dbfs - ceil_dbfs
        if cal.uncalibrated:
            return SafetyError(
                f"{what} peaks at {peak_dbfs:.1f} dBFS on output channel "
                f"{channel}, above the uncalibrated ceiling of {ceil_dbfs:.1f} dBFS; "
                f"lower it by at least {over_db:.1f} dB"
            )
        ch = cal.channel(channel)
        f_max = float(ch.frequencies_hz[int(np.argmax(ch.full_scale_db_spl))])
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

    def planned_digital(self, x_pa: ArrayLike, channel: int) -> np.ndarray:
        """The digital samples a signal in pascal becomes on ``channel`` (before the clamp).

        Runs the channel's equaliser (the engine's C kernel, from rest) and its broadband
        factor, in the engine's float32 arithmetic.
        """
        from audiolab.dsp._sos import sosfilt

        eq = self.equalizer(channel)
        x = np.ascontiguousarray(np.atleast_2d(np.asarray(x_pa, np.float32)))
        if eq.n_sections and x.shape[1]:
            x = sosfilt(eq.sos, x, fs=eq.fs)
        return x * np.float32(1.0 / self.pa_per_digital[channel])

    def check_signal_pa(
        self, x_pa: ArrayLike, channels: ArrayLike, *, what: str = "stimulus"
    ) -> None:
        """Refuse a planned signal in engine pascal, ``(len(channels), n)``, above the ceiling.

        The planned digital level is the signal through the channel's output equaliser
        (:meth:`planned_digital`), so it needs the ceiling built with ``fs``.
        """
        x = np.atleast_2d(np.asarray(x_pa, float))
        chans = np.atleast_1d(np.asarray(channels, int))
        if x.shape[0] != chans.size:
            raise SafetyError(
                f"{what} has {x.shape[0]} channels but {chans.size} output channels were given"
            )
        if not np.isfinite(x).all():
            self.check_peak_digital(np.full(chans.size, math.nan), chans, what=what)
        peaks = np.zeros(chans.size)
        for k, c in enumerate(chans):
            if not 0 <= c < self.n_outputs or self.digital_peak[c] <= 0 or not x.shape[1]:
                continue  # check_peak_digital names the bad or muted channel
            with np.errstate(over="ignore"):
                peak = float(np.abs(self.planned_digital(x[k], int(c))).max())
            # A finite signal so loud that float32 overflows is refused as loud, not as NaN.
            peaks[k] = peak if math.isfinite(peak) else 1e300
        # A muted channel is refused for any signal that is not silence.
        peaks = np.where([0 <= c < self.n_outputs and self.digital_peak[c] <= 0 for c in chans],
                         np.abs(x).max(axis=1, initial=0.0), peaks)
        self.check_peak_digital(peaks, chans, what=what)

    def check_tone(self, level_db_spl: float, frequency_hz: float, channel: int) -> None:
        """Refuse a pure tone at ``level_db_spl`` and ``frequency_hz`` above the ceiling.

        Uses the level a full-scale sine at ``frequency_hz`` stands for on ``channel``
        (:meth:`full_scale_db_spl_at`), so a tone outside the calibrated range is refused too.
        """
        fs_db = float(self.full_scale_db_spl_at(frequency_hz, channel))
        peak = float(db_to_amplitude(level_db_spl - fs_db))
        self.check_peak_digital(
            [peak], [channel], what=f"a {frequency_hz:g} Hz tone at {level_db_spl:g} dB SPL"
        )
