"""One-page PNG report of the demo: audiogram, gains, band levels against thresholds, SII."""

from pathlib import Path
from typing import Any

import numpy as np

from audiolab.audiology._audiogram import EARS, Audiogram

__all__ = ["draw_demo_report"]

_COLOURS = {"left": "tab:blue", "right": "tab:red"}
_COND_COLOURS = {"normal": "0.45", "unaided": "tab:orange", "aided": "tab:green"}


def draw_demo_report(
    path: Path,
    *,
    audiogram: Audiogram,
    aid: Any,
    signals: dict[str, np.ndarray],
    fs: float,
    sii: dict[str, float],
    title: str = "audiolab demo",
) -> None:
    """Draw the four-panel report to ``path`` (matplotlib, Agg backend, no screen needed).

    ``title`` starts the heading; the audiogram, rule, compression and speech level follow.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5), dpi=100)
    fig.suptitle(
        f"{title}: {audiogram.name}, {aid.rule} {aid.compression}, "
        f"speech at 65 dB SPL", fontsize=13,
    )
    _audiogram_panel(axes[0, 0], audiogram)
    _gain_panel(axes[0, 1], audiogram, aid)
    _spectrum_panel(axes[1, 0], audiogram, signals, fs=fs)
    _sii_panel(axes[1, 1], sii)
    ticks = [250, 500, 1000, 2000, 4000, 8000]
    for ax in (axes[0, 0], axes[0, 1], axes[1, 0]):
        ax.set_xticks(ticks, [f"{t // 1000}k" if t >= 1000 else str(t) for t in ticks])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("frequency (Hz)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _audiogram_panel(ax: Any, audiogram: Audiogram) -> None:
    """Thresholds of both ears in dB HL, the clinical way up (loss downwards)."""
    for side in EARS:
        ear = audiogram.ear(side)
        ax.plot(ear.frequencies_hz, ear.thresholds_db_hl, "o-" if side == "right" else "x-",
                color=_COLOURS[side], label=f"{side} ear")
    ax.set_xscale("log")
    ax.set_ylim(120, -10)
    ax.set_title("Audiogram")
    ax.set_ylabel("hearing level (dB HL)")


def _gain_panel(ax: Any, audiogram: Audiogram, aid: Any) -> None:
    """The rule's insertion-gain targets against the aid's realised gain for 65 dB SPL speech."""
    from audiolab.audiology._prescription import prescribe

    f_dense = np.geomspace(125, 8000, 200)
    for side in EARS:
        ear = audiogram.ear(side)
        target = prescribe(ear, aid.rule, ear.frequencies_hz)
        ax.plot(ear.frequencies_hz, target, "o", color=_COLOURS[side], mfc="none",
                label=f"{side}: {aid.rule} target")
        ax.plot(f_dense, aid.speech_gain_db(f_dense, side=side), "-", color=_COLOURS[side],
                label=f"{side}: realised, 65 dB SPL speech")
    ax.set_xscale("log")
    ax.set_title("Insertion gain")
    ax.set_ylabel("gain (dB)")


def _spectrum_panel(
    ax: Any, audiogram: Audiogram, signals: dict[str, np.ndarray], *, fs: float
) -> None:
    """Left-ear speech spectrum levels, unaided and aided, against both ears' thresholds."""
    from audiolab.audiology._sii import band_spectrum_levels_db_spl, sii_bands

    bands = sii_bands("one-third-octave")
    fc = bands.centre_frequencies_hz
    for cond in ("normal", "aided_at_ear"):
        e = band_spectrum_levels_db_spl(signals[cond][0], fs=fs, procedure="one-third-octave")
        label = "speech, unaided" if cond == "normal" else "speech, aided (at the eardrum)"
        ax.plot(fc, e, "s-" if cond == "normal" else "^-",
                color=_COND_COLOURS["normal" if cond == "normal" else "aided"], label=label)
    for side in EARS:
        # Threshold as the equivalent internal noise spectrum level X' + T' (ANSI S3.5 Eq. 11).
        t = audiogram.ear(side).threshold_db_hl_at(fc)
        ax.plot(fc, bands.internal_noise_spectrum_level_db + t, "--", color=_COLOURS[side],
                label=f"{side} threshold (X' + T')")
    ax.plot(fc, bands.internal_noise_spectrum_level_db, ":", color="0.3",
            label="normal threshold (X')")
    ax.set_xscale("log")
    ax.set_title("Speech spectrum levels vs thresholds (left ear)")
    ax.set_ylabel("spectrum level (dB SPL per Hz)")


def _sii_panel(ax: Any, sii: dict[str, float]) -> None:
    """One bar per condition: the better ear's SII."""
    conds = list(sii)
    bars = ax.bar(conds, [sii[c] for c in conds], color=[_COND_COLOURS[c] for c in conds])
    for bar, cond in zip(bars, conds, strict=True):
        ax.text(bar.get_x() + bar.get_width() / 2, sii[cond] + 0.02, f"{sii[cond]:.2f}",
                ha="center")
    ax.set_ylim(0, 1.05)
    ax.set_title("Speech Intelligibility Index (ANSI S3.5-1997, better ear)")
    ax.set_ylabel("SII")
