"""The app's Debug > Start GDB server...: the dialog, and the engine serving a VM."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported anywhere

from pathlib import Path  # noqa: E402

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402

from app.main_window import MainWindow  # noqa: E402
from app.views.gdb_dialog import GdbDialog  # noqa: E402
from disco_core.errors import DiscoError  # noqa: E402
from disco_core.gdb.client import RawClient  # noqa: E402
from disco_core.session import vms_session  # noqa: E402


def test_the_dialog_shows_the_attach_command_ready_to_copy(qtbot) -> None:  # type: ignore[no-untyped-def]
    asked: list[tuple[int, int]] = []

    def start(vm: int, port: int) -> str:
        if port == 1:
            raise DiscoError("GDB server: cannot listen on 127.0.0.1:1: Permission denied")
        asked.append((vm, port))
        return f"gdb-multiarch -nx -ex 'target remote :{port}'"

    dialog = GdbDialog(["vm0", "vm1"], start)
    qtbot.addWidget(dialog)
    dialog.vm_box.setCurrentIndex(1)
    dialog.port_box.setValue(1)
    dialog.start()
    assert "Permission denied" in dialog.message.text() and not dialog.copy_button.isEnabled()
    dialog.port_box.setValue(4321)
    dialog.start()
    assert asked == [(1, 4321)]
    assert dialog.command.text().endswith("target remote :4321'")
    dialog.copy()
    assert QGuiApplication.clipboard().text() == dialog.command.text()


def test_the_engine_serves_a_vm_between_its_slices(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    session = vms_session(vms=2, preset_name="flash8")
    window = MainWindow(session, settings=QSettings(str(tmp_path / "w.ini"),
                                                   QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    assert window.act_gdb.isEnabled()
    server = window.engine.serve_gdb(1, 0)
    with RawClient(server.port) as c:
        assert c.ask(b"qSupported:multiprocess+").startswith(b"PacketSize=")
        assert c.ask(b"?").startswith(b"T05thread:p1.1;")
        info = bytes.fromhex(c.ask(b"qThreadExtraInfo,1").decode()).decode()
        assert info.startswith("vm1 vcpu0"), info
        assert b"vm1 pmap" in bytes.fromhex(c.ask(b"qRcmd," + b"pmap".hex().encode())[1:]
                                            .decode())
        c.send(b"D")
        assert c.reply() == b"OK"
    window.close()
    assert window.engine.gdb is None  # closed with the engine
