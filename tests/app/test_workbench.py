"""The workbench end to end on the default session (numademo on flash8), offscreen."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QSettings, Qt
from PySide6.QtWidgets import QPushButton

from app.engine import Engine
from app.main_window import MainWindow
from disco_core.session import AddBreakpoint, Pause, Resume
from tests.app.loop_gaps import LoopGaps

WAIT = 30_000  # ms: generous, the test machines are shared


def rendered(window: MainWindow):  # type: ignore[no-untyped-def]
    return window.rendered


def test_default_session_shows_console_output(make_workbench, qtbot) -> None:
    window = make_workbench()
    console = window.consoles["native"]
    qtbot.waitUntil(lambda: "numademo: 8 CPUs" in console.toPlainText(), timeout=WAIT)
    qtbot.waitUntil(lambda: "round    0  local" in console.toPlainText(), timeout=WAIT)
    assert window.console_tabs.tabText(0) == "native"
    snap = window.rendered
    assert snap is not None and snap.cpus == 8 and snap.nodes == 8


def test_breakpoint_on_symbol_stops_that_cpu(make_workbench, qtbot) -> None:
    window = make_workbench()
    dock = window.debugger
    image = window.session.guests[0].image
    assert image is not None
    address = image.address_of("stream_read")
    qtbot.waitUntil(lambda: window.rendered is not None, timeout=WAIT)
    dock.cpu_box.setCurrentIndex(5)
    dock.bp_this_cpu.setChecked(True)
    qtbot.keyClicks(dock.bp_edit, "stream_read")
    with qtbot.waitSignal(window.engine.paused, timeout=WAIT):
        qtbot.keyClick(dock.bp_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.rendered is not None and not window.rendered.running,
                    timeout=WAIT)
    snap = window.rendered
    assert snap.stopped_cpu == 5
    assert int(snap.pc[5]) == address
    assert dock.cpu_box.currentIndex() == 5
    text = dock.disassembly.toPlainText()
    assert "<stream_read>:" in text
    current = [line for line in text.splitlines() if "\u25b6" in line]
    assert len(current) == 1 and f"{address:08x}:" in current[0]
    pc_cells = [dock.registers.item(r, c + 1).text()
                for r in range(dock.registers.rowCount()) for c in (0, 2)
                if dock.registers.item(r, c) and dock.registers.item(r, c).text() == "pc"]
    assert pc_cells == [f"0x{address:08x}"]
    assert "stream_read" in dock.status.text()
    assert "numademo.c:" in dock.status.text()  # the source line, from DWARF
    assert "; numademo.c:" in text
    assert dock.breakpoints.count() == 1 and "CPU 5" in dock.breakpoints.item(0).text()


def test_step_advances_exactly_one_instruction(make_workbench, qtbot) -> None:
    window = make_workbench()
    dock = window.debugger
    qtbot.waitUntil(lambda: window.rendered is not None, timeout=WAIT)
    with qtbot.waitSignal(window.engine.paused, timeout=WAIT):
        dock.act_pause.trigger()
    dock.cpu_box.setCurrentIndex(2)
    qtbot.waitUntil(lambda: window.rendered is not None and not window.rendered.running
                    and window.rendered.debug.cpu == 2, timeout=WAIT)
    assert dock.cpu == 2
    before = window.rendered
    n = int(before.cpu_stats["instructions"][2])
    others = before.cpu_stats["instructions"].copy()
    dock.act_step.trigger()
    qtbot.waitUntil(lambda: int(window.rendered.cpu_stats["instructions"][2]) != n,
                    timeout=WAIT)
    after = window.rendered
    assert int(after.cpu_stats["instructions"][2]) == n + 1
    mask = np.arange(8) != 2
    assert (after.cpu_stats["instructions"][mask] == others[mask]).all()
    assert after.stopped_cpu == 2 and not after.running
    # The step's register changes are highlighted (at least the pc moved).
    assert int(after.pc[2]) != int(before.pc[2]) or after.regs[2].tolist() != \
        before.regs[2].tolist()


def test_heatmap_changes_when_the_program_touches_memory(make_workbench, qtbot) -> None:
    window = make_workbench()
    heat = window.heatmap
    qtbot.waitUntil(lambda: heat.redraws >= 2 and heat.last_delta_total > 0, timeout=WAIT)
    first = np.array(heat.image.image, copy=True)
    count = heat.redraws
    qtbot.waitUntil(lambda: heat.redraws >= count + 3, timeout=WAIT)
    assert not np.array_equal(first, heat.image.image)
    # The pages numademo streams through (8 MiB into each node) get misses.
    per_node = window.rendered.miss_counters.shape[0] // window.rendered.nodes
    region = (8 << 20) // 4096
    qtbot.waitUntil(lambda: all(
        window.rendered.miss_counters[node * per_node + region].sum() > 0
        for node in range(window.rendered.nodes)), timeout=WAIT)
    text = heat.describe(region)
    assert "home node 0" in text and "pa 0x00800000" in text
    # The legend names every node's colour; packed, only the used pages are drawn.
    legend = heat.legend.text()
    assert all(f"node {n}" in legend for n in range(window.rendered.nodes))
    assert "gap between nodes" in legend and "room for pages not used yet" in legend
    assert heat.packed.isChecked() and len(heat._shown) == int(heat._used.sum())
    assert heat.note.isHidden() == bool(window.rendered.timing)


def test_ui_stays_responsive_while_simulating(make_workbench, qtbot) -> None:
    window = make_workbench()
    qtbot.waitUntil(lambda: window.renders >= 5, timeout=WAIT)
    start_renders = window.renders
    loop = LoopGaps(10)
    gaps = loop.gaps
    qtbot.waitUntil(lambda: len(gaps) >= 150, timeout=WAIT)
    loop.stop()
    assert window.renders > start_renders, "the views did not redraw meanwhile"
    assert window.rendered is not None and window.rendered.running
    assert max(gaps) < 0.100, f"event loop stalled for {max(gaps) * 1000:.0f} ms"


def test_closing_the_window_stops_the_worker(make_workbench, qtbot) -> None:
    window = make_workbench()
    qtbot.waitUntil(lambda: window.rendered is not None, timeout=WAIT)
    assert window.engine.is_running
    with qtbot.waitSignal(window.engine.finished, timeout=WAIT):
        window.close()
    assert not window.engine.is_running


def test_layout_is_remembered(make_workbench, qtbot) -> None:
    window = make_workbench(start=False)
    window.debugger.hide()
    split = window.centralWidget()
    split.setSizes([500, 100])
    sizes = split.sizes()
    window.close()
    assert isinstance(window.settings, QSettings)
    assert window.settings.value("window/state") is not None
    again = make_workbench(start=False)
    assert not again.debugger.isVisible()
    restored = again.centralWidget().sizes()
    assert abs(restored[0] / sum(restored) - sizes[0] / sum(sizes)) < 0.05


def test_engine_loop_driven_on_the_main_thread(make_session, qtbot) -> None:
    # As superqt tests its workers: run the loop synchronously so coverage sees it.
    session = make_session()
    engine = Engine(session)
    snapshots = []
    paused = []
    engine.snapshot_ready.connect(snapshots.append)
    engine.paused.connect(lambda: paused.append(True))
    engine.work(max_slices=5)
    assert snapshots and snapshots[-1].instructions > 0
    engine.send(AddBreakpoint("barrier"))
    engine.work(max_slices=200)
    assert paused and not session.running
    assert snapshots[-1].stopped_cpu >= 0
    image = session.guests[0].image
    assert image is not None
    assert int(snapshots[-1].pc[snapshots[-1].stopped_cpu]) == image.address_of("barrier")
    engine.send(Pause())
    engine.send(Resume())
    engine.work(max_slices=3)
    assert engine.latest is snapshots[-1] or snapshots
    finished = []
    engine.finished.connect(lambda: finished.append(True))
    engine.work(max_slices=1)
    assert finished
    engine.deleteLater()
    session.close()


def test_console_keys_reach_the_guest(make_workbench, qtbot) -> None:
    window = make_workbench(start=False)
    console = window.consoles["native"]
    qtbot.keyClicks(console, "ls")
    qtbot.keyClick(console, Qt.Key.Key_Return)
    window.engine.work(max_slices=1)  # drain the command queue on this thread
    assert bytes(window.session.machine.console.input) == b"ls\n"  # type: ignore[attr-defined]


def test_keyboard_shortcuts_drive_the_debugger(make_workbench, qtbot) -> None:
    window = make_workbench()
    qtbot.waitUntil(lambda: window.rendered is not None, timeout=WAIT)
    window.activateWindow()
    with qtbot.waitSignal(window.engine.paused, timeout=WAIT):
        qtbot.keyClick(window, Qt.Key.Key_F6)
    qtbot.waitUntil(lambda: not window.rendered.running, timeout=WAIT)
    n = int(window.rendered.cpu_stats["instructions"].sum())
    qtbot.keyClick(window, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: int(window.rendered.cpu_stats["instructions"].sum()) == n + 1,
                    timeout=WAIT)
    with qtbot.waitSignal(window.engine.resumed, timeout=WAIT):
        qtbot.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: window.rendered.running, timeout=WAIT)


def test_memory_view_and_heatmap_hover(make_workbench, qtbot) -> None:
    window = make_workbench()
    dock, heat = window.debugger, window.heatmap
    qtbot.waitUntil(lambda: heat.redraws >= 2, timeout=WAIT)
    with qtbot.waitSignal(window.engine.paused, timeout=WAIT):
        dock.act_pause.trigger()
    image = window.session.guests[0].image
    assert image is not None
    dock.mem_addr.setFocus()
    dock.mem_addr.clear()
    qtbot.keyClicks(dock.mem_addr, "stream_update")
    qtbot.keyClick(dock.mem_addr, Qt.Key.Key_Return)
    address = image.address_of("stream_update")
    qtbot.waitUntil(lambda: dock.memory.toPlainText().startswith(f"{address:08x}:"),
                    timeout=WAIT)
    # Hovering over the first pixel of node 1's block names node 1's first page
    # (every page drawn; packed, the first pixel is node 1's first used page).
    heat.packed.setChecked(False)
    per_node = window.rendered.miss_counters.shape[0] // window.rendered.nodes
    x0, y0 = heat._origins[1]
    scene_pos = heat.view.mapViewToScene(QPointF(x0 + 0.5, y0 + 0.5))
    assert heat.row_at(scene_pos) == per_node
    heat._hover(scene_pos)
    assert f"page {per_node:#x}" in heat.info.text() and "home node 1" in heat.info.text()


def test_worker_errors_are_reported(make_session, qtbot) -> None:
    session = make_session()

    def broken(budget: int) -> list:  # type: ignore[type-arg]
        raise RuntimeError("the core fell over")

    session.step_slice = broken  # type: ignore[method-assign]
    engine = Engine(session)
    errors: list[str] = []
    engine.errored.connect(errors.append)
    with qtbot.waitSignals([engine.errored, engine.finished], timeout=WAIT):
        engine.start()
    assert len(errors) == 1 and "the core fell over" in errors[0]
    engine.stop()
    engine.deleteLater()
    session.close()


def test_watchpoint_from_the_dock(make_workbench, qtbot) -> None:
    window = make_workbench()
    dock = window.debugger
    qtbot.waitUntil(lambda: window.rendered is not None, timeout=WAIT)
    dock.watch_access.setCurrentText("write")
    qtbot.keyClicks(dock.watch_edit, "bar_count")
    with qtbot.waitSignal(window.engine.paused, timeout=WAIT):
        qtbot.keyClick(dock.watch_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.rendered is not None and not window.rendered.running
                    and len(window.rendered.watchpoints) == 1, timeout=WAIT)
    qtbot.waitUntil(lambda: dock.breakpoints.count() == 1, timeout=WAIT)
    assert "watch w" in dock.breakpoints.item(0).text()
    assert "bar_count" in dock.breakpoints.item(0).text()
    dock.breakpoints.setCurrentRow(0)
    remove = [b for b in dock.findChildren(QPushButton) if b.text() == "Remove selected"]
    assert len(remove) == 1
    qtbot.mouseClick(remove[0], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.rendered is not None and not window.rendered.watchpoints,
                    timeout=WAIT)
