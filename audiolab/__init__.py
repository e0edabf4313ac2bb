"""audiolab: an audiology signal-processing engine for hearing-loss research.

Importing ``audiolab`` is light: it loads no Qt, matplotlib or Dask. One sub-package is one
layer, and a layer imports only from the layers listed before it:

- ``audiolab.dsp``: filters, filterbanks, level meters, the processor protocol;
- ``audiolab.calibration``: units, RETSPL tables, device calibration, output equaliser, ceiling;
- ``audiolab.audiology``: audiograms, prescription rules, SII, speech material;
- ``audiolab.models``: hearing aid (WDRC and fitting), hearing-loss and CI simulators, chains;
- ``audiolab.engine``: real-time streams with a C audio callback;
- ``audiolab.store`` and ``audiolab.experiments``: results store and listening experiments;
- ``audiolab.batch``: corpus processing on local processes or Dask;
- ``audiolab.reports``: the demo, figures and the verification report;
- ``audiolab.bench``, ``audiolab.cli`` and ``audiolab.gui``: the applications.

``audiolab.hearing`` is the deprecated former home of audiology and models.
"""

from importlib.metadata import PackageNotFoundError, version

from audiolab._errors import (
    AudioDeviceError,
    AudiolabError,
    CalibrationError,
    ConfigError,
    FileFormatError,
    KernelError,
    ProcedureError,
    SafetyError,
    SignalError,
    SignalTypeError,
    StoreError,
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
    "ProcedureError",
    "SafetyError",
    "SignalError",
    "SignalTypeError",
    "StoreError",
    "__version__",
]
