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

A register of a vCPU (`who_wrote_register`): the changes of its value before a point,
found by stepping the machine back from there (docs/reverse.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from disco_core.mips import GPR_NAMES, KSEG0, KSEG1, KSSEG, PAGE_SIZE
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


# ---- registers ---------------------------------------------------------------------------

# A register is not watched by the core: its writes are found by running the machine one
# instruction at a time over windows before the point asked about (as a reverse step
# finds its instruction), each window four times the one after it, until enough are found.
REGISTER_NAMES = (*GPR_NAMES, "hi", "lo")
FIRST_REGISTER_WINDOW = 4096  # machine instructions stepped, to begin with
MAX_REGISTER_SCAN = 1 << 20  # and at most this many in all (about a minute) by default


@dataclass(frozen=True)
class RegisterWrite:
    """One change of a vCPU's (or CPU's) register: where in the history (just after it),
    who, the instruction's pc with its symbol and line, the value before and after.
    `cause` is "instruction" (one of the target's own, the monitor's emulation of it
    included) or the recorded input that changed it (a restart: "RestartVm")."""

    point: Point
    instructions: int
    cycles: int
    vm: str | None
    target: int
    target_name: str
    register: str
    cpu: int | None
    pc: int
    old: int
    new: int
    symbol: str
    line: str
    cause: str = "instruction"

    def to_json(self) -> dict[str, Any]:
        return {"op": self.point.op, "offset": self.point.offset,
                "instructions": self.instructions, "cycles": self.cycles, "vm": self.vm,
                "vcpu": self.target, "target": self.target_name, "register": self.register,
                "cpu": self.cpu, "pc": self.pc, "old": self.old, "new": self.new,
                "symbol": self.symbol, "line": self.line, "cause": self.cause}


def register_index(name: str | int) -> int:
    """0-31 for a GPR (by name as GPR_NAMES, `$a0`, `r4`, `$4`, `s8`), 32 HI, 33 LO."""
    if isinstance(name, int):
        index = name
    else:
        text = name.strip().lower().removeprefix("$")
        text = {"s8": "fp"}.get(text, text)
        if text in REGISTER_NAMES:
            return REGISTER_NAMES.index(text)
        digits = text.removeprefix("r")
        if not digits.isdigit():
            raise ValueError(f"no register named {name!r}: give a0, $a0, r4, $4, hi or lo")
        index = int(digits)
    if not 0 <= index < 32:
        raise ValueError(f"register {name}: the GPRs are numbered 0 to 31")
    return index


def register_value(rv: Reverse, target: int, index: int) -> int:
    regs = rv.session.target.registers(target)
    if index == 32:
        return int(regs.hi)
    if index == 33:
        return int(regs.lo)
    return int(regs.gpr[index])


def who_wrote_register(replayer: Replayer, register: str | int, target: int,
                       to: Point | None = None, count: int | None = 1,
                       frm: Point | None = None,
                       max_scan: int = MAX_REGISTER_SCAN) -> list[RegisterWrite]:
    """The writes that changed `register` of debug target `target` (a vCPU, or a CPU on a
    bare machine) before `to` (default: the end of the recording), in the order they
    happened: the last `count` of them (None: every one in [frm, to)), looking back at
    most `max_scan` machine instructions (ValueError when `count` are not found in
    them). A write of the value the register already held leaves no trace and is not
    listed. The replay is left standing at `to`."""
    index = register_index(register)
    rv = Reverse(replayer)
    s = rv.session
    s.target.check(target)
    if count is not None and count < 1:
        raise ValueError(f"count {count}: ask for one write or more")
    here = rv.end if to is None else to
    bottom = max(frm or rv.start, rv.start)
    found: list[RegisterWrite] = []
    upper, window, scanned = here, FIRST_REGISTER_WINDOW, 0
    while upper > bottom:
        lower = max(rv._back_by(upper, window), bottom)
        found = _register_changes(rv, target, index, lower, upper) + found
        scanned += window
        if count is not None and len(found) >= count:
            break
        if scanned >= max_scan and lower > bottom:
            if count is None or not found:
                name = REGISTER_NAMES[index]
                raise ValueError(f"{'no' if not found else 'only ' + str(len(found))} "
                                 f"write{'s' if found else ''} of {name} by "
                                 f"{s.targets[target]} in the last {scanned} machine "
                                 "instructions (looking further back: a larger max_scan)")
            break
        upper, window = lower, window * 4
    rv.seek_point(here)
    rv.settle()
    return found if count is None else found[-count:]


def _register_changes(rv: Reverse, target: int, index: int, frm: Point,
                      to: Point) -> list[RegisterWrite]:
    """Step the machine over [frm, to) one instruction at a time (a recorded input as one
    step), noting each change of the register."""
    rp = rv.replayer
    ops = rp.recording.ops
    s = rv.session
    rv.seek_point(frm)
    out: list[RegisterWrite] = []
    value = register_value(rv, target, index)
    while rv.point < to and rp.position < len(ops):
        op = ops[rp.position]
        if op[0] != "r" or rv.offset >= op[2]:
            cause = op[3]["type"] if op[0] == "c" else "instruction"
            before_pc = int(s.target.registers(target).pc)
            rv._forward(Point(rp.position + 1))
            after = register_value(rv, target, index)
            if after != value:
                out.append(_register_write(rv, target, index, before_pc, None, value, after,
                                           cause))
                value = after
            continue
        regs = s.target.registers(target)
        before = [c.instructions for c in s.machine.cpus]
        rv._forward(Point(rv.point.op, rv.offset + 1))
        after = register_value(rv, target, index)
        if after != value:
            out.append(_register_write(rv, target, index, int(regs.pc), regs.cpu, value,
                                       after, "instruction" if rv._executor(before) == target
                                       else "monitor"))
            value = after
    return [w for w in out if frm < w.point <= to]


def _register_write(rv: Reverse, target: int, index: int, pc: int, cpu: int | None,
                    old: int, new: int, cause: str) -> RegisterWrite:
    s = rv.session
    cpus = s.machine.cpus
    return RegisterWrite(rv.point, sum(c.instructions for c in cpus),
                         cpus[cpu].cycles if cpu is not None else max(c.cycles for c in cpus),
                         s.target.vm_of(target), target, s.targets[target],
                         REGISTER_NAMES[index], cpu, pc, old, new, s.describe(pc),
                         source_line(rv, pc))
