"""The virtual network between VMs (disco_core/monitor/vnet.py, docs/monitor-abi.md)."""

from __future__ import annotations

import pytest

from disco_core.machine import Machine
from disco_core.monitor import Monitor, VMSpec
from disco_core.monitor.memmap import PAGE
from disco_core.monitor.vnet import (
    E_BUFFER,
    E_DEST,
    E_EMPTY,
    E_FULL,
    E_PIECE,
    E_TOOBIG,
    LINK_BASE,
    MORE,
)
from tests.monitor import guests, net_guests
from tests.monitor.conftest import disco_vm

ERR = 0xFFFFFFFF


def _vm(mon: Monitor, name: str, code: bytes, pages: int = 128):
    vm = mon.create_vm(VMSpec(name, memory_pages=pages, image=[(guests.CODE_PA, code)],
                              entry=guests.DISCO_KB + guests.CODE_PA))
    mon.start_vm(vm)
    return vm


def _word(vm, gpa: int) -> int:
    return int.from_bytes(vm.read_guest(gpa, 4), "little")


def transfer(src: int, dst: int, length: int, remap: bool = True, cap: int | None = None):
    """SENDER in VM 0 → RECEIVER in VM 1 on a 2-CPU machine; (monitor, sender, receiver)."""
    m = Machine(cpus=2, ram_bytes=16 << 20)
    mon = Monitor(m)
    mon.vnet.remap = remap
    pages = max(src, dst) // PAGE + length // PAGE + 8
    a = _vm(mon, "a", net_guests.build(net_guests.SENDER, SRC=src, LEN=length,
                                       DEST=LINK_BASE | 1), pages)
    b = _vm(mon, "b", net_guests.build(net_guests.RECEIVER, DST=dst, CAP=cap or length),
            pages)
    assert mon.run(100_000_000) == "stopped"
    assert a.stop_reason == "exit(0)" and b.stop_reason == "exit(0)", mon.reports
    return mon, a, b


def test_page_aligned_message_is_remapped_and_shared_copy_on_write():
    n = 16 * PAGE
    mon, a, b = transfer(0x10000, 0x40000, n)
    sent = net_guests.pattern(n)
    assert _word(a, 0x5000) == 0 and _word(b, 0x5000) == n and _word(b, 0x5008) == n
    # the receiver stored into word 1 of its first page, the sender into word 0 of its own:
    # each has its own copy of that page and sees the other's data unchanged
    got = b.read_guest(0x40000, n)
    assert got[4:8] == (0xb0b).to_bytes(4, "little") and got[:4] == sent[:4]
    assert got[8:] == sent[8:]
    assert a.read_guest(0x10000, 4) == (0x5eaf00d).to_bytes(4, "little")
    assert a.read_guest(0x10004, n - 4) == sent[4:]
    assert b.stats.count["net_remap"] == 16 and a.stats.count["net_pin"] == 16
    assert "net_copy" not in a.stats.count and "net_copy" not in b.stats.count
    assert mon.vnet.stats(b).remapped_pages == 16 and mon.vnet.stats(b).copied_bytes == 0
    # the 15 pages nobody wrote are still one machine page each, shared read-only
    for k in range(1, 16):
        mpn = a.pmap.mpn[0x10 + k]
        assert b.pmap.mpn[0x40 + k] == mpn and mon.memmap.entries[mpn].shared_readonly
        assert mon.memmap.entries[mpn].users == {(0, 0x10 + k), (1, 0x40 + k)}
    assert a.pmap.mpn[0x10] != b.pmap.mpn[0x40]
    assert mon.check_invariants() == []
    # the event log tells it: one message, sixteen pages shared with the receiver
    sends = [e for e in mon.events.events if e.kind == "net_send"]
    assert len(sends) == 1 and sends[0].vm == 0 and sends[0].data["pages"] == 16
    shares = [e for e in mon.events.events if e.kind == "share" and e.vm == 1]
    assert len(shares) == 16 and "network message from 0x0d150000" in shares[0].text


