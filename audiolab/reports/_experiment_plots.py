"""Figures of stored listening-experiment sessions (``audiolab results --plot``).

- pure-tone audiometry: the audiogram with the standard symbols (ASHA 1990 guidelines for
  audiometric symbols): right ear red O, left ear blue X, dB HL increasing downwards;
- adaptive tracks (up-down, weighted up-down, QUEST+, constant stimuli): the level of every
  trial (filled: positive, open: negative), the reversals and the threshold estimate;
- the matrix test: the SNR track with each sentence's word score, and the fitted word-score
  function P(x) = 1 / (1 + exp(4 s50 (SRT - x))) (Brand & Kollmeier 2002) with the scores.

matplotlib is imported only while a figure is drawn.
"""

from __future__ import annotations

import os
import tomllib
from typing import Any

import numpy as np

from audiolab._errors import ConfigError
from audiolab.store import ResultsStore, Session
from audiolab.store import Trial as StoredTrial

__all__ = ["plot_session"]

_AXIS_LABELS = {"level_db_spl": "level (dB SPL)", "level_db_hl": "level (dB HL)",
                "snr_db": "SNR (dB)", "depth_db": "modulation depth 20 log10 m (dB)",
                "gap_ms": "gap (ms)"}


def _procedure_type(session: Session) -> str:
    try:
        doc = tomllib.loads(session.experiment_toml)
        return str(doc["procedure"]["type"])
    except (tomllib.TOMLDecodeError, KeyError, TypeError):
        raise ConfigError(f"session {session.id} holds no experiment file with a "
                          "[procedure] type; it cannot be plotted") from None


def _summary(session: Session, trials: list[StoredTrial]) -> dict[str, Any]:
    from audiolab.experiments import parse_experiment, replay, summarize
    from audiolab.experiments._runner import stored_response

    exp = parse_experiment(session.experiment_toml, source=f"session {session.id}")
    proc = replay(exp.procedure, seed=session.seed,
                  responses=[stored_response(t) for t in trials])
    return summarize(proc)


def _audiogram(ax: Any, summary: dict[str, Any]) -> None:
    style = {"right": ("o", "tab:red", "right ear (O)"), "left": ("x", "tab:blue", "left ear (X)")}
    for ear, (marker, colour, label) in style.items():
        points = sorted((p["frequency_hz"], p["threshold_db_hl"]) for p in summary["audiogram"]
                        if p["ear"] == ear and p["threshold_db_hl"] is not None)
        if not points:
            continue
        f, hl = zip(*points, strict=True)
        ax.plot(f, hl, marker=marker, color=colour, markersize=10, linewidth=1.2,
                markerfacecolor="none", markeredgewidth=2, label=label)
    ax.set_xscale("log")
    ticks = [125, 250, 500, 1000, 2000, 4000, 8000]
    ax.set_xticks(ticks, [f"{t:g}" if t < 1000 else f"{t // 1000:g}k" for t in ticks])
    ax.minorticks_off()
    ax.set_xlim(100, 10000)
    ax.set_ylim(120, -20)  # dB HL grows downwards
    ax.set_yticks(np.arange(-10, 121, 10))
    ax.grid(True, alpha=0.4)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("hearing level (dB HL)")
    ax.legend(loc="lower left")


def _track(ax: Any, trials: list[StoredTrial], summary: dict[str, Any], variable: str) -> None:
    idx = np.array([t.index + 1 for t in trials])
    x = np.array([t.variable for t in trials], dtype=float)
    pos = np.array([bool(t.correct) if t.correct is not None else t.response == "yes"
                    for t in trials])
    ax.plot(idx, x, color="0.6", linewidth=1, zorder=1)
    ax.scatter(idx[pos], x[pos], color="k", s=22, zorder=2, label="correct / yes")
    ax.scatter(idx[~pos], x[~pos], facecolor="white", edgecolor="k", s=22, zorder=2,
               label="wrong / no")
    state = trials[-1].state if trials else {}
    # Each trial's compact state names the reversal it revealed; older databases kept the
    # whole list in the last trial's state.
    reversals = state.get("reversals") or [t.state["reversal"] for t in trials
                                           if t.state.get("reversal")]
    if reversals:
        r_idx = [r[0] + 1 for r in reversals]
        r_x = [r[1] for r in reversals]
        ax.scatter(r_idx, r_x, marker="s", facecolor="none", edgecolor="tab:orange", s=90,
                   linewidth=1.5, zorder=3, label="reversals")
    est = summary.get("threshold_db")
    label = "threshold (mean of last reversals)"
    if summary.get("estimate"):
        est = summary["estimate"]["threshold_db_mean"]
        label = "threshold (QUEST+ posterior mean)"
    if est is not None:
        ax.axhline(est, color="tab:red", linestyle="--", linewidth=1.5,
                   label=f"{label}: {est:.1f} dB")
    ax.set_xlabel("trial")
    ax.set_ylabel(_AXIS_LABELS.get(variable, variable))
    ax.grid(True, alpha=0.4)
    ax.legend(loc="best", fontsize=8)


