"""Ctrl+C in a console interrupts the foreground program of our guest: the guest kernel's
console driver sees ^C, discards the line being typed and kills the job the shell runs
(every descendant of the shell waiting for it); the shell survives and prompts again."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from disco_core.session import FeedConsole, Session, vms_session

SLICE = 500_000
WAIT = 60_000


def run_until(s: Session, done, slices: int = 400) -> None:  # type: ignore[no-untyped-def]
    for _ in range(slices):
        s.step_slice(SLICE)
        if done():
            return
    tail = bytes(s.guests[0].console.output[-200:])
    raise AssertionError(f"not reached; the console ends {tail!r}")


@pytest.fixture(scope="module")
def vm():  # type: ignore[no-untyped-def]
    s = vms_session(vms=1)
    out = s.guests[0].console.output
    run_until(s, lambda: out.endswith(b"$ "))
    yield s
    s.close()


def type_and_wait(s: Session, data: bytes, until: bytes) -> bytes:
    out = s.guests[0].console.output
    mark = len(out)
    s.submit(FeedConsole("vm0", data))
    run_until(s, lambda: out.endswith(until) and len(out) > mark)
    return bytes(out[mark:])


def test_ctrl_c_ends_a_running_workload_and_the_prompt_comes_back(vm: Session) -> None:
    s = vm
    out = s.guests[0].console.output
    s.submit(FeedConsole("vm0", b"engineering 1000\n"))  # minutes of work
    for _ in range(40):
        s.step_slice(SLICE)
    assert out.endswith(b"engineering 1000\n"), "it runs"
    assert type_and_wait(s, b"\x03", b"$ ") == b"^C\n$ "
    # the job is gone (engineering's workers too), the shell is the same one
    listing = type_and_wait(s, b"ps\n", b"$ ").decode()
    assert "engineering" not in listing and listing.count(" sh") == 1, listing
    assert type_and_wait(s, b"echo after\n", b"$ ") == b"echo after\nafter\n$ "


def test_ctrl_c_at_the_prompt_discards_the_line(vm: Session) -> None:
    assert type_and_wait(vm, b"echo nothing\x03", b"$ ") == b"echo nothing^C\n$ "


def test_ctrl_c_interrupts_a_program_reading_the_console(vm: Session) -> None:
    s = vm
    out = s.guests[0].console.output
    s.submit(FeedConsole("vm0", b"cat\n"))
    run_until(s, lambda: out.endswith(b"cat\n"), 20)
    assert type_and_wait(s, b"line\n", b"line\n").endswith(b"line\nline\n")  # cat echoes
    assert type_and_wait(s, b"\x03", b"$ ") == b"^C\n$ "
    assert type_and_wait(s, b"echo ok\n", b"$ ") == b"echo ok\nok\n$ "


def test_ctrl_c_key_in_the_console_view(make_workbench, qtbot) -> None:
    s = vms_session(vms=1)
    out = s.guests[0].console.output
    run_until(s, lambda: out.endswith(b"$ "))
    window = make_workbench(s)
    console = window.consoles["vm0"]
    qtbot.keyClicks(console, "engineering 1000")
    qtbot.keyClick(console, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: console.toPlainText().rstrip().endswith("engineering 1000"),
                    timeout=WAIT)
    qtbot.wait(300)
    assert console.toPlainText().rstrip().endswith("engineering 1000")  # still running
    qtbot.keyClick(console, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: console.toPlainText().rstrip().endswith("^C\n$"), timeout=WAIT)
    qtbot.keyClicks(console, "echo alive")
    qtbot.keyClick(console, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: console.toPlainText().rstrip().endswith("alive\n$"), timeout=WAIT)
