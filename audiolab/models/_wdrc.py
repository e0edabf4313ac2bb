"""Multiband wide-dynamic-range compression fused with the gammatone filterbank (C kernel).

Signal path per band (csrc/wdrc.c): Hohmann (2002) complex gammatone analysis -> band power
|z|^2 averaged over a grid of ``grid_samples`` samples (the imaginary part of the band is the
Hilbert transform of its real part, so |z| is the envelope without carrier ripple) -> band
level in dB SPL, smoothed on that grid by a first-order attack/release smoother in the dB
domain -> static gain curve -> linear gain ramped linearly over the next grid interval ->
resynthesis (phase factor and weight; Hohmann's per-band delay is applied to the band's input,
which gives the same output and lets all bands of an output sample be summed at once) -> a
broadband limiter at the MPO that scales the output by limit / |analytic output| (instant
attack, 0.25 ms release): since |Re(a)| <= |a| the output never exceeds the limit, and a steady
tone is scaled rather than clipped, so OSPL90 is measured without distortion. Only the grid
points pay for a logarithm and an exponential; the ramp phase is part of the state, so
block-split processing equals whole-signal processing exactly.

Static gain curve of a band, input band level L in dB SPL (RMS of the band's real part)::

    G(L) = gain_db - (1 - 1/ratio) max(L - knee_db_spl, 0)
                   - (1/expansion_ratio - 1) max(expansion_knee_db_spl - L, 0)
    G(L) = min(G(L), max_gain_db)

ANSI S3.22 attack and release times
-----------------------------------
``attack_ms`` and ``release_ms`` are the times ANSI S3.22 defines (2 kHz tone stepped
55 -> 90 dB SPL: time until the output is within 3 dB of its final value; 90 -> 55 dB SPL:
within 4 dB), not time constants. The level smoother follows an input step from L0 to L1 as
L(t) = L1 + (L0 - L1) exp(-t / tau). While the band compresses with ratio CR, the output is off
its final value by (1 - 1/CR) |L(t) - L1| dB, which starts at 35 (1 - 1/CR) dB (the overshoot)
and falls below the tolerance D (3 dB attack, 4 dB release) when
|L(t) - L1| = D / (1 - 1/CR), i.e. at::

    t = tau ln(35 (1 - 1/CR) / D)      so      tau = t_ANSI / ln(35 (1 - 1/CR) / D).

With knees, expansion and the gain limit on the way, the curve is not one straight line, so
:func:`ansi_time_constants_ms` solves the same condition on the band's actual curve
(|G(L(u)) - G(L1)| = D with u = t / tau, found on a fine grid of u) for a tone at the band's
centre frequency at the ANSI levels. A band whose output never leaves the tolerance (ratio
below about 1.1) has an ANSI time of zero whatever tau is; it gets the tau of a band with
infinite ratio (D = 3 or 4 dB of a 35 dB step). The measured times of fitted aids are tested
in tests/test_hearing_aid.py.
"""

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from audiolab._ckernel import check, ffi, float_buffer, lib
from audiolab._cstruct import CStruct
from audiolab._errors import ConfigError, SignalError
from audiolab._validate import check_int, check_real
from audiolab.calibration import P_REF_PA
from audiolab.dsp import GammatoneConfig, design_gammatone
from audiolab.dsp._gammatone import GammatoneDesign, real_part_responses
from audiolab.dsp._processor import Processor
from audiolab.dsp._units import amplitude_to_db, db_to_amplitude, db_to_power, power_to_db

__all__ = [
    "ANSI_HIGH_DB_SPL",
    "ANSI_LOW_DB_SPL",
    "LEVEL_FLOOR_DB_SPL",
    "MultibandWdrc",
    "WdrcSettings",
    "ansi_time_constants_ms",
    "static_gain_db",
]

LANES = int(lib.AL_WDRC_LANES)
CHUNK = int(lib.AL_WDRC_CHUNK)
ORDER = 4

ANSI_LOW_DB_SPL = 55.0
ANSI_HIGH_DB_SPL = 90.0
ATTACK_TOLERANCE_DB = 3.0  # ANSI S3.22: attack ends within 3 dB of the final output
RELEASE_TOLERANCE_DB = 4.0  # ... release within 4 dB
LEVEL_FLOOR_DB_SPL = 0.0
"""Band levels below this are taken as this (silence does not drive the expansion to -inf)."""
LIMITER_RELEASE_MS = 0.25  # faster than any gain change of the compressor: no dips after onsets
GRID_MS = 1.0 / 3.0  # gain update interval: 16 samples at 48 kHz


