"""Lazy table models over a snapshot's arrays: the hardware TLB, a vCPU's L2TLB,
a VM's pmap.

As spyder's ArrayModel: rows reach the view in batches (canFetchMore/fetchMore)
and a cell is formatted only when Qt asks for it, so a pmap of 8192 guest pages
costs nothing until it is scrolled through. A new array of the same shape only
repaints the rows that changed; another shape resets the model.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from disco_core.mips import LO_C_SHIFT, LO_D, LO_G, LO_V, PAGE_SHIFT, lo_pfn
from disco_core.monitor.l2tlb import GLOBAL

ROWS_TO_LOAD = 256
Index = QModelIndex | QPersistentModelIndex
DIM = QColor("#6b7680")

# formats one cell: (row number, the row's values, column) -> text
Cell = Callable[[int, np.ndarray, int], str]


def lo_flags(lo: int) -> str:
    """EntryLo's C, D, V, G fields as text (MIPS32 PRA, EntryLo)."""
    c = (lo >> LO_C_SHIFT) & 7
    return (f"C{c} " + ("D" if lo & LO_D else "-") + ("V" if lo & LO_V else "-")
            + ("G" if lo & LO_G else "-"))


class ArrayTableModel(QAbstractTableModel):
    """Rows of an array: `cell` formats a cell, rows that `live` rejects are dimmed,
    `batch` rows load at a time; `row_numbers` labels the rows with their index."""

    def __init__(self, columns: tuple[str, ...], cell: Cell,
                 live: Callable[[np.ndarray], bool] = lambda values: True,
                 batch: int = ROWS_TO_LOAD, row_numbers: bool = False) -> None:
        super().__init__()
        self.columns = columns
        self.cell = cell
        self.live = live
        self.batch = batch
        self.row_numbers = row_numbers
        self._rows = np.zeros((0, len(columns)), np.int64)
        self._loaded = 0

    def set_rows(self, rows: np.ndarray) -> None:
        if rows.ndim == 1:
            rows = rows[:, None]
        if rows.shape == self._rows.shape:
            differ = np.flatnonzero((rows != self._rows).any(axis=1))
            self._rows = rows
            if differ.size and int(differ[0]) < self._loaded:
                self.dataChanged.emit(self.index(int(differ[0]), 0),
                                      self.index(min(int(differ[-1]), self._loaded - 1),
                                                 len(self.columns) - 1))
            return
        self.beginResetModel()
        self._rows = rows
        self._loaded = min(self.batch, len(rows))
        self.endResetModel()

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return self._loaded < len(self._rows)

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        more = min(self.batch, len(self._rows) - self._loaded)
        if more <= 0:
            return
        self.beginInsertRows(QModelIndex(), self._loaded, self._loaded + more - 1)
        self._loaded += more
        self.endInsertRows()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._loaded

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self.columns[section]
        return str(section) if self.row_numbers else None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= self._loaded:
            return None
        values = self._rows[index.row()]
        if role == Qt.ItemDataRole.ForegroundRole:
            return None if self.live(values) else DIM
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        return self.cell(index.row(), values, index.column())

    def total(self) -> int:
        return len(self._rows)


def _l2tlb_cell(row: int, values: np.ndarray, column: int) -> str:
    vpn, asid, lo, gpn = (int(v) for v in values)
    if column == 0:
        return f"0x{vpn << PAGE_SHIFT:08x}"
    if column == 1:
        return "global" if asid == GLOBAL else str(asid)
    if column == 2:
        return f"0x{gpn << PAGE_SHIFT:08x}"
    if column == 3:
        return f"0x{lo_pfn(lo) << PAGE_SHIFT:08x}"
    return lo_flags(lo)


class L2TlbModel(ArrayTableModel):
    """A vCPU's L2TLB: (virtual page, ASID) -> machine EntryLo, and the guest page."""

    def __init__(self) -> None:
        super().__init__(("VA", "ASID", "guest PA", "machine PA", "flags"), _l2tlb_cell)


class PmapModel(ArrayTableModel):
    """A VM's pmap: guest page -> machine page and its node (unallocated pages dimmed)."""

    def __init__(self, node_of: Callable[[int], int] | None = None) -> None:
        super().__init__(("guest PA", "machine PA", "node"), self._cell,
                         live=lambda values: int(values[0]) >= 0)
        self.node_of = node_of or (lambda mpn: -1)

    def _cell(self, row: int, values: np.ndarray, column: int) -> str:
        mpn = int(values[0])
        if column == 0:
            return f"0x{row << PAGE_SHIFT:08x}"
        if mpn < 0:
            return "-"
        if column == 1:
            return f"0x{mpn << PAGE_SHIFT:08x}"
        return str(self.node_of(mpn))