@pytest.mark.parametrize("src,dst,length", [
    (0x10004, 0x40000, 3 * PAGE),   # sender unaligned
    (0x10000, 0x40008, 3 * PAGE),   # receiver unaligned
    (0x10000, 0x40000, 1000),       # less than a page
])
def test_unaligned_or_partial_messages_are_copied(src, dst, length):
    mon, a, b = transfer(src, dst, length)
    sent = net_guests.pattern(length)
    got = b.read_guest(dst, length)
    assert got[:4] == sent[:4] and got[8:] == sent[8:]
    assert "net_remap" not in b.stats.count and mon.vnet.stats(b).copied_bytes == length
    assert all(m not in b.pmap.mpn for m in a.pmap.mpn if m >= 0)  # nothing shared
    assert mon.check_invariants() == []


def test_aligned_pages_remap_and_the_tail_is_copied():
    n = 5 * PAGE + 100
    mon, a, b = transfer(0x10000, 0x40000, n)
    assert b.read_guest(0x40008, n - 8) == net_guests.pattern(n)[8:]
    assert b.stats.count["net_remap"] == 5 and mon.vnet.stats(b).copied_bytes == 100


def test_forced_copying_costs_more_cycles():
    n = 32 * PAGE
    _, a1, b1 = transfer(0x10000, 0x40000, n)
    _, a2, b2 = transfer(0x10000, 0x40000, n, remap=False)
    assert b2.read_guest(0x40008, n - 8) == net_guests.pattern(n)[8:]
    remap = 2 * (_word(a1, 0x5004) + _word(b1, 0x5004))
    copy = 2 * (_word(a2, 0x5004) + _word(b2, 0x5004))
    assert copy > 5 * remap


def test_transfers_are_deterministic():
    runs = [transfer(0x10000, 0x40000, 8 * PAGE + 12) for _ in range(2)]
    cycles = [[c.cycles for c in mon.m.cpus] for mon, _, _ in runs]
    assert cycles[0] == cycles[1]
    assert [b.stats.as_dict() for _, _, b in runs][0] == runs[1][2].stats.as_dict()


def _pair(pages: int = 16):
    m = Machine(cpus=1, ram_bytes=4 << 20)
    mon = Monitor(m)
    a = disco_vm(mon, guests.COUNTER.replace("N", "100"), "a", pages=pages)
    b = disco_vm(mon, guests.COUNTER.replace("N", "100"), "b", pages=pages)
    return mon, a, b


def test_bad_requests_get_errors_and_harm_no_one():
    mon, a, b = _pair()
    net = mon.vnet
    to_b = net.address(b)
    a.write_guest(0x3000, b"hello")
    assert net.send(a, to_b, 16 * PAGE - 2, 5) == E_BUFFER        # runs off the VM's end
    assert net.send(a, to_b, 0x3000, -1) == E_BUFFER
    assert net.send(a, to_b, 0x3000, 0) == E_BUFFER               # nothing to send
    assert net.send(a, to_b, 0x80003000, 5) == E_BUFFER           # kseg0: not a buffer
    assert net.send(a, to_b, 0x3000, 5, flags=4) == E_BUFFER      # unknown flag
    assert net.send(a, LINK_BASE | 7, 0x3000, 5) == E_DEST        # no VM 7
    assert net.send(a, 1, 0x3000, 5) == E_DEST                    # not a link address
    assert net.recv(b, 0x3000, 100) == E_EMPTY
    assert net.recv(b, 0xFFFFF000, 100) == E_BUFFER
    assert net.stats(a).errors == 7 and net.stats(b).errors == 1
    assert net.send(a, to_b, 0x3000, 5) == 0                      # the network still works
    assert net.peek(b, 0) == 5 and net.peek(b, 1) == net.address(a) and net.peek(b, 2) == 1
    assert net.recv(b, 0x2000, 3) == 3 and net.peek(b, 0) == 2    # taken in pieces
    assert net.recv(b, 0x2003, 100) == 2 and b.read_guest(0x2000, 5) == b"hello"
    assert net.peek(b, 0) == E_EMPTY and net.stats(b).received == 1
    assert mon.check_invariants() == []
    assert mon.run(10_000_000) == "stopped"
    assert a.stop_reason == b.stop_reason == "exit(3)"


