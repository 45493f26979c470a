"""The memory view: 256 bytes at an address or symbol; with VMs in a chosen address space."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from disco_core.session import MEMORY_SPACES, Focus, Snapshot

from .common import Symbols, mono, target_of


class MemoryView(QWidget):
    """`current()` is the chosen target; `said` carries a message for the status line."""

    commanded = Signal(object)  # a session Command
    said = Signal(str)
    # Who wrote this...: (address, length, the view's address space or None)
    who_wrote = Signal(object, int, object)

    def __init__(self, symbols: Symbols, current: Callable[[], int],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.symbols = symbols
        self._current = current
        self.spaces = False  # with VMs: the address space is the user's choice
        ml = QVBoxLayout(self)
        ml.setContentsMargins(0, 0, 0, 0)
        self.mem_addr = QLineEdit()
        self.mem_addr.setObjectName("memory-address")
        self.mem_addr.setPlaceholderText("address or symbol, Enter to show")
        self.mem_addr.returnPressed.connect(self._show_at)
        mrow = QHBoxLayout()
        mrow.addWidget(self.mem_addr, 1)
        self.mem_space = QComboBox()
        self.mem_space.setObjectName("memory-space")
        self.mem_space.addItems(list(MEMORY_SPACES))
        self.mem_space.setToolTip("guest-virtual (through the vCPU's TLB, or the kernel's "
                                  "relocated kseg0 at 0xC0000000 + guest PA), guest-physical "
                                  "(through the pmap) or machine address")
        self.mem_space.currentTextChanged.connect(lambda _t: self._show_at())
        self.mem_space.hide()
        mrow.addWidget(self.mem_space)
        self.who_button = QPushButton("Who wrote this\u2026")
        self.who_button.setObjectName("memory-who-wrote")
        self.who_button.setToolTip("every write to the selected lines (or the word at the "
                                   "address) over the recording")
        self.who_button.clicked.connect(self.ask_who_wrote)
        mrow.addWidget(self.who_button)
        ml.addLayout(mrow)
        self.memory = QPlainTextEdit()
        self.memory.setObjectName("memory")
        self.memory.setReadOnly(True)
        self.memory.setFont(mono())
        self.memory.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.memory.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.memory.customContextMenuRequested.connect(self._menu)
        ml.addWidget(self.memory)
        self.shown_address: int | None = None  # the first byte shown (None: nothing yet)

    def set_vms(self) -> None:
        self.spaces = True
        self.mem_space.show()

    def _show_at(self) -> None:
        target = target_of(self.mem_addr.text())
        if target is None:
            return
        if isinstance(target, str):
            address = self.symbols.address_of(target)
            if address is None:
                self.said.emit(f"no symbol named {target!r}")
                return
            target = address
        space = self.mem_space.currentText() if self.spaces else None
        self.commanded.emit(Focus(self._current(), target, space))

    def selected_range(self) -> tuple[int, int] | None:
        """(address, length) of the lines the selection touches, or the word at the
        address shown when nothing is selected."""
        if self.shown_address is None:
            return None
        cursor = self.memory.textCursor()
        if not cursor.hasSelection():
            return self.shown_address, 4
        doc = self.memory.document()
        first = doc.findBlock(cursor.selectionStart()).blockNumber()
        last = doc.findBlock(cursor.selectionEnd()).blockNumber()
        return self.shown_address + 16 * first, 16 * (last - first + 1)

    def ask_who_wrote(self) -> None:
        found = self.selected_range()
        if found is None:
            self.said.emit("show some memory first")
            return
        space = self.mem_space.currentText() if self.spaces else None
        self.who_wrote.emit(found[0], found[1], space)

    def _menu(self, pos: QPoint) -> None:
        menu = self.memory.createStandardContextMenu()
        menu.addSeparator()
        menu.addAction("Who wrote this\u2026", self.ask_who_wrote)
        menu.exec(self.memory.mapToGlobal(pos))
        menu.deleteLater()

    def update_snapshot(self, snap: Snapshot) -> None:
        d = snap.debug
        self.shown_address = d.memory_address if d.memory else None
        out = []
        for off in range(0, len(d.memory), 16):
            chunk = d.memory[off : off + 16]
            words = " ".join(chunk[i : i + 4].hex() for i in range(0, len(chunk), 4))
            text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
            out.append(f"{d.memory_address + off:08x}:  {words:<35}  {text}")
        if not d.memory:
            out.append(f"(nothing mapped at 0x{d.memory_address:08x})")
        self.memory.setPlainText("\n".join(out))
        if not self.mem_addr.hasFocus():
            self.mem_addr.setText(f"0x{d.memory_address:08x}")
