"""Cascaded second-order sections, multichannel, streaming (C kernel ``al_sos_process``)."""

from dataclasses import dataclass
from typing import Any

import numpy as np

from audiolab._ckernel import check, float_buffer, lib
from audiolab._cstruct import CStruct
from audiolab._errors import ConfigError
from audiolab._validate import check_real
from audiolab.dsp._processor import Processor

__all__ = ["SOSConfig", "SOSFilter", "sosfilt"]


@dataclass(frozen=True)
class SOSConfig:
    """Configuration of an :class:`SOSFilter`.

    Parameters
    ----------
    sos : array_like, shape (n_sections, 6)
        Second-order sections ``b0 b1 b2 a0 a1 a2``, as ``scipy.signal.butter(output="sos")``
        returns them.
        Each ``a0`` must be non-zero; sections are normalised so that ``a0 == 1``.
    fs : float
        Sample rate in Hz, in (0, 768000].
    """

    sos: Any
    fs: float

    def __post_init__(self) -> None:
        check_real("fs", self.fs, low=0, high=768000, low_open=True)
        try:
            sos = np.array(self.sos, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"sos must be a numeric array of shape (n_sections, 6): {exc}"
            ) from None
        if sos.ndim != 2 or sos.shape[1] != 6 or sos.shape[0] < 1:
            raise ConfigError(f"sos must have shape (n_sections >= 1, 6), got {sos.shape}")
        if not np.isfinite(sos).all():
            raise ConfigError("sos must contain only finite coefficients")
        if np.any(sos[:, 3] == 0):
            raise ConfigError("sos: every a0 (column 3) must be non-zero")
        sos = sos / sos[:, 3:4]
        sos.setflags(write=False)
        object.__setattr__(self, "sos", sos)


class SOSFilter(Processor):
    """Streaming biquad cascade; the C equivalent of ``scipy.signal.sosfilt`` with kept state.

    Examples
    --------
    >>> import numpy as np, scipy.signal
    >>> from audiolab.dsp import SOSFilter, SOSConfig
    >>> sos = scipy.signal.butter(4, 1000, fs=48000, output="sos")
    >>> f = SOSFilter(SOSConfig(sos=sos, fs=48000))
    >>> y = f.process(np.ones((2, 480), np.float32))
    >>> y.shape
    (2, 480)
    """

    def __init__(self, config: SOSConfig) -> None:
        super().__init__()
        self.config = config
        self.fs = config.fs
        self._sos = np.ascontiguousarray(config.sos)
        self._state = np.zeros(0)
        self._c: Any = None

    @property
    def latency_samples(self) -> int:
        """An IIR cascade has no algorithmic block delay: 0."""
        return 0

    def _allocate(self, n_channels: int) -> None:
        n_sections = self._sos.shape[0]
        s = CStruct("al_sos", n_channels=n_channels, n_sections=n_sections)
        s.bind("sos", self._sos, length=6 * n_sections, writable=False)
        self._state = s.zeros("state", (n_channels, n_sections, 2))
        self._struct = s
        self._c = s.c

    def _process(self, x: np.ndarray) -> np.ndarray:
        check(lib.al_sos_process(self._c, float_buffer(x, "block"), x.shape[1]), "al_sos_process")
        return x


def sosfilt(sos: Any, x: Any, *, fs: float) -> np.ndarray:
    """Filter a whole signal with a fresh :class:`SOSFilter` (offline form)."""
    return SOSFilter(SOSConfig(sos=sos, fs=fs)).process(x)
