"""What the debugger's views share: the font, cells that mark changes, symbols, tables."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel
from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QHeaderView,
    QPlainTextEdit,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTextEdit,
    QWidget,
)

from disco_core.elf import ElfImage

CHANGED = QColor("#7a4b16")  # the background of a value the last stop or step changed
ROW_HEIGHT = 19


def mono() -> QFont:
    f = QFont("DejaVu Sans Mono")
    f.setStyleHint(QFont.StyleHint.Monospace)
    f.setPointSize(9)
    return f


def parse_address(text: str) -> int | None:
    try:
        return int(text.strip(), 0) & 0xFFFFFFFF
    except ValueError:
        return None


def target_of(text: str) -> int | str | None:
    """What the user typed as an address or a symbol (None: nothing)."""
    text = text.strip()
    if not text:
        return None
    address = parse_address(text)
    return address if address is not None else text


def set_cell(table: QTableWidget, r: int, c: int, text: str, changed: bool) -> None:
    item = table.item(r, c)
    if item is None:
        item = QTableWidgetItem()
        table.setItem(r, c, item)
    item.setText(text)
    item.setBackground(CHANGED if changed else QColor(0, 0, 0, 0))


def value_table(name: str, rows: int, headers: list[str]) -> QTableWidget:
    """A read-only table of names and values (registers, CP0)."""
    table = QTableWidget(rows, len(headers))
    table.setObjectName(name)
    table.setFont(mono())
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    return table


def model_table(name: str, model: QAbstractItemModel, parent: QWidget | None = None,
                row_numbers: bool = False) -> QTableView:
    """A view of one of the lazy table models (app/models/)."""
    view = QTableView(parent)
    view.setObjectName(name)
    view.setFont(mono())
    view.setModel(model)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    view.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
    if not row_numbers:
        view.verticalHeader().hide()
    return view


class Symbols:
    """The loaded programs' symbols and DWARF lines, for every view of the dock."""

    def __init__(self) -> None:
        self.images: list[ElfImage] = []

    def describe(self, address: int) -> str:
        """``0x80010110 <stream_update+0x8>``, or just the address."""
        for image in self.images:
            found = image.symbol_at(address)
            if found is not None:
                name, off = found
                return f"0x{address:08x} <{name}+{off:#x}>" if off else f"0x{address:08x} <{name}>"
        return f"0x{address:08x}"

    def source_line(self, address: int) -> str | None:
        """``numademo.c:74`` when the program has DWARF line tables for `address`."""
        for image in self.images:
            found = image.line_for(address)
            if found is not None:
                path, line = found
                if line == 0:  # DWARF's "no source line" (compiler-made code)
                    return None
                return f"{path.rsplit('/', 1)[-1]}:{line}"
        return None

    def source_location(self, address: int) -> tuple[str, int] | None:
        """(source file path, line) of `address` from the DWARF line tables."""
        for image in self.images:
            found = image.line_for(address)
            if found is not None and found[1] != 0:
                return found
        return None

    def address_of_line(self, path: str, line: int) -> int | None:
        """The first instruction compiled from a source line (a source-pane breakpoint)."""
        for image in self.images:
            image.line_for(0)  # reads the line tables once
            # A line-table row can share its address with the next row (an empty
            # span); only an address that maps back to this line is its first one.
            spans = [s.start for s in image._lines or ()
                     if s.file == path and s.line == line and s.end > s.start
                     and image.line_for(s.start) == (path, line)]
            if spans:
                return min(spans)
        return None

    def address_of(self, name: str) -> int | None:
        for image in self.images:
            try:
                return image.address_of(name)
            except KeyError:
                continue
        return None


CURRENT = QColor("#2f6f95")  # the line at pc, in the disassembly and the source pane


def highlight_line(view: QPlainTextEdit, block: int) -> None:
    """Mark line `block` of a text view as the current one, move the cursor there
    and scroll it to the middle."""
    cursor = QTextCursor(view.document().findBlockByNumber(block))
    sel = QTextEdit.ExtraSelection()
    fmt = QTextCharFormat()
    fmt.setBackground(CURRENT)
    fmt.setProperty(QTextCharFormat.Property.FullWidthSelection, True)
    sel.format = fmt
    sel.cursor = cursor
    view.setExtraSelections([sel])
    view.setTextCursor(cursor)
    view.centerCursor()
