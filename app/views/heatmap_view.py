"""Page-placement heat map: every RAM page of the machine, grouped by home node.

Each node's memory is a block of pages (row-major, lowest page top left).
Brightness is the page's recent misses (the difference between snapshots of
the fabric's per-page, per-node miss counters, decaying so activity fades
rather than flickers); the hue is the colour of the node whose CPUs took most
of them, so a page lit in its own block's colour is used locally and one in
another colour is used remotely. The ImageItem is created once and fed with
setImage.

With virtual machines (a snapshot with `vms`) the hue is the VM that owns the
machine page (the monitor's memmap through the pmaps) instead, and overlays
mark remote misses (the hue turns red with the share of misses from other
nodes than the page's home), pages that recently migrated or got a replica,
and pages several VMs share. A per-VM view draws one VM's guest-physical
pages, each in the colour of the node its machine page is on, lit by its misses.

By default only the pages in use are drawn ("used pages only"): a page is in use
once a VM owns it or it has missed, and stays so; each node's used pages are packed
in address order into a block sized for the busiest node, so a few MiB of a 32 MiB
node fill the panel instead of a strip. Unticked, every page of every node is drawn.
A legend under the map explains every colour, and a note says when the miss
counters are not being collected (fast mode).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from disco_core.mips import PAGE_SHIFT, PAGE_SIZE, ram_index_to_pfn
from disco_core.session import Snapshot

from .. import theme
from .plots_view import own_menu
from .rgb_image import RgbImageItem

DECAY = 0.8  # fraction of the recent misses kept at each redraw
GAP = 3  # pixels between node blocks
BY_NODE = "machine: hue = node that missed"
BY_VM = "machine: hue = owning VM"
VM_COLS = 64  # guest pages per row in the per-VM view
MIN_CAPACITY = 64  # pages per block at least in the packed layout
FAST_NOTE = ("fast mode: the miss counters are not collected, so pages do not light up "
             "(colours show ownership only); tick \u201ctiming mode\u201d to see misses")


def _swatch(color: np.ndarray | QColor, text: str) -> str:
    """A legend entry: a coloured square and its meaning (rich text)."""
    c = color if isinstance(color, QColor) else QColor.fromRgbF(*[float(v) for v in color])
    return f"<span style='color:{c.name()}'>\u25a0</span>&nbsp;{text}"


def _rows_differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(rows,) bool: rows of two (rows, nodes) uint32 matrices that differ.

    `(a != b).any(axis=1)` reduces over a short axis, which numpy does slowly;
    when a row's flags fill whole 32-bit words, they are read as integers instead.
    """
    neq = a != b
    if neq.shape[1] == 8 and neq.flags.c_contiguous:  # eight nodes: a row is one word
        return neq.view(np.uint64).reshape(neq.shape[0]) != 0
    if neq.shape[1] % 4 == 0 and neq.flags.c_contiguous:
        words = neq.view(np.uint32).reshape(neq.shape[0], -1)
        return words.any(axis=1) if words.shape[1] > 1 else words[:, 0] != 0
    return neq.any(axis=1)


