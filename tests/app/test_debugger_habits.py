"""The debugger's habits from gdb front-ends: a breakpoint by clicking the gutter,
Delete removes it, symbol completion, call targets named, CP0 fields decoded."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt

from app.views.debugger.cp0_fields import decode
from app.views.debugger.disassembly import target_note

WAIT = 60_000


def _paused(make_workbench, qtbot):  # type: ignore[no-untyped-def]
    window = make_workbench()
    qtbot.waitUntil(lambda: window.latest is not None and window.latest.running, timeout=WAIT)
    with qtbot.waitSignal(window.engine.paused, timeout=WAIT):
        window.debugger.act_pause.trigger()
    # the paused snapshot follows the signal (one snapshot is in flight at a time)
    qtbot.waitUntil(lambda: not window.latest.running, timeout=WAIT)
    window.render_now()
    return window


def _gutter_point(view, line: int) -> QPoint:  # type: ignore[no-untyped-def]
    block = view.document().findBlockByNumber(line)
    rect = view.blockBoundingGeometry(block).translated(view.contentOffset())
    return QPoint(3, int(rect.center().y()))


def test_gutter_click_adds_and_removes_and_delete_removes(make_workbench, qtbot) -> None:
    window = _paused(make_workbench, qtbot)
    dock = window.debugger
    view = dock.disassembly
    line = next(i for i, a in enumerate(view.line_address) if a is not None)
    address = view.line_address[line]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=_gutter_point(view, line))
    qtbot.waitUntil(lambda: any(b.address == address for b in window.latest.breakpoints),
                    timeout=WAIT)
    window.render_now()
    dock.update_snapshot(window.latest, force=True)
    assert "\u25cf" in view.toPlainText()
    # a click in the text itself does not toggle
    count = len(window.latest.breakpoints)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=_gutter_point(view, line) + QPoint(200, 0))
    qtbot.wait(200)
    assert len(window.latest.breakpoints) == count
    # Delete in the breakpoint list removes the selected one
    dock.tabs.setCurrentWidget(dock.bps)
    qtbot.waitUntil(lambda: dock.breakpoints.count() == 1, timeout=WAIT)
    dock.breakpoints.setCurrentRow(0)
    dock.breakpoints.setFocus()
    qtbot.keyClick(dock.breakpoints, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: not window.latest.breakpoints, timeout=WAIT)
    # the gutter toggles: click twice, nothing left
    for expected in (1, 0):
        window.render_now()
        dock.update_snapshot(window.latest, force=True)
        line = next(i for i, a in enumerate(view.line_address) if a == address)
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                         pos=_gutter_point(view, line))
        qtbot.waitUntil(lambda e=expected: len(window.latest.breakpoints) == e, timeout=WAIT)
        window.render_now()
        dock.bps.update_snapshot(window.latest)


def test_symbol_completion_and_named_call_targets(make_workbench, qtbot) -> None:
    window = make_workbench(start=False)
    dock = window.debugger
    names = dock.completion.stringList()
    assert "stream_update" in names and "barrier" in names
    completer = dock.bp_edit.completer()
    completer.setCompletionPrefix("stream_up")
    assert completer.currentCompletion() == "stream_update"
    completer.setCompletionPrefix("update")  # found inside the name too
    assert completer.currentCompletion() == "stream_update"
    address = window.session.guests[0].image.address_of("stream_update")
    note = target_note("jal", f"0x{address:x}", dock.symbols.describe)
    assert note == " <stream_update>"
    assert target_note("addiu", "$sp, $sp, -8", dock.symbols.describe) == ""
    assert target_note("beq", f"$a0, $zero, 0x{address + 8:x}",
                       dock.symbols.describe) == " <stream_update+0x8>"


def test_cp0_fields_decoded() -> None:
    assert decode("Status", 0x10000003) == "KSU=kernel IM=- CU0 EXL IE (runs in kernel mode)"
    assert decode("Status", 0x0000FF11).startswith("KSU=user IM=0,1,2,3,4,5,6,7 IE")
    assert decode("Cause", 0x80000008) == "ExcCode=TLBL IP=- BD"
    assert decode("Cause", 0x00008000 | (8 << 2)) == "ExcCode=SYS IP=7"
    assert decode("EntryHi", 0x00402005) == "VPN2=0x00402000 ASID=5"
    assert decode("EntryLo0", (0x1234 << 6) | (3 << 3) | 0x7) == "PFN=0x01234 C=3 DVG"
    assert decode("EPC", 0x80001000) == ""


def test_cp0_tab_shows_the_fields(make_workbench, qtbot) -> None:
    window = _paused(make_workbench, qtbot)
    table = window.debugger.cp0
    rows = {table.item(r, 0).text(): table.item(r, table.columnCount() - 1).text()
            for r in range(table.rowCount())}
    assert rows["Status"].startswith("KSU=") and rows["Cause"].startswith("ExcCode=")
    assert rows["EntryHi"].startswith("VPN2=") and rows["EntryLo1"].startswith("PFN=")
    assert table.horizontalHeaderItem(table.columnCount() - 1).text().startswith("fields")


def test_breakpoint_hit_counts(make_workbench, qtbot) -> None:
    from disco_core.session import AddBreakpoint, Resume

    window = _paused(make_workbench, qtbot)
    dock = window.debugger
    window.engine.send(AddBreakpoint("barrier", None, None))
    qtbot.waitUntil(lambda: len(window.latest.breakpoints) == 1, timeout=WAIT)
    assert window.latest.breakpoints[0].hits == 0
    for n in (1, 2):
        with qtbot.waitSignal(window.engine.paused, timeout=WAIT):
            window.engine.send(Resume())
        qtbot.waitUntil(lambda n=n: window.latest.breakpoints[0].hits == n, timeout=WAIT)
    dock.bps.update_snapshot(window.latest)
    assert dock.breakpoints.item(0).text().endswith("\u00b7 2 hits")


def test_a_typo_names_the_program_once_and_suggests(make_workbench, qtbot) -> None:
    from disco_core.session import AddBreakpoint

    window = make_workbench()
    qtbot.waitUntil(lambda: window.latest is not None, timeout=WAIT)
    window.engine.send(AddBreakpoint("stram_update", None, None))
    message = window.debugger.message
    qtbot.waitUntil(lambda: "stram_update" in message.text(), timeout=WAIT)
    text = message.text()
    assert "did you mean stream_update" in text and "/" not in text, text


def test_source_pane_follows_pc_and_its_gutter_sets_breakpoints(make_workbench, qtbot) -> None:
    window = _paused(make_workbench, qtbot)
    dock = window.debugger
    dock.tabs.setCurrentWidget(dock.source)
    dock.update_snapshot(window.latest, force=True)
    source = dock.source
    assert source.path is not None and source.path.endswith(".c"), source.toPlainText()[:200]
    current = [line for line in source.toPlainText().splitlines() if "\u25b6" in line]
    assert len(current) == 1 and f"{source.line:5d}" in current[0]
    # a click in the gutter of the current line puts a breakpoint on its first instruction
    # (the pane scrolls the current line to the middle once it is laid out)
    qtbot.waitUntil(lambda: source.line_at(_gutter_point(source, source.line - 1).y())
                    == source.line, timeout=WAIT)
    qtbot.mouseClick(source.viewport(), Qt.MouseButton.LeftButton,
                     pos=_gutter_point(source, source.line - 1))
    qtbot.waitUntil(lambda: len(window.latest.breakpoints) == 1, timeout=WAIT)
    address = window.latest.breakpoints[0].address
    assert dock.symbols.source_location(address) == (source.path, source.line)
    dock.update_snapshot(window.latest, force=True)
    current = [line for line in source.toPlainText().splitlines() if "\u25b6" in line]
    assert current[0].startswith("\u25cf\u25b6")
