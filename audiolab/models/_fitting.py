"""Fitting a hearing aid to an audiogram: prescription targets, SII, chain table.

:func:`fit_hearing_aid` is the library behind ``audiolab fit``. It prescribes the rule's
insertion gain at the audiogram's own frequencies for each ear, computes the unaided and aided
SII for speech at 65 dB SPL in quiet, and describes the fitted hearing aid as a chain stage.

Compression modes plug in through :data:`COMPRESSION_FITTERS`: ``"linear"`` needs nothing more
than the prescription; any other mode names a function ``"module:function"`` imported lazily
and called per ear as ``fn(ear, rule=..., frequencies_hz=..., attack_ms=..., release_ms=...)``;
it returns a dict of extra JSON-ready per-ear results (e.g. gains for 50/65/80 dB SPL tones)
that :meth:`Fitting.to_json_dict` merges into that ear's entry.
"""

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from audiolab._errors import ConfigError
from audiolab._params import Param
from audiolab._validate import check_choice
from audiolab.audiology._audiogram import (
    EARS,
    STANDARD_AUDIOGRAMS,
    Audiogram,
    AudiogramLike,
    EarAudiogram,
    load_audiogram,
)
from audiolab.audiology._prescription import RULES, prescribe
from audiolab.audiology._sii import (
    NO_NOISE_SPECTRUM_LEVEL_DB_SPL,
    sii_bands,
    speech_intelligibility_index,
    standard_speech_spectrum_level_db_spl,
)

__all__ = [
    "ATTACK_MS",
    "COMPRESSION_FITTERS",
    "RELEASE_MS",
    "RULE",
    "SII_SPEECH_LEVEL_DB_SPL",
    "EarFitting",
    "Fitting",
    "aided_sii",
    "fit_hearing_aid",
    "realised_gain_db",
]

COMPRESSION_FITTERS: dict[str, str | None] = {
    "linear": None,
    "wdrc": "audiolab.models._hearing_aid:fit_wdrc_ear",
}

# Declared once for the fit and the hearing aid it describes (its chain-table keys).
RULE = Param("rule", "prescription rule for 65 dB SPL speech", kind="choice", default="nal-r",
             choices=RULES)
ATTACK_MS = Param("attack_ms", "ANSI S3.22 attack time", unit="ms", default=5.0, low=0,
                  high=500, low_open=True)
RELEASE_MS = Param("release_ms", "ANSI S3.22 release time", unit="ms", default=50.0, low=0,
                   high=5000, low_open=True)

SII_SPEECH_LEVEL_DB_SPL = 65.0
"""Overall level of the standard speech (normal effort shape) for the fit's SII figures."""

_SII_PROCEDURE = "one-third-octave"
_STANDARD_NORMAL_DB_SPL = 62.35  # ANSI S3.5-1997 Table 3, overall level of normal effort


def aided_sii(
    ear: EarAudiogram,
    insertion_gain_db: np.ndarray | None,
    *,
    speech_db_spl: float = SII_SPEECH_LEVEL_DB_SPL,
) -> float:
    """SII (one-third-octave procedure) of standard speech in quiet for one ear.

    Parameters
    ----------
    ear : EarAudiogram
        Listener's thresholds, interpolated at the 18 band centres.
    insertion_gain_db : numpy.ndarray or None
        Insertion gain at the 18 one-third-octave centres (160-8000 Hz); ``None`` = unaided.
        Added to the speech and the (absent, -50 dB) noise, as in ANSI S3.5-1997 Eqs. (17-18).
    speech_db_spl : float
        Overall speech level in dB SPL (the standard normal-effort spectrum shape).

    Returns
    -------
    float
        SII in [0, 1].
    """
    bands = sii_bands(_SII_PROCEDURE)
    e = standard_speech_spectrum_level_db_spl("normal", procedure=_SII_PROCEDURE)
    e = e + (speech_db_spl - _STANDARD_NORMAL_DB_SPL)
    nz = np.full(bands.n_bands, NO_NOISE_SPECTRUM_LEVEL_DB_SPL)
    if insertion_gain_db is not None:
        e = e + insertion_gain_db
        nz = nz + insertion_gain_db
    t = ear.threshold_db_hl_at(bands.centre_frequencies_hz)
    return speech_intelligibility_index(e, nz, t, procedure=_SII_PROCEDURE)


