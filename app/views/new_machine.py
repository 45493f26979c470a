"""File > New machine: a preset, the VM layout and the monitor's policies.

The dialog refuses what the machine cannot hold with the session's own check
(`disco_core.session.check_vms_request`), so its messages are those a script
would get; nothing is built until the choice is valid.
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
from disco_core.presets import PRESETS
from disco_core.session import check_vms_request

from .. import theme

# What the monitor offers for page placement today; the NUMA manager's
# migration and replication are listed once the monitor has them.
POLICIES = ("first touch on the VM's home node",)


@dataclass(frozen=True)
class MachineChoice:
    preset: str = "flash8"
    vms: int = 4
    vcpus: int = 1
    memory_mib: int | None = None  # None: the machine's memory split evenly
    policy: str = POLICIES[0]

    @property
    def title(self) -> str:
        return f"{self.vms} VMs \u00d7 {self.vcpus} vCPU on {self.preset}"


class NewMachineDialog(QDialog):
    def __init__(self, parent: QWidget | None = None,
                 initial: MachineChoice = MachineChoice()) -> None:  # noqa: B008
        super().__init__(parent)
        self.setObjectName("new-machine")
        self.setWindowTitle("New machine")
        self.choice: MachineChoice | None = None
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.preset = QComboBox()
        self.preset.setObjectName("preset")
        for name, cfg in PRESETS.items():
            self.preset.addItem(f"{name}: {cfg.nodes} nodes, {cfg.cpus} CPUs, "
                                f"{cfg.ram_bytes >> 20} MiB", name)
        self.preset.setCurrentIndex(list(PRESETS).index(initial.preset))
        form.addRow("Machine", self.preset)
        self.vms = QSpinBox()
        self.vms.setObjectName("vms")
        self.vms.setRange(0, 64)
        self.vms.setValue(initial.vms)
        form.addRow("Virtual machines", self.vms)
        self.vcpus = QSpinBox()
        self.vcpus.setObjectName("vcpus")
        self.vcpus.setRange(1, 64)
        self.vcpus.setValue(initial.vcpus)
        form.addRow("vCPUs per VM", self.vcpus)
        self.memory = QSpinBox()
        self.memory.setObjectName("memory")
        self.memory.setRange(0, 4096)
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
        layout.addLayout(form)
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
        layout.addWidget(buttons)

    def current(self) -> MachineChoice:
        return MachineChoice(self.preset.currentData(), self.vms.value(), self.vcpus.value(),
                             self.memory.value() or None, self.policy.currentText())

    def accept(self) -> None:
        """Close only on a layout the machine can hold; say why otherwise."""
        choice = self.current()
        try:
            check_vms_request(choice.preset, choice.vms, choice.vcpus, choice.memory_mib)
        except DiscoError as e:
            self.error.setText(str(e))
            return
        self.choice = choice
        self.error.setText("")
        super().accept()
