"""Octave and one-third-octave filterbanks meeting IEC 61260-1:2014 class 1.

Mid-band frequencies are the base-10 ones of IEC 61260-1:2014: octave ratio
G = 10^(3/10), exact mid-band frequency f_m = 1000 G^(x/b) Hz for odd b, band edges
f_m G^(+-1/(2b)). Each band is a Butterworth band-pass designed by the bilinear transform with
its edges pre-warped, so its -3 dB points fall exactly on the band edges. The cascades run in
C (csrc/sosbank.c), vectorised across bands, with double coefficients and state.

Orders, chosen by measuring the class 1 mask at 44.1 and 48 kHz (tests/test_octave.py):

- causal: Butterworth order 4 (8th-order band-pass, 4 sections). Order 3 misses the stop-band
  limit at G^-3 (60 dB) for bands near Nyquist, where the bilinear transform widens the band
  on the warped axis.
- zero-phase (forward-backward): the magnitude is squared, so each pass is designed for half
  the attenuation in dB: order 3, with the band widened (on the warped axis, around the same
  centre) until one pass is 1.505 dB down at the nominal band edges; the squared response is
  then 3.01 dB down there and twice as steep beyond them.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.signal

from audiolab._ckernel import check, float_buffer, lib
from audiolab._cstruct import CStruct
from audiolab._errors import ConfigError, SignalError
from audiolab._validate import as_mono, check_int, check_out, check_real
from audiolab.dsp._processor import Processor
from audiolab.dsp._units import P_REF_PA, db_to_power, power_to_db

__all__ = [
    "OCTAVE_RATIO",
    "OctaveFilterbank",
    "OctaveFilterbankConfig",
    "band_edges_hz",
    "design_octave_bands",
    "mid_band_frequencies_hz",
]

OCTAVE_RATIO = 10.0 ** (3.0 / 10.0)
"""G of IEC 61260-1:2014 (base-10 system): the octave frequency ratio, about 1.9953."""

CAUSAL_ORDER = 4
ZERO_PHASE_ORDER = 3
CHUNK = 64  # must equal AL_SOSBANK_CHUNK in csrc/al_sosbank.h
LANES = 8  # must equal AL_SOSBANK_LANES
_F_MIN_HZ = 10.0
_F_MAX_HZ = 20000.0
# The R10 series of preferred numbers: the nominal mid-band frequencies of IEC 61260-1:2014.
_R10 = (1.0, 1.25, 1.6, 2.0, 2.5, 3.15, 4.0, 5.0, 6.3, 8.0)


def _band_indices(fraction: int, f_low_hz: float, f_high_hz: float) -> np.ndarray:
    b = fraction
    lo = math.floor(b * math.log(f_low_hz / 1000.0, OCTAVE_RATIO)) - 1
    hi = math.ceil(b * math.log(f_high_hz / 1000.0, OCTAVE_RATIO)) + 1
    x = np.arange(lo, hi + 1)
    exact = mid_band_frequencies_hz(fraction, x)
    nominal = _nominal_hz(fraction, x)
    # A band counts when its mid-band frequency, exact or nominal, lies in the range: the
    # 31.5 Hz band (exact 31.62 Hz) is in 20..31.5 Hz.
    keep = (np.maximum(exact, nominal) >= f_low_hz) & (np.minimum(exact, nominal) <= f_high_hz)
    return x[keep]


def mid_band_frequencies_hz(fraction: int, index: Any) -> np.ndarray:
    """Exact base-10 mid-band frequencies ``1000 G^(index / fraction)`` in Hz.

    Parameters
    ----------
    fraction : {1, 3}
        Bands per octave, b.
    index : array_like of int
        Band number x (0 is the 1 kHz band).

    Returns
    -------
    ndarray of float64
        The exact mid-band frequencies of IEC 61260-1:2014 (base 10, odd b).
    """
    return 1000.0 * OCTAVE_RATIO ** (np.asarray(index, float) / fraction)


def _nominal_hz(fraction: int, index: np.ndarray) -> np.ndarray:
    # G^(1/3) = 10^(1/10) exactly, so a one-third-octave band x (an octave band 3x) is the
    # R10 number x mod 10, times 10^(3 + x // 10).
    k = np.asarray(index, int) * (3 // fraction)
    return np.array([_R10[i % 10] * 10.0 ** (3 + i // 10) for i in k.tolist()])


def band_edges_hz(fraction: int, center_frequencies_hz: Any) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper band-edge frequencies ``f_m G^(-+1/(2b))`` in Hz (IEC 61260-1:2014)."""
    fm = np.asarray(center_frequencies_hz, float)
    half = OCTAVE_RATIO ** (1.0 / (2 * fraction))
    return fm / half, fm * half


