"""The call stack of the chosen CPU or vCPU: one row per frame (walked by the session with
the program's DWARF call-frame information, disco_core/session/callstack.py), innermost
first. A click on a frame shows its code in the disassembly and its line in the source
pane (`frame_chosen`); the next stop shows frame 0 again."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QWidget

from disco_core.session import Frame, Snapshot

from .common import ROW_HEIGHT, mono, set_cell

HEADERS = ["#", "function", "source", "pc", "sp"]


class CallStackView(QTableWidget):
    frame_chosen = Signal(object)  # the Frame clicked (frame 0: back to pc)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frames: tuple[Frame, ...] = ()
        self._shown: tuple[object, ...] | None = None
        self.setObjectName("callstack")
        self.setColumnCount(len(HEADERS))
        self.setHorizontalHeaderLabels(HEADERS)
        self.setFont(mono())
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.setMinimumHeight(4 * ROW_HEIGHT + 10)  # the header and three frames
        self.cellClicked.connect(lambda row, _col: self.choose(row))

    def update_snapshot(self, snap: Snapshot) -> None:
        frames = () if snap.running else snap.debug.frames
        key = (frames, snap.running)
        if key == self._shown:
            return
        self._shown = key
        self.frames = frames
        self.clearSpans()
        self.setRowCount(max(len(frames), 1))
        if not frames:
            for c in range(len(HEADERS)):
                set_cell(self, 0, c, "", False)
            set_cell(self, 0, 0, "running: walked at the next stop" if snap.running
                     else "(no frames)", False)
            self.setSpan(0, 0, 1, len(HEADERS))  # one line across, not a squeezed column
            return
        for r, f in enumerate(frames):
            set_cell(self, r, 0, str(f.level), False)
            set_cell(self, r, 1, f.describe(), False)
            set_cell(self, r, 2, f.source(), False)
            set_cell(self, r, 3, f"{f.pc:08x}", False)
            set_cell(self, r, 4, f"{f.sp:08x}", False)
            for c in range(len(HEADERS)):
                item = self.item(r, c)
                if item is not None:
                    item.setToolTip(f.note or f"frame {f.level}: {f.describe()} "
                                    f"{f.source()}".strip())
        self.selectRow(0)

    def choose(self, row: int) -> None:
        """Show frame `row` in the disassembly and the source pane."""
        if 0 <= row < len(self.frames):
            self.selectRow(row)
            self.frame_chosen.emit(self.frames[row])
