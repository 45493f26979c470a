"""The real gdb-multiarch against a VM of a 2-VM flash8 session (disco_core.gdb.vm).

One server serves vm1; vm0 runs the same kernel (its text shared with vm1's)
and must go on running, and pass through vm1's breakpoints, whatever GDB does.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given

from disco_core.gdb.client import RawClient
from disco_core.gdb.service import GdbService, run
from disco_core.gdb.vm import VmTarget
from disco_core.kernel import build_kernel
from disco_core.monitor.vcpu import RunState
from disco_core.session import FeedConsole, Session, vms_session

from .conftest import (
    FUZZ_SETTINGS,
    GDB_TIMEOUT,
    answer_all,
    gdb_command,
    packet_lists,
    resynchronise,
)

ROOT = Path(__file__).resolve().parents[2]
PC = re.compile(r"\$\d+ = \(void \(\*\)\(\)\) (0x[0-9a-f]+)")
INSTRUCTIONS = re.compile(r"vm1: (\d+) guest instructions")


@dataclass
class VmsServed:
    session: Session
    service: GdbService
    target: VmTarget
    port: int
    elf: Path
    gdb: str
    stop: threading.Event
    thread: threading.Thread

    def console(self, vm: int) -> bytes:
        return bytes(self.session.guests[vm].console.output)

    def gdb_args(self, *commands: str) -> list[str]:
        return gdb_command(self.gdb, self.elf, self.port, commands)

    def gdb_popen(self, *commands: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.gdb_args(*commands), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)

    def type(self, vm: int, text: bytes) -> None:
        self.session.submit(FeedConsole(self.session.guests[vm].name, text))

    def wait_for(self, what: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            assert time.monotonic() < deadline, "timed out"
            assert self.thread.is_alive(), "the session's loop died"
            time.sleep(0.01)


@pytest.fixture(scope="module")
def kernel_elf() -> Path:
    return build_kernel("disco")


def _serve(gdb: str, elf: Path, held: bool) -> Iterator[VmsServed]:
    session = vms_session(vms=2, preset_name="flash8", vcpus=2)
    service = GdbService(session)
    server = service.serve_vm(1, 0, held=held)
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(session, stop.is_set), daemon=True,
                              name="session-owner")
    thread.start()
    served = VmsServed(session, service, service.targets[1], server.port, elf, gdb, stop,
                       thread)
    try:
        yield served
    finally:
        stop.set()
        thread.join(10.0)
        service.close()
        session.close()


@pytest.fixture
def held_vm1(gdb_multiarch: str, kernel_elf: Path) -> Iterator[VmsServed]:
    """vm1 held before its first instruction (as --gdb-wait), vm0 booting."""
    yield from _serve(gdb_multiarch, kernel_elf, held=True)


@pytest.fixture(scope="module")
def booted(gdb_multiarch: str, kernel_elf: Path) -> Iterator[VmsServed]:
    """Both VMs running freely (at their prompts soon); vm1 served."""
    yield from _serve(gdb_multiarch, kernel_elf, held=False)


def test_break_bt_threads_stepi_registers_pmap_detach(held_vm1: VmsServed) -> None:
    s = held_vm1
    gdb = s.gdb_popen("break kalloc", "continue", "shell sleep 1", "bt", "info threads",
                      "p $pc", "monitor stats", "stepi", "p $pc", "monitor stats", "x/4i $pc",
                      "info registers", "monitor pmap", "monitor vms", "detach")
    # While GDB holds vm1 at kalloc, vm0 goes on: it boots and answers its console.
    s.wait_for(lambda: s.target.resumes >= 1 and s.target.held)
    vm1_out = s.console(1)
    s.wait_for(lambda: s.console(0).endswith(b"$ "))
    s.type(0, b"echo alive\n")
    s.wait_for(lambda: b"\nalive\n" in s.console(0))
    assert s.target.held and s.console(1) == vm1_out
    assert all(v.state == RunState.STOPPED for v in s.target.vm.vcpus)
    assert all(v.state != RunState.STOPPED for v in s.session.monitor.vms[0].vcpus)
    out, _ = gdb.communicate(timeout=GDB_TIMEOUT)

    assert re.search(r"Thread \d hit Breakpoint 1, kalloc \(\) at \S*kalloc\.c:\d+", out), out
    assert re.search(r"#1 +0x[0-9a-f]+ in pgdir_alloc \(\) at \S*vm\.c:\d+", out), out
    assert re.search(r"#\d +0x[0-9a-f]+ in main \(.*\) at \S*main\.c:\d+", out), out
    threads = re.findall(r"^[* ] (\d) +Thread 1\.(\d) \((vm1 vcpu\d) on cpu\d, held", out, re.M)
    assert sorted(t[2] for t in threads) == ["vm1 vcpu0", "vm1 vcpu1"], out
    before, after = (int(x, 16) for x in PC.findall(out))
    assert after == before + 4, out  # kalloc's first instructions do not branch
    counts = [int(n) for n in INSTRUCTIONS.findall(out)]
    assert len(counts) == 2 and counts[1] == counts[0] + 1, out  # exactly one instruction
    listing = re.findall(r"^(?:=> )? *0x[0-9a-f]+ <kalloc\+\d+>:\t\S+", out, re.M)
    assert len(listing) == 4, out
    for name in ("status", "cause", "epc", "badvaddr", "entryhi", "count", "prid", "pc"):
        assert re.search(rf"\b{name}\b", out), f"info registers lacks {name}:\n{out}"
    assert re.search(r"vm1 pmap: \d+ of 8192 guest pages backed", out), out
    assert "read-only shared" in out, out  # the kernel text, shared with vm0
    assert "[Inferior 1 (process 1) detached]" in out, out
    # Detached, vm1 runs on: it boots to its prompt.
    s.wait_for(lambda: s.console(1).endswith(b"$ "))
    assert not s.target.held


def test_watch_stops_after_the_write_in_the_right_thread(held_vm1: VmsServed) -> None:
    out = subprocess.run(held_vm1.gdb_args(
        "break kalloc", "continue", "delete", "watch kmem.nfree", "continue", "info threads",
        "p kmem.nfree", "delete", "detach"), capture_output=True, text=True,
        timeout=GDB_TIMEOUT).stdout
    assert "Hardware watchpoint 2: kmem.nfree" in out, out
    # Right after the write: in kalloc, or at the start of release when the compiler put
    # `kmem.nfree--` in the delay slot of kalloc's call to release.
    m = re.search(r"Thread (\d) hit Hardware watchpoint 2: kmem.nfree\s+Old value = (\d+)\s+"
                  r"New value = (\d+)\s+(?:kalloc \(\) at \S*kalloc\.c|"
                  r"release \(lk=\S+ <kmem>\) at \S*spinlock\.c):\d+", out)
    assert m is not None, out
    assert int(m[3]) == int(m[2]) - 1, out
    # The thread named is the one in kalloc (the other vCPU waits in main for it).
    current = re.search(r"^\* (\d) +Thread 1\.\d \(vm1 vcpu\d.*\) (?:kalloc \(\)|"
                        r"release \(lk=\S+ <kmem>\))", out, re.M)
    assert current is not None and current[1] == m[1], out


def test_a_breakpoint_stops_its_vm_only(booted: VmsServed) -> None:
    s = booted
    s.wait_for(lambda: s.console(0).endswith(b"$ ") and s.console(1).endswith(b"$ "))
    gdb = s.gdb_popen("break kalloc", "continue", "bt 1", "delete", "detach")
    s.wait_for(lambda: s.target.running)
    # vm0 forks a process (kalloc runs there, the same kernel text): it passes through.
    s.type(0, b"echo passed\n")
    s.wait_for(lambda: b"\npassed\n" in s.console(0))
    assert s.target.running and gdb.poll() is None
    s.type(1, b"echo stopped\n")  # vm1's fork stops in its kalloc
    out, _ = gdb.communicate(timeout=GDB_TIMEOUT)
    assert re.search(r"Thread \d hit Breakpoint 1, kalloc \(\)", out), out
    s.wait_for(lambda: b"\nstopped\n" in s.console(1))  # detached: vm1 runs on


def test_ctrl_c_holds_the_running_vm_and_names_its_thread(booted: VmsServed) -> None:
    s = booted
    s.wait_for(lambda: s.console(1).endswith(b"$ "))
    with RawClient(s.port) as c:
        assert c.ask(b"qSupported:multiprocess+;swbreak+").startswith(b"PacketSize=")
        assert c.ask(b"?").startswith(b"T05thread:p1.")
        c.send(b"vCont;c")
        s.wait_for(lambda: s.target.running)
        s.type(1, b"echo running\n")  # vm1 answers while GDB lets it run
        s.wait_for(lambda: b"\nrunning\n" in s.console(1))
        c.send_raw(b"\x03")
        assert re.match(rb"T02thread:p1\.[12];", c.reply())
        assert s.target.held
        s.type(0, b"echo vm0 too\n")
        s.wait_for(lambda: b"\nvm0 too\n" in s.console(0))
        assert c.ask(b"D") == b"OK"
    s.wait_for(lambda: not s.target.held)


_SAFE = [b"?", b"g", b"p", b"m", b"M", b"X", b"Z", b"z", b"vCont?", b"vCont;", b"H", b"T",
         b"q", b"Q", b"qRcmd,", b"qXfer:features:read:", b"qThreadExtraInfo,", b"s", b"c",
         b"b", b"v", b"\x03"]


@pytest.fixture(scope="module")
def fuzz_client(booted: VmsServed) -> Iterator[RawClient]:
    with RawClient(booted.port, timeout=5.0) as c:
        c.start_noack()
        assert c.ask(b"?").startswith(b"T05")
        yield c


@FUZZ_SETTINGS
@given(packet_lists(_SAFE))
def test_random_packets_always_get_an_answer(fuzz_client: RawClient,
                                             packets: list[bytes]) -> None:
    answer_all(fuzz_client, packets)  # a resume gets a Ctrl-C: the VM would run on


def test_after_the_fuzzing_the_other_vm_is_unaffected(booted: VmsServed,
                                                      fuzz_client: RawClient) -> None:
    resynchronise(fuzz_client)
    booted.type(0, b"echo unaffected\n")
    booted.wait_for(lambda: b"\nunaffected\n" in booted.console(0))
    assert b"panic" not in booted.console(0)
    assert booted.session.monitor is not None and booted.session.monitor.vms[0].running
    assert fuzz_client.ask(b"D") == b"OK"
    # Detached, vm1 is let go (what random register and memory writes did to its guest
    # is its own affair: it may have panicked).
    vm1 = booted.target.vm
    booted.wait_for(lambda: not booted.target.held)
    assert not vm1.running or all(v.state != RunState.STOPPED for v in vm1.vcpus)


def test_disco_gdb_runs_a_batch_script(gdb_multiarch: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "disco_core.cli", "gdb", "--machine", "flash8", "--vms", "2",
         "--vm", "1", "--", "-batch", "-ex", "break kalloc", "-ex", "continue", "-ex", "bt"],
        capture_output=True, text=True, timeout=60, cwd=ROOT)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert re.search(r"Breakpoint 1, kalloc \(\) at \S*kalloc\.c:\d+", out), out
    assert re.search(r"#1 +0x[0-9a-f]+ in pgdir_alloc \(\)", out), out


def test_disco_boot_gdb_serves_each_vm_on_its_port() -> None:
    boot = subprocess.Popen(
        [sys.executable, "-m", "disco_core.cli", "boot", "--machine", "flash8", "--vms", "2",
         "--gdb", "0", "--gdb-wait"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=ROOT)
    watchdog = threading.Timer(60.0, boot.kill)  # a read below never waits forever
    watchdog.start()
    try:
        assert boot.stderr is not None
        ports = []
        while len(ports) < 2:
            line = boot.stderr.readline()
            assert line, "disco boot --gdb ended before serving"
            m = re.search(r"-ex 'target remote :(\d+)'", line)
            if m:
                ports.append(int(m[1]))
        for vm, port in enumerate(ports):
            with RawClient(port) as c:
                assert c.ask(b"qSupported:multiprocess+").startswith(b"PacketSize=")
                assert c.ask(b"?").startswith(b"T05thread:p1.1;")
                info = bytes.fromhex(c.ask(b"qThreadExtraInfo,1").decode()).decode()
                assert info.startswith(f"vm{vm} vcpu0"), info
                assert c.ask(b"D") == b"OK"
        # Detached, both VMs run on: each boots to its shell (the consoles are echoed).
        assert boot.stdout is not None
        seen = ""
        while not ("[vm0] init: starting sh" in seen and "[vm1] init: starting sh" in seen):
            line = boot.stdout.readline()
            assert line, seen
            seen += line
    finally:
        boot.send_signal(signal.SIGINT)
        boot.communicate(timeout=20)
        watchdog.cancel()
    assert boot.returncode == 130