@dataclass(frozen=True)
class OctaveFilterbankConfig:
    """Validated parameters of an :class:`OctaveFilterbank`.

    Parameters
    ----------
    fs : float
        Sample rate in Hz, in [8000, 384000].
    fraction : {1, 3}
        1 for octave bands, 3 for one-third-octave bands.
    f_low_hz, f_high_hz : float
        The bands whose mid-band frequency (exact or nominal) lies in [f_low_hz, f_high_hz],
        with ``10 <= f_low_hz <= f_high_hz <= 20000``. ``f_high_hz=None`` takes every band up
        to 20 kHz whose upper band edge lies below fs / 2.
    zero_phase : bool
        False: causal filters, streaming. True: forward-backward filtering of whole signals.
    """

    fs: float = 48000.0
    fraction: int = 3
    f_low_hz: float = 25.0
    f_high_hz: float | None = None
    zero_phase: bool = False

    def __post_init__(self) -> None:
        check_real("fs", self.fs, low=8000, high=384000)
        if check_int("fraction", self.fraction, low=1, high=3) not in (1, 3):
            raise ConfigError(
                f"fraction must be 1 (octave) or 3 (one-third octave), got {self.fraction!r}"
            )
        check_real("f_low_hz", self.f_low_hz, low=_F_MIN_HZ, high=_F_MAX_HZ)
        if self.f_high_hz is not None:
            check_real("f_high_hz", self.f_high_hz, low=_F_MIN_HZ, high=_F_MAX_HZ)
            if self.f_high_hz < self.f_low_hz:
                raise ConfigError(
                    f"f_high_hz must be >= f_low_hz ({self.f_low_hz:g} Hz), got {self.f_high_hz!r}"
                )
        if not isinstance(self.zero_phase, bool | np.bool_):
            raise ConfigError(f"zero_phase must be True or False, got {self.zero_phase!r}")

    def band_indices(self) -> np.ndarray:
        """Band numbers x (0 = 1 kHz) of the selected bands, ascending."""
        fs, b = float(self.fs), int(self.fraction)
        half = OCTAVE_RATIO ** (1.0 / (2 * b))
        if self.f_high_hz is None:
            x = _band_indices(b, float(self.f_low_hz), _F_MAX_HZ)
            x = x[mid_band_frequencies_hz(b, x) * half < fs / 2]
        else:
            x = _band_indices(b, float(self.f_low_hz), float(self.f_high_hz))
            too_high = mid_band_frequencies_hz(b, x) * half >= fs / 2
            if too_high.any():
                ok = x[~too_high]
                top = f"{_nominal_hz(b, ok)[-1]:g} Hz" if ok.size else "none"
                raise ConfigError(
                    f"f_high_hz={self.f_high_hz!r} selects bands whose upper edge lies above "
                    f"fs / 2 = {fs / 2:g} Hz; the highest usable band at this fs is {top}"
                )
        if x.size == 0:
            raise ConfigError(
                f"no {'octave' if b == 1 else 'one-third-octave'} band lies in f_low_hz.."
                f"f_high_hz at fs={fs:g} Hz: widen the range"
            )
        return x


