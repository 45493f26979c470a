"""The debugger dock: run control, breakpoints, registers, CP0, disassembly, memory, TLB.

It never touches the machine: what it shows comes from snapshots (the
session copies the focused CPU's details into `Snapshot.debug`), and what it
does goes out as session commands through the `commanded` signal.

With virtual machines (`set_vms`) the targets are vCPUs: breakpoints apply to
one VM, one vCPU or every VM; CP0 shows the vCPU's virtual CP0 next to the
real one of the CPU it runs on; the memory view reads guest-virtual,
guest-physical or machine addresses; and tabs show the vCPU's L2TLB, its VM's
pmap and the monitor's event log.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QColor, QFont, QKeySequence, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStyle,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from disco_core import disasm
from disco_core.elf import ElfImage
from disco_core.session import (
    AddBreakpoint,
    AddWatchpoint,
    Command,
    Focus,
    Pause,
    RemoveBreakpoint,
    RemoveWatchpoint,
    Resume,
    RunTo,
    Snapshot,
    Step,
    StepOut,
    StepOver,
    TraceMonitor,
)

from ..models.array_model import L2TlbModel, PmapModel
from ..models.tlb_model import TlbModel

GPR_NAMES = ["zero", "at", "v0", "v1", "a0", "a1", "a2", "a3", "t0", "t1", "t2", "t3", "t4",
             "t5", "t6", "t7", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "t8", "t9",
             "k0", "k1", "gp", "sp", "fp", "ra"]
CHANGED = QColor("#7a4b16")
RUNNING_REFRESH = 1.0  # s between refreshes while the machine runs (all changes anyway)
EVENT_LINES = 2000  # the monitor event log view keeps this many lines
SCOPES = ("this VM", "this vCPU", "every VM")


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


class DebuggerDock(QDockWidget):
    commanded = Signal(object)  # a session Command

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Debugger", parent)
        self.setObjectName("debugger")
        self.images: list[ElfImage] = []
        body = QWidget()
        outer = QVBoxLayout(body)
        outer.setContentsMargins(4, 4, 4, 4)

        # Run control.
        row = QHBoxLayout()
        self.cpu_label = QLabel("CPU")
        row.addWidget(self.cpu_label)
        self.cpu_box = QComboBox()
        self.cpu_box.setObjectName("cpu-box")
        self.cpu_box.currentIndexChanged.connect(self._cpu_chosen)
        row.addWidget(self.cpu_box)
        sp = QStyle.StandardPixmap
        self.act_continue = self._action("Continue", "F5", lambda: self._send(Resume()),
                                         sp.SP_MediaPlay)
        self.act_pause = self._action("Pause", "F6", lambda: self._send(Pause()),
                                      sp.SP_MediaPause)
        self.act_step = self._action("Step into", "F11", lambda: self._send(Step(self.cpu)),
                                     sp.SP_ArrowDown)
        self.act_over = self._action("Step over", "F10",
                                     lambda: self._send(StepOver(self.cpu)), sp.SP_ArrowForward)
        self.act_out = self._action("Step out", "Shift+F11",
                                    lambda: self._send(StepOut(self.cpu)), sp.SP_ArrowUp)
        for act in (self.act_continue, self.act_pause, self.act_step, self.act_over,
                    self.act_out):
            b = QToolButton()
            b.setDefaultAction(act)
            row.addWidget(b)
        row.addStretch(1)
        outer.addLayout(row)

        row = QHBoxLayout()
        self.run_to = QLineEdit()
        self.run_to.setObjectName("run-to")
        self.run_to.setPlaceholderText("run to address or symbol")
        self.run_to.returnPressed.connect(self._run_to)
        row.addWidget(self.run_to, 1)
        go = QPushButton("Run to")
        go.clicked.connect(self._run_to)
        row.addWidget(go)
        self.bp_edit = QLineEdit()
        self.bp_edit.setObjectName("breakpoint-edit")
        self.bp_edit.setPlaceholderText("breakpoint: address or symbol")
        self.bp_edit.returnPressed.connect(self._add_breakpoint)
        row.addWidget(self.bp_edit, 1)
        self.bp_this_cpu = QCheckBox("this CPU")
        self.bp_this_cpu.setToolTip("stop only when the chosen CPU gets there")
        row.addWidget(self.bp_this_cpu)
        self.bp_scope = QComboBox()
        self.bp_scope.setObjectName("breakpoint-scope")
        self.bp_scope.addItems(SCOPES)
        self.bp_scope.setToolTip("which vCPUs stop there: those of the chosen vCPU's VM, the "
                                 "chosen vCPU only, or every VM's (the VMs share the kernel's "
                                 "addresses)")
        self.bp_scope.hide()
        row.addWidget(self.bp_scope)
        add = QPushButton("Add")
        add.clicked.connect(self._add_breakpoint)
        row.addWidget(add)
        outer.addLayout(row)

        self.status = QLabel("")
        self.status.setObjectName("debug-status")
        # long texts must not widen the dock: they are cut, and the tooltip has them whole
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        outer.addWidget(self.status)

        split = QSplitter(Qt.Orientation.Vertical)
        self.disassembly = QPlainTextEdit()
        self.disassembly.setObjectName("disassembly")
        self.disassembly.setReadOnly(True)
        self.disassembly.setFont(mono())
        self.disassembly.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        split.addWidget(self.disassembly)

        self.tabs = QTabWidget()
        self.registers = QTableWidget(18, 4)
        self.registers.setObjectName("registers")
        self.registers.setFont(mono())
        self.registers.setHorizontalHeaderLabels(["reg", "value", "reg", "value"])
        self.registers.verticalHeader().hide()
        self.registers.verticalHeader().setDefaultSectionSize(19)
        self.registers.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.registers.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.tabs.addTab(self.registers, "Registers")
        self.cp0 = QTableWidget(0, 2)
        self.cp0.setObjectName("cp0")
        self.cp0.setFont(mono())
        self.cp0.setHorizontalHeaderLabels(["CP0", "value"])
        self.cp0.verticalHeader().hide()
        self.cp0.verticalHeader().setDefaultSectionSize(19)
        self.cp0.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.cp0.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.tabs.addTab(self.cp0, "CP0")
        mem = QWidget()
        ml = QVBoxLayout(mem)
        ml.setContentsMargins(0, 0, 0, 0)
        self.mem_addr = QLineEdit()
        self.mem_addr.setObjectName("memory-address")
        self.mem_addr.setPlaceholderText("address or symbol, Enter to show")
        self.mem_addr.returnPressed.connect(self._memory_at)
        mrow = QHBoxLayout()
        mrow.addWidget(self.mem_addr, 1)
        self.mem_space = QComboBox()
        self.mem_space.setObjectName("memory-space")
        self.mem_space.addItems(["virtual", "physical", "machine"])
        self.mem_space.setToolTip("guest-virtual (through the vCPU's TLB, or the kernel's "
                                  "relocated kseg0 at 0xC0000000 + guest PA), guest-physical "
                                  "(through the pmap) or machine address")
        self.mem_space.currentTextChanged.connect(lambda _t: self._memory_at())
        self.mem_space.hide()
        mrow.addWidget(self.mem_space)
        ml.addLayout(mrow)
        self.memory = QPlainTextEdit()
        self.memory.setObjectName("memory")
        self.memory.setReadOnly(True)
        self.memory.setFont(mono())
        self.memory.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        ml.addWidget(self.memory)
        self.tabs.addTab(mem, "Memory")
        self.tlb_model = TlbModel()
        self.tlb = QTableView()
        self.tlb.setObjectName("tlb")
        self.tlb.setFont(mono())
        self.tlb.setModel(self.tlb_model)
        self.tlb.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.tlb.verticalHeader().setDefaultSectionSize(19)
        self.tabs.addTab(self.tlb, "TLB")
        # The monitor's tables: parented here (hidden) until set_vms puts them in tabs.
        self.l2tlb_model = L2TlbModel()
        self.l2tlb = self._table("l2tlb", self.l2tlb_model, body)
        self.pmap_model = PmapModel()
        self.pmap = self._table("pmap", self.pmap_model, body)
        log = QWidget(body)
        log.hide()
        ll = QVBoxLayout(log)
        ll.setContentsMargins(0, 0, 0, 0)
        self.trace_tlb = QCheckBox("record TLB writes (tlbwr/tlbwi: VA → PA → MA)")
        self.trace_tlb.setObjectName("trace-tlb")
        self.trace_tlb.toggled.connect(lambda on: self._send(TraceMonitor(on)))
        ll.addWidget(self.trace_tlb)
        self.event_log = QPlainTextEdit()
        self.event_log.setObjectName("monitor-log")
        self.event_log.setReadOnly(True)
        self.event_log.setFont(mono())
        self.event_log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.event_log.setMaximumBlockCount(EVENT_LINES)  # capped: old lines fall off
        ll.addWidget(self.event_log)
        self._log_widget = log
        self._event_seq = -1
        self.vm_names: tuple[str, ...] = ()
        self.target_vms: tuple[str, ...] = ()
        self.node_of = lambda mpn: -1
        bps = QWidget()
        bl = QVBoxLayout(bps)
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
        self.watch_access.addItems(["write", "read", "read/write"])
        watch_row.addWidget(self.watch_access)
        watch = QPushButton("Watch")
        watch.clicked.connect(self._add_watchpoint)
        watch_row.addWidget(watch)
        bl.addLayout(watch_row)
        remove = QPushButton("Remove selected")
        remove.clicked.connect(self._remove_breakpoint)
        bl.addWidget(remove)
        self.tabs.addTab(bps, "Breakpoints")
        split.addWidget(self.tabs)
        split.setSizes([300, 260])
        outer.addWidget(split, 1)
        self.setWidget(body)

        self._shown_cpus = 0
        self._requested_cpu: int | None = None
        self._prev_regs: tuple[int, np.ndarray] | None = None
        self._prev_cp0: dict[str, int] = {}
        self._last_refresh = 0.0
        self._bp_keys: list[tuple[int, int | None]] = []
        self._watch_keys: list[tuple[int, int, str, int | None]] = []
        self.snapshot: Snapshot | None = None
        disasm.disassemble(bytes(4), 0)  # load capstone now, not at the first stop

    def _table(self, name: str, model: object, parent: QWidget) -> QTableView:
        view = QTableView(parent)
        view.hide()
        view.setObjectName(name)
        view.setFont(mono())
        view.setModel(model)  # type: ignore[arg-type]
        view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        view.verticalHeader().setDefaultSectionSize(19)
        view.verticalHeader().hide()
        return view

    def set_vms(self, vm_names: tuple[str, ...], node_of,  # type: ignore[no-untyped-def]
                target_vms: tuple[str, ...] = ()) -> None:
        """Debug vCPUs of these VMs (`target_vms`: the VM of each vCPU the CPU box
        lists): the monitor's tables and choices appear."""
        self.vm_names = vm_names
        self.target_vms = target_vms
        self.node_of = node_of
        self.pmap_model.node_of = node_of
        self.cpu_label.setText("vCPU")
        self.bp_this_cpu.hide()
        self.bp_scope.show()
        self.mem_space.show()
        self.cp0.setColumnCount(3)
        self.cp0.setHorizontalHeaderLabels(["CP0", "real (the CPU)", "virtual (the vCPU)"])
        for w in (self.l2tlb, self.pmap, self._log_widget):
            w.show()
        self.tabs.addTab(self.l2tlb, "L2TLB")
        self.tabs.addTab(self.pmap, "pmap")
        self.tabs.addTab(self._log_widget, "Monitor log")

    # ---- helpers -------------------------------------------------------------

    def _action(self, text: str, key: str, slot,  # type: ignore[no-untyped-def]
                icon: QStyle.StandardPixmap) -> QAction:
        act = QAction(self.style().standardIcon(icon), text, self)
        act.setShortcut(QKeySequence(key))
        act.setToolTip(f"{text} ({key})")
        act.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        act.triggered.connect(slot)
        self.addAction(act)
        return act

    @property
    def cpu(self) -> int:
        return max(self.cpu_box.currentIndex(), 0)

    def _send(self, command: Command) -> None:
        self.commanded.emit(command)

    def _cpu_chosen(self, index: int) -> None:
        if index >= 0 and self._shown_cpus:
            self._prev_regs = None
            self._requested_cpu = index
            self._send(Focus(index))

    def _target(self, text: str) -> int | str | None:
        text = text.strip()
        if not text:
            return None
        address = parse_address(text)
        return address if address is not None else text

    def _run_to(self) -> None:
        target = self._target(self.run_to.text())
        if target is not None:
            self._send(RunTo(self.cpu, target))

    def _scope(self) -> tuple[int | None, str | None]:
        """(cpu, vm) of a new breakpoint or watchpoint."""
        if not self.vm_names:
            return (self.cpu if self.bp_this_cpu.isChecked() else None), None
        scope = self.bp_scope.currentText()
        if scope == "this vCPU":
            return self.cpu, None
        if scope == "this VM":
            return None, self.target_vms[self.cpu]
        return None, None

    def _add_breakpoint(self) -> None:
        target = self._target(self.bp_edit.text())
        if target is not None:
            cpu, vm = self._scope()
            self._send(AddBreakpoint(target, cpu, vm))
            self.bp_edit.clear()

    def _add_watchpoint(self) -> None:
        target = self._target(self.watch_edit.text())
        if target is not None:
            access = {"write": "w", "read": "r"}.get(self.watch_access.currentText(), "rw")
            cpu, vm = self._scope()
            self._send(AddWatchpoint(target, 4, access, cpu, vm))
            self.watch_edit.clear()

    def _remove_breakpoint(self) -> None:
        """Remove the selected row: breakpoints come first, then watchpoints."""
        row = self.breakpoints.currentRow()
        if 0 <= row < len(self._bp_keys):
            address, cpu, vm = self._bp_keys[row]
            self._send(RemoveBreakpoint(address, cpu, vm))
        elif 0 <= row - len(self._bp_keys) < len(self._watch_keys):
            address, length, access, cpu, vm = self._watch_keys[row - len(self._bp_keys)]
            self._send(RemoveWatchpoint(address, length, access, cpu, vm))

    def _memory_at(self) -> None:
        target = self._target(self.mem_addr.text())
        if target is None:
            return
        if isinstance(target, str):
            for image in self.images:
                try:
                    target = image.address_of(target)
                    break
                except KeyError:
                    continue
            else:
                self.status.setText(f"no symbol named {target!r}")
                return
        space = self.mem_space.currentText() if self.vm_names else None
        self._send(Focus(self.cpu, int(target), space))

    # ---- updates ---------------------------------------------------------------

    def set_cpus(self, cpus: int) -> None:
        self.set_targets(tuple(f"CPU {i}" for i in range(cpus)))

    def set_targets(self, names: tuple[str, ...]) -> None:
        if names != getattr(self, "_target_names", None):
            self.cpu_box.blockSignals(True)
            self.cpu_box.clear()
            self.cpu_box.addItems(list(names))
            self.cpu_box.blockSignals(False)
            self._target_names = names
            self._shown_cpus = len(names)

    def update_snapshot(self, snap: Snapshot, force: bool = False) -> None:
        self.snapshot = snap
        self.set_targets(snap.targets or tuple(f"CPU {i}" for i in range(snap.cpus)))
        if self._requested_cpu is not None and snap.debug.cpu == self._requested_cpu:
            self._requested_cpu = None  # the session follows the choice now
        # Follow the session's focus (it moves to a CPU that stops), except while
        # a choice made here is still on its way to the session.
        if self._requested_cpu is None and snap.debug.cpu != self.cpu_box.currentIndex():
            self.cpu_box.blockSignals(True)
            self.cpu_box.setCurrentIndex(snap.debug.cpu)
            self.cpu_box.blockSignals(False)
        self.act_continue.setEnabled(not snap.running and not snap.halted)
        self.act_pause.setEnabled(snap.running)
        now = time.monotonic()
        if snap.running and not force and now - self._last_refresh < RUNNING_REFRESH:
            return
        self._last_refresh = now
        d = snap.debug
        cpu = d.cpu
        pc = d.pc if d.regs is not None else int(snap.pc[cpu])
        state = "running" if snap.running else ("halted" if snap.halted else "paused")
        where = self.describe(pc)
        source = self.source_line(pc)
        self.status.setText(f"{d.where or f'CPU {cpu}'}: {state}, pc {where}"
                            + (f"  {source}" if source else ""))
        self.status.setToolTip(self.status.text())
        self._show_registers(snap, cpu)
        self._show_cp0(snap)
        self._show_disassembly(snap, pc)
        self._show_memory(snap)
        self.tlb_model.set_tlb(d.tlb)
        if d.l2tlb is not None:
            self.l2tlb_model.set_rows(d.l2tlb)
        if d.pmap is not None:
            self.pmap_model.set_rows(d.pmap)
        if d.monitor_events:
            self._show_events(d.monitor_events)
        self._show_breakpoints(snap)

    def _show_events(self, events: tuple[object, ...]) -> None:
        """Append the events not shown yet (the log is capped at EVENT_LINES)."""
        new = [e for e in events if e.seq > self._event_seq]  # type: ignore[attr-defined]
        if not new:
            return
        self._event_seq = new[-1].seq  # type: ignore[attr-defined]
        names = self.vm_names
        lines = []
        for e in new[-EVENT_LINES:]:
            vm = names[e.vm] if e.vm is not None and e.vm < len(names) else "monitor"  # type: ignore
            cpu = f" CPU {e.cpu}" if e.cpu is not None else ""  # type: ignore[attr-defined]
            lines.append(f"{e.cycle:>12,}  {vm}{cpu}: {e.text}")  # type: ignore[attr-defined]
        self.event_log.appendPlainText("\n".join(lines))

    def describe(self, address: int) -> str:
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

    def _cell(self, table: QTableWidget, r: int, c: int, text: str, changed: bool) -> None:
        item = table.item(r, c)
        if item is None:
            item = QTableWidgetItem()
            table.setItem(r, c, item)
        item.setText(text)
        item.setBackground(CHANGED if changed else QColor(0, 0, 0, 0))

    def _show_registers(self, snap: Snapshot, cpu: int) -> None:
        d = snap.debug
        if d.regs is not None:  # the target's own (a vCPU's saved ones while off its CPU)
            regs = d.regs
            extra = np.array([d.pc, d.hi, d.lo], np.uint32)
        else:
            regs = snap.regs[cpu]
            extra = np.array([snap.pc[cpu], snap.hi[cpu], snap.lo[cpu]], np.uint32)
        values = np.concatenate([regs, extra])
        prev = self._prev_regs[1] if self._prev_regs and self._prev_regs[0] == cpu else None
        names = [f"${n}" for n in GPR_NAMES] + ["pc", "hi", "lo"]
        # While running everything changes; highlight what a stop or a step changed.
        if prev is not None and not snap.running:
            changed = values != prev
        else:
            changed = np.zeros(len(values), bool)
        self.registers.setRowCount((len(values) + 1) // 2)
        for i, (name, v) in enumerate(zip(names, values, strict=True)):
            r, c = i % self.registers.rowCount(), 2 * (i // self.registers.rowCount())
            self._cell(self.registers, r, c, name, False)
            self._cell(self.registers, r, c + 1, f"0x{int(v):08x}", bool(changed[i]))
        self._prev_regs = (cpu, values)

    def _show_cp0(self, snap: Snapshot) -> None:
        rows = snap.debug.cp0
        virtual = dict(snap.debug.vcp0)
        self.cp0.setRowCount(len(rows))
        for r, (name, value) in enumerate(rows):
            self._cell(self.cp0, r, 0, name, False)
            old = self._prev_cp0.get(name)
            self._cell(self.cp0, r, 1, f"0x{value:08x}",
                       not snap.running and old is not None and old != value)
            if self.vm_names:
                v = virtual.get(name)
                oldv = self._prev_cp0.get("v" + name)
                self._cell(self.cp0, r, 2, "" if v is None else f"0x{v:08x}",
                           not snap.running and v is not None and oldv is not None and oldv != v)
        self._prev_cp0 = dict(rows) | {"v" + k: v for k, v in virtual.items()}

    def _show_disassembly(self, snap: Snapshot, pc: int) -> None:
        d = snap.debug
        key = (d.code_address, d.code, pc, tuple(b.address for b in snap.breakpoints))
        if key == getattr(self, "_shown_code", None):
            return  # an idle vCPU sits at the same pc: nothing to redo
        self._shown_code = key
        image = self.images[0] if self.images else None
        lines = disasm.disassemble(d.code, d.code_address, symbols=image)
        bps = {b.address for b in snap.breakpoints}
        text, current = [], -1
        last_sym = last_src = None
        for line in lines:
            sym = line.symbol.split("+")[0] if line.symbol else None
            if sym and sym != last_sym:
                text.append(f"<{sym}>:")
            last_sym = sym
            src = self.source_line(line.address)
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
        self.disassembly.setPlainText("\n".join(text))
        if current >= 0:
            block = self.disassembly.document().findBlockByNumber(current)
            cursor = QTextCursor(block)
            sel = QTextEdit.ExtraSelection()
            fmt = QTextCharFormat()
            fmt.setBackground(QColor("#2f6f95"))
            fmt.setProperty(QTextCharFormat.Property.FullWidthSelection, True)
            sel.format = fmt
            sel.cursor = cursor
            self.disassembly.setExtraSelections([sel])
            self.disassembly.setTextCursor(cursor)
            self.disassembly.centerCursor()

    def _show_memory(self, snap: Snapshot) -> None:
        d = snap.debug
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

    def _show_breakpoints(self, snap: Snapshot) -> None:
        keys = [(b.address, b.cpu, b.vm) for b in snap.breakpoints]
        wkeys = [(w.address, w.length, w.access, w.cpu, w.vm) for w in snap.watchpoints]
        if keys == self._bp_keys and wkeys == self._watch_keys:
            return
        self._bp_keys = keys
        self._watch_keys = wkeys
        self.breakpoints.clear()
        for b in snap.breakpoints:
            QListWidgetItem(f"break {b.label}  ({self._where(snap, b.cpu, b.vm)})",
                            self.breakpoints)
        for w in snap.watchpoints:
            QListWidgetItem(f"watch {w.access:<2} {w.label}  ({self._where(snap, w.cpu, w.vm)})",
                            self.breakpoints)

    def _where(self, snap: Snapshot, cpu: int | None, vm: str | None) -> str:
        if cpu is not None:
            return snap.targets[cpu] if cpu < len(snap.targets) else f"CPU {cpu}"
        if self.vm_names:
            return vm or "every VM"
        return "any CPU"
