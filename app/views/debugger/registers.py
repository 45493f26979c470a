"""The target's registers: general registers with pc, hi and lo; CP0, real and virtual.

What the last stop or step changed is highlighted; while the machine runs
everything changes, so nothing is.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMenu, QTableWidget

from disco_core.mips import GPR_NAMES
from disco_core.session import Snapshot

from .common import set_cell, value_table
from .cp0_fields import decode

NAMES = [f"${n}" for n in GPR_NAMES] + ["pc", "hi", "lo"]
# What a who-wrote search can follow: not pc (every instruction changes it), not $zero
WRITABLE = {n for n in NAMES if n not in ("pc", "$zero")}


class RegistersView:
    """The general registers in two columns of name and value (`table`)."""

    def __init__(self) -> None:
        self.table = value_table("registers", 18, ["reg", "value", "reg", "value"])
        self._prev: tuple[int, np.ndarray] | None = None  # (target, values) shown last
        # Who wrote this...: called with a register's name (the dock routes it)
        self.on_who_wrote: Callable[[str], None] | None = None
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._menu)

    def selected_register(self) -> str | None:
        """The register of the current cell (its name or its value), if one can be
        searched for (WRITABLE)."""
        item = self.table.currentItem()
        if item is None:
            return None
        column = item.column() - item.column() % 2
        name_item = self.table.item(item.row(), column)
        name = name_item.text() if name_item is not None else ""
        return name if name in WRITABLE else None

    def ask_who_wrote(self) -> None:
        name = self.selected_register()
        if name is not None and self.on_who_wrote is not None:
            self.on_who_wrote(name)

    def _menu(self, pos: QPoint) -> None:
        item = self.table.itemAt(pos)
        if item is not None:
            self.table.setCurrentItem(item)
        name = self.selected_register()
        menu = QMenu(self.table)
        act = menu.addAction(f"Who wrote {name}\u2026" if name else "Who wrote this\u2026",
                             self.ask_who_wrote)
        act.setEnabled(name is not None and self.on_who_wrote is not None)
        menu.exec(self.table.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def forget(self) -> None:
        """Another target: nothing it shows next counts as changed."""
        self._prev = None

    def update_snapshot(self, snap: Snapshot) -> None:
        d = snap.debug
        cpu = d.cpu
        if d.regs is not None:  # the target's own (a vCPU's saved ones while off its CPU)
            regs = d.regs
            extra = np.array([d.pc, d.hi, d.lo], np.uint32)
        else:
            regs = snap.regs[cpu]
            extra = np.array([snap.pc[cpu], snap.hi[cpu], snap.lo[cpu]], np.uint32)
        values = np.concatenate([regs, extra])
        prev = self._prev[1] if self._prev and self._prev[0] == cpu else None
        if prev is not None and not snap.running:
            changed = values != prev
        else:
            changed = np.zeros(len(values), bool)
        t = self.table
        t.setRowCount((len(values) + 1) // 2)
        for i, (name, v) in enumerate(zip(NAMES, values, strict=True)):
            r, c = i % t.rowCount(), 2 * (i // t.rowCount())
            set_cell(t, r, c, name, False)
            set_cell(t, r, c + 1, f"0x{int(v):08x}", bool(changed[i]))
        self._prev = (cpu, values)


class Cp0View:
    """CP0 registers of the target's CPU; with VMs the vCPU's virtual CP0 beside them."""

    def __init__(self) -> None:
        self.table: QTableWidget = value_table("cp0", 0, ["CP0", "value", "fields"])
        self.virtual = False
        self._prev: dict[str, int] = {}

    def set_vms(self) -> None:
        self.virtual = True
        self.table.setColumnCount(4)
        self.table.setHorizontalHeaderLabels(["CP0", "real (the CPU)", "virtual (the vCPU)",
                                              "fields (virtual, else real)"])

    def update_snapshot(self, snap: Snapshot) -> None:
        rows = snap.debug.cp0
        virtual = dict(snap.debug.vcp0)
        t = self.table
        t.setRowCount(len(rows))
        for r, (name, value) in enumerate(rows):
            set_cell(t, r, 0, name, False)
            old = self._prev.get(name)
            set_cell(t, r, 1, f"0x{value:08x}",
                     not snap.running and old is not None and old != value)
            if self.virtual:
                v = virtual.get(name)
                oldv = self._prev.get("v" + name)
                set_cell(t, r, 2, "" if v is None else f"0x{v:08x}",
                         not snap.running and v is not None and oldv is not None and oldv != v)
            # the fields of the value the guest sees: the vCPU's, or the CPU's
            shown = virtual.get(name, value) if self.virtual else value
            set_cell(t, r, t.columnCount() - 1, decode(name, shown), False)
        self._prev = dict(rows) | {"v" + k: v for k, v in virtual.items()}
