"""The call stack per vCPU: frames walked with DWARF call-frame information, checked
against the kernel's own symbols and code (every caller's frame sits on a call of the
function above it), and a click on a frame shows its code and source line."""

from __future__ import annotations

import struct

import pytest

from disco_core.session import AddBreakpoint, FeedConsole, Session, vms_session

WAIT = 60_000


def boot(s: Session) -> None:
    for _ in range(300):
        s.step_slice(500_000)
        if all(g.console.output.endswith(b"$ ") for g in s.guests):
            return
    raise AssertionError("the VMs did not reach their prompts")


def stop_in_kalloc(s: Session) -> None:
    s.submit(AddBreakpoint("kalloc", vm="vm0"))
    s.submit(FeedConsole("vm0", b"echo hi\n"))  # the shell forks: kalloc for the page table
    for _ in range(300):
        s.step_slice(500_000)
        if not s.running:
            return
    raise AssertionError("kalloc was never reached")


@pytest.fixture(scope="module")
def in_kalloc():  # type: ignore[no-untyped-def]
    s = vms_session(vms=1)
    boot(s)
    stop_in_kalloc(s)
    yield s
    s.close()


def test_frames_stopped_in_kalloc_follow_the_kernels_calls(in_kalloc: Session) -> None:
    s = in_kalloc
    image = s.guests[0].image
    assert image is not None
    frames = s.snapshot().debug.frames
    assert frames[0].function == "kalloc" and frames[0].offset == 0
    assert frames[0].pc == s.resolve("kalloc")
    assert frames[0].file is not None and frames[0].file.endswith("kalloc.c")
    names = [f.function for f in frames]
    # the shell's fork: kalloc <- ... <- fork <- sys_fork <- syscall <- trap <- trapentry
    assert names.index("fork") < names.index("sys_fork") < names.index("syscall") \
        < names.index("trap"), names
    assert names[-1] == "trapentry" and "assembly" in frames[-1].note
    checked = 0
    for callee, caller in zip(frames, frames[1:], strict=False):
        # the caller's frame is at its call: a jal to the callee's function (or a jalr:
        # syscall's table), whose return address is the frame's pc
        assert caller.where == caller.pc - 8
        word = struct.unpack("<I", s.read(0, caller.where, 4))[0]
        op = word >> 26
        if op == 3:  # jal
            target = ((caller.where + 4) & 0xF0000000) | ((word & 0x3FFFFFF) << 2)
            assert target == image.address_of(callee.function), (caller, callee)
            checked += 1
        else:
            assert op == 0 and word & 0x3F == 9, f"{caller.describe()}: {word:08x}"  # jalr
        # the caller's stack frame is above the callee's
        assert caller.sp >= callee.sp
        assert caller.line > 0 and caller.file is not None
        assert image.symbol_at(caller.where) == (caller.function, caller.offset)
    assert checked >= 4


def test_the_call_stack_is_not_walked_while_running() -> None:
    from disco_core.session import baremetal_session

    s = baremetal_session()
    try:
        s.step_slice(100_000)
        assert s.running and s.snapshot().debug.frames == ()
    finally:
        s.close()


def test_bare_metal_frames_too() -> None:
    from disco_core.session import Resume, baremetal_session

    s = baremetal_session()
    try:
        s.submit(AddBreakpoint("barrier", 2))
        s.submit(Resume())
        for _ in range(200):
            s.step_slice(200_000)
            if not s.running:
                break
        frames = s.snapshot().debug.frames
        assert frames[0].function == "barrier"
        assert len(frames) >= 2 and frames[1].function not in ("", "barrier")
    finally:
        s.close()


def test_click_a_frame_shows_its_code_and_source(make_workbench, qtbot) -> None:
    s = vms_session(vms=1)
    boot(s)
    window = make_workbench(s)
    dock = window.debugger
    qtbot.waitUntil(lambda: window.latest is not None, timeout=WAIT)
    window.engine.send(AddBreakpoint("kalloc", vm="vm0"))
    with qtbot.waitSignal(window.engine.paused, timeout=WAIT):
        window.engine.send(FeedConsole("vm0", b"echo hi\n"))
    qtbot.waitUntil(lambda: not window.latest.running and bool(window.latest.debug.frames),
                    timeout=WAIT)
    window.render_now()
    dock.update_snapshot(window.latest, force=True)
    view = dock.callstack
    assert view.rowCount() == len(window.latest.debug.frames) >= 5
    assert view.item(0, 1).text() == "kalloc"
    assert view.item(0, 2).text().startswith("kalloc.c:")
    row = next(r for r in range(view.rowCount()) if view.item(r, 1).text().startswith("fork"))
    frame = view.frames[row]
    rect = view.visualItemRect(view.item(row, 1))
    qtbot.mouseClick(view.viewport(), qtbot_left(), pos=rect.center())
    current = [ln for ln in dock.disassembly.toPlainText().splitlines() if "\u25b6" in ln]
    assert len(current) == 1 and f"{frame.where:08x}" in current[0] and "jal" in current[0]
    assert dock.source.path is not None and dock.source.path.endswith("proc.c")
    assert dock.source.line == frame.line
    # frame 0 again: back at pc
    qtbot.mouseClick(view.viewport(), qtbot_left(), pos=view.visualItemRect(
        view.item(0, 1)).center())
    current = [ln for ln in dock.disassembly.toPlainText().splitlines() if "\u25b6" in ln]
    assert f"{window.latest.debug.pc:08x}" in current[0]
    assert dock.source.path is not None and dock.source.path.endswith("kalloc.c")


def qtbot_left():  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton
