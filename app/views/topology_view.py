"""The machine's topology: nodes on the hypercube, their CPUs, memory and link traffic.

Scene items are built once for a machine shape; `update_snapshot` only changes
brushes, pens and texts. With virtual machines each CPU's ring takes the colour
of the VM whose vCPU runs there (named next to it), and the memory bar is split
by VM.

Link traffic is on a fixed logarithmic scale (1 to 10^6 messages/s, theme.link_fraction)
shown in the legend under the view, so an idle machine's links stay grey however
few messages they carry. The legend is a label in the view's bottom margin,
outside the scene, so it keeps its size on every machine; on machines whose scene
is shrunk to fit (flash16, flash32), node titles grow to stay readable and the
smaller texts give way to the tooltips.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen, QResizeEvent
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsLineItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QLabel,
    QWidget,
)

from disco_core.session import Snapshot

from .. import theme

NODE_W, NODE_H = 112.0, 64.0
READABLE_PT = 8.0  # the smallest text size on screen
COMPACT_BELOW = 0.6  # scene scale under which the node's small texts are hidden


def node_position(node: int) -> QPointF:
    """Lay a hypercube out in 2D: bits 0-1 a square, bit 2 the cube's back face
    (offset up and right), bits 3-4 further copies of that cube."""
    x = (node & 1) * 250.0 + ((node >> 2) & 1) * 125.0 + ((node >> 3) & 1) * 480.0
    y = ((node >> 1) & 1) * 190.0 - ((node >> 2) & 1) * 95.0 + ((node >> 4) & 1) * 380.0
    return QPointF(x, y)


class _Node:
    def __init__(self, scene: QGraphicsScene, node: int, cpus: list[int]) -> None:
        p = node_position(node)
        self.box = QGraphicsRectItem(QRectF(p.x(), p.y(), NODE_W, NODE_H))
        self.box.setBrush(QBrush(theme.PANEL))
        self.box.setPen(QPen(theme.node_color(node), 2.5))
        self.box.setZValue(2)
        scene.addItem(self.box)
        self.title = QGraphicsSimpleTextItem(f"node {node}", self.box)
        self.title.setBrush(QBrush(theme.node_color(node)))
        f = QFont()
        f.setBold(True)
        f.setPointSize(10)
        self.title.setFont(f)
        self.title.setPos(p.x() + 6, p.y() + 3)
        self.cpus: list[QGraphicsEllipseItem] = []
        for k, cpu in enumerate(cpus):
            dot = QGraphicsEllipseItem(QRectF(p.x() + 8 + k * 22, p.y() + 24, 16, 16), self.box)
            dot.setPen(QPen(theme.TEXT_DIM, 1))
            dot.setToolTip(f"CPU {cpu}")
            label = QGraphicsSimpleTextItem(str(cpu), dot)
            label.setBrush(QBrush(QColor("#101418")))
            fs = QFont()
            fs.setPointSize(7)
            fs.setBold(True)
            label.setFont(fs)
            label.setPos(p.x() + 12 + k * 22 + (0 if cpu < 10 else -3), p.y() + 25)
            self.cpus.append(dot)
        self.stall = QGraphicsSimpleTextItem("", self.box)
        self.stall.setBrush(QBrush(theme.TEXT_DIM))
        fs = QFont()
        fs.setPointSize(7)
        self.stall.setFont(fs)
        self.stall.setPos(p.x() + 8 + max(len(cpus), 1) * 22, p.y() + 26)
        # Memory in use: a bar along the bottom.
        self.mem_bg = QGraphicsRectItem(QRectF(p.x() + 8, p.y() + 48, NODE_W - 16, 8), self.box)
        self.mem_bg.setBrush(QBrush(theme.BACKGROUND))
        self.mem_bg.setPen(QPen(Qt.PenStyle.NoPen))
        self.mem = QGraphicsRectItem(QRectF(p.x() + 8, p.y() + 48, 0, 8), self.box)
        self.mem.setBrush(QBrush(theme.node_color(node)))
        self.mem.setPen(QPen(Qt.PenStyle.NoPen))
        self.mem_text = QGraphicsSimpleTextItem("", self.box)
        self.mem_text.setBrush(QBrush(theme.TEXT_DIM))
        self.mem_text.setFont(fs)
        self.mem_text.setPos(p.x() + 60, p.y() + 3)
        self.origin = p
        self.cpu_labels = [item for dot in self.cpus for item in dot.childItems()]
        self.vm_bars: list[QGraphicsRectItem] = []  # one per VM, with virtual machines

    def vm_bar(self, vm: int) -> QGraphicsRectItem:
        while len(self.vm_bars) <= vm:
            r = self.mem_bg.rect()
            bar = QGraphicsRectItem(QRectF(r.x(), r.y(), 0, r.height()), self.box)
            bar.setBrush(QBrush(theme.vm_color(len(self.vm_bars))))
            bar.setPen(QPen(Qt.PenStyle.NoPen))
            self.vm_bars.append(bar)
        return self.vm_bars[vm]


class TopologyView(QGraphicsView):
    """Nodes with their CPUs (running / waiting / parked / stopped), memory in use
    per node, and hypercube links coloured and thickened by recent traffic."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("topology")
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setBackgroundBrush(QBrush(theme.BACKGROUND))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._shape: tuple[int, int] | None = None
        self._nodes: list[_Node] = []
        self._links: list[tuple[int, int, QGraphicsLineItem]] = []
        self._prev_links: tuple[np.ndarray, float] | None = None  # counters, wall time
        self._prev_stats: np.ndarray | None = None
        self.setMinimumSize(280, 240)
        self.legend = QLabel(self)
        self.legend.setObjectName("topology-legend")
        self.legend.setWordWrap(True)
        self.legend.setStyleSheet(f"color: {theme.TEXT_DIM.name()}; background: "
                                  f"{theme.BACKGROUND.name()}; padding: 2px 6px;")
        self.legend.setText(self.legend_text())
        self._compact: bool | None = None

    @staticmethod
    def legend_text() -> str:
        """The CPU states' colours and the links' scale (rich text)."""
        states = " &nbsp; ".join(f"<span style='color:{c.name()}'>\u25cf</span>&nbsp;{name}"
                                 for name, c in theme.CPU_STATE_COLORS.items())
        steps = []
        for exponent in range(0, 7, 2):
            per_s = 10.0 ** exponent
            color = theme.heat(theme.link_fraction(per_s)) if exponent else theme.LINK_IDLE
            label = "0" if exponent == 0 else f"10<sup>{exponent}</sup>"
            steps.append(f"<span style='color:{color.name()}'>\u2501\u2501</span>&nbsp;{label}")
        return (f"{states}<br>links, colour and width (log scale): {' '.join(steps)} "
                "messages/s")

    def _place_legend(self) -> None:
        width = self.width()
        height = self.legend.heightForWidth(width) if self.legend.hasHeightForWidth() else 36
        height = max(height, self.legend.sizeHint().height())
        self.setViewportMargins(0, 0, 0, height)
        self.legend.setGeometry(0, self.height() - height, width, height)

    def _build(self, nodes: int, ncpu: int) -> None:
        scene = self.scene()
        scene.clear()
        self._nodes, self._links = [], []
        per = max(ncpu // nodes, 1)
        for n in range(nodes):
            self._nodes.append(_Node(scene, n, list(range(n * per, (n + 1) * per))))
        dims = max((nodes - 1).bit_length(), 1)
        for n in range(nodes):
            for d in range(dims):
                peer = n ^ (1 << d)
                if peer <= n or peer >= nodes:
                    continue
                a = node_position(n) + QPointF(NODE_W / 2, NODE_H / 2)
                b = node_position(peer) + QPointF(NODE_W / 2, NODE_H / 2)
                line = QGraphicsLineItem(a.x(), a.y(), b.x(), b.y())
                line.setPen(QPen(theme.LINK_IDLE, 3))
                line.setZValue(1)
                line.setToolTip(f"link node {n} \u2194 node {peer} (dimension {d})")
                scene.addItem(line)
                self._links.append((n, d, line))
        self._shape = (nodes, ncpu)
        self._fit()

    def _fit(self) -> None:
        scene = self.scene()
        r = scene.itemsBoundingRect().adjusted(-12, -12, 12, 12)
        scene.setSceneRect(r)
        self.fitInView(r, Qt.AspectRatioMode.KeepAspectRatio)
        self._readable()

    def scale_factor(self) -> float:
        """Screen pixels per scene unit."""
        return float(self.transform().m11()) or 1.0

    def _readable(self) -> None:
        """Keep the node titles at READABLE_PT or more on screen; when the scene is
        shrunk far, hide the texts that cannot be (the tooltips keep them)."""
        scale = self.scale_factor()
        compact = scale < COMPACT_BELOW
        title_pt = min(max(10.0, (READABLE_PT + 1) / scale), 20.0) if compact else 10.0
        for node in self._nodes:
            font = node.title.font()
            if font.pointSizeF() != title_pt:
                font.setPointSizeF(title_pt)
                node.title.setFont(font)
            if compact != self._compact:
                for item in [node.stall, node.mem_text, *node.cpu_labels]:
                    item.setVisible(not compact)
                for dot in node.cpus:  # below the larger title
                    dot.setPos(0, 8 if compact else 0)
                node.title.setPos(node.origin.x() + 6, node.origin.y() + (1 if compact else 3))
        self._compact = compact

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_legend()
        if self._shape is not None:
            self._fit()

    def update_snapshot(self, snap: Snapshot) -> None:
        if self._shape != (snap.nodes, snap.cpus):
            self._build(snap.nodes, snap.cpus)
            self._prev_links = None
            self._prev_stats = None
        links = snap.link_counters.astype(np.int64)
        stats = snap.cpu_stats
        dt = 0.0
        if self._prev_links is not None and self._prev_stats is not None:
            delta = np.maximum(links - self._prev_links[0], 0)
            dt = max(snap.wall_time - self._prev_links[1], 1e-3)
            rate = delta / dt
            for n, d, line in self._links:
                peer = n ^ (1 << d)
                per_s = float(rate[n, d] + rate[peer, d])
                frac = theme.link_fraction(per_s)
                line.setPen(QPen(theme.heat(frac), 2 + 8 * frac))
                line.setToolTip(f"link node {n} \u2194 node {peer} (dimension {d}): "
                                f"{per_s:,.0f} messages/s, "
                                f"{int(links[n, d] + links[peer, d]):,} total")
        self._prev_links = (links, snap.wall_time)
        per = max(snap.cpus // snap.nodes, 1)
        cycles = stats["cycles"].astype(np.int64)
        stalls = stats["stall_cycles"].astype(np.int64)
        prev = self._prev_stats
        self._prev_stats = np.stack([cycles, stalls])
        vi = snap.vms
        for n, node in enumerate(self._nodes):
            running_here = []
            for k, dot in enumerate(node.cpus):
                cpu = n * per + k
                state = theme.cpu_state(int(snap.state[cpu]), snap.running,
                                        snap.stopped_cpu == cpu)
                dot.setBrush(QBrush(theme.CPU_STATE_COLORS[state]))
                what = ""
                if vi is not None:
                    g = int(vi.cpu_vcpu[cpu])
                    if g >= 0:
                        vm = vi.vcpu_vm[g]
                        dot.setPen(QPen(theme.vm_color(vm), 3))
                        what = f", running {vi.vcpu_names[g]} ({vi.vcpu_state[g]})"
                        running_here.append(vi.vcpu_names[g].replace(" vCPU ", "."))
                    else:
                        dot.setPen(QPen(theme.TEXT_DIM, 1))
                        what = ", idle (the monitor's idle loop)"
                dot.setToolTip(f"CPU {cpu} ({state}): pc 0x{int(snap.pc[cpu]):08x}, "
                               f"{int(stats['instructions'][cpu]):,} instructions{what}")
            if prev is not None:
                cpus = slice(n * per, (n + 1) * per)
                dc = int((cycles[cpus] - prev[0][cpus]).sum())
                ds = int((stalls[cpus] - prev[1][cpus]).sum())
                stall = f"stall {100 * ds / dc:.0f}%" if dc > 0 else ""
                if vi is not None:
                    stall = (" ".join(running_here) or "idle") + (f"\n{stall}" if stall else "")
                node.stall.setText(stall)
            in_use = int(snap.node_stats["memory_in_use"][n])
            size = max(snap.miss_counters.shape[0] * snap.page_group * 4096 // snap.nodes, 1)
            frac = min(in_use / size, 1.0)
            r = node.mem_bg.rect()
            node.mem.setRect(QRectF(r.x(), r.y(), max(r.width() * frac, 1.0), r.height()))
            node.mem_text.setText(f"{in_use / (1 << 20):.1f}/{size >> 20} MiB")
            split = ""
            if vi is not None:
                # The VMs' pages on this node, stacked left to right in their colours.
                node.mem.setBrush(QBrush(theme.TEXT_DIM))
                x = r.x()
                parts = []
                for vm, name in enumerate(vi.names):
                    used = int(vi.memory[vm, n]) * 4096
                    w = r.width() * min(used / size, 1.0)
                    node.vm_bar(vm).setRect(QRectF(x, r.y(), w, r.height()))
                    x += w
                    if used:
                        parts.append(f"{name} {used / (1 << 20):.1f} MiB")
                split = "; " + (", ".join(parts) if parts else "no VM memory")
            node.box.setToolTip(
                f"node {n}: {in_use / (1 << 20):.1f} MiB of {size >> 20} MiB in use{split}; "
                f"misses served: {int(snap.node_stats['local_served'][n]):,} local, "
                f"{int(snap.node_stats['remote_served'][n]):,} remote")
