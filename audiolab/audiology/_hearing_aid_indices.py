"""HASPI v2 and HASQI v2 for a listener's audiogram: the public face of ``audiolab.dsp``'s models.

Kates & Arehart (2021) HASPI v2 and Kates & Arehart (2014) HASQI v2 compare a processed signal
with its clean reference through Kates' (2013) model of the listener's ear (see
:mod:`audiolab.dsp._ear_model`). This module turns an audiogram (preset, file, :class:`Audiogram`)
into the model's six losses, fixes the level and the internal noise's seed, and scores one ear or
both.

Level convention: ``level_db_spl`` is the RMS level of the whole reference signal (all its
channels); the processed signal is scaled by the same factor, so its level relative to the
reference is kept.

Ears: a mono pair is scored for one ear (``ear="better"``, the default, takes the ear with the
lower 0.5-4 kHz average threshold); a stereo pair is scored per ear (channel 0 left, 1 right) and
the score is the better of the two, as the Clarity challenges report it, unless ``ear`` names one.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from audiolab._errors import ConfigError, SignalError
from audiolab._validate import check_choice, check_int, check_real
from audiolab.audiology._audiogram import AudiogramLike, EarAudiogram, load_audiogram
from audiolab.dsp._ear_model import AUDIOMETRIC_FREQUENCIES_HZ
from audiolab.dsp._haspi import HaspiResult, haspi_v2
from audiolab.dsp._hasqi import HasqiResult, hasqi_v2

__all__ = ["EARS_CHOICES", "IndexDetails", "better_ear", "haspi", "haspi_details", "hasqi",
           "hasqi_details"]

EARS_CHOICES: tuple[str, ...] = ("better", "left", "right")
"""Values of ``ear``."""

_PTA_FREQUENCIES_HZ = (500.0, 1000.0, 2000.0, 4000.0)


@dataclass(frozen=True)
class IndexDetails:
    """A HASPI or HASQI score with what it was made of, per ear scored.

    Attributes
    ----------
    score : float
        The score reported: the scored ear's, or the better of both ears'.
    ears : dict of str to HaspiResult or HasqiResult
        ``{"left": ..., "right": ...}``, the ears scored (one for a mono pair).
    ear : str
        The ear whose score is ``score``.
    level_db_spl : float
        The reference's RMS level the model heard.
    """

    score: float
    ears: dict[str, HaspiResult | HasqiResult]
    ear: str
    level_db_spl: float


def better_ear(audiogram: AudiogramLike) -> str:
    """The ear with the better hearing.

    ``"left"`` or ``"right"``: the ear with the lower 0.5-4 kHz average threshold (left on a
    tie).

    Examples
    --------
    >>> from audiolab.audiology import better_ear
    >>> better_ear("N3")
    'left'
    """
    ag = load_audiogram(audiogram)
    pta = {s: float(np.mean(ag.ear(s).threshold_db_hl_at(_PTA_FREQUENCIES_HZ)))
           for s in ("left", "right")}
    return "left" if pta["left"] <= pta["right"] else "right"


def _loss(ear: EarAudiogram) -> np.ndarray:
    # Log-frequency interpolation, held beyond the measured range: what pyclarity's
    # Audiogram.resample does to an audiogram that lacks some of the six frequencies.
    return np.asarray(ear.threshold_db_hl_at(AUDIOMETRIC_FREQUENCIES_HZ), dtype=np.float64)


def _as_pair(reference: ArrayLike, processed: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Both signals as float64 ``(channels, samples)``, checked."""
    out = []
    for name, sig in (("reference", reference), ("processed", processed)):
        try:
            a = np.array(sig, dtype=np.float64, ndmin=1)
        except (TypeError, ValueError):
            raise SignalError(f"{name} must be an array of numbers") from None
        if a.ndim == 1:
            a = a[None, :]
        if a.ndim != 2 or a.shape[0] not in (1, 2):
            raise SignalError(
                f"{name} must be mono (n_samples,) or stereo (2, n_samples), got shape {a.shape}")
        if not np.isfinite(a).all():
            raise SignalError(f"{name} holds NaN or inf samples")
        out.append(a)
    x, y = out
    if x.shape != y.shape:
        raise SignalError(
            f"reference and processed must have the same shape, got {x.shape} and {y.shape}")
    rms = float(np.sqrt(np.mean(x * x)))
    if rms == 0.0:
        raise SignalError("the reference is silent (all zeros): HASPI and HASQI are undefined")
    return x / rms, y / rms


