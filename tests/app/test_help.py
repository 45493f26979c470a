"""Menus File / View / Run / Debug / Help; Help's dialogs; File > New session for
every kind; the New session dialog validating as you type."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QTableWidget, QTextBrowser

from app.views.new_machine import KINDS, MachineChoice, NewMachineDialog, plural

WAIT = 60_000


def test_menus_in_order_and_help_dialogs_open(make_workbench, qtbot) -> None:
    window = make_workbench(start=False)
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles == ["&File", "&View", "&Run", "&Debug", "&Help"]
    assert [a.text() for a in window.help_menu.actions()] == [
        "Shortcuts", "User guide", "Paper reproduction", "About Disco Workbench"]
    assert "F1" in [k.toString() for k in window.act_shortcuts.shortcuts()]
    # F1 opens the shortcuts, listing the window's own actions and the console's keys
    window.activateWindow()
    dialogs: list = []
    for _ in range(3):  # offscreen, a fresh window's first key events can go astray
        qtbot.keyClick(window.debugger.run_to, Qt.Key.Key_F1)
        QApplication.processEvents()
        dialogs = [w for w in QApplication.topLevelWidgets()
                   if w.objectName() == "help-shortcuts"]
        if dialogs:
            break
    assert dialogs and dialogs[0].isVisible()
    table = dialogs[0].findChild(QTableWidget, "shortcuts")
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert rows["F5"] == "Continue" and rows["F1"] == "Shortcuts"
    assert rows["Ctrl+N"] == "New session" and "Up / Down (in a console)" in rows
    dialogs[0].close()
    about = window.show_about()
    text = about.findChild(QLabel, "about-text").text()
    assert "Qt" in text and "PySide6" in text and "Disco Workbench core" in text
    assert "guest image" in text and "numademo" in text and "sha256" in text
    about.close()
    guide = window.show_guide()
    browser = guide.findChild(QTextBrowser, "guide")
    assert "The workbench application" in browser.toPlainText()
    assert "Page placement" in browser.toPlainText()  # its tables rendered too
    guide.close()


def test_paper_reproduction_without_and_with_a_report(make_workbench, qtbot, tmp_path,
                                                     monkeypatch) -> None:
    from disco_core.experiments import report
    from disco_core.experiments.suite import SuiteResult

    pointer = tmp_path / "experiments-last-report"
    monkeypatch.setattr(report, "_pointer", lambda: pointer)
    window = make_workbench(start=False)
    # no report yet: the dialog says which command makes one, and offers no browser
    none = window.show_paper_report()
    browser = none.findChild(QTextBrowser, "paper-report")
    assert "No report yet" in browser.toPlainText()
    assert "disco experiments report" in browser.toPlainText()
    assert none.findChild(QPushButton, "open-report").isHidden()
    none.close()
    # a report written by write_report (an empty suite: the page and its pointer are real)
    index = report.write_report(SuiteResult([], 0, 0, "abc123", 0.5, "inline"),
                                tmp_path / "report")
    assert report.last_report() == index.resolve()
    shown = window.show_paper_report()
    browser = shown.findChild(QTextBrowser, "paper-report")
    assert "The paper's evaluation, reproduced" in browser.toPlainText()
    assert "abc123" in browser.toPlainText()
    assert browser.source().toLocalFile() == str(index.resolve())
    assert not shown.findChild(QPushButton, "open-report").isHidden()
    shown.close()
    # a report deleted since: back to the hint, no stale page
    index.unlink()
    assert report.last_report() is None
    gone = window.show_paper_report()
    assert "No report yet" in gone.findChild(QTextBrowser, "paper-report").toPlainText()
    gone.close()


def test_debug_menu_focuses_the_debugger_fields(make_workbench, qtbot) -> None:
    window = make_workbench(start=False)
    by_name = {a.text(): a for a in window.debug_menu.actions()}
    window.activateWindow()
    by_name["Memory at…"].trigger()
    assert window.debugger.tabs.currentWidget() is window.debugger.memory_view
    qtbot.waitUntil(lambda: window.debugger.mem_addr.hasFocus(), timeout=5000)
    by_name["Breakpoint at…"].trigger()
    qtbot.waitUntil(lambda: window.debugger.bp_edit.hasFocus(), timeout=5000)


def test_new_session_dialog_validates_as_you_type(qtbot) -> None:
    dialog = NewMachineDialog()
    qtbot.addWidget(dialog)
    assert dialog.ok.isEnabled() and dialog.error.text() == ""
    assert "4 VMs \u00d7 1 vCPU on flash8" in dialog.summary.text()
    # typed, not clamped: 100 VMs stay 100, and the message says why they do not fit
    dialog.vms.clear()
    qtbot.keyClicks(dialog.vms, "100")
    assert dialog.vms.value() == 100
    assert not dialog.ok.isEnabled()
    assert "100 VMs do not fit in flash8's 256 MiB" in dialog.error.text()
    # the arithmetic is right: 64 x 4 MiB = 256 MiB, but the monitor keeps its share
    dialog.vms.setValue(64)
    assert "the monitor keeps 256 KiB, so at most 63 fit" in dialog.error.text()
    # no stale error: another preset that holds them clears it at once
    dialog.preset.setCurrentIndex(dialog.preset.findData("flash32"))
    assert dialog.error.text() == "" and dialog.ok.isEnabled()
    dialog.preset.setCurrentIndex(dialog.preset.findData("flash8"))
    dialog.vms.setValue(16)
    dialog.memory.setValue(32)
    assert "need 512 MiB" in dialog.error.text()
    dialog.memory.setValue(8)
    assert dialog.error.text() == ""
    assert "16 VMs \u00d7 1 vCPU" in dialog.summary.text() and "128 of 256 MiB" in (
        dialog.summary.text())
    # singular where it is one
    one = [dialog.preset.itemText(i) for i in range(dialog.preset.count())]
    assert not any("1 nodes" in t or "1 CPUs" in t for t in one)
    dialog.vms.setValue(1)
    assert "1 VM \u00d7 1 vCPU" in dialog.summary.text()
    assert plural(1, "node") == "1 node" and plural(2, "CPU") == "2 CPUs"
    # the other session kinds: no VM fields, always valid
    dialog.kind.setCurrentIndex(dialog.kind.findData("kernel"))
    assert not dialog.vms.isEnabled() and dialog.ok.isEnabled()
    dialog.accept()
    assert dialog.choice is not None and dialog.choice.kind == "kernel"
    assert set(KINDS) == {"vms", "baremetal", "kernel", "linux"}


@pytest.mark.parametrize("kind", ["baremetal", "kernel"])
def test_new_session_of_another_kind_replaces_the_window(qapp, kind: str) -> None:
    from PySide6.QtCore import QTimer

    from app.__main__ import main

    titles: list[str] = []

    def choose() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if w.objectName() == "workbench"]
        if not windows:
            QTimer.singleShot(100, choose)
            return
        windows[0].new_machine.emit(MachineChoice(preset="flash8", kind=kind))
        titles.extend(w.windowTitle() for w in QApplication.topLevelWidgets()
                      if w.objectName() == "workbench" and w.isVisible())

    QTimer.singleShot(100, choose)
    assert main(["--session", "baremetal" if kind == "kernel" else "kernel",
                 "--run-for", "4"]) == 0
    assert len(titles) == 1
    assert ("numademo" in titles[0]) if kind == "baremetal" else ("kernel" in titles[0])
