"""The main job: what a hearing loss does to speech and what a fitted hearing aid gives back.

For one audiogram, the bundled speech at 65 dB SPL is rendered three ways,

- ``normal``:  as a normal-hearing listener hears it (the speech itself),
- ``unaided``: through the hearing-loss simulator (as this listener hears it),
- ``aided``:   through the fitted hearing aid, then the hearing-loss simulator,

and for each the Speech Intelligibility Index (ANSI S3.5-1997, one-third-octave procedure, speech
in quiet) is computed from the speech spectrum reaching the ear and the listener's thresholds.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audiolab import __version__
from audiolab._errors import ConfigError
from audiolab._validate import check_int, check_real
from audiolab.audiology._audiogram import EARS, Audiogram, load_audiogram
from audiolab.audiology._speech_material import load_speech_corpus
from audiolab.calibration import digital_to_pa_scale, rms_db_spl, scale_to_db_spl

__all__ = ["CONDITIONS", "DemoResult", "bundled_speech", "run_demo", "sii_by_ear"]

DEMO_FS = 44100.0
FULL_SCALE_DB_SPL = 100.0
SII_PROCEDURE = "one-third-octave"
CONDITIONS = ("normal", "unaided", "aided")


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` produced: file paths and the summary written to summary.json."""

    out_dir: Path
    wavs: dict[str, Path]
    report_png: Path
    summary_json: Path
    summary: dict[str, Any]


def bundled_speech(
    n_sentences: int, *, fs: float, level_db_spl: float
) -> tuple[np.ndarray, list[str]]:
    """Bundled sentences joined by 300 ms pauses, scaled as a whole to ``level_db_spl`` (RMS)."""
    items = load_speech_corpus().sentences[:n_sentences]
    gap = np.zeros(int(0.3 * fs), np.float32)
    parts: list[np.ndarray] = []
    for item in items:
        parts += [item.load(fs=fs, level_db_spl=level_db_spl), gap]
    return scale_to_db_spl(np.concatenate(parts), level_db_spl), [i.words for i in items]