def _band_array(name: str, values: ArrayLike, n: int, low: float, high: float) -> np.ndarray:
    try:
        a = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be numbers, got {values!r}") from None
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise ConfigError(f"{name} must have one value per band ({n}), got shape {a.shape}")
    if not np.isfinite(a).all() or (a < low).any() or (a > high).any():
        raise ConfigError(f"{name} must be finite and in [{low:g}, {high:g}], got {a.tolist()}")
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class WdrcSettings:
    """Gain curve of every band of one ear, the ANSI times and the output limit.

    Parameters
    ----------
    gain_db : array_like, shape (n_bands,)
        Gain between the expansion knee and the compression knee, dB, in [-40, 80].
    knee_db_spl : array_like
        Compression knee (band level, dB SPL), in [0, 120].
    ratio : array_like
        Compression ratio above the knee, in [1, 10] (1 = linear).
    expansion_knee_db_spl : array_like
        Band level below which the gain falls (expansion), dB SPL, in [0, 120]; must not exceed
        ``knee_db_spl``.
    expansion_ratio : array_like
        Expansion ratio (input dB per output dB) below the expansion knee, in [0.25, 1]
        (1 = no expansion).
    max_gain_db : array_like
        Upper limit of the gain, dB, in [-40, 80].
    attack_ms, release_ms : float
        ANSI S3.22 attack time in (0, 500] ms and release time in (0, 5000] ms.
    mpo_db_spl : float
        Output limit (the level of a sine whose peak the limiter allows), in [60, 140] dB SPL.
    """

    gain_db: Any
    knee_db_spl: Any
    ratio: Any
    expansion_knee_db_spl: Any
    expansion_ratio: Any
    max_gain_db: Any
    attack_ms: float = 5.0
    release_ms: float = 50.0
    mpo_db_spl: float = 110.0
    n_bands: int = field(init=False)

    def __post_init__(self) -> None:
        g = np.atleast_1d(np.asarray(self.gain_db, dtype=float))
        n = int(g.size)
        object.__setattr__(self, "n_bands", n)
        if n < 1 or g.ndim != 1:
            raise ConfigError(f"gain_db must be a 1-D list with one value per band, got {g.shape}")
        for name, lo, hi in (
            ("gain_db", -40.0, 80.0),
            ("knee_db_spl", 0.0, 120.0),
            ("ratio", 1.0, 10.0),
            ("expansion_knee_db_spl", 0.0, 120.0),
            ("expansion_ratio", 0.25, 1.0),
            ("max_gain_db", -40.0, 80.0),
        ):
            object.__setattr__(self, name, _band_array(name, getattr(self, name), n, lo, hi))
        if (self.expansion_knee_db_spl > self.knee_db_spl).any():
            raise ConfigError("expansion_knee_db_spl must not exceed knee_db_spl in any band")
        check_real("attack_ms", self.attack_ms, low=0, high=500, low_open=True)
        check_real("release_ms", self.release_ms, low=0, high=5000, low_open=True)
        check_real("mpo_db_spl", self.mpo_db_spl, low=60, high=140)

    @property
    def is_linear(self) -> bool:
        """True when no band compresses or expands (frequency-shaped gain only)."""
        return bool((self.ratio == 1).all() and (self.expansion_ratio == 1).all())


def static_gain_db(settings: WdrcSettings, level_db_spl: ArrayLike) -> np.ndarray:
    """Gain in dB of every band at steady band levels (the static curve, float64).

    Parameters
    ----------
    settings : WdrcSettings
        The band curves.
    level_db_spl : array_like
        Band levels in dB SPL, broadcast against ``(n_bands,)`` (e.g. shape ``(..., n_bands)``).

    Returns
    -------
    numpy.ndarray
        Gains in dB, the broadcast shape.
    """
    s = settings
    lv = np.maximum(np.asarray(level_db_spl, dtype=float), LEVEL_FLOOR_DB_SPL)
    g = (
        s.gain_db
        - (1.0 - 1.0 / s.ratio) * np.maximum(lv - s.knee_db_spl, 0.0)
        - (1.0 / s.expansion_ratio - 1.0) * np.maximum(s.expansion_knee_db_spl - lv, 0.0)
    )
    return np.minimum(g, s.max_gain_db)


