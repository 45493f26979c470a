"""Help › Shortcuts, Help › About and Help › User guide: three small dialogs.

The shortcuts are read from the window's own actions (so the list is always the
one in force) plus the keys that are not actions (the consoles', the debugger's);
About gives the versions of the core, Python, Qt and PySide6 and of the guest
images the session runs; the user guide is docs/app.md rendered as Markdown.
"""

from __future__ import annotations

import hashlib
import platform
from pathlib import Path

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

import disco_core
from disco_core.elf import ElfImage

# Keys that are not QActions: (keys, what they do).
OTHER_KEYS = (
    ("Enter (in a console)", "send the line to the guest's shell"),
    ("Up / Down (in a console)", "the guest shell's history"),
    ("Left / Right, Home / End", "move in the guest shell's line"),
    ("Ctrl+C (in a console)", "interrupt the guest's foreground program "
                              "(copies instead when text is selected)"),
    ("Ctrl+Shift+C / Ctrl+Shift+V", "copy from / paste into a console"),
    ("Ctrl+letter (in a console)", "send that control character"),
    ("Enter (run-to, breakpoint, memory fields)", "run to / add the breakpoint / show memory"),
    ("Delete (in the breakpoint list)", "remove the selected breakpoint or watchpoint"),
    ("Click in the disassembly's gutter", "toggle a breakpoint on that line"),
)


def guide_path() -> Path | None:
    """docs/app.md of the checkout this app runs from (a wheel has no docs/)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "docs" / "app.md"
        if candidate.is_file():
            return candidate
    return None


def shortcut_rows(actions: list[QAction]) -> list[tuple[str, str]]:
    """(keys, action) for every action with a shortcut, then the other keys."""
    rows = []
    seen = set()
    for act in actions:
        keys = act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        name = act.text().replace("&", "").rstrip("…").rstrip(".")
        if keys and (keys, name) not in seen:
            seen.add((keys, name))
            rows.append((keys, name))
    return rows + list(OTHER_KEYS)


def _dialog(parent: QWidget | None, title: str, name: str) -> tuple[QDialog, QVBoxLayout]:
    dialog = QDialog(parent)
    dialog.setObjectName(name)
    dialog.setWindowTitle(title)
    layout = QVBoxLayout(dialog)
    return dialog, layout


def _close_button(dialog: QDialog, layout: QVBoxLayout) -> None:
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout.addWidget(buttons)


def shortcuts_dialog(parent: QWidget | None, actions: list[QAction]) -> QDialog:
    dialog, layout = _dialog(parent, "Keyboard shortcuts", "help-shortcuts")
    rows = shortcut_rows(actions)
    table = QTableWidget(len(rows), 2)
    table.setObjectName("shortcuts")
    table.setHorizontalHeaderLabels(["keys", "what they do"])
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    for r, (keys, what) in enumerate(rows):
        table.setItem(r, 0, QTableWidgetItem(keys))
        table.setItem(r, 1, QTableWidgetItem(what))
    table.resizeColumnsToContents()
    table.horizontalHeader().setStretchLastSection(True)
    layout.addWidget(table)
    _close_button(dialog, layout)
    dialog.resize(640, 520)
    return dialog


def image_version(image: ElfImage) -> str:
    """A guest image's name, size and content digest (the build cache's key is too)."""
    raw = image._raw
    digest = hashlib.sha256(raw).hexdigest()[:12] if raw else "?"
    return f"{image.name}: {len(raw):,} bytes, sha256 {digest}"


def versions(images: list[ElfImage]) -> list[tuple[str, str]]:
    rows = [
        ("Disco Workbench core", disco_core.__version__),
        ("Python", platform.python_version()),
        ("Qt", qVersion()),
        ("PySide6", PySide6.__version__),
    ]
    seen = set()
    for image in images:
        text = image_version(image)
        if text not in seen:
            seen.add(text)
            rows.append(("guest image", text))
    return rows


def about_dialog(parent: QWidget | None, images: list[ElfImage]) -> QDialog:
    dialog, layout = _dialog(parent, "About Disco Workbench", "help-about")
    rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>"
                   for k, v in versions(images))
    label = QLabel("<h3>Disco Workbench</h3><p>Disco (Bugnion et al., 1997) re-created on a "
                   "simulated ccNUMA MIPS machine: watch and debug virtual machines under "
                   f"the monitor, a guest kernel or a bare program.</p><table>{rows}</table>")
    label.setObjectName("about-text")
    label.setWordWrap(True)
    layout.addWidget(label)
    _close_button(dialog, layout)
    return dialog


def guide_dialog(parent: QWidget | None) -> QDialog:
    dialog, layout = _dialog(parent, "User guide", "help-guide")
    browser = QTextBrowser()
    browser.setObjectName("guide")
    browser.setOpenExternalLinks(True)
    path = guide_path()
    if path is not None:
        browser.setMarkdown(path.read_text(encoding="utf-8"))
    else:
        browser.setMarkdown("# User guide\n\nThe user guide is `docs/app.md` in the "
                            "project's source; this installation does not include it.")
    layout.addWidget(browser)
    _close_button(dialog, layout)
    dialog.resize(860, 700)
    return dialog
