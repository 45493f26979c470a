"""Page-placement heat map: every RAM page of the machine, grouped by home node.

Each node's memory is a block of pages (row-major, lowest page top left).
Brightness is the page's recent misses (the difference between snapshots of
the fabric's per-page, per-node miss counters, decaying so activity fades
rather than flickers); the hue is the colour of the node whose CPUs took most
of them, so a page lit in its own block's colour is used locally and one in
another colour is used remotely. The ImageItem is created once and fed with
setImage.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QSize
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app import theme
from app.views.plots_view import own_menu
from disco_core.session import Snapshot

DECAY = 0.8  # fraction of the recent misses kept at each redraw
GAP = 3  # pixels between node blocks


def _rows_differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(rows,) bool: rows of two (rows, nodes) uint32 matrices that differ.

    `(a != b).any(axis=1)` reduces over a short axis, which numpy does slowly;
    when a row's flags fill whole 32-bit words, they are read as integers instead.
    """
    neq = a != b
    if neq.shape[1] % 4 == 0 and neq.flags.c_contiguous:
        words = neq.view(np.uint32).reshape(neq.shape[0], -1)
        return words.any(axis=1) if words.shape[1] > 1 else words[:, 0] != 0
    return neq.any(axis=1)


class HeatmapView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("heatmap")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(theme.BACKGROUND)
        self.view = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.view.setMenuEnabled(False)
        own_menu(self.view, self)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        layout.addWidget(self.graphics, 1)
        self.info = QLabel("hover over a page")
        self.info.setObjectName("heatmap-info")
        self.info.setStyleSheet(f"color: {theme.TEXT_DIM.name()}; padding: 2px 6px;")
        layout.addWidget(self.info)
        self._shape: tuple[int, int, int] | None = None
        self._prev: np.ndarray | None = None
        self._recent: np.ndarray | None = None
        self._pixel_row: np.ndarray | None = None  # image pixel -> miss-matrix row (or gap)
        self._labels: list[pg.TextItem] = []
        self._base: np.ndarray | None = None
        self._colors: np.ndarray | None = None
        self._page_group = 1
        self.redraws = 0
        self.last_delta_total = 0
        self.graphics.scene().sigMouseMoved.connect(self._hover)

    # ---- layout ------------------------------------------------------------

    def _build(self, rows: int, nodes: int, page_group: int) -> None:
        per_node = rows // nodes
        # A block about twice as tall as wide, a power of two pages across
        # (pages per node is a power of two on every preset, so blocks are full).
        cols = 1 << max(0, math.ceil(math.log2(math.sqrt(max(per_node, 2) / 2))))
        while per_node % cols:
            cols //= 2
        block_h = per_node // cols
        grid_cols = math.ceil(math.sqrt(nodes * block_h / cols))  # blocks per row
        grid_cols = min(max(grid_cols, 1), nodes)
        grid_rows = math.ceil(nodes / grid_cols)
        gap_y = max(GAP, block_h // 6)  # room for the next row's node labels
        w = grid_cols * cols + (grid_cols - 1) * GAP
        h = grid_rows * block_h + (grid_rows - 1) * gap_y
        pixel_row = np.full((h, w), rows, np.intp)  # row `rows` is the gap colour
        base = np.zeros((rows, 3), np.float32)  # each page's colour when idle
        colors = theme.node_rgb_table(nodes)
        for label in self._labels:
            self.view.removeItem(label)
        self._labels = []
        self._origins: list[tuple[int, int]] = []
        for n in range(nodes):
            gx, gy = n % grid_cols, n // grid_cols
            x0, y0 = gx * (cols + GAP), gy * (block_h + gap_y)
            self._origins.append((x0, y0))
            idx = np.arange(per_node)
            pixel_row[y0 + idx // cols, x0 + idx % cols] = n * per_node + idx
            base[n * per_node : (n + 1) * per_node] = 0.10 + 0.12 * colors[n]
            label = pg.TextItem(f"node {n}", color=theme.node_color(n), anchor=(0, 1))
            label.setPos(x0, y0)
            self.view.addItem(label)
            self._labels.append(label)
        self._pixel_row = pixel_row
        self._base = base
        bg = theme.BACKGROUND
        self._img = np.empty((h, w, 3), np.uint8)
        self._img[:] = (bg.red(), bg.green(), bg.blue())
        self._colors = colors
        self._page_group = page_group
        self._shape = (rows, nodes, page_group)
        self._block = (per_node, cols, block_h)
        self.view.setRange(xRange=(0, w), yRange=(-gap_y, h), padding=0.02)

    # ---- updates -------------------------------------------------------------

    def update_snapshot(self, snap: Snapshot) -> None:
        misses = snap.miss_counters
        rows, nodes = misses.shape
        if self._shape != (rows, nodes, snap.page_group):
            self._build(rows, nodes, snap.page_group)
            self._prev = None
            self._recent = np.zeros((rows, nodes), np.float32)
            self._glowing = np.zeros(rows, bool)  # pages whose misses still show
            self._rgb = np.clip(self._base * 255, 0, 255).astype(np.uint8)
        assert self._recent is not None and self._base is not None
        assert self._colors is not None
        prev = self._prev
        self._prev = misses
        # Work in proportion to what moved: the pages whose counters changed now,
        # plus those still glowing from before (most of memory is quiet).
        glow = self._glowing
        self.last_delta_total = 0
        if prev is not None:
            differ = _rows_differ(misses, prev)
            changed = np.flatnonzero(differ)
            glow |= differ
        else:
            changed = np.zeros(0, np.intp)
        # A mask, not a set union: flatnonzero gives the active rows sorted for free.
        active = np.flatnonzero(glow)
        recent = self._recent[active]
        recent *= DECAY
        self._recent[active] = recent
        if changed.size and prev is not None:
            now, before = misses[changed], prev[changed]
            delta = np.where(now >= before, now - before, 0)  # a reset counts as nothing
            self._recent[changed] += delta
            self.last_delta_total = int(delta.sum(dtype=np.int64))
            recent = self._recent[active]
        total = recent.sum(axis=1)
        quiet = total <= 0.05
        if quiet.any():
            gone = active[quiet]
            glow[gone] = False
            self._recent[gone] = 0
            self._rgb[gone] = np.clip(self._base[gone] * 255, 0, 255)
            keep = ~quiet
            active, recent, total = active[keep], recent[keep], total[keep]
        if active.size:
            peak = float(total.max())
            # A square-root scale keeps quiet pages visible next to hot ones.
            level = np.sqrt(total * (1.0 / max(peak, 1.0)))[:, None]
            # The colour of the node whose CPUs missed most: an average of
            # several node colours would only be grey.
            hue = self._colors[recent.argmax(axis=1)]
            a = np.minimum(level * 1.5, 1.0)
            lit = hue * (0.35 + 0.65 * level) + level * 0.25
            self._rgb[active] = np.clip((self._base[active] * (1 - a) + lit * a) * 255, 0, 255)
        # A node's pages are consecutive rows, so its block is a reshape of them.
        per_node, cols, block_h = self._block
        img = self._img
        for n, (x0, y0) in enumerate(self._origins):
            img[y0 : y0 + block_h, x0 : x0 + cols] = self._rgb[n * per_node : (n + 1) * per_node
                                                               ].reshape(block_h, cols, 3)
        self.image.setImage(img, autoLevels=False, levels=(0, 255))
        self._snap = snap
        self.redraws += 1

    # ---- hover -------------------------------------------------------------

    def describe(self, row: int) -> str:
        """A page (or page group) as text: address, home node and per-node counts."""
        snap = getattr(self, "_snap", None)
        if snap is None or self._recent is None:
            return ""
        g = self._page_group
        page = row * g
        pa = page * 4096
        if pa >= 0x1F000000:  # RAM above 496 MiB continues at 0x20000000
            pa += 0x01000000
        per_node = self._block[0]
        home = row // per_node
        counts = snap.miss_counters[row]
        recent = self._recent[row]
        what = f"pages {page:#x}-{page + g - 1:#x}" if g > 1 else f"page {page:#x}"
        parts = ", ".join(f"n{n}: {int(c):,}" + (f" (+{recent[n]:.0f})" if recent[n] >= 1 else "")
                          for n, c in enumerate(counts) if c)
        return (f"{what} (pa 0x{pa:08x}), home node {home}; misses by node: "
                f"{parts or 'none'}")

    def row_at(self, scene_pos: QPointF) -> int:
        if self._pixel_row is None:
            return -1
        p = self.view.mapSceneToView(scene_pos)
        x, y = int(math.floor(p.x())), int(math.floor(p.y()))
        h, w = self._pixel_row.shape
        if 0 <= x < w and 0 <= y < h:
            row = int(self._pixel_row[y, x])
            return row if row < self._shape[0] else -1  # type: ignore[index]
        return -1

    def _hover(self, scene_pos: QPointF) -> None:
        row = self.row_at(scene_pos)
        text = self.describe(row) if row >= 0 else "hover over a page"
        self.info.setText(text)
        self.graphics.setToolTip(text if row >= 0 else "")

    def sizeHint(self) -> QSize:
        return QSize(420, 360)

