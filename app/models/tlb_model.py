"""The hardware TLB of one CPU as a lazy table model over a snapshot's array.

As spyder's ArrayModel: rows are handed to the view in batches
(canFetchMore/fetchMore) and cells are formatted only when Qt asks for them,
so a view shows a big table without formatting it all.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

ROWS_TO_LOAD = 32
COLUMNS = ("VPN2", "ASID", "PageMask", "PFN0", "flags0", "PFN1", "flags1")

Index = QModelIndex | QPersistentModelIndex


def lo_flags(lo: int) -> str:
    """EntryLo's C, D, V, G fields as text (MIPS32 PRA, EntryLo)."""
    c = (lo >> 3) & 7
    return (f"C{c} " + ("D" if lo & 4 else "-") + ("V" if lo & 2 else "-")
            + ("G" if lo & 1 else "-"))


class TlbModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self._tlb = np.zeros((0, 4), np.uint32)
        self._loaded = 0

    def set_tlb(self, tlb: np.ndarray) -> None:
        """Show a new (entries, 4) array: EntryHi, EntryLo0, EntryLo1, PageMask."""
        if tlb.shape == self._tlb.shape:
            changed = np.nonzero((tlb != self._tlb).any(axis=1))[0]
            self._tlb = tlb
            if len(changed):
                first, last = int(changed[0]), int(changed[-1])
                if first < self._loaded:
                    self.dataChanged.emit(self.index(first, 0),
                                          self.index(min(last, self._loaded - 1),
                                                     len(COLUMNS) - 1))
            return
        self.beginResetModel()
        self._tlb = tlb
        self._loaded = min(ROWS_TO_LOAD, len(tlb))
        self.endResetModel()

    # ---- lazy loading --------------------------------------------------------

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return self._loaded < len(self._tlb)

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        more = min(ROWS_TO_LOAD, len(self._tlb) - self._loaded)
        if more <= 0:
            return
        self.beginInsertRows(QModelIndex(), self._loaded, self._loaded + more - 1)
        self._loaded += more
        self.endInsertRows()

    # ---- the table -----------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._loaded

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return str(section)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= self._loaded:
            return None
        hi, lo0, lo1, mask = (int(v) for v in self._tlb[index.row()])
        valid = (lo0 | lo1) & 2
        if role == Qt.ItemDataRole.ForegroundRole:
            return None if valid else QColor("#6b7680")
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        col = index.column()
        if col == 0:
            return f"0x{hi & 0xFFFFE000:08x}"
        if col == 1:
            return str(hi & 0xFF)
        if col == 2:
            return f"0x{mask:08x}"
        if col == 3:
            return f"0x{(lo0 >> 6) & 0xFFFFF:05x}"
        if col == 4:
            return lo_flags(lo0)
        if col == 5:
            return f"0x{(lo1 >> 6) & 0xFFFFF:05x}"
        return lo_flags(lo1)

    def entries(self) -> int:
        return len(self._tlb)
