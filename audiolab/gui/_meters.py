"""Level meters in dB SPL, one horizontal bar per output channel, with the ceiling marked.

Shared by the A/B/C panel and the live monitor. Plot items are created once; :meth:`show`
only moves them.
"""

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

__all__ = ["LevelMeters"]

_FLOOR_DB_SPL = 20.0
_TOP_DB_SPL = 130.0


class LevelMeters(pg.PlotWidget):
    """RMS bars and peak marks per output channel, in dB SPL; the ceiling as a red line.

    Parameters
    ----------
    n_channels : int
        Output channels shown (bars are made for this many; :meth:`set_channels` changes it).
    parent : QWidget, optional
    """

    def __init__(self, n_channels: int = 2, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(110)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        item = self.getPlotItem()
        item.setLabel("bottom", "level (dB SPL): bar RMS, mark peak")
        item.showGrid(x=True, y=False, alpha=0.3)
        item.invertY(True)  # channel 0 on top
        self.setXRange(_FLOOR_DB_SPL, _TOP_DB_SPL, padding=0)
        self._bars = pg.BarGraphItem(x0=[_FLOOR_DB_SPL], y=[0], height=0.6, width=[0],
                                     brush=pg.mkBrush(60, 140, 60))
        self._peaks = pg.ScatterPlotItem(symbol="|", size=22, pen=pg.mkPen("k", width=2))
        self._ceiling = pg.InfiniteLine(angle=90, pen=pg.mkPen("r", width=2,
                                                                style=Qt.PenStyle.DashLine))
        self._ceiling_label = pg.TextItem("ceiling", color="r", anchor=(1.05, 0))
        for it in (self._bars, self._peaks, self._ceiling, self._ceiling_label):
            self.addItem(it)
        self.n_channels = 0
        self.set_channels(n_channels)

    def set_channels(self, n_channels: int, names: Sequence[str] | None = None) -> None:
        """Show ``n_channels`` bars, labelled ``names`` (default "out 0", "out 1", ...)."""
        self.n_channels = n_channels
        labels = list(names) if names is not None else [f"out {o}" for o in range(n_channels)]
        self.getPlotItem().getAxis("left").setTicks([list(enumerate(labels))])
        self.setYRange(-0.6, max(n_channels, 1) - 0.4, padding=0)
        self.show_levels(np.full(n_channels, -math.inf), np.full(n_channels, -math.inf))

    def set_ceiling(self, ceiling_db_spl: float | None) -> None:
        """Mark the ceiling (None: hide the mark)."""
        visible = ceiling_db_spl is not None and math.isfinite(ceiling_db_spl)
        self._ceiling.setVisible(visible)
        self._ceiling_label.setVisible(visible)
        if visible:
            self._ceiling.setValue(ceiling_db_spl)
            self._ceiling_label.setPos(ceiling_db_spl, -0.55)

    def show_levels(self, rms_db_spl: np.ndarray, peak_db_spl: np.ndarray) -> None:
        """Move the bars to ``rms_db_spl`` and the marks to ``peak_db_spl`` (per channel)."""
        n = self.n_channels
        rms = np.nan_to_num(np.asarray(rms_db_spl, float)[:n], neginf=_FLOOR_DB_SPL)
        peak = np.nan_to_num(np.asarray(peak_db_spl, float)[:n], neginf=_FLOOR_DB_SPL)
        rms = np.clip(rms, _FLOOR_DB_SPL, _TOP_DB_SPL)
        peak = np.clip(peak, _FLOOR_DB_SPL, _TOP_DB_SPL)
        y = np.arange(n, dtype=float)
        self._bars.setOpts(x0=np.full(n, _FLOOR_DB_SPL), y=y, width=rms - _FLOOR_DB_SPL,
                           height=0.6)
        heard = np.isfinite(np.asarray(peak_db_spl, float)[:n])
        self._peaks.setData(x=peak[heard], y=y[heard])
