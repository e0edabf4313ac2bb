"""The fitting view's model, without Qt: audiogram edits, rule and compression -> fitting -> curves.

:class:`FittingModel` holds what the user chose (audiogram, rule, compression and its times) and
the :class:`~audiolab.models.Fitting` that follows from it. Every edit goes through the library's
own checks (:class:`~audiolab.audiology.EarAudiogram`, :func:`~audiolab.models.fit_hearing_aid`):
a refused edit leaves the model as it was and raises the library's one-line error, which the view
shows next to the plot.

:func:`compute_curves` turns a fitting into what the view plots (prescribed target against the
insertion gain the fitted :class:`~audiolab.models.HearingAid` realises, the static input/output
curves of its bands, output spectra of speech through it, SII). It takes a second or less and runs
off the GUI thread.

The library fits one rule and one compression to both ears (:func:`fit_hearing_aid`, one
``hearing-aid`` chain stage), so this model does too: rules per ear are not possible without
changing the library.
"""

import json
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from audiolab._errors import ConfigError, FileFormatError
from audiolab.audiology import (
    STANDARD_AUDIOGRAMS,
    Audiogram,
    EarAudiogram,
    band_spectrum_levels_db_spl,
    load_audiogram,
    prescribe,
    read_audiogram,
    sii_bands,
    write_audiogram,
)
from audiolab.audiology._audiogram import EARS
from audiolab.models import Fitting, HearingAid, fit_hearing_aid, load_chain, static_gain_db
from audiolab.models import write_chain as _write_chain
from audiolab.models._fitting import ATTACK_MS, COMPRESSION_FITTERS, RELEASE_MS, aided_sii

__all__ = [
    "AUDIOGRAM_FORMATS",
    "COMPRESSIONS",
    "GRID_FREQUENCIES_HZ",
    "SPEECH_LEVELS_DB_SPL",
    "FittingCurves",
    "FittingModel",
    "audiogram_format_of",
    "clarity_listener_ids",
    "compute_curves",
    "hearing_aid_for",
    "is_chain_file",
    "looks_like_audiogram",
    "render_report",
]

#: Audiometric test frequencies (octaves and half octaves, 125-8000 Hz) a click snaps to.
GRID_FREQUENCIES_HZ: tuple[float, ...] = (125.0, 250.0, 500.0, 750.0, 1000.0, 1500.0, 2000.0,
                                          3000.0, 4000.0, 6000.0, 8000.0)
#: Audiogram file formats of :func:`audiolab.audiology.write_audiogram`, by name.
AUDIOGRAM_FORMATS: tuple[str, ...] = ("json", "clarity", "csv")
COMPRESSIONS: tuple[str, ...] = tuple(COMPRESSION_FITTERS)
#: Overall speech levels whose aided output spectra are shown (soft, normal, loud speech).
SPEECH_LEVELS_DB_SPL: tuple[float, ...] = (55.0, 65.0, 80.0)
STEP_DB = 5.0  # audiometric step (ISO 8253-1 uses 5 dB steps)
FS_HZ = 48000.0
N_SENTENCES = 2  # bundled sentences for the output spectra (about 4 s of speech)
_SII_PROCEDURE = "one-third-octave"
_DENSE_HZ = np.geomspace(125.0, 8000.0, 160)
_IO_INPUT_DB_SPL = np.arange(0.0, 121.0, 2.0)


def _edited_name(name: str) -> str:
    """A preset's name changes once edited, so reports do not call the edit by the preset's."""
    return f"{name}-edited" if name in STANDARD_AUDIOGRAMS else name