def test_pieces_gather_into_one_message_and_bad_pieces_drop_it():
    mon, a, b = _pair()
    net = mon.vnet
    to_b = net.address(b)
    a.write_guest(0x2000, b"A" * PAGE)
    a.write_guest(0x5000, b"tail")
    assert net.send(a, to_b, 0x2000, PAGE, MORE) == 0 and net.peek(b, 2) == 0
    assert net.send(a, to_b, 0x5000, 4) == 0
    assert net.peek(b, 0) == PAGE + 4
    assert net.recv(b, 0x8000, 2 * PAGE) == PAGE + 4
    assert b.read_guest(0x8000, PAGE + 4) == b"A" * PAGE + b"tail"
    # a piece for someone else while gathering: the whole message goes
    assert net.send(a, to_b, 0x2000, PAGE, MORE) == 0
    assert net.send(a, net.address(a), 0x5000, 4) == E_PIECE
    assert net.peek(b, 2) == 0 and net.peek(a, 2) == 0
    # an empty message, even gathered from empty pieces, is refused
    assert net.send(a, to_b, 0x2000, 0, MORE) == 0
    assert net.send(a, to_b, 0x2000, 0) == E_BUFFER and net.peek(b, 2) == 0
    # a message larger than the receiver's memory could never be taken
    big = _vm(mon, "big", guests.build(guests.COUNTER.replace("N", "1"), guests.DISCO_KB), 64)
    assert net.send(big, to_b, 0, 17 * PAGE) == E_TOOBIG
    # every pinned page went back: no machine page has the network as a user
    assert all(u[0] >= 0 for e in mon.memmap.entries.values() for u in e.users)
    assert mon.check_invariants() == []


def test_a_full_queue_drops_and_counts():
    mon, a, b = _pair()
    net = mon.vnet
    net.max_messages = 3
    a.write_guest(0x2000, b"x" * PAGE)
    for _ in range(3):
        assert net.send(a, net.address(b), 0x2000, PAGE) == 0
    assert net.send(a, net.address(b), 0x2000, PAGE) == E_FULL
    assert net.stats(a).dropped == 1 and net.peek(b, 2) == 3
    users = mon.memmap.entries[a.pmap.mpn[2]].users
    assert len(users) == 4  # the sender and three queued messages
    mon.stop_vm(b, "test")  # its queue goes, and the references with it
    assert mon.memmap.entries[a.pmap.mpn[2]].users == {(0, 2)}
    assert net.send(a, net.address(b), 0x2000, PAGE) == E_DEST  # stopped: unreachable
    assert mon.check_invariants() == []


GARBAGE = """
start:
    li $s0, {KB} + 0x5000
    li $v0, 16              # NET_SEND to a VM that does not exist
    li $a0, 0x0d150009
    li $a1, 0x2000
    li $a2, 16
    li $a3, 0
    syscall
    sw $v0, 0($s0)
    li $v0, 16              # a buffer far outside the VM
    li $a0, 0x0d150001
    li $a1, 0x7ff00000
    li $a2, 0x100000
    syscall
    sw $v0, 4($s0)
    li $v0, 17              # NET_RECV with nothing waiting
    li $a0, 0x2000
    li $a1, 16
    syscall
    sw $v0, 8($s0)
    li $v0, 19              # NET_ADDR
    syscall
    sw $v0, 12($s0)
    li $v0, 16              # and a good one
    li $a0, 0x0d150001
    li $a1, {KB} + 0x2000   # a relocated-kseg0 address names guest-physical 0x2000
    li $a2, 16
    syscall
    sw $v0, 16($s0)
    {DONE}
"""


def test_garbage_monitor_calls_return_errors():
    m = Machine(cpus=2, ram_bytes=4 << 20)
    mon = Monitor(m)
    a = disco_vm(mon, GARBAGE, "a", pages=32)
    b = disco_vm(mon, guests.COUNTER.replace("N", "3000"), "b", pages=32)
    assert mon.run(10_000_000) == "stopped"
    assert a.stop_reason == "exit(0)" and b.stop_reason == "exit(3)"
    w = [_word(a, 0x5000 + 4 * i) for i in range(5)]
    assert w == [E_DEST & ERR, E_BUFFER & ERR, E_EMPTY & ERR, LINK_BASE, 0]