def _butter_band(fs: float, f1: float, f2: float, order: int, edge_db: float) -> np.ndarray:
    """Butterworth band-pass sections whose response is ``edge_db`` down at f1 and f2."""
    # Bilinear transform with pre-warped frequencies: the band-pass is geometrically symmetric
    # around w0 = sqrt(w1 w2) on the warped axis w = 2 fs tan(pi f / fs).
    w1, w2 = (2 * fs * math.tan(math.pi * f / fs) for f in (f1, f2))
    w0_sq = w1 * w2
    # |H|^2 = 1 / (1 + r^(2N)), r = (w^2 - w0^2) / (w B); the 3.01 dB design has B = w2 - w1.
    r_edge = (float(db_to_power(edge_db)) - 1.0) ** (1.0 / (2 * order))
    bw = (w2 - w1) / r_edge
    w1n = (-bw + math.sqrt(bw * bw + 4 * w0_sq)) / 2
    w2n = w1n + bw
    f1n, f2n = (fs / math.pi * math.atan(w / (2 * fs)) for w in (w1n, w2n))
    return scipy.signal.butter(order, [f1n, f2n], btype="bandpass", fs=fs, output="sos")


def design_octave_bands(config: OctaveFilterbankConfig) -> np.ndarray:
    """Second-order sections of every band, shape (n_bands, n_sections, 6), float64.

    Causal: order-4 Butterworth, 3.01 dB down at the band edges. Zero-phase: order-3 passes,
    each 1.505 dB down at the band edges (the forward-backward product is 3.01 dB down).
    """
    fs, b = float(config.fs), int(config.fraction)
    f1, f2 = band_edges_hz(b, mid_band_frequencies_hz(b, config.band_indices()))
    if config.zero_phase:
        order, edge_db = ZERO_PHASE_ORDER, float(power_to_db(2.0)) / 2
    else:
        order, edge_db = CAUSAL_ORDER, float(power_to_db(2.0))
    bands = [_butter_band(fs, lo, hi, order, edge_db) for lo, hi in zip(f1, f2, strict=True)]
    return np.stack(bands)


class _Bank:
    """One al_sosbank state for ``n_channels`` channels, with every buffer C points into."""

    def __init__(self, coef: np.ndarray, n_bands: int, n_channels: int) -> None:
        n_sections, stride = coef.shape[0], coef.shape[2]
        s = CStruct(
            "al_sosbank", n_bands=n_bands, stride=stride, n_sections=n_sections,
            n_channels=n_channels,
        )
        s.bind("coef", coef, length=n_sections * 5 * stride, writable=False)
        s.zeros("state", (n_channels, n_sections, 2, stride))
        s.zeros("scratch", (CHUNK, stride))
        self.struct = s
        self.c = s.c

    def analyze(self, channel: int, x: np.ndarray, out: np.ndarray) -> None:
        if x.size:
            status = lib.al_sosbank_analyze(
                self.c, channel, float_buffer(x, "x", writable=False), x.size,
                float_buffer(out, "out"),
            )
            check(status, "al_sosbank_analyze")

    def filter_reversed(self, channel: int, bands: np.ndarray) -> None:
        if bands.shape[-1]:
            status = lib.al_sosbank_filter_reversed(
                self.c, channel, float_buffer(bands, "bands"), bands.shape[-1]
            )
            check(status, "al_sosbank_filter_reversed")


