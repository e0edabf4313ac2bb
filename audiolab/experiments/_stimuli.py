"""Stimuli of listening experiments, rendered in pascal, and their ceiling check.

An experiment file's ``[stimulus]`` table becomes a :class:`StimulusSpec`
(:func:`stimulus_spec`); :func:`render_trial` turns a procedure's
:class:`~audiolab.experiments.Trial` into a :class:`RenderedTrial`: sound pressure in Pa,
``(2, n_samples)`` float32 (left, right), with the sample positions of its intervals. The
procedure's variable ``x_db`` sets what ``spec.variable`` names:

- ``level_db_spl``: the RMS level of the signal's steady part (the tone, the noise...);
- ``level_db_hl``: a tone's hearing level, turned into dB SPL through the RETSPL of the
  calibration's transducer (ISO 389-1/-2/-8), on the engine's tone-planning path
  (:func:`audiolab.engine.plan_tone`'s ramped sine);
- ``snr_db``: the signal's level re the masker's (tone re noise RMS, speech re noise RMS);
- ``depth_db``: 20 log10 m of a sinusoidal amplitude modulation (m <= 1, so x <= 0 dB);
- ``gap_ms``: not a level: x is the duration of the gap in ms (gap in noise).

n-AFC: the target interval carries the signal with its masker, the others the reference (the
masker alone, the unmodulated carrier, the noise without a gap, silence for tones); intervals
are separated by ``isi_ms`` of silence. Every level is set with the calibration's units
(:func:`audiolab.calibration.db_spl_to_pa_rms`, :func:`audiolab.calibration.scale_to_db_spl`);
every random draw comes from the ``rng`` the runner passes, and the noise seeds drawn from it are
recorded in :attr:`RenderedTrial.description`.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from audiolab._errors import CalibrationError, ConfigError
from audiolab._validate import check_choice, check_real
from audiolab.audiology import matrix_sentence, speech_shaped_noise
from audiolab.calibration import (
    Calibration,
    OutputCeiling,
    db_hl_to_db_spl,
    db_spl_to_pa_rms,
)
from audiolab.dsp import db_to_amplitude
from audiolab.engine import ramped_sine_pa
from audiolab.experiments._trials import Trial

__all__ = [
    "DEFAULT_TRANSDUCER",
    "KINDS",
    "RenderedTrial",
    "StimulusSpec",
    "check_ceiling",
    "render_trial",
    "stimulus_spec",
]

KINDS = ("tone", "noise", "tone_in_noise", "notched_noise", "gap_in_noise", "sam",
         "speech_in_noise", "custom")
"""Stimulus kinds of a ``[stimulus]`` table."""

DEFAULT_TRANSDUCER = "TDH-39"
"""RETSPL table (ISO 389-1) used for dB HL when no calibration is given (the runner's virtual
ideal calibration)."""

NOISES = ("white", "pink", "speech")
EARS = ("both", "left", "right")
_EAR_ROWS = {"both": (0, 1), "left": (0,), "right": (1,)}

# Variables each kind accepts; the first is the default.
_VARIABLES: dict[str, tuple[str, ...]] = {
    "tone": ("level_db_hl", "level_db_spl"),
    "noise": ("level_db_spl",),
    "tone_in_noise": ("level_db_spl", "snr_db"),
    "notched_noise": ("level_db_spl", "snr_db"),
    "gap_in_noise": ("gap_ms", "level_db_spl"),
    "sam": ("depth_db", "level_db_spl"),
    "speech_in_noise": ("snr_db",),
    "custom": ("level_db_spl", "level_db_hl", "snr_db", "depth_db", "gap_ms"),
}

# key: (type, low, high) for reals; the choices for strings.
_REAL_KEYS: dict[str, tuple[float, float]] = {
    "frequency_hz": (20.0, 20000.0),
    "duration_ms": (1.0, 10000.0),
    "ramp_ms": (0.0, 500.0),
    "level_db_spl": (-20.0, 130.0),
    "noise_level_db_spl": (-20.0, 130.0),
    "notch_width_hz": (0.0, 10000.0),
    "band_low_hz": (20.0, 20000.0),
    "band_high_hz": (20.0, 20000.0),
    "gap_ms": (0.0, 1000.0),
    "gap_ramp_ms": (0.0, 10.0),
    "modulation_hz": (0.5, 1000.0),
    "depth_db": (-60.0, 0.0),
    "isi_ms": (0.0, 5000.0),
    "noise_lead_ms": (0.0, 5000.0),
}
_CHOICE_KEYS: dict[str, tuple[str, ...]] = {
    "kind": KINDS,
    "noise": NOISES,
    "carrier": ("noise", "tone"),
    "ear": EARS,
}
_OTHER_KEYS = ("variable", "module", "params", "corpus")

MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class StimulusSpec:
    """A validated ``[stimulus]`` table (build it with :func:`stimulus_spec`).

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    variable : str
        What the procedure's ``x_db`` sets: ``level_db_spl``, ``level_db_hl`` (tones),
        ``snr_db``, ``depth_db`` (SAM) or ``gap_ms`` (x is then a duration in ms).
    frequency_hz : float
        Tone frequency; the centre of a notched noise's notch; a SAM tone carrier's frequency.
    duration_ms : float
        Duration of one interval's sound, ramps included (speech: the sentence's length).
    ramp_ms : float
        Raised-cosine onset and offset ramps, each, in ms.
    level_db_spl : float
        Fixed RMS level of the signal (steady part) when the variable is not its level (a SAM
        or gap stimulus; the tone of a tone-in-noise stimulus with ``variable = "snr_db"`` is
        set by the SNR instead).
    noise : str
        Masker spectrum: ``white``, ``pink`` (power 1/f) or ``speech`` (the speech corpus's
        long-term spectrum, :func:`audiolab.audiology.speech_shaped_noise`).
    noise_level_db_spl : float
        RMS level of the masker (65 dB SPL by default, as in matrix tests).
    notch_width_hz, band_low_hz, band_high_hz : float
        Notched noise: total width of the notch centred (arithmetically) on ``frequency_hz``,
        and the noise's band edges.
    gap_ms, gap_ramp_ms : float
        Gap in noise: the gap's duration (when it is not the variable) and the raised-cosine
        ramps outside the gap, each.
    modulation_hz, depth_db : float
        SAM: modulation rate and 20 log10 m (when it is not the variable).
    carrier : str
        SAM carrier: ``noise`` (the ``noise`` spectrum) or ``tone`` (at ``frequency_hz``).
    isi_ms : float
        Silence between the intervals of an n-AFC trial.
    ear : str
        ``both`` (diotic), ``left`` or ``right``; a trial's own ear (audiometry) overrides it.
    noise_lead_ms : float
        Speech in noise: noise alone before and after the sentence.
    corpus : pathlib.Path or None
        Speech in noise: a speech corpus (manifest) other than the bundled one.
    module : pathlib.Path or None
        Custom: the Python file with ``render(x_db, *, fs, rng, **params)`` returning Pa, and
        optionally ``reference(*, fs, rng, **params)`` for the other n-AFC intervals (silence
        of the same length without it).
    params : dict
        Custom: keyword arguments of ``render``.
    """

    kind: str
    variable: str
    frequency_hz: float = 1000.0
    duration_ms: float = 300.0
    ramp_ms: float = 20.0
    level_db_spl: float = 65.0
    noise: str = "white"
    noise_level_db_spl: float = 65.0
    notch_width_hz: float = 400.0
    band_low_hz: float = 100.0
    band_high_hz: float = 8000.0
    gap_ms: float = 10.0
    gap_ramp_ms: float = 1.0
    modulation_hz: float = 8.0
    depth_db: float = 0.0
    carrier: str = "noise"
    isi_ms: float = 500.0
    ear: str = "both"
    noise_lead_ms: float = 300.0
    corpus: Path | None = None
    module: Path | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice("stimulus.kind", self.kind, KINDS)
        check_choice("stimulus.variable", self.variable, _VARIABLES[self.kind])
        for key, (low, high) in _REAL_KEYS.items():
            object.__setattr__(self, key, check_real(f"stimulus.{key}", getattr(self, key),
                                                     low=low, high=high))
        for key, choices in _CHOICE_KEYS.items():
            check_choice(f"stimulus.{key}", getattr(self, key), choices)
        if self.ramp_ms > self.duration_ms / 2:
            raise ConfigError(f"stimulus.ramp_ms must be in [0, duration_ms / 2 = "
                              f"{self.duration_ms / 2:g}], got {self.ramp_ms!r}")
        if self.band_low_hz >= self.band_high_hz:
            raise ConfigError(f"stimulus.band_high_hz must be above band_low_hz "
                              f"({self.band_low_hz:g}), got {self.band_high_hz!r}")
        if self.kind == "custom" and self.module is None:
            raise ConfigError("stimulus.module must name a Python file for kind = 'custom', "
                              "got nothing")
        object.__setattr__(self, "params", dict(self.params))

    def describe(self) -> dict[str, Any]:
        """The spec as a JSON-able dict."""
        out: dict[str, Any] = {}
        for key in self.__dataclass_fields__:
            value = getattr(self, key)
            out[key] = str(value) if isinstance(value, Path) else value
        out["params"] = dict(self.params)
        return out


def stimulus_spec(table: Mapping[str, Any], *, base_dir: Path | None = None) -> StimulusSpec:
    """Validate an experiment file's ``[stimulus]`` table into a :class:`StimulusSpec`.

    Parameters
    ----------
    table : mapping
        The table: ``kind`` (required, one of :data:`KINDS`), ``variable`` (default: the kind's
        usual one: ``level_db_hl`` for tones, ``snr_db`` for speech in noise, ``depth_db`` for
        SAM, ``gap_ms`` for gap in noise, ``level_db_spl`` else; required for ``custom``) and
        the other attributes of :class:`StimulusSpec`.
    base_dir : pathlib.Path or None
        Folder of the experiment file: ``module`` and ``corpus`` are relative to it.

    Returns
    -------
    StimulusSpec

    Raises
    ------
    ConfigError
        For an unknown key, a wrong type or a value out of range, naming ``stimulus.KEY``, the
        allowed values and what was given.

    Examples
    --------
    >>> spec = stimulus_spec({"kind": "tone_in_noise", "frequency_hz": 1000, "isi_ms": 400})
    >>> spec.variable, spec.noise_level_db_spl
    ('level_db_spl', 65.0)
    """
    if not isinstance(table, Mapping):
        raise ConfigError(f"[stimulus] must be a table, got {table!r}")
    allowed = set(_REAL_KEYS) | set(_CHOICE_KEYS) | set(_OTHER_KEYS)
    for key in table:
        if key not in allowed:
            raise ConfigError(f"stimulus.{key} is not a known key (known: "
                              f"{', '.join(sorted(allowed))}), got {key!r}")
    if "kind" not in table:
        raise ConfigError(f"stimulus.kind must be given, one of {', '.join(KINDS)}")
    kind = check_choice("stimulus.kind", table["kind"], KINDS)
    if kind == "custom" and "variable" not in table:
        raise ConfigError("stimulus.variable must be given for kind = 'custom', one of "
                          f"{', '.join(_VARIABLES['custom'])}")
    values: dict[str, Any] = {k: v for k, v in table.items() if k not in ("module", "corpus")}
    values.setdefault("variable", _VARIABLES[kind][0])
    if not isinstance(values["variable"], str):
        raise ConfigError(f"stimulus.variable must be a string, got {values['variable']!r}")
    if "params" in values and not isinstance(values["params"], Mapping):
        raise ConfigError(f"stimulus.params must be a table, got {values['params']!r}")
    for key in ("module", "corpus"):
        if key in table:
            text = table[key]
            if not isinstance(text, str) or not text:
                raise ConfigError(f"stimulus.{key} must be a file path, got {text!r}")
            path = Path(text)
            if not path.is_absolute() and base_dir is not None:
                path = Path(base_dir) / path
            if not path.is_file():
                raise ConfigError(f"stimulus.{key} must be an existing file, got {str(path)!r}")
            values[key] = path
    return StimulusSpec(**values)


@dataclass(frozen=True)
class RenderedTrial:
    """One trial as sound: pressure in Pa and the positions of its intervals.

    Attributes
    ----------
    pa : ndarray, float32, (2, n_samples)
        Sound pressure in Pa: row 0 the left ear, row 1 the right.
    fs : float
        Sample rate in Hz.
    interval_onsets_samples, interval_offsets_samples : tuple of int
        First sample and one past the last of each interval (one interval for yes/no and words).
    target_interval : int or None
        The interval (1..n) carrying the signal; None for yes/no and words.
    description : dict
        What was presented (kind, levels, frequency, seeds...), JSON-able, stored per trial.
    words : tuple of str or None
        The matrix sentence's words (speech in noise).
    signal_pa, masker_pa : ndarray or None
        The two parts of ``pa`` (``pa = signal_pa + masker_pa``, each ``(2, n_samples)``): what
        the procedure varies and what it is heard against (None where there is none). The
        simulated listener's band models use them as the power-spectrum model of masking does
        (signal and masker spectra known separately).
    """

    pa: np.ndarray = field(repr=False)
    fs: float
    interval_onsets_samples: tuple[int, ...]
    interval_offsets_samples: tuple[int, ...]
    target_interval: int | None
    description: dict[str, Any]
    words: tuple[str, ...] | None = None
    signal_pa: np.ndarray | None = field(default=None, repr=False, compare=False)
    masker_pa: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def n_samples(self) -> int:
        """Length in samples."""
        return int(self.pa.shape[1])


@dataclass
class _Interval:
    """One interval's sound, mono (the ear rows are chosen later)."""

    signal: np.ndarray
    masker: np.ndarray | None