def _matrix(axes: Any, trials: list[StoredTrial], summary: dict[str, Any]) -> None:
    idx = np.array([t.index + 1 for t in trials])
    x = np.array([t.variable for t in trials], dtype=float)
    n_words = np.array([len(t.presented.get("words", [])) or 5 for t in trials])
    score = np.array([int(t.response) for t in trials]) / n_words
    ax = axes[0]
    ax.plot(idx, x, color="0.6", linewidth=1, zorder=1)
    sc = ax.scatter(idx, x, c=score, cmap="viridis", vmin=0, vmax=1, s=30, zorder=2)
    ax.figure.colorbar(sc, ax=ax, label="words correct (proportion)")
    srt = summary.get("srt_db")
    if srt is not None:
        ax.axhline(srt, color="tab:red", linestyle="--", label=f"SRT {srt:.1f} dB")
        ax.legend(loc="best", fontsize=8)
    ax.set_xlabel("sentence")
    ax.set_ylabel("SNR (dB)")
    ax.grid(True, alpha=0.4)
    ax = axes[1]
    ax.scatter(x, score, color="k", s=22, label="sentences")
    if srt is not None:
        s50 = summary["slope_per_db"]
        grid = np.linspace(min(x.min(), srt) - 8, max(x.max(), srt) + 8, 200)
        # Brand & Kollmeier (2002): P(x) = 1 / (1 + exp(4 s50 (SRT - x)))
        ax.plot(grid, 1 / (1 + np.exp(4 * s50 * (srt - grid))), color="tab:red",
                label=f"fit: SRT {srt:.1f} dB, slope {100 * s50:.1f} %/dB")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel("words correct (proportion)")
    ax.grid(True, alpha=0.4)
    ax.legend(loc="best", fontsize=8)


def plot_session(store: ResultsStore, session_id: int, path: str | os.PathLike[str]) -> str:
    """Draw a stored session to an image file (PNG, PDF or SVG, by suffix).

    Parameters
    ----------
    store : ResultsStore
        The results database.
    session_id : int
        The session to draw (at least one stored trial).
    path : str or path-like
        Output file.

    Returns
    -------
    str
        What was drawn: ``"audiogram"``, ``"track"`` or ``"matrix"``.

    Raises
    ------
    ConfigError
        No such session, or one without trials.

    Examples
    --------
    >>> import os, tempfile
    >>> from pathlib import Path
    >>> import audiolab
    >>> from audiolab.experiments import load_experiment, parse_listener, run_session
    >>> root = Path(audiolab.__file__).resolve().parents[1] / "experiments"
    >>> exp = load_experiment(root / "tone_in_noise_3afc.toml")
    >>> d = tempfile.mkdtemp()
    >>> with ResultsStore(os.path.join(d, "r.sqlite")) as store:
    ...     res = run_session(exp, store=store, subject="P01", seed=1, fs=24000,
    ...                       listener=parse_listener("simulated:N1", seed=1))
    ...     plot_session(store, res.session_id, os.path.join(d, "track.png"))
    'track'
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    session = store.session(session_id)
    trials = store.trials(session_id)
    if not trials:
        raise ConfigError(f"session {session_id} has no trials to plot")
    kind = _procedure_type(session)
    summary = _summary(session, trials)
    title = f"{session.experiment_name}: subject {session.subject}, session {session.id}"
    if kind == "matrix":
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        _matrix(axes, trials, summary)
        drawn = "matrix"
    elif kind == "audiometry":
        fig, ax = plt.subplots(figsize=(6, 6))
        _audiogram(ax, summary)
        drawn = "audiogram"
    else:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        variable = str(trials[0].presented.get("variable", "level (dB)"))
        _track(ax, trials, summary, variable)
        drawn = "track"
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=110)
    plt.close(fig)
    return drawn
