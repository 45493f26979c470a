"""The source pane: the DWARF source file around pc, the current line marked ▶ and
lines with a breakpoint ●; a click in the gutter toggles a breakpoint on the first
instruction of that line (`gutter_clicked`)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from disco_core.session import Snapshot

from .common import Symbols, highlight_line, mono


class SourceView(QPlainTextEdit):
    gutter_clicked = Signal(object)  # the address of the clicked line's first instruction

    def __init__(self, symbols: Symbols, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.symbols = symbols
        self.setObjectName("source")
        self.setReadOnly(True)
        self.setFont(mono())
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.path: str | None = None
        self.line = 0
        self._files: dict[str, list[str]] = {}
        self._shown: tuple[object, ...] | None = None

    def _text_of(self, path: str) -> list[str] | None:
        if path not in self._files:
            try:
                self._files[path] = Path(path).read_text(errors="replace").splitlines()
            except OSError:
                return None
        return self._files[path]

    def update_snapshot(self, snap: Snapshot, pc: int) -> None:
        where = self.symbols.source_location(pc)
        bps = tuple(sorted(b.address for b in snap.breakpoints))
        key = (where, bps)
        if key == self._shown:
            return
        self._shown = key
        if where is None:
            self.path, self.line = None, 0
            self.setPlainText(f"(no source line for pc 0x{pc:08x})")
            return
        path, line = where
        lines = self._text_of(path)
        if lines is None:
            self.path, self.line = None, 0
            self.setPlainText(f"(source {path}:{line} is not on this machine)")
            return
        self.path, self.line = path, line
        marked = {ln for f, ln in (self.symbols.source_location(a) or ("", 0) for a in bps)
                  if f == path}
        text = [f"{'●' if n in marked else ' '}{'▶' if n == line else ' '} {n:5d}  {code}"
                for n, code in enumerate(lines, 1)]
        self.setPlainText("\n".join(text))
        highlight_line(self, line - 1)

    def line_at(self, y: int) -> int:
        return self.cursorForPosition(QPoint(4, y)).block().blockNumber() + 1

    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        gutter = self.fontMetrics().horizontalAdvance("●▶ ")
        if (e.button() == Qt.MouseButton.LeftButton and e.position().x() < gutter + 4
                and self.path is not None):
            address = self.symbols.address_of_line(self.path, self.line_at(int(e.position().y())))
            if address is not None:
                self.gutter_clicked.emit(address)
                return
        super().mousePressEvent(e)
