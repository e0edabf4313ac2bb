"""What the engine commands share: calibration, device set-up, sources, recording."""

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from audiolab._errors import CalibrationError, ConfigError
from audiolab.calibration._calibration import Calibration, load_calibration
from audiolab.calibration._units import scale_to_db_spl
from audiolab.dsp import resample
from audiolab.engine._stream import JackMonitor, ensure_portaudio, list_devices, resolve_device

if TYPE_CHECKING:
    from audiolab._audio_io import AudioFile
    from audiolab.engine import Engine

__all__ = [
    "DeviceSetup",
    "Recorder",
    "choose_calibration",
    "device_setup",
    "file_source_pa",
    "make_source",
    "parse_source",
    "recording",
]

NOISE_SEED = 20260101
NOISE_LOOP_S = 10.0


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


@dataclass
class DeviceSetup:
    """The device a command opens and how many channels it uses."""

    output_device: int
    input_device: int | None
    name: str
    host_api: str
    fs: float
    n_outputs: int
    n_inputs: int
    block_frames: int
    jack: JackMonitor | None

    def describe(self) -> dict[str, Any]:
        """For stats files and manifests."""
        return {
            "output_device": self.output_device, "input_device": self.input_device,
            "name": self.name, "host_api": self.host_api, "fs": self.fs,
            "n_outputs": self.n_outputs, "n_inputs": self.n_inputs,
            "block_frames": self.block_frames,
        }

    def close(self) -> None:
        """Close the JACK monitor, unless its server is gone (closing would then block)."""
        if self.jack is not None and self.jack.shutdown_reason is None:
            self.jack.close()


def device_setup(
    device: Any,
    *,
    want_inputs: bool,
    max_outputs: int | None,
    block_frames: int | None,
    fs: float | None = None,
) -> DeviceSetup:
    """Pick the device, sample rate, channel counts and block size; open a JACK monitor there.

    Under JACK the block size defaults to the server's period and the rate must be the server's.
    """
    ensure_portaudio()
    out_dev = resolve_device(device, kind="output")
    devices = list_devices()
    info = devices[out_dev]
    in_dev = None
    n_in = 0
    if want_inputs:
        in_dev = resolve_device(device, kind="input")
        n_in = int(devices[in_dev]["max_input_channels"])
    n_out = int(info["max_output_channels"])
    if max_outputs is not None:
        if max_outputs > n_out:
            raise CalibrationError(
                f"the calibration needs {max_outputs} output channels but device {out_dev} "
                f"({info['name']}) has {n_out}"
            )
        n_out = max_outputs
    n_out = min(n_out, 16)
    n_in = min(n_in, n_out)
    rate = float(info["default_samplerate"]) if fs is None else float(fs)
    jack = None
    if "JACK" in info["host_api"]:
        jack = JackMonitor(name=f"audiolab-{os.getpid()}")
        if rate != jack.samplerate:
            raise ConfigError(
                f"the JACK server runs at {jack.samplerate} Hz, not {rate:g} Hz: use a chain "
                "without fs, or restart the server at the chain's rate"
            )
        if block_frames is None:
            block_frames = jack.blocksize
    return DeviceSetup(
        output_device=out_dev, input_device=in_dev, name=str(info["name"]),
        host_api=str(info["host_api"]), fs=rate, n_outputs=n_out, n_inputs=n_in,
        block_frames=int(block_frames or 256), jack=jack,
    )


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


def make_source(
    kind: str, arg: Any, *, fs: float, n_channels: int, level_db_spl: float
) -> np.ndarray:
    """A looping source in Pa, ``(n_channels, n)``, at RMS level ``level_db_spl``.

    The level is the RMS over all channels together, as everywhere in audiolab (see
    :func:`audiolab.calibration.scale_to_db_spl`).

    ``noise``: white Gaussian noise (seeded, 10 s loop). ``tone``: a sine, a whole number of
    periods long so that it loops without a click. ``file``: the file, resampled to ``fs``,
    channel k to channel k (a mono file goes to every channel).
    """
    if kind == "noise":
        rng = np.random.default_rng(NOISE_SEED)
        x = rng.standard_normal((n_channels, int(NOISE_LOOP_S * fs)))
    elif kind == "tone":
        if arg >= fs / 2:
            raise ConfigError(f"the tone frequency {arg:g} Hz is not below fs/2 = {fs / 2:g} Hz")
        periods = max(1, int(round(arg)))
        n = int(round(periods * fs / arg))
        t = np.arange(n) * (periods / n)  # exactly `periods` cycles over the loop
        x = np.tile(np.sin(2 * np.pi * t), (n_channels, 1))
    elif kind == "file":
        from audiolab._audio_io import read_audio

        return file_source_pa(read_audio(arg), fs=fs, n_channels=n_channels,
                              level_db_spl=level_db_spl, what=arg)
    else:
        raise ConfigError(f"make_source: unknown kind {kind!r}")
    return scale_to_db_spl(x, level_db_spl, what="the source")


def file_source_pa(
    audio: "AudioFile", *, fs: float, n_channels: int, level_db_spl: float, what: str
) -> np.ndarray:
    """A sound file as ``n_channels`` channels in Pa at ``fs``, its level set to ``level_db_spl``.

    The file is resampled to ``fs`` (:func:`audiolab.dsp.resample`); a mono file goes to every
    channel, any other must have ``n_channels`` channels (channel k to channel k). The level is
    the RMS over all channels together (:func:`audiolab.calibration.scale_to_db_spl`).

    Raises
    ------
    ConfigError
        The file's channels do not match ``n_channels``.
    SignalError
        The file is silent.
    """
    x = resample(audio.data.astype(np.float64), fs_in=audio.fs, fs_out=fs)
    if x.shape[0] == 1:
        x = np.repeat(x, n_channels, axis=0)
    elif x.shape[0] != n_channels:
        raise ConfigError(
            f"{what} has {x.shape[0]} channels; the set-up plays {n_channels} (give a mono "
            f"file or one with {n_channels} channels)"
        )
    return scale_to_db_spl(x, level_db_spl, what=what)


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
