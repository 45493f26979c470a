"""Who wrote this… in the app (app/views/whowrote_dialog.py): the dialog lists what the
API finds, a double-click seeks to the write's cycle, the UI thread keeps turning."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.views.whowrote_dialog import Query, WhoWroteDialog, cells
from disco_core.mips import PAGE_SIZE
from disco_core.record.recorder import RecordConfig
from disco_core.record.replay import Recording, Replayer
from disco_core.record.whowrote import who_wrote, who_wrote_register
from tests.app.loop_gaps import LoopGaps
from tests.reverse.test_reverse import record

WAIT = 120_000  # ms: the test machines are shared


class Source:
    """A RecordingSource over a file, noting the seeks asked for."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.seeks: list[object] = []

    def recording_path(self) -> Path | None:
        return self.path

    def seek_to(self, cycle: int) -> None:
        self.seeks.append(cycle)

    def seek_to_point(self, op: int, offset: int) -> None:
        self.seeks.append((op, offset))

    def flush_recording(self) -> None:
        pass  # a finished file


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("whowrote-ui") / "2x1.rec"
    record(path, RecordConfig(vms=2, vcpus=1), slices=3)
    return path


def api(path: Path, query: Query) -> list:  # type: ignore[type-arg]
    rp = Replayer(Recording.open(path))
    try:
        if query.register is not None:
            return who_wrote_register(rp, query.register, query.target, count=16)
        return who_wrote(rp, query.address, query.length, query.space, query.vm)
    finally:
        rp.close()


def run_dialog(qtbot, source: Source, query: Query) -> tuple[WhoWroteDialog, list[float]]:  # type: ignore[no-untyped-def]
    """Open the dialog and wait for its search, timing the event loop meanwhile."""
    loop = LoopGaps(10)
    gaps = loop.gaps
    dialog = WhoWroteDialog(source, query)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.listed, timeout=WAIT)
    loop.stop()
    dialog.wait()
    return dialog, gaps


def kernel_symbol(path: Path, name: str) -> int:
    rp = Replayer(Recording.open(path))
    try:
        return int(rp.session.resolve(name))
    finally:
        rp.close()


