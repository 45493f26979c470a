"""Who wrote this… in the app (app/views/whowrote_dialog.py): the dialog lists what the
API finds, a double-click seeks to the write's cycle, the UI thread keeps turning."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer

from app.views.whowrote_dialog import Query, WhoWroteDialog, cells
from disco_core.mips import PAGE_SIZE
from disco_core.record.recorder import RecordConfig
from disco_core.record.replay import Recording, Replayer
from disco_core.record.whowrote import who_wrote, who_wrote_register
from tests.reverse.test_reverse import record

WAIT = 120_000  # ms: the test machines are shared


class Source:
    """A RecordingSource over a file, noting the seeks asked for."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.seeks: list[int] = []

    def recording_path(self) -> Path | None:
        return self.path

    def seek_to(self, cycle: int) -> None:
        self.seeks.append(cycle)


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
    gaps: list[float] = []
    last = [time.monotonic()]

    def tick() -> None:
        now = time.monotonic()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    dialog = WhoWroteDialog(source, query)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.listed, timeout=WAIT)
    timer.stop()
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
    # a double-click goes to the write: a seek to its cycle
    row = len(expected) // 2
    t.scrollToItem(t.item(row, 0))
    rect = t.visualItemRect(t.item(row, 0))
    # (Qt sees a double-click as a press, a release, then the double-click event)
    qtbot.mouseClick(t.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(t.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert source.seeks == [expected[row].cycles]
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