def _details(kind: str, reference: ArrayLike, processed: ArrayLike, fs: float, *,
             audiogram: AudiogramLike, ear: str, level_db_spl: float, seed: int,
             equalisation: int = 1) -> IndexDetails:
    fs = check_real("fs", fs, low=0.0, low_open=True)
    level = check_real("level_db_spl", level_db_spl, low=0.0, high=130.0)
    seed = check_int("seed", seed, low=0)
    ear = check_choice("ear", ear, EARS_CHOICES)
    ag = load_audiogram(audiogram)
    x, y = _as_pair(reference, processed)
    sides = ("left", "right") if x.shape[0] == 2 else (better_ear(ag) if ear == "better" else ear,)
    results: dict[str, HaspiResult | HasqiResult] = {}
    for i, side in enumerate(sides):
        # One generator per ear, from the seed and the ear: an ear's score is the same whether
        # or not the other ear is scored.
        rng = np.random.default_rng([seed, ("left", "right").index(side)])
        if kind == "haspi":
            results[side] = haspi_v2(x[i], y[i], fs=fs, hearing_loss_db_hl=_loss(ag.ear(side)),
                                     level_db_spl=level, rng=rng)
        else:
            results[side] = hasqi_v2(x[i], y[i], fs=fs, hearing_loss_db_hl=_loss(ag.ear(side)),
                                     level_db_spl=level, equalisation=equalisation, rng=rng)
    if len(sides) == 2 and ear != "better":
        chosen = ear
    else:
        chosen = max(results, key=lambda s: results[s].score)
    return IndexDetails(score=float(results[chosen].score), ears=results, ear=chosen,
                        level_db_spl=level)


def haspi_details(
    reference: ArrayLike, processed: ArrayLike, fs: float, *, audiogram: AudiogramLike,
    ear: str = "better", level_db_spl: float = 65.0, seed: int = 0,
) -> IndexDetails:
    """HASPI v2 with its intermediate values per ear (see :func:`haspi` for the parameters).

    Each ear's :class:`~audiolab.dsp.HaspiResult` holds the 10 modulation-band correlations
    the networks take and the ``(6, 10)`` correlations per cepstral coefficient.
    """
    return _details("haspi", reference, processed, fs, audiogram=audiogram, ear=ear,
                    level_db_spl=level_db_spl, seed=seed)


def hasqi_details(
    reference: ArrayLike, processed: ArrayLike, fs: float, *, audiogram: AudiogramLike,
    ear: str = "better", level_db_spl: float = 65.0, equalisation: int = 1, seed: int = 0,
) -> IndexDetails:
    """HASQI v2 with its intermediate values per ear (see :func:`hasqi` for the parameters).

    Each ear's :class:`~audiolab.dsp.HasqiResult` holds the nonlinear and linear terms, the
    cepstral correlation, the basilar-membrane coherence and the two spectral terms.
    """
    if equalisation not in (1, 2):
        raise ConfigError(f"equalisation must be 1 (NAL-R) or 2 (none), got {equalisation!r}")
    return _details("hasqi", reference, processed, fs, audiogram=audiogram, ear=ear,
                    level_db_spl=level_db_spl, seed=seed, equalisation=equalisation)