def ansi_time_constants_ms(settings: WdrcSettings) -> tuple[np.ndarray, np.ndarray]:
    """Attack and release time constants (ms) of the dB-domain level smoother of every band.

    Derived in the module docstring: tau = t_ANSI / u, where u is the number of time constants
    after which the band's output stays within the ANSI tolerance of its final value.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Attack and release time constants in ms, one per band.
    """
    step = ANSI_HIGH_DB_SPL - ANSI_LOW_DB_SPL
    u = np.linspace(0.0, 20.0, 20001)[:, None]
    decay = step * np.exp(-u)
    taus = []
    for t_ms, tol, final in (
        (settings.attack_ms, ATTACK_TOLERANCE_DB, ANSI_HIGH_DB_SPL),
        (settings.release_ms, RELEASE_TOLERANCE_DB, ANSI_LOW_DB_SPL),
    ):
        level = final - decay if final == ANSI_HIGH_DB_SPL else final + decay
        err = np.abs(static_gain_db(settings, level) - static_gain_db(settings, final))
        outside = err > tol
        # Last u at which the output is still outside the tolerance (+1 grid step).
        last = np.where(outside.any(axis=0), outside.shape[0] - np.argmax(outside[::-1], axis=0), 0)
        u_settle = u[np.minimum(last, u.shape[0] - 1), 0]
        fallback = math.log(step / tol)
        u_settle = np.where(last > 0, u_settle, fallback)
        taus.append(t_ms / u_settle)
    return taus[0], taus[1]


def _lanes(values: np.ndarray, n_lanes: int) -> np.ndarray:
    out = np.zeros(n_lanes, np.float32)
    out[: values.size] = values
    return out


