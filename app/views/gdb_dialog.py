"""Debug > Start GDB server...: choose a VM and a port, then show the command that attaches."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from disco_core.errors import DiscoError

DEFAULT_PORT = 1234


class GdbDialog(QDialog):
    """`start(vm_index, port)` starts the server (port 0: a free one) and returns the
    attach command; the dialog then shows it, ready to copy."""

    def __init__(self, vms: list[str], start: Callable[[int, int], str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Start GDB server")
        self.setObjectName("gdb-dialog")
        self._start = start
        self.vm_box = QComboBox()
        self.vm_box.addItems(vms)
        self.port_box = QSpinBox()
        self.port_box.setRange(0, 65535)
        self.port_box.setValue(DEFAULT_PORT)
        self.port_box.setSpecialValueText("any free port")
        form = QFormLayout()
        form.addRow("Virtual machine", self.vm_box)
        form.addRow("Port (loopback)", self.port_box)
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.message = QLabel("One client at a time per VM; a breakpoint stops its VM only, "
                              "the other VMs run on.")
        self.message.setWordWrap(True)
        self.command = QLineEdit()
        self.command.setObjectName("attach-command")
        self.command.setReadOnly(True)
        self.command.setPlaceholderText("the command to attach appears here")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self.copy)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.start_button)
        layout.addWidget(self.message)
        layout.addWidget(self.command)
        layout.addWidget(self.copy_button)
        layout.addWidget(buttons)
        self.resize(720, 0)

    def start(self) -> None:
        try:
            text = self._start(self.vm_box.currentIndex(), self.port_box.value())
        except DiscoError as e:
            self.message.setText(str(e))
            return
        self.command.setText(text)
        self.copy_button.setEnabled(True)
        self.message.setText(f"Serving {self.vm_box.currentText()}: attach with")

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.command.text())
