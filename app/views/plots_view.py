"""Live plots: guest MIPS, local-miss share and stall share over the last minute.

As in pyqtgraph's PanningPlot example, every curve is created once and fed
with setData. The x axis is wall-clock time by default, "seconds ago" over the
last N seconds, so a workload that took three seconds takes three seconds of
the plot however fast simulated time ran meanwhile (it runs far faster while the
guests idle); simulated time, in SI units, is an option. A point is taken at most
every SAMPLE_SECONDS of wall time (a rate over the whole interval), so the history
covers the longest window whatever the snapshot rate.

With virtual machines (`set_vms`) there is one curve per VM in its colour:
guest MIPS, the local share of misses on the VM's pages, the monitor's share
of the VM's cycles (what the monitor charged for its exits over the cycles its
vCPUs ran) and exits to the monitor per (wall-clock) second. A VM chosen in the
"highlight" box is drawn bold and the others dimmed, so one VM stays readable
among 32 whose colours repeat. A figure that does not apply to the session (the
local share on a one-node machine, anything made of misses in fast mode) says so
in its title.

After a seek into the recorded past (`show_past`) the plots follow the point the
views show: each curve is cut at that point, a line marks it and the span from
there to the present is greyed; the points of the present are kept, not taken
from the replay (its snapshots are of the past), and `show_past(None)` on Live
draws them all again.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from disco_core.session import Snapshot

from .. import theme

SAMPLE_SECONDS = 0.2  # wall time between points
HISTORY = 1500  # points kept per curve: 5 minutes
VM_HISTORY = 1500
# The x axis choices: (label, seconds of wall clock shown, or 0 for simulated time).
WINDOWS = (("last 60 s (wall clock)", 60.0), ("last 10 s (wall clock)", 10.0),
           ("last 5 min (wall clock)", 300.0), ("simulated time", 0.0))
ALL_VMS = "all VMs"
DIM = QColor("#4a535c")  # the other VMs' curves while one is highlighted
MISS_PLOTS = ("local", "stall")  # made of the fabric's miss and stall counters
PAST_LINE = QColor("#ffb74d")  # the point the views show in the past (the timeline's colour)
FUTURE = QColor(90, 96, 104, 90)  # what lies after it, up to the present


def own_menu(view: pg.ViewBox, owner: QWidget) -> None:
    """Give pyqtgraph's parentless context menu an owner, so it goes with the view
    instead of outliving it as a top-level widget."""
    menu = getattr(view, "menu", None)
    if menu is not None:
        menu.setParent(owner, menu.windowFlags())


def _ticks(plot: pg.PlotItem, top: float) -> None:
    """Label 0 and a round number below `top` on the left axis (its half as an
    unlabelled tick): a plot 50 px high at 1280x800 has room for two labels only."""
    step = 10 ** math.floor(math.log10(top))
    nice = math.floor(top / step) * step
    plot.getAxis("left").setTicks([[(0.0, "0"), (nice, f"{nice:g}")], [(nice / 2, "")]])


def _swatch(color: QColor) -> QIcon:
    pixmap = QPixmap(10, 10)
    pixmap.fill(color)
    return QIcon(pixmap)


class PlotsView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("plots")
        layout = self._layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 0, 4, 0)
        self.window_box = QComboBox()
        self.window_box.setObjectName("plots-window")
        self.window_box.setToolTip("the x axis: the last seconds of wall-clock time, or "
                                   "simulated time")
        for text, _seconds in WINDOWS:
            self.window_box.addItem(text)
        self.window_box.currentIndexChanged.connect(self._window_changed)
        bar.addWidget(QLabel("x axis:"))
        bar.addWidget(self.window_box)
        self.vm_box = QComboBox()
        self.vm_box.setObjectName("plots-vm")
        self.vm_box.setToolTip("draw one VM bold and the others dimmed")
        self.vm_box.currentIndexChanged.connect(self._highlight_changed)
        self.vm_box.hide()
        self._vm_label = QLabel("highlight:")
        self._vm_label.hide()
        bar.addWidget(self._vm_label)
        bar.addWidget(self.vm_box)
        bar.addStretch(1)
        layout.addLayout(bar)
        self.key = QLabel()  # the VMs' colours, wrapped (a legend box would cover curves)
        self.key.setObjectName("plots-key")
        self.key.setWordWrap(True)
        self.key.setStyleSheet("padding: 0 6px;")
        self.key.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.key.hide()
        layout.addWidget(self.key)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(theme.BACKGROUND)
        layout.addWidget(self.graphics)
        self.setMinimumSize(300, 240)
        self._x: deque[float] = deque(maxlen=HISTORY)  # wall-clock seconds
        self._sim: deque[float] = deque(maxlen=HISTORY)  # simulated seconds
        self._series: dict[str, deque[float]] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.plots: dict[str, pg.PlotItem] = {}
        self.titles: dict[str, str] = {}
        self.past_marks: dict[str, tuple[pg.InfiniteLine, pg.LinearRegionItem]] = {}
        self.not_applicable: dict[str, str] = {}  # plot -> why its figure does not apply
        specs = [
            ("mips", "guest MIPS (wall clock)", "#4fc3f7", None),
            ("local", "local share of memory misses", "#aed581", (0, 1.02)),
            ("stall", "stall share of cycles", "#ff8a65", (0, 1.02)),
        ]
        for i, (key, title, color, yrange) in enumerate(specs):
            plot = self.graphics.addPlot(row=i, col=0)
            self._setup(plot, key, title, last=i == len(specs) - 1)
            if yrange is not None:
                plot.setYRange(*yrange, padding=0)
            else:
                plot.enableAutoRange(axis="y")
            # No fill under the curve: it multiplies the cost of every repaint.
            self.curves[key] = plot.plot(pen=pg.mkPen(color, width=2))
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
        self._applies_key: tuple[int, bool] | None = None
        self.past_at: float | None = None  # simulated seconds shown in the past, or live

    def _setup(self, plot: pg.PlotItem, key: str, title: str, last: bool) -> None:
        """What every plot shares: a title, no mouse, a fixed-width axis; the bottom
        plot carries the x axis for all."""
        self.titles[key] = title
        plot.setTitle(title, color=theme.TEXT.name(), size="9pt")
        # No grid: pyqtgraph draws grid lines from the axis items, which then
        # cover the plot and repaint (slowly) with every new point.
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.setMenuEnabled(False)
        own_menu(plot.getViewBox(), self)
        plot.getAxis("left").setWidth(44)
        # The point shown in the past and the greyed future (hidden while live).
        line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(PAST_LINE, width=2))
        future = pg.LinearRegionItem(movable=False, brush=FUTURE,
                                     pen=pg.mkPen(None))
        for item in (future, line):
            item.setZValue(20)
            item.hide()
            plot.addItem(item, ignoreBounds=True)
        self.past_marks[key] = (line, future)
        if last:
            self._label_x(plot)
        else:
            plot.hideAxis("bottom")  # x is shared with the bottom plot
        self.plots[key] = plot

    @property
    def window_seconds(self) -> float:
        """The wall-clock seconds shown, or 0 for simulated time."""
        return WINDOWS[self.window_box.currentIndex()][1]

    def _label_x(self, plot: pg.PlotItem) -> None:
        axis = plot.getAxis("bottom")
        if self.window_seconds:
            axis.enableAutoSIPrefix(False)
            plot.setLabel("bottom", "seconds ago (wall clock)", units=None)
        else:
            # seconds with an SI prefix: "simulated time (ms)", ticks in plain numbers
            axis.enableAutoSIPrefix(True)
            plot.setLabel("bottom", "simulated time", units="s")

    def _window_changed(self, _index: int) -> None:
        bottom = list(self.plots.values())[-1] if self.plots else None
        if bottom is not None:
            self._label_x(bottom)
        self._fresh = True
        self.redraw_all()

    def _highlight_changed(self, _index: int) -> None:
        chosen = self.vm_box.currentIndex() - 1  # -1: every VM in its colour
        for curves in self.vm_curves.values():
            for v, curve in enumerate(curves):
                if chosen < 0:
                    curve.setPen(pg.mkPen(theme.vm_color(v), width=1))
                    curve.setZValue(0)
                elif v == chosen:
                    curve.setPen(pg.mkPen(theme.vm_color(v), width=2))
                    curve.setZValue(10)  # above the others
                else:
                    curve.setPen(pg.mkPen(DIM, width=1))
                    curve.setZValue(0)

    def set_vms(self, names: tuple[str, ...]) -> None:
        """One curve per VM: MIPS, local-miss share, monitor share of cycles, exits/s."""
        self.vm_names = names
        # One PlotWidget (one QGraphicsView) per plot, updated one at a time: a
        # change then repaints one plot, not four (painting is the costly part).
        self.graphics.clear()
        self.graphics.hide()
        self.curves.clear()
        self.plots.clear()
        self.past_marks.clear()
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
            self._setup(plot, key, title, last=i == len(specs) - 1)
            # Two labels: a short plot has no room for more (see _fit_y).
            _ticks(plot, 1.0)
            # Fixed y ranges, widened by hand (see _fit_y): pyqtgraph's auto range
            # relays out and repaints the axis at every new point, and painting is
            # what competes with the simulation's worker for the GIL.
            plot.disableAutoRange(axis="y")
            plot.setYRange(*(yrange or (0, 1)), padding=0)
            plot.disableAutoRange(axis="x")
            self._y_top[key] = 0.0 if yrange is None else -1.0
            # Thin pens: Qt's raster engine draws wide lines far more slowly.
            self.vm_curves[key] = [plot.plot(pen=pg.mkPen(theme.vm_color(v), width=1))
                                   for v in range(len(names))]
            self._vm_series[key] = [deque(maxlen=VM_HISTORY) for _ in names]
        self.vm_box.blockSignals(True)
        self.vm_box.clear()
        self.vm_box.addItem(ALL_VMS)
        for v, name in enumerate(names):
            self.vm_box.addItem(_swatch(theme.vm_color(v)), name)
        self.vm_box.blockSignals(False)
        self.vm_box.show()
        self._vm_label.show()
        repeats = len(names) > len(theme.VM_COLORS)
        self.key.setText(" ".join(
            f"<span style='color:{theme.vm_color(v).name()}'>\u25a0</span>&nbsp;{n}"
            for v, n in enumerate(names)) + (" &nbsp; (colours repeat: highlight a VM)"
                                            if repeats else ""))
        self.key.show()
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
        """Take a point from a snapshot at most every SAMPLE_SECONDS (cheap); drawing
        happens in update_snapshot."""
        prev = self._prev
        if prev is not None and snap.sim_cycles <= prev.sim_cycles:
            return  # paused: nothing moved
        if prev is not None and snap.wall_time - prev.wall_time < SAMPLE_SECONDS:
            return  # the next point covers this interval too
        self._prev = snap
        if prev is None:
            return
        self._x.append(snap.wall_time)
        self._sim.append(snap.sim_seconds)
        self._fresh = True
        if self.vm_names:
            self._record_vms(snap, prev)
            return
        s, p = snap.cpu_stats, prev.cpu_stats

        def delta(field: str) -> float:
            return float(s[field].astype(np.int64).sum() - p[field].astype(np.int64).sum())

        local = delta("misses_local")
        far = delta("misses_remote") + delta("misses_dirty")
        cycles = delta("cycles")
        dt = max(snap.wall_time - prev.wall_time, 1e-6)
        self._series["mips"].append((snap.instructions - prev.instructions) / dt / 1e6)
        self._series["local"].append(local / (local + far) if local + far > 0 else np.nan)
        self._series["stall"].append(delta("stall_cycles") / cycles if cycles > 0 else np.nan)

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

    def _applies(self, snap: Snapshot) -> None:
        """Say in a plot's title when its figure means nothing in this session."""
        key = (snap.nodes, bool(snap.timing))
        if key == self._applies_key:
            return
        self._applies_key = key
        why: dict[str, str] = {}
        for plot in MISS_PLOTS:
            if not snap.timing:
                why[plot] = "not collected in fast mode (timing off)"
        if snap.nodes == 1 and not why.get("local"):
            why["local"] = "does not apply: one node, every miss is local"
        self.not_applicable = {k: v for k, v in why.items() if k in self.plots}
        for plot_key, plot in self.plots.items():
            title = self.titles[plot_key]
            note = self.not_applicable.get(plot_key)
            if note:
                title += f" \u2014 <span style='color:{theme.STATE_WAITING.name()}'>{note}</span>"
            plot.setTitle(title, color=theme.TEXT.name(), size="9pt")

    def x_values(self) -> np.ndarray:
        """The x of every point: seconds before the newest (wall clock) or simulated
        seconds."""
        if self.window_seconds:
            x = np.fromiter(self._x, float)
            return x - x[-1] if x.size else x
        return np.fromiter(self._sim, float)

    def x_range(self, x: np.ndarray) -> tuple[float, float]:
        if self.window_seconds:
            return (-self.window_seconds, 0.0)
        return (float(x[0]), float(max(x[-1], x[0] + 1e-6)))

    def show_past(self, sim_seconds: float | None) -> None:
        """Follow a point of the past (simulated seconds), or the present (None)."""
        if sim_seconds != self.past_at:
            self.past_at = sim_seconds
            self._fresh = True

    def shown_points(self) -> np.ndarray:
        """Which points are drawn: all while live, those up to the point in the past."""
        sim = np.fromiter(self._sim, float)
        if self.past_at is None:
            return np.ones(sim.size, bool)
        return sim <= self.past_at + 1e-12

    def past_x(self, x: np.ndarray) -> float | None:
        """Where the point shown in the past lies on the x axis (None: live)."""
        if self.past_at is None:
            return None
        sim = np.fromiter(self._sim, float)
        if not sim.size:
            return None
        if not self.window_seconds:
            return self.past_at
        return float(np.interp(self.past_at, sim, x))

    def _mark_past(self, key: str, x: np.ndarray, hi: float) -> None:
        line, future = self.past_marks[key]
        at = self.past_x(x)
        if at is None:
            line.hide()
            future.hide()
            return
        line.setPos(at)
        future.setRegion((at, max(hi, at)))
        line.show()
        future.show()

    def update_snapshot(self, snap: Snapshot) -> None:
        self._applies(snap)
        if self.past_at is not None:
            # a snapshot of the past: it moves the mark, and is no point of the present
            self.show_past(snap.sim_seconds)
        elif self._prev is None or snap.seq > self._prev.seq:
            self.record(snap)
        if not self._fresh:
            return
        if self.vm_names:
            self._draw_vm_plot()
            return
        self._fresh = False
        self._draw_plain()

    def _draw_plain(self) -> None:
        x = self.x_values()
        if not x.size:
            return
        keep = self.shown_points()
        lo, hi = self.x_range(x)
        for key, curve in self.curves.items():
            y = np.fromiter(self._series[key], float)
            curve.setData(x[keep], y[keep[len(keep) - len(y):]], connect="finite")
            self._mark_past(key, x, hi)
        self.plots["mips"].setXRange(lo, hi, padding=0)

    def redraw_all(self) -> None:
        """Every plot at once (a change of axis; tests)."""
        if self.vm_names:
            for _ in self.vm_curves:
                self._draw_vm_plot()
        else:
            self._draw_plain()

    def _draw_vm_plot(self) -> None:
        """Redraw the next of the four VM plots (each comes round every fourth call)."""
        keys = list(self.vm_curves)
        key = keys[self._next_plot % len(keys)]
        self._next_plot += 1
        if self._next_plot % len(keys) == 0:
            self._fresh = False
        x = self.x_values()
        if not x.size:
            return
        lo, hi = self.x_range(x)
        self._mark_past(key, x, hi)
        first = int(np.searchsorted(x, lo))  # only what the window shows is drawn
        first = max(0, first - 1)
        keep = self.shown_points()[first:]
        x = x[first:]
        peak = 0.0
        for curve, series in zip(self.vm_curves[key], self._vm_series[key], strict=True):
            y = np.fromiter(series, float)[first:]
            xs, shown = x[len(x) - len(y):], keep[len(keep) - len(y):]
            y = y[shown]
            if y.size and np.isfinite(y).any():
                peak = max(peak, float(np.nanmax(y)))
            curve.setData(xs[shown], y, connect="finite")
        self.plots[key].setXRange(lo, hi, padding=0)
        self._fit_y(key, peak)

    def points(self, key: str) -> int:
        if key in self._vm_series:
            return len(self._vm_series[key][0])
        return len(self._series[key])
