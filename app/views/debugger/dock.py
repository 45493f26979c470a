"""The debugger dock: assembles the debugger's views and routes snapshots and commands.

It never touches the machine: what it shows comes from snapshots (the
session copies the focused target's details into `Snapshot.debug`), and
what it does goes out as session commands through the `commanded` signal.

With virtual machines (`set_vms`) the targets are vCPUs: breakpoints apply to
one VM, one vCPU or every VM; CP0 shows the vCPU's virtual CP0 next to the
real one of the CPU it runs on; the memory view reads guest-virtual,
guest-physical or machine addresses; and tabs show the vCPU's L2TLB, its VM's
pmap and the monitor's event log.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QCompleter,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from disco_core.elf import ElfImage
from disco_core.session import Snapshot

from ... import theme
from .breakpoints import BreakpointsView
from .common import Symbols
from .controls import RunControls
from .disassembly import DisassemblyView
from .event_log import EventLogView
from .memory import MemoryView
from .registers import Cp0View, RegistersView
from .source import SourceView
from .tables import TlbTables

RUNNING_REFRESH = 1.0  # s between refreshes while the machine runs (all changes anyway)


class DebuggerDock(QDockWidget):
    commanded = Signal(object)  # a session Command
    # Who wrote this... from the memory view or the registers (a whowrote_dialog.Query)
    who_wrote_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Debugger", parent)
        self.setObjectName("debugger")
        self.symbols = Symbols()
        self.vm_names: tuple[str, ...] = ()
        self.target_vms: tuple[str | None, ...] = ()
        self.snapshot: Snapshot | None = None
        self._last_refresh = 0.0
        body = QWidget()
        outer = QVBoxLayout(body)
        outer.setContentsMargins(4, 4, 4, 4)

        self.controls = RunControls()
        self.bps = BreakpointsView(lambda: self.cpu)
        self.memory_view = MemoryView(self.symbols, lambda: self.cpu)
        self.registers_view = RegistersView()
        self.cp0_view = Cp0View()
        self.disassembly = DisassemblyView(self.symbols)
        self.source = SourceView(self.symbols)
        self.tables = TlbTables(body)
        self.log_view = EventLogView(body)
        self.log_view.hide()
        for view in (self.controls, self.bps, self.memory_view, self.log_view):
            view.commanded.connect(self.commanded)
        self.controls.target_chosen.connect(lambda _i: self.registers_view.forget())
        self.status = QLabel("")
        self.status.setObjectName("debug-status")
        # long texts must not widen the dock: they are cut, and the tooltip has them whole
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.memory_view.said.connect(self.status.setText)
        self.memory_view.who_wrote.connect(self._who_wrote_memory)
        self.registers_view.on_who_wrote = self._who_wrote_register
        self.disassembly.gutter_clicked.connect(self.bps.toggle)
        self.source.gutter_clicked.connect(self.bps.toggle)
        # Symbol completion in every field that takes an address or a symbol.
        self.completion = QStringListModel(self)
        self._completers: list[QCompleter] = []

        self.message = QLabel("")
        self.message.setObjectName("debug-message")
        self.message.setWordWrap(True)
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.message.hide()

        outer.addWidget(self.controls)
        # Run-to and the breakpoint entry on rows of their own: side by side they
        # shrink to "r…" and "b…" in a narrow dock (1280×800).
        for part in (self.controls.run_row, self.bps.entry):
            row = QHBoxLayout()
            for widget, stretch in part:
                row.addWidget(widget, stretch)
            outer.addLayout(row)
        outer.addWidget(self.status)
        outer.addWidget(self.message)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.disassembly)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.registers_view.table, "Registers")
        self.tabs.addTab(self.source, "Source")
        self.tabs.addTab(self.cp0_view.table, "CP0")
        self.tabs.addTab(self.memory_view, "Memory")
        self.tabs.addTab(self.tables.tlb, "TLB")
        self.tabs.addTab(self.bps, "Breakpoints")
        split.addWidget(self.tabs)
        split.setSizes([300, 260])
        outer.addWidget(split, 1)
        self.setWidget(body)
        body.setMinimumWidth(360)

        # The widgets by the names the window and the tests use.
        c = self.controls
        self.cpu_box, self.run_to = c.cpu_box, c.run_to
        self.act_continue, self.act_pause, self.act_step = c.act_continue, c.act_pause, c.act_step
        self.act_over, self.act_out = c.act_over, c.act_out
        self.bp_edit, self.bp_this_cpu, self.bp_scope = (self.bps.bp_edit, self.bps.bp_this_cpu,
                                                         self.bps.bp_scope)
        self.breakpoints = self.bps.breakpoints
        self.watch_edit, self.watch_access = self.bps.watch_edit, self.bps.watch_access
        self.registers, self.cp0 = self.registers_view.table, self.cp0_view.table
        self.mem_addr, self.mem_space = self.memory_view.mem_addr, self.memory_view.mem_space
        self.memory = self.memory_view.memory
        t = self.tables
        self.tlb, self.tlb_model = t.tlb, t.tlb_model
        self.l2tlb, self.l2tlb_model = t.l2tlb, t.l2tlb_model
        self.pmap, self.pmap_model = t.pmap, t.pmap_model
        self.trace_tlb, self.event_log = self.log_view.trace_tlb, self.log_view.event_log
        for edit in (self.run_to, self.bp_edit, self.watch_edit, self.mem_addr):
            completer = QCompleter(self.completion, edit)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            completer.setFilterMode(Qt.MatchFlag.MatchContains)
            completer.setMaxVisibleItems(12)
            edit.setCompleter(completer)
            self._completers.append(completer)

    @property
    def images(self) -> list[ElfImage]:
        """The loaded programs, for symbols and source lines."""
        return self.symbols.images

    @images.setter
    def images(self, images: list[ElfImage]) -> None:
        self.symbols.images = images
        names = {sym.name for image in images for sym in image.symbols
                 if sym.kind in ("func", "object") and sym.name}
        self.completion.setStringList(sorted(names, key=str.lower))

    @property
    def cpu(self) -> int:
        """The chosen target."""
        return self.controls.cpu

    def set_vms(self, vm_names: tuple[str, ...], node_of: Callable[[int], int],
                target_vms: tuple[str | None, ...] = ()) -> None:
        """Debug vCPUs of these VMs (`target_vms`: the VM of each vCPU the target box
        lists; `node_of(machine page)`: its node): the monitor's tables and choices appear."""
        self.vm_names = vm_names
        self.target_vms = target_vms
        self.controls.set_vms()
        self.bps.set_vms(vm_names, target_vms)
        self.memory_view.set_vms()
        self.cp0_view.set_vms()
        self.tables.set_vms(node_of)
        self.log_view.vm_names = vm_names
        for w in (self.tables.l2tlb, self.tables.pmap, self.log_view):
            w.show()
        self.tabs.addTab(self.tables.l2tlb, "L2TLB")
        self.tabs.addTab(self.tables.pmap, "pmap")
        self.tabs.addTab(self.log_view, "Monitor log")

    def _who_wrote_memory(self, address: int, length: int, space: str | None) -> None:
        from ..whowrote_dialog import SPACE_OF_VIEW, Query

        vm = self.target_vms[self.cpu] if 0 <= self.cpu < len(self.target_vms) else None
        kind = SPACE_OF_VIEW.get(space, "gva")
        self.who_wrote_requested.emit(Query(int(address), int(length), kind,
                                            None if kind == "ma" else vm))

    def _who_wrote_register(self, name: str) -> None:
        from ..whowrote_dialog import Query

        self.who_wrote_requested.emit(Query(register=name.removeprefix("$"), target=self.cpu,
                                            target_name=self.cpu_box.currentText()))

    def set_targets(self, names: tuple[str, ...]) -> None:
        self.controls.set_targets(names)

    def update_snapshot(self, snap: Snapshot, force: bool = False) -> None:
        self.snapshot = snap
        self.controls.update_snapshot(snap)
        now = time.monotonic()
        if snap.running and not force and now - self._last_refresh < RUNNING_REFRESH:
            return
        self._last_refresh = now
        d = snap.debug
        pc = d.pc if d.regs is not None else int(snap.pc[d.cpu])
        state = "running" if snap.running else ("halted" if snap.halted else "paused")
        source = self.symbols.source_line(pc)
        self.status.setText(f"{d.where or f'CPU {d.cpu}'}: {state}, pc "
                            f"{self.symbols.describe(pc)}" + (f"  {source}" if source else ""))
        self.status.setToolTip(self.status.text())
        self.registers_view.update_snapshot(snap)
        self.cp0_view.update_snapshot(snap)
        self.disassembly.update_snapshot(snap, pc)
        if self.tabs.currentWidget() is self.source or not snap.running:
            self.source.update_snapshot(snap, pc)
        self.memory_view.update_snapshot(snap)
        self.tables.update_detail(d)
        if d.monitor_events:
            self.log_view.add_events(d.monitor_events)
        self.bps.update_snapshot(snap)

    def show_message(self, text: str, error: bool = False) -> None:
        """What the status bar says about a stop, a step or an error, here too: the
        debugger is where the user looks (and the status bar may be off screen)."""
        color = theme.STATE_STOPPED if error else theme.ACCENT
        self.message.setStyleSheet(f"color: {color.name()};")
        self.message.setText(text)
        self.message.setToolTip(text)
        self.message.show()

    def describe(self, address: int) -> str:
        return self.symbols.describe(address)

    def source_line(self, address: int) -> str | None:
        return self.symbols.source_line(address)
