"""The one exception tree of audiolab.

Every error derives from :class:`AudiolabError` and also from the built-in exception that fits
(``ValueError`` or ``TypeError``), so callers can catch either. Messages name the parameter, what
was expected and what was received. The CLI turns any of them into one line on stderr.
"""

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
]


class AudiolabError(Exception):
    """Base class of every error raised by audiolab."""


class ConfigError(AudiolabError, ValueError):
    """A configuration value (processor config, chain file, audiogram...) is invalid."""


class SignalError(AudiolabError, ValueError):
    """A signal has the wrong shape, length or contains non-finite samples."""


class SignalTypeError(AudiolabError, TypeError):
    """A signal is not an array of real floating-point samples."""


class FileFormatError(AudiolabError, ValueError):
    """A file could not be read as the expected format."""


class CalibrationError(AudiolabError, ValueError):
    """A calibration file is missing, invalid or does not cover what is asked of it."""


class ProcedureError(ConfigError):
    """A procedure was driven out of order or given an answer its trial cannot take.

    Examples: ``next_trial()`` after the stop rule, ``record()`` with no trial pending, an
    interval number outside 1..n, responses that do not replay. A ConfigError (what these were
    before), so callers that catch ConfigError or ValueError still do.
    """


class StoreError(ConfigError):
    """The results store refused an operation or could not do it.

    No such session or subject, a session in the wrong state (resuming a completed one,
    recording into one that is not running), a trial index out of order or already stored, a
    database that is locked, read-only or cannot be opened. A ConfigError (what these were
    before), so callers that catch ConfigError or ValueError still do. A file that is not an
    audiolab database stays a :class:`FileFormatError`.
    """


class SafetyError(AudiolabError, ValueError):
    """A presentation was refused because its planned level exceeds the output ceiling."""


class AudioDeviceError(AudiolabError, RuntimeError):
    """The audio device or server is missing, busy or failed."""


class KernelError(AudiolabError, RuntimeError):
    """A C kernel reported an error status; this indicates a bug in audiolab."""