def run_demo(
    out_dir: str | Path = "audiolab-demo",
    *,
    audiogram: Any = "N3",
    rule: str = "nal-r",
    compression: str = "wdrc",
    level_db_spl: float = 65.0,
    n_sentences: int = 4,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Render normal / unaided / aided speech for ``audiogram``, compute SII, write the report.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Folder for ``normal.wav``, ``unaided.wav``, ``aided.wav``, ``report.png`` and
        ``summary.json`` (created if missing).
    audiogram : Audiogram or str or pathlib.Path
        The listener: object, preset name (``"N3"``) or audiogram file.
    rule : {"nal-r", "half-gain", "pogo"}
        Prescription rule of the hearing aid.
    compression : {"wdrc", "linear"}
        Hearing-aid compression.
    level_db_spl : float
        RMS level of the speech in dB SPL, in [-20, 160].
    n_sentences : int
        How many bundled sentences to use, from 1 to the number bundled.
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    DemoResult
    """
    from audiolab.models._hearing_aid import HearingAid

    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    # Everything that can be wrong with the arguments is found before anything is written.
    ag: Audiogram = load_audiogram(audiogram)
    out = _checked_folder(out_dir, level_db_spl=level_db_spl, n_sentences=n_sentences)
    say(f"fitting the hearing aid ({rule}, {compression}) to {ag.name}")
    aid = HearingAid(ag, fs=DEMO_FS, rule=rule, compression=compression)
    out.mkdir(parents=True, exist_ok=True)

    say(f"speech: {n_sentences} bundled sentences at {level_db_spl:g} dB SPL")
    mono, sentences = bundled_speech(n_sentences, fs=DEMO_FS, level_db_spl=level_db_spl)
    signals, aided_at_ear = _render(np.stack([mono, mono]), audiogram=ag, aid=aid, say=say)
    say("speech intelligibility index")
    by_ear = sii_by_ear(signals["normal"], aided_at_ear, audiogram=ag)
    wavs = _write_wavs(out, signals)
    summary = {
        **_setup(ag, aid, level_db_spl=level_db_spl, sentences=sentences),
        **_results(signals, aided_at_ear, aid=aid, sii_by_ear=by_ear, wavs=wavs),
    }
    say("drawing the report")
    report = _draw_report(out, signals, aided_at_ear, audiogram=ag, aid=aid, sii=summary["sii"])
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    summary_path = out / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2))
    return DemoResult(out_dir=out, wavs=wavs, report_png=report, summary_json=summary_path,
                      summary=summary)


def _checked_folder(out_dir: str | Path, *, level_db_spl: float, n_sentences: int) -> Path:
    """``out_dir`` as a Path, once it and the speech options are known to be usable.

    Raises
    ------
    ConfigError
        ``out_dir`` exists and is not a folder, ``level_db_spl`` is outside [-20, 160] (the range
        of --level-db-spl in every command), or ``n_sentences`` is not 1 to the bundled count.
    """
    check_real("level_db_spl", level_db_spl, low=-20, high=160)
    check_int("n_sentences", n_sentences, low=1, high=len(load_speech_corpus().sentences))
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out_dir {out} exists and is not a folder; give a folder")
    return out


def _render(
    speech: np.ndarray, *, audiogram: Audiogram, aid: Any, say: Callable[[str], None]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The three conditions as heard (by condition), and the aided speech reaching the ear.

    Each condition starts from a hearing-loss simulator at rest, so unaided and aided are
    rendered independently of each other.
    """
    from audiolab.models._hearing_loss import HearingLossSimulator

    say("simulating the hearing loss: unaided")
    unaided = HearingLossSimulator(audiogram, fs=DEMO_FS).process(speech)
    say("hearing aid, then the hearing loss: aided")
    aided_at_ear = aid.process(speech)
    aided = HearingLossSimulator(audiogram, fs=DEMO_FS).process(aided_at_ear)
    return {"normal": speech, "unaided": unaided, "aided": aided}, aided_at_ear


def sii_by_ear(
    speech: np.ndarray, aided_at_ear: np.ndarray, *, audiogram: Audiogram
) -> dict[str, dict[str, float]]:
    """SII (ANSI S3.5-1997) per condition and ear, rounded to 4 decimals.

    SII takes the speech reaching the ear and the listener's thresholds (the simulator's output
    is what a normal ear would need to hear; the index itself models the loss via T').
    """
    from audiolab.audiology._sii import sii_from_signals

    at_ear = {"normal": speech, "unaided": speech, "aided": aided_at_ear}
    result: dict[str, dict[str, float]] = {}
    for cond in CONDITIONS:
        result[cond] = {}
        for k, side in enumerate(EARS):
            threshold = 0.0 if cond == "normal" else audiogram.ear(side)
            result[cond][side] = round(
                sii_from_signals(
                    at_ear[cond][k], None, fs=DEMO_FS, threshold_db_hl=threshold,
                    procedure=SII_PROCEDURE,
                ),
                4,
            )
    return result


def _write_wavs(out: Path, signals: dict[str, np.ndarray]) -> dict[str, Path]:
    """``out/<condition>.wav`` for each signal: float32, a full-scale sine at 100 dB SPL."""
    import soundfile as sf

    scale = digital_to_pa_scale(FULL_SCALE_DB_SPL)
    wavs: dict[str, Path] = {}
    for cond, sig in signals.items():
        wavs[cond] = out / f"{cond}.wav"
        sf.write(str(wavs[cond]), (sig / scale).T.astype(np.float32), int(DEMO_FS),
                 subtype="FLOAT")
    return wavs


def _setup(
    audiogram: Audiogram, aid: Any, *, level_db_spl: float, sentences: list[str]
) -> dict[str, Any]:
    """The summary's setup part: version, listener, fitting and speech."""
    return {
        "audiolab_version": __version__,
        "audiogram": {"name": audiogram.name, **audiogram.to_dict()},
        "rule": aid.rule,
        "compression": aid.compression,
        "speech_level_db_spl": level_db_spl,
        "sentences": sentences,
    }


def _results(
    signals: dict[str, np.ndarray],
    aided_at_ear: np.ndarray,
    *,
    aid: Any,
    sii_by_ear: dict[str, dict[str, float]],
    wavs: dict[str, Path],
) -> dict[str, Any]:
    """The summary's measured part: rate, SII, levels per ear, aid latency and file names."""
    # The better ear, as a clinician would quote it for a diotic presentation.
    sii = {cond: max(sii_by_ear[cond].values()) for cond in CONDITIONS}
    return {
        "fs_hz": DEMO_FS,
        "full_scale_db_spl": FULL_SCALE_DB_SPL,
        "sii_procedure": SII_PROCEDURE,
        "sii": sii,
        "sii_by_ear": sii_by_ear,
        "levels_db_spl": {
            cond: {side: round(rms_db_spl(sig[k]), 2) for k, side in enumerate(EARS)}
            for cond, sig in {**signals, "aided_at_ear": aided_at_ear}.items()
        },
        "hearing_aid_latency_ms": 1000 * aid.latency_samples / DEMO_FS,
        "wavs": {c: p.name for c, p in wavs.items()},
        "report": "report.png",
    }


def _draw_report(
    out: Path,
    signals: dict[str, np.ndarray],
    aided_at_ear: np.ndarray,
    *,
    audiogram: Audiogram,
    aid: Any,
    sii: dict[str, float],
) -> Path:
    """Draw ``out/report.png`` (matplotlib is imported only now) and return its path."""
    from audiolab.reports._report import draw_demo_report

    report = out / "report.png"
    draw_demo_report(
        report, audiogram=audiogram, aid=aid, signals={**signals, "aided_at_ear": aided_at_ear},
        fs=DEMO_FS, sii=sii,
    )
    return report