@dataclass(frozen=True, eq=False)
class EarFitting:
    """The fit of one ear.

    Attributes
    ----------
    side : str
        "left" or "right".
    frequencies_hz : numpy.ndarray
        The audiogram's own frequencies.
    insertion_gain_db : numpy.ndarray
        The rule's target insertion gain there (for 65 dB SPL speech when compressive).
    sii_unaided, sii_aided : float
        SII of standard speech at 65 dB SPL in quiet without and with the target gain.
    extra : dict
        Compression-specific per-ear results from the compression fitter (JSON-ready).
    """

    side: str
    frequencies_hz: np.ndarray
    insertion_gain_db: np.ndarray
    sii_unaided: float
    sii_aided: float
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Fitting:
    """A hearing-aid fit of both ears; see :func:`fit_hearing_aid`."""

    audiogram: Audiogram
    rule: str
    compression: str
    attack_ms: float | None
    release_ms: float | None
    left: EarFitting
    right: EarFitting

    def ear(self, side: str) -> EarFitting:
        """The :class:`EarFitting` of ``side`` (``"left"`` or ``"right"``)."""
        check_choice("ear", side, EARS)
        return self.left if side == "left" else self.right

    def to_json_dict(self) -> dict[str, Any]:
        """``{"rule": ..., "ears": {"left": {"frequencies_hz", "insertion_gain_db", ...}, ...}}``.

        Besides the two arrays each ear carries ``sii_unaided`` and ``sii_aided`` and whatever
        the compression fitter added.
        """
        ears: dict[str, Any] = {}
        for side in EARS:
            e = self.ear(side)
            ears[side] = {
                "frequencies_hz": [float(v) for v in e.frequencies_hz],
                "insertion_gain_db": [round(float(v), 4) for v in e.insertion_gain_db],
                **dict(e.extra),
                "sii_unaided": round(e.sii_unaided, 4),
                "sii_aided": round(e.sii_aided, 4),
            }
        return {"rule": self.rule, "ears": ears}

    def chain_table(self) -> dict[str, Any]:
        """The ``hearing-aid`` stage of a chain file (INTERFACES.md) for this fit.

        A preset audiogram is written by name, any other one inline (our JSON layout), so the
        chain file stands alone.
        """
        ag = self.audiogram
        preset = STANDARD_AUDIOGRAMS.get(ag.name)
        audiogram: Any = ag.name if preset is not None and preset == ag else ag.to_dict()
        table: dict[str, Any] = {
            "type": "hearing-aid",
            "audiogram": audiogram,
            "rule": self.rule,
            "compression": self.compression,
        }
        if self.attack_ms is not None:
            table["attack_ms"] = self.attack_ms
        if self.release_ms is not None:
            table["release_ms"] = self.release_ms
        return table


def _compression_fitter(compression: str) -> Any:
    target = COMPRESSION_FITTERS[compression]
    if target is None:
        return None
    module_name, _, func = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        module = None
    fn = getattr(module, func, None)
    if fn is None:
        raise ConfigError(
            f"compression {compression!r} is not available in this build of audiolab "
            f"({target} is missing); use compression 'linear'"
        )
    return fn


def fit_hearing_aid(
    audiogram: AudiogramLike,
    *,
    rule: str = "nal-r",
    compression: str = "linear",
    attack_ms: float | None = None,
    release_ms: float | None = None,
) -> Fitting:
    """Fit a hearing aid to an audiogram with a prescription rule.

    Parameters
    ----------
    audiogram : Audiogram or str or pathlib.Path
        Anything :func:`load_audiogram` accepts (object, preset name, file path).
    rule : {"nal-r", "half-gain", "pogo"}
        Prescription rule (see :func:`prescribe`).
    compression : {"linear", "wdrc"}
        ``"linear"``: frequency-shaped gain only. Other modes come from
        :data:`COMPRESSION_FITTERS`.
    attack_ms, release_ms : float, optional
        ANSI S3.22 attack and release times of a compressive fit, in (0, 500] and (0, 5000]
        ms; not allowed with ``"linear"``.

    Returns
    -------
    Fitting

    Examples
    --------
    >>> fit = fit_hearing_aid("N3", rule="nal-r")
    >>> fit.left.frequencies_hz[6], round(float(fit.left.insertion_gain_db[6]), 2)
    (np.float64(2000.0), 20.75)
    """
    ag = load_audiogram(audiogram)
    rule = RULE.check(rule)
    compression = check_choice("compression", compression, tuple(COMPRESSION_FITTERS))
    if compression == "linear" and (attack_ms is not None or release_ms is not None):
        raise ConfigError(
            "attack_ms and release_ms apply to compressive fits only; drop them or use "
            "compression 'wdrc'"
        )
    # Unset times stay unset: the compression fitter then uses its own defaults.
    attack = None if attack_ms is None else ATTACK_MS.check(attack_ms)
    release = None if release_ms is None else RELEASE_MS.check(release_ms)
    fitter = _compression_fitter(compression)
    left, right = (
        _fit_ear(ag, side, rule=rule, fitter=fitter, attack_ms=attack, release_ms=release)
        for side in EARS
    )
    return Fitting(ag, rule, compression, attack, release, left, right)


def _fit_ear(audiogram: Audiogram, side: str, *, rule: str, fitter: Any,
             attack_ms: float | None, release_ms: float | None) -> EarFitting:
    """Targets at the audiogram's frequencies, SII without and with them, the fitter's extras."""
    ear = audiogram.ear(side)
    extra: dict[str, Any] = {}
    if fitter is not None:
        extra = dict(fitter(ear, rule=rule, frequencies_hz=ear.frequencies_hz,
                            attack_ms=attack_ms, release_ms=release_ms))
    centres = sii_bands(_SII_PROCEDURE).centre_frequencies_hz
    return EarFitting(
        side=side,
        frequencies_hz=ear.frequencies_hz,
        insertion_gain_db=prescribe(ear, rule, ear.frequencies_hz),
        sii_unaided=aided_sii(ear, None),
        sii_aided=aided_sii(ear, prescribe(ear, rule, centres)),
        extra=extra,
    )


def realised_gain_db(fitting: Fitting, side: str, frequencies_hz: np.ndarray) -> np.ndarray | None:
    """Insertion gain (dB) the fitted hearing aid actually realises, if one can be built.

    Calls ``audiolab.models._hearing_aid.realised_gain_db(chain_table, ear=side,
    frequencies_hz=...)`` when that module exists (the multiband hearing aid); returns ``None``
    when it does not, so callers show the targets only.
    """
    name = "audiolab.models._hearing_aid"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None
    fn = getattr(module, "realised_gain_db", None)
    if fn is None:
        return None
    return np.asarray(
        fn(fitting.chain_table(), ear=side, frequencies_hz=np.asarray(frequencies_hz, float)),
        dtype=np.float64,
    )
