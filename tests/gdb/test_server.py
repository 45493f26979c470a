"""The GDB server over a socket with a raw client: acks, errors, Ctrl-C, lost clients,
queued stops, and random packets that never stop the machine from finishing right."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import given

from disco_core.errors import DiscoError
from disco_core.gdb import protocol as p
from disco_core.gdb.bare import Background, BareTarget
from disco_core.gdb.client import RawClient
from disco_core.gdb.features import DOCUMENTS
from disco_core.gdb.handler import Handler
from disco_core.gdb.server import parse_address
from disco_core.gdb.target import REGISTER_COUNT, PointKind, Resume, StopEvent, StopKind
from disco_core.guest import assemble
from disco_core.testmachine import TestMachine

from .conftest import FUZZ_SETTINGS, answer_all, packet_lists, resynchronise

LOOP = 0x80001000


class Running:
    """A TestMachine on an endless loop (or a program), served on port 0 by a thread."""

    def __init__(self, elf: Path | None = None) -> None:
        self.machine = TestMachine(cpus=2)
        if elf is None:
            self.machine.write_phys(LOOP & 0x1FFFFFFF, assemble("1: b 1b\nnop\n", LOOP))
            self.machine.cpus[0].pc = LOOP
        else:
            self.machine.load_elf(elf)
        self.target = BareTarget(self.machine, slice_size=20_000)
        self.background = Background(self.target, "127.0.0.1:0", timeout=60.0)

    def client(self) -> RawClient:
        return RawClient(self.background.server.port, timeout=5.0)

    def close(self) -> None:
        self.background.close()
        self.machine.close()


@pytest.fixture
def running() -> Iterator[Running]:
    r = Running()
    yield r
    r.close()


def wait_for(cond: object, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if callable(cond) and cond():
            return True
        time.sleep(0.01)
    return False


def test_parse_address() -> None:
    assert parse_address(1234) == ("127.0.0.1", 1234)
    assert parse_address("1234") == ("127.0.0.1", 1234)
    assert parse_address(":1234") == ("127.0.0.1", 1234)
    assert parse_address("0.0.0.0:99") == ("0.0.0.0", 99)
    assert parse_address("[::1]:5") == ("::1", 5)
    with pytest.raises(DiscoError, match="not a number"):
        parse_address("host:port")
    with pytest.raises(DiscoError, match="0-65535"):
        parse_address("70000")


def test_handshake_features_and_noack(running: Running) -> None:
    with running.client() as c:
        reply = c.ask(b"qSupported:multiprocess+;swbreak+;hwbreak+").decode()
        for feature in ("PacketSize=4000", "qXfer:features:read+", "QStartNoAckMode+",
                        "vContSupported+", "multiprocess+", "swbreak+"):
            assert feature in reply.split(";"), reply
        assert "ReverseStep+" not in reply  # only while replaying
        c.start_noack()
        doc, offset = b"", 0
        while True:
            part = c.ask(b"qXfer:features:read:target.xml:%x,200" % offset)
            doc += p.unescape_binary(part[1:])
            offset += 0x200
            if part[:1] == b"l":
                break
        assert doc == DOCUMENTS["target.xml"]
        assert c.ask(b"?").startswith(b"T05thread:p1.1;")
        assert c.ask(b"qfThreadInfo") == b"mp1.1,p1.2"
        assert c.ask(b"qsThreadInfo") == b"l"
        assert c.ask(b"qC") == b"QCp1.1"
        assert bytes.fromhex(c.ask(b"qThreadExtraInfo,p1.2").decode()) == b"cpu1, parked"
        assert c.ask(b"Tp1.2") == b"OK" and c.ask(b"Tp1.9").startswith(b"E")
        assert len(c.ask(b"g")) == 8 * REGISTER_COUNT
        assert c.ask(b"p25") == p.reg_hex(LOOP)
        assert c.ask(b"m%x,8" % LOOP) == assemble("1: b 1b\nnop\n", LOOP).hex().encode()
        assert c.ask(b"m10000000,4") == b"E0e"  # no RAM there: an error, not a fault
        assert c.ask(b"mbfd00000,4") == b"E0e"  # a device: never read by the debugger
        assert c.ask(b"qRcmd," + b"help".hex().encode()).startswith(b"O")
        assert c.reply() == b"OK"
        assert c.ask(b"qNoSuchThing") == b""
        assert c.ask(b"D") == b"OK"
    assert wait_for(lambda: running.target.free)


def test_acks_naks_and_bad_packets(running: Running) -> None:
    with running.client() as c:
        c.send_raw(b"$g#00")  # bad checksum: the server asks again
        assert c.frame().kind == p.FrameKind.NAK
        c.send(b"qC")
        assert c.frame().kind == p.FrameKind.ACK
        first = c.reply()
        c.send_raw(b"-")  # our side lost it: the server resends the packet
        assert c.reply() == first
        c.send(b"M0,4:zz")
        assert c.reply() == b"E01"
        c.send_raw(b"\xff\x00garbage" + p.frame(b"M0," + b"9" * 20000))
        assert c.reply() == b"E22"  # over-long: refused whole
        assert c.ask(b"qC") == first  # and the stream is in step again


def test_ctrl_c_interrupts_a_running_machine(running: Running) -> None:
    with running.client() as c:
        c.start_noack()
        assert c.ask(b"qSupported:multiprocess+").startswith(b"PacketSize")
        assert c.ask(b"?").startswith(b"T05")
        c.send(b"vCont;c")
        time.sleep(0.2)
        before = running.machine.cpus[0].instructions
        assert before > 0  # it really runs
        c.send_raw(b"\x03")
        stop = c.reply()
        assert stop.startswith(b"T02thread:p1.1;"), stop
        c.send(b"vCont;s:p1.1")
        assert c.reply().startswith(b"T05thread:p1.1;")
        c.send(b"k")
    assert wait_for(lambda: running.target.finished)


def test_a_client_vanishing_mid_packet_lets_the_machine_run_on(running: Running) -> None:
    c = running.client()
    c.start_noack()
    assert c.ask(b"?").startswith(b"T05")
    assert c.ask(b"Z0,%x,4" % (LOOP + 4)) == b"OK"
    c.send_raw(b"$m8000")
    c.close()
    assert wait_for(lambda: running.target.free)
    start = running.machine.cpus[0].instructions
    assert wait_for(lambda: running.machine.cpus[0].instructions > start + 100_000)
    with running.client() as again:  # a new client is welcome and finds it running
        assert again.ask(b"?").startswith(b"T05")
        again.send(b"D")
        assert again.reply() == b"OK"


class TwoStops:
    """A target whose CPUs both stop at breakpoints in the same slice."""

    pid = 1
    can_reverse = False

    def __init__(self) -> None:
        self.resumed = 0
        self._stops: list[StopEvent] = []

    def threads(self) -> Sequence[int]:
        return [1, 2]

    def thread_info(self, thread: int) -> str:
        return f"cpu{thread - 1}"

    def read_registers(self, thread: int) -> Sequence[int]:
        return [thread] * REGISTER_COUNT

    def read_register(self, thread: int, number: int) -> int:
        return thread

    def write_register(self, thread: int, number: int, value: int) -> None:
        pass

    def read_memory(self, thread: int, address: int, length: int) -> bytes:
        return bytes(length)

    def write_memory(self, thread: int, address: int, data: bytes) -> None:
        pass

    def insert_point(self, kind: PointKind, address: int, length: int) -> None:
        pass

    def remove_point(self, kind: PointKind, address: int, length: int) -> None:
        pass

    def resume(self, actions: Mapping[int, Resume]) -> None:
        self.resumed += 1
        if self.resumed == 1:
            self._stops = [StopEvent(1, StopKind.BREAKPOINT, 0x100),
                           StopEvent(2, StopKind.BREAKPOINT, 0x200)]

    def reverse(self, thread: int, step: bool) -> None:
        pass

    def interrupt(self) -> None:
        self._stops.append(StopEvent(1, StopKind.INTERRUPT))

    def poll_stops(self) -> list[StopEvent]:
        out, self._stops = self._stops, []
        return out

    def monitor(self, command: str) -> str:
        return command

    def detach(self) -> None:
        pass

    def kill(self) -> None:
        pass


def test_simultaneous_stops_are_each_reported_once() -> None:
    target = TwoStops()
    h = Handler(target)
    h.handle(p.parse(b"qSupported:multiprocess+;swbreak+"))
    assert h.handle(p.parse(b"Z0,100,4")) == [b"OK"]
    assert h.handle(p.parse(b"Z0,200,4")) == [b"OK"]
    assert h.handle(p.parse(b"vCont;c")) == []
    assert h.poll() is not None and h.poll() is None  # one stop per resume
    assert h._last_stop == StopEvent(1, StopKind.BREAKPOINT, 0x100)
    # The second CPU's hit was queued: the next resume reports it without running.
    [reply] = h.handle(p.parse(b"vCont;c"))
    assert reply.startswith(b"T05thread:p1.2;swbreak:;") and target.resumed == 1


def test_a_queued_stop_at_a_removed_breakpoint_is_dropped() -> None:
    target = TwoStops()
    h = Handler(target)
    h.handle(p.parse(b"Z0,100,4"))
    h.handle(p.parse(b"Z0,200,4"))
    h.handle(p.parse(b"vCont;c"))
    assert h.poll() is not None
    h.handle(p.parse(b"z0,200,4"))  # the user deleted the second breakpoint
    assert h.handle(p.parse(b"vCont;c")) == [] and target.resumed == 2


_SAFE = [b"?", b"g", b"p", b"m", b"Z", b"z", b"vCont?", b"H", b"T", b"q", b"Q", b"qRcmd,",
         b"qXfer:features:read:", b"qThreadExtraInfo,", b"b", b"v", b"x", b"\x03"]


@pytest.fixture(scope="module")
def program_run(program: Path) -> Iterator[Running]:
    r = Running(program)
    yield r
    r.close()


@pytest.fixture(scope="module")
def fuzz_client(program_run: Running) -> Iterator[RawClient]:
    """One client for every example: a lost client would be a detach, and the
    program would run to its end before the fuzzing is over."""
    with program_run.client() as c:
        c.start_noack()
        assert c.ask(b"?").startswith(b"T05")
        yield c


@FUZZ_SETTINGS
@given(packet_lists(_SAFE))
def test_random_packets_always_get_an_answer(fuzz_client: RawClient,
                                             packets: list[bytes]) -> None:
    answer_all(fuzz_client, packets)


def test_after_the_fuzzing_the_program_runs_right(program_run: Running,
                                                  fuzz_client: RawClient) -> None:
    # A random payload with '#', '$', '-' or 0x03 in it may have left half a packet
    # behind or asked for a resend.
    resynchronise(fuzz_client)
    assert fuzz_client.ask(b"D") == b"OK"
    program_run.background.join(20.0)
    assert program_run.machine.console.output == b"counter 20 total 7\n"
