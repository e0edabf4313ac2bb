"""audiolab: an audiology signal-processing engine for hearing-loss research.

Importing ``audiolab`` is light: it loads no Qt, matplotlib or Dask. The sub-packages are
``audiolab.dsp`` (filterbanks, compressors), ``audiolab.hearing`` (audiograms, prescriptions,
hearing aid, hearing-loss simulation, SII), ``audiolab.calibration``, ``audiolab.engine``
(real-time audio), ``audiolab.experiments`` and ``audiolab.store``.
"""

from importlib.metadata import PackageNotFoundError, version

from audiolab._errors import (
    AudioDeviceError,
    AudiolabError,
    CalibrationError,
    ConfigError,
    FileFormatError,
    KernelError,
    SafetyError,
    SignalError,
    SignalTypeError,
)

try:
    __version__ = version("audiolab")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = [
    "AudioDeviceError",
    "AudiolabError",
    "CalibrationError",
    "ConfigError",
    "FileFormatError",
    "KernelError",
    "SafetyError",
    "SignalError",
    "SignalTypeError",
    "__version__",
]
