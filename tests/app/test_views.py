"""Views and models on their own: the TLB model, the console's ANSI handling, the
command line, and a guard against a PySide6 release that breaks long runs."""

from __future__ import annotations

import sys

import numpy as np
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QLabel

from app.models.tlb_model import ROWS_TO_LOAD, TlbModel, lo_flags
from app.views.console_view import ConsoleView
from disco_core.session import ConsoleSnapshot


def test_tlb_model_loads_rows_lazily(qtbot) -> None:
    model = TlbModel()
    tlb = np.zeros((64, 4), np.uint32)
    tlb[0] = (0x00402000 | 5, (0x1234 << 6) | 0x7, 0, 0x1FE000)
    model.set_tlb(tlb)
    assert model.rowCount() == ROWS_TO_LOAD and model.canFetchMore(QModelIndex())
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    assert model.rowCount() == 64 and model.columnCount() == 7
    cells = [model.data(model.index(0, c)) for c in range(7)]
    assert cells == ["0x00402000", "5", "0x001fe000", "0x01234", "C0 DVG", "0x00000",
                     "C0 ---"]
    assert model.headerData(0, Qt.Orientation.Horizontal) == "VPN2"
    changed = []
    model.dataChanged.connect(lambda a, b: changed.append((a.row(), b.row())))
    tlb2 = tlb.copy()
    tlb2[5, 0] = 0x1000
    model.set_tlb(tlb2)
    assert changed == [(5, 5)]
    assert lo_flags(0x1F) == "C3 DVG"


def test_console_appends_only_new_output_with_ansi(qtbot) -> None:
    view = ConsoleView("vm0")
    qtbot.addWidget(view)
    view.update_console(ConsoleSnapshot("vm0", 6, b"hello\n"))
    view.update_console(ConsoleSnapshot("vm0", 6, b"hello\n"))  # nothing new
    out = b"hello\n\x1b[1;31mred\x1b[0m ok\b!\r\n$ "
    view.update_console(ConsoleSnapshot("vm0", len(out), out))
    assert view.toPlainText() == "hello\nred o!\n$ "
    # Falling further behind than a snapshot carries says so.
    view.update_console(ConsoleSnapshot("vm0", 1000, b"tail"))
    assert "bytes not shown" in view.toPlainText() and view.toPlainText().endswith("tail")
    sent = []
    view.input_typed.connect(lambda guest, data: sent.append((guest, data)))
    qtbot.keyClicks(view, "ls")
    qtbot.keyClick(view, Qt.Key.Key_Return)
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    # Ctrl+C goes as ^C: the guest kernel discards the line and kills the foreground job
    assert b"".join(d for _, d in sent) == b"ls\n\x03" and {g for g, _ in sent} == {"vm0"}


def test_console_history_and_keys_the_guest_cannot_take(qtbot) -> None:
    view = ConsoleView("vm0")
    qtbot.addWidget(view)
    sent: list[bytes] = []
    view.input_typed.connect(lambda guest, data: sent.append(data))
    for line in ("echo one", "echo two"):
        qtbot.keyClicks(view, line)
        qtbot.keyClick(view, Qt.Key.Key_Return)
    assert view.history == ["echo one", "echo two"]
    sent.clear()
    qtbot.keyClicks(view, "ec")
    qtbot.keyClick(view, Qt.Key.Key_Up)  # the last line replaces what was typed
    qtbot.keyClick(view, Qt.Key.Key_Up)
    qtbot.keyClick(view, Qt.Key.Key_Up)  # no further back than the first
    assert sent[-2:] == [b"\x15echo two", b"\x15echo one"]
    qtbot.keyClick(view, Qt.Key.Key_Down)
    qtbot.keyClick(view, Qt.Key.Key_Down)  # back to the draft
    assert sent[-2:] == [b"\x15echo two", b"\x15ec"]
    sent.clear()
    for key in (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Home, Qt.Key.Key_End):
        qtbot.keyClick(view, key)
    assert sent == []  # no escape sequences for the shell to read as a command
    qtbot.keyClick(view, Qt.Key.Key_Backspace)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert view.history[-1] == "e" and sent == [b"\x7f", b"\n"]
    # raw keys for a guest with a real tty
    view.line_editing = False
    sent.clear()
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert sent == [b"\x1b[A"]


def test_console_jumps_to_the_bottom_on_input(qtbot) -> None:
    view = ConsoleView("vm0")
    qtbot.addWidget(view)
    view.resize(400, 200)
    view.show()
    out = b"".join(b"line %d\n" % i for i in range(300))
    view.update_console(ConsoleSnapshot("vm0", len(out), out))
    bar = view.verticalScrollBar()
    bar.setValue(0)  # scrolled back
    qtbot.keyClicks(view, "x")
    assert bar.value() == bar.maximum() > 0


def test_pyside_returns_keep_none_alive(qapp) -> None:
    # PySide6 6.12.0 on Python 3.11 drops a reference to None on every call
    # returning None, and a running workbench then crashes within seconds.
    label = QLabel()
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")
    assert sys.getrefcount(None) >= before - 100
    label.deleteLater()


def test_command_line_screenshot(tmp_path, qapp, monkeypatch) -> None:
    from app.__main__ import main

    shot = tmp_path / "shot.png"
    assert main(["--screenshot", str(shot), "--run-for", "1.5"]) == 0
    assert shot.stat().st_size > 10_000
    from PySide6.QtGui import QImage

    image = QImage(str(shot))
    assert image.width() >= 1200 and image.height() >= 800


def test_new_machine_replaces_the_window(qapp) -> None:
    """File > New machine (its signal): the command builds the chosen VMs and swaps
    the window; the screenshot then shows the new machine."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.__main__ import main
    from app.views.new_machine import MachineChoice

    titles: list[str] = []

    def choose() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if w.objectName() == "workbench"]
        if not windows:  # still building the first session
            QTimer.singleShot(100, choose)
            return
        titles.append(windows[0].windowTitle())
        windows[0].new_machine.emit(MachineChoice(preset="flash8", vms=2, vcpus=1))
        titles.extend(w.windowTitle() for w in QApplication.topLevelWidgets()
                      if w.objectName() == "workbench" and w.isVisible())

    QTimer.singleShot(100, choose)
    assert main(["--run-for", "8"]) == 0
    assert titles[0].endswith("4 virtual machines on flash8")
    assert titles[1:] == ["Disco Workbench \u2014 2 virtual machines on flash8"]
