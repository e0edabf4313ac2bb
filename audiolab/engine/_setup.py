"""Opening a live set-up: the device, its channels and block size, and looping sources in Pa.

Shared by the commands (``audiolab live``, ``play``, ``run``, ``calibrate``) and the GUI, which
build an engine the same way: :func:`device_setup` picks the device (with a JACK xrun monitor
where the host API is JACK), :func:`make_source` and :func:`file_source_pa` make looping
sources, and :class:`TonePlayer` plays the calibration tones of ``audiolab calibrate``.
"""

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from audiolab._errors import CalibrationError, ConfigError
from audiolab.calibration._calibration import UNCALIBRATED_FULL_SCALE_DB_SPL, Calibration
from audiolab.calibration._units import scale_to_db_spl
from audiolab.dsp import resample
from audiolab.engine._stream import JackMonitor, ensure_portaudio, list_devices, resolve_device

if TYPE_CHECKING:
    from audiolab._audio_io import AudioFile

__all__ = [
    "NOISE_LOOP_S",
    "NOISE_SEED",
    "DeviceSetup",
    "TonePlayer",
    "device_setup",
    "file_source_pa",
    "make_source",
]

NOISE_SEED = 20260101
NOISE_LOOP_S = 10.0


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

    Raises
    ------
    AudioDeviceError
        No such device (or no audio server).
    CalibrationError
        The device has fewer outputs than ``max_outputs``.
    ConfigError
        ``fs`` is not the JACK server's rate.
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
            jack.close()
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


def make_source(
    kind: str, arg: Any, *, fs: float, n_channels: int, level_db_spl: float
) -> np.ndarray:
    """A looping source in Pa, ``(n_channels, n)``, at RMS level ``level_db_spl``.

    The level is the RMS over all channels together, as everywhere in audiolab (see
    :func:`audiolab.calibration.scale_to_db_spl`).

    ``noise``: white Gaussian noise (seeded, 10 s loop). ``tone``: a sine of ``arg`` Hz, a
    whole number of periods long so that it loops without a click. ``file``: the file at path
    ``arg``, resampled to ``fs``, channel k to channel k (a mono file goes to every channel).
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


class TonePlayer:
    """Plays one looping tone at a time on one output channel, in the uncalibrated mode.

    What ``audiolab calibrate`` and the GUI's calibration wizard play while the operator reads
    the sound level meter: the stream starts at once (silent) and each :meth:`tone` swaps in a
    graph with the new tone at a block boundary. The uncalibrated mode's ceiling (-20 dBFS)
    stays in the path, so no tone can be louder than that whatever level is asked for.

    Parameters
    ----------
    device : int or str or None
        Output device (see :func:`device_setup`).
    n_outputs : int or None
        Output channels to open (None: all the device has, at most 16).
    """

    def __init__(self, device: Any, n_outputs: int | None) -> None:
        from audiolab.engine._engine import Engine

        self.setup = device_setup(device, want_inputs=False, max_outputs=n_outputs,
                                  block_frames=None)
        try:
            self.engine = Engine(
                fs=self.setup.fs, n_inputs=0, n_outputs=self.setup.n_outputs,
                calibration=Calibration.uncalibrated_mode(self.setup.n_outputs),
                max_block_frames=max(4096, self.setup.block_frames),
            )
            self.engine.configure(None)
            self.engine.start(device=self.setup.output_device,
                              block_frames=self.setup.block_frames)
        except BaseException:
            self.setup.close()
            raise

    def tone(self, channel: int, frequency_hz: float, level_dbfs: float) -> None:
        """Play a sine of ``frequency_hz`` at ``level_dbfs`` (re a full-scale sine) on ``channel``.

        Raises
        ------
        ConfigError
            ``channel`` is not an open output, or the frequency is not below fs/2.
        """
        if not 0 <= int(channel) < self.setup.n_outputs:
            raise ConfigError(
                f"channel must be an output in [0, {self.setup.n_outputs - 1}], got {channel}"
            )
        if not (math.isfinite(frequency_hz) and frequency_hz > 0):
            raise ConfigError(f"frequency_hz must be a positive number, got {frequency_hz!r}")
        # In the uncalibrated mode a full-scale sine stands for 100 dB SPL (RMS), so a sine at
        # level_dbfs is 100 + level_dbfs "dB SPL" there: its digital peak is 10^(level/20).
        src = make_source("tone", frequency_hz, fs=self.setup.fs, n_channels=1,
                          level_db_spl=UNCALIBRATED_FULL_SCALE_DB_SPL + level_dbfs)
        out_map = [-1] * self.setup.n_outputs
        out_map[int(channel)] = 0
        self.engine.configure(None, n_channels=1, source_pa=src, output_map=out_map)
        self.engine.poll()

    def silence(self) -> None:
        """Stop the tone (the stream keeps running)."""
        self.engine.configure(None, n_channels=1, output_map=[-1] * self.setup.n_outputs)

    def close(self) -> None:
        """Stop the stream and release the device."""
        try:
            self.engine.stop()
        finally:
            self.setup.close()