class OctaveFilterbank(Processor):
    """Octave or one-third-octave filterbank, IEC 61260-1:2014 class 1, base-10 frequencies.

    Parameters
    ----------
    fs : float
        Sample rate in Hz, in [8000, 384000].
    fraction : {1, 3}
        1: octave bands; 3: one-third-octave bands.
    f_low_hz, f_high_hz : float
        Range of mid-band frequencies in Hz, within [10, 20000]; a band is in when its exact
        or its nominal mid-band frequency is in the range (``f_high_hz=31.5`` keeps the band
        whose exact frequency is 31.62 Hz). ``f_high_hz=None`` (default) goes up to 20 kHz or
        the highest band whose upper edge lies below fs / 2.
    zero_phase : bool
        False (default): causal Butterworth bands, streaming with kept state. True: offline
        forward-backward filtering of whole signals (no phase shift, squared magnitude, each
        pass designed for half the attenuation so that the result stays class 1).

    Notes
    -----
    ``analyze(x)`` filters one channel into ``(n_bands, n_samples)`` float32 band signals
    (causal: continuing from the previous call; zero-phase: the whole of ``x``).
    ``process(block)`` streams ``(n_channels, n_samples)`` into ``(n_channels, n_bands,
    n_samples)`` (a 1-D block gives ``(n_bands, n_samples)``); it is causal only.
    ``band_levels_db(x)`` gives the level of every band of a whole signal.

    Examples
    --------
    >>> import numpy as np
    >>> from audiolab.dsp import OctaveFilterbank
    >>> fb = OctaveFilterbank(fs=48000, fraction=3, f_low_hz=25, f_high_hz=20000)
    >>> fb.n_bands, fb.nominal_frequencies_hz[[0, 15, -1]].tolist()
    (30, [25.0, 800.0, 20000.0])
    >>> t = np.arange(48000) / 48000
    >>> tone = (np.sqrt(2) * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)  # 1 Pa RMS
    >>> levels = fb.band_levels_db(tone)
    >>> round(float(levels[16]), 1)  # the 1 kHz band, dB SPL
    94.0
    """

    def __init__(
        self,
        *,
        fs: float = 48000.0,
        fraction: int = 3,
        f_low_hz: float = 25.0,
        f_high_hz: float | None = None,
        zero_phase: bool = False,
    ) -> None:
        super().__init__()
        self.config = OctaveFilterbankConfig(
            fs=fs, fraction=fraction, f_low_hz=f_low_hz, f_high_hz=f_high_hz,
            zero_phase=zero_phase,
        )
        self.fs = float(fs)
        self._index = self.config.band_indices()
        self._sos = design_octave_bands(self.config)
        self.n_bands, self.n_sections = int(self._sos.shape[0]), int(self._sos.shape[1])
        # Kernel layout (n_sections, 5, stride): b0 b1 b2 a1 a2 with bands in SIMD lanes; the
        # band count is padded with all-zero (silent) bands to a multiple of LANES.
        stride = -(-self.n_bands // LANES) * LANES
        coef = self._sos[:, :, [0, 1, 2, 4, 5]] / self._sos[:, :, 3:4]
        self._coef = np.zeros((self.n_sections, 5, stride))
        self._coef[:, :, : self.n_bands] = coef.transpose(1, 2, 0)
        self._one = self._new_bank(1)
        self._multi: _Bank | None = None

    def _new_bank(self, n_channels: int) -> _Bank:
        return _Bank(self._coef, self.n_bands, n_channels)

    @property
    def sos(self) -> np.ndarray:
        """Second-order sections of the bands, (n_bands, n_sections, 6) float64 (a copy).

        For a zero-phase bank these are one pass: the bank runs them forward then backward.
        """
        return self._sos.copy()

    @property
    def center_frequencies_hz(self) -> np.ndarray:
        """Exact base-10 mid-band frequencies in Hz, ``1000 * 10^(3x/(10b))`` (float64)."""
        return mid_band_frequencies_hz(self.config.fraction, self._index)

    @property
    def nominal_frequencies_hz(self) -> np.ndarray:
        """Nominal mid-band frequencies in Hz (31.5, 63, 125, ...), for labels (float64)."""
        return _nominal_hz(self.config.fraction, self._index)

    @property
    def band_edges_hz(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper band-edge frequencies in Hz, ``f_m G^(-+1/(2b))``."""
        return band_edges_hz(self.config.fraction, self.center_frequencies_hz)

    @property
    def latency_samples(self) -> int:
        """0: IIR bands have no block delay (and the zero-phase bands no delay at all)."""
        return 0

    # -- processor protocol -------------------------------------------------------------------
    def process(self, block: Any) -> np.ndarray:
        """Filter a block ``(n_channels, n_samples)`` into ``(n_channels, n_bands, n_samples)``.

        Causal streaming with kept state; a 1-D block (one channel) gives ``(n_bands,
        n_samples)``. Raises ConfigError for a zero-phase bank, which needs whole signals.
        """
        if self.config.zero_phase:
            raise ConfigError(
                "process() streams causally, but this bank has zero_phase=True, which filters "
                "whole signals: use analyze(x) or band_levels_db(x)"
            )
        y = super().process(block)
        if y.shape[-1] == 0:  # the base class hands empty blocks back unprocessed
            shape = (self.n_bands, 0) if y.ndim == 1 else (y.shape[0], self.n_bands, 0)
            return np.zeros(shape, np.float32)
        return y

    def _allocate(self, n_channels: int) -> None:
        self._multi = self._new_bank(n_channels)

    def _process(self, x: np.ndarray) -> np.ndarray:
        assert self._multi is not None
        out = np.empty((x.shape[0], self.n_bands, x.shape[1]), np.float32)
        for c in range(x.shape[0]):
            self._multi.analyze(c, x[c], out[c])
        return out

    def reset(self) -> None:
        """Return to rest: clear the streaming state and the state of :meth:`analyze`."""
        super().reset()
        self._multi = None
        self._one = self._new_bank(1)

    # -- one channel --------------------------------------------------------------------------
    def analyze(self, x: Any, out: np.ndarray | None = None) -> np.ndarray:
        """Filter one channel into its band signals.

        Parameters
        ----------
        x : array_like, shape (n_samples,)
            One channel, real floating point (sound pressure in Pa inside audiolab).
        out : ndarray, shape (n_bands, n_samples), float32, optional
            Preallocated C-contiguous output to fill.

        Returns
        -------
        ndarray, shape (n_bands, n_samples), float32
            Band signals, lowest band first (``out`` if given). Causal bank: continues from the
            previous call (``reset()`` to start again). Zero-phase bank: ``x`` filtered forward
            then backward from rest, as a whole signal.
        """
        xs = as_mono(x, name="x")
        out = check_out(out, (self.n_bands, xs.size), np.float32)
        if self.config.zero_phase:
            self._new_bank(1).analyze(0, xs, out)
            self._new_bank(1).filter_reversed(0, out)
        else:
            self._one.analyze(0, xs, out)
        return out

    def band_levels_db(self, x: Any, *, reference: float = P_REF_PA) -> np.ndarray:
        """Level of every band of a whole signal (equivalent level over all of ``x``).

        Parameters
        ----------
        x : array_like, shape (n_samples,)
            One channel; at least one sample.
        reference : float
            Reference RMS value in the signal's unit (default 20e-6: Pa -> dB SPL).

        Returns
        -------
        ndarray, shape (n_bands,), float64
            ``10 log10(mean(band^2) / reference^2)``; ``-inf`` for a silent band. Filters
            start at rest and the state of :meth:`analyze` is left alone.
        """
        ref = check_real("reference", reference, low=1e-150, high=1e150)
        xs = as_mono(x, name="x")
        if xs.size == 0:
            raise SignalError("x must hold at least one sample to have a level")
        sum_sq = np.zeros(self.n_bands)
        if self.config.zero_phase:
            bands = self.analyze(xs)
            sum_sq += np.einsum("bn,bn->b", bands, bands, dtype=np.float64)
        else:
            # Chunks bound the memory: a long file never holds all its band signals at once.
            bank = self._new_bank(1)
            step = 1 << 15
            buf = np.empty((self.n_bands, step), np.float32)
            for start in range(0, xs.size, step):
                chunk = np.ascontiguousarray(xs[start:start + step])
                part = buf[:, :chunk.size] if chunk.size == step else np.empty(
                    (self.n_bands, chunk.size), np.float32
                )
                bank.analyze(0, chunk, part)
                sum_sq += np.einsum("bn,bn->b", part, part, dtype=np.float64)
        return power_to_db(sum_sq / xs.size / ref**2)