def haspi(
    reference: ArrayLike, processed: ArrayLike, fs: float, *, audiogram: AudiogramLike,
    ear: str = "better", level_db_spl: float = 65.0, seed: int = 0,
) -> float:
    """HASPI v2 (Kates & Arehart 2021): predicted intelligibility of ``processed`` for a listener.

    The reference passes a normal ear, the processed signal the listener's ear, so even an
    identical pair scores below 1 for an impaired ear. The numbers are pyclarity 0.9.0's
    ``haspi_v2`` (within its own spread over seeds) except that rates which are not whole kHz
    are resampled at their exact ratio.

    Parameters
    ----------
    reference, processed : array_like
        Clean and processed signals, ``(n_samples,)`` or ``(2, n_samples)`` (left, right), the
        same shape, time-aligned to within 100 ms.
    fs : float
        Sample rate in Hz (both signals).
    audiogram : Audiogram or str or pathlib.Path or dict
        The listener: a preset (``"N1"``..``"N7"``, ``"S1"``..``"S3"``), an audiogram file or an
        :class:`Audiogram` (see :func:`load_audiogram`).
    ear : {"better", "left", "right"}
        For a mono pair the ear to score (``"better"``: lower 0.5-4 kHz average); for a stereo
        pair the ear to report (``"better"``: the higher score).
    level_db_spl : float
        RMS level of the whole reference in dB SPL, in [0, 130]; the processed signal is scaled
        by the same factor.
    seed : int
        Seed of the model's internal noise (>= 0); the same seed gives the same score.

    Returns
    -------
    float
        HASPI v2, about 0 (unintelligible) to 1.

    Raises
    ------
    SignalError
        Shapes that differ, a silent reference, NaN/inf samples, or less than 0.2 s of reference
        above its silence threshold.
    ConfigError
        A bad audiogram, ``ear``, level, rate or seed.

    Examples
    --------
    >>> import numpy as np
    >>> from audiolab.audiology import haspi
    >>> rng = np.random.default_rng(1)
    >>> t = np.arange(24000) / 24000
    >>> speechlike = np.sin(2 * np.pi * 500 * t) * (1 + np.sin(2 * np.pi * 4 * t))
    >>> noisy = speechlike + 0.3 * rng.standard_normal(t.size)
    >>> 0.0 <= haspi(speechlike, noisy, 24000, audiogram="N2") <= 1.0
    True
    """
    return haspi_details(reference, processed, fs, audiogram=audiogram, ear=ear,
                         level_db_spl=level_db_spl, seed=seed).score


def hasqi(
    reference: ArrayLike, processed: ArrayLike, fs: float, *, audiogram: AudiogramLike,
    ear: str = "better", level_db_spl: float = 65.0, equalisation: int = 1, seed: int = 0,
) -> float:
    """HASQI v2 (Kates & Arehart 2014): predicted quality of ``processed`` for a listener.

    Both signals pass the listener's ear; with ``equalisation=1`` (pyclarity's default) the
    reference first gets NAL-R gain for the loss (and only the reference does). The numbers are
    pyclarity 0.9.0's ``hasqi_v2`` (within its spread over seeds) except that rates which are not
    whole kHz are resampled at their exact ratio.

    Parameters
    ----------
    reference, processed, fs, audiogram, ear, level_db_spl, seed
        As for :func:`haspi`.
    equalisation : {1, 2}
        1: NAL-R on the reference; 2: none.

    Returns
    -------
    float
        HASQI v2 in [0, 1]: the nonlinear term times the linear term.

    Raises
    ------
    SignalError, ConfigError
        As for :func:`haspi`; ``equalisation`` other than 1 or 2.

    Examples
    --------
    >>> import numpy as np
    >>> from audiolab.audiology import hasqi
    >>> t = np.arange(24000) / 24000
    >>> speechlike = np.sin(2 * np.pi * 500 * t) * (1 + np.sin(2 * np.pi * 4 * t))
    >>> round(hasqi(speechlike, speechlike, 24000, audiogram="N1", equalisation=2), 2)
    1.0
    """
    return hasqi_details(reference, processed, fs, audiogram=audiogram, ear=ear,
                         level_db_spl=level_db_spl, equalisation=equalisation, seed=seed).score
