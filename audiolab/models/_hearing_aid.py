"""The hearing aid: a compressive (or linear) fitting realised by the fused multiband WDRC.

Compressive fitting (``compression="wdrc"``), per ear and per gammatone band k with centre f_k:

1. Target: the rule's insertion gain IG_k = prescribe(ear, rule, f_k) is given to speech at
   65 dB SPL. The band level of that speech, L65_k, is the ANSI S3.5-1997 standard speech
   spectrum (``speech_band_levels_db_spl``) in a band one ERB wide (the gammatone band's
   equivalent rectangular bandwidth is ERB_N(f_k), Glasberg & Moore 1990; Hohmann 2002).
2. Ratio: the normal dynamic range (0 dB HL to a loudness-discomfort level of 100 dB HL) is
   mapped onto the residual dynamic range between the threshold H_k and the estimated
   discomfort level LDL(H_k): CR_k = 100 / (LDL(H_k) - H_k), limited to [1, 3]. LDL(H) =
   100 + 0.5 max(H - 50, 0) dB HL approximates the mean discomfort levels of Pascoe (1988)
   (Hearing aid selection procedure used at Central Institute for the Deaf, Audiology
   Acoustics 1:16-35) and Kamm, Dirks & Mickey (1978): about 100 dB HL up to 50 dB HL of loss,
   rising about half as fast as the loss beyond. Ratios under 1.2 are set to 1 (linear): they
   move the output less than 6 dB over the ANSI 35 dB step, and their ANSI attack and release
   times are not defined (the output never leaves the 3/4 dB tolerance).
3. Knees: compression starts at the band level of 50 dB SPL speech (L65_k - 15 dB), so soft
   speech is already compressed; expansion (ratio 0.7) below the band level of 35 dB SPL speech
   (L65_k - 30 dB) keeps microphone and room noise down.
4. Gain: gain_db_k = IG_k + (1 - 1/CR_k) 15 dB, so that G_k(L65_k) = IG_k exactly; limited
   to the maximum gain of 80 dB (REFERENCE.md: openMHA, Tympan).
5. MPO: LDL(mean threshold at 0.5, 1, 2, 4 kHz), limited to [100, 120] dB SPL.
6. Band overlap: neighbouring gammatone bands overlap, so the band gains are corrected by the
   same fixed-point iteration Hohmann (2002) uses for the resynthesis weights, until the mean
   power gain that all bands together realise over each band's cell of the ERB-number scale
   equals the target's (for steady 65 dB SPL speech; in linear mode at every level).

``compression="linear"`` keeps steps 1, 5 and 6 only: frequency-shaped gain up to the MPO
limiter, no compression, no expansion. The attack and release times are the ANSI S3.22 times;
their conversion to time constants is derived in :mod:`audiolab.models._wdrc`.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from audiolab._errors import ConfigError, SignalError
from audiolab._params import Param, check_table, validate, without
from audiolab._validate import check_choice
from audiolab.audiology._audiogram import (
    EARS,
    STANDARD_AUDIOGRAMS,
    Audiogram,
    EarAudiogram,
    _from_our_json,
    load_audiogram,
)
from audiolab.audiology._prescription import prescribe
from audiolab.audiology._sii import speech_band_levels_db_spl
from audiolab.dsp import erb_bandwidth_hz, erb_number, erb_number_to_hz
from audiolab.dsp._gammatone import real_part_responses
from audiolab.dsp._processor import Processor
from audiolab.dsp._units import amplitude_to_db, db_to_amplitude, db_to_power
from audiolab.models._fitting import ATTACK_MS, RELEASE_MS, RULE
from audiolab.models._wdrc import MultibandWdrc, WdrcSettings, static_gain_db

__all__ = [
    "COMPRESSIONS",
    "HearingAid",
    "fit_ear_settings",
    "fit_wdrc_ear",
    "loudness_discomfort_db_hl",
    "realised_gain_db",
]

COMPRESSIONS: tuple[str, ...] = ("wdrc", "linear")
MAX_GAIN_DB = 80.0
MIN_GAIN_DB = -40.0  # floor of a band's gain: the fit never attenuates a band further
FIT_SPEECH_DB_SPL = 65.0
KNEE_BELOW_SPEECH_DB = 15.0  # knee = band level of 50 dB SPL speech
EXPANSION_BELOW_SPEECH_DB = 30.0  # expansion knee = band level of 35 dB SPL speech
EXPANSION_RATIO = 0.7
NORMAL_DYNAMIC_RANGE_DB = 100.0
MIN_COMPRESSION_RATIO = 1.2
MAX_COMPRESSION_RATIO = 3.0
MPO_RANGE_DB_SPL = (100.0, 120.0)
REPORT_TONE_LEVELS_DB_SPL = (50.0, 65.0, 80.0)



def _audiogram_source(name: str, value: Any) -> Any:
    """``value`` if it can name an audiogram (loaded by :func:`_audiogram_from_table`)."""
    if not isinstance(value, Audiogram | dict | str | Path):
        raise ConfigError(
            f"{name} must be a preset name, an audiogram file path or an inline table with "
            f"'left' and 'right', got {type(value).__name__}"
        )
    return value


# Chain-table keys left out at their defaults, so that tables written before they existed
# still compare equal.
_WRITTEN_WHEN_SET = ("mpo_db_spl", "bands_per_erb", "delay_ms")

# The hearing aid's parameters, declared once: HearingAid checks its arguments and chain
# tables against them, fit_ear_settings its shared ones, and `audiolab stages` /
# docs/parameters.md list them. Rule, attack and release are the fit's (audiolab fit).
COMPRESSION = Param(
    "compression", "multiband compression with expansion, or frequency-shaped linear gain",
    kind="choice", default="wdrc", choices=COMPRESSIONS)
MPO_DB_SPL = Param("mpo_db_spl", "output limit; unset: from the loss, 100-120 dB SPL",
                   unit="dB SPL", default=None, low=60, high=140)
HEARING_AID_PARAMETERS: tuple[Param, ...] = (
    Param("fs", "sample rate; the bands stop at min(8 kHz, 0.45 fs)", unit="Hz",
          default=48000.0, low=16000, high=384000),
    Param("audiogram", "the listener: a preset name such as \"N3\", an audiogram file path "
          "or an inline table with left and right", kind="any", parse=_audiogram_source,
          values="preset, path or table"),
    RULE,
    COMPRESSION,
    ATTACK_MS,
    RELEASE_MS,
    Param("ear", "which ear a one-channel signal is; two channels are (left, right)",
          kind="choice", default="left", choices=EARS),
    MPO_DB_SPL,
    Param("bands_per_erb", "band density of the gammatone filterbank", unit="bands/ERB",
          default=1.0, low=0.5, high=4),
    Param("delay_ms", "filterbank delay, which is the latency", unit="ms", default=4.0, low=1,
          high=10),
)


def loudness_discomfort_db_hl(threshold_db_hl: ArrayLike) -> np.ndarray:
    """Estimated loudness-discomfort level (dB HL) for a threshold (dB HL).

    100 dB HL up to 50 dB HL of loss, then rising 0.5 dB per dB: an approximation of the mean
    discomfort levels reported by Pascoe (1988) and Kamm, Dirks & Mickey (1978).
    """
    h = np.asarray(threshold_db_hl, dtype=float)
    return 100.0 + 0.5 * np.maximum(h - 50.0, 0.0)


def _overlap_corrected_gain_db(
    mb: MultibandWdrc, target_db: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Band gains (dB) whose sum realises the target's power in every band's frequency cell.

    Neighbouring bands overlap, and between centre frequencies the bank's response ripples
    (0.9 dB at 1 band/ERB, Hohmann 2002). The gains are found by the fixed-point iteration that
    Hohmann (2002) uses for the resynthesis weights, here on the mean power response over each
    band's cell (what a noise measurement in a band sees).
    """
    d = mb.design
    fc = d.center_frequencies_hz
    phase = d.weights / np.abs(d.weights)
    # Each band's own cell on the ERB-number scale (the cells tile the frequency axis, so the
    # fit is well posed; a one-third octave spans one to three cells).
    half = 0.5 / mb.filterbank.bands_per_erb
    cells = erb_number(fc)[:, None] + np.linspace(-half, half, 9)[None, :]
    f = np.minimum(erb_number_to_hz(cells).reshape(-1), 0.49 * mb.fs)
    # r[i, k]: band k's resynthesis path at frequency i (9 per band).
    r = real_part_responses(
        d.coefficients, d.normalization, phase, d.band_delays_samples, f, mb.fs
    ) * np.abs(d.weights)
    want = np.mean(db_to_power(target_db(f).reshape(fc.size, -1)), axis=1)
    g = np.sqrt(want)
    g_min, g_max = db_to_amplitude(MIN_GAIN_DB), db_to_amplitude(MAX_GAIN_DB)
    for _ in range(60):
        got = np.mean((np.abs(r @ g) ** 2).reshape(fc.size, -1), axis=1)
        g = np.clip(g * np.sqrt(want / got), g_min, g_max)
    return amplitude_to_db(g)


