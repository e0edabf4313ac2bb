"""The application context: what every view shares, as a plain Python model without Qt.

The device and calibration are chosen once (toolbar, ``--device``, ``--calibration``) and every
view reads them from here; views that care subscribe to changes. Settings are remembered between
runs in a small JSON file in the user's configuration folder.
"""

import dataclasses
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from audiolab._errors import CalibrationError, ConfigError
from audiolab.calibration import Calibration, load_calibration

__all__ = ["AppContext", "AppSettings", "settings_path"]

Listener = Callable[[str], None]


def settings_path() -> Path:
    """``audiolab/gui.json`` in ``$XDG_CONFIG_HOME`` (when absolute) or ``~/.config``."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return root / "audiolab" / "gui.json"


@dataclasses.dataclass
class AppSettings:
    """What the application remembers between runs.

    Attributes
    ----------
    device : str or None
        Output device (a PortAudio name or part of one); None for the default device.
    calibration_path : str or None
        The calibration file last chosen.
    operator : str
        Who calibrates (pre-filled in the calibration wizard).
    last_directory : str
        Folder of the last file opened or saved.
    current_view : int
        Index of the view shown when the window last closed.
    """

    device: str | None = None
    calibration_path: str | None = None
    operator: str = ""
    last_directory: str = ""
    current_view: int = 0

    @classmethod
    def load(cls, path: Path | None = None) -> "AppSettings":
        """Read the settings; defaults when the file is missing or unreadable."""
        path = path or settings_path()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        names = {f.name: f.type for f in dataclasses.fields(cls)}
        # A settings file from another version may miss or add keys: keep what still applies.
        known = {k: v for k, v in data.items() if k in names} if isinstance(data, dict) else {}
        try:
            return cls(**known)
        except TypeError:
            return cls()

    def save(self, path: Path | None = None) -> None:
        """Write the settings (owner-only; written to a temporary file, then renamed)."""
        path = path or settings_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(dataclasses.asdict(self), f, indent=2)
        os.replace(tmp, path)


class AppContext:
    """The device, calibration and settings every view shares.

    Parameters
    ----------
    settings : AppSettings, optional
        Start from these settings (default: those remembered from the last run).
    settings_file : pathlib.Path, optional
        Where :meth:`save_settings` writes (default :func:`settings_path`).

    Notes
    -----
    Views call :meth:`subscribe` with a callback that receives the name of what changed:
    ``"device"`` or ``"calibration"``.
    """

    def __init__(self, settings: AppSettings | None = None, *,
                 settings_file: Path | None = None) -> None:
        self._settings_file = settings_file
        self.settings = settings if settings is not None else AppSettings.load(settings_file)
        self._calibration: Calibration | None = None
        self._listeners: list[Listener] = []
        self.calibration_problem = ""
        if self.settings.calibration_path:
            self._reload_remembered_calibration()

    def _reload_remembered_calibration(self) -> None:
        path = self.settings.calibration_path
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # its age is shown in the status bar instead
                self._calibration = load_calibration(str(path), max_age_days=float("inf"))
        except (CalibrationError, ConfigError, OSError) as exc:
            # A remembered file that moved or broke must not stop the application from opening.
            self.calibration_problem = f"remembered calibration not loaded: {exc}"
            self.settings.calibration_path = None

    # -- listeners -----------------------------------------------------------------------------
    def subscribe(self, callback: Listener) -> None:
        """Call ``callback(what)`` whenever the device or calibration changes."""
        self._listeners.append(callback)

    def _changed(self, what: str) -> None:
        for callback in list(self._listeners):
            callback(what)

    # -- device and calibration ----------------------------------------------------------------
    @property
    def device(self) -> str | None:
        """The chosen output device (None: the default)."""
        return self.settings.device

    def set_device(self, device: str | None) -> None:
        """Choose the audio device."""
        if device == self.settings.device:
            return
        self.settings.device = device
        self._changed("device")

    @property
    def calibration(self) -> Calibration | None:
        """The loaded calibration, or None when none is chosen."""
        return self._calibration

    def set_calibration(self, path: str | os.PathLike[str] | None) -> Calibration | None:
        """Load and choose the calibration at ``path`` (None: none).

        Raises
        ------
        CalibrationError
            The file is missing or invalid; the previous calibration stays chosen.
        """
        if path is None:
            self._calibration = None
            self.settings.calibration_path = None
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cal = load_calibration(str(path), max_age_days=float("inf"))
            self._calibration = cal
            self.settings.calibration_path = str(Path(path).resolve())
        self.calibration_problem = ""
        self._changed("calibration")
        return self._calibration

    def calibration_or_uncalibrated(self, n_channels: int = 2) -> Calibration:
        """The chosen calibration, or the explicit uncalibrated mode (low ceiling) without one."""
        if self._calibration is not None:
            return self._calibration
        return Calibration.uncalibrated_mode(n_channels)

    def describe_calibration(self) -> str:
        """One line for the status bar: file, age, ceiling; or why there is none."""
        cal = self._calibration
        if cal is None:
            return self.calibration_problem or "no calibration (uncalibrated mode, low ceiling)"
        age = int(cal.age_days())
        return (f"{Path(cal.source).name} · {cal.transducer} · measured {cal.date.isoformat()} "
                f"({age} days ago) · ceiling {cal.ceiling_db_spl:.0f} dB SPL")

    def describe_device(self) -> str:
        """One line for the status bar."""
        return f"device: {self.device or 'default'}"

    def save_settings(self) -> None:
        """Remember the settings for the next run."""
        self.settings.save(self._settings_file)

    def state(self) -> dict[str, Any]:
        """The context as a plain dict (for logs and tests)."""
        return {"device": self.device,
                "calibration": None if self._calibration is None else self._calibration.source}
