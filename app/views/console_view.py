"""A terminal per guest: scrollback, copy, basic ANSI colours, keyboard input.

Output arrives in snapshots as (total bytes printed, last bytes); the view
appends only what it has not shown yet. Keys go to the guest's console input
through `input_typed` (the main window sends them to the engine); typing scrolls
to the bottom, where the input goes.

Our guest's kernel edits the line itself (echo, backspace, Ctrl+U kills the line)
and knows no escape sequences, so with `line_editing` (the default) the view
keeps the shell's history: Up and Down replace the line being typed (Ctrl+U, then
the remembered line), and the cursor keys it cannot act on send nothing instead
of an escape sequence the shell would read as a command. Ctrl+C sends ^C: the
guest kernel discards the line being typed and kills the foreground program (the
shell prompts again). With `line_editing` off (a guest with a real tty) every key goes raw.

With VMs the context menu pauses the console's VM while the others run on, or
resumes it (`commanded`: PauseVm / ResumeVm), and a paused VM's tab says so.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QFont,
    QKeyEvent,
    QKeySequence,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import QApplication, QMenu, QPlainTextEdit, QTabWidget, QWidget

from disco_core.session import ConsoleSnapshot, PauseVm, ResumeVm, VmsInfo

from .. import theme

SCROLLBACK = 5000  # lines
ANSI_COLORS = ["#2e3436", "#ef5350", "#8bc34a", "#ffca28", "#42a5f5", "#ba68c8", "#26c6da",
               "#e6e9ec"]
ANSI_BRIGHT = ["#78909c", "#ff8a80", "#ccff90", "#ffff8d", "#82b1ff", "#ea80fc", "#84ffff",
               "#ffffff"]
# CSI sequences, other escapes, and the control characters a terminal acts on.
_TOKENS = re.compile(r"\x1b\[([0-9;?]*)([@-~])|\x1b[@-Z\\-_]|[\b\r\x07]|[^\x1b\b\r\x07]+|\x1b")

# by key code: QKeyEvent.key() is an int, and Qt.Key an IntEnum
KEYS: dict[int, bytes] = {
    Qt.Key.Key_Return: b"\n", Qt.Key.Key_Enter: b"\n", Qt.Key.Key_Backspace: b"\x7f",
    Qt.Key.Key_Tab: b"\t", Qt.Key.Key_Escape: b"\x1b", Qt.Key.Key_Up: b"\x1b[A",
    Qt.Key.Key_Down: b"\x1b[B", Qt.Key.Key_Right: b"\x1b[C", Qt.Key.Key_Left: b"\x1b[D",
}
# Sent only with line_editing off: a tty's line editor (busybox's) reads them.
TTY_KEYS: dict[int, bytes] = {
    Qt.Key.Key_Home: b"\x1b[H", Qt.Key.Key_End: b"\x1b[F", Qt.Key.Key_Delete: b"\x1b[3~",
}
KILL_LINE = b"\x15"  # Ctrl+U: the guest kernel's line discipline erases the line
INTERRUPT = b"\x03"  # Ctrl+C: it erases the line and kills the foreground job
NO_EFFECT = {Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Home, Qt.Key.Key_End,
             Qt.Key.Key_PageUp, Qt.Key.Key_PageDown, Qt.Key.Key_Insert, Qt.Key.Key_Delete}
HISTORY = 200  # lines remembered per console


def show_vm_states(tabs: QTabWidget, views: dict[str, ConsoleView],
                   vms: VmsInfo | None) -> None:
    """Each VM's console knows whether its VM is paused (its context menu offers
    Pause or Resume), and a paused VM's tab says so."""
    if vms is None:
        return
    for name, state in zip(vms.names, vms.vm_state, strict=True):
        view = views.get(name)
        if view is None or view.vm_state == state:
            continue
        view.vm_state = state
        i = tabs.indexOf(view)
        if i >= 0:
            tabs.setTabText(i, f"{name} (paused)" if state == "paused" else name)


