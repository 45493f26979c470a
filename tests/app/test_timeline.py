"""The app's history and timeline: record, seek back, back to the present, save and open."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt

from app.history import open_recording
from app.main_window import MainWindow
from disco_core.record.recorder import shared_root_image
from disco_core.record.replay import Recording
from disco_core.session import Pause, Resume, vms_session
from tests.app.loop_gaps import LoopGaps

WAIT = 90_000  # ms: the test machines are shared


def prompts(window: MainWindow) -> bool:
    return all(view.toPlainText().rstrip().endswith("$") for view in window.consoles.values())


def type_into(qtbot, window: MainWindow, vm: str, text: str) -> None:  # type: ignore[no-untyped-def]
    console = window.consoles[vm]
    qtbot.keyClicks(console, text)
    qtbot.keyClick(console, Qt.Key.Key_Return)


def paused_point(qtbot, window: MainWindow) -> int:  # type: ignore[no-untyped-def]
    """Pause a little after the VMs reached their prompts (a paused snapshot copies the
    placement afresh; a running one may show it up to a quarter second old) and give
    the cycle the views show: a slice's end, which is a point of the recording."""
    start = window.history.range()[1]
    qtbot.waitUntil(lambda: window.latest is not None and window.latest.sim_cycles > start,
                    timeout=WAIT)
    with qtbot.waitSignal(window.engine.paused, timeout=WAIT):
        window.engine.send(Pause())
    qtbot.waitUntil(lambda: window.latest is not None and not window.latest.running,
                    timeout=WAIT)
    window.render_now()
    assert window.rendered is not None
    return int(window.rendered.sim_cycles)


@pytest.fixture
def recorded(make_workbench, qtbot):  # type: ignore[no-untyped-def]
    """Two VMs at their prompts, recorded from the start."""
    window = make_workbench(vms_session(vms=2, base_image=shared_root_image()))
    qtbot.waitUntil(lambda: prompts(window), timeout=WAIT)
    return window


def test_seek_back_shows_the_earlier_console_and_placement_then_live_again(
        recorded, qtbot) -> None:
    window = recorded
    assert window.history is not None and window.history.state().enabled
    first, _ = window.history.range()
    before = paused_point(qtbot, window)
    text_before = window.consoles["vm0"].toPlainText()
    owner_before = np.array(window.heatmap._owner)
    window.engine.send(Resume())
    # something to see later: typed text (a marker) and pages a workload allocates
    type_into(qtbot, window, "vm0", "echo later-text")
    qtbot.waitUntil(lambda: "later-text\n$" in window.consoles["vm0"].toPlainText(),
                    timeout=WAIT)
    type_into(qtbot, window, "vm1", "database 4")
    qtbot.waitUntil(lambda: window.heatmap._owner is not None and
                    (np.array(window.heatmap._owner) != owner_before).sum() > 16,
                    timeout=WAIT)
    qtbot.waitUntil(lambda: "$" in window.consoles["vm1"].toPlainText().rstrip()[-2:],
                    timeout=WAIT)
    present = window.history.range()[1]
    assert present > before > first
    markers = window.history.markers()
    assert any(m.kind == "input" and "later-text" in m.text for m in markers)

    # the UI thread keeps turning while the worker seeks
    loop = LoopGaps(10)
    gaps = loop.gaps
    with qtbot.waitSignal(window.engine.seeked, timeout=WAIT):
        window.seek_to(before)
    qtbot.waitUntil(lambda: window.latest is not None and
                    before <= window.latest.sim_cycles < present, timeout=WAIT)
    loop.stop()
    window.render_now()
    assert window.viewing_past and window.engine.in_past
    assert "viewing the past" in window.state_label.text()
    assert "Viewing the past" in window.timeline.status.text()
    shown = window.consoles["vm0"].toPlainText()
    assert "later-text" not in shown
    assert shown.rstrip() == text_before.rstrip()
    differ = int((np.array(window.heatmap._owner) != owner_before).sum())
    assert differ == 0, (differ, window.rendered.sim_cycles, before)
    assert max(gaps) < 0.5, f"the event loop stalled {max(gaps):.2f} s during a seek"
    # the past is read-only: typing is refused, with a message
    type_into(qtbot, window, "vm0", "echo never")
    qtbot.waitUntil(lambda: "read-only" in window.statusBar().currentMessage(), timeout=WAIT)

    with qtbot.waitSignal(window.engine.went_live, timeout=WAIT):
        window.timeline.live.click()
    qtbot.waitUntil(lambda: "later-text\n$" in window.consoles["vm0"].toPlainText(),
                    timeout=WAIT)
    assert not window.viewing_past
    assert "never" not in window.consoles["vm0"].toPlainText()
    assert window.latest is not None and window.latest.sim_cycles >= present
    # the recording goes on from the present
    window.engine.send(Resume())
    type_into(qtbot, window, "vm0", "echo after-live")
    qtbot.waitUntil(lambda: "after-live\n$" in window.consoles["vm0"].toPlainText(),
                    timeout=WAIT)
    assert window.history.range()[1] > present


