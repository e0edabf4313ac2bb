"""`audiolab live` closes its --record file on every error path (no sound card needed).

The device is replaced by a fake set-up, so the engine is built for real and fails where a real
run would: at a bad option the engine checks, or when the device goes away.
"""

import sys
import threading

import numpy as np
import pytest
import soundfile as sf

from audiolab._errors import AudioDeviceError
from audiolab.cli import _engine_setup, main


class _TrackedSoundFile(sf.SoundFile):
    """A SoundFile that stays referenced, so only an explicit close() can close it."""

    opened: list["_TrackedSoundFile"] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _TrackedSoundFile.opened.append(self)


@pytest.fixture
def tracked_files(monkeypatch):
    _TrackedSoundFile.opened = []
    monkeypatch.setattr(sf, "SoundFile", _TrackedSoundFile)
    return _TrackedSoundFile.opened


@pytest.fixture
def fake_device(monkeypatch):
    """Two outputs at 48 kHz, no JACK: what device_setup returns for a plain sound card."""

    def device_setup(device, *, want_inputs, max_outputs, block_frames, fs=None):
        return _engine_setup.DeviceSetup(
            output_device=0, input_device=None, name="fake card", host_api="fake", fs=48000.0,
            n_outputs=2, n_inputs=0, block_frames=block_frames or 256, jack=None,
        )

    monkeypatch.setattr(_engine_setup, "device_setup", device_setup)


def _live(tmp_path, *extra):
    return main(["live", "--uncalibrated", "--source", "noise", "--level-db-spl", "60",
                 "--duration", "1", "--quiet", "--record", str(tmp_path / "out.wav"),
                 "--stats-json", str(tmp_path / "stats.json"), *extra])


def test_a_bad_blocksize_leaves_no_file_open(tmp_path, fake_device, tracked_files, capsys):
    # Engine.start refuses fewer than 16 frames per block; the recording was opened before.
    assert _live(tmp_path, "--blocksize", "8") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "blocksize" in err[0], err
    assert all(f.closed for f in tracked_files), tracked_files


def test_a_device_that_fails_to_start_leaves_no_file_open(tmp_path, fake_device, tracked_files,
                                                          monkeypatch, capsys):
    from audiolab.engine import Engine

    def start(self, **kwargs):
        raise AudioDeviceError("the device went away")

    monkeypatch.setattr(Engine, "start", start)
    switch_interval = sys.getswitchinterval()
    assert _live(tmp_path, "--gil-hog") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["audiolab live: error: the device went away"]
    assert tracked_files, "the recording should have been opened before the stream starts"
    assert all(f.closed for f in tracked_files), tracked_files
    assert not (tmp_path / "stats.json").exists()
    # The stress thread is stopped and the interpreter's switch interval restored.
    assert not [t for t in threading.enumerate() if t.name == "audiolab-gil-hog"]
    assert sys.getswitchinterval() == switch_interval
    np.testing.assert_equal(sf.info(str(tmp_path / "out.wav")).frames, 0)
