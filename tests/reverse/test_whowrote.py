"""Who wrote this (disco_core/record/whowrote.py): agrees with a brute-force replay that
watches every store of the machine and keeps those into the range."""

from __future__ import annotations

import pytest

from disco_core.mips import KSSEG
from disco_core.record.recorder import RecordConfig
from disco_core.record.replay import Recording, Replayer
from disco_core.record.reverse import Point, Reverse
from disco_core.record.whowrote import who_wrote
from tests.reverse.test_reverse import record


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    path = tmp_path_factory.mktemp("whowrote") / "2x1.rec"
    record(path, RecordConfig(vms=2, vcpus=1), slices=3)
    rp = Replayer(Recording.open(path))
    yield rp
    rp.close()


STORES = {0x28: 1, 0x29: 2, 0x2A: 4, 0x2B: 4, 0x2E: 4, 0x38: 4}  # sb sh swl sw swr sc
WINDOW = 40_000  # machine instructions stepped one by one


def brute(rp: Replayer, address: int, length: int, vm: str | None, frm: Point, to: Point):
    """Step the machine one instruction at a time over [frm, to), decode each store
    from the registers before it, and keep those into the range by a vCPU of `vm`."""
    rv = Reverse(rp)
    rv.seek_point(frm)
    s = rp.session
    m = s.machine
    out = []
    while rv.point < to:
        before = [(c.instructions, c.pc, [int(x) for x in c.regs()]) for c in m.cpus]
        at = sum(b[0] for b in before)
        op = rp.recording.ops[rv.point.op]
        nxt = Point(rv.point.op, rv.point.offset + 1) if op[0] == "r" and \
            rv.point.offset + 1 < op[2] else Point(rv.point.op + 1)
        rv.seek_point(nxt)
        for ci, c in enumerate(m.cpus):
            if c.instructions == before[ci][0]:
                continue
            v = s.monitor.current[ci]
            if v is None:
                continue
            pc, regs = before[ci][1], before[ci][2]
            word = int.from_bytes(s.read(v.gid, pc, 4), "little")
            size = STORES.get(word >> 26)
            if size is None:
                continue
            imm = word & 0xFFFF
            va = (regs[(word >> 21) & 31] + (imm - 0x10000 if imm & 0x8000 else imm)) \
                & 0xFFFFFFFF
            if va < address + length and address < va + size and \
                    (vm is None or s.target.vm_of(v.gid) == vm):
                out.append((at + 1, pc, v.gid))
    rv.settle()
    return out


def test_who_wrote_agrees_with_watching_every_store(replay):
    s = replay.session
    ticks = s.resolve("ticks")
    vm = s.guests[1].name
    writes = who_wrote(replay, ticks, 4, "gva", vm)
    assert writes, "the timer interrupt counts ticks"
    assert all(w.vm == vm and w.symbol.startswith("0x") for w in writes)
    assert all("<" in w.symbol and w.line for w in writes), "the kernel has symbols and lines"
    # around one of them, stepping every instruction finds the same stores
    w = writes[len(writes) // 2]
    rv = Reverse(replay)
    frm = rv._back_by(w.point, WINDOW // 2)
    to = rv._ahead_by(w.point, WINDOW // 2)
    near = [(x.instructions, x.pc, x.target) for x in writes if frm < x.point <= to]
    assert near and near == brute(replay, ticks, 4, vm, frm, to)


def test_guest_physical_and_machine_spaces(replay):
    s = replay.session
    ticks = s.resolve("ticks")
    vm = s.guests[0].name
    gva = who_wrote(replay, ticks, 4, "gva", vm)
    gpa = who_wrote(replay, ticks - KSSEG, 4, "gpa", vm)
    assert [w.instructions for w in gpa] == [w.instructions for w in gva]
    rv = Reverse(replay)
    rv.seek_point(rv.end)
    ma = rv.session.translate(0, ticks)
    assert ma is not None and ma >= 0
    by_ma = who_wrote(replay, ma, 4, "ma")
    assert [w.instructions for w in by_ma] == [w.instructions for w in gva]
