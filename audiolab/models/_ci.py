"""Cochlear-implant simulation: a noise- or sine-carrier channel vocoder.

Shannon, Zeng, Kamath, Wygonski & Ekelid (1995), "Speech recognition with primarily temporal
cues", Science 270:303-304: the signal is split into band-pass channels; each channel's envelope
(full-wave rectification and low-pass filtering) modulates a carrier (band-limited noise or a
sine at the channel's place), and the channels are summed.

Band edges are spaced equally in cochlear place with Greenwood's (1990) map, as CI processors
assign frequencies to electrodes. An electrode array inserted less deeply than the place of its
analysis bands presents them at more basal (higher-frequency) places: the synthesis bands then
follow the electrodes' places, given the insertion depth from the round window. Current spread
mixes each electrode's envelope into its neighbours, falling off exponentially with distance
along the cochlea (in dB/mm).

The filters and mixing weights are designed here in float64; the per-sample work runs in C
(csrc/ci.c).
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from audiolab._ckernel import check, ffi, float_buffer, lib
from audiolab._cstruct import CStruct
from audiolab._errors import ConfigError
from audiolab._params import Param, check_table, validate, without
from audiolab._validate import check_int
from audiolab.dsp._processor import Processor
from audiolab.dsp._units import db_to_amplitude

__all__ = [
    "CIConfig",
    "CIDesign",
    "CochlearImplantSimulator",
    "design_ci",
    "greenwood_frequency_hz",
    "greenwood_place",
]

# Greenwood (1990), J. Acoust. Soc. Am. 87:2592-2605, human: f = A (10^(a x) - k) with x the
# relative distance from the apex (0..1), A = 165.4 Hz, a = 2.1, k = 0.88.
GREENWOOD_A_HZ = 165.4
GREENWOOD_a = 2.1
GREENWOOD_K = 0.88

CARRIERS = ("noise", "sine")
MAX_BANDS = 22  # the most electrodes of a clinical array (Cochlear's 22)
LANES = 8  # bands are padded to a multiple of this for the C kernel's vector loops
ANALYSIS_ORDER = 3  # Butterworth band-pass of order 2 x 3 = 6 (18 dB/octave per side)
ENVELOPE_ORDER = 2  # Butterworth low-pass, 12 dB/octave
# Mean of |A sin| is 2 A / pi, its RMS A / sqrt(2): the factor turns the rectified mean into the
# band's RMS, so a channel puts out the power it took in.
ENVELOPE_GAIN = math.pi / (2.0 * math.sqrt(2.0))

_NYQUIST = (0.5, "fs")
_COCHLEA = (1.0, "cochlear_length_mm")


def greenwood_frequency_hz(place: ArrayLike) -> np.ndarray:
    """Characteristic frequency at a relative cochlear place (Greenwood 1990, human).

    Parameters
    ----------
    place : array_like
        Relative distance from the apex, 0 (apex) to 1 (base).

    Returns
    -------
    ndarray
        ``165.4 * (10 ** (2.1 * place) - 0.88)`` in Hz: 19.8 Hz at the apex, 20.7 kHz at the base.
    """
    return GREENWOOD_A_HZ * (10.0 ** (GREENWOOD_a * np.asarray(place, float)) - GREENWOOD_K)


def greenwood_place(f_hz: ArrayLike) -> np.ndarray:
    """Relative cochlear place (0 = apex, 1 = base) of a frequency in Hz; inverse of the map."""
    return np.log10(np.asarray(f_hz, float) / GREENWOOD_A_HZ + GREENWOOD_K) / GREENWOOD_a


@dataclass(frozen=True)
class CIConfig:
    """Validated parameters of a :class:`CochlearImplantSimulator`.

    Parameters
    ----------
    fs : float
        Sample rate in Hz, in [8000, 384000].
    n_bands : int
        Number of vocoder channels (electrodes), in [1, 22]. Called ``n_channels`` in chain files.
    carrier : {"noise", "sine"}
        Band-limited noise (Shannon et al. 1995) or a sine at each synthesis band's centre place.
    f_low_hz : float
        Lower edge of the analysis range in Hz, in [50, fs / 2).
    f_high_hz : float or None
        Upper edge of the analysis range in Hz, f_low_hz < f_high_hz < fs / 2. None: 7000 Hz,
        or 0.45 fs at rates below 15.6 kHz (see :attr:`high_hz`).
    envelope_cutoff_hz : float
        Cut-off of the envelope low-pass in Hz, in [10, 500] (Shannon et al.: 16-500 Hz).
    insertion_depth_mm : float or None
        Depth of the most apical electrode from the base (round window) in mm. None: the
        synthesis bands equal the analysis bands (no place mismatch).
    electrode_span_mm : float or None
        Distance in mm from the most apical to the most basal electrode's band edge. None: the
        span of the analysis range, so that ``insertion_depth_mm`` shifts without compressing.
    cochlear_length_mm : float
        Length of the basilar membrane in mm, in [25, 45] (35 mm is the usual human value).
    spread_db_per_mm : float or None
        Current spread: an electrode's envelope reaches a place ``d`` mm away attenuated by
        ``spread_db_per_mm * d`` dB. None: independent channels. In (0, 100].
    seed : int
        Key of the noise carriers, in [0, 2**63 - 1].
    """

    # The number of vocoder channels is "n_channels" in a chain file (INTERFACES.md).
    PARAMETERS: ClassVar[tuple[Param, ...]] = (
        Param("fs", "sample rate", unit="Hz", default=48000.0, low=8000, high=384000),
        Param("n_bands", "number of vocoder channels (electrodes)", kind="int", default=8,
              low=1, high=MAX_BANDS, key="n_channels"),
        Param("carrier", "band-limited noise (Shannon et al. 1995) or a sine at each "
              "synthesis band's centre place", kind="choice", default="noise",
              choices=CARRIERS),
        Param("f_low_hz", "lower edge of the analysis range", unit="Hz", default=200.0,
              low=50, high=_NYQUIST, high_open=True),
        Param("f_high_hz", "upper edge of the analysis range, above f_low_hz; unset: 7000 Hz, "
              "or 0.45 fs below 15.6 kHz", unit="Hz", default=None, low=0, high=_NYQUIST,
              low_open=True, high_open=True),
        Param("envelope_cutoff_hz", "cut-off of the envelope low-pass (Shannon et al.: "
              "16-500 Hz)", unit="Hz", default=160.0, low=10, high=500),
        Param("insertion_depth_mm", "depth of the most apical electrode from the round "
              "window; unset: no place mismatch", unit="mm", default=None, low=0,
              high=_COCHLEA, low_open=True),
        Param("electrode_span_mm", "distance from the most apical to the most basal "
              "electrode's band edge; unset: the span of the analysis range", unit="mm",
              default=None, low=0, high=_COCHLEA, low_open=True),
        Param("cochlear_length_mm", "length of the basilar membrane (35 mm: the usual human "
              "value)", unit="mm", default=35.0, low=25, high=45),
        Param("spread_db_per_mm", "current spread: attenuation of an electrode's envelope "
              "per mm along the cochlea; unset: independent channels", unit="dB/mm",
              default=None, low=0, high=100, low_open=True),
        Param("seed", "key of the noise carriers", kind="int", default=0, low=0,
              high=2**63 - 1),
    )

    fs: float = 48000.0
    n_bands: int = 8
    carrier: str = "noise"
    f_low_hz: float = 200.0
    f_high_hz: float | None = None
    envelope_cutoff_hz: float = 160.0
    insertion_depth_mm: float | None = None
    electrode_span_mm: float | None = None
    cochlear_length_mm: float = 35.0
    spread_db_per_mm: float | None = None
    seed: int = 0

    @property
    def high_hz(self) -> float:
        """Upper edge of the analysis range in Hz (``f_high_hz`` or its rate-aware default)."""
        if self.f_high_hz is not None:
            return float(self.f_high_hz)
        return min(7000.0, 0.45 * float(self.fs))

    def __post_init__(self) -> None:
        validate(vars(self), self.PARAMETERS)
        if self.high_hz <= self.f_low_hz:
            raise ConfigError(
                f"f_high_hz must be above f_low_hz ({self.f_low_hz:g} Hz), got {self.high_hz:g}"
            )


@dataclass(frozen=True)
class CIDesign:
    """What the C kernel and the NumPy reference run (float64 throughout).

    Places are in mm from the apex; depths (for electrodes) in mm from the base.
    """

    analysis_edges_hz: np.ndarray  # (n_bands + 1,)
    synthesis_edges_hz: np.ndarray  # (n_bands + 1,)
    carrier_frequencies_hz: np.ndarray  # (n_bands,) synthesis band centre places
    electrode_depths_mm: np.ndarray  # (n_bands,) depth of each synthesis centre from the base
    analysis_sos: np.ndarray  # (n_bands, ANALYSIS_ORDER, 6)
    envelope_sos: np.ndarray  # (ENVELOPE_ORDER // 2, 6)
    synthesis_sos: np.ndarray  # (n_bands, ANALYSIS_ORDER, 6)
    carrier_gain: np.ndarray  # (n_bands,)
    spread: np.ndarray | None  # (n_bands, n_bands) rows sum to 1, or None
    rotation: np.ndarray  # (n_bands, 2) cos, sin of the sine carriers' phase step


def _band_pass(edges_hz: np.ndarray, fs: float) -> np.ndarray:
    from scipy.signal import butter

    return np.stack([
        butter(ANALYSIS_ORDER, [lo, hi], btype="bandpass", fs=fs, output="sos")
        for lo, hi in zip(edges_hz[:-1], edges_hz[1:], strict=True)
    ])


def _noise_power_gain(sos: np.ndarray) -> float:
    """White-noise power gain of a biquad cascade: sum of h[n]^2 = mean of |H|^2 over [0, pi).

    On 2^15 frequencies this agrees with the summed squared impulse response to 1e-13 even for
    a 30 Hz wide band at 48 kHz, and costs a fraction of filtering a long impulse.
    """
    from scipy.signal import sosfreqz

    _, h = sosfreqz(sos, worN=1 << 15)
    return float(np.mean(np.abs(h) ** 2))


def design_ci(config: CIConfig) -> CIDesign:
    """Design band edges, filters, carrier gains and channel-interaction weights."""
    from scipy.signal import butter

    fs = float(config.fs)
    length = float(config.cochlear_length_mm)
    n = int(config.n_bands)
    # Analysis: equal steps in Greenwood place between f_low_hz and f_high_hz.
    place_lo, place_hi = greenwood_place([config.f_low_hz, config.high_hz])
    analysis_places = np.linspace(place_lo, place_hi, n + 1)
    analysis_edges = greenwood_frequency_hz(analysis_places)
    analysis_edges[[0, -1]] = config.f_low_hz, config.high_hz
    if config.insertion_depth_mm is None:
        synthesis_places = analysis_places
        synthesis_edges = analysis_edges.copy()
    else:
        synthesis_places = _electrode_places(config, (place_hi - place_lo) * length)
        synthesis_edges = greenwood_frequency_hz(synthesis_places)
    if synthesis_edges[-1] >= fs / 2 or synthesis_edges[0] < 20.0:
        raise ConfigError(
            f"the electrodes' bands span {synthesis_edges[0]:.0f}-{synthesis_edges[-1]:.0f} Hz, "
            f"outside 20 Hz - fs/2 ({fs / 2:g} Hz): change insertion_depth_mm or "
            "electrode_span_mm, or process at a higher fs"
        )
    centre_places = 0.5 * (synthesis_places[:-1] + synthesis_places[1:])
    carriers = greenwood_frequency_hz(centre_places)
    depths = length * (1.0 - centre_places)
    synthesis_sos = _band_pass(synthesis_edges, fs)
    if config.carrier == "noise":
        gain = np.array([1.0 / math.sqrt(_noise_power_gain(s)) for s in synthesis_sos])
    else:
        gain = np.full(n, math.sqrt(2.0))  # a sine of RMS 1
    step = 2.0 * np.pi * carriers / fs
    return CIDesign(
        analysis_edges_hz=analysis_edges,
        synthesis_edges_hz=synthesis_edges,
        carrier_frequencies_hz=carriers,
        electrode_depths_mm=depths,
        analysis_sos=np.ascontiguousarray(_band_pass(analysis_edges, fs)),
        envelope_sos=np.ascontiguousarray(
            butter(ENVELOPE_ORDER, config.envelope_cutoff_hz, fs=fs, output="sos")
        ),
        synthesis_sos=np.ascontiguousarray(synthesis_sos),
        carrier_gain=gain,
        spread=_current_spread(config.spread_db_per_mm, depths),
        rotation=np.ascontiguousarray(np.stack([np.cos(step), np.sin(step)], axis=1)),
    )


def _electrode_places(config: CIConfig, analysis_span_mm: float) -> np.ndarray:
    """Relative places (0 = apex) of the electrodes' band edges, from the insertion depth."""
    length = float(config.cochlear_length_mm)
    span = analysis_span_mm if config.electrode_span_mm is None \
        else float(config.electrode_span_mm)
    assert config.insertion_depth_mm is not None
    apical_place = length - float(config.insertion_depth_mm)
    if apical_place + span > length + 1e-9:
        raise ConfigError(
            f"insertion_depth_mm ({config.insertion_depth_mm:g}) must be at least the "
            f"electrode span ({span:.1f} mm), or the array would reach past the base; "
            "insert deeper or set a shorter electrode_span_mm"
        )
    n = int(config.n_bands)
    return np.asarray((apical_place + np.linspace(0.0, span, n + 1)) / length)


