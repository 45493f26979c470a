"""Live plots: guest MIPS, local-miss share and stall share over the last minutes.

As in pyqtgraph's PanningPlot example, every curve is created once and fed
with setData; the x axis is simulated time, so a paused machine draws nothing new.

With virtual machines (`set_vms`) there is one curve per VM in its colour:
guest MIPS, the local share of misses on the VM's pages, the monitor's share
of the VM's cycles (what the monitor charged for its exits over the cycles its
vCPUs ran) and exits to the monitor per (wall-clock) second.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from disco_core.session import Snapshot

from .. import theme

HISTORY = 600  # points kept per curve
VM_HISTORY = 300  # points kept per VM curve (four plots of one curve per VM)


def own_menu(view: pg.ViewBox, owner: QWidget) -> None:
    """Give pyqtgraph's parentless context menu an owner, so it goes with the view
    instead of outliving it as a top-level widget."""
    menu = getattr(view, "menu", None)
    if menu is not None:
        menu.setParent(owner, menu.windowFlags())


def _ticks(plot: pg.PlotItem, top: float) -> None:
    """Label 0, a round number below `top` and its half on the left axis."""
    step = 10 ** math.floor(math.log10(top))
    nice = math.floor(top / step) * step
    values = (0.0, nice / 2, nice)
    plot.getAxis("left").setTicks([[(v, f"{v:g}") for v in values], []])


class PlotsView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("plots")
        layout = self._layout = QVBoxLayout(self)
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
        self.vm_names: tuple[str, ...] = ()
        self._vm_series: dict[str, list[deque[float]]] = {}
        self.vm_curves: dict[str, list[pg.PlotDataItem]] = {}
        self._last_local: list[float] = []
        self._y_top: dict[str, float] = {}  # the fixed top of a plot's y range (-1: fixed)
        self._next_plot = 0

    def set_vms(self, names: tuple[str, ...]) -> None:
        """One curve per VM: MIPS, local-miss share, monitor share of cycles, exits/s."""
        self.vm_names = names
        # One PlotWidget (one QGraphicsView) per plot, updated one at a time: a
        # change then repaints one plot, not four (painting is the costly part).
        self.graphics.clear()
        self.graphics.hide()
        self.curves.clear()
        self.plots.clear()
        specs = [
            ("mips", "guest MIPS per VM (wall clock)", None),
            ("local", "local share of misses on each VM's pages", (0, 1.02)),
            ("monitor", "monitor's share of each VM's cycles", (0, 1.02)),
            ("exits", "exits to the monitor per second (thousands)", None),
        ]
        self._series = {}
        for i, (key, title, yrange) in enumerate(specs):
            widget = pg.PlotWidget(background=theme.BACKGROUND)
            widget.setObjectName(f"plot-{key}")
            self._layout.addWidget(widget)
            plot = widget.getPlotItem()
            plot.setTitle(title, color=theme.TEXT.name(), size="9pt")
            # Three labels at most: a short plot has no room for more (see _fit_y).
            _ticks(plot, 1.0)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.setMenuEnabled(False)
            own_menu(plot.getViewBox(), self)
            plot.getAxis("left").setWidth(44)
            # Fixed y ranges, widened by hand (see _fit_y): pyqtgraph's auto range
            # relays out and repaints the axis at every new point, and painting is
            # what competes with the simulation's worker for the GIL.
            plot.disableAutoRange(axis="y")
            plot.setYRange(*(yrange or (0, 1)), padding=0)
            plot.getAxis("bottom").enableAutoSIPrefix(False)
            if i == len(specs) - 1:
                plot.setLabel("bottom", "simulated time (ms)")
            else:
                plot.hideAxis("bottom")
            plot.disableAutoRange(axis="x")
            self.plots[key] = plot
            self._y_top[key] = 0.0 if yrange is None else -1.0
            # Thin pens: Qt's raster engine draws wide lines far more slowly.
            self.vm_curves[key] = [plot.plot(pen=pg.mkPen(theme.vm_color(v), width=1))
                                   for v in range(len(names))]
            self._vm_series[key] = [deque(maxlen=VM_HISTORY) for _ in names]
        # The key goes in the first title: a legend box would cover the curves.
        key = " ".join(f"<span style='color:{theme.vm_color(v).name()}'>■ {n}</span>"
                       for v, n in enumerate(names))
        self.plots["mips"].setTitle(f"guest MIPS per VM (wall clock) &nbsp; {key}",
                                    color=theme.TEXT.name(), size="9pt")
        self._last_local = [float("nan")] * len(names)

    def _record_vms(self, snap: Snapshot, prev: Snapshot) -> None:
        a, b = snap.vms, prev.vms
        if a is None or b is None:
            return
        dt = max(snap.wall_time - prev.wall_time, 1e-6)
        ins = (a.instructions - b.instructions) / dt / 1e6
        cyc = (a.cycles - b.cycles).astype(float)
        mon = (a.monitor_cycles - b.monitor_cycles).astype(float)
        exits = (a.exits - b.exits) / dt / 1000
        miss = (a.misses - b.misses).astype(float)
        local = (a.local_misses - b.local_misses).astype(float)
        for v in range(len(self.vm_names)):
            # page-level misses refresh a few times a second: keep the last share between
            if miss[v] > 0:
                self._last_local[v] = min(max(local[v] / miss[v], 0.0), 1.0)
            self._vm_series["mips"][v].append(float(ins[v]))
            self._vm_series["local"][v].append(self._last_local[v])
            self._vm_series["monitor"][v].append(min(mon[v] / cyc[v], 1.0) if cyc[v] > 0
                                                 else np.nan)
            self._vm_series["exits"][v].append(float(exits[v]))

    def record(self, snap: Snapshot) -> None:
        """Take a point from every snapshot (cheap); drawing happens in update_snapshot."""
        prev = self._prev
        if prev is not None and snap.sim_cycles <= prev.sim_cycles:
            return  # paused: nothing moved
        self._prev = snap
        if prev is None:
            return
        if self.vm_names:
            self._x.append(snap.sim_seconds * 1000)
            self._record_vms(snap, prev)
            self._fresh = True
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

    def _fit_y(self, key: str, peak: float) -> None:
        """Widen a fixed range when the data outgrows it, narrow it when far below."""
        top = self._y_top.get(key, -1.0)
        if top < 0 or not np.isfinite(peak):
            return
        if peak > top or peak < top / 4:
            top = max(peak * 1.3, 1e-3)
            self._y_top[key] = top
            self.plots[key].setYRange(0, top, padding=0)
            _ticks(self.plots[key], top)

    def update_snapshot(self, snap: Snapshot) -> None:
        if self._prev is None or snap.seq > self._prev.seq:
            self.record(snap)
        if not self._fresh:
            return
        if self.vm_names:
            self._draw_vm_plot()
            return
        self._fresh = False
        x = np.fromiter(self._x, float)
        for key, curve in self.curves.items():
            curve.setData(x, np.fromiter(self._series[key], float), connect="finite")

    def _draw_vm_plot(self) -> None:
        """Redraw the next of the four VM plots (each comes round every fourth call)."""
        keys = list(self.vm_curves)
        key = keys[self._next_plot % len(keys)]
        self._next_plot += 1
        if self._next_plot % len(keys) == 0:
            self._fresh = False
        x = np.fromiter(self._x, float)[-VM_HISTORY:]
        if not x.size:
            return
        peak = 0.0
        for curve, series in zip(self.vm_curves[key], self._vm_series[key], strict=True):
            y = np.fromiter(series, float)
            if y.size and np.isfinite(y).any():
                peak = max(peak, float(np.nanmax(y)))
            curve.setData(x[len(x) - len(y):], y, connect="finite")
        self.plots[key].setXRange(float(x[0]), float(max(x[-1], x[0] + 1e-3)), padding=0)
        self._fit_y(key, peak)

    def points(self, key: str) -> int:
        if key in self._vm_series:
            return len(self._vm_series[key][0])
        return len(self._series[key])