def fit_ear_settings(
    ear: EarAudiogram,
    *,
    rule: str = "nal-r",
    compression: str = "wdrc",
    attack_ms: float = 5.0,
    release_ms: float = 50.0,
    mpo_db_spl: float | None = None,
    fs: float = 48000.0,
    f_low_hz: float = 100.0,
    f_high_hz: float = 8000.0,
    bands_per_erb: float = 1.0,
    delay_ms: float = 4.0,
) -> WdrcSettings:
    """Band settings of one ear (the fitting rule in the module docstring).

    Parameters
    ----------
    ear : EarAudiogram
        Thresholds of the ear.
    rule : {"nal-r", "half-gain", "pogo"}
        Prescription for 65 dB SPL speech.
    compression : {"wdrc", "linear"}
        Multiband compression with expansion, or frequency-shaped linear gain.
    attack_ms, release_ms : float
        ANSI S3.22 attack and release times.
    mpo_db_spl : float, optional
        Output limit; default from the loss (module docstring, step 5).
    fs, f_low_hz, f_high_hz, bands_per_erb, delay_ms :
        The filterbank the settings are for.

    Returns
    -------
    WdrcSettings
    """
    rule = RULE.check(rule)
    compression = COMPRESSION.check(compression)
    probe = MultibandWdrc(
        WdrcSettings(gain_db=np.zeros(_n_bands(fs, f_low_hz, f_high_hz, bands_per_erb)),
                     knee_db_spl=120.0, ratio=1.0, expansion_knee_db_spl=0.0,
                     expansion_ratio=1.0, max_gain_db=MAX_GAIN_DB),
        fs=fs, f_low_hz=f_low_hz, f_high_hz=f_high_hz, bands_per_erb=bands_per_erb,
        delay_ms=delay_ms,
    )
    target = _overlap_corrected_gain_db(probe, lambda f: prescribe(ear, rule, f))
    mpo = _mpo_db_spl(ear, mpo_db_spl)
    n = target.size
    if compression == "linear":
        return WdrcSettings(
            gain_db=target, knee_db_spl=np.full(n, 120.0), ratio=np.ones(n),
            expansion_knee_db_spl=np.zeros(n), expansion_ratio=np.ones(n),
            max_gain_db=np.full(n, MAX_GAIN_DB), attack_ms=attack_ms, release_ms=release_ms,
            mpo_db_spl=mpo,
        )
    return _compressive_settings(ear, probe.center_frequencies_hz, target, attack_ms=attack_ms,
                                 release_ms=release_ms, mpo_db_spl=mpo)