class ConsoleView(QPlainTextEdit):
    input_typed = Signal(str, bytes)  # guest name, bytes
    commanded = Signal(object)  # a session command (PauseVm, ResumeVm: the context menu)

    def __init__(self, guest: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.guest = guest
        self.setObjectName(f"console-{guest}")
        self.setReadOnly(True)  # text changes only through the guest; keys are sent
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                     | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMaximumBlockCount(SCROLLBACK)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSize(10)
        self.setFont(font)
        self.setStyleSheet(f"QPlainTextEdit {{ background: {theme.BACKGROUND.name()}; "
                           f"color: {theme.TEXT.name()}; border: none; }}")
        self.shown = 0  # bytes of the guest's output shown so far
        self._format = QTextCharFormat()
        self.line_editing = True  # our guest: history here, no escape sequences sent
        self.history: list[str] = []
        self._line = ""  # what has been typed since the last Enter
        self._back = 0  # how far Up has gone into the history (0: the line being typed)
        self._draft = ""  # the line being typed when Up was first pressed
        self.vm_state: str | None = None  # with VMs: running, paused, stopped...

    def contextMenuEvent(self, e: QContextMenuEvent) -> None:  # noqa: N802 (Qt's name)
        menu = self.context_menu()
        menu.exec(e.globalPos())
        menu.deleteLater()

    def context_menu(self) -> QMenu:
        """The usual menu (copy, select all) and, for a VM, Pause or Resume it alone."""
        menu = self.createStandardContextMenu()
        if self.vm_state is not None:
            menu.addSeparator()
            paused = self.vm_state == "paused"
            act = menu.addAction(f"Resume {self.guest}" if paused else
                                 f"Pause {self.guest} (the other VMs run on)")
            act.setObjectName("pause-vm")
            act.setEnabled(paused or self.vm_state == "running")
            act.triggered.connect(lambda: self.set_paused(not paused))
        return menu

    def set_paused(self, paused: bool) -> None:
        """Pause this console's VM while the others run, or resume it."""
        self.commanded.emit(PauseVm(self.guest) if paused else ResumeVm(self.guest))

    # ---- output -------------------------------------------------------------

    def update_console(self, c: ConsoleSnapshot) -> None:
        new = c.total - self.shown
        if new <= 0:
            return
        if new > len(c.tail):  # fell behind by more than a snapshot carries
            self.appendPlainText(f"[... {new - len(c.tail):,} bytes not shown ...]")
            new = len(c.tail)
        self.feed_output(c.tail[len(c.tail) - new :])
        self.shown = c.total

    def feed_output(self, data: bytes) -> None:
        bar = self.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 2
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        text = data.decode("utf-8", errors="replace")
        for m in _TOKENS.finditer(text):
            tok = m.group(0)
            if m.group(2) is not None:
                if m.group(2) == "m":
                    self._sgr(m.group(1))
                # Other CSI sequences (cursor movement, erase) are dropped.
            elif tok == "\b":
                cursor.deletePreviousChar()
            elif tok in ("\r", "\x07") or tok.startswith("\x1b"):
                continue
            else:
                cursor.insertText(tok, self._format)
        if at_bottom:
            bar.setValue(bar.maximum())

    def _sgr(self, params: str) -> None:
        codes = [int(p) for p in params.split(";") if p.isdigit()] or [0]
        for code in codes:
            if code == 0:
                self._format = QTextCharFormat()
            elif code == 1:
                self._format.setFontWeight(QFont.Weight.Bold)
            elif code == 22:
                self._format.setFontWeight(QFont.Weight.Normal)
            elif 30 <= code <= 37:
                self._format.setForeground(QColor(ANSI_COLORS[code - 30]))
            elif 90 <= code <= 97:
                self._format.setForeground(QColor(ANSI_BRIGHT[code - 90]))
            elif code == 39:
                self._format.clearForeground()
            elif 40 <= code <= 47:
                self._format.setBackground(QColor(ANSI_COLORS[code - 40]))
            elif code == 49:
                self._format.clearBackground()

    # ---- input --------------------------------------------------------------

    def keyPressEvent(self, e: QKeyEvent) -> None:
        mods = e.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        key = e.key()
        if e.matches(QKeySequence.StandardKey.Copy) and (shift or self.textCursor().hasSelection()):
            self.copy()
            return
        if ctrl and shift and key == Qt.Key.Key_C:
            self.copy()
            return
        if ctrl and shift and key == Qt.Key.Key_V:
            self.type_text(QApplication.clipboard().text())
            return
        if self.line_editing and self._edit_key(key, ctrl):
            return
        if key in KEYS:
            self.send(KEYS[key])
            return
        if not self.line_editing and key in TTY_KEYS:
            self.send(TTY_KEYS[key])
            return
        if ctrl and Qt.Key.Key_A <= key <= Qt.Key.Key_Z:
            self.send(bytes([key - Qt.Key.Key_A + 1]))  # ^A..^Z
            return
        text = e.text()
        if text:
            self.type_text(text)
            return
        super().keyPressEvent(e)  # navigation keys scroll

    def _edit_key(self, key: int, ctrl: bool) -> bool:
        """The keys the view handles for our guest's line discipline; True if handled."""
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            self._recall(1 if key == Qt.Key.Key_Up else -1)
        elif key in NO_EFFECT and not ctrl:
            pass  # the guest's line discipline cannot move the cursor: send nothing
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            line = self._line
            if line.strip() and (not self.history or self.history[-1] != line):
                self.history = (self.history + [line])[-HISTORY:]
            self._line, self._back = "", 0
            self.send(b"\n")
        elif key == Qt.Key.Key_Backspace:
            self._line = self._line[:-1]
            self.send(b"\x7f")
        elif ctrl and key in (Qt.Key.Key_C, Qt.Key.Key_U):
            self._line, self._back = "", 0
            # ^U erases the line; ^C too, and the guest kernel kills the running program
            self.send(INTERRUPT if key == Qt.Key.Key_C else KILL_LINE)
        else:
            return False
        return True

    def _recall(self, step: int) -> None:
        """Up (step 1) or Down (-1): put an earlier or later line in place of this one."""
        back = min(max(self._back + step, 0), len(self.history))
        if back == self._back:
            return
        if self._back == 0:
            self._draft = self._line
        self._back = back
        line = self.history[-back] if back else self._draft
        self._line = line
        self.send(KILL_LINE + line.encode())

    def type_text(self, text: str) -> None:
        """Printable text (typed or pasted): sent, and kept as part of the line."""
        if "\n" in text:
            done, _, rest = text.rpartition("\n")
            last = (self._line + done).split("\n")[-1]
            if last.strip():
                self.history = (self.history + [last])[-HISTORY:]
            self._line = rest
        else:
            self._line += text
        self._back = 0
        self.send(text.encode())

    def send(self, data: bytes) -> None:
        if data:
            # Input goes at the end: show it there, however far back the user scrolled.
            self.moveCursor(QTextCursor.MoveOperation.End)
            bar = self.verticalScrollBar()
            bar.setValue(bar.maximum())
            self.input_typed.emit(self.guest, data)
