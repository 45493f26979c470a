"""The machine's topology: nodes on the hypercube, their CPUs, memory and link traffic.

Scene items are built once for a machine shape; `update_snapshot` only changes
brushes, pens and texts. With virtual machines each CPU's ring takes the colour
of the VM whose vCPU runs there (named next to it), and the memory bar is split
by VM.
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
    QWidget,
)

from disco_core.session import Snapshot

from .. import theme

NODE_W, NODE_H = 112.0, 64.0


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
        rect = scene.itemsBoundingRect()
        x, y = rect.left(), rect.bottom() + 12
        for text, color in (("running", theme.STATE_RUNNING), ("paused", theme.STATE_PAUSED),
                            ("waiting", theme.STATE_WAITING), ("parked", theme.STATE_PARKED),
                            ("stopped here", theme.STATE_STOPPED)):
            dot = QGraphicsEllipseItem(QRectF(x, y + 3, 11, 11))
            dot.setBrush(QBrush(color))
            dot.setPen(QPen(Qt.PenStyle.NoPen))
            scene.addItem(dot)
            label = QGraphicsSimpleTextItem(text)
            label.setBrush(QBrush(theme.TEXT_DIM))
            label.setPos(x + 15, y)
            scene.addItem(label)
            x += 30 + label.boundingRect().width()
        label = QGraphicsSimpleTextItem("links: colour and width = messages/s")
        label.setBrush(QBrush(theme.TEXT_DIM))
        label.setPos(rect.left(), y + 20)
        scene.addItem(label)
        self._shape = (nodes, ncpu)
        self._fit()

    def _fit(self) -> None:
        scene = self.scene()
        r = scene.itemsBoundingRect().adjusted(-12, -12, 12, 12)
        scene.setSceneRect(r)
        self.fitInView(r, Qt.AspectRatioMode.KeepAspectRatio)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
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
            peak = max(float(rate.max()), 1.0)
            for n, d, line in self._links:
                peer = n ^ (1 << d)
                per_s = float(rate[n, d] + rate[peer, d])
                frac = min(per_s / (2 * peak), 1.0)
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
                color = theme.cpu_state_color(int(snap.state[cpu]), snap.running,
                                              snap.stopped_cpu == cpu)
                dot.setBrush(QBrush(color))
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
                dot.setToolTip(f"CPU {cpu}: pc 0x{int(snap.pc[cpu]):08x}, "
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