def test_the_dialog_lists_the_apis_writes_and_goes_to_them(qtbot, recording, tmp_path) -> None:
    ticks = kernel_symbol(recording, "ticks")
    query = Query(ticks, 4, "gva", "vm1")
    expected = api(recording, query)
    assert len(expected) >= 2, "the timer interrupt counts ticks"
    source = Source(recording)
    dialog, gaps = run_dialog(qtbot, source, query)
    assert dialog.error == ""
    assert [w.to_json() for w in dialog.writes] == [w.to_json() for w in expected]
    t = dialog.table
    assert t.rowCount() == len(expected)
    for r, w in enumerate(expected):
        assert [t.item(r, c).text() for c in range(t.columnCount())] == list(cells(w))
        assert t.item(r, 1).text() == "vm1" and "<" in t.item(r, 4).text()
    # the UI thread turned all along (the search replays on a worker thread)
    assert len(gaps) >= 5 and max(gaps) < 0.5, gaps
    # a double-click goes to the write: a seek to exactly its point
    row = len(expected) // 2
    t.scrollToItem(t.item(row, 0))
    rect = t.visualItemRect(t.item(row, 0))
    # (Qt sees a double-click as a press, a release, then the double-click event)
    qtbot.mouseClick(t.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(t.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert source.seeks == [(expected[row].point.op, expected[row].point.offset)]
    dialog.grab().save(str(tmp_path / "whowrote.png"))
    assert (tmp_path / "whowrote.png").stat().st_size > 0


def test_a_machine_page_and_a_register(qtbot, recording) -> None:
    rp = Replayer(Recording.open(recording))
    try:
        rp.seek_op(len(rp.recording.ops))
        vm = rp.session.monitor.vms[1]
        gpn = (kernel_symbol(recording, "ticks") & 0x1FFFFFFF) >> 12  # the direct window
        ma = int(vm.pmap.mpn[gpn]) * PAGE_SIZE
    finally:
        rp.close()
    source = Source(recording)
    page = Query(ma, PAGE_SIZE, "ma")
    dialog, _ = run_dialog(qtbot, source, page)
    assert dialog.error == ""
    assert [w.to_json() for w in dialog.writes] == [w.to_json() for w in api(recording, page)]
    assert dialog.writes and {w.vm for w in dialog.writes} == {"vm1"}

    reg = Query(register="sp", target=0, target_name="vm0 vCPU 0")
    dialog, _ = run_dialog(qtbot, source, reg)
    assert dialog.error == ""
    expected = api(recording, reg)
    assert [w.to_json() for w in dialog.writes] == [w.to_json() for w in expected]
    assert dialog.table.rowCount() == len(expected) > 0
    assert "\u2192" in dialog.table.item(0, 6).text()


def test_no_recording_and_a_bad_file_say_so(qtbot, tmp_path) -> None:
    dialog, _ = run_dialog(qtbot, Source(None), Query(0x80000000))
    assert "nothing is recorded" in dialog.error
    bad = tmp_path / "bad.rec"
    bad.write_bytes(b"not a recording")
    dialog, _ = run_dialog(qtbot, Source(bad), Query(0x80000000))
    assert dialog.error and "\n" not in dialog.error and "Traceback" not in dialog.error
    assert dialog.table.rowCount() == 0


def test_from_the_windows_views_to_the_write(make_workbench, qtbot) -> None:
    """The memory view, the registers and the heat map open the dialog on the window's
    own history; a double-click seeks the window there."""
    from app.main_window import MainWindow
    from disco_core.record.recorder import point, shared_root_image
    from disco_core.session import Pause, vms_session
    from tests.app.test_timeline import prompts

    window: MainWindow = make_workbench(vms_session(vms=2, base_image=shared_root_image()))
    qtbot.waitUntil(lambda: prompts(window), timeout=WAIT)
    with qtbot.waitSignal(window.engine.paused, timeout=WAIT):
        window.engine.send(Pause())
    d = window.debugger
    d.cpu_box.setCurrentIndex(1)  # vm1's vCPU
    d.mem_addr.setText("ticks")
    qtbot.keyClick(d.mem_addr, Qt.Key.Key_Return)
    ticks = int(window.session.resolve("ticks"))
    qtbot.waitUntil(lambda: window.latest is not None and
                    window.latest.debug.memory_address == ticks and
                    len(window.latest.debug.memory) > 0, timeout=WAIT)
    window.render_now()
    d.update_snapshot(window.latest, force=True)
    assert d.memory_view.selected_range() == (ticks, 4)
    opened: list[WhoWroteDialog] = []
    d.who_wrote_requested.connect(lambda _q: opened.append(
        window.findChildren(WhoWroteDialog)[-1]))
    qtbot.mouseClick(d.memory_view.who_button, Qt.MouseButton.LeftButton)
    assert len(opened) == 1
    dialog = opened[0]
    assert dialog.query == Query(ticks, 4, "gva", "vm1")
    qtbot.waitUntil(lambda: dialog.listed, timeout=WAIT)
    dialog.wait()
    assert dialog.error == "" and dialog.writes
    assert all(w.vm == "vm1" and "devintr" in w.symbol for w in dialog.writes)
    row = len(dialog.writes) // 2
    with qtbot.waitSignal(window.engine.seeked, timeout=WAIT) as seeked:
        dialog.table.cellDoubleClicked.emit(row, 0)
    write = dialog.writes[row]
    # exactly there, not a slice later: the machine has executed the write's
    # instructions (the cycle shown is the furthest CPU's, at or after the writer's)
    assert point(window.session)[0] == write.instructions
    assert seeked.args[0] >= write.cycles
    assert window.viewing_past
    dialog.close()

    # a register of the chosen vCPU
    regs = d.registers_view
    regs.table.setCurrentCell(5, 0)  # $a1 (the first column: $zero..$t1)
    name = regs.selected_register()
    assert name is not None and name.startswith("$")
    regs.ask_who_wrote()
    dialog = opened[-1]
    assert dialog.query.register == name[1:] and dialog.query.target == 1
    assert dialog.query.target_name == d.cpu_box.currentText()
    qtbot.waitUntil(lambda: dialog.listed, timeout=WAIT)
    dialog.wait()
    dialog.close()

    # a machine page of the heat map: a page vm1 owns
    heat = window.heatmap
    snap = window.latest
    gpn = (ticks & 0x1FFFFFFF) >> 12
    page_row = int(snap.vms.pmap_rows[1][gpn]) // heat._page_group
    dialogs = len(window.findChildren(WhoWroteDialog))
    heat.pick(page_row)
    assert heat.who_button.isEnabled() and "vm1" in heat.info.text()
    qtbot.mouseClick(heat.who_button, Qt.MouseButton.LeftButton)
    found = window.findChildren(WhoWroteDialog)
    assert len(found) == dialogs + 1
    dialog = found[-1]
    assert dialog.query.space == "ma" and dialog.query.length == PAGE_SIZE
    assert dialog.query.address == heat.machine_address(page_row)
    qtbot.waitUntil(lambda: dialog.listed, timeout=WAIT)
    dialog.wait()
    assert dialog.error == "" and {w.vm for w in dialog.writes} == {"vm1"}
    by_machine = [w.to_json() for w in dialog.writes]
    dialog.close()

    # the same page in vm1's own view: a guest-physical page, the same writes
    heat.mode.setCurrentIndex(3)  # machine, VM hue, then one view per VM
    assert heat._vm_view == 1 and not heat.who_button.isEnabled()
    heat.pick_guest(1, gpn)
    qtbot.mouseClick(heat.who_button, Qt.MouseButton.LeftButton)
    dialog = window.findChildren(WhoWroteDialog)[-1]
    assert dialog.query == Query(gpn * PAGE_SIZE, PAGE_SIZE, "gpa", "vm1")
    qtbot.waitUntil(lambda: dialog.listed, timeout=WAIT)
    dialog.wait()
    assert [w.to_json() for w in dialog.writes] == by_machine
    dialog.close()