class FittingModel:
    """What the fitting view shows and edits.

    Parameters
    ----------
    audiogram : Audiogram or str
        Start with this audiogram (anything :func:`load_audiogram` takes); default N3.
    rule : {"nal-r", "half-gain", "pogo"}
        Prescription rule (both ears).
    compression : {"linear", "wdrc"}
        Frequency-shaped linear gain or multiband compression (both ears).

    Attributes
    ----------
    ear : str
        The ear being edited, ``"right"`` or ``"left"``.
    selected_hz : float or None
        Frequency of the selected point of :attr:`ear`.
    """

    def __init__(self, audiogram: Any = "N3", *, rule: str = "nal-r",
                 compression: str = "wdrc") -> None:
        self.audiogram: Audiogram = load_audiogram(audiogram)
        self.rule = rule
        self.compression = compression
        self.attack_ms = float(ATTACK_MS.default)
        self.release_ms = float(RELEASE_MS.default)
        self.ear = "right"
        self.selected_hz: float | None = 1000.0
        self.fitting: Fitting = self._fit(self.audiogram, rule, compression, self.attack_ms,
                                          self.release_ms)

    # -- fitting -------------------------------------------------------------------------------
    @staticmethod
    def _fit(audiogram: Audiogram, rule: str, compression: str, attack_ms: float,
             release_ms: float) -> Fitting:
        times = {} if compression == "linear" else {"attack_ms": attack_ms,
                                                     "release_ms": release_ms}
        return fit_hearing_aid(audiogram, rule=rule, compression=compression, **times)

    def _commit(self, audiogram: Audiogram | None = None, **changes: Any) -> Fitting:
        """Fit with the changes; keep them only if the library accepts them."""
        ag = audiogram if audiogram is not None else self.audiogram
        state = {"rule": self.rule, "compression": self.compression,
                 "attack_ms": self.attack_ms, "release_ms": self.release_ms, **changes}
        fitting = self._fit(ag, state["rule"], state["compression"], state["attack_ms"],
                            state["release_ms"])
        self.audiogram = ag
        self.rule, self.compression = state["rule"], state["compression"]
        self.attack_ms, self.release_ms = float(state["attack_ms"]), float(state["release_ms"])
        self.fitting = fitting
        ear = self.audiogram.ear(self.ear)
        if self.selected_hz not in ear.frequencies_hz:
            self.selected_hz = self.nearest_point_hz(self.ear, self.selected_hz or 1000.0)
        return fitting

    def set_rule(self, rule: str) -> Fitting:
        """Prescribe with ``rule`` (raises ConfigError for an unknown rule)."""
        return self._commit(rule=rule)

    def set_compression(self, compression: str, *, attack_ms: float | None = None,
                        release_ms: float | None = None) -> Fitting:
        """Choose the compression and (for ``"wdrc"``) its ANSI S3.22 times in ms."""
        return self._commit(
            compression=compression,
            attack_ms=self.attack_ms if attack_ms is None else attack_ms,
            release_ms=self.release_ms if release_ms is None else release_ms)

    # -- audiogram edits -----------------------------------------------------------------------
    def threshold_db_hl(self, side: str, f_hz: float) -> float | None:
        """The threshold measured at ``f_hz`` in ``side``, or None if there is no point."""
        ear = self.audiogram.ear(side)
        hit = np.flatnonzero(ear.frequencies_hz == f_hz)
        return float(ear.thresholds_db_hl[hit[0]]) if hit.size else None

    def set_threshold(self, side: str, f_hz: float, level_db_hl: float) -> Fitting:
        """Set (or add) the point at ``f_hz`` of ``side``; refused with the library's reason.

        Raises
        ------
        ConfigError
            The level is outside [-10, 120] dB HL or not a number (the audiogram is unchanged).
        """
        old = self.audiogram.ear(side)
        f = np.asarray(old.frequencies_hz, float)
        t = np.asarray(old.thresholds_db_hl, float)
        if f_hz in f:
            t = np.where(f == f_hz, float(level_db_hl), t)
        else:
            order = np.argsort(np.append(f, f_hz))
            f, t = np.append(f, f_hz)[order], np.append(t, float(level_db_hl))[order]
        return self._replace_ear(side, f, t)

    def remove_threshold(self, side: str, f_hz: float) -> Fitting:
        """Remove the point at ``f_hz`` (refused if the ear would no longer cover 500-4000 Hz)."""
        old = self.audiogram.ear(side)
        keep = old.frequencies_hz != f_hz
        return self._replace_ear(side, old.frequencies_hz[keep], old.thresholds_db_hl[keep])

    def _replace_ear(self, side: str, f: np.ndarray, t: np.ndarray) -> Fitting:
        old = self.audiogram.ear(side)
        ear = EarAudiogram(f, t, old.bone_frequencies_hz, old.bone_thresholds_db_hl, side=side)
        ag = replace(self.audiogram, name=_edited_name(self.audiogram.name), **{side: ear})
        return self._commit(ag)

    def nearest_point_hz(self, side: str, f_hz: float) -> float:
        """The measured frequency of ``side`` nearest to ``f_hz`` on a log scale."""
        f = self.audiogram.ear(side).frequencies_hz
        return float(f[np.argmin(np.abs(np.log(f / f_hz)))])

    def snap_hz(self, side: str, f_hz: float) -> float:
        """The grid or measured frequency nearest to ``f_hz`` on a log scale (for clicks)."""
        f = np.union1d(GRID_FREQUENCIES_HZ, self.audiogram.ear(side).frequencies_hz)
        return float(f[np.argmin(np.abs(np.log(f / max(f_hz, 1.0))))])

    @staticmethod
    def snap_db(level_db_hl: float) -> float:
        """``level_db_hl`` rounded to the 5 dB audiometric step."""
        return STEP_DB * round(level_db_hl / STEP_DB)

    def click(self, f_hz: float, level_db_hl: float) -> Fitting:
        """A click on the grid: set the selected ear's point at the nearest test frequency."""
        f = self.snap_hz(self.ear, f_hz)
        fitting = self.set_threshold(self.ear, f, self.snap_db(level_db_hl))
        self.selected_hz = f
        return fitting

    def select(self, side: str, f_hz: float | None = None) -> None:
        """Edit ``side``, selecting its point nearest ``f_hz`` (default: the current one)."""
        if side not in EARS:
            raise ConfigError(f"ear must be 'left' or 'right', got {side!r}")
        self.ear = side
        self.selected_hz = self.nearest_point_hz(side, f_hz or self.selected_hz or 1000.0)

    def step_level(self, steps: int) -> Fitting:
        """Move the selected point ``steps`` x 5 dB (positive = more loss, down on the chart)."""
        f = self.selected_hz if self.selected_hz is not None else 1000.0
        f = self.nearest_point_hz(self.ear, f)
        current = self.threshold_db_hl(self.ear, f)
        assert current is not None
        fitting = self.set_threshold(self.ear, f, current + STEP_DB * steps)
        self.selected_hz = f
        return fitting

    def step_frequency(self, steps: int) -> None:
        """Select the point ``steps`` test frequencies higher (negative: lower), within the ear."""
        f = self.audiogram.ear(self.ear).frequencies_hz
        here = int(np.argmin(np.abs(np.log(f / (self.selected_hz or 1000.0)))))
        self.selected_hz = float(f[int(np.clip(here + steps, 0, f.size - 1))])

    # -- files ---------------------------------------------------------------------------------
    def use_preset(self, name: str) -> Fitting:
        """Load a standard audiogram (N1..N7, S1..S3, Bisgaard et al. 2010)."""
        if name not in STANDARD_AUDIOGRAMS:
            raise ConfigError(f"preset must be one of {', '.join(STANDARD_AUDIOGRAMS)}, "
                              f"got {name!r}")
        return self._commit(STANDARD_AUDIOGRAMS[name])

    def load_audiogram_file(self, path: str | Path) -> Fitting:
        """Read an audiolab JSON, Clarity listener JSON or CSV audiogram."""
        return self._commit(read_audiogram(path))

    def save_audiogram_file(self, path: str | Path, *, format: str = "json") -> Path:
        """Write the audiogram as ``format`` (``"json"``, ``"clarity"`` or ``"csv"``)."""
        return write_audiogram(self.audiogram, path, format=format)

    def export_chain(self, path: str | Path) -> Path:
        """Write a chain file with the fitted hearing aid (``audiolab process --chain`` reads it).

        The chain is validated (each stage test-built) by :func:`load_chain` before writing.
        """
        spec = load_chain({"stage": [self.fitting.chain_table()]})
        _write_chain(spec, path)
        return Path(path)

    def load_chain_file(self, path: str | Path) -> Fitting:
        """Take audiogram, rule, compression and times from a chain's ``hearing-aid`` stage.

        Raises
        ------
        ConfigError
            The chain is invalid or has no ``hearing-aid`` stage.
        """
        spec = load_chain(path)
        stages = [s for s in spec.stages if s.type == "hearing-aid"]
        if not stages:
            raise ConfigError(f"{path}: the chain has no hearing-aid stage, so no fitting to "
                              "open; give a chain written by the fitting view or `audiolab fit`")
        p = stages[0].params
        defaults = {q.name: q.default for q in HearingAid.PARAMETERS}
        return self._commit(
            load_audiogram(p["audiogram"]), rule=p.get("rule", defaults["rule"]),
            compression=p.get("compression", defaults["compression"]),
            attack_ms=p.get("attack_ms", self.attack_ms),
            release_ms=p.get("release_ms", self.release_ms))