class MultibandWdrc(Processor):
    """Gammatone filterbank + per-band WDRC + resynthesis + MPO limiter, in C.

    Parameters
    ----------
    settings : WdrcSettings or sequence of WdrcSettings
        One per channel (e.g. left and right ear), or one for every channel.
    fs : float
        Sample rate in Hz.
    f_low_hz, f_high_hz, bands_per_erb, delay_ms :
        Filterbank (see :class:`audiolab.dsp.GammatoneFilterbank`); the band count must match
        the settings (use :meth:`band_frequencies_hz` first).
    grid_samples : int, optional
        Gains are computed every ``grid_samples`` samples and ramped in between, in [1, 256];
        default: the samples in 1/3 ms (16 at 48 kHz).

    Examples
    --------
    >>> import numpy as np
    >>> from audiolab.models import MultibandWdrc, WdrcSettings
    >>> fc = MultibandWdrc.band_frequencies_hz(fs=48000)
    >>> n = fc.size
    >>> s = WdrcSettings(gain_db=np.full(n, 20.0), knee_db_spl=40.0, ratio=2.0,
    ...                  expansion_knee_db_spl=20.0, expansion_ratio=1.0, max_gain_db=80.0)
    >>> aid = MultibandWdrc(s, fs=48000)
    >>> aid.process(np.zeros((2, 480), np.float32)).shape
    (2, 480)
    """

    def __init__(
        self,
        settings: WdrcSettings | tuple[WdrcSettings, ...] | list[WdrcSettings],
        *,
        fs: float = 48000.0,
        f_low_hz: float = 100.0,
        f_high_hz: float = 8000.0,
        bands_per_erb: float = 1.0,
        delay_ms: float = 4.0,
        grid_samples: int | None = None,
    ) -> None:
        super().__init__()
        self.fs = float(fs)
        self.filterbank = GammatoneConfig(
            fs=fs, f_low_hz=f_low_hz, f_high_hz=f_high_hz, bands_per_erb=bands_per_erb,
            delay_ms=delay_ms,
        )
        self.design: GammatoneDesign = design_gammatone(self.filterbank)
        if grid_samples is None:
            grid_samples = max(1, round(GRID_MS * 1e-3 * self.fs))
        self.grid_samples = check_int("grid_samples", grid_samples, low=1, high=256)
        group = settings if isinstance(settings, tuple | list) else (settings,)
        if not group or not all(isinstance(s, WdrcSettings) for s in group):
            raise ConfigError("settings must be a WdrcSettings or a non-empty list of them")
        nb = self.n_bands
        for s in group:
            if s.n_bands != nb:
                raise ConfigError(
                    f"settings have {s.n_bands} bands but the filterbank has {nb}: build them "
                    "for MultibandWdrc.band_frequencies_hz(...) with the same parameters"
                )
        self.settings: tuple[WdrcSettings, ...] = tuple(group)
        self._n_lanes = -(-nb // LANES) * LANES
        d = self.design
        need = int(d.band_delays_samples.max()) + CHUNK + 1
        self._ring_len = 1 << int(math.ceil(math.log2(need)))
        self._c: Any = None
        self._struct: CStruct | None = None
        self._params: dict[int, dict[str, np.ndarray]] = {}  # keyed by id() of self.settings

    @staticmethod
    def band_frequencies_hz(
        *, fs: float = 48000.0, f_low_hz: float = 100.0, f_high_hz: float = 8000.0,
        bands_per_erb: float = 1.0,
    ) -> np.ndarray:
        """Centre frequencies (Hz) of the bands of a :class:`MultibandWdrc` built with these."""
        return design_gammatone(
            GammatoneConfig(fs=fs, f_low_hz=f_low_hz, f_high_hz=f_high_hz,
                            bands_per_erb=bands_per_erb)
        ).center_frequencies_hz

    @property
    def center_frequencies_hz(self) -> np.ndarray:
        """Centre frequencies of the bands in Hz."""
        return self.design.center_frequencies_hz

    @property
    def n_bands(self) -> int:
        """Number of bands."""
        return int(self.design.center_frequencies_hz.size)

    @property
    def latency_samples(self) -> int:
        """Delay of the output: the filterbank's resynthesis delay (the limiter adds none)."""
        return self.design.delay_samples

    def settings_for_channel(self, channel: int) -> WdrcSettings:
        """The settings that channel ``channel`` runs with."""
        return self.settings[0] if len(self.settings) == 1 else self.settings[channel]

    # -- derived per-band parameters ---------------------------------------------------------
    def band_parameters(self, channel: int) -> dict[str, np.ndarray]:
        """Kernel parameters of one channel (float64, one per band): curve and smoothing."""
        s = self.settings_for_channel(channel)
        cached = self._params.get(id(s))
        if cached is not None:
            return cached
        tau_a, tau_r = ansi_time_constants_ms(s)
        step_s = self.grid_samples / self.fs
        params = {
            "gain_db": s.gain_db,
            "knee_db_spl": s.knee_db_spl,
            "comp_slope": 1.0 / s.ratio - 1.0,
            "exp_knee_db_spl": s.expansion_knee_db_spl,
            "exp_slope": 1.0 / s.expansion_ratio - 1.0,
            "max_gain_db": s.max_gain_db,
            "attack_coef": 1.0 - np.exp(-step_s / (tau_a * 1e-3)),
            "release_coef": 1.0 - np.exp(-step_s / (tau_r * 1e-3)),
        }
        self._params[id(s)] = params
        return params

    def limit_pa(self, channel: int) -> float:
        """Peak output (Pa) the limiter allows: the peak of a sine at the MPO."""
        mpo = self.settings_for_channel(channel).mpo_db_spl
        return float(math.sqrt(2.0) * P_REF_PA * db_to_amplitude(mpo))

    # -- steady state of a pure tone -----------------------------------------------------------
    def tone_gain_db(
        self, f_hz: ArrayLike, level_db_spl: ArrayLike, *, channel: int = 0
    ) -> np.ndarray:
        """Steady-state gain (dB) for pure tones, exactly as the kernel settles to it.

        A tone of frequency f and level L gives band k the constant level L + 20 log10 |H_k(f)|
        (the analysis filter's response), so every band holds the constant gain G_k of its
        static curve, and the output is the tone times |sum_k g_k R_k(f)| (R_k: the band's
        resynthesis path). The output limiter is then applied as a ceiling.

        Parameters
        ----------
        f_hz : array_like
            Tone frequencies in Hz.
        level_db_spl : array_like
            Tone levels in dB SPL, broadcast against ``f_hz``.
        channel : int
            Which channel's settings.

        Returns
        -------
        numpy.ndarray
            Gains in dB, the broadcast shape of ``f_hz`` and ``level_db_spl``.
        """
        f, lv = np.broadcast_arrays(np.asarray(f_hz, float), np.asarray(level_db_spl, float))
        s = self.settings_for_channel(channel)
        d = self.design
        w = 2 * np.pi * f.reshape(-1)[:, None] / self.fs
        h_pos = d.normalization / (1 - d.coefficients * np.exp(-1j * w)) ** ORDER
        h_neg = d.normalization / (1 - d.coefficients * np.exp(1j * w)) ** ORDER
        # A cos(wt) = A/2 (e^{iwt} + e^{-iwt}): the mean of |z|^2 / 2 is the tone's mean square
        # times (|H(w)|^2 + |H(-w)|^2) / 4 (H(w_c) = 2 by the normalisation).
        band_gain = (np.abs(h_pos) ** 2 + np.abs(h_neg) ** 2) / 4
        band_level = lv.reshape(-1)[:, None] + power_to_db(band_gain + 1e-30)
        g = db_to_amplitude(static_gain_db(s, band_level))
        phase = d.weights / np.abs(d.weights)
        r = real_part_responses(
            d.coefficients, d.normalization, phase, d.band_delays_samples, f.reshape(-1), self.fs
        ) * np.abs(d.weights)
        gain_db = amplitude_to_db(np.abs(np.sum(g * r, axis=1)))
        out_db = np.minimum(lv.reshape(-1) + gain_db, s.mpo_db_spl)
        return (out_db - lv.reshape(-1)).reshape(f.shape)

    # -- processor protocol ------------------------------------------------------------------
    def _allocate(self, n_channels: int) -> None:
        if len(self.settings) not in (1, n_channels):
            raise SignalError(
                f"this compressor has settings for {len(self.settings)} channels but the block "
                f"has {n_channels}"
            )
        s = CStruct(
            "al_wdrc", n_bands=self.n_bands, n_groups=self._n_lanes // LANES,
            n_channels=n_channels, grid=self.grid_samples, ring_len=self._ring_len,
            limiter_release_coef=math.exp(-1.0 / (LIMITER_RELEASE_MS * 1e-3 * self.fs)),
            power_scale=1.0 / (self.grid_samples * 2.0 * P_REF_PA**2),
            power_floor=float(db_to_power(LEVEL_FLOOR_DB_SPL)),
        )
        self._bind_filterbank(s)
        self._bind_curves(s, n_channels)
        self._bind_state(s, n_channels)
        # C holds pointers into every array of s: they live as long as the struct.
        self._struct = s
        self._c = s.c

    def _bind_filterbank(self, s: CStruct) -> None:
        """The gammatone bands' poles, input gains, resynthesis weights and delays."""
        d, nl = self.design, self._n_lanes
        for name, values in (
            ("coef_re", d.coefficients.real), ("coef_im", d.coefficients.imag),
            ("norm", d.normalization), ("weight_re", d.weights.real),
            ("weight_im", d.weights.imag),
        ):
            s.bind(name, _lanes(values, nl), length=nl, writable=False)
        s.bind("delay", d.band_delays_samples, length=self.n_bands, writable=False)

    def _bind_curves(self, s: CStruct, n_channels: int) -> None:
        """Each channel's gain curve, smoothing coefficients and output limit."""
        nl = self._n_lanes
        per_band: dict[str, np.ndarray] = {}
        for c in range(n_channels):
            for k, v in self.band_parameters(c).items():
                per_band.setdefault(k, np.zeros((n_channels, nl), np.float32))[c] = _lanes(v, nl)
        for k, v in per_band.items():
            s.bind(k, v, length=n_channels * nl, writable=False)
        limit = [self.limit_pa(c) for c in range(n_channels)]
        s.bind("limit_pa", limit, length=n_channels, writable=False)

    def _bind_state(self, s: CStruct, n_channels: int) -> None:
        """Filter, level, gain, input-ring and limiter state at rest (silence before the start).

        At rest every band's level is the floor and its gain that of the floor's level.
        """
        nl, ng = self._n_lanes, self._n_lanes // LANES
        floor_db = np.full(self.n_bands, LEVEL_FLOOR_DB_SPL)
        gain0 = np.zeros((n_channels, nl), np.float32)
        for c in range(n_channels):
            gain0[c, : self.n_bands] = db_to_amplitude(
                static_gain_db(self.settings_for_channel(c), floor_db)
            )
        s.zeros("state_re", (n_channels, ng, ORDER, LANES))
        s.zeros("state_im", (n_channels, ng, ORDER, LANES))
        s.zeros("power_acc", (n_channels, nl))
        s.zeros("level_db_spl", (n_channels, nl), fill=LEVEL_FLOOR_DB_SPL)
        s.bind("gain", gain0)
        s.zeros("gain_step", (n_channels, nl))
        s.bind("gain_target", gain0)
        s.zeros("input_ring", (n_channels, self._ring_len))
        s.zeros("limiter_env", n_channels)
        s.zeros("pos", n_channels)
        s.zeros("phase", n_channels)

    def _process(self, x: np.ndarray) -> np.ndarray:
        n_channels, n = x.shape
        check(lib.al_wdrc_process(self._c, float_buffer(x, "block"), n_channels, n),
              "al_wdrc_process")
        return x

    def c_stage(self, n_channels: int) -> tuple[Any, Any]:
        """(``al_stage_fn`` pointer, ``void *`` state) for the engine, for ``n_channels``.

        Allocates fresh state at rest for ``n_channels`` (what :meth:`process` then continues
        from); this object keeps every buffer the state points to alive.
        """
        n = check_int("n_channels", n_channels, low=1)
        self.reset()
        self._allocate(n)
        self._n_channels = n
        fn = ffi.cast("al_stage_fn", ffi.addressof(lib, "al_wdrc_process"))
        return fn, ffi.cast("void *", self._c)
