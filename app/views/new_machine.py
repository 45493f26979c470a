"""File > New session: the session kind, a preset, the VM layout and the monitor's policies.

Every session kind the command line offers can be chosen (virtual machines under
the monitor, the bare machine running numademo, the native guest kernel). The
dialog checks the layout as you type with the session's own check
(`disco_core.session.check_vms_request`), so its messages are those a script
would get: OK is enabled only for a layout the machine can hold, the message
always describes the current values (never a stale one), and no value is clamped
silently (the spin boxes accept more than fits, and the message says why not).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from disco_core.errors import DiscoError
from disco_core.mips import PAGE_SIZE
from disco_core.presets import PRESETS
from disco_core.session import check_vms_request

from .. import theme

# What the monitor offers for page placement today; the NUMA manager's
# migration and replication are listed once the monitor has them.
POLICIES = ("first touch on the VM's home node",)
# The session kinds (disco_core.session.SESSION_KINDS) and how the dialog names them.
KINDS = {
    "vms": "virtual machines under the Disco monitor",
    "baremetal": "bare machine: numademo on every CPU",
    "kernel": "native guest kernel booted to its shell",
    "linux": "Debian's Linux kernel booted natively to a busybox shell",
}
LIMIT = 4096  # the spin boxes' top: far above what fits, so nothing is clamped silently


def plural(count: int, word: str) -> str:
    """"1 node", "2 nodes"."""
    return f"{count} {word}" + ("" if count == 1 else "s")


@dataclass(frozen=True)
class MachineChoice:
    preset: str = "flash8"
    vms: int = 4
    vcpus: int = 1
    memory_mib: int | None = None  # None: the machine's memory split evenly
    policy: str = POLICIES[0]
    kind: str = "vms"  # a key of KINDS

    @property
    def title(self) -> str:
        if self.kind != "vms":
            return f"{KINDS[self.kind]} on {self.preset}"
        return f"{plural(self.vms, 'VM')} \u00d7 {plural(self.vcpus, 'vCPU')} on {self.preset}"


class NewMachineDialog(QDialog):
    def __init__(self, parent: QWidget | None = None,
                 initial: MachineChoice = MachineChoice()) -> None:  # noqa: B008
        super().__init__(parent)
        self.setObjectName("new-machine")
        self.setWindowTitle("New session")
        self.choice: MachineChoice | None = None
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.kind = QComboBox()
        self.kind.setObjectName("kind")
        for key, text in KINDS.items():
            self.kind.addItem(text, key)
        self.kind.setCurrentIndex(list(KINDS).index(initial.kind))
        form.addRow("Session", self.kind)
        self.preset = QComboBox()
        self.preset.setObjectName("preset")
        for name, cfg in PRESETS.items():
            self.preset.addItem(f"{name}: {plural(cfg.nodes, 'node')}, "
                                f"{plural(cfg.cpus, 'CPU')}, {cfg.ram_bytes >> 20} MiB", name)
        self.preset.setCurrentIndex(list(PRESETS).index(initial.preset))
        form.addRow("Machine", self.preset)
        self.vms = QSpinBox()
        self.vms.setObjectName("vms")
        self.vms.setRange(0, LIMIT)
        self.vms.setValue(initial.vms)
        form.addRow("Virtual machines", self.vms)
        self.vcpus = QSpinBox()
        self.vcpus.setObjectName("vcpus")
        self.vcpus.setRange(0, LIMIT)
        self.vcpus.setValue(initial.vcpus)
        form.addRow("vCPUs per VM", self.vcpus)
        self.memory = QSpinBox()
        self.memory.setObjectName("memory")
        self.memory.setRange(0, LIMIT)
        self.memory.setSuffix(" MiB")
        self.memory.setSpecialValueText("split the machine's memory evenly")
        self.memory.setValue(initial.memory_mib or 0)
        form.addRow("Memory per VM", self.memory)
        self.policy = QComboBox()
        self.policy.setObjectName("policy")
        self.policy.addItems(POLICIES)
        self.policy.setToolTip("page placement: the monitor allocates a VM's pages on its home "
                               "node; migration and replication come with the NUMA manager")
        form.addRow("Page placement", self.policy)
        self._vm_fields = (self.vms, self.vcpus, self.memory, self.policy)
        layout.addLayout(form)
        self.summary = QLabel("")
        self.summary.setObjectName("summary")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {theme.STATE_STOPPED.name()};")
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        layout.addWidget(buttons)
        for box in (self.kind, self.preset, self.policy):
            box.currentIndexChanged.connect(self.validate)
        for spin in (self.vms, self.vcpus, self.memory):
            spin.valueChanged.connect(self.validate)
        self.validate()

    def current(self) -> MachineChoice:
        return MachineChoice(self.preset.currentData(), self.vms.value(), self.vcpus.value(),
                             self.memory.value() or None, self.policy.currentText(),
                             self.kind.currentData())

    def validate(self) -> bool:
        """Check the current values; the message and OK follow them at once."""
        choice = self.current()
        for field in self._vm_fields:
            field.setEnabled(choice.kind == "vms")
        config = PRESETS[choice.preset]
        machine = (f"{choice.preset}: {plural(config.nodes, 'node')}, "
                   f"{plural(config.cpus, 'CPU')}, {config.ram_bytes >> 20} MiB")
        if choice.kind != "vms":
            self.summary.setText(f"{KINDS[choice.kind].capitalize()} on {machine}.")
            self.error.setText("")
            self.ok.setEnabled(True)
            return True
        try:
            pages = check_vms_request(choice.preset, choice.vms, choice.vcpus,
                                      choice.memory_mib)
        except DiscoError as e:
            self.summary.setText("")
            self.error.setText(str(e))
            self.ok.setEnabled(False)
            return False
        if pages is None:
            each = "the machine's memory split evenly"
        else:
            mib = pages * PAGE_SIZE >> 20
            each = f"{mib} MiB each, {mib * choice.vms} of {config.ram_bytes >> 20} MiB"
        self.summary.setText(f"{plural(choice.vms, 'VM')} \u00d7 "
                             f"{plural(choice.vcpus, 'vCPU')} on {machine}; {each}.")
        self.error.setText("")
        self.ok.setEnabled(True)
        return True

    def accept(self) -> None:
        """Close only on a layout the machine can hold (the message says why not)."""
        if not self.validate():
            return
        self.choice = self.current()
        super().accept()