def _mpo_db_spl(ear: EarAudiogram, mpo_db_spl: float | None) -> float:
    """The output limit: as given, or the LDL of the mean loss (module docstring, step 5)."""
    if mpo_db_spl is not None:
        return float(MPO_DB_SPL.check(mpo_db_spl))
    pta = float(np.mean(ear.threshold_db_hl_at([500.0, 1000.0, 2000.0, 4000.0])))
    return float(np.clip(loudness_discomfort_db_hl(pta), *MPO_RANGE_DB_SPL))


def _compressive_settings(
    ear: EarAudiogram, fc: np.ndarray, target: np.ndarray, *, attack_ms: float,
    release_ms: float, mpo_db_spl: float,
) -> WdrcSettings:
    """Ratios, knees and gains of a compressive fit (module docstring, steps 2-4)."""
    hl = ear.threshold_db_hl_at(fc)
    ratio = NORMAL_DYNAMIC_RANGE_DB / np.maximum(loudness_discomfort_db_hl(hl) - hl, 1e-9)
    ratio = np.clip(ratio, 1.0, MAX_COMPRESSION_RATIO)
    ratio = np.where(ratio < MIN_COMPRESSION_RATIO, 1.0, ratio)
    l65 = speech_band_levels_db_spl(fc, FIT_SPEECH_DB_SPL, bandwidths_hz=erb_bandwidth_hz(fc))
    knee = np.clip(l65 - KNEE_BELOW_SPEECH_DB, 0.0, 120.0)
    exp_knee = np.clip(l65 - EXPANSION_BELOW_SPEECH_DB, 0.0, knee)
    gain = target + (1.0 - 1.0 / ratio) * np.maximum(l65 - knee, 0.0)
    n = fc.size
    return WdrcSettings(
        gain_db=np.clip(gain, MIN_GAIN_DB, MAX_GAIN_DB), knee_db_spl=knee, ratio=ratio,
        expansion_knee_db_spl=exp_knee, expansion_ratio=np.full(n, EXPANSION_RATIO),
        max_gain_db=np.full(n, MAX_GAIN_DB), attack_ms=attack_ms, release_ms=release_ms,
        mpo_db_spl=mpo_db_spl,
    )


