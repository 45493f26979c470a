"""Run control: the target chooser, continue/pause/step actions, their reverse, and run-to.

The reverse actions go back through the session's recorded history
(app/history.py, disco_core/record/reverse.py); they are enabled only where
there is a history (sessions of virtual machines)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStyle,
    QToolButton,
    QWidget,
)

from disco_core.session import (
    Command,
    Focus,
    Pause,
    PauseVm,
    Resume,
    ResumeVm,
    RunTo,
    Snapshot,
    Step,
    StepOut,
    StepOver,
)

from .common import target_of


class RunControls(QWidget):
    """The first row of the dock (the target box and the run actions) and run-to
    (`run_row`: (widget, stretch) pairs the dock lays out in a row of their own)."""

    commanded = Signal(object)  # a session Command
    target_chosen = Signal(int)  # the user chose another target: its details are stale
    reverse_requested = Signal(str, int)  # how (continue, into, over, out), the target

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.cpu_label = QLabel("CPU")
        row.addWidget(self.cpu_label)
        self.cpu_box = QComboBox()
        self.cpu_box.setObjectName("cpu-box")
        self.cpu_box.currentIndexChanged.connect(self._chosen)
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
        # Reverse, in the keys of common debuggers: Shift adds "backwards" to F5, and
        # Ctrl+Shift to the step keys (plain Shift+F11 is step out already).
        self.act_rcontinue = self._action("Reverse continue", "Shift+F5",
                                          lambda: self._reverse("continue"),
                                          sp.SP_MediaSeekBackward)
        self.act_rstep = self._action("Reverse step", "Ctrl+Shift+F11",
                                      lambda: self._reverse("into"), sp.SP_ArrowUp)
        self.act_rover = self._action("Reverse step over", "Ctrl+Shift+F10",
                                      lambda: self._reverse("over"), sp.SP_ArrowBack)
        self.act_rout = self._action("Reverse step out", "Alt+Shift+F11",
                                     lambda: self._reverse("out"), sp.SP_MediaSkipBackward)
        self.set_reverse_enabled(False)
        for act in self.actions_in_order() + self.reverse_actions():
            b = QToolButton()
            b.setDefaultAction(act)
            row.addWidget(b)
        row.addStretch(1)

        self.run_to = QLineEdit()
        self.run_to.setObjectName("run-to")
        self.run_to.setPlaceholderText("run to address or symbol")
        self.run_to.returnPressed.connect(self._run_to)
        self.run_to.setMinimumWidth(
            self.run_to.fontMetrics().horizontalAdvance(self.run_to.placeholderText()) + 16)
        go = QPushButton("Run to")
        go.clicked.connect(self._run_to)
        self.run_row: list[tuple[QWidget, int]] = [(self.run_to, 1), (go, 0)]
        # With VMs: stop the chosen vCPU's VM alone while the others run (PauseVm).
        self.pause_vm = QPushButton("Pause VM")
        self.pause_vm.setObjectName("pause-vm")
        self.pause_vm.setCheckable(True)
        self.pause_vm.setToolTip("pause the chosen vCPU's VM while the other VMs run on "
                                 "(click again to resume it)")
        self.pause_vm.clicked.connect(self._pause_vm)
        self.pause_vm.hide()
        self.run_row.append((self.pause_vm, 0))
        self._target_vm: tuple[str, ...] = ()  # the VM of each target, from the snapshots

        self._names: tuple[str, ...] | None = None
        self._requested: int | None = None  # a choice on its way to the session

    def _action(self, text: str, key: str, slot: Callable[[], None],
                icon: QStyle.StandardPixmap) -> QAction:
        act = QAction(self.style().standardIcon(icon), text, self)
        act.setShortcut(QKeySequence(key))
        act.setToolTip(f"{text} ({key})")
        act.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        act.triggered.connect(slot)
        self.addAction(act)
        return act

    def actions_in_order(self) -> tuple[QAction, ...]:
        """Continue, pause, step into, step over, step out: for toolbars and menus."""
        return (self.act_continue, self.act_pause, self.act_step, self.act_over, self.act_out)

    def reverse_actions(self) -> tuple[QAction, ...]:
        """Reverse continue, reverse step, reverse step over, reverse step out."""
        return (self.act_rcontinue, self.act_rstep, self.act_rover, self.act_rout)

    def set_reverse_enabled(self, on: bool, why: str = "") -> None:
        for act in self.reverse_actions():
            act.setEnabled(on)
            key = act.shortcut().toString()
            act.setToolTip(f"{act.text()} ({key})" + ("" if on else f": {why}"))

    def _reverse(self, how: str) -> None:
        self.reverse_requested.emit(how, self.cpu)

    @property
    def cpu(self) -> int:
        """The chosen target (a CPU, or a vCPU with VMs)."""
        return max(self.cpu_box.currentIndex(), 0)

    def _send(self, command: Command) -> None:
        self.commanded.emit(command)

    def _chosen(self, index: int) -> None:
        if index >= 0 and self._names:
            self._requested = index
            self.target_chosen.emit(index)
            self._send(Focus(index))

    def _run_to(self) -> None:
        target = target_of(self.run_to.text())
        if target is not None:
            self._send(RunTo(self.cpu, target))

    def _pause_vm(self, paused: bool) -> None:
        if self.cpu < len(self._target_vm):
            vm = self._target_vm[self.cpu]
            self._send(PauseVm(vm) if paused else ResumeVm(vm))

    def set_vms(self) -> None:
        self.cpu_label.setText("vCPU")
        self.pause_vm.show()

    def set_targets(self, names: tuple[str, ...]) -> None:
        if names != self._names:
            self.cpu_box.blockSignals(True)
            self.cpu_box.clear()
            self.cpu_box.addItems(list(names))
            self.cpu_box.blockSignals(False)
            self._names = names

    def update_snapshot(self, snap: Snapshot) -> None:
        """The targets, the one the session focuses, and which actions apply now."""
        self.set_targets(snap.targets or tuple(f"CPU {i}" for i in range(snap.cpus)))
        if self._requested is not None and snap.debug.cpu == self._requested:
            self._requested = None  # the session follows the choice now
        # Follow the session's focus (it moves to a CPU that stops), except while
        # a choice made here is still on its way to the session.
        if self._requested is None and snap.debug.cpu != self.cpu_box.currentIndex():
            self.cpu_box.blockSignals(True)
            self.cpu_box.setCurrentIndex(snap.debug.cpu)
            self.cpu_box.blockSignals(False)
        self.act_continue.setEnabled(not snap.running and not snap.halted)
        self.act_pause.setEnabled(snap.running)
        vms = snap.vms
        if vms is not None:
            self._target_vm = tuple(vms.names[i] for i in vms.vcpu_vm)
            if self.cpu < len(self._target_vm):
                i = vms.vcpu_vm[self.cpu]
                paused = vms.vm_state[i] == "paused"
                self.pause_vm.setChecked(paused)
                self.pause_vm.setText(f"Resume {vms.names[i]}" if paused
                                      else f"Pause {vms.names[i]}")
                self.pause_vm.setEnabled(paused or vms.vm_state[i] == "running")
