"""Who wrote this…: every write to an address range (or a register) over the recording.

The memory view (the address or the selected lines, in its address space), the
registers (a register of the chosen vCPU) and the heat map (a machine page) ask
for it. The search replays the session's recording in a session of its own on a
worker thread (`disco_core.record.whowrote`, the same functions `disco replay
--who-wrote` uses), so the UI thread never waits; the dialog then lists each
write (cycle, VM, vCPU, pc, symbol, source line, value) and a double-click goes
to it: the window stands its history exactly where the write was found.

What the search reads is the recording file as it stands (every complete chunk:
the history flushes it at each checkpoint and whenever the views leave the
present), so a write made after the file's last chunk is not listed yet.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from disco_core.errors import DiscoError
from disco_core.record.whowrote import RegisterWrite, Write

from .debugger.common import mono

# The memory view's names for its address spaces, and whowrote's.
SPACE_OF_VIEW = {"virtual": "gva", "physical": "gpa", "machine": "ma", None: "gva"}
SPACE_TEXT = {"gva": "guest-virtual", "gpa": "guest-physical", "ma": "machine"}
REGISTER_COUNT = 16  # a register: its last changes (each found by single-stepping back)
COLUMNS = ("cycle", "VM", "vCPU", "pc", "symbol", "source line", "value")


class RecordingSource(Protocol):
    """Where the recording is and how to go to a point of it (the main window)."""

    def recording_path(self) -> Path | None: ...

    def seek_to(self, cycle: int) -> None: ...

    def seek_to_point(self, op: int, offset: int) -> None: ...

    def flush_recording(self) -> None:
        """Every chunk made so far on disk (called on the search's worker thread)."""


@dataclass(frozen=True)
class Query:
    """What to look for: [address, address + length) in `space` (gva, gpa, ma), or
    `register` of debug target `target`; `vm` scopes a memory search to a VM."""

    address: int = 0
    length: int = 4
    space: str = "gva"
    vm: str | None = None
    register: str | None = None
    target: int = 0
    target_name: str = ""  # how the window names the target ("vm1 vCPU 0")

    def describe(self) -> str:
        if self.register is not None:
            return f"register {self.register} of {self.target_name or f'target {self.target}'}"
        end = self.address + self.length - 1
        where = f"0x{self.address:08x}" if self.length == 1 else \
            f"0x{self.address:08x}-0x{end:08x}"
        return (f"{SPACE_TEXT.get(self.space, self.space)} {where}"
                + (f" of {self.vm}" if self.vm is not None and self.space != "ma" else ""))


Found = Write | RegisterWrite


def search(path: Path, query: Query) -> list[Found]:
    """The writes `query` asks for, over the recording at `path` (any thread but the
    UI's: it replays). A bad file or query raises DiscoError with a one-line message."""
    from disco_core.record.replay import Recording, Replayer
    from disco_core.record.whowrote import who_wrote, who_wrote_register

    recording = Recording.open(path, partial=True)
    recording.check_build()
    replayer = Replayer(recording)
    try:
        if query.register is not None:
            return list(who_wrote_register(replayer, query.register, query.target,
                                           count=REGISTER_COUNT))
        return list(who_wrote(replayer, query.address, query.length, query.space, query.vm))
    except ValueError as e:
        raise DiscoError(str(e)) from None
    finally:
        replayer.close()


def cells(w: Found) -> tuple[str, ...]:
    """A write as the table shows it."""
    if isinstance(w, RegisterWrite):
        value = f"0x{w.old:08x} \u2192 0x{w.new:08x}"
        if w.cause != "instruction":
            value += f" ({w.cause})"
    else:
        value = f"0x{w.value:08x} at 0x{w.address:08x}"
    return (f"{w.cycles:,}", w.vm or "-", w.target_name, f"0x{w.pc:08x}", w.symbol,
            short_line(w.line), value)


def short_line(line: str) -> str:
    """file:line with the file's name only (the whole path is the cell's tooltip)."""
    file, sep, number = line.rpartition(":")
    return f"{Path(file).name}:{number}" if sep else line


class _Search(QObject):
    """One search on a thread of its own; its signals reach the UI thread queued."""

    found = Signal(object)  # list[Found]
    failed = Signal(str)

    def __init__(self, path: Path, query: Query,
                 before: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.before = before
        self.worker = threading.Thread(target=self._run, args=(path, query),
                                       name="who-wrote", daemon=True)

    def _run(self, path: Path, query: Query) -> None:
        try:
            if self.before is not None:
                self.before()  # the history's queued chunks on disk (the writer thread)
            result = search(path, query)
        except (DiscoError, OSError) as e:
            self.failed.emit(str(e).splitlines()[0])
        except Exception as e:  # noqa: BLE001 (a one-line message, never a traceback)
            self.failed.emit(f"the search failed: {type(e).__name__}: {e}")
        else:
            self.found.emit(result)


class WhoWroteDialog(QDialog):
    """The list of writes; `finished_search` once it is there (or failed)."""

    finished_search = Signal()

    def __init__(self, source: RecordingSource, query: Query,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("who-wrote")
        self.setWindowTitle(f"Who wrote {query.describe()}")
        self.source = source
        self.query = query
        self.writes: list[Found] = []
        self.error = ""
        self.listed = False  # the list (or the error) is shown
        layout = QVBoxLayout(self)
        self.heading = QLabel(f"Writes to {query.describe()} over the recording")
        self.heading.setWordWrap(True)
        layout.addWidget(self.heading)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: a replay has no known length in advance
        self.progress.setTextVisible(False)
        layout.addWidget(self.progress)
        self.status = QLabel("searching: replaying the recording on a worker thread\u2026")
        self.status.setObjectName("who-wrote-status")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("who-wrote-table")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.table.setFont(mono())
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.
                                                           ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.go_to(row))
        self.table.setToolTip("double-click a write to go to it on the timeline")
        layout.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(1000, 420)
        self._search: _Search | None = None
        path = source.recording_path()
        if path is None:
            self._failed("nothing is recorded: this session keeps no history "
                         "(open a recording with File \u203a Open recording\u2026)")
            return
        self._search = _Search(Path(path), query, source.flush_recording)
        self._search.found.connect(self._found)
        self._search.failed.connect(self._failed)
        self._search.worker.start()

    @property
    def searching(self) -> bool:
        return self._search is not None and self._search.worker.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        """Join the worker (closing the window, tests); the UI never calls it otherwise."""
        if self._search is not None:
            self._search.worker.join(timeout)

    def _found(self, writes: list[Found]) -> None:
        self.writes = writes
        self.progress.hide()
        t = self.table
        t.setRowCount(len(writes))
        for r, w in enumerate(writes):
            for c, text in enumerate(cells(w)):
                item = QTableWidgetItem(text)
                if c == 5:
                    item.setToolTip(w.line)
                if c in (0, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                t.setItem(r, c, item)
        if self.query.register is not None:
            n = len(writes)
            self.status.setText(f"the last {n} change{'s' if n != 1 else ''} of the register "
                                "before the end of the recording (a write of the value it "
                                "held leaves no trace); double-click one to go to it")
        else:
            self.status.setText(f"{len(writes)} write{'s' if len(writes) != 1 else ''} by "
                                "instructions (a device's DMA is not listed); double-click "
                                "one to go to it")
        self.listed = True
        self.finished_search.emit()

    def _failed(self, message: str) -> None:
        self.error = message
        self.progress.hide()
        self.status.setText(message)
        self.status.setStyleSheet("color: #ef5350;")
        self.listed = True
        self.finished_search.emit()

    def go_to(self, row: int) -> None:
        """Stand the window's history exactly where the write in `row` was found (the
        search's point: the writing instruction has just executed)."""
        if 0 <= row < len(self.writes):
            p = self.writes[row].point
            self.source.seek_to_point(p.op, p.offset)
