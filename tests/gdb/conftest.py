"""Fixtures for the GDB tests: the real gdb-multiarch, the test program, a served machine."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from disco_core.gdb import protocol as p
from disco_core.gdb.bare import Background, BareTarget
from disco_core.gdb.client import RawClient
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


def gdb_command(gdb: str, elf: Path, port: int, commands: tuple[str, ...]) -> list[str]:
    """gdb-multiarch in batch mode on `elf`, attached to the server on `port`."""
    args = [gdb, "-batch", "-nx", "-ex", "set architecture mips:isa32r2",
            "-ex", "set confirm off", "-ex", f"file {elf}", "-ex", f"target remote :{port}"]
    for c in commands:
        args += ["-ex", c]
    return args


# The protocol fuzzing: lists of random packets, some of them a known command's
# prefix with random bytes after it.
FUZZ_SETTINGS = settings(max_examples=60, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture])


def packet_lists(prefixes: list[bytes]) -> st.SearchStrategy[list[bytes]]:
    return st.lists(st.one_of(
        st.binary(max_size=40),
        st.builds(lambda v, t: v + t, st.sampled_from(prefixes), st.binary(max_size=30))),
        min_size=1, max_size=6)


def answer_all(client: RawClient, packets: list[bytes]) -> None:
    """Send each packet (but those that end the session) and expect an answer; a
    resume answers at the next stop, so a Ctrl-C after it makes one."""
    for payload in packets:
        try:
            cmd: p.Command | None = p.parse(payload)
        except p.ProtocolError:
            cmd = None
        if isinstance(cmd, p.Detach | p.Kill):
            continue  # a detach or a kill is not for the fuzzing
        client.send(payload)
        if isinstance(cmd, p.VCont | p.LegacyResume):
            client.send_raw(b"\x03")
        try:
            reply = client.reply()
        except TimeoutError:
            pytest.fail(f"no answer to {payload!r}")
        assert len(reply) <= p.PACKET_SIZE


def resynchronise(client: RawClient) -> None:
    """After random bytes: close any half packet, then read up to a known reply."""
    client.send_raw(b"#00")
    client.send(b"qC")
    skipped = 0
    while not client.reply().startswith(b"QC"):
        skipped += 1
        assert skipped < 20


@dataclass
class Served:
    machine: TestMachine
    background: Background
    elf: Path
    gdb: str

    @property
    def target(self) -> BareTarget:
        return self.background.target

    @property
    def port(self) -> int:
        return self.background.server.port

    def gdb_args(self, *commands: str) -> list[str]:
        """gdb-multiarch in batch mode on the program, attached to the server."""
        return gdb_command(self.gdb, self.elf, self.port, commands)

    def gdb_run(self, *commands: str, timeout: float = GDB_TIMEOUT) -> str:
        done = subprocess.run(self.gdb_args(*commands), capture_output=True, text=True,
                              timeout=timeout)
        return done.stdout + done.stderr

    def gdb_popen(self, *commands: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.gdb_args(*commands), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)

    def finish(self, timeout: float = 20.0) -> None:
        assert self.background.join(timeout), "the machine did not finish after the client left"


def serve_machine(elf: Path, gdb: str, cpus: int = 1) -> Iterator[Served]:
    tm = TestMachine(cpus=cpus)
    tm.load_elf(elf)
    bg = Background(BareTarget(tm), timeout=60.0)
    try:
        yield Served(tm, bg, elf, gdb)
    finally:
        bg.close()
        tm.close()


@pytest.fixture
def served(program: Path, gdb_multiarch: str) -> Iterator[Served]:
    yield from serve_machine(program, gdb_multiarch)


@pytest.fixture
def served2(program: Path, gdb_multiarch: str) -> Iterator[Served]:
    yield from serve_machine(program, gdb_multiarch, cpus=2)
