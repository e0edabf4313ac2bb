"""Figure of a scoring run: the distribution of each metric per condition."""

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["draw_score_distributions"]


def draw_score_distributions(
    rows: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    metrics: Sequence[str],
) -> None:
    """Draw one panel per metric: per condition, every pair's score over a box plot.

    Parameters
    ----------
    rows : sequence of mapping
        Score rows (``ScoreReport.rows()``): ``status``, ``condition`` and one value per metric;
        rows not "scored" are left out. Rows without a condition form the group "(none)".
    path : str or path-like
        PNG, PDF or SVG file (matplotlib picks the format from the suffix).
    metrics : sequence of str
        The metrics to draw, one panel each (``"stoi"``, ``"estoi"``, ``"sii"``).

    Examples
    --------
    >>> import tempfile, os
    >>> from audiolab.reports._scores import draw_score_distributions
    >>> rows = [{"status": "scored", "condition": "aided", "stoi": 0.9},
    ...         {"status": "scored", "condition": "unaided", "stoi": 0.7}]
    >>> out = os.path.join(tempfile.mkdtemp(), "scores.png")
    >>> draw_score_distributions(rows, out, metrics=["stoi"])
    >>> os.path.getsize(out) > 0
    True
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = [r for r in rows if r.get("status") == "scored"]
    conditions = sorted({str(r.get("condition") or "(none)") for r in scored})
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(1.5 + 2.2 * max(len(conditions), 2) * len(metrics), 4.5),
        dpi=100, squeeze=False,
    )
    rng = np.random.default_rng(0)  # horizontal jitter of the points only
    for ax, metric in zip(axes[0], metrics, strict=True):
        data = [
            np.array([float(r[metric]) for r in scored
                      if str(r.get("condition") or "(none)") == c and r.get(metric) is not None])
            for c in conditions
        ]
        positions = np.arange(1, len(conditions) + 1)
        ax.boxplot(data, positions=positions, widths=0.5, showfliers=False)
        for pos, values in zip(positions, data, strict=True):
            jitter = rng.uniform(-0.12, 0.12, values.size)
            ax.plot(pos + jitter, values, "o", ms=4, alpha=0.6, color="tab:blue")
            if values.size:
                ax.annotate(f"{values.mean():.3f}\nn={values.size}", (pos, 1.0),
                            xycoords=("data", "axes fraction"), ha="center", va="bottom",
                            fontsize=8)
        ax.set_xticks(positions, conditions, rotation=20 if len(conditions) > 3 else 0)
        ax.set_ylabel(metric.upper())
        ax.set_ylim(0.0, 1.0)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(f"scores of {len(scored)} pairs per condition (mean and n above each box)",
                 fontsize=11, y=0.995)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
