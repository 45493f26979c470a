"""Colours shared by the views: a dark theme readable on a projector."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

BACKGROUND = QColor("#14181d")
PANEL = QColor("#1e242b")
TEXT = QColor("#e6e9ec")
TEXT_DIM = QColor("#9aa4ae")
LINK_IDLE = QColor("#3a434d")
ACCENT = QColor("#4fc3f7")

# One hue per node (cycled past 16): the heat map colours misses by the node
# that took them with the same colours as the topology's node frames.
NODE_COLORS = [
    "#4fc3f7", "#ff8a65", "#aed581", "#ba68c8", "#ffd54f", "#4db6ac", "#f06292", "#90a4ae",
    "#7986cb", "#e57373", "#81c784", "#ffb74d", "#64b5f6", "#dce775", "#a1887f", "#f48fb1",
]

# One colour per virtual machine (the heat map's owners, the topology's vCPUs and
# memory bars, the per-VM plots): saturated, apart from each other, and apart from
# the first eight node colours (CIE Lab distance >= 30, tests/app/test_heatmap.py) and
# from the overlays' red, white and yellow, so an owner never reads as a node.
VM_COLORS = ["#2962ff", "#00e676", "#e040fb", "#ff9100", "#c6ff00", "#6200ea", "#795548",
             "#0091ea", "#64dd17", "#ff4081", "#00b8d4", "#ffd600"]
UNOWNED = QColor("#7b8794")  # a page no VM owns that is missed on (the monitor's)
SHARED = QColor("#eceff1")  # a machine page several VMs share
MOVED = QColor("#fff176")  # a page that just migrated or got a replica
REMOTE = QColor("#ff1744")  # misses from a node other than the page's home

STATE_RUNNING = QColor("#66bb6a")
STATE_WAITING = QColor("#ffca28")
STATE_PARKED = QColor("#546e7a")
STATE_STOPPED = QColor("#ef5350")
STATE_PAUSED = QColor("#29b6f6")


def node_color(node: int) -> QColor:
    return QColor(NODE_COLORS[node % len(NODE_COLORS)])


def node_rgb_table(nodes: int) -> np.ndarray:
    """(nodes, 3) float32 in 0..1."""
    out = np.zeros((nodes, 3), np.float32)
    for n in range(nodes):
        c = node_color(n)
        out[n] = (c.redF(), c.greenF(), c.blueF())
    return out


def vm_color(vm: int) -> QColor:
    return QColor(VM_COLORS[vm % len(VM_COLORS)])


def vm_rgb_table(vms: int) -> np.ndarray:
    """(vms, 3) float32 in 0..1."""
    out = np.zeros((max(vms, 1), 3), np.float32)
    for i in range(vms):
        c = vm_color(i)
        out[i] = (c.redF(), c.greenF(), c.blueF())
    return out


def rgb(color: QColor) -> np.ndarray:
    return np.array([color.redF(), color.greenF(), color.blueF()], np.float32)


def cpu_state(state: int, machine_running: bool, stopped_here: bool) -> str:
    """A CPU's state as the topology names it: a paused machine's CPUs are paused,
    whatever they were doing (waiting on `wait` included) when it stopped."""
    from disco_core.machine import CpuState

    if stopped_here:
        return "stopped here"
    if state == int(CpuState.PARKED):
        return "parked"
    if not machine_running:
        return "paused"
    return "waiting" if state == int(CpuState.WAITING) else "running"


CPU_STATE_COLORS = {"running": STATE_RUNNING, "paused": STATE_PAUSED, "waiting": STATE_WAITING,
                    "parked": STATE_PARKED, "stopped here": STATE_STOPPED}


def cpu_state_color(state: int, machine_running: bool, stopped_here: bool) -> QColor:
    return CPU_STATE_COLORS[cpu_state(state, machine_running, stopped_here)]


LINK_FULL = 1e6  # messages/s at the top of the links' (logarithmic) scale


def link_fraction(per_s: float) -> float:
    """A link's traffic on a fixed logarithmic scale, 0 (none) to 1 (LINK_FULL and
    more): fixed, so an idle machine's few messages never look busy."""
    if per_s < 1:
        return 0.0
    return min(math.log10(per_s) / math.log10(LINK_FULL), 1.0)


def heat(frac: float) -> QColor:
    """Idle grey through indigo and orange to hot yellow-white."""
    frac = min(max(frac, 0.0), 1.0)
    if frac < 0.02:
        return LINK_IDLE
    a, b = (QColor("#ff7043"), QColor("#fff59d")) if frac > 0.5 else (QColor("#5c6bc0"),
                                                                        QColor("#ff7043"))
    t = (frac - 0.5) * 2 if frac > 0.5 else frac * 2
    return QColor(int(a.red() + (b.red() - a.red()) * t),
                  int(a.green() + (b.green() - a.green()) * t),
                  int(a.blue() + (b.blue() - a.blue()) * t))


def apply(app: QApplication) -> None:
    """A dark Fusion palette for the whole application."""
    app.setStyle("Fusion")
    p = QPalette()
    p.setColor(QPalette.ColorRole.Window, PANEL)
    p.setColor(QPalette.ColorRole.WindowText, TEXT)
    p.setColor(QPalette.ColorRole.Base, BACKGROUND)
    p.setColor(QPalette.ColorRole.AlternateBase, PANEL)
    p.setColor(QPalette.ColorRole.Text, TEXT)
    p.setColor(QPalette.ColorRole.Button, QColor("#2a323b"))
    p.setColor(QPalette.ColorRole.ButtonText, TEXT)
    p.setColor(QPalette.ColorRole.Highlight, QColor("#2f6f95"))
    p.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    p.setColor(QPalette.ColorRole.ToolTipBase, QColor("#2a323b"))
    p.setColor(QPalette.ColorRole.ToolTipText, TEXT)
    p.setColor(QPalette.ColorRole.PlaceholderText, TEXT_DIM)
    app.setPalette(p)
