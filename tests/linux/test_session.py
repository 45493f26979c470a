"""The workbench's Linux session (what `./workbench --session linux` opens)."""

from __future__ import annotations

from disco_core.linux.fetch import LinuxFiles
from disco_core.linux.initramfs import PROMPT
from disco_core.session import SESSION_KINDS, FeedConsole


def test_linux_session_boots_to_the_shell_and_takes_typed_input(linux_files: LinuxFiles) -> None:
    s = SESSION_KINDS["linux"](preset_name="test")
    try:
        prompt = PROMPT.encode()
        for _ in range(400):
            s.step_slice(2_000_000)
            if prompt in s.snapshot().consoles[0].tail:
                break
        assert prompt in s.snapshot().consoles[0].tail
        s.submit(FeedConsole("linux", b"echo work$((2 + 3))bench\n"))
        for _ in range(200):
            s.step_slice(2_000_000)
            if b"work5bench" in s.snapshot().consoles[0].tail:
                break
        assert b"work5bench" in s.snapshot().consoles[0].tail
        # the keys a raw console sends reach the tty: Up recalls the last command in
        # busybox's line editor, Ctrl+C interrupts the foreground program
        s.submit(FeedConsole("linux", b"\x1b[A\n"))
        for _ in range(200):
            s.step_slice(2_000_000)
            if s.snapshot().consoles[0].tail.count(b"work5bench") >= 2:
                break
        assert s.snapshot().consoles[0].tail.count(b"work5bench") >= 2
        s.submit(FeedConsole("linux", b"sleep 100; echo not-interrupted\n"))
        for _ in range(20):
            s.step_slice(2_000_000)
        s.submit(FeedConsole("linux", b"\x03echo after-$((6 * 7))\n"))
        for _ in range(300):  # 100 s of sleep would be some 10 000 slices
            s.step_slice(2_000_000)
            if b"after-42" in s.snapshot().consoles[0].tail:
                break
        tail = bytes(s.snapshot().consoles[0].tail).replace(b"\r", b"")
        # (the command's echo names it; a sleep run to the end would print it on a line)
        assert b"\nafter-42\n" in tail and b"\nnot-interrupted\n" not in tail
    finally:
        s.close()


def test_the_linux_console_sends_keys_raw(linux_files: LinuxFiles, qtbot) -> None:  # type: ignore[no-untyped-def]
    """The window gives a tty guest every key raw: arrows and Home as escape sequences,
    Ctrl+C as ^C (our own guest's console keeps a history in the view instead)."""
    from PySide6.QtCore import Qt

    from app.main_window import MainWindow

    window = MainWindow(SESSION_KINDS["linux"](preset_name="test"), start=False,
                        persist=False, record=False)
    qtbot.addWidget(window)
    view = window.consoles["linux"]
    assert view.line_editing is False
    sent: list[bytes] = []
    view.input_typed.connect(lambda _guest, data: sent.append(bytes(data)))
    for key in (Qt.Key.Key_Up, Qt.Key.Key_Left, Qt.Key.Key_Home):
        qtbot.keyClick(view, key)
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert sent == [b"\x1b[A", b"\x1b[D", b"\x1b[H", b"\x03"]
    window.close()