def _n_bands(fs: float, f_low_hz: float, f_high_hz: float, bands_per_erb: float) -> int:
    return int(MultibandWdrc.band_frequencies_hz(
        fs=fs, f_low_hz=f_low_hz, f_high_hz=f_high_hz, bands_per_erb=bands_per_erb).size)


def _audiogram_from_table(value: Any) -> tuple[Audiogram, Any]:
    """Audiogram and how to write it back (preset name, path string or inline dict)."""
    value = _audiogram_source("audiogram", value)
    if isinstance(value, Audiogram):
        preset = STANDARD_AUDIOGRAMS.get(value.name)
        spec: Any = value.name if preset is not None and preset == value else value.to_dict()
        return value, spec
    if isinstance(value, dict):
        return _from_our_json(value, where="hearing-aid audiogram", name="audiogram"), value
    return load_audiogram(value), str(value)


class HearingAid(Processor):
    """Fitted multiband hearing aid: WDRC (or linear gain) per ear, then an MPO limiter.

    Parameters
    ----------
    audiogram : Audiogram or str or pathlib.Path or dict
        The listener: object, preset (``"N3"``), file path, or our JSON layout as a dict.
    fs : float
        Sample rate in Hz (>= 16 kHz; the bands stop at min(8 kHz, 0.45 fs)).
    rule : {"nal-r", "half-gain", "pogo"}
        Prescription for 65 dB SPL speech.
    compression : {"wdrc", "linear"}
        Compressive fitting, or frequency-shaped gain only (still limited at the MPO).
    attack_ms, release_ms : float
        ANSI S3.22 attack time in (0, 500] ms and release time in (0, 5000] ms.
    ear : {"left", "right"}
        Which ear a one-channel signal is; a two-channel signal is (left, right).
    mpo_db_spl : float, optional
        Output limit in dB SPL (default: from the loss, 100-120 dB SPL).
    bands_per_erb : float
        Band density, in [0.5, 4].
    delay_ms : float
        Filterbank delay = latency, in [1, 10] ms.

    Notes
    -----
    Signals are sound pressure in Pa, shape ``(2, n)`` = (left, right) or ``(1, n)`` = ``ear``.
    The fitting rule is in the module docstring of ``audiolab.models._hearing_aid``.

    Examples
    --------
    >>> import numpy as np
    >>> from audiolab.models import HearingAid
    >>> aid = HearingAid("N3", fs=48000)
    >>> aid.latency_samples
    192
    >>> aid.process(np.zeros((2, 480), np.float32)).shape
    (2, 480)
    """

    PARAMETERS: ClassVar[tuple[Param, ...]] = HEARING_AID_PARAMETERS
    # The chain sets fs for every stage: it is no key of the stage's table.
    CHAIN_PARAMETERS: ClassVar[tuple[Param, ...]] = without(HEARING_AID_PARAMETERS, "fs")

    def __init__(
        self,
        audiogram: Any = "N3",
        *,
        fs: float = 48000.0,
        rule: str = "nal-r",
        compression: str = "wdrc",
        attack_ms: float = 5.0,
        release_ms: float = 50.0,
        ear: str = "left",
        mpo_db_spl: float | None = None,
        bands_per_erb: float = 1.0,
        delay_ms: float = 4.0,
    ) -> None:
        super().__init__()
        v = validate(
            {"fs": fs, "audiogram": audiogram, "rule": rule, "compression": compression,
             "attack_ms": attack_ms, "release_ms": release_ms, "ear": ear,
             "mpo_db_spl": mpo_db_spl, "bands_per_erb": bands_per_erb, "delay_ms": delay_ms},
            self.PARAMETERS,
        )
        self.fs: float = v["fs"]
        self.audiogram, self._audiogram_spec = _audiogram_from_table(v["audiogram"])
        self.rule: str = v["rule"]
        self.compression: str = v["compression"]
        self.attack_ms: float = v["attack_ms"]
        self.release_ms: float = v["release_ms"]
        self.ear: str = v["ear"]
        self.mpo_db_spl: float | None = v["mpo_db_spl"]
        self.bands_per_erb: float = v["bands_per_erb"]
        self.delay_ms: float = v["delay_ms"]
        self.f_high_hz = min(8000.0, 0.45 * self.fs)
        self.f_low_hz = 100.0
        self.ear_settings = {
            side: fit_ear_settings(
                self.audiogram.ear(side), rule=self.rule, compression=self.compression,
                attack_ms=self.attack_ms, release_ms=self.release_ms, mpo_db_spl=self.mpo_db_spl,
                fs=self.fs, f_low_hz=self.f_low_hz, f_high_hz=self.f_high_hz,
                bands_per_erb=self.bands_per_erb, delay_ms=self.delay_ms,
            )
            for side in EARS
        }
        self._wdrc: MultibandWdrc | None = None
        self._compressors: dict[tuple[str, ...], MultibandWdrc] = {}
        self._engine_stages: list[MultibandWdrc] = []

    def compressor(self, sides: tuple[str, ...] = EARS) -> MultibandWdrc:
        """The :class:`MultibandWdrc` running these ears' settings (one channel each).

        Built once per ``sides`` and kept (its filterbank design and time constants are reused
        after :meth:`reset`).
        """
        comp = self._compressors.get(sides)
        if comp is None:
            comp = self._compressors[sides] = self._new_compressor(sides)
        return comp

    def _new_compressor(self, sides: tuple[str, ...]) -> MultibandWdrc:
        return MultibandWdrc(
            tuple(self.ear_settings[s] for s in sides), fs=self.fs, f_low_hz=self.f_low_hz,
            f_high_hz=self.f_high_hz, bands_per_erb=self.bands_per_erb, delay_ms=self.delay_ms,
        )

    @property
    def center_frequencies_hz(self) -> np.ndarray:
        """Centre frequencies of the bands in Hz."""
        return MultibandWdrc.band_frequencies_hz(
            fs=self.fs, f_low_hz=self.f_low_hz, f_high_hz=self.f_high_hz,
            bands_per_erb=self.bands_per_erb,
        )

    @property
    def latency_samples(self) -> int:
        """The filterbank's delay, ``round(delay_ms * fs / 1000)`` (4 ms by default)."""
        return int(round(self.delay_ms * 1e-3 * self.fs))

    # -- chains ---------------------------------------------------------------------------------
    @classmethod
    def from_chain_table(cls, table: dict[str, Any], *, fs: float) -> "HearingAid":
        """Build from a chain file's ``hearing-aid`` stage (without its ``type`` key).

        Its keys are :attr:`CHAIN_PARAMETERS`; ``audiogram`` is required.
        """
        return cls(fs=fs, **check_table(table, cls.CHAIN_PARAMETERS, stage_type="hearing-aid"))

    def to_chain_table(self) -> dict[str, Any]:
        """The stage as a chain-file table (round-trips through :meth:`from_chain_table`)."""
        table: dict[str, Any] = {
            "audiogram": self._audiogram_spec,
            "rule": self.rule,
            "compression": self.compression,
            "attack_ms": self.attack_ms,
            "release_ms": self.release_ms,
            "ear": self.ear,
        }
        for p in self.CHAIN_PARAMETERS:
            value = getattr(self, p.name)
            if p.name in _WRITTEN_WHEN_SET and value != p.default:
                table[p.name] = value
        return table

    def _sides(self, n_channels: int) -> tuple[str, ...]:
        if n_channels == 2:
            return EARS
        if n_channels == 1:
            return (self.ear,)
        raise SignalError(
            f"a hearing aid takes (2, n) = (left, right) or (1, n) = the {self.ear!r} ear, got "
            f"{n_channels} channels"
        )

    def c_stage(self, n_channels: int) -> tuple[Any, Any]:
        """(``al_stage_fn``, ``void *`` state) of the fused C kernel for ``n_channels`` (1 or 2).

        The state is at rest and belongs to the engine: it is separate from the one
        :meth:`process` uses, and this object keeps it (and every buffer it points to) alive.
        """
        comp = self._new_compressor(self._sides(n_channels))
        self._engine_stages.append(comp)
        return comp.c_stage(n_channels)

    # -- processor protocol -------------------------------------------------------------------
    def _allocate(self, n_channels: int) -> None:
        self._wdrc = self.compressor(self._sides(n_channels))
        self._wdrc.reset()
        self._wdrc._allocate(n_channels)
        self._wdrc._n_channels = n_channels

    def _process(self, x: np.ndarray) -> np.ndarray:
        assert self._wdrc is not None
        return self._wdrc._process(x)

    def reset(self) -> None:
        """Return to rest (the next block allocates fresh state)."""
        super().reset()
        self._wdrc = None

    # -- what the fit realises ----------------------------------------------------------------
    def speech_gain_db(self, frequencies_hz: ArrayLike, *, side: str) -> np.ndarray:
        """Insertion gain (dB) realised for steady 65 dB SPL speech, at any frequency.

        Each band holds its gain for its 65 dB SPL speech band level; the bands' resynthesis
        paths sum to the response at ``frequencies_hz``.
        """
        side = check_choice("side", side, EARS)
        s = self.ear_settings[side]
        comp = self.compressor((side,))
        fc = comp.center_frequencies_hz
        l65 = speech_band_levels_db_spl(fc, FIT_SPEECH_DB_SPL, bandwidths_hz=erb_bandwidth_hz(fc))
        g = db_to_amplitude(static_gain_db(s, l65))
        d = comp.design
        phase = d.weights / np.abs(d.weights)
        f = np.atleast_1d(np.asarray(frequencies_hz, float))
        r = real_part_responses(
            d.coefficients, d.normalization, phase, d.band_delays_samples, f, self.fs
        ) * np.abs(d.weights)
        return amplitude_to_db(np.abs(r @ g) + 1e-30)

    def tone_gain_db(self, frequencies_hz: ArrayLike, level_db_spl: ArrayLike, *,
                     side: str) -> np.ndarray:
        """Steady-state gain (dB) for pure tones (see :meth:`MultibandWdrc.tone_gain_db`)."""
        side = check_choice("side", side, EARS)
        return self.compressor((side,)).tone_gain_db(frequencies_hz, level_db_spl)


