"""The code around pc: symbols, DWARF source lines, pc marked ▶ and breakpoints ●."""

from __future__ import annotations

from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from disco_core import disasm
from disco_core.session import Snapshot

from .common import Symbols, mono

CURRENT = QColor("#2f6f95")  # the line at pc


class DisassemblyView(QPlainTextEdit):
    def __init__(self, symbols: Symbols, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.symbols = symbols
        self.setObjectName("disassembly")
        self.setReadOnly(True)
        self.setFont(mono())
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self._shown: tuple[object, ...] | None = None
        disasm.disassemble(bytes(4), 0)  # load capstone now, not at the first stop

    def update_snapshot(self, snap: Snapshot, pc: int) -> None:
        d = snap.debug
        key = (d.code_address, d.code, pc, tuple(b.address for b in snap.breakpoints))
        if key == self._shown:
            return  # an idle vCPU sits at the same pc: nothing to redo
        self._shown = key
        images = self.symbols.images
        lines = disasm.disassemble(d.code, d.code_address, symbols=images[0] if images else None)
        bps = {b.address for b in snap.breakpoints}
        text, current = [], -1
        last_sym = last_src = None
        for line in lines:
            sym = line.symbol.split("+")[0] if line.symbol else None
            if sym and sym != last_sym:
                text.append(f"<{sym}>:")
            last_sym = sym
            src = self.symbols.source_line(line.address)
            if src and src != last_src:
                text.append(f"    ; {src}")  # DWARF: the source line these instructions come from
            last_src = src
            mark = "\u25cf" if line.address in bps else " "
            arrow = "\u25b6" if line.address == pc else " "
            if line.address == pc:
                current = len(text)
            text.append(f"{mark}{arrow} {line.address:08x}:  {line.word:08x}  "
                        f"{line.mnemonic:<8}{line.operands}")
        if not lines:
            text.append(f"  (nothing mapped at 0x{pc:08x})")
        self.setPlainText("\n".join(text))
        if current >= 0:
            cursor = QTextCursor(self.document().findBlockByNumber(current))
            sel = QTextEdit.ExtraSelection()
            fmt = QTextCharFormat()
            fmt.setBackground(CURRENT)
            fmt.setProperty(QTextCharFormat.Property.FullWidthSelection, True)
            sel.format = fmt
            sel.cursor = cursor
            self.setExtraSelections([sel])
            self.setTextCursor(cursor)
            self.centerCursor()