def test_a_click_on_the_timeline_seeks_there(recorded, qtbot) -> None:
    window = recorded
    paused_point(qtbot, window)
    window.timeline.refresh()
    bar = window.timeline.scrubber
    x = int(bar.x_of((bar.state.first + bar.state.last) // 2))
    clicked = bar.cycle_at(x)
    with qtbot.waitSignal(window.engine.seeked, timeout=WAIT) as got:
        qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=QPoint(x, 16))
    first, last = window.history.range()
    # the first point of the recording at or after the click (a slice's end; the VMs'
    # idle waits skip time, so it may lie further on)
    assert first < clicked <= got.args[0] < last
    qtbot.waitUntil(lambda: window.latest is not None
                    and window.latest.sim_cycles == got.args[0], timeout=WAIT)
    window.timeline.refresh()
    assert window.timeline.state is not None and window.timeline.state.position == got.args[0]
    assert bar.x_of(got.args[0]) >= x - 1


def test_save_and_open_round_trip(recorded, qtbot, tmp_path) -> None:
    window = recorded
    type_into(qtbot, window, "vm1", "echo saved-text")
    qtbot.waitUntil(lambda: "saved-text\n$" in window.consoles["vm1"].toPlainText(),
                    timeout=WAIT)
    paused_point(qtbot, window)
    path = tmp_path / "session.rec"
    with qtbot.waitSignal(window.engine.saved, timeout=WAIT):
        window.save_recording(path)
    rec = Recording.open(path)  # complete: an END chunk
    assert rec.complete and rec.info()["inputs"] >= 1
    end = rec.end
    assert end is not None
    live = {c.guest: c for c in window.latest.consoles}

    session, opened = open_recording(path)
    other = MainWindow(session, settings=QSettings(str(tmp_path / "o.ini"),
                                                   QSettings.Format.IniFormat),
                       opened=opened, history_dir=tmp_path / "h")
    try:
        qtbot.waitUntil(lambda: other.viewing_past and other.latest is not None, timeout=WAIT)
        assert "Replaying session.rec" in other.timeline.status.text()
        assert any(m.kind == "input" and "saved-text" in m.text
                   for m in other.history.markers())
        with qtbot.waitSignal(other.engine.seeked, timeout=WAIT):
            other.seek_to(int(end["cycles"]))
        qtbot.waitUntil(lambda: other.latest is not None and
                        other.latest.sim_cycles == end["cycles"], timeout=WAIT)
        other.render_now()
        assert "saved-text\n$" in other.consoles["vm1"].toPlainText()
        replayed = {c.guest: c for c in other.latest.consoles}
        assert all(replayed[g].total == live[g].total and replayed[g].tail == live[g].tail
                   for g in live)
        # a replay is read-only as well
        type_into(qtbot, other, "vm0", "echo no")
        qtbot.waitUntil(lambda: "read-only" in other.statusBar().currentMessage(),
                        timeout=WAIT)
    finally:
        other.close()
        other.deleteLater()


def test_a_bare_machine_keeps_no_history_and_says_so(make_workbench) -> None:
    window = make_workbench()
    assert window.history is not None and not window.history.state().enabled
    assert "only sessions of virtual machines" in window.timeline.status.text()
    assert not window.debugger.controls.act_rcontinue.isEnabled()
