"""The code around pc: symbols, DWARF source lines, pc marked ▶ and breakpoints ●.

A click in the gutter (the marker columns at the left) toggles a breakpoint on
that line's instruction (`gutter_clicked`); the targets of jumps, calls and
branches are named by symbol (`jal 0x80012340 <kalloc>`).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from disco_core import disasm
from disco_core.session import Snapshot

from .common import Symbols, highlight_line, mono

GUTTER_CHARS = 3  # "●▶ ": a click there toggles a breakpoint
# Mnemonics whose last operand is a code address (capstone's names).
JUMPS = ("j", "jal", "b", "bal", "beq", "bne", "beqz", "bnez", "blez", "bgtz", "bltz", "bgez",
         "bltzal", "bgezal", "beql", "bnel", "blezl", "bgtzl", "bltzl", "bgezl")


def target_note(mnemonic: str, operands: str, describe: Callable[[int], str]) -> str:
    """`` <kalloc>`` after a jump, call or branch whose target has a symbol."""
    if mnemonic not in JUMPS or not operands:
        return ""
    last = operands.split(",")[-1].strip()
    try:
        target = int(last, 16)
    except ValueError:
        return ""
    text = describe(target)
    return f" {text.split(' ', 1)[1]}" if " " in text else ""


class DisassemblyView(QPlainTextEdit):
    gutter_clicked = Signal(object)  # the address (an int past 2**31: not Signal(int))

    def __init__(self, symbols: Symbols, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.symbols = symbols
        self.setObjectName("disassembly")
        self.setReadOnly(True)
        self.setFont(mono())
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self._shown: tuple[object, ...] | None = None
        self.line_address: list[int | None] = []  # per text line: its instruction, if any
        self.viewport().setCursor(Qt.CursorShape.IBeamCursor)
        disasm.disassemble(bytes(4), 0)  # load capstone now, not at the first stop

    def update_snapshot(self, snap: Snapshot, pc: int) -> None:
        d = snap.debug
        self.show_code(d.code_address, d.code, pc, tuple(b.address for b in snap.breakpoints))

    def show_code(self, code_address: int, code: bytes, pc: int,
                  breakpoints: tuple[int, ...]) -> None:
        """Disassemble `code` (at `code_address`) with `pc` marked ▶ (the target's pc,
        or a caller's call when a call-stack frame is chosen)."""
        key = (code_address, code, pc, breakpoints)
        if key == self._shown:
            return  # an idle vCPU sits at the same pc: nothing to redo
        self._shown = key
        images = self.symbols.images
        lines = disasm.disassemble(code, code_address, symbols=images[0] if images else None)
        bps = set(breakpoints)
        text, current = [], -1
        addresses: list[int | None] = []
        last_sym = last_src = None
        for line in lines:
            sym = line.symbol.split("+")[0] if line.symbol else None
            if sym and sym != last_sym:
                text.append(f"<{sym}>:")
                addresses.append(None)
            last_sym = sym
            src = self.symbols.source_line(line.address)
            if src and src != last_src:
                text.append(f"    ; {src}")  # DWARF: the source line these instructions come from
                addresses.append(None)
            last_src = src
            mark = "\u25cf" if line.address in bps else " "
            arrow = "\u25b6" if line.address == pc else " "
            if line.address == pc:
                current = len(text)
            note = target_note(line.mnemonic, line.operands, self.symbols.describe)
            text.append(f"{mark}{arrow} {line.address:08x}:  {line.word:08x}  "
                        f"{line.mnemonic:<8}{line.operands}{note}")
            addresses.append(line.address)
        if not lines:
            text.append(f"  (nothing mapped at 0x{pc:08x})")
            addresses.append(None)
        self.line_address = addresses
        self.setPlainText("\n".join(text))
        if current >= 0:
            highlight_line(self, current)

    def address_at(self, y: int) -> int | None:
        """The instruction on the text line at viewport height `y`, if any."""
        block = self.cursorForPosition(QPoint(4, y)).block()
        n = block.blockNumber()
        return self.line_address[n] if 0 <= n < len(self.line_address) else None

    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        gutter = self.fontMetrics().horizontalAdvance("\u25cf\u25b6 ")
        if e.button() == Qt.MouseButton.LeftButton and e.position().x() < gutter + 4:
            address = self.address_at(int(e.position().y()))
            if address is not None:
                self.gutter_clicked.emit(address)
                return
        super().mousePressEvent(e)
