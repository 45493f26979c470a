"""A terminal per guest: scrollback, copy, basic ANSI colours, keyboard input.

Output arrives in snapshots as (total bytes printed, last bytes); the view
appends only what it has not shown yet. Keys go to the guest's console input
through `input_typed` (the main window sends them to the engine).
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QKeyEvent, QKeySequence, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QApplication, QPlainTextEdit, QWidget

from disco_core.session import ConsoleSnapshot

from .. import theme

SCROLLBACK = 5000  # lines
ANSI_COLORS = ["#2e3436", "#ef5350", "#8bc34a", "#ffca28", "#42a5f5", "#ba68c8", "#26c6da",
               "#e6e9ec"]
ANSI_BRIGHT = ["#78909c", "#ff8a80", "#ccff90", "#ffff8d", "#82b1ff", "#ea80fc", "#84ffff",
               "#ffffff"]
# CSI sequences, other escapes, and the control characters a terminal acts on.
_TOKENS = re.compile(r"\x1b\[([0-9;?]*)([@-~])|\x1b[@-Z\\-_]|[\b\r\x07]|[^\x1b\b\r\x07]+|\x1b")

# by key code: QKeyEvent.key() is an int, and Qt.Key an IntEnum
KEYS: dict[int, bytes] = {
    Qt.Key.Key_Return: b"\n", Qt.Key.Key_Enter: b"\n", Qt.Key.Key_Backspace: b"\x7f",
    Qt.Key.Key_Tab: b"\t", Qt.Key.Key_Escape: b"\x1b", Qt.Key.Key_Up: b"\x1b[A",
    Qt.Key.Key_Down: b"\x1b[B", Qt.Key.Key_Right: b"\x1b[C", Qt.Key.Key_Left: b"\x1b[D",
}


class ConsoleView(QPlainTextEdit):
    input_typed = Signal(str, bytes)  # guest name, bytes

    def __init__(self, guest: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.guest = guest
        self.setObjectName(f"console-{guest}")
        self.setReadOnly(True)  # text changes only through the guest; keys are sent
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                     | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMaximumBlockCount(SCROLLBACK)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSize(10)
        self.setFont(font)
        self.setStyleSheet(f"QPlainTextEdit {{ background: {theme.BACKGROUND.name()}; "
                           f"color: {theme.TEXT.name()}; border: none; }}")
        self.shown = 0  # bytes of the guest's output shown so far
        self._format = QTextCharFormat()

    # ---- output -------------------------------------------------------------

    def update_console(self, c: ConsoleSnapshot) -> None:
        new = c.total - self.shown
        if new <= 0:
            return
        if new > len(c.tail):  # fell behind by more than a snapshot carries
            self.appendPlainText(f"[... {new - len(c.tail):,} bytes not shown ...]")
            new = len(c.tail)
        self.feed_output(c.tail[len(c.tail) - new :])
        self.shown = c.total

    def feed_output(self, data: bytes) -> None:
        bar = self.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 2
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        text = data.decode("utf-8", errors="replace")
        for m in _TOKENS.finditer(text):
            tok = m.group(0)
            if m.group(2) is not None:
                if m.group(2) == "m":
                    self._sgr(m.group(1))
                # Other CSI sequences (cursor movement, erase) are dropped.
            elif tok == "\b":
                cursor.deletePreviousChar()
            elif tok in ("\r", "\x07") or tok.startswith("\x1b"):
                continue
            else:
                cursor.insertText(tok, self._format)
        if at_bottom:
            bar.setValue(bar.maximum())

    def _sgr(self, params: str) -> None:
        codes = [int(p) for p in params.split(";") if p.isdigit()] or [0]
        for code in codes:
            if code == 0:
                self._format = QTextCharFormat()
            elif code == 1:
                self._format.setFontWeight(QFont.Weight.Bold)
            elif code == 22:
                self._format.setFontWeight(QFont.Weight.Normal)
            elif 30 <= code <= 37:
                self._format.setForeground(QColor(ANSI_COLORS[code - 30]))
            elif 90 <= code <= 97:
                self._format.setForeground(QColor(ANSI_BRIGHT[code - 90]))
            elif code == 39:
                self._format.clearForeground()
            elif 40 <= code <= 47:
                self._format.setBackground(QColor(ANSI_COLORS[code - 40]))
            elif code == 49:
                self._format.clearBackground()

    # ---- input --------------------------------------------------------------

    def keyPressEvent(self, e: QKeyEvent) -> None:
        mods = e.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        if e.matches(QKeySequence.StandardKey.Copy) and (shift or self.textCursor().hasSelection()):
            self.copy()
            return
        if ctrl and shift and e.key() == Qt.Key.Key_C:
            self.copy()
            return
        if ctrl and shift and e.key() == Qt.Key.Key_V:
            self.send(QApplication.clipboard().text().encode())
            return
        if e.key() in KEYS:
            self.send(KEYS[e.key()])
            return
        if ctrl and Qt.Key.Key_A <= e.key() <= Qt.Key.Key_Z:
            self.send(bytes([e.key() - Qt.Key.Key_A + 1]))  # ^A..^Z
            return
        text = e.text()
        if text:
            self.send(text.encode())
            return
        super().keyPressEvent(e)  # navigation keys scroll

    def send(self, data: bytes) -> None:
        if data:
            self.input_typed.emit(self.guest, data)
