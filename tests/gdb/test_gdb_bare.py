"""The real gdb-multiarch against the bare test machine served by disco_core.gdb."""

from __future__ import annotations

import re
import signal
import time

from disco_core.gdb.client import RawClient
from disco_core.machine import ExitReason

from .conftest import Served

PC = re.compile(r"\$\d+ = \(void \(\*\)\(\)\) (0x[0-9a-f]+)")


def pcs(out: str) -> list[int]:
    return [int(m, 16) for m in PC.findall(out)]


def test_break_continue_backtrace_registers(served: Served) -> None:
    out = served.gdb_run("break bump", "continue", "bt", "info registers", "detach")
    assert "Breakpoint 1, bump (by=" in out, out
    assert re.search(r"#0 +bump \(by=\S+\) at \S*gdbprog\.c:\d+", out), out
    assert re.search(r"#1 +0x[0-9a-f]+ in twice \(by=\S+\) at \S*gdbprog\.c:\d+", out), out
    assert re.search(r"#2 +.*main \(.*\) at \S*gdbprog\.c:\d+", out), out
    for name in ("status", "badvaddr", "cause", "epc", "entryhi", "count", "pc"):
        assert re.search(rf"\b{name}\b", out), f"info registers lacks {name}:\n{out}"
    assert "[Inferior 1 (process 1) detached]" in out
    served.finish()
    assert served.machine.halted and served.machine.halt_code == 0
    assert b"counter 20 total 0" in served.machine.console.output


def test_stepi_executes_exactly_one_instruction(served: Served) -> None:
    out = served.gdb_run("break bump", "continue", "p $pc", "monitor cpus", "stepi", "p $pc",
                         "monitor cpus", "x/4i $pc", "kill")
    before, after = pcs(out)
    assert after == before + 4, out
    counts = [int(n) for n in re.findall(r"cpu0: pc=0x[0-9a-f]+ \w+ (\d+) instructions", out)]
    assert len(counts) == 2 and counts[1] == counts[0] + 1, out
    listing = re.findall(r"^(?:=> )? *0x[0-9a-f]+ <bump\+\d+>:\t\S+", out, re.M)
    assert len(listing) == 4, out


def test_watch_stops_after_the_writing_instruction(served: Served) -> None:
    out = served.gdb_run("watch counter", "continue", "p $pc", "x/i $pc - 4", "p counter",
                         "detach")
    assert "Hardware watchpoint 1: counter" in out, out
    assert re.search(r"Old value = 0\s+New value = 1", out), out
    # The store that wrote counter is the instruction just before the stop.
    assert re.search(r"<bump\+\d+>:\tsw\t", out), out
    served.finish()
    assert served.machine.halt_code == 0


def test_info_threads_lists_both_cpus(served2: Served) -> None:
    out = served2.gdb_run("break secondary_main", "continue", "info threads", "thread 1",
                          "p $pc", "detach")
    assert "[Switching to Thread 1.2]" in out, out
    assert re.search(r"Thread 2 hit Breakpoint 1, secondary_main \(arg=7\)", out), out
    assert re.search(r"^\s+1 +Thread 1\.1 \(cpu0, \w+\)", out, re.M), out
    assert re.search(r"^\* 2 +Thread 1\.2 \(cpu1, \w+\) .*secondary_main", out, re.M), out
    served2.finish()
    assert b"counter 20 total 7" in served2.machine.console.output


def test_detach_lets_the_machine_run_to_completion(served: Served) -> None:
    out = served.gdb_run("break twice", "continue", "detach")
    assert "[Inferior 1 (process 1) detached]" in out, out
    served.finish()
    assert served.target.exit is not None and served.target.exit.reason == ExitReason.HALT
    assert served.machine.console.output.decode() == "counter 20 total 0\n"


def test_a_second_client_is_refused(served: Served) -> None:
    with RawClient(served.port) as first:
        assert first.ask(b"qSupported:multiprocess+").startswith(b"PacketSize=")
        out = served.gdb_run(timeout=15)
        assert "another GDB client is attached" in out, out
        assert first.ask(b"?").startswith(b"T05thread:p1.1;")
        first.send(b"D")
        assert first.reply() == b"OK"
    served.finish()


def test_ctrl_c_stops_a_running_machine(served: Served) -> None:
    # As a user's Ctrl-C: SIGINT to gdb while it waits in `continue` makes it send 0x03.
    gdb = served.gdb_popen("break twice", "continue", "set var spin_forever = 1", "delete",
                           "continue", "p $pc", "info symbol $pc",
                           "set var spin_forever = 0", "detach")
    deadline = time.monotonic() + 20
    while not (served.target.resumes >= 2 and served.target.running):  # the 2nd continue
        assert time.monotonic() < deadline and gdb.poll() is None, gdb.communicate()[0]
        time.sleep(0.02)
    time.sleep(0.2)
    gdb.send_signal(signal.SIGINT)
    out, _ = gdb.communicate(timeout=20)
    assert "Program received signal SIGINT" in out, out
    assert re.search(r"main \+ \d+ in section \.text", out), out  # in main's spin loop
    served.finish()
    assert served.machine.console.output == b"counter 20 total 0\n"


def test_read_and_access_watchpoints_name_the_thread(served2: Served) -> None:
    # Past crt0's clearing of .bss (a write to both), then the second CPU adds to
    # total (a read, then the write): its thread is the one named.
    out = served2.gdb_run("break secondary_main", "continue", "delete", "awatch total",
                          "continue", "x/i $pc - 4", "delete", "rwatch counter", "continue",
                          "x/i $pc - 4", "detach")
    assert re.search(r"Thread 2 hit Hardware access \(read/write\) watchpoint 2: total", out), out
    assert re.search(r"<secondary_main\+\d+>:\t(lw|sw)\t", out), out
    assert re.search(r"Thread 1 hit Hardware read watchpoint 3: counter", out), out
    assert re.search(r"<bump\+\d+>:\tlw\t", out), out
    served2.finish()
    assert served2.machine.console.output == b"counter 20 total 7\n"
