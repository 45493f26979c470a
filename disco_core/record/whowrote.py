"""Who wrote this: every guest write to an address range over a recording, found by replaying.

The replay runs with a write watchpoint on the range (the core's watchpoints,
`Machine.add_watchpoint`, armed through the session and scoped to a VM as a
forward one is), and each hit becomes a `Write`: where in the history, the
cycle of the writing CPU, the VM, the vCPU, the instruction's pc, its symbol
and its source line (the kernel ELF's DWARF line table, `ElfImage.line_for`).

The core watches virtual addresses, so a range is watched where the guests'
instructions reach it:
- "gva": as given, the guest-virtual range (a kernel variable, a user buffer);
- "gpa": a guest-physical range, through the guest kernel's direct window onto
  physical memory, where the kernel reaches every page: under the monitor the
  relocated kseg0 (0xC0000000 + gpa, docs/monitor-abi.md), on a bare machine
  KSEG0 and KSEG1; a store through a user mapping of the page is not seen;
- "ma": a machine range, turned into the guest-physical page (and VM) that maps
  it at the end of the recording (the VMs' pmaps), then as "gpa": the guest
  page is followed wherever it lived before (migrated, replicated).
A device's DMA (the virtual disk) writes without an instruction and is not listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from disco_core.mips import KSEG0, KSEG1, KSSEG, PAGE_SIZE
from disco_core.record.replay import Replayer
from disco_core.record.reverse import Hit, Point, Reverse, WatchSpec

SPACES = ("gva", "gpa", "ma")
WINDOW_MASK = 0x1FFFFFFF  # what a direct window maps of physical memory


@dataclass(frozen=True)
class Write:
    """One store into the range."""

    point: Point
    instructions: int
    cycles: int
    vm: str | None
    target: int
    target_name: str
    cpu: int
    pc: int
    address: int  # the virtual address written
    value: int
    symbol: str
    line: str  # "file:line", or "" without DWARF for it

    def to_json(self) -> dict[str, Any]:
        return {"op": self.point.op, "offset": self.point.offset,
                "instructions": self.instructions, "cycles": self.cycles, "vm": self.vm,
                "vcpu": self.target, "target": self.target_name, "cpu": self.cpu,
                "pc": self.pc, "address": self.address, "value": self.value,
                "symbol": self.symbol, "line": self.line}


def watched_ranges(rv: Reverse, address: int, length: int, space: str,
                   vm: str | None) -> list[tuple[int, int, str | None]]:
    """(virtual address, length, VM) to watch for the range in `space`."""
    if space not in SPACES:
        raise ValueError(f"address space {space!r} is not one of {', '.join(SPACES)}")
    if space == "gva":
        return [(address, length, vm)]
    if space == "ma":
        address, vm = _guest_physical(rv, address, vm)
    pa = address & WINDOW_MASK
    if rv.session.monitor is not None:
        return [(KSSEG | pa, length, vm)]
    return [(KSEG0 | pa, length, vm), (KSEG1 | pa, length, vm)]


def _guest_physical(rv: Reverse, ma: int, vm: str | None) -> tuple[int, str | None]:
    """The guest-physical address (and VM) behind machine address `ma` now."""
    mon = rv.session.monitor
    if mon is None:
        return ma, None  # a bare machine: machine and physical are one
    mpn = ma // PAGE_SIZE
    for v in mon.vms:
        if vm is not None and v.name != vm:
            continue
        for gpn, m in enumerate(v.pmap.mpn):
            if int(m) == mpn:
                return gpn * PAGE_SIZE + ma % PAGE_SIZE, v.name
    raise ValueError(f"no guest page is backed by machine address 0x{ma:08x} at the end "
                     "of the recording")


def who_wrote(replayer: Replayer, address: int, length: int = 4, space: str = "gva",
              vm: str | None = None, target: int | None = None,
              frm: Point | None = None, to: Point | None = None) -> list[Write]:
    """Every write into [address, address + length) in `space` between `frm` and `to`
    (the whole recording by default), in the order they happened."""
    rv = Reverse(replayer)
    rv.seek_point(rv.end if space == "ma" else rv.start)
    ranges = watched_ranges(rv, address, length, space, vm)
    rv.seek_point(rv.start)
    for va, n, scope in ranges:
        rv.add_watchpoint(WatchSpec(va, n, "w", target, scope))
    hits = rv.scan(frm or rv.start, to or rv.end)
    rv.settle()
    return [describe(rv, h) for h in hits]


def describe(rv: Reverse, h: Hit) -> Write:
    s = rv.session
    w = h.watch
    pc = w.pc if w is not None else h.pc
    return Write(h.point, h.instructions, h.cycles, s.target.vm_of(h.target), h.target,
                 s.targets[h.target], h.cpu, pc, w.va if w is not None else 0,
                 w.value if w is not None else 0, s.describe(pc), source_line(rv, pc))


def source_line(rv: Reverse, pc: int) -> str:
    for image in rv.session.images():
        found = image.line_for(pc)
        if found is not None:
            return f"{found[0]}:{found[1]}"
    return ""
