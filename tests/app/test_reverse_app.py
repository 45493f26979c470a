"""Reverse execution from the app: reverse continue, reverse step and step out, checked
against a brute-force forward scan of the same recording."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from app.main_window import MainWindow
from disco_core.record.recorder import shared_root_image
from disco_core.record.replay import Recording, Replayer
from disco_core.record.reverse import BreakSpec, Reverse
from disco_core.session import AddBreakpoint, Pause, Resume, vms_session

WAIT = 90_000  # ms


def prompts(window: MainWindow) -> bool:
    return all(view.toPlainText().rstrip().endswith("$") for view in window.consoles.values())


def type_into(qtbot, window: MainWindow, vm: str, text: str) -> None:  # type: ignore[no-untyped-def]
    console = window.consoles[vm]
    qtbot.keyClicks(console, text)
    qtbot.keyClick(console, Qt.Key.Key_Return)


def stopped_at(qtbot, window: MainWindow, **wanted: int):  # type: ignore[no-untyped-def]
    """The snapshot of the point the worker went to (every view drawn from it)."""
    qtbot.waitUntil(lambda: window.latest is not None and not window.latest.running
                    and all(getattr(window.latest.debug, k) == v for k, v in wanted.items()),
                    timeout=WAIT)
    window.render_now()
    return window.rendered


def test_reverse_continue_stops_at_the_earlier_hit_and_reverse_steps_one_instruction(
        make_workbench, qtbot, tmp_path) -> None:
    window = make_workbench(vms_session(vms=2, base_image=shared_root_image()))
    qtbot.waitUntil(lambda: prompts(window), timeout=WAIT)
    dock = window.debugger
    controls = dock.controls
    assert controls.act_rcontinue.isEnabled()
    assert controls.act_rcontinue.shortcut().toString() == "Shift+F5"
    assert controls.act_rstep.shortcut().toString() == "Ctrl+Shift+F11"
    assert controls.act_rover.shortcut().toString() == "Ctrl+Shift+F10"
    kexec = window.session.resolve("kexec")
    dock.cpu_box.setCurrentIndex(1)  # vm1 vCPU 0
    qtbot.waitUntil(lambda: window.latest.debug.cpu == 1, timeout=WAIT)
    window.engine.send(AddBreakpoint("kexec", vm="vm1"))
    qtbot.waitUntil(lambda: dock.breakpoints.count() == 1, timeout=WAIT)
    for word in ("first", "second"):
        with qtbot.waitSignal(window.engine.paused, timeout=WAIT):
            type_into(qtbot, window, "vm1", f"echo {word}")
        window.engine.send(Resume())
        qtbot.waitUntil(lambda w=word: f"{w}\n$" in window.consoles["vm1"].toPlainText(),
                        timeout=WAIT)
    live_hits = [m for m in window.history.markers() if m.kind == "breakpoint"]
    assert len(live_hits) >= 2
    with qtbot.waitSignal(window.engine.paused, timeout=WAIT):
        window.engine.send(Pause())

    # Shift+F5: back to the last hit of the breakpoint, every view there
    with qtbot.waitSignal(window.engine.seeked, timeout=WAIT):
        controls.act_rcontinue.trigger()
    snap = stopped_at(qtbot, window, cpu=1, pc=kexec)
    assert window.viewing_past
    vcpu_cpu = int(np.flatnonzero(snap.vms.cpu_vcpu == 1)[0])
    assert snap.pc[vcpu_cpu] == kexec
    shown = window.consoles["vm1"].toPlainText()
    assert "echo second" in shown and "second\n$" not in shown  # before echo ran
    current = [line for line in dock.disassembly.toPlainText().splitlines() if "\u25b6" in line]
    assert len(current) == 1 and f"{kexec:08x}" in current[0]
    pc_cells = [dock.registers.item(r, c + 1).text()
                for r in range(dock.registers.rowCount()) for c in (0, 2)
                if dock.registers.item(r, c) and dock.registers.item(r, c).text() == "pc"]
    assert pc_cells == [f"0x{kexec:08x}"]
    assert any(m.kind == "reverse" for m in window.history.markers())
    hit_cycles = int(snap.cpu_stats["cycles"][vcpu_cpu])
    hit_ins = int(snap.cpu_stats["instructions"][vcpu_cpu])
    ra = int(snap.debug.regs[31])
    said = window.statusBar().currentMessage()
    assert said.startswith("reverse continue: vm1 vCPU 0 at")

    # the same hit as a brute-force forward scan of the recording finds last
    path = tmp_path / "run.rec"
    with qtbot.waitSignal(window.engine.saved, timeout=WAIT):
        window.save_recording(path)
    scan = Reverse(Replayer(Recording.open(path)))
    try:
        scan.add_breakpoint(BreakSpec("kexec", None, "vm1"))
        hits = scan.scan(scan.start, scan.end)
    finally:
        scan.replayer.close()
    assert len(hits) >= 2
    last = hits[-1]
    assert (last.pc, last.cpu, last.target) == (kexec, vcpu_cpu, 1)
    assert int(snap.cpu_stats["instructions"].astype(np.int64).sum()) == last.instructions
    landed = [m for m in window.history.markers() if m.kind == "reverse"][-1]
    assert landed.cycle == last.cycles
    assert f"cycle {last.cycles:,}" in said

    # Ctrl+Shift+F11: back exactly one instruction of vm1's vCPU (the call's delay slot)
    with qtbot.waitSignal(window.engine.seeked, timeout=WAIT):
        controls.act_rstep.trigger()
    back = stopped_at(qtbot, window, cpu=1)
    qtbot.waitUntil(lambda: window.latest.debug.pc != kexec, timeout=WAIT)
    back = stopped_at(qtbot, window, cpu=1)
    assert int(back.cpu_stats["instructions"][vcpu_cpu]) == hit_ins - 1
    assert window.session.target.is_call_at(1, back.debug.pc - 4)

    # F11 in the past replays one instruction forward: the hit again, exactly
    with qtbot.waitSignal(window.engine.seeked, timeout=WAIT):
        controls.act_step.trigger()
    again = stopped_at(qtbot, window, cpu=1, pc=kexec)
    assert int(again.cpu_stats["instructions"][vcpu_cpu]) == hit_ins
    assert int(again.cpu_stats["cycles"][vcpu_cpu]) == hit_cycles

    # Alt+Shift+F11: back out of kexec to its call (the instruction before $ra's delay slot)
    with qtbot.waitSignal(window.engine.seeked, timeout=WAIT):
        controls.act_rout.trigger()
    out = stopped_at(qtbot, window, cpu=1, pc=ra - 8)
    assert int(out.cpu_stats["instructions"][vcpu_cpu]) < hit_ins

    # Continue (F5) from the past replays on to the next hit of the recorded future
    with qtbot.waitSignal(window.engine.seeked, timeout=WAIT):
        controls.act_continue.trigger()
    stopped_at(qtbot, window, cpu=1, pc=kexec)
    assert window.viewing_past
