"""Reading and writing sound files, with one clear line for every way a file can be bad.

Samples are read as float32 with soundfile (libsndfile): integer PCM is scaled so that its full
scale is 1.0, hence a full-scale sine read from any format has peak 1.0 (0 dBFS, DESIGN.md).
Outputs are float32 WAV: it holds values above 1.0 exactly, so nothing is ever clipped.
"""

import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from audiolab._errors import FileFormatError

__all__ = ["AUDIO_EXTENSIONS", "AudioFile", "read_audio", "write_audio"]

AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".aifc", ".au", ".snd",
     ".caf", ".w64", ".rf64", ".mp3"}
)
"""File name extensions that a folder walk treats as audio (lower case, with the dot)."""


class AudioFile:
    """Samples and sample rate of one file: ``data`` is float32 ``(n_channels, n_frames)``."""

    __slots__ = ("data", "fs", "path")

    def __init__(self, data: np.ndarray, fs: int, path: str) -> None:
        self.data = data
        self.fs = fs
        self.path = path

    @property
    def n_channels(self) -> int:
        """Number of channels in the file."""
        return int(self.data.shape[0])

    @property
    def n_frames(self) -> int:
        """Number of frames (samples per channel) in the file."""
        return int(self.data.shape[1])


# Container -> (byte order of chunk sizes, form type, audio chunk): RIFF/WAVE and IFF/AIFF(-C).
_CHUNKED_FORMATS = {
    b"RIFF": ("<", (b"WAVE",), b"data"),
    b"FORM": (">", (b"AIFF", b"AIFC"), b"SSND"),
}


def _truncation(path: str, size: int) -> str | None:
    """Describe a WAV or AIFF file whose audio chunk is shorter than its header declares.

    libsndfile reads such a file without complaint and returns the frames that are there, so a
    copy cut short by a full disk or an interrupted transfer would pass unnoticed.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        layout = _CHUNKED_FORMATS.get(head[:4]) if len(head) == 12 else None
        if layout is None or head[8:12] not in layout[1]:
            return None
        order, _, audio_id = layout
        offset = 12
        while offset + 8 <= size:
            f.seek(offset)
            chunk_id, chunk_size = struct.unpack(f"{order}4sI", f.read(8))
            if chunk_id == audio_id:
                available = size - offset - 8
                # 0 and 0xFFFFFFFF are placeholders written by streaming encoders.
                if chunk_size not in (0, 0xFFFFFFFF) and chunk_size > available:
                    return (
                        f"is truncated: its header declares {chunk_size} bytes of audio but "
                        f"only {available} are present"
                    )
                return None
            offset += 8 + chunk_size + (chunk_size & 1)
    return None


def read_audio(path: str | os.PathLike[str]) -> AudioFile:
    """Read a sound file as float32 ``(n_channels, n_frames)``, refusing anything doubtful.

    Parameters
    ----------
    path : str or path-like
        Any format libsndfile reads (WAV, FLAC, OGG, AIFF, ...).

    Returns
    -------
    AudioFile
        ``data`` float32 C-contiguous ``(n_channels, n_frames)`` (full scale 1.0) and ``fs`` in Hz.

    Raises
    ------
    FileFormatError
        One line naming the file and what is wrong: missing or unreadable, empty, not audio,
        truncated, no frames, or NaN/inf samples.
    """
    import soundfile as sf

    name = os.fspath(path)
    try:
        size = os.stat(name).st_size
    except FileNotFoundError:
        raise FileFormatError(f"{name}: no such file") from None
    except OSError as exc:
        raise FileFormatError(f"{name}: cannot read it ({exc.strerror or exc})") from None
    if Path(name).is_dir():
        raise FileFormatError(f"{name}: is a folder, not a sound file")
    if size == 0:
        raise FileFormatError(f"{name}: is empty (0 bytes)")
    try:
        problem = _truncation(name, size)
        data, fs = sf.read(name, dtype="float32", always_2d=True)
    except sf.LibsndfileError as exc:
        why = exc.error_string.rstrip(".")
        if why == "Format not recognised":
            raise FileFormatError(f"{name}: is not a sound file that libsndfile can read") from None
        raise FileFormatError(f"{name}: cannot be read as audio ({why})") from None
    except (RuntimeError, ValueError, struct.error) as exc:
        raise FileFormatError(f"{name}: cannot be read as audio ({exc})") from None
    except OSError as exc:
        raise FileFormatError(f"{name}: cannot read it ({exc.strerror or exc})") from None
    if problem:
        raise FileFormatError(f"{name}: {problem}")
    if data.shape[0] == 0:
        raise FileFormatError(f"{name}: has no audio frames")
    x = np.ascontiguousarray(data.T)
    if not np.isfinite(x).all():
        ch, idx = np.argwhere(~np.isfinite(x))[0]
        raise FileFormatError(
            f"{name}: contains NaN or inf samples (first at channel {ch}, frame {idx})"
        )
    return AudioFile(x, int(fs), name)


def write_audio(path: str | os.PathLike[str], data: Any, *, fs: int) -> None:
    """Write ``(n_channels, n_frames)`` samples as a float32 WAV, atomically and unclipped.

    The file appears under its name only once complete (written beside it, then renamed), so an
    interrupted run never leaves a partial file that looks finished.
    """
    import soundfile as sf

    x = np.asarray(data, np.float32)
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        sf.write(tmp, x.T, int(fs), subtype="FLOAT", format="WAV")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