def is_chain_file(path: Path) -> bool:
    """True when ``path`` is a TOML file with ``[[stage]]`` tables (a chain, not a calibration)."""
    if path.suffix.lower() != ".toml":
        return False
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return "stage" in doc


def looks_like_audiogram(path: Path) -> bool:
    """True for a CSV, or a JSON whose top level is an audiolab or Clarity audiogram layout.

    Such a file is the fitting view's even if its values are wrong (the reason is then shown);
    other JSON files are left to the other views.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return True
    if suffix != ".json":
        return False
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return False
    if not isinstance(doc, dict):
        return False
    if {"left", "right", "audiogram_cfs"} & set(doc):
        return True
    return bool(doc) and all(isinstance(v, dict) and "audiogram_cfs" in v for v in doc.values())


def clarity_listener_ids(path: Path) -> list[str]:
    """The listener ids of a Clarity ``listeners.json`` ([] for any other file).

    Reading such a file needs one of them (``PATH#ID``) when it holds more than one.
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return []
    if not isinstance(doc, dict) or "audiogram_cfs" in doc:
        return []
    return [k for k, v in doc.items() if isinstance(v, dict) and "audiogram_cfs" in v]


def audiogram_format_of(path: Path) -> str:
    """Which of :data:`AUDIOGRAM_FORMATS` the file at ``path`` is written in."""
    if path.suffix.lower() == ".csv":
        return "csv"
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise FileFormatError(f"{path}: not a readable audiogram ({exc})") from None
    return "json" if isinstance(doc, dict) and ("left" in doc or "right" in doc) else "clarity"


@dataclass(frozen=True, eq=False)
class FittingCurves:
    """What the fitting view plots for one fitting (see :func:`compute_curves`).

    Attributes
    ----------
    fitting : Fitting
        The fitting the curves belong to.
    frequencies_hz : numpy.ndarray
        Dense log-spaced frequencies (125-8000 Hz) of the gain curves.
    target_gain_db, realised_gain_db : dict of numpy.ndarray
        Per ear: the rule's insertion gain and the one the hearing aid realises for steady
        65 dB SPL speech, at :attr:`frequencies_hz`.
    band_centres_hz : numpy.ndarray
        Centre frequencies of the hearing aid's bands.
    io_input_db_spl : numpy.ndarray
        Band input levels of the static input/output curves.
    io_output_db_spl : dict of numpy.ndarray
        Per ear, shape (n_bands, n_levels): band output level = input + static gain.
    mpo_db_spl : dict of float
        Per ear: the output limit.
    spectrum_centres_hz : numpy.ndarray
        One-third-octave centres (ANSI S3.5-1997) of the spectra.
    aided_spectrum_db_spl : dict of dict of numpy.ndarray
        Per ear and overall speech level (55, 65, 80 dB SPL): spectrum level (dB SPL per Hz) of
        the bundled speech at the hearing aid's output.
    unaided_spectrum_db_spl : dict of numpy.ndarray
        Per overall speech level: the speech itself.
    threshold_spectrum_db_spl : dict of numpy.ndarray
        Per ear: the threshold as equivalent internal noise spectrum level X' + T'
        (ANSI S3.5-1997 Eq. 10), dB SPL per Hz.
    sii : dict of dict of float
        Per ear: ``unaided``, ``aided_target`` (the fit's figure) and ``aided_realised`` (the
        realised gain in place of the target), standard speech at 65 dB SPL in quiet.
    """

    fitting: Fitting
    frequencies_hz: np.ndarray
    target_gain_db: dict[str, np.ndarray]
    realised_gain_db: dict[str, np.ndarray]
    band_centres_hz: np.ndarray
    io_input_db_spl: np.ndarray
    io_output_db_spl: dict[str, np.ndarray]
    mpo_db_spl: dict[str, float]
    spectrum_centres_hz: np.ndarray
    aided_spectrum_db_spl: dict[str, dict[float, np.ndarray]]
    unaided_spectrum_db_spl: dict[float, np.ndarray]
    threshold_spectrum_db_spl: dict[str, np.ndarray]
    sii: dict[str, dict[str, float]]


def hearing_aid_for(fitting: Fitting, *, fs: float = FS_HZ) -> HearingAid:
    """The :class:`HearingAid` a fitting's chain stage builds (what ``audiolab process`` runs)."""
    table = {k: v for k, v in fitting.chain_table().items() if k != "type"}
    table["audiogram"] = fitting.audiogram  # the object itself: no round trip through a file
    return HearingAid.from_chain_table(table, fs=fs)


def _speech(level_db_spl: float) -> np.ndarray:
    from audiolab.reports import bundled_speech

    mono, _ = bundled_speech(N_SENTENCES, fs=FS_HZ, level_db_spl=level_db_spl)
    return np.stack([mono, mono])


def _noop_report(fraction: float, text: str = "") -> None:
    """Progress sink when nobody listens."""


def compute_curves(fitting: Fitting, report: Any = _noop_report) -> FittingCurves:
    """Everything the fitting view plots, from the fitted hearing aid itself.

    Parameters
    ----------
    fitting : Fitting
        The fitting (from :class:`FittingModel`).
    report : callable, optional
        ``report(fraction, text)``, as :func:`audiolab.gui.run_task` passes it (raises there
        once the task is cancelled).

    Returns
    -------
    FittingCurves
    """
    aid = hearing_aid_for(fitting)
    ag = fitting.audiogram
    report(0.1, "gains")
    bands = sii_bands(_SII_PROCEDURE)
    centres = bands.centre_frequencies_hz
    target, realised, io_out, mpo, sii, thresholds = {}, {}, {}, {}, {}, {}
    for side in EARS:
        ear = ag.ear(side)
        target[side] = prescribe(ear, fitting.rule, _DENSE_HZ)
        realised[side] = aid.speech_gain_db(_DENSE_HZ, side=side)
        settings = aid.ear_settings[side]
        # Static curve of every band: output = input + gain(input), shape (n_bands, n_levels).
        io_out[side] = (_IO_INPUT_DB_SPL[None, :]
                        + static_gain_db(settings, _IO_INPUT_DB_SPL[:, None]).T)
        mpo[side] = float(settings.mpo_db_spl)
        e = fitting.ear(side)
        sii[side] = {"unaided": e.sii_unaided, "aided_target": e.sii_aided,
                     "aided_realised": aided_sii(ear, aid.speech_gain_db(centres, side=side))}
        thresholds[side] = bands.internal_noise_spectrum_level_db + ear.threshold_db_hl_at(centres)
    aided: dict[str, dict[float, np.ndarray]] = {side: {} for side in EARS}
    unaided: dict[float, np.ndarray] = {}
    for i, level in enumerate(SPEECH_LEVELS_DB_SPL):
        report(0.2 + 0.25 * i, f"speech at {level:g} dB SPL through the aid")
        x = _speech(level)
        aid.reset()
        y = aid.process(x)
        unaided[level] = band_spectrum_levels_db_spl(x[0], fs=FS_HZ, procedure=_SII_PROCEDURE)
        for k, side in enumerate(EARS):
            aided[side][level] = band_spectrum_levels_db_spl(y[k], fs=FS_HZ,
                                                             procedure=_SII_PROCEDURE)
    report(1.0, "done")
    return FittingCurves(
        fitting=fitting, frequencies_hz=_DENSE_HZ, target_gain_db=target,
        realised_gain_db=realised, band_centres_hz=aid.center_frequencies_hz,
        io_input_db_spl=_IO_INPUT_DB_SPL, io_output_db_spl=io_out, mpo_db_spl=mpo,
        spectrum_centres_hz=centres, aided_spectrum_db_spl=aided,
        unaided_spectrum_db_spl=unaided, threshold_spectrum_db_spl=thresholds, sii=sii)


def render_report(fitting: Fitting, path: str | Path, report: Any = _noop_report) -> Path:
    """Draw the demo's one-page report (:func:`audiolab.reports.draw_demo_report`) for a fitting.

    The bundled speech at 65 dB SPL goes through the fitted hearing aid; the SII bars are the
    better ear's, from the speech reaching the ear (as ``audiolab demo`` computes them). The
    suffix of ``path`` (``.png`` or ``.pdf``) chooses the format.
    """
    from audiolab.reports import CONDITIONS, draw_demo_report, sii_by_ear

    out = Path(path)
    if out.suffix.lower() not in (".png", ".pdf"):
        raise ConfigError(f"the report must be a .png or .pdf file, got {out.name!r}")
    report(0.05, "fitting the hearing aid")
    aid = hearing_aid_for(fitting)
    report(0.2, "speech through the hearing aid")
    speech = _speech(65.0)
    aided_at_ear = aid.process(speech)
    report(0.5, "speech intelligibility index")
    by_ear = sii_by_ear(speech, aided_at_ear, audiogram=fitting.audiogram)
    sii = {cond: max(by_ear[cond].values()) for cond in CONDITIONS}
    report(0.7, "drawing the report")
    draw_demo_report(out, audiogram=fitting.audiogram, aid=aid,
                     signals={"normal": speech, "aided_at_ear": aided_at_ear}, fs=FS_HZ, sii=sii,
                     title="audiolab fitting")
    report(1.0, "done")
    return out