class HeatmapView(QWidget):
    # Who wrote this page...: a whowrote_dialog.Query for the page picked (a machine
    # page, or in a per-VM view a guest-physical page of that VM)
    who_wrote_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("heatmap")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.mode = QComboBox()
        self.mode.setObjectName("heatmap-mode")
        self.mode.addItem(BY_NODE)
        self.mode.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mode.setMinimumContentsLength(14)
        self.mode.currentIndexChanged.connect(self._mode_changed)
        bar.addWidget(self.mode, 1)
        self.overlays: dict[str, QCheckBox] = {}
        for key, text, tip in (
                ("remote", "remote misses", "red: the share of a page's misses from nodes "
                 "other than its home"),
                ("moved", "migrations/replicas", "yellow: pages that migrated or got a "
                 "replica in the last seconds"),
                ("shared", "shared", "white: machine pages several VMs share (copy-on-write)")):
            box = QCheckBox(text)
            box.setObjectName(f"overlay-{key}")
            box.setToolTip(tip)
            box.setChecked(True)
            box.toggled.connect(self._overlay_changed)
            bar.addWidget(box)
            self.overlays[key] = box
        for box in self.overlays.values():
            box.hide()  # only with virtual machines
        self.packed = QCheckBox("used pages only")
        self.packed.setObjectName("heatmap-packed")
        self.packed.setToolTip("draw only the pages in use, packed in address order per node "
                               "(untick for every page of every node)")
        self.packed.setChecked(True)
        self.packed.toggled.connect(self._packing_changed)
        bar.addWidget(self.packed)
        self._bar = QWidget()
        self._bar.setLayout(bar)
        bar.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self._bar)
        self.note = QLabel(FAST_NOTE)
        self.note.setObjectName("heatmap-note")
        self.note.setWordWrap(True)
        self.note.setStyleSheet(f"color: {theme.STATE_WAITING.name()}; padding: 2px 6px;")
        self.note.hide()
        layout.addWidget(self.note)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(theme.BACKGROUND)
        self.view = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.view.setMenuEnabled(False)
        own_menu(self.view, self)
        self.image = RgbImageItem()
        self.view.addItem(self.image)
        layout.addWidget(self.graphics, 1)
        self.legend = QLabel()
        self.legend.setObjectName("heatmap-legend")
        self.legend.setWordWrap(True)
        self.legend.setStyleSheet(f"color: {theme.TEXT_DIM.name()}; padding: 2px 6px;")
        layout.addWidget(self.legend)
        self.info = QLabel("hover over a page")
        self.info.setObjectName("heatmap-info")
        # Hover texts are long: they must not widen the panel (and move the splitter);
        # what does not fit is cut, and the tooltip has it whole.
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumSize(320, 240)
        self.info.setStyleSheet(f"color: {theme.TEXT_DIM.name()}; padding: 2px 6px;")
        info_row = QHBoxLayout()
        info_row.setContentsMargins(0, 0, 0, 0)
        info_row.addWidget(self.info, 1)
        # A click picks a page (its details stay); then who wrote it can be asked.
        self.who_button = QPushButton("Who wrote this page\u2026")
        self.who_button.setObjectName("heatmap-who-wrote")
        self.who_button.setToolTip("click a page first: every write to it over the recording")
        self.who_button.setEnabled(False)
        self.who_button.clicked.connect(self.ask_who_wrote)
        info_row.addWidget(self.who_button)
        layout.addLayout(info_row)
        self.picked: int | None = None  # the page row clicked last
        self.picked_guest: tuple[int, int] | None = None  # or (VM, guest page) per VM
        self._shape: tuple[int, int, int] | None = None
        self._prev: np.ndarray | None = None
        self._recent: np.ndarray | None = None
        self._pixel_row: np.ndarray | None = None  # image pixel -> miss-matrix row (or gap)
        self._labels: list[pg.TextItem] = []
        # each page's idle colour, (rows, 3) float; the node colouring's kept apart
        self._base = np.zeros((0, 3), np.float32)
        self._node_base = self._base
        self._colors: np.ndarray | None = None
        self._page_group = 1
        self.redraws = 0
        self.last_delta_total = 0
        self._vm_names: tuple[str, ...] = ()
        self._owner: np.ndarray | None = None
        self._overlay_key: tuple[bool, ...] = ()
        self._vm_view: int | None = None  # the VM the per-VM view shows
        self._vm_shape: tuple[int, int] | None = None
        self._used = np.zeros(0, bool)  # pages in use so far (sticky)
        self._row_pixel = np.zeros(0, np.intp)  # page row -> flat image pixel, -1 not drawn
        self._shown = np.zeros(0, np.intp)  # the rows drawn, and their pixels
        self._shown_pixel = np.zeros(0, np.intp)
        self._per_node = 1
        self._capacity = 0
        self._nodes = 0
        self.graphics.scene().sigMouseMoved.connect(self._hover)
        self.graphics.scene().sigMouseClicked.connect(self._clicked)

    # ---- layout ------------------------------------------------------------

    def _build(self, rows: int, nodes: int, page_group: int) -> None:
        """Per-page state for a machine shape; the geometry is `_layout`'s."""
        per_node = rows // nodes
        base = np.zeros((rows, 3), np.float32)  # each page's colour when idle
        colors = theme.node_rgb_table(nodes)
        for n in range(nodes):
            base[n * per_node : (n + 1) * per_node] = 0.10 + 0.12 * colors[n]
        self._base = base
        self._colors = colors
        self._page_group = page_group
        self._shape = (rows, nodes, page_group)
        self._per_node = per_node
        self._nodes = nodes
        self._used = np.zeros(rows, bool)
        self._capacity = 0
        self._layout()

    def _layout(self) -> None:
        """Place each node's drawn pages in a block: every page, or the used ones packed
        in address order into a block sized for the busiest node (rounded up to a power
        of two, so the geometry changes rarely while memory fills)."""
        assert self._shape is not None
        rows, nodes, _g = self._shape
        per_node = self._per_node
        packed = self.packed.isChecked()
        drawn = []
        for n in range(nodes):
            lo = n * per_node
            if packed:
                drawn.append(lo + np.flatnonzero(self._used[lo : lo + per_node]))
            else:
                drawn.append(np.arange(lo, lo + per_node))
        busiest = max(len(d) for d in drawn)
        # Packed, the nodes nothing uses yet are named, not drawn: their room goes
        # to the pages that are.
        placed = [n for n in range(nodes) if len(drawn[n]) or not packed or not busiest]
        idle = [n for n in range(nodes) if n not in placed]
        capacity = per_node
        if packed:
            capacity = min(per_node, 1 << max(0, math.ceil(math.log2(max(busiest,
                                                                         MIN_CAPACITY)))))
        cols, block_h, grid_cols, gap, gap_y = self._fit(capacity, len(placed), bool(idle))
        grid_rows = math.ceil(len(placed) / grid_cols)
        w = grid_cols * cols + (grid_cols - 1) * gap
        h = grid_rows * block_h + (grid_rows - 1) * gap_y
        pixel_row = np.full((h, w), rows, np.intp)  # row `rows` is the gap colour
        row_pixel = np.full(rows, -1, np.intp)
        for label in self._labels:
            self.view.removeItem(label)
        self._labels = []
        self._origins: dict[int, tuple[int, int]] = {}
        by_vm = bool(self._vm_names)  # node labels neutral when hue means the VM
        for i, n in enumerate(placed):
            gx, gy = i % grid_cols, i // grid_cols
            x0, y0 = gx * (cols + gap), gy * (block_h + gap_y)
            self._origins[n] = (x0, y0)
            k = np.arange(len(drawn[n]))
            ys, xs = y0 + k // cols, x0 + k % cols
            pixel_row[ys, xs] = drawn[n]
            row_pixel[drawn[n]] = ys * w + xs
            text = f"node {n}"
            if packed:
                used = len(drawn[n]) * self._page_group * 4  # KiB
                text += f" \u00b7 {used / 1024:.1f} MiB" if len(drawn[n]) else ""
            self._add_label(text, theme.TEXT if by_vm else theme.node_color(n), x0, y0)
        if idle:
            names = ", ".join(str(n) for n in idle)
            self._add_label(f"node{'s' if len(idle) > 1 else ''} {names}: no pages in use",
                            theme.TEXT_DIM, 0, h + gap_y, anchor=(0, 1))
        self._pixel_row = pixel_row
        self._row_pixel = row_pixel
        self._shown = np.flatnonzero(row_pixel >= 0)
        self._shown_pixel = row_pixel[self._shown]
        self._capacity = capacity
        self._drawn_used = int(self._used.sum())
        bg = theme.BACKGROUND
        self._img = np.empty((h, w, 3), np.uint8)
        self._img[:] = (bg.red(), bg.green(), bg.blue())
        slot = (np.array([bg.red(), bg.green(), bg.blue()]) * 1.35 + 6).astype(np.uint8)
        for x0, y0 in self._origins.values():  # a block's free slots, a shade off the gaps
            self._img[y0 : y0 + block_h, x0 : x0 + cols] = slot
        self._block = (per_node, cols, block_h)
        self._machine_range = ((0, w), (-gap_y, h + (gap_y if idle else 0)))
        if self._vm_view is None:
            xr, yr = self._machine_range
            self.view.setRange(xRange=xr, yRange=yr, padding=0.02)

    def _fit(self, capacity: int, blocks: int, idle: bool) -> tuple[int, int, int, int, int]:
        """The block shape (a power of two pages across) and blocks per row that make
        pages largest in the panel, with room in screen pixels for the labels above
        each row of blocks: (cols, block height, grid columns, gaps x and y in pages)."""
        rect = self.view.boundingRect()
        width = max(rect.width() if rect.width() > 50 else self.graphics.width(), 100) * 0.96
        height = max(rect.height() if rect.height() > 50 else self.graphics.height(), 80) * 0.96
        label_px, gap_px = 20.0, 10.0
        best: tuple[float, tuple[int, int, int]] | None = None
        for shift in range(0, 12):
            cols = 1 << shift
            if cols > capacity:
                break
            block_h = math.ceil(capacity / cols)
            if not 1 / 8 <= block_h / cols <= 8:
                continue
            for grid_cols in range(1, blocks + 1):
                grid_rows = math.ceil(blocks / grid_cols)
                across = (width - (grid_cols - 1) * gap_px) / (grid_cols * cols)
                down = (height - (grid_rows + idle) * label_px) / (grid_rows * block_h)
                scale = min(across, down)
                if best is None or scale > best[0]:
                    best = (scale, (cols, block_h, grid_cols))
        assert best is not None
        scale, (cols, block_h, grid_cols) = best
        scale = max(scale, 0.25)
        return (cols, block_h, grid_cols, max(1, math.ceil(gap_px / scale)),
                max(1, math.ceil(label_px / scale)))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if self._shape is not None:
            self._layout()  # the best packing depends on the panel's shape
            snap = getattr(self, "_snap", None)
            if snap is not None:
                self.update_snapshot(snap, redraw_only=True)

    def _add_label(self, text: str, color: QColor, x: float, y: float,
                   anchor: tuple[float, float] = (0, 1)) -> None:
        label = pg.TextItem(text, color=color, anchor=anchor)
        label.setPos(x, y)
        label.setVisible(self._vm_view is None)
        self.view.addItem(label)
        self._labels.append(label)

    def _packing_changed(self, _on: bool) -> None:
        if self._shape is not None:
            self._layout()
            self._update_legend()
            snap = getattr(self, "_snap", None)
            if snap is not None:
                self.update_snapshot(snap, redraw_only=True)

    def page_pixels(self) -> float:
        """How many screen pixels a page is wide at the current size (tests)."""
        size = self.view.viewPixelSize()
        return 1.0 / size[0] if size[0] > 0 else 0.0

    def _update_legend(self) -> None:
        """Every colour the map can show, and what it means, for the current mode."""
        bg = QColor(theme.BACKGROUND)
        slot = QColor(min(255, int(bg.red() * 1.35 + 6)), min(255, int(bg.green() * 1.35 + 6)),
                      min(255, int(bg.blue() * 1.35 + 6)))
        nodes = self._nodes
        entries: list[str] = []
        if self._vm_view is not None:
            entries.append("hue = the node holding the guest page:")
            entries += [_swatch(theme.node_color(n), f"node {n}") for n in range(nodes)]
            entries.append("brighter = more recent misses (\u221a scale)")
            entries.append(_swatch(bg, "not allocated yet"))
        elif self.by_vm:
            table = theme.vm_rgb_table(len(self._vm_names))
            entries.append("owner (dim when idle, bright with recent misses, \u221a scale):")
            entries += [_swatch(table[i], name) for i, name in enumerate(self._vm_names)]
            shared = self.overlays["shared"].isChecked()
            entries.append(_swatch(np.full(3, 0.45 if shared else 0.2, np.float32),
                                   "shared by several VMs (copy-on-write)"))
            entries.append(_swatch(np.full(3, 0.07, np.float32), "free (no VM owns it)"))
            entries.append(_swatch(theme.UNOWNED, "no VM's page, yet missed on (the "
                                                  "monitor's own data, pages just freed)"))
            if self.overlays["remote"].isChecked():
                entries.append(_swatch(theme.REMOTE, "reddening = share of misses from "
                                                     "other nodes than the page's home"))
            if self.overlays["moved"].isChecked():
                entries.append(_swatch(theme.MOVED, "migrated or replicated just now"))
        else:
            entries.append("hue = the node whose CPUs missed most on the page:")
            entries += [_swatch(theme.node_color(n), f"node {n}") for n in range(nodes)]
            entries.append("dim tint = the page's home node, no recent misses; "
                           "brighter = more misses (\u221a scale)")
        if self._vm_view is None and self.packed.isChecked():
            entries.append(_swatch(slot, "room for pages not used yet"))
        entries.append(_swatch(bg, "gap between nodes"))
        self.legend.setText(" &nbsp; ".join(entries))

    # ---- modes -----------------------------------------------------------------

    def _set_vms(self, names: tuple[str, ...]) -> None:
        self._vm_names = names
        self.mode.blockSignals(True)
        self.mode.clear()
        self.mode.addItems([BY_VM, BY_NODE] + [f"{n}: guest pages, hue = node of the machine page"
                                              for n in names])
        self.mode.blockSignals(False)
        for box in self.overlays.values():
            box.show()
        self._owner = None
        if self._shape is not None:
            self._layout()  # node labels turn neutral
        self._update_legend()

    @property
    def by_vm(self) -> bool:
        return bool(self._vm_names) and self.mode.currentText() == BY_VM

    def _mode_changed(self, index: int) -> None:
        self.picked = self.picked_guest = None
        self.who_button.setEnabled(False)
        self._vm_view = index - 2 if self._vm_names and index >= 2 else None
        self._owner = None  # recolour every page at the next redraw
        self._vm_shape = None
        for label in self._labels:
            label.setVisible(self._vm_view is None)
        if self._recent is not None and self._shape is not None:
            self._rgb = np.clip(self._base * 255, 0, 255).astype(np.uint8)
            self._glowing[:] = True
            if self._vm_view is None:
                xr, yr = self._machine_range
                self.view.setRange(xRange=xr, yRange=yr, padding=0.02)
        self._update_legend()
        snap = getattr(self, "_snap", None)
        if snap is not None:
            self.update_snapshot(snap, redraw_only=True)

    def _overlay_changed(self, _on: bool) -> None:
        self._owner = None
        self._update_legend()
        snap = getattr(self, "_snap", None)
        if snap is not None and self._recent is not None:
            self._glowing[:] = True
            self.update_snapshot(snap, redraw_only=True)

    def _vm_base(self, snap: Snapshot) -> None:
        """Each page's idle colour: its owner's, dim; shared pages light; free ones dark.
        Only pages whose owner changed are recoloured (allocation goes on all the time)."""
        vms = snap.vms
        assert vms is not None and self._colors is not None
        owner = vms.page_owner.astype(np.int64)
        if len(owner) == len(self._used):
            self._used |= owner != -1
        key = tuple(box.isChecked() for box in self.overlays.values())
        rows = len(owner)
        if (self._owner is not None and self._overlay_key == key and len(self._owner) == rows
                and self._base is not self._node_base):
            changed = np.flatnonzero(owner != self._owner)
            if not changed.size:
                return
        else:
            changed = np.arange(rows)
            self._base = self._base.copy()
        table = theme.vm_rgb_table(len(vms.names))
        own = owner[changed]
        base = np.full((len(changed), 3), 0.07, np.float32)
        mine = own >= 0
        base[mine] = 0.08 + 0.30 * table[own[mine]]
        base[own == -2] = 0.45 if self.overlays["shared"].isChecked() else 0.2
        self._base[changed] = base
        self._owner = owner
        self._overlay_key = key
        self._vm_table = table
        self._rgb[changed] = np.clip(base * 255, 0, 255)
        self._glowing[changed] = True

    # ---- updates -------------------------------------------------------------

    def update_snapshot(self, snap: Snapshot, redraw_only: bool = False) -> None:
        misses = snap.miss_counters
        rows, nodes = misses.shape
        if snap.vms is not None and snap.vms.names != self._vm_names:
            self._set_vms(snap.vms.names)
        if self._shape != (rows, nodes, snap.page_group):
            self._build(rows, nodes, snap.page_group)
            self._prev = None
            self._recent = np.zeros((rows, nodes), np.float32)
            self._glowing = np.zeros(rows, bool)  # pages whose misses still show
            self._rgb = np.clip(self._base * 255, 0, 255).astype(np.uint8)
            self._node_base = self._base
            self._owner = None
            self._used |= _rows_differ(misses, np.zeros_like(misses))
            self._update_legend()
        assert self._recent is not None
        self.note.setVisible(not snap.timing)
        assert self._colors is not None
        if self.by_vm:
            self._vm_base(snap)
        elif self._base is not self._node_base:
            self._base = self._node_base
            self._rgb = np.clip(self._base * 255, 0, 255).astype(np.uint8)
        if redraw_only:
            misses = self._prev if self._prev is not None else misses
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
            self._used |= differ
        else:
            changed = np.zeros(0, np.intp)
        # A mask, not a set union: flatnonzero gives the active rows sorted for free.
        active = np.flatnonzero(glow)
        recent = self._recent[active]
        recent *= DECAY
        self._recent[active] = recent
        if changed.size and prev is not None:
            now, before = misses[changed], prev[changed]
            # the NUMA manager resets the counters periodically: after a reset, what the
            # counter holds now is what was missed since (a lower bound)
            delta = np.where(now >= before, now - before, now)
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
            if self.by_vm:
                # The owning VM's colour, turning red with the share of remote misses.
                assert self._owner is not None  # _vm_base set it
                own = self._owner[active]
                hue = np.where((own >= 0)[:, None], self._vm_table[np.maximum(own, 0)],
                               np.where((own == -2)[:, None], theme.rgb(theme.SHARED),
                                        theme.rgb(theme.UNOWNED)))
                if self.overlays["remote"].isChecked():
                    per_node = rows // nodes
                    home = active // per_node
                    far = 1.0 - recent[np.arange(len(active)), home] / np.maximum(total, 1e-6)
                    far = np.clip(far, 0.0, 1.0)[:, None]
                    hue = hue * (1 - far) + theme.rgb(theme.REMOTE) * far
            else:
                # The colour of the node whose CPUs missed most: an average of
                # several node colours would only be grey.
                hue = self._colors[recent.argmax(axis=1)]
            a = np.minimum(level * 1.5, 1.0)
            lit = hue * (0.35 + 0.65 * level) + level * 0.25
            self._rgb[active] = np.clip((self._base[active] * (1 - a) + lit * a) * 255, 0, 255)
        self._snap = snap
        self.redraws += 1
        if self._vm_view is not None and snap.vms is not None:
            self._draw_vm(snap, self._vm_view)
            return
        if self.packed.isChecked() and int(self._used.sum()) != self._drawn_used:
            self._layout()  # pages came into use: pack them in
        img = self._img
        flat = img.reshape(-1, 3)
        flat[self._shown_pixel] = self._rgb[self._shown]
        if self.by_vm and snap.vms is not None and self.overlays["moved"].isChecked():
            moved = snap.vms.moved // snap.page_group
            moved = moved[(moved >= 0) & (moved < rows)]
            pixels = self._row_pixel[moved]
            pixels = pixels[pixels >= 0]
            if pixels.size:
                flat[pixels] = (np.array(theme.rgb(theme.MOVED)) * 255).astype(np.uint8)
        self.image.setImage(img)

    def _draw_vm(self, snap: Snapshot, vm: int) -> None:
        """One VM's guest pages: the hue of the node holding each, lit by its misses."""
        vms = snap.vms
        assert vms is not None and self._recent is not None and self._colors is not None
        rows = vms.pmap_rows[vm]
        n = len(rows)
        h = (n + VM_COLS - 1) // VM_COLS
        if self._vm_shape != (n, h):
            self._vm_shape = (n, h)
            self.view.setRange(xRange=(0, VM_COLS), yRange=(0, h), padding=0.02)
        per_node = self._per_node * self._page_group
        bg = theme.BACKGROUND
        img = np.empty((h * VM_COLS, 3), np.float32)
        img[:] = (bg.redF(), bg.greenF(), bg.blueF())
        have = np.flatnonzero(rows >= 0)
        r = rows[have]
        node = r // per_node
        heat = self._recent[r // self._page_group].sum(axis=1)
        peak = max(float(heat.max()) if heat.size else 0.0, 1.0)
        level = np.sqrt(heat / peak)[:, None]
        img[have] = self._colors[node] * (0.35 + 0.65 * level) + 0.25 * level
        self.image.setImage((np.clip(img, 0, 1) * 255).astype(np.uint8).reshape(h, VM_COLS, 3),
                            autoLevels=False)

    # ---- hover -------------------------------------------------------------

    def describe_guest_page(self, vm: int, gpn: int) -> str:
        """The per-VM view's page: guest PA, machine page, node, misses."""
        snap = getattr(self, "_snap", None)
        if snap is None or snap.vms is None or self._recent is None:
            return ""
        rows = snap.vms.pmap_rows[vm]
        if not 0 <= gpn < len(rows):
            return ""
        name = snap.vms.names[vm]
        if rows[gpn] < 0:
            return f"{name} guest PA 0x{gpn << 12:08x}: not allocated yet"
        return f"{name} guest PA 0x{gpn << 12:08x} → " + self.describe(
            int(rows[gpn]) // self._page_group)

    def describe(self, row: int) -> str:
        """A page (or page group) as text: address, home node and per-node counts."""
        snap = getattr(self, "_snap", None)
        if snap is None or self._recent is None:
            return ""
        g = self._page_group
        page = row * g
        pa = ram_index_to_pfn(page) << PAGE_SHIFT  # RAM above the device window moves up
        home = row // self._per_node
        counts = snap.miss_counters[row]
        recent = self._recent[row]
        what = f"pages {page:#x}-{page + g - 1:#x}" if g > 1 else f"page {page:#x}"
        parts = ", ".join(f"n{n}: {int(c):,}" + (f" (+{recent[n]:.0f})" if recent[n] >= 1 else "")
                          for n, c in enumerate(counts) if c)
        users = ""
        if snap.vms is not None:
            found = []
            for i, rows in enumerate(snap.vms.pmap_rows):
                for gpn in np.flatnonzero(rows // g == row)[:4]:
                    found.append(f"{snap.vms.names[i]} PA 0x{int(gpn) << 12:08x}")
            users = ("; used by " + ", ".join(found) + (" (shared)" if len(found) > 1 else "")
                     if found else "; free")
        return (f"{what} (pa 0x{pa:08x}), home node {home}{users}; misses by node: "
                f"{parts or 'none'}")

    def row_at(self, scene_pos: QPointF) -> int:
        if self._pixel_row is None or self._shape is None or self._vm_view is not None:
            return -1
        p = self.view.mapSceneToView(scene_pos)
        x, y = int(math.floor(p.x())), int(math.floor(p.y()))
        h, w = self._pixel_row.shape
        if 0 <= x < w and 0 <= y < h:
            row = int(self._pixel_row[y, x])
            return row if row < self._shape[0] else -1
        return -1

    def _hover(self, scene_pos: QPointF) -> None:
        if self._vm_view is not None and self._vm_shape is not None:
            p = self.view.mapSceneToView(scene_pos)
            x, y = int(math.floor(p.x())), int(math.floor(p.y()))
            inside = 0 <= x < VM_COLS and 0 <= y < self._vm_shape[1]
            text = self.describe_guest_page(self._vm_view, y * VM_COLS + x) if inside else ""
            self.info.setText(text or "hover over a guest page")
            self.graphics.setToolTip(text)
            return
        row = self.row_at(scene_pos)
        text = self.describe(row) if row >= 0 else "hover over a page"
        self.info.setText(text)
        self.graphics.setToolTip(text if row >= 0 else "")

    def pick_guest(self, vm: int, gpn: int) -> None:
        """In a per-VM view: keep guest page `gpn`'s details shown and offer who wrote it."""
        text = self.describe_guest_page(vm, gpn)
        self.picked, self.picked_guest = None, (vm, gpn) if text else None
        self.who_button.setEnabled(self.picked_guest is not None)
        if text:
            self.info.setText(f"picked: {text}")
            self.who_button.setToolTip(f"every write to the picked guest page over the "
                                       f"recording: {text}")

    def pick(self, row: int) -> None:
        """Keep `row`'s details shown and offer who wrote it."""
        self.picked_guest = None
        self.picked = row if row >= 0 else None
        self.who_button.setEnabled(self.picked is not None)
        if self.picked is not None:
            text = self.describe(row)
            self.info.setText(f"picked: {text}")
            self.who_button.setToolTip(f"every write to the picked page over the recording: "
                                       f"{text}")

    def machine_address(self, row: int) -> int:
        """The machine address of the first page of `row`."""
        return ram_index_to_pfn(row * self._page_group) << PAGE_SHIFT

    def ask_who_wrote(self) -> None:
        from .whowrote_dialog import Query

        if self.picked is not None:
            self.who_wrote_requested.emit(Query(self.machine_address(self.picked),
                                                PAGE_SIZE, "ma"))
        elif self.picked_guest is not None:
            vm, gpn = self.picked_guest
            self.who_wrote_requested.emit(Query(gpn << PAGE_SHIFT, PAGE_SIZE, "gpa",
                                                self._vm_names[vm]))

    def _clicked(self, event: object) -> None:
        scene_pos = event.scenePos()  # type: ignore[attr-defined]
        if self._vm_view is not None and self._vm_shape is not None:
            p = self.view.mapSceneToView(scene_pos)
            x, y = int(math.floor(p.x())), int(math.floor(p.y()))
            if not (0 <= x < VM_COLS and 0 <= y < self._vm_shape[1]):
                return
            self.pick_guest(self._vm_view, y * VM_COLS + x)
            if self.picked_guest is None:
                return
        else:
            row = self.row_at(scene_pos)
            if row < 0:
                return
            self.pick(row)
        if event.button() == Qt.MouseButton.RightButton:  # type: ignore[attr-defined]
            menu = QMenu(self)
            menu.addAction("Who wrote this page\u2026", self.ask_who_wrote)
            menu.exec(event.screenPos().toPoint())  # type: ignore[attr-defined]
            menu.deleteLater()

    def sizeHint(self) -> QSize:
        return QSize(420, 360)

