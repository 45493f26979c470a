"""The real gdb-multiarch against a session's bare machine (disco_core.gdb.native):
the CPUs are the threads and the session, not the target, runs the slices."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path

from disco_core.gdb.service import GdbService, run
from disco_core.session import baremetal_session

from .conftest import GDB_TIMEOUT, HERE

PC = re.compile(r"\$\d+ = \(void \(\*\)\(\)\) (0x[0-9a-f]+)")


def test_break_step_detach_on_a_baremetal_session(gdb_multiarch: str) -> None:
    session = baremetal_session(HERE / "gdbprog.c", preset_name="test")
    image = session.guests[0].image
    assert image is not None
    service = GdbService(session)
    server = service.serve_machine(0, held=True)
    stop = threading.Event()
    owner = threading.Thread(target=run, args=(session, stop.is_set), daemon=True)
    owner.start()
    try:
        out = subprocess.run(
            [gdb_multiarch, "-batch", "-nx", "-ex", "set architecture mips:isa32r2",
             "-ex", f"file {Path(image.name)}", "-ex", f"target remote :{server.port}",
             "-ex", "break bump", "-ex", "continue", "-ex", "bt", "-ex", "info threads",
             "-ex", "p $pc", "-ex", "stepi", "-ex", "p $pc", "-ex", "detach"],
            capture_output=True, text=True, timeout=GDB_TIMEOUT).stdout
        assert "Breakpoint 1, bump (by=" in out, out
        assert re.search(r"#1 +0x[0-9a-f]+ in twice \(by=\S+\) at \S*gdbprog\.c:\d+", out), out
        assert re.search(r"^\* 1 +Thread 1\.1 \(cpu0, running\)", out, re.M), out
        before, after = (int(x, 16) for x in PC.findall(out))
        assert after == before + 4, out
        assert "[Inferior 1 (process 1) detached]" in out, out
        deadline = time.monotonic() + 20
        while not session.halted:  # detached: the program runs to its end
            assert time.monotonic() < deadline, session.guests[0].console.output
            time.sleep(0.02)
        assert bytes(session.guests[0].console.output).startswith(b"counter 20 total")
    finally:
        stop.set()
        owner.join(10.0)
        service.close()
        session.close()
