"""Live plots: guest MIPS, local-miss share and stall share over the last minutes.

As in pyqtgraph's PanningPlot example, every curve is created once and fed
with setData; the x axis is simulated time, so a paused machine draws nothing new.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app import theme
from disco_core.session import Snapshot

HISTORY = 600  # points kept per curve


def own_menu(view: pg.ViewBox, owner: QWidget) -> None:
    """Give pyqtgraph's parentless context menu an owner, so it goes with the view
    instead of outliving it as a top-level widget."""
    menu = getattr(view, "menu", None)
    if menu is not None:
        menu.setParent(owner, menu.windowFlags())


class PlotsView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("plots")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(theme.BACKGROUND)
        layout.addWidget(self.graphics)
        self._x: deque[float] = deque(maxlen=HISTORY)
        self._series: dict[str, deque[float]] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.plots: dict[str, pg.PlotItem] = {}
        specs = [
            ("mips", "guest MIPS (wall clock)", "#4fc3f7", None),
            ("local", "local share of memory misses", "#aed581", (0, 1.02)),
            ("stall", "stall share of cycles", "#ff8a65", (0, 1.02)),
        ]
        for i, (key, title, color, yrange) in enumerate(specs):
            plot = self.graphics.addPlot(row=i, col=0)
            plot.setTitle(title, color=theme.TEXT.name(), size="10pt")
            # No grid: pyqtgraph draws grid lines from the axis items, which then
            # cover the plot and repaint (slowly) with every new point.
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.setMenuEnabled(False)
            own_menu(plot.getViewBox(), self)
            plot.getAxis("left").setWidth(44)
            if yrange is not None:
                plot.setYRange(*yrange, padding=0)
            else:
                plot.enableAutoRange(axis="y")
            plot.getAxis("bottom").enableAutoSIPrefix(False)
            if i == len(specs) - 1:
                plot.setLabel("bottom", "simulated time (ms)")
            else:
                plot.hideAxis("bottom")  # x is shared with the bottom plot
            # No fill under the curve: it multiplies the cost of every repaint.
            self.curves[key] = plot.plot(pen=pg.mkPen(color, width=2))
            self.plots[key] = plot
            self._series[key] = deque(maxlen=HISTORY)
        for key in ("local", "stall"):
            self.plots[key].setXLink(self.plots["mips"])
        self._prev: Snapshot | None = None
        self._fresh = False

    def record(self, snap: Snapshot) -> None:
        """Take a point from every snapshot (cheap); drawing happens in update_snapshot."""
        prev = self._prev
        if prev is not None and snap.sim_cycles <= prev.sim_cycles:
            return  # paused: nothing moved
        self._prev = snap
        if prev is None:
            return
        s, p = snap.cpu_stats, prev.cpu_stats

        def delta(field: str) -> float:
            return float(s[field].astype(np.int64).sum() - p[field].astype(np.int64).sum())

        local = delta("misses_local")
        far = delta("misses_remote") + delta("misses_dirty")
        cycles = delta("cycles")
        self._x.append(snap.sim_seconds * 1000)
        self._series["mips"].append(snap.guest_mips)
        self._series["local"].append(local / (local + far) if local + far > 0 else np.nan)
        self._series["stall"].append(delta("stall_cycles") / cycles if cycles > 0 else np.nan)
        self._fresh = True

    def update_snapshot(self, snap: Snapshot) -> None:
        if self._prev is None or snap.seq > self._prev.seq:
            self.record(snap)
        if not self._fresh:
            return
        self._fresh = False
        x = np.fromiter(self._x, float)
        for key, curve in self.curves.items():
            curve.setData(x, np.fromiter(self._series[key], float), connect="finite")

    def points(self, key: str) -> int:
        return len(self._series[key])
