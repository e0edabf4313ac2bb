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
    "SafetyError",
    "SignalError",
    "SignalTypeError",
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


class SafetyError(AudiolabError, ValueError):
    """A presentation was refused because its planned level exceeds the output ceiling."""


class AudioDeviceError(AudiolabError, RuntimeError):
    """The audio device or server is missing, busy or failed."""


class KernelError(AudiolabError, RuntimeError):
    """A C kernel reported an error status; this indicates a bug in audiolab."""