def realised_gain_db(
    chain_table: dict[str, Any], *, ear: str, frequencies_hz: ArrayLike, fs: float = 48000.0
) -> np.ndarray:
    """Insertion gain realised for 65 dB SPL speech by the hearing aid of a chain stage.

    The hook ``audiolab fit --plot`` calls (audiolab.models._fitting.realised_gain_db).
    """
    table = {k: v for k, v in chain_table.items() if k != "type"}
    return HearingAid.from_chain_table(table, fs=fs).speech_gain_db(frequencies_hz, side=ear)


def fit_wdrc_ear(
    ear: EarAudiogram,
    *,
    rule: str,
    frequencies_hz: ArrayLike,
    attack_ms: float | None = None,
    release_ms: float | None = None,
    fs: float = 48000.0,
) -> dict[str, Any]:
    """Per-ear JSON extras of ``audiolab fit --compression wdrc``.

    Returns the band settings and each band's steady-state gain for pure tones of 50, 65 and
    80 dB SPL at its centre frequency (``bands``), and the same gains at the audiogram's
    frequencies (``tone_gain_db``), as the hearing aid realises them.
    """
    settings = fit_ear_settings(
        ear, rule=rule, compression="wdrc",
        attack_ms=5.0 if attack_ms is None else attack_ms,
        release_ms=50.0 if release_ms is None else release_ms, fs=fs,
    )
    comp = MultibandWdrc(settings, fs=fs)
    fc = comp.center_frequencies_hz
    f = np.atleast_1d(np.asarray(frequencies_hz, float))

    def rounded(a: np.ndarray) -> list[float]:
        return [round(float(v), 3) for v in a]

    bands: dict[str, Any] = {
        "center_frequencies_hz": rounded(fc),
        "knee_db_spl": rounded(settings.knee_db_spl),
        "ratio": rounded(settings.ratio),
        "expansion_knee_db_spl": rounded(settings.expansion_knee_db_spl),
        "expansion_ratio": rounded(settings.expansion_ratio),
    }
    tones: dict[str, Any] = {}
    for level in REPORT_TONE_LEVELS_DB_SPL:
        key = f"{level:g}"
        bands[f"gain_{key}_db_spl_db"] = rounded(comp.tone_gain_db(fc, level))
        tones[key] = rounded(comp.tone_gain_db(f, level))
    return {
        "compression": {
            "attack_ms": settings.attack_ms,
            "release_ms": settings.release_ms,
            "mpo_db_spl": round(settings.mpo_db_spl, 2),
            "max_gain_db": MAX_GAIN_DB,
            "bands": bands,
            "tone_gain_db": tones,
        }
    }

