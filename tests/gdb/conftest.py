"""Fixtures for the GDB tests: the real gdb-multiarch, the test program, a served machine."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from disco_core.gdb.bare import BareTarget, serve
from disco_core.gdb.server import GdbServer
from disco_core.guest import build_baremetal
from disco_core.testmachine import TestMachine

HERE = Path(__file__).resolve().parent
GDB_TIMEOUT = 30.0


@pytest.fixture(scope="session")
def gdb_multiarch() -> str:
    path = shutil.which("gdb-multiarch")
    if path is None:
        pytest.fail("gdb-multiarch is not installed: the GDB tests need it and never skip. "
                    "Install the Debian package (apt-get install gdb-multiarch); .ci/run does "
                    "this when it runs as root.")
    return path


@pytest.fixture(scope="session")
def program() -> Path:
    # -fforce-dwarf-frame: call frame information, so GDB unwinds without scanning
    # prologues word by word (docs/gdb.md, "Symbols").
    return build_baremetal(HERE / "gdbprog.c", extra_flags=["-fforce-dwarf-frame"])


@dataclass
class Served:
    machine: TestMachine
    target: BareTarget
    server: GdbServer
    thread: threading.Thread
    elf: Path
    gdb: str

    @property
    def port(self) -> int:
        return self.server.port

    def gdb_run(self, *commands: str, timeout: float = GDB_TIMEOUT) -> str:
        """gdb-multiarch in batch mode on the program, attached to the server."""
        args = [self.gdb, "-batch", "-nx", "-ex", "set architecture mips:isa32r2",
                "-ex", "set confirm off", "-ex", f"file {self.elf}",
                "-ex", f"target remote :{self.port}"]
        for c in commands:
            args += ["-ex", c]
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        return done.stdout + done.stderr

    def finish(self, timeout: float = 20.0) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the machine did not finish after the client left"


def serve_machine(elf: Path, gdb: str, cpus: int = 1) -> Iterator[Served]:
    tm = TestMachine(cpus=cpus)
    tm.load_elf(elf)
    target = BareTarget(tm)
    server = GdbServer(target, 0).start()
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(target, server, 60.0, stop), daemon=True)
    thread.start()
    try:
        yield Served(tm, target, server, thread, elf, gdb)
    finally:
        stop.set()
        server.close()
        thread.join(5.0)
        tm.close()


@pytest.fixture
def served(program: Path, gdb_multiarch: str) -> Iterator[Served]:
    yield from serve_machine(program, gdb_multiarch)


@pytest.fixture
def served2(program: Path, gdb_multiarch: str) -> Iterator[Served]:
    yield from serve_machine(program, gdb_multiarch, cpus=2)
