"""Breakpoints and watchpoints: the entry row, and the tab that lists and removes them."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from disco_core.session import (
    AddBreakpoint,
    AddWatchpoint,
    RemoveBreakpoint,
    RemoveWatchpoint,
    Snapshot,
)

from .common import mono, target_of

SCOPES = ("this VM", "this vCPU", "every VM")
ACCESS = {"write": "w", "read": "r", "read/write": "rw"}


class BreakpointsView(QWidget):
    """The list (breakpoints first, then watchpoints) with the watch entry; `entry_rows`:
    the breakpoint entry's rows of (widget, stretch) pairs (the address and its scope,
    then the condition and Add), which the dock lays out under the run controls.
    `current()` is the chosen target."""

    commanded = Signal(object)  # a session Command

    def __init__(self, current: Callable[[], int], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._current = current
        self.vm_names: tuple[str, ...] = ()
        self.target_vms: tuple[str | None, ...] = ()

        self.bp_edit = QLineEdit()
        self.bp_edit.setObjectName("breakpoint-edit")
        self.bp_edit.setPlaceholderText("breakpoint: address or symbol")
        self.bp_edit.returnPressed.connect(self._add_breakpoint)
        self.bp_edit.setMinimumWidth(
            self.bp_edit.fontMetrics().horizontalAdvance(self.bp_edit.placeholderText()) + 16)
        self.bp_this_cpu = QCheckBox("this CPU")
        self.bp_this_cpu.setToolTip("stop only when the chosen CPU gets there")
        self.bp_scope = QComboBox()
        self.bp_scope.setObjectName("breakpoint-scope")
        self.bp_scope.addItems(SCOPES)
        self.bp_scope.setToolTip("which vCPUs stop there: those of the chosen vCPU's VM, the "
                                 "chosen vCPU only, or every VM's (the VMs share the kernel's "
                                 "addresses)")
        self.bp_scope.hide()
        self.bp_condition = QLineEdit()
        self.bp_condition.setObjectName("breakpoint-condition")
        self.bp_condition.setPlaceholderText("if: a0 == 0x1000")
        self.bp_condition.setToolTip(
            "stop only when this holds (empty: always): a register, a number, a symbol or "
            "*address (the word there; *(sp + 8)), compared with == != < <= > >= (unsigned); "
            "the hit count counts only the hits where it held")
        self.bp_condition.returnPressed.connect(self._add_breakpoint)
        self.bp_condition.setMinimumWidth(
            self.bp_condition.fontMetrics().horizontalAdvance("if: a0 == 0x1000") + 16)
        add = QPushButton("Add")
        add.clicked.connect(self._add_breakpoint)
        # Two rows: side by side with the condition, the address field shrinks to "b…"
        # in a narrow dock (1280×800).
        self.entry_rows: list[list[tuple[QWidget, int]]] = [
            [(self.bp_edit, 1), (self.bp_this_cpu, 0), (self.bp_scope, 0)],
            [(self.bp_condition, 1), (add, 0)]]

        bl = QVBoxLayout(self)
        bl.setContentsMargins(0, 0, 0, 0)
        self.breakpoints = QListWidget()
        self.breakpoints.setObjectName("breakpoints")
        self.breakpoints.setFont(mono())
        bl.addWidget(self.breakpoints)
        watch_row = QHBoxLayout()
        self.watch_edit = QLineEdit()
        self.watch_edit.setObjectName("watch-edit")
        self.watch_edit.setPlaceholderText("watchpoint: address or symbol")
        self.watch_edit.returnPressed.connect(self._add_watchpoint)
        watch_row.addWidget(self.watch_edit, 1)
        self.watch_access = QComboBox()
        self.watch_access.setObjectName("watch-access")
        self.watch_access.addItems(list(ACCESS))
        watch_row.addWidget(self.watch_access)
        watch = QPushButton("Watch")
        watch.clicked.connect(self._add_watchpoint)
        watch_row.addWidget(watch)
        bl.addLayout(watch_row)
        # Delete (or Backspace) removes the selected breakpoint, as in gdb front-ends
        for key in (QKeySequence.StandardKey.Delete, QKeySequence(Qt.Key.Key_Backspace)):
            shortcut = QShortcut(QKeySequence(key), self.breakpoints)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(self._remove_selected)
        remove = QPushButton("Remove selected")
        remove.setToolTip("remove the selected breakpoint or watchpoint (Delete)")
        remove.clicked.connect(self._remove_selected)
        bl.addWidget(remove)

        self._bp_keys: list[tuple[int, int | None, str | None]] = []
        self._watch_keys: list[tuple[int, int, str, int | None, str | None]] = []
        self._hits: list[tuple[int, str]] = []

    def set_vms(self, vm_names: tuple[str, ...], target_vms: tuple[str | None, ...]) -> None:
        """Scopes by VM: this VM, this vCPU or every VM instead of "this CPU"."""
        self.vm_names = vm_names
        self.target_vms = target_vms
        self.bp_this_cpu.hide()
        self.bp_scope.show()

    def _scope(self) -> tuple[int | None, str | None]:
        """(cpu, vm) of a new breakpoint or watchpoint."""
        cpu = self._current()
        if not self.vm_names:
            return (cpu if self.bp_this_cpu.isChecked() else None), None
        scope = self.bp_scope.currentText()
        if scope == "this vCPU":
            return cpu, None
        if scope == "this VM":
            return None, self.target_vms[cpu]
        return None, None

    def _add_breakpoint(self) -> None:
        target = target_of(self.bp_edit.text())
        if target is not None:
            cpu, vm = self._scope()
            condition = self.bp_condition.text().strip() or None
            self.commanded.emit(AddBreakpoint(target, cpu, vm, condition))
            self.bp_edit.clear()
            self.bp_condition.clear()

    def _add_watchpoint(self) -> None:
        target = target_of(self.watch_edit.text())
        if target is not None:
            access = ACCESS.get(self.watch_access.currentText(), "rw")
            cpu, vm = self._scope()
            self.commanded.emit(AddWatchpoint(target, 4, access, cpu, vm))
            self.watch_edit.clear()

    def toggle(self, address: int) -> None:
        """The disassembly's gutter: remove the breakpoints at `address`, or add one
        with the scope chosen in the entry row."""
        here = [k for k in self._bp_keys if k[0] == address]
        for addr, cpu, vm in here:
            self.commanded.emit(RemoveBreakpoint(addr, cpu, vm))
        if not here:
            cpu, vm = self._scope()
            self.commanded.emit(AddBreakpoint(address, cpu, vm))

    def _remove_selected(self) -> None:
        """Remove the selected row: breakpoints come first, then watchpoints."""
        row = self.breakpoints.currentRow()
        if 0 <= row < len(self._bp_keys):
            address, cpu, vm = self._bp_keys[row]
            self.commanded.emit(RemoveBreakpoint(address, cpu, vm))
        elif 0 <= row - len(self._bp_keys) < len(self._watch_keys):
            address, length, access, cpu, vm = self._watch_keys[row - len(self._bp_keys)]
            self.commanded.emit(RemoveWatchpoint(address, length, access, cpu, vm))

    def update_snapshot(self, snap: Snapshot) -> None:
        keys = [(b.address, b.cpu, b.vm) for b in snap.breakpoints]
        wkeys = [(w.address, w.length, w.access, w.cpu, w.vm) for w in snap.watchpoints]
        hits = [(b.hits, b.condition) for b in snap.breakpoints]
        if keys == self._bp_keys and wkeys == self._watch_keys and hits == self._hits:
            return
        row = self.breakpoints.currentRow()
        self._bp_keys = keys
        self._watch_keys = wkeys
        self._hits = hits
        self.breakpoints.clear()
        for b in snap.breakpoints:
            count = f" \u00b7 {b.hits} hit{'' if b.hits == 1 else 's'}" if b.hits else ""
            cond = f" if {b.condition}" if b.condition else ""
            QListWidgetItem(f"break {b.label}{cond}  ({self._where(snap, b.cpu, b.vm)}){count}",
                            self.breakpoints)
        for w in snap.watchpoints:
            QListWidgetItem(f"watch {w.access:<2} {w.label}  ({self._where(snap, w.cpu, w.vm)})",
                            self.breakpoints)
        if 0 <= row < self.breakpoints.count():
            self.breakpoints.setCurrentRow(row)  # a new hit count keeps the selection

    def _where(self, snap: Snapshot, cpu: int | None, vm: str | None) -> str:
        if cpu is not None:
            return snap.targets[cpu] if cpu < len(snap.targets) else f"CPU {cpu}"
        if self.vm_names:
            return vm or "every VM"
        return "any CPU"
