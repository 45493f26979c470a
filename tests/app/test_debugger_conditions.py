"""Conditional breakpoints: a register or memory comparison evaluated at each hit; the
target stops, and the hit counts, only when it holds."""

from __future__ import annotations

import struct

import pytest
from PySide6.QtCore import Qt

from disco_core.session import (
    AddBreakpoint,
    RemoveBreakpoint,
    Resume,
    Session,
    baremetal_session,
)
from disco_core.session.condition import TargetState, parse

WAIT = 60_000


def run_until_stopped(s: Session, slices: int = 400) -> list:  # type: ignore[type-arg]
    events = []
    for _ in range(slices):
        events += s.step_slice(200_000)
        if not s.running:
            break
    return events


@pytest.fixture
def session():  # type: ignore[no-untyped-def]
    s = baremetal_session()
    yield s
    s.close()


def word(s: Session, cpu: int, address: int) -> int:
    return int(struct.unpack("<I", s.read(cpu, address, 4))[0])


def test_parse_and_evaluate() -> None:
    memory = {0x1000: 7, 0x2008: 0xFFFFFFFF}

    def read(a: int, n: int) -> bytes:
        return struct.pack("<I", memory[a]) if a in memory else b""

    gpr = [0] * 32
    gpr[4], gpr[29] = 0x1000, 0x2000
    t = TargetState(0x80010000, tuple(gpr), 3, 0, read)
    symbols = {"kmem": 0x1000}

    def holds(text: str) -> bool:
        return parse(text, symbols.__getitem__).holds(t)

    assert holds("a0 == 0x1000") and holds("$a0 == 4096") and holds("r4 == 0x1000")
    assert holds("$4 != 0") and not holds("a0 != 0x1000")
    assert holds("*0x1000 == 7") and holds("*kmem == 7") and holds("*a0 > 6")
    assert holds("*(sp + 8) == 0xffffffff") and holds("*(sp+8) >= *a0")
    assert holds("pc == 0x80010000") and holds("hi <= 3") and holds("lo < 1")
    assert holds("kmem == a0")
    with pytest.raises(ValueError, match="cannot be read"):
        holds("*0x3000 == 0")
    for bad, why in (("a0 = 1", "not a comparison"), ("a0 ==", "missing"),
                     ("nosuch == 1", "nosuch"), ("a0 == 1 + 2", "not a register")):
        with pytest.raises(ValueError, match=why):
            parse(bad, symbols.__getitem__)


def test_a_conditional_breakpoint_stops_only_when_it_holds(session: Session) -> None:
    s = session
    # where CPU 5's stream_update is called from first: its region, in a0
    s.submit(AddBreakpoint("stream_update", 5))
    run_until_stopped(s)
    assert s.stopped_cpu == 5
    region = int(s.target.registers(5).gpr[4])
    s.submit(RemoveBreakpoint("stream_update", 5))
    # a condition that never holds: no stop, no hits
    s.submit(AddBreakpoint("barrier", None, None, "a0 == 0x1"))
    s.submit(AddBreakpoint("stream_update", None, None, f"a0 == {region:#x}"))
    s.submit(Resume())
    events = run_until_stopped(s)
    hit = [e for e in events if e.kind == "breakpoint"]
    assert len(hit) == 1 and f"(a0 == {region:#x})" in hit[0].message
    cpu = s.stopped_cpu
    assert int(s.target.registers(cpu).gpr[4]) == region
    assert s.target.registers(cpu).pc == s.resolve("stream_update")
    bps = {b.label.split("<")[1].rstrip(">"): b for b in s.snapshot().breakpoints}
    assert bps["stream_update"].hits == 1 and bps["stream_update"].condition
    assert bps["barrier"].hits == 0 and bps["barrier"].condition == "a0 == 0x1"
    # each resume stops at the next hit where it holds, and counts it
    for n in (2, 3):
        s.submit(Resume())
        run_until_stopped(s)
        assert int(s.target.registers(s.stopped_cpu).gpr[4]) == region
        assert {b.label.split("<")[1].rstrip(">"): b.hits
                for b in s.snapshot().breakpoints} == {"stream_update": n, "barrier": 0}


def test_a_memory_condition(session: Session) -> None:
    s = session
    count = s.resolve("bar_count")
    ncpu = s.machine.config.cpus
    # the last CPU to reach the barrier sees every other one counted
    s.submit(AddBreakpoint("barrier", None, None, f"*bar_count == {ncpu - 1}"))
    for n in (1, 2):
        run_until_stopped(s)
        assert word(s, s.stopped_cpu, count) == ncpu - 1
        assert s.snapshot().breakpoints[0].hits == n
        s.submit(Resume())
    # adding the same breakpoint without a condition replaces it: still one breakpoint
    s.submit(AddBreakpoint("barrier"))
    s.step_slice(0)
    snap = s.snapshot()
    assert len(snap.breakpoints) == 1 and snap.breakpoints[0].condition == ""


def test_a_bad_condition_is_a_one_line_error(session: Session) -> None:
    s = session
    s.submit(AddBreakpoint("barrier", None, None, "a0 = 1"))
    events = s.step_slice(0)
    assert [e.kind for e in events] == ["error"]
    assert "not a comparison" in events[0].message and "\n" not in events[0].message
    assert not s.snapshot().breakpoints


def test_the_condition_field_sets_a_conditional_breakpoint(make_workbench, qtbot) -> None:
    window = make_workbench()
    dock = window.debugger
    qtbot.waitUntil(lambda: window.latest is not None, timeout=WAIT)
    qtbot.keyClicks(dock.bp_condition, "*bar_count == 7")
    qtbot.keyClicks(dock.bp_edit, "barrier")
    with qtbot.waitSignal(window.engine.paused, timeout=WAIT):
        qtbot.keyClick(dock.bp_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(window.latest.breakpoints)
                    and window.latest.breakpoints[0].hits == 1, timeout=WAIT)
    assert window.latest.breakpoints[0].condition == "*bar_count == 7"
    assert dock.bp_condition.text() == ""
    dock.bps.update_snapshot(window.latest)
    assert " if *bar_count == 7 " in dock.breakpoints.item(0).text()
    assert dock.breakpoints.item(0).text().endswith("\u00b7 1 hit")


def test_the_debugger_fields_stay_readable_at_1280x800_with_vms(make_workbench, qtbot) -> None:
    from PySide6.QtWidgets import QApplication

    from disco_core.session import vms_session

    window = make_workbench(vms_session(vms=2), start=False)
    window.resize(1280, 800)
    for _ in range(5):
        QApplication.processEvents()
    dock = window.debugger
    assert dock.bp_scope.isVisible()
    assert dock.controls.pause_vm.isVisible()
    for edit in (dock.run_to, dock.bp_edit, dock.bp_condition):
        text_width = edit.fontMetrics().horizontalAdvance(edit.placeholderText())
        assert edit.width() >= text_width, (edit.objectName(), edit.width(), text_width)
    # the target box shows a whole vCPU name
    box = dock.cpu_box
    assert box.width() >= box.fontMetrics().horizontalAdvance("vm1 vCPU 0") + 24, box.width()