def _current_spread(spread_db_per_mm: float | None, depths_mm: np.ndarray) -> np.ndarray | None:
    """Channel-interaction weights (n_bands, n_bands), rows summing to 1; None without spread.

    An electrode's envelope reaches a place ``d`` mm away attenuated by ``spread_db_per_mm d``
    dB. Rows sum to 1: a flat spectrum keeps its level; a lone channel leaks into neighbours.
    """
    if spread_db_per_mm is None:
        return None
    distance_mm = np.abs(depths_mm[:, None] - depths_mm[None, :])
    weights = db_to_amplitude(-spread_db_per_mm * distance_mm)
    return np.asarray(weights / weights.sum(axis=1, keepdims=True))


def _band_inner(sos: np.ndarray) -> np.ndarray:
    """(n_bands, n_sections, 6) scipy sections -> (n_sections, 5, n_bands) b0 b1 b2 a1 a2."""
    return np.ascontiguousarray(sos[:, :, [0, 1, 2, 4, 5]].transpose(1, 2, 0))


class CochlearImplantSimulator(Processor):
    """Channel vocoder simulating what a cochlear-implant user hears (Shannon et al. 1995).

    Parameters
    ----------
    fs : float
        Sample rate in Hz.
    n_bands : int
        Number of channels (electrodes), 1-22 (4-22 are usual for CI simulations).
    carrier : {"noise", "sine"}
        Carrier of each channel.
    f_low_hz, f_high_hz : float
        Analysis range in Hz; band edges are equally spaced in cochlear place (Greenwood 1990).
        ``f_high_hz=None`` (default): 7000 Hz, or 0.45 fs at rates below 15.6 kHz.
    envelope_cutoff_hz : float
        Envelope low-pass cut-off in Hz (10-500).
    insertion_depth_mm : float, optional
        Insertion depth of the most apical electrode from the round window in mm; the channels
        are presented at the electrodes' places (a basal shift for shallow insertions).
    electrode_span_mm : float, optional
        Length of the array's band span in mm (default: that of the analysis range).
    cochlear_length_mm : float
        Cochlear length in mm (default 35).
    spread_db_per_mm : float, optional
        Current spread (channel interaction) in dB/mm; smaller is broader. Default: none.
    seed : int
        Key of the noise carriers: the same seed gives the same output whatever the block
        sizes and wherever it runs.

    Notes
    -----
    Works on ``(n_channels, n)`` float32 sound pressure in Pa, each signal channel (ear)
    independently, with its own noise carriers. Each channel's output has the power of its
    analysis band (for sines and slowly varying envelopes), so levels carry through. IIR
    filters only: ``latency_samples`` is 0 (the band-pass group delay, a few ms, is not an
    algorithmic block delay).

    Examples
    --------
    >>> import numpy as np
    >>> from audiolab.models import CochlearImplantSimulator
    >>> ci = CochlearImplantSimulator(fs=16000, n_bands=8, carrier="noise", seed=1)
    >>> ci.design.analysis_edges_hz.round(0)[:3]
    array([200., 359., 591.])
    >>> y = ci.process(np.zeros((1, 160), np.float32))
    >>> y.shape
    (1, 160)
    """

    # The chain sets fs for every stage: it is no key of the stage's table.
    CHAIN_PARAMETERS: ClassVar[tuple[Param, ...]] = without(CIConfig.PARAMETERS, "fs")

    def __init__(
        self,
        *,
        fs: float = 48000.0,
        n_bands: int = 8,
        carrier: str = "noise",
        f_low_hz: float = 200.0,
        f_high_hz: float | None = None,
        envelope_cutoff_hz: float = 160.0,
        insertion_depth_mm: float | None = None,
        electrode_span_mm: float | None = None,
        cochlear_length_mm: float = 35.0,
        spread_db_per_mm: float | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.config = CIConfig(
            fs=fs, n_bands=n_bands, carrier=carrier, f_low_hz=f_low_hz, f_high_hz=f_high_hz,
            envelope_cutoff_hz=envelope_cutoff_hz, insertion_depth_mm=insertion_depth_mm,
            electrode_span_mm=electrode_span_mm, cochlear_length_mm=cochlear_length_mm,
            spread_db_per_mm=spread_db_per_mm, seed=seed,
        )
        self.fs = float(fs)
        self.design = design_ci(self.config)
        self._state: CStruct | None = None
        self._c_stages: list[CStruct] = []

    @property
    def latency_samples(self) -> int:
        """IIR filters only: 0."""
        return 0

    # -- C state -----------------------------------------------------------------------------
    def _new_state(self, n_channels: int) -> CStruct:
        """A fresh ``al_ci`` at rest for ``n_channels`` signal channels, owning its buffers."""
        d = self.design
        nb = self.config.n_bands
        # The C loops run over bands with SIMD: pad to whole 8-double vectors with silent bands
        # (zero coefficients, gain and spread weights) appended after the real ones, so the
        # real bands keep their noise streams.
        lanes = -(-nb // LANES) * LANES
        na, ns, ne = d.analysis_sos.shape[1], d.synthesis_sos.shape[1], d.envelope_sos.shape[0]

        def pad(a: np.ndarray, axis: int, fill: float = 0.0) -> np.ndarray:
            widths = [(0, 0)] * a.ndim
            widths[axis] = (0, lanes - nb)
            return np.pad(a, widths, constant_values=fill)

        s = CStruct(
            "al_ci", n_channels=n_channels, n_bands=lanes,
            carrier=lib.AL_CI_NOISE if self.config.carrier == "noise" else lib.AL_CI_SINE,
            n_analysis_sections=na, n_envelope_sections=ne, n_synthesis_sections=ns,
            seed=self.config.seed, position=0, envelope_gain=ENVELOPE_GAIN,
        )
        s.bind("analysis_coef", pad(_band_inner(d.analysis_sos), 2), length=na * 5 * lanes,
               writable=False)
        s.bind("envelope_sos", d.envelope_sos, length=ne * 6, writable=False)
        s.bind("synthesis_coef", pad(_band_inner(d.synthesis_sos), 2), length=ns * 5 * lanes,
               writable=False)
        s.bind("carrier_gain", pad(d.carrier_gain, 0), length=lanes, writable=False)
        s.bind("rotation", [pad(d.rotation[:, 0], 0, 1.0), pad(d.rotation[:, 1], 0)],
               length=2 * lanes, writable=False)
        if d.spread is not None:
            # C reads [source, electrode].
            s.bind("spread", pad(pad(d.spread.T, 0), 1), length=lanes * lanes, writable=False)
        s.zeros("analysis_state", (n_channels, na, 2, lanes))
        s.zeros("envelope_state", (n_channels, ne, 2, lanes))
        s.zeros("synthesis_state", (n_channels, ns, 2, lanes))
        # Every carrier starts at phase 0: (cos, sin) = (1, 0).
        oscillator = s.zeros("oscillator", (n_channels, 2, lanes))
        oscillator[:, 0] = 1.0
        return s

    def c_stage(self, n_channels: int) -> tuple[Any, Any]:
        """``(al_stage_fn, void *state)`` of a fresh state for ``n_channels`` signal channels.

        The state is the simulator at rest; this object keeps its buffers alive.
        """
        n = check_int("n_channels", n_channels, low=1, high=1024)
        state = self._new_state(n)
        self._c_stages.append(state)
        fn = ffi.cast("al_stage_fn", ffi.addressof(lib, "al_ci_process"))
        return fn, ffi.cast("void *", state.c)

    # -- processor protocol -------------------------------------------------------------------
    def _allocate(self, n_channels: int) -> None:
        self._state = self._new_state(n_channels)

    def _process(self, x: np.ndarray) -> np.ndarray:
        assert self._state is not None
        status = lib.al_ci_process(self._state.c, float_buffer(x, "block"), x.shape[0],
                                   x.shape[1])
        check(status, "al_ci_process")
        return x

    def reset(self) -> None:
        """Return to rest: filter states, carrier phases and the noise counter."""
        super().reset()
        self._state = None

    # -- chains -------------------------------------------------------------------------------
    @classmethod
    def from_chain_table(
        cls, table: Mapping[str, Any], *, fs: float
    ) -> "CochlearImplantSimulator":
        """Build from a chain file's ``type = "ci-vocoder"`` table (without ``type``).

        Its keys are :attr:`CHAIN_PARAMETERS` (``n_channels`` is ``n_bands``); all optional.
        """
        return cls(fs=fs, **check_table(table, cls.CHAIN_PARAMETERS, stage_type="ci-vocoder",
                                        context={"fs": fs}))

    def to_chain_table(self) -> dict[str, Any]:
        """The chain-file table (without ``type``); unset optional keys are left out."""
        out: dict[str, Any] = {}
        for p in self.CHAIN_PARAMETERS:
            value = getattr(self.config, p.name)
            if value is not None:
                out[p.table_key] = value
        return out
