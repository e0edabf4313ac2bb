"""What the engine commands share: calibration, device set-up, sources, recording."""

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from audiolab._errors import CalibrationError, ConfigError
from audiolab.calibration._calibration import Calibration, load_calibration

# The device set-up and the sources live in the engine layer (the GUI builds engines too).
from audiolab.engine._setup import (
    NOISE_LOOP_S,
    NOISE_SEED,
    DeviceSetup,
    device_setup,
    file_source_pa,
    make_source,
)

if TYPE_CHECKING:
    from audiolab.engine import Engine

__all__ = [
    "NOISE_LOOP_S",
    "NOISE_SEED",
    "DeviceSetup",
    "Recorder",
    "choose_calibration",
    "device_setup",
    "file_source_pa",
    "make_source",
    "parse_source",
    "recording",
]


def choose_calibration(
    path: str | None, uncalibrated: bool, *, n_outputs: int, max_age_days: float | None = None
) -> Calibration:
    """The calibration a command runs with: a file, or the explicit uncalibrated mode.

    Raises
    ------
    CalibrationError
        Neither or both were given.
    """
    if path and uncalibrated:
        raise CalibrationError("give either --calibration FILE or --uncalibrated, not both")
    if not path and not uncalibrated:
        raise CalibrationError(
            "nothing is played without a calibration: give --calibration FILE (see "
            "calibration/example.toml, `audiolab calibrate`) or --uncalibrated (ceiling -20 dBFS)"
        )
    if uncalibrated:
        return Calibration.uncalibrated_mode(n_outputs)
    assert path is not None
    return load_calibration(path, max_age_days=max_age_days)


def parse_source(text: str) -> tuple[str, Any]:
    """``input``, ``noise``, ``tone:FREQ`` or ``file:PATH`` -> (kind, argument)."""
    kind, _, arg = text.partition(":")
    if kind in ("input", "noise") and not arg:
        return kind, None
    if kind == "tone" and arg:
        try:
            f = float(arg)
        except ValueError:
            f = math.nan
        if not (math.isfinite(f) and f > 0):
            raise ConfigError(f"--source tone:FREQ needs a frequency in Hz, got {arg!r}")
        return kind, f
    if kind == "file" and arg:
        return kind, arg
    raise ConfigError(
        f"--source must be input, noise, tone:FREQ or file:PATH, got {text!r}"
    )


class Recorder:
    """Streams what leaves the engine's safety ceiling to a float32 WAV file.

    Parameters
    ----------
    engine : Engine
        The engine to record; its output recording is switched on here.
    path : str
        The WAV file; the manifest goes to ``path + ".json"``.
    fs : float
        Sample rate in Hz.
    n_channels : int
        The engine's output channels.
    """

    WHAT = "output after the safety ceiling, digital (full-scale sine = 0 dBFS)"

    def __init__(self, engine: "Engine", path: str, *, fs: float, n_channels: int) -> None:
        import soundfile as sf

        self.path = path
        self.first_frame = -1  # stream frame of the recording's first sample (-1: none yet)
        self._engine = engine
        self._file = sf.SoundFile(path, "w", samplerate=int(fs), channels=n_channels,
                                  subtype="FLOAT", format="WAV")
        engine.record(output=True)

    def drain(self) -> None:
        """Append what the engine recorded since the last call."""
        data, first = self._engine.recording("output")
        if self.first_frame < 0:
            self.first_frame = first
        self._file.write(data.T)

    def finish(self, manifest: dict[str, Any]) -> None:
        """Drain, close the WAV file and write its manifest (``manifest`` plus what it holds)."""
        from audiolab.cli._options import write_json

        self.drain()
        self.close()
        write_json(self.path + ".json", {"recording": self.path, "first_frame": self.first_frame,
                                         "what": self.WHAT, **manifest})

    def close(self) -> None:
        """Close the WAV file (again is harmless)."""
        self._file.close()


@contextmanager
def recording(
    engine: "Engine", path: str | None, *, fs: float, n_channels: int
) -> Iterator[Recorder | None]:
    """A :class:`Recorder` to ``path`` (None if ``path`` is None), closed however the block ends."""
    if path is None:
        yield None
        return
    recorder = Recorder(engine, path, fs=fs, n_channels=n_channels)
    try:
        yield recorder
    finally:
        recorder.close()