def _n(ms: float, fs: float) -> int:
    return int(round(ms * 1e-3 * fs))


def _seeded_references(rng: np.random.Generator, desc: dict[str, Any],
                       make: Callable[[int], _Interval]) -> Callable[[], _Interval]:
    """Reference intervals with their own noise, each seed drawn after the target's.

    Each seed is recorded in ``desc["reference_noise_seeds"]``, so a stored trial says what
    was played.
    """

    def reference() -> _Interval:
        ref_seed = _seed(rng)
        desc["reference_noise_seeds"].append(ref_seed)
        return make(ref_seed)

    return reference


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(MAX_SEED))


def _ramp(x: np.ndarray, n_ramp: int) -> np.ndarray:
    """Raised-cosine (cos^2) onset and offset of ``n_ramp`` samples each, as the engine's tones."""
    n_ramp = min(n_ramp, x.size // 2)
    if n_ramp:
        env = np.sin(0.5 * np.pi * (np.arange(n_ramp) + 0.5) / n_ramp) ** 2
        x[:n_ramp] *= env
        x[x.size - n_ramp:] *= env[::-1]
    return x


def _check_level(what: str, level_db_spl: float) -> float:
    """A level the stimuli can be set to: [-50, 200] dB SPL (the engine's tone range)."""
    return check_real(f"{what}'s level_db_spl", level_db_spl, low=-50.0, high=200.0)


def _set_level(x: np.ndarray, level_db_spl: float, steady: slice, what: str) -> np.ndarray:
    """``x`` scaled so that the RMS of its ``steady`` part is ``level_db_spl`` (Pa)."""
    _check_level(what, level_db_spl)
    part = x[steady]
    rms = math.sqrt(float(np.mean(part * part))) if part.size else 0.0
    if rms <= 0:
        raise ConfigError(f"{what} is silent: no scale gives it a level")
    return x * (float(db_spl_to_pa_rms(level_db_spl)) / rms)


def _noise(kind: str, n: int, *, fs: float, seed: int, corpus: Path | None,
           band_hz: tuple[float, float] | None = None,
           notch_hz: tuple[float, float] | None = None) -> np.ndarray:
    """Gaussian noise of spectrum ``kind`` (any level), band-limited and notched in the DFT."""
    if kind == "speech" and band_hz is None and notch_hz is None:
        return speech_shaped_noise(n, fs=fs, seed=seed, corpus=corpus).astype(np.float64)
    gen = np.random.default_rng(seed)
    spectrum = np.fft.rfft(gen.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / fs)
    if kind == "pink":
        # Power density 1/f: amplitude 1/sqrt(f), from 20 Hz (below: flat, no DC boost).
        spectrum *= 1.0 / np.sqrt(np.maximum(f, 20.0))
    elif kind == "speech":
        shaped = speech_shaped_noise(n, fs=fs, seed=seed, corpus=corpus).astype(np.float64)
        spectrum = np.fft.rfft(shaped)
    spectrum[0] = 0.0
    if band_hz is not None:
        spectrum[(f < band_hz[0]) | (f > band_hz[1])] = 0.0
    if notch_hz is not None:
        spectrum[(f > notch_hz[0]) & (f < notch_hz[1])] = 0.0
    return np.fft.irfft(spectrum, n)


def _tone_level_db_spl(spec: StimulusSpec, trial: Trial, x_db: float, transducer: str,
                       frequency_hz: float) -> tuple[float, float | None]:
    """(level_db_spl, level_db_hl or None) of the tone of a ``tone`` trial."""
    if spec.variable == "level_db_hl":
        spl = float(db_hl_to_db_spl(x_db, frequency_hz=frequency_hz, transducer=transducer))
        return spl, x_db
    return x_db, None


def _transducer(calibration: Calibration | None) -> str:
    if calibration is None:
        return DEFAULT_TRANSDUCER
    return calibration.transducer


def _render_tone(spec: StimulusSpec, trial: Trial, *, fs: float, calibration: Calibration | None,
                 desc: dict[str, Any]) -> tuple[_Interval, Callable[[], _Interval]]:
    f = float(trial.frequency_hz) if trial.frequency_hz is not None else spec.frequency_hz
    if spec.variable == "level_db_hl" and calibration is not None and calibration.uncalibrated:
        raise CalibrationError(
            "a level in dB HL needs a calibration whose transducer has a RETSPL table "
            "(--calibration CAL.toml); the uncalibrated mode has none"
        )
    transducer = _transducer(calibration)
    spl, hl = _tone_level_db_spl(spec, trial, trial.x_db, transducer, f)
    _check_level("the tone", spl)
    # The engine's tone-planning path: a sine of spl dB SPL RMS with cos^2 ramps (plan_tone).
    tone = ramped_sine_pa(f, spl, duration_s=spec.duration_ms * 1e-3, fs=fs,
                           ramp_ms=spec.ramp_ms, n_channels=1)[0].astype(np.float64)
    desc.update(frequency_hz=f, level_db_spl=spl, level_db_hl=hl, transducer=transducer,
                retspl_db_spl=None if hl is None else spl - hl)
    return _Interval(tone, None), lambda: _Interval(np.zeros_like(tone), None)


def _signal_and_masker_levels(spec: StimulusSpec, x_db: float) -> tuple[float, float]:
    """(signal level, masker level) in dB SPL for tone-in-noise kinds."""
    if spec.variable == "snr_db":
        return spec.noise_level_db_spl + x_db, spec.noise_level_db_spl
    return x_db, spec.noise_level_db_spl


def _render_tone_in_noise(spec: StimulusSpec, trial: Trial, *, fs: float,
                          rng: np.random.Generator, desc: dict[str, Any],
                          notched: bool) -> tuple[_Interval, Callable[[], _Interval]]:
    n = _n(spec.duration_ms, fs)
    n_ramp = _n(spec.ramp_ms, fs)
    steady = slice(n_ramp, n - n_ramp) if n - 2 * n_ramp > 0 else slice(0, n)
    signal_db, masker_db = _signal_and_masker_levels(spec, trial.x_db)
    _check_level("the tone", signal_db)
    f = spec.frequency_hz
    half = spec.notch_width_hz / 2
    band = (spec.band_low_hz, min(spec.band_high_hz, fs / 2))

    def masker(seed: int) -> np.ndarray:
        if notched:
            raw = _noise(spec.noise, n, fs=fs, seed=seed, corpus=spec.corpus, band_hz=band,
                         notch_hz=(f - half, f + half))
        else:
            raw = _noise(spec.noise, n, fs=fs, seed=seed, corpus=spec.corpus)
        return _set_level(_ramp(raw, n_ramp), masker_db, steady, "the masker")

    seed = _seed(rng)
    tone = ramped_sine_pa(f, signal_db, duration_s=n / fs, fs=fs, ramp_ms=spec.ramp_ms,
                           n_channels=1)[0].astype(np.float64)
    desc.update(frequency_hz=f, level_db_spl=signal_db, noise=spec.noise,
                noise_level_db_spl=masker_db, snr_db=signal_db - masker_db, noise_seed=seed,
                reference_noise_seeds=[])
    if notched:
        desc.update(notch_width_hz=spec.notch_width_hz, band_hz=list(band))

    reference = _seeded_references(rng, desc, lambda seed: _Interval(np.zeros(n), masker(seed)))

    return _Interval(tone, masker(seed)), reference


def _render_noise(spec: StimulusSpec, trial: Trial, *, fs: float, rng: np.random.Generator,
                  desc: dict[str, Any]) -> tuple[_Interval, Callable[[], _Interval]]:
    n = _n(spec.duration_ms, fs)
    n_ramp = _n(spec.ramp_ms, fs)
    steady = slice(n_ramp, n - n_ramp) if n - 2 * n_ramp > 0 else slice(0, n)
    seed = _seed(rng)
    x = _set_level(_ramp(_noise(spec.noise, n, fs=fs, seed=seed, corpus=spec.corpus), n_ramp),
                   trial.x_db, steady, "the noise")
    desc.update(noise=spec.noise, level_db_spl=trial.x_db, noise_seed=seed)
    return _Interval(x, None), lambda: _Interval(np.zeros(n), None)


def _render_gap(spec: StimulusSpec, trial: Trial, *, fs: float, rng: np.random.Generator,
                desc: dict[str, Any]) -> tuple[_Interval, Callable[[], _Interval]]:
    gap_ms = trial.x_db if spec.variable == "gap_ms" else spec.gap_ms
    level = trial.x_db if spec.variable == "level_db_spl" else spec.level_db_spl
    n = _n(spec.duration_ms, fs)
    n_ramp = _n(spec.ramp_ms, fs)
    n_gap = _n(gap_ms, fs)
    n_gap_ramp = _n(spec.gap_ramp_ms, fs)
    room = n - 2 * n_ramp - 2 * n_gap_ramp
    if not 0 <= n_gap <= room - 2:
        raise ConfigError(
            f"gap_ms must be in [0, {1e3 * (room - 2) / fs:g}] (the interval's steady part "
            f"less the gap's ramps), got {gap_ms!r}"
        )

    def noise(seed: int, gap: int) -> np.ndarray:
        x = _ramp(_noise(spec.noise, n, fs=fs, seed=seed, corpus=spec.corpus), n_ramp)
        start = (n - gap) // 2
        if gap:
            env = np.ones(n)
            env[start:start + gap] = 0.0
            if n_gap_ramp:
                up = np.sin(0.5 * np.pi * (np.arange(n_gap_ramp) + 0.5) / n_gap_ramp) ** 2
                env[start - n_gap_ramp:start] = up[::-1]
                env[start + gap:start + gap + n_gap_ramp] = up
            x = x * env
        steady = np.r_[n_ramp:start - n_gap_ramp, start + gap + n_gap_ramp:n - n_ramp]
        return _set_level(x, level, steady, "the noise")  # type: ignore[arg-type]

    seed = _seed(rng)
    desc.update(noise=spec.noise, level_db_spl=level, gap_ms=1e3 * n_gap / fs,
                gap_samples=n_gap, gap_onset_samples=(n - n_gap) // 2, noise_seed=seed,
                reference_noise_seeds=[])

    reference = _seeded_references(rng, desc, lambda seed: _Interval(noise(seed, 0), None))

    return _Interval(noise(seed, n_gap), None), reference


def _render_sam(spec: StimulusSpec, trial: Trial, *, fs: float, rng: np.random.Generator,
                desc: dict[str, Any]) -> tuple[_Interval, Callable[[], _Interval]]:
    depth_db = trial.x_db if spec.variable == "depth_db" else spec.depth_db
    level = trial.x_db if spec.variable == "level_db_spl" else spec.level_db_spl
    if depth_db > 0:
        raise ConfigError(f"depth_db must be at most 0 (m <= 1), got {depth_db!r}")
    m = float(db_to_amplitude(depth_db))
    n = _n(spec.duration_ms, fs)
    n_ramp = _n(spec.ramp_ms, fs)
    steady = slice(n_ramp, n - n_ramp) if n - 2 * n_ramp > 0 else slice(0, n)
    t = np.arange(n) / fs

    def sam(seed: int, depth: float) -> np.ndarray:
        if spec.carrier == "tone":
            carrier = np.sin(2 * np.pi * spec.frequency_hz * t)
        else:
            carrier = _noise(spec.noise, n, fs=fs, seed=seed, corpus=spec.corpus)
        # SAM: (1 + m sin(2 pi fm t)) c(t); the level is reset after modulation, so the
        # modulated and unmodulated intervals have the same RMS (no level cue).
        x = _ramp((1.0 + depth * np.sin(2 * np.pi * spec.modulation_hz * t)) * carrier, n_ramp)
        return _set_level(x, level, steady, "the carrier")

    seed = _seed(rng)
    desc.update(carrier=spec.carrier, noise=spec.noise, level_db_spl=level,
                modulation_hz=spec.modulation_hz, depth_db=depth_db, modulation_depth=m,
                noise_seed=seed, reference_noise_seeds=[])
    if spec.carrier == "tone":
        desc["carrier_hz"] = spec.frequency_hz

    reference = _seeded_references(rng, desc, lambda seed: _Interval(sam(seed, 0.0), None))

    return _Interval(sam(seed, m), None), reference


def _render_speech(spec: StimulusSpec, trial: Trial, *, fs: float, rng: np.random.Generator,
                   desc: dict[str, Any]) -> tuple[_Interval, tuple[str, ...]]:
    speech_db = spec.noise_level_db_spl + trial.x_db
    sentence_seed, noise_seed = _seed(rng), _seed(rng)
    sentence = matrix_sentence(fs=fs, seed=sentence_seed, corpus=spec.corpus,
                               level_db_spl=speech_db)
    lead = _n(spec.noise_lead_ms, fs)
    n = sentence.audio.size + 2 * lead
    speech = np.zeros(n)
    speech[lead:lead + sentence.audio.size] = sentence.audio
    noise = speech_shaped_noise(n, fs=fs, seed=noise_seed, corpus=spec.corpus,
                                level_db_spl=spec.noise_level_db_spl).astype(np.float64)
    n_ramp = _n(spec.ramp_ms, fs)
    steady = slice(n_ramp, n - n_ramp) if n - 2 * n_ramp > 0 else slice(0, n)
    noise = _set_level(_ramp(noise, n_ramp), spec.noise_level_db_spl, steady, "the noise")
    desc.update(snr_db=trial.x_db, speech_level_db_spl=speech_db,
                noise_level_db_spl=spec.noise_level_db_spl, noise="speech",
                sentence=sentence.text, word_indices=list(sentence.indices),
                sentence_seed=sentence_seed, noise_seed=noise_seed,
                speech_onset_samples=lead, speech_offset_samples=lead + sentence.audio.size)
    return _Interval(speech, noise), sentence.words


_CUSTOM_MODULES: dict[tuple[Path, int], Any] = {}


def _load_custom(path: Path) -> Any:
    """The custom stimulus module, loaded once per file version (not once per trial)."""
    key = (path.resolve(), path.stat().st_mtime_ns)
    if key not in _CUSTOM_MODULES:
        _CUSTOM_MODULES[key] = _exec_custom(path)
    return _CUSTOM_MODULES[key]


def _exec_custom(path: Path) -> Any:
    module_spec = importlib.util.spec_from_file_location(f"audiolab_custom_{path.stem}", path)
    if module_spec is None or module_spec.loader is None:
        raise ConfigError(f"stimulus.module must be a Python file, got {str(path)!r}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not callable(getattr(module, "render", None)):
        raise ConfigError(f"stimulus.module {str(path)!r} must define "
                          "render(x_db, *, fs, rng, **params)")
    return module


def _mono_pa(value: Any, what: str) -> np.ndarray:
    x = np.asarray(value, dtype=np.float64)
    if x.ndim == 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 1 or x.size == 0 or not np.isfinite(x).all():
        raise ConfigError(f"{what} must return a finite 1-D array of Pa, got shape "
                          f"{x.shape}")
    return x


def _render_custom(spec: StimulusSpec, trial: Trial, *, fs: float, rng: np.random.Generator,
                   desc: dict[str, Any]) -> tuple[_Interval, Callable[[], _Interval]]:
    assert spec.module is not None
    module = _load_custom(spec.module)
    x = _mono_pa(module.render(trial.x_db, fs=fs, rng=rng, **spec.params),
                 f"{spec.module.name}: render")
    make: Callable[..., Any] | None = getattr(module, "reference", None)
    name = spec.module.name

    def reference() -> _Interval:
        if not callable(make):
            return _Interval(np.zeros_like(x), None)
        ref = _mono_pa(make(fs=fs, rng=rng, **spec.params), f"{name}: reference")
        if ref.size != x.size:
            raise ConfigError(f"{name}: reference must return {x.size} samples "
                              f"(as render did), got {ref.size}")
        return _Interval(ref, None)

    desc.update(module=str(spec.module), params=dict(spec.params))
    return _Interval(x, None), reference


def _ear_rows(spec: StimulusSpec, trial: Trial) -> tuple[int, ...]:
    if trial.ear is not None:
        return _EAR_ROWS[check_choice("trial.ear", trial.ear, ("left", "right"))]
    return _EAR_ROWS[spec.ear]


def render_trial(spec: StimulusSpec, trial: Trial, *, fs: float, rng: np.random.Generator,
                 calibration: Calibration | None = None) -> RenderedTrial:
    """Render one trial of ``spec`` as sound pressure in Pa.

    Parameters
    ----------
    spec : StimulusSpec
        The stimulus.
    trial : Trial
        The procedure's trial: ``x_db`` sets ``spec.variable``; its intervals, target, catch
        flag, ear and frequency (audiometry) are followed.
    fs : float
        Sample rate in Hz, in [8000, 384000].
    rng : numpy.random.Generator
        Source of every random draw (noise seeds, sentence choice).
    calibration : Calibration or None
        Its transducer's RETSPL turns dB HL into dB SPL; None: the virtual ideal calibration
        with :data:`DEFAULT_TRANSDUCER`.

    Returns
    -------
    RenderedTrial

    Raises
    ------
    ConfigError
        A variable the stimulus cannot take (a gap longer than the noise, a depth above 0 dB,
        a level outside what the stimulus kinds allow).
    CalibrationError
        dB HL in the uncalibrated mode or at a frequency outside the RETSPL table.

    Examples
    --------
    >>> import numpy as np
    >>> from audiolab.experiments import Trial
    >>> spec = stimulus_spec({"kind": "tone", "frequency_hz": 1000, "duration_ms": 500})
    >>> trial = Trial(index=0, x_db=40.0, n_intervals=1, target_interval=None, catch=False,
    ...               ear="left", frequency_hz=1000.0)
    >>> r = render_trial(spec, trial, fs=48000, rng=np.random.default_rng(1))
    >>> r.pa.shape, r.description["level_db_spl"]
    ((2, 24000), 47.0)
    """
    fs = check_real("fs", fs, low=8000, high=384000)
    check_real("trial.x_db", trial.x_db, low=-1000, high=1000)
    tone_hz = trial.frequency_hz if trial.frequency_hz is not None else spec.frequency_hz
    if spec.kind in ("tone", "tone_in_noise", "notched_noise") and tone_hz >= fs / 2:
        raise ConfigError(
            f"a {tone_hz:g} Hz tone cannot be rendered at fs={fs:g} Hz (it must be below "
            f"fs/2 = {fs / 2:g} Hz); use a higher sample rate"
        )
    if not isinstance(rng, np.random.Generator):
        raise ConfigError(f"rng must be a numpy.random.Generator, got {rng!r}")
    desc: dict[str, Any] = {"kind": spec.kind, "variable": spec.variable, "x_db": trial.x_db,
                            "catch": trial.catch}
    words: tuple[str, ...] | None = None
    reference: Callable[[], _Interval]
    if spec.kind == "speech_in_noise":
        target, words = _render_speech(spec, trial, fs=fs, rng=rng, desc=desc)
        silent_speech = _Interval(np.zeros_like(target.signal), target.masker)
        reference = lambda: silent_speech  # noqa: E731 (a catch trial: the noise alone)
    elif spec.kind == "tone":
        target, reference = _render_tone(spec, trial, fs=fs, calibration=calibration, desc=desc)
    elif spec.kind == "noise":
        target, reference = _render_noise(spec, trial, fs=fs, rng=rng, desc=desc)
    elif spec.kind in ("tone_in_noise", "notched_noise"):
        target, reference = _render_tone_in_noise(spec, trial, fs=fs, rng=rng, desc=desc,
                                                  notched=spec.kind == "notched_noise")
    elif spec.kind == "gap_in_noise":
        target, reference = _render_gap(spec, trial, fs=fs, rng=rng, desc=desc)
    elif spec.kind == "sam":
        target, reference = _render_sam(spec, trial, fs=fs, rng=rng, desc=desc)
    else:
        target, reference = _render_custom(spec, trial, fs=fs, rng=rng, desc=desc)
    if trial.catch:
        target = reference()
    rows = _ear_rows(spec, trial)
    desc["ears"] = ["left" if r == 0 else "right" for r in rows]
    n_int = trial.n_intervals if trial.target_interval is not None else 1
    length = target.signal.size
    isi = _n(spec.isi_ms, fs)
    total = n_int * length + (n_int - 1) * isi
    signal = np.zeros((2, total))
    masker = np.zeros((2, total))
    onsets, offsets = [], []
    has_masker = False
    for k in range(n_int):
        part = target if trial.target_interval in (None, k + 1) else reference()
        start = k * (length + isi)
        onsets.append(start)
        offsets.append(start + length)
        signal[rows, start:start + length] = part.signal
        if part.masker is not None:
            masker[rows, start:start + length] = part.masker
            has_masker = True
    desc.update(fs=fs, isi_ms=spec.isi_ms, target_interval=trial.target_interval,
                interval_onsets_samples=onsets, interval_offsets_samples=offsets)
    pa = (signal + masker).astype(np.float32)
    return RenderedTrial(
        pa=pa, fs=fs, interval_onsets_samples=tuple(onsets),
        interval_offsets_samples=tuple(offsets), target_interval=trial.target_interval,
        description=desc, words=words, signal_pa=signal.astype(np.float32),
        masker_pa=masker.astype(np.float32) if has_masker else None,
    )


def _worst_x_db(spec: StimulusSpec, x_min_db: float, x_max_db: float) -> float:
    """The reachable value of the variable with the loudest stimulus."""
    if spec.variable == "gap_ms":
        return max(x_min_db, 0.0)  # the gap does not change the noise's level
    if spec.variable == "depth_db" and x_max_db > 0:
        raise ConfigError(f"the procedure reaches depth_db up to {x_max_db:g}, but a modulation "
                          "depth must be at most 0 dB (m <= 1)")
    return x_max_db  # levels, SNRs and depths: the louder (the deeper) the higher the peak


def check_ceiling(spec: StimulusSpec, *, x_min_db: float, x_max_db: float,
                  ceiling: OutputCeiling, channels: tuple[int, ...] = (0, 1), fs: float,
                  frequencies_hz: tuple[float, ...] | None = None) -> None:
    """Refuse a stimulus that could exceed the output ceiling anywhere in [x_min_db, x_max_db].

    Tones (``tone``): the tone at the highest reachable level is checked at each frequency
    (``frequencies_hz``, e.g. an audiogram's test frequencies; default ``spec.frequency_hz``)
    with :meth:`OutputCeiling.check_tone`, the engine's own check. Other kinds: the loudest
    reachable trial is rendered (three independent noises, the largest peak counting) and
    run through the channels' output equalisers (:meth:`OutputCeiling.check_signal_pa`). Every
    trial is checked again at playback (:meth:`audiolab.engine.Engine.play`).

    Parameters
    ----------
    spec : StimulusSpec
        The stimulus.
    x_min_db, x_max_db : float
        The range of the procedure's variable (its floor and ceiling in the experiment file).
    ceiling : OutputCeiling
        The calibration's ceiling (built with ``fs`` for non-tone stimuli).
    channels : tuple of int
        Output channels of the left and right ear rows.
    fs : float
        Sample rate in Hz.
    frequencies_hz : tuple of float or None
        Tone frequencies to check (audiometry); default ``(spec.frequency_hz,)``.

    Raises
    ------
    SafetyError
        One line: which level, where, by how much it is over.
    ConfigError
        ``x_min_db > x_max_db`` or a range the stimulus cannot take.

    Examples
    --------
    >>> from audiolab.calibration import Calibration, OutputCeiling
    >>> ceiling = OutputCeiling.for_outputs(Calibration.uncalibrated_mode(2), 2)
    >>> spec = stimulus_spec({"kind": "tone", "variable": "level_db_spl"})
    >>> check_ceiling(spec, x_min_db=0, x_max_db=70, ceiling=ceiling, fs=48000)
    """
    lo = check_real("x_min_db", x_min_db, low=-1000, high=1000)
    hi = check_real("x_max_db", x_max_db, low=-1000, high=1000)
    if lo > hi:
        raise ConfigError(f"x_min_db must be at most x_max_db ({hi:g}), got {lo:g}")
    chans = tuple(int(c) for c in channels)
    if len(chans) != 2:
        raise ConfigError(f"channels must name the left and right outputs, got {channels!r}")
    worst = _worst_x_db(spec, lo, hi)
    rows = _EAR_ROWS[spec.ear]
    if spec.kind == "tone":
        freqs = (spec.frequency_hz,) if frequencies_hz is None else tuple(frequencies_hz)
        transducer = _transducer(ceiling.calibration)
        for f in freqs:
            trial = Trial(index=0, x_db=worst, n_intervals=1, target_interval=None,
                          catch=False, frequency_hz=float(f))
            spl, _ = _tone_level_db_spl(spec, trial, worst, transducer, float(f))
            for row in (0, 1) if frequencies_hz is not None else rows:
                ceiling.check_tone(spl, float(f), chans[row])
        return
    for k in range(3):
        trial = Trial(index=0, x_db=worst, n_intervals=1, target_interval=None, catch=False)
        rendered = render_trial(spec, trial, fs=fs, rng=np.random.default_rng(k))
        used = [r for r in (0, 1) if np.any(rendered.pa[r])]
        if not used:
            continue
        ceiling.check_signal_pa(rendered.pa[used], [chans[r] for r in used],
                                what=f"the {spec.kind} stimulus at {spec.variable} = {worst:g}")
